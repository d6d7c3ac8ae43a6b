"""Create, validate and delete a connection on a real AKS cluster and storage account through the Azure adapter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from servicelinker.model.ids import ResourceId

pytestmark = pytest.mark.live


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SL_CLOUD": "azure"}
    return subprocess.run([sys.executable, "-m", "servicelinker", *args], capture_output=True, text=True, env=env,
                          timeout=900, check=False)  # fmt: skip


def test_create_validate_delete_on_real_azure() -> None:
    cluster = ResourceId.parse(os.environ["SL_LIVE_AZURE_CLUSTER"])
    storage = os.environ["SL_LIVE_AZURE_STORAGE"]
    name = f"smoke_{uuid.uuid4().hex[:6]}"
    base = ["--source-id", str(cluster)]
    created = _cli("aks", "connection", "create", "storage-blob", *base, "--target-id",
                   f"{storage}/blobServices/default", "--secret", "--client-type", "python", "--connection", name)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["properties"]["provisioningState"] == "Succeeded"
    try:
        validated = _cli("aks", "connection", "validate", "--id", f"{cluster}/providers/Microsoft.ServiceLinker/"
                         f"linkers/{name}")
        assert validated.returncode == 0, validated.stderr
        assert all(i["result"] in ("success", "warning") for i in json.loads(validated.stdout))
    finally:
        deleted = _cli("aks", "connection", "delete", "--id", f"{cluster}/providers/Microsoft.ServiceLinker/linkers/"
                       f"{name}", "--yes", "--cleanup")
        assert deleted.returncode == 0, deleted.stderr
