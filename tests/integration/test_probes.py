"""Live probes against the dev stack's real servers, with configurations the catalog builds for every client type.

An application database and user are created through each server's admin account; the probe must reach them with
exactly the delivered key/value pairs, and report failures (wrong password, dropped database, missing firewall
rule, TLS mismatch, wrong account key) with a reason and a remedy, never with a secret in the detail or the logs.
"""

from __future__ import annotations

import logging
import secrets
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pymysql
import pytest
import redis
from psycopg import sql
from pydantic import SecretStr

from localcloud import firewall
from localcloud.devstack import postgres
from servicelinker.catalog.configuration import build_configurations
from servicelinker.catalog.targets import get_target
from servicelinker.model.linker import AzureResource, LinkerProperties, SecretAuthInfo, ValueSecretInfo
from servicelinker.model.records import TargetFacts
from servicelinker.probes import probe
from servicelinker.probes.storage import shared_key_list

pytestmark = pytest.mark.integration

SUB = "00000000-0000-0000-0000-000000000000"
WRONG_PASSWORD = "Wrong-Pa55word-for-probe-tests"
WRONG_KEY = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="  # base64, so the SDKs accept it and the server rejects it


def _svc(devstack: dict[str, Any], name: str) -> dict[str, Any]:
    desc: dict[str, Any] = devstack["services"][name]
    return desc


def _configs(target: str, client: str, facts: TargetFacts, auth: SecretAuthInfo, **ids: str) -> dict[str, str]:
    t = get_target(target)
    props = LinkerProperties(
        target_service=AzureResource(id=t.format_id(SUB, target_resource_group="rg", **ids)),
        auth_info=auth,
        client_type=client,
    )
    return {c.name: c.value for c in build_configurations(props, facts)}


def _secret(user: str, password: str) -> SecretAuthInfo:
    return SecretAuthInfo(name=user, secret_info=ValueSecretInfo(value=password))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _assert_no_secret(text: str, *secrets_: str) -> None:
    for s in secrets_:
        assert s not in text


@dataclass(frozen=True)
class AppDb:
    """An application database and its user, created through the admin account."""

    host: str
    port: int
    database: str
    user: str
    password: str
    ssl: bool

    def facts(self, **update: Any) -> TargetFacts:
        return TargetFacts(host=self.host, port=self.port, database=self.database, ssl=self.ssl).model_copy(
            update=update
        )


def _password() -> str:
    """A password with every character some shape must escape (libpq and ADO.NET quoting, URL encoding)."""
    return "Pw ~'\"\\;@/%&=+{}:" + secrets.token_urlsafe(12)


# ============================================================================================ PostgreSQL


def _pg_admin(pg: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(**postgres.admin_conninfo(pg), autocommit=True)


def _pg_create(pg: dict[str, Any], database: str, user: str, password: str) -> None:
    with _pg_admin(pg) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user)))


def _pg_drop(pg: dict[str, Any], database: str, user: str | None = None) -> None:
    with _pg_admin(pg) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        if user:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))


@pytest.fixture(scope="module")
def pg_app(devstack: dict[str, Any]) -> Iterator[AppDb]:
    """appdb_<x> owned by app_<x>, and a firewall rule for 127.0.0.1 (the dev stack admits only its admin)."""
    pg = _svc(devstack, "postgres")
    suffix = uuid.uuid4().hex[:8]
    app = AppDb(pg["host"], int(pg["port"]), f"appdb_{suffix}", f"app_{suffix}", _password(), bool(pg["ssl"]))
    _pg_create(pg, app.database, app.user, app.password)
    hba = Path(pg["hbaFile"])
    admitted_before = firewall.admits(hba, "127.0.0.1")
    firewall.admit(hba, "127.0.0.1")
    postgres.reload(pg)
    try:
        yield app
    finally:
        if not admitted_before:
            firewall.revoke(hba, "127.0.0.1")
            postgres.reload(pg)
        _pg_drop(pg, app.database, app.user)


@pytest.mark.parametrize("client", get_target("postgres-flexible").client_types)
def test_postgres_every_client_type(pg_app: AppDb, client: str) -> None:
    configs = _configs(
        "postgres-flexible",
        client,
        pg_app.facts(),
        _secret(pg_app.user, pg_app.password),
        server="s",
        database=pg_app.database,
    )
    result = probe("postgres-flexible", configs)
    assert result.status == "success", result.detail
    assert result.detail.startswith("Connected to PostgreSQL ")
    assert f"at {pg_app.host}:{pg_app.port} database {pg_app.database} as user {pg_app.user} (TLS)" in result.detail
    assert result.error_code is None
    _assert_no_secret(result.detail, pg_app.password)


