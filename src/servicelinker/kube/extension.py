"""sc-extension: install/upgrade the chart with Helm, and report its health as `az k8s-extension show` does.

Health has three parts, each a `statuses` entry: the Helm release, the operator's heartbeat (a Lease it renews),
and the result of the last sc-job sync (a ConfigMap). A release that is deployed but whose operator is silent is
reported unhealthy, with what to do - the diagnostics Azure's extension lacks (reference §7, item 4).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Secret
from pydantic import BaseModel, Field

from servicelinker.kube import contract
from servicelinker.kube.helm import Helm, ReleaseStatus

EXTENSION_TYPE = "servicelinker.scextension"
Level = Literal["Information", "Warning", "Error"]
#: How the operator runs: in a pod (a real cluster) or as a local process (the dev stack has no kubelet).
OperatorMode = Literal["in-cluster", "external"]


class ExtensionStatusItem(BaseModel):
    code: str
    display_status: str = Field(alias="displayStatus")
    level: Level
    message: str
    time: str | None = None

    model_config = {"populate_by_name": True}


class ExtensionStatus(BaseModel):
    """The `az k8s-extension show` shape (camelCase on output)."""

    id: str
    name: str = contract.EXTENSION_NAME
    type: str = "Microsoft.KubernetesConfiguration/extensions"
    extension_type: str = Field(default=EXTENSION_TYPE, alias="extensionType")
    version: str | None = None
    release_train: str = Field(default="stable", alias="releaseTrain")
    release_namespace: str = Field(default=contract.SYSTEM_NAMESPACE, alias="releaseNamespace")
    operator_mode: OperatorMode = Field(default="in-cluster", alias="operatorMode")
    provisioning_state: str = Field(alias="provisioningState")
    healthy: bool
    statuses: list[ExtensionStatusItem]

    model_config = {"populate_by_name": True}

    def to_output(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def chart_path() -> str:
    """The chart shipped inside the package (wheel), or the repository's charts/ in a source checkout."""
    packaged = resources.files("servicelinker") / "charts" / "sc-extension"
    if packaged.is_dir():
        return str(packaged)
    repo = Path(__file__).resolve().parents[3] / "charts" / "sc-extension"
    return str(repo)


def chart_version() -> str:
    for line in (Path(chart_path()) / "Chart.yaml").read_text().splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip().strip('"')
    return "unknown"


