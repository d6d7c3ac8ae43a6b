"""Dryruns: what a create would need and do, without doing any of it.

`PUT .../dryruns/{name}` with `{"properties": {"parameters": {"actionName": "createOrUpdate", ...LinkerProperties}}}`
runs every synchronous check of a create for a linker named like the dryrun (the engine's `plan`: ids, name rule,
supported combination, cluster state, provider registration, the caller's permissions, namespace, target existence)
and answers at once (201, `provisioningState: Succeeded`, no polling needed) with:

* `prerequisiteResults`: `permissionsMissing {scope, permissions, recommendedRole}` for each permission the caller
  lacks, `basicError {code, message}` for the first other check that fails (empty when the create would start);
* `operationPreviews`: the changes the create would make, each with its RBAC action and scope (install the
  extension, open the target firewall, identity set-up for workload identity, write the connection's Secret).

Nothing outside the dryrun record itself is touched. Dryruns are also served under
`/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.ServiceLinker/locations/{location}/dryruns` (the
connector twin, no source): only the target-side checks apply there.

Dryrun records are kept in the store's operations table (kind `dryrun`, final status, body in `result`), so they
survive restarts and are shared by replicas; write-only secrets of the parameters are never kept (a PATCH that
needs them must send them again).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import delete, select

from servicelinker.api import errors
from servicelinker.api.deps import Backend, BackendDep, Caller, EngineLike, api_version_param, source_id_of
from servicelinker.api.routes_linkers import ERROR, ResourceUri, merge_patch
from servicelinker.catalog import naming
from servicelinker.catalog.targets import check_supported
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import LINKER_PROVIDER, format_connection_id
from servicelinker.model.linker import (
    DRYRUN_RESOURCE_TYPE,
    AzureResource,
    BasicErrorDryrunPrerequisiteResult,
    CreateOrUpdateDryrunParameters,
    DryrunList,
    DryrunOperationPreview,
    DryrunPatch,
    DryrunResource,
    LinkerProperties,
    LinkerResource,
    PermissionsMissingDryrunPrerequisiteResult,
    UserAssignedIdentityAuthInfo,
)
from servicelinker.store.db import OperationRow
from servicelinker.store.repository import Store

READ = "Microsoft.ServiceLinker/dryruns/read"
WRITE = "Microsoft.ServiceLinker/dryruns/write"
DELETE = "Microsoft.ServiceLinker/dryruns/delete"
KIND = "dryrun"
CREATE_SUMMARY = "create a dryrun job to do necessary check before actual creation"
UPDATE_SUMMARY = "add a dryrun job to do necessary check before actual creation"
_NAMESPACE = uuid.UUID("5e2c4b7a-3f7d-4d89-9a43-5d0f3f1a6c11")

router = APIRouter(tags=["Dryruns"])
DryrunsVersion = Annotated[str, Depends(api_version_param("dryruns"))]
DryrunName = Annotated[str, Path(description="The name of dryrun.")]

SOURCE_PREFIX = "/{resource_uri:path}/providers/Microsoft.ServiceLinker/dryruns"
LOCATION_PREFIX = (
    "/subscriptions/{subscription_id}/resourcegroups/{resource_group_name}/providers/Microsoft.ServiceLinker/"
    "locations/{location}/dryruns"
)


# ------------------------------------------------------------------------------------------------------ records


class DryrunRecords:
    """Dryrun bodies kept as final rows of the operations table (kind `dryrun`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _row_id(dryrun_id: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, dryrun_id.lower()))

    def get(self, dryrun_id: str) -> dict[str, Any] | None:
        with self.store.session() as s:
            row = s.get(OperationRow, self._row_id(dryrun_id))
            return dict(row.result or {}) if row is not None and row.kind == KIND else None

    def put(self, dryrun_id: str, body: dict[str, Any]) -> bool:
        """Store `body`; True when the dryrun is new."""
        now = dt.datetime.now(dt.UTC)
        with self.store.session() as s, s.begin():
            row = s.get(OperationRow, self._row_id(dryrun_id))
            created = row is None
            if row is None:
                row = OperationRow(id=self._row_id(dryrun_id), resource_key=dryrun_id.lower(), resource_id=dryrun_id,
                                   kind=KIND, params={}, steps=[], start_time=now)  # fmt: skip
                s.add(row)
            row.status = "Succeeded"
            row.end_time = now
            row.result = body
        return created

    def list(self, scope_id: str) -> list[dict[str, Any]]:
        prefix = f"{scope_id}/providers/{LINKER_PROVIDER}/dryruns/".lower()
        with self.store.session() as s:
            rows = s.scalars(
                select(OperationRow)
                .where(OperationRow.kind == KIND, OperationRow.resource_key.startswith(prefix, autoescape=True))
                .order_by(OperationRow.resource_key)
            )
            return [dict(r.result or {}) for r in rows if "/" not in r.resource_key[len(prefix) :]]

    def delete(self, dryrun_id: str) -> bool:
        with self.store.session() as s, s.begin():
            done = s.execute(
                delete(OperationRow).where(OperationRow.id == self._row_id(dryrun_id), OperationRow.kind == KIND)
            )
            return bool(getattr(done, "rowcount", 0))


