"""The local cloud's command groups (`servicelinker devstack ...`, `servicelinker local ...`), joined to the
`servicelinker` command through the `servicelinker.commands` entry points."""

from __future__ import annotations

from localcloud.adapter import LocalCloud
from localcloud.inventory import LOCAL_SUBSCRIPTION
from servicelinker.cli import common
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import validate_source_id


def cloud() -> LocalCloud:
    """The local cloud of this invocation's state directory."""
    return LocalCloud(common.settings())


def subscription() -> str:
    return common.settings().subscription or LOCAL_SUBSCRIPTION


def cluster_id(resource_group: str | None, name: str | None, source: str | None) -> str:
    if source:
        return validate_source_id(source)
    if not resource_group or not name:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "Required arguments are missing: either --source-id or both --resource-group and --name.",
            target="--resource-group",
            remedy="Pass -g <resource group> -n <cluster name>, or --source-id <cluster id>.",
        )
    return (f"/subscriptions/{subscription()}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.ContainerService/managedClusters/{name}")  # fmt: skip
