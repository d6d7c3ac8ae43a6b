"""Cloud adapters: implementations of the Cloud port (base.py), chosen by configuration (`SL_CLOUD`), not by code.

An adapter is registered as a `servicelinker.clouds` entry point naming a class whose constructor takes the
caller's principal id (or None for the server's own work). The product imports no adapter module itself.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from servicelinker.model.errors import ArmError, ErrorCode

if TYPE_CHECKING:
    from servicelinker.clouds.base import Cloud

GROUP = "servicelinker.clouds"


def available() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load(name: str, **options: Any) -> Cloud:
    """The adapter registered as `name`, constructed with `options`."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"No cloud adapter named '{name}' is installed.",
            target="SL_CLOUD",
            remedy=f"Set SL_CLOUD to one of: {', '.join(available()) or '(none installed)'}.",
        )
    factory = found[0].load()
    cloud: Cloud = factory(**options)
    return cloud
