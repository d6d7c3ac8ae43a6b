"""Configuration names (reference §4): the keys written into the Kubernetes Secret, and how each value is composed.

The table maps (configuration family, auth key, client type) to an ordered list of `NameSpec`:
  name, value template, credential flag, description, required flag, connection-string style.
Auth keys are the REST authTypes `secret`, `userAssignedIdentity` (= AKS workload identity),
`servicePrincipalSecret`, plus `csi` for the Key Vault secrets-store CSI path (see auth.py).

Templates
---------
`{field}` is replaced by a value derived from `TargetFacts` and the linker (see `_FIELDS`); a bracketed segment
`[ port={nondefault_port}]` is dropped when any field inside it is empty. Nothing hard-codes an Azure domain:
hosts, ports, endpoints and TLS come from the facts, so the local cloud (`127.0.0.1:27010`, plain Redis, Azurite at
`http://127.0.0.1:27020/devstoreaccount1`) and Azure (`<s>.postgres.database.azure.com:5432`) each get values that
work against them, and Azure facts reproduce Azure's documented values exactly. Rules:
* TLS: `facts.ssl` (default True) -> PostgreSQL `sslmode=require|disable` (.NET `Ssl Mode=Require|Disable`),
  MySQL `sslmode=required|disabled` (.NET `SSL Mode=Required|None`, Go `tls=true|false`, PHP flag
  `MySQL_CLIENT_SSL|""`), Redis `rediss://|redis://` and `ssl=True|False`, `*_SSL` = `true|false`.
* Ports: `facts.port`, else the family's default (PostgreSQL 5432, MySQL 3306, SQL 1433, Redis 6380).
  Where Azure's value carries no port (PostgreSQL Go; `AZURE_POSTGRESQL_*`/`AZURE_MYSQL_*` for django, python,
  ruby; Redis host-only names), a non-default port is still delivered: as an optional ` port=N` segment, or as an
  optional `<PREFIX>_PORT` name (`required: false`), emitted only when the port is not the default.
* Storage connection strings: with `facts.endpoint_suffix` (Azure) the
  `DefaultEndpointsProtocol=https;AccountName=..;AccountKey=..;EndpointSuffix=core.windows.net` form; otherwise
  (Azurite, any non-Azure endpoint) the explicit form
  `DefaultEndpointsProtocol=http;AccountName=..;AccountKey=..;BlobEndpoint=..;QueueEndpoint=..;TableEndpoint=..;`
  listing the endpoints the facts carry.
* Credentials are escaped for the grammar they are inserted into, and only when needed, so ordinary values stay
  byte-identical to Azure's: JDBC URLs percent-encode the user and password; libpq strings single-quote a user or
  password with blanks, quotes or backslashes; ADO.NET strings (.NET, SQL Go) double-quote a value with `;`, quotes
  or outer blanks; mssql-jdbc brace-quotes a value with `;` or braces; Redis URLs percent-encode `/`, `@`, `:`, `%`,
  `?`, `#` in the access key.
* Azure Files for Spring: `azure.storage.file-endpoint` is optional (Azurite has no File service).

Linker-supplied values win over facts: `authInfo.name`/`secretInfo.value` (user, password: databases, Confluent
key/secret, MongoDB Atlas connection string), `authInfo.clientId`, the service principal's `secret`;
`targetService.endpoint` for Confluent. Id placeholders (`{database}`, `{account}`, `{key_space}`, ...) fill what
the facts leave out.

`configurationInfo` is applied after the defaults: `customizedKeys` renames (matching case-insensitively),
`additionalConnectionStringProperties` are appended to every connection-string value in that string's own syntax
(`;k=v;`, ` k=v`, `?k=v&..`, `,k=v`), `additionalConfigurations` are added (replacing a same-named value in place).
`configurationInfo.action = optOut` yields no configurations.

Decisions where the reference says NOT FOUND (or sources disagree)
------------------------------------------------------------------
* `dotnet-internal` produces the same names as `dotnet` everywhere.
* Client `none` for PostgreSQL / MySQL: HOST, USERNAME, DATABASE, PORT, SSL, PASSWORD (the "Other" tab of the
  Neon Serverless Postgres page, the only primary source with a `none` column for a Postgres-family target);
  SQL `none`: HOST, PORT, DATABASE, USERNAME, PASSWORD (the Ruby set). Redis `none` secret uses the `rediss://` URL.
  Non-database targets: `none` = the non-Spring names.
* Spring Boot where no Spring names are documented for an auth type (Redis WI/SP, Blob SP, Queue WI/SP, Cosmos
  Mongo/Cassandra WI/SP): the non-Spring names.
* Azure SQL .NET: the documented `Data Source=..;Initial Catalog=..;Password=..` lacks the user; `User ID=` is added.
* Event Hubs Spring secret: the doc's `spring.cloud.azure.storage.connection-string` is a doc error; we use
  `spring.cloud.azure.eventhub.connection-string` (same prefix as the doc's `spring.cloud.azure.eventhub.namespace`).
* Event Hubs `kafka-springBoot`: Spring Kafka against the Event Hubs Kafka endpoint (`<namespace>:9093`):
  secret -> `spring.kafka.bootstrap-servers`, `spring.kafka.properties.sasl.jaas.config` (PLAIN with
  `$ConnectionString`), `spring.kafka.properties.sasl.mechanism`, `spring.kafka.properties.security.protocol`;
  WI -> bootstrap servers + `spring.cloud.azure.credential.managed-identity-enabled` + `...client-id`;
  SP -> bootstrap servers + `spring.cloud.azure.credential.client-id`/`client-secret` +
  `spring.cloud.azure.profile.tenant-id`.
* App Configuration workload identity: `ENDPOINT`, `CLIENTID` (docs), plus `SCOPE` for client `none` (the RP's own
  configurationNames example); its value is `facts.token_scope` or `https://azconfig.io/.default`.
* Redis service principal: HOST, CLIENTID, CLIENTSECRET, TENANTID (pattern); Redis Enterprise = Redis names.
* Cosmos Gremlin workload identity: the doc's `AZURE_CLIENTID` is taken as `AZURE_COSMOS_CLIENTID` (every other
  Cosmos API uses the prefixed name).
* Key Vault CSI (all client types): `AZURE_KEYVAULT_NAME`, `AZURE_KEYVAULT_TENANTID`, `AZURE_KEYVAULT_CLIENTID`
  (the add-on identity's client id, from facts).
* Application Insights: `APPLICATIONINSIGHTS_CONNECTION_STRING` for every client type.
* MongoDB Atlas: `MONGODBATLAS_CLUSTER_CONNECTIONSTRING` (docs, every tab), also for Spring Boot; the value is the
  connection string given as `--secret secret=`.
* Neon Serverless Postgres: the PostgreSQL names with prefix `NEON_POSTGRESQL_` (docs).
* Cognitive Services: the account kind picks the names (OpenAI / AIServices / anything else = CognitiveServices).
* Credential classification (§6.2 gives no RP rule): a name is a credential when its value carries a password,
  key, client secret, or a connection string / SASL / user-info string embedding one. Connection strings that only
  carry an endpoint and a client id (SignalR with workload identity) are not credentials. Names added through
  `additionalConfigurations` are classified by `looks_like_credential` (password/secret/key/token/connection string).

Pure data and functions: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import SecretStr

from servicelinker.catalog import auth
from servicelinker.catalog.auth import CSI_CONFIG_KEY
from servicelinker.catalog.targets import Target, check_combination, target_of
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId
from servicelinker.model.linker import (
    ActionType,
    AuthType,
    ConfigurationName,
    ConfigurationNameItem,
    ConfigurationNameResult,
    ConfigurationNames,
    ConfigurationResult,
    LinkerProperties,
    LinkerResource,
    SecretAuthInfo,
    ServicePrincipalSecretAuthInfo,
    UserAssignedIdentityAuthInfo,
    ValueSecretInfo,
)
from servicelinker.model.records import Configuration, TargetFacts

SECRET = AuthType.SECRET
UAI = AuthType.USER_ASSIGNED_IDENTITY
SP = AuthType.SERVICE_PRINCIPAL_SECRET
CSI = CSI_CONFIG_KEY

#: Connection-string syntaxes, for appending `additionalConnectionStringProperties`.
SEMICOLON = "semicolon"  # k=v;k=v;
SPACE = "space"  # k=v k=v
QUERY = "query"  # url?k=v&k=v
COMMA = "comma"  # host:port,k=v,k=v

COSMOS_KEYS_API_VERSION = "2021-04-15"

#: Default port per family (used when facts carry none, and to decide whether a port must be added).
DEFAULT_PORTS: dict[str, int] = {
    "postgresql": 5432,
    "neon-postgres": 5432,
    "mysql": 3306,
    "sql": 1433,
    "redis": 6380,
    "cosmos-cassandra": 10350,
    "cosmos-gremlin": 443,
}
#: Default data-plane token scope per family (`{token_scope}`).
DEFAULT_TOKEN_SCOPES: dict[str, str] = {"appconfig": "https://azconfig.io/.default"}
#: Default database per family when neither facts nor the id carry one.
DEFAULT_DATABASES: dict[str, str] = {"redis": "0"}


# ============================================================================================ table


@dataclass(frozen=True)
class NameSpec:
    """One configuration name of the table."""

    name: str
    template: str
    credential: bool = False
    description: str = ""
    #: False: emitted only when the template yields a non-empty value (e.g. a non-default port).
    required: bool = True
    #: Connection-string syntax when the value is a connection string (None: not one).
    connstr: str | None = None


_DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("_CONNECTIONSTRING", "Connection string"),
    ("_CONNECTION_STRING", "Connection string"),
    ("_CLIENTID", "The client(application) ID of the identity"),
    ("_CLIENTSECRET", "The client secret of the service principal"),
    ("_TENANTID", "The tenant ID"),
    ("_SCOPE", "The scope required for getting the access token"),
    ("_RESOURCEENDPOINT", "The resource endpoint"),
    ("_LISTCONNECTIONSTRINGURL", "The URL to list the connection strings of the account"),
    ("_LISTKEYURL", "The URL to list the keys of the account"),
    ("_FULLYQUALIFIEDNAMESPACE", "The fully qualified namespace"),
    ("_PASSWORD", "Password"),
    ("_HOST", "Host name"),
    ("_HOSTNAME", "Host name"),
    ("_PORT", "Port"),
    ("_SSL", "Whether to use SSL/TLS"),
    ("_USER", "User name"),
    ("_USERNAME", "User name"),
    ("_DATABASE", "Database name"),
    ("_NAME", "Name"),
    ("_ENDPOINT", "Endpoint"),
    ("_KEY", "Access key"),
)


def _describe(name: str) -> str:
    for suffix, text in _DESCRIPTIONS:
        if name.upper().endswith(suffix):
            return text
    return name.rsplit(".", 1)[-1].replace("-", " ").capitalize()


def n(
    name: str,
    template: str,
    description: str = "",
    *,
    cred: bool = False,
    connstr: str | None = None,
    required: bool = True,
) -> NameSpec:
    """A table entry (description defaults from the name's suffix)."""
    return NameSpec(name, template, cred, description or _describe(name), required, connstr)


def opt(name: str, template: str, description: str = "") -> NameSpec:
    """An optional entry: emitted only when the template yields a value."""
    return n(name, template, description, required=False)


#: (family, auth key, client type) -> ordered names.
CONFIGURATION_TABLE: dict[tuple[str, str, str], tuple[NameSpec, ...]] = {}


def _add(family: str, auth_key: str, clients: Iterable[str], *specs: NameSpec) -> None:
    for client in clients:
        CONFIGURATION_TABLE[(family, auth_key, client)] = specs


# ------------------------------------------------------------------------ client groups
DOTNET = ("dotnet", "dotnet-internal")
SPRING = ("springBoot",)
ALL_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "php", "ruby", "django", "springBoot",
               "kafka-springBoot", "none")  # fmt: skip


