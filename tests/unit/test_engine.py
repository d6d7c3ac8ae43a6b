"""The engine's workflow in isolation: the real ConnectionEngine (planning, steps, dryruns, validation, the store)
over in-memory stand-ins for its two ports (tests/support/fakes.py). What reaches real servers is tested in
tests/integration and tests/e2e; here the engine's own decisions are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servicelinker.engine.service import ConnectionEngine
from servicelinker.kube.contract import Condition
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import format_connection_id
from servicelinker.model.linker import LinkerResource
from servicelinker.model.results import CreateOrUpdateDryrunParameters
from tests.support.fakes import (
    CLUSTER_ID,
    IDENTITY_ID,
    PG_ID,
    REDIS_ID,
    STORAGE_ID,
    FakeCloud,
    FakeCluster,
    fake_engine,
)

pytestmark = pytest.mark.unit

REDIS_DB = REDIS_ID + "/databases/0"
BLOB = STORAGE_ID + "/blobServices/default"


def lid(name: str) -> str:
    return format_connection_id(CLUSTER_ID, name)


def body(target: str, auth: dict[str, Any], client: str = "python", scope: str | None = "shop") -> LinkerResource:
    props: dict[str, Any] = {"targetService": {"type": "AzureResource", "id": target}, "authInfo": auth,
                             "clientType": client}  # fmt: skip
    if scope is not None:
        props["scope"] = scope
    return LinkerResource.model_validate({"properties": props})


def create(engine: ConnectionEngine, name: str, resource: LinkerResource) -> Any:
    return engine.execute(engine.begin_create_or_update(lid(name), resource).id)


@pytest.fixture()
def parts(tmp_path: Path) -> tuple[ConnectionEngine, FakeCloud, FakeCluster]:
    return fake_engine(tmp_path)


def test_create_runs_from_the_plan_reading_the_target_once_and_its_keys_once(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, cloud, cluster = parts
    op = engine.begin_create_or_update(lid("cache"), body(REDIS_DB, {"authType": "secret"}))
    plan = op.params["plan"]
    assert plan["namespace"] == "shop" and plan["target"] == "redis"
    assert plan["facts"] == {"host": "r1.redis.example", "port": 6380, "database": "0"}  # no secret in the plan
    assert engine.get(lid("cache")).provisioning_state == "Accepted"
    done = engine.execute(op.id)
    assert done.status == "Succeeded", done.error
    assert [s.name for s in done.steps][:2] == ["Check the cluster", "Install sc-extension"]
    assert cloud.calls.count(f"describe {REDIS_DB}") == 1  # read by the plan, not again by the steps
    assert cloud.calls.count(f"secrets {REDIS_DB}") == 1
    delivered = cluster.secrets[("shop", "sc-cache-secret")]
    assert delivered["AZURE_REDIS_CONNECTIONSTRING"].startswith("rediss://:k3y%2Fwith+chars==@r1.redis.example:6380")
    record = engine.get(lid("cache"))
    assert record.provisioning_state == "Succeeded"
    assert [c["value"] for c in record.configurations] == [""]  # the stored view has the credential blank
    assert cloud.firewall == {REDIS_DB.lower(): {lid("cache").lower()}}


def test_the_namespace_default_is_applied_once_and_recorded(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, _, cluster = parts
    assert create(engine, "nons", body(REDIS_DB, {"authType": "secret"}, scope=None)).status == "Succeeded"
    assert engine.get(lid("nons")).properties["scope"] == "default"
    assert ("default", "sc-nons-secret") in cluster.secrets


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"cluster_state": "Updating"}, ErrorCode.CONFLICT),
        ({"providers": {"Microsoft.ServiceLinker": "Registered"}}, "MissingSubscriptionRegistration"),
        ({"grants": {"me": {"*/read"}}}, ErrorCode.AUTHORIZATION_FAILED),
        ({"databases": set()}, ErrorCode.RESOURCE_NOT_FOUND),
    ],
)
def test_a_rejected_request_records_nothing(tmp_path: Path, change: dict[str, Any], code: str) -> None:
    engine, _, _ = fake_engine(tmp_path, cloud=FakeCloud(**change))
    resource = body(PG_ID + "/databases/appdb", {"authType": "secret", "name": "app",
                                                 "secretInfo": {"secretType": "rawValue", "value": "pw"}})  # fmt: skip
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("pg"), resource)
    assert raised.value.code == code
    assert engine.find(lid("pg")) is None and engine.latest_operation(lid("pg")) is None


def test_a_namespace_the_cluster_lacks_is_refused(parts: tuple[ConnectionEngine, FakeCloud, FakeCluster]) -> None:
    engine, _, _ = parts
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("x"), body(REDIS_DB, {"authType": "secret"}, scope="nope"))
    assert "'nope' does not exist" in raised.value.message
    assert engine.find(lid("x")) is None


def test_workload_identity_enables_the_cluster_federates_and_assigns_roles(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, cloud, cluster = parts
    client_id = engine.resolve_identity(IDENTITY_ID).client_id
    done = create(engine, "blob_wi", body(BLOB, {"authType": "userAssignedIdentity", "clientId": client_id}))
    assert done.status == "Succeeded", done.error
    assert cloud.features == {"oidc": True, "wi": True}
    ((_, fic_name), (issuer, subject, audience)), = cloud.federated.items()
    assert fic_name.startswith("sc-blobwi-") and issuer == "https://issuer.example/"
    assert subject == f"system:serviceaccount:shop:sc-account-{client_id}" and audience == "api://AzureADTokenExchange"
    principal = cloud.identities[IDENTITY_ID.lower()].principal_id
    assert cloud.roles == {(principal, "ba92f5b4-2d11-453d-a403-e96b0029c9fe", STORAGE_ID.lower())}
    spec = next(iter(cluster.connections.values()))["spec"]
    assert spec["serviceAccount"]["name"] == f"sc-account-{client_id}"
    assert cluster.secrets[("shop", "sc-blobwi-secret")]["AZURE_STORAGEBLOB_CLIENTID"] == client_id


def test_an_unknown_identity_is_refused_before_anything_is_recorded(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, _, _ = parts
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("ghost"), body(BLOB, {"authType": "userAssignedIdentity",
                                                                "clientId": "nobody"}))  # fmt: skip
    assert raised.value.code == ErrorCode.RESOURCE_NOT_FOUND and engine.find(lid("ghost")) is None


def test_an_update_keeps_the_stored_password(parts: tuple[ConnectionEngine, FakeCloud, FakeCluster]) -> None:
    engine, _, cluster = parts
    secret = {"authType": "secret", "name": "app", "secretInfo": {"secretType": "rawValue", "value": "s3cr3t"}}
    assert create(engine, "pg", body(PG_ID + "/databases/appdb", secret)).status == "Succeeded"
    update = engine.begin_create_or_update(lid("pg"), body(PG_ID + "/databases/appdb", {"authType": "secret",
                                                                                        "name": "app"}, "java"))
    assert update.kind == "update" and engine.execute(update.id).status == "Succeeded"
    jdbc = cluster.secrets[("shop", "sc-pg-secret")]["AZURE_POSTGRESQL_CONNECTIONSTRING"]
    assert jdbc.endswith("user=app&password=s3cr3t") and jdbc.startswith("jdbc:postgresql://")
    assert "s3cr3t" not in str(engine.get(lid("pg")).body)


def test_the_operator_not_delivering_fails_the_operation_naming_the_step(tmp_path: Path) -> None:
    stuck = FakeCluster(ready=Condition(type="Ready", status="False", reason="SecretConflict", message="taken"))
    engine, _, _ = fake_engine(tmp_path, cluster=stuck)
    done = create(engine, "conflict", body(REDIS_DB, {"authType": "secret"}))
    assert done.status == "Failed" and done.error is not None and done.error["code"] == "ConnectionNotReady"
    assert done.steps[-1].name == "Wait for the operator" and done.steps[-1].status == "Failed"
    assert engine.get(lid("conflict")).provisioning_state == "Failed"


def test_delete_with_cleanup_releases_everything_and_without_keeps_the_secret(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, cloud, cluster = parts
    client_id = engine.resolve_identity(IDENTITY_ID).client_id
    create(engine, "keep", body(REDIS_DB, {"authType": "secret"}))
    create(engine, "wipe", body(BLOB, {"authType": "userAssignedIdentity", "clientId": client_id}))
    keep = engine.begin_delete(lid("keep"))
    assert keep is not None and engine.execute(keep.id).status == "Succeeded"
    assert ("shop", "sc-keep-secret") in cluster.secrets and REDIS_DB.lower() in cloud.firewall  # as Azure: kept
    wipe = engine.begin_delete(lid("wipe"), cleanup=True)
    assert wipe is not None and engine.execute(wipe.id).status == "Succeeded"
    assert ("shop", "sc-wipe-secret") not in cluster.secrets
    assert cloud.federated == {} and cloud.roles == set() and BLOB.lower() not in cloud.firewall
    assert engine.find(lid("wipe")) is None and engine.begin_delete(lid("wipe")) is None


def test_a_firewall_rule_stays_while_another_connection_of_the_cluster_needs_it(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, cloud, _ = parts
    create(engine, "first", body(REDIS_DB, {"authType": "secret"}, scope="shop"))
    create(engine, "second", body(REDIS_ID + "/databases/1", {"authType": "secret"}, scope="shop"))
    done = engine.execute(engine.begin_delete(lid("first"), cleanup=True).id)  # type: ignore[union-attr]
    step = next(s for s in done.steps if s.name == "Release target firewall rule")
    assert step.status == "Skipped" and "also admits second" in (step.message or "")
    assert REDIS_DB.lower() in cloud.firewall
    engine.execute(engine.begin_delete(lid("second"), cleanup=True).id)  # type: ignore[union-attr]
    assert (REDIS_ID + "/databases/1").lower() not in cloud.firewall


def test_validate_reports_each_check_and_finds_a_tampered_secret(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, cloud, cluster = parts
    create(engine, "checked", body(REDIS_DB, {"authType": "secret"}))
    first = engine.execute(engine.begin_validate(lid("checked")).id)
    items = {i["name"]: i["result"] for i in (first.result or {})["properties"]["validationDetail"]}
    assert items["Target resource existence validated."] == "success"
    assert items["Configured connection information validated."] == "success"
    cluster.secrets[("shop", "sc-checked-secret")]["AZURE_REDIS_CONNECTIONSTRING"] = "tampered"
    cloud.firewall.clear()
    second = engine.execute(engine.begin_validate(lid("checked")).id)
    failed = {i["name"]: i.get("errorCode") for i in (second.result or {})["properties"]["validationDetail"]
              if i["result"] == "failure"}  # fmt: skip
    assert failed["Configured connection information validated."] == "SecretMismatch"
    assert failed["Target service firewall validated."] == "FirewallRuleMissing"
    assert (second.result or {})["properties"]["isConnectionAvailable"] is False


def test_generate_configurations_composes_like_a_create_with_credentials_blank(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, _, _ = parts
    create(engine, "gen", body(REDIS_DB, {"authType": "secret"}))
    from servicelinker.model.linker import ConfigurationInfo

    renamed = engine.generate_configurations(lid("gen"), ConfigurationInfo(customized_keys={
        "AZURE_REDIS_CONNECTIONSTRING": "CACHE_URL"}, additional_configurations={"REGION": "local"}))  # fmt: skip
    assert [(c.name, c.value) for c in renamed] == [("CACHE_URL", ""), ("REGION", "local")]


def test_dryruns_report_missing_permissions_and_failed_checks_without_creating(tmp_path: Path) -> None:
    cloud = FakeCloud(grants={"me": {"Microsoft.ServiceLinker/dryruns/write", "*/read"}})
    engine, _, cluster = fake_engine(tmp_path, cloud=cloud)
    params = CreateOrUpdateDryrunParameters.model_validate(
        {"actionName": "createOrUpdate", **body(REDIS_DB, {"authType": "secret"}).request_dump()["properties"]})
    dry, created = engine.put_dryrun(CLUSTER_ID, "dry", params, has_source=True)
    assert created
    assert dry["properties"]["prerequisiteResults"] == [{"type": "permissionsMissing", "scope": CLUSTER_ID,
        "permissions": ["Microsoft.ServiceLinker/linkers/write"], "recommendedRole": "Contributor"}]  # fmt: skip
    assert {p["name"] for p in dry["properties"]["operationPreviews"]} >= {"installExtension", "configFirewallRule"}
    assert engine.find(lid("dry")) is None and cluster.connections == {}
    assert [d["name"] for d in engine.list_dryruns(CLUSTER_ID)] == ["dry"]
    assert engine.delete_dryrun(CLUSTER_ID, "dry") and not engine.delete_dryrun(CLUSTER_ID, "dry")


def test_each_operation_uses_one_cluster_connection_and_closes_it(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, _, cluster = parts
    before = cluster.closed
    create(engine, "closed", body(REDIS_DB, {"authType": "secret"}))
    assert cluster.closed - before == 2  # one for the plan's namespace check, one for the steps


def test_two_connections_whose_names_normalise_alike_never_share_objects(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    """Finding 1 of the hardening issue: `coll_x` then `collx`: each gets its own ServiceConnection; in one
    namespace the second is refused (its Secret would be the first's), in another it gets its own Secret."""
    engine, _, cluster = parts
    assert create(engine, "coll_x", body(REDIS_DB, {"authType": "secret"})).status == "Succeeded"
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("collx"), body(REDIS_DB, {"authType": "secret"}))
    assert raised.value.code == ErrorCode.CONFLICT and "coll_x" in raised.value.message
    assert engine.find(lid("collx")) is None
    assert create(engine, "collx", body(REDIS_DB, {"authType": "secret"}, scope="default")).status == "Succeeded"
    assert len(cluster.connections) == 2
    assert {("shop", "sc-collx-secret"), ("default", "sc-collx-secret")} <= set(cluster.secrets)


