"""The store on the dev stack's real PostgreSQL, each test in a fresh database: migrations (and adopting a
create_all database), the race-free linker upsert, sealed secrets, and claims with FOR UPDATE SKIP LOCKED: two Store
instances, then two *processes*, claiming 200 operations concurrently claim each exactly once.

Run as a module (`python -m tests.integration.test_store_postgres claim <url> <owner> <threads>`) it is the claimer
process of the two-process test: it claims until nothing is left and prints the ids it got as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.exc import OperationalError

from servicelinker.settings import Settings
from servicelinker.store import migrate
from servicelinker.store.db import Base
from servicelinker.store.repository import Store

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"  # noqa: E501
KEY = Fernet.generate_key().decode()
PASSWORD = "pw-" + uuid.uuid4().hex


def linker_id(name: str) -> str:
    return f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers/{name}"


def _admin(devstack: dict[str, Any]) -> dict[str, Any]:
    d = devstack["services"]["postgres"]
    return {"host": d["host"], "port": d["port"], "user": d["adminUser"], "password": d["password"],
            "dbname": "postgres", "autocommit": True}  # fmt: skip


def fresh_database(devstack: dict[str, Any]) -> tuple[str, str]:
    """A new database owned by the admin user; returns (name, SQLAlchemy URL)."""
    d = devstack["services"]["postgres"]
    name = f"slstore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**_admin(devstack)) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = sa.URL.create("postgresql+psycopg", d["adminUser"], d["password"], d["host"], d["port"], name)
    return name, url.render_as_string(hide_password=False)


def drop_database(devstack: dict[str, Any], name: str) -> None:
    with psycopg.connect(**_admin(devstack)) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture()
def pg_url(devstack: dict[str, Any]) -> Iterator[str]:
    name, url = fresh_database(devstack)
    yield url
    drop_database(devstack, name)


@pytest.fixture()
def store(pg_url: str) -> Iterator[Store]:
    s = Store(pg_url, keys=[KEY])
    yield s
    s.close()


def test_migrations_on_postgres_match_the_models_and_run_once_under_concurrency(pg_url: str) -> None:
    with ThreadPoolExecutor(6) as pool:  # six replicas starting at once
        results = list(pool.map(lambda _: migrate.upgrade(pg_url), range(6)))
    assert sum(1 for before, _ in results if before is None) == 1
    assert {after for _, after in results} == {migrate.HEAD}
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        cols = {c["name"]: c for c in sa.inspect(conn).get_columns("operations")}
        claimed_until = cols["claimed_until"]["type"]
        assert isinstance(claimed_until, sa.DateTime) and claimed_until.timezone  # timestamptz: compared with now()
    engine.dispose()
    assert migrate.downgrade(pg_url, migrate.BASELINE) == migrate.BASELINE
    assert migrate.upgrade(pg_url) == (migrate.BASELINE, migrate.HEAD)


def test_a_create_all_database_on_postgres_is_adopted(pg_url: str) -> None:
    from tests.unit.test_store_unit import _legacy_metadata

    engine = sa.create_engine(pg_url)
    _legacy_metadata(earliest=False).create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO operations (id, resource_key, resource_id, kind, status, start_time, params, "
                             "steps) VALUES ('op-1', 'r', 'R', 'create', 'Running', now(), '{}', '[]')"))  # fmt: skip
    engine.dispose()
    s = Store(pg_url, keys=[KEY])
    try:
        assert migrate.current(s.engine) == migrate.HEAD
        op = s.get_operation("op-1")
        assert op is not None and op.status == "Running" and op.attempts == 0 and op.claimed_until is None
        claimed = s.claim_next("me", 30)  # a Running operation from before leases existed is resumable
        assert claimed is not None and claimed.id == "op-1"
    finally:
        s.close()


def test_concurrent_puts_of_the_same_linkers_from_two_stores_leave_one_row_each(pg_url: str) -> None:
    stores = [Store(pg_url, keys=[KEY]) for _ in range(2)]
    start = threading.Barrier(16)

    def put(n: int) -> None:
        start.wait()
        for i in range(5):
            name = f"same{i}"
            body = {"id": linker_id(name), "properties": {}}
            lid = linker_id(name.upper() if n % 3 else name)
            stores[n % 2].put_linker(lid, SOURCE, name, body, {"authInfo": PASSWORD}, "Accepted")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(16)))
    assert stores[0].count_linkers() == 5
    assert len(stores[1].list_linkers(SOURCE)) == 5
    got = stores[1].get_linker(linker_id("same3"))
    assert got is not None and got.secrets == {"authInfo": PASSWORD}
    with stores[0].engine.connect() as conn:
        raw = b"".join(r[0] for r in conn.execute(sa.text("SELECT sealed_secrets FROM linkers")))
        dumped = conn.execute(sa.text("SELECT string_agg(t::text, '') FROM linkers t")).scalar_one()
    assert PASSWORD.encode() not in raw and PASSWORD not in dumped
    for s in stores:
        s.close()


def test_leases_use_the_database_clock(store: Store) -> None:
    op = store.new_operation(linker_id("a"), "create")
    claimed = store.claim_next("dead:1:x", 0.5)
    assert claimed is not None and claimed.claimed_until is not None
    with store.engine.connect() as conn:
        db_now = conn.execute(sa.text("SELECT now()")).scalar_one()
    assert abs((claimed.claimed_until - db_now).total_seconds() - 0.5) < 0.5
    assert store.claim_next("other", 30) is None
    assert not store.renew(op.id, "other", 30)
    time.sleep(0.7)
    again = store.claim_next("other", 30)
    assert again is not None and again.attempts == 2 and again.last_error == "The server process dead:1:x stopped."


def test_skip_locked_passes_over_a_row_another_transaction_holds(store: Store, pg_url: str) -> None:
    first = store.new_operation(linker_id("a"), "create")
    second = store.new_operation(linker_id("b"), "create")
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:  # another claimer is in the middle of taking `first`
        conn.execute(sa.text("SELECT id FROM operations WHERE id = :id FOR UPDATE"), {"id": first.id})
        started = time.monotonic()
        got = store.claim_next("me", 30)
        assert time.monotonic() - started < 2  # did not wait for the lock
        assert got is not None and got.id == second.id
    engine.dispose()
    later = store.claim_next("me", 30)
    assert later is not None and later.id == first.id


def _claim_all(s: Store, owner: str, out: list[str], lock: threading.Lock, start: threading.Barrier) -> None:
    start.wait()
    while True:
        for attempt in range(5):
            try:
                op = s.claim_next(owner, 600)
                break
            except OperationalError:  # pragma: no cover - a dropped connection is retried, not counted
                time.sleep(0.1 * (attempt + 1))
        else:
            raise RuntimeError("could not claim")
        if op is None:
            return
        with lock:
            out.append(op.id)


def test_two_stores_claiming_200_operations_concurrently_claim_each_once(store: Store, pg_url: str) -> None:
    ids = {store.new_operation(linker_id(f"l{i}"), "create").id for i in range(200)}
    stores = [Store(pg_url, keys=[KEY]) for _ in range(2)]
    claimed: dict[str, list[str]] = {"s0": [], "s1": []}
    lock = threading.Lock()
    start = threading.Barrier(8)
    threads = [threading.Thread(target=_claim_all, args=(stores[n % 2], f"s{n % 2}:{n}", claimed[f"s{n % 2}"], lock,
                                                         start)) for n in range(8)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    everything = claimed["s0"] + claimed["s1"]
    assert len(everything) == 200 and set(everything) == ids  # each claimed exactly once, none left
    assert claimed["s0"] and claimed["s1"]  # both stores took part
    ops = [store.get_operation(i) for i in ids]
    assert all(o is not None and o.attempts == 1 and o.owner is not None for o in ops)
    for s in stores:
        s.close()


def test_two_processes_claiming_200_operations_concurrently_claim_each_once(
    store: Store, pg_url: str, tmp_path: Path
) -> None:
    ids = {store.new_operation(linker_id(f"l{i}"), "create").id for i in range(200)}
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.test_store_postgres", "claim", pg_url, f"proc{n}", "4", str(go)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "SL_STORE_KEYS": KEY},
        )
        for n in range(2)
    ]  # fmt: skip
    try:
        # Both start claiming at the same moment: each says it is ready (stores open, under load that takes
        # seconds), then waits for `go`.
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready-proc{n}").exists() for n in range(2)) and time.monotonic() < deadline:
            time.sleep(0.05)
        go.touch()
        outs = [p.communicate(timeout=180) for p in procs]
    finally:
        go.unlink(missing_ok=True)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    per_process = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    everything = per_process[0]["claimed"] + per_process[1]["claimed"]
    assert len(everything) == 200 and set(everything) == ids, (len(everything), len(set(everything)))
    assert per_process[0]["claimed"] and per_process[1]["claimed"], "both processes took part"
    print(f"\ntwo processes claimed 200 operations: {len(per_process[0]['claimed'])} + "
          f"{len(per_process[1]['claimed'])}, in {per_process[0]['seconds']:.2f}s / "
          f"{per_process[1]['seconds']:.2f}s")  # fmt: skip
    owners = {o.owner.split(":")[0] for o in (store.get_operation(i) for i in ids) if o is not None and o.owner}
    assert owners == {"proc0", "proc1"}


def _claimer_main(url: str, owner: str, threads: int, go: str) -> None:
    stores = [Store(url, keys=Settings().key_list()) for _ in range(2)]  # keys from SL_STORE_KEYS
    out: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)
    (Path(go).parent / f"ready-{owner}").touch()
    while not os.path.exists(go):
        time.sleep(0.01)
    started = time.monotonic()
    workers = [threading.Thread(target=_claim_all, args=(stores[n % 2], f"{owner}:{n}", out, lock, start))
               for n in range(threads)]  # fmt: skip
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    print(json.dumps({"claimed": out, "seconds": time.monotonic() - started}))
    for s in stores:
        s.close()


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "claim":
        _claimer_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit("usage: python -m tests.integration.test_store_postgres claim <url> <owner> <threads> <go>")