# ------------------------------------------------------------------------------------------------------ planning


def _provider_type(resource_id: str) -> str:
    """`Microsoft.DBforPostgreSQL/flexibleServers` of a (possibly child) resource id."""
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return ""
    i = lowered.index("providers")
    return "/".join(parts[i + 1 : i + 3])


def _top_level(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return resource_id
    return "/" + "/".join(parts[: lowered.index("providers") + 4])


def _needed_permissions(scope: str, props: LinkerProperties, has_source: bool) -> list[tuple[str, str, str]]:
    """(scope, action, recommended role) the create needs from the caller."""
    kind = "linkers" if has_source else "connectors"
    needed = [(scope, f"Microsoft.ServiceLinker/{kind}/write", "Contributor")]
    target_id = props.target_id
    if target_id:
        provider = _provider_type(target_id)
        needed.append((target_id, f"{provider}/read", "Reader"))
        if isinstance(props.auth_info, UserAssignedIdentityAuthInfo) and not props.connects_as_csi_driver:
            needed.append((_top_level(target_id), "Microsoft.Authorization/roleAssignments/write",
                           "User Access Administrator"))  # fmt: skip
    return needed


def _previews(scope: str, name: str, props: LinkerProperties, has_source: bool) -> list[DryrunOperationPreview]:
    previews: list[DryrunOperationPreview] = []
    target_id = props.target_id
    if has_source:
        previews.append(DryrunOperationPreview(
            name="installExtension", operation_type="configConnection",
            description="Install (or upgrade) the Kubernetes extension sc-extension in namespace sc-system, if it is "
            "not installed and healthy.",
            action="Microsoft.KubernetesConfiguration/extensions/write", scope=scope,
        ))  # fmt: skip
    pns = props.public_network_solution
    if target_id and not (pns is not None and pns.action == "optOut"):
        top = _top_level(target_id)
        previews.append(DryrunOperationPreview(
            name="configFirewallRule", operation_type="configNetwork",
            description="Allow the cluster's outbound IP addresses in the target's firewall.",
            action=f"{_provider_type(target_id)}/firewallRules/write", scope=top,
        ))  # fmt: skip
    auth = props.auth_info
    if isinstance(auth, UserAssignedIdentityAuthInfo) and target_id and auth.auth_mode != "optOutAllAuth":
        if has_source:
            previews.append(DryrunOperationPreview(
                name="configFederatedCredential", operation_type="configAuth",
                description="Enable the cluster's OIDC issuer and workload identity, and federate the identity "
                "with the connection's ServiceAccount.",
                action="Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
                scope=scope,
            ))  # fmt: skip
        previews.append(DryrunOperationPreview(
            name="configRoleAssignment", operation_type="configAuth",
            description="Assign the identity a data role on the target.",
            action="Microsoft.Authorization/roleAssignments/write", scope=_top_level(target_id),
        ))  # fmt: skip
    info = props.configuration_info
    if has_source and not (info is not None and info.action == "optOut"):
        previews.append(DryrunOperationPreview(
            name="configConnection", operation_type="configConnection",
            description=f"Write the connection's configurations to the Secret {naming.secret_name(name)} in "
            f"namespace {props.scope or 'default'}.",
            action="Microsoft.ServiceLinker/linkers/write", scope=scope,
        ))  # fmt: skip
    return previews


def _plan(engine: EngineLike, scope: str, name: str, params: CreateOrUpdateDryrunParameters,
          has_source: bool) -> tuple[list[Any], list[DryrunOperationPreview]]:  # fmt: skip
    props = LinkerProperties.model_validate(params.request_dump())
    results: list[Any] = []
    missing: list[str] = []
    for where, action, role in _needed_permissions(scope, props, has_source):
        try:
            engine.cloud.check_access(where, action)
        except ArmError as exc:
            if exc.code != ErrorCode.AUTHORIZATION_FAILED:
                raise
            missing.append(action)
            results.append(PermissionsMissingDryrunPrerequisiteResult(scope=where, permissions=[action],
                                                                      recommended_role=role))  # fmt: skip
    try:
        if has_source:
            engine.plan(format_connection_id(scope, name), LinkerResource(properties=props))
        else:
            target = check_supported(props)
            target_id = props.target_id
            if isinstance(props.target_service, AzureResource) and target_id:
                target.validate_id(target_id, target="properties.parameters.targetService.id")
                engine.cloud.target_facts(target, target_id)
    except ArmError as exc:
        if not (exc.code == ErrorCode.AUTHORIZATION_FAILED and missing):  # a permission already reported above
            results.append(BasicErrorDryrunPrerequisiteResult(code=exc.code, message=exc.message))
    return results, _previews(scope, name, props, has_source)


def _body(
    dryrun_id: str,
    name: str,
    params: CreateOrUpdateDryrunParameters,
    results: list[Any],
    previews: list[DryrunOperationPreview],
    who: Caller,
    created: dict[str, Any] | None,
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    system = created or {}
    resource = DryrunResource.model_validate({
        "id": dryrun_id,
        "name": name,
        "type": DRYRUN_RESOURCE_TYPE,
        "systemData": {
            "createdBy": system.get("createdBy", who.display_name),
            "createdByType": system.get("createdByType", who.kind),
            "createdAt": system.get("createdAt", now),
            "lastModifiedBy": who.display_name,
            "lastModifiedByType": who.kind,
            "lastModifiedAt": now,
        },
        "properties": {
            "parameters": params.request_dump(),
            "prerequisiteResults": [r.request_dump() for r in results],
            "operationPreviews": [p.request_dump() for p in previews],
            "provisioningState": "Succeeded",
        },
    })  # fmt: skip
    return resource.response_dump()


def _parameters(body: DryrunResource | dict[str, Any]) -> CreateOrUpdateDryrunParameters:
    try:
        resource = body if isinstance(body, DryrunResource) else DryrunResource.model_validate(body)
    except ValidationError as exc:
        raise errors.request_content_error([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    params = resource.properties.parameters
    if params is None:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "The dryrun has no parameters.",
            target="properties.parameters",
            remedy='Send {"properties": {"parameters": {"actionName": "createOrUpdate", ...linker properties}}}.',
        )
    return params


# ------------------------------------------------------------------------------------------------------ handlers


def _engine(be: Backend, who: Caller, scope: str, action: str) -> EngineLike:
    engine = be.engine_for(who)
    engine.cloud.check_access(scope, action)
    return engine


def _not_found(dryrun_id: str, name: str) -> ArmError:
    return ArmError(
        ErrorCode.RESOURCE_NOT_FOUND,
        f"The Resource '{LINKER_PROVIDER}/dryruns/{name}' under resource '{dryrun_id.rsplit('/providers/', 1)[0]}' "
        "was not found.",
        target=dryrun_id,
        remedy="List the dryruns of the source (GET .../providers/Microsoft.ServiceLinker/dryruns).",
    )


def _get(be: Backend, who: Caller, scope: str, name: str) -> JSONResponse:
    _engine(be, who, scope, READ)
    dryrun_id = f"{scope}/providers/{LINKER_PROVIDER}/dryruns/{name}"
    body = DryrunRecords(be.store).get(dryrun_id)
    if body is None:
        raise _not_found(dryrun_id, name)
    return JSONResponse(body)


def _list(be: Backend, who: Caller, scope: str) -> JSONResponse:
    _engine(be, who, scope, READ)
    return JSONResponse({"value": DryrunRecords(be.store).list(scope)})


def _put(be: Backend, who: Caller, scope: str, name: str, params: CreateOrUpdateDryrunParameters,
         has_source: bool, *, patch: bool = False) -> JSONResponse:  # fmt: skip
    engine = _engine(be, who, scope, WRITE)
    dryrun_id = f"{scope}/providers/{LINKER_PROVIDER}/dryruns/{name}"
    records = DryrunRecords(be.store)
    existing = records.get(dryrun_id)
    results, previews = _plan(engine, scope, name, params, has_source)
    body = _body(dryrun_id, name, params, results, previews, who, (existing or {}).get("systemData"))
    created = records.put(dryrun_id, body)
    return JSONResponse(body, status_code=201 if created and not patch else 200)


def _patch(be: Backend, who: Caller, scope: str, name: str, patch: DryrunPatch, has_source: bool) -> JSONResponse:
    _engine(be, who, scope, WRITE)
    dryrun_id = f"{scope}/providers/{LINKER_PROVIDER}/dryruns/{name}"
    existing = DryrunRecords(be.store).get(dryrun_id)
    if existing is None:
        raise _not_found(dryrun_id, name)
    base = (existing.get("properties") or {}).get("parameters") or {}
    changes = ((patch.request_dump().get("properties") or {}).get("parameters")) or {}
    merged = merge_patch(base, changes)
    params = _parameters({"properties": {"parameters": merged}})
    return _put(be, who, scope, name, params, has_source, patch=True)


def _delete(be: Backend, who: Caller, scope: str, name: str) -> Response:
    _engine(be, who, scope, DELETE)
    deleted = DryrunRecords(be.store).delete(f"{scope}/providers/{LINKER_PROVIDER}/dryruns/{name}")
    return Response(status_code=200 if deleted else 204)


# ---------------------------------------------------------------------------------------- under a source resource

GET_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": DryrunResource, "description": "OK. The request has succeeded."}, **ERROR
}
PUT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": DryrunResource, "description": "OK. The request has succeeded."},
    201: {"model": DryrunResource, "description": "Long running operation"},
    **ERROR,
}
PATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": DryrunResource, "description": "OK. The request has succeeded."},
    202: {"description": "Accepted - Returns this status until the asynchronous operation has completed."},
    **ERROR,
}
DELETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "OK. The job is deleted."}, 204: {"description": "Deleted. The job is not found."}, **ERROR
}
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": DryrunList, "description": "OK. The request has succeeded."}, **ERROR
}


