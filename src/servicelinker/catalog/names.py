"""Configuration names (reference §4): the keys written into the Kubernetes Secret and the value template of each,
per service (`Names`: (auth key, client type) -> ordered `NameSpec`s). The services (services.py) own these tables.
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

from collections.abc import Iterable
from dataclasses import dataclass

from servicelinker.catalog.auth import APPCONFIG_EXTENSION_SECRET_KEY, CSI_CONFIG_KEY
from servicelinker.model.linker import AuthType

SECRET = AuthType.SECRET
UAI = AuthType.USER_ASSIGNED_IDENTITY
SP = AuthType.SERVICE_PRINCIPAL_SECRET
CSI = CSI_CONFIG_KEY

#: Connection-string syntaxes, for appending `additionalConnectionStringProperties`.
SEMICOLON = "semicolon"  # k=v;k=v;
SPACE = "space"  # k=v k=v
QUERY = "query"  # url?k=v&k=v
COMMA = "comma"  # host:port,k=v,k=v



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


class Names:
    """One service's configuration names: (auth key, client type) -> ordered NameSpecs."""

    def __init__(self) -> None:
        self.table: dict[tuple[str, str], tuple[NameSpec, ...]] = {}

    def add(self, auth_key: str, clients: Iterable[str], *specs: NameSpec) -> Names:
        for client in clients:
            self.table[(auth_key, client)] = specs
        return self

    def get(self, auth_key: str, client_type: str) -> tuple[NameSpec, ...]:
        """The ordered names of one (auth key, client type); empty when there are none."""
        return self.table.get((auth_key, client_type), ())


# ------------------------------------------------------------------------ client groups
DOTNET = ("dotnet", "dotnet-internal")
SPRING = ("springBoot",)
ALL_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "php", "ruby", "django", "springBoot",
               "kafka-springBoot", "none")  # fmt: skip


def _non_spring(*extra_excluded: str) -> tuple[str, ...]:
    return tuple(c for c in ALL_CLIENTS if c not in ("springBoot", "kafka-springBoot", *extra_excluded))


# ------------------------------------------------------------------------ PostgreSQL family (also Neon)


def _postgres(p: str) -> Names:
    names = Names()
    """§4.4 (secret only on AKS); `p` is the prefix (AZURE_POSTGRESQL or NEON_POSTGRESQL)."""
    cs = f"{p}_CONNECTIONSTRING"
    names.add(SECRET, DOTNET, n(cs, "Server={host};Database={database};Port={port};Ssl Mode={pg_ssl_mode_dotnet};"
                                       "User Id={user_ado};Password={password_ado};", ".NET connection string",
                                   cred=True, connstr=SEMICOLON))  # fmt: skip
    names.add(SECRET, ("go",), n(cs, "host={host}[ port={nondefault_port}] dbname={database} sslmode={pg_sslmode} "
                                        "user={user_pq} password={password_pq}", "Go connection string",
                                    cred=True, connstr=SPACE))  # fmt: skip
    names.add(SECRET, ("java",), n(cs, "jdbc:postgresql://{host}:{port}/{database}?sslmode={pg_sslmode}"
                                          "&user={user_url}&password={password_url}", "JDBC connection string",
                                      cred=True, connstr=QUERY))  # fmt: skip
    names.add(SECRET, SPRING,
         n("spring.datasource.url", "jdbc:postgresql://{host}:{port}/{database}?sslmode={pg_sslmode}",
           "Database URL", connstr=QUERY),
         n("spring.datasource.username", "{user}", "Database username"),
         n("spring.datasource.password", "{password}", "Database password", cred=True))
    names.add(SECRET, ("nodejs",),
         n(f"{p}_HOST", "{host}"), n(f"{p}_USER", "{user}"), n(f"{p}_PASSWORD", "{password}", cred=True),
         n(f"{p}_DATABASE", "{database}"), n(f"{p}_PORT", "{port}"), n(f"{p}_SSL", "{ssl}"))
    names.add(SECRET, ("php", "ruby"),
         n(cs, "host={host} port={port} dbname={database} sslmode={pg_sslmode} user={user_pq} password={password_pq}",
           "libpq connection string", cred=True, connstr=SPACE))
    names.add(SECRET, ("python",),
         n(cs, "dbname={database} host={host} port={port} sslmode={pg_sslmode} user={user_pq} password={password_pq}",
           "psycopg2 connection string", cred=True, connstr=SPACE))
    names.add(SECRET, ("django",),
         n(f"{p}_NAME", "{database}", "Database name"), n(f"{p}_HOST", "{host}"), n(f"{p}_USER", "{user}"),
         n(f"{p}_PASSWORD", "{password}", cred=True), opt(f"{p}_PORT", "{nondefault_port}", "Port (non-default only)"))
    names.add(SECRET, ("none",),
         n(f"{p}_HOST", "{host}"), n(f"{p}_USERNAME", "{user}"), n(f"{p}_DATABASE", "{database}"),
         n(f"{p}_PORT", "{port}"), n(f"{p}_SSL", "{ssl}"), n(f"{p}_PASSWORD", "{password}", cred=True))
    return names


