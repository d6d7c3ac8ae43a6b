"""The `servicelinker` command: sub-command groups are registered here, each lives in its own module.

Command groups of other installed packages join through the `servicelinker.commands` entry point group (a name
and a Typer app): the embedded local cloud adds `devstack` and `local` that way, without the product importing it.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from typing import Annotated

import typer

from servicelinker.cli import aks_connection, aks_create, aks_extension
from servicelinker.cli import serve as serve_cli
from servicelinker.cli import store as store_cli
from servicelinker.settings import Settings

PLUGIN_GROUP = "servicelinker.commands"

app = typer.Typer(
    name="servicelinker",
    help="Azure Service Connector for Kubernetes: connect clusters to databases, caches and storage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
aks_app = typer.Typer(help="Manage Azure Kubernetes Service connections (mirrors `az aks`).", no_args_is_help=True)
aks_connection.app.add_typer(aks_create.group(update=False), name="create")
aks_connection.app.add_typer(aks_create.group(update=True), name="update")
aks_app.add_typer(aks_connection.app, name="connection")
aks_app.add_typer(aks_extension.app, name="extension")
app.add_typer(aks_app, name="aks")
app.add_typer(store_cli.app, name="store")
app.command("serve")(serve_cli.serve)


@app.callback()
def _global_options(
    ctx: typer.Context,
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="Use this servicelinker REST server (else SL_ENDPOINT, else in-process)."),
    ] = None,
) -> None:
    """Azure Service Connector for Kubernetes: connect clusters to databases, caches and storage."""
    ctx.obj = Settings(endpoint=endpoint) if endpoint else Settings()


try:  # the operator commands need kopf; the rest of the CLI works without it
    from servicelinker.cli import operator as operator_cli

    app.add_typer(operator_cli.app, name="operator")
except ImportError:  # pragma: no cover
    pass


def _add_plugins() -> None:
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            app.add_typer(ep.load(), name=ep.name)
        except ImportError as exc:  # a broken plugin must not take the product's commands down
            print(f"WARNING: command group '{ep.name}' could not be loaded: {exc}", file=sys.stderr)


_add_plugins()


def main(argv: list[str] | None = None) -> None:
    """Entry point; az-style multi-value flags (`--secret name=a secret=b`) are expanded first."""
    args = aks_create.expand_argv(sys.argv[1:] if argv is None else argv)
    app(args=args, prog_name="servicelinker")
