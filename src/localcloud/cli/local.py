"""`servicelinker local ...`: edit the local cloud (the embedded default): resources, cluster state, provider
registrations and role assignments. `devstack up` registers what it runs; these commands change the rest."""

from __future__ import annotations

from typing import Annotated

import typer

from localcloud import admin
from localcloud.cli import cluster_id, developer_object_id, identity, inventory
from localcloud.cli import subscription as default_subscription
from localcloud.inventory import Resource
from servicelinker.cli import common
from servicelinker.cli.output import OutputFormat, emit
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId, is_valid_resource_id

app = typer.Typer(
    help="Edit the local cloud: resources, cluster state, providers, role assignments.", no_args_is_help=True
)
resource_app = typer.Typer(help="Resources of the local cloud.", no_args_is_help=True)
cluster_app = typer.Typer(help="Managed clusters of the local cloud.", no_args_is_help=True)
provider_app = typer.Typer(help="Resource provider registrations.", no_args_is_help=True)
role_app = typer.Typer(help="Role assignments (who may do what on which scope).", no_args_is_help=True)
app.add_typer(resource_app, name="resource")
app.add_typer(cluster_app, name="cluster")
app.add_typer(provider_app, name="provider")
app.add_typer(role_app, name="role")
app.add_typer(identity.app, name="identity")
app.add_typer(identity.sp_app, name="sp")

Output = Annotated[OutputFormat, typer.Option("--output", "-o")]
Pairs = Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable.")]


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for v in values or []:
        if "=" not in v:
            common.fail(
                ArmError(
                    ErrorCode.INVALID_ARGUMENT_VALUE,
                    f"{flag} expects KEY=VALUE, got '{v}'.",
                    target=flag,
                    remedy=f"Write {flag} key=value.",
                )
            )
        k, val = v.split("=", 1)
        out[k] = val
    return out


@resource_app.command("list")
def resource_list(
    type_: Annotated[str | None, typer.Option("--type")] = None, output: Output = OutputFormat.json
) -> None:
    items = [r.public() for r in inventory().list(type_)]
    emit(items, output, columns=["name", "type", "id"])


@resource_app.command("show")
def resource_show(resource_id: Annotated[str, typer.Option("--id")], output: Output = OutputFormat.json) -> None:
    res = inventory().get(resource_id)
    if res is None:
        common.fail(ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"Resource {resource_id} was not found.", target="--id"))
    emit(res.public(), output)


@resource_app.command("create")
def resource_create(
    resource_id: Annotated[str, typer.Option("--id", help="ARM-style id of the new resource.")],
    fact: Pairs = None,
    secret: Pairs = None,
    output: Output = OutputFormat.json,
) -> None:
    """Record a resource no local server backs (e.g. a Service Bus namespace) with the facts its configuration
    needs: `--fact namespace_fqdn=x.servicebus.windows.net --secret connection_string=...`."""
    if not is_valid_resource_id(resource_id):
        common.fail(ArmError(ErrorCode.INVALID_RESOURCE_ID, f"Resource id is invalid: {resource_id}", target="--id"))
    rtype = ResourceId.parse(resource_id).resource_type or ""
    res = Resource(
        id=resource_id, type=rtype, properties={"facts": _pairs(fact, "--fact")}, secrets=_pairs(secret, "--secret")
    )
    inventory().put(res)
    emit(res.public(), output)


@resource_app.command("delete")
def resource_delete(resource_id: Annotated[str, typer.Option("--id")]) -> None:
    if not inventory().delete(resource_id):
        common.fail(ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"Resource {resource_id} was not found.", target="--id"))


@cluster_app.command("set-state")
def cluster_set_state(
    state: Annotated[str, typer.Option("--state", help="Succeeded, Updating, Failed, ...")],
    resource_group: Annotated[str | None, typer.Option("--resource-group", "-g")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n")] = None,
    source_id: Annotated[str | None, typer.Option("--source-id")] = None,
) -> None:
    """Set a cluster's provisioningState (e.g. Updating, to see how connections behave during an upgrade)."""
    try:
        admin.set_cluster_state(inventory(), cluster_id(resource_group, name, source_id), state)
    except ArmError as error:
        common.fail(error)


Namespace = Annotated[str, typer.Option("--namespace", help="e.g. Microsoft.KubernetesConfiguration")]
Subscription = Annotated[str | None, typer.Option("--subscription")]


@provider_app.command("register")
def provider_register(namespace: Namespace, subscription: Subscription = None) -> None:
    inventory().set_provider_state(subscription or default_subscription(), namespace, "Registered")


@provider_app.command("unregister")
def provider_unregister(namespace: Namespace, subscription: Subscription = None) -> None:
    inventory().set_provider_state(subscription or default_subscription(), namespace, "NotRegistered")


@provider_app.command("show")
def provider_show(namespace: Namespace, subscription: Subscription = None, output: Output = OutputFormat.json) -> None:
    sub = subscription or default_subscription()
    state = inventory().provider_state(sub, namespace)
    emit({"namespace": namespace, "registrationState": state}, output)


Assignee = Annotated[
    str | None, typer.Option("--assignee", help="Object id (default: the developer's service principal).")
]
Scope = Annotated[str, typer.Option("--scope")]


@role_app.command("assign")
def role_assign(
    role: Annotated[str, typer.Option("--role")],
    scope: Scope,
    assignee: Assignee = None,
    output: Output = OutputFormat.json,
) -> None:
    emit(admin.grant(inventory(), assignee or developer_object_id(), role, scope).model_dump(), output)


@role_app.command("remove")
def role_remove(
    scope: Scope, assignee: Assignee = None, role: Annotated[str | None, typer.Option("--role")] = None
) -> None:
    removed = admin.revoke(inventory(), assignee or developer_object_id(), role, scope)
    if not removed:
        common.fail(ArmError(ErrorCode.RESOURCE_NOT_FOUND, "No matching role assignment.", target="--scope"))


@role_app.command("list")
def role_list(output: Output = OutputFormat.json) -> None:
    emit(
        [ra.model_dump() for ra in inventory().load().role_assignments],
        output,
        columns=["principal_id", "role_name", "scope"],
    )
