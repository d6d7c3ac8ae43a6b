"""`KubeCluster`: the engine's ClusterPort over lightkube and Helm, for one cluster (one client per operation).

Failures surface as this layer's exceptions (`HelmError`, `ReadyTimeout`, `SyncJobFailed`); the engine turns
them into ARM errors with the seed's wording.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from lightkube import Client

from servicelinker.kube import client as kube_client
from servicelinker.kube import connections as kconn
from servicelinker.kube import contract, extension
from servicelinker.kube.contract import Condition, ServiceConnectionSpec
from servicelinker.kube.extension import ExtensionStatus, OperatorMode
from servicelinker.kube.helm import Helm, ReleaseStatus


class SyncJobFailed(RuntimeError):
    """The sc-job sync (run here where no kubelet runs the chart's hook Job) failed or the API never served."""


class KubeCluster:
    def __init__(
        self,
        kubeconfig: str,
        cluster_id: str,
        operator_mode: OperatorMode,
        *,
        helm_binary: str,
        api_timeout: float = 90.0,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.cluster_id = cluster_id
        self.operator_mode = operator_mode
        self.helm = Helm(kubeconfig, helm_binary)
        self.api_timeout = api_timeout
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = kube_client.sync_client(self.kubeconfig, field_manager=kconn.FIELD_MANAGER)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -------------------------------------------------------------------------------------------- the extension

    def namespace_exists(self, namespace: str) -> bool:
        return kconn.namespace_exists(self.client, namespace)

    def ensure_extension(self, values: dict[str, Any]) -> tuple[ReleaseStatus, bool]:
        return extension.install_or_upgrade(self.client, self.helm, self.operator_mode, values or None)

    def run_sync_job(self) -> str:
        """What the chart's sc-job hook runs after an install/upgrade; with no kubelet to run the Job, the same
        command runs here - once the ServiceConnection API answers, as the hook would run only after the release's
        CRD serves (right after its creation the API answers 404, then 503)."""
        if not kube_client.wait_for_api(self.client, timeout=self.api_timeout):
            raise SyncJobFailed("the ServiceConnection API did not become available after the install")
        argv = [sys.executable, "-m", "servicelinker", "operator", "sync", "--once", "--kubeconfig", self.kubeconfig,
                "--namespace", contract.SYSTEM_NAMESPACE]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            raise SyncJobFailed(f"sc-job failed: {last[0]}")
        return "sc-job sync succeeded."

    def operator_heartbeat(self) -> tuple[bool, str]:
        item = extension.heartbeat_item(self.client, contract.HEARTBEAT_SECONDS, self.operator_mode)
        return item.level != "Error", item.message

    def extension_status(self) -> ExtensionStatus:
        return extension.status(self.client, self.helm, self.cluster_id, self.operator_mode)

    # ---------------------------------------------------------------------------------------------- connections

    def apply_connection(self, resource: str, spec: ServiceConnectionSpec, credentials: dict[str, str]) -> int:
        return kconn.apply(self.client, resource, spec, credentials)

    def wait_ready(self, resource: str, timeout: float) -> Condition:
        return kube_client.wait_for_ready(self.client, resource, timeout=timeout)

    def connection(self, resource: str) -> dict[str, Any] | None:
        return kconn.get(self.client, resource)

    def set_deletion_policy(self, resource: str, policy: str) -> None:
        kconn.set_deletion_policy(self.client, resource, policy)

    def delete_connection(self, resource: str) -> bool:
        return kconn.delete(self.client, resource)

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        return kconn.read_secret(self.client, namespace, name)

    def secret_owner(self, namespace: str, name: str) -> str | None:
        return kconn.secret_owner(self.client, namespace, name)

    def expected_secret_data(self, resource: str) -> dict[str, str] | None:
        return kconn.expected_secret_data(self.client, resource)
