"""Identities of the local cloud: user-assigned managed identities, their federated identity credentials (FICs),
and service principals with client secrets. Used by `servicelinker local identity|sp ...`, by the engine (workload
identity: FIC + role assignment) and by the token service (who is client id X, which FICs does it trust).

Shapes follow Azure's, as `InventoryData`'s docstring defines them:
* an identity is a resource `Microsoft.ManagedIdentity/userAssignedIdentities` with properties
  {clientId, principalId, tenantId}; ARM's PUT is create-or-update and keeps both ids, so `create_identity` on an
  existing id returns it unchanged;
* a FIC is the child resource `.../userAssignedIdentities/<identity>/federatedIdentityCredentials/<name>` with
  properties {issuer, subject, audiences}; at most 20 per identity (Entra's limit), and like Entra's a second
  credential with the same issuer and subject is refused (Entra could not tell which one an assertion matches);
* a service principal lives in the tenant (`InventoryData.service_principals`, by client id). Its secret is shown
  once, at creation, and stored only as a salted scrypt hash (`scrypt$n$r$p$salt$hash`), so the inventory file
  never holds a usable credential.

Errors are `ArmError`s with ARM's codes. Where Azure's exact text is not known (the FIC limit and duplicate
messages), the wording is ours and says so in the remedy-free message shape ARM uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from localcloud.errors import not_found
from localcloud.inventory import (
    LOCAL_TENANT,
    Inventory,
    InventoryData,
    Resource,
    ServicePrincipal,
    Subscription,
    key,
)
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId, invalid_resource_id

IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
FIC_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
FIC_SEGMENT = "federatedIdentityCredentials"
#: The audience Entra expects in Kubernetes service-account tokens exchanged for Entra tokens.
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
#: Entra's limit of federated identity credentials per user-assigned identity or application.
MAX_FEDERATED_CREDENTIALS = 20
#: scrypt cost: 16 MiB and ~40 ms per hash on one core, enough to make a leaked hash expensive to brute-force.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SECRET_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~"
_IDENTITY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$")
_FIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$")


@dataclass(frozen=True)
class Principal:
    """Whoever a client id names: a user-assigned identity or a service principal, as the token service sees it."""

    kind: Literal["userAssignedIdentity", "servicePrincipal"]
    client_id: str
    object_id: str
    tenant_id: str
    display_name: str
    #: The identity's ARM id (Entra puts it in tokens as `xms_mirid`); None for a service principal.
    resource_id: str | None = None
    service_principal: ServicePrincipal | None = None


# ----------------------------------------------------------------------------------------------- identities


def _identity_id(resource_id: str) -> ResourceId:
    """Parse and check that `resource_id` names a user-assigned identity (not a child, not another type)."""
    rid = ResourceId.try_parse(resource_id)
    parts = resource_id.strip("/").split("/")
    if rid is None or len(parts) != 8 or parts[2].lower() != "resourcegroups":
        raise invalid_resource_id(resource_id, "--id")
    if f"{parts[5]}/{parts[6]}".lower() != IDENTITY_TYPE.lower():
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Resource id {resource_id} is not a user-assigned identity ({IDENTITY_TYPE}).",
            target="--id",
            remedy="Pass /subscriptions/<sub>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/"
            "userAssignedIdentities/<name>.",
        )
    if not _IDENTITY_NAME.match(parts[7]):
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Resource name {parts[7]} is invalid. The name can contain only letters, numbers, hyphens and "
            "underscores, must start with a letter or number, and be 3 to 128 characters long.",
            target="--name",
        )
    return rid


def identity_resource_id(subscription: str, resource_group: str, name: str) -> str:
    """The ARM id of identity `name` in a resource group (what `-g/-n` expand to)."""
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{IDENTITY_TYPE}/{name}"


def create_identity(
    inventory: Inventory, resource_id: str, *, location: str = "local", tags: dict[str, str] | None = None
) -> Resource:
    """Create a user-assigned identity with fresh random clientId/principalId, or return the existing one.

    ARM's PUT on an existing identity keeps its ids (a workload configured with the client id keeps working),
    so re-running is harmless; only tags given here are merged in.
    """
    rid = _identity_id(resource_id)
    with inventory.edit() as data:
        existing = data.resources.get(key(rid.text))
        if existing is not None and existing.type.lower() == IDENTITY_TYPE.lower():
            if tags:
                existing.tags = {**existing.tags, **tags}
            return existing
        res = Resource(
            id=rid.text,
            type=IDENTITY_TYPE,
            location=location,
            properties={
                "clientId": str(uuid.uuid4()),
                "principalId": str(uuid.uuid4()),
                "tenantId": LOCAL_TENANT,
                "provisioningState": "Succeeded",
            },
            tags=dict(tags or {}),
        )
        data.resources[key(rid.text)] = res
        data.subscriptions.setdefault(rid.subscription.lower(), Subscription(id=rid.subscription))
        return res


def _is_identity(res: Resource) -> bool:
    return res.type.lower() == IDENTITY_TYPE.lower()


def get_identity(inventory: Inventory, resource_id: str) -> Resource:
    """The identity, or `ResourceNotFound` with ARM's text."""
    res = inventory.get(resource_id)
    if res is None or not _is_identity(res):
        raise not_found(resource_id, remedy="Create it with `servicelinker local identity create --id ...`.")
    return res


