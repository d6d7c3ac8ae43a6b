"""The local ARM endpoint's HTTP face: one catch-all route that authenticates the bearer token, finds the
operation in the route table, authorizes the caller's action at the request's scope, and answers in ARM's wire
format; `main` serves it over HTTPS on loopback.

Authentication: tokens of the local token service (its JWKS, fetched over TLS), for the Resource Manager
audiences (or Microsoft Graph's, for the Graph route). Authorization: the caller's role assignments, as ARM
evaluates them (`authz.py`); a refusal is ARM's 403 `AuthorizationFailed` with ARM's text.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from localcloud.arm import authz
from localcloud.arm.handlers import (
    authorization,
    caches,
    clusters,
    flexible,
    generic,
    graph,
    identities,
    platform,
    storage,  # fmt: skip
)
from localcloud.arm.routing import Call, Reply, Route, path_exists_for_other_method, resolve
from localcloud.arm.wire import error_body
from localcloud.arm.world import World
from localcloud.errors import authorization_failed
from localcloud.inventory import Inventory
from servicelinker.api.auth import Authenticator, AuthError, JwtAuthenticator
from servicelinker.model.errors import ArmError

log = logging.getLogger("localcloud.arm")
ROUTES: tuple[Route, ...] = (*platform.ROUTES, *authorization.ROUTES, *clusters.ROUTES, *identities.ROUTES,
                             *flexible.ROUTES, *caches.ROUTES, *storage.ROUTES, *generic.ROUTES,
                             *graph.ROUTES)  # fmt: skip
ARM_AUDIENCES = ("https://management.azure.com", "https://management.azure.com/",
                 "https://management.core.windows.net", "https://management.core.windows.net/")  # fmt: skip
GRAPH_AUDIENCES = ("https://graph.microsoft.com", "https://graph.microsoft.com/",
                   "00000003-0000-0000-c000-000000000000")  # fmt: skip
MAX_BODY = 4 * 1024 * 1024


def _scope(route: Route, call: Call) -> str:
    if route.scope_param:
        return "/" + call.params[route.scope_param].strip("/")
    path = call.path.rstrip("/")
    if not route.template.rstrip("/").endswith("}"):  # a collection or an action: authorize at its parent
        path = path.rsplit("/", 1)[0]
    return path or "/"


def _reply(result: Reply | dict[str, Any] | list[Any] | None) -> Response:
    reply = result if isinstance(result, Reply) else Reply(200, result)
    headers = {"x-ms-request-id": str(uuid.uuid4()), **reply.headers}
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


def _error(exc: ArmError) -> Response:
    headers = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-failure-cause": "gateway"}
    if isinstance(exc, AuthError):
        headers.update(exc.headers)
    return JSONResponse(error_body(exc), status_code=exc.status, headers=headers)


#: Request headers a resource provider receives from ARM (the caller's token among them: the provider checks it).
FORWARDED = ("authorization", "content-type", "accept", "if-match", "if-none-match", "x-ms-client-request-id",
             "x-ms-correlation-request-id", "user-agent")  # fmt: skip


class Endpoint:
    """Authenticate, route (to a handler, or to a resource provider of its own), authorize, handle."""

    def __init__(self, world: World, arm: Authenticator, graph_auth: Authenticator,
                 providers: dict[str, str] | None = None) -> None:  # fmt: skip
        self.world, self.arm, self.graph = world, arm, graph_auth
        #: namespace (lowercase) -> base URL of the resource provider ARM forwards its requests to
        self.providers = {k.lower(): v.rstrip("/") for k, v in (providers or {}).items()}

    def _provider(self, path: str) -> str | None:
        """The provider serving `path`: the innermost `providers/<namespace>` is one of ours and a resource type
        follows it (as ARM routes an extension resource to its own provider; the namespace's registration,
        `/subscriptions/{id}/providers/<namespace>[/register]`, is ARM's)."""
        segments = path.strip("/").lower().split("/")
        inner = max((i for i in range(1, len(segments)) if segments[i - 1] == "providers"), default=None)
        if inner is None or segments[inner] not in self.providers or inner == len(segments) - 1:
            return None
        if inner == 3 and segments[inner + 1] in ("register", "unregister"):
            return None
        return self.providers[segments[inner]]

    def forward(self, upstream: str, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                raw: bytes) -> Response:  # fmt: skip
        """ARM's part for a provider's request: authenticate the caller, forward, relay the answer."""
        self.arm.authenticate(headers.get("authorization"))
        sent = {k: v for k, v in headers.items() if k in FORWARDED}
        try:
            answer = httpx.request(method, upstream + path, params=query, headers=sent, content=raw, timeout=300)
        except httpx.HTTPError as exc:
            raise ArmError("ServiceUnavailable",
                           f"The resource provider for '{path}' could not be reached: {type(exc).__name__}.",
                           status=503, remedy="Check `servicelinker devstack status` (service provider).") from None
        kept = {k: v for k, v in answer.headers.items()
                if k.lower() in ("azure-asyncoperation", "location", "retry-after", "content-type", "www-authenticate",
                                 "x-ms-request-id", "etag")}  # fmt: skip
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any,
               raw: bytes = b"") -> Response:  # fmt: skip
        upstream = self._provider(path)
        if upstream is not None:
            return self.forward(upstream, method, path, query, headers, raw)
        found = resolve(ROUTES, method, path)
        if found is None:
            if path_exists_for_other_method(ROUTES, path):
                raise ArmError("MethodNotAllowed", f"The HTTP method '{method}' is not supported at '{path}'.",
                               status=405)  # fmt: skip
            raise ArmError("NoRegisteredProviderFound" if "/providers/" in path.lower() else "InvalidResourceType",
                           f"No operation is served at '{path}' for method '{method}'.", status=404)  # fmt: skip
        route, params = found
        principal = ""
        if route.audience != "none":
            authenticator = self.graph if route.audience == "graph" else self.arm
            principal = authenticator.authenticate(headers.get("authorization")).object_id
        call = Call(method, path, params, query, body, headers, principal, self.world, query.get("api-version", ""))
        action = route.required_action(call)
        if action is not None:
            scope = _scope(route, call)
            if not authz.allowed(self.world.inventory.load(), principal, action, scope):
                raise authorization_failed(principal, action, scope)
        return _reply(route.handler(call))


