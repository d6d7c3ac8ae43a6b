"""The dev stack's data services, used the way connected applications use their Azure counterparts.

Each test talks to the real server the session fixture started (PostgreSQL, MariaDB, Redis, Azurite) with the
client library an application would use, with the credentials the stack describes.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pymysql
import pytest
import redis
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from localcloud.devstack import postgres, process, stack
from localcloud.devstack.config import Ports, StackConfig

pytestmark = pytest.mark.integration

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def _svc(devstack: dict[str, Any], name: str) -> dict[str, Any]:
    desc: dict[str, Any] = devstack["services"][name]
    return desc


# --- PostgreSQL ---------------------------------------------------------------------------------------------------


def test_postgres_write_read_over_tls(devstack: dict[str, Any]) -> None:
    pg = _svc(devstack, "postgres")
    table = f"t_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**postgres.admin_conninfo(pg)) as conn:
        assert conn.pgconn.ssl_in_use
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text)")
        conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "alpha"))
        conn.commit()
    # Another connection, verifying the server certificate against the stack's CA (sslmode=verify-full).
    with psycopg.connect(
        host=pg["host"],
        port=pg["port"],
        user=pg["adminUser"],
        password=pg["password"],
        dbname=pg["database"],
        sslmode="verify-full",
        sslrootcert=pg["caCert"],
    ) as conn:
        assert conn.execute(f"SELECT name FROM {table} WHERE id = 1").fetchone() == ("alpha",)
        assert conn.execute("SHOW ssl").fetchone() == ("on",)
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (True,)
        conn.execute(f"DROP TABLE {table}")


def test_postgres_description(devstack: dict[str, Any]) -> None:
    pg = _svc(devstack, "postgres")
    assert pg["host"] == "127.0.0.1"
    assert pg["adminUser"] == "sladmin"
    assert pg["ssl"] is True
    assert pg["version"].split(".")[0].isdigit()
    assert Path(pg["hbaFile"]).name == "pg_hba.conf"
    # Only the admin is admitted over TCP; connections get in through firewall rules the local cloud adds.
    assert "host    all       sladmin   127.0.0.1/32   scram-sha-256" in Path(pg["hbaFile"]).read_text()
    assert "host    all       all" not in Path(pg["hbaFile"]).read_text()
    assert pg["env"] == {
        "PGHOST": "127.0.0.1",
        "PGPORT": str(pg["port"]),
        "PGUSER": "sladmin",
        "PGDATABASE": "postgres",
    }
    assert pg["password"] not in str(pg["env"])
    secret = Path(devstack["stateDir"]) / "postgres" / "admin-password"
    assert secret.read_text().strip() == pg["password"]
    assert secret.stat().st_mode & 0o777 == 0o600


def test_postgres_wrong_password_refused(devstack: dict[str, Any]) -> None:
    pg = _svc(devstack, "postgres")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**{**postgres.admin_conninfo(pg), "password": "wrong"})


def test_postgres_reload_applies_hba_and_rejects_broken_file(devstack: dict[str, Any]) -> None:
    pg = _svc(devstack, "postgres")
    hba = Path(pg["hbaFile"])
    original = hba.read_text()
    try:
        # What the local cloud does for a firewall rule: a host line for an address range, then reload.
        hba.write_text(original + "host    all       all       192.0.2.0/24   scram-sha-256\n")
        postgres.reload(pg)
        with psycopg.connect(**postgres.admin_conninfo(pg)) as conn:
            rows = conn.execute("SELECT address FROM pg_hba_file_rules WHERE type = 'host'").fetchall()
        assert ("192.0.2.0",) in rows
        hba.write_text(original + "host    all       all       192.0.2.0/24   no-such-method\n")
        with pytest.raises(ValueError, match="has errors"):
            postgres.reload(pg)
    finally:
        hba.write_text(original)
        postgres.reload(pg)
    with psycopg.connect(**postgres.admin_conninfo(pg)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


# --- MariaDB ------------------------------------------------------------------------------------------------------


def _mariadb(desc: dict[str, Any], **kw: Any) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=desc["host"],
        port=int(desc["port"]),
        user=desc["adminUser"],
        password=desc["password"],
        autocommit=True,
        **kw,
    )


def test_mariadb_write_read(devstack: dict[str, Any]) -> None:
    db = _svc(devstack, "mariadb")
    name = f"sl_{uuid.uuid4().hex[:8]}"
    conn = _mariadb(db)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
            cur.execute(f"CREATE TABLE {name}.items (id INT PRIMARY KEY, label VARCHAR(50))")
            cur.execute(f"INSERT INTO {name}.items VALUES (%s, %s)", (7, "seven"))
            cur.execute(f"SELECT label FROM {name}.items WHERE id = 7")
            assert cur.fetchone() == ("seven",)
            # The admin can create an application user and grant it a database, as the local cloud will.
            cur.execute(f"CREATE USER 'app_{name}'@'127.0.0.1' IDENTIFIED BY 'apppw-123'")
            cur.execute(f"GRANT ALL ON {name}.* TO 'app_{name}'@'127.0.0.1'")
        app = pymysql.connect(host=db["host"], port=int(db["port"]), user=f"app_{name}", password="apppw-123")
        with app.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {name}.items")
            assert cur.fetchone() == (1,)
        app.close()
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS 'app_{name}'@'127.0.0.1'")
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


def test_mariadb_admin_and_refusals(devstack: dict[str, Any]) -> None:
    db = _svc(devstack, "mariadb")
    assert db["adminUser"] == "sladmin"
    assert db["version"].startswith(("10.", "11."))
    conn = _mariadb(db)
    with conn.cursor() as cur:
        cur.execute("SHOW GRANTS")
        grants = " ".join(r[0] for r in cur.fetchall())
        cur.execute("SELECT @@bind_address, @@port")
        assert cur.fetchone() == ("127.0.0.1", db["port"])
    conn.close()
    assert "ALL PRIVILEGES ON *.*" in grants
    assert "WITH GRANT OPTION" in grants
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        _mariadb({**db, "password": "wrong"})
    # MariaDB's root is socket-only: no password login over TCP.
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        _mariadb({**db, "adminUser": "root", "password": ""})


# --- Redis --------------------------------------------------------------------------------------------------------


def test_redis_set_get_with_password(devstack: dict[str, Any]) -> None:
    rd = _svc(devstack, "redis")
    assert rd["tls"] is False
    key = f"sl:{uuid.uuid4().hex}"
    with redis.Redis(host=rd["host"], port=rd["port"], password=rd["password"]) as r:
        assert r.set(key, "value-1", ex=60)
        assert r.get(key) == b"value-1"
        assert r.config_get("save") == {"save": ""}
        r.delete(key)


def test_redis_refuses_wrong_or_missing_password(devstack: dict[str, Any]) -> None:
    rd = _svc(devstack, "redis")
    # retry=None: redis-py 8 would retry the refused authentication with backoff for seconds.
    with (
        redis.Redis(host=rd["host"], port=rd["port"], password="wrong", retry=None) as r,
        pytest.raises(redis.AuthenticationError, match="invalid username-password pair"),
    ):
        r.ping()
    with (
        redis.Redis(host=rd["host"], port=rd["port"], retry=None) as r,
        pytest.raises(redis.AuthenticationError, match="authenticated"),
    ):
        r.get("anything")


# --- Azurite ------------------------------------------------------------------------------------------------------


def test_azurite_blob_with_connection_string(devstack: dict[str, Any]) -> None:
    az = _svc(devstack, "azurite")
    assert az["connectionString"].startswith("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;")
    assert az["blobEndpoint"] == f"http://127.0.0.1:{devstack_port(az['blobEndpoint'])}/devstoreaccount1"
    name = f"c{uuid.uuid4().hex[:12]}"
    with BlobServiceClient.from_connection_string(az["connectionString"]) as svc:
        container = svc.create_container(name)
        container.upload_blob("hello.txt", b"hello azurite")
        assert [b.name for b in container.list_blobs()] == ["hello.txt"]
        assert container.download_blob("hello.txt").readall() == b"hello azurite"
        container.delete_container()


def test_azurite_queue_with_connection_string(devstack: dict[str, Any]) -> None:
    az = _svc(devstack, "azurite")
    name = f"q{uuid.uuid4().hex[:12]}"
    with QueueServiceClient.from_connection_string(az["connectionString"]) as svc:
        queue = svc.create_queue(name)
        queue.send_message("message-1")
        received = list(queue.receive_messages(max_messages=5))
        assert [m.content for m in received] == ["message-1"]
        queue.delete_message(received[0])
        svc.delete_queue(name)


def test_azurite_table_with_connection_string(devstack: dict[str, Any]) -> None:
    az = _svc(devstack, "azurite")
    name = f"t{uuid.uuid4().hex[:12]}"
    with TableServiceClient.from_connection_string(az["connectionString"]) as svc:
        table = svc.create_table(name)
        table.create_entity({"PartitionKey": "p1", "RowKey": "r1", "color": "blue"})
        table.create_entity({"PartitionKey": "p1", "RowKey": "r2", "color": "red"})
        found = list(table.query_entities("color eq @c", parameters={"c": "red"}))
        assert [(e["RowKey"], e["color"]) for e in found] == [("r2", "red")]
        svc.delete_table(name)


class _FakeEntraCredential:
    """A TokenCredential minting unsigned but well-formed Entra v1 tokens: Azurite's `--oauth basic` checks the
    claims (iss, aud, nbf/exp/iat), not the signature."""

    def __init__(self, audience: str) -> None:
        self.audience = audience

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        now = int(time.time())
        claims = {
            "iss": f"https://sts.windows.net/{TENANT}/",
            "aud": self.audience,
            "tid": TENANT,
            "oid": str(uuid.uuid4()),
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
        }
        return AccessToken(jwt.encode(claims, "", algorithm="none"), now + 3600)


def test_azurite_https_accepts_entra_token_and_refuses_wrong_audience(devstack: dict[str, Any]) -> None:
    https = _svc(devstack, "azurite")["https"]
    assert https["blobEndpoint"].startswith("https://127.0.0.1:")
    assert Path(https["caCert"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    name = f"c{uuid.uuid4().hex[:12]}"
    good = BlobServiceClient(
        https["blobEndpoint"],
        credential=_FakeEntraCredential("https://storage.azure.com"),
        connection_verify=https["caCert"],
    )
    with good:
        container = good.create_container(name)
        container.upload_blob("token.txt", b"written with a bearer token")
        assert container.download_blob("token.txt").readall() == b"written with a bearer token"
    bad = BlobServiceClient(
        https["blobEndpoint"],
        credential=_FakeEntraCredential("https://vault.azure.net"),
        connection_verify=https["caCert"],
        retry_total=0,
    )
    with bad, pytest.raises(HttpResponseError) as err:
        bad.get_container_client(name).upload_blob("denied.txt", b"nope")
    assert err.value.status_code == 403
    with BlobServiceClient.from_connection_string(https["connectionString"], connection_verify=https["caCert"]) as svc:
        assert svc.get_container_client(name).get_blob_client("denied.txt").exists() is False
        svc.delete_container(name)


def test_status_reports_data_services_healthy(devstack: dict[str, Any], stack_config: StackConfig) -> None:
    health = {h.name: h for h in stack.status(stack_config)}
    for name in ("postgres", "mariadb", "redis", "azurite"):
        assert health[name].healthy, health[name].detail
    assert "(TLS)" in health["postgres"].detail


def devstack_port(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


# --- down ---------------------------------------------------------------------------------------------------------


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_down_stops_every_recorded_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack of its own (state dir and port block 28500) so the session's stack is untouched."""
    monkeypatch.setenv("SL_PORT_BASE", "28500")
    cfg = StackConfig(state_dir=tmp_path / "state", ports=Ports())
    names = ["postgres", "mariadb", "redis", "azurite"]
    try:
        desc = stack.up(cfg, only=names)
        assert sorted(desc["services"]) == sorted(names)
        recs = process.records(cfg.state_dir)
        assert sorted(r.name for r in recs) == sorted([*names, "azurite-https"])
        assert all(process.is_alive(r) for r in recs)
        ports = [
            cfg.ports.postgres,
            cfg.ports.mariadb,
            cfg.ports.redis,
            cfg.ports.azurite_blob,
            cfg.ports.azurite_https_blob,
        ]
        assert all(_port_open(p) for p in ports)

        stopped = stack.down(cfg)

        assert sorted(stopped) == sorted([*names, "azurite-https"])
        assert not any(process.is_alive(r) for r in recs)
        assert not any(Path(f"/proc/{r.pid}").exists() for r in recs)
        assert not any(_port_open(p) for p in ports)
        assert process.records(cfg.state_dir) == []
        assert stack.load_description(cfg)["services"] == {}
    finally:
        stack.down(cfg)
        postgres.remove_private_data(cfg)
