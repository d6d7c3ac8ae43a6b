"""What every connection command shares: the settings and the engine of this invocation, resolving ids from
-g/-n/--connection like az, printing ARM errors, and the step progress shown while a command waits."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

from servicelinker.cli.output import Progress
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import format_connection_id, parse_connection_id, validate_source_id
from servicelinker.settings import Settings

if TYPE_CHECKING:
    from servicelinker.engine import Engine
    from servicelinker.model.records import Operation

ERROR_EXIT = 1
USAGE_EXIT = 2


def settings() -> Settings:
    """This invocation's settings (made once by the `servicelinker` callback from flags and the environment)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, Settings):
            return ctx.obj
        ctx = ctx.parent
    return Settings()


def engine() -> Engine:
    """The engine for this invocation: over the configured REST endpoint, else in-process. Imported here, not at
    module level, so `--help` and the catalog commands start fast."""
    from servicelinker.engine import local_engine

    return local_engine(settings())


def run(eng: Engine, operation_id: str, quiet: bool = False) -> Operation:
    """Carry a recorded operation to its end here (or follow the server's run of it), steps on stderr."""
    return eng.run(operation_id, Progress(quiet=quiet))


#: The flag that sets each PUT-body field (longest prefix wins): the engine's checks name the body's field, which a
#: REST caller sent; a CLI user sent a flag, so the CLI names that instead.
BODY_FIELD_FLAGS: dict[str, str] = {
    "linkerName": "--connection",
    "properties.scope": "--kube-namespace",
    "properties.clientType": "--client-type",
    "properties.targetService": "--target-id",
    "properties.configurationInfo.customizedKeys": "--customized-keys",
    "properties.configurationInfo.additionalConnectionStringProperties": "--connstr-props",
    "properties.configurationInfo.action": "--opt-out",
    "properties.publicNetworkSolution": "--opt-out",
    "properties.authInfo": "--secret",
}


def flag_for(target: str | None, auth_flag: str | None = None) -> str | None:
    """The CLI flag behind a body field (`auth_flag`, the auth flag given, stands for `properties.authInfo`)."""
    if target is None:
        return None
    if target.startswith("properties.authInfo") and auth_flag:
        return auth_flag
    matches = [field for field in BODY_FIELD_FLAGS if target == field or target.startswith(field + ".")]
    return BODY_FIELD_FLAGS[max(matches, key=len)] if matches else target


def fail(error: ArmError, exit_code: int = ERROR_EXIT, auth_flag: str | None = None) -> NoReturn:
    """`ERROR: (Code) message remedy` on stderr and, like az for ARM errors, `Target: <flag>` below it."""
    click.echo(f"ERROR: {error}", err=True)
    target = flag_for(error.target, auth_flag)
    if target:
        click.echo(f"Target: {target}", err=True)
    sys.exit(exit_code)


def source_id(eng: Engine | None, resource_group: str | None, name: str | None, source: str | None,
              subscription: str | None = None) -> str:  # fmt: skip
    if source:
        return validate_source_id(source)
    if not resource_group or not name:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "Required arguments are missing: either --source-id or both --resource-group and --name.",
            target="--resource-group",
            remedy="Pass -g <resource group> -n <cluster name>, or --source-id <cluster id>.",
        )
    subscription = subscription or settings().subscription or (eng or engine()).default_subscription()
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.ContainerService/managedClusters/{name}"
    )


def linker_id(eng: Engine | None, connection_id: str | None, resource_group: str | None, name: str | None,
              connection: str | None) -> str:  # fmt: skip
    if connection_id:
        return str(parse_connection_id(connection_id))
    if not connection:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "Required arguments are missing: either --id or --resource-group, --name and --connection.",
            target="--connection",
            remedy="Pass --id <connection id>, or -g <resource group> -n <cluster> --connection <name>.",
        )
    return format_connection_id(source_id(eng, resource_group, name, None), connection)
