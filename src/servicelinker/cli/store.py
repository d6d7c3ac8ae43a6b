"""`servicelinker store migrate|rotate-keys|generate-key`: maintenance of the resource provider's store.

The store is `--url` (or `SL_STORE_URL`), else the SQLite database in the state directory; keys come from
`SL_STORE_KEYS`, else the key file (`--key-file`, `SL_STORE_KEY_FILE`, default `store.key` in the state
directory). See docs/store.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from servicelinker.cli import common
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


@app.command()
def migrate(
    url: UrlOpt = None,
    revision: Annotated[str, typer.Option("--revision", help="Target revision (default: the newest).")] = "head",
    output: OutputOpt = OutputFormat.json,
) -> None:
    """Bring the store's schema to the newest revision (servers also do this when they start).

    A database made before migrations existed is adopted (stamped) with its data kept."""
    from servicelinker.engine import maintenance

    target = maintenance.store_url(common.settings(), url)
    try:
        before, after = maintenance.migrate(target, revision)
    except Exception as exc:
        typer.echo(f"ERROR: migrating {maintenance.shown(target)} failed: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    emit({"store": maintenance.shown(target), "from": before, "to": after, "head": maintenance.HEAD}, output)


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
    from servicelinker.engine import maintenance

    settings = common.settings()
    target, kf, keys = maintenance.store_url(settings, url), key_file or settings.key_file, settings.key_list()
    if new_key and keys:
        typer.echo(
            "ERROR: --new-key writes the key file, but SL_STORE_KEYS is set and wins over it. Put a key from "
            "`servicelinker store generate-key` first in SL_STORE_KEYS instead.",
            err=True,
        )
        raise typer.Exit(2)
    try:
        count = maintenance.rotate_keys(target, kf, keys, new_key=new_key)
    except ValueError as exc:
        typer.echo(f"ERROR: {exc}", err=True)
        raise typer.Exit(1) from None
    source = "SL_STORE_KEYS" if keys else str(kf)
    emit({"store": maintenance.shown(target), "keys": source, "newKey": new_key, "reencrypted": count}, output)


@app.command("generate-key")
def generate_key() -> None:
    """Print a fresh encryption key (for SL_STORE_KEYS or a key file)."""
    from servicelinker.engine import maintenance

    typer.echo(maintenance.generate_key())