POSTGRESQL_NAMES = _postgres("AZURE_POSTGRESQL")
NEON_POSTGRES_NAMES = _postgres("NEON_POSTGRESQL")

# ------------------------------------------------------------------------ MySQL (§4.5)
_M = "AZURE_MYSQL"
MYSQL_NAMES = Names()
MYSQL_NAMES.add(SECRET, DOTNET, n(f"{_M}_CONNECTIONSTRING", "Server={host};Database={database};Port={port};"
                                "User Id={user_ado};Password={password_ado};SSL Mode={mysql_ssl_mode_dotnet}",
                                ".NET connection string", cred=True, connstr=SEMICOLON))  # fmt: skip
MYSQL_NAMES.add(SECRET, ("java",), n(f"{_M}_CONNECTIONSTRING", "jdbc:mysql://{host}:{port}/{database}?sslmode="
                                   "{mysql_sslmode}&user={user_url}&password={password_url}", "JDBC connection string",
                                   cred=True, connstr=QUERY))  # fmt: skip
MYSQL_NAMES.add(SECRET, SPRING,
     n("spring.datasource.url", "jdbc:mysql://{host}:{port}/{database}?sslmode={mysql_sslmode}", "Database URL",
       connstr=QUERY),
     n("spring.datasource.username", "{user}", "Database username"),
     n("spring.datasource.password", "{password}", "Database password", cred=True))
MYSQL_NAMES.add(SECRET, ("python", "django"),
     n(f"{_M}_NAME", "{database}", "Database name"), n(f"{_M}_HOST", "{host}"), n(f"{_M}_USER", "{user}"),
     n(f"{_M}_PASSWORD", "{password}", cred=True), opt(f"{_M}_PORT", "{nondefault_port}", "Port (non-default only)"))
MYSQL_NAMES.add(SECRET, ("go",), n(f"{_M}_CONNECTIONSTRING",
                                   "{user}:{password}@tcp({host}:{port})/{database}?tls={ssl}",
                                   "Go connection string", cred=True, connstr=QUERY))  # fmt: skip
MYSQL_NAMES.add(SECRET, ("nodejs",),
     n(f"{_M}_HOST", "{host}"), n(f"{_M}_USER", "{user}"), n(f"{_M}_PASSWORD", "{password}", cred=True),
     n(f"{_M}_DATABASE", "{database}"), n(f"{_M}_PORT", "{port}"), n(f"{_M}_SSL", "{ssl}"))
MYSQL_NAMES.add(SECRET, ("php",),
     n(f"{_M}_DBNAME", "{database}", "Database name"), n(f"{_M}_HOST", "{host}"), n(f"{_M}_PORT", "{port}"),
     n(f"{_M}_FLAG", "{mysql_php_flag}", "SSL flag"), n(f"{_M}_USERNAME", "{user}"),
     n(f"{_M}_PASSWORD", "{password}", cred=True))
MYSQL_NAMES.add(SECRET, ("ruby",),
     n(f"{_M}_DATABASE", "{database}"), n(f"{_M}_HOST", "{host}"), n(f"{_M}_USERNAME", "{user}"),
     n(f"{_M}_PASSWORD", "{password}", cred=True), n(f"{_M}_SSLMODE", "{mysql_sslmode}", "SSL mode"),
     opt(f"{_M}_PORT", "{nondefault_port}", "Port (non-default only)"))
MYSQL_NAMES.add(SECRET, ("none",),
     n(f"{_M}_HOST", "{host}"), n(f"{_M}_USERNAME", "{user}"), n(f"{_M}_DATABASE", "{database}"),
     n(f"{_M}_PORT", "{port}"), n(f"{_M}_SSL", "{ssl}"), n(f"{_M}_PASSWORD", "{password}", cred=True))

# ------------------------------------------------------------------------ Azure SQL (§4.6)
_S = "AZURE_SQL"
SQL_NAMES = Names()
SQL_NAMES.add(SECRET, DOTNET, n(f"{_S}_CONNECTIONSTRING", "Data Source={host},{port};Initial Catalog={database};"
                              "User ID={user_ado};Password={password_ado}", ".NET connection string", cred=True,
                              connstr=SEMICOLON))  # fmt: skip
