"""The services behind the targets: one record per kind of service (PostgreSQL, Redis, Blob storage, ...).

A `Service` is what targets of one kind share: its configuration names (names.py), the default port, database and
token scope a value falls back to, the roles an identity gets on it (reference §5.1), the live probe `validate` runs
with the delivered values, and a note telling services of one target apart in configurationNames. Several targets
may name one service (PostgreSQL single and flexible server, Neon uses its own); a target may name several, picked
at run time (a Cognitive Services account's kind, Confluent's two linkers). Targets (targets.py) reference these
records; nothing else keys on a service's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from servicelinker.catalog import names as n
from servicelinker.catalog import roles as r
from servicelinker.catalog.names import Names
from servicelinker.catalog.roles import Role


@dataclass(frozen=True)
class Service:
    key: str
    names: Names
    #: Used when the facts carry no port, and to decide whether a value must name the port.
    default_port: int | None = None
    #: Used when neither the facts nor the target id name a database.
    default_database: str | None = None
    #: The data-plane token scope (`{token_scope}`) when the facts carry none.
    token_scope: str | None = None
    #: Built-in roles granted to an identity on the target (authInfo.roles overrides them).
    roles: tuple[Role, ...] = ()
    #: The live probe of `validate` (probes/live.py), None when the service has no server to reach here.
    probe: str | None = None
    #: How configurationNames tells this service apart when a target has several.
    note: str = ""


POSTGRESQL = Service("postgresql", n.POSTGRESQL_NAMES, default_port=5432, probe="postgresql")
NEON_POSTGRES = Service("neon-postgres", n.NEON_POSTGRES_NAMES, default_port=5432, probe="postgresql")
MYSQL = Service("mysql", n.MYSQL_NAMES, default_port=3306, probe="mysql")
SQL = Service("sql", n.SQL_NAMES, default_port=1433)
#: Azure Cache for Redis serves TLS on 6380 (its non-TLS 6379 port is off by default).
REDIS = Service("redis", n.REDIS_NAMES, default_port=6380, default_database="0", probe="redis")
COSMOS_SQL = Service("cosmos-sql", n.COSMOS_SQL_NAMES, roles=(r.DOCUMENTDB_ACCOUNT_CONTRIBUTOR,))
COSMOS_MONGO = Service("cosmos-mongo", n.COSMOS_MONGO_NAMES, roles=(r.DOCUMENTDB_ACCOUNT_CONTRIBUTOR,))
COSMOS_CASSANDRA = Service("cosmos-cassandra", n.COSMOS_CASSANDRA_NAMES, default_port=10350,
                           roles=(r.DOCUMENTDB_ACCOUNT_CONTRIBUTOR,))  # fmt: skip
COSMOS_GREMLIN = Service("cosmos-gremlin", n.COSMOS_GREMLIN_NAMES, default_port=443,
                         roles=(r.DOCUMENTDB_ACCOUNT_CONTRIBUTOR,))  # fmt: skip
COSMOS_TABLE = Service("cosmos-table", n.COSMOS_TABLE_NAMES, roles=(r.DOCUMENTDB_ACCOUNT_CONTRIBUTOR,))
STORAGE_BLOB = Service("storage-blob", n.STORAGE_BLOB_NAMES, roles=(r.STORAGE_BLOB_DATA_CONTRIBUTOR,),
                       probe="storage-blob")  # fmt: skip
STORAGE_QUEUE = Service("storage-queue", n.STORAGE_QUEUE_NAMES, roles=(r.STORAGE_QUEUE_DATA_CONTRIBUTOR,),
                        probe="storage-queue")  # fmt: skip
STORAGE_TABLE = Service("storage-table", n.STORAGE_TABLE_NAMES, roles=(r.STORAGE_TABLE_DATA_CONTRIBUTOR,),
                        probe="storage-table")  # fmt: skip
STORAGE_FILE = Service("storage-file", n.STORAGE_FILE_NAMES, probe="storage-file")
KEYVAULT = Service("keyvault", n.KEYVAULT_NAMES, roles=(r.KEY_VAULT_SECRETS_USER, r.KEY_VAULT_CERTIFICATE_USER))
APPCONFIG = Service("appconfig", n.APPCONFIG_NAMES, token_scope="https://azconfig.io/.default",
                    roles=(r.APP_CONFIGURATION_DATA_READER,))  # fmt: skip
EVENTHUB = Service("eventhub", n.EVENTHUB_NAMES, roles=(r.EVENT_HUBS_DATA_RECEIVER, r.EVENT_HUBS_DATA_SENDER))
SERVICEBUS = Service("servicebus", n.SERVICEBUS_NAMES, roles=(r.SERVICE_BUS_DATA_RECEIVER, r.SERVICE_BUS_DATA_SENDER))
SIGNALR = Service("signalr", n.SIGNALR_NAMES, roles=(r.SIGNALR_SERVICE_OWNER,))
WEBPUBSUB = Service("webpubsub", n.WEBPUBSUB_NAMES, roles=(r.WEB_PUBSUB_CONTRIBUTOR,))
CONFLUENT_BOOTSTRAP = Service("confluent-bootstrap", n.CONFLUENT_BOOTSTRAP_NAMES,
                              note="the bootstrap server connection <name>")  # fmt: skip
CONFLUENT_SCHEMA_REGISTRY = Service("confluent-schema-registry", n.CONFLUENT_SCHEMA_REGISTRY_NAMES,
                                    note="the schema registry connection <name>_schema")  # fmt: skip
APP_INSIGHTS = Service("app-insights", n.APP_INSIGHTS_NAMES)
MONGODB_ATLAS = Service("mongodb-atlas", n.MONGODB_ATLAS_NAMES)
COGNITIVE_OPENAI = Service("cognitive-openai", n.COGNITIVE_OPENAI_NAMES,
                           roles=(r.COGNITIVE_SERVICES_OPENAI_CONTRIBUTOR,), note="account kind OpenAI")  # fmt: skip
COGNITIVE_AISERVICES = Service("cognitive-aiservices", n.COGNITIVE_AISERVICES_NAMES,
                               roles=(r.COGNITIVE_SERVICES_OPENAI_CONTRIBUTOR, r.COGNITIVE_SERVICES_USER),
                               note="account kind AIServices")  # fmt: skip
COGNITIVE_COGNITIVESERVICES = Service("cognitive-cognitiveservices", n.COGNITIVE_COGNITIVESERVICES_NAMES,
                                      roles=(r.COGNITIVE_SERVICES_USER,), note="other account kinds")  # fmt: skip

SERVICES: tuple[Service, ...] = (
    POSTGRESQL, NEON_POSTGRES, MYSQL, SQL, REDIS, COSMOS_SQL, COSMOS_MONGO, COSMOS_CASSANDRA, COSMOS_GREMLIN,
    COSMOS_TABLE, STORAGE_BLOB, STORAGE_QUEUE, STORAGE_TABLE, STORAGE_FILE, KEYVAULT, APPCONFIG, EVENTHUB, SERVICEBUS,
    SIGNALR, WEBPUBSUB, CONFLUENT_BOOTSTRAP, CONFLUENT_SCHEMA_REGISTRY, APP_INSIGHTS, MONGODB_ATLAS, COGNITIVE_OPENAI,
    COGNITIVE_AISERVICES, COGNITIVE_COGNITIVESERVICES,
)  # fmt: skip
SERVICES_BY_KEY: dict[str, Service] = {s.key: s for s in SERVICES}