@router.get(SOURCE_PREFIX, operation_id="Linkers_ListDryrun", summary="list dryrun jobs", responses=LIST_RESPONSES)
def list_dryruns(resource_uri: ResourceUri, who: Caller, _v: DryrunsVersion, be: BackendDep) -> JSONResponse:
    return _list(be, who, source_id_of(resource_uri))


@router.get(SOURCE_PREFIX + "/{dryrun_name}", operation_id="Linkers_GetDryrun", summary="get a dryrun job",
            responses=GET_RESPONSES)  # fmt: skip
def get_dryrun(
    resource_uri: ResourceUri, dryrun_name: DryrunName, who: Caller, _v: DryrunsVersion, be: BackendDep
) -> JSONResponse:
    return _get(be, who, source_id_of(resource_uri), dryrun_name)


@router.put(SOURCE_PREFIX + "/{dryrun_name}", operation_id="Linkers_CreateDryrun", status_code=201,
            summary=CREATE_SUMMARY, responses=PUT_RESPONSES)  # fmt: skip
def put_dryrun(
    resource_uri: ResourceUri, dryrun_name: DryrunName, who: Caller, _v: DryrunsVersion, be: BackendDep,
    parameters: DryrunResource,
) -> JSONResponse:  # fmt: skip
    return _put(be, who, source_id_of(resource_uri), dryrun_name, _parameters(parameters), True)


