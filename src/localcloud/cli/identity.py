"""`servicelinker local identity ...` and `servicelinker local sp ...`: the local cloud's Microsoft Entra objects.

* `identity create|list|show|delete` — user-assigned managed identities (`az identity` in spirit: `--id`, or
  `-g/-n`), and `identity federated-credential create|list|delete` (`az identity federated-credential`).
* `sp create|list|show|delete` — service principals with a client secret. `sp create` prints the secret once;
  only a salted hash is kept, so it cannot be shown again.

Registered by cli/local.py as `local_app.add_typer(identity.app, name="identity")` and
`local_app.add_typer(identity.sp_app, name="sp")`.
"""

from __future__ import annotations

from typing import Annotated

import click
import typer

from localcloud import identity as ident
from localcloud.cli import inventory, subscription
from localcloud.inventory import Inventory, Resource
from servicelinker.cli import common
from servicelinker.cli.output import OutputFormat, emit
from servicelinker.model.errors import ArmError, ErrorCode

app = typer.Typer(help="User-assigned managed identities and their federated credentials.", no_args_is_help=True)
fic_app = typer.Typer(help="Federated identity credentials of an identity.", no_args_is_help=True)
sp_app = typer.Typer(help="Service principals (app registrations) with client secrets.", no_args_is_help=True)
app.add_typer(fic_app, name="federated-credential")

Output = Annotated[OutputFormat, typer.Option("--output", "-o")]
IdOption = Annotated[str | None, typer.Option("--id", help="ARM id of the identity.")]
GroupOption = Annotated[str | None, typer.Option("--resource-group", "-g")]
NameOption = Annotated[str | None, typer.Option("--name", "-n", help="Name of the identity.")]
IDENTITY_COLUMNS = ["name", "clientId", "principalId", "id"]


def _inventory() -> Inventory:
    return inventory()


def _identity_id(resource_id: str | None, resource_group: str | None, name: str | None) -> str:
    """`--id`, or the id `-g/-n` name in the current subscription (SL_SUBSCRIPTION)."""
    if resource_id:
        return resource_id
    if not resource_group or not name:
        common.fail(
            ArmError(
                ErrorCode.MISSING_REQUIRED_ARGUMENT,
                "Required arguments are missing: either --id or both --resource-group and --name.",
                target="--id",
                remedy="Pass --id <identity id>, or -g <resource group> -n <identity name>.",
            )
        )
    return ident.identity_resource_id(subscription(), resource_group, name)


def _view(res: Resource) -> dict[str, object]:
    """An identity as `az identity show` prints it: ids flattened next to name and id."""
    p = res.properties
    return {
        "id": res.id,
        "name": res.name,
        "type": res.type,
        "location": res.location,
        "clientId": p.get("clientId"),
        "principalId": p.get("principalId"),
        "tenantId": p.get("tenantId"),
        "tags": res.tags,
    }


def _fic_view(res: Resource) -> dict[str, object]:
    return {"id": res.id, "name": res.name, "type": res.type, **res.properties}


@app.command("create")
def identity_create(
    resource_id: IdOption = None,
    resource_group: GroupOption = None,
    name: NameOption = None,
    location: Annotated[str, typer.Option("--location", "-l")] = "local",
    output: Output = OutputFormat.json,
) -> None:
    """Create a user-assigned identity (random clientId/principalId); an existing one is returned unchanged."""
    try:
        res = ident.create_identity(_inventory(), _identity_id(resource_id, resource_group, name), location=location)
    except ArmError as error:
        common.fail(error)
    emit(_view(res), output)


@app.command("show")
def identity_show(
    resource_id: IdOption = None,
    resource_group: GroupOption = None,
    name: NameOption = None,
    output: Output = OutputFormat.json,
) -> None:
    try:
        res = ident.get_identity(_inventory(), _identity_id(resource_id, resource_group, name))
    except ArmError as error:
        common.fail(error)
    emit(_view(res), output)


@app.command("list")
def identity_list(resource_group: GroupOption = None, output: Output = OutputFormat.json) -> None:
    items = ident.list_identities(_inventory(), subscription=subscription(), resource_group=resource_group)
    emit([_view(r) for r in items], output, columns=IDENTITY_COLUMNS)


