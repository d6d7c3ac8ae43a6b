"""`servicelinker aks connection ...`: mirrors `az aks connection`."""

from __future__ import annotations

import typer

from servicelinker.cli import catalog_commands

app = typer.Typer(help="Commands to manage AKS connections.", no_args_is_help=True)
catalog_commands.register(app)
