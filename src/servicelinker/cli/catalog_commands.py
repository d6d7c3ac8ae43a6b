"""`servicelinker aks connection list-support-types` and `list-configuration-names`: answered from the catalog alone.

`list-support-types` mirrors az's output (`[{source, target, auth_types[], client_types[]}]`, table columns
Source, Target, AuthType, ClientType), except that `--target-type` really filters (az computes the filter and
ignores it, reference §2.8). `list-configuration-names` returns the REST ConfigurationNames shape
(`{"value": [{"properties": {"targetService", "clientType", "authType", "names": [...]}}]}`), each name with its
`credential` flag (the values list-configuration blanks).

Errors (unknown target, auth or client type) go to stderr as `ERROR: (<code>) <message> <remedy>` with exit code 2.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import typer

from servicelinker.catalog import auth
from servicelinker.catalog.configuration import configuration_name_items, configuration_names
from servicelinker.catalog.targets import SOURCE_AKS, TARGET_NAMES, TARGETS, Target, get_target
from servicelinker.cli.output import OutputFormat, emit
from servicelinker.model.errors import ArmError, ErrorCode

USAGE_ERROR_EXIT = 2

TargetTypeOption = Annotated[
    str | None,
    typer.Option("--target-type", "-t", help=f"The target resource type. Allowed values: {', '.join(TARGET_NAMES)}."),
]
OutputOption = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]


def fail(error: ArmError) -> NoReturn:
    """Print an ARM error on stderr and exit with a usage-error code."""
    typer.echo(f"ERROR: {error}", err=True)
    raise typer.Exit(USAGE_ERROR_EXIT)


def support_types(target_type: str | None = None) -> list[dict[str, Any]]:
    """az's list-support-types rows for AKS, optionally for one target."""
    targets = [get_target(target_type)] if target_type else list(TARGETS)
    return [
        {"source": SOURCE_AKS, "target": t.name, "auth_types": list(t.auth_types), "client_types": list(t.client_types)}
        for t in targets
    ]


def _table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"Source": r["source"], "Target": r["target"], "AuthType": r["auth_types"], "ClientType": r["client_types"]}
        for r in rows
    ]


def list_support_types(target_type: TargetTypeOption = None, output: OutputOption = OutputFormat.json) -> None:
    """List the target types, auth types and client types AKS connections support."""
    try:
        rows = support_types(target_type)
    except ArmError as error:
        fail(error)
    emit(rows, output, table_rows=_table_rows(rows), columns=["Source", "Target", "AuthType", "ClientType"])


def _auth_filter(target: Target, auth_type: str | None) -> list[str] | None:
    if auth_type is None:
        return None
    key = auth.CLI_AUTH_FILTERS.get(auth_type)
    if key is None or key not in target.config_keys:
        allowed = [auth.CONFIG_KEY_CLI_NAME[k] for k in target.config_keys]
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Auth type '{auth_type}' is not supported for target {target.name} (--auth-type).",
            target="--auth-type",
            remedy=f"Valid values: {', '.join(allowed)}.",
        )
    return [key]


def _client_filter(target: Target, client_type: str | None) -> list[str] | None:
    if client_type is None:
        return None
    if client_type not in target.client_types:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Client type '{client_type}' is not supported for target {target.name} (--client-type).",
            target="--client-type",
            remedy=f"Valid values: {', '.join(target.client_types)}.",
        )
    return [client_type]


def configuration_names_data(target_type: str, auth_type: str | None, client_type: str | None) -> dict[str, Any]:
    """The ConfigurationNames result for one target and optional auth/client filters."""
    target = get_target(target_type)
    result = configuration_names(
        [target], config_keys=_auth_filter(target, auth_type), client_types=_client_filter(target, client_type)
    )
    data = result.response_dump()
    data.setdefault("value", [])
    return data


def _name_rows(target_type: str, auth_type: str | None, client_type: str | None) -> list[dict[str, Any]]:
    """Flat table rows; the auth column shows the CLI name, so the Key Vault CSI path reads `csi`."""
    target = get_target(target_type)
    keys = _auth_filter(target, auth_type) or list(target.config_keys)
    clients = _client_filter(target, client_type)
    rows: list[dict[str, Any]] = []
    for key in keys:
        for item in configuration_name_items(target, config_keys=[key], client_types=clients):
            props = item.properties
            assert props is not None
            for name in props.names or []:
                rows.append({
                    "ClientType": props.client_type,
                    "AuthType": auth.CONFIG_KEY_CLI_NAME[key],
                    "Name": name.value,
                    "Credential": name.credential,
                    "Required": name.required,
                })  # fmt: skip
    return rows


def list_configuration_names(
    target_type: Annotated[
        str, typer.Option("--target-type", "-t", help=f"The target resource type: {', '.join(TARGET_NAMES)}.")
    ],
    auth_type: Annotated[
        str | None,
        typer.Option("--auth-type", help="secret, workload-identity, service-principal (or csi for keyvault)."),
    ] = None,
    client_type: Annotated[str | None, typer.Option("--client-type", help="The client type, e.g. python.")] = None,
    output: OutputOption = OutputFormat.json,
) -> None:
    """List the configuration names (Secret keys) a connection produces, with their credential flag."""
    try:
        data = configuration_names_data(target_type, auth_type, client_type)
        rows = _name_rows(target_type, auth_type, client_type)
    except ArmError as error:
        fail(error)
    emit(data, output, table_rows=rows,
         columns=["ClientType", "AuthType", "Name", "Credential", "Required"])  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the catalog commands to the `aks connection` group."""
    app.command("list-support-types")(list_support_types)
    app.command("list-configuration-names")(list_configuration_names)
