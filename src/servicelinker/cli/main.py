"""The `servicelinker` command: sub-command groups are registered here, each lives in its own module."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from servicelinker.cli import aks_connection, aks_create, aks_extension, local
from servicelinker.cli import devstack as devstack_cli
from servicelinker.cli import serve as serve_cli
from servicelinker.cli import store as store_cli

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
app.add_typer(devstack_cli.app, name="devstack")
app.add_typer(local.app, name="local")
app.add_typer(store_cli.app, name="store")
app.command("serve")(serve_cli.serve)


@app.callback()
def _global_options(
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="Use this servicelinker REST server (else SL_ENDPOINT, else in-process)."),
    ] = None,
) -> None:
    """Azure Service Connector for Kubernetes: connect clusters to databases, caches and storage."""
    if endpoint:
        os.environ["SL_ENDPOINT"] = endpoint


try:  # the operator commands need kopf; the rest of the CLI works without it
    from servicelinker.cli import operator as operator_cli

    app.add_typer(operator_cli.app, name="operator")
except ImportError:  # pragma: no cover
    pass


def main(argv: list[str] | None = None) -> None:
    """Entry point; az-style multi-value flags (`--secret name=a secret=b`) are expanded first."""
    args = aks_create.expand_argv(sys.argv[1:] if argv is None else argv)
    app(args=args, prog_name="servicelinker")
