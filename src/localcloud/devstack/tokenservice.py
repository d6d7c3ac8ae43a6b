"""The dev stack's Microsoft Entra ID: the local token service (`localcloud.entra.app`) over
HTTPS, so workloads exchange service-account tokens for Entra-style access tokens exactly as on AKS.

* TLS: a CA of its own in `<state>/tokenservice/tls` (kept, so clients that trust `caCert` keep working across
  restarts), serving certificate for 127.0.0.1 and localhost.
* Signing key: `<state>/tokenservice/signing.key`, RSA, created once and kept, so tokens issued before a restart
  still verify against the JWKS after it.
* FIC issuers: the cluster's OIDC issuer is the kube-apiserver, whose certificate comes from the kube service's CA;
  that CA is passed as `--issuer-ca` when the kube service has been described in stack.json.
* The directory is the local cloud's inventory (`cfg.inventory`), re-read by the server whenever it changes.

Clients: `AZURE_AUTHORITY_HOST=<authorityHost>` and a CA bundle that includes `caCert` (azure-identity's requests
transport reads `REQUESTS_CA_BUNDLE`). `ClientSecretCredential` and other MSAL-based credentials also need
`disable_instance_discovery=True`: MSAL validates unknown authority hosts against login.microsoftonline.com,
which a loopback-only machine cannot reach (the same applies to Azure Stack). WorkloadIdentityCredential does not
use MSAL and needs nothing else.
"""

from __future__ import annotations

import ssl
import sys
from pathlib import Path
from typing import Any

import httpx

from localcloud.devstack import process, stack
from localcloud.devstack.base import Health, process_health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.devstack.pki import CertificateAuthority, ensure_rsa_keypair
from localcloud.inventory import LOCAL_TENANT

NAME = "tokenservice"
START_TIMEOUT = 30.0


def authority_host(cfg: StackConfig) -> str:
    return f"https://{HOST}:{cfg.ports.token_service}"


def discovery_url(authority: str, tenant: str = LOCAL_TENANT) -> str:
    return f"{authority}/{tenant}/v2.0/.well-known/openid-configuration"


def _issuer_cas(cfg: StackConfig) -> list[str]:
    """CA files trusted for FIC issuers: the kube-apiserver's, when the kube service is described."""
    kube = stack.load_description(cfg).get("services", {}).get("kube", {})
    ca = kube.get("caCert")
    return [ca] if ca and Path(ca).exists() else []


def argv(cfg: StackConfig, cert: Path, key: Path, signing_key: Path, issuer_cas: list[str]) -> list[str]:
    extra = [arg for ca in issuer_cas for arg in ("--issuer-ca", ca)]
    return [
        sys.executable, "-m", "localcloud.entra.app",
        "--host", HOST, "--port", str(cfg.ports.token_service),
        "--cert", str(cert), "--key", str(key),
        "--inventory", str(cfg.inventory),
        "--signing-key", str(signing_key),
        *extra,
    ]  # fmt: skip


def _healthy(ca_cert: str, authority: str) -> str | None:
    """None when the v2 discovery document answers over verified TLS and names its token endpoint, else why not."""
    try:
        resp = httpx.get(discovery_url(authority), verify=ssl.create_default_context(cafile=ca_cert), timeout=2.0)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if resp.status_code != 200:
        return f"openid-configuration answered {resp.status_code}"
    if not str(resp.json().get("token_endpoint", "")).startswith(authority):
        return "openid-configuration names another token endpoint"
    return None


class TokenServiceService:
    name = NAME

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        """Stop a leftover server of ours, (re)use TLS files and signing key, spawn, wait for discovery."""
        d = cfg.service_dir(NAME)
        ca = CertificateAuthority(d / "tls", common_name="servicelinker-devstack-tokenservice-ca")
        cert, key = ca.issue("server", HOST, dns_names=["localhost"], ip_addresses=[HOST], server=True)
        signing_key, signing_pub = d / "signing.key", d / "signing.pub"
        ensure_rsa_keypair(signing_key, signing_pub)
        issuer_cas = _issuer_cas(cfg)
        rec = process.respawn(cfg.state_dir, NAME, argv(cfg, cert, key, signing_key, issuer_cas))
        authority = authority_host(cfg)
        process.wait_until(lambda: _healthy(str(ca.cert_path), authority) is None, START_TIMEOUT, "token service", rec)
        return describe(cfg, ca.cert_path, issuer_cas)

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        return process_health(cfg, NAME, lambda: _healthy(description["caCert"], description["authorityHost"]),
                              description["authorityHost"])


def describe(cfg: StackConfig, ca_cert: Path, issuer_cas: list[str]) -> dict[str, Any]:
    authority = authority_host(cfg)
    tenant = f"{authority}/{LOCAL_TENANT}"
    return {
        "authorityHost": authority,
        "tenantId": LOCAL_TENANT,
        "port": cfg.ports.token_service,
        "caCert": str(ca_cert),
        "tokenEndpoint": f"{tenant}/oauth2/v2.0/token",
        "openidConfiguration": discovery_url(authority),
        "jwksUri": f"{tenant}/discovery/v2.0/keys",
        "issuer": f"https://sts.windows.net/{LOCAL_TENANT}/",
        "issuerCas": issuer_cas,
        "inventory": str(cfg.inventory),
        "env": {"AZURE_AUTHORITY_HOST": authority, "SL_TOKEN_SERVICE_CA": str(ca_cert)},
    }


SERVICE = TokenServiceService()
