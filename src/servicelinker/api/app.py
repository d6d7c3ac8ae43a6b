"""The resource-provider REST server: `create_app(settings) -> FastAPI`.

Startup (the lifespan) opens the engines (`servicelinker.engine.engines`: one store), builds the authenticator (an
OpenID issuer, or `--insecure-dev`) and starts the engine's durable operation runner; shutdown stops it, waiting
for what it runs. Each request gets an Engine bound to its caller, so the engine's permission checks
(`check_access`) are the caller's and `systemData.createdBy` names the caller. Long-running work is submitted to
the runner after each `begin_*`.

ARM paths are case-insensitive; a small middleware spells the provider's keywords (`Microsoft.ServiceLinker`,
`linkers`, `validateLinker`, `resourcegroups` of location paths, ...) the way the routes do before routing, leaving
the `{resourceUri}` part as written.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from servicelinker.api import errors, openapi, routes_dryrun, routes_linkers, routes_tenant
from servicelinker.api.auth import DEFAULT_AUDIENCES, Authenticator, InsecureDevAuthenticator, JwtAuthenticator
from servicelinker.api.deps import Backend, RunnerLike
from servicelinker.api.guard import Guard
from servicelinker.engine import Engine, engines
from servicelinker.model.records import Caller
from servicelinker.settings import Settings

log = logging.getLogger("servicelinker.api")


@dataclass
class ApiSettings:
    """What `servicelinker serve` configures; the injection points at the end are for tests."""

    settings: Settings = field(default_factory=Settings)
    issuer: str | None = None
    audiences: tuple[str, ...] = DEFAULT_AUDIENCES
    #: CA bundle that verifies the issuer's TLS certificate (a private issuer such as the local token service).
    issuer_ca: str | None = None
    insecure_dev: bool = False
    location: str = "local"
    workers: int = 2
    retry_after: int = 1
    #: Base URL written into Azure-AsyncOperation/Location (default: the request's own).
    public_url: str | None = None
    # injection points (tests) -------------------------------------------------------------------------------
    authenticator: Authenticator | None = None
    engine_factory: Callable[[Caller], Engine] | None = None
    runner: RunnerLike | None = None


def build_authenticator(settings: ApiSettings) -> Authenticator:
    if settings.authenticator is not None:
        return settings.authenticator
    if settings.insecure_dev:
        return InsecureDevAuthenticator()
    if not settings.issuer:
        raise ValueError("an OpenID issuer (--issuer) is required unless --insecure-dev is given")
    return JwtAuthenticator(settings.issuer, settings.audiences, ca_file=settings.issuer_ca)


def build_backend(settings: ApiSettings) -> Backend:
    if settings.engine_factory is not None:
        if settings.runner is None:
            raise ValueError("an injected engine factory needs an injected runner")
        return Backend(engine_for=settings.engine_factory, runner=settings.runner,
                       authenticator=build_authenticator(settings), location=settings.location,
                       retry_after=settings.retry_after, public_url=settings.public_url)  # fmt: skip
    made = engines(settings.settings)
    runner = settings.runner or made.runner(settings.workers)
    authenticator = build_authenticator(settings)
    if settings.insecure_dev and settings.authenticator is None:
        # every caller is the server's own identity: what the cloud adapter signs in as
        authenticator = InsecureDevAuthenticator(made.cloud_factory(None).principal)
    return Backend(engine_for=made.for_caller, runner=runner, authenticator=authenticator,
                   location=settings.location, retry_after=settings.retry_after, public_url=settings.public_url,
                   close=made.close)  # fmt: skip


# ------------------------------------------------------------------------------------------- case-insensitive paths

_KEYWORDS = {k.lower(): k for k in (
    "providers", "Microsoft.ServiceLinker", "linkers", "dryruns", "daprConfigurations", "validateLinker",
    "listConfigurations", "generateConfigurations", "operations", "configurationNames", "locations",
    "operationStatuses", "operationResults", "subscriptions",
)}  # fmt: skip


def canonical_path(path: str) -> str:
    """Spell the provider's keywords as the routes do; `{resourceUri}` and names are left as written."""
    segments = path.split("/")
    lowered = [s.lower() for s in segments]
    provider = [i for i in range(1, len(segments)) if lowered[i] == "microsoft.servicelinker"
                and lowered[i - 1] == "providers"]  # fmt: skip
    if not provider:
        return path
    at = provider[-1]
    out = list(segments)
    out[at - 1], out[at] = "providers", "Microsoft.ServiceLinker"
    # keywords sit at odd offsets after the provider: /linkers/{name}/validateLinker, /locations/{loc}/dryruns/...
    for i in range(at + 1, len(out), 2):
        out[i] = _KEYWORDS.get(lowered[i], out[i])
    if lowered[:2] == ["", "subscriptions"]:
        out[1] = "subscriptions"
        if len(out) > 3 and lowered[3] == "resourcegroups" and at == 6 and len(out) > 7 and lowered[7] == "locations":
            out[3] = "resourcegroups"
    return "/".join(out)


class CanonicalPathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            fixed = canonical_path(path)
            if fixed != path:
                scope = dict(scope)
                scope["path"] = fixed
                scope["raw_path"] = fixed.encode()
        await self.app(scope, receive, send)


# ----------------------------------------------------------------------------------------------------------- app


def _authenticator(app: FastAPI) -> Authenticator:
    backend: Backend = app.state.backend
    return backend.authenticator


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = build_backend(settings)
        app.state.backend = backend
        backend.runner.start()
        log.info("servicelinker API ready (%s)", backend.authenticator.describe())
        try:
            yield
        finally:
            backend.runner.stop()
            backend.close()

    app = FastAPI(
        title="Microsoft.ServiceLinker",
        description="servicelinker: the Microsoft.ServiceLinker resource provider (Azure Service Connector) for "
        "Kubernetes. Paths, bodies, long-running operations and errors follow ARM and the published specification "
        "(api-version 2024-04-01; every published version is accepted).",
        version=openapi.API_DOC_VERSION,
        lifespan=lifespan,
        separate_input_output_schemas=False,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.include_router(routes_tenant.router)
    app.include_router(routes_dryrun.router)
    app.include_router(routes_linkers.router)
    app.add_middleware(CanonicalPathMiddleware)
    app.add_middleware(Guard, authenticator=lambda: _authenticator(app))
    openapi.install(app)
    return app
