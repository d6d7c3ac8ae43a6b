"""The operator's handlers: kopf for the ServiceConnection lifecycle, plain asyncio watchers for everything else.

Why not kopf for the drift watches too: kopf uses one namespace set for every resource it serves, and the
chart's RBAC allows ServiceConnections only in sc-system while delivered Secrets live in any namespace. kopf
would also watch every Secret in a namespace and filter on the client side (Helm's release Secrets included),
and store its progress annotations on them. The watchers here are server-side label-selected
(`app.kubernetes.io/managed-by=servicelinker`, `servicelinker.io/credentials-for`), hold no objects, and start
from the resourceVersion of an initial list, so startup does not replay the cluster.

All paths converge on `sync_connection`, serialised per connection by a lock: kopf (create/update/resume), drift
(a managed Secret/ServiceAccount deleted or edited), rotation (a companion credential Secret changed), a namespace
appearing, and the periodic re-sync that backs up missed events.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import httpx2
import kopf
from lightkube import ALL_NS, ApiError, AsyncClient
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Event, Namespace, Secret, ServiceAccount
from lightkube.types import OnErrorAction, OnErrorResult, PatchType

from servicelinker.kube.client import ServiceConnection, load_config
from servicelinker.kube.contract import (
    API_VERSION,
    CREDENTIALS_FOR_LABEL,
    HEARTBEAT_LEASE,
    HEARTBEAT_SECONDS,
    KIND,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PLURAL,
    READY_CONDITION,
    SYSTEM_NAMESPACE,
    ReadyReason,
)
from servicelinker.operator.desired import (
    FIELD_MANAGER,
    SECRET,
    SERVICE_ACCOUNT,
    Connection,
    ReconcileResult,
    owner_ref,
    parse_connection,
    to_dict,
)
from servicelinker.operator.housekeeping import collect_garbage
from servicelinker.operator.reconcile import Expectations, cleanup, get_connection, reconcile, write_status
from servicelinker.settings import Settings

log = logging.getLogger("servicelinker.operator")

DEFAULT_RESYNC_SECONDS = 600.0
#: Failed deletions are retried this many times before the finalizer is released anyway: a connection must never
#: get stuck in Terminating because a namespace became unwritable (Service Catalog's classic failure).
CLEANUP_RETRIES = 5
_MAX_BACKOFF = 300.0


def _settings() -> Settings:
    return Settings()


def default_identity() -> str:
    return f"{socket.gethostname()}/{os.getpid()}"


@dataclass(frozen=True)
class OperatorConfig:
    """How one operator process runs; env overrides exist for the chart (`SL_HEARTBEAT_SECONDS`) and tests."""

    namespace: str = SYSTEM_NAMESPACE
    kubeconfig: str | None = None
    heartbeat_seconds: float = field(default_factory=lambda: _settings().heartbeat_seconds or HEARTBEAT_SECONDS)
    resync_seconds: float = field(default_factory=lambda: _settings().resync_seconds or DEFAULT_RESYNC_SECONDS)
    identity: str = field(default_factory=default_identity)


MAX_CONCURRENT_PASSES = 24


@dataclass
class OperatorState:
    """Everything the handlers share, passed to kopf as `memo`. kopf shallow-copies the memo per object, so
    only the containers' contents change, never the attributes themselves."""

    config: OperatorConfig
    client: AsyncClient
    expectations: Expectations = field(default_factory=Expectations)
    #: Per-connection locks, held weakly: a lock lives exactly as long as some pass holds or awaits it, so
    #: memory does not grow with churn and no lock is ever dropped while in use.
    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(default_factory=weakref.WeakValueDictionary)
    pending: set[str] = field(default_factory=set)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    retries: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    #: Seconds from a drift event's arrival to the repaired object being written, most recent last.
    repair_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=256))
    heartbeats: list[str] = field(default_factory=list)
    #: At most this many reconcile passes at once (each makes a few API calls over a pool of 100 connections).
    passes: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_PASSES))

    def lock(self, name: str) -> asyncio.Lock:
        lock = self.locks.get(name)
        if lock is None:
            lock = self.locks[name] = asyncio.Lock()
        return lock

    def forget(self, name: str) -> None:
        """Drop per-connection memory once a connection is gone (bounded memory over churn)."""
        timer = self.retries.pop(name, None)
        if timer is not None:
            timer.cancel()


def _backoff(attempt: int, base: float = 5.0) -> float:
    return min(_MAX_BACKOFF, base * 2.0 ** max(0, attempt))


