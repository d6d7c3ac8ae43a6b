"""The real `helm` binary, run as a subprocess: install/upgrade, status and uninstall of a release.

Helm's own messages are kept verbatim in `HelmError.message` (Azure surfaces Helm's text too); values are passed
in a file, never on the command line, so they never show up in `ps` or in error text.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel


class HelmError(RuntimeError):
    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"helm {action} failed: {message}")
        self.action = action
        self.message = message


class ReleaseStatus(BaseModel):
    name: str
    namespace: str
    revision: int
    status: str  # deployed, failed, pending-install, pending-upgrade, ...
    chart_version: str
    app_version: str
    description: str = ""
    last_deployed: str = ""


def helm_binary(explicit: Path | None = None, bin_dir: Path | None = None) -> str:
    """`explicit` (SL_HELM), else the binaries cache (`bin_dir`, where scripts/setup builds one), else helm on
    PATH."""
    if explicit:
        return str(explicit)
    cached = bin_dir / "helm" if bin_dir else None
    if cached is not None and cached.exists():
        return str(cached)
    found = shutil.which("helm")
    if not found:
        raise HelmError("lookup", "helm not found: install Helm 3 or run scripts/setup (it builds one into the cache)")
    return found


class Helm:
    def __init__(self, kubeconfig: str, binary: str) -> None:
        self.kubeconfig = kubeconfig
        self.binary = binary

    def _run(self, action: str, *args: str, timeout: float = 600) -> str:
        with tempfile.TemporaryDirectory(prefix="sl-helm-") as home:
            env = {
                **os.environ,
                "KUBECONFIG": self.kubeconfig,
                "HELM_CACHE_HOME": f"{home}/cache",
                "HELM_CONFIG_HOME": f"{home}/config",
                "HELM_DATA_HOME": f"{home}/data",
            }
            try:
                proc = subprocess.run(
                    [self.binary, action, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise HelmError(action, f"timed out after {timeout:.0f}s") from exc
        if proc.returncode != 0:
            raise HelmError(action, (proc.stderr or proc.stdout).strip().removeprefix("Error: "))
        return proc.stdout

    def status(self, release: str, namespace: str) -> ReleaseStatus | None:
        """The release as `helm list` reports it (chart version included, any state), plus `helm status`'s
        description (which names the reason of a failed release)."""
        listed = json.loads(self._run("list", "-n", namespace, "-a", "--filter", f"^{release}$", "-o", "json"))
        if not listed:
            return None
        item = listed[0]
        chart = str(item.get("chart", ""))
        description = ""
        with contextlib.suppress(HelmError):
            description = json.loads(self._run("status", release, "-n", namespace, "-o", "json"))["info"].get(
                "description", ""
            )
        return ReleaseStatus(
            name=item["name"],
            namespace=item.get("namespace", namespace),
            revision=int(item.get("revision", 0)),
            status=item.get("status", "unknown"),
            chart_version=chart.rsplit("-", 1)[-1] if "-" in chart else chart,
            app_version=str(item.get("app_version", "")),
            description=description,
            last_deployed=str(item.get("updated", "")),
        )

    def upgrade_install(
        self,
        release: str,
        chart: str,
        namespace: str,
        values: dict[str, Any],
        *,
        wait: bool = False,
        timeout_seconds: int = 300,
    ) -> ReleaseStatus:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="sl-values-") as vf:
            vf.write(yaml.safe_dump(values))
            vf.flush()
            args = [release, chart, "-n", namespace, "--create-namespace", "--install", "-f", vf.name]
            args += ["--timeout", f"{timeout_seconds}s", "--history-max", "5"]
            if wait:
                args += ["--wait", "--wait-for-jobs"]
            self._run("upgrade", *args, timeout=timeout_seconds + 60)
        status = self.status(release, namespace)
        if status is None:
            raise HelmError("upgrade", f"release {release} not found after install")
        return status

    def uninstall(self, release: str, namespace: str) -> bool:
        try:
            self._run("uninstall", release, "-n", namespace, "--wait")
        except HelmError as exc:
            if "not found" in exc.message:
                return False
            raise
        return True
