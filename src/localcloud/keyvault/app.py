"""The Key Vault server's HTTP face (FastAPI): challenge authentication, the secrets routes, `main`."""

from __future__ import annotations

import argparse
import json
import logging
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localcloud.keyvault.auth import (
    AccessCheck,
    AccessFile,
    DevTokenValidator,
    JwksTokenValidator,
    Principal,
    TokenValidator,
    unauthorized,
)
from localcloud.keyvault.protocol import (
    API_VERSIONS,
    DEFAULT_AUTHORITY,
    HELP_FORBIDDEN,
    KEYVAULT_RESOURCE,
    LATEST_API_VERSION,
    KeyVaultError,
    bad_parameter,
    log,
)
from localcloud.keyvault.store import (
    Secret,
    SecretStore,
)
from localcloud.keyvault.wire import (
    check_name,
    paginate,
    parse_changes,
    parse_maxresults,
    render_bundle,
    render_deleted_item,
    render_item,
    vault_base_url,
)
from localcloud.oidc import JwksClient, https_fetcher

# ------------------------------------------------------------------------------------------------ the app


@dataclass(frozen=True)
class ServerSettings:
    """What the app needs besides the store and the token validator."""

    authority: str = DEFAULT_AUTHORITY
    #: extra listening port -> vault served there
    vault_ports: Mapping[int, str] = field(default_factory=dict)
    access_check: AccessCheck | None = None


@dataclass(frozen=True)
class RequestContext:
    vault: str
    base_url: str
    principal: Principal


def select_vault(request: Request, vaults: Sequence[str], vault_ports: Mapping[int, str]) -> str:
    """`<vault>.<anything>` in Host picks that vault; else the listening port's vault; else the first one."""
    label, dot, rest = _hostname(request).partition(".")
    if dot and rest.lower() == "localhost":
        match = next((v for v in vaults if v.lower() == label.lower()), None)
        if match is None:
            raise KeyVaultError(404, "VaultNotFound", f"The vault '{label[:64]}' does not exist on this server.")
        return match
    if dot:
        match = next((v for v in vaults if v.lower() == label.lower()), None)
        if match is not None:
            return match
    server = request.scope.get("server")
    if server and server[1] in vault_ports:
        return vault_ports[server[1]]
    return vaults[0]


