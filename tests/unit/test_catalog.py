"""The AKS support catalog against reference §3, the auth mapping (§2.4), and default roles (§5.1)."""

from __future__ import annotations

from typing import Any

import pytest

from servicelinker.catalog import auth, targets
from servicelinker.catalog import services as s
from servicelinker.catalog.auth import AUTH_OPTIONS, SERVICE_PRINCIPAL, WORKLOAD_IDENTITY
from servicelinker.catalog.configuration import service_of
from servicelinker.catalog.roles import REDIS_ACCESS_POLICY, Role, resolve_role, roles_for
from servicelinker.catalog.targets import (
    NEON_CLI_PLACEHOLDER_ID,
    TARGET_NAMES,
    TARGETS,
    TARGETS_BY_NAME,
    check_supported,
    find_target_by_id,
    find_targets_by_provider_type,
    get_target,
    target_of,
)
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.linker import LinkerProperties
from servicelinker.model.records import TargetFacts

pytestmark = pytest.mark.unit

SUB = "00000000-0000-0000-0000-000000000000"
WI, AUTO, SECRET, SP = "workload-identity", "secret(auto)", "secret", "service-principal"
WI_AUTO_SP = [WI, AUTO, SP]
DB11 = ["dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "php", "ruby", "django", "springBoot", "none"]

#: Reference §3, row by row: (auth types default first, client types, name options, deprecated).
EXPECTED: dict[str, tuple[list[str], list[str], list[str], bool]] = {
    "postgres": ([SECRET], DB11, ["--target-resource-group", "--server", "--database"], True),
    "postgres-flexible": ([SECRET], DB11, ["--target-resource-group", "--server", "--database"], False),
    "mysql": ([SECRET], DB11, ["--target-resource-group", "--server", "--database"], True),
    "mysql-flexible": ([SECRET], DB11, ["--target-resource-group", "--server", "--database"], False),
    "sql": ([SECRET], DB11, ["--target-resource-group", "--server", "--database"], False),
    "redis": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "springBoot", "none"],
        ["--target-resource-group", "--server", "--database"],
        False,
    ),
    "redis-enterprise": (
        [AUTO],
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "springBoot", "none"],
        ["--target-resource-group", "--server", "--database"],
        False,
    ),
    "cosmos-cassandra": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "springBoot", "none"],
        ["--target-resource-group", "--account", "--key-space"],
        False,
    ),
    "cosmos-gremlin": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "php", "none"],
        ["--target-resource-group", "--account", "--database", "--graph"],
        False,
    ),
    "cosmos-mongo": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "nodejs", "go", "springBoot", "none"],
        ["--target-resource-group", "--account", "--database"],
        False,
    ),
    "cosmos-table": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "springBoot", "none"],
        ["--target-resource-group", "--account", "--table"],
        False,
    ),
    "cosmos-sql": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "springBoot", "none"],
        ["--target-resource-group", "--account", "--database"],
        False,
    ),
    "storage-blob": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "springBoot", "none"],
        ["--target-resource-group", "--account"],
        False,
    ),
    "storage-queue": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "springBoot", "none"],
        ["--target-resource-group", "--account"],
        False,
    ),
    "storage-file": (
        [AUTO],
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "php", "ruby", "springBoot", "none"],
        ["--target-resource-group", "--account"],
        False,
    ),
    "storage-table": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "none"],
        ["--target-resource-group", "--account"],
        False,
    ),
    "keyvault": (
        [WI, SP],
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "springBoot", "none"],
        ["--target-resource-group", "--vault"],
        False,
    ),
    "appconfig": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "none"],
        ["--target-resource-group", "--app-config"],
        False,
    ),
    "eventhub": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "springBoot", "kafka-springBoot", "none"],
        ["--target-resource-group", "--namespace"],
        False,
    ),
    "servicebus": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "springBoot", "none"],
        ["--target-resource-group", "--namespace"],
        False,
    ),
    "signalr": (WI_AUTO_SP, ["dotnet", "dotnet-internal", "none"], ["--target-resource-group", "--signalr"], False),
    "webpubsub": (
        WI_AUTO_SP,
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "none"],
        ["--target-resource-group", "--webpubsub"],
        False,
    ),
    "confluent-cloud": (
        [SECRET],
        ["dotnet", "dotnet-internal", "java", "python", "go", "springBoot", "none"],
        ["--bootstrap-server", "--kafka-key", "--kafka-secret", "--schema-registry", "--schema-key", "--schema-secret"],
        False,
    ),
    "app-insights": (
        [AUTO],
        ["dotnet", "dotnet-internal", "java", "python", "nodejs", "go", "none"],
        ["--target-resource-group", "--app-insights"],
        False,
    ),
    "cognitiveservices": (WI_AUTO_SP, ["dotnet", "python", "none"], ["--target-resource-group", "--account"], False),
    "neon-postgres": ([SECRET], DB11, ["--server", "--database"], False),
    "mongodb-atlas": ([SECRET], DB11, ["--target-resource-group", "--server"], False),
}