def _ready_of(conn: Connection) -> tuple[str | None, str | None]:
    conds: list[dict[str, Any]] = list(conn.status.get("conditions") or [])
    cond = next((c for c in conds if c.get("type") == READY_CONDITION), {})
    return cond.get("status"), cond.get("reason")


# ---------------------------------------------------------------------------------------------------------------
# The one reconcile path
# ---------------------------------------------------------------------------------------------------------------


async def sync_connection(
    state: OperatorState, name: str, *, trigger: str, touch: bool, started: float | None = None
) -> ReconcileResult | None:
    """Reconcile `name` (read fresh, under its lock) and record the outcome: status, log, Event.
    None when the connection no longer exists or is being deleted."""
    async with state.lock(name):
        return await _sync_locked(state, name, trigger=trigger, touch=touch, started=started)


async def _sync_locked(
    state: OperatorState, name: str, *, trigger: str, touch: bool, started: float | None
) -> ReconcileResult | None:
    # A burst (thousands of connections created at once) would otherwise start thousands of passes sharing one
    # HTTP connection pool; they time out waiting for it and retry. The gate keeps passes within the pool.
    async with state.passes:
        return await _sync_gated(state, name, trigger=trigger, touch=touch, started=started)


async def _sync_gated(
    state: OperatorState, name: str, *, trigger: str, touch: bool, started: float | None
) -> ReconcileResult | None:
    obj = await get_connection(state.client, name, state.config.namespace)
    if obj is None:
        return None
    conn = parse_connection(obj)
    if conn.deleting:
        return None
    result = await reconcile(state.client, conn, expectations=state.expectations)
    if started is not None and result.changes:
        state.repair_latencies.append(time.monotonic() - started)
    await write_status(state.client, conn, result, touch=touch)
    await _report(state, conn, result, trigger, started)
    return result


async def _report(
    state: OperatorState, conn: Connection, result: ReconcileResult, trigger: str, started: float | None
) -> None:
    """Log and post an Event for what changed: writes and new failures, never a value and never a repeat of the
    same failure (a retrying connection would otherwise flood the Events)."""
    if result.changes:
        latency = ""
        if started is not None and state.repair_latencies:
            latency = f", written {state.repair_latencies[-1] * 1000:.0f} ms after the event"
        summary = "; ".join(result.changes)
        log.info("%s: %s (trigger: %s)%s", conn.ref, summary, trigger, latency)
        repaired = any(c.startswith("repaired") for c in result.changes) or started is not None
        await post_event(state, conn, "DriftRepaired" if repaired else "Synced", summary)
    old_status, old_reason = _ready_of(conn)
    if not result.ready and (old_status, old_reason) != ("False", str(result.reason)):
        log.warning("%s: not ready: %s: %s", conn.ref, result.reason, result.message)
        await post_event(state, conn, str(result.reason), result.message, warning=True)
    elif result.ready and old_status != "True":
        log.info("%s: ready: %s", conn.ref, result.message)


async def post_event(
    state: OperatorState, conn: Connection, reason: str, message: str, *, warning: bool = False
) -> None:
    """A core/v1 Event on the ServiceConnection (what `kubectl describe sconn` shows). Best effort."""
    now = datetime.now(UTC)
    event = cast(
        Event,
        Event.from_dict(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"generateName": f"{conn.name}.", "namespace": conn.namespace},
                "involvedObject": {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "name": conn.name,
                    "namespace": conn.namespace,
                    **({"uid": conn.uid} if conn.uid else {}),
                },
                "reason": reason,
                "message": message[:1024],
                "type": "Warning" if warning else "Normal",
                "source": {"component": "sc-operator"},
                "reportingComponent": "servicelinker.io/sc-operator",
                "reportingInstance": state.config.identity[:128],
                "firstTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "count": 1,
            },
        ),
    )
    try:
        await state.client.create(event)
    except (ApiError, httpx2.HTTPError) as exc:
        log.debug("could not post Event %s on %s: %s", reason, conn.ref, type(exc).__name__)


def request_sync(state: OperatorState, name: str, trigger: str, started: float | None = None, attempt: int = 0) -> None:
    """Schedule a reconcile of `name` unless one is already waiting: a burst of events costs one pass. A trigger
    arriving while a pass runs queues exactly one more (the pending mark is cleared once the lock is held)."""
    if name in state.pending:
        return
    state.pending.add(name)
    task = asyncio.create_task(_run_requested(state, name, trigger, started, attempt), name=f"sync {name}")
    state.background.add(task)
    task.add_done_callback(state.background.discard)