def test_a_secret_made_by_someone_else_is_not_taken_over(tmp_path: Path) -> None:
    engine, _, _ = fake_engine(tmp_path, cluster=FakeCluster(foreign_secrets={("shop", "sc-mine-secret")}))
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("mine"), body(REDIS_DB, {"authType": "secret"}))
    assert "something other than servicelinker" in raised.value.message


@pytest.mark.parametrize(
    ("info", "field"),
    [
        ({"customizedKeys": {"AZURE_REDIS_CONNECTIONSTRING": "A B=$(id)\n"}}, "customizedKeys"),
        ({"customizedKeys": {"AZURE_REDIS_CONNECTIONSTRING": "../../x"}}, "customizedKeys"),
        ({"additionalConfigurations": {"bad key!": "v"}}, "additionalConfigurations"),
        ({"additionalConfigurations": {f"K{i}": "v" for i in range(300)}}, "additionalConfigurations"),
        ({"additionalConfigurations": {"BIG": "x" * (65 * 1024)}}, "additionalConfigurations"),
    ],
)
def test_limits_are_checked_before_anything_is_recorded(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster], info: dict[str, Any], field: str
) -> None:
    engine, _, cluster = parts
    resource = LinkerResource.model_validate({"properties": {**body(REDIS_DB, {"authType": "secret"}).request_dump()[
        "properties"], "configurationInfo": info}})  # fmt: skip
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("limited"), resource)
    assert raised.value.code == ErrorCode.INVALID_ARGUMENT_VALUE and field in (raised.value.target or "")
    assert len(str(raised.value)) < 600  # never the whole offending value
    assert engine.find(lid("limited")) is None and cluster.connections == {}


