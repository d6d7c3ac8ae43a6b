"""Durable execution of operations: worker threads claim recorded operations from the store and run them.

Entry points for the REST server (stable):

- ``Runner(engine_factory, store, workers=N, lease_seconds=30).start()`` in the application's start-up
  (`engine_factory()` builds one ConnectionEngine per worker thread; they share the thread-safe Store), and
  ``runner.stop(timeout)`` in its shutdown: stops claiming and waits for the operations in progress to finish. Both
  block; from an async lifespan call them in a thread (``await anyio.to_thread.run_sync(runner.stop)``);
- ``runner.submit(op_id)`` after ``engine.begin_create_or_update`` / ``begin_delete`` / ``begin_validate``: wakes a
  worker. The operation is already durable when begin_* returns; submit only saves the wait for the next poll, and
  any replica on the same store may be the one that runs it;
- ``store.get_operation(op_id)`` for operationStatuses: status Accepted -> Running (steps logged) -> Succeeded or
  Failed (with `error`), plus `owner`, `attempts`, `last_error` for diagnosis.

How it stays durable: a worker claims an operation with a lease (`Store.claim_next`, one row per claimer even with
several processes on one PostgreSQL), a heartbeat thread renews the leases of the operations this process holds
every `lease_seconds / 3`, and the worker releases the claim when `ConnectionEngine.execute` returns. If the process
dies, its leases run out and any runner claims those operations again and re-runs them from the first step: every
step is idempotent, so a re-run converges (execute starts a fresh step log; the steps done before are redone or
found done). At start-up, operations owned by a process of this host that no longer exists are taken over at once,
without waiting for their lease. An operation whose attempts keep ending without a result (the server killed each
time, or an unexpected exception outside the steps) is given up after `max_attempts` resumptions: it ends Failed
with "The server stopped while running step '<step>'; resumed N times without success: <last error>", the step that
was running marked Failed, and a create/update's linker `Failed` - never left Running.

If a lease is lost while the work goes on (the database unreachable for longer than the lease, a paused process),
another process may run the operation at the same time; the idempotent steps make that converge, and the loss is
logged. `run_here` runs one operation in the calling thread under the same lease rules (for a CLI that waits).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from servicelinker.engine.interface import ProgressListener
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.linker import ProvisioningState
from servicelinker.model.records import Operation, Step
from servicelinker.store.repository import Store

if TYPE_CHECKING:
    from servicelinker.engine.service import ConnectionEngine

log = logging.getLogger(__name__)

EngineFactory = Callable[[], "ConnectionEngine"]


def make_owner(host: str | None = None) -> str:
    """`host:pid:uuid`, unique per Runner (two runners in one process differ by the uuid)."""
    return f"{host or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _owner_parts(owner: str) -> tuple[str, int] | None:
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def _process_gone(pid: int) -> bool:
    """True if no process `pid` runs here (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _last_step(op: Operation) -> str | None:
    running = [s.name for s in op.steps if s.status == "Running"]
    if running:
        return running[-1]
    return op.steps[-1].name if op.steps else None


def give_up_error(op: Operation, resumes: int) -> ArmError:
    step = _last_step(op)
    where = f"while running step '{step}'" if step else "before its first step"
    why = op.last_error or "the lease of the server running it expired."
    tried = f"resumed {resumes} time{'s' if resumes != 1 else ''} without success" if resumes else "not resumed"
    return ArmError(
        ErrorCode.INTERNAL_SERVER_ERROR,
        f"The server stopped {where}; {tried}: {why}",
        remedy="Run the same request again (its steps are idempotent); if it keeps failing, check the server's log "
        "for this operation id.",
    )


def _step_logger(op_id: str) -> ProgressListener:
    def listen(step: Step) -> None:
        log.info("operation %s: %s %s", op_id, step.name, step.status)

    return listen


class _Heartbeat:
    """Renews the leases of the operations a process holds, every lease/3 seconds."""

    def __init__(self, store: Store, owner: str, lease_seconds: float) -> None:
        self.store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._held: set[str] = set()
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, op_id: str) -> None:
        with self._lock:
            self._held.add(op_id)

    def drop(self, op_id: str) -> None:
        with self._lock:
            self._held.discard(op_id)
            self._lost.discard(op_id)

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"sl-heartbeat-{self.owner}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def beat(self) -> None:
        for op_id in self.held():
            try:
                ok = self.store.renew(op_id, self.owner, self.lease_seconds)
            except Exception as exc:  # the database is unreachable: try again next beat
                log.warning("could not renew the lease of operation %s (%s)", op_id, type(exc).__name__)
                continue
            if ok:
                continue
            try:  # not renewed: fine if the operation just ended, a lost lease if another process holds it now
                op = self.store.get_operation(op_id)
            except Exception:
                continue
            if op is None or op.done:
                continue
            with self._lock:
                if op_id in self._held and op_id not in self._lost:
                    self._lost.add(op_id)
                    log.warning("operation %s: lease lost to %s while running here", op_id, op.owner)

    def _loop(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            self.beat()


class Runner:
    """Worker threads that claim and run operations; see the module docstring."""

    def __init__(
        self,
        engine_factory: EngineFactory,
        store: Store,
        owner: str | None = None,
        workers: int = 2,
        lease_seconds: float = 30.0,
        *,
        max_attempts: int = 3,
        poll_interval: float = 1.0,
        retry_backoff: float = 2.0,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.engine_factory = engine_factory
        self.store = store
        self.owner = owner or make_owner()
        self.workers = workers
        self.lease_seconds = lease_seconds
        #: Resumptions allowed before an operation whose attempts keep ending without a result is failed.
        self.max_attempts = max_attempts
        #: How often an idle worker looks for work it was not told about (other replicas, expired leases).
        self.poll_interval = poll_interval
        #: First delay before an attempt that raised is retried (doubles per attempt, at most lease_seconds).
        self.retry_backoff = retry_backoff
        self._heartbeat = _Heartbeat(store, self.owner, lease_seconds)
        self._wake = threading.Condition()
        self._pending = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------------------------------ public API

    def start(self) -> Runner:
        """Take over operations of dead local processes, then start the heartbeat and the workers."""
        if self._threads:
            return self
        self._stopping.clear()
        try:
            self.recover_dead_owners()
        except Exception as exc:  # not fatal: their leases will expire
            log.warning("could not check for operations of stopped processes (%s)", type(exc).__name__)
        self._heartbeat.start()
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"sl-runner-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("runner %s started: %d workers, lease %.0fs", self.owner, self.workers, self.lease_seconds)
        return self

    def submit(self, op_id: str) -> None:
        """Wake a worker for a newly recorded operation (`op_id` is for the log: workers take the oldest first)."""
        log.debug("operation %s submitted", op_id)
        with self._wake:
            self._pending += 1
            self._wake.notify()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop claiming; wait (at most `timeout` seconds) for the operations in progress to finish. Returns False
        if some were still running at the deadline: their leases are left to run out, so another runner resumes
        them if this process exits."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        drained = not any(t.is_alive() for t in self._threads)
        self._heartbeat.stop()
        if drained:
            self._threads = []
        else:
            log.warning("runner %s stopped with operations still running: %s", self.owner, self._heartbeat.held())
        return drained

    def __enter__(self) -> Runner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def running(self) -> list[str]:
        """Ids of the operations this runner is running now."""
        return self._heartbeat.held()

    def wait(self, op_id: str, timeout: float = 300.0, interval: float = 0.2) -> Operation:
        """Poll the store until the operation ended (or the timeout passed); returns it as last read."""
        deadline = time.monotonic() + timeout
        while True:
            op = self.store.get_operation(op_id)
            if op is None:
                raise KeyError(op_id)
            if op.done or time.monotonic() > deadline:
                return op
            time.sleep(interval)

    def recover_dead_owners(self) -> list[str]:
        """End the leases of active operations owned by a process of this host that is gone; returns their ids."""
        host, pid = socket.gethostname(), os.getpid()
        freed = []
        for op in self.store.active_operations():
            parts = _owner_parts(op.owner) if op.owner else None
            if parts is None or op.claimed_until is None:
                continue
            owner_host, owner_pid = parts
            if owner_host == host and owner_pid != pid and _process_gone(owner_pid):
                assert op.owner is not None
                if self.store.expire_lease(op.id, op.owner):
                    log.info("operation %s: its server process %s is gone; taking it over", op.id, op.owner)
                    freed.append(op.id)
        return freed

    # ------------------------------------------------------------------------------------------- internals

    def _work(self) -> None:
        engine: ConnectionEngine | None = None
        while not self._stopping.is_set():
            try:
                op = self.store.claim_next(self.owner, self.lease_seconds)
            except Exception as exc:
                log.warning("could not claim an operation (%s); retrying", type(exc).__name__)
                op = None
            if op is None:
                self._idle()
                continue
            self._heartbeat.hold(op.id)
            try:
                if engine is None:
                    engine = self.engine_factory()
                self._execute(engine, op)
            except Exception as exc:  # the engine could not be built, or the store failed: try later
                log.warning("operation %s: attempt %d ended with %s", op.id, op.attempts, type(exc).__name__)
                self._release(op, f"The attempt ended with an unexpected {type(exc).__name__}.", retry=True)
            finally:
                self._heartbeat.drop(op.id)

    def _idle(self) -> None:
        with self._wake:
            if self._pending == 0 and not self._stopping.is_set():
                self._wake.wait(self.poll_interval)
            self._pending = max(0, self._pending - 1)

    def _execute(self, engine: ConnectionEngine, op: Operation) -> None:
        resumes = op.attempts - 2  # resumptions that already ended without a result
        if op.attempts > 1 and resumes >= self.max_attempts:
            self._give_up(op, resumes)
            return
        if op.attempts > 1:
            log.info("operation %s: resuming (attempt %d; %s)", op.id, op.attempts, op.last_error or "")
        engine.execute(op.id, _step_logger(op.id))
        self._release(op, None, retry=False)

    def _release(self, op: Operation, error: str | None, retry: bool) -> None:
        backoff = min(self.lease_seconds, self.retry_backoff * 2 ** max(0, op.attempts - 1)) if retry else None
        try:
            self.store.release(op.id, self.owner, error=error, retry_after=backoff)
        except Exception as exc:  # the lease will run out instead
            log.warning("operation %s: could not release the claim (%s)", op.id, type(exc).__name__)

    def _give_up(self, op: Operation, resumes: int) -> None:
        error = give_up_error(op, resumes)
        log.warning("operation %s: giving up: %s", op.id, error.message)
        if self.store.abandon(op.id, self.owner, error.to_body()["error"]) and op.kind in ("create", "update"):
            latest = self.store.latest_operation(op.resource_id)
            if latest is not None and latest.id == op.id:
                self.store.set_linker_state(op.resource_id, ProvisioningState.FAILED)


def run_here(
    engine: ConnectionEngine,
    op_id: str,
    listener: ProgressListener | None = None,
    *,
    owner: str | None = None,
    lease_seconds: float = 30.0,
    poll_interval: float = 0.5,
) -> Operation:
    """Run one operation in this thread, holding its lease as a Runner does, and return it ended.

    For a CLI that waits while a server may share the store: the server's runner will not run the operation at
    the same time, and if this process dies the server resumes it. If another process holds the operation, this
    waits for it to end (and takes it over should that process's lease run out)."""
    owner = owner or make_owner()
    store = engine.store
    while True:
        claimed = store.claim(op_id, owner, lease_seconds)
        if claimed is not None:
            break
        op = store.get_operation(op_id)
        if op is None:
            raise ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"Operation {op_id} was not found.", target=op_id)
        if op.done:
            return op
        time.sleep(poll_interval)
    beat = _Heartbeat(store, owner, lease_seconds)
    beat.hold(op_id)
    beat.start()
    try:
        return engine.execute(op_id, listener)
    finally:
        beat.stop()
        store.release(op_id, owner)


def wait_all(store: Store, op_ids: Iterable[str], timeout: float = 600.0, interval: float = 0.25) -> list[Operation]:
    """Poll until every operation ended (or the timeout passed); returns them as last read."""
    deadline = time.monotonic() + timeout
    pending = list(op_ids)
    done: dict[str, Operation] = {}
    while pending:
        still = []
        for op_id in pending:
            op = store.get_operation(op_id)
            if op is not None and (op.done or time.monotonic() > deadline):
                done[op_id] = op
            else:
                still.append(op_id)
        pending = still
        if pending:
            if time.monotonic() > deadline:
                break
            time.sleep(interval)
    return [done[i] for i in done]
