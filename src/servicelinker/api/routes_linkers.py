"""Linkers under a source (`/{resourceUri}/providers/Microsoft.ServiceLinker/...`), daprConfigurations, and the
two polling endpoints of their long-running operations.

| call | answer |
|---|---|
| GET linkers | 200 ResourceList |
| GET linkers/{name} | 200 LinkerResource, 404 ResourceNotFound |
| PUT linkers/{name} | 201 LinkerResource (`provisioningState: Accepted`) + Azure-AsyncOperation + Retry-After |
| PATCH linkers/{name} | the existing linker merged with the patch (RFC 7396), then as PUT; 404 when absent |
| DELETE linkers/{name} | 202 `null` + Azure-AsyncOperation + Location + Retry-After; 204 when absent |
| POST .../validateLinker | 202 `null` + Azure-AsyncOperation + Location + Retry-After; then the Location |
|   | answers 200 with the ValidateOperationResult |
| POST .../listConfigurations | 200 ConfigurationResult, credential values blank (reference §6.2) |
| POST .../generateConfigurations | 200 ConfigurationResult for an optional ConfigurationInfo, credentials blank |
| GET daprConfigurations | 200 DaprConfigurationList (empty: no AKS client type is Dapr) |

Authorization (on the source resource, for the caller of the token): read for GET, list, listConfigurations,
daprConfigurations and operation status; `linkers/write` for PUT/PATCH, `linkers/delete` for DELETE,
`linkers/validateLinker/action` and `linkers/generateConfigurations/action` for those actions.

`DELETE ...?cleanup=true` is servicelinker's opt-in extension: also remove the Secret/ServiceAccount and release
the firewall rule (Azure keeps them; the default keeps them too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from servicelinker.api import errors, lro
from servicelinker.api.deps import Backend, BackendDep, Caller, api_version_param, source_id_of, source_of
from servicelinker.api.paging import SkipToken, page
from servicelinker.catalog.configuration import to_configuration_result
from servicelinker.engine import Engine
from servicelinker.model.errors import ArmError, ErrorCode, ErrorResponse
from servicelinker.model.ids import ResourceId, check_subscription, format_connection_id
from servicelinker.model.linker import ConfigurationInfo, LinkerPatch, LinkerResource, ResourceList
from servicelinker.model.records import Configuration
from servicelinker.model.results import ConfigurationResult, DaprConfigurationList, ValidateOperationResult

PREFIX = "/{resource_uri:path}/providers/Microsoft.ServiceLinker"
READ = "Microsoft.ServiceLinker/linkers/read"
WRITE = "Microsoft.ServiceLinker/linkers/write"
DELETE = "Microsoft.ServiceLinker/linkers/delete"
VALIDATE = "Microsoft.ServiceLinker/linkers/validateLinker/action"
GENERATE = "Microsoft.ServiceLinker/linkers/generateConfigurations/action"
DAPR_READ = "Microsoft.ServiceLinker/daprConfigurations/read"
STATUS_READ = "Microsoft.ServiceLinker/locations/operationStatuses/read"

router = APIRouter(tags=["Linkers"])

ResourceUri = Annotated[
    str,
    Path(
        description="The fully qualified Azure Resource manager identifier of the resource to be connected "
        "(unencoded; AKS clusters only).",
        examples=["subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sl-dev/providers/"
                  "Microsoft.ContainerService/managedClusters/sl-aks"],
    ),
]  # fmt: skip
LinkerName = Annotated[str, Path(description="The name Linker resource.")]
LinkersVersion = Annotated[str, Depends(api_version_param("linkers"))]
DaprVersion = Annotated[str, Depends(api_version_param("daprConfigurations"))]
StatusVersion = Annotated[str, Depends(api_version_param("locations/operationStatuses"))]

ERROR: dict[int | str, dict[str, Any]] = {
    "default": {"model": ErrorResponse, "description": "Error response describing why the operation failed."}
}


def _null(status: int, headers: dict[str, str]) -> Response:
    """ARM's 202 with a literal `null` body (content-length 4), as recorded."""
    return Response(content=b"null", status_code=status, media_type="application/json", headers=headers)


