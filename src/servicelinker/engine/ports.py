"""The engine's ports: the Cloud (clouds/base.py, in ARM terms) and the Cluster (here, in Kubernetes terms).

`ClusterPort` is everything the engine needs from one Kubernetes cluster; `kube.cluster.KubeCluster` implements
it with lightkube and Helm. Unit tests of the engine substitute both ports; integration and e2e tests use the real
ones against the dev stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from servicelinker.clouds.base import ClusterInfo
from servicelinker.kube.contract import Condition, ServiceConnectionSpec
from servicelinker.kube.extension import ExtensionStatus


class ExtensionInstall(Protocol):
    revision: int
    status: str
    chart_version: str


class ClusterPort(Protocol):
    def namespace_exists(self, namespace: str) -> bool: ...

    def ensure_extension(self, values: dict[str, Any]) -> tuple[ExtensionInstall, bool]:
        """Install or upgrade sc-extension when absent or older; (release, whether Helm ran). Raises ArmError."""
        ...

    def run_sync_job(self) -> str:
        """Where no kubelet runs the chart's sc-job hook, run its command here; raises ArmError."""
        ...

    def operator_heartbeat(self) -> tuple[bool, str]:
        """(alive, message) of the extension's operator."""
        ...

    def apply_connection(self, resource: str, spec: ServiceConnectionSpec, credentials: dict[str, str]) -> int:
        """Write the ServiceConnection (and its credential Secret); returns the object's generation."""
        ...

    def wait_ready(self, resource: str, timeout: float) -> Condition:
        """The settled Ready condition; raises ArmError when the operator does not settle in time."""
        ...

    def connection(self, resource: str) -> dict[str, Any] | None: ...

    def set_deletion_policy(self, resource: str, policy: str) -> None: ...

    def delete_connection(self, resource: str) -> bool: ...

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None: ...

    def secret_owner(self, namespace: str, name: str) -> str | None:
        """Who holds a Secret: None when there is none, the linker id of the connection that delivered it, or ""
        when something other than servicelinker made it."""
        ...

    def expected_secret_data(self, resource: str) -> dict[str, str] | None:
        """What the delivered Secret must hold for this ServiceConnection (None when there is none)."""
        ...

    def extension_status(self) -> ExtensionStatus: ...

    def close(self) -> None: ...


ClusterFactory = Callable[[ClusterInfo], ClusterPort]
