"""ARM ids: parsing, case-insensitive equality, source/target/connection validation with Azure's error texts."""

from __future__ import annotations

import pytest

from servicelinker.catalog.targets import TARGETS, TARGETS_BY_NAME, Target
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import (
    AKS_SOURCE_PATTERN,
    IdPattern,
    ResourceId,
    format_connection_id,
    is_valid_resource_id,
    parse_connection_id,
    same_id,
    validate_source_id,
    validate_target_id,
)

pytestmark = pytest.mark.unit

SUB = "00000000-0000-0000-0000-000000000000"
CLUSTER = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1"
BLOB = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct/blobServices/default"

#: The target id pattern of every AKS target, after `/subscriptions/{subscription}/resourceGroups/{rg}/providers/`
#: (reference §3; None = no ARM id).
EXPECTED_PATTERNS: dict[str, str | None] = {
    "postgres": "Microsoft.DBforPostgreSQL/servers/{server}/databases/{database}",
    "postgres-flexible": "Microsoft.DBforPostgreSQL/flexibleServers/{server}/databases/{database}",
    "mysql": "Microsoft.DBForMySQL/servers/{server}/databases/{database}",
    "mysql-flexible": "Microsoft.DBforMySQL/flexibleServers/{server}/databases/{database}",
    "sql": "Microsoft.Sql/servers/{server}/databases/{database}",
    "redis": "Microsoft.Cache/redis/{server}/databases/{database}",
    "redis-enterprise": "Microsoft.Cache/redisEnterprise/{server}/databases/{database}",
    "cosmos-cassandra": "Microsoft.DocumentDB/databaseAccounts/{account}/cassandraKeyspaces/{key_space}",
    "cosmos-gremlin": "Microsoft.DocumentDB/databaseAccounts/{account}/gremlinDatabases/{database}/graphs/{graph}",
    "cosmos-mongo": "Microsoft.DocumentDB/databaseAccounts/{account}/mongodbDatabases/{database}",
    "cosmos-table": "Microsoft.DocumentDB/databaseAccounts/{account}/tables/{table}",
    "cosmos-sql": "Microsoft.DocumentDB/databaseAccounts/{account}/sqlDatabases/{database}",
    "storage-blob": "Microsoft.Storage/storageAccounts/{account}/blobServices/default",
    "storage-queue": "Microsoft.Storage/storageAccounts/{account}/queueServices/default",
    "storage-file": "Microsoft.Storage/storageAccounts/{account}/fileServices/default",
    "storage-table": "Microsoft.Storage/storageAccounts/{account}/tableServices/default",
    "keyvault": "Microsoft.KeyVault/vaults/{vault}",
    "appconfig": "Microsoft.AppConfiguration/configurationStores/{config_store}",
    "eventhub": "Microsoft.EventHub/namespaces/{namespace}",
    "servicebus": "Microsoft.ServiceBus/namespaces/{namespace}",
    "signalr": "Microsoft.SignalRService/SignalR/{signalr}",
    "webpubsub": "Microsoft.SignalRService/WebPubSub/{webpubsub}",
    "confluent-cloud": None,
    "app-insights": "microsoft.insights/components/{appinsights}",
    "cognitiveservices": "Microsoft.CognitiveServices/accounts/{account}",
    "neon-postgres": "Neon.Postgres/organizations/{organization}",
    "mongodb-atlas": "MongoDB.Atlas/organizations/{server}",
}

