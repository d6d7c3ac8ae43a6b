"""Dryruns: what a create would need and do, without doing any of it.

A dryrun of a linker named like it runs every synchronous check of a create (`planning.make_plan`: ids, name
rule, supported combination, cluster state, provider registration, the caller's permissions, namespace, target and
identity existence) and records, at once (`provisioningState: Succeeded`):

* `prerequisiteResults`: `permissionsMissing {scope, permissions, recommendedRole}` for each permission the caller
  lacks, `basicError {code, message}` for the first other check that fails (empty when the create would start);
* `operationPreviews`: the changes the create would make, each with its RBAC action and scope.

Under a location (the connector twin, no source) only the target-side checks apply. Nothing outside the dryrun
record is touched; write-only secrets of the parameters are never kept (a PATCH that needs them sends them again).
"""

from __future__ import annotations

from typing import Any

from servicelinker.catalog import naming
from servicelinker.catalog.targets import check_supported
from servicelinker.engine import planning
from servicelinker.engine.context import EngineContext
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import (
    LINKER_PROVIDER,
    ResourceId,
    format_connection_id,
    invalid_resource_id,
    is_valid_resource_id,
)
from servicelinker.model.linker import (
    DRYRUN_RESOURCE_TYPE,
    AzureResource,
    LinkerProperties,
    LinkerResource,
    UserAssignedIdentityAuthInfo,
)
from servicelinker.model.results import (
    BasicErrorDryrunPrerequisiteResult,
    CreateOrUpdateDryrunParameters,
    DryrunOperationPreview,
    DryrunResource,
    PermissionsMissingDryrunPrerequisiteResult,
)

Prerequisite = BasicErrorDryrunPrerequisiteResult | PermissionsMissingDryrunPrerequisiteResult


def dryrun_id(scope: str, name: str) -> str:
    return f"{scope}/providers/{LINKER_PROVIDER}/dryruns/{name}"


def not_found(scope: str, name: str) -> ArmError:
    return ArmError(
        ErrorCode.RESOURCE_NOT_FOUND,
        f"The Resource '{LINKER_PROVIDER}/dryruns/{name}' under resource '{scope}' was not found.",
        target=dryrun_id(scope, name),
        remedy="List the dryruns of the source (GET .../providers/Microsoft.ServiceLinker/dryruns).",
    )


def _provider_type(resource_id: str) -> str:
    """`Microsoft.DBforPostgreSQL/flexibleServers` of a (possibly child) resource id."""
    rid = ResourceId.parse(resource_id).top_level()
    return f"{rid.namespace}/{rid.resource_type}"


def _needed_permissions(scope: str, props: LinkerProperties, has_source: bool) -> list[tuple[str, str, str]]:
    """(scope, action, recommended role) the create needs from the caller."""
    kind = "linkers" if has_source else "connectors"
    needed = [(scope, f"Microsoft.ServiceLinker/{kind}/write", "Contributor")]
    target_id = props.target_id
    if target_id:
        needed.append((target_id, f"{_provider_type(target_id)}/read", "Reader"))
        if isinstance(props.auth_info, UserAssignedIdentityAuthInfo) and not props.connects_as_csi_driver:
            needed.append((str(ResourceId.parse(target_id).top_level()),
                           "Microsoft.Authorization/roleAssignments/write", "User Access Administrator"))  # fmt: skip
    return needed


def _preview(name: str, kind: str, description: str, action: str, scope: str) -> DryrunOperationPreview:
    return DryrunOperationPreview(name=name, operation_type=kind, description=description, action=action, scope=scope)


