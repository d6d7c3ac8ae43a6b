"""What every part of the workflow shares: the two ports, the store, the settings and the caller."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from servicelinker.clouds.base import Cloud, ClusterInfo
from servicelinker.engine.ports import ClusterFactory, ClusterPort
from servicelinker.model.records import Caller
from servicelinker.store.repository import Store

#: The caller of work the server does on its own (operations resumed by the runner).
SERVER_CALLER = Caller(object_id="servicelinker", display_name="servicelinker", kind="Application")


@dataclass(frozen=True)
class EngineSettings:
    #: Seconds to wait for the operator to report a connection settled.
    ready_timeout: float = 90.0
    #: How long to wait for an out-of-cluster operator's first heartbeat after the extension is installed.
    heartbeat_grace: float = 30.0
    #: Extra Helm values for sc-extension (tests use it to make an install fail the way a bad value does).
    extension_values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineContext:
    cloud: Cloud
    store: Store
    clusters: ClusterFactory
    settings: EngineSettings = EngineSettings()
    caller: Caller = SERVER_CALLER

    @contextmanager
    def cluster(self, info: ClusterInfo) -> Iterator[ClusterPort]:
        """One cluster connection for the duration of a block (an operation's steps share it)."""
        port = self.clusters(info)
        try:
            yield port
        finally:
            port.close()