async def _run_requested(state: OperatorState, name: str, trigger: str, started: float | None, attempt: int) -> None:
    try:
        async with state.lock(name):
            state.pending.discard(name)
            result = await _sync_locked(state, name, trigger=trigger, touch=False, started=started)
    except (ApiError, httpx2.HTTPError) as exc:
        state.pending.discard(name)
        log.warning("%s/%s: re-sync (%s) failed: %s; retrying", state.config.namespace, name, trigger, exc)
        schedule_retry(state, name, attempt, started, base=0.5)
        return
    after_pass(state, name, result, attempt, started)


def after_pass(
    state: OperatorState, name: str, result: ReconcileResult | None, attempt: int, started: float | None = None
) -> None:
    """Ready, gone or invalid: nothing to re-check. Otherwise re-check later with backoff (from 0.5 s for API
    hiccups, 2 s for what someone must fix; at most 5 minutes): the watchers usually fix it sooner (a namespace or
    credential Secret appearing), this catches the rest (an unmanaged Secret in the way deleted, RBAC granted)
    without kopf logging each wait as an ERROR. `started` rides along so a repair's latency includes retries."""
    if result is None or result.ready or result.reason == ReadyReason.INVALID_SPEC:
        timer = state.retries.pop(name, None)
        if timer is not None:
            timer.cancel()
        if result is None:
            state.forget(name)
        return
    schedule_retry(state, name, attempt, started, base=0.5 if result.retryable else 2.0)


def schedule_retry(state: OperatorState, name: str, attempt: int, started: float | None, *, base: float) -> None:
    if name in state.retries:
        return
    loop = asyncio.get_running_loop()
    delay = _backoff(attempt, base=base)
    state.retries[name] = loop.call_later(delay, _retry_due, state, name, attempt + 1, started)


def _retry_due(state: OperatorState, name: str, attempt: int, started: float | None) -> None:
    state.retries.pop(name, None)
    request_sync(state, name, f"retry #{attempt}", started, attempt)


# ---------------------------------------------------------------------------------------------------------------
# kopf handlers (plain functions; registered in build_registry)
# ---------------------------------------------------------------------------------------------------------------


async def on_connection(name: str, reason: str, retry: int, memo: OperatorState, **_: Any) -> None:
    """create/update/resume: reconcile now. A connection that is not Ready yet is re-checked by the operator
    (see after_pass); only an unreachable API server makes kopf retry the handler."""
    try:
        result = await sync_connection(memo, name, trigger=reason, touch=True)
    except (ApiError, httpx2.HTTPError) as exc:
        raise kopf.TemporaryError(f"could not reconcile: {exc}", delay=_backoff(retry)) from None
    after_pass(memo, name, result, 0)


def wants_cleanup(spec: kopf.Spec, **_: Any) -> bool:
    """Only deletionPolicy Delete gets a finalizer; Retain (Azure's default) deletes instantly, even with no
    operator running."""
    return bool(spec.get("deletionPolicy") == "Delete")


async def on_connection_deleted(name: str, body: kopf.Body, retry: int, memo: OperatorState, **_: Any) -> None:
    """deletionPolicy Delete: remove what this connection manages, then let kopf release the finalizer."""
    conn = parse_connection(dict(body))
    async with memo.lock(name):
        try:
            others = [to_dict(o) async for o in memo.client.list(ServiceConnection, namespace=conn.namespace)]
            done = await cleanup(memo.client, conn, others=others, expectations=memo.expectations)
        except (ApiError, httpx2.HTTPError) as exc:
            if retry < CLEANUP_RETRIES:
                raise kopf.TemporaryError(f"cleanup failed ({exc}); retrying", delay=_backoff(retry, 2.0)) from None
            message = f"Gave up cleaning up after {retry + 1} attempts ({exc}); delete the objects by hand."
            log.warning("%s: %s", conn.ref, message)
            await post_event(memo, conn, "CleanupFailed", message, warning=True)
            return
    for line in done:
        log.info("%s: %s (deletionPolicy Delete)", conn.ref, line)
    if done:
        await post_event(memo, conn, "CleanedUp", "; ".join(done))


