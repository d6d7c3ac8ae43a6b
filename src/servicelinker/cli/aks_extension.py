"""`servicelinker aks extension show`: the `az k8s-extension show ... --name sc-extension` of the seed."""

from __future__ import annotations

from typing import Annotated

import typer

from servicelinker.cli import common
from servicelinker.cli.output import OutputFormat, emit
from servicelinker.model.errors import ArmError

app = typer.Typer(help="Inspect the sc-extension cluster extension.", no_args_is_help=True)


@app.command()
def show(
    resource_group: Annotated[str | None, typer.Option("--resource-group", "-g")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", "--cluster-name")] = None,
    source_id: Annotated[str | None, typer.Option("--source-id")] = None,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.json,
) -> None:
    """Helm release status, operator heartbeat and last sc-job sync, as a `statuses` list."""
    try:
        eng = common.engine()
        report = eng.extension_status(common.source_id(eng, resource_group, name, source_id))
    except ArmError as error:
        common.fail(error)
    data = report.body
    emit(data, output, table_rows=data["statuses"], columns=["code", "displayStatus", "level", "message"])
    if not report.healthy:
        raise typer.Exit(1)
