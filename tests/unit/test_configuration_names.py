"""Configuration names (reference §4) for every AKS (target, auth type, client type), values, and hiding.

The expected names below are written from the reference (§4 tables, plus the decisions documented in
`servicelinker.catalog.configuration` where §4 says NOT FOUND), independently of the implementation's table.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from servicelinker.catalog.configuration import (
    build_configurations,
    configuration_name_items,
    configuration_names,
    looks_like_credential,
    to_configuration_result,
)
from servicelinker.catalog.roles import BUILTIN_ROLES
from servicelinker.catalog.services import SERVICES, SERVICES_BY_KEY
from servicelinker.catalog.targets import TARGETS, TARGETS_BY_NAME, Target
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.linker import LinkerResource
from servicelinker.model.records import Configuration, TargetFacts, blank_credentials
from servicelinker.probes.live import LIVE_PROBES

pytestmark = pytest.mark.unit

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
WI, SECRET, SP, CSI = "workload-identity", "secret", "service-principal", "csi"

# ================================================================================================ expected names
# EXPECTED[target][auth] = {client or "*": [names]}; "*" = every other client type of the target.

_PG = "AZURE_POSTGRESQL"
_MY = "AZURE_MYSQL"
_SQ = "AZURE_SQL"
_SPRING_DS = ["spring.datasource.url", "spring.datasource.username", "spring.datasource.password"]


def _pg(p: str) -> dict[str, list[str]]:
    return {
        "nodejs": [f"{p}_HOST", f"{p}_USER", f"{p}_PASSWORD", f"{p}_DATABASE", f"{p}_PORT", f"{p}_SSL"],
        "django": [f"{p}_NAME", f"{p}_HOST", f"{p}_USER", f"{p}_PASSWORD"],
        "springBoot": _SPRING_DS,
        "none": [f"{p}_HOST", f"{p}_USERNAME", f"{p}_DATABASE", f"{p}_PORT", f"{p}_SSL", f"{p}_PASSWORD"],
        "*": [f"{p}_CONNECTIONSTRING"],  # dotnet, dotnet-internal, go, java, php, ruby, python
    }


_MYSQL = {
    "springBoot": _SPRING_DS,
    "python": [f"{_MY}_NAME", f"{_MY}_HOST", f"{_MY}_USER", f"{_MY}_PASSWORD"],
    "django": [f"{_MY}_NAME", f"{_MY}_HOST", f"{_MY}_USER", f"{_MY}_PASSWORD"],
    "nodejs": [f"{_MY}_HOST", f"{_MY}_USER", f"{_MY}_PASSWORD", f"{_MY}_DATABASE", f"{_MY}_PORT", f"{_MY}_SSL"],
    "php": [f"{_MY}_DBNAME", f"{_MY}_HOST", f"{_MY}_PORT", f"{_MY}_FLAG", f"{_MY}_USERNAME", f"{_MY}_PASSWORD"],
    "ruby": [f"{_MY}_DATABASE", f"{_MY}_HOST", f"{_MY}_USERNAME", f"{_MY}_PASSWORD", f"{_MY}_SSLMODE"],
    "none": [f"{_MY}_HOST", f"{_MY}_USERNAME", f"{_MY}_DATABASE", f"{_MY}_PORT", f"{_MY}_SSL", f"{_MY}_PASSWORD"],
    "*": [f"{_MY}_CONNECTIONSTRING"],  # dotnet, dotnet-internal, java, go
}
_SQL = {
    "springBoot": _SPRING_DS,
    "python": [f"{_SQ}_SERVER", f"{_SQ}_PORT", f"{_SQ}_DATABASE", f"{_SQ}_USER", f"{_SQ}_PASSWORD"],
    "django": [f"{_SQ}_HOST", f"{_SQ}_PORT", f"{_SQ}_NAME", f"{_SQ}_USER", f"{_SQ}_PASSWORD"],
    "nodejs": [f"{_SQ}_SERVER", f"{_SQ}_PORT", f"{_SQ}_DATABASE", f"{_SQ}_USERNAME", f"{_SQ}_PASSWORD"],
    "php": [f"{_SQ}_SERVERNAME", f"{_SQ}_DATABASE", f"{_SQ}_UID", f"{_SQ}_PASSWORD"],
    "ruby": [f"{_SQ}_HOST", f"{_SQ}_PORT", f"{_SQ}_DATABASE", f"{_SQ}_USERNAME", f"{_SQ}_PASSWORD"],
    "none": [f"{_SQ}_HOST", f"{_SQ}_PORT", f"{_SQ}_DATABASE", f"{_SQ}_USERNAME", f"{_SQ}_PASSWORD"],
    "*": [f"{_SQ}_CONNECTIONSTRING"],  # dotnet, dotnet-internal, java, go
}
_REDIS_SECRET = {
    "springBoot": [
        "spring.redis.host",
        "spring.redis.port",
        "spring.redis.database",
        "spring.redis.password",
        "spring.redis.ssl",
    ],
    "*": ["AZURE_REDIS_CONNECTIONSTRING"],
}
_C = "AZURE_COSMOS"
_CASS = [f"{_C}_CONTACTPOINT", f"{_C}_PORT", f"{_C}_KEYSPACE", f"{_C}_USERNAME"]
_GREM = [f"{_C}_HOSTNAME", f"{_C}_PORT", f"{_C}_USERNAME"]
_MI4 = [f"{_C}_LISTCONNECTIONSTRINGURL", f"{_C}_SCOPE", f"{_C}_CLIENTID", f"{_C}_RESOURCEENDPOINT"]
_SP6 = [
    f"{_C}_LISTCONNECTIONSTRINGURL",
    f"{_C}_SCOPE",
    f"{_C}_CLIENTID",
    f"{_C}_CLIENTSECRET",
    f"{_C}_TENANTID",
    f"{_C}_RESOURCEENDPOINT",
]
_KEYS3 = [f"{_C}_LISTKEYURL", f"{_C}_SCOPE", f"{_C}_RESOURCEENDPOINT"]
_SPRING_COSMOS = "spring.cloud.azure.cosmos"
_K = "AZURE_KEYVAULT"
_SPRING_KV = "spring.cloud.azure.keyvault.secret"


def _storage(kind: str) -> dict[str, dict[str, list[str]]]:
    p = f"AZURE_STORAGE{kind}"
    return {
        WI: {"*": [f"{p}_RESOURCEENDPOINT", f"{p}_CLIENTID"]},
        SECRET: {"*": [f"{p}_CONNECTIONSTRING"]},
        SP: {"*": [f"{p}_RESOURCEENDPOINT", f"{p}_CLIENTID", f"{p}_CLIENTSECRET", f"{p}_TENANTID"]},
    }


def _messaging(p: str, spring: str) -> dict[str, dict[str, list[str]]]:
    return {
        WI: {
            "springBoot": [f"{spring}.namespace", "spring.cloud.azure.client-id"],
            "*": [f"{p}_FULLYQUALIFIEDNAMESPACE", f"{p}_CLIENTID"],
        },
        SECRET: {"springBoot": [f"{spring}.connection-string"], "*": [f"{p}_CONNECTIONSTRING"]},
        SP: {
            "springBoot": [
                f"{spring}.namespace",
                "spring.cloud.azure.client-id",
                "spring.cloud.azure.tenant-id",
                "spring.cloud.azure.client-secret",
            ],
            "*": [f"{p}_FULLYQUALIFIEDNAMESPACE", f"{p}_CLIENTID", f"{p}_CLIENTSECRET", f"{p}_TENANTID"],
        },
    }


def _cognitive(p: str, endpoints: list[str]) -> dict[str, dict[str, list[str]]]:
    return {
        WI: {"*": [*endpoints, f"{p}_CLIENTID"]},
        SECRET: {"*": [*endpoints, f"{p}_KEY"]},
        SP: {"*": [*endpoints, f"{p}_CLIENTID", f"{p}_CLIENTSECRET", f"{p}_TENANTID"]},
    }


_BLOB = _storage("BLOB")
_BLOB[WI]["springBoot"] = [
    "spring.cloud.azure.storage.blob.credential.managed-identity-enabled",
    "spring.cloud.azure.storage.blob.account-name",
    "spring.cloud.azure.storage.blob.endpoint",
    "spring.cloud.azure.storage.blob.credential.client-id",
]
_BLOB[SECRET]["springBoot"] = [
    "azure.storage.account-name",
    "azure.storage.account-key",
    "azure.storage.blob-endpoint",
    "spring.cloud.azure.storage.blob.account-name",
    "spring.cloud.azure.storage.blob.account-key",
    "spring.cloud.azure.storage.blob.endpoint",
]
_QUEUE = _storage("QUEUE")
_QUEUE[SECRET]["springBoot"] = ["spring.cloud.azure.storage.account", "spring.cloud.azure.storage.access-key"]
_EVENTHUB = _messaging("AZURE_EVENTHUB", "spring.cloud.azure.eventhub")
_EVENTHUB[WI]["kafka-springBoot"] = [
    "spring.kafka.bootstrap-servers",
    "spring.cloud.azure.credential.managed-identity-enabled",
    "spring.cloud.azure.credential.client-id",
]
_EVENTHUB[SECRET]["kafka-springBoot"] = [
    "spring.kafka.bootstrap-servers",
    "spring.kafka.properties.sasl.jaas.config",
    "spring.kafka.properties.sasl.mechanism",
    "spring.kafka.properties.security.protocol",
]
_EVENTHUB[SP]["kafka-springBoot"] = [
    "spring.kafka.bootstrap-servers",
    "spring.cloud.azure.credential.client-id",
    "spring.cloud.azure.credential.client-secret",
    "spring.cloud.azure.profile.tenant-id",
]

EXPECTED: dict[str, dict[str, dict[str, list[str]]]] = {
    "postgres": {SECRET: _pg(_PG)},
    "postgres-flexible": {SECRET: _pg(_PG)},
    "mysql": {SECRET: _MYSQL},
    "mysql-flexible": {SECRET: _MYSQL},
    "sql": {SECRET: _SQL},
    "redis": {
        WI: {"*": ["AZURE_REDIS_HOST", "AZURE_REDIS_CLIENTID"]},
        SECRET: _REDIS_SECRET,
        SP: {"*": ["AZURE_REDIS_HOST", "AZURE_REDIS_CLIENTID", "AZURE_REDIS_CLIENTSECRET", "AZURE_REDIS_TENANTID"]},
    },
    "redis-enterprise": {SECRET: _REDIS_SECRET},
    "cosmos-cassandra": {
        WI: {"*": [*_KEYS3, *_CASS, f"{_C}_CLIENTID"]},
        SECRET: {
            "springBoot": [
                "spring.data.cassandra.contact-points",
                "spring.data.cassandra.port",
                "spring.data.cassandra.keyspace-name",
                "spring.data.cassandra.username",
                "spring.data.cassandra.password",
                "spring.data.cassandra.local-datacenter",
                "spring.data.cassandra.ssl",
            ],
            "*": [*_CASS, f"{_C}_PASSWORD"],
        },
        SP: {"*": [*_KEYS3, *_CASS, f"{_C}_CLIENTID", f"{_C}_CLIENTSECRET", f"{_C}_TENANTID"]},
    },
    "cosmos-gremlin": {
        WI: {"*": [*_KEYS3, *_GREM, f"{_C}_CLIENTID"]},
        SECRET: {"*": [*_GREM, f"{_C}_PASSWORD"]},
        SP: {"*": [*_KEYS3, *_GREM, f"{_C}_CLIENTID", f"{_C}_CLIENTSECRET", f"{_C}_TENANTID"]},
    },
    "cosmos-mongo": {
        WI: {"*": _MI4},
        SECRET: {
            "springBoot": ["spring.data.mongodb.database", "spring.data.mongodb.uri"],
            "*": [f"{_C}_CONNECTIONSTRING"],
        },
        SP: {"*": _SP6},
    },
    "cosmos-table": {WI: {"*": _MI4}, SECRET: {"*": [f"{_C}_CONNECTIONSTRING"]}, SP: {"*": _SP6}},
    "cosmos-sql": {
        WI: {
            "springBoot": [
                f"{_SPRING_COSMOS}.credential.managed-identity-enabled",
                f"{_SPRING_COSMOS}.database",
                f"{_SPRING_COSMOS}.endpoint",
                f"{_SPRING_COSMOS}.credential.client-id",
            ],
            "*": _MI4,
        },
        SECRET: {
            "springBoot": [
                "azure.cosmos.key",
                "azure.cosmos.database",
                "azure.cosmos.uri",
                f"{_SPRING_COSMOS}.key",
                f"{_SPRING_COSMOS}.database",
                f"{_SPRING_COSMOS}.endpoint",
            ],
            "*": [f"{_C}_CONNECTIONSTRING"],
        },
        SP: {
            "springBoot": [
                f"{_SPRING_COSMOS}.credential.client-id",
                f"{_SPRING_COSMOS}.credential.client-secret",
                f"{_SPRING_COSMOS}.profile.tenant-id",
                f"{_SPRING_COSMOS}.database",
                f"{_SPRING_COSMOS}.endpoint",
            ],
            "*": _SP6,
        },
    },
    "storage-blob": _BLOB,
    "storage-queue": _QUEUE,
    "storage-file": {
        SECRET: {
            "springBoot": ["azure.storage.account-name", "azure.storage.account-key", "azure.storage.file-endpoint"],
            "*": ["AZURE_STORAGEFILE_CONNECTIONSTRING"],
        }
    },
    "storage-table": _storage("TABLE"),
    "keyvault": {
        WI: {
            "springBoot": [
                "azure.keyvault.uri",
                "azure.keyvault.client-id",
                "azure.keyvault.scope",
                f"{_SPRING_KV}.credential.managed-identity-enabled",
                f"{_SPRING_KV}.endpoint",
                f"{_SPRING_KV}.credential.client-id",
            ],
            "*": [f"{_K}_SCOPE", f"{_K}_RESOURCEENDPOINT", f"{_K}_CLIENTID"],
        },
        SP: {
            "springBoot": [
                "azure.keyvault.uri",
                "azure.keyvault.client-id",
                "azure.keyvault.client-key",
                "azure.keyvault.tenant-id",
                "azure.keyvault.scope",
                f"{_SPRING_KV}.endpoint",
                f"{_SPRING_KV}.credential.client-id",
                f"{_SPRING_KV}.credential.client-secret",
                f"{_SPRING_KV}.profile.tenant-id",
            ],
            "*": [f"{_K}_SCOPE", f"{_K}_RESOURCEENDPOINT", f"{_K}_CLIENTID", f"{_K}_CLIENTSECRET", f"{_K}_TENANTID"],
        },
        CSI: {"*": [f"{_K}_NAME", f"{_K}_TENANTID", f"{_K}_CLIENTID"]},
    },
    "appconfig": {
        WI: {
            "none": [
                "AZURE_APPCONFIGURATION_ENDPOINT",
                "AZURE_APPCONFIGURATION_CLIENTID",
                "AZURE_APPCONFIGURATION_SCOPE",
            ],
            "*": ["AZURE_APPCONFIGURATION_ENDPOINT", "AZURE_APPCONFIGURATION_CLIENTID"],
        },
        SECRET: {"*": ["AZURE_APPCONFIGURATION_CONNECTIONSTRING"]},
        SP: {
            "*": [
                "AZURE_APPCONFIGURATION_ENDPOINT",
                "AZURE_APPCONFIGURATION_CLIENTID",
                "AZURE_APPCONFIGURATION_CLIENTSECRET",
                "AZURE_APPCONFIGURATION_TENANTID",
            ]
        },
    },
    "eventhub": _EVENTHUB,
    "servicebus": _messaging("AZURE_SERVICEBUS", "spring.cloud.azure.servicebus"),
    "signalr": {a: {"*": ["AZURE_SIGNALR_CONNECTIONSTRING"]} for a in (WI, SECRET, SP)},
    "webpubsub": {
        WI: {"*": ["AZURE_WEBPUBSUB_HOST", "AZURE_WEBPUBSUB_CLIENTID"]},
        SECRET: {"*": ["AZURE_WEBPUBSUB_CONNECTIONSTRING"]},
        SP: {
            "*": [
                "AZURE_WEBPUBSUB_HOST",
                "AZURE_WEBPUBSUB_CLIENTID",
                "AZURE_WEBPUBSUB_CLIENTSECRET",
                "AZURE_WEBPUBSUB_TENANTID",
            ]
        },
    },
    "app-insights": {SECRET: {"*": ["APPLICATIONINSIGHTS_CONNECTION_STRING"]}},
    "neon-postgres": {SECRET: _pg("NEON_POSTGRESQL")},
    "mongodb-atlas": {SECRET: {"*": ["MONGODBATLAS_CLUSTER_CONNECTIONSTRING"]}},
}

#: Targets with several name sets: selector value -> expected names.
EXPECTED_CONFLUENT: dict[str, dict[str, list[str]]] = {
    "ConfluentBootstrapServer": {
        "springBoot": ["spring.kafka.properties.bootstrap.servers", "spring.kafka.properties.sasl.jaas.config"],
        "*": ["AZURE_CONFLUENTCLOUDKAFKA_BOOTSTRAPSERVER", "AZURE_CONFLUENTCLOUDKAFKA_KAFKASASLCONFIG"],
    },
    "ConfluentSchemaRegistry": {
        "springBoot": [
            "spring.kafka.properties.schema.registry.url",
            "spring.kafka.properties.schema.registry.basic.auth.user.info",
        ],
        "*": ["AZURE_CONFLUENTCLOUDSCHEMAREGISTRY_URL", "AZURE_CONFLUENTCLOUDSCHEMAREGISTRY_USERINFO"],
    },
}
EXPECTED_COGNITIVE: dict[str, dict[str, dict[str, list[str]]]] = {
    "OpenAI": _cognitive("AZURE_OPENAI", ["AZURE_OPENAI_BASE"]),
    "CognitiveServices": _cognitive("AZURE_COGNITIVESERVICES", ["AZURE_COGNITIVESERVICES_ENDPOINT"]),
    "AIServices": _cognitive(
        "AZURE_AISERVICES",
        [
            "AZURE_AISERVICES_OPENAI_BASE",
            "AZURE_AISERVICES_COGNITIVESERVICES_ENDPOINT",
            "AZURE_AISERVICES_SPEECH_ENDPOINT",
        ],
    ),
}

#: §6.2 rule: values carrying a password, key, client secret, or a connection/SASL/user-info string with one.
_CREDENTIAL = re.compile(
    r"(PASSWORD$|CLIENTSECRET$|_KEY$|CONNECTIONSTRING$|CONNECTION_STRING$|KAFKASASLCONFIG$|USERINFO$|"
    r"\.password$|account-key$|access-key$|cosmos\.key$|client-secret$|client-key$|jaas\.config$|user\.info$|"
    r"mongodb\.uri$|connection-string$)"
)


def expected_credential(name: str, auth: str) -> bool:
    if name == "AZURE_SIGNALR_CONNECTIONSTRING":
        return auth != WI  # AuthType=aad;client-id=... carries no secret
    return bool(_CREDENTIAL.search(name))


# ================================================================================================ fixtures

AZURE_FACTS = TargetFacts(
    host="host.example.net",
    database="db",
    account_name="acct",
    account_key="ACCOUNTKEY==",
    endpoint="https://acct.example.net/",
    blob_endpoint="https://acct.blob.core.windows.net/",
    queue_endpoint="https://acct.queue.core.windows.net/",
    table_endpoint="https://acct.table.core.windows.net/",
    file_endpoint="https://acct.file.core.windows.net/",
    endpoint_suffix="core.windows.net",
    connection_string="Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=SECRETKEY",
    vault_uri="https://kv.vault.azure.net/",
    namespace_fqdn="ns.servicebus.windows.net",
    location="eastus",
    openai_endpoint="https://acct.openai.azure.com/",
    speech_endpoint="https://eastus.stt.speech.microsoft.com",
    client_id="addon-client-id",
    tenant_id="tenant-id",
)

AUTH_BODIES: dict[str, dict[str, Any]] = {
    WI: {"authType": "userAssignedIdentity", "clientId": "uami-client-id", "subscriptionId": SUB},
    SECRET: {"authType": "secret", "name": "dbuser", "secretInfo": {"secretType": "rawValue", "value": "P@ss w0rd"}},
    "secret(auto)": {"authType": "secret"},
    SP: {"authType": "servicePrincipalSecret", "clientId": "sp-client-id", "principalId": "p", "secret": "SPSECRET"},
    CSI: {"authType": "userAssignedIdentity"},
}


def sample_id(target: Target) -> str:
    assert target.pattern is not None
    values = {p: f"my{p.replace('_', '')}" for p in target.pattern.placeholders if p != "subscription"}
    values.update(database="db", target_resource_group="rg")
    return target.format_id(SUB, **values)


def linker(target: Target, auth: str, client: str, service_type: str | None = None, **config: Any) -> LinkerResource:
    """A linker body for a catalog combination (`auth`: CLI name)."""
    body_auth = AUTH_BODIES["secret(auto)" if auth == SECRET and target.secret_is_auto else auth]
    if service_type:
        service: dict[str, Any] = {"type": service_type, "endpoint": "pkc-1.eastus.azure.confluent.cloud:9092"}
    else:
        service = {"type": "AzureResource", "id": sample_id(target)}
        if auth == CSI:
            service["resourceProperties"] = {"type": "KeyVault", "connectAsKubernetesCsiDriver": True}
    return LinkerResource.model_validate(
        {
            "properties": {
                "targetService": service,
                "authInfo": body_auth,
                "clientType": client,
                "configurationInfo": config,
            }
        }
    )


def cli_auths(target: Target) -> list[str]:
    names = [SECRET if a.startswith("secret") else a for a in target.auth_types]
    return [*dict.fromkeys(names), *([CSI] if target.csi else [])]


def expected_for(table: dict[str, list[str]], client: str) -> list[str]:
    return table.get(client, table["*"])


COMBINATIONS = [(t.name, a, c) for t in TARGETS if t.name in EXPECTED for a in cli_auths(t) for c in t.client_types]
MULTI = [
    *[
        ("confluent-cloud", kind, c)
        for kind in EXPECTED_CONFLUENT
        for c in TARGETS_BY_NAME["confluent-cloud"].client_types
    ],
    *[
        ("cognitiveservices", f"{kind}/{a}", c)
        for kind in EXPECTED_COGNITIVE
        for a in (WI, SECRET, SP)
        for c in TARGETS_BY_NAME["cognitiveservices"].client_types
    ],
]


def test_expectations_cover_every_target() -> None:
    assert set(EXPECTED) | {"confluent-cloud", "cognitiveservices"} == {t.name for t in TARGETS}
    for name, per_auth in EXPECTED.items():
        assert set(per_auth) == set(cli_auths(TARGETS_BY_NAME[name])), name


# ================================================================================================ names


@pytest.mark.parametrize(("name", "auth", "client"), COMBINATIONS)
def test_configuration_names(name: str, auth: str, client: str) -> None:
    target = TARGETS_BY_NAME[name]
    configs = build_configurations(linker(target, auth, client), AZURE_FACTS)
    assert [c.name for c in configs] == expected_for(EXPECTED[name][auth], client)
    for c in configs:
        assert c.credential is expected_credential(c.name, auth), c.name
        assert c.description


@pytest.mark.parametrize(("name", "variant", "client"), MULTI)
def test_configuration_names_of_multi_family_targets(name: str, variant: str, client: str) -> None:
    target = TARGETS_BY_NAME[name]
    if name == "confluent-cloud":
        configs = build_configurations(linker(target, SECRET, client, service_type=variant), AZURE_FACTS)
        expected = expected_for(EXPECTED_CONFLUENT[variant], client)
        auth = SECRET
    else:
        kind, auth = variant.split("/")
        facts = AZURE_FACTS.model_copy(update={"account_kind": kind})
        configs = build_configurations(linker(target, auth, client), facts)
        expected = expected_for(EXPECTED_COGNITIVE[kind][auth], client)
    assert [c.name for c in configs] == expected
    assert [c.credential for c in configs] == [expected_credential(c.name, auth) for c in configs]


def test_unknown_cognitive_kind_uses_cognitive_services_names() -> None:
    target = TARGETS_BY_NAME["cognitiveservices"]
    facts = AZURE_FACTS.model_copy(update={"account_kind": "TextAnalytics"})
    names = [c.name for c in build_configurations(linker(target, SECRET, "python"), facts)]
    assert names == ["AZURE_COGNITIVESERVICES_ENDPOINT", "AZURE_COGNITIVESERVICES_KEY"]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_table_covers_every_allowed_combination(target: Target) -> None:
    for key in target.config_keys:
        for client in target.client_types:
            for service in target.services:
                assert service.names.get(key, client), (target.name, service.key, key, client)


@pytest.mark.parametrize(("name", "auth", "client"), COMBINATIONS)
def test_list_configuration_names_matches_build(name: str, auth: str, client: str) -> None:
    """configurationNames lists the required names of a build, plus optional (non-default port) names."""
    target = TARGETS_BY_NAME[name]
    key = {WI: "userAssignedIdentity", SECRET: "secret", SP: "servicePrincipalSecret", CSI: "csi"}[auth]
    items = configuration_name_items(target, config_keys=[key], client_types=[client])
    assert len(items) == 1
    props = items[0].properties
    assert props is not None
    assert props.target_service == target.provider_type
    assert props.client_type == client
    assert props.auth_type == {CSI: "userAssignedIdentity"}.get(auth, key)
    names = props.names or []
    # optional names: a non-default port (absent with Azure facts), Azure Files' endpoint for Spring (present)
    ports = [n for n in names if not n.required and (n.value or "").endswith("_PORT")]
    assert [n.value for n in names if n not in ports] == expected_for(EXPECTED[name][auth], client)
    assert {n.value for n in names if not n.required} - {n.value for n in ports} <= {"azure.storage.file-endpoint"}
    assert [n.credential for n in names] == [expected_credential(n.value or "", auth) for n in names]


def test_optional_port_names() -> None:
    target = TARGETS_BY_NAME["postgres-flexible"]
    names = configuration_name_items(target, config_keys=["secret"], client_types=["django"])[0].properties
    assert names is not None
    assert [(n.value, n.required) for n in names.names or []] == [
        ("AZURE_POSTGRESQL_NAME", True),
        ("AZURE_POSTGRESQL_HOST", True),
        ("AZURE_POSTGRESQL_USER", True),
        ("AZURE_POSTGRESQL_PASSWORD", True),
        ("AZURE_POSTGRESQL_PORT", False),
    ]


def test_configuration_names_result_shape() -> None:
    result = configuration_names(
        [TARGETS_BY_NAME["appconfig"]], config_keys=["userAssignedIdentity"], client_types=["none"]
    ).response_dump()
    assert result == {
        "value": [
            {
                "properties": {
                    "targetService": "Microsoft.AppConfiguration/configurationStores",
                    "clientType": "none",
                    "authType": "userAssignedIdentity",
                    "names": [
                        {
                            "value": "AZURE_APPCONFIGURATION_ENDPOINT",
                            "description": "App configuration endpoint",
                            "required": True,
                            "credential": False,
                        },
                        {
                            "value": "AZURE_APPCONFIGURATION_CLIENTID",
                            "description": "The client(application) ID of the identity",
                            "required": True,
                            "credential": False,
                        },
                        {
                            "value": "AZURE_APPCONFIGURATION_SCOPE",
                            "description": "The scopes required for getting token.",
                            "required": True,
                            "credential": False,
                        },
                    ],
                }
            }
        ]
    }


def test_every_service_record_is_used_and_complete() -> None:
    """Each service is named by a target, has names, and every default role it grants is a built-in role."""
    assert {s.key for t in TARGETS for s in t.services} == set(SERVICES_BY_KEY)
    assert len(SERVICES_BY_KEY) == len(SERVICES)
    for service in SERVICES:
        assert service.names.table, service.key
        assert all(r.name and BUILTIN_ROLES[r.name.lower()] == r for r in service.roles), service.key
        if service.probe is not None:
            assert service.probe in LIVE_PROBES, service.key


# ================================================================================================ values (Azure)


def build(name: str, auth: str, client: str, facts: TargetFacts, **config: Any) -> dict[str, str]:
    return {c.name: c.value for c in build_configurations(linker(TARGETS_BY_NAME[name], auth, client, **config), facts)}


PG_AZURE = TargetFacts(host="srv.postgres.database.azure.com")
PG_VALUES = {
    "dotnet": "Server=srv.postgres.database.azure.com;Database=db;Port=5432;Ssl Mode=Require;User Id=dbuser;"
    "Password=P@ss w0rd;",
    "go": "host=srv.postgres.database.azure.com dbname=db sslmode=require user=dbuser password='P@ss w0rd'",
    "java": "jdbc:postgresql://srv.postgres.database.azure.com:5432/db?sslmode=require&user=dbuser"
    "&password=P%40ss%20w0rd",
    "php": "host=srv.postgres.database.azure.com port=5432 dbname=db sslmode=require user=dbuser password='P@ss w0rd'",
    "python": "dbname=db host=srv.postgres.database.azure.com port=5432 sslmode=require user=dbuser "
    "password='P@ss w0rd'",
}


@pytest.mark.parametrize(("client", "value"), list(PG_VALUES.items()))
def test_postgres_azure_connection_strings(client: str, value: str) -> None:
    assert build("postgres-flexible", SECRET, client, PG_AZURE) == {"AZURE_POSTGRESQL_CONNECTIONSTRING": value}


def test_postgres_azure_discrete_values() -> None:
    assert build("postgres-flexible", SECRET, "nodejs", PG_AZURE) == {
        "AZURE_POSTGRESQL_HOST": "srv.postgres.database.azure.com",
        "AZURE_POSTGRESQL_USER": "dbuser",
        "AZURE_POSTGRESQL_PASSWORD": "P@ss w0rd",
        "AZURE_POSTGRESQL_DATABASE": "db",
        "AZURE_POSTGRESQL_PORT": "5432",
        "AZURE_POSTGRESQL_SSL": "true",
    }
    assert build("postgres-flexible", SECRET, "springBoot", PG_AZURE)["spring.datasource.url"] == (
        "jdbc:postgresql://srv.postgres.database.azure.com:5432/db?sslmode=require"
    )


def test_mysql_and_sql_azure_values() -> None:
    mysql = TargetFacts(host="srv.mysql.database.azure.com")
    assert build("mysql-flexible", SECRET, "dotnet", mysql)["AZURE_MYSQL_CONNECTIONSTRING"] == (
        "Server=srv.mysql.database.azure.com;Database=db;Port=3306;User Id=dbuser;Password=P@ss w0rd;SSL Mode=Required"
    )
    assert build("mysql-flexible", SECRET, "java", mysql)["AZURE_MYSQL_CONNECTIONSTRING"] == (
        "jdbc:mysql://srv.mysql.database.azure.com:3306/db?sslmode=required&user=dbuser&password=P%40ss%20w0rd"
    )
    assert build("mysql-flexible", SECRET, "go", mysql)["AZURE_MYSQL_CONNECTIONSTRING"] == (
        "dbuser:P@ss w0rd@tcp(srv.mysql.database.azure.com:3306)/db?tls=true"
    )
    assert build("mysql-flexible", SECRET, "php", mysql)["AZURE_MYSQL_FLAG"] == "MySQL_CLIENT_SSL"
    assert build("mysql-flexible", SECRET, "ruby", mysql)["AZURE_MYSQL_SSLMODE"] == "required"
    sql = TargetFacts(host="srv.database.windows.net")
    assert build("sql", SECRET, "java", sql)["AZURE_SQL_CONNECTIONSTRING"] == (
        "jdbc:sqlserver://srv.database.windows.net:1433;databaseName=db;user=dbuser;password=P@ss w0rd;"
    )
    assert build("sql", SECRET, "php", sql)["AZURE_SQL_SERVERNAME"] == "srv.database.windows.net,1433"
    assert build("sql", SECRET, "python", sql)["AZURE_SQL_PORT"] == "1433"


def test_redis_azure_values() -> None:
    facts = TargetFacts(host="cache.redis.cache.windows.net", port=6380, account_key="KEY=")
    # the database index comes from the target id (`.../redis/<server>/databases/db`) when facts carry none
    assert build("redis", SECRET, "python", facts) == {
        "AZURE_REDIS_CONNECTIONSTRING": "rediss://:KEY=@cache.redis.cache.windows.net:6380/db"
    }
    assert build("redis", SECRET, "dotnet", facts.model_copy(update={"database": "0"})) == {
        "AZURE_REDIS_CONNECTIONSTRING": "cache.redis.cache.windows.net:6380,password=KEY=,ssl=True,defaultDatabase=0"
    }
    assert build("redis", SECRET, "springBoot", facts.model_copy(update={"database": "0"})) == {
        "spring.redis.host": "cache.redis.cache.windows.net",
        "spring.redis.port": "6380",
        "spring.redis.database": "0",
        "spring.redis.password": "KEY=",
        "spring.redis.ssl": "true",
    }
    assert build("redis", WI, "python", facts) == {
        "AZURE_REDIS_HOST": "cache.redis.cache.windows.net",
        "AZURE_REDIS_CLIENTID": "uami-client-id",
    }


def test_storage_azure_connection_string() -> None:
    facts = TargetFacts(
        account_name="acct",
        account_key="KEY==",
        endpoint_suffix="core.windows.net",
        blob_endpoint="https://acct.blob.core.windows.net/",
    )
    assert build("storage-blob", SECRET, "python", facts) == {
        "AZURE_STORAGEBLOB_CONNECTIONSTRING": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=KEY==;"
        "EndpointSuffix=core.windows.net"
    }
    assert build("storage-blob", WI, "python", facts) == {
        "AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://acct.blob.core.windows.net/",
        "AZURE_STORAGEBLOB_CLIENTID": "uami-client-id",
    }
    assert build("storage-blob", SP, "none", facts.model_copy(update={"tenant_id": "t1"})) == {
        "AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://acct.blob.core.windows.net/",
        "AZURE_STORAGEBLOB_CLIENTID": "sp-client-id",
        "AZURE_STORAGEBLOB_CLIENTSECRET": "SPSECRET",
        "AZURE_STORAGEBLOB_TENANTID": "t1",
    }


def test_keyvault_and_cosmos_azure_values() -> None:
    assert build("keyvault", WI, "python", TargetFacts(vault_uri="https://kv.vault.azure.net/")) == {
        "AZURE_KEYVAULT_SCOPE": "https://management.azure.com/.default",
        "AZURE_KEYVAULT_RESOURCEENDPOINT": "https://kv.vault.azure.net/",
        "AZURE_KEYVAULT_CLIENTID": "uami-client-id",
    }
    assert build("keyvault", CSI, "none", TargetFacts(client_id="addon-id", tenant_id="t1")) == {
        "AZURE_KEYVAULT_NAME": "myvault",
        "AZURE_KEYVAULT_TENANTID": "t1",
        "AZURE_KEYVAULT_CLIENTID": "addon-id",
    }
    cosmos = TargetFacts(endpoint="https://myaccount.documents.azure.com:443/", account_key="CK==")
    assert build("cosmos-sql", WI, "python", cosmos) == {
        "AZURE_COSMOS_LISTCONNECTIONSTRINGURL": f"https://management.azure.com/subscriptions/{SUB}/resourceGroups/rg"
        "/providers/Microsoft.DocumentDB/databaseAccounts/myaccount/listConnectionStrings?api-version=2021-04-15",
        "AZURE_COSMOS_SCOPE": "https://management.azure.com/.default",
        "AZURE_COSMOS_CLIENTID": "uami-client-id",
        "AZURE_COSMOS_RESOURCEENDPOINT": "https://myaccount.documents.azure.com:443/",
    }
    assert build("cosmos-sql", SECRET, "python", cosmos) == {
        "AZURE_COSMOS_CONNECTIONSTRING": "AccountEndpoint=https://myaccount.documents.azure.com:443/;AccountKey=CK=="
    }
    gremlin = build(
        "cosmos-gremlin", SECRET, "python", TargetFacts(host="myaccount.gremlin.cosmos.azure.com", account_key="GK")
    )
    assert gremlin == {
        "AZURE_COSMOS_HOSTNAME": "myaccount.gremlin.cosmos.azure.com",
        "AZURE_COSMOS_PORT": "443",
        "AZURE_COSMOS_USERNAME": "/dbs/db/colls/mygraph",
        "AZURE_COSMOS_PASSWORD": "GK",
    }


def test_signalr_confluent_and_eventhub_values() -> None:
    signalr = TargetFacts(endpoint="https://s.service.signalr.net", account_key="AK")
    assert build("signalr", WI, "dotnet", signalr) == {
        "AZURE_SIGNALR_CONNECTIONSTRING": "Endpoint=https://s.service.signalr.net;AuthType=aad;client-id=uami-client-id;"
        "Version=1.0;"
    }
    assert build("signalr", SECRET, "dotnet", signalr) == {
        "AZURE_SIGNALR_CONNECTIONSTRING": "Endpoint=https://s.service.signalr.net;AccessKey=AK;Version=1.0;"
    }
    target = TARGETS_BY_NAME["confluent-cloud"]
    kafka = build_configurations(
        linker(target, SECRET, "python", service_type="ConfluentBootstrapServer"), TargetFacts()
    )
    assert {c.name: c.value for c in kafka} == {
        "AZURE_CONFLUENTCLOUDKAFKA_BOOTSTRAPSERVER": "pkc-1.eastus.azure.confluent.cloud:9092",
        "AZURE_CONFLUENTCLOUDKAFKA_KAFKASASLCONFIG": "org.apache.kafka.common.security.plain.PlainLoginModule "
        "required username='dbuser' password='P@ss w0rd';",
    }
    schema = build_configurations(linker(target, SECRET, "none", service_type="ConfluentSchemaRegistry"), TargetFacts())
    assert schema[1].value == "dbuser:P@ss w0rd"
    eh = TargetFacts(
        namespace_fqdn="ns.servicebus.windows.net", connection_string="Endpoint=sb://ns/;SharedAccessKey=K"
    )
    assert build("eventhub", SECRET, "kafka-springBoot", eh)["spring.kafka.properties.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="$ConnectionString" '
        'password="Endpoint=sb://ns/;SharedAccessKey=K";'
    )
    assert build("eventhub", WI, "springBoot", eh) == {
        "spring.cloud.azure.eventhub.namespace": "mynamespace",
        "spring.cloud.azure.client-id": "uami-client-id",
    }


TRICKY = "p w'\"\\;@/%&=+x"


@pytest.mark.parametrize(
    ("name", "client", "expected"),
    [
        ("postgres-flexible", "python", "password='p w\\'\"\\\\;@/%&=+x'"),
        ("postgres-flexible", "go", "password='p w\\'\"\\\\;@/%&=+x'"),
        ("postgres-flexible", "dotnet", 'Password="p w\'""\\;@/%&=+x";'),
        ("mysql-flexible", "dotnet", 'Password="p w\'""\\;@/%&=+x";'),
        ("sql", "dotnet", 'Password="p w\'""\\;@/%&=+x"'),
        ("sql", "go", 'password="p w\'""\\;@/%&=+x";'),
        ("sql", "java", "password={p w'\"\\;@/%&=+x};"),
        ("postgres-flexible", "java", "&password=p%20w%27%22%5C%3B%40%2F%25%26%3D%2Bx"),
    ],
)
def test_passwords_are_escaped_for_their_grammar(name: str, client: str, expected: str) -> None:
    body = linker(TARGETS_BY_NAME[name], SECRET, client)
    info = body.properties.auth_info
    assert info is not None
    info.secret_info.value = TRICKY  # type: ignore[union-attr]
    (value,) = {c.name: c.value for c in build_configurations(body, PG_AZURE)}.values()
    assert expected in value


def test_users_are_escaped_too() -> None:
    body = linker(TARGETS_BY_NAME["postgres-flexible"], SECRET, "java")
    body.properties.auth_info.name = "app +user&=%;'x"  # type: ignore[union-attr]
    assert "&user=app%20%2Buser%26%3D%25%3B%27x&" in build_configurations(body, PG_AZURE)[0].value
    body = linker(TARGETS_BY_NAME["postgres-flexible"], SECRET, "python")
    body.properties.auth_info.name = "app user"  # type: ignore[union-attr]
    assert " user='app user' " in build_configurations(body, PG_AZURE)[0].value


def test_plain_passwords_are_not_quoted() -> None:
    body = linker(TARGETS_BY_NAME["postgres-flexible"], SECRET, "python")
    body.properties.auth_info.secret_info.value = "S3cret-pa55_word"  # type: ignore[union-attr]
    assert build_configurations(body, PG_AZURE)[0].value.endswith(" password=S3cret-pa55_word")


def test_redis_url_percent_encodes_only_what_a_url_needs() -> None:
    facts = TargetFacts(host="c1.redis.cache.windows.net", database="0", account_key="ab/c+d==")
    assert build("redis", SECRET, "python", facts) == {
        "AZURE_REDIS_CONNECTIONSTRING": "rediss://:ab%2Fc+d==@c1.redis.cache.windows.net:6380/0"
    }
    # StackExchange.Redis takes the key verbatim
    assert build("redis", SECRET, "dotnet", facts)["AZURE_REDIS_CONNECTIONSTRING"].startswith(
        "c1.redis.cache.windows.net:6380,password=ab/c+d==,"
    )


def test_spring_file_endpoint_is_optional() -> None:
    azurite = TargetFacts(account_name="devstoreaccount1", account_key="K", blob_endpoint="http://127.0.0.1:1/d")
    assert list(build("storage-file", SECRET, "springBoot", azurite)) == [
        "azure.storage.account-name",
        "azure.storage.account-key",
    ]


# ================================================================================================ values (local)

LOCAL_PG = TargetFacts(host="127.0.0.1", port=27010, ssl=False)


def test_postgres_local_values_use_facts_not_azure_domains() -> None:
    assert build("postgres-flexible", SECRET, "python", LOCAL_PG)["AZURE_POSTGRESQL_CONNECTIONSTRING"] == (
        "dbname=db host=127.0.0.1 port=27010 sslmode=disable user=dbuser password='P@ss w0rd'"
    )
    assert build("postgres-flexible", SECRET, "dotnet", LOCAL_PG)["AZURE_POSTGRESQL_CONNECTIONSTRING"] == (
        "Server=127.0.0.1;Database=db;Port=27010;Ssl Mode=Disable;User Id=dbuser;Password=P@ss w0rd;"
    )
    # Go and django carry no port on Azure; a non-default port is still delivered
    assert build("postgres-flexible", SECRET, "go", LOCAL_PG)["AZURE_POSTGRESQL_CONNECTIONSTRING"] == (
        "host=127.0.0.1 port=27010 dbname=db sslmode=disable user=dbuser password='P@ss w0rd'"
    )
    assert build("postgres-flexible", SECRET, "django", LOCAL_PG)["AZURE_POSTGRESQL_PORT"] == "27010"
    assert build("postgres-flexible", SECRET, "nodejs", LOCAL_PG)["AZURE_POSTGRESQL_SSL"] == "false"


def test_mysql_local_values() -> None:
    local = TargetFacts(host="127.0.0.1", port=27011, ssl=False)
    assert build("mysql-flexible", SECRET, "python", local) == {
        "AZURE_MYSQL_NAME": "db",
        "AZURE_MYSQL_HOST": "127.0.0.1",
        "AZURE_MYSQL_USER": "dbuser",
        "AZURE_MYSQL_PASSWORD": "P@ss w0rd",
        "AZURE_MYSQL_PORT": "27011",
    }
    assert build("mysql-flexible", SECRET, "java", local)["AZURE_MYSQL_CONNECTIONSTRING"].startswith(
        "jdbc:mysql://127.0.0.1:27011/db?sslmode=disabled&"
    )
    assert build("mysql-flexible", SECRET, "go", local)["AZURE_MYSQL_CONNECTIONSTRING"].endswith("?tls=false")


def test_redis_local_plain() -> None:
    local = TargetFacts(host="127.0.0.1", port=27030, ssl=False, account_key="", database="0")
    assert build("redis", SECRET, "python", local) == {"AZURE_REDIS_CONNECTIONSTRING": "redis://:@127.0.0.1:27030/0"}
    assert build("redis", SECRET, "dotnet", local)["AZURE_REDIS_CONNECTIONSTRING"] == (
        "127.0.0.1:27030,password=,ssl=False,defaultDatabase=0"
    )
    assert build("redis", WI, "python", local)["AZURE_REDIS_PORT"] == "27030"


def test_storage_azurite_connection_string() -> None:
    azurite = TargetFacts(
        account_name="devstoreaccount1",
        account_key="Eby8vdM02xNOcqFl==",
        blob_endpoint="http://127.0.0.1:27020/devstoreaccount1",
        queue_endpoint="http://127.0.0.1:27021/devstoreaccount1",
        table_endpoint="http://127.0.0.1:27022/devstoreaccount1",
    )
    assert build("storage-blob", SECRET, "python", azurite) == {
        "AZURE_STORAGEBLOB_CONNECTIONSTRING": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFl==;BlobEndpoint=http://127.0.0.1:27020/devstoreaccount1;"
        "QueueEndpoint=http://127.0.0.1:27021/devstoreaccount1;TableEndpoint=http://127.0.0.1:27022/devstoreaccount1;"
    }
    assert build("storage-queue", WI, "python", azurite)["AZURE_STORAGEQUEUE_RESOURCEENDPOINT"] == (
        "http://127.0.0.1:27021/devstoreaccount1"
    )


# ================================================================================================ configurationInfo


def test_customized_keys_rename() -> None:
    values = build(
        "storage-blob",
        SECRET,
        "python",
        AZURE_FACTS,
        customizedKeys={"azure_storageblob_connectionstring": "BLOB_CS", "NOT_THERE": "X"},
    )
    assert list(values) == ["BLOB_CS"]


def test_additional_configurations_added_and_classified() -> None:
    configs = build_configurations(
        linker(
            TARGETS_BY_NAME["storage-blob"],
            WI,
            "python",
            additionalConfigurations={"throttlingLimit": "100", "API_TOKEN": "t", "AZURE_STORAGEBLOB_CLIENTID": "o"},
        ),
        AZURE_FACTS,
    )
    assert [(c.name, c.value, c.credential) for c in configs] == [
        ("AZURE_STORAGEBLOB_RESOURCEENDPOINT", "https://acct.blob.core.windows.net/", False),
        ("AZURE_STORAGEBLOB_CLIENTID", "o", False),
        ("throttlingLimit", "100", False),
        ("API_TOKEN", "t", True),
    ]


@pytest.mark.parametrize(
    ("name", "client", "key", "suffix"),
    [
        ("postgres-flexible", "python", "AZURE_POSTGRESQL_CONNECTIONSTRING", " connect_timeout=10 application_name=a"),
        ("postgres-flexible", "java", "AZURE_POSTGRESQL_CONNECTIONSTRING", "&connect_timeout=10&application_name=a"),
        ("postgres-flexible", "dotnet", "AZURE_POSTGRESQL_CONNECTIONSTRING", ";connect_timeout=10;application_name=a;"),
        (
            "mysql-flexible",
            "dotnet",
            "AZURE_MYSQL_CONNECTIONSTRING",
            "SSL Mode=Required;connect_timeout=10;application_name=a;",
        ),
        ("storage-blob", "python", "AZURE_STORAGEBLOB_CONNECTIONSTRING", ";connect_timeout=10;application_name=a;"),
    ],
)
def test_additional_connection_string_properties(name: str, client: str, key: str, suffix: str) -> None:
    props = {"connect_timeout": "10", "application_name": "a"}
    value = build(name, SECRET, client, AZURE_FACTS, additionalConnectionStringProperties=props)[key]
    assert value.endswith(suffix)
    # only connection strings get them
    others = build(
        name,
        SECRET,
        "nodejs" if name != "storage-blob" else "python",
        AZURE_FACTS,
        additionalConnectionStringProperties=props,
    )
    assert all("connect_timeout" not in v for k, v in others.items() if not k.endswith("CONNECTIONSTRING"))


def test_neon_server_and_database_come_from_connection_string_properties() -> None:
    values = build(
        "neon-postgres",
        SECRET,
        "python",
        TargetFacts(),
        additionalConnectionStringProperties={
            "Server": "ep-1.eastus2.azure.neon.tech",
            "Database": "neondb",
            "options": "endpoint=ep-1",
        },
    )
    assert values == {
        "NEON_POSTGRESQL_CONNECTIONSTRING": "dbname=neondb host=ep-1.eastus2.azure.neon.tech port=5432 "
        "sslmode=require user=dbuser password='P@ss w0rd' options=endpoint=ep-1"
    }


def test_opt_out_and_no_auth_give_no_configurations() -> None:
    target = TARGETS_BY_NAME["storage-blob"]
    assert build_configurations(linker(target, WI, "python", action="optOut"), AZURE_FACTS) == []
    no_auth = LinkerResource.model_validate(
        {"properties": {"targetService": {"type": "AzureResource", "id": sample_id(target)}}}
    )
    assert build_configurations(no_auth, AZURE_FACTS) == []


# ================================================================================================ errors


def test_missing_user_secret_names_the_field() -> None:
    body = linker(TARGETS_BY_NAME["postgres-flexible"], SECRET, "python")
    assert body.properties.auth_info is not None
    body.properties.auth_info.secret_info = None  # type: ignore[union-attr]
    with pytest.raises(ArmError) as err:
        build_configurations(body, PG_AZURE)
    assert err.value.code == ErrorCode.INVALID_ARGUMENT_VALUE
    assert err.value.target == "properties.authInfo.secretInfo.value"
    assert err.value.message == (
        "The configuration AZURE_POSTGRESQL_CONNECTIONSTRING needs properties.authInfo.secretInfo.value, "
        "which the connection does not provide."
    )


def test_missing_fact_is_reported() -> None:
    with pytest.raises(ArmError) as err:
        build_configurations(linker(TARGETS_BY_NAME["storage-blob"], WI, "python"), TargetFacts())
    assert err.value.code == ErrorCode.INTERNAL_SERVER_ERROR
    assert "'blob_endpoint'" in err.value.message
    assert "AZURE_STORAGEBLOB_RESOURCEENDPOINT" in err.value.message


def test_unsupported_client_type_is_rejected() -> None:
    with pytest.raises(ArmError) as err:
        build_configurations(linker(TARGETS_BY_NAME["signalr"], SECRET, "python"), AZURE_FACTS)
    assert err.value.code == ErrorCode.UNSUPPORTED_COMBINATION
    assert err.value.message == "Client type 'python' is not supported for target signalr on AKS."
    assert err.value.target == "properties.clientType"
    with pytest.raises(ArmError) as err:
        build_configurations(linker(TARGETS_BY_NAME["storage-file"], WI, "python"), AZURE_FACTS)
    assert err.value.message == "Auth type 'userAssignedIdentity' is not supported for target storage-file on AKS."


# ================================================================================================ hiding


@pytest.mark.parametrize(("name", "auth", "client"), COMBINATIONS)
def test_list_configuration_blanks_credentials(name: str, auth: str, client: str) -> None:
    configs = build_configurations(linker(TARGETS_BY_NAME[name], auth, client), AZURE_FACTS)
    shown = blank_credentials(configs)
    assert [c.name for c in shown] == [c.name for c in configs]
    for before, after in zip(configs, shown, strict=True):
        if expected_credential(before.name, auth):
            assert after.value == ""
        else:
            assert after.value == before.value
            assert after.value != ""
    dumped = to_configuration_result(shown).response_dump()
    assert all(c["configType"] == "Default" for c in dumped["configurations"])
    for secret in ("P@ss w0rd", "ACCOUNTKEY==", "SPSECRET", "SECRETKEY"):
        assert secret not in str(dumped)


def test_configuration_repr_hides_credentials() -> None:
    c = Configuration(name="AZURE_X_PASSWORD", value="hunter2", credential=True)
    assert "hunter2" not in repr(c)
    assert "hunter2" not in repr(TargetFacts(password="hunter2", account_key="k2", client_secret="c3"))
    assert "visible" in repr(Configuration(name="AZURE_X_HOST", value="visible"))


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("MY_PASSWORD", True),
        ("apiKey", False),
        ("API_KEY", True),
        ("storage.access-key", True),
        ("SECRET_REF", True),
        ("CONNECTION_STRING", True),
        ("KEYSPACE", False),
        ("AZURE_KEYVAULT_NAME", False),
        ("token", True),
        ("throttlingLimit", False),
    ],
)
def test_looks_like_credential(name: str, credential: bool) -> None:
    assert looks_like_credential(name) is credential


def test_appconfig_read_by_the_kubernetes_extension_gets_the_extensions_key() -> None:
    """Azure delivers `azure_app_configuration_connection_string` when the cluster's App Configuration extension
    reads the store (2024-07-01-preview `connectWithKubernetesExtension`), not the SDKs' upper-case name."""
    from pydantic import SecretStr

    from servicelinker.catalog.configuration import build_configurations
    from servicelinker.catalog.targets import check_supported
    from servicelinker.model.linker import LinkerResource
    from servicelinker.model.records import TargetFacts

    store = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
             "Microsoft.AppConfiguration/configurationStores/cfg")  # fmt: skip
    facts = TargetFacts(endpoint="https://cfg.azconfig.io",
                        connection_string=SecretStr("Endpoint=https://cfg.azconfig.io;Id=i;Secret=s"))  # fmt: skip
    for extension, expected in ((True, "azure_app_configuration_connection_string"),
                                (False, "AZURE_APPCONFIGURATION_CONNECTIONSTRING")):  # fmt: skip
        body = LinkerResource.model_validate({"properties": {
            "targetService": {"type": "AzureResource", "id": store,
                              "resourceProperties": {"type": "AppConfig", "connectWithKubernetesExtension": extension}},
            "authInfo": {"authType": "secret"}, "clientType": "python"}})  # fmt: skip
        configs = build_configurations(body, facts, target=check_supported(body.properties))
        assert [c.name for c in configs] == [expected]