#: configurationNames `targetService` string (the CLI's derivation from the id pattern).
PROVIDER_TYPES: dict[str, str] = {
    "postgres": "Microsoft.DBforPostgreSQL/servers/databases",
    "postgres-flexible": "Microsoft.DBforPostgreSQL/flexibleServers/databases",
    "storage-blob": "Microsoft.Storage/storageAccounts/blobServices/default",
    "keyvault": "Microsoft.KeyVault/vaults",
    "appconfig": "Microsoft.AppConfiguration/configurationStores",
    "cosmos-gremlin": "Microsoft.DocumentDB/databaseAccounts/gremlinDatabases/graphs",
    "confluent-cloud": "CONFLUENT.CLOUD",
    "app-insights": "microsoft.insights/components",
}


def sample_id(name: str) -> str:
    target = TARGETS_BY_NAME[name]
    assert target.pattern is not None
    values = {p: f"x{i}" for i, p in enumerate(target.pattern.placeholders) if p != "subscription"}
    return target.format_id(SUB, **values)


def props(body: dict[str, Any]) -> LinkerProperties:
    return LinkerProperties.model_validate(body)


def test_all_27_targets_in_cli_order() -> None:
    assert list(TARGET_NAMES) == list(EXPECTED)
    assert len(TARGETS) == 27


@pytest.mark.parametrize("name", list(EXPECTED))
def test_target_row(name: str) -> None:
    auth_types, client_types, options, deprecated = EXPECTED[name]
    target = get_target(name)
    assert list(target.auth_types) == auth_types
    assert target.default_auth_type == auth_types[0]
    assert list(target.client_types) == client_types
    assert [p.option for p in target.name_params] == options
    assert target.deprecated is deprecated
    assert target.secret_is_auto is (AUTO in auth_types)
    assert target.display


@pytest.mark.parametrize("name", list(EXPECTED))
def test_effective_default_auth(name: str) -> None:
    expected = "csi" if name == "keyvault" else EXPECTED[name][0][0]
    assert get_target(name).effective_default_auth == expected


@pytest.mark.parametrize("name", [n for n in EXPECTED if TARGETS_BY_NAME[n].id_pattern])
def test_find_target_by_id(name: str) -> None:
    assert find_target_by_id(sample_id(name)) is TARGETS_BY_NAME[name]
    assert target_of(props({"targetService": {"type": "AzureResource", "id": sample_id(name)}})).name == name


def test_neon_cli_placeholder_id_maps_to_neon() -> None:
    assert find_target_by_id(NEON_CLI_PLACEHOLDER_ID) is TARGETS_BY_NAME["neon-postgres"]


@pytest.mark.parametrize(("name", "provider_type"), list(PROVIDER_TYPES.items()))
def test_provider_type(name: str, provider_type: str) -> None:
    assert get_target(name).provider_type == provider_type
    assert TARGETS_BY_NAME[name] in find_targets_by_provider_type(provider_type.upper())


def test_unknown_target_lists_valid_values() -> None:
    with pytest.raises(ArmError) as err:
        get_target("postgresql")
    assert err.value.message == "Unsupported target type 'postgresql' for --target-type."
    assert err.value.code == ErrorCode.INVALID_ARGUMENT_VALUE
    assert err.value.remedy == f"Valid values: {', '.join(EXPECTED)}."