SQL_NAMES.add(SECRET, ("java",), n(f"{_S}_CONNECTIONSTRING", "jdbc:sqlserver://{host}:{port};databaseName={database};"
                                 "user={user_mssql};password={password_mssql};", "JDBC connection string", cred=True,
                                 connstr=SEMICOLON))  # fmt: skip
SQL_NAMES.add(SECRET, SPRING,
     n("spring.datasource.url", "jdbc:sqlserver://{host}:{port};databaseName={database};", "Database URL",
       connstr=SEMICOLON),
     n("spring.datasource.username", "{user}", "Database username"),
     n("spring.datasource.password", "{password}", "Database password", cred=True))
SQL_NAMES.add(SECRET, ("python",),
     n(f"{_S}_SERVER", "{host}", "Server"), n(f"{_S}_PORT", "{port}"), n(f"{_S}_DATABASE", "{database}"),
     n(f"{_S}_USER", "{user}"), n(f"{_S}_PASSWORD", "{password}", cred=True))
SQL_NAMES.add(SECRET, ("django",),
     n(f"{_S}_HOST", "{host}"), n(f"{_S}_PORT", "{port}"), n(f"{_S}_NAME", "{database}", "Database name"),
     n(f"{_S}_USER", "{user}"), n(f"{_S}_PASSWORD", "{password}", cred=True))
SQL_NAMES.add(SECRET, ("go",), n(f"{_S}_CONNECTIONSTRING", "server={host};port={port};database={database};"
                               "user id={user_ado};password={password_ado};", "Go connection string", cred=True,
                               connstr=SEMICOLON))  # fmt: skip
SQL_NAMES.add(SECRET, ("nodejs",),
     n(f"{_S}_SERVER", "{host}", "Server"), n(f"{_S}_PORT", "{port}"), n(f"{_S}_DATABASE", "{database}"),
     n(f"{_S}_USERNAME", "{user}"), n(f"{_S}_PASSWORD", "{password}", cred=True))
SQL_NAMES.add(SECRET, ("php",),
     n(f"{_S}_SERVERNAME", "{host},{port}", "Server name"), n(f"{_S}_DATABASE", "{database}"),
     n(f"{_S}_UID", "{user}", "User name"), n(f"{_S}_PASSWORD", "{password}", cred=True))
SQL_NAMES.add(SECRET, ("ruby", "none"),
     n(f"{_S}_HOST", "{host}"), n(f"{_S}_PORT", "{port}"), n(f"{_S}_DATABASE", "{database}"),
     n(f"{_S}_USERNAME", "{user}"), n(f"{_S}_PASSWORD", "{password}", cred=True))

# ------------------------------------------------------------------------ Redis / Redis Enterprise (§4.7)
_R = "AZURE_REDIS"
REDIS_NAMES = Names()
REDIS_NAMES.add(SECRET, DOTNET, n(f"{_R}_CONNECTIONSTRING", "{host}:{port},password={account_key},ssl={ssl_cap},"
                                "defaultDatabase={database}", "StackExchange.Redis connection string", cred=True,
                                connstr=COMMA))  # fmt: skip
REDIS_NAMES.add(SECRET, ("java", "python", "go", "nodejs", "none"),
     n(f"{_R}_CONNECTIONSTRING", "{redis_scheme}://:{account_key_url}@{host}:{port}/{database}", "Redis URL",
       cred=True, connstr=QUERY))
REDIS_NAMES.add(SECRET, SPRING,
     n("spring.redis.host", "{host}", "Redis host"), n("spring.redis.port", "{port}", "Redis port"),
     n("spring.redis.database", "{database}", "Redis database"),
     n("spring.redis.password", "{account_key}", "Redis access key", cred=True),
     n("spring.redis.ssl", "{ssl}", "Whether to use SSL/TLS"))
REDIS_NAMES.add(UAI, _non_spring("kafka-springBoot") + SPRING,
     n(f"{_R}_HOST", "{host}"), n(f"{_R}_CLIENTID", "{client_id}"),
     opt(f"{_R}_PORT", "{nondefault_port}", "Port (non-default only)"))
