"""The local cloud: the Cloud port over the inventory and the real servers of the dev stack."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from servicelinker import paths
from servicelinker.catalog.configuration import TargetFacts
from servicelinker.catalog.targets import Target
from servicelinker.clouds.base import AddonProfile, ClusterInfo, FirewallState
from servicelinker.clouds.local import firewall
from servicelinker.clouds.local.arm import authorization_failed, not_found, service_unavailable
from servicelinker.clouds.local.facts import read_facts
from servicelinker.clouds.local.inventory import LOCAL_TENANT, Inventory, Resource, RoleAssignment

DEFAULT_PRINCIPAL = "local-user"
#: What each built-in role allows, as action prefixes (`*` = everything). Enough for the checks we make.
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "owner": ("*",),
    "contributor": ("*",),
    "reader": ("*/read",),
}


def _action_allowed(role: str, action: str) -> bool:
    for allowed in ROLE_ACTIONS.get(role.lower(), ()):
        if allowed == "*" or (allowed == "*/read" and action.lower().endswith("/read")):
            return True
    return False


def _in_scope(assignment_scope: str, scope: str) -> bool:
    a, s = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return s == a or s.startswith(a + "/")


class LocalCloud:
    name = "local"
    tenant_id = LOCAL_TENANT

    def __init__(self, inventory_path: Path | None = None, principal: str | None = None) -> None:
        self.inventory = Inventory(inventory_path or paths.inventory_file())
        self.principal = principal or os.environ.get("SL_LOCAL_PRINCIPAL", DEFAULT_PRINCIPAL)

    # resources ---------------------------------------------------------------------------------------------

    def find(self, resource_id: str) -> Resource | None:
        """The resource, or for a child id (`.../databases/x`, `.../blobServices/default`) its nearest parent."""
        parts = resource_id.rstrip("/").split("/")
        while len(parts) >= 9:  # /subscriptions/s/resourceGroups/g/providers/NS/type/name
            found = self.inventory.get("/".join(parts))
            if found is not None:
                return found
            parts = parts[:-2]
        return None

    def resource_exists(self, resource_id: str) -> bool:
        return self.find(resource_id) is not None

    def provider_state(self, subscription_id: str, namespace: str) -> str:
        return self.inventory.provider_state(subscription_id, namespace)

    def check_access(self, scope: str, action: str) -> None:
        for ra in self.inventory.load().role_assignments:
            if (
                ra.principal_id == self.principal
                and _in_scope(ra.scope, scope)
                and _action_allowed(ra.role_name, action)
            ):
                return
        raise authorization_failed(self.principal, action, scope)

    def grant(self, principal: str, role: str, scope: str) -> RoleAssignment:
        with self.inventory.edit() as data:
            for ra in data.role_assignments:
                same = ra.principal_id == principal and ra.role_name.lower() == role.lower()
                if same and ra.scope.lower() == scope.lower():
                    return ra
            ra = RoleAssignment(
                id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{len(data.role_assignments) + 1:08d}",
                scope=scope,
                principal_id=principal,
                role_definition_id=role,
                role_name=role,
            )
            data.role_assignments.append(ra)
            return ra

    def revoke(self, principal: str, role: str | None, scope: str) -> int:
        with self.inventory.edit() as data:
            keep = [
                ra
                for ra in data.role_assignments
                if not (
                    ra.principal_id == principal
                    and ra.scope.lower() == scope.lower()
                    and (role is None or ra.role_name.lower() == role.lower())
                )
            ]
            removed = len(data.role_assignments) - len(keep)
            data.role_assignments = keep
            return removed

    # clusters ----------------------------------------------------------------------------------------------

    def get_cluster(self, cluster_id: str) -> ClusterInfo:
        res = self.inventory.get(cluster_id)
        if res is None or res.type.lower() != "microsoft.containerservice/managedclusters":
            raise not_found(cluster_id, remedy="Check -g/--name (or --source-id); `servicelinker local resource list`.")
        p = res.properties
        addons = {name: AddonProfile(**a) for name, a in p.get("addonProfiles", {}).items()}
        oidc = p.get("oidcIssuerProfile", {})
        return ClusterInfo(
            id=res.id,
            location=res.location,
            provisioning_state=p.get("provisioningState", "Succeeded"),
            kubeconfig=p["kubeconfig"],
            oidc_issuer_enabled=bool(oidc.get("enabled")),
            oidc_issuer_url=oidc.get("issuerURL") if oidc.get("enabled") else None,
            workload_identity_enabled=bool(p.get("securityProfile", {}).get("workloadIdentity", {}).get("enabled")),
            addons=addons,
            outbound_ips=list(p.get("outboundIps", [])),
            operator_mode=p.get("operatorMode", "in-cluster"),
        )

    def set_cluster_state(self, cluster_id: str, state: str) -> None:
        with self.inventory.edit() as data:
            res = data.resources.get(cluster_id.rstrip("/").lower())
            if res is None:
                raise not_found(cluster_id)
            res.properties["provisioningState"] = state

    # targets -----------------------------------------------------------------------------------------------

    def target_facts(self, target: Target, target_id: str, secret_name: str | None = None) -> TargetFacts:
        res = self.find(target_id)
        if res is None:
            raise not_found(target_id)
        return read_facts(res, target_id, target.id_values(target_id))

    # firewall ----------------------------------------------------------------------------------------------

    def _hba(self, res: Resource) -> Path | None:
        hba = res.properties.get("hbaFile")
        if hba and Path(hba).is_file() and os.access(hba, os.W_OK):
            return Path(hba)
        return None

    def _reload_postgres(self, res: Resource) -> None:
        import psycopg

        p = res.properties
        try:
            with psycopg.connect(
                host=p["fullyQualifiedDomainName"],
                port=p["port"],
                user=p["administratorLogin"],
                password=res.secrets["administratorLoginPassword"],
                dbname="postgres",
                connect_timeout=5,
                autocommit=True,
            ) as conn:
                errors = conn.execute("SELECT line_number FROM pg_hba_file_rules WHERE error IS NOT NULL").fetchall()
                if errors:
                    raise service_unavailable(res.id, "PostgreSQL server", f"pg_hba.conf has errors at {errors}")
                conn.execute("SELECT pg_reload_conf()")
        except psycopg.Error as exc:
            raise service_unavailable(res.id, "PostgreSQL server", type(exc).__name__) from None

    def _record_rule(self, res: Resource, ip: str, connection_id: str, add: bool) -> list[str]:
        """Keep, per rule, which connections need it (a rule is shared by every connection from the cluster)."""
        with self.inventory.edit() as data:
            stored = data.resources[res.id.rstrip("/").lower()]
            rules: dict[str, dict[str, Any]] = stored.properties.setdefault("firewallRules", {})
            name = firewall.rule_name(ip)
            rule = rules.setdefault(name, {"startIpAddress": ip, "endIpAddress": ip, "connections": []})
            users = {c.lower(): c for c in rule["connections"]}
            if add:
                users.setdefault(connection_id.lower(), connection_id)
            else:
                users.pop(connection_id.lower(), None)
            rule["connections"] = sorted(users.values())
            if not rule["connections"]:
                rules.pop(name)
            return list(rule["connections"])

    def ensure_firewall_rule(self, target: Target, target_id: str, ips: list[str], connection_id: str) -> FirewallState:
        res = self.find(target_id)
        if res is None:
            raise not_found(target_id)
        hba = self._hba(res)
        changed = False
        for ip in ips:
            self._record_rule(res, ip, connection_id, add=True)
            if hba is not None:
                changed = firewall.admit(hba, ip) or changed
        if changed:
            self._reload_postgres(res)
        return self.check_firewall(target, target_id, ips)

    def release_firewall_rule(self, target: Target, target_id: str, ips: list[str], connection_id: str) -> None:
        res = self.find(target_id)
        if res is None:
            return
        hba = self._hba(res)
        changed = False
        for ip in ips:
            if not self._record_rule(res, ip, connection_id, add=False) and hba is not None:
                changed = firewall.revoke(hba, ip) or changed
        if changed:
            self._reload_postgres(res)

    def check_firewall(self, target: Target, target_id: str, ips: list[str]) -> FirewallState:
        res = self.find(target_id)
        if res is None:
            raise not_found(target_id)
        names = ", ".join(firewall.rule_name(ip) for ip in ips)
        hba = self._hba(res)
        if hba is not None:
            missing = [ip for ip in ips if not firewall.admits(hba, ip)]
            if missing:
                return FirewallState(
                    rule_name=names,
                    admitted=False,
                    enforceable=True,
                    detail=f"The server's pg_hba.conf does not admit {', '.join(missing)}; connections from the "
                    "cluster are refused.",
                )
            return FirewallState(
                rule_name=names, admitted=True, enforceable=True, detail=f"pg_hba.conf admits {', '.join(ips)}."
            )
        recorded = res.properties.get("firewallRules", {})
        admitted = all(firewall.rule_name(ip) in recorded for ip in ips)
        return FirewallState(
            rule_name=names,
            admitted=admitted,
            enforceable=False,
            detail="Firewall rule recorded; not enforceable on this server (it has no IP firewall the local cloud "
            "can edit).",
        )

    def describe(self) -> dict[str, Any]:
        return {"cloud": self.name, "inventory": str(self.inventory.path), "principal": self.principal}
