"""Wiring: an Engine from Settings (the store, the configured cloud adapter, Kubernetes clusters).

`Engines(settings)` opens the store once and hands out engines bound to a caller (the REST server makes one per
request, so the cloud's permission checks are the caller's) and the durable Runner. `local_engine(settings)` is
what the CLI uses: in-process, or the REST endpoint when one is configured.
"""

from __future__ import annotations

from collections.abc import Callable

from servicelinker import clouds
from servicelinker.clouds.base import Cloud, ClusterInfo
from servicelinker.engine.context import EngineContext, EngineSettings
from servicelinker.engine.interface import Engine
from servicelinker.engine.ports import ClusterPort
from servicelinker.engine.runner import Runner, make_owner
from servicelinker.engine.service import ConnectionEngine
from servicelinker.kube.cluster import KubeCluster
from servicelinker.kube.helm import helm_binary
from servicelinker.model.records import Caller
from servicelinker.settings import Settings
from servicelinker.store.repository import Store

CloudFactory = Callable[[str | None], Cloud]


def open_store(settings: Settings) -> Store:
    """`SL_STORE_URL`, else SQLite in the state directory; keys from `SL_STORE_KEYS`, else the key file."""
    if settings.store_url:
        return Store(settings.store_url, settings.key_file, keys=settings.key_list())
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return Store(settings.sqlite_url, settings.key_file, keys=settings.key_list())


def engine_settings(settings: Settings) -> EngineSettings:
    return EngineSettings(ready_timeout=settings.ready_timeout, heartbeat_grace=settings.heartbeat_grace,
                          extension_values=dict(settings.extension_values))  # fmt: skip


class Engines:
    """One store, engines per caller, and the runner of a process."""

    def __init__(
        self, settings: Settings, store: Store | None = None, cloud_factory: CloudFactory | None = None
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        #: Builds the Cloud for a principal (None: the configured identity); default: the `SL_CLOUD` adapter.
        self.cloud_factory = cloud_factory or self._configured_cloud
        self._engine_settings = engine_settings(settings)
        self._helm = helm_binary(settings.helm, settings.binaries)

    def cluster(self, info: ClusterInfo) -> ClusterPort:
        return KubeCluster(info.kubeconfig, info.id, info.operator_mode, helm_binary=self._helm,
                           api_timeout=self.settings.ready_timeout)  # fmt: skip

    def _configured_cloud(self, principal: str | None) -> Cloud:
        return clouds.load(self.settings.cloud, settings=self.settings, principal=principal)

    def for_caller(self, caller: Caller | None = None) -> ConnectionEngine:
        """An engine acting for `caller` (None: the identity the cloud adapter is configured with)."""
        cloud = self.cloud_factory(caller.object_id if caller else None)
        # an application (service principal) signing in is `Application` in systemData, as Azure writes it
        kind = "Application" if getattr(cloud, "principal_is_application", False) else "User"
        who = caller or Caller(object_id=cloud.principal, display_name=cloud.principal, kind=kind)
        ctx = EngineContext(cloud=cloud, store=self.store, clusters=self.cluster, settings=self._engine_settings,
                            caller=who)  # fmt: skip
        return ConnectionEngine(ctx)

    def server_engine(self) -> ConnectionEngine:
        """The engine the runner's workers use: the server's own identity."""
        return self.for_caller(None)

    def runner(self, workers: int = 2) -> Runner:
        return Runner(self.server_engine, self.store, owner=make_owner(), workers=workers)

    def close(self) -> None:
        self.store.close()


def local_engine(settings: Settings) -> Engine:
    """The CLI's engine: the REST endpoint when one is configured (`--endpoint`, SL_ENDPOINT, the config file),
    else in-process."""
    from servicelinker.engine.remote import RemoteEngine, remote_settings

    remote = remote_settings(settings)
    if remote is not None:
        return RemoteEngine(remote)
    return Engines(settings).for_caller(None)