def _non_spring(*extra_excluded: str) -> tuple[str, ...]:
    return tuple(c for c in ALL_CLIENTS if c not in ("springBoot", "kafka-springBoot", *extra_excluded))


# ------------------------------------------------------------------------ PostgreSQL family (also Neon)


def _postgres(family: str, p: str) -> None:
    """§4.4 (secret only on AKS); `p` is the prefix (AZURE_POSTGRESQL or NEON_POSTGRESQL)."""
    cs = f"{p}_CONNECTIONSTRING"
    _add(family, SECRET, DOTNET, n(cs, "Server={host};Database={database};Port={port};Ssl Mode={pg_ssl_mode_dotnet};"
                                       "User Id={user_ado};Password={password_ado};", ".NET connection string",
                                   cred=True, connstr=SEMICOLON))  # fmt: skip
    _add(family, SECRET, ("go",), n(cs, "host={host}[ port={nondefault_port}] dbname={database} sslmode={pg_sslmode} "
                                        "user={user_pq} password={password_pq}", "Go connection string",
                                    cred=True, connstr=SPACE))  # fmt: skip
    _add(family, SECRET, ("java",), n(cs, "jdbc:postgresql://{host}:{port}/{database}?sslmode={pg_sslmode}"
                                          "&user={user_url}&password={password_url}", "JDBC connection string",
                                      cred=True, connstr=QUERY))  # fmt: skip
    _add(family, SECRET, SPRING,
         n("spring.datasource.url", "jdbc:postgresql://{host}:{port}/{database}?sslmode={pg_sslmode}",
           "Database URL", connstr=QUERY),
         n("spring.datasource.username", "{user}", "Database username"),
         n("spring.datasource.password", "{password}", "Database password", cred=True))
    _add(family, SECRET, ("nodejs",),
         n(f"{p}_HOST", "{host}"), n(f"{p}_USER", "{user}"), n(f"{p}_PASSWORD", "{password}", cred=True),
         n(f"{p}_DATABASE", "{database}"), n(f"{p}_PORT", "{port}"), n(f"{p}_SSL", "{ssl}"))
    _add(family, SECRET, ("php", "ruby"),
         n(cs, "host={host} port={port} dbname={database} sslmode={pg_sslmode} user={user_pq} password={password_pq}",
           "libpq connection string", cred=True, connstr=SPACE))
    _add(family, SECRET, ("python",),
         n(cs, "dbname={database} host={host} port={port} sslmode={pg_sslmode} user={user_pq} password={password_pq}",
           "psycopg2 connection string", cred=True, connstr=SPACE))
    _add(family, SECRET, ("django",),
         n(f"{p}_NAME", "{database}", "Database name"), n(f"{p}_HOST", "{host}"), n(f"{p}_USER", "{user}"),
         n(f"{p}_PASSWORD", "{password}", cred=True), opt(f"{p}_PORT", "{nondefault_port}", "Port (non-default only)"))
    _add(family, SECRET, ("none",),
         n(f"{p}_HOST", "{host}"), n(f"{p}_USERNAME", "{user}"), n(f"{p}_DATABASE", "{database}"),
         n(f"{p}_PORT", "{port}"), n(f"{p}_SSL", "{ssl}"), n(f"{p}_PASSWORD", "{password}", cred=True))


_postgres("postgresql", "AZURE_POSTGRESQL")
_postgres("neon-postgres", "NEON_POSTGRESQL")

# ------------------------------------------------------------------------ MySQL (§4.5)
_M = "AZURE_MYSQL"
_add("mysql", SECRET, DOTNET, n(f"{_M}_CONNECTIONSTRING", "Server={host};Database={database};Port={port};"
                                "User Id={user_ado};Password={password_ado};SSL Mode={mysql_ssl_mode_dotnet}",
                                ".NET connection string", cred=True, connstr=SEMICOLON))  # fmt: skip
_add("mysql", SECRET, ("java",), n(f"{_M}_CONNECTIONSTRING", "jdbc:mysql://{host}:{port}/{database}?sslmode="
                                   "{mysql_sslmode}&user={user_url}&password={password_url}", "JDBC connection string",
                                   cred=True, connstr=QUERY))  # fmt: skip