def _hostname(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if ":" in host else host


def create_app(store: SecretStore, validator: TokenValidator, settings: ServerSettings | None = None) -> FastAPI:
    """The FastAPI application: Key Vault's secrets routes, `/healthz`, and Key Vault-shaped errors."""
    app = FastAPI(title="servicelinker local Key Vault (secrets)", openapi_url=None, docs_url=None, redoc_url=None)
    app.router.redirect_slashes = False
    app.state.keyvault = _AppState(store, validator, settings or ServerSettings())
    app.include_router(router)
    _add_error_handlers(app)
    app.add_middleware(_SanitizedErrors)
    return app


@dataclass(frozen=True)
class _AppState:
    store: SecretStore
    validator: TokenValidator
    settings: ServerSettings

    @property
    def challenge(self) -> str:
        return f'Bearer authorization="{self.settings.authority}", resource="{KEYVAULT_RESOURCE}"'


def _state(request: Request) -> _AppState:
    state: _AppState = request.app.state.keyvault
    return state


def authenticate(request: Request) -> Principal:
    """The caller named by the bearer token; every 401 carries the challenge, as Key Vault's do."""
    state = _state(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        return state.validator.validate(token.strip())
    except KeyVaultError as exc:
        if exc.status == 401:
            exc.headers["WWW-Authenticate"] = state.challenge
        raise


def authorize(request: Request, permission: str) -> RequestContext:
    """Vault, then authentication (401), api-version (400) and the role-assignment hook (403), in that order."""
    state = _state(request)
    vault = select_vault(request, state.store.vault_names, state.settings.vault_ports)
    principal = authenticate(request)
    _check_api_version(request)
    check = state.settings.access_check
    if check is not None and not check(vault, principal, permission):
        raise KeyVaultError(
            403,
            "Forbidden",
            f"The user, group or application '{principal.describe()}' does not have secrets {permission} "
            f"permission on key vault '{vault};location=local'. {HELP_FORBIDDEN}",
            inner="AccessDenied",
        )
    return RequestContext(vault, vault_base_url(request), principal)


def _get(request: Request) -> RequestContext:
    return authorize(request, "get")


def _list(request: Request) -> RequestContext:
    return authorize(request, "list")


def _set(request: Request) -> RequestContext:
    return authorize(request, "set")


def _delete(request: Request) -> RequestContext:
    return authorize(request, "delete")


def _recover(request: Request) -> RequestContext:
    return authorize(request, "recover")


def _purge(request: Request) -> RequestContext:
    return authorize(request, "purge")


async def _json_body(request: Request) -> Any:
    """The request body as JSON; a parse failure is a 400 whose message never quotes the body."""
    raw = await request.body()
    if not raw:
        raise bad_parameter("The request body is empty.")
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_parameter("The request body is not valid JSON.") from None


GetCtx = Annotated[RequestContext, Depends(_get)]
ListCtx = Annotated[RequestContext, Depends(_list)]
SetCtx = Annotated[RequestContext, Depends(_set)]
DeleteCtx = Annotated[RequestContext, Depends(_delete)]
RecoverCtx = Annotated[RequestContext, Depends(_recover)]
PurgeCtx = Annotated[RequestContext, Depends(_purge)]
JsonBody = Annotated[Any, Depends(_json_body)]

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> dict[str, Any]:
    """Unauthenticated liveness probe for the dev stack (not part of Key Vault's API)."""
    return {"status": "ok", "vaults": list(_state(request).store.vault_names)}


@router.put("/secrets/{name}")
def set_secret(name: str, request: Request, ctx: SetCtx, body: JsonBody) -> Any:
    check_name(name)
    value, changes = parse_changes(body, require_value=True)
    assert value is not None
    state = _state(request)
    secret = state.store.set(ctx.vault, name, value, changes)
    return render_bundle(ctx.base_url, secret, state.store.retention_days, with_value=True)


@router.get("/secrets")
def list_secrets(request: Request, ctx: ListCtx) -> Any:
    maxresults = parse_maxresults(request)
    store = _state(request).store
    items = [
        render_item(ctx.base_url, s, s.latest, store.retention_days, versioned=False)
        for s in store.list_secrets(ctx.vault)
    ]
    return paginate(items, request, "/secrets", maxresults)


@router.get("/secrets/{name}/versions")
def list_versions(name: str, request: Request, ctx: ListCtx) -> Any:
    check_name(name)
    maxresults = parse_maxresults(request)
    store = _state(request).store
    secret = store.versions(ctx.vault, name) or Secret(name)
    items = [render_item(ctx.base_url, secret, v, store.retention_days, versioned=True) for v in secret.versions]
    return paginate(items, request, f"/secrets/{name}/versions", maxresults)


def _get_secret(request: Request, name: str, version: str, ctx: RequestContext) -> Any:
    check_name(name)
    store = _state(request).store
    secret = store.get(ctx.vault, name, version or None)
    if not secret.latest.enabled:
        raise KeyVaultError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
    return render_bundle(ctx.base_url, secret, store.retention_days, with_value=True)


@router.get("/secrets/{name}")
@router.get("/secrets/{name}/")
def get_latest(name: str, request: Request, ctx: GetCtx) -> Any:
    return _get_secret(request, name, "", ctx)


@router.get("/secrets/{name}/{version}")
def get_version(name: str, version: str, request: Request, ctx: GetCtx) -> Any:
    return _get_secret(request, name, version, ctx)


def _update_secret(request: Request, name: str, version: str, ctx: RequestContext, body: Any) -> Any:
    check_name(name)
    _, changes = parse_changes(body, require_value=False)
    store = _state(request).store
    secret = store.update(ctx.vault, name, version or None, changes)
    return render_bundle(ctx.base_url, secret, store.retention_days, with_value=False)


@router.patch("/secrets/{name}/")
def update_latest(name: str, request: Request, ctx: SetCtx, body: JsonBody) -> Any:
    return _update_secret(request, name, "", ctx, body)


@router.patch("/secrets/{name}/{version}")
def update_version(name: str, version: str, request: Request, ctx: SetCtx, body: JsonBody) -> Any:
    return _update_secret(request, name, version, ctx, body)


@router.delete("/secrets/{name}")
def delete_secret(name: str, request: Request, ctx: DeleteCtx) -> Any:
    check_name(name)
    store = _state(request).store
    return render_bundle(ctx.base_url, store.delete(ctx.vault, name), store.retention_days, with_value=False)


@router.get("/deletedsecrets")
def list_deleted(request: Request, ctx: ListCtx) -> Any:
    maxresults = parse_maxresults(request)
    store = _state(request).store
    items = [render_deleted_item(ctx.base_url, s, store.retention_days) for s in store.list_deleted(ctx.vault)]
    return paginate(items, request, "/deletedsecrets", maxresults)


@router.get("/deletedsecrets/{name}")
def get_deleted(name: str, request: Request, ctx: ListCtx) -> Any:
    check_name(name)
    store = _state(request).store
    return render_bundle(ctx.base_url, store.get_deleted(ctx.vault, name), store.retention_days, with_value=False)


@router.delete("/deletedsecrets/{name}", status_code=204)
def purge_deleted(name: str, request: Request, ctx: PurgeCtx) -> Response:
    check_name(name)
    _state(request).store.purge(ctx.vault, name)
    return Response(status_code=204)


@router.post("/deletedsecrets/{name}/recover")
def recover_deleted(name: str, request: Request, ctx: RecoverCtx) -> Any:
    check_name(name)
    store = _state(request).store
    return render_bundle(ctx.base_url, store.recover(ctx.vault, name), store.retention_days, with_value=False)


def _check_api_version(request: Request) -> None:
    version = request.query_params.get("api-version")
    if not version:
        raise bad_parameter("The 'api-version' query parameter is missing.")
    if version not in API_VERSIONS:
        raise bad_parameter(
            f"The specified version ({version[:40]}) is not recognized. "
            f"Consider using the latest supported version ({LATEST_API_VERSION})."
        )


def _add_error_handlers(app: FastAPI) -> None:
    async def on_keyvault_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, KeyVaultError)
        return exc.response()

    async def on_http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequest")
        message = "The requested resource or operation does not exist on this Key Vault."
        return KeyVaultError(exc.status_code, code, message).response()

    app.add_exception_handler(KeyVaultError, on_keyvault_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


class _SanitizedErrors:
    """Turns unexpected exceptions into a 500 logged by type only: an exception's text could quote a secret value."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error("internal error in %s %s: %s", scope.get("method"), scope.get("path"), type(exc).__name__)
            if started:
                raise RuntimeError("internal error (details withheld)") from None
            response = KeyVaultError(500, "InternalServerError", "An internal error occurred.").response()
            await response(scope, receive, send)


# ------------------------------------------------------------------------------------------------------ main


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Local Azure Key Vault secrets data-plane server (HTTPS).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="listener of the first (default) vault")
    p.add_argument("--cert", required=True, help="PEM server certificate")
    p.add_argument("--key", required=True, help="PEM server private key")
    p.add_argument("--vaults", default="slvault", help="comma-separated vault names; the first is the default")
    p.add_argument("--vault-port", action="append", default=[], metavar="NAME=PORT", help="extra listener per vault")
    p.add_argument("--state-file", help="JSON state file; in-memory if omitted")
    p.add_argument("--retention-days", type=int, default=90, help="soft-delete retention (7-90)")
    p.add_argument("--authority", default=DEFAULT_AUTHORITY, help="authorization URL announced in the 401 challenge")
    p.add_argument("--issuer", help="comma-separated accepted token issuers (verifying mode)")
    p.add_argument("--jwks-url", help="https URL of the issuer's JWKS (verifying mode)")
    p.add_argument("--jwks-ca", help="CA bundle for fetching an https JWKS")
    p.add_argument("--require-role", action="store_true", help="check every request against --access-file")
    p.add_argument("--access-file", help="JSON role assignments per vault")
    p.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    if bool(args.jwks_url) != bool(args.issuer):
        p.error("--jwks-url and --issuer go together (verifying mode)")
    if args.require_role and not args.access_file:
        p.error("--require-role needs --access-file")
    if not 7 <= args.retention_days <= 90:
        p.error("--retention-days must be between 7 and 90")
    return args


def _vault_ports(specs: Sequence[str], vaults: Sequence[str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for spec in specs:
        name, _, port = spec.partition("=")
        if name not in vaults or not port.isdigit():
            raise SystemExit(f"--vault-port {spec}: expected NAME=PORT with NAME one of {', '.join(vaults)}")
        out[int(port)] = name
    return out


def build_app(args: argparse.Namespace) -> tuple[FastAPI, list[int]]:
    """The app configured from the command line, and the ports to listen on (the default vault's first)."""
    vaults = [v for v in args.vaults.split(",") if v]
    bad = [v for v in vaults if not re.fullmatch(r"[0-9a-zA-Z-]{3,24}", v)]
    if not vaults or bad:
        raise SystemExit(f"--vaults: invalid vault name(s) {bad or '(none)'}")
    vault_ports = _vault_ports(args.vault_port, vaults)
    validator: TokenValidator = DevTokenValidator()
    if args.jwks_url:
        keys = JwksClient(args.jwks_url, https_fetcher([args.jwks_ca] if args.jwks_ca else []))
        validator = JwksTokenValidator(keys, [i for i in args.issuer.split(",") if i])
    access: AccessCheck | None = AccessFile(Path(args.access_file)) if args.require_role else None
    store = SecretStore(vaults, Path(args.state_file) if args.state_file else None, args.retention_days)
    settings = ServerSettings(authority=args.authority, vault_ports=vault_ports, access_check=access)
    return create_app(store, validator, settings), [args.port, *vault_ports]


def _listen(host: str, port: int) -> socket.socket:
    return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve over HTTPS on `--port` and every `--vault-port` until SIGTERM/SIGINT."""
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app, ports = build_app(args)
    mode = "verifying (JWKS)" if args.jwks_url else "DEV (token signatures NOT checked)"
    log.info("key vault secrets server: vaults=%s ports=%s auth=%s", args.vaults, ports, mode)
    sockets = [_listen(args.host, p) for p in ports]
    config = uvicorn.Config(
        app,
        ssl_certfile=args.cert,
        ssl_keyfile=args.key,
        log_level=args.log_level,
        lifespan="off",
        access_log=True,
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run(sockets=sockets)


if __name__ == "__main__":
    main()