async def login(memo: OperatorState, **_: Any) -> kopf.ConnectionInfo:
    """kopf's credentials from the same kubeconfig (or in-cluster ServiceAccount) the lightkube client uses."""
    cfg = load_config(memo.config.kubeconfig).get()
    if cfg is None:
        raise kopf.LoginError("No Kubernetes credentials: pass --kubeconfig or run in a pod.")
    cluster, user = cfg.cluster, cfg.user
    token = user.token if user else None
    if user and user.token_file:
        with open(user.token_file, encoding="ascii") as f:
            token = f.read().strip()
    return kopf.ConnectionInfo(
        server=cluster.server,
        ca_path=cfg.abs_file(cluster.certificate_auth) if cluster.certificate_auth else None,
        ca_data=cluster.certificate_auth_data,
        insecure=cluster.insecure or None,
        token=token,
        scheme="Bearer" if token else None,
        certificate_path=cfg.abs_file(user.client_cert) if user and user.client_cert else None,
        certificate_data=user.client_cert_data if user else None,
        private_key_path=cfg.abs_file(user.client_key) if user and user.client_key else None,
        private_key_data=user.client_key_data if user else None,
        username=user.username if user else None,
        password=user.password if user else None,
        default_namespace=memo.config.namespace,
    )


def build_registry() -> kopf.OperatorRegistry:
    """A fresh registry (not kopf's global one), so several operators can run in one process (tests)."""
    registry = kopf.OperatorRegistry()
    res = (API_VERSION.split("/")[0], API_VERSION.split("/")[1], PLURAL)
    kopf.on.login(registry=registry)(login)
    kopf.on.resume(*res, registry=registry, id="reconcile-resume")(on_connection)
    kopf.on.create(*res, registry=registry, id="reconcile-create")(on_connection)
    kopf.on.update(*res, registry=registry, id="reconcile-update", field="spec")(on_connection)
    kopf.on.delete(*res, registry=registry, id="cleanup", when=wants_cleanup)(on_connection_deleted)
    return registry


# ---------------------------------------------------------------------------------------------------------------
# Watchers, heartbeat, periodic re-sync (asyncio tasks next to kopf)
# ---------------------------------------------------------------------------------------------------------------

EventFn = Callable[[str, dict[str, Any], float], Awaitable[None]]


def _retry_watch(what: str) -> Callable[[Exception, int], OnErrorResult]:
    def on_error(exc: Exception, count: int) -> OnErrorResult:
        log.warning("watch of %s interrupted (%s); resuming", what, type(exc).__name__)
        return OnErrorResult(OnErrorAction.RETRY, sleep=min(5.0, 0.2 * count))

    return on_error


async def watch(
    state: OperatorState,
    res: Any,
    what: str,
    on_event: EventFn,
    *,
    namespace: str | None = None,
    labels: dict[str, Any] | None = None,
) -> None:
    """List (to learn the resourceVersion, dropping the items), then watch from there, forever. Label selection
    happens in the API server, so only our objects ever reach this process."""
    while True:
        try:
            kwargs: dict[str, Any] = {"labels": labels} if labels else {}
            if namespace is not None:
                kwargs["namespace"] = namespace
            listing = state.client.list(res, chunk_size=500, **kwargs)
            async for _ in listing:
                pass
            try:
                version: str | None = listing.resourceVersion
            except Exception:  # an empty list: lightkube has not seen a page's metadata
                version = None
            async for kind, obj in state.client.watch(
                res, resource_version=version, on_error=_retry_watch(what), **kwargs
            ):
                try:
                    await on_event(kind, to_dict(obj), time.monotonic())
                except Exception:
                    log.exception("handling a %s event failed", what)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("watch of %s failed (%s); restarting in 2 s", what, type(exc).__name__)
            await asyncio.sleep(2.0)


def _owner_in(state: OperatorState, obj: dict[str, Any]) -> str | None:
    ref = owner_ref(obj)
    if not ref:
        return None
    ns, _, name = ref.partition("/")
    return name if ns == state.config.namespace and name else None


def managed_object_handler(state: OperatorState, kind: str) -> EventFn:
    """Drift: a managed Secret/ServiceAccount deleted, or changed into something we did not write."""

    async def handle(event: str, obj: dict[str, Any], received: float) -> None:
        owner = _owner_in(state, obj)
        if owner is None:
            return
        meta = obj.get("metadata") or {}
        if event == "DELETED":
            state.expectations.forget(kind, str(meta.get("namespace")), str(meta.get("name")))
            request_sync(state, owner, f"{kind} {meta.get('namespace')}/{meta.get('name')} deleted", received)
        elif not state.expectations.satisfied_by(kind, obj):
            request_sync(state, owner, f"{kind} {meta.get('namespace')}/{meta.get('name')} changed", received)

    return handle