def list_identities(
    inventory: Inventory, *, subscription: str | None = None, resource_group: str | None = None
) -> list[Resource]:
    """Identities, optionally of one subscription and/or resource group, sorted by id."""
    out = []
    for res in inventory.list(IDENTITY_TYPE):
        rid = ResourceId.parse(res.id)
        if subscription and rid.subscription.lower() != subscription.lower():
            continue
        if resource_group and (rid.resource_group or "").lower() != resource_group.lower():
            continue
        out.append(res)
    return out


def delete_identity(inventory: Inventory, resource_id: str) -> bool:
    """Delete an identity and its federated credentials (ARM deletes child resources with the parent).

    Role assignments naming its principal id are left in place, as in Azure, where they show as
    "Identity not found" until removed.
    """
    prefix = key(resource_id) + "/"
    with inventory.edit() as data:
        res = data.resources.get(key(resource_id))
        if res is None or not _is_identity(res):
            return False
        for k in [k for k in data.resources if k.startswith(prefix)]:
            del data.resources[k]
        del data.resources[key(resource_id)]
        return True


# --------------------------------------------------------------------------------- federated credentials


def _fic_id(identity_id: str, name: str) -> str:
    return f"{identity_id.rstrip('/')}/{FIC_SEGMENT}/{name}"


def federated_credentials_of(data: InventoryData, identity_id: str) -> list[Resource]:
    """The FICs of one identity in an already-loaded inventory (the token service's hot path)."""
    prefix = key(identity_id) + "/" + FIC_SEGMENT.lower() + "/"
    return sorted((r for k, r in data.resources.items() if k.startswith(prefix)), key=lambda r: r.id.lower())


def _check_fic(name: str, issuer: str, subject: str, audiences: Sequence[str]) -> list[str]:
    """Validate as Azure does (name shape, https issuer, non-empty subject and audiences); returns audiences."""
    if not _FIC_NAME.match(name):
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Federated identity credential name {name} is invalid. It can contain only letters, numbers, hyphens "
            "and underscores, must start with a letter or number, and be 3 to 120 characters long.",
            target="name",
        )
    if not issuer.startswith("https://"):
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"The issuer '{issuer}' is invalid: it must be an https URL.",
            target="properties.issuer",
        )
    if not subject.strip():
        raise ArmError(ErrorCode.INVALID_ARGUMENT_VALUE, "The subject must not be empty.", target="properties.subject")
    auds = [a for a in audiences if a]
    if not auds:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"At least one audience is required (usually {TOKEN_EXCHANGE_AUDIENCE}).",
            target="properties.audiences",
        )
    return auds


def ensure_federated_credential(
    inventory: Inventory,
    identity_id: str,
    name: str,
    issuer: str,
    subject: str,
    audiences: Sequence[str] = (TOKEN_EXCHANGE_AUDIENCE,),
) -> Resource:
    """Create or update FIC `name` on an identity (ARM PUT semantics), idempotently.

    A credential with the same issuer, subject and audiences under another name is returned as is (what the
    caller wants already exists); same issuer and subject with other audiences is refused, as is a 21st credential.
    """
    auds = _check_fic(name, issuer, subject, audiences)
    with inventory.edit() as data:
        identity = data.resources.get(key(identity_id))
        if identity is None or not _is_identity(identity):
            raise not_found(identity_id, remedy="Create the identity first (`servicelinker local identity create`).")
        fic_id = _fic_id(identity.id, name)
        wanted = {"issuer": issuer, "subject": subject, "audiences": auds}
        others = [f for f in federated_credentials_of(data, identity.id) if key(f.id) != key(fic_id)]
        for other in others:
            p = other.properties
            if p.get("issuer") == issuer and p.get("subject") == subject:
                if list(p.get("audiences", [])) == auds:
                    return other
                raise ArmError(
                    ErrorCode.CONFLICT,
                    f"Federated identity credential '{other.name}' on this identity already has issuer '{issuer}' "
                    f"and subject '{subject}'; an issuer and subject pair can be used only once per identity.",
                    target="properties.subject",
                    remedy=f"Update '{other.name}' instead, or delete it first.",
                    status=400,
                )
        current = data.resources.get(key(fic_id))
        if current is None and len(others) >= MAX_FEDERATED_CREDENTIALS:
            raise ArmError(
                "BadRequest",
                f"Too many federated identity credentials on managed identity '{identity.name}'. "
                f"The maximum is {MAX_FEDERATED_CREDENTIALS}.",
                target=identity.id,
                remedy="Delete unused federated credentials, or use another user-assigned identity.",
            )
        fic = Resource(id=fic_id, type=FIC_TYPE, location=identity.location, properties=wanted)
        data.resources[key(fic_id)] = fic
        return fic