def _linker_id(resource_uri: str, linker_name: str) -> tuple[str, str]:
    source = source_id_of(resource_uri)
    return source, format_connection_id(source, linker_name)


def _engine(be: Backend, who: Caller, scope: str, action: str) -> Engine:
    engine = be.engine(who)
    engine.check_access(scope, action)
    return engine


# ------------------------------------------------------------------------------------------------------ read side


@router.get(
    PREFIX + "/linkers",
    operation_id="Linker_List",
    summary="Returns list of Linkers which connects to the resource.",
    responses={200: {"model": ResourceList, "description": "Linker details."}, **ERROR},
)
def list_linkers(request: Request, resource_uri: ResourceUri, who: Caller, _v: LinkersVersion, be: BackendDep,
                 skip_token: SkipToken = None) -> JSONResponse:  # fmt: skip
    source = source_id_of(resource_uri)
    engine = _engine(be, who, source, READ)
    return JSONResponse(page(request, [s.body for s in engine.list_linkers(source)], skip_token))


@router.get(
    PREFIX + "/linkers/{linker_name}",
    operation_id="Linker_Get",
    summary="Returns Linker resource for a given name.",
    responses={200: {"model": LinkerResource, "description": "Linker details."}, **ERROR},
)
def get_linker(
    resource_uri: ResourceUri, linker_name: LinkerName, who: Caller, _v: LinkersVersion, be: BackendDep
) -> JSONResponse:
    source, lid = _linker_id(resource_uri, linker_name)
    engine = _engine(be, who, source, READ)
    return JSONResponse(engine.get(lid).body)


# ---------------------------------------------------------------------------------------------------- write side


def _accepted_put(request: Request, be: BackendDep, engine: Engine, lid: str, resource: LinkerResource,
                  version: str) -> JSONResponse:  # fmt: skip
    op = engine.begin_create_or_update(lid, resource)
    be.runner.submit(op.id)
    body = engine.get(lid).body
    return JSONResponse(body, status_code=201, headers=lro.accepted_headers(request, be, op, version, location=False))


@router.put(
    PREFIX + "/linkers/{linker_name}",
    operation_id="Linker_CreateOrUpdate",
    summary="Create or update Linker resource.",
    status_code=201,
    responses={
        200: {"model": LinkerResource, "description": "Successful."},
        201: {"model": LinkerResource, "description": "Long running operation."},
        **ERROR,
    },
)
def put_linker(
    request: Request,
    resource_uri: ResourceUri,
    linker_name: LinkerName,
    who: Caller,
    version: LinkersVersion,
    be: BackendDep,
    parameters: Annotated[LinkerResource, Body(description="Linker details.")],
) -> JSONResponse:
    source, lid = _linker_id(resource_uri, linker_name)
    engine = _engine(be, who, source, WRITE)
    return _accepted_put(request, be, engine, lid, parameters, version)


_POLYMORPHIC = {"targetService": "type", "authInfo": "authType", "secretInfo": "secretType",
                "resourceProperties": "type"}  # fmt: skip


