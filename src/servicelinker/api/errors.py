"""ARM error bodies for everything the REST server rejects: exception handlers and the errors only HTTP can cause.

Every non-2xx response is `{"error": {"code", "message", "target"?, "details"?, "additionalInfo"?}}` (common-types v3
`ErrorResponse`), with ARM's codes and wording where ARM has them:

* a missing or unpublished api-version: `MissingApiVersionParameter`, `InvalidApiVersionParameter` (malformed)
  or `NoRegisteredProviderFound` (well formed, not published), each listing the supported versions;
* a body that does not deserialize: `InvalidRequestContent`, naming the JSON path of the first bad member;
* an unknown path under the provider: `InvalidResourceType`; a known path with another method: `MethodNotAllowed`;
* anything unexpected: `InternalServerError` with no detail of the exception (it may carry a credential).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicelinker.model.errors import ArmError, ErrorCode, shown
from servicelinker.model.linker import API_VERSIONS

log = logging.getLogger("servicelinker.api")

PROVIDER = "Microsoft.ServiceLinker"
MISSING_API_VERSION = "MissingApiVersionParameter"
INVALID_API_VERSION = "InvalidApiVersionParameter"
NO_REGISTERED_PROVIDER = "NoRegisteredProviderFound"
INVALID_RESOURCE_TYPE = "InvalidResourceType"
METHOD_NOT_ALLOWED = "MethodNotAllowed"


def arm_response(error: ArmError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status, headers=headers)


def supported_versions() -> str:
    return ", ".join(API_VERSIONS)


def missing_api_version() -> ArmError:
    return ArmError(
        MISSING_API_VERSION,
        "The api-version query parameter (?api-version=) is required for all requests.",
        target="api-version",
        remedy=f"Add ?api-version=<version>; the supported versions are '{supported_versions()}'.",
        status=400,
    )


def invalid_api_version(version: str) -> ArmError:
    return ArmError(
        INVALID_API_VERSION,
        f"The api-version '{shown(version)}' is invalid. The supported versions are '{supported_versions()}'.",
        target="api-version",
        remedy="Pass one of the supported versions, e.g. ?api-version=2024-04-01.",
        status=400,
    )


def unregistered_api_version(version: str, resource_type: str, location: str) -> ArmError:
    return ArmError(
        NO_REGISTERED_PROVIDER,
        f"No registered resource provider found for location '{shown(location)}' and API version "
        f"'{shown(version)}' for type '{resource_type}'. The supported api-versions are '{supported_versions()}'. "
        f"The supported locations are '{shown(location)}'.",
        target="api-version",
        remedy="Pass one of the supported api-versions, e.g. ?api-version=2024-04-01.",
        status=400,
    )


def _json_path(loc: Sequence[int | str]) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif out:
            out += f".{p}"
        else:
            out = str(p)
    return out


_DISCRIMINATOR_NOISE = ("function-after[", "function-wrap[", "tagged-union[")


def request_content_error(errors: Sequence[Any]) -> ArmError:
    """`InvalidRequestContent` naming the first bad member of the body (or the bad query/path parameter)."""
    first = dict(errors[0]) if errors else {}
    loc: Sequence[int | str] = tuple(first.get("loc", ()))
    # pydantic puts the union member's tag in the path (`properties.authInfo.secret.name`): keep the JSON path.
    loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith(_DISCRIMINATOR_NOISE)))
    where = loc[0] if loc else "body"
    if tuple(loc) == ("query", "api-version"):
        return missing_api_version()
    if first.get("type") == "json_invalid":  # the body is not JSON: loc holds a character position, not a member
        loc = ("body",)
    path = _json_path(loc)
    msg = shown(str(first.get("msg", "invalid value")), 200)
    if where == "body":
        if first.get("type") == "missing" and not path:
            return ArmError(
                ErrorCode.INVALID_REQUEST_CONTENT,
                "The request content was invalid and could not be deserialized: 'The request body is missing.'.",
                target="body",
                remedy="Send a JSON body (Content-Type: application/json) as the API reference describes.",
                status=400,
            )
        text = f"{msg}. Path '{path}'." if path else f"{msg}."
        return ArmError(
            ErrorCode.INVALID_REQUEST_CONTENT,
            f"The request content was invalid and could not be deserialized: '{text}'.",
            target=path or "body",
            remedy="Fix the member named in the message (see the LinkerResource schema of api-version 2024-04-01).",
            status=400,
        )
    name = str(loc[-1]) if loc else "parameter"
    return ArmError(
        ErrorCode.INVALID_ARGUMENT_VALUE,
        f"The {where} parameter '{shown(name)}' is invalid: {shown(msg, 200)}.",
        target=name,
        remedy=f"Fix the {where} parameter '{name}'.",
        status=400,
    )


def _not_found_path(request: Request) -> ArmError:
    path = request.url.path
    lowered = path.lower()
    marker = f"/providers/{PROVIDER.lower()}/"
    if marker in lowered:
        tail = path[lowered.rindex(marker) + len(marker) :].strip("/")
        resource_type = tail.split("/")[0] if tail else ""
        version = request.query_params.get("api-version", "")
        return ArmError(
            INVALID_RESOURCE_TYPE,
            f"The resource type '{resource_type}' could not be found in the namespace '{PROVIDER}' for api version "
            f"'{version}'.",
            target=path,
            remedy="Check the path: linkers, dryruns, daprConfigurations, operations, configurationNames and "
            "locations/<location>/operationStatuses are served.",
            status=404,
        )
    return ArmError(
        "NotFound",
        f"The requested path '{path}' was not found.",
        target=path,
        remedy="Address a resource of Microsoft.ServiceLinker, e.g. "
        "/<source id>/providers/Microsoft.ServiceLinker/linkers?api-version=2024-04-01.",
        status=404,
    )


#: ARM's codes for the HTTP errors the framework raises itself (never a bare status number as a code).
_HTTP_CODES = {400: ErrorCode.INVALID_REQUEST_CONTENT, 401: "AuthenticationFailed", 403: ErrorCode.AUTHORIZATION_FAILED,
               409: ErrorCode.CONFLICT, 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
               429: "TooManyRequests"}  # fmt: skip


def http_error(status: int, detail: str) -> ArmError:
    code = _HTTP_CODES.get(status, ErrorCode.INTERNAL_SERVER_ERROR if status >= 500 else "BadRequest")
    message = (f"The request content was invalid and could not be deserialized: '{shown(detail, 200)}'."
               if status == 400 else shown(detail, 200))  # fmt: skip
    return ArmError(code, message, target="body" if status in (400, 413, 415) else None,
                    remedy="Send a JSON body (Content-Type: application/json) as the API reference describes.",
                    status=status)  # fmt: skip


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into an ARM body."""

    @app.exception_handler(ArmError)
    async def _arm(_request: Request, exc: ArmError) -> JSONResponse:
        return arm_response(exc, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return arm_response(request_content_error(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return arm_response(_not_found_path(request))
        if exc.status_code == 405:
            err = ArmError(
                METHOD_NOT_ALLOWED,
                f"The requested resource does not support http method '{request.method}'.",
                target=request.url.path,
                remedy="See the API reference for the methods this path accepts.",
                status=405,
            )
            return arm_response(err, headers=dict(exc.headers or {}))
        return arm_response(http_error(exc.status_code, str(exc.detail)), headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
        err = ArmError(
            ErrorCode.INTERNAL_SERVER_ERROR,
            f"The server could not complete the request ({type(exc).__name__}).",
            remedy="Retry; if it keeps failing, report it with the time of the request.",
            status=500,
        )
        return arm_response(err)
