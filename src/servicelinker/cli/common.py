"""What every connection command shares: the in-process engine, resolving ids from -g/-n/--connection like az,
printing ARM errors, and the step-by-step progress shown on stderr while a command waits."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, NoReturn

import click

from servicelinker import paths
from servicelinker.clouds.local.inventory import LOCAL_SUBSCRIPTION
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import format_connection_id, parse_connection_id, validate_source_id

if TYPE_CHECKING:
    from servicelinker.cli.remote import RemoteEngine
    from servicelinker.engine.connections import Engine
    from servicelinker.store.repository import Operation, Step

ERROR_EXIT = 1
USAGE_EXIT = 2


def subscription() -> str:
    return os.environ.get("SL_SUBSCRIPTION", LOCAL_SUBSCRIPTION)


def engine() -> Engine | RemoteEngine:
    """The engine in-process: the local cloud and the store (SQLite in the state directory, or SL_STORE_URL).

    Imported here, not at module level, so `--help` and the catalog commands start fast. SL_EXTENSION_VALUES
    (JSON) adds Helm values for sc-extension, e.g. to pin an image.
    """
    from servicelinker.cli import remote

    server = remote.settings_from_env()
    if server is not None:  # --endpoint / SL_ENDPOINT / config: the same commands over the REST API
        return remote.RemoteEngine(server)
    from servicelinker.clouds.local.cloud import LocalCloud
    from servicelinker.engine.connections import Engine, EngineSettings
    from servicelinker.store.repository import Store

    settings = EngineSettings(
        ready_timeout=float(os.environ.get("SL_READY_TIMEOUT", "90")),
        extension_values=json.loads(os.environ.get("SL_EXTENSION_VALUES", "{}")),
    )
    return Engine(LocalCloud(), Store.from_env(paths.state_dir()), settings)


def run(eng: Engine | RemoteEngine, operation_id: str, quiet: bool = False) -> Operation:
    """Run a recorded operation here, holding its lease, so a server sharing the store does not run it too (and
    resumes it if this process dies); progress on stderr. Against a server, follow the server's run of it."""
    from servicelinker.cli.remote import RemoteEngine
    from servicelinker.engine.runner import run_here

    if isinstance(eng, RemoteEngine):
        return eng.run(operation_id, Progress(quiet=quiet))
    return run_here(eng, operation_id, Progress(quiet=quiet))


def fail(error: ArmError, exit_code: int = ERROR_EXIT) -> NoReturn:
    """`ERROR: (Code) message remedy` on stderr, as az prints ARM errors."""
    click.echo(f"ERROR: {error}", err=True)
    sys.exit(exit_code)


def source_id(resource_group: str | None, name: str | None, source: str | None) -> str:
    if source:
        return validate_source_id(source)
    if not resource_group or not name:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "Required arguments are missing: either --source-id or both --resource-group and --name.",
            target="--resource-group",
            remedy="Pass -g <resource group> -n <cluster name>, or --source-id <cluster id>.",
        )
    return (
        f"/subscriptions/{subscription()}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.ContainerService/managedClusters/{name}"
    )


def linker_id(connection_id: str | None, resource_group: str | None, name: str | None, connection: str | None) -> str:
    if connection_id:
        return str(parse_connection_id(connection_id))
    if not connection:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "Required arguments are missing: either --id or --resource-group, --name and --connection.",
            target="--connection",
            remedy="Pass --id <connection id>, or -g <resource group> -n <cluster> --connection <name>.",
        )
    return format_connection_id(source_id(resource_group, name, None), connection)


_MARKS = {"Succeeded": "ok  ", "Skipped": "--  ", "Failed": "FAIL"}


class Progress:
    """Step lines on stderr: `... Install sc-extension` then `ok  Install sc-extension (1.2s): detail`."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.started: dict[str, float] = {}

    def __call__(self, step: Step) -> None:
        if self.quiet:
            return
        if step.status == "Running":
            self.started[step.name] = time.monotonic()
            click.echo(f"...  {step.name}", err=True)
            return
        took = time.monotonic() - self.started.get(step.name, time.monotonic())
        detail = f": {step.message}" if step.message and step.status != "Failed" else ""
        click.echo(f"{_MARKS.get(step.status, step.status)} {step.name} ({took:.1f}s){detail}", err=True)