def test_a_huge_password_and_a_missing_auth_info_are_refused(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, _, _ = parts
    huge = {"authType": "secret", "name": "app", "secretInfo": {"secretType": "rawValue", "value": "p" * 2**20}}
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("huge"), body(PG_ID + "/databases/appdb", huge))
    assert raised.value.target == "properties.authInfo.secretInfo.value"
    resource = LinkerResource.model_validate({"properties": {"targetService": {"type": "AzureResource",
                                                                               "id": PG_ID + "/databases/appdb"}}})
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("noauth"), resource)
    assert raised.value.code == ErrorCode.MISSING_REQUIRED_ARGUMENT and raised.value.target == "properties.authInfo"
    assert engine.find(lid("huge")) is None and engine.find(lid("noauth")) is None


def test_renames_that_collide_are_refused(parts: tuple[ConnectionEngine, FakeCloud, FakeCluster]) -> None:
    engine, _, _ = parts
    props = body(PG_ID + "/databases/appdb", {"authType": "secret", "name": "a", "secretInfo": {
        "secretType": "rawValue", "value": "b"}}, "nodejs").request_dump()["properties"]  # fmt: skip
    props["configurationInfo"] = {"customizedKeys": {"AZURE_POSTGRESQL_HOST": "AZURE_POSTGRESQL_PORT"}}
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("dup"), LinkerResource.model_validate({"properties": props}))
    assert "Two configurations would be named 'AZURE_POSTGRESQL_PORT'" in raised.value.message


def test_the_namespace_of_an_existing_connection_cannot_change(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    """Finding 2: a PUT with another scope would move the connection and leave the old Secret behind."""
    engine, _, cluster = parts
    assert create(engine, "stay", body(REDIS_DB, {"authType": "secret"})).status == "Succeeded"
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("stay"), body(REDIS_DB, {"authType": "secret"}, scope="default"))
    assert raised.value.target == "properties.scope" and "'shop'" in raised.value.message
    assert engine.get(lid("stay")).properties["scope"] == "shop" and len(cluster.connections) == 1


def test_a_huge_client_type_is_refused_without_echoing_it(
    parts: tuple[ConnectionEngine, FakeCloud, FakeCluster],
) -> None:
    engine, _, _ = parts
    with pytest.raises(ArmError) as raised:
        engine.begin_create_or_update(lid("huge_client"), body(REDIS_DB, {"authType": "secret"}, "c" * 20_000_000))
    assert raised.value.target == "properties.clientType" and len(str(raised.value)) < 600