def values_for(mode: OperatorMode, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if mode == "external":
        # No kubelet: the Deployment would never run and a hook Job would never finish; the same operator
        # code runs as a local process instead, and the engine runs the sc-job sync in-process.
        values = {"operator": {"replicas": 0}, "job": {"enabled": False}}
    for key, value in (overrides or {}).items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return values


def deployed_release(client: Client, release: str = contract.EXTENSION_NAME) -> ReleaseStatus | None:
    """The release's latest revision read straight from Helm's storage Secret (one API call instead of two helm
    processes; Helm stores each revision as a gzipped, base64 JSON document in `sh.helm.release.v1.<name>.v<n>`)."""
    secrets = list(client.list(Secret, namespace=contract.SYSTEM_NAMESPACE, labels={"owner": "helm", "name": release}))
    if not secrets:
        return None
    latest = max(secrets, key=lambda s: int(((s.metadata and s.metadata.labels) or {}).get("version", "0")))
    payload = json.loads(gzip.decompress(base64.b64decode(base64.b64decode((latest.data or {})["release"]))))
    info, meta = payload.get("info", {}), payload.get("chart", {}).get("metadata", {})
    return ReleaseStatus(
        name=payload.get("name", release),
        namespace=payload.get("namespace", contract.SYSTEM_NAMESPACE),
        revision=int(payload.get("version", 0)),
        status=info.get("status", "unknown"),
        chart_version=meta.get("version", ""),
        app_version=meta.get("appVersion", ""),
        description=info.get("description", ""),
        last_deployed=info.get("last_deployed", ""),
    )


def install_or_upgrade(
    client: Client,
    helm: Helm,
    mode: OperatorMode,
    overrides: dict[str, Any] | None = None,
    timeout_seconds: int = 300,
) -> tuple[ReleaseStatus, bool]:
    """Install the extension if absent or older than ours; returns the release and whether Helm ran."""
    wanted = chart_version()
    current = deployed_release(client)
    if current is not None and current.status == "deployed" and current.chart_version == wanted and not overrides:
        return current, False
    current = helm.status(contract.EXTENSION_NAME, contract.SYSTEM_NAMESPACE)
    if current is not None and current.status == "deployed" and current.chart_version == wanted and not overrides:
        return current, False
    status = helm.upgrade_install(
        contract.EXTENSION_NAME,
        chart_path(),
        contract.SYSTEM_NAMESPACE,
        values_for(mode, overrides),
        wait=mode == "in-cluster",
        timeout_seconds=timeout_seconds,
    )
    return status, True


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def heartbeat_item(client: Client, heartbeat_seconds: int, mode: OperatorMode) -> ExtensionStatusItem:
    remedy = (
        "Run `servicelinker devstack up` (it runs the operator out of cluster) or `servicelinker operator run "
        "--kubeconfig <file>`."
        if mode == "external"
        else "Check `kubectl -n sc-system get pods,events`: an image pull failure, a CriticalAddonsOnly taint or a "
        "crash keeps the operator from running."
    )
    try:
        lease = client.get(Lease, contract.HEARTBEAT_LEASE, namespace=contract.SYSTEM_NAMESPACE)
    except ApiError as exc:
        if exc.status.code == 404:
            return ExtensionStatusItem(
                code="OperatorHeartbeat",
                display_status="Unhealthy",
                level="Error",
                message=f"The sc-extension operator has never sent a heartbeat. {remedy}",
            )
        raise
    renewed = lease.spec.renewTime if lease.spec else None
    age = float("inf") if renewed is None else (_now() - renewed).total_seconds()
    limit = 3 * heartbeat_seconds
    holder = lease.spec.holderIdentity if lease.spec else None
    if age > limit:
        return ExtensionStatusItem(
            code="OperatorHeartbeat",
            display_status="Unhealthy",
            level="Error",
            message=f"The sc-extension operator has sent no heartbeat for {age:.0f}s (limit {limit}s). {remedy}",
            time=renewed.isoformat() if renewed else None,
        )
    return ExtensionStatusItem(
        code="OperatorHeartbeat",
        display_status="Healthy",
        level="Information",
        message=f"Operator {holder} renewed its heartbeat {age:.0f}s ago.",
        time=renewed.isoformat() if renewed else None,
    )


def _sync_item(client: Client) -> ExtensionStatusItem:
    try:
        cm = client.get(ConfigMap, contract.SYNC_STATUS_CONFIGMAP, namespace=contract.SYSTEM_NAMESPACE)
    except ApiError as exc:
        if exc.status.code == 404:
            return ExtensionStatusItem(
                code="LastSync", display_status="NotRun", level="Information", message="sc-job has not run yet."
            )
        raise
    data = cm.data or {}
    report: dict[str, Any] = json.loads(data.get("report", "{}"))
    failed = int(report.get("failed", 0))
    total = int(report.get("total", 0))
    when = report.get("time")
    if failed:
        names = ", ".join(f.get("name", "?") for f in report.get("failures", []))
        return ExtensionStatusItem(
            code="LastSync",
            display_status="Failed",
            level="Error",
            message=f"sc-job synced {total - failed} of {total} connections; failed: {names}. "
            "See `kubectl -n sc-system get serviceconnections` for each one's Ready reason.",
            time=when,
        )
    return ExtensionStatusItem(
        code="LastSync",
        display_status="Succeeded",
        level="Information",
        message=f"sc-job synced {total} connections.",
        time=when,
    )


def status(
    client: Client,
    helm: Helm,
    cluster_id: str,
    mode: OperatorMode,
    heartbeat_seconds: int = contract.HEARTBEAT_SECONDS,
) -> ExtensionStatus:
    ext_id = f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/{contract.EXTENSION_NAME}"
    release = helm.status(contract.EXTENSION_NAME, contract.SYSTEM_NAMESPACE)
    if release is None:
        return ExtensionStatus(
            id=ext_id,
            operator_mode=mode,
            provisioning_state="NotInstalled",
            healthy=False,
            statuses=[
                ExtensionStatusItem(
                    code="HelmRelease",
                    display_status="NotInstalled",
                    level="Warning",
                    message="sc-extension is not installed; the first `aks connection create` installs it.",
                )
            ],
        )
    deployed = release.status == "deployed"
    items = [
        ExtensionStatusItem(
            code="HelmRelease",
            display_status=release.status,
            level="Information" if deployed else "Error",
            message=f"Helm release {release.name} revision {release.revision} (chart {release.chart_version}): "
            f"{release.description}",
            time=release.last_deployed or None,
        )
    ]
    items.append(heartbeat_item(client, heartbeat_seconds, mode))
    items.append(_sync_item(client))
    healthy = all(i.level != "Error" for i in items)
    return ExtensionStatus(
        id=ext_id,
        version=release.chart_version,
        operator_mode=mode,
        provisioning_state="Succeeded" if deployed else "Failed",
        healthy=healthy,
        statuses=items,
    )
