"""The role gate: which Azure service a token audience belongs to, and which role assignments grant it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from localcloud.entra.protocol import (
    GUID_TAIL,
)
from localcloud.inventory import RoleAssignment

# ------------------------------------------------------------------------------------------------ role gate


@dataclass(frozen=True)
class ResourceService:
    """An Azure service as a token audience: its resource URIs, host suffixes, and the roles that grant it.

    `roles` maps role definition GUIDs (lowercase) to names.
    """

    name: str
    audiences: tuple[str, ...]
    host_suffixes: tuple[str, ...] = ()
    roles: Mapping[str, str] = field(default_factory=dict)
    #: Roles known by name only (Redis data-access policies have no role definition id).
    role_names: frozenset[str] = frozenset()
    #: Entra issues tokens for this audience to every principal; the service authorizes each call itself
    #: (Resource Manager by role assignments per action, Microsoft Graph by its own permissions).
    open_to_all: bool = False

    def grants(self, role_keys: frozenset[str]) -> bool:
        """True when any of a principal's role keys (GUIDs and lowercased names) grants this service."""
        if self.open_to_all:
            return True
        return any(k in self.roles or k in self.role_names for k in role_keys)


STORAGE_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "19e7f393-937e-4f77-808e-94535e297925": "Storage Queue Data Reader",
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": "Storage Queue Data Message Sender",
    "8a0f0c08-91a1-4084-bc3d-661d67233fed": "Storage Queue Data Message Processor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "0c867c2a-1d8c-454a-a3db-ab2ea1bdc8bb": "Storage File Data SMB Share Contributor",
    "aba4ae5f-2193-4029-9191-0cb91df5e314": "Storage File Data SMB Share Reader",
    "a7264617-510b-434b-a828-9731dc254ea7": "Storage File Data SMB Share Elevated Contributor",
}
KEYVAULT_ROLES = {
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "a4417e6f-fecd-4de8-b567-7b0420556985": "Key Vault Certificates Officer",
    "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba": "Key Vault Certificate User",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": "Key Vault Crypto Officer",
    "12338af0-0e69-4776-bea7-57ae8d297424": "Key Vault Crypto User",
    "e147488a-f6f5-4113-8e2d-b22465e65bf6": "Key Vault Crypto Service Encryption User",
    "21090545-7ca7-4776-b22c-e363652d74d2": "Key Vault Reader",
}
SERVICE_BUS_ROLES = {
    "090c5cfd-751d-490a-894a-3ce6f1109419": "Azure Service Bus Data Owner",
    "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": "Azure Service Bus Data Receiver",
    "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": "Azure Service Bus Data Sender",
}
EVENT_HUBS_ROLES = {
    "f526a384-b230-433a-b45c-95f59c4a2dec": "Azure Event Hubs Data Owner",
    "a638d3c7-ab3a-418d-83e6-5f17a39d4fde": "Azure Event Hubs Data Receiver",
    "2b629674-e913-4c01-ae53-ef4638d8f975": "Azure Event Hubs Data Sender",
}
APP_CONFIGURATION_ROLES = {
    "5ae67dd6-50cb-40e7-96ff-dc2bfa4b606b": "App Configuration Data Owner",
    "516239f1-63e1-4d78-a4de-a74fb236a071": "App Configuration Data Reader",
}
COGNITIVE_ROLES = {
    "a97b65f3-24c7-4388-baec-2e87135dc908": "Cognitive Services User",
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": "Cognitive Services OpenAI User",
    "a001fd3d-188f-4b5d-821b-7da978bf7442": "Cognitive Services OpenAI Contributor",
}
COSMOS_ROLES = {
    "5bd9cd88-fe45-4216-938b-f97437e15450": "DocumentDB Account Contributor",
    "00000000-0000-0000-0000-000000000001": "Cosmos DB Built-in Data Reader",
    "00000000-0000-0000-0000-000000000002": "Cosmos DB Built-in Data Contributor",
}
SIGNALR_ROLES = {
    "7e4f1700-ea5a-4f59-8f37-079cfe29dce3": "SignalR Service Owner",
    "420fcaa2-552c-430f-98ca-3264be4806c7": "SignalR App Server",
    "8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761": "SignalR/Web PubSub Contributor",
}
WEB_PUBSUB_ROLES = {
    "12cf5a90-567b-43ae-8102-96cf46c7d9b4": "Web PubSub Service Owner",
    "8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761": "SignalR/Web PubSub Contributor",
}

