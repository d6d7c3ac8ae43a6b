"""The shape every dev-stack service has: start (returning its description), health, and its process names."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

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