def delete_federated_credential(inventory: Inventory, identity_id: str, name: str) -> bool:
    """Delete FIC `name` of an identity; False if there was none."""
    with inventory.edit() as data:
        return data.resources.pop(key(_fic_id(identity_id, name)), None) is not None


def list_federated_credentials(inventory: Inventory, identity_id: str) -> list[Resource]:
    """The FICs of an identity (`ResourceNotFound` if the identity does not exist)."""
    data = inventory.load()
    identity = data.resources.get(key(identity_id))
    if identity is None or not _is_identity(identity):
        raise not_found(identity_id)
    return federated_credentials_of(data, identity.id)


# ----------------------------------------------------------------------------------- service principals


def _new_secret() -> str:
    """A 40-character secret shaped like Entra's (`xxxNQ~` + 34 characters), from `secrets`."""
    head = "".join(secrets.choice(_SECRET_ALPHABET[:62]) for _ in range(3))
    digit = secrets.choice("0123456789")
    tail = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(34))
    return f"{head}{digit}Q~{tail}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash` of a secret with a fresh 16-byte salt (the only form a secret is stored in)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _matches(secret: str, stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        # maxmem: n*r*128 bytes plus slack; refuses absurd parameters in a tampered file instead of exhausting RAM.
        digest = hashlib.scrypt(
            secret.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=256 * 1024 * 1024
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


def verify_service_principal_secret(sp: ServicePrincipal, secret: str) -> bool:
    """True when `secret` is one of the principal's secrets (constant-time compare per stored hash)."""
    return bool(secret) and any(_matches(secret, stored) for stored in sp.secret_hashes)


def create_service_principal(inventory: Inventory, display_name: str) -> tuple[ServicePrincipal, str]:
    """A new app registration's service principal with one client secret; returns it and the plaintext secret.

    The plaintext is returned exactly once and never stored; lose it and add a new principal (or secret).
    """
    name = display_name.strip()
    if not name or len(name) > 120:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            "The display name must be 1 to 120 characters long.",
            target="--name",
        )
    secret = _new_secret()
    sp = ServicePrincipal(
        client_id=str(uuid.uuid4()), object_id=str(uuid.uuid4()), display_name=name, secret_hashes=[hash_secret(secret)]
    )
    with inventory.edit() as data:
        data.service_principals[sp.client_id.lower()] = sp
    return sp, secret


def get_service_principal(inventory: Inventory, client_id: str) -> ServicePrincipal:
    """The service principal with that client (app) id, or `ResourceNotFound`."""
    sp = inventory.load().service_principals.get(client_id.lower())
    if sp is None:
        raise ArmError(
            ErrorCode.RESOURCE_NOT_FOUND,
            f"Service principal with application id '{client_id}' was not found in the directory.",
            target="--id",
            remedy="List them with `servicelinker local sp list`.",
        )
    return sp


def list_service_principals(inventory: Inventory) -> list[ServicePrincipal]:
    return sorted(inventory.load().service_principals.values(), key=lambda sp: sp.display_name.lower())


def delete_service_principal(inventory: Inventory, client_id: str) -> bool:
    with inventory.edit() as data:
        return data.service_principals.pop(client_id.lower(), None) is not None


def public_service_principal(sp: ServicePrincipal) -> dict[str, object]:
    """What `sp show/list` print: ids and name, and how many secrets exist, never the hashes."""
    return {
        "clientId": sp.client_id,
        "objectId": sp.object_id,
        "tenantId": sp.tenant_id,
        "displayName": sp.display_name,
        "secretCount": len(sp.secret_hashes),
    }


# ------------------------------------------------------------------------------------------------ lookup


def find_principal_by_client_id(source: Inventory | InventoryData, client_id: str) -> Principal | None:
    """The identity or service principal whose client id this is (client ids compare case-insensitively)."""
    data = source.load() if isinstance(source, Inventory) else source
    wanted = client_id.strip().lower()
    if not wanted:
        return None
    sp = data.service_principals.get(wanted) or next(
        (v for v in data.service_principals.values() if v.client_id.lower() == wanted), None
    )
    if sp is not None:
        return Principal(
            "servicePrincipal", sp.client_id, sp.object_id, sp.tenant_id, sp.display_name, service_principal=sp
        )
    for res in data.resources.values():
        if _is_identity(res) and str(res.properties.get("clientId", "")).lower() == wanted:
            p = res.properties
            return Principal(
                "userAssignedIdentity",
                str(p["clientId"]),
                str(p.get("principalId", "")),
                str(p.get("tenantId", LOCAL_TENANT)),
                res.name,
                resource_id=res.id,
            )
    return None
