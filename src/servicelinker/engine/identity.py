"""Identity for a connection, per auth type: what the cluster, the identity and the target need.

* workload identity (REST userAssignedIdentity with a clientId): the cluster's OIDC issuer and workload identity
  on; a federated identity credential on the identity for `system:serviceaccount:<ns>:sc-account-<clientId>`
  (audience api://AzureADTokenExchange); the ServiceAccount with the `azure.workload.identity/client-id`
  annotation; role assignments on the target (the catalog's defaults or authInfo.roles).
* service principal (servicePrincipalSecret): role assignments for its object id.
* Key Vault CSI (userAssignedIdentity without clientId + connectAsKubernetesCsiDriver): the cluster's
  azureKeyvaultSecretsProvider add-on on, and roles for the add-on's own identity.
* secret: nothing.

Federated credentials are named `sc-<connection>-<8 hex of the connection id>` (Azure's name is NOT FOUND); roles
are assigned on the target's top-level resource (the storage account of a blob service, the vault).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict

from servicelinker.catalog import naming
from servicelinker.catalog.roles import Role
from servicelinker.clouds.base import Cloud, ClusterInfo, IdentityInfo
from servicelinker.kube import contract
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId
from servicelinker.model.linker import (
    AuthMode,
    LinkerProperties,
    ServicePrincipalSecretAuthInfo,
    UserAssignedIdentityAuthInfo,
)

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
CSI_ADDON = "azureKeyvaultSecretsProvider"
IDENTITY_EXISTENCE = "Managed Identity existence validated."
IDENTITY_PERMISSIONS = "Managed Identity permissions validated."

Kind = Literal["none", "workload", "servicePrincipal", "csi"]


class IdentityPlan(BaseModel):
    """Who gets what for one connection; plain data, recorded with the operation (no secret in it)."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    principal: IdentityInfo | None = None
    roles: tuple[Role, ...] = ()
    role_scope: str | None = None
    fic_name: str | None = None
    subject: str | None = None
    service_account: contract.ServiceAccountSpec | None = None
    opted_out: bool = False


def kind_of(props: LinkerProperties) -> Kind:
    info = props.auth_info
    if props.connects_as_csi_driver:
        return "csi"
    if isinstance(info, UserAssignedIdentityAuthInfo):
        return "workload"
    if isinstance(info, ServicePrincipalSecretAuthInfo):
        return "servicePrincipal"
    return "none"


def features_for(props: LinkerProperties) -> tuple[bool, bool, tuple[str, ...]]:
    """(OIDC issuer, workload identity, add-ons) the cluster needs for this connection."""
    kind = kind_of(props)
    if kind == "workload":
        return True, True, ()
    if kind == "csi":
        return False, False, (CSI_ADDON,)
    return False, False, ()


def fic_name(connection_name: str, linker_id: str) -> str:
    alnum = "".join(c for c in connection_name.lower() if c.isalnum())[:100]
    return f"sc-{alnum}-{hashlib.sha256(linker_id.lower().encode()).hexdigest()[:8]}"


def identity_not_found(client_id: str, what: str) -> ArmError:
    return ArmError(
        ErrorCode.RESOURCE_NOT_FOUND,
        f"No {what} with client id '{client_id}' was found in the tenant.",
        target="properties.authInfo.clientId",
        remedy="Pass the resource id of an existing user-assigned identity to --workload-identity "
        "(`servicelinker local identity list`), or an existing service principal's client-id.",
    )


def resolve(
    cloud: Cloud,
    cluster: ClusterInfo,
    props: LinkerProperties,
    *,
    name: str,
    linker_id: str,
    namespace: str,
    roles: tuple[Role, ...],
) -> IdentityPlan:
    """Work out (without changing anything) who gets what; raises when the identity does not exist."""
    kind = kind_of(props)
    info = props.auth_info
    opted_out = info is not None and info.auth_mode == AuthMode.OPT_OUT_ALL_AUTH
    target_id = props.target_id
    scope = str(ResourceId.parse(target_id).top_level()) if target_id else None
    if kind == "workload":
        assert isinstance(info, UserAssignedIdentityAuthInfo)
        principal = cloud.find_identity(info.client_id or "")
        if principal is None:
            raise identity_not_found(info.client_id or "", "user-assigned identity")
        sa_name = naming.service_account_name(principal.client_id)
        annotations = {
            contract.WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION: principal.client_id,
            contract.WORKLOAD_IDENTITY_TENANT_ID_ANNOTATION: principal.tenant_id,
        }
        return IdentityPlan(
            kind=kind,
            principal=principal,
            roles=roles,
            role_scope=scope,
            fic_name=fic_name(name, linker_id),
            subject=f"system:serviceaccount:{namespace}:{sa_name}",
            service_account=contract.ServiceAccountSpec(name=sa_name, annotations=annotations),
            opted_out=opted_out,
        )
    if kind == "servicePrincipal":
        assert isinstance(info, ServicePrincipalSecretAuthInfo)
        principal = cloud.find_service_principal(info.client_id or "")
        if principal is None:
            raise identity_not_found(info.client_id or "", "service principal")
        return IdentityPlan(kind=kind, principal=principal, roles=roles, role_scope=scope, opted_out=opted_out)
    if kind == "csi":
        addon = cluster.addons.get(CSI_ADDON)
        principal = None
        if addon is not None and addon.enabled and addon.identity_client_id and addon.identity_object_id:
            principal = IdentityInfo(
                id=addon.identity_resource_id or "",
                client_id=addon.identity_client_id,
                principal_id=addon.identity_object_id,
                tenant_id=cloud.tenant_id,
            )
        return IdentityPlan(kind=kind, principal=principal, roles=roles, role_scope=scope, opted_out=opted_out)
    return IdentityPlan(kind="none")


