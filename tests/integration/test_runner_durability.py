"""Durable operations on the dev stack: runners in their own processes run real creates (Redis `--secret` to
sl-redis: the real engine, cluster, operator and Redis).

- kill -9 of a runner mid-step, then a new runner: the operation ends Succeeded (resumed) - at once when the dead
  process was on this host, after its lease otherwise - and a runner that keeps dying makes it end Failed with a
  reason naming the step, never stuck Running;
- two runner processes on one PostgreSQL store, each PUTting the same 100 connections concurrently (200 creates):
  100 linkers, none duplicated or lost, every operation claimed once, every Secret delivered.

To stop a runner *inside* a step deterministically, the runner processes of the kill tests use the local cloud
with one change: reading the target's configuration waits while a `block` directory has no `go` file (a test
double of the cloud only; what is under test is the runner's durability). Everything else is the real thing.

Run as a module, this file is those processes: `runner` (a Runner until SIGTERM) and `server` (begins creates,
submits them to its Runner, waits for them; prints a JSON summary).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from localcloud.inventory import LOCAL_SUBSCRIPTION
from servicelinker.catalog.targets import TARGETS_BY_NAME, Target
from servicelinker.clouds.azure import AzureCloud
from servicelinker.engine.factory import Engines
from servicelinker.engine.runner import Runner, make_owner, wait_all
from servicelinker.engine.service import ConnectionEngine
from servicelinker.model.ids import format_connection_id
from servicelinker.model.linker import LinkerResource
from servicelinker.model.records import Operation
from servicelinker.settings import Settings
from servicelinker.store.repository import Store

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RG, CLUSTER = "sl-dev", "sl-aks"
SOURCE = f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"  # noqa: E501
BLOCKED_STEP = "Read target configuration"
KEY = Fernet.generate_key().decode()
TIMINGS: dict[str, float] = {}


def redis_resource(namespace: str) -> LinkerResource:
    """What `aks connection create redis --tg sl-dev --server sl-redis --database 0 --secret --client-type python
    --kube-namespace <ns>` PUTs."""
    target_id = TARGETS_BY_NAME["redis"].pattern.format(  # type: ignore[union-attr]
        subscription=LOCAL_SUBSCRIPTION, target_resource_group=RG, server="sl-redis", database="0"
    )
    return LinkerResource.model_validate({"properties": {
        "targetService": {"type": "AzureResource", "id": target_id},
        "authInfo": {"authType": "secret"},
        "clientType": "python",
        "scope": namespace,
        "configurationInfo": {},
        "publicNetworkSolution": {},
    }})  # fmt: skip


class BlockingCloud(AzureCloud):
    """The Azure adapter (on the stack's ARM endpoint), except that reading a target's configuration waits while
    `block/go` does not exist."""

    def __init__(self, inventory: Path, block: Path | None) -> None:
        super().__init__(Settings(state_dir=inventory.parent))
        self.block = block

    def target_secrets(self, target: Target, target_id: str) -> Any:
        if self.block is not None:
            (self.block / f"blocked-{os.getpid()}").touch()
            while not (self.block / "go").exists():
                time.sleep(0.05)
        return super().target_secrets(target, target_id)


def engine_factory(store: Store, inventory: Path, block: Path | None = None) -> ConnectionEngine:
    settings = Settings(state_dir=inventory.parent, ready_timeout=90)
    return Engines(settings, store, cloud_factory=lambda _principal: BlockingCloud(inventory, block)).server_engine()


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stack_env(devstack: dict[str, Any], stack_config: Any) -> Iterator[dict[str, str]]:
    """Environment of the runner processes (and of this one while the module runs): the stack's state dir."""
    env = {"SL_STATE_DIR": str(stack_config.state_dir), "SL_STORE_KEYS": KEY}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield {**os.environ, **env}
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def inventory(stack_config: Any) -> Path:
    return Path(stack_config.state_dir) / "local-cloud.json"


@pytest.fixture(scope="module")
def kube(devstack: dict[str, Any]) -> Any:
    from lightkube import Client, KubeConfig

    return Client(KubeConfig.from_file(devstack["services"]["kube"]["kubeconfig"]), field_manager="durability-tests")


@pytest.fixture(scope="module")
def namespace(
    kube: Any, stack_env: dict[str, str], inventory: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A namespace for the connections, and one create run in this process first (the extension installed and the
    operator beating before the runners start; also proves the path works without a runner)."""
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Namespace

    name = f"durable-{uuid.uuid4().hex[:6]}"
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    store = Store.in_directory(tmp_path_factory.mktemp("warm"))
    engine = engine_factory(store, inventory)
    lid = format_connection_id(SOURCE, f"warm_{uuid.uuid4().hex[:5]}")
    started = time.monotonic()
    done = engine.run(engine.begin_create_or_update(lid, redis_resource(name)).id)
    TIMINGS["one create, in process"] = time.monotonic() - started
    assert done.status == "Succeeded", json.dumps(done.error)
    yield name
    _remove_connections(kube, [lid])
    kube.delete(Namespace, name)
    store.close()


def _remove_connections(kube: Any, linker_ids: list[str]) -> None:
    from servicelinker.kube import connections as kconn

    for lid in linker_ids:
        kconn.delete(kube, kconn.resource_name_for(lid, lid.rsplit("/", 1)[1]))


class RunnerProcess:
    """`python -m tests.integration.test_runner_durability runner ...` with the stack's environment."""

    def __init__(self, env: dict[str, str], url: str, *, block: Path | None = None, host: str | None = None,
                 lease: float = 5.0, max_attempts: int = 3, workers: int = 2) -> None:  # fmt: skip
        argv = [sys.executable, "-m", "tests.integration.test_runner_durability", "runner", "--url", url,
                "--lease", str(lease), "--max-attempts", str(max_attempts), "--workers", str(workers)]  # fmt: skip
        if block is not None:
            argv += ["--block", str(block)]
        if host is not None:
            argv += ["--host", host]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # {"owner": ...} once the runner started
        if not line:
            raise AssertionError(f"runner did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.owner: str = json.loads(line)["owner"]

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)  # reaped: a dead process, not a zombie

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read() if self.proc.stderr else ""


def wait_for(store: Store, op_id: str, check: Any, timeout: float, what: str) -> Operation:
    deadline = time.monotonic() + timeout
    while True:
        op = store.get_operation(op_id)
        assert op is not None
        if check(op):
            return op
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {op.model_dump_json(indent=1)}")
        time.sleep(0.05)


def blocked_in_step(op: Operation) -> bool:
    return any(s.name == BLOCKED_STEP and s.status == "Running" for s in op.steps)


def secret_delivered(kube: Any, namespace: str, lid: str) -> bool:
    from servicelinker.catalog.naming import secret_name
    from servicelinker.kube import connections as kconn

    data = kconn.read_secret(kube, namespace, secret_name(lid.rsplit("/", 1)[1]))
    return bool(data) and "AZURE_REDIS_CONNECTIONSTRING" in (data or {})


# ---------------------------------------------------------------------------------------------- kill -9


def _begin(store: Store, inventory: Path, namespace: str, prefix: str) -> tuple[str, Operation]:
    lid = format_connection_id(SOURCE, f"{prefix}_{uuid.uuid4().hex[:5]}")
    op = engine_factory(store, inventory).begin_create_or_update(lid, redis_resource(namespace))
    return lid, op


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, devstack: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    from tests.integration.test_store_postgres import drop_database, fresh_database

    db, url = fresh_database(devstack)
    yield url
    drop_database(devstack, db)


def test_kill_9_mid_step_then_a_new_runner_on_this_host_resumes_at_once(
    stack_env: dict[str, str], inventory: Path, namespace: str, kube: Any, tmp_path: Path, store_url: str
) -> None:
    url = store_url
    backend = url.split(":", 1)[0].split("+")[0]
    store = Store(url, keys=Settings().key_list())
    block = tmp_path / "block"
    block.mkdir()
    lid, op = _begin(store, inventory, namespace, "killed")
    a = RunnerProcess(stack_env, url, block=block, lease=30)
    try:
        held = wait_for(store, op.id, blocked_in_step, 120, f"runner A in step '{BLOCKED_STEP}'")
        assert held.owner == a.owner and held.status == "Running" and held.attempts == 1
        a.kill9()
        killed_at = time.monotonic()
        time.sleep(1.0)
        stuck = store.get_operation(op.id)
        assert stuck is not None and stuck.status == "Running" and stuck.owner == a.owner  # nobody runs it now
        assert stuck.claimed_until is not None  # a 30 s lease that would hold it without the dead-process check
        (block / "go").touch()
        b = RunnerProcess(stack_env, url, lease=30)
        # Ended, and released by its runner (the release follows the final status by a moment).
        done = wait_for(store, op.id, lambda o: o.done and o.owner is None, 120, "the resumed operation to end")
        TIMINGS[f"{backend}: kill -9 -> Succeeded (same host, lease 30s)"] = time.monotonic() - killed_at
        TIMINGS[f"{backend}: runner B start -> Succeeded"] = time.monotonic() - b.started
        assert done.status == "Succeeded", done.error
        assert done.attempts == 2 and done.last_error == f"The server process {a.owner} stopped."
        assert done.owner is None and done.claimed_until is None
        assert [s.status for s in done.steps if s.name == BLOCKED_STEP] == ["Succeeded"]
        assert all(s.status in ("Succeeded", "Skipped") for s in done.steps)  # a clean re-run, nothing Running
        linker = store.get_linker(lid)
        assert linker is not None and linker.provisioning_state == "Succeeded"
        assert secret_delivered(kube, namespace, lid)
        b.stop()
    finally:
        a.stop()
        store.close()
        _remove_connections(kube, [lid])


def test_kill_9_of_a_runner_on_another_host_is_resumed_when_its_lease_expires(
    stack_env: dict[str, str], inventory: Path, namespace: str, kube: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url, keys=Settings().key_list())
    block = tmp_path / "block"
    block.mkdir()
    lid, op = _begin(store, inventory, namespace, "remote")
    lease = 4.0
    a = RunnerProcess(stack_env, url, block=block, lease=lease, host="elsewhere")
    try:
        wait_for(store, op.id, blocked_in_step, 120, f"runner A in step '{BLOCKED_STEP}'")
        a.kill9()
        killed_at = time.monotonic()
        (block / "go").touch()
        b = RunnerProcess(stack_env, url, lease=lease)
        resumed = wait_for(store, op.id, lambda o: o.attempts == 2, 60, "runner B to claim the operation")
        waited = time.monotonic() - killed_at
        TIMINGS[f"kill -9 -> resumed (other host, lease {lease:.0f}s)"] = waited
        assert resumed.owner == b.owner
        # Correctness, not speed: B cannot have taken it before A's lease (renewed every lease/3 until the kill)
        # could expire. How fast it was is reported in TIMINGS; under load starting B alone takes seconds.
        assert waited >= lease * 2 / 3 - 0.5
        done = wait_for(store, op.id, lambda o: o.done, 120, "the resumed operation to end")
        TIMINGS[f"kill -9 -> Succeeded (other host, lease {lease:.0f}s)"] = time.monotonic() - killed_at
        assert done.status == "Succeeded", done.error
        assert secret_delivered(kube, namespace, lid)
        b.stop()
    finally:
        a.stop()
        store.close()
        _remove_connections(kube, [lid])


def test_a_runner_that_keeps_dying_ends_the_operation_failed_naming_the_step(
    stack_env: dict[str, str], inventory: Path, namespace: str, kube: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url, keys=Settings().key_list())
    block = tmp_path / "block"
    block.mkdir()  # never released: every attempt stops in the blocked step
    lid, op = _begin(store, inventory, namespace, "doomed")
    owners = []
    try:
        for attempt in (1, 2):  # the first run, then one resume, both killed mid-step
            r = RunnerProcess(stack_env, url, block=block, lease=30, max_attempts=1)
            wait_for(store, op.id, lambda o, n=attempt: o.attempts == n and blocked_in_step(o), 120,
                     f"attempt {attempt} in step '{BLOCKED_STEP}'")  # fmt: skip
            r.kill9()
            owners.append(r.owner)
        started = time.monotonic()
        c = RunnerProcess(stack_env, url, block=block, lease=30, max_attempts=1)
        done = wait_for(store, op.id, lambda o: o.done, 60, "the operation to be given up")
        TIMINGS["runner C start -> Failed (max_attempts=1)"] = time.monotonic() - started
        c.stop()
        assert done.status == "Failed" and done.error is not None
        assert done.error["code"] == "InternalServerError"
        assert done.error["message"] == (
            f"The server stopped while running step '{BLOCKED_STEP}'; resumed 1 time without success: "
            f"The server process {owners[1]} stopped."
        )
        failed = [s for s in done.steps if s.status == "Failed"]
        assert [s.name for s in failed] == [BLOCKED_STEP] and not [s for s in done.steps if s.status == "Running"]
        linker = store.get_linker(lid)
        assert linker is not None and linker.provisioning_state == "Failed"
    finally:
        (block / "go").touch()
        store.close()
        _remove_connections(kube, [lid])


# --------------------------------------------------------------------------- two servers on PostgreSQL


def test_two_runner_processes_on_one_postgresql_store_run_100_concurrent_creates(
    devstack: dict[str, Any], stack_env: dict[str, str], inventory: Path, namespace: str, kube: Any, tmp_path: Path
) -> None:
    from tests.integration.test_store_postgres import drop_database, fresh_database

    db, url = fresh_database(devstack)
    names = [f"many_{i:03d}" for i in range(100)]
    (tmp_path / "names.json").write_text(json.dumps(names))
    go = tmp_path / "go"
    argv = [sys.executable, "-m", "tests.integration.test_runner_durability", "server", "--url", url,
            "--names", str(tmp_path / "names.json"), "--namespace", namespace,
            "--workers", "4", "--go", str(go)]  # fmt: skip
    Store(url, keys=Settings().key_list()).close()  # migrate once up front, so both servers start on a ready schema
    procs = [subprocess.Popen(argv, cwd=ROOT, env=stack_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    store = Store(url, keys=Settings().key_list())
    linker_ids = [format_connection_id(SOURCE, n) for n in names]
    try:
        time.sleep(2.0)  # both imported and started their runners
        go.touch()
        outs = [p.communicate(timeout=900) for p in procs]
        for p, (_, err) in zip(procs, outs, strict=True):
            if p.returncode != 0:
                pytest.fail(f"a server process exited with {p.returncode}:\n{err[:8000]}", pytrace=False)
        summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
        for i, s in enumerate(summaries):
            TIMINGS[f"server {i}: 100 PUTs accepted"] = s["begin_seconds"]
            TIMINGS[f"server {i}: all its operations ended"] = s["total_seconds"]
            TIMINGS[f"server {i}: operations it ran"] = s["ran"]

        linkers = store.list_linkers(SOURCE)
        ours = [x for x in linkers if x.name in set(names)]
        assert len(ours) == 100 and {x.name for x in ours} == set(names)  # none lost, none duplicated
        assert store.count_linkers() == 100
        assert all(x.provisioning_state == "Succeeded" for x in ours), [
            (x.name, x.provisioning_state) for x in ours if x.provisioning_state != "Succeeded"
        ]
        op_ids = summaries[0]["ops"] + summaries[1]["ops"]
        assert len(op_ids) == 200 and len(set(op_ids)) == 200
        ops = [store.get_operation(i) for i in op_ids]
        failed = [(o.id, o.error) for o in ops if o is not None and o.status != "Succeeded"]
        assert not failed, failed[:3]
        assert all(o is not None and o.attempts == 1 for o in ops)  # each claimed exactly once
        assert summaries[0]["ran"] > 0 and summaries[1]["ran"] > 0  # both servers did work
        assert summaries[0]["ran"] + summaries[1]["ran"] == 200
        missing = [lid for lid in linker_ids if not secret_delivered(kube, namespace, lid)]
        assert not missing, missing[:5]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        store.close()
        _remove_connections(kube, linker_ids)
        drop_database(devstack, db)


def test_zz_report_timings() -> None:
    """Prints what the tests above measured (run with -s to see it)."""
    print("\n" + "\n".join(f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}" for k, v in TIMINGS.items()))


# ------------------------------------------------------------------------------------- the processes


def _runner_main(args: argparse.Namespace) -> None:
    store = Store(args.url, keys=Settings().key_list())
    inventory = Path(os.environ["SL_STATE_DIR"]) / "local-cloud.json"
    block = Path(args.block) if args.block else None
    runner = Runner(lambda: engine_factory(store, inventory, block), store, owner=make_owner(args.host),
                    workers=args.workers, lease_seconds=args.lease, max_attempts=args.max_attempts,
                    poll_interval=0.2)  # fmt: skip
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    runner.start()
    print(json.dumps({"owner": runner.owner}), flush=True)
    stopping.wait()
    runner.stop(timeout=30)
    store.close()


class _Counting:
    """An engine that counts the operations it ran (to show both servers took part)."""

    def __init__(self, engine: ConnectionEngine, counts: list[int], lock: threading.Lock) -> None:
        self.engine, self.store, self.counts, self.lock = engine, engine.store, counts, lock

    def execute(self, operation_id: str, listener: Any = None) -> Operation:
        with self.lock:
            self.counts[0] += 1
        return self.engine.execute(operation_id, listener)


def _server_main(args: argparse.Namespace) -> None:
    """A server: PUTs every name (4 request threads), submitting each operation to its own Runner."""
    store = Store(args.url, keys=Settings().key_list())
    inventory = Path(os.environ["SL_STATE_DIR"]) / "local-cloud.json"
    counts, lock = [0], threading.Lock()
    runner = Runner(lambda: _Counting(engine_factory(store, inventory), counts, lock),  # type: ignore[arg-type,return-value]
                    store, workers=args.workers,
                    lease_seconds=10)  # fmt: skip
    runner.start()
    names = json.loads(Path(args.names).read_text())
    local = threading.local()

    def put(name: str) -> str:
        if not hasattr(local, "engine"):
            local.engine = engine_factory(store, inventory)
        op = local.engine.begin_create_or_update(format_connection_id(SOURCE, name), redis_resource(args.namespace))
        runner.submit(op.id)
        return str(op.id)

    while not Path(args.go).exists():
        time.sleep(0.01)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        ops = list(pool.map(put, names))
    begun = time.monotonic() - started
    ended = wait_all(store, ops, timeout=800)
    total = time.monotonic() - started
    deadline = time.monotonic() + 300  # keep helping with the other server's operations until all ended
    while store.active_operations() and time.monotonic() < deadline:
        time.sleep(0.2)
    runner.stop(timeout=60)
    print(json.dumps({"ops": ops, "begin_seconds": begun, "total_seconds": total,
                      "statuses": sorted({o.status for o in ended}), "ran": counts[0]}))  # fmt: skip
    store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("runner")
    r.add_argument("--url", required=True)
    r.add_argument("--block")
    r.add_argument("--host")
    r.add_argument("--lease", type=float, default=5.0)
    r.add_argument("--max-attempts", type=int, default=3)
    r.add_argument("--workers", type=int, default=2)
    s = sub.add_parser("server")
    s.add_argument("--url", required=True)
    s.add_argument("--names", required=True)
    s.add_argument("--namespace", required=True)
    s.add_argument("--workers", type=int, default=4)
    s.add_argument("--go", required=True)
    parsed = parser.parse_args()
    (_runner_main if parsed.cmd == "runner" else _server_main)(parsed)
