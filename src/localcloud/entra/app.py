"""The token service's HTTP face (FastAPI): token, discovery, keys and instance-discovery endpoints; `main`."""

from __future__ import annotations

import argparse
import base64
import binascii
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from localcloud.entra.errors import (
    ERROR_HELP,
    EntraError,
    malformed_request,
)
from localcloud.entra.protocol import (
    HOST_RE,
    MAX_BODY,
    log,
)
from localcloud.entra.tokens import (
    Settings,
    Signer,
    TokenService,
)
from localcloud.inventory import LOCAL_TENANT

# ----------------------------------------------------------------------------------------------- the app


def _authority(request: Request) -> str:
    """`https://<host>` as the client addressed us (so 127.0.0.1 and localhost both work); Host is validated."""
    host = request.headers.get("host", "")
    if not HOST_RE.match(host):
        host = request.url.netloc if HOST_RE.match(request.url.netloc) else "127.0.0.1"
    return f"https://{host}"


def read_form(body: bytes, content_type: str, authorization: str | None) -> dict[str, str]:
    """The form parameters, each at most once; HTTP Basic credentials become client_id/client_secret."""
    if len(body) > MAX_BODY:
        raise malformed_request("the body is too large")
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise malformed_request("the body must be application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise malformed_request("the body is not valid form data") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise malformed_request(f"parameter '{name}' appears more than once")
        form[name] = value
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise malformed_request("the Basic authorization header is malformed") from None
        user, sep, password = decoded.partition(":")
        if not sep or "client_secret" in form:
            raise malformed_request("send the client secret either in the body or as HTTP Basic, not both")
        form.setdefault("client_id", unquote_plus(user))
        form["client_secret"] = unquote_plus(password)
    return form


def openid_configuration(authority: str, tenant: str, version: str) -> dict[str, Any]:
    """Entra's discovery document for one tenant; `version` "v2.0" or "v1"."""
    t = f"{authority}/{tenant}"
    v2 = version == "v2.0"
    return {
        "token_endpoint": f"{t}/oauth2/v2.0/token" if v2 else f"{t}/oauth2/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{t}/discovery/v2.0/keys" if v2 else f"{t}/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{t}/v2.0" if v2 else f"https://sts.windows.net/{tenant}/",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{t}/oauth2/v2.0/authorize" if v2 else f"{t}/oauth2/authorize",
        "device_authorization_endpoint": f"{t}/oauth2/v2.0/devicecode" if v2 else f"{t}/oauth2/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{t}/oauth2/v2.0/logout" if v2 else f"{t}/oauth2/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "appid", "azp", "ver"],
        "tenant_region_scope": None,
        "cloud_instance_name": urlsplit(authority).netloc,
        "cloud_graph_host_name": urlsplit(authority).netloc,
        "msgraph_host": urlsplit(authority).netloc,
        "rbac_url": authority,
    }


def _entra_response(exc: EntraError, request: Request) -> JSONResponse:
    correlation = request.headers.get("client-request-id")
    if correlation is not None and not re.fullmatch(r"[0-9A-Fa-f-]{36}", correlation):
        correlation = None
    return JSONResponse(
        exc.body(_authority(request), correlation),
        status_code=exc.status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def create_app(settings: Settings) -> FastAPI:
    """The token service as an ASGI app (tests drive it with TestClient, main() serves it over HTTPS)."""
    service = TokenService(settings)
    app = FastAPI(title="servicelinker local token service", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    @app.exception_handler(EntraError)
    async def _entra(request: Request, exc: EntraError) -> JSONResponse:
        return _entra_response(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {
                "error": "not_found" if exc.status_code == 404 else "invalid_request",
                "error_description": str(exc.detail),
            },
            status_code=exc.status_code,
        )

    @app.get("/{tenant}/v2.0/.well-known/openid-configuration")
    def discovery_v2(tenant: str, request: Request) -> dict[str, Any]:
        service.check_tenant(tenant, "invalid_tenant")
        return openid_configuration(_authority(request), settings.tenant, "v2.0")

    @app.get("/{tenant}/.well-known/openid-configuration")
    def discovery_v1(tenant: str, request: Request) -> dict[str, Any]:
        service.check_tenant(tenant, "invalid_tenant")
        return openid_configuration(_authority(request), settings.tenant, "v1")

    @app.get("/common/discovery/instance")
    def instance_discovery(request: Request, authorization_endpoint: str = "") -> dict[str, Any]:
        return _instance(request, authorization_endpoint, settings.tenant)

    @app.get("/common/discovery/keys")
    def keys_common() -> dict[str, Any]:
        return settings.signer.jwks()

    @app.get("/{tenant}/discovery/v2.0/keys")
    @app.get("/{tenant}/discovery/keys")
    def keys(tenant: str) -> dict[str, Any]:
        service.check_tenant(tenant, "invalid_tenant")
        return settings.signer.jwks()

    @app.get("/error")
    def error_help(code: int = 0) -> dict[str, Any]:
        summary, remedy = ERROR_HELP.get(code, ("Unknown code.", "See the token service's module documentation."))
        return {"code": code, "message": summary, "remedy": remedy}

    @app.post("/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> JSONResponse:
        body = await request.body()
        service.check_tenant(tenant)
        form = read_form(body, request.headers.get("content-type", ""), request.headers.get("authorization"))
        try:
            result = service.exchange(form)
        except EntraError as exc:
            log.info("refused client_id=%s code=AADSTS%d", form.get("client_id", "")[:64], exc.code)
            raise
        log.info("issued client_id=%s", form.get("client_id", "")[:64])
        return JSONResponse(result, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return app


def _instance(request: Request, authorization_endpoint: str, tenant: str) -> dict[str, Any]:
    """MSAL's instance discovery: this host (with its 127.0.0.1/localhost alias) is the only known instance."""
    authority = _authority(request)
    here = urlsplit(authority)
    aliases = [here.netloc]
    if here.hostname in ("127.0.0.1", "localhost"):
        other = "localhost" if here.hostname == "127.0.0.1" else "127.0.0.1"
        aliases.append(f"{other}:{here.port}" if here.port else other)
    asked = urlsplit(authorization_endpoint) if authorization_endpoint else here
    if asked.netloc.lower() not in [a.lower() for a in aliases]:
        raise EntraError("invalid_instance", 50049, "Unknown or invalid instance.")
    return {
        "tenant_discovery_endpoint": f"{authority}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": here.netloc, "preferred_cache": here.netloc, "aliases": aliases}],
    }


# ------------------------------------------------------------------------------------------------------ main


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Local Microsoft Entra ID-compatible token service (HTTPS).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True, help="PEM server certificate")
    p.add_argument("--key", required=True, help="PEM server private key")
    p.add_argument("--inventory", required=True, help="the local cloud's inventory (local-cloud.json)")
    p.add_argument("--signing-key", required=True, help="PEM RSA key that signs issued tokens")
    p.add_argument("--issuer-ca", action="append", default=[], help="CA trusted for FIC issuers (repeatable)")
    p.add_argument("--tenant", default=LOCAL_TENANT)
    p.add_argument("--log-level", default="info")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve over HTTPS until SIGTERM/SIGINT."""
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(
        inventory=Path(args.inventory),
        signer=Signer.from_pem(Path(args.signing_key)),
        tenant=args.tenant,
        issuer_cas=[Path(c) for c in args.issuer_ca],
    )
    log.info("token service on https://%s:%d tenant=%s kid=%s", args.host, args.port, args.tenant, settings.signer.kid)
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        ssl_certfile=args.cert,
        ssl_keyfile=args.key,
        log_level=args.log_level,
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
