"""In-memory stand-ins for the engine's two ports, for unit tests of the engine only.

`FakeCloud` (the Cloud port) and `FakeCluster` (the ClusterPort) keep what they were told in plain dicts, so a unit
test can drive the real engine (planning, workflow, dryruns, validation) without a server and then assert on what
the engine asked of each side. Integration and e2e tests use the real adapters against the dev stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from servicelinker.catalog.targets import Target
from servicelinker.clouds.base import AddonProfile, ClusterInfo, FirewallState, IdentityInfo
from servicelinker.engine.context import EngineContext, EngineSettings
from servicelinker.engine.service import ConnectionEngine
from servicelinker.kube.contract import Condition, ServiceConnectionSpec
from servicelinker.kube.extension import ExtensionStatus, ExtensionStatusItem
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.records import Caller, TargetFacts
from servicelinker.store.repository import Store

SUB = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
RG = "rg"
CLUSTER_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/aks"
REDIS_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Cache/redis/r1"
PG_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1"
STORAGE_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/acct1"
IDENTITY_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app"


def _not_found(resource_id: str) -> ArmError:
    return ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"The Resource '{resource_id}' was not found.", target=resource_id)


@dataclass
class FakeCloud:
    """A cloud with one cluster, a Redis, a PostgreSQL server (databases listed) and a storage account."""

    principal: str = "me"
    name: str = "fake"
    tenant_id: str = TENANT
    default_subscription: str = SUB
    cluster_state: str = "Succeeded"
    providers: dict[str, str] = field(default_factory=lambda: {"Microsoft.ServiceLinker": "Registered",
                                                               "Microsoft.KubernetesConfiguration": "Registered"})
    #: principal -> allowed actions (`*`, `*/read` or exact actions)
    grants: dict[str, set[str]] = field(default_factory=lambda: {"me": {"*"}})
    databases: set[str] = field(default_factory=lambda: {"appdb"})
    identities: dict[str, IdentityInfo] = field(default_factory=lambda: {IDENTITY_ID.lower(): IdentityInfo(
        id=IDENTITY_ID, client_id="c0ffee00-0000-0000-0000-000000000001",
        principal_id="0b1ec700-0000-0000-0000-000000000001", tenant_id=TENANT)})
    firewall: dict[str, set[str]] = field(default_factory=dict)  # target -> connection ids using the rule
    federated: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    roles: set[tuple[str, str, str]] = field(default_factory=set)
    features: dict[str, bool] = field(default_factory=dict)
    addons: dict[str, AddonProfile] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def _log(self, what: str) -> None:
        self.calls.append(what)

    # ------------------------------------------------------------------------------------------- resources
    def resource_exists(self, resource_id: str) -> bool:
        return True

    def provider_state(self, subscription_id: str, namespace: str) -> str:
        return self.providers.get(namespace, "NotRegistered")

    def check_access(self, scope: str, action: str) -> None:
        allowed = self.grants.get(self.principal, set())
        if "*" in allowed or action in allowed or ("*/read" in allowed and action.endswith("/read")):
            return
        raise ArmError(ErrorCode.AUTHORIZATION_FAILED, f"The client '{self.principal}' does not have authorization "
                       f"to perform action '{action}' over scope '{scope}'.", target=scope, status=403)  # fmt: skip

    def get_cluster(self, cluster_id: str) -> ClusterInfo:
        if cluster_id.lower() != CLUSTER_ID.lower():
            raise _not_found(cluster_id)
        return ClusterInfo(id=CLUSTER_ID, location="local", provisioning_state=self.cluster_state,
                           kubeconfig="/nonexistent/kubeconfig", oidc_issuer_enabled=self.features.get("oidc", False),
                           oidc_issuer_url="https://issuer.example/" if self.features.get("oidc") else None,
                           workload_identity_enabled=self.features.get("wi", False), addons=dict(self.addons),
                           outbound_ips=["10.0.0.1"])  # fmt: skip

    # --------------------------------------------------------------------------------------------- targets
    def describe_target(self, target: Target, target_id: str, identity_based: bool = False) -> TargetFacts:
        self._log(f"describe {target_id}")
        lowered = target_id.lower()
        if lowered.startswith(REDIS_ID.lower()):
            return TargetFacts(host="r1.redis.example", port=6380, database="0")
        if lowered.startswith(PG_ID.lower()):
            database = target_id.rsplit("/", 1)[-1]
            if database not in self.databases:
                raise _not_found(target_id)
            return TargetFacts(host="pg1.postgres.example", port=5432, database=database)
        if lowered.startswith(STORAGE_ID.lower()):
            return TargetFacts(account_name="acct1", blob_endpoint="https://acct1.blob.example/",
                               endpoint_suffix="core.windows.net")  # fmt: skip
        raise _not_found(target_id)

    def target_secrets(self, target: Target, target_id: str) -> TargetFacts:
        self._log(f"secrets {target_id}")
        return TargetFacts(account_key=SecretStr("k3y/with+chars=="))

    # -------------------------------------------------------------------------------------------- firewall
    def ensure_firewall_rule(self, target: Target, target_id: str, ips: list[str], connection_id: str) -> FirewallState:
        self.firewall.setdefault(target_id.lower(), set()).add(connection_id.lower())
        return FirewallState(rule_name="sc-rule", admitted=True, enforceable=True, detail="admitted")

    def release_firewall_rule(self, target: Target, target_id: str, ips: list[str], connection_id: str) -> None:
        users = self.firewall.get(target_id.lower(), set())
        users.discard(connection_id.lower())
        if not users:
            self.firewall.pop(target_id.lower(), None)

    def check_firewall(self, target: Target, target_id: str, ips: list[str]) -> FirewallState:
        admitted = target_id.lower() in self.firewall
        return FirewallState(rule_name="sc-rule", admitted=admitted, enforceable=True,
                             detail="admitted" if admitted else "no rule")  # fmt: skip

    # -------------------------------------------------------------------------------------- cluster features
    def enable_cluster_features(self, cluster_id: str, *, oidc_issuer: bool = False, workload_identity: bool = False,
                                addons: tuple[str, ...] = ()) -> ClusterInfo:  # fmt: skip
        self._log(f"enable oidc={oidc_issuer} wi={workload_identity} addons={','.join(addons)}")
        self.features["oidc"] = self.features.get("oidc", False) or oidc_issuer
        self.features["wi"] = self.features.get("wi", False) or workload_identity
        for addon in addons:
            self.addons[addon] = AddonProfile(enabled=True, identity_client_id="addon-client",
                                              identity_object_id="addon-object", identity_resource_id="addon-id")
        return self.get_cluster(cluster_id)

    # ---------------------------------------------------------------------------------------------- identity
    def find_identity(self, client_id: str) -> IdentityInfo | None:
        return next((i for i in self.identities.values() if i.client_id == client_id), None)

    def get_identity(self, identity_id: str) -> IdentityInfo:
        found = self.identities.get(identity_id.lower())
        if found is None:
            raise _not_found(identity_id)
        return found

    def find_service_principal(self, client_id: str) -> IdentityInfo | None:
        return None

    def ensure_federated_credential(self, identity_id: str, name: str, issuer: str, subject: str,
                                    audience: str) -> None:  # fmt: skip
        self.federated[(identity_id.lower(), name)] = (issuer, subject, audience)

    def federated_credential_exists(self, identity_id: str, issuer: str, subject: str, audience: str) -> bool:
        return any(k[0] == identity_id.lower() and v == (issuer, subject, audience) for k, v in self.federated.items())

    def delete_federated_credential(self, identity_id: str, name: str) -> None:
        self.federated.pop((identity_id.lower(), name), None)

    def ensure_role_assignment(self, principal_id: str, role_id: str, role_name: str, scope: str) -> None:
        self.roles.add((principal_id, role_id, scope.lower()))

    def has_role_assignment(self, principal_id: str, role_id: str, scope: str) -> bool:
        return (principal_id, role_id, scope.lower()) in self.roles

    def remove_role_assignment(self, principal_id: str, role_id: str, scope: str) -> None:
        self.roles.discard((principal_id, role_id, scope.lower()))

    def describe(self) -> dict[str, Any]:
        return {"cloud": self.name}


@dataclass
class FakeCluster:
    """A cluster whose operator settles every ServiceConnection at once (or as told)."""

    namespaces: set[str] = field(default_factory=lambda: {"default", "shop"})
    extension_installed: bool = False
    operator_alive: bool = True
    ready: Condition = field(default_factory=lambda: Condition(type="Ready", status="True", reason="Synced",
                                                                message="Secret delivered."))
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: Secrets something other than servicelinker made.
    foreign_secrets: set[tuple[str, str]] = field(default_factory=set)
    installs: int = 0
    closed: int = 0

    def namespace_exists(self, namespace: str) -> bool:
        return namespace in self.namespaces

    def ensure_extension(self, values: dict[str, Any]) -> tuple[Any, bool]:
        ran = not self.extension_installed
        self.extension_installed = True
        self.installs += int(ran)

        @dataclass
        class Release:
            revision: int = 1
            status: str = "deployed"
            chart_version: str = "0.1.0"

        return Release(), ran

    def run_sync_job(self) -> str:
        return "sc-job sync succeeded."

    def operator_heartbeat(self) -> tuple[bool, str]:
        return self.operator_alive, "alive" if self.operator_alive else "silent"

    def apply_connection(self, resource: str, spec: ServiceConnectionSpec, credentials: dict[str, str]) -> int:
        generation = int(self.connections.get(resource, {}).get("metadata", {}).get("generation", 0)) + 1
        self.connections[resource] = {"metadata": {"name": resource, "generation": generation, "finalizers": []},
                                      "spec": spec.model_dump(by_alias=True, exclude_none=True)}  # fmt: skip
        self.credentials[resource] = dict(credentials)
        if self.ready.status == "True":  # the operator delivers the Secret
            data = {e.name: e.value if e.value is not None else credentials.get(e.secret_key or "", "")
                    for e in spec.configurations}  # fmt: skip
            self.secrets[(spec.target_namespace, spec.secret_name)] = data
        return generation

    def wait_ready(self, resource: str, timeout: float) -> Condition:
        return self.ready

    def connection(self, resource: str) -> dict[str, Any] | None:
        return self.connections.get(resource)

    def set_deletion_policy(self, resource: str, policy: str) -> None:
        found = self.connections[resource]
        found["spec"]["deletionPolicy"] = policy
        found["metadata"]["finalizers"] = ["servicelinker.io/cleanup"] if policy == "Delete" else []

    def delete_connection(self, resource: str) -> bool:
        found = self.connections.pop(resource, None)
        if found and found["spec"].get("deletionPolicy") == "Delete":
            spec = found["spec"]
            self.secrets.pop((spec["targetNamespace"], spec["secretName"]), None)
        return found is not None

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get((namespace, name))

    def secret_owner(self, namespace: str, name: str) -> str | None:
        if (namespace, name) in self.foreign_secrets:
            return ""
        for found in self.connections.values():
            spec = found["spec"]
            if (spec["targetNamespace"], spec["secretName"]) == (namespace, name):
                return str(spec["connectionId"])
        return None

    def expected_secret_data(self, resource: str) -> dict[str, str] | None:
        found = self.connections.get(resource)
        if found is None:
            return None
        spec = ServiceConnectionSpec.model_validate(found["spec"])
        creds = self.credentials.get(resource, {})
        return {e.name: e.value if e.value is not None else creds.get(e.secret_key or "", "")
                for e in spec.configurations}  # fmt: skip

    def extension_status(self) -> ExtensionStatus:
        level = "Information" if self.extension_installed and self.operator_alive else "Error"
        return ExtensionStatus(id=f"{CLUSTER_ID}/providers/Microsoft.KubernetesConfiguration/extensions/sc-extension",
                               provisioning_state="Succeeded", healthy=level == "Information",
                               statuses=[ExtensionStatusItem(code="OperatorHeartbeat", displayStatus="x", level=level,
                                                             message="heartbeat")])  # fmt: skip

    def close(self) -> None:
        self.closed += 1


def fake_engine(tmp_path: Path, cloud: FakeCloud | None = None, cluster: FakeCluster | None = None,
                caller: Caller | None = None) -> tuple[ConnectionEngine, FakeCloud, FakeCluster]:  # fmt: skip
    """A real ConnectionEngine over the two fakes and a real SQLite store in `tmp_path`."""
    cloud = cloud or FakeCloud()
    cluster = cluster or FakeCluster()
    store = Store(f"sqlite:///{tmp_path / 'engine.db'}", tmp_path / "store.key")
    ctx = EngineContext(cloud=cloud, store=store, clusters=lambda _info: cluster,
                        settings=EngineSettings(ready_timeout=1, heartbeat_grace=0),
                        caller=caller or Caller(object_id="me", display_name="me@example"))  # fmt: skip
    return ConnectionEngine(ctx), cloud, cluster


__all__ = ["CLUSTER_ID", "IDENTITY_ID", "PG_ID", "REDIS_ID", "STORAGE_ID", "FakeCloud", "FakeCluster", "fake_engine"]