def create_app(world: World, arm: Authenticator, graph_auth: Authenticator,
               providers: dict[str, str] | None = None) -> FastAPI:  # fmt: skip
    endpoint = Endpoint(world, arm, graph_auth, providers)
    app = FastAPI(title="servicelinker local ARM endpoint", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.endpoint = endpoint

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"])
    async def any_operation(request: Request) -> Response:
        raw = await request.body()
        try:
            if len(raw) > MAX_BODY:
                raise ArmError("RequestEntityTooLarge", "The request content is too large.", status=413)
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError:
                raise ArmError("InvalidRequestContent", "The request content was invalid and could not be "
                               "deserialized.", status=400) from None  # fmt: skip
            headers = {k.lower(): v for k, v in request.headers.items()}
            path = re.sub(r"/{2,}", "/", request.url.path)  # an SDK's empty parent path (`...//type/name`)
            # handlers block (real servers, the inventory's lock, a provider calling back into ARM): off the loop
            response = await run_in_threadpool(endpoint.handle, request.method, path, dict(request.query_params),
                                               headers, body, raw)
        except ArmError as exc:
            response = _error(exc)
        except Exception as exc:  # a bug of ours: ARM's 500 envelope, the traceback in our log only
            log.exception("%s %s failed", request.method, request.url.path)
            response = _error(ArmError("InternalServerError", f"The local ARM endpoint failed ({type(exc).__name__}).",
                                       status=500, remedy="See the arm log in the state directory's logs/."))
        log.info("%s %s -> %d", request.method, request.url.path, response.status_code)
        endpoint.world.remember(request.method, request.url.path, request.query_params.get("api-version", ""),
                                response.status_code, json.loads(bytes(response.body)) if response.body else None)
        return response

    return app


def _authenticators(issuer: str, ca: str | None) -> tuple[Authenticator, Authenticator]:
    return (JwtAuthenticator(issuer, ARM_AUDIENCES, ca_file=ca), JwtAuthenticator(issuer, GRAPH_AUDIENCES, ca_file=ca))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--issuer", required=True, help="the token service's issuer (<authority>/<tenant>/v2.0)")
    parser.add_argument("--issuer-ca", help="CA of the token service's TLS certificate")
    parser.add_argument("--authority", required=True, help="the token service's authority host")
    parser.add_argument("--record", type=Path, help="append every response to this JSON-lines file (tests)")
    parser.add_argument("--provider", action="append", default=[], metavar="NAMESPACE=URL",
                        help="forward a resource provider's requests (e.g. Microsoft.ServiceLinker=http://...)")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        parser.error("the local ARM endpoint binds loopback only")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    world = World(Inventory(Path(args.inventory)), base_url=f"https://{args.host}:{args.port}",
                  authority_host=args.authority, record=args.record)  # fmt: skip
    arm, graph_auth = _authenticators(args.issuer, args.issuer_ca)
    providers = dict(p.split("=", 1) for p in args.provider)
    uvicorn.run(create_app(world, arm, graph_auth, providers), host=args.host, port=args.port, ssl_certfile=args.cert,
                ssl_keyfile=args.key, log_level="warning", access_log=False)  # fmt: skip


if __name__ == "__main__":
    main()
