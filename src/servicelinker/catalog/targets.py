"""The AKS support catalog (reference §3): the 27 targets `az aks connection` offers, as data.

Sources: azure-cli 2.91 `serviceconnector/_resource_config.py` (`TARGET_RESOURCES`, `TARGET_RESOURCES_PARAMS`,
`SUPPORTED_AUTH_TYPE[KubernetesCluster]`, `SUPPORTED_CLIENT_TYPE[KubernetesCluster]`). Order is the CLI's.

Per target:
* `auth_types` in CLI terms, **default first**: `workload-identity`, `secret(auto)` (`--secret` without keys, the
  RP fetches the keys), `secret` (`--secret name=.. secret=..`), `service-principal`. Key Vault additionally
  supports the secrets-store CSI driver (`csi=True`), which is what the CLI uses when no auth flag is given
  (`effective_default_auth`).
* `client_types`, in the CLI's order.
* `id_pattern`: the CLI's target pattern (`{placeholder}` segments); `provider_type` is the CLI's
  `targetService` string for configurationNames (literal segments after `providers`, see `IdPattern`).
* `name_params`: the CLI options that fill the placeholders (`--server`, `--database`, `--account`, ...).
* `config_families`: which configuration-name table applies (see configuration.py); the Cognitive Services target
  picks by the account's `kind`, Confluent by the linker's `targetService.type`.

Decisions where the CLI has no real pattern (NOT FOUND / placeholders in the reference):
* neon-postgres: the CLI sends a hard-coded placeholder id (`NEON_CLI_PLACEHOLDER_ID`) and puts `--server` /
  `--database` into `configurationInfo.additionalConnectionStringProperties` (`Server`, `Database`). The catalog
  pattern is the general `Neon.Postgres/organizations/{organization}`, and `connstr_prop_params` records that
  those two properties are the location of the database (consumed as facts, not appended to the string).
* mongodb-atlas: the CLI pattern hard-codes a sample subscription; the catalog uses `{subscription}`.
* confluent-cloud: no ARM id; two linkers (`ConfluentBootstrapServer`, `ConfluentSchemaRegistry`);
  `provider_type` is the CLI's `CONFLUENT.CLOUD`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from servicelinker.catalog import auth
from servicelinker.catalog import services as s
from servicelinker.catalog.auth import CSI, SECRET, SECRET_AUTO, SERVICE_PRINCIPAL, WORKLOAD_IDENTITY
from servicelinker.catalog.services import Service
from servicelinker.model.errors import ArmError, ErrorCode, shown
from servicelinker.model.ids import IdPattern, validate_target_id
from servicelinker.model.linker import AuthType, AzureResource, LinkerProperties, TargetServiceType

SOURCE_AKS = "aks"
NEON_CLI_PLACEHOLDER_ID = (
    "/subscriptions/aaaabbbb-0000-cccc-1111-dddd2222eeee/resourceGroups/testrg/providers/Neon.Postgres"
    "/organizations/neontest"
)

_SUB_RG = "/subscriptions/{subscription}/resourceGroups/{target_resource_group}/providers/"

# ------------------------------------------------------------------------------------------ client type lists
_DB_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "php", "ruby", "django", "springBoot",
               "none")  # fmt: skip
_REDIS_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "springBoot", "none")
_GREMLIN_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "php", "none")
_MONGO_CLIENTS = ("dotnet", "dotnet-internal", "java", "nodejs", "go", "springBoot", "none")
_STD_SPRING_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "springBoot", "none")
_STD_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "none")
_FILE_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "php", "ruby", "springBoot", "none")
_EVENTHUB_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "springBoot", "kafka-springBoot",
                     "none")  # fmt: skip
_SERVICEBUS_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "springBoot", "none")
_SIGNALR_CLIENTS = ("dotnet", "dotnet-internal", "none")
_CONFLUENT_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "go", "springBoot", "none")
_APPINSIGHTS_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "none")
_COGNITIVE_CLIENTS = ("dotnet", "python", "none")

# ------------------------------------------------------------------------------------------ auth type lists
_WI_AUTO_SP = (WORKLOAD_IDENTITY, SECRET_AUTO, SERVICE_PRINCIPAL)
_SECRET_ONLY = (SECRET,)
_AUTO_ONLY = (SECRET_AUTO,)


@dataclass(frozen=True)
class NameParam:
    """A CLI option that locates the target (fills an id placeholder, or a connection-string property)."""

    options: tuple[str, ...]
    key: str
    help: str

    @property
    def option(self) -> str:
        return self.options[0]


def _tg(what: str) -> NameParam:
    return NameParam(("--target-resource-group", "--tg"), "target_resource_group",
                     f"The resource group which contains the {what}")  # fmt: skip


def _p(option: str, key: str, help: str) -> NameParam:
    return NameParam((option,), key, help)


@dataclass(frozen=True)
class FamilyChoice:
    """The service chosen when the selector value equals `when` (None: the default choice)."""

    service: Service
    when: str | None = None


@dataclass(frozen=True)
class Target:
    """One AKS target of the catalog."""

    name: str
    display: str
    id_pattern: str | None
    auth_types: tuple[str, ...]
    client_types: tuple[str, ...]
    name_params: tuple[NameParam, ...]
    config_families: tuple[FamilyChoice, ...]
    #: What picks among `config_families`: "fixed", "account_kind" (facts) or "target_service_type" (linker).
    family_selector: str = "fixed"
    deprecated: bool = False
    #: False when the CLI offers no `--target-id` (neon-postgres, mongodb-atlas, confluent-cloud).
    accepts_target_id: bool = True
    #: Key Vault: the secrets-store CSI driver path is available, and is the CLI's default.
    csi: bool = False
    #: `targetService.type` values this target's linkers carry.
    target_service_types: tuple[str, ...] = (TargetServiceType.AZURE_RESOURCE,)
    #: `configurationInfo.additionalConnectionStringProperties` keys that locate the target (neon): prop -> fact.
    connstr_prop_params: tuple[tuple[str, str], ...] = ()
    provider_type_override: str | None = None
    notes: str = ""

    @cached_property
    def pattern(self) -> IdPattern | None:
        return IdPattern(self.id_pattern) if self.id_pattern else None

    @property
    def provider_type(self) -> str:
        """`targetService` string of configurationNames (the CLI's derivation)."""
        if self.provider_type_override:
            return self.provider_type_override
        assert self.pattern is not None
        return self.pattern.provider_type

    @property
    def default_auth_type(self) -> str:
        """First auth type of the CLI table."""
        return self.auth_types[0]

    @property
    def effective_default_auth(self) -> str:
        """What the CLI uses when no auth flag is given: CSI for Key Vault, else the first auth type."""
        return CSI if self.csi else self.auth_types[0]

    @property
    def secret_is_auto(self) -> bool:
        """True when `--secret` takes no keys (the RP reads the target's keys)."""
        return SECRET_AUTO in self.auth_types

    @property
    def all_auth_names(self) -> tuple[str, ...]:
        """CLI auth names including `csi` where available."""
        return (*self.auth_types, CSI) if self.csi else self.auth_types

    @property
    def config_keys(self) -> tuple[str, ...]:
        """Configuration-table keys allowed for this target, in CLI order (`csi` last)."""
        keys: list[str] = []
        for name in self.all_auth_names:
            key = auth.config_key_of(name)
            if key not in keys:
                keys.append(key)
        return tuple(keys)

    @property
    def services(self) -> tuple[Service, ...]:
        return tuple(c.service for c in self.config_families)

    @property
    def probe(self) -> str | None:
        """The live probe of `validate`, when the target's (first) service has one."""
        return self.config_families[0].service.probe

    def service_for(self, selector_value: str | None) -> Service:
        """The service for a selector value (falls back to the default choice)."""
        for choice in self.config_families:
            if choice.when is not None and selector_value is not None and choice.when.lower() == selector_value.lower():
                return choice.service
        for choice in self.config_families:
            if choice.when is None:
                return choice.service
        return self.config_families[0].service

    def matches_id(self, resource_id: str) -> bool:
        return self.pattern is not None and self.pattern.match_prefix(resource_id) is not None

    def id_values(self, resource_id: str | None) -> dict[str, str]:
        """Placeholder values of a target id (`{"account": "x"}`), empty when it does not match."""
        if not resource_id or self.pattern is None:
            return {}
        matched = self.pattern.match_prefix(resource_id)
        return matched[1] if matched else {}

    def validate_id(self, resource_id: str, *, target: str = "--target-id") -> str:
        """Azure's target id validation (prefix match); returns the matched prefix."""
        if self.id_pattern is None:
            raise ArmError(
                ErrorCode.INVALID_ARGUMENT_VALUE,
                f"Target {self.name} has no resource id.",
                target=target,
                remedy=f"Use {', '.join(p.option for p in self.name_params)} instead.",
            )
        return validate_target_id(resource_id, self.id_pattern, target=target)

    def format_id(self, subscription: str, **values: str) -> str:
        """Build the target id from CLI name parameters (`account="x"`, `target_resource_group="rg"`)."""
        if self.pattern is None:
            raise KeyError(f"target {self.name} has no id pattern")
        return self.pattern.format(subscription=subscription, **values)


def _t(
    name: str,
    display: str,
    provider_path: str | None,
    auth_types: tuple[str, ...],
    client_types: tuple[str, ...],
    name_params: tuple[NameParam, ...],
    family: Service | tuple[FamilyChoice, ...],
    **kw: object,
) -> Target:
    families = (FamilyChoice(family),) if isinstance(family, Service) else family
    pattern = _SUB_RG + provider_path if provider_path else None
    return Target(name, display, pattern, auth_types, client_types, name_params, families, **kw)  # type: ignore[arg-type]


_SERVER_DB = (_p("--server", "server", "Name of the server"), _p("--database", "database", "Name of the database"))
_STORAGE = (_tg("storage account"), _p("--account", "account", "Name of the storage account"))
_COSMOS = _tg("cosmos database account"), _p("--account", "account", "Name of the cosmos database account")
_COGNITIVE_KINDS = (
    FamilyChoice(s.COGNITIVE_OPENAI, "OpenAI"),
    FamilyChoice(s.COGNITIVE_AISERVICES, "AIServices"),
    FamilyChoice(s.COGNITIVE_COGNITIVESERVICES),
)

TARGETS: tuple[Target, ...] = (
    _t("postgres", "Azure Database for PostgreSQL single server",
       "Microsoft.DBforPostgreSQL/servers/{server}/databases/{database}", _SECRET_ONLY, _DB_CLIENTS,
       (_tg("postgres service"), *_SERVER_DB), s.POSTGRESQL, deprecated=True),
    _t("postgres-flexible", "Azure Database for PostgreSQL flexible server",
       "Microsoft.DBforPostgreSQL/flexibleServers/{server}/databases/{database}", _SECRET_ONLY, _DB_CLIENTS,
       (_tg("flexible postgres service"), *_SERVER_DB), s.POSTGRESQL),
    _t("mysql", "Azure Database for MySQL single server",
       "Microsoft.DBForMySQL/servers/{server}/databases/{database}", _SECRET_ONLY, _DB_CLIENTS,
       (_tg("mysql server"), *_SERVER_DB), s.MYSQL, deprecated=True),
    _t("mysql-flexible", "Azure Database for MySQL flexible server",
       "Microsoft.DBforMySQL/flexibleServers/{server}/databases/{database}", _SECRET_ONLY, _DB_CLIENTS,
       (_tg("mysql flexible server"), *_SERVER_DB), s.MYSQL),
    _t("sql", "Azure SQL Database",
       "Microsoft.Sql/servers/{server}/databases/{database}", _SECRET_ONLY, _DB_CLIENTS,
       (_tg("sql server"), *_SERVER_DB), s.SQL),
    _t("redis", "Azure Cache for Redis",
       "Microsoft.Cache/redis/{server}/databases/{database}", _WI_AUTO_SP, _REDIS_CLIENTS,
       (_tg("redis server"), _p("--server", "server", "Name of the redis server"),
        _p("--database", "database", "Name of the redis database (index, e.g. 0)")), s.REDIS),
    _t("redis-enterprise", "Azure Cache for Redis Enterprise",
       "Microsoft.Cache/redisEnterprise/{server}/databases/{database}", _AUTO_ONLY, _REDIS_CLIENTS,
       (_tg("redis server"), _p("--server", "server", "Name of the redis enterprise server"),
        _p("--database", "database", "Name of the redis enterprise database")), s.REDIS),
    _t("cosmos-cassandra", "Azure Cosmos DB for Apache Cassandra",
       "Microsoft.DocumentDB/databaseAccounts/{account}/cassandraKeyspaces/{key_space}", _WI_AUTO_SP,
       _REDIS_CLIENTS, (*_COSMOS, _p("--key-space", "key_space", "Name of the keyspace")), s.COSMOS_CASSANDRA),
    _t("cosmos-gremlin", "Azure Cosmos DB for Apache Gremlin",
       "Microsoft.DocumentDB/databaseAccounts/{account}/gremlinDatabases/{database}/graphs/{graph}", _WI_AUTO_SP,
       _GREMLIN_CLIENTS, (*_COSMOS, _p("--database", "database", "Name of the database"),
                          _p("--graph", "graph", "Name of the graph")), s.COSMOS_GREMLIN),
    _t("cosmos-mongo", "Azure Cosmos DB for MongoDB",
       "Microsoft.DocumentDB/databaseAccounts/{account}/mongodbDatabases/{database}", _WI_AUTO_SP, _MONGO_CLIENTS,
       (*_COSMOS, _p("--database", "database", "Name of the database")), s.COSMOS_MONGO),
    _t("cosmos-table", "Azure Cosmos DB for Table",
       "Microsoft.DocumentDB/databaseAccounts/{account}/tables/{table}", _WI_AUTO_SP, _STD_SPRING_CLIENTS,
       (*_COSMOS, _p("--table", "table", "Name of the table")), s.COSMOS_TABLE),
    _t("cosmos-sql", "Azure Cosmos DB for NoSQL",
       "Microsoft.DocumentDB/databaseAccounts/{account}/sqlDatabases/{database}", _WI_AUTO_SP, _STD_SPRING_CLIENTS,
       (*_COSMOS, _p("--database", "database", "Name of the database")), s.COSMOS_SQL),
    _t("storage-blob", "Azure Blob Storage",
       "Microsoft.Storage/storageAccounts/{account}/blobServices/default", _WI_AUTO_SP, _STD_SPRING_CLIENTS,
       _STORAGE, s.STORAGE_BLOB),
    _t("storage-queue", "Azure Queue Storage",
       "Microsoft.Storage/storageAccounts/{account}/queueServices/default", _WI_AUTO_SP, _STD_SPRING_CLIENTS,
       _STORAGE, s.STORAGE_QUEUE),
    _t("storage-file", "Azure Files",
       "Microsoft.Storage/storageAccounts/{account}/fileServices/default", _AUTO_ONLY, _FILE_CLIENTS,
       _STORAGE, s.STORAGE_FILE),
    _t("storage-table", "Azure Table Storage",
       "Microsoft.Storage/storageAccounts/{account}/tableServices/default", _WI_AUTO_SP, _STD_CLIENTS,
       _STORAGE, s.STORAGE_TABLE),
    _t("keyvault", "Azure Key Vault",
       "Microsoft.KeyVault/vaults/{vault}", (WORKLOAD_IDENTITY, SERVICE_PRINCIPAL), _STD_SPRING_CLIENTS,
       (_tg("keyvault"), _p("--vault", "vault", "Name of the keyvault")), s.KEYVAULT, csi=True),
    _t("appconfig", "Azure App Configuration",
       "Microsoft.AppConfiguration/configurationStores/{config_store}", _WI_AUTO_SP, _STD_CLIENTS,
       (_tg("app configuration"), _p("--app-config", "config_store", "Name of the app configuration")), s.APPCONFIG),
    _t("eventhub", "Azure Event Hubs",
       "Microsoft.EventHub/namespaces/{namespace}", _WI_AUTO_SP, _EVENTHUB_CLIENTS,
       (_tg("eventhub"), _p("--namespace", "namespace", "Name of the eventhub namespace")), s.EVENTHUB),
    _t("servicebus", "Azure Service Bus",
       "Microsoft.ServiceBus/namespaces/{namespace}", _WI_AUTO_SP, _SERVICEBUS_CLIENTS,
       (_tg("servicebus"), _p("--namespace", "namespace", "Name of the servicebus namespace")), s.SERVICEBUS),
    _t("signalr", "Azure SignalR Service",
       "Microsoft.SignalRService/SignalR/{signalr}", _WI_AUTO_SP, _SIGNALR_CLIENTS,
       (_tg("signalr"), _p("--signalr", "signalr", "Name of the signalr service")), s.SIGNALR),
    _t("webpubsub", "Azure Web PubSub",
       "Microsoft.SignalRService/WebPubSub/{webpubsub}", _WI_AUTO_SP, _STD_CLIENTS,
       (_tg("webpubsub"), _p("--webpubsub", "webpubsub", "Name of the webpubsub service")), s.WEBPUBSUB),
    _t("confluent-cloud", "Apache Kafka on Confluent Cloud", None, _SECRET_ONLY, _CONFLUENT_CLIENTS,
       (_p("--bootstrap-server", "bootstrap_server", "Kafka bootstrap server url"),
        _p("--kafka-key", "kafka_key", "Kafka API-Key (key)"),
        _p("--kafka-secret", "kafka_secret", "Kafka API-Key (secret)"),
        _p("--schema-registry", "schema_registry", "Schema registry url"),
        _p("--schema-key", "schema_key", "Schema registry API-Key (key)"),
        _p("--schema-secret", "schema_secret", "Schema registry API-Key (secret)")),
       (FamilyChoice(s.CONFLUENT_BOOTSTRAP, TargetServiceType.CONFLUENT_BOOTSTRAP_SERVER),
        FamilyChoice(s.CONFLUENT_SCHEMA_REGISTRY, TargetServiceType.CONFLUENT_SCHEMA_REGISTRY)),
       family_selector="target_service_type", accepts_target_id=False,
       target_service_types=(TargetServiceType.CONFLUENT_BOOTSTRAP_SERVER, TargetServiceType.CONFLUENT_SCHEMA_REGISTRY),
       provider_type_override="CONFLUENT.CLOUD",
       notes="Creates two linkers: <name> (bootstrap server, secret name=kafka key) and <name>_schema "
             "(schema registry, secret name=schema key)."),
    _t("app-insights", "Application Insights",
       "microsoft.insights/components/{appinsights}", _AUTO_ONLY, _APPINSIGHTS_CLIENTS,
       (_tg("app insights"), _p("--app-insights", "appinsights", "Name of the app insights")), s.APP_INSIGHTS),
    _t("cognitiveservices", "Azure AI services / Azure OpenAI / Cognitive Services",
       "Microsoft.CognitiveServices/accounts/{account}", _WI_AUTO_SP, _COGNITIVE_CLIENTS,
       (_tg("cognitive services"), _p("--account", "account", "Name of the cognitive services account")),
       _COGNITIVE_KINDS, family_selector="account_kind",
       notes="Configuration names depend on the account kind: OpenAI, AIServices, anything else = CognitiveServices."),
    _t("neon-postgres", "Neon Serverless Postgres",
       "Neon.Postgres/organizations/{organization}", _SECRET_ONLY, _DB_CLIENTS,
       (_p("--server", "server", "Name of the Neon server (host)"),
        _p("--database", "database", "Name of the database")), s.NEON_POSTGRES, accepts_target_id=False,
       connstr_prop_params=(("Server", "host"), ("Database", "database")),
       notes="The CLI sends a placeholder target id and --server/--database as connection-string properties."),
    _t("mongodb-atlas", "MongoDB Atlas",
       "MongoDB.Atlas/organizations/{server}", _SECRET_ONLY, _DB_CLIENTS,
       (_tg("MongoDB Atlas"), _p("--server", "server", "Name of the MongoDB Atlas server")), s.MONGODB_ATLAS,
       accepts_target_id=False, notes="--secret takes only secret=<connection string>; the name is forced to NA."),
)  # fmt: skip

TARGETS_BY_NAME: dict[str, Target] = {t.name: t for t in TARGETS}
TARGET_NAMES: tuple[str, ...] = tuple(t.name for t in TARGETS)


def unknown_target_error(name: str, *, field: str = "--target-type") -> ArmError:
    return ArmError(
        ErrorCode.INVALID_ARGUMENT_VALUE,
        f"Unsupported target type '{shown(name)}' for {field}.",
        target=field,
        remedy=f"Valid values: {', '.join(TARGET_NAMES)}.",
    )


def get_target(name: str, *, field: str = "--target-type") -> Target:
    """The catalog entry for a CLI target name; `ArmError` listing the valid names otherwise."""
    try:
        return TARGETS_BY_NAME[name]
    except KeyError:
        raise unknown_target_error(name, field=field) from None


def find_target_by_id(resource_id: str) -> Target | None:
    """The target whose id pattern matches `resource_id` (case-insensitive prefix match), if any."""
    for target in TARGETS:
        if target.matches_id(resource_id):
            return target
    return None


def find_targets_by_provider_type(provider_type: str) -> tuple[Target, ...]:
    """Targets whose configurationNames `targetService` string equals `provider_type` (case-insensitive)."""
    wanted = provider_type.lower()
    return tuple(t for t in TARGETS if t.provider_type.lower() == wanted)


def target_of(properties: LinkerProperties) -> Target:
    """The catalog target of a linker: by target id for AzureResource, by type for Confluent."""
    service = properties.target_service
    if service is None:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "The connection has no target service.",
            target="properties.targetService",
            remedy="Set properties.targetService (for AKS: {type: AzureResource, id: <target resource id>}).",
        )
    if isinstance(service, AzureResource):
        target = find_target_by_id(service.id or "")
        if target is None:
            raise ArmError(
                ErrorCode.UNSUPPORTED_COMBINATION,
                f"Target resource id is not supported for an AKS connection: {shown(service.id, 512)}",
                target="properties.targetService.id",
                remedy=f"Connect to one of: {', '.join(t.name for t in TARGETS if t.accepts_target_id)} "
                "(see `servicelinker aks connection list-support-types`).",
            )
        return target
    for target in TARGETS:
        if service.type in target.target_service_types:
            return target
    raise ArmError(
        ErrorCode.UNSUPPORTED_COMBINATION,
        f"Target service type {shown(service.type)} is not supported for an AKS connection.",
        target="properties.targetService.type",
        remedy="Use AzureResource, ConfluentBootstrapServer or ConfluentSchemaRegistry.",
    )


