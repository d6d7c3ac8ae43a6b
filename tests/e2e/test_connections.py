"""Issue 4 end to end: `servicelinker aks connection ...` on the dev stack, checked through what a workload sees.

Each connection is made with the CLI exactly as a user types it; the workload (tests/e2e/consumer.py) reads only
the delivered Secret and writes and reads its target with the official client.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.resources.core_v1 import Secret

from localcloud.devstack import process
from localcloud.devstack import stack as devstack_stack
from localcloud.devstack.config import StackConfig
from tests.e2e.conftest import (
    CLUSTER,
    RG,
    Cli,
    Database,
    drop_pg_database,
    make_mysql_database,
    make_pg_database,
    run_consumer,
)

pytestmark = pytest.mark.e2e

SUB = "00000000-0000-0000-0000-000000000000"
SOURCE = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"
BASE = ["-g", RG, "-n", CLUSTER]

#: Azure's configuration names for client type python (reference §4); PORT only because ours is not the default.
EXPECTED_KEYS: dict[str, set[str]] = {
    "postgres-flexible": {"AZURE_POSTGRESQL_CONNECTIONSTRING"},
    "mysql-flexible": {"AZURE_MYSQL_NAME", "AZURE_MYSQL_HOST", "AZURE_MYSQL_USER", "AZURE_MYSQL_PASSWORD",
                       "AZURE_MYSQL_PORT"},
    "redis": {"AZURE_REDIS_CONNECTIONSTRING"},
    "storage-blob": {"AZURE_STORAGEBLOB_CONNECTIONSTRING"},
    "storage-queue": {"AZURE_STORAGEQUEUE_CONNECTIONSTRING"},
    "storage-table": {"AZURE_STORAGETABLE_CONNECTIONSTRING"},
}  # fmt: skip
CREDENTIAL_KEYS = {"AZURE_POSTGRESQL_CONNECTIONSTRING", "AZURE_MYSQL_PASSWORD", "AZURE_REDIS_CONNECTIONSTRING",
                   "AZURE_STORAGEBLOB_CONNECTIONSTRING", "AZURE_STORAGEQUEUE_CONNECTIONSTRING",
                   "AZURE_STORAGETABLE_CONNECTIONSTRING"}  # fmt: skip


def _target_args(target: str, devstack: dict[str, Any]) -> tuple[list[str], Database | None]:
    if target == "postgres-flexible":
        db = make_pg_database(devstack)
        return ["--tg", RG, "--server", "sl-postgres", "--database", db.name,
                "--secret", f"name={db.user}", f"secret={db.password}"], db  # fmt: skip
    if target == "mysql-flexible":
        db = make_mysql_database(devstack)
        return ["--tg", RG, "--server", "sl-mysql", "--database", db.name,
                "--secret", f"name={db.user}", f"secret={db.password}"], db  # fmt: skip
    if target == "redis":
        return ["--tg", RG, "--server", "sl-redis", "--database", "0", "--secret"], None
    return ["--tg", RG, "--account", "devstoreaccount1", "--secret"], None


def secret_data(kube: Client, namespace: str, name: str) -> dict[str, str]:
    secret = kube.get(Secret, name, namespace=namespace)
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def secret_exists(kube: Client, namespace: str, name: str) -> bool:
    try:
        kube.get(Secret, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return False
        raise
    return True


@pytest.mark.parametrize("target", sorted(EXPECTED_KEYS))
def test_create_delivers_azure_names_and_the_workload_uses_them(
    cli: Cli, kube: Client, devstack: dict[str, Any], namespace: str, target: str
) -> None:
    args, db = _target_args(target, devstack)
    name = f"{target.replace('-', '_')}_{uuid.uuid4().hex[:5]}"
    created = cli.ok("aks", "connection", "create", target, *BASE, *args, "--client-type", "python",
                     "--kube-namespace", namespace, "--connection", name).json()  # fmt: skip
    assert created["properties"]["provisioningState"] == "Succeeded"
    secret_name = created["kubernetesResourceName"]["secret"]
    assert secret_name == f"sc-{name.replace('_', '').lower()}-secret"

    data = secret_data(kube, namespace, secret_name)
    assert set(data) == EXPECTED_KEYS[target]
    result = run_consumer(target, data)
    assert result["read"] == result["wrote"]

    # list-configuration (and show) blank credential values; the non-credential ones are real.
    listed = cli.ok("aks", "connection", "list-configuration", *BASE, "--connection", name).json()
    values = {c["name"]: c["value"] for c in listed["configurations"]}
    assert set(values) == EXPECTED_KEYS[target]
    for key, value in values.items():
        assert (value == "") == (key in CREDENTIAL_KEYS), key
    if db is not None:
        assert db.password not in listed and db.password not in str(created)
    shown = cli.ok("aks", "connection", "show", *BASE, "--connection", name).json()
    assert {c["name"] for c in shown["configurations"]} == EXPECTED_KEYS[target]

    validated = cli("aks", "connection", "validate", *BASE, "--connection", name)
    assert validated.code == 0, validated.err
    items = {i["name"]: i["result"] for i in validated.json()}
    assert items["Target resource existence validated."] == "success"
    assert items["Configured connection information validated."] == "success"
    assert items["Connection to target validated."] == "success"
    assert items["Kubernetes extension validated."] == "success"
    # PostgreSQL's firewall is enforced by its pg_hba.conf; the other servers cannot enforce one here.
    assert items["Target service firewall validated."] == ("success" if target == "postgres-flexible" else "warning")


def test_list_shows_kubernetes_resource_names(cli: Cli, kube: Client, devstack: dict[str, Any], namespace: str) -> None:
    name = f"blob_{uuid.uuid4().hex[:5]}"
    cli.ok("aks", "connection", "create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1",
           "--secret", "--kube-namespace", namespace, "--connection", name)  # fmt: skip
    listed = cli.ok("aks", "connection", "list", *BASE).json()
    mine = [c for c in listed if c["name"] == name]
    assert len(mine) == 1
    assert mine[0]["kubernetesResourceName"] == {"secret": f"sc-{name.replace('_', '')}-secret"}
    assert mine[0]["properties"]["scope"] == namespace


def test_postgres_firewall_rule_is_enforced(cli: Cli, devstack: dict[str, Any], namespace: str) -> None:
    """The connection's firewall rule is what admits the application user: remove it (drift), and PostgreSQL
    refuses the user and validate says why; an update puts it back."""
    import psycopg

    from localcloud import firewall
    from localcloud.devstack import postgres

    args, db = _target_args("postgres-flexible", devstack)
    assert db is not None
    d = devstack["services"]["postgres"]
    hba = Path(d["hbaFile"])
    cli.ok("aks", "connection", "create", "postgres-flexible", *BASE, *args, "--kube-namespace", namespace,
           "--connection", "pg_fw", "--client-type", "python")  # fmt: skip
    assert "ServiceConnector_127_0_0_1" in hba.read_text()
    conninfo = {"host": d["host"], "port": d["port"], "user": db.user, "password": db.password, "dbname": db.name}
    with psycopg.connect(**conninfo) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    firewall.revoke(hba, "127.0.0.1")  # someone removes the rule on the server
    postgres.reload(d)
    with pytest.raises(psycopg.OperationalError, match=r"no pg_hba\.conf entry"):
        psycopg.connect(**conninfo, connect_timeout=5)
    r = cli("aks", "connection", "validate", *BASE, "--connection", "pg_fw")
    assert r.code == 1
    items = {i["name"]: i for i in r.json()}
    assert items["Target service firewall validated."]["result"] == "failure"
    assert "does not admit 127.0.0.1" in items["Target service firewall validated."]["errorMessage"]
    assert items["Connection to target validated."]["result"] == "failure"

    cli.ok("aks", "connection", "update", "postgres-flexible", *BASE, "--connection", "pg_fw", "--client-type",
           "python")  # fmt: skip
    with psycopg.connect(**conninfo) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert cli("aks", "connection", "validate", *BASE, "--connection", "pg_fw").code == 0


def test_validate_fails_precisely_when_the_database_is_dropped(
    cli: Cli, kube: Client, devstack: dict[str, Any], namespace: str
) -> None:
    args, db = _target_args("postgres-flexible", devstack)
    assert db is not None
    cli.ok("aks", "connection", "create", "postgres-flexible", *BASE, *args, "--kube-namespace", namespace,
           "--connection", "pg_dropped", "--client-type", "dotnet")  # fmt: skip
    drop_pg_database(devstack, db.name)
    r = cli("aks", "connection", "validate", *BASE, "--connection", "pg_dropped")
    assert r.code == 1
    items = {i["name"]: i for i in r.json()}
    existence = items["Target resource existence validated."]
    assert existence["result"] == "failure"
    assert f"databases/{db.name}' under resource group '{RG}' was not found" in existence["errorMessage"]
    assert items["Connection to target validated."]["result"] == "failure"
    assert items["Configured connection information validated."]["result"] == "success"
    assert db.password not in r.out + r.err


def _stop_operator(cfg: StackConfig) -> None:
    rec = process.record(cfg.state_dir, "sc-operator")
    assert rec is not None
    process.stop(cfg.state_dir, rec)


def _start_operator(cfg: StackConfig) -> None:
    devstack_stack.service("operator").start(cfg)


def test_validate_catches_a_tampered_secret_and_the_operator_repairs_it(
    cli: Cli, kube: Client, stack_config: StackConfig, namespace: str
) -> None:
    name = "queue_tamper"
    cli.ok("aks", "connection", "create", "storage-queue", *BASE, "--tg", RG, "--account", "devstoreaccount1",
           "--secret", "--kube-namespace", namespace, "--connection", name, "--client-type", "python")  # fmt: skip
    secret = "sc-queuetamper-secret"
    original = secret_data(kube, namespace, secret)
    _stop_operator(stack_config)  # while nobody repairs drift, tampering shows
    try:
        tampered = {k: base64.b64encode(b"AccountKey=stolen").decode() for k in original}
        kube.patch(Secret, secret, {"data": tampered}, namespace=namespace)
        r = cli("aks", "connection", "validate", *BASE, "--connection", name)
        assert r.code == 1
        items = {i["name"]: i for i in r.json()}
        configured = items["Configured connection information validated."]
        assert configured["result"] == "failure"
        assert "differing: AZURE_STORAGEQUEUE_CONNECTIONSTRING" in configured["errorMessage"]
        assert items["Connection to target validated."]["result"] == "failure"
        assert "stolen" not in r.out
    finally:
        _start_operator(stack_config)
    assert wait_for(lambda: secret_data(kube, namespace, secret) == original), "operator did not revert the edit"
    assert cli("aks", "connection", "validate", *BASE, "--connection", name).code == 0


def test_operator_restores_a_deleted_secret(cli: Cli, kube: Client, namespace: str) -> None:
    cli.ok("aks", "connection", "create", "storage-table", *BASE, "--tg", RG, "--account", "devstoreaccount1",
           "--secret", "--kube-namespace", namespace, "--connection", "table_drift")  # fmt: skip
    secret = "sc-tabledrift-secret"
    original = secret_data(kube, namespace, secret)
    kube.delete(Secret, secret, namespace=namespace)
    assert wait_for(lambda: secret_exists(kube, namespace, secret)), "deleted Secret was not restored"
    assert secret_data(kube, namespace, secret) == original


def test_delete_keeps_the_secret_and_cleanup_removes_it(cli: Cli, kube: Client, namespace: str) -> None:
    for name in ("keep_me", "clean_me"):
        cli.ok("aks", "connection", "create", "redis", *BASE, "--tg", RG, "--server", "sl-redis", "--database", "0",
               "--secret", "--kube-namespace", namespace, "--connection", name)  # fmt: skip
    cli.ok("aks", "connection", "delete", *BASE, "--connection", "keep_me", "--yes")
    cli.ok("aks", "connection", "delete", *BASE, "--connection", "clean_me", "--yes", "--cleanup")
    assert secret_exists(kube, namespace, "sc-keepme-secret"), "delete must keep the Secret, as Azure does"
    assert not secret_exists(kube, namespace, "sc-cleanme-secret"), "--cleanup must remove the Secret"
    names = [c["name"] for c in cli.ok("aks", "connection", "list", *BASE).json()]
    assert "keep_me" not in names and "clean_me" not in names
    gone = cli("aks", "connection", "show", *BASE, "--connection", "keep_me")
    assert gone.code == 1 and "(ResourceNotFound)" in gone.err


def test_update_keeps_the_namespace_and_the_password(
    cli: Cli, kube: Client, devstack: dict[str, Any], namespace: str
) -> None:
    """az sends scope 'default' on update unless --kube-namespace is given, and wants the password again
    (reference §2.7, §7 item 9); we keep both."""
    args, db = _target_args("postgres-flexible", devstack)
    assert db is not None
    cli.ok("aks", "connection", "create", "postgres-flexible", *BASE, *args, "--kube-namespace", namespace,
           "--connection", "pg_update", "--client-type", "python")  # fmt: skip
    updated = cli.ok("aks", "connection", "update", "postgres-flexible", *BASE, "--connection", "pg_update",
                     "--client-type", "nodejs").json()  # fmt: skip
    assert updated["properties"]["scope"] == namespace
    assert updated["properties"]["clientType"] == "nodejs"
    data = secret_data(kube, namespace, "sc-pgupdate-secret")
    assert data["AZURE_POSTGRESQL_PASSWORD"] == db.password
    assert data["AZURE_POSTGRESQL_USER"] == db.user
    assert "AZURE_POSTGRESQL_CONNECTIONSTRING" not in data


# --------------------------------------------------------------------------------------------- error paths


def _connection_names(cli: Cli) -> list[str]:
    return [c["name"] for c in cli.ok("aks", "connection", "list", *BASE).json()]


def test_cluster_updating_gives_conflict(cli: Cli, namespace: str) -> None:
    cli.ok("local", "cluster", "set-state", *BASE, "--state", "Updating")
    try:
        r = cli("aks", "connection", "create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1",
                "--secret", "--kube-namespace", namespace, "--connection", "while_updating")  # fmt: skip
    finally:
        cli.ok("local", "cluster", "set-state", *BASE, "--state", "Succeeded")
    assert r.code == 1
    assert "(Conflict) Operation returned an invalid status code 'Conflict'" in r.err
    assert "provisioning state 'Updating'" in r.err and "Wait until" in r.err
    assert "while_updating" not in _connection_names(cli)


def test_unregistered_kubernetes_configuration_provider(cli: Cli, namespace: str) -> None:
    cli.ok("local", "provider", "unregister", "--namespace", "Microsoft.KubernetesConfiguration")
    try:
        r = cli("aks", "connection", "create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1",
                "--secret", "--kube-namespace", namespace, "--connection", "unregistered")  # fmt: skip
    finally:
        cli.ok("local", "provider", "register", "--namespace", "Microsoft.KubernetesConfiguration")
    assert r.code == 1
    assert "The subscription is not registered to use namespace 'Microsoft.KubernetesConfiguration'" in r.err
    assert "provider register" in r.err
    assert "unregistered" not in _connection_names(cli)


def test_missing_permission(cli: Cli, namespace: str) -> None:
    """A Reader who may fetch the cluster's credential reads everything but may not write a linker: the pre-check
    says so before anything is done. With no role at all, ARM's own 403 on the first read is the answer."""
    scope = f"/subscriptions/{SUB}"
    cluster_user = "Azure Kubernetes Service Cluster User Role"
    cli.ok("local", "role", "remove", "--scope", scope, "--role", "Owner")
    try:
        cli.ok("local", "role", "assign", "--scope", scope, "--role", "Reader")
        cli.ok("local", "role", "assign", "--scope", scope, "--role", cluster_user)
        r = cli("aks", "connection", "create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1",
                "--secret", "--kube-namespace", namespace, "--connection", "no_rights")  # fmt: skip
        cli.ok("local", "role", "remove", "--scope", scope, "--role", "Reader")
        cli.ok("local", "role", "remove", "--scope", scope, "--role", cluster_user)
        none = cli("aks", "connection", "create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1",
                   "--secret", "--kube-namespace", namespace, "--connection", "no_rights")  # fmt: skip
    finally:
        cli("local", "role", "remove", "--scope", scope, "--role", "Reader")
        cli("local", "role", "remove", "--scope", scope, "--role", cluster_user)
        cli.ok("local", "role", "assign", "--scope", scope, "--role", "Owner")
    assert r.code == 1
    assert "(AuthorizationFailed)" in r.err
    assert "does not have authorization to perform action 'Microsoft.ServiceLinker/linkers/write'" in r.err
    assert "If access was recently granted, please refresh your credentials." in r.err
    assert none.code == 1
    assert "does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/read'" in none.err
    assert "no_rights" not in _connection_names(cli)