_add("mysql", SECRET, SPRING,
     n("spring.datasource.url", "jdbc:mysql://{host}:{port}/{database}?sslmode={mysql_sslmode}", "Database URL",
       connstr=QUERY),
     n("spring.datasource.username", "{user}", "Database username"),
     n("spring.datasource.password", "{password}", "Database password", cred=True))
_add("mysql", SECRET, ("python", "django"),
     n(f"{_M}_NAME", "{database}", "Database name"), n(f"{_M}_HOST", "{host}"), n(f"{_M}_USER", "{user}"),
     n(f"{_M}_PASSWORD", "{password}", cred=True), opt(f"{_M}_PORT", "{nondefault_port}", "Port (non-default only)"))
_add("mysql", SECRET, ("go",), n(f"{_M}_CONNECTIONSTRING", "{user}:{password}@tcp({host}:{port})/{database}?tls={ssl}",
                                 "Go connection string", cred=True, connstr=QUERY))  # fmt: skip
_add("mysql", SECRET, ("nodejs",),
     n(f"{_M}_HOST", "{host}"), n(f"{_M}_USER", "{user}"), n(f"{_M}_PASSWORD", "{password}", cred=True),
     n(f"{_M}_DATABASE", "{database}"), n(f"{_M}_PORT", "{port}"), n(f"{_M}_SSL", "{ssl}"))
_add("mysql", SECRET, ("php",),
     n(f"{_M}_DBNAME", "{database}", "Database name"), n(f"{_M}_HOST", "{host}"), n(f"{_M}_PORT", "{port}"),
     n(f"{_M}_FLAG", "{mysql_php_flag}", "SSL flag"), n(f"{_M}_USERNAME", "{user}"),
     n(f"{_M}_PASSWORD", "{password}", cred=True))
_add("mysql", SECRET, ("ruby",),
     n(f"{_M}_DATABASE", "{database}"), n(f"{_M}_HOST", "{host}"), n(f"{_M}_USERNAME", "{user}"),
     n(f"{_M}_PASSWORD", "{password}", cred=True), n(f"{_M}_SSLMODE", "{mysql_sslmode}", "SSL mode"),
     opt(f"{_M}_PORT", "{nondefault_port}", "Port (non-default only)"))
_add("mysql", SECRET, ("none",),
     n(f"{_M}_HOST", "{host}"), n(f"{_M}_USERNAME", "{user}"), n(f"{_M}_DATABASE", "{database}"),
     n(f"{_M}_PORT", "{port}"), n(f"{_M}_SSL", "{ssl}"), n(f"{_M}_PASSWORD", "{password}", cred=True))

# ------------------------------------------------------------------------ Azure SQL (§4.6)
_S = "AZURE_SQL"
_add("sql", SECRET, DOTNET, n(f"{_S}_CONNECTIONSTRING", "Data Source={host},{port};Initial Catalog={database};"
                              "User ID={user_ado};Password={password_ado}", ".NET connection string", cred=True,
                              connstr=SEMICOLON))  # fmt: skip
_add("sql", SECRET, ("java",), n(f"{_S}_CONNECTIONSTRING", "jdbc:sqlserver://{host}:{port};databaseName={database};"
                                 "user={user_mssql};password={password_mssql};", "JDBC connection string", cred=True,
                                 connstr=SEMICOLON))  # fmt: skip
_add("sql", SECRET, SPRING,
     n("spring.datasource.url", "jdbc:sqlserver://{host}:{port};databaseName={database};", "Database URL",
       connstr=SEMICOLON),
     n("spring.datasource.username", "{user}", "Database username"),
     n("spring.datasource.password", "{password}", "Database password", cred=True))
_add("sql", SECRET, ("python",),
     n(f"{_S}_SERVER", "{host}", "Server"), n(f"{_S}_PORT", "{port}"), n(f"{_S}_DATABASE", "{database}"),
     n(f"{_S}_USER", "{user}"), n(f"{_S}_PASSWORD", "{password}", cred=True))
_add("sql", SECRET, ("django",),
     n(f"{_S}_HOST", "{host}"), n(f"{_S}_PORT", "{port}"), n(f"{_S}_NAME", "{database}", "Database name"),
     n(f"{_S}_USER", "{user}"), n(f"{_S}_PASSWORD", "{password}", cred=True))
_add("sql", SECRET, ("go",), n(f"{_S}_CONNECTIONSTRING", "server={host};port={port};database={database};"
                               "user id={user_ado};password={password_ado};", "Go connection string", cred=True,
                               connstr=SEMICOLON))  # fmt: skip
_add("sql", SECRET, ("nodejs",),
     n(f"{_S}_SERVER", "{host}", "Server"), n(f"{_S}_PORT", "{port}"), n(f"{_S}_DATABASE", "{database}"),
     n(f"{_S}_USERNAME", "{user}"), n(f"{_S}_PASSWORD", "{password}", cred=True))
_add("sql", SECRET, ("php",),
     n(f"{_S}_SERVERNAME", "{host},{port}", "Server name"), n(f"{_S}_DATABASE", "{database}"),
     n(f"{_S}_UID", "{user}", "User name"), n(f"{_S}_PASSWORD", "{password}", cred=True))
_add("sql", SECRET, ("ruby", "none"),
     n(f"{_S}_HOST", "{host}"), n(f"{_S}_PORT", "{port}"), n(f"{_S}_DATABASE", "{database}"),
     n(f"{_S}_USERNAME", "{user}"), n(f"{_S}_PASSWORD", "{password}", cred=True))

# ------------------------------------------------------------------------ Redis / Redis Enterprise (§4.7)
_R = "AZURE_REDIS"
_add("redis", SECRET, DOTNET, n(f"{_R}_CONNECTIONSTRING", "{host}:{port},password={account_key},ssl={ssl_cap},"
                                "defaultDatabase={database}", "StackExchange.Redis connection string", cred=True,
                                connstr=COMMA))  # fmt: skip
_add("redis", SECRET, ("java", "python", "go", "nodejs", "none"),
     n(f"{_R}_CONNECTIONSTRING", "{redis_scheme}://:{account_key_url}@{host}:{port}/{database}", "Redis URL",
       cred=True, connstr=QUERY))
_add("redis", SECRET, SPRING,
     n("spring.redis.host", "{host}", "Redis host"), n("spring.redis.port", "{port}", "Redis port"),
     n("spring.redis.database", "{database}", "Redis database"),
     n("spring.redis.password", "{account_key}", "Redis access key", cred=True),
     n("spring.redis.ssl", "{ssl}", "Whether to use SSL/TLS"))
_add("redis", UAI, _non_spring("kafka-springBoot") + SPRING,
     n(f"{_R}_HOST", "{host}"), n(f"{_R}_CLIENTID", "{client_id}"),
     opt(f"{_R}_PORT", "{nondefault_port}", "Port (non-default only)"))
_add("redis", SP, _non_spring() + SPRING,
     n(f"{_R}_HOST", "{host}"), n(f"{_R}_CLIENTID", "{client_id}"),
     n(f"{_R}_CLIENTSECRET", "{client_secret}", cred=True), n(f"{_R}_TENANTID", "{tenant_id}"),
     opt(f"{_R}_PORT", "{nondefault_port}", "Port (non-default only)"))

# ------------------------------------------------------------------------ Cosmos DB (§4.11 and docs per API)
_C = "AZURE_COSMOS"
_LIST_CS = n(f"{_C}_LISTCONNECTIONSTRINGURL", "{list_connection_strings_url}")
_LIST_KEYS = n(f"{_C}_LISTKEYURL", "{list_keys_url}")
_C_SCOPE = n(f"{_C}_SCOPE", "{management_scope}")
_C_CLIENTID = n(f"{_C}_CLIENTID", "{client_id}")
_C_SECRET = n(f"{_C}_CLIENTSECRET", "{client_secret}", cred=True)
_C_TENANT = n(f"{_C}_TENANTID", "{tenant_id}")
_C_ENDPOINT = n(f"{_C}_RESOURCEENDPOINT", "{endpoint}")
_COSMOS_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "php", "springBoot", "none")