def test_target_id_only_where_the_cli_has_one() -> None:
    assert [t.name for t in TARGETS if not t.accepts_target_id] == ["confluent-cloud", "neon-postgres", "mongodb-atlas"]


# ------------------------------------------------------------------------------------------- auth mapping


@pytest.mark.parametrize(
    ("cli", "rest", "key"),
    [
        ("workload-identity", "userAssignedIdentity", "userAssignedIdentity"),
        ("secret", "secret", "secret"),
        ("secret(auto)", "secret", "secret"),
        ("service-principal", "servicePrincipalSecret", "servicePrincipalSecret"),
        ("csi", "userAssignedIdentity", "csi"),
    ],
)
def test_cli_auth_to_rest(cli: str, rest: str, key: str) -> None:
    assert auth.cli_to_rest(cli) == rest
    assert auth.config_key_of(cli) == key


def test_rest_to_cli() -> None:
    assert auth.rest_to_cli("userAssignedIdentity") == "workload-identity"
    assert auth.rest_to_cli("userAssignedIdentity", csi=True) == "csi"
    assert auth.rest_to_cli("secret") == "secret(auto)"
    assert auth.rest_to_cli("secret", user_supplied_secret=True) == "secret"
    assert auth.rest_to_cli("servicePrincipalSecret") == "service-principal"
    assert auth.rest_to_cli("systemAssignedIdentity") is None


def test_config_key_of_a_csi_linker() -> None:
    kv = sample_id("keyvault")
    csi = props(
        {
            "targetService": {
                "type": "AzureResource",
                "id": kv,
                "resourceProperties": {"type": "KeyVault", "connectAsKubernetesCsiDriver": True},
            },
            "authInfo": {"authType": "userAssignedIdentity"},
        }
    )
    assert auth.config_key_for(csi) == "csi"
    wi = props(
        {
            "targetService": {"type": "AzureResource", "id": kv},
            "authInfo": {"authType": "userAssignedIdentity", "clientId": "c"},
        }
    )
    assert auth.config_key_for(wi) == "userAssignedIdentity"
    assert auth.config_key_for(props({})) is None


@pytest.mark.parametrize("name", list(EXPECTED))
def test_config_keys_follow_auth_types(name: str) -> None:
    target = get_target(name)
    expected = []
    for a in EXPECTED[name][0]:
        key = {WI: "userAssignedIdentity", AUTO: "secret", SECRET: "secret", SP: "servicePrincipalSecret"}[a]
        if key not in expected:
            expected.append(key)
    if name == "keyvault":
        expected.append("csi")
    assert list(target.config_keys) == expected


# ------------------------------------------------------------------------------------------- combination checks


def test_check_supported_accepts_allowed_combination() -> None:
    linker = props(
        {
            "targetService": {"type": "AzureResource", "id": sample_id("storage-blob")},
            "authInfo": {"authType": "userAssignedIdentity", "clientId": "c"},
            "clientType": "python",
        }
    )
    assert check_supported(linker).name == "storage-blob"
    # missing clientType means none; missing authInfo is an opt-out
    assert check_supported(props({"targetService": {"type": "AzureResource", "id": sample_id("sql")}})).name == "sql"


def test_check_supported_rejects_client_type() -> None:
    linker = props(
        {
            "targetService": {"type": "AzureResource", "id": sample_id("signalr")},
            "authInfo": {"authType": "secret"},
            "clientType": "python",
        }
    )
    with pytest.raises(ArmError) as err:
        check_supported(linker)
    assert err.value.message == "Client type 'python' is not supported for target signalr on AKS."
    assert err.value.target == "properties.clientType"
    assert err.value.remedy == "Use one of: dotnet, dotnet-internal, none."