@app.command("delete")
def identity_delete(resource_id: IdOption = None, resource_group: GroupOption = None, name: NameOption = None) -> None:
    """Delete an identity and its federated credentials (its role assignments stay, as in Azure)."""
    target = _identity_id(resource_id, resource_group, name)
    if not ident.delete_identity(_inventory(), target):
        common.fail(ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"Identity {target} was not found.", target="--id"))


IdentityIdOption = Annotated[str | None, typer.Option("--identity-id", help="ARM id of the identity.")]
IdentityNameOption = Annotated[str | None, typer.Option("--identity-name", help="Name of the identity.")]
FicName = Annotated[str, typer.Option("--name", "-n", help="Name of the federated credential.")]


@fic_app.command("create")
def fic_create(
    name: FicName,
    issuer: Annotated[str, typer.Option("--issuer", help="The cluster's OIDC issuer URL, exactly.")],
    subject: Annotated[str, typer.Option("--subject", help="system:serviceaccount:<namespace>:<name>")],
    audiences: Annotated[list[str] | None, typer.Option("--audiences", help="Repeatable.")] = None,
    identity_id: IdentityIdOption = None,
    resource_group: GroupOption = None,
    identity_name: IdentityNameOption = None,
    output: Output = OutputFormat.json,
) -> None:
    """Create or update a federated credential (audience defaults to api://AzureADTokenExchange)."""
    target = _identity_id(identity_id, resource_group, identity_name)
    try:
        fic = ident.ensure_federated_credential(
            _inventory(), target, name, issuer, subject, audiences or [ident.TOKEN_EXCHANGE_AUDIENCE]
        )
    except ArmError as error:
        common.fail(error)
    emit(_fic_view(fic), output)


@fic_app.command("list")
def fic_list(
    identity_id: IdentityIdOption = None,
    resource_group: GroupOption = None,
    identity_name: IdentityNameOption = None,
    output: Output = OutputFormat.json,
) -> None:
    try:
        items = ident.list_federated_credentials(_inventory(), _identity_id(identity_id, resource_group, identity_name))
    except ArmError as error:
        common.fail(error)
    emit([_fic_view(f) for f in items], output, columns=["name", "issuer", "subject", "audiences"])


@fic_app.command("delete")
def fic_delete(
    name: FicName,
    identity_id: IdentityIdOption = None,
    resource_group: GroupOption = None,
    identity_name: IdentityNameOption = None,
) -> None:
    target = _identity_id(identity_id, resource_group, identity_name)
    if not ident.delete_federated_credential(_inventory(), target, name):
        common.fail(
            ArmError(
                ErrorCode.RESOURCE_NOT_FOUND, f"Federated credential {name} was not found on {target}.", target="--name"
            )
        )


# --------------------------------------------------------------------------------------- service principals

SpId = Annotated[str, typer.Option("--id", help="The service principal's client (application) id.")]


@sp_app.command("create")
def sp_create(
    name: Annotated[str, typer.Option("--name", "-n", help="Display name.")], output: Output = OutputFormat.json
) -> None:
    """Create a service principal with a client secret; the secret is printed now and never again."""
    try:
        sp, secret = ident.create_service_principal(_inventory(), name)
    except ArmError as error:
        common.fail(error)
    click.echo("The client secret is shown only now; store it securely.", err=True)
    emit({**ident.public_service_principal(sp), "clientSecret": secret}, output)


@sp_app.command("list")
def sp_list(output: Output = OutputFormat.json) -> None:
    items = [ident.public_service_principal(sp) for sp in ident.list_service_principals(_inventory())]
    emit(items, output, columns=["displayName", "clientId", "objectId"])


@sp_app.command("show")
def sp_show(client_id: SpId, output: Output = OutputFormat.json) -> None:
    try:
        sp = ident.get_service_principal(_inventory(), client_id)
    except ArmError as error:
        common.fail(error)
    emit(ident.public_service_principal(sp), output)


@sp_app.command("delete")
def sp_delete(client_id: SpId) -> None:
    """Delete a service principal (its role assignments stay, as in Azure)."""
    if not ident.delete_service_principal(_inventory(), client_id):
        common.fail(ident_not_found(client_id))


def ident_not_found(client_id: str) -> ArmError:
    return ArmError(
        ErrorCode.RESOURCE_NOT_FOUND,
        f"Service principal with application id '{client_id}' was not found in the directory.",
        target="--id",
    )
