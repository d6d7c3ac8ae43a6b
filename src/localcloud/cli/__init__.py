"""The local cloud's command groups (`servicelinker devstack ...`, `servicelinker local ...`), joined to the
`servicelinker` command through the `servicelinker.commands` entry points.

`servicelinker local ...` is the local cloud's admin path: it edits the inventory the ARM endpoint serves (states
Azure would not let a user set, grants that must work when the caller holds no role). The product itself reaches
the local cloud only through ARM.
"""

from __future__ import annotations

import json

from localcloud.inventory import LOCAL_SUBSCRIPTION, Inventory, inventory_file
from servicelinker.cli import common


def inventory() -> Inventory:
    """The local cloud of this invocation's state directory."""
    return Inventory(inventory_file(common.settings().state_dir))


def developer_object_id() -> str:
    """The object id of the developer's service principal (what the CLI signs in as), from `devstack up`."""
    record = common.settings().state_dir / "developer.json"
    if not record.is_file():
        return ""
    return str(json.loads(record.read_text()).get("objectId", ""))


def subscription() -> str:
    return common.settings().subscription or LOCAL_SUBSCRIPTION


def cluster_id(resource_group: str | None, name: str | None, source: str | None) -> str:
    """A cluster's id from -g/-n (in the local subscription unless SL_SUBSCRIPTION says otherwise) or --source-id."""
    return common.source_id(None, resource_group, name, source, subscription=subscription())