def test_check_supported_rejects_auth_type() -> None:
    linker = props(
        {
            "targetService": {"type": "AzureResource", "id": sample_id("postgres-flexible")},
            "authInfo": {"authType": "userAssignedIdentity", "clientId": "c"},
            "clientType": "python",
        }
    )
    with pytest.raises(ArmError) as err:
        check_supported(linker)
    assert err.value.message == "Auth type 'userAssignedIdentity' is not supported for target postgres-flexible on AKS."
    assert err.value.code == ErrorCode.UNSUPPORTED_COMBINATION
    assert err.value.remedy == "Use one of: secret (REST: secret)."


def test_check_supported_rejects_csi_outside_keyvault_and_unknown_targets() -> None:
    with pytest.raises(ArmError) as err:
        target_of(
            props(
                {
                    "targetService": {
                        "type": "AzureResource",
                        "id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/a",
                    }
                }
            )
        )
    assert err.value.target == "properties.targetService.id"
    with pytest.raises(ArmError) as err:
        target_of(props({}))
    assert err.value.code == ErrorCode.MISSING_REQUIRED_ARGUMENT


def test_confluent_linkers_map_to_confluent_cloud() -> None:
    for kind in ("ConfluentBootstrapServer", "ConfluentSchemaRegistry"):
        assert target_of(props({"targetService": {"type": kind, "endpoint": "e"}})).name == "confluent-cloud"
    with pytest.raises(ArmError):
        target_of(props({"targetService": {"type": "SelfHostedServer", "endpoint": "e"}}))


# ------------------------------------------------------------------------------------------- roles

