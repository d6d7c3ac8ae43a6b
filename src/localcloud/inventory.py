"""The local cloud's inventory: resources addressed by ARM-style ids, kept in `<state>/local-cloud.json`.

Only data lives here (what `servicelinker local ...` edits and `devstack up` registers). What a resource *is*
comes from the real server behind it (a database exists if PostgreSQL has it), see `adapter.py`.
Keys are lowercased ids, because ARM ids compare case-insensitively; each entry keeps the id as written.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from servicelinker.model.ids import ResourceId

LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LOCAL_TENANT = "00000000-0000-0000-0000-000000000000"
DEFAULT_LOCATION = "local"
#: Providers registered in a new subscription (Azure registers these on first use; unregister to test errors).
DEFAULT_PROVIDERS = ("Microsoft.ServiceLinker", "Microsoft.KubernetesConfiguration", "Microsoft.ContainerService")


class Resource(BaseModel):
    """An ARM-shaped resource; `properties` holds what the adapter needs, `secrets` what must never be shown."""

    id: str
    type: str
    location: str = DEFAULT_LOCATION
    properties: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.id.rstrip("/").rsplit("/", 1)[-1]

    def public(self) -> dict[str, Any]:
        """The resource as `local ... show` prints it: no secrets."""
        return self.model_dump(exclude={"secrets"}) | {"name": self.name}


class Subscription(BaseModel):
    id: str
    providers: dict[str, str] = Field(default_factory=lambda: dict.fromkeys(DEFAULT_PROVIDERS, "Registered"))


class RoleAssignment(BaseModel):
    id: str
    scope: str
    principal_id: str
    role_definition_id: str
    role_name: str = ""
    principal_type: str = ""
    created_on: str = ""


class ServicePrincipal(BaseModel):
    """An app registration's service principal (Entra ID). Secrets are kept as salted hashes only."""

    client_id: str
    object_id: str
    display_name: str
    tenant_id: str = LOCAL_TENANT
    secret_hashes: list[str] = Field(default_factory=list, repr=False)


class InventoryData(BaseModel):
    """Everything the local cloud knows.

    User-assigned identities are resources of type `Microsoft.ManagedIdentity/userAssignedIdentities` with
    properties {clientId, principalId, tenantId}; their federated identity credentials are child resources
    `.../userAssignedIdentities/<name>/federatedIdentityCredentials/<fic>` with properties {issuer, subject,
    audiences}. Role assignments name principals by object id (`principalId` of an identity, `object_id` of a
    service principal). Service principals live in the tenant, not in a subscription, hence their own map.
    """

    subscriptions: dict[str, Subscription] = Field(default_factory=dict)
    resources: dict[str, Resource] = Field(default_factory=dict)
    role_assignments: list[RoleAssignment] = Field(default_factory=list)
    service_principals: dict[str, ServicePrincipal] = Field(default_factory=dict)  # by client id


def inventory_file(state_dir: Path) -> Path:
    """Where the dev stack keeps the inventory: `<state>/local-cloud.json`."""
    return state_dir / "local-cloud.json"


def key(resource_id: str) -> str:
    return resource_id.rstrip("/").lower()


class Inventory:
    """File-backed, process-safe (flock) inventory. Use `edit()` for read-modify-write."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> InventoryData:
        if not self.path.exists():
            return InventoryData()
        return InventoryData.model_validate_json(self.path.read_text())

    @contextmanager
    def edit(self) -> Iterator[InventoryData]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_suffix(".lock")
        with open(lock, "a") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            data = self.load()
            yield data
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(data.model_dump(mode="json"), indent=2))
            tmp.replace(self.path)

    def get(self, resource_id: str) -> Resource | None:
        return self.load().resources.get(key(resource_id))

    def put(self, resource: Resource) -> Resource:
        with self.edit() as data:
            data.resources[key(resource.id)] = resource
            sub = ResourceId.parse(resource.id).subscription
            data.subscriptions.setdefault(sub.lower(), Subscription(id=sub))
        return resource

    def delete(self, resource_id: str) -> bool:
        with self.edit() as data:
            return data.resources.pop(key(resource_id), None) is not None

    def list(self, resource_type: str | None = None) -> list[Resource]:
        items: list[Resource] = list(self.load().resources.values())
        if resource_type:
            items = [r for r in items if r.type.lower() == resource_type.lower()]
        return sorted(items, key=lambda r: r.id.lower())

    def provider_state(self, subscription_id: str, namespace: str) -> str:
        sub = self.load().subscriptions.get(subscription_id.lower())
        if sub is None:
            return "Registered" if namespace in DEFAULT_PROVIDERS else "NotRegistered"
        for name, state in sub.providers.items():
            if name.lower() == namespace.lower():
                return state
        return "NotRegistered"

    def set_provider_state(self, subscription_id: str, namespace: str, state: str) -> None:
        with self.edit() as data:
            sub = data.subscriptions.setdefault(subscription_id.lower(), Subscription(id=subscription_id))
            sub.providers = {k: v for k, v in sub.providers.items() if k.lower() != namespace.lower()}
            sub.providers[namespace] = state