@router.patch(SOURCE_PREFIX + "/{dryrun_name}", operation_id="Linkers_UpdateDryrun",
              summary=UPDATE_SUMMARY, responses=PATCH_RESPONSES)  # fmt: skip
def patch_dryrun(
    resource_uri: ResourceUri, dryrun_name: DryrunName, who: Caller, _v: DryrunsVersion, be: BackendDep,
    parameters: DryrunPatch,
) -> JSONResponse:  # fmt: skip
    return _patch(be, who, source_id_of(resource_uri), dryrun_name, parameters, True)


@router.delete(SOURCE_PREFIX + "/{dryrun_name}", operation_id="Linkers_DeleteDryrun", summary="delete a dryrun job",
               responses=DELETE_RESPONSES)  # fmt: skip
def delete_dryrun(
    resource_uri: ResourceUri, dryrun_name: DryrunName, who: Caller, _v: DryrunsVersion, be: BackendDep
) -> Response:
    return _delete(be, who, source_id_of(resource_uri), dryrun_name)


# -------------------------------------------------------------------------------------- under a location (connector)


def _location_scope(subscription_id: str, resource_group_name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group_name}"


def _location_scope_of(request: Request) -> str:
    p = request.path_params
    return _location_scope(p["subscription_id"], p["resource_group_name"])


