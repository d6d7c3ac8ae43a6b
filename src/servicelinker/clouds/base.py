"""The Cloud port: what the engine needs from Azure, in ARM terms, so that real Azure and the local cloud fit.

Every method is idempotent and raises `ArmError` with Azure's codes. Secrets returned here (keys, passwords) stay
inside the engine: they go into the companion credential Secret and the sealed store, never into output.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from servicelinker.catalog.targets import Target
from servicelinker.model.records import TargetFacts

OperatorMode = Literal["in-cluster", "external"]


class AddonProfile(BaseModel):
    enabled: bool = False
    identity_client_id: str | None = None
    identity_object_id: str | None = None
    identity_resource_id: str | None = None


class ClusterInfo(BaseModel):
    id: str
    location: str
    provisioning_state: str
    kubeconfig: str = Field(repr=False)  # a file path; the file holds credentials
    oidc_issuer_enabled: bool = False
    oidc_issuer_url: str | None = None
    workload_identity_enabled: bool = False
    addons: dict[str, AddonProfile] = Field(default_factory=dict)
    outbound_ips: list[str] = Field(default_factory=list)
    #: "external" where no kubelet runs the extension's pods (the dev stack): the operator runs as a process.
    operator_mode: OperatorMode = "in-cluster"


class IdentityInfo(BaseModel):
    """A principal that can be granted roles: a user-assigned identity or a service principal."""

    id: str  # resource id of an identity; `servicePrincipals/<clientId>` for a service principal
    client_id: str
    principal_id: str
    tenant_id: str


class FirewallState(BaseModel):
    """Whether the target admits the cluster's outbound IPs, and whether that is enforced by the server."""

    rule_name: str
    admitted: bool
    enforceable: bool
    detail: str


class Cloud(Protocol):
    name: str
    tenant_id: str
    #: The principal (object id) the adapter acts as: its permission checks are this principal's.
    principal: str
    #: The subscription `-g/-n` ids are in when none is configured.
    default_subscription: str

    def resource_exists(self, resource_id: str) -> bool: ...

    def provider_state(self, subscription_id: str, namespace: str) -> str: ...

    def check_access(self, scope: str, action: str) -> None:
        """Raise AuthorizationFailed (ARM's text) when the caller may not perform `action` on `scope`."""
        ...

    def get_cluster(self, cluster_id: str) -> ClusterInfo: ...

    def describe_target(self, target: Target, target_id: str, identity_based: bool = False) -> TargetFacts:
        """Endpoints, ports, names of the target read from the service itself, no secret (a missing database is
        `ResourceNotFound`). What the synchronous checks read, and record with the operation."""
        ...

    def target_secrets(self, target: Target, target_id: str) -> TargetFacts:
        """Only the target's credentials (keys, connection strings): read when the values are composed."""
        ...

    def ensure_firewall_rule(
        self, target: Target, target_id: str, ips: list[str], connection_id: str
    ) -> FirewallState: ...

    def release_firewall_rule(self, target: Target, target_id: str, ips: list[str], connection_id: str) -> None: ...

    def check_firewall(self, target: Target, target_id: str, ips: list[str]) -> FirewallState: ...

    def enable_cluster_features(
        self,
        cluster_id: str,
        *,
        oidc_issuer: bool = False,
        workload_identity: bool = False,
        addons: tuple[str, ...] = (),
    ) -> ClusterInfo:
        """Turn features on (never off), as a cluster update: Updating while it runs, then Succeeded."""
        ...

    def find_identity(self, client_id: str) -> IdentityInfo | None: ...

    def get_identity(self, identity_id: str) -> IdentityInfo: ...

    def find_service_principal(self, client_id: str) -> IdentityInfo | None: ...

    def ensure_federated_credential(
        self, identity_id: str, name: str, issuer: str, subject: str, audience: str
    ) -> None: ...

    def federated_credential_exists(self, identity_id: str, issuer: str, subject: str, audience: str) -> bool: ...

    def delete_federated_credential(self, identity_id: str, name: str) -> None: ...

    def ensure_role_assignment(self, principal_id: str, role_id: str, role_name: str, scope: str) -> None: ...

    def has_role_assignment(self, principal_id: str, role_id: str, scope: str) -> bool: ...

    def remove_role_assignment(self, principal_id: str, role_id: str, scope: str) -> None: ...

    def describe(self) -> dict[str, Any]: ...
