"""`servicelinker serve`: the Microsoft.ServiceLinker REST API (FastAPI + uvicorn).

    servicelinker serve --host 127.0.0.1 --port 8443 --cert cert.pem --key key.pem \\
        --issuer https://login.microsoftonline.com/<tenant>/v2.0 --audience https://management.azure.com
    servicelinker serve --port 8080 --insecure-dev        # loopback only, every caller is the server's identity

The issuer's v1 form (`https://sts.windows.net/<tenant>/`, what ARM-audience tokens carry) and its v2 form are both
accepted, whichever is given.

`--issuer` takes an OpenID issuer URL (its discovery document names the JWKS); `--issuer-ca` verifies a private
issuer's certificate. `--store-url` (or SL_STORE_URL) selects the store (default: SQLite in the state directory;
PostgreSQL for several replicas).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.settings import Settings

app = typer.Typer(help="Serve the Microsoft.ServiceLinker REST API.", invoke_without_command=True)


def _loopback_only(host: str) -> None:
    if host != "127.0.0.1":
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"--insecure-dev accepts every request without a token, so it binds 127.0.0.1 only (not '{host}').",
            target="--host",
            remedy="Use --host 127.0.0.1, or configure --issuer/--audience to serve on other addresses.",
        )


@app.callback()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8443,
    cert: Annotated[Path | None, typer.Option("--cert", help="TLS certificate (PEM); serve HTTPS.")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="TLS private key (PEM).")] = None,
    issuer: Annotated[
        str | None, typer.Option("--issuer", envvar="SL_ISSUER", help="OpenID issuer URL whose tokens are accepted.")
    ] = None,
    audience: Annotated[
        list[str] | None,
        typer.Option("--audience", envvar="SL_AUDIENCE", help="Accepted token audience (repeatable)."),
    ] = None,
    issuer_ca: Annotated[
        Path | None, typer.Option("--issuer-ca", envvar="SL_ISSUER_CA", help="CA bundle for the issuer's TLS.")
    ] = None,
    insecure_dev: Annotated[
        bool,
        typer.Option("--insecure-dev", help="No token: every caller is the server's own identity; loopback only."),
    ] = False,
    store_url: Annotated[
        str | None, typer.Option("--store-url", envvar="SL_STORE_URL", help="SQLAlchemy URL of the store.")
    ] = None,
    location: Annotated[str, typer.Option("--location", help="Location named in operation URLs.")] = "local",
    workers: Annotated[int, typer.Option("--workers", help="Operations run at the same time.")] = 2,
    public_url: Annotated[
        str | None, typer.Option("--public-url", help="Base URL for Azure-AsyncOperation/Location headers.")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the API until interrupted."""
    import uvicorn

    from servicelinker.api.app import ApiSettings, create_app
    from servicelinker.api.auth import DEFAULT_AUDIENCES

    try:
        if insecure_dev:
            if issuer:
                raise ArmError(ErrorCode.INVALID_ARGUMENT_VALUE, "--insecure-dev and --issuer exclude each other.",
                               target="--insecure-dev", remedy="Pass one of them.")  # fmt: skip
            _loopback_only(host)
        elif not issuer:
            raise ArmError(
                ErrorCode.MISSING_REQUIRED_ARGUMENT,
                "An OpenID issuer is required: tokens are validated against it.",
                target="--issuer",
                remedy="Pass --issuer <url> [--audience <aud>], or --insecure-dev for loopback development.",
            )
        if (cert is None) != (key is None):
            raise ArmError(ErrorCode.MISSING_REQUIRED_ARGUMENT, "--cert and --key go together.", target="--cert",
                           remedy="Pass both, or neither to serve plain HTTP.")  # fmt: skip
    except ArmError as error:
        typer.echo(f"ERROR: {error}", err=True)
        raise typer.Exit(2) from None

    base = Settings(store_url=store_url) if store_url else Settings()
    settings = ApiSettings(
        settings=base,
        issuer=issuer,
        audiences=tuple(audience) if audience else DEFAULT_AUDIENCES,
        issuer_ca=str(issuer_ca) if issuer_ca else None,
        insecure_dev=insecure_dev,
        location=location,
        workers=workers,
        public_url=public_url,
    )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        log_level=log_level,
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":  # `python -m servicelinker.cli.serve ...` (tests, before main.py registers it)
    app(prog_name="servicelinker serve")