def test_failing_helm_install_fails_the_operation_with_helms_message(cli: Cli, namespace: str) -> None:
    bad = '{"operator": {"replicas": 5}}'  # violates the chart's values schema, as a broken values file would
    r = cli("aks", "connection", "create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1",
            "--secret", "--kube-namespace", namespace, "--connection", "helm_broken",
            env={"SL_EXTENSION_VALUES": bad})  # fmt: skip
    assert r.code == 1
    assert "(ExtensionOperationFailed)" in r.err
    assert "values don't meet the specifications of the schema" in r.err
    assert "FAIL Install sc-extension" in r.err
    shown = cli.ok("aks", "connection", "show", *BASE, "--connection", "helm_broken").json()
    assert shown["properties"]["provisioningState"] == "Failed"
    # A retry without the bad value converges.
    cli.ok("aks", "connection", "update", "storage-blob", *BASE, "--connection", "helm_broken", "--client-type", "none")
    shown = cli.ok("aks", "connection", "show", *BASE, "--connection", "helm_broken").json()
    assert shown["properties"]["provisioningState"] == "Succeeded"


BAD_INPUTS: dict[str, tuple[list[str], str]] = {
    "unknown target": (["create", "mongo-db", *BASE, "--secret"], "No such command 'mongo-db'"),
    "malformed target id": (
        ["create", "storage-blob", *BASE, "--target-id", "/subscriptions/x/nonsense", "--secret"],
        "(InvalidResourceId) Resource id is invalid: /subscriptions/x/nonsense",
    ),
    "target id of the wrong type": (
        ["create", "storage-blob", *BASE, "--secret", "--target-id",
         f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/devstoreaccount1"],
        "Target resource id is invalid: /subscriptions/",
    ),
    "missing secret keys": (
        ["create", "postgres-flexible", *BASE, "--tg", RG, "--server", "sl-postgres", "--database", "postgres",
         "--secret", "name=someone"],
        "Required keys missing for parameter --secret. All possible keys are: name, secret/secret-uri/secret-name",
    ),
    "hyphen in the name": (
        ["create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1", "--secret",
         "--connection", "my-conn"],
        "Resource name can only contain letters (A-Z, a-z), numbers (0-9), periods ('.'), and underscores ('_')",
    ),
    "nonexistent server": (
        ["create", "postgres-flexible", *BASE, "--tg", RG, "--server", "nope", "--database", "postgres",
         "--secret", "name=a", "secret=b", "--connection", "bad_server"],
        # ARM's 404 for the server's own GET, which comes before the database's
        "The Resource 'Microsoft.DBforPostgreSQL/flexibleServers/nope' under resource group 'sl-dev' was not found",
    ),
    "nonexistent database": (
        ["create", "postgres-flexible", *BASE, "--tg", RG, "--server", "sl-postgres", "--database", "nodb",
         "--secret", "name=a", "secret=b", "--connection", "bad_db"],
        "flexibleServers/sl-postgres/databases/nodb' under resource group 'sl-dev' was not found",
    ),
    "nonexistent namespace": (
        ["create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1", "--secret",
         "--kube-namespace", "no-such-ns", "--connection", "bad_ns"],
        "The Kubernetes namespace 'no-such-ns' does not exist in the cluster.",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_and_leaves_nothing_behind(cli: Cli, kube: Client, case: str) -> None:
    args, message = BAD_INPUTS[case]
    before = _connection_names(cli)
    secrets_before = {s.metadata.name for s in kube.list(Secret, namespace="*")}
    r = cli("aks", "connection", *args)
    assert r.code != 0
    assert message in r.err, r.err
    assert _connection_names(cli) == before
    assert {s.metadata.name for s in kube.list(Secret, namespace="*")} == secrets_before
