"""The local cloud's command groups (`servicelinker devstack ...`, `servicelinker local ...`), joined to the
`servicelinker` command through the `servicelinker.commands` entry points."""

from __future__ import annotations

from localcloud.adapter import LocalCloud
from localcloud.inventory import LOCAL_SUBSCRIPTION
from servicelinker.cli import common


def cloud() -> LocalCloud:
    """The local cloud of this invocation's state directory."""
    return LocalCloud(common.settings())


def subscription() -> str:
    return common.settings().subscription or LOCAL_SUBSCRIPTION


def cluster_id(resource_group: str | None, name: str | None, source: str | None) -> str:
    """A cluster's id from -g/-n (in the local subscription unless SL_SUBSCRIPTION says otherwise) or --source-id."""
    return common.source_id(None, resource_group, name, source, subscription=subscription())