REDIS_NAMES.add(SP, _non_spring() + SPRING,
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
COSMOS_SQL_NAMES = Names()
COSMOS_SQL_NAMES.add(UAI, _non_spring(), _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_ENDPOINT)
COSMOS_SQL_NAMES.add(UAI, SPRING,
     n("spring.cloud.azure.cosmos.credential.managed-identity-enabled", "true", "Managed identity enabled"),
     n("spring.cloud.azure.cosmos.database", "{database}", "Database name"),
     n("spring.cloud.azure.cosmos.endpoint", "{endpoint}", "Endpoint"),
     n("spring.cloud.azure.cosmos.credential.client-id", "{client_id}", "Client ID"))
COSMOS_SQL_NAMES.add(SECRET, _non_spring(),
     n(f"{_C}_CONNECTIONSTRING", "AccountEndpoint={endpoint};AccountKey={account_key}", cred=True, connstr=SEMICOLON))
COSMOS_SQL_NAMES.add(SECRET, SPRING,
     n("azure.cosmos.key", "{account_key}", "Account key", cred=True),
     n("azure.cosmos.database", "{database}", "Database name"), n("azure.cosmos.uri", "{endpoint}", "Endpoint"),
     n("spring.cloud.azure.cosmos.key", "{account_key}", "Account key", cred=True),
     n("spring.cloud.azure.cosmos.database", "{database}", "Database name"),
     n("spring.cloud.azure.cosmos.endpoint", "{endpoint}", "Endpoint"))
COSMOS_SQL_NAMES.add(SP, _non_spring(), _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_SECRET, _C_TENANT, _C_ENDPOINT)
COSMOS_SQL_NAMES.add(SP, SPRING,
     n("spring.cloud.azure.cosmos.credential.client-id", "{client_id}", "Client ID"),
     n("spring.cloud.azure.cosmos.credential.client-secret", "{client_secret}", "Client secret", cred=True),
     n("spring.cloud.azure.cosmos.profile.tenant-id", "{tenant_id}", "Tenant ID"),
     n("spring.cloud.azure.cosmos.database", "{database}", "Database name"),
     n("spring.cloud.azure.cosmos.endpoint", "{endpoint}", "Endpoint"))

# cosmos-mongo
COSMOS_MONGO_NAMES = Names()
COSMOS_MONGO_NAMES.add(UAI, _COSMOS_CLIENTS, _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_ENDPOINT)
COSMOS_MONGO_NAMES.add(SECRET, _non_spring(),
     n(f"{_C}_CONNECTIONSTRING", "{connection_string}", "MongoDB connection string", cred=True, connstr=QUERY))
COSMOS_MONGO_NAMES.add(SECRET, SPRING,
     n("spring.data.mongodb.database", "{database}", "Database name"),
     n("spring.data.mongodb.uri", "{connection_string}", "Database URI", cred=True, connstr=QUERY))
COSMOS_MONGO_NAMES.add(SP, _COSMOS_CLIENTS, _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_SECRET, _C_TENANT, _C_ENDPOINT)

# cosmos-cassandra
_CASS = (n(f"{_C}_CONTACTPOINT", "{host}", "Contact point"), n(f"{_C}_PORT", "{port}"),
         n(f"{_C}_KEYSPACE", "{keyspace}", "Keyspace"), n(f"{_C}_USERNAME", "{account_name}"))  # fmt: skip
COSMOS_CASSANDRA_NAMES = Names()
COSMOS_CASSANDRA_NAMES.add(UAI, _COSMOS_CLIENTS, _LIST_KEYS, _C_SCOPE, _C_ENDPOINT, *_CASS, _C_CLIENTID)
COSMOS_CASSANDRA_NAMES.add(SECRET, _non_spring(), *_CASS, n(f"{_C}_PASSWORD", "{account_key}", cred=True))
COSMOS_CASSANDRA_NAMES.add(SECRET, SPRING,
     n("spring.data.cassandra.contact-points", "{host}", "Contact point"),
     n("spring.data.cassandra.port", "{port}", "Port"),
     n("spring.data.cassandra.keyspace-name", "{keyspace}", "Keyspace"),
     n("spring.data.cassandra.username", "{account_name}", "User name"),
     n("spring.data.cassandra.password", "{account_key}", "Password", cred=True),
     n("spring.data.cassandra.local-datacenter", "{location}", "Azure region"),
     n("spring.data.cassandra.ssl", "{ssl}", "Whether to use SSL/TLS"))
COSMOS_CASSANDRA_NAMES.add(SP, _COSMOS_CLIENTS, _LIST_KEYS, _C_SCOPE, _C_ENDPOINT, *_CASS, _C_CLIENTID, _C_SECRET,
     _C_TENANT)

# cosmos-gremlin
_GREM = (n(f"{_C}_HOSTNAME", "{host}"), n(f"{_C}_PORT", "{port}"),
         n(f"{_C}_USERNAME", "/dbs/{database}/colls/{graph}", "User name (/dbs/<database>/colls/<graph>)"))  # fmt: skip
COSMOS_GREMLIN_NAMES = Names()
COSMOS_GREMLIN_NAMES.add(UAI, _COSMOS_CLIENTS, _LIST_KEYS, _C_SCOPE, _C_ENDPOINT, *_GREM, _C_CLIENTID)
COSMOS_GREMLIN_NAMES.add(SECRET, _COSMOS_CLIENTS, *_GREM, n(f"{_C}_PASSWORD", "{account_key}", cred=True))
COSMOS_GREMLIN_NAMES.add(SP, _COSMOS_CLIENTS, _LIST_KEYS, _C_SCOPE, _C_ENDPOINT, *_GREM, _C_CLIENTID, _C_SECRET,
     _C_TENANT)

# cosmos-table
COSMOS_TABLE_NAMES = Names()
COSMOS_TABLE_NAMES.add(UAI, _COSMOS_CLIENTS, _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_ENDPOINT)
COSMOS_TABLE_NAMES.add(SECRET, _COSMOS_CLIENTS,
     n(f"{_C}_CONNECTIONSTRING", "{connection_string}", cred=True, connstr=SEMICOLON))
COSMOS_TABLE_NAMES.add(SP, _COSMOS_CLIENTS, _LIST_CS, _C_SCOPE, _C_CLIENTID, _C_SECRET, _C_TENANT, _C_ENDPOINT)

# ------------------------------------------------------------------------ Storage (§4.1, §4.2)
_STORAGE_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "php", "ruby", "springBoot", "none")