# cosmos-sql
_add("cosmos-sql", UAI, _non_spring(), _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_ENDPOINT)
_add("cosmos-sql", UAI, SPRING,
     n("spring.cloud.azure.cosmos.credential.managed-identity-enabled", "true", "Managed identity enabled"),
     n("spring.cloud.azure.cosmos.database", "{database}", "Database name"),
     n("spring.cloud.azure.cosmos.endpoint", "{endpoint}", "Endpoint"),
     n("spring.cloud.azure.cosmos.credential.client-id", "{client_id}", "Client ID"))
_add("cosmos-sql", SECRET, _non_spring(),
     n(f"{_C}_CONNECTIONSTRING", "AccountEndpoint={endpoint};AccountKey={account_key}", cred=True, connstr=SEMICOLON))
_add("cosmos-sql", SECRET, SPRING,
     n("azure.cosmos.key", "{account_key}", "Account key", cred=True),
     n("azure.cosmos.database", "{database}", "Database name"), n("azure.cosmos.uri", "{endpoint}", "Endpoint"),
     n("spring.cloud.azure.cosmos.key", "{account_key}", "Account key", cred=True),
     n("spring.cloud.azure.cosmos.database", "{database}", "Database name"),
     n("spring.cloud.azure.cosmos.endpoint", "{endpoint}", "Endpoint"))
_add("cosmos-sql", SP, _non_spring(), _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_SECRET, _C_TENANT, _C_ENDPOINT)
_add("cosmos-sql", SP, SPRING,
     n("spring.cloud.azure.cosmos.credential.client-id", "{client_id}", "Client ID"),
     n("spring.cloud.azure.cosmos.credential.client-secret", "{client_secret}", "Client secret", cred=True),
     n("spring.cloud.azure.cosmos.profile.tenant-id", "{tenant_id}", "Tenant ID"),
     n("spring.cloud.azure.cosmos.database", "{database}", "Database name"),
     n("spring.cloud.azure.cosmos.endpoint", "{endpoint}", "Endpoint"))

# cosmos-mongo
_add("cosmos-mongo", UAI, _COSMOS_CLIENTS, _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_ENDPOINT)
_add("cosmos-mongo", SECRET, _non_spring(),
     n(f"{_C}_CONNECTIONSTRING", "{connection_string}", "MongoDB connection string", cred=True, connstr=QUERY))
_add("cosmos-mongo", SECRET, SPRING,
     n("spring.data.mongodb.database", "{database}", "Database name"),
     n("spring.data.mongodb.uri", "{connection_string}", "Database URI", cred=True, connstr=QUERY))
_add("cosmos-mongo", SP, _COSMOS_CLIENTS, _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_SECRET, _C_TENANT, _C_ENDPOINT)

# cosmos-cassandra
_CASS = (n(f"{_C}_CONTACTPOINT", "{host}", "Contact point"), n(f"{_C}_PORT", "{port}"),
         n(f"{_C}_KEYSPACE", "{keyspace}", "Keyspace"), n(f"{_C}_USERNAME", "{account_name}"))  # fmt: skip
_add("cosmos-cassandra", UAI, _COSMOS_CLIENTS, _LIST_KEYS, _C_SCOPE, _C_ENDPOINT, *_CASS, _C_CLIENTID)
_add("cosmos-cassandra", SECRET, _non_spring(), *_CASS, n(f"{_C}_PASSWORD", "{account_key}", cred=True))
_add("cosmos-cassandra", SECRET, SPRING,
     n("spring.data.cassandra.contact-points", "{host}", "Contact point"),
     n("spring.data.cassandra.port", "{port}", "Port"),
     n("spring.data.cassandra.keyspace-name", "{keyspace}", "Keyspace"),
     n("spring.data.cassandra.username", "{account_name}", "User name"),
     n("spring.data.cassandra.password", "{account_key}", "Password", cred=True),
     n("spring.data.cassandra.local-datacenter", "{location}", "Azure region"),
     n("spring.data.cassandra.ssl", "{ssl}", "Whether to use SSL/TLS"))
_add("cosmos-cassandra", SP, _COSMOS_CLIENTS, _LIST_KEYS, _C_SCOPE, _C_ENDPOINT, *_CASS, _C_CLIENTID, _C_SECRET,
     _C_TENANT)

# cosmos-gremlin
_GREM = (n(f"{_C}_HOSTNAME", "{host}"), n(f"{_C}_PORT", "{port}"),
         n(f"{_C}_USERNAME", "/dbs/{database}/colls/{graph}", "User name (/dbs/<database>/colls/<graph>)"))  # fmt: skip
_add("cosmos-gremlin", UAI, _COSMOS_CLIENTS, _LIST_KEYS, _C_SCOPE, _C_ENDPOINT, *_GREM, _C_CLIENTID)
_add("cosmos-gremlin", SECRET, _COSMOS_CLIENTS, *_GREM, n(f"{_C}_PASSWORD", "{account_key}", cred=True))
_add("cosmos-gremlin", SP, _COSMOS_CLIENTS, _LIST_KEYS, _C_SCOPE, _C_ENDPOINT, *_GREM, _C_CLIENTID, _C_SECRET,
     _C_TENANT)

# cosmos-table
_add("cosmos-table", UAI, _COSMOS_CLIENTS, _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_ENDPOINT)
_add("cosmos-table", SECRET, _COSMOS_CLIENTS,
     n(f"{_C}_CONNECTIONSTRING", "{connection_string}", cred=True, connstr=SEMICOLON))
_add("cosmos-table", SP, _COSMOS_CLIENTS, _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_SECRET, _C_TENANT, _C_ENDPOINT)

# ------------------------------------------------------------------------ Storage (§4.1, §4.2)
_STORAGE_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "php", "ruby", "springBoot", "none")


def _storage(family: str, kind: str, endpoint_field: str) -> None:
    """Workload identity, connection string and service principal names of one storage service."""
    p = f"AZURE_STORAGE{kind}"
    endpoint = n(f"{p}_RESOURCEENDPOINT", "{" + endpoint_field + "}")
    client_id = n(f"{p}_CLIENTID", "{client_id}")
    _add(family, UAI, _STORAGE_CLIENTS, endpoint, client_id)
    _add(family, SECRET, _STORAGE_CLIENTS,
         n(f"{p}_CONNECTIONSTRING", "{storage_connection_string}", cred=True, connstr=SEMICOLON))
    _add(family, SP, _STORAGE_CLIENTS, endpoint, client_id, n(f"{p}_CLIENTSECRET", "{client_secret}", cred=True),
         n(f"{p}_TENANTID", "{tenant_id}"))


_storage("storage-blob", "BLOB", "blob_endpoint")
_add("storage-blob", UAI, SPRING,
     n("spring.cloud.azure.storage.blob.credential.managed-identity-enabled", "true", "Managed identity enabled"),
     n("spring.cloud.azure.storage.blob.account-name", "{account_name}", "Account name"),
     n("spring.cloud.azure.storage.blob.endpoint", "{blob_endpoint}", "Blob endpoint"),
     n("spring.cloud.azure.storage.blob.credential.client-id", "{client_id}", "Client ID"))
_add("storage-blob", SECRET, SPRING,
     n("azure.storage.account-name", "{account_name}", "Account name"),
     n("azure.storage.account-key", "{account_key}", "Account key", cred=True),
     n("azure.storage.blob-endpoint", "{blob_endpoint}", "Blob endpoint"),
     n("spring.cloud.azure.storage.blob.account-name", "{account_name}", "Account name"),
     n("spring.cloud.azure.storage.blob.account-key", "{account_key}", "Account key", cred=True),
     n("spring.cloud.azure.storage.blob.endpoint", "{blob_endpoint}", "Blob endpoint"))
