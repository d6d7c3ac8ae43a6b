"""Dryruns (`/{resourceUri}/providers/Microsoft.ServiceLinker/dryruns/{name}` and the location-scoped twin):
thin routes over the engine's dryrun methods (engine/dryrun.py says what a dryrun checks and records).

`PUT` answers at once (201 when new, else 200; `provisioningState: Succeeded`, no polling needed); `PATCH` merges
the parameters (RFC 7396) and runs the checks again; `DELETE` answers 200, or 204 when there was none.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from servicelinker.api import errors
from servicelinker.api.deps import Backend, BackendDep, Caller, api_version_param, source_id_of
from servicelinker.api.routes_linkers import ERROR, ResourceUri, merge_patch
from servicelinker.engine import Engine
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import LINKER_PROVIDER, check_subscription
from servicelinker.model.results import CreateOrUpdateDryrunParameters, DryrunList, DryrunPatch, DryrunResource

READ = "Microsoft.ServiceLinker/dryruns/read"
WRITE = "Microsoft.ServiceLinker/dryruns/write"
DELETE = "Microsoft.ServiceLinker/dryruns/delete"
CREATE_SUMMARY = "create a dryrun job to do necessary check before actual creation"
UPDATE_SUMMARY = "add a dryrun job to do necessary check before actual creation"

router = APIRouter(tags=["Dryruns"])
DryrunsVersion = Annotated[str, Depends(api_version_param("dryruns"))]
DryrunName = Annotated[str, Path(description="The name of dryrun.")]

SOURCE_PREFIX = "/{resource_uri:path}/providers/Microsoft.ServiceLinker/dryruns"
LOCATION_PREFIX = (
    "/subscriptions/{subscription_id}/resourcegroups/{resource_group_name}/providers/Microsoft.ServiceLinker/"
    "locations/{location}/dryruns"
)


# ------------------------------------------------------------------------------------------------------ handlers


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


def _engine(be: Backend, who: Caller, scope: str, action: str) -> Engine:
    engine = be.engine(who)
    engine.check_access(scope, action)
    return engine


def _get(be: Backend, who: Caller, scope: str, name: str) -> JSONResponse:
    return JSONResponse(_engine(be, who, scope, READ).get_dryrun(scope, name))


def _list(be: Backend, who: Caller, scope: str) -> JSONResponse:
    return JSONResponse({"value": _engine(be, who, scope, READ).list_dryruns(scope)})


def _put(be: Backend, who: Caller, scope: str, name: str, params: CreateOrUpdateDryrunParameters,
         has_source: bool, *, patch: bool = False) -> JSONResponse:  # fmt: skip
    body, created = _engine(be, who, scope, WRITE).put_dryrun(scope, name, params, has_source=has_source)
    return JSONResponse(body, status_code=201 if created and not patch else 200)


def _patch(be: Backend, who: Caller, scope: str, name: str, patch: DryrunPatch, has_source: bool) -> JSONResponse:
    existing = _engine(be, who, scope, WRITE).get_dryrun(scope, name)
    base = (existing.get("properties") or {}).get("parameters") or {}
    changes = ((patch.request_dump().get("properties") or {}).get("parameters")) or {}
    params = _parameters({"properties": {"parameters": merge_patch(base, changes)}})
    return _put(be, who, scope, name, params, has_source, patch=True)


def _delete(be: Backend, who: Caller, scope: str, name: str) -> Response:
    deleted = _engine(be, who, scope, DELETE).delete_dryrun(scope, name)
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
    return f"/subscriptions/{check_subscription(subscription_id)}/resourceGroups/{resource_group_name}"


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
