"""The dev stack's Azure Resource Manager: the local ARM endpoint (`localcloud.arm.app`) over HTTPS.

* TLS: a CA of its own in `<state>/arm/tls`, kept across restarts (a client trusting it keeps working).
* Tokens: the token service's, checked against its JWKS over verified TLS.
* The resources are the inventory's (`cfg.inventory`), read on every request, so what the CLI's admin path
  (`servicelinker local ...`) changes is what the next request sees.

Clients (the product's Azure adapter, the SDKs, az) find it through `<state>/cloud-profile.json`, written by the
`localcloud` registration step with the CA bundle of both servers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from localcloud.devstack import process, stack
from localcloud.devstack.base import Health, https_problem, process_health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.devstack.pki import CertificateAuthority
from localcloud.inventory import LOCAL_TENANT

NAME = "arm"
START_TIMEOUT = 30.0


def endpoint(cfg: StackConfig) -> str:
    return f"https://{HOST}:{cfg.ports.arm}"


def _token_service(cfg: StackConfig) -> dict[str, Any]:
    found: dict[str, Any] = stack.load_description(cfg).get("services", {}).get("tokenservice", {})
    if not found:
        raise RuntimeError("the ARM endpoint needs the token service: run `servicelinker devstack up` (all services)")
    return found


def argv(cfg: StackConfig, cert: Path, key: Path, tokens: dict[str, Any]) -> list[str]:
    return [
        sys.executable, "-m", "localcloud.arm.app",
        "--host", HOST, "--port", str(cfg.ports.arm), "--cert", str(cert), "--key", str(key),
        "--inventory", str(cfg.inventory),
        "--issuer", f"{tokens['authorityHost']}/{LOCAL_TENANT}/v2.0", "--issuer-ca", tokens["caCert"],
        "--authority", tokens["authorityHost"],
        *(["--record", str(cfg.arm_record)] if cfg.arm_record else []),
        # ARM routes the resource provider's namespace to `servicelinker serve` (devstack/provider.py)
        "--provider", f"Microsoft.ServiceLinker=http://{HOST}:{cfg.ports.provider}",
    ]  # fmt: skip


def _healthy(ca_cert: str, url: str) -> str | None:
    """None when the metadata document answers over verified TLS, else why not."""
    return https_problem(f"{url}/metadata/endpoints?api-version=2022-09-01", ca_cert, "metadata/endpoints")


class ArmService:
    name = NAME

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        tokens = _token_service(cfg)
        ca = CertificateAuthority(cfg.service_dir(NAME) / "tls", common_name="servicelinker-devstack-arm-ca")
        cert, key = ca.issue("server", HOST, dns_names=["localhost"], ip_addresses=[HOST], server=True)
        rec = process.respawn(cfg.state_dir, NAME, argv(cfg, cert, key, tokens))
        url = endpoint(cfg)
        process.wait_until(lambda: _healthy(str(ca.cert_path), url) is None, START_TIMEOUT, "ARM endpoint", rec)
        return {"endpoint": url, "port": cfg.ports.arm, "caCert": str(ca.cert_path),
                "env": {"SL_ARM_ENDPOINT": url}}  # fmt: skip

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        return process_health(cfg, NAME, lambda: _healthy(description["caCert"], description["endpoint"]),
                              description["endpoint"])


SERVICE = ArmService()