#: An id of a *different* kind that each target must reject (the parent, or a sibling type).
WRONG_IDS: dict[str, str] = {
    "postgres": "Microsoft.DBforPostgreSQL/flexibleServers/s/databases/d",
    "postgres-flexible": "Microsoft.DBforPostgreSQL/flexibleServers/s",
    "mysql": "Microsoft.DBforMySQL/flexibleServers/s/databases/d",
    "mysql-flexible": "Microsoft.DBforMySQL/servers/s/databases/d",
    "sql": "Microsoft.Sql/servers/s",
    "redis": "Microsoft.Cache/redis/s",
    "redis-enterprise": "Microsoft.Cache/redis/s/databases/0",
    "cosmos-cassandra": "Microsoft.DocumentDB/databaseAccounts/a",
    "cosmos-gremlin": "Microsoft.DocumentDB/databaseAccounts/a/gremlinDatabases/d",
    "cosmos-mongo": "Microsoft.DocumentDB/databaseAccounts/a/sqlDatabases/d",
    "cosmos-table": "Microsoft.DocumentDB/databaseAccounts/a/mongodbDatabases/d",
    "cosmos-sql": "Microsoft.DocumentDB/databaseAccounts/a/tables/t",
    "storage-blob": "Microsoft.Storage/storageAccounts/acct",
    "storage-queue": "Microsoft.Storage/storageAccounts/acct/blobServices/default",
    "storage-file": "Microsoft.Storage/storageAccounts/acct/fileServices/other",
    "storage-table": "Microsoft.Storage/storageAccounts/acct/queueServices/default",
    "keyvault": "Microsoft.KeyVault/managedHSMs/h",
    "appconfig": "Microsoft.KeyVault/vaults/v",
    "eventhub": "Microsoft.ServiceBus/namespaces/n",
    "servicebus": "Microsoft.EventHub/namespaces/n",
    "signalr": "Microsoft.SignalRService/WebPubSub/w",
    "webpubsub": "Microsoft.SignalRService/SignalR/s",
    "app-insights": "Microsoft.OperationalInsights/workspaces/w",
    "cognitiveservices": "Microsoft.MachineLearningServices/workspaces/w",
    "neon-postgres": "Neon.Postgres/projects/p",
    "mongodb-atlas": "MongoDB.Atlas/clusters/c",
}

ID_TARGETS = [t for t in TARGETS if t.id_pattern is not None]


def sample_values(target: Target) -> dict[str, str]:
    assert target.pattern is not None
    return {
        p: f"my{p.replace('_', '')}1"
        for p in target.pattern.placeholders
        if p not in ("subscription", "target_resource_group")
    }


