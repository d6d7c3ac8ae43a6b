"""`servicelinker devstack up|down|status|env`: the local stack of real servers."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Annotated

import typer

from localcloud.devstack import stack
from localcloud.devstack.process import StartError
from servicelinker.cli.output import OutputFormat, emit

app = typer.Typer(help="Run the dev stack: Kubernetes API server, PostgreSQL, MariaDB, Redis, Azurite, Key Vault.")

OnlyOpt = Annotated[
    list[str] | None, typer.Option("--only", help=f"Limit to these services: {', '.join(stack.SERVICE_NAMES)}.")
]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]


@app.command()
def up(only: OnlyOpt = None, output: OutputOpt = OutputFormat.json) -> None:
    """Start the stack on 127.0.0.1 (services already running are kept) and print what runs where."""
    try:
        desc = stack.up(only=only)
    except (StartError, ValueError) as exc:
        typer.echo(f"ERROR: {exc}", err=True)
        raise typer.Exit(1) from exc
    summary = {name: _public(d) for name, d in desc["services"].items()}
    emit({"stateDir": desc["stateDir"], "kubeconfig": desc.get("kubeconfig"), "services": summary}, output)


@app.command()
def down() -> None:
    """Stop exactly the processes `up` started."""
    stopped = stack.down()
    typer.echo(json.dumps({"stopped": stopped}, indent=2))


@app.command()
def status(output: OutputOpt = OutputFormat.table) -> None:
    """Report the health of each part; exit code 1 if any part is down."""
    health = stack.status()
    rows = [h.model_dump() for h in health]
    emit(rows, output, columns=["name", "healthy", "detail"])
    if not all(h.healthy for h in health):
        raise typer.Exit(1)


@app.command()
def env() -> None:
    """Print shell exports for using the stack: `eval "$(servicelinker devstack env)"`."""
    exports = stack.env_exports()
    path = exports.pop("PATH_PREPEND", None)
    for key, value in exports.items():
        sys.stdout.write(f"export {key}={shlex.quote(value)}\n")
    if path:
        sys.stdout.write(f'export PATH={shlex.quote(path)}:"$PATH"\n')


@app.command("az")
def az_profile() -> None:
    """Configure Microsoft's az CLI for the stack in its own AZURE_CONFIG_DIR (your ~/.azure is not touched) and
    print its exports: `eval "$(servicelinker devstack az)"`, then `az aks connection list -g sl-dev -n sl-aks`."""
    from localcloud.devstack import azcli
    from localcloud.devstack.config import StackConfig

    cfg = StackConfig()
    az = azcli.az_binary(cfg)
    if az is None:
        typer.echo("ERROR: az not found: run scripts/install-az.sh (setup does) or install azure-cli.", err=True)
        raise typer.Exit(1)
    try:
        exports = azcli.configure(cfg, az)
    except RuntimeError as exc:
        typer.echo(f"ERROR: {exc}", err=True)
        raise typer.Exit(1) from exc
    path = exports.pop("PATH_PREPEND", None)
    for key, value in exports.items():
        sys.stdout.write(f"export {key}={shlex.quote(value)}\n")
    if path:
        sys.stdout.write(f'export PATH={shlex.quote(path)}:"$PATH"\n')


def _public(description: dict[str, object]) -> dict[str, object]:
    """What `up` prints: endpoints and file paths, not passwords (those stay in stack.json, mode 0600)."""
    return {k: v for k, v in description.items() if k not in {"password", "accountKey", "env", "adminToken"}}