@pytest.mark.parametrize("client", ["python", "java", "dotnet", "nodejs", "springBoot", "go"])
def test_postgres_wrong_password(pg_app: AppDb, client: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    configs = _configs(
        "postgres-flexible",
        client,
        pg_app.facts(),
        _secret(pg_app.user, WRONG_PASSWORD),
        server="s",
        database=pg_app.database,
    )
    result = probe("postgres-flexible", configs)
    assert (result.status, result.error_code) == ("failure", "AuthenticationFailed")
    assert f"authentication failed for user {pg_app.user}" in result.detail
    assert "--secret" in result.detail
    _assert_no_secret(result.detail + caplog.text, WRONG_PASSWORD, pg_app.password)


@pytest.mark.parametrize("client", ["python", "go", "php", "ruby"])
def test_postgres_libpq_string_works_in_libpq_itself(pg_app: AppDb, client: str) -> None:
    """What a Python app does with its string (libpq parses it), so the catalog's quoting is checked by libpq."""
    configs = _configs(
        "postgres-flexible",
        client,
        pg_app.facts(),
        _secret(pg_app.user, pg_app.password),
        server="s",
        database=pg_app.database,
    )
    with psycopg.connect(configs["AZURE_POSTGRESQL_CONNECTIONSTRING"], connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (pg_app.user, pg_app.database)


def test_postgres_dropped_database(devstack: dict[str, Any], pg_app: AppDb) -> None:
    pg = _svc(devstack, "postgres")
    doomed = f"gone_{uuid.uuid4().hex[:8]}"
    with _pg_admin(pg) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(doomed), sql.Identifier(pg_app.user)))
    configs = _configs(
        "postgres-flexible",
        "python",
        pg_app.facts(database=doomed),
        _secret(pg_app.user, pg_app.password),
        server="s",
        database=doomed,
    )
    assert probe("postgres-flexible", configs).status == "success"
    _pg_drop(pg, doomed)
    result = probe("postgres-flexible", configs)
    assert (result.status, result.error_code) == ("failure", "DatabaseNotFound")
    assert f"database {doomed} does not exist" in result.detail
    _assert_no_secret(result.detail, pg_app.password)


def test_postgres_without_firewall_rule(devstack: dict[str, Any], pg_app: AppDb) -> None:
    pg = _svc(devstack, "postgres")
    hba = Path(pg["hbaFile"])
    configs = _configs(
        "postgres-flexible",
        "nodejs",
        pg_app.facts(),
        _secret(pg_app.user, pg_app.password),
        server="s",
        database=pg_app.database,
    )
    firewall.revoke(hba, "127.0.0.1")
    postgres.reload(pg)
    try:
        result = probe("postgres-flexible", configs)
    finally:
        firewall.admit(hba, "127.0.0.1")
        postgres.reload(pg)
    assert (result.status, result.error_code) == ("failure", "ClientNotAllowed")
    assert "firewall" in result.detail


def test_postgres_certificate_verification_uses_ca_file(devstack: dict[str, Any], pg_app: AppDb) -> None:
    url = (
        f"postgresql://{pg_app.user}:{quote(pg_app.password, safe='')}@{pg_app.host}:{pg_app.port}/{pg_app.database}"
        "?sslmode=verify-full"
    )
    trusted = probe("postgres-flexible", {"DATABASE_URL": url}, ca_file=_svc(devstack, "postgres")["caCert"])
    assert trusted.status == "success", trusted.detail
    untrusted = probe("postgres-flexible", {"DATABASE_URL": url})
    assert (untrusted.status, untrusted.error_code) == ("failure", "TlsFailed")
    _assert_no_secret(untrusted.detail, pg_app.password)


def test_postgres_plain_connection_is_reported(pg_app: AppDb) -> None:
    configs = _configs(
        "postgres-flexible",
        "java",
        pg_app.facts(ssl=False),
        _secret(pg_app.user, pg_app.password),
        server="s",
        database=pg_app.database,
    )
    result = probe("postgres-flexible", configs)
    assert result.status == "success" and result.detail.split(" (read from")[0].endswith("(no TLS)")


