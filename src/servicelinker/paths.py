"""Where servicelinker keeps state and caches; one place, read by the dev stack, the local cloud and the CLI."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """`SL_STATE_DIR`, else ~/.local/state/servicelinker/devstack (the dev stack, local cloud and store live here)."""
    env = os.environ.get("SL_STATE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "state" / "servicelinker" / "devstack"


def cache_dir() -> Path:
    """`SL_CACHE_DIR`, else ~/.cache/servicelinker (built binaries, npm packages)."""
    env = os.environ.get("SL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "servicelinker"


def inventory_file(base: Path | None = None) -> Path:
    return (base or state_dir()) / "local-cloud.json"