def _storage(kind: str, endpoint_field: str) -> Names:
    names = Names()
    """Workload identity, connection string and service principal names of one storage service."""
    p = f"AZURE_STORAGE{kind}"
    endpoint = n(f"{p}_RESOURCEENDPOINT", "{" + endpoint_field + "}")
    client_id = n(f"{p}_CLIENTID", "{client_id}")
    names.add(UAI, _STORAGE_CLIENTS, endpoint, client_id)
    names.add(SECRET, _STORAGE_CLIENTS,
         n(f"{p}_CONNECTIONSTRING", "{storage_connection_string}", cred=True, connstr=SEMICOLON))
    names.add(SP, _STORAGE_CLIENTS, endpoint, client_id, n(f"{p}_CLIENTSECRET", "{client_secret}", cred=True),
         n(f"{p}_TENANTID", "{tenant_id}"))
    return names


STORAGE_BLOB_NAMES = _storage("BLOB", "blob_endpoint")
STORAGE_BLOB_NAMES.add(UAI, SPRING,
     n("spring.cloud.azure.storage.blob.credential.managed-identity-enabled", "true", "Managed identity enabled"),
     n("spring.cloud.azure.storage.blob.account-name", "{account_name}", "Account name"),
     n("spring.cloud.azure.storage.blob.endpoint", "{blob_endpoint}", "Blob endpoint"),
     n("spring.cloud.azure.storage.blob.credential.client-id", "{client_id}", "Client ID"))
STORAGE_BLOB_NAMES.add(SECRET, SPRING,
     n("azure.storage.account-name", "{account_name}", "Account name"),
     n("azure.storage.account-key", "{account_key}", "Account key", cred=True),
     n("azure.storage.blob-endpoint", "{blob_endpoint}", "Blob endpoint"),
     n("spring.cloud.azure.storage.blob.account-name", "{account_name}", "Account name"),
     n("spring.cloud.azure.storage.blob.account-key", "{account_key}", "Account key", cred=True),
     n("spring.cloud.azure.storage.blob.endpoint", "{blob_endpoint}", "Blob endpoint"))
STORAGE_QUEUE_NAMES = _storage("QUEUE", "queue_endpoint")
STORAGE_QUEUE_NAMES.add(SECRET, SPRING,
     n("spring.cloud.azure.storage.account", "{account_name}", "Account name"),
     n("spring.cloud.azure.storage.access-key", "{account_key}", "Account key", cred=True))
STORAGE_TABLE_NAMES = _storage("TABLE", "table_endpoint")
STORAGE_FILE_NAMES = Names()
STORAGE_FILE_NAMES.add(SECRET, _STORAGE_CLIENTS,
     n("AZURE_STORAGEFILE_CONNECTIONSTRING", "{storage_connection_string}", cred=True, connstr=SEMICOLON))
STORAGE_FILE_NAMES.add(SECRET, SPRING,
     n("azure.storage.account-name", "{account_name}", "Account name"),
     n("azure.storage.account-key", "{account_key}", "Account key", cred=True),
     opt("azure.storage.file-endpoint", "{file_endpoint_or_empty}", "File endpoint (when the account has one)"))