_storage("storage-queue", "QUEUE", "queue_endpoint")
_add("storage-queue", SECRET, SPRING,
     n("spring.cloud.azure.storage.account", "{account_name}", "Account name"),
     n("spring.cloud.azure.storage.access-key", "{account_key}", "Account key", cred=True))
_storage("storage-table", "TABLE", "table_endpoint")
_add("storage-file", SECRET, _STORAGE_CLIENTS,
     n("AZURE_STORAGEFILE_CONNECTIONSTRING", "{storage_connection_string}", cred=True, connstr=SEMICOLON))
_add("storage-file", SECRET, SPRING,
     n("azure.storage.account-name", "{account_name}", "Account name"),
     n("azure.storage.account-key", "{account_key}", "Account key", cred=True),
     opt("azure.storage.file-endpoint", "{file_endpoint_or_empty}", "File endpoint (when the account has one)"))

# ------------------------------------------------------------------------ Key Vault (§4.3)
_K = "AZURE_KEYVAULT"
_KV_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "none")
_add("keyvault", UAI, _KV_CLIENTS,
     n(f"{_K}_SCOPE", "{management_scope}"), n(f"{_K}_RESOURCEENDPOINT", "{vault_uri}"),
     n(f"{_K}_CLIENTID", "{client_id}"))
_add("keyvault", UAI, SPRING,
     n("azure.keyvault.uri", "{vault_uri}", "Key Vault URI"), n("azure.keyvault.client-id", "{client_id}", "Client ID"),
     n("azure.keyvault.scope", "{management_scope}", "Scope"),
     n("spring.cloud.azure.keyvault.secret.credential.managed-identity-enabled", "true", "Managed identity enabled"),
     n("spring.cloud.azure.keyvault.secret.endpoint", "{vault_uri}", "Key Vault URI"),
     n("spring.cloud.azure.keyvault.secret.credential.client-id", "{client_id}", "Client ID"))
_add("keyvault", SP, _KV_CLIENTS,
     n(f"{_K}_SCOPE", "{management_scope}"), n(f"{_K}_RESOURCEENDPOINT", "{vault_uri}"),
     n(f"{_K}_CLIENTID", "{client_id}"), n(f"{_K}_CLIENTSECRET", "{client_secret}", cred=True),
     n(f"{_K}_TENANTID", "{tenant_id}"))
_add("keyvault", SP, SPRING,
     n("azure.keyvault.uri", "{vault_uri}", "Key Vault URI"), n("azure.keyvault.client-id", "{client_id}", "Client ID"),
     n("azure.keyvault.client-key", "{client_secret}", "Client secret", cred=True),
     n("azure.keyvault.tenant-id", "{tenant_id}", "Tenant ID"),
     n("azure.keyvault.scope", "{management_scope}", "Scope"),
     n("spring.cloud.azure.keyvault.secret.endpoint", "{vault_uri}", "Key Vault URI"),
     n("spring.cloud.azure.keyvault.secret.credential.client-id", "{client_id}", "Client ID"),
     n("spring.cloud.azure.keyvault.secret.credential.client-secret", "{client_secret}", "Client secret", cred=True),
     n("spring.cloud.azure.keyvault.secret.profile.tenant-id", "{tenant_id}", "Tenant ID"))
_add("keyvault", CSI, _KV_CLIENTS + SPRING,
     n(f"{_K}_NAME", "{vault_name}", "Key Vault name (SecretProviderClass keyvaultName)"),
     n(f"{_K}_TENANTID", "{tenant_id}", "Tenant ID (SecretProviderClass tenantId)"),
     n(f"{_K}_CLIENTID", "{client_id}", "Client ID of the azureKeyvaultSecretsProvider add-on identity "
                                        "(SecretProviderClass userAssignedIdentityID)"))  # fmt: skip

# ------------------------------------------------------------------------ App Configuration (§4.10)
_A = "AZURE_APPCONFIGURATION"
_AC_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs")
_add("appconfig", UAI, _AC_CLIENTS, n(f"{_A}_ENDPOINT", "{endpoint}", "App configuration endpoint"),
     n(f"{_A}_CLIENTID", "{client_id}"))
_add("appconfig", UAI, ("none",), n(f"{_A}_ENDPOINT", "{endpoint}", "App configuration endpoint"),
     n(f"{_A}_CLIENTID", "{client_id}"), n(f"{_A}_SCOPE", "{token_scope}", "The scopes required for getting token."))
_add("appconfig", SECRET, (*_AC_CLIENTS, "none"),
     n(f"{_A}_CONNECTIONSTRING", "{connection_string}", cred=True, connstr=SEMICOLON))
_add("appconfig", SP, (*_AC_CLIENTS, "none"),
     n(f"{_A}_ENDPOINT", "{endpoint}", "App configuration endpoint"), n(f"{_A}_CLIENTID", "{client_id}"),
     n(f"{_A}_CLIENTSECRET", "{client_secret}", cred=True), n(f"{_A}_TENANTID", "{tenant_id}"))

# ------------------------------------------------------------------------ Service Bus / Event Hubs (§4.8, §4.9)


def _messaging(family: str, p: str, spring_ns: str) -> None:
    fqns = n(f"{p}_FULLYQUALIFIEDNAMESPACE", "{namespace_fqdn}")
    client_id = n(f"{p}_CLIENTID", "{client_id}")
    clients = _non_spring()
    _add(family, UAI, clients, fqns, client_id)
    _add(family, UAI, SPRING, n(f"{spring_ns}.namespace", "{namespace_name}", "Namespace"),
         n("spring.cloud.azure.client-id", "{client_id}", "Client ID"))
    _add(family, SECRET, clients, n(f"{p}_CONNECTIONSTRING", "{connection_string}", cred=True, connstr=SEMICOLON))
    _add(family, SECRET, SPRING,
         n(f"{spring_ns}.connection-string", "{connection_string}", "Connection string", cred=True, connstr=SEMICOLON))
    _add(family, SP, clients, fqns, client_id, n(f"{p}_CLIENTSECRET", "{client_secret}", cred=True),
         n(f"{p}_TENANTID", "{tenant_id}"))
    _add(family, SP, SPRING, n(f"{spring_ns}.namespace", "{namespace_name}", "Namespace"),
         n("spring.cloud.azure.client-id", "{client_id}", "Client ID"),
         n("spring.cloud.azure.tenant-id", "{tenant_id}", "Tenant ID"),
         n("spring.cloud.azure.client-secret", "{client_secret}", "Client secret", cred=True))


_messaging("servicebus", "AZURE_SERVICEBUS", "spring.cloud.azure.servicebus")
_messaging("eventhub", "AZURE_EVENTHUB", "spring.cloud.azure.eventhub")
_KAFKA = ("kafka-springBoot",)
_BOOTSTRAP = n("spring.kafka.bootstrap-servers", "{namespace_fqdn}:9093", "Kafka bootstrap servers")
_add("eventhub", SECRET, _KAFKA, _BOOTSTRAP,
     n("spring.kafka.properties.sasl.jaas.config", 'org.apache.kafka.common.security.plain.PlainLoginModule required '
       'username="$ConnectionString" password="{connection_string}";', "SASL JAAS configuration", cred=True),
     n("spring.kafka.properties.sasl.mechanism", "PLAIN", "SASL mechanism"),
     n("spring.kafka.properties.security.protocol", "SASL_SSL", "Security protocol"))  # fmt: skip
_add("eventhub", UAI, _KAFKA, _BOOTSTRAP,
     n("spring.cloud.azure.credential.managed-identity-enabled", "true", "Managed identity enabled"),
     n("spring.cloud.azure.credential.client-id", "{client_id}", "Client ID"))
_add("eventhub", SP, _KAFKA, _BOOTSTRAP,
     n("spring.cloud.azure.credential.client-id", "{client_id}", "Client ID"),
     n("spring.cloud.azure.credential.client-secret", "{client_secret}", "Client secret", cred=True),
     n("spring.cloud.azure.profile.tenant-id", "{tenant_id}", "Tenant ID"))

