"""Cluster access shared by the engine and the operator: lightkube clients from a kubeconfig (or in-cluster
credentials), the ServiceConnection resource class, and waiting for the operator to report a connection Ready.

The engine writes a ServiceConnection and must not return before the workload's Secret exists; `wait_for_ready`
(sync) and `await_ready` (async) are how it learns the operator's verdict, without importing the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient, Client, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.coordination_v1 import Lease

from servicelinker.kube.contract import (
    GROUP,
    HEARTBEAT_LEASE,
    KIND,
    PLURAL,
    READY_CONDITION,
    SYSTEM_NAMESPACE,
    TRANSIENT_REASONS,
    VERSION,
    Condition,
)


def warm_decoders() -> None:
    """Decode an empty object into every Kubernetes type servicelinker reads, once, at import.

    Works around a crash: lightkube decodes with msgspec, which builds a type's decoder on its first use; several
    threads doing that first use at the same time crash the interpreter (SIGSEGV; reproduced with lightkube 1.0.1,
    msgspec 0.22.0, CPython 3.11.7, 12 threads decoding Namespace/Secret/ConfigMap/...: 100 crashes in 100 runs,
    none once each type had been decoded once). The REST server's thread pool and the Runner's workers run engines
    in parallel, so every process starts warm.
    """
    from lightkube.core.decoders import decode_object, decode_status
    from lightkube.resources.coordination_v1 import Lease
    from lightkube.resources.core_v1 import ConfigMap, Event, Namespace, Pod, Secret, ServiceAccount

    for kind in (Namespace, Secret, ServiceAccount, ConfigMap, Lease, Pod, Event):
        with contextlib.suppress(Exception):  # a required field missing: the decoder was built all the same
            decode_object(b"{}", kind)
    with contextlib.suppress(Exception):
        decode_status(b"{}")


warm_decoders()

#: The generic lightkube resource class for ServiceConnection (and `ServiceConnection.Status` for its status).
ServiceConnection = create_namespaced_resource(GROUP, VERSION, KIND, PLURAL)


def load_config(kubeconfig: str | Path | None = None) -> KubeConfig:
    """The kubeconfig at `kubeconfig`; without one, in-cluster credentials (the operator's pod), else $KUBECONFIG
    or ~/.kube/config - the order kubectl users expect."""
    if kubeconfig:
        return KubeConfig.from_file(str(kubeconfig))
    return KubeConfig.from_env()


def sync_client(kubeconfig: str | Path | None = None, *, field_manager: str | None = None) -> Client:
    """A blocking client (CLI, engine steps)."""
    return Client(load_config(kubeconfig), field_manager=field_manager)


def async_client(kubeconfig: str | Path | None = None, *, field_manager: str | None = None) -> AsyncClient:
    """An asyncio client (the operator runs inside kopf's event loop)."""
    return AsyncClient(load_config(kubeconfig), field_manager=field_manager)


@dataclass(frozen=True)
class ReadyState:
    """What the operator last reported for one ServiceConnection, read from its status."""

    generation: int
    observed_generation: int | None
    condition: Condition | None

    @property
    def observed(self) -> bool:
        """True once the operator has processed the current spec (not an older one)."""
        return self.observed_generation is not None and self.observed_generation >= self.generation

    @property
    def settled(self) -> bool:
        """Ready, or not Ready for a reason that will not clear without someone acting."""
        if not self.observed or self.condition is None:
            return False
        return self.condition.status == "True" or (
            self.condition.status == "False" and self.condition.reason not in TRANSIENT_REASONS
        )


def api_ready(client: Client, namespace: str = SYSTEM_NAMESPACE) -> bool:
    """Whether ServiceConnections can be listed: the CRD exists, is established and its storage is initialised.
    Right after Helm creates the CRD the API answers 404, then 503 "storage is (re)initializing", for a moment."""
    try:
        next(iter(client.list(ServiceConnection, namespace=namespace, chunk_size=1)), None)
    except (ApiError, httpx2.HTTPError):
        return False
    return True


def wait_for_api(client: Client, namespace: str = SYSTEM_NAMESPACE, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not api_ready(client, namespace):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


async def await_api(
    client: AsyncClient, namespace: str = SYSTEM_NAMESPACE, stop: Any = None, poll: float = 0.5
) -> bool:
    """The asyncio twin of `wait_for_api`, without a deadline (the operator waits for the first connection's
    install); returns False if `stop` (an Event) is set first."""
    while stop is None or not stop.is_set():
        try:
            async for _ in client.list(ServiceConnection, namespace=namespace, chunk_size=1):
                break
            return True
        except (ApiError, httpx2.HTTPError):
            await asyncio.sleep(poll)
    return False


class ReadyTimeout(TimeoutError):
    """The operator did not settle the connection in time; `last` is its last Ready condition, if any."""

    def __init__(self, name: str, timeout: float, last: Condition | None) -> None:
        detail = f" (last: {last.reason}: {last.message})" if last else " (no status yet: is the operator running?)"
        super().__init__(f"ServiceConnection {name} was not reconciled within {timeout:g}s{detail}")
        self.last = last


def ready_state(obj: Mapping[str, Any]) -> ReadyState:
    """Read the Ready condition and generations out of a ServiceConnection object (as a dict)."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == READY_CONDITION), None)
    return ReadyState(
        generation=int(meta.get("generation") or 0),
        observed_generation=status.get("observedGeneration"),
        condition=Condition.model_validate(cond) if cond else None,
    )


def _as_dict(obj: Any) -> Mapping[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def wait_for_ready(
    client: Client, name: str, *, namespace: str = SYSTEM_NAMESPACE, timeout: float = 60.0, poll: float = 0.25
) -> Condition:
    """Block until the operator has reconciled the current spec of `name` and the result is settled; return the
    Ready condition (status True, or False with the reason and remedy). Raise ReadyTimeout otherwise."""
    deadline = time.monotonic() + timeout
    state: ReadyState | None = None
    while True:
        try:
            state = ready_state(_as_dict(client.get(ServiceConnection, name, namespace=namespace)))
        except ApiError as exc:
            if exc.status.code != 404:
                raise
        if state is not None and state.settled and state.condition is not None:
            return state.condition
        if time.monotonic() >= deadline:
            raise ReadyTimeout(name, timeout, state.condition if state else None)
        time.sleep(poll)


async def await_ready(
    client: AsyncClient, name: str, *, namespace: str = SYSTEM_NAMESPACE, timeout: float = 60.0, poll: float = 0.25
) -> Condition:
    """The asyncio twin of `wait_for_ready`."""
    deadline = time.monotonic() + timeout
    state: ReadyState | None = None
    while True:
        try:
            state = ready_state(_as_dict(await client.get(ServiceConnection, name, namespace=namespace)))
        except ApiError as exc:
            if exc.status.code != 404:
                raise
        if state is not None and state.settled and state.condition is not None:
            return state.condition
        if time.monotonic() >= deadline:
            raise ReadyTimeout(name, timeout, state.condition if state else None)
        await asyncio.sleep(poll)


@dataclass(frozen=True)
class Heartbeat:
    """The operator's heartbeat Lease as the engine sees it: who renewed it and how long ago."""

    holder: str | None
    age_seconds: float
    lease_seconds: int

    @property
    def alive(self) -> bool:
        """Renewed within the Lease's duration (three heartbeat periods)."""
        return self.age_seconds <= self.lease_seconds


def operator_heartbeat(client: Client, namespace: str = SYSTEM_NAMESPACE) -> Heartbeat | None:
    """Read the heartbeat Lease; None if no operator ever ran in `namespace`. Lets the engine say "the operator
    is not running" at once instead of timing out in wait_for_ready."""
    try:
        lease = client.get(Lease, HEARTBEAT_LEASE, namespace=namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise
    spec = lease.spec
    if spec is None or spec.renewTime is None:
        return None
    renewed = spec.renewTime if spec.renewTime.tzinfo else spec.renewTime.replace(tzinfo=UTC)
    return Heartbeat(
        holder=spec.holderIdentity,
        age_seconds=max(0.0, (datetime.now(UTC) - renewed).total_seconds()),
        lease_seconds=spec.leaseDurationSeconds or 0,
    )
