"""The dev stack's Microsoft.ServiceLinker resource provider: `servicelinker serve` behind the local ARM endpoint.

ARM forwards `.../providers/Microsoft.ServiceLinker/...` to it (as Azure's ARM routes to a resource provider), so a
REST client, an Azure SDK or az reaches Service Connector at the one ARM URL of the cloud profile. It validates the
caller's token (the token service's) itself, acts with the developer's credential from the cloud profile, and keeps
its own store under `<state>/provider` (the CLI's in-process engine keeps its own, as two clients of one cloud).
"""

from __future__ import annotations

import sys
from typing import Any

import httpx

from localcloud.devstack import process, stack
from localcloud.devstack.base import Health, process_health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.inventory import LOCAL_TENANT

NAME = "provider"
START_TIMEOUT = 60.0
NAMESPACE = "Microsoft.ServiceLinker"


def url(cfg: StackConfig) -> str:
    return f"http://{HOST}:{cfg.ports.provider}"


def _healthy(base: str) -> str | None:
    try:
        resp = httpx.get(f"{base}/providers/Microsoft.ServiceLinker/operations?api-version=2024-04-01", timeout=2.0)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if resp.status_code in (200, 401) else f"operations answered {resp.status_code}"


class ProviderService:
    name = NAME

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        services = stack.load_description(cfg).get("services", {})
        tokens, arm = services["tokenservice"], services["arm"]
        store = cfg.service_dir(NAME)
        store.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "servicelinker", "serve", "--host", HOST, "--port", str(cfg.ports.provider),
                "--issuer", f"{tokens['authorityHost']}/{LOCAL_TENANT}/v2.0", "--issuer-ca", tokens["caCert"],
                "--public-url", arm["endpoint"], "--store-url", f"sqlite:///{store / 'store.db'}"]  # fmt: skip
        env = {"SL_STATE_DIR": str(cfg.state_dir), "PYTHONUNBUFFERED": "1"}
        rec = process.respawn(cfg.state_dir, NAME, argv, env=env)
        base = url(cfg)
        process.wait_until(lambda: _healthy(base) is None, START_TIMEOUT, "resource provider", rec)
        return {"url": base, "port": cfg.ports.provider, "namespace": NAMESPACE, "behind": arm["endpoint"]}

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        return process_health(cfg, NAME, lambda: _healthy(description["url"]), description["url"])


SERVICE = ProviderService()
