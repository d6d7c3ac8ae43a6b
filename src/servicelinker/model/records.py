"""The engine's own data types: what its one interface (`servicelinker.engine.Engine`) takes and returns.

* `LinkerRecord` — a linker as the resource provider keeps it: its public ARM body (no write-only secrets), state
  and the delivered configurations with credential values blank.
* `Operation` and `Step` — a long-running operation and its step log (the body behind `Azure-AsyncOperation`).
* `Configuration` — one configuration (a key of the delivered Secret) with its credential flag.
* `TargetFacts` — what a cloud adapter read from the target to compose configuration values (secrets as
  `SecretStr`, so they never show in reprs or logs).
* `Caller` — who asked (the token's principal), for systemData and the caller's permission checks.

Pure data, no I/O; nothing of ours imported except the sibling model modules.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from servicelinker.model.linker import ConfigurationType
from servicelinker.model.results import SourceConfiguration

#: Operation states that still have work left (a runner may claim them).
ACTIVE_STATUSES = ("Accepted", "Running")
#: Operation states after which nothing changes any more.
TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Canceled"})

OperationKind = Literal["create", "update", "delete", "validate"]
DEFAULT_MANAGEMENT_ENDPOINT = "https://management.azure.com/"
DEFAULT_MANAGEMENT_SCOPE = "https://management.azure.com/.default"


class Caller(BaseModel):
    """The authenticated principal a request runs for."""

    model_config = ConfigDict(frozen=True)

    object_id: str
    #: Shown in systemData.createdBy: the user's UPN, else the app id, else the object id.
    display_name: str
    #: systemData.createdByType: `User` or `Application`.
    kind: Literal["User", "Application", "ManagedIdentity", "Key"] = "User"


class LinkerRecord(BaseModel):
    """A linker as the engine returns it: the public body (GET's answer), never a write-only secret."""

    id: str
    source_id: str
    name: str
    body: dict[str, Any]
    provisioning_state: str
    #: The delivered configurations, credential values blank (list-configuration's answer).
    configurations: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = self.body.get("properties") or {}
        return props


class Step(BaseModel):
    name: str
    status: str  # Running, Succeeded, Failed, Skipped
    message: str = ""
    start_time: str
    end_time: str | None = None
    error: dict[str, Any] | None = None


class Operation(BaseModel):
    id: str
    resource_id: str
    kind: str
    status: str
    params: dict[str, Any] = Field(default_factory=dict)
    start_time: dt.datetime
    end_time: dt.datetime | None = None
    steps: list[Step] = Field(default_factory=list)
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    #: The process that holds the operation (`host:pid:uuid`), None when nobody does.
    owner: str | None = None
    #: Until when the owner's claim holds (it renews it while it works).
    claimed_until: dt.datetime | None = None
    #: Claims so far: 1 = first run, more = resumed.
    attempts: int = 0
    #: Why the previous attempt ended without finishing the operation.
    last_error: str | None = None

    @property
    def done(self) -> bool:
        return self.status not in ACTIVE_STATUSES


class Configuration(BaseModel):
    """One configuration (a key of the Kubernetes Secret) with its credential flag."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: str
    credential: bool = False
    description: str = ""

    def __repr_args__(self) -> Any:
        return [(k, "***" if k == "value" and self.credential else v) for k, v in super().__repr_args__()]

    def to_source_configuration(self) -> SourceConfiguration:
        """The REST `SourceConfiguration` (configType Default: AKS values are real values)."""
        return SourceConfiguration(
            name=self.name, value=self.value, config_type=ConfigurationType.DEFAULT, description=self.description
        )


def blank_credentials(configs: list[Configuration]) -> list[Configuration]:
    """list-configuration on AKS: credential values become empty strings (reference §6.2)."""
    return [c.model_copy(update={"value": ""}) if c.credential else c for c in configs]


class TargetFacts(BaseModel):
    """What a cloud adapter knows about the target, used to compose configuration values.

    Every field is optional; a template that needs a missing one fails with an error naming it. Secrets are
    `SecretStr` so they never show in reprs or logs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Server host name (PostgreSQL/MySQL/SQL server FQDN, Redis host, Cassandra contact point, Gremlin host,
    #: Web PubSub host).
    host: str | None = None
    port: int | None = None
    database: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    #: TLS on the wire (False for the plain local Redis/PostgreSQL).
    ssl: bool = True
    #: Storage / Cosmos account name.
    account_name: str | None = None
    #: Primary key of the target (storage account key, Redis access key, Cosmos key, Cognitive Services key,
    #: SignalR access key). An empty string means "no key" (e.g. a local Redis without a password).
    account_key: SecretStr | None = None
    #: The target's main endpoint (Cosmos document endpoint, App Configuration endpoint, Cognitive endpoint,
    #: SignalR endpoint, Key Vault URI when `vault_uri` is absent).
    endpoint: str | None = None
    blob_endpoint: str | None = None
    queue_endpoint: str | None = None
    table_endpoint: str | None = None
    file_endpoint: str | None = None
    #: Azure storage endpoint suffix (`core.windows.net`); None for non-Azure endpoints (Azurite).
    endpoint_suffix: str | None = None
    #: A ready connection string read from the target (Service Bus, Event Hubs, App Configuration, Web PubSub,
    #: Cosmos Mongo/Table, Application Insights).
    connection_string: SecretStr | None = None
    vault_uri: str | None = None
    #: Service Bus / Event Hubs fully qualified namespace (`<ns>.servicebus.windows.net`).
    namespace_fqdn: str | None = None
    #: Azure region (Cassandra local datacenter).
    location: str | None = None
    #: Cognitive Services account kind: OpenAI, AIServices, CognitiveServices, ...
    account_kind: str | None = None
    openai_endpoint: str | None = None
    speech_endpoint: str | None = None
    #: Client id when the linker carries none (the Key Vault CSI add-on identity).
    client_id: str | None = None
    tenant_id: str | None = None
    client_secret: SecretStr | None = None
    #: ARM id of the account whose keys the app lists with its identity (Cosmos); default: from the target id.
    account_id: str | None = None
    management_endpoint: str = DEFAULT_MANAGEMENT_ENDPOINT
    management_scope: str = DEFAULT_MANAGEMENT_SCOPE
    #: Data-plane token scope (App Configuration).
    token_scope: str | None = None

    def public_dump(self) -> dict[str, Any]:
        """The facts without any credential (safe to record with an operation)."""
        return self.model_dump(mode="json", exclude_defaults=True, exclude=set(SECRET_FACTS))


#: The fields of TargetFacts that hold credentials.
SECRET_FACTS: tuple[str, ...] = tuple(
    name for name, f in TargetFacts.model_fields.items() if f.annotation == SecretStr | None
)