def full(path: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg/providers/{path}"


# ----------------------------------------------------------------------------------------------- parsing


def test_parse_exposes_parts() -> None:
    rid = ResourceId.parse(BLOB)
    assert rid.subscription == SUB
    assert rid.resource_group == "rg"
    assert rid.namespace == "Microsoft.Storage"
    assert rid.resource_type == "Microsoft.Storage/storageAccounts/blobServices"
    assert rid.name == "default"
    assert str(rid.parent) == BLOB.rsplit("/", 2)[0]
    assert str(rid.top_level()) == BLOB.rsplit("/", 2)[0]
    assert str(rid) == BLOB


def test_extension_resource_parent_is_the_scope() -> None:
    linker = ResourceId.parse(CLUSTER + "/providers/Microsoft.ServiceLinker/linkers/conn1")
    assert linker.resource_type == "Microsoft.ServiceLinker/linkers"
    assert linker.namespace == "Microsoft.ServiceLinker"
    assert str(linker.parent) == CLUSTER
    assert ResourceId.parse(CLUSTER).parent == f"/subscriptions/{SUB}/resourceGroups/rg"


def test_equality_and_hash_are_case_insensitive() -> None:
    a = ResourceId.parse(BLOB)
    b = ResourceId.parse(BLOB.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
    assert a == b
    assert hash(a) == hash(b)
    assert a == BLOB.lower()
    assert len({a, b}) == 1
    assert same_id(BLOB, BLOB.swapcase())
    assert str(b) != str(a)  # spelling is kept


@pytest.mark.parametrize(
    "text",
    [
        "",
        "subscriptions/x",
        "/subscriptions",
        "/subscriptions/",
        "/subscriptions//resourceGroups/rg",
        "/subscription/x/resourceGroups/rg",
        f"/subscriptions/{SUB}/resourceGroups",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices",
        BLOB + "/",
        "https://management.azure.com" + BLOB,
    ],
)
def test_invalid_ids(text: str) -> None:
    assert not is_valid_resource_id(text)
    with pytest.raises(ArmError) as err:
        ResourceId.parse(text)
    assert err.value.code == ErrorCode.INVALID_RESOURCE_ID
    assert err.value.message == f"Resource id is invalid: {text}"
    assert err.value.remedy


@pytest.mark.parametrize("text", [f"/subscriptions/{SUB}", f"/subscriptions/{SUB}/resourceGroups/rg", CLUSTER, BLOB])
def test_valid_ids(text: str) -> None:
    assert is_valid_resource_id(text)


def test_pattern_format_and_match() -> None:
    pattern = IdPattern("/subscriptions/{subscription}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{vault}")
    assert pattern.placeholders == ("subscription", "rg", "vault")
    text = pattern.format(subscription=SUB, rg="rg", vault="kv")
    assert pattern.fullmatch(text) == {"subscription": SUB, "rg": "rg", "vault": "kv"}
    assert pattern.fullmatch(text.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")) is not None
    assert pattern.match_prefix(text + "/secrets/s") == (text, {"subscription": SUB, "rg": "rg", "vault": "kv"})
    assert pattern.match_prefix(text + "x") == (text + "x", {"subscription": SUB, "rg": "rg", "vault": "kvx"})
    with pytest.raises(KeyError, match="vault"):
        pattern.format(subscription=SUB, rg="rg")
    assert pattern.provider_type == "Microsoft.KeyVault/vaults"


# ----------------------------------------------------------------------------------------------- source ids


def test_source_id_accepted_and_trailing_segments_dropped() -> None:
    assert validate_source_id(CLUSTER) == CLUSTER
    assert validate_source_id(CLUSTER.lower()) == CLUSTER.lower()
    assert validate_source_id(CLUSTER + "/agentPools/np1") == CLUSTER


def test_source_id_unsupported_text() -> None:
    webapp = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/app"
    with pytest.raises(ArmError) as err:
        validate_source_id(webapp)
    assert err.value.message == (
        f"Unsupported source resource id: {webapp}. Source id pattern should be: "
        "/subscriptions/{subscription}/resourceGroups/{source_resource_group}"
        "/providers/Microsoft.ContainerService/managedClusters/{cluster}"
    )
    assert err.value.code == ErrorCode.INVALID_ARGUMENT_VALUE
    assert err.value.target == "--source-id"
    assert AKS_SOURCE_PATTERN in err.value.message


def test_source_id_invalid_text() -> None:
    with pytest.raises(ArmError) as err:
        validate_source_id("aks1")
    assert err.value.message == "Resource id is invalid: aks1"
    assert err.value.code == ErrorCode.INVALID_RESOURCE_ID


# ----------------------------------------------------------------------------------------------- target ids


@pytest.mark.parametrize("name", list(EXPECTED_PATTERNS))
def test_target_pattern_is_the_reference_pattern(name: str) -> None:
    expected = EXPECTED_PATTERNS[name]
    target = TARGETS_BY_NAME[name]
    if expected is None:
        assert target.id_pattern is None
        assert not target.accepts_target_id
    else:
        assert (
            target.id_pattern
            == "/subscriptions/{subscription}/resourceGroups/{target_resource_group}/providers/" + (expected)
        )


@pytest.mark.parametrize("target", ID_TARGETS, ids=lambda t: t.name)
def test_target_id_accepted(target: Target) -> None:
    text = target.format_id(SUB, target_resource_group="rg", **sample_values(target))
    assert target.validate_id(text) == text
    # case-insensitive, like the CLI (re.IGNORECASE)
    swapped = text.swapcase()
    assert target.validate_id(swapped) == swapped
    # trailing segments are dropped
    assert target.validate_id(text + "/extra/segment") == text
    assert target.id_values(text) == {"subscription": SUB, "target_resource_group": "rg", **sample_values(target)}


@pytest.mark.parametrize("target", ID_TARGETS, ids=lambda t: t.name)
def test_target_id_rejected_with_azure_text(target: Target) -> None:
    wrong = full(WRONG_IDS[target.name])
    with pytest.raises(ArmError) as err:
        target.validate_id(wrong)
    assert (
        err.value.message == f"Target resource id is invalid: {wrong}. Target id pattern should be: {target.id_pattern}"
    )
    assert err.value.code == ErrorCode.INVALID_ARGUMENT_VALUE
    assert err.value.target == "--target-id"
    assert err.value.remedy


@pytest.mark.parametrize("target", ID_TARGETS, ids=lambda t: t.name)
def test_target_id_not_an_id(target: Target) -> None:
    with pytest.raises(ArmError) as err:
        target.validate_id("myaccount")
    assert err.value.message == "Resource id is invalid: myaccount"


def test_storage_blob_requires_blob_services_default() -> None:
    account = full("Microsoft.Storage/storageAccounts/acct")
    pattern = TARGETS_BY_NAME["storage-blob"].id_pattern
    assert pattern is not None
    with pytest.raises(ArmError) as err:
        validate_target_id(account, pattern)
    assert err.value.message.startswith(f"Target resource id is invalid: {account}. Target id pattern should be: ")
    assert err.value.message.endswith("/blobServices/default")
    assert validate_target_id(account + "/blobServices/default", pattern) == account + "/blobServices/default"


def test_target_without_id_pattern() -> None:
    with pytest.raises(ArmError) as err:
        TARGETS_BY_NAME["confluent-cloud"].validate_id(BLOB)
    assert "--bootstrap-server" in (err.value.remedy or "")


# ----------------------------------------------------------------------------------------------- connection ids


def test_connection_id_round_trip() -> None:
    text = format_connection_id(CLUSTER, "conn_1.a")
    assert text == CLUSTER + "/providers/Microsoft.ServiceLinker/linkers/conn_1.a"
    parsed = parse_connection_id(text)
    assert parsed.source_id == CLUSTER
    assert parsed.name == "conn_1.a"
    assert str(parsed) == text
    lowered = parse_connection_id(text.lower())
    assert lowered.name == "conn_1.a"


@pytest.mark.parametrize(
    "text",
    [
        CLUSTER,
        CLUSTER + "/providers/Microsoft.ServiceLinker/linkers/",
        CLUSTER + "/providers/Microsoft.ServiceLinker/connectors/c",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/app/providers/Microsoft.ServiceLinker"
        "/linkers/c",
        CLUSTER + "/providers/Microsoft.ServiceLinker/linkers/c/extra",
    ],
)
def test_connection_id_invalid(text: str) -> None:
    with pytest.raises(ArmError) as err:
        parse_connection_id(text)
    assert err.value.message == f"Connection id is invalid: {text}"
    assert err.value.code == ErrorCode.INVALID_RESOURCE_ID


def test_arm_error_body_carries_remedy() -> None:
    with pytest.raises(ArmError) as err:
        parse_connection_id("x")
    body = err.value.to_body()
    assert body == {
        "error": {
            "code": "InvalidResourceId",
            "message": "Connection id is invalid: x",
            "target": "--id",
            "additionalInfo": [{"type": "Remedy", "info": {"message": err.value.remedy}}],
        }
    }
    assert err.value.status == 400
    assert str(err.value).startswith("(InvalidResourceId) Connection id is invalid: x ")
    from servicelinker.model.errors import ErrorResponse

    again = ArmError.from_detail(ErrorResponse.model_validate(body).error)  # type: ignore[arg-type]
    assert (again.code, again.message, again.remedy) == (err.value.code, err.value.message, err.value.remedy)