RESOURCE_SERVICES: tuple[ResourceService, ...] = (
    ResourceService(
        "Azure Storage",
        ("https://storage.azure.com", "e406a681-f3d4-42a8-90b6-c2b029497af1"),
        (
            ".blob.core.windows.net",
            ".queue.core.windows.net",
            ".table.core.windows.net",
            ".file.core.windows.net",
            ".dfs.core.windows.net",
        ),
        STORAGE_ROLES,
    ),
    ResourceService(
        "Azure Key Vault",
        ("https://vault.azure.net", "https://managedhsm.azure.net"),
        (".vault.azure.net",),
        KEYVAULT_ROLES,
    ),
    ResourceService(
        "Azure Service Bus",
        ("https://servicebus.azure.net",),
        (".servicebus.windows.net",),
        {**SERVICE_BUS_ROLES, **EVENT_HUBS_ROLES},
    ),
    ResourceService("Azure Event Hubs", ("https://eventhubs.azure.net",), (), EVENT_HUBS_ROLES),
    ResourceService(
        "Azure App Configuration",
        ("https://azconfig.io", "https://appconfig.azure.com"),
        (".azconfig.io",),
        APP_CONFIGURATION_ROLES,
    ),
    ResourceService(
        "Azure AI services",
        ("https://cognitiveservices.azure.com",),
        (".cognitiveservices.azure.com", ".openai.azure.com"),
        COGNITIVE_ROLES,
    ),
    ResourceService("Azure Cosmos DB", ("https://cosmos.azure.com",), (".documents.azure.com",), COSMOS_ROLES),
    ResourceService("Azure SignalR", ("https://signalr.azure.com",), (".service.signalr.net",), SIGNALR_ROLES),
    ResourceService("Azure Web PubSub", ("https://webpubsub.azure.com",), (".webpubsub.azure.com",), WEB_PUBSUB_ROLES),
    ResourceService(
        "Azure Cache for Redis",
        ("https://redis.azure.com", "acca5fbb-b7e4-4009-81f1-37e38fd66d78"),
        (".redis.cache.windows.net", ".redis.azure.net"),
        role_names=frozenset({"data owner", "data contributor", "data reader"}),
    ),
    ResourceService(
        "Azure Resource Manager",
        ("https://management.azure.com", "https://management.core.windows.net"),
        open_to_all=True,
    ),
    ResourceService(
        "Microsoft Graph", ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"), open_to_all=True
    ),
)
#: Built-in role name (lowercase) -> GUID, so assignments recorded by name (`local role assign --role NAME`) count.
ROLE_IDS: dict[str, str] = {name.lower(): guid for svc in RESOURCE_SERVICES for guid, name in svc.roles.items()}


def service_for(resource: str) -> ResourceService | None:
    """The service a resource URI (or app id) belongs to: exact audience first, then the host's suffix."""
    wanted = resource.strip().rstrip("/").lower()
    for svc in RESOURCE_SERVICES:
        if wanted in svc.audiences:
            return svc
    host = (urlsplit(wanted).hostname or "") if wanted.startswith("https://") else ""
    for svc in RESOURCE_SERVICES:
        if host and any(host.endswith(suffix) for suffix in svc.host_suffixes):
            return svc
    return None


def role_keys(assignment: RoleAssignment) -> set[str]:
    """What a role assignment names: a GUID (from a definition id, a bare GUID, or a known name) and the name."""
    keys: set[str] = set()
    for value in (assignment.role_definition_id, assignment.role_name):
        text = value.strip()
        if not text:
            continue
        m = GUID_TAIL.search(text)
        if m:
            keys.add(m.group(1).lower())
        else:
            keys.add(text.lower())
            if text.lower() in ROLE_IDS:
                keys.add(ROLE_IDS[text.lower()])
    return keys