def apply(cloud: Cloud, plan: IdentityPlan, cluster: ClusterInfo) -> str:
    """Create the federated credential and role assignments (each idempotent); returns what was done."""
    if plan.kind == "none":
        return "Secret authentication uses no identity."
    if plan.opted_out:
        return "Opted out (--opt-out auth): no federated credential or role assignment made."
    assert plan.principal is not None, "the cluster add-on has no identity"
    done = []
    if plan.kind == "workload":
        issuer = cluster.oidc_issuer_url
        if not issuer or not plan.fic_name or not plan.subject:
            raise ArmError(
                ErrorCode.CONFLICT,
                "The cluster has no OIDC issuer URL.",
                target=cluster.id,
                remedy="Retry: enabling the OIDC issuer may still be in progress.",
            )
        cloud.ensure_federated_credential(
            plan.principal.id, plan.fic_name, issuer, plan.subject, TOKEN_EXCHANGE_AUDIENCE
        )
        done.append(f"federated credential {plan.fic_name} for {plan.subject}")
    for role in plan.roles:
        if plan.role_scope:
            cloud.ensure_role_assignment(plan.principal.principal_id, role.id, role.name or role.id, plan.role_scope)
            done.append(f"role '{role.name or role.id}'")
    return "; ".join(done) + f" for principal {plan.principal.principal_id}." if done else "Nothing to assign."


def check(cloud: Cloud, plan: IdentityPlan, cluster: ClusterInfo) -> list[tuple[str, str, str, str | None]]:
    """validate's identity items: (name, result, message, error code)."""
    if plan.kind == "none":
        return []
    if plan.principal is None:
        return [
            (IDENTITY_EXISTENCE, "failure", f"The cluster's {CSI_ADDON} add-on has no identity.", "IdentityNotFound")
        ]
    items = [(IDENTITY_EXISTENCE, "success", f"Principal {plan.principal.principal_id} exists.", None)]
    if plan.opted_out:
        return [*items, (IDENTITY_PERMISSIONS, "warning", "Opted out of auth: nothing was granted.", None)]
    missing = []
    if plan.kind == "workload":
        issuer = cluster.oidc_issuer_url or ""
        ok = bool(issuer and plan.subject) and cloud.federated_credential_exists(
            plan.principal.id, issuer, plan.subject or "", TOKEN_EXCHANGE_AUDIENCE
        )
        if not ok:
            missing.append(f"the federated credential for {plan.subject} (issuer {issuer or 'disabled'})")
    for role in plan.roles:
        if plan.role_scope and not cloud.has_role_assignment(plan.principal.principal_id, role.id, plan.role_scope):
            missing.append(f"role '{role.name or role.id}' on {plan.role_scope}")
    if missing:
        message = "Missing: " + "; ".join(missing) + ". Update the connection to restore them."
        return [*items, (IDENTITY_PERMISSIONS, "failure", message, "IdentityPermissionMissing")]
    granted = ", ".join(r.name or r.id for r in plan.roles) or "no role needed"
    return [*items, (IDENTITY_PERMISSIONS, "success", f"Granted: {granted}.", None)]


def release(cloud: Cloud, plan: IdentityPlan) -> str:
    """--cleanup: remove this connection's federated credential and its role assignments."""
    if plan.kind == "none" or plan.opted_out or plan.principal is None:
        return "No identity configuration to remove."
    if plan.kind == "workload" and plan.fic_name:
        cloud.delete_federated_credential(plan.principal.id, plan.fic_name)
    for role in plan.roles:
        if plan.role_scope:
            cloud.remove_role_assignment(plan.principal.principal_id, role.id, plan.role_scope)
    return "Federated credential and role assignments removed."