# ------------------------------------------------------------------------ Key Vault (§4.3)
_K = "AZURE_KEYVAULT"
_KV_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs", "none")
KEYVAULT_NAMES = Names()
KEYVAULT_NAMES.add(UAI, _KV_CLIENTS,
     n(f"{_K}_SCOPE", "{management_scope}"), n(f"{_K}_RESOURCEENDPOINT", "{vault_uri}"),
     n(f"{_K}_CLIENTID", "{client_id}"))
KEYVAULT_NAMES.add(UAI, SPRING,
     n("azure.keyvault.uri", "{vault_uri}", "Key Vault URI"), n("azure.keyvault.client-id", "{client_id}", "Client ID"),
     n("azure.keyvault.scope", "{management_scope}", "Scope"),
     n("spring.cloud.azure.keyvault.secret.credential.managed-identity-enabled", "true", "Managed identity enabled"),
     n("spring.cloud.azure.keyvault.secret.endpoint", "{vault_uri}", "Key Vault URI"),
     n("spring.cloud.azure.keyvault.secret.credential.client-id", "{client_id}", "Client ID"))
KEYVAULT_NAMES.add(SP, _KV_CLIENTS,
     n(f"{_K}_SCOPE", "{management_scope}"), n(f"{_K}_RESOURCEENDPOINT", "{vault_uri}"),
     n(f"{_K}_CLIENTID", "{client_id}"), n(f"{_K}_CLIENTSECRET", "{client_secret}", cred=True),
     n(f"{_K}_TENANTID", "{tenant_id}"))
KEYVAULT_NAMES.add(SP, SPRING,
     n("azure.keyvault.uri", "{vault_uri}", "Key Vault URI"), n("azure.keyvault.client-id", "{client_id}", "Client ID"),
     n("azure.keyvault.client-key", "{client_secret}", "Client secret", cred=True),
     n("azure.keyvault.tenant-id", "{tenant_id}", "Tenant ID"),
     n("azure.keyvault.scope", "{management_scope}", "Scope"),
     n("spring.cloud.azure.keyvault.secret.endpoint", "{vault_uri}", "Key Vault URI"),
     n("spring.cloud.azure.keyvault.secret.credential.client-id", "{client_id}", "Client ID"),
     n("spring.cloud.azure.keyvault.secret.credential.client-secret", "{client_secret}", "Client secret", cred=True),
     n("spring.cloud.azure.keyvault.secret.profile.tenant-id", "{tenant_id}", "Tenant ID"))
KEYVAULT_NAMES.add(CSI, _KV_CLIENTS + SPRING,
     n(f"{_K}_NAME", "{vault_name}", "Key Vault name (SecretProviderClass keyvaultName)"),
     n(f"{_K}_TENANTID", "{tenant_id}", "Tenant ID (SecretProviderClass tenantId)"),
     n(f"{_K}_CLIENTID", "{client_id}", "Client ID of the azureKeyvaultSecretsProvider add-on identity "
                                        "(SecretProviderClass userAssignedIdentityID)"))  # fmt: skip

# ------------------------------------------------------------------------ App Configuration (§4.10)
_A = "AZURE_APPCONFIGURATION"
_AC_CLIENTS = ("dotnet", "dotnet-internal", "java", "python", "nodejs")
APPCONFIG_NAMES = Names()
APPCONFIG_NAMES.add(UAI, _AC_CLIENTS, n(f"{_A}_ENDPOINT", "{endpoint}", "App configuration endpoint"),
     n(f"{_A}_CLIENTID", "{client_id}"))
APPCONFIG_NAMES.add(UAI, ("none",), n(f"{_A}_ENDPOINT", "{endpoint}", "App configuration endpoint"),
     n(f"{_A}_CLIENTID", "{client_id}"), n(f"{_A}_SCOPE", "{token_scope}", "The scopes required for getting token."))
APPCONFIG_NAMES.add(SECRET, (*_AC_CLIENTS, "none"),
     n(f"{_A}_CONNECTIONSTRING", "{connection_string}", cred=True, connstr=SEMICOLON))
APPCONFIG_NAMES.add(APPCONFIG_EXTENSION_SECRET_KEY, (*_AC_CLIENTS, "none"),  # what the extension reads
     n("azure_app_configuration_connection_string", "{connection_string}", cred=True, connstr=SEMICOLON))
APPCONFIG_NAMES.add(SP, (*_AC_CLIENTS, "none"),
     n(f"{_A}_ENDPOINT", "{endpoint}", "App configuration endpoint"), n(f"{_A}_CLIENTID", "{client_id}"),
     n(f"{_A}_CLIENTSECRET", "{client_secret}", cred=True), n(f"{_A}_TENANTID", "{tenant_id}"))

