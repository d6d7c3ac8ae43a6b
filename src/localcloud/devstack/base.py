"""The shape every dev-stack service has: start (returning its description), health, and its process names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel

from localcloud.devstack import process
from localcloud.devstack.config import StackConfig


class Health(BaseModel):
    name: str
    healthy: bool
    detail: str = ""


class Service(Protocol):
    """A server of the dev stack. `start` must be idempotent-safe after `down` and return a JSON-able description
    (endpoints, credentials, file paths) that goes into stack.json under `name`."""

    name: str

    def start(self, cfg: StackConfig) -> dict[str, Any]: ...

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health: ...


def process_health(cfg: StackConfig, name: str, problem: Callable[[], str | None], detail: str) -> Health:
    """A server's health: its recorded process alive, then `problem()` (None: it answers as it should)."""
    rec = process.record(cfg.state_dir, name)
    if rec is None or not process.is_alive(rec):
        return Health(name=name, healthy=False, detail="process not running")
    found = problem()
    return Health(name=name, healthy=found is None, detail=found or detail)
