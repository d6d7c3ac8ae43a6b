"""The local cloud's adapter: the Cloud port over the inventory and the real servers of the dev stack.

Registered as the `local` entry point of `servicelinker.clouds` (the product loads it by name from `SL_CLOUD`,
never by import). Constructed with the product's Settings (for the state directory holding the inventory) and the
principal whose permissions its checks are.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Any

from localcloud import firewall
from localcloud import identity as identities
from localcloud.errors import authorization_failed, not_found, service_unavailable
from localcloud.facts import read_facts
from localcloud.inventory import LOCAL_SUBSCRIPTION, LOCAL_TENANT, Inventory, Resource, RoleAssignment, inventory_file
from servicelinker.catalog.targets import Target
from servicelinker.clouds.base import AddonProfile, ClusterInfo, FirewallState, IdentityInfo
from servicelinker.model.ids import ResourceId
from servicelinker.model.records import SECRET_FACTS, TargetFacts
from servicelinker.settings import Settings

DEFAULT_PRINCIPAL = "local-user"
#: What each built-in role allows, as action prefixes (`*` = everything). Enough for the checks we make.
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "owner": ("*",),
    "contributor": ("*",),
    "reader": ("*/read",),
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _identity_info(res: Resource) -> IdentityInfo:
    p = res.properties
    return IdentityInfo(
        id=res.id, client_id=p["clientId"], principal_id=p["principalId"], tenant_id=p.get("tenantId", LOCAL_TENANT)
    )


def _same_assignment(ra: RoleAssignment, principal_id: str, role_id: str, scope: str) -> bool:
    return (
        ra.principal_id == principal_id
        and ra.role_definition_id.lower() == role_id.lower()
        and ra.scope.rstrip("/").lower() == scope.rstrip("/").lower()
    )


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
    default_subscription = LOCAL_SUBSCRIPTION

    def __init__(
        self, settings: Settings | None = None, principal: str | None = None, inventory_path: Path | None = None
    ) -> None:
        state = (settings or Settings()).state_dir
        self.inventory = Inventory(inventory_path or inventory_file(state))
        #: SL_LOCAL_PRINCIPAL lets a developer act as another principal of the local cloud (permission tests).
        self.principal = principal or os.environ.get("SL_LOCAL_PRINCIPAL", DEFAULT_PRINCIPAL)

    # resources ---------------------------------------------------------------------------------------------

    def find(self, resource_id: str) -> Resource | None:
        """The resource, or for a child id (`.../databases/x`, `.../blobServices/default`) its nearest parent."""
        rid = ResourceId.try_parse(resource_id.rstrip("/"))
        while rid is not None and rid.namespace is not None:
            found = self.inventory.get(rid.text)
            if found is not None:
                return found
            rid = rid.parent
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

    def _facts(self, target: Target, target_id: str, identity_based: bool) -> TargetFacts:
        res = self.find(target_id)
        if res is None:
            raise not_found(target_id)
        return read_facts(res, target_id, target.id_values(target_id), identity_based)

    def describe_target(self, target: Target, target_id: str, identity_based: bool = False) -> TargetFacts:
        facts = self._facts(target, target_id, identity_based)
        return facts.model_copy(update=dict.fromkeys(SECRET_FACTS))

    def target_secrets(self, target: Target, target_id: str) -> TargetFacts:
        facts = self._facts(target, target_id, False)
        return TargetFacts(**{k: getattr(facts, k) for k in SECRET_FACTS if getattr(facts, k) is not None})

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

    # cluster features ------------------------------------------------------------------------------------

    def enable_cluster_features(
        self,
        cluster_id: str,
        *,
        oidc_issuer: bool = False,
        workload_identity: bool = False,
        addons: tuple[str, ...] = (),
    ) -> ClusterInfo:
        """A cluster update as AKS runs one: provisioningState Updating while it applies, Succeeded after; the
        update is recorded in the cluster's `updateHistory`. Add-ons get their own user-assigned identity in the
        node resource group, as AKS creates `azurekeyvaultsecretsprovider-<cluster>`."""
        cluster = self.get_cluster(cluster_id)
        created = {
            a: self._addon_identity(cluster, a) for a in addons if not cluster.addons.get(a, AddonProfile()).enabled
        }
        self.set_cluster_state(cluster_id, "Updating")
        with self.inventory.edit() as data:
            props = data.resources[cluster_id.rstrip("/").lower()].properties
            if oidc_issuer:
                props.setdefault("oidcIssuerProfile", {})["enabled"] = True
            if workload_identity:
                props.setdefault("securityProfile", {}).setdefault("workloadIdentity", {})["enabled"] = True
            for name, identity in created.items():
                props.setdefault("addonProfiles", {})[name] = {
                    "enabled": True,
                    "identity_client_id": identity.client_id,
                    "identity_object_id": identity.principal_id,
                    "identity_resource_id": identity.id,
                }
            changes = {"oidcIssuer": oidc_issuer, "workloadIdentity": workload_identity, "addons": list(created)}
            props.setdefault("updateHistory", []).append({"time": _now(), "enabled": changes})
            props["provisioningState"] = "Succeeded"
        return self.get_cluster(cluster_id)

    def _addon_identity(self, cluster: ClusterInfo, addon: str) -> IdentityInfo:
        rid = ResourceId.parse(cluster.id)
        sub, rg, name = rid.subscription, rid.resource_group, rid.name
        node_rg = f"MC_{rg}_{name}_{cluster.location}"
        identity_id = (
            f"/subscriptions/{sub}/resourceGroups/{node_rg}/providers/Microsoft.ManagedIdentity/"
            f"userAssignedIdentities/{addon.lower()}-{name}"
        )
        return self.create_identity(identity_id)

    # identities (the records live in identity.py, shared with the token service and the CLI) -----------------

    def create_identity(self, identity_id: str) -> IdentityInfo:
        """A user-assigned identity (idempotent: an existing one is returned as it is)."""
        return _identity_info(identities.create_identity(self.inventory, identity_id))

    def get_identity(self, identity_id: str) -> IdentityInfo:
        return _identity_info(identities.get_identity(self.inventory, identity_id))

    def _principal(self, client_id: str, kind: str) -> IdentityInfo | None:
        found = identities.find_principal_by_client_id(self.inventory, client_id)
        if found is None or found.kind != kind:
            return None
        ident = found.resource_id or f"servicePrincipals/{found.client_id}"
        return IdentityInfo(
            id=ident, client_id=found.client_id, principal_id=found.object_id, tenant_id=found.tenant_id
        )

    def find_identity(self, client_id: str) -> IdentityInfo | None:
        return self._principal(client_id, "userAssignedIdentity")

    def find_service_principal(self, client_id: str) -> IdentityInfo | None:
        return self._principal(client_id, "servicePrincipal")

    def ensure_federated_credential(
        self, identity_id: str, name: str, issuer: str, subject: str, audience: str
    ) -> None:
        identities.ensure_federated_credential(self.inventory, identity_id, name, issuer, subject, (audience,))

    def federated_credential_exists(self, identity_id: str, issuer: str, subject: str, audience: str) -> bool:
        return any(
            (f.properties.get("issuer"), f.properties.get("subject")) == (issuer, subject)
            and audience in f.properties.get("audiences", [])
            for f in identities.list_federated_credentials(self.inventory, identity_id)
        )

    def delete_federated_credential(self, identity_id: str, name: str) -> None:
        identities.delete_federated_credential(self.inventory, identity_id, name)

    # role assignments --------------------------------------------------------------------------------------

    def ensure_role_assignment(self, principal_id: str, role_id: str, role_name: str, scope: str) -> None:
        with self.inventory.edit() as data:
            for ra in data.role_assignments:
                if _same_assignment(ra, principal_id, role_id, scope):
                    return
            data.role_assignments.append(
                RoleAssignment(
                    id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                    scope=scope,
                    principal_id=principal_id,
                    role_definition_id=role_id,
                    role_name=role_name,
                )
            )

    def has_role_assignment(self, principal_id: str, role_id: str, scope: str) -> bool:
        return any(
            ra.principal_id == principal_id
            and ra.role_definition_id.lower() == role_id.lower()
            and _in_scope(ra.scope, scope)
            for ra in self.inventory.load().role_assignments
        )

    def remove_role_assignment(self, principal_id: str, role_id: str, scope: str) -> None:
        with self.inventory.edit() as data:
            data.role_assignments = [
                ra for ra in data.role_assignments if not _same_assignment(ra, principal_id, role_id, scope)
            ]

    def describe(self) -> dict[str, Any]:
        return {"cloud": self.name, "inventory": str(self.inventory.path), "principal": self.principal}