#: Reference §5.1: role definition GUIDs per target (cognitive by account kind).
ROLE_IDS: dict[str, list[str]] = {
    "cosmos-sql": ["5bd9cd88-fe45-4216-938b-f97437e15450"],
    "cosmos-mongo": ["5bd9cd88-fe45-4216-938b-f97437e15450"],
    "cosmos-cassandra": ["5bd9cd88-fe45-4216-938b-f97437e15450"],
    "cosmos-gremlin": ["5bd9cd88-fe45-4216-938b-f97437e15450"],
    "cosmos-table": ["5bd9cd88-fe45-4216-938b-f97437e15450"],
    "keyvault": ["4633458b-17de-408a-b874-0445c86b69e6", "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"],
    "storage-blob": ["ba92f5b4-2d11-453d-a403-e96b0029c9fe"],
    "storage-queue": ["974c5e8b-45b9-4653-ba55-5f855dd0fb88"],
    "storage-table": ["0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"],
    "eventhub": ["a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "2b629674-e913-4c01-ae53-ef4638d8f975"],
    "appconfig": ["516239f1-63e1-4d78-a4de-a74fb236a071"],
    "servicebus": ["4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"],
    "signalr": ["7e4f1700-ea5a-4f59-8f37-079cfe29dce3"],
    "webpubsub": ["8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761"],
    "redis": [],
}
COGNITIVE_ROLES = {
    "OpenAI": ["a001fd3d-188f-4b5d-821b-7da978bf7442"],
    "CognitiveServices": ["a97b65f3-24c7-4388-baec-2e87135dc908"],
    "TextAnalytics": ["a97b65f3-24c7-4388-baec-2e87135dc908"],
    "AIServices": ["a001fd3d-188f-4b5d-821b-7da978bf7442", "a97b65f3-24c7-4388-baec-2e87135dc908"],
}


def wi_linker(target: str, **auth_extra: Any) -> LinkerProperties:
    return props(
        {
            "targetService": {"type": "AzureResource", "id": sample_id(target)},
            "authInfo": {"authType": "userAssignedIdentity", "clientId": "c", **auth_extra},
        }
    )


@pytest.mark.parametrize(("name", "ids"), list(ROLE_IDS.items()))
def test_default_roles(name: str, ids: list[str]) -> None:
    linker = wi_linker(name)
    service = service_of(TARGETS_BY_NAME[name], linker, TargetFacts())
    assert [r.id for r in roles_for(service.roles, linker)] == ids
    assert [r.id for r in service.roles] == ids


@pytest.mark.parametrize(("kind", "ids"), list(COGNITIVE_ROLES.items()))
def test_cognitive_roles_by_kind(kind: str, ids: list[str]) -> None:
    linker = wi_linker("cognitiveservices")
    service = service_of(TARGETS_BY_NAME["cognitiveservices"], linker, TargetFacts(account_kind=kind))
    assert [r.id for r in roles_for(service.roles, linker)] == ids


def test_role_override_from_auth_info() -> None:
    linker = wi_linker(
        "storage-blob",
        roles=[
            "storage queue data contributor",
            "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
            f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/BA92F5B4-2D11-453D-A403-E96B0029C9FE",
        ],
    )
    roles = roles_for(s.STORAGE_BLOB.roles, linker)
    assert roles == (
        Role("Storage Queue Data Contributor", "974c5e8b-45b9-4653-ba55-5f855dd0fb88"),
        Role(None, "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"),
        Role("Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
    )
    assert roles[0].definition_id(SUB) == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/974c5e8b-45b9-4653-ba55-5f855dd0fb88"
    )


def test_unknown_role_name_is_rejected() -> None:
    with pytest.raises(ArmError) as err:
        resolve_role("Blob Superuser")
    assert err.value.message == "Unknown role 'Blob Superuser' in authInfo.roles."
    assert err.value.target == "properties.authInfo.roles"
    assert "Storage Blob Data Contributor" in (err.value.remedy or "")


def test_no_roles_for_secret_or_opt_out() -> None:
    secret = props(
        {
            "targetService": {"type": "AzureResource", "id": sample_id("storage-blob")},
            "authInfo": {"authType": "secret"},
        }
    )
    assert roles_for(s.STORAGE_BLOB.roles, secret) == ()
    assert roles_for(s.STORAGE_BLOB.roles, wi_linker("storage-blob", authMode="optOutAllAuth")) == ()
    assert roles_for(s.STORAGE_BLOB.roles, props({})) == ()


def test_csi_and_service_principal_get_roles() -> None:
    csi = props(
        {
            "targetService": {
                "type": "AzureResource",
                "id": sample_id("keyvault"),
                "resourceProperties": {"type": "KeyVault", "connectAsKubernetesCsiDriver": True},
            },
            "authInfo": {"authType": "userAssignedIdentity"},
        }
    )
    kv_roles = ["Key Vault Secrets User", "Key Vault Certificate User"]
    assert [r.name for r in roles_for(s.KEYVAULT.roles, csi)] == kv_roles
    sp = props(
        {
            "targetService": {"type": "AzureResource", "id": sample_id("eventhub")},
            "authInfo": {"authType": "servicePrincipalSecret", "clientId": "c", "principalId": "p", "secret": "s"},
        }
    )
    assert [r.name for r in roles_for(s.EVENTHUB.roles, sp)] == [
        "Azure Event Hubs Data Receiver",
        "Azure Event Hubs Data Sender",
    ]


def test_redis_uses_an_access_policy() -> None:
    assert REDIS_ACCESS_POLICY == "Data Owner"


# ------------------------------------------------------------------------------------------- records complete


#: Identity-capable services that grant no RBAC role, and why (reference §5.1).
NO_ROLE_ON_PURPOSE = {"redis": "Azure Cache for Redis authorizes Entra callers with data-access policies"}


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_every_target_record_is_complete_and_consistent(target: targets.Target) -> None:
    """A target is one record: its id, options, auth and client types, and services must agree with each other."""
    assert target.display and target.client_types and target.auth_types and target.services
    assert set(target.auth_types) <= set(AUTH_OPTIONS), target.auth_types
    assert "none" in target.client_types or target.name == "appconfig"
    if target.pattern is not None:
        placeholders = set(target.pattern.placeholders) - {"subscription"}
        option_keys = {p.key for p in target.name_params}
        if target.accepts_target_id:  # the CLI's name options fill every placeholder, and nothing else
            assert placeholders == option_keys, (placeholders, option_keys)
    else:
        assert not target.accepts_target_id
    if WORKLOAD_IDENTITY in target.auth_types or SERVICE_PRINCIPAL in target.auth_types:
        for service in target.services:
            assert service.roles or service.key in NO_ROLE_ON_PURPOSE, service.key
    if target.csi:
        assert any(service.names.get("csi", c) for service in target.services for c in target.client_types)