def test_postgres_nothing_listening(pg_app: AppDb) -> None:
    configs = _configs(
        "postgres-flexible",
        "php",
        pg_app.facts(port=_free_port()),
        _secret(pg_app.user, pg_app.password),
        server="s",
        database=pg_app.database,
    )
    result = probe("postgres-flexible", configs, timeout=2)
    assert (result.status, result.error_code) == ("failure", "ConnectionRefused")
    _assert_no_secret(result.detail, pg_app.password)


# ============================================================================================ MariaDB (MySQL)


def _my_admin(my: dict[str, Any]) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=my["host"],
        port=int(my["port"]),
        user=my["adminUser"],
        password=my["password"],
        autocommit=True,
        connect_timeout=5,
    )


def _my_exec(my: dict[str, Any], *statements: tuple[str, tuple[Any, ...]]) -> None:
    conn = _my_admin(my)
    try:
        with conn.cursor() as cur:
            for statement, args in statements:
                cur.execute(statement, args)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def my_app(devstack: dict[str, Any]) -> Iterator[AppDb]:
    my = _svc(devstack, "mariadb")
    suffix = uuid.uuid4().hex[:8]
    app = AppDb(my["host"], int(my["port"]), f"appdb_{suffix}", f"app_{suffix}", _password(), False)
    account = f"'{app.user}'@'127.0.0.1'"
    _my_exec(
        my,
        (f"CREATE DATABASE `{app.database}`", ()),
        (f"CREATE USER {account} IDENTIFIED BY %s", (app.password,)),
        (f"GRANT ALL PRIVILEGES ON `appdb\\_{suffix}`.* TO {account}", ()),
        (f"GRANT ALL PRIVILEGES ON `gone\\_{suffix}`.* TO {account}", ()),
    )
    try:
        yield app
    finally:
        _my_exec(my, (f"DROP DATABASE IF EXISTS `{app.database}`", ()), (f"DROP USER IF EXISTS {account}", ()))


@pytest.mark.parametrize("client", get_target("mysql-flexible").client_types)
def test_mysql_every_client_type(my_app: AppDb, client: str) -> None:
    configs = _configs(
        "mysql-flexible",
        client,
        my_app.facts(),
        _secret(my_app.user, my_app.password),
        server="s",
        database=my_app.database,
    )
    result = probe("mysql-flexible", configs)
    assert result.status == "success", result.detail
    assert result.detail.startswith("Connected to MariaDB ")
    assert f"at {my_app.host}:{my_app.port} database {my_app.database} as user {my_app.user}" in result.detail
    _assert_no_secret(result.detail, my_app.password)