def check_supported(properties: LinkerProperties) -> Target:
    """Validate the (AKS, target, auth type, client type) combination of a linker; return its target.

    The auth type is checked against the target's allowed configuration keys (workload identity =
    userAssignedIdentity, secret, servicePrincipalSecret, and the CSI path for Key Vault); a missing authInfo is
    accepted only when both auth and configuration are opted out (reference §2.4). A missing clientType means `none`.
    """
    target = target_of(properties)
    check_combination(target, properties)
    return target


def check_combination(target: Target, properties: LinkerProperties) -> None:
    """`ArmError(UnsupportedCombination)` when the linker's client type or auth type is not allowed for `target`."""
    _check_client_type(target, properties.client_type or "none")
    key = auth.config_key_for(properties)
    if key is None or key in target.config_keys:
        return
    if key == auth.APPCONFIG_EXTENSION_SECRET_KEY and AuthType.SECRET in target.config_keys:
        return  # a secret connection, its key named for the App Configuration extension
    allowed = ", ".join(auth.CONFIG_KEY_REST_AUTH[k] for k in target.config_keys)
    raise ArmError(
        ErrorCode.UNSUPPORTED_COMBINATION,
        f"Auth type '{shown(properties.auth_info.auth_type if properties.auth_info else key)}' is not supported "
        f"for target {target.name} on AKS.",
        target="properties.authInfo.authType",
        remedy=f"Use one of: {', '.join(_cli_names(target))} (REST: {allowed}).",
    )


def _cli_names(target: Target) -> Iterable[str]:
    return target.all_auth_names


def _check_client_type(target: Target, client_type: str) -> None:
    if client_type not in target.client_types:
        raise ArmError(
            ErrorCode.UNSUPPORTED_COMBINATION,
            f"Client type '{shown(client_type)}' is not supported for target {target.name} on AKS.",
            target="properties.clientType",
            remedy=f"Use one of: {', '.join(target.client_types)}.",
        )