# ------------------------------------------------------------------------ SignalR, Web PubSub (§4.13)
_SIG = "AZURE_SIGNALR_CONNECTIONSTRING"
_add("signalr", UAI, ALL_CLIENTS,
     n(_SIG, "Endpoint={endpoint};AuthType=aad;client-id={client_id};Version=1.0;", connstr=SEMICOLON))
_add("signalr", SECRET, ALL_CLIENTS,
     n(_SIG, "Endpoint={endpoint};AccessKey={account_key};Version=1.0;", cred=True, connstr=SEMICOLON))
_add("signalr", SP, ALL_CLIENTS,
     n(_SIG, "Endpoint={endpoint};AuthType=aad;ClientId={client_id};ClientSecret={client_secret};"
             "TenantId={tenant_id};Version=1.0;", cred=True, connstr=SEMICOLON))  # fmt: skip
_W = "AZURE_WEBPUBSUB"
_add("webpubsub", UAI, ALL_CLIENTS, n(f"{_W}_HOST", "{host}"), n(f"{_W}_CLIENTID", "{client_id}"))
_add("webpubsub", SECRET, ALL_CLIENTS,
     n(f"{_W}_CONNECTIONSTRING", "{connection_string}", cred=True, connstr=SEMICOLON))
_add("webpubsub", SP, ALL_CLIENTS, n(f"{_W}_HOST", "{host}"), n(f"{_W}_CLIENTID", "{client_id}"),
     n(f"{_W}_CLIENTSECRET", "{client_secret}", cred=True), n(f"{_W}_TENANTID", "{tenant_id}"))

# ------------------------------------------------------------------------ Confluent Cloud (§4.13)
_JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required username='{user}' password='{password}';"
_add("confluent-bootstrap", SECRET, _non_spring(),
     n("AZURE_CONFLUENTCLOUDKAFKA_BOOTSTRAPSERVER", "{endpoint}", "Kafka bootstrap server"),
     n("AZURE_CONFLUENTCLOUDKAFKA_KAFKASASLCONFIG", _JAAS, "Kafka SASL configuration", cred=True))
_add("confluent-bootstrap", SECRET, SPRING,
     n("spring.kafka.properties.bootstrap.servers", "{endpoint}", "Kafka bootstrap server"),
     n("spring.kafka.properties.sasl.jaas.config", _JAAS, "Kafka SASL configuration", cred=True))
_add("confluent-schema-registry", SECRET, _non_spring(),
     n("AZURE_CONFLUENTCLOUDSCHEMAREGISTRY_URL", "{endpoint}", "Schema registry URL"),
     n("AZURE_CONFLUENTCLOUDSCHEMAREGISTRY_USERINFO", "{user}:{password}", "Schema registry user info", cred=True))
_add("confluent-schema-registry", SECRET, SPRING,
     n("spring.kafka.properties.schema.registry.url", "{endpoint}", "Schema registry URL"),
     n("spring.kafka.properties.schema.registry.basic.auth.user.info", "{user}:{password}",
       "Schema registry user info", cred=True))

# ------------------------------------------------------------------------ Application Insights, MongoDB Atlas
_add("app-insights", SECRET, ALL_CLIENTS,
     n("APPLICATIONINSIGHTS_CONNECTION_STRING", "{connection_string}", "Application Insights connection string",
       cred=True, connstr=SEMICOLON))
_add("mongodb-atlas", SECRET, ALL_CLIENTS,
     n("MONGODBATLAS_CLUSTER_CONNECTIONSTRING", "{password}", "MongoDB Atlas connection string", cred=True,
       connstr=QUERY))

# ------------------------------------------------------------------------ Cognitive Services family (§4.12)


def _cognitive(family: str, p: str, endpoints: tuple[NameSpec, ...]) -> None:
    _add(family, UAI, ALL_CLIENTS, *endpoints, n(f"{p}_CLIENTID", "{client_id}"))
    _add(family, SECRET, ALL_CLIENTS, *endpoints, n(f"{p}_KEY", "{account_key}", cred=True))
    _add(family, SP, ALL_CLIENTS, *endpoints, n(f"{p}_CLIENTID", "{client_id}"),
         n(f"{p}_CLIENTSECRET", "{client_secret}", cred=True), n(f"{p}_TENANTID", "{tenant_id}"))


_cognitive("cognitive-openai", "AZURE_OPENAI", (n("AZURE_OPENAI_BASE", "{endpoint}", "Azure OpenAI endpoint"),))
_cognitive("cognitive-cognitiveservices", "AZURE_COGNITIVESERVICES",
           (n("AZURE_COGNITIVESERVICES_ENDPOINT", "{endpoint}", "Cognitive Services endpoint"),))
_cognitive("cognitive-aiservices", "AZURE_AISERVICES", (
    n("AZURE_AISERVICES_OPENAI_BASE", "{openai_endpoint}", "Azure OpenAI endpoint"),
    n("AZURE_AISERVICES_COGNITIVESERVICES_ENDPOINT", "{endpoint}", "Cognitive Services endpoint"),
    n("AZURE_AISERVICES_SPEECH_ENDPOINT", "{speech_endpoint}", "Speech endpoint"),
))  # fmt: skip

#: Human note per family, used in configurationNames descriptions when a target has several families.
FAMILY_NOTES: dict[str, str] = {
    "cognitive-openai": "account kind OpenAI",
    "cognitive-aiservices": "account kind AIServices",
    "cognitive-cognitiveservices": "other account kinds",
    "confluent-bootstrap": "the bootstrap server connection <name>",
    "confluent-schema-registry": "the schema registry connection <name>_schema",
}


def names_for(family: str, auth_key: str, client_type: str) -> tuple[NameSpec, ...]:
    """The ordered names of one (family, auth key, client type); empty when the table has none."""
    return CONFIGURATION_TABLE.get((family, auth_key, client_type), ())


# ============================================================================================ composing values


