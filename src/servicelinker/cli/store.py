"""`servicelinker store migrate|rotate-keys|generate-key`: maintenance of the resource provider's store.

The store is `--url` (or `SL_STORE_URL`), else the SQLite database in the state directory; keys come from
`SL_STORE_KEYS`, else the key file (`--key-file`, `SL_STORE_KEY_FILE`, default `store.key` in the state
directory). See docs/store.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from servicelinker import paths
from servicelinker.cli.output import OutputFormat, emit

app = typer.Typer(help="Maintain the store: schema migrations and encryption-key rotation.", no_args_is_help=True)

UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="SQLAlchemy URL of the store (default: SL_STORE_URL, else SQLite in the state dir)."),
]
KeyFileOpt = Annotated[
    Path | None,
    typer.Option("--key-file", help="Key file (default: SL_STORE_KEY_FILE, else store.key in the state dir)."),
]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]


def _url(url: str | None) -> str:
    if url:
        return url
    if os.environ.get("SL_STORE_URL"):
        return os.environ["SL_STORE_URL"]
    state = paths.state_dir()
    state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state / 'servicelinker.db'}"


def _key_file(key_file: Path | None) -> Path:
    return key_file or Path(os.environ.get("SL_STORE_KEY_FILE") or paths.state_dir() / "store.key")


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    from servicelinker.store.db import normalize_url

    return make_url(normalize_url(url)).render_as_string(hide_password=True)


@app.command()
def migrate(
    url: UrlOpt = None,
    revision: Annotated[str, typer.Option("--revision", help="Target revision (default: the newest).")] = "head",
    output: OutputOpt = OutputFormat.json,
) -> None:
    """Bring the store's schema to the newest revision (servers also do this when they start).

    A database made before migrations existed is adopted (stamped) with its data kept."""
    from servicelinker.store import migrate as migrations

    target = _url(url)
    try:
        before, after = migrations.upgrade(target, revision)
    except Exception as exc:
        typer.echo(f"ERROR: migrating {_shown(target)} failed: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    emit({"store": _shown(target), "from": before, "to": after, "head": migrations.HEAD}, output)


@app.command("rotate-keys")
def rotate_keys(
    url: UrlOpt = None,
    key_file: KeyFileOpt = None,
    new_key: Annotated[
        bool,
        typer.Option("--new-key", help="First put a fresh key at the top of the key file (not with SL_STORE_KEYS)."),
    ] = False,
    output: OutputOpt = OutputFormat.json,
) -> None:
    """Re-encrypt every stored credential with the newest key (the first one listed); afterwards older keys can be
    removed. Add the new key first: see docs/store.md."""
    from servicelinker.store.crypto import add_key_to_file
    from servicelinker.store.repository import Store

    target, kf = _url(url), _key_file(key_file)
    if new_key:
        if os.environ.get("SL_STORE_KEYS"):
            typer.echo(
                "ERROR: --new-key writes the key file, but SL_STORE_KEYS is set and wins over it. Put a key from "
                "`servicelinker store generate-key` first in SL_STORE_KEYS instead.",
                err=True,
            )
            raise typer.Exit(2)
        add_key_to_file(kf)
    try:
        store = Store(target, kf)
        try:
            count = store.rotate_keys()
        finally:
            store.close()
    except ValueError as exc:
        typer.echo(f"ERROR: {exc}", err=True)
        raise typer.Exit(1) from None
    source = "SL_STORE_KEYS" if os.environ.get("SL_STORE_KEYS") else str(kf)
    emit({"store": _shown(target), "keys": source, "newKey": new_key, "reencrypted": count}, output)


@app.command("generate-key")
def generate_key() -> None:
    """Print a fresh encryption key (for SL_STORE_KEYS or a key file)."""
    from servicelinker.store.crypto import generate_key as fresh

    typer.echo(fresh())
