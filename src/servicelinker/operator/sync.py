"""Entry points: the one-shot sync (`operator sync --once`, Helm's sc-job hook) and the long-running operator
(`operator run`), the latter also startable in a thread of another process (tests, the dev stack).

sc-job is how Azure's extension (re)creates the Kubernetes objects on install/upgrade; like it, ours exits non-zero
when a connection failed, so Helm keeps the failed Job around. Its result also lands in the ConfigMap
`sc-job-status`, readable after the Job is gone (counts and reasons; no values).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import kopf
from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType
from pydantic import BaseModel, Field

from servicelinker.kube.client import ServiceConnection, await_api, load_config
from servicelinker.kube.contract import MANAGED_BY, MANAGED_BY_LABEL, SYNC_STATUS_CONFIGMAP, SYSTEM_NAMESPACE
from servicelinker.operator import handlers
from servicelinker.operator.desired import FIELD_MANAGER, ReconcileResult, parse_connection, rfc3339, to_dict
from servicelinker.operator.handlers import OperatorConfig, OperatorState
from servicelinker.operator.housekeeping import migrate_legacy_names
from servicelinker.operator.reconcile import reconcile, write_status

log = logging.getLogger("servicelinker.operator")
SYNC_FIELD_MANAGER = "servicelinker-sc-job"
#: kopf's own bookkeeping lives under our domain, not kopf.zalando.org, so `kubectl get -o yaml` says whose it is.
KOPF_PREFIX = "operator.servicelinker.io"
FINALIZER = "servicelinker.io/cleanup"


class SyncFailure(BaseModel):
    name: str
    reason: str
    message: str


class SyncReport(BaseModel):
    """The result of one sync pass over a namespace's connections; `failures` carry reasons, never values."""

    namespace: str
    time: str
    duration_seconds: float = Field(alias="durationSeconds")
    total: int = 0
    ready: int = 0
    failed: int = 0
    changed: int = 0
    failures: list[SyncFailure] = Field(default_factory=list)

    model_config = {"populate_by_name": True}

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def public(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


async def _sync_item(client: AsyncClient, obj: Any, gate: asyncio.Semaphore) -> tuple[str, ReconcileResult | None]:
    conn = parse_connection(obj)
    if conn.deleting:
        return conn.name, None
    async with gate:
        result = await reconcile(client, conn)
        try:
            await write_status(client, conn, result, touch=True)
        except (ApiError, httpx2.HTTPError) as exc:
            detail = f"{exc.status.code} {exc.status.reason}" if isinstance(exc, ApiError) else type(exc).__name__
            result = replace(result, ready=False, message=f"{result.message} Status not recorded: {detail}.")
    return conn.name, result


async def sync_once(client: AsyncClient, namespace: str = SYSTEM_NAMESPACE, *, concurrency: int = 8) -> SyncReport:
    """Reconcile every ServiceConnection in `namespace`, record each status, and write the ConfigMap
    `sc-job-status`. The pass is idempotent: an unchanged connection costs reads only."""
    started, when = time.monotonic(), rfc3339()
    for line in await migrate_legacy_names(client, namespace):  # the sc-job runs after every upgrade
        log.info("%s", line)
    objs = [to_dict(o) async for o in client.list(ServiceConnection, namespace=namespace)]
    gate = asyncio.Semaphore(concurrency)
    results = await asyncio.gather(*(_sync_item(client, o, gate) for o in objs))
    report = SyncReport(namespace=namespace, time=when, duration_seconds=0.0)
    for name, result in results:
        if result is None:
            continue
        report.total += 1
        report.changed += bool(result.changes)
        if result.ready:
            report.ready += 1
        else:
            report.failed += 1
            report.failures.append(SyncFailure(name=name, reason=str(result.reason), message=result.message))
    report.duration_seconds = round(time.monotonic() - started, 3)
    await write_report(client, namespace, report)
    return report


async def write_report(client: AsyncClient, namespace: str, report: SyncReport) -> None:
    """Server-side apply of `sc-job-status` (the chart's Role allows get/create/patch on ConfigMaps)."""
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": SYNC_STATUS_CONFIGMAP,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
        },
        "data": {
            "lastSyncTime": report.time,
            "total": str(report.total),
            "ready": str(report.ready),
            "failed": str(report.failed),
            "changed": str(report.changed),
            "report.json": json.dumps(report.public(), indent=2),
        },
    }
    await client.patch(
        ConfigMap,
        SYNC_STATUS_CONFIGMAP,
        cm,
        namespace=namespace,
        patch_type=PatchType.APPLY,
        field_manager=SYNC_FIELD_MANAGER,
        force=True,
    )