@pytest.mark.parametrize("client", ["python", "java", "dotnet", "go", "php", "springBoot"])
def test_mysql_wrong_password(my_app: AppDb, client: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    configs = _configs(
        "mysql-flexible",
        client,
        my_app.facts(),
        _secret(my_app.user, WRONG_PASSWORD),
        server="s",
        database=my_app.database,
    )
    result = probe("mysql-flexible", configs)
    assert (result.status, result.error_code) == ("failure", "AuthenticationFailed")
    assert f"authentication failed for user {my_app.user}" in result.detail and "--secret" in result.detail
    _assert_no_secret(result.detail + caplog.text, WRONG_PASSWORD, my_app.password)


def test_mysql_dropped_database(devstack: dict[str, Any], my_app: AppDb) -> None:
    my = _svc(devstack, "mariadb")
    doomed = my_app.database.replace("appdb_", "gone_")
    _my_exec(my, (f"CREATE DATABASE `{doomed}`", ()))
    configs = _configs(
        "mysql-flexible",
        "nodejs",
        my_app.facts(database=doomed),
        _secret(my_app.user, my_app.password),
        server="s",
        database=doomed,
    )
    assert probe("mysql-flexible", configs).status == "success"
    _my_exec(my, (f"DROP DATABASE `{doomed}`", ()))
    result = probe("mysql-flexible", configs)
    assert (result.status, result.error_code) == ("failure", "DatabaseNotFound")
    assert f"database {doomed} does not exist" in result.detail


def test_mysql_tls_required_but_not_offered(my_app: AppDb) -> None:
    for client in ("java", "dotnet", "nodejs", "ruby", "php"):
        configs = _configs(
            "mysql-flexible",
            client,
            my_app.facts(ssl=True),
            _secret(my_app.user, my_app.password),
            server="s",
            database=my_app.database,
        )
        result = probe("mysql-flexible", configs)
        assert (result.status, result.error_code) == ("failure", "TlsFailed"), (client, result.detail)
        assert "does not offer it" in result.detail


# ============================================================================================ Redis


def _redis_facts(rd: dict[str, Any], **update: Any) -> TargetFacts:
    facts = TargetFacts(
        host=rd["host"], port=int(rd["port"]), database="0", ssl=bool(rd["tls"]), account_key=SecretStr(rd["password"])
    )
    return facts.model_copy(update=update)


@pytest.mark.parametrize("client", get_target("redis").client_types)
def test_redis_every_client_type(devstack: dict[str, Any], client: str) -> None:
    rd = _svc(devstack, "redis")
    configs = _configs("redis", client, _redis_facts(rd, database="3"), SecretAuthInfo(), server="c", database="3")
    result = probe("redis", configs)
    assert result.status == "success", result.detail
    assert f"Connected to Redis {rd['version']} at {rd['host']}:{rd['port']} database 3 (no TLS)" in result.detail
    _assert_no_secret(result.detail, rd["password"])


def test_redis_url_works_in_redis_py_itself(devstack: dict[str, Any]) -> None:
    rd = _svc(devstack, "redis")
    configs = _configs("redis", "python", _redis_facts(rd), SecretAuthInfo(), server="c", database="0")
    with redis.Redis.from_url(configs["AZURE_REDIS_CONNECTIONSTRING"], socket_timeout=5) as client:
        assert client.ping()


@pytest.mark.parametrize("client", ["python", "dotnet", "springBoot"])
def test_redis_wrong_password(devstack: dict[str, Any], client: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rd = _svc(devstack, "redis")
    configs = _configs(
        "redis",
        client,
        _redis_facts(rd, account_key=SecretStr(WRONG_PASSWORD)),
        SecretAuthInfo(),
        server="c",
        database="0",
    )
    result = probe("redis", configs)
    assert (result.status, result.error_code) == ("failure", "AuthenticationFailed")
    assert "authentication failed" in result.detail and "--secret" in result.detail
    _assert_no_secret(result.detail + caplog.text, WRONG_PASSWORD, rd["password"])


def test_redis_without_password(devstack: dict[str, Any]) -> None:
    rd = _svc(devstack, "redis")
    result = probe("redis", {"AZURE_REDIS_CONNECTIONSTRING": f"redis://{rd['host']}:{rd['port']}/0"})
    assert (result.status, result.error_code) == ("failure", "AuthenticationFailed")
    assert "requires a password" in result.detail


def test_redis_tls_against_plain_port(devstack: dict[str, Any]) -> None:
    rd = _svc(devstack, "redis")
    configs = _configs("redis", "java", _redis_facts(rd, ssl=True), SecretAuthInfo(), server="c", database="0")
    assert configs["AZURE_REDIS_CONNECTIONSTRING"].startswith("rediss://")
    result = probe("redis", configs, timeout=1.0)
    assert result.status == "failure"
    assert result.error_code in ("TlsFailed", "Timeout", "ConnectionFailed")
    assert "TLS" in result.detail
    _assert_no_secret(result.detail, rd["password"])


# ============================================================================================ Azurite


def _storage_facts(az: dict[str, Any], **update: Any) -> TargetFacts:
    facts = TargetFacts(
        account_name=az["accountName"],
        account_key=SecretStr(az["accountKey"]),
        ssl=False,
        blob_endpoint=az["blobEndpoint"],
        queue_endpoint=az["queueEndpoint"],
        table_endpoint=az["tableEndpoint"],
    )
    return facts.model_copy(update=update)


def _storage_cases() -> list[Any]:
    cases = []
    for target in ("storage-blob", "storage-queue", "storage-table"):
        for client in get_target(target).client_types:
            if (target, client) == ("storage-queue", "springBoot"):
                continue  # account + key only, no endpoint: see test_storage_spring_queue_has_no_endpoint
            cases.append(pytest.param(target, client, id=f"{target}-{client}"))
    return cases


@pytest.mark.parametrize(("target", "client"), _storage_cases())
def test_storage_every_client_type(devstack: dict[str, Any], target: str, client: str) -> None:
    az = _svc(devstack, "azurite")
    service = target.removeprefix("storage-")
    configs = _configs(target, client, _storage_facts(az), SecretAuthInfo(), account=az["accountName"])
    result = probe(target, configs)
    assert result.status == "success", result.detail
    assert f"service of account {az['accountName']} at {az[f'{service}Endpoint']} (no TLS)" in result.detail
    _assert_no_secret(result.detail, az["accountKey"])


@pytest.mark.parametrize("target", ["storage-blob", "storage-queue", "storage-table"])
def test_storage_wrong_key(devstack: dict[str, Any], target: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    az = _svc(devstack, "azurite")
    configs = _configs(
        target,
        "python",
        _storage_facts(az, account_key=SecretStr(WRONG_KEY)),
        SecretAuthInfo(),
        account=az["accountName"],
    )
    result = probe(target, configs)
    assert (result.status, result.error_code) == ("failure", "AuthenticationFailed")
    assert f"account key of {az['accountName']} was rejected" in result.detail
    _assert_no_secret(result.detail + caplog.text, WRONG_KEY, az["accountKey"])


def test_storage_over_https_with_ca_file(devstack: dict[str, Any]) -> None:
    az = _svc(devstack, "azurite")
    https = az["https"]
    configs = {"AZURE_STORAGEBLOB_CONNECTIONSTRING": https["connectionString"]}
    result = probe("storage-blob", configs, ca_file=https["caCert"])
    assert result.status == "success", result.detail
    assert "(TLS)" in result.detail
    assert probe("storage-blob", configs).error_code == "TlsFailed"  # the private CA is not trusted by default


def test_storage_spring_queue_has_no_endpoint(devstack: dict[str, Any]) -> None:
    az = _svc(devstack, "azurite")
    configs = _configs("storage-queue", "springBoot", _storage_facts(az), SecretAuthInfo(), account=az["accountName"])
    result = probe("storage-queue", configs, timeout=2)
    assert result.status == "failure"
    assert result.detail.startswith("the configuration names no Queue endpoint, so the SDK used https://")


def test_storage_file_on_azurite_is_not_testable(devstack: dict[str, Any]) -> None:
    az = _svc(devstack, "azurite")
    configs = _configs("storage-file", "python", _storage_facts(az), SecretAuthInfo(), account=az["accountName"])
    result = probe("storage-file", configs)
    assert (result.status, result.error_code) == ("notTestable", "ServiceUnavailable")
    assert "Azurite" in result.detail and "File" in result.detail


def test_storage_file_endpoint_that_answers_is_tested(devstack: dict[str, Any]) -> None:
    """A File endpoint is tested with a SharedKey-signed List; Azurite's Blob endpoint answers the same request, so
    it stands in for a File service here (the signature is the same for every storage service)."""
    az = _svc(devstack, "azurite")
    cs = f"DefaultEndpointsProtocol=http;AccountName={az['accountName']};AccountKey={{key}};FileEndpoint={{url}};"
    answering = cs.format(key=az["accountKey"], url=az["blobEndpoint"])
    ok = probe("storage-file", {"AZURE_STORAGEFILE_CONNECTIONSTRING": answering})
    assert ok.status == "success", ok.detail
    wrong = probe(
        "storage-file", {"AZURE_STORAGEFILE_CONNECTIONSTRING": cs.format(key=WRONG_KEY, url=az["blobEndpoint"])}
    )
    assert (wrong.status, wrong.error_code) == ("failure", "AuthenticationFailed")
    silent = cs.format(key=az["accountKey"], url=f"http://127.0.0.1:{_free_port()}/{az['accountName']}")
    assert probe("storage-file", {"AZURE_STORAGEFILE_CONNECTIONSTRING": silent}, timeout=1).status == "notTestable"
    _assert_no_secret(ok.detail + wrong.detail, az["accountKey"], WRONG_KEY)


def test_shared_key_signature_matches_azurite(devstack: dict[str, Any]) -> None:
    az = _svc(devstack, "azurite")
    for endpoint in (az["blobEndpoint"], az["queueEndpoint"]):
        assert shared_key_list(endpoint, az["accountName"], az["accountKey"], 5) == (200, "")
    assert shared_key_list(az["blobEndpoint"], az["accountName"], WRONG_KEY, 5)[0] == 403