def companion_handler(state: OperatorState) -> EventFn:
    """Rotation: the engine rewrote a credential Secret; the workload's Secret follows."""

    async def handle(event: str, obj: dict[str, Any], received: float) -> None:
        owner = ((obj.get("metadata") or {}).get("labels") or {}).get(CREDENTIALS_FOR_LABEL)
        if owner:
            request_sync(state, str(owner), f"credential Secret {event.lower()}", None)

    return handle


def namespace_handler(state: OperatorState) -> EventFn:
    """A namespace appearing (or going) changes what connections targeting it can be; re-sync those."""

    async def handle(event: str, obj: dict[str, Any], received: float) -> None:
        if event not in ("ADDED", "DELETED"):
            return
        ns = (obj.get("metadata") or {}).get("name")
        async for sc in state.client.list(ServiceConnection, namespace=state.config.namespace):
            d = to_dict(sc)
            if (d.get("spec") or {}).get("targetNamespace") == ns:
                request_sync(state, str(d["metadata"]["name"]), f"namespace {ns} {event.lower()}", None)

    return handle


def _micro_time(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def renew_heartbeat(client: AsyncClient, namespace: str, identity: str, period: float, acquired: str) -> str:
    """Server-side apply of the heartbeat Lease; returns the renewTime written."""
    renew = _micro_time(datetime.now(UTC))
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": HEARTBEAT_LEASE, "namespace": namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
        "spec": {
            "holderIdentity": identity,
            "leaseDurationSeconds": max(1, round(period * 3)),
            "acquireTime": acquired,
            "renewTime": renew,
        },
    }
    await client.patch(
        Lease,
        HEARTBEAT_LEASE,
        lease,
        namespace=namespace,
        patch_type=PatchType.APPLY,
        field_manager=FIELD_MANAGER,
        force=True,
    )
    return renew


async def heartbeat(state: OperatorState) -> None:
    """Renew the Lease every heartbeat period; a failure is logged and retried on the next beat."""
    acquired = _micro_time(datetime.now(UTC))
    while True:
        try:
            renewed = await renew_heartbeat(
                state.client, state.config.namespace, state.config.identity, state.config.heartbeat_seconds, acquired
            )
            state.heartbeats[:] = [renewed]
        except (ApiError, httpx2.HTTPError) as exc:
            log.warning("could not renew the heartbeat Lease %s: %s", HEARTBEAT_LEASE, exc)
        await asyncio.sleep(state.config.heartbeat_seconds)


async def periodic_resync(state: OperatorState) -> None:
    """Re-check every connection now and then (with jitter, so many clusters do not beat in step): catches what
    no event announces, e.g. a credential Secret written without the credentials-for label."""
    while True:
        await asyncio.sleep(state.config.resync_seconds * random.uniform(0.9, 1.1))
        try:
            names = {
                str(to_dict(sc)["metadata"]["name"])
                async for sc in state.client.list(ServiceConnection, namespace=state.config.namespace)
            }
            for gone in set(state.retries) - names:
                state.forget(gone)
            for name in names:
                request_sync(state, name, "periodic re-sync")
            for line in await collect_garbage(state.client, state.config.namespace, state.expectations):
                log.info("garbage collection: %s", line)
        except (ApiError, httpx2.HTTPError) as exc:
            log.warning("periodic re-sync could not list connections: %s", exc)


def start_background(state: OperatorState) -> list[asyncio.Task[None]]:
    """The tasks that run next to kopf for the operator's lifetime."""
    managed = {MANAGED_BY_LABEL: MANAGED_BY}
    coros = [
        watch(
            state, Secret, "managed Secrets", managed_object_handler(state, SECRET), namespace=ALL_NS, labels=managed
        ),
        watch(
            state,
            ServiceAccount,
            "managed ServiceAccounts",
            managed_object_handler(state, SERVICE_ACCOUNT),
            namespace=ALL_NS,
            labels=managed,
        ),
        watch(
            state,
            Secret,
            "credential Secrets",
            companion_handler(state),
            namespace=state.config.namespace,
            labels={CREDENTIALS_FOR_LABEL: None},
        ),
        watch(state, Namespace, "namespaces", namespace_handler(state)),
        heartbeat(state),
        periodic_resync(state),
    ]
    return [asyncio.create_task(c) for c in coros]