def run_sync_once(kubeconfig: str | Path | None = None, namespace: str = SYSTEM_NAMESPACE) -> SyncReport:
    """Blocking wrapper for the CLI."""

    async def main() -> SyncReport:
        client = AsyncClient(load_config(kubeconfig), field_manager=SYNC_FIELD_MANAGER)
        try:
            return await sync_once(client, namespace)
        finally:
            await client.close()

    return asyncio.run(main())


# ---------------------------------------------------------------------------------------------------------------
# The long-running operator
# ---------------------------------------------------------------------------------------------------------------


def operator_settings() -> kopf.OperatorSettings:
    """kopf tuned for this operator: no peering CRDs (standalone), no kopf-generated k8s Events (ours say what
    matters, without per-handler noise), bookkeeping annotations under our domain (the chart allows patching
    serviceconnections, nothing else is written by kopf), and bounded network timeouts.

    kopf >= 1.43 has no time-based event batching any more (`settings.batching.batch_window` is a no-op), so CR
    events are processed as they arrive; drift repair does not go through kopf at all (see handlers)."""
    settings = kopf.OperatorSettings()
    settings.peering.standalone = True
    settings.posting.enabled = False
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=KOPF_PREFIX)
    settings.watching.connect_timeout = 10
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    return settings


async def serve(
    config: OperatorConfig,
    *,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
    on_state: Any = None,
) -> None:
    """Run kopf plus the watchers/heartbeat until `stop_flag` (or SIGINT/SIGTERM in the main thread)."""
    client = AsyncClient(load_config(config.kubeconfig), field_manager=FIELD_MANAGER)
    state = OperatorState(config=config, client=client)
    if on_state is not None:
        on_state(state)
    tasks = handlers.start_background(state)  # the heartbeat runs while we wait below
    try:
        # kopf resolves resources from the CRDs it sees at start and notices a later CRD only on its next CRD
        # event, which can take minutes; the dev stack starts the operator before the first connection installs
        # the CRD, so wait until the ServiceConnection API answers, then start kopf.
        if not await await_api(client, config.namespace, stop=stop_flag):
            return
        for line in await migrate_legacy_names(client, config.namespace):
            log.info("%s", line)
        await kopf.operator(
            registry=handlers.build_registry(),
            settings=operator_settings(),
            standalone=True,
            namespaces=[config.namespace],
            memo=state,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        for task in [*tasks, *state.background]:
            task.cancel()
        await asyncio.gather(*tasks, *state.background, return_exceptions=True)
        await client.close()


def run(
    kubeconfig: str | Path | None = None,
    namespace: str = SYSTEM_NAMESPACE,
    *,
    heartbeat_seconds: float | None = None,
    resync_seconds: float | None = None,
) -> None:
    """`servicelinker operator run`: blocks until SIGINT/SIGTERM. Without a kubeconfig, in-cluster credentials."""
    asyncio.run(serve(_config(kubeconfig, namespace, heartbeat_seconds, resync_seconds)))


def _config(
    kubeconfig: str | Path | None, namespace: str, heartbeat_seconds: float | None, resync_seconds: float | None
) -> OperatorConfig:
    config = OperatorConfig(namespace=namespace, kubeconfig=str(kubeconfig) if kubeconfig else None)
    if heartbeat_seconds is not None:
        config = replace(config, heartbeat_seconds=heartbeat_seconds)
    if resync_seconds is not None:
        config = replace(config, resync_seconds=resync_seconds)
    return config


class OperatorThread:
    """The operator in a background thread of this process, with a clean stop: `with OperatorThread(...) as op:`.
    kopf installs no signal handlers outside the main thread, so `stop()` (kopf's stop flag) is the way out."""

    def __init__(
        self,
        kubeconfig: str | Path | None = None,
        namespace: str = SYSTEM_NAMESPACE,
        *,
        heartbeat_seconds: float | None = None,
        resync_seconds: float | None = None,
    ) -> None:
        self.config = _config(kubeconfig, namespace, heartbeat_seconds, resync_seconds)
        self.state: OperatorState | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"sc-operator-{namespace}", daemon=True)

    def _main(self) -> None:
        def keep(state: OperatorState) -> None:
            self.state = state

        try:
            asyncio.run(serve(self.config, stop_flag=self._stop, ready_flag=self._ready, on_state=keep))
        except BaseException as exc:  # surfaced by start()/stop(), not lost in a thread
            self.error = exc
            self._ready.set()

    def start(self, timeout: float = 60.0) -> OperatorThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"the operator did not start within {timeout:g}s")
        if self.error is not None:
            raise RuntimeError(f"the operator failed to start: {self.error!r}") from self.error
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the operator did not stop within {timeout:g}s")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> OperatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
