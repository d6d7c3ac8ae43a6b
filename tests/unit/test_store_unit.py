"""The store on SQLite in a temporary directory: migrations (fresh, adopted create_all databases, downgrade),
operation claims and leases, the linker upsert, sealed secrets at rest, key rotation, the `store` CLI, and the
Runner's claim/resume/give-up behaviour with an engine double (the real engine is exercised on the dev stack in
tests/integration/test_runner_durability.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from servicelinker.cli.store import app as store_app
from servicelinker.engine.factory import open_store
from servicelinker.engine.oplog import OperationLog, ProgressListener
from servicelinker.engine.runner import Runner, give_up_error, run_here
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.records import Operation
from servicelinker.settings import Settings
from servicelinker.store import migrate
from servicelinker.store.db import Base
from servicelinker.store.repository import Store, StoreKeyError

pytestmark = pytest.mark.unit

SOURCE = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"  # noqa: E501
PASSWORD = "pw-" + uuid.uuid4().hex  # a value that must never be found in the database file


def linker_id(name: str) -> str:
    return f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers/{name}"


def body(name: str, state: str = "Accepted") -> dict[str, Any]:
    return {"id": linker_id(name), "name": name, "properties": {"provisioningState": state}}


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SL_STORE_KEYS", "SL_STORE_URL", "SL_STORE_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.in_directory(tmp_path)
    yield s
    s.close()


# ------------------------------------------------------------------------------------------------ migrations


def test_head_constant_is_the_scripts_head() -> None:
    assert migrate.script_head() == migrate.HEAD


def _schema_diff(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        diff: list[Any] = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        return diff


def test_fresh_database_is_migrated_to_head_and_matches_the_models(store: Store) -> None:
    assert migrate.current(store.engine) == migrate.HEAD
    assert _schema_diff(store.engine) == []
    assert migrate.upgrade(store.engine) == (migrate.HEAD, migrate.HEAD)  # idempotent


def test_downgrade_to_baseline_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    assert migrate.downgrade(url, migrate.BASELINE) == migrate.BASELINE
    cols = {c["name"] for c in sa.inspect(sa.create_engine(url)).get_columns("operations")}
    assert "claimed_until" not in cols and "owner" in cols
    assert migrate.upgrade(url) == (migrate.BASELINE, migrate.HEAD)


def _legacy_metadata(earliest: bool) -> sa.MetaData:
    """What `Base.metadata.create_all` made before migrations: today's schema minus the lease columns, or (earliest)
    also without linkers.configurations and operations.params."""
    md = sa.MetaData()
    linker_cols: list[sa.Column[Any]] = [
        sa.Column("key", sa.String(1024), primary_key=True),
        sa.Column("source_key", sa.String(1024), index=True, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("sealed_secrets", sa.LargeBinary, nullable=True),
        sa.Column("provisioning_state", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]
    op_cols: list[sa.Column[Any]] = [
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("resource_key", sa.String(1024), nullable=False),
        sa.Column("resource_id", sa.String(1024), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("owner", sa.Text, nullable=True),
    ]
    if not earliest:
        linker_cols.insert(5, sa.Column("configurations", sa.JSON, nullable=False))
        op_cols.insert(7, sa.Column("params", sa.JSON, nullable=False))
    sa.Table("linkers", md, *linker_cols)
    ops = sa.Table("operations", md, *op_cols)
    sa.Index("ix_operations_resource", ops.c.resource_key, ops.c.start_time)
    return md


@pytest.mark.parametrize("earliest", [False, True], ids=["create_all", "earliest-create_all"])
def test_unmigrated_create_all_database_is_adopted_with_its_data(tmp_path: Path, earliest: bool) -> None:
    key = Fernet.generate_key().decode()
    old = Store(f"sqlite:///{tmp_path / 'scratch.db'}", keys=[key])  # only to seal a value the way the store does
    sealed = old._box.seal(json.dumps({"authInfo": PASSWORD}))
    old.close()
    db = tmp_path / "servicelinker.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    md = _legacy_metadata(earliest)
    md.create_all(engine)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        row = {"key": linker_id("old").lower(), "source_key": SOURCE.lower(), "name": "old", "body": body("old"),
               "sealed_secrets": sealed, "provisioning_state": "Succeeded",
               "created_at": now, "updated_at": now}  # fmt: skip
        if not earliest:
            row["configurations"] = [{"name": "K", "value": ""}]
        conn.execute(md.tables["linkers"].insert(), [row])
        op = {"id": "op-1", "resource_key": "r", "resource_id": "R", "kind": "create", "status": "Succeeded",
              "start_time": now, "steps": []}  # fmt: skip
        if not earliest:
            op["params"] = {"cleanup": True}
        conn.execute(md.tables["operations"].insert(), [op])
    engine.dispose()

    store = Store(f"sqlite:///{db}", keys=[key])
    try:
        assert migrate.current(store.engine) == migrate.HEAD
        got = store.get_linker(linker_id("OLD"))
        assert got is not None and got.secrets == {"authInfo": PASSWORD}
        assert got.configurations == ([] if earliest else [{"name": "K", "value": ""}])
        done = store.get_operation("op-1")
        assert done is not None and done.params == ({} if earliest else {"cleanup": True}) and done.attempts == 0
        # and it works as a migrated store from now on
        store.put_linker(linker_id("new"), SOURCE, "new", body("new"), {}, "Accepted")
        assert len(store.list_linkers(SOURCE)) == 2
    finally:
        store.close()


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: migrate.upgrade(url), range(6)))
    assert sum(1 for before, _ in results if before is None) == 1
    assert {after for _, after in results} == {migrate.HEAD}


# ---------------------------------------------------------------------------------------------------- claims


def test_claim_takes_the_oldest_active_operation_once(store: Store) -> None:
    first = store.new_operation(linker_id("a"), "create")
    second = store.new_operation(linker_id("b"), "delete", {"cleanup": True})
    done = store.new_operation(linker_id("c"), "validate")
    store.finish_operation(done.id, "Succeeded")

    a = store.claim_next("owner-1", 30)
    assert a is not None and a.id == first.id and a.owner == "owner-1" and a.attempts == 1
    assert a.claimed_until is not None
    b = store.claim_next("owner-2", 30)
    assert b is not None and b.id == second.id and b.params == {"cleanup": True}
    assert store.claim_next("owner-3", 30) is None  # both leased; the finished one is never claimed
    assert store.claim(first.id, "owner-3", 30) is None


def test_an_expired_lease_is_claimed_again_and_says_who_stopped(store: Store) -> None:
    op = store.new_operation(linker_id("a"), "create")
    assert store.claim_next("dead:1:x", 0.05) is not None
    assert store.claim_next("other", 30) is None
    time.sleep(0.1)
    again = store.claim_next("other", 30)
    assert again is not None and again.id == op.id and again.attempts == 2 and again.owner == "other"
    assert again.last_error == "The server process dead:1:x stopped."


def test_renew_extends_only_the_owners_lease(store: Store) -> None:
    op = store.new_operation(linker_id("a"), "create")
    store.claim_next("me", 0.2)
    assert not store.renew(op.id, "someone-else", 30)
    assert store.renew(op.id, "me", 30)
    time.sleep(0.3)
    assert store.claim_next("someone-else", 30) is None  # renewed past the original 0.2 s
    store.finish_operation(op.id, "Succeeded")
    assert not store.renew(op.id, "me", 30)  # nothing to renew once it ended


def test_release_clears_the_claim_and_can_delay_the_retry(store: Store) -> None:
    op = store.new_operation(linker_id("a"), "create")
    store.claim_next("me", 30)
    assert not store.release(op.id, "not-me")
    assert store.release(op.id, "me", error="boom", retry_after=0.3)
    released = store.get_operation(op.id)
    assert released is not None and released.owner is None and released.last_error == "boom"
    assert store.claim_next("you", 30) is None  # not before retry_after
    time.sleep(0.4)
    again = store.claim_next("you", 30)
    assert again is not None and again.attempts == 2 and again.last_error == "boom"  # a release is not a stop


def test_expire_lease_and_abandon(store: Store) -> None:
    op = store.new_operation(linker_id("a"), "create")
    store.claim_next("gone", 300)
    assert not store.expire_lease(op.id, "someone")
    assert store.expire_lease(op.id, "gone")
    claimed = store.claim_next("me", 30)
    assert claimed is not None and claimed.id == op.id
    log = OperationLog(store, op.id)
    with log.step("Check the cluster"):
        pass
    log.steps.append(log.steps[0].model_copy(update={"name": "Install sc-extension", "status": "Running"}))
    store.save_steps(op.id, log.steps)
    error = {"code": "InternalServerError", "message": "stopped"}
    assert not store.abandon(op.id, "gone", error)
    assert store.abandon(op.id, "me", error)
    ended = store.get_operation(op.id)
    assert ended is not None and ended.status == "Failed" and ended.error == error and ended.end_time is not None
    assert [(s.name, s.status) for s in ended.steps] == [("Check the cluster", "Succeeded"),
                                                         ("Install sc-extension", "Failed")]  # fmt: skip
    assert ended.steps[1].error == error and ended.owner is None
    assert not store.abandon(op.id, "me", error)  # already ended


def test_concurrent_claimers_on_sqlite_each_claim_an_operation_once(tmp_path: Path) -> None:
    stores = [Store.in_directory(tmp_path) for _ in range(4)]
    ids = {stores[0].new_operation(linker_id(f"l{i}"), "create").id for i in range(120)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        s = stores[n % len(stores)]
        while (op := s.claim_next(f"w{n}", 300)) is not None:
            with lock:
                claimed.append(op.id)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(claimer, range(8)))
    assert sorted(claimed) == sorted(ids)
    for s in stores:
        s.close()


# --------------------------------------------------------------------------------------------------- linkers


def test_put_linker_is_an_upsert_keyed_by_the_lowercased_id(store: Store) -> None:
    store.put_linker(linker_id("Conn"), SOURCE, "Conn", body("Conn"), {"authInfo": PASSWORD}, "Accepted")
    store.set_configurations(linker_id("conn"), [{"name": "K", "value": ""}])
    again = store.put_linker(linker_id("CONN"), SOURCE, "CONN", body("CONN", "Succeeded"), {}, "Succeeded")
    assert again.configurations == [{"name": "K", "value": ""}]  # None keeps what was stored
    assert store.count_linkers() == 1
    got = store.get_linker(linker_id("conn"))
    assert got is not None and got.name == "CONN" and got.provisioning_state == "Succeeded" and got.secrets == {}
    replaced = store.put_linker(linker_id("conn"), SOURCE, "conn", body("conn"), {}, "Succeeded", [])
    assert replaced.configurations == []


def test_concurrent_puts_of_one_linker_leave_one_row(tmp_path: Path) -> None:
    stores = [Store.in_directory(tmp_path) for _ in range(4)]

    def put(n: int) -> None:
        s = stores[n % len(stores)]
        s.put_linker(
            linker_id(f"same{n % 3}"), SOURCE, f"same{n % 3}", body("same"), {"authInfo": PASSWORD}, "Accepted"
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(60)))
    assert stores[0].count_linkers() == 3
    for s in stores:
        s.close()


def test_sealed_secrets_are_never_in_plaintext_in_the_database_files(tmp_path: Path, store: Store) -> None:
    store.put_linker(linker_id("a"), SOURCE, "a", body("a"), {"authInfo": json.dumps({"secret": PASSWORD})}, "Accepted")
    got = store.get_linker(linker_id("a"))
    assert got is not None and PASSWORD in got.secrets["authInfo"]
    assert PASSWORD not in repr(got)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("servicelinker.db")]
    assert files and all(PASSWORD.encode() not in p.read_bytes() for p in files)
    with store.engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT sealed_secrets FROM linkers")).scalar_one()
    assert PASSWORD.encode() not in raw and raw.startswith(b"gAAAAA")  # a Fernet token, not the JSON
    assert oct((tmp_path / "store.key").stat().st_mode & 0o777) == "0o600"


def test_key_rotation_with_two_keys(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    s = Store(url, keys=[old])
    s.put_linker(linker_id("a"), SOURCE, "a", body("a"), {"authInfo": PASSWORD}, "Accepted")
    s.put_linker(linker_id("b"), SOURCE, "b", body("b"), {}, "Accepted")  # nothing sealed: not rewritten
    s.close()

    s = Store(url, keys=[new, old])  # the new key first: it seals, both open
    assert s.get_linker(linker_id("a")).secrets == {"authInfo": PASSWORD}  # type: ignore[union-attr]
    assert s.rotate_keys() == 1
    s.close()

    s = Store(url, keys=[new])  # the old key dropped after the rotation
    assert s.get_linker(linker_id("a")).secrets == {"authInfo": PASSWORD}  # type: ignore[union-attr]
    s.close()
    s = Store(url, keys=[old])
    with pytest.raises(StoreKeyError, match="open with none of the configured store keys"):
        s.get_linker(linker_id("a"))
    # rotating with a key list that cannot open a row fails and changes nothing
    with pytest.raises(ValueError, match="open with none of the configured keys"):
        s.rotate_keys()
    s.close()
    s = Store(url, keys=[new])
    assert s.get_linker(linker_id("a")).secrets == {"authInfo": PASSWORD}  # type: ignore[union-attr]
    s.close()


def test_keys_from_the_environment_win_over_the_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_key = Fernet.generate_key().decode()
    monkeypatch.setenv("SL_STORE_KEYS", f" {env_key} ,")
    s = open_store(Settings(state_dir=tmp_path))
    s.put_linker(linker_id("a"), SOURCE, "a", body("a"), {"authInfo": PASSWORD}, "Accepted")
    s.close()
    assert not (tmp_path / "store.key").exists()
    s = Store(f"sqlite:///{tmp_path / 'servicelinker.db'}", keys=[env_key])
    assert s.get_linker(linker_id("a")).secrets == {"authInfo": PASSWORD}  # type: ignore[union-attr]
    s.close()


# ------------------------------------------------------------------------------------------------------- CLI


def test_store_cli_migrate_and_rotate_keys_with_a_new_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    key_file = tmp_path / "cli.key"
    runner = CliRunner()
    out = runner.invoke(store_app, ["migrate", "--url", url])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"store": url, "from": None, "to": migrate.HEAD, "head": migrate.HEAD}

    s = Store(url, key_file)
    s.put_linker(linker_id("a"), SOURCE, "a", body("a"), {"authInfo": PASSWORD}, "Accepted")
    s.close()
    first_key = key_file.read_text().split()[0]

    out = runner.invoke(store_app, ["rotate-keys", "--url", url, "--key-file", str(key_file), "--new-key"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["reencrypted"] == 1
    keys = key_file.read_text().split()
    assert len(keys) == 2 and keys[1] == first_key  # new key first, old kept for the roll-out
    s = Store(url, keys=[keys[0]])  # readable with the new key alone
    assert s.get_linker(linker_id("a")).secrets == {"authInfo": PASSWORD}  # type: ignore[union-attr]
    s.close()
    out = runner.invoke(store_app, ["generate-key"])
    assert out.exit_code == 0 and Fernet(out.stdout.strip().encode())


# ---------------------------------------------------------------------------------------------------- runner


class FakeEngine:
    """Runs an operation the way ConnectionEngine.execute does (a step log, then finish), as each test chooses."""

    def __init__(self, store: Store, steps: tuple[str, ...] = ("One", "Two"), hold: threading.Event | None = None,
                 explode: bool = False) -> None:  # fmt: skip
        self.store = store
        self.steps = steps
        self.hold = hold
        self.explode = explode
        self.runs: list[str] = []

    def execute(self, operation_id: str, listener: ProgressListener | None = None) -> Operation:
        self.runs.append(operation_id)
        log = OperationLog(self.store, operation_id, listener)
        if self.explode:
            raise RuntimeError("outside any step")
        try:
            for name in self.steps:
                with log.step(name):
                    if self.hold is not None:
                        self.hold.wait(10)
        except ArmError as exc:
            self.store.finish_operation(operation_id, "Failed", error=exc.to_body()["error"])
        else:
            self.store.finish_operation(operation_id, "Succeeded", result={"Message": None})
        done = self.store.get_operation(operation_id)
        assert done is not None
        return done


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_runner_runs_submitted_operations_and_stop_drains(store: Store) -> None:
    hold = threading.Event()
    engine = FakeEngine(store, hold=hold)
    runner = Runner(lambda: engine, store, workers=2, lease_seconds=2, poll_interval=5).start()
    ops = [store.new_operation(linker_id(f"l{i}"), "create") for i in range(3)]
    for op in ops:
        runner.submit(op.id)

    def two_running() -> bool:
        found = [store.get_operation(i) for i in runner.running()]
        return len(found) == 2 and all(f is not None and f.status == "Running" for f in found)

    deadline = time.monotonic() + 5
    while not two_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert two_running()  # two workers, two operations in progress
    held = store.get_operation(runner.running()[0])
    assert held is not None and held.owner == runner.owner
    time.sleep(1.0)  # past a heartbeat (lease/3): the lease was renewed
    renewed = store.get_operation(held.id)
    assert renewed is not None and renewed.claimed_until is not None and held.claimed_until is not None
    assert renewed.claimed_until > held.claimed_until
    hold.set()
    assert runner.stop(timeout=10)
    # stop() drained what was running and claimed nothing new after
    ended = [store.get_operation(op.id) for op in ops]
    assert sum(1 for e in ended if e is not None and e.status == "Succeeded") >= 2
    runner = Runner(lambda: engine, store, workers=1, poll_interval=0.05).start()
    for op in ops:
        assert runner.wait(op.id, timeout=10).status == "Succeeded"
    runner.stop()
    final = [store.get_operation(op.id) for op in ops]
    assert all(f is not None and f.owner is None and f.claimed_until is None and f.attempts == 1 for f in final)


def test_runner_takes_over_at_once_from_a_dead_process_on_this_host(store: Store) -> None:
    op = store.new_operation(linker_id("a"), "create")
    dead_owner = f"{socket.gethostname()}:{_dead_pid()}:abc"
    store.claim_next(dead_owner, 3600)  # an hour-long lease: only the dead-process check frees it
    engine = FakeEngine(store)
    with Runner(lambda: engine, store, workers=1, poll_interval=0.05) as runner:
        done = runner.wait(op.id, timeout=10)
    assert done.status == "Succeeded" and done.attempts == 2
    assert done.last_error == f"The server process {dead_owner} stopped."
    assert [s.name for s in done.steps] == ["One", "Two"]  # the re-run started a clean step log


def test_runner_leaves_a_live_or_remote_owner_alone_until_its_lease_expires(store: Store) -> None:
    live = store.new_operation(linker_id("a"), "create")
    store.claim_next(f"{socket.gethostname()}:{os.getppid()}:abc", 3600)  # our parent process is alive
    remote = store.new_operation(linker_id("b"), "create")
    store.claim_next("elsewhere:1:abc", 0.5)
    engine = FakeEngine(store)
    with Runner(lambda: engine, store, workers=1, poll_interval=0.05) as runner:
        assert runner.wait(remote.id, timeout=10).status == "Succeeded"
        time.sleep(0.3)
        still = store.get_operation(live.id)
        assert still is not None and still.status == "Accepted" and live.id not in engine.runs


def test_runner_gives_up_after_max_attempts_naming_the_step(store: Store) -> None:
    op = store.new_operation(linker_id("a"), "create")
    store.put_linker(linker_id("a"), SOURCE, "a", body("a"), {}, "Creating")
    for n in range(3):  # the first run and two resumes die in step 'Two'
        claimed = store.claim_next(f"elsewhere:{n}:x", 0.01)
        assert claimed is not None
        log = OperationLog(store, op.id)
        with log.step("One"):
            pass
        log.steps.append(log.steps[0].model_copy(update={"name": "Two", "status": "Running"}))
        store.save_steps(op.id, log.steps)
        time.sleep(0.02)
    engine = FakeEngine(store)
    with Runner(lambda: engine, store, workers=1, poll_interval=0.05, max_attempts=2) as runner:
        done = runner.wait(op.id, timeout=10)
    assert engine.runs == []
    assert done.status == "Failed" and done.error is not None
    assert done.error["message"] == (
        "The server stopped while running step 'Two'; resumed 2 times without success: "
        "The server process elsewhere:2:x stopped."
    )
    assert [(s.name, s.status) for s in done.steps] == [("One", "Succeeded"), ("Two", "Failed")]
    linker = store.get_linker(linker_id("a"))
    assert linker is not None and linker.provisioning_state == "Failed"


def test_an_attempt_that_raises_is_retried_then_given_up_with_its_error(store: Store) -> None:
    op = store.new_operation(linker_id("a"), "validate")
    engine = FakeEngine(store, explode=True)
    with Runner(lambda: engine, store, workers=1, poll_interval=0.02, max_attempts=1, retry_backoff=0.05) as runner:
        done = runner.wait(op.id, timeout=10)
    assert len(engine.runs) == 2  # the first run and one resume
    assert done.status == "Failed" and done.attempts == 3 and done.error is not None
    assert done.error["message"] == (
        "The server stopped before its first step; resumed 1 time without success: "
        "The attempt ended with an unexpected RuntimeError."
    )


def test_give_up_error_without_resumes() -> None:
    op = Operation(id="x", resource_id="r", kind="create", status="Running", start_time=dt.datetime.now(dt.UTC),
                   attempts=2)  # fmt: skip
    err = give_up_error(op, 0)
    assert err.code == ErrorCode.INTERNAL_SERVER_ERROR
    assert (
        err.message
        == "The server stopped before its first step; not resumed: the lease of the server running it expired."
    )


def test_run_here_holds_the_lease_and_waits_for_another_holder(store: Store) -> None:
    engine = FakeEngine(store)
    op = store.new_operation(linker_id("a"), "create")
    done = run_here(engine, op.id, lease_seconds=5)
    assert done.status == "Succeeded"
    after = store.get_operation(op.id)
    assert after is not None and after.owner is None and after.attempts == 1

    busy = store.new_operation(linker_id("b"), "create")
    store.claim_next("elsewhere:1:x", 0.3)  # held elsewhere, then that holder stops renewing
    started = time.monotonic()
    done = run_here(engine, busy.id, lease_seconds=5, poll_interval=0.05)
    assert done.status == "Succeeded" and time.monotonic() - started >= 0.2 and done.attempts == 2


def test_heartbeat_reports_a_lost_lease_but_not_an_ended_operation(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from servicelinker.engine.runner import _Heartbeat

    ended = store.new_operation(linker_id("a"), "create")
    stolen = store.new_operation(linker_id("b"), "create")
    beat = _Heartbeat(store, "me", 30)
    for op in (ended, stolen):
        assert store.claim(op.id, "me", 30) is not None
        beat.hold(op.id)
    store.finish_operation(ended.id, "Succeeded")
    assert store.expire_lease(stolen.id, "me") and store.claim(stolen.id, "thief", 30) is not None
    with caplog.at_level("WARNING", logger="servicelinker.engine.runner"):
        beat.beat()
        beat.beat()
    assert [r.getMessage() for r in caplog.records] == [
        f"operation {stolen.id}: lease lost to thief while running here"
    ]