# ------------------------------------------------------------------------ Service Bus / Event Hubs (§4.8, §4.9)


def _messaging(p: str, spring_ns: str) -> Names:
    names = Names()
    fqns = n(f"{p}_FULLYQUALIFIEDNAMESPACE", "{namespace_fqdn}")
    client_id = n(f"{p}_CLIENTID", "{client_id}")
    clients = _non_spring()
    names.add(UAI, clients, fqns, client_id)
    names.add(UAI, SPRING, n(f"{spring_ns}.namespace", "{namespace_name}", "Namespace"),
         n("spring.cloud.azure.client-id", "{client_id}", "Client ID"))
    names.add(SECRET, clients, n(f"{p}_CONNECTIONSTRING", "{connection_string}", cred=True, connstr=SEMICOLON))
    names.add(SECRET, SPRING,
         n(f"{spring_ns}.connection-string", "{connection_string}", "Connection string", cred=True, connstr=SEMICOLON))
    names.add(SP, clients, fqns, client_id, n(f"{p}_CLIENTSECRET", "{client_secret}", cred=True),
         n(f"{p}_TENANTID", "{tenant_id}"))
    names.add(SP, SPRING, n(f"{spring_ns}.namespace", "{namespace_name}", "Namespace"),
         n("spring.cloud.azure.client-id", "{client_id}", "Client ID"),
         n("spring.cloud.azure.tenant-id", "{tenant_id}", "Tenant ID"),
         n("spring.cloud.azure.client-secret", "{client_secret}", "Client secret", cred=True))
    return names


SERVICEBUS_NAMES = _messaging("AZURE_SERVICEBUS", "spring.cloud.azure.servicebus")
EVENTHUB_NAMES = _messaging("AZURE_EVENTHUB", "spring.cloud.azure.eventhub")
_KAFKA = ("kafka-springBoot",)
_BOOTSTRAP = n("spring.kafka.bootstrap-servers", "{namespace_fqdn}:9093", "Kafka bootstrap servers")
EVENTHUB_NAMES.add(SECRET, _KAFKA, _BOOTSTRAP,
     n("spring.kafka.properties.sasl.jaas.config", 'org.apache.kafka.common.security.plain.PlainLoginModule required '
       'username="$ConnectionString" password="{connection_string}";', "SASL JAAS configuration", cred=True),
     n("spring.kafka.properties.sasl.mechanism", "PLAIN", "SASL mechanism"),
     n("spring.kafka.properties.security.protocol", "SASL_SSL", "Security protocol"))  # fmt: skip
EVENTHUB_NAMES.add(UAI, _KAFKA, _BOOTSTRAP,
     n("spring.cloud.azure.credential.managed-identity-enabled", "true", "Managed identity enabled"),
     n("spring.cloud.azure.credential.client-id", "{client_id}", "Client ID"))
EVENTHUB_NAMES.add(SP, _KAFKA, _BOOTSTRAP,
     n("spring.cloud.azure.credential.client-id", "{client_id}", "Client ID"),
     n("spring.cloud.azure.credential.client-secret", "{client_secret}", "Client secret", cred=True),
     n("spring.cloud.azure.profile.tenant-id", "{tenant_id}", "Tenant ID"))

# ------------------------------------------------------------------------ SignalR, Web PubSub (§4.13)
_SIG = "AZURE_SIGNALR_CONNECTIONSTRING"
SIGNALR_NAMES = Names()
SIGNALR_NAMES.add(UAI, ALL_CLIENTS,
     n(_SIG, "Endpoint={endpoint};AuthType=aad;client-id={client_id};Version=1.0;", connstr=SEMICOLON))
SIGNALR_NAMES.add(SECRET, ALL_CLIENTS,
     n(_SIG, "Endpoint={endpoint};AccessKey={account_key};Version=1.0;", cred=True, connstr=SEMICOLON))
SIGNALR_NAMES.add(SP, ALL_CLIENTS,
     n(_SIG, "Endpoint={endpoint};AuthType=aad;ClientId={client_id};ClientSecret={client_secret};"
             "TenantId={tenant_id};Version=1.0;", cred=True, connstr=SEMICOLON))  # fmt: skip
_W = "AZURE_WEBPUBSUB"
WEBPUBSUB_NAMES = Names()
WEBPUBSUB_NAMES.add(UAI, ALL_CLIENTS, n(f"{_W}_HOST", "{host}"), n(f"{_W}_CLIENTID", "{client_id}"))
WEBPUBSUB_NAMES.add(SECRET, ALL_CLIENTS,
     n(f"{_W}_CONNECTIONSTRING", "{connection_string}", cred=True, connstr=SEMICOLON))
