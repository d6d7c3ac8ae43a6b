"""The shape every dev-stack service has: start (returning its description), health, and its process names."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, Protocol

import httpx
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


def https_problem(url: str, ca_cert: str, what: str) -> str | None:
    """None when `url` answers 200 over TLS verified with `ca_cert`, else why not (`what` names the document)."""
    try:
        resp = httpx.get(url, verify=ssl.create_default_context(cafile=ca_cert), timeout=2.0)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if resp.status_code == 200 else f"{what} answered {resp.status_code}"