@router.get(LOCATION_PREFIX, operation_id="Connector_ListDryrun", summary="list dryrun jobs",
            responses=LIST_RESPONSES)  # fmt: skip
def list_location_dryruns(
    request: Request, subscription_id: str, resource_group_name: str, location: str, who: Caller,
    _v: DryrunsVersion, be: BackendDep,
) -> JSONResponse:  # fmt: skip
    return _list(be, who, _location_scope_of(request) + f"/providers/{LINKER_PROVIDER}/locations/{location}")


@router.get(LOCATION_PREFIX + "/{dryrun_name}", operation_id="Connector_GetDryrun", summary="get a dryrun job",
            responses=GET_RESPONSES)  # fmt: skip
def get_location_dryrun(
    request: Request, subscription_id: str, resource_group_name: str, location: str, dryrun_name: DryrunName,
    who: Caller, _v: DryrunsVersion, be: BackendDep,
) -> JSONResponse:  # fmt: skip
    return _get(be, who, _location_scope_of(request) + f"/providers/{LINKER_PROVIDER}/locations/{location}",
                dryrun_name)  # fmt: skip


@router.put(LOCATION_PREFIX + "/{dryrun_name}", operation_id="Connector_CreateDryrun", status_code=201,
            summary=CREATE_SUMMARY, responses=PUT_RESPONSES)  # fmt: skip
def put_location_dryrun(
    request: Request, subscription_id: str, resource_group_name: str, location: str, dryrun_name: DryrunName,
    who: Caller, _v: DryrunsVersion, be: BackendDep, parameters: DryrunResource,
) -> JSONResponse:  # fmt: skip
    scope = _location_scope_of(request) + f"/providers/{LINKER_PROVIDER}/locations/{location}"
    return _put(be, who, scope, dryrun_name, _parameters(parameters), False)


@router.patch(LOCATION_PREFIX + "/{dryrun_name}", operation_id="Connector_UpdateDryrun",
              summary=UPDATE_SUMMARY, responses=PATCH_RESPONSES)  # fmt: skip
def patch_location_dryrun(
    request: Request, subscription_id: str, resource_group_name: str, location: str, dryrun_name: DryrunName,
    who: Caller, _v: DryrunsVersion, be: BackendDep, parameters: DryrunPatch,
) -> JSONResponse:  # fmt: skip
    scope = _location_scope_of(request) + f"/providers/{LINKER_PROVIDER}/locations/{location}"
    return _patch(be, who, scope, dryrun_name, parameters, False)


@router.delete(LOCATION_PREFIX + "/{dryrun_name}", operation_id="Connector_DeleteDryrun", summary="delete a dryrun job",
               responses=DELETE_RESPONSES)  # fmt: skip
def delete_location_dryrun(
    request: Request, subscription_id: str, resource_group_name: str, location: str, dryrun_name: DryrunName,
    who: Caller, _v: DryrunsVersion, be: BackendDep,
) -> Response:  # fmt: skip
    scope = _location_scope_of(request) + f"/providers/{LINKER_PROVIDER}/locations/{location}"
    return _delete(be, who, scope, dryrun_name)