WEBPUBSUB_NAMES.add(SP, ALL_CLIENTS, n(f"{_W}_HOST", "{host}"), n(f"{_W}_CLIENTID", "{client_id}"),
     n(f"{_W}_CLIENTSECRET", "{client_secret}", cred=True), n(f"{_W}_TENANTID", "{tenant_id}"))

# ------------------------------------------------------------------------ Confluent Cloud (§4.13)
_JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required username='{user}' password='{password}';"
CONFLUENT_BOOTSTRAP_NAMES = Names()
CONFLUENT_BOOTSTRAP_NAMES.add(SECRET, _non_spring(),
     n("AZURE_CONFLUENTCLOUDKAFKA_BOOTSTRAPSERVER", "{endpoint}", "Kafka bootstrap server"),
     n("AZURE_CONFLUENTCLOUDKAFKA_KAFKASASLCONFIG", _JAAS, "Kafka SASL configuration", cred=True))
CONFLUENT_BOOTSTRAP_NAMES.add(SECRET, SPRING,
     n("spring.kafka.properties.bootstrap.servers", "{endpoint}", "Kafka bootstrap server"),
     n("spring.kafka.properties.sasl.jaas.config", _JAAS, "Kafka SASL configuration", cred=True))
CONFLUENT_SCHEMA_REGISTRY_NAMES = Names()
CONFLUENT_SCHEMA_REGISTRY_NAMES.add(SECRET, _non_spring(),
     n("AZURE_CONFLUENTCLOUDSCHEMAREGISTRY_URL", "{endpoint}", "Schema registry URL"),
     n("AZURE_CONFLUENTCLOUDSCHEMAREGISTRY_USERINFO", "{user}:{password}", "Schema registry user info", cred=True))
CONFLUENT_SCHEMA_REGISTRY_NAMES.add(SECRET, SPRING,
     n("spring.kafka.properties.schema.registry.url", "{endpoint}", "Schema registry URL"),
     n("spring.kafka.properties.schema.registry.basic.auth.user.info", "{user}:{password}",
       "Schema registry user info", cred=True))

# ------------------------------------------------------------------------ Application Insights, MongoDB Atlas
APP_INSIGHTS_NAMES = Names()
APP_INSIGHTS_NAMES.add(SECRET, ALL_CLIENTS,
     n("APPLICATIONINSIGHTS_CONNECTION_STRING", "{connection_string}", "Application Insights connection string",
       cred=True, connstr=SEMICOLON))
MONGODB_ATLAS_NAMES = Names()
MONGODB_ATLAS_NAMES.add(SECRET, ALL_CLIENTS,
     n("MONGODBATLAS_CLUSTER_CONNECTIONSTRING", "{password}", "MongoDB Atlas connection string", cred=True,
       connstr=QUERY))

# ------------------------------------------------------------------------ Cognitive Services family (§4.12)


def _cognitive(p: str, endpoints: tuple[NameSpec, ...]) -> Names:
    names = Names()
    names.add(UAI, ALL_CLIENTS, *endpoints, n(f"{p}_CLIENTID", "{client_id}"))
    names.add(SECRET, ALL_CLIENTS, *endpoints, n(f"{p}_KEY", "{account_key}", cred=True))
    names.add(SP, ALL_CLIENTS, *endpoints, n(f"{p}_CLIENTID", "{client_id}"),
         n(f"{p}_CLIENTSECRET", "{client_secret}", cred=True), n(f"{p}_TENANTID", "{tenant_id}"))
    return names


COGNITIVE_OPENAI_NAMES = _cognitive("AZURE_OPENAI", (n("AZURE_OPENAI_BASE", "{endpoint}", "Azure OpenAI endpoint"),))
COGNITIVE_COGNITIVESERVICES_NAMES = _cognitive("AZURE_COGNITIVESERVICES",
           (n("AZURE_COGNITIVESERVICES_ENDPOINT", "{endpoint}", "Cognitive Services endpoint"),))
COGNITIVE_AISERVICES_NAMES = _cognitive("AZURE_AISERVICES", (
    n("AZURE_AISERVICES_OPENAI_BASE", "{openai_endpoint}", "Azure OpenAI endpoint"),
    n("AZURE_AISERVICES_COGNITIVESERVICES_ENDPOINT", "{endpoint}", "Cognitive Services endpoint"),
    n("AZURE_AISERVICES_SPEECH_ENDPOINT", "{speech_endpoint}", "Speech endpoint"),
))  # fmt: skip