@dataclass(frozen=True)
class _Ctx:
    """Everything a field resolver may look at."""

    family: str
    facts: TargetFacts
    props: LinkerProperties
    ids: Mapping[str, str]

    @property
    def default_port(self) -> int | None:
        return DEFAULT_PORTS.get(self.family)

    def secret(self, value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None


def _auth_user(ctx: _Ctx) -> str | None:
    info = ctx.props.auth_info
    return info.name if isinstance(info, SecretAuthInfo) and info.name else ctx.facts.username


def _auth_password(ctx: _Ctx) -> str | None:
    info = ctx.props.auth_info
    if isinstance(info, SecretAuthInfo) and isinstance(info.secret_info, ValueSecretInfo) and info.secret_info.value:
        return info.secret_info.value
    return ctx.secret(ctx.facts.password)


def _client_id(ctx: _Ctx) -> str | None:
    info = ctx.props.auth_info
    if isinstance(info, UserAssignedIdentityAuthInfo | ServicePrincipalSecretAuthInfo) and info.client_id:
        return info.client_id
    return ctx.facts.client_id


def _client_secret(ctx: _Ctx) -> str | None:
    info = ctx.props.auth_info
    if isinstance(info, ServicePrincipalSecretAuthInfo) and info.secret:
        return info.secret
    return ctx.secret(ctx.facts.client_secret)


def _port(ctx: _Ctx) -> str | None:
    port = ctx.facts.port if ctx.facts.port is not None else ctx.default_port
    return str(port) if port is not None else None


def _nondefault_port(ctx: _Ctx) -> str:
    port = ctx.facts.port
    return "" if port is None or port == ctx.default_port else str(port)


def _database(ctx: _Ctx) -> str | None:
    return ctx.facts.database or ctx.ids.get("database") or DEFAULT_DATABASES.get(ctx.family)


def _endpoint(ctx: _Ctx) -> str | None:
    service = ctx.props.target_service
    own = getattr(service, "endpoint", None) if service is not None else None
    return ctx.facts.endpoint or (own if isinstance(own, str) else None)


def _tls(on: str, off: str) -> Callable[[_Ctx], str]:
    return lambda ctx: on if ctx.facts.ssl else off


def _account_arm_id(ctx: _Ctx) -> str | None:
    if ctx.facts.account_id:
        return ctx.facts.account_id
    target_id = ctx.props.target_id
    parsed = ResourceId.try_parse(target_id) if target_id else None
    return str(parsed.top_level()) if parsed else None


def _cosmos_url(action: str) -> Callable[[_Ctx], str | None]:
    def resolve(ctx: _Ctx) -> str | None:
        account = _account_arm_id(ctx)
        if account is None:
            return None
        base = ctx.facts.management_endpoint.rstrip("/")
        return f"{base}{account}/{action}?api-version={COSMOS_KEYS_API_VERSION}"

    return resolve


def _storage_connection_string(ctx: _Ctx) -> str | None:
    """Azure: EndpointSuffix form; anything else (Azurite): explicit endpoints, like Azurite's own string."""
    name = ctx.facts.account_name or ctx.ids.get("account")
    key = ctx.secret(ctx.facts.account_key)
    if not name or key is None:
        return None
    head = f"AccountName={name};AccountKey={key}"
    if ctx.facts.endpoint_suffix:
        return f"DefaultEndpointsProtocol=https;{head};EndpointSuffix={ctx.facts.endpoint_suffix}"
    endpoints = [
        (label, value)
        for label, value in (
            ("BlobEndpoint", ctx.facts.blob_endpoint),
            ("QueueEndpoint", ctx.facts.queue_endpoint),
            ("TableEndpoint", ctx.facts.table_endpoint),
            ("FileEndpoint", ctx.facts.file_endpoint),
        )
        if value
    ]
    if not endpoints:
        return None
    scheme = urlsplit(endpoints[0][1]).scheme or "https"
    return f"DefaultEndpointsProtocol={scheme};{head};" + "".join(f"{k}={v};" for k, v in endpoints)


def _libpq_quote(value: str) -> str:
    """libpq keyword/value syntax: single-quote (escaping `\\` and `'`) when the value is empty or has blanks/quotes."""
    if value and not any(ch.isspace() or ch in "'\\" for ch in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ado_quote(value: str) -> str:
    """ADO.NET (DbConnectionStringBuilder): double-quote (doubling `"`) a value with `;`, quotes or outer blanks."""
    if not any(ch in ";'\"" for ch in value) and value == value.strip():
        return value
    return '"' + value.replace('"', '""') + '"'


def _mssql_jdbc_quote(value: str) -> str:
    """mssql-jdbc: brace-quote (doubling `}`) when the value has `;`, braces or outer blanks."""
    if not any(ch in ";{}" for ch in value) and value == value.strip():
        return value
    return "{" + value.replace("}", "}}") + "}"


#: Characters kept literally in the userinfo of a URL (RFC 3986 unreserved + sub-delims); `/`, `@`, `:`, `%`, `?`,
#: `#` are percent-encoded, so base64 keys with `/` survive while typical keys stay byte-identical.
_USERINFO_SAFE = "!$&'()*+,;="


def _quoted(resolver: Callable[[_Ctx], str | None], quote_fn: Callable[[str], str]) -> Callable[[_Ctx], str | None]:
    def resolve(ctx: _Ctx) -> str | None:
        value = resolver(ctx)
        return quote_fn(value) if value is not None else None

    return resolve


#: Template field -> resolver. A resolver returns None when the value is unknown ("" is a real, empty value).
_FIELDS: dict[str, Callable[[_Ctx], str | None]] = {
    "host": lambda c: c.facts.host,
    "port": _port,
    "nondefault_port": _nondefault_port,
    "database": _database,
    "user": _auth_user,
    "password": _auth_password,
    "password_url": _quoted(_auth_password, lambda v: quote(v, safe="")),
    "user_url": _quoted(_auth_user, lambda v: quote(v, safe="")),
    "user_pq": _quoted(_auth_user, _libpq_quote),
    "password_pq": _quoted(_auth_password, _libpq_quote),
    "user_ado": _quoted(_auth_user, _ado_quote),
    "password_ado": _quoted(_auth_password, _ado_quote),
    "user_mssql": _quoted(_auth_user, _mssql_jdbc_quote),
    "password_mssql": _quoted(_auth_password, _mssql_jdbc_quote),
    "ssl": _tls("true", "false"),
    "ssl_cap": _tls("True", "False"),
    "pg_sslmode": _tls("require", "disable"),
    "pg_ssl_mode_dotnet": _tls("Require", "Disable"),
    "mysql_sslmode": _tls("required", "disabled"),
    "mysql_ssl_mode_dotnet": _tls("Required", "None"),
    "mysql_php_flag": _tls("MySQL_CLIENT_SSL", ""),
    "redis_scheme": _tls("rediss", "redis"),
    "account_name": lambda c: c.facts.account_name or c.ids.get("account"),
    "account_key": lambda c: c.secret(c.facts.account_key),
    "account_key_url": _quoted(lambda c: c.secret(c.facts.account_key), lambda v: quote(v, safe=_USERINFO_SAFE)),
    "endpoint": _endpoint,
    "blob_endpoint": lambda c: c.facts.blob_endpoint,
    "queue_endpoint": lambda c: c.facts.queue_endpoint,
    "table_endpoint": lambda c: c.facts.table_endpoint,
    "file_endpoint": lambda c: c.facts.file_endpoint,
    "file_endpoint_or_empty": lambda c: c.facts.file_endpoint or "",
    "storage_connection_string": _storage_connection_string,
    "connection_string": lambda c: c.secret(c.facts.connection_string),
    "vault_uri": lambda c: c.facts.vault_uri or c.facts.endpoint,
    "vault_name": lambda c: c.ids.get("vault") or c.facts.account_name,
    "namespace_fqdn": lambda c: c.facts.namespace_fqdn or c.facts.host,
    "namespace_name": lambda c: c.ids.get("namespace") or c.facts.account_name,
    "management_scope": lambda c: c.facts.management_scope,
    "token_scope": lambda c: c.facts.token_scope or DEFAULT_TOKEN_SCOPES.get(c.family),
    "list_keys_url": _cosmos_url("listKeys"),
    "list_connection_strings_url": _cosmos_url("listConnectionStrings"),
    "keyspace": lambda c: c.ids.get("key_space") or c.facts.database,
    "graph": lambda c: c.ids.get("graph"),
    "location": lambda c: c.facts.location,
    "client_id": _client_id,
    "client_secret": _client_secret,
    "tenant_id": lambda c: c.facts.tenant_id,
    "openai_endpoint": lambda c: c.facts.openai_endpoint,
    "speech_endpoint": lambda c: c.facts.speech_endpoint,
}

#: Fields the linker's authInfo supplies: a missing one is the caller's error, not the cloud's.
_AUTH_FIELDS: dict[str, str] = {
    **dict.fromkeys(("user", "user_url", "user_pq", "user_ado", "user_mssql"), "properties.authInfo.name"),
    **dict.fromkeys(("password", "password_url", "password_pq", "password_ado", "password_mssql"),
                    "properties.authInfo.secretInfo.value"),
    "client_id": "properties.authInfo.clientId",
    "client_secret": "properties.authInfo.secret",
}  # fmt: skip

_FIELD = re.compile(r"\{([a-z_]+)\}")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


class _Missing(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _substitute(text: str, ctx: _Ctx, *, strict: bool) -> str:
    def value(m: re.Match[str]) -> str:
        resolved = _FIELDS[m.group(1)](ctx)
        if resolved is None:
            raise _Missing(m.group(1))
        if not strict and resolved == "":
            raise _Missing(m.group(1))
        return resolved

    return _FIELD.sub(value, text)


def _optional_segment(m: re.Match[str], ctx: _Ctx) -> str:
    try:
        return _substitute(m.group(1), ctx, strict=False)
    except _Missing:
        return ""


def render(template: str, ctx: _Ctx) -> str:
    """Fill a template; bracketed segments vanish when a field inside is empty; `_Missing` for unknown fields."""
    return _substitute(_OPTIONAL.sub(lambda m: _optional_segment(m, ctx), template), ctx, strict=True)


# ============================================================================================ results


_CREDENTIAL_WORDS = re.compile(
    r"(password|secret|token|connection[_\-.]?string|(^|[_\-.])(access)?[_\-.]?key($|[_\-.]))", re.IGNORECASE
)


def looks_like_credential(name: str) -> bool:
    """Heuristic credential test for names the table does not know (`additionalConfigurations`)."""
    return bool(_CREDENTIAL_WORDS.search(name))


def _apply_connstr_props(value: str, style: str | None, props: Mapping[str, str]) -> str:
    if not style or not props:
        return value
    pairs = [f"{k}={v}" for k, v in props.items()]
    if style == SEMICOLON:
        return (value if value.endswith(";") or not value else value + ";") + "".join(p + ";" for p in pairs)
    if style == SPACE:
        return " ".join([value, *pairs])
    if style == COMMA:
        return ",".join([value, *pairs])
    return value + ("&" if "?" in value else "?") + "&".join(pairs)


def _family_selector_value(target: Target, props: LinkerProperties, facts: TargetFacts) -> str | None:
    selectors: dict[str, Callable[[], str | None]] = {
        "fixed": lambda: None,
        "account_kind": lambda: facts.account_kind,
        "target_service_type": lambda: props.target_service.type if props.target_service else None,
    }
    return selectors[target.family_selector]()


def family_of(target: Target, props: LinkerProperties, facts: TargetFacts) -> str:
    """The configuration family of a linker (cognitive: account kind; confluent: target service type)."""
    return target.family_for(_family_selector_value(target, props, facts))


def _props_of(linker: LinkerResource | LinkerProperties) -> LinkerProperties:
    return linker.properties if isinstance(linker, LinkerResource) else linker


def _consume_location_props(
    target: Target, props: LinkerProperties, facts: TargetFacts
) -> tuple[TargetFacts, dict[str, str]]:
    """Neon: `Server`/`Database` connection-string properties locate the target; take them as facts."""
    info = props.configuration_info
    extra = dict((info.additional_connection_string_properties or {}) if info else {})
    updates: dict[str, Any] = {}
    for prop, fact in target.connstr_prop_params:
        value = extra.pop(prop, None)
        if value and getattr(facts, fact) is None:
            updates[fact] = value
    return (facts.model_copy(update=updates) if updates else facts), extra


def _missing_error(spec: NameSpec, field: str, target: Target) -> ArmError:
    if field in _AUTH_FIELDS:
        where = _AUTH_FIELDS[field]
        return ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"The configuration {spec.name} needs {where}, which the connection does not provide.",
            target=where,
            remedy="Provide it with the auth argument "
            f"(see `servicelinker aks connection create {target.name} --help`).",
        )
    return ArmError(
        ErrorCode.INTERNAL_SERVER_ERROR,
        f"The configuration {spec.name} of target {target.name} needs '{field}', which was not read from the target.",
        target="properties.targetService",
        remedy="Check that the target exists and that its keys and endpoints can be read, then retry.",
    )


def build_configurations(
    linker: LinkerResource | LinkerProperties,
    facts: TargetFacts,
    *,
    target: Target | None = None,
) -> list[Configuration]:
    """The ordered configurations (Secret keys and values) of a linker, from the catalog and the target's facts.

    Applies `customizedKeys`, `additionalConnectionStringProperties` and `additionalConfigurations`; returns []
    when configuration is opted out (`configurationInfo.action = optOut`) or the linker has no authInfo.
    Raises `ArmError` for a combination the catalog does not allow (`check_combination`) or a value that cannot be
    composed (naming the field).
    """
    props = _props_of(linker)
    target = target or target_of(props)
    info = props.configuration_info
    if info is not None and info.action == ActionType.OPT_OUT:
        return []
    auth_key = auth.config_key_for(props)
    if auth_key is None:
        return []
    check_combination(target, props)
    client_type = props.client_type or "none"
    family = family_of(target, props, facts)
    specs = names_for(family, auth_key, client_type)
    if not specs:
        raise ArmError(
            ErrorCode.UNSUPPORTED_COMBINATION,
            f"No configuration names for target {target.name}, auth type "
            f"{auth.CONFIG_KEY_REST_AUTH.get(auth_key, auth_key)} and client type {client_type}.",
            target="properties.clientType",
            remedy=f"Use a supported combination (`servicelinker aks connection list-configuration-names "
            f"--target-type {target.name}`).",
        )
    facts, connstr_props = _consume_location_props(target, props, facts)
    ctx = _Ctx(family=family, facts=facts, props=props, ids=target.id_values(props.target_id))
    renames = {k.lower(): v for k, v in ((info.customized_keys or {}) if info else {}).items()}
    result: list[Configuration] = []
    for spec in specs:
        try:
            value = render(spec.template, ctx)
        except _Missing as missing:
            raise _missing_error(spec, missing.field, target) from None
        if not spec.required and value == "":
            continue
        value = _apply_connstr_props(value, spec.connstr, connstr_props)
        name = renames.get(spec.name.lower(), spec.name)
        result.append(Configuration(name=name, value=value, credential=spec.credential, description=spec.description))
    return _add_additional(result, (info.additional_configurations or {}) if info else {})


def _add_additional(configs: list[Configuration], extra: Mapping[str, str]) -> list[Configuration]:
    out = list(configs)
    index = {c.name: i for i, c in enumerate(out)}
    for name, value in extra.items():
        credential = looks_like_credential(name)
        if name in index:
            old = out[index[name]]
            out[index[name]] = old.model_copy(update={"value": value, "credential": old.credential or credential})
        else:
            index[name] = len(out)
            out.append(
                Configuration(name=name, value=value, credential=credential, description="Additional configuration")
            )
    return out


def to_configuration_result(configs: Sequence[Configuration]) -> ConfigurationResult:
    """The REST `ConfigurationResult` of these configurations."""
    return ConfigurationResult(configurations=[c.to_source_configuration() for c in configs])


# ============================================================================================ configurationNames


def configuration_name_items(
    target: Target,
    *,
    config_keys: Iterable[str] | None = None,
    client_types: Iterable[str] | None = None,
) -> list[ConfigurationNameItem]:
    """ConfigurationNames items of one target: one per (auth, client type), in catalog order.

    Targets with several families (Cognitive Services kinds, Confluent's two linkers) list the union of names,
    each family-specific name marked `required: false` and described with its family.
    """
    keys = [k for k in target.config_keys if config_keys is None or k in set(config_keys)]
    clients = [c for c in target.client_types if client_types is None or c in set(client_types)]
    items: list[ConfigurationNameItem] = []
    for key in keys:
        for client in clients:
            names = _names_of(target, key, client)
            if not names:
                continue
            items.append(ConfigurationNameItem(properties=ConfigurationNames(
                target_service=target.provider_type,
                client_type=client,
                auth_type=auth.CONFIG_KEY_REST_AUTH[key],
                names=names,
            )))  # fmt: skip
    return items


def _names_of(target: Target, key: str, client: str) -> list[ConfigurationName]:
    multi = len(target.families) > 1
    suffix = " (Key Vault secrets store CSI driver)" if key == CSI else ""
    out: list[ConfigurationName] = []
    for family in target.families:
        note = f" (for {FAMILY_NOTES.get(family, family)})" if multi else ""
        for spec in names_for(family, key, client):
            out.append(ConfigurationName(
                value=spec.name,
                description=spec.description + note + suffix,
                required=spec.required and not multi,
                credential=spec.credential,
            ))  # fmt: skip
    return out


def configuration_names(
    targets: Iterable[Target],
    *,
    config_keys: Iterable[str] | None = None,
    client_types: Iterable[str] | None = None,
) -> ConfigurationNameResult:
    """The REST `ConfigurationNameResult` for these targets and filters."""
    keys = list(config_keys) if config_keys is not None else None
    clients = list(client_types) if client_types is not None else None
    value: list[ConfigurationNameItem] = []
    for target in targets:
        value.extend(configuration_name_items(target, config_keys=keys, client_types=clients))
    return ConfigurationNameResult(value=value)
