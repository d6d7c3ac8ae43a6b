"""The `servicelinker` command: sub-command groups are registered here, each lives in its own module."""

from __future__ import annotations

import typer

from servicelinker.cli import aks_connection
from servicelinker.cli import devstack as devstack_cli

app = typer.Typer(
    name="servicelinker",
    help="Azure Service Connector for Kubernetes: connect clusters to databases, caches and storage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
aks_app = typer.Typer(help="Manage Azure Kubernetes Service connections (mirrors `az aks`).", no_args_is_help=True)
aks_app.add_typer(aks_connection.app, name="connection")
app.add_typer(aks_app, name="aks")
app.add_typer(devstack_cli.app, name="devstack")


def main() -> None:
    app()
