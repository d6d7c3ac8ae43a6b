"""`servicelinker aks connection ...`: mirrors `az aks connection` (list, show, delete, list-configuration,
validate, wait; create/update are generated per target in aks_create.py)."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from servicelinker.cli import catalog_commands, common, views
from servicelinker.cli.output import OutputFormat, emit
from servicelinker.model.errors import ArmError, ErrorCode

app = typer.Typer(help="Commands to manage AKS connections.", no_args_is_help=True)
catalog_commands.register(app)

Group = Annotated[str | None, typer.Option("--resource-group", "-g", help="The resource group of the cluster.")]
Cluster = Annotated[str | None, typer.Option("--name", "-n", help="Name of the AKS cluster.")]
SourceId = Annotated[str | None, typer.Option("--source-id", help="The cluster's resource id.")]
Connection = Annotated[str | None, typer.Option("--connection", help="Name of the connection.")]
ConnectionId = Annotated[str | None, typer.Option("--id", help="The connection's resource id.")]
Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]


@app.command("list")
def list_connections(
    resource_group: Group = None, name: Cluster = None, source_id: SourceId = None, output: Output = OutputFormat.json
) -> None:
    """List the connections of a cluster."""
    try:
        eng = common.engine()
        items = [views.linker_view(s) for s in eng.list_linkers(common.source_id(eng, resource_group, name, source_id))]
    except ArmError as error:
        common.fail(error)
    emit(items, output, table_rows=[views.linker_row(v) for v in items])


@app.command()
def show(
    resource_group: Group = None,
    name: Cluster = None,
    connection: Connection = None,
    connection_id: ConnectionId = None,
    output: Output = OutputFormat.json,
) -> None:
    """Show a connection, with its Kubernetes resource names and configurations (credentials blank)."""
    try:
        eng = common.engine()
        lid = common.linker_id(eng, connection_id, resource_group, name, connection)
        view = views.linker_view(eng.get(lid), configurations=eng.list_configurations(lid))
    except ArmError as error:
        common.fail(error)
    emit(view, output, table_rows=[views.linker_row(view)])


@app.command()
def delete(
    resource_group: Group = None,
    name: Cluster = None,
    connection: Connection = None,
    connection_id: ConnectionId = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not prompt for confirmation.")] = False,
    cleanup: Annotated[
        bool, typer.Option("--cleanup", help="Also remove the Secret/ServiceAccount and the firewall rule it uses.")
    ] = False,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Do not wait for the operation to finish.")] = False,
) -> None:
    """Delete a connection. Like Azure, the Secret stays in the namespace unless --cleanup is given."""
    try:
        eng = common.engine()
        lid = common.linker_id(eng, connection_id, resource_group, name, connection)
        if not yes:
            if not sys.stdin.isatty():
                raise ArmError(
                    ErrorCode.MISSING_REQUIRED_ARGUMENT,
                    "Deleting needs confirmation.",
                    target="--yes",
                    remedy="Pass --yes to delete without a prompt.",
                )
            typer.confirm(f"Delete connection {lid}?", abort=True)
        op = eng.begin_delete(lid, cleanup)
        if op is None:
            return
        if no_wait:
            eng.hand_off(op.id)
            return
        done = common.run(eng, op.id)
        if done.status != "Succeeded":
            common.fail(ArmError.from_detail(views.error_detail(done)))
    except ArmError as error:
        common.fail(error)


@app.command("list-configuration")
def list_configuration(
    resource_group: Group = None,
    name: Cluster = None,
    connection: Connection = None,
    connection_id: ConnectionId = None,
    output: Output = OutputFormat.json,
) -> None:
    """List the configurations delivered to the cluster; credential values are blank (read the Secret for them)."""
    try:
        eng = common.engine()
        configs = eng.list_configurations(common.linker_id(eng, connection_id, resource_group, name, connection))
    except ArmError as error:
        common.fail(error)
    data = {"configurations": [c.to_source_configuration().response_dump() for c in configs]}
    emit(data, output, table_rows=data["configurations"], columns=["name", "value", "configType"])


@app.command()
def validate(
    resource_group: Group = None,
    name: Cluster = None,
    connection: Connection = None,
    connection_id: ConnectionId = None,
    output: Output = OutputFormat.json,
) -> None:
    """Validate a connection for real: target, firewall, extension, the delivered Secret and a live connection.

    Prints the validation items (as az does); exits 1 when any item failed.
    """
    try:
        eng = common.engine()
        lid = common.linker_id(eng, connection_id, resource_group, name, connection)
        done = common.run(eng, eng.begin_validate(lid).id)
    except ArmError as error:
        common.fail(error)
    if done.status != "Succeeded" or not done.result:
        common.fail(ArmError.from_detail(views.error_detail(done)))
    details = done.result["properties"]["validationDetail"]
    emit(details, output, columns=["name", "result", "errorMessage", "description"])
    if not done.result["properties"]["isConnectionAvailable"]:
        raise typer.Exit(1)


@app.command()
def wait(
    resource_group: Group = None,
    name: Cluster = None,
    connection: Connection = None,
    connection_id: ConnectionId = None,
    created: Annotated[bool, typer.Option("--created", help="Wait until provisioningState is Succeeded.")] = False,
    updated: Annotated[bool, typer.Option("--updated", help="Wait until provisioningState is Succeeded.")] = False,
    deleted: Annotated[bool, typer.Option("--deleted", help="Wait until the connection is gone.")] = False,
    exists: Annotated[bool, typer.Option("--exists", help="Wait until the connection exists.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Polling interval in seconds.")] = 1.0,
    timeout: Annotated[float, typer.Option("--timeout", help="Maximum wait in seconds.")] = 3600,
) -> None:
    """Wait until a condition of the connection is met (az's generic wait)."""
    try:
        eng = common.engine()
        lid = common.linker_id(eng, connection_id, resource_group, name, connection)
    except ArmError as error:
        common.fail(error)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stored = eng.find(lid)
        state = stored.provisioning_state if stored else None
        if (deleted and stored is None) or (exists and stored is not None):
            return
        if (created or updated) and state == "Succeeded":
            return
        if (created or updated) and state == "Failed":
            op = eng.latest_operation(lid)
            detail = views.error_detail(op) if op else None
            common.fail(ArmError.from_detail(detail) if detail else ArmError("Failed", "The operation failed."))
        time.sleep(interval)
    common.fail(ArmError("OperationTimedOut", f"Timed out after {timeout:g}s waiting for {lid}.", target="--timeout"))


@app.command("run-operation", hidden=True)
def run_operation(operation_id: str) -> None:
    """Run a recorded operation to its end (the worker behind --no-wait)."""
    eng = common.engine()
    common.run(eng, operation_id, quiet=True)
