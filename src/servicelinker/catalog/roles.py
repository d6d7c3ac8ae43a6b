"""Default Azure RBAC roles granted on the target for identity-based connections (reference §5.1 table).

For workload identity (REST `userAssignedIdentity`), a service principal, and the Key Vault CSI add-on identity,
the RP assigns these built-in roles on the target; `authInfo.roles` overrides them (portal: Authentication ->
Advanced -> Role). Secret connections need no role. `authMode: optOutAllAuth` skips role assignment.

Decisions:
* Each service (services.py) names its defaults, so the Cognitive Services target picks by account kind:
  OpenAI -> Cognitive Services OpenAI Contributor; other kinds -> Cognitive Services User; AIServices (which
  serves both the OpenAI and the Cognitive Services APIs; NOT FOUND in the reference) -> both.
* Redis: NOT FOUND — Azure Cache for Redis with Entra ID authorizes through *data access policy assignments*, not
  RBAC. No role here; `REDIS_ACCESS_POLICY` names the built-in policy the engine should assign (`Data Owner`).
* Storage File, Redis Enterprise, App Insights, SQL/PostgreSQL/MySQL, Neon, MongoDB Atlas, Confluent: secret only
  on AKS, so no role.
* `authInfo.roles` entries may be a role definition GUID, a full role definition id
  (`/subscriptions/.../providers/Microsoft.Authorization/roleDefinitions/<guid>`), or a built-in role *name* known
  here (matched case-insensitively); anything else is rejected with an error naming `authInfo.roles`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from servicelinker.catalog.auth import CSI_CONFIG_KEY
from servicelinker.model.errors import ArmError, ErrorCode, shown
from servicelinker.model.linker import AuthMode, AuthType, LinkerProperties

REDIS_ACCESS_POLICY = "Data Owner"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DEFINITION_ID = re.compile(r"/providers/Microsoft\.Authorization/roleDefinitions/([^/]+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Role:
    """A built-in role: display name and role definition GUID."""

    name: str | None
    id: str

    def definition_id(self, subscription: str) -> str:
        """The full role definition id in a subscription (what a role assignment references)."""
        return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{self.id}"


DOCUMENTDB_ACCOUNT_CONTRIBUTOR = Role("DocumentDB Account Contributor", "5bd9cd88-fe45-4216-938b-f97437e15450")
KEY_VAULT_SECRETS_USER = Role("Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6")
KEY_VAULT_CERTIFICATE_USER = Role("Key Vault Certificate User", "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba")
STORAGE_BLOB_DATA_CONTRIBUTOR = Role("Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe")
STORAGE_QUEUE_DATA_CONTRIBUTOR = Role("Storage Queue Data Contributor", "974c5e8b-45b9-4653-ba55-5f855dd0fb88")
STORAGE_TABLE_DATA_CONTRIBUTOR = Role("Storage Table Data Contributor", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3")
EVENT_HUBS_DATA_RECEIVER = Role("Azure Event Hubs Data Receiver", "a638d3c7-ab3a-418d-83e6-5f17a39d4fde")
EVENT_HUBS_DATA_SENDER = Role("Azure Event Hubs Data Sender", "2b629674-e913-4c01-ae53-ef4638d8f975")
APP_CONFIGURATION_DATA_READER = Role("App Configuration Data Reader", "516239f1-63e1-4d78-a4de-a74fb236a071")
SERVICE_BUS_DATA_RECEIVER = Role("Azure Service Bus Data Receiver", "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0")
SERVICE_BUS_DATA_SENDER = Role("Azure Service Bus Data Sender", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39")
SIGNALR_SERVICE_OWNER = Role("SignalR Service Owner", "7e4f1700-ea5a-4f59-8f37-079cfe29dce3")
WEB_PUBSUB_CONTRIBUTOR = Role("SignalR/Web PubSub Contributor", "8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761")
COGNITIVE_SERVICES_OPENAI_CONTRIBUTOR = Role("Cognitive Services OpenAI Contributor",
                                             "a001fd3d-188f-4b5d-821b-7da978bf7442")  # fmt: skip
COGNITIVE_SERVICES_USER = Role("Cognitive Services User", "a97b65f3-24c7-4388-baec-2e87135dc908")

#: Every built-in role named here (resolving `authInfo.roles` entries given by name).
BUILTIN_ROLES: dict[str, Role] = {r.name.lower(): r for r in (
    DOCUMENTDB_ACCOUNT_CONTRIBUTOR, KEY_VAULT_SECRETS_USER, KEY_VAULT_CERTIFICATE_USER, STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_QUEUE_DATA_CONTRIBUTOR, STORAGE_TABLE_DATA_CONTRIBUTOR, EVENT_HUBS_DATA_RECEIVER, EVENT_HUBS_DATA_SENDER,
    APP_CONFIGURATION_DATA_READER, SERVICE_BUS_DATA_RECEIVER, SERVICE_BUS_DATA_SENDER, SIGNALR_SERVICE_OWNER,
    WEB_PUBSUB_CONTRIBUTOR, COGNITIVE_SERVICES_OPENAI_CONTRIBUTOR, COGNITIVE_SERVICES_USER,
) if r.name is not None}  # fmt: skip
_BY_ID: dict[str, Role] = {r.id.lower(): r for r in BUILTIN_ROLES.values()}

#: Auth keys whose identity gets roles on the target.
_IDENTITY_AUTH = frozenset({
    AuthType.USER_ASSIGNED_IDENTITY, AuthType.SYSTEM_ASSIGNED_IDENTITY, AuthType.SERVICE_PRINCIPAL_SECRET,
    AuthType.SERVICE_PRINCIPAL_CERTIFICATE, AuthType.USER_ACCOUNT, CSI_CONFIG_KEY,
})  # fmt: skip


def resolve_role(value: str) -> Role:
    """A role from an `authInfo.roles` entry: GUID, role definition id, or built-in role name."""
    text = value.strip()
    m = _DEFINITION_ID.search(text)
    guid = m.group(1) if m else text
    if _GUID.match(guid):
        known = _BY_ID.get(guid.lower())
        return Role(known.name if known else None, guid.lower())
    known = BUILTIN_ROLES.get(text.lower())
    if known is None:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"Unknown role '{shown(value)}' in authInfo.roles.",
            target="properties.authInfo.roles",
            remedy="Give a role definition id or GUID, or one of: "
            + ", ".join(sorted(r.name for r in BUILTIN_ROLES.values() if r.name)) + ".",
        )
    return known


def roles_for(defaults: tuple[Role, ...], properties: LinkerProperties) -> tuple[Role, ...]:
    """Roles to assign for a linker: `authInfo.roles` when given, else the service's `defaults`.

    Empty for secret auth, for no auth, and when auth is opted out (`authMode: optOutAllAuth`).
    """
    info = properties.auth_info
    if info is None or info.auth_mode == AuthMode.OPT_OUT_ALL_AUTH:
        return ()
    key = CSI_CONFIG_KEY if properties.connects_as_csi_driver else info.auth_type
    if key not in _IDENTITY_AUTH:
        return ()
    override = getattr(info, "roles", None)
    if override:
        return tuple(resolve_role(r) for r in override)
    return defaults
