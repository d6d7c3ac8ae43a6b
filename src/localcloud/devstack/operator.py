"""The sc-extension operator, run out of cluster against the dev stack's API server.

No kubelet runs on the dev stack, so the chart is installed with zero operator replicas and this process plays
the Deployment's part: the same `servicelinker operator run` the chart's pod runs, with the admin kubeconfig.
It waits for the ServiceConnection CRD, which appears when the first connection installs the extension.
"""

from __future__ import annotations

import sys
from typing import Any

from localcloud.devstack import process
from localcloud.devstack.base import Health
from localcloud.devstack.config import StackConfig
from servicelinker.kube import contract

PROCESS_NAME = "sc-operator"


class OperatorService:
    name = "operator"

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        argv = [
            sys.executable,
            "-m",
            "servicelinker",
            "operator",
            "run",
            "--kubeconfig",
            str(cfg.kubeconfig),
            "--namespace",
            contract.SYSTEM_NAMESPACE,
        ]
        rec = process.spawn(cfg.state_dir, PROCESS_NAME, argv, env={"PYTHONUNBUFFERED": "1"})
        # It is up when the process is still alive shortly after start; readiness (heartbeat) is reported by
        # `aks extension show`, because the operator idles until the CRD exists.
        process.wait_until(lambda: process.is_alive(rec), 5, "sc-operator", rec)
        return {"pid": rec.pid, "log": rec.log, "namespace": contract.SYSTEM_NAMESPACE}

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        rec = process.record(cfg.state_dir, PROCESS_NAME)
        if rec is None or not process.is_alive(rec):
            return Health(name=self.name, healthy=False, detail="sc-operator process is not running")
        return Health(name=self.name, healthy=True, detail=f"sc-operator pid {rec.pid} (out of cluster)")


SERVICE = OperatorService()