def merge_patch(base: Any, patch: Any, key: str | None = None) -> Any:
    """RFC 7396 merge; a polymorphic member whose discriminator changes is replaced, not merged."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(base, dict):
        base = {}
    tag = _POLYMORPHIC.get(key or "")
    if tag and tag in patch and patch[tag] != base.get(tag):
        base = {}
    out = dict(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v, k)
    return out


@router.patch(
    PREFIX + "/linkers/{linker_name}",
    operation_id="Linker_Update",
    summary="Operation to update an existing Linker.",
    status_code=201,
    responses={
        200: {"model": LinkerResource, "description": "Success. The response describes a Linker."},
        201: {"model": LinkerResource, "description": "Long running operation."},
        **ERROR,
    },
)
def patch_linker(
    request: Request,
    resource_uri: ResourceUri,
    linker_name: LinkerName,
    who: Caller,
    version: LinkersVersion,
    be: BackendDep,
    parameters: Annotated[LinkerPatch, Body(description="Linker details.")],
) -> JSONResponse:
    source, lid = _linker_id(resource_uri, linker_name)
    engine = _engine(be, who, source, WRITE)
    current = engine.get(lid).body
    patch = parameters.request_dump()
    merged = {"properties": merge_patch(current.get("properties", {}), patch.get("properties") or {})}
    merged["properties"].pop("provisioningState", None)
    try:
        resource = LinkerResource.model_validate(merged)
    except ValidationError as exc:
        raise errors.request_content_error([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    return _accepted_put(request, be, engine, lid, resource, version)


@router.delete(
    PREFIX + "/linkers/{linker_name}",
    operation_id="Linker_Delete",
    summary="Delete a Linker.",
    status_code=202,
    responses={
        200: {"description": "OK. The Linker is deleted."},
        202: {"description": "Long running operation."},
        204: {"description": "Deleted. The Linker is not found."},
        **ERROR,
    },
)
def delete_linker(
    request: Request,
    resource_uri: ResourceUri,
    linker_name: LinkerName,
    who: Caller,
    version: LinkersVersion,
    be: BackendDep,
    cleanup: Annotated[
        bool,
        Query(description="servicelinker extension: also remove the Secret/ServiceAccount and the firewall rule."),
    ] = False,
) -> Response:
    source, lid = _linker_id(resource_uri, linker_name)
    engine = _engine(be, who, source, DELETE)
    op = engine.begin_delete(lid, cleanup)
    if op is None:
        return Response(status_code=204)
    be.runner.submit(op.id)
    return _null(202, lro.accepted_headers(request, be, op, version))


# ------------------------------------------------------------------------------------------------------- actions


@router.post(
    PREFIX + "/linkers/{linker_name}/validateLinker",
    operation_id="Linker_Validate",
    summary="Validate a Linker.",
    status_code=202,
    responses={
        200: {"model": ValidateOperationResult, "description": "OK. The request has succeeded."},
        202: {"description": "Accepted - Returns this status until the asynchronous operation has completed."},
        **ERROR,
    },
)
def validate_linker(
    request: Request,
    resource_uri: ResourceUri,
    linker_name: LinkerName,
    who: Caller,
    version: LinkersVersion,
    be: BackendDep,
) -> Response:
    source, lid = _linker_id(resource_uri, linker_name)
    engine = _engine(be, who, source, VALIDATE)
    op = engine.begin_validate(lid)
    be.runner.submit(op.id)
    return _null(202, lro.accepted_headers(request, be, op, version))


@router.post(
    PREFIX + "/linkers/{linker_name}/listConfigurations",
    operation_id="Linker_ListConfigurations",
    summary="list source configurations for a Linker.",
    responses={200: {"model": ConfigurationResult, "description": "Configurations of the Linker."}, **ERROR},
)
def list_configurations(
    resource_uri: ResourceUri, linker_name: LinkerName, who: Caller, _v: LinkersVersion, be: BackendDep
) -> JSONResponse:
    source, lid = _linker_id(resource_uri, linker_name)
    engine = _engine(be, who, source, READ)
    return JSONResponse(_configurations(engine.list_configurations(lid)))


def _configurations(configs: Sequence[Configuration]) -> dict[str, Any]:
    """A ConfigurationResult as Azure writes it: `keyVaultReferenceIdentity` is there, null unless set."""
    body: dict[str, Any] = to_configuration_result(configs).response_dump()
    for item in body.get("configurations") or []:
        item.setdefault("keyVaultReferenceIdentity", None)
    return body


@router.post(
    PREFIX + "/linkers/{linker_name}/generateConfigurations",
    operation_id="Linkers_GenerateConfigurations",
    summary="Generate configurations for a Linker.",
    responses={200: {"model": ConfigurationResult, "description": "OK. The request has succeeded."}, **ERROR},
)
def generate_configurations(
    resource_uri: ResourceUri,
    linker_name: LinkerName,
    who: Caller,
    _v: LinkersVersion,
    be: BackendDep,
    parameters: Annotated[
        ConfigurationInfo | None, Body(description="Connection Info, including format, secret store, etc")
    ] = None,
) -> JSONResponse:
    source, lid = _linker_id(resource_uri, linker_name)
    engine = _engine(be, who, source, GENERATE)
    configs = engine.generate_configurations(lid, parameters)
    return JSONResponse(_configurations(configs))


@router.get(
    PREFIX + "/daprConfigurations",
    operation_id="Linkers_ListDaprConfigurations",
    summary="List the dapr configuration supported by Service Connector.",
    tags=["Linkers"],
    responses={200: {"model": DaprConfigurationList, "description": "OK. The request has succeeded."}, **ERROR},
)
def list_dapr_configurations(resource_uri: ResourceUri, who: Caller, _v: DaprVersion, be: BackendDep) -> JSONResponse:
    source = source_id_of(resource_uri)
    _engine(be, who, source, DAPR_READ)
    return JSONResponse({"value": []})


# ------------------------------------------------------------------------------------------------------- polling

OPS = "/subscriptions/{subscription_id}/providers/Microsoft.ServiceLinker/locations/{location}"


def _operation(be: Backend, who: Caller, subscription_id: str, operation_id: str) -> tuple[Engine, Any]:
    check_subscription(subscription_id)
    engine = be.engine(who)
    op = engine.operation(operation_id)
    if op is None or ResourceId.parse(op.resource_id).subscription.lower() != subscription_id.lower():
        raise ArmError(
            ErrorCode.RESOURCE_NOT_FOUND,
            f"The operation '{operation_id}' was not found.",
            target=operation_id,
            remedy="Poll the exact URL of the Azure-AsyncOperation or Location header.",
        )
    engine.check_access(source_of(op.resource_id), STATUS_READ)
    return engine, op


@router.get(
    OPS + "/operationStatuses/{operation_id}",
    operation_id="OperationStatuses_Get",
    summary="The status of a long-running operation (the Azure-AsyncOperation URL).",
    tags=["Operations"],
    responses={200: {"description": "The operation status."}, **ERROR},
)
def operation_status(
    request: Request, subscription_id: str, location: str, operation_id: str, who: Caller, _v: StatusVersion,
    be: BackendDep,
) -> JSONResponse:  # fmt: skip
    _, op = _operation(be, who, subscription_id, operation_id)
    if op.status in lro.TERMINAL:
        return JSONResponse(lro.status_body(request, be, op))
    headers = {"Retry-After": str(be.retry_after)}
    if op.kind in ("delete", "validate"):
        # Azure answers a running delete's or validation's status poll with 202 and re-sends both headers
        headers.update(lro.accepted_headers(request, be, op, _v))
        return JSONResponse(lro.status_body(request, be, op), status_code=202, headers=headers)
    return JSONResponse(lro.status_body(request, be, op), headers=headers)


@router.get(
    OPS + "/operationResults/{operation_id}",
    operation_id="OperationResults_Get",
    summary="The result of a long-running operation (the Location URL).",
    tags=["Operations"],
    responses={
        200: {"description": "The final result (ValidateOperationResult for a validation, the linker otherwise)."},
        202: {"description": "The operation is still running."},
        204: {"description": "The operation (a delete) has completed."},
        **ERROR,
    },
)
def operation_result(
    request: Request, subscription_id: str, location: str, operation_id: str, who: Caller, version: StatusVersion,
    be: BackendDep,
) -> Response:  # fmt: skip
    engine, op = _operation(be, who, subscription_id, operation_id)
    if op.status not in lro.TERMINAL:
        return _null(202, {"Location": str(request.url), "Retry-After": str(be.retry_after)})
    if op.status != "Succeeded":
        raise lro.operation_error(op)
    if op.kind == "validate":
        # the result behind Location, as Azure gives it: the operation's id, name and times around the result
        status = lro.status_body(request, be, op)
        result = {key: status[key] for key in ("id", "name", "startTime", "endTime") if status.get(key)}
        return JSONResponse({**result, **(op.result or {})})
    if op.kind == "delete":
        return Response(status_code=204)
    return JSONResponse(engine.get(op.resource_id).body)
