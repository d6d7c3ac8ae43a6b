"""What every route needs: the backend (engines per caller, the runner), the caller, the api-version check, and
the source id parsed out of `{resourceUri}`."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from servicelinker.api import errors
from servicelinker.api.auth import Authenticator, Principal
from servicelinker.api.guard import PRINCIPAL
from servicelinker.engine import Engine
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import (
    AKS_SOURCE,
    AKS_SOURCE_PATTERN,
    LINKER_PROVIDER,
    check_source_parts,
    is_valid_resource_id,
)
from servicelinker.model.linker import API_VERSIONS
from servicelinker.model.records import Caller as EngineCaller

_API_VERSION_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}(-[a-z]+)?$")


class RunnerLike(Protocol):
    """servicelinker.engine.runner.Runner (start, submit after each begin_*, stop)."""

    def start(self) -> object: ...

    def submit(self, operation_id: str) -> None: ...

    def stop(self) -> object: ...


@dataclass
class Backend:
    """Per-process services: an engine bound to a caller, the operation runner, the authenticator."""

    engine_for: Callable[[EngineCaller], Engine]
    runner: RunnerLike
    authenticator: Authenticator
    location: str = "local"
    retry_after: int = 1
    public_url: str | None = None
    close: Callable[[], None] = lambda: None

    def engine(self, who: Principal) -> Engine:
        return self.engine_for(who.caller)


async def backend(request: Request) -> Backend:
    # dependencies are `async def` when they do no I/O: FastAPI runs sync ones on the thread pool, a hop each
    return _backend(request)


def _backend(request: Request) -> Backend:
    found: Backend = request.app.state.backend
    return found


_bearer = HTTPBearer(auto_error=False, description="An Entra ID (or compatible issuer) access token for ARM.")


async def caller(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    """The authenticated caller (401 in ARM's format otherwise). CPU only, except the issuer's keys are fetched
    on first use and on an unknown key id (rate-limited)."""
    found = getattr(request.state, PRINCIPAL, None)  # authenticated by the guard before the body was read
    if isinstance(found, Principal):
        return found
    return _backend(request).authenticator.authenticate(request.headers.get("authorization"))


def check_api_version(version: str | None, resource_type: str, location: str) -> str:
    if not version:
        raise errors.missing_api_version()
    if version in API_VERSIONS:
        return version
    if not _API_VERSION_SHAPE.match(version):
        raise errors.invalid_api_version(version)
    raise errors.unregistered_api_version(version, resource_type, location)


def api_version_param(resource_type: str) -> Callable[..., Awaitable[str]]:
    """A dependency checking `?api-version=` for `resource_type` (named in ARM's error)."""

    async def dependency(
        request: Request,
        api_version: Annotated[
            str,
            Query(
                alias="api-version",
                description="The API version to use for this operation.",
                min_length=1,
                json_schema_extra={"enum": list(API_VERSIONS)},
            ),
        ],
    ) -> str:
        return check_api_version(api_version, resource_type, _backend(request).location)

    return dependency


Caller = Annotated[Principal, Depends(caller)]
BackendDep = Annotated[Backend, Depends(backend)]


def source_id_of(resource_uri: str, *, field: str = "resourceUri") -> str:
    """The source resource id of `{resourceUri}`; only AKS clusters are sources for now (400 otherwise)."""
    text = "/" + resource_uri.strip("/")
    if not is_valid_resource_id(text):
        raise ArmError(
            ErrorCode.INVALID_RESOURCE_ID,
            f"Resource id is invalid: {text}",
            target=field,
            remedy="Address the connection under the full ARM id of its source, e.g. /subscriptions/<sub>/"
            "resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<cluster>.",
        )
    parts = AKS_SOURCE.fullmatch(text)
    if parts is None:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Unsupported source resource id: {text}. Source id pattern should be: {AKS_SOURCE_PATTERN}",
            target=field,
            remedy="This server connects AKS clusters (Microsoft.ContainerService/managedClusters) only; address the "
            "connection under a cluster's id.",
        )
    check_source_parts(parts, field)
    return text


def child_id(source_id: str, collection: str, name: str) -> str:
    return f"{source_id}/providers/{LINKER_PROVIDER}/{collection}/{name}"


def source_of(resource_id: str) -> str:
    """The scope (source id) of a linker or dryrun id."""
    marker = f"/providers/{LINKER_PROVIDER.lower()}/"
    lowered = resource_id.lower()
    return resource_id[: lowered.rindex(marker)] if marker in lowered else resource_id
