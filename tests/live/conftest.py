"""The live-Azure smoke suite: collected only when a real subscription is configured (docs/azure.md), so a machine
without Azure credentials neither runs nor skips it.

    SL_LIVE_AZURE_CLUSTER=<AKS cluster resource id>
    SL_LIVE_AZURE_STORAGE=<storage account resource id>    # a target the smoke test connects to
    (credentials: anything DefaultAzureCredential finds, e.g. `az login`)
"""

from __future__ import annotations

import os

REQUIRED = ("SL_LIVE_AZURE_CLUSTER", "SL_LIVE_AZURE_STORAGE")

if not all(os.environ.get(name) for name in REQUIRED):
    collect_ignore_glob = ["test_*.py"]