def previews(scope: str, name: str, props: LinkerProperties, has_source: bool) -> list[DryrunOperationPreview]:
    out: list[DryrunOperationPreview] = []
    target_id = props.target_id
    top = str(ResourceId.parse(target_id).top_level()) if target_id else ""
    if has_source:
        out.append(_preview("installExtension", "configConnection",
                            "Install (or upgrade) the Kubernetes extension sc-extension in namespace sc-system, if it "
                            "is not installed and healthy.", "Microsoft.KubernetesConfiguration/extensions/write",
                            scope))  # fmt: skip
    pns = props.public_network_solution
    if target_id and not (pns is not None and pns.action == "optOut"):
        out.append(_preview("configFirewallRule", "configNetwork",
                            "Allow the cluster's outbound IP addresses in the target's firewall.",
                            f"{_provider_type(target_id)}/firewallRules/write", top))  # fmt: skip
    auth = props.auth_info
    if isinstance(auth, UserAssignedIdentityAuthInfo) and target_id and auth.auth_mode != "optOutAllAuth":
        if has_source:
            out.append(_preview("configFederatedCredential", "configAuth",
                                "Enable the cluster's OIDC issuer and workload identity, and federate the identity "
                                "with the connection's ServiceAccount.",
                                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
                                scope))  # fmt: skip
        out.append(_preview("configRoleAssignment", "configAuth", "Assign the identity a data role on the target.",
                            "Microsoft.Authorization/roleAssignments/write", top))  # fmt: skip
    info = props.configuration_info
    if has_source and not (info is not None and info.action == "optOut"):
        namespace = props.scope or naming.DEFAULT_NAMESPACE
        out.append(_preview("configConnection", "configConnection",
                            f"Write the connection's configurations to the Secret {naming.secret_name(name)} in "
                            f"namespace {namespace}.", "Microsoft.ServiceLinker/linkers/write", scope))  # fmt: skip
    return out


def prerequisites(ctx: EngineContext, scope: str, name: str, props: LinkerProperties,
                  has_source: bool) -> list[Prerequisite]:  # fmt: skip
    results: list[Prerequisite] = []
    missing = False
    for where, action, role in _needed_permissions(scope, props, has_source):
        try:
            ctx.cloud.check_access(where, action)
        except ArmError as exc:
            if exc.code != ErrorCode.AUTHORIZATION_FAILED:
                raise
            missing = True
            results.append(PermissionsMissingDryrunPrerequisiteResult(scope=where, permissions=[action],
                                                                      recommended_role=role))  # fmt: skip
    try:
        if has_source:
            linker_id = format_connection_id(scope, name)
            planning.make_plan(ctx, linker_id, LinkerResource(properties=props), ctx.store.get_linker(linker_id))
        else:
            target = check_supported(props)
            target_id = props.target_id
            if isinstance(props.target_service, AzureResource) and target_id:
                target.validate_id(target_id, target="properties.parameters.targetService.id")
                ctx.cloud.describe_target(target, target_id)
    except ArmError as exc:
        if not (exc.code == ErrorCode.AUTHORIZATION_FAILED and missing):  # a permission already reported above
            results.append(BasicErrorDryrunPrerequisiteResult(code=exc.code, message=exc.message))
    return results


def run(ctx: EngineContext, scope: str, name: str, params: CreateOrUpdateDryrunParameters,
        has_source: bool) -> tuple[dict[str, Any], bool]:  # fmt: skip
    """Check, record and return the dryrun's body and whether it is new."""
    naming.validate_connection_name(name, target="dryrunName")
    rid = dryrun_id(scope, name)
    existing = ctx.store.get_dryrun(rid)
    props = LinkerProperties.model_validate(params.request_dump())
    if props.target_id and not is_valid_resource_id(props.target_id):
        raise invalid_resource_id(props.target_id, "properties.parameters.targetService.id")
    results = prerequisites(ctx, scope, name, props, has_source)
    stamp = planning.now()
    system = (existing or {}).get("systemData") or {}
    caller = ctx.caller
    resource = DryrunResource.model_validate({
        "id": rid,
        "name": name,
        "type": DRYRUN_RESOURCE_TYPE,
        "systemData": {
            "createdBy": system.get("createdBy", caller.display_name),
            "createdByType": system.get("createdByType", caller.kind),
            "createdAt": system.get("createdAt", stamp),
            "lastModifiedBy": caller.display_name,
            "lastModifiedByType": caller.kind,
            "lastModifiedAt": stamp,
        },
        "properties": {
            "parameters": params.request_dump(),
            "prerequisiteResults": [r.request_dump() for r in results],
            "operationPreviews": [p.request_dump() for p in previews(scope, name, props, has_source)],
            "provisioningState": "Succeeded",
        },
    })  # fmt: skip
    body = resource.response_dump()
    created = ctx.store.put_dryrun(rid, body)
    return body, created
