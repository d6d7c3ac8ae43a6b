"""Azure Storage for the dev stack: Azurite (blob, queue, table), installed from npm by scripts/install-services.sh.

Two Azurite processes share the well-known development account `devstoreaccount1`:
* plain HTTP on `azurite_blob/queue/table` — what connection strings (account key) use, as Azurite's docs do;
* HTTPS with `--oauth basic` on `azurite_https_*` — for Microsoft Entra (bearer token) access, which Azurite only
  accepts over HTTPS. It checks a token's issuer (`https://sts.windows.net/<tenant>/`), audience
  (`https://storage.azure.com`) and validity times but not its signature, so the local token service's tokens
  work. Its certificate comes from a CA of its own whose certificate is `https.caCert`.

Data lives on disk in the state directory (`--location`), so blobs survive a restart like in Azure.
Flags: `--disableTelemetry` (without it Azurite does not exit on SIGTERM), `--skipApiVersionCheck` (current SDKs
send API versions newer than Azurite knows).
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError
from azure.storage.blob import BlobServiceClient

from localcloud.devstack import process
from localcloud.devstack.base import Health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.devstack.pki import CertificateAuthority
from localcloud.devstack.postgres import stop_previous

NAME = "azurite"
HTTPS_NAME = "azurite-https"
ACCOUNT_NAME = "devstoreaccount1"
# Azurite's fixed development key, public in its documentation; not a secret.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT = 60.0


def install_dir(cfg: StackConfig) -> Path:
    return cfg.cache_dir / "azurite"


def _entrypoint(cfg: StackConfig) -> list[str]:
    """`node azurite.js`, with the node the installer chose (recorded in `node-path`), else the one on PATH."""
    script = install_dir(cfg) / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"
    if not script.exists():
        raise process.StartError(f"Azurite is not installed in {install_dir(cfg)}: run scripts/install-services.sh")
    node: str | None = None
    recorded = install_dir(cfg) / "node-path"
    if recorded.exists():
        candidate = recorded.read_text().strip()
        if Path(candidate).exists():
            node = candidate
    node = node or shutil.which("node")
    if node is None:
        raise process.StartError("Node.js not found for Azurite: run scripts/install-services.sh")
    return [node, str(script)]


def _endpoints(scheme: str, blob: int, queue: int, table: int) -> dict[str, str]:
    return {
        "blobEndpoint": f"{scheme}://{HOST}:{blob}/{ACCOUNT_NAME}",
        "queueEndpoint": f"{scheme}://{HOST}:{queue}/{ACCOUNT_NAME}",
        "tableEndpoint": f"{scheme}://{HOST}:{table}/{ACCOUNT_NAME}",
    }


def connection_string(scheme: str, endpoints: dict[str, str]) -> str:
    return (
        f"DefaultEndpointsProtocol={scheme};AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={endpoints['blobEndpoint']};QueueEndpoint={endpoints['queueEndpoint']};"
        f"TableEndpoint={endpoints['tableEndpoint']};"
    )


def _ports_open(ports: tuple[int, ...]) -> bool:
    for port in ports:
        with socket.create_connection((HOST, port), timeout=1):
            pass
    return True


def _wait_listening(rec: process.ProcessRecord, ports: tuple[int, ...]) -> None:
    """Azurite opens blob, queue and table one after the other; ready when all three accept connections."""
    process.wait_until(lambda: _ports_open(ports), START_TIMEOUT, rec.name, rec)


class AzuriteService:
    name = NAME

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        p = cfg.ports
        d = cfg.service_dir(NAME)
        entry = _entrypoint(cfg)
        ca = CertificateAuthority(d / "tls", common_name="servicelinker-devstack-azurite-ca")
        crt, key = ca.issue("server", HOST, dns_names=["localhost"], ip_addresses=[HOST], server=True)
        http_ports = (p.azurite_blob, p.azurite_queue, p.azurite_table)
        https_ports = (p.azurite_https_blob, p.azurite_https_queue, p.azurite_https_table)
        recs = [
            self._spawn(cfg, NAME, entry, http_ports, d / "data-http", []),
            self._spawn(
                cfg, HTTPS_NAME, entry, https_ports, d / "data-https",
                ["--oauth", "basic", "--cert", str(crt), "--key", str(key)],
            ),
        ]  # fmt: skip
        for rec, ports in zip(recs, (http_ports, https_ports), strict=True):
            _wait_listening(rec, ports)
        http = _endpoints("http", *http_ports)
        https = _endpoints("https", *https_ports)
        return {
            "accountName": ACCOUNT_NAME,
            "accountKey": ACCOUNT_KEY,
            **http,
            "connectionString": connection_string("http", http),
            "https": {
                **https,
                "caCert": str(ca.cert_path),
                "connectionString": connection_string("https", https),
                "oauth": True,
            },
            "version": _version(entry[1]),
            "env": {
                "AZURE_STORAGE_CONNECTION_STRING": connection_string("http", http),
                "AZURE_STORAGE_ACCOUNT": ACCOUNT_NAME,
            },
        }

    @staticmethod
    def _spawn(
        cfg: StackConfig, name: str, entry: list[str], ports: tuple[int, int, int], location: Path, extra: list[str]
    ) -> process.ProcessRecord:
        stop_previous(cfg, name)
        location.mkdir(parents=True, exist_ok=True)
        argv = [
            *entry,
            "--silent",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--location", str(location),
            "--blobHost", HOST, "--blobPort", str(ports[0]),
            "--queueHost", HOST, "--queuePort", str(ports[1]),
            "--tableHost", HOST, "--tablePort", str(ports[2]),
            *extra,
        ]  # fmt: skip
        return process.spawn(cfg.state_dir, name, argv, cwd=location)

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        """Lists containers with the account key on both instances (the HTTPS one verified against its CA)."""
        https = description["https"]
        try:
            _list_containers(description["blobEndpoint"], None)
            _list_containers(https["blobEndpoint"], https["caCert"])
        except (AzureError, OSError) as exc:
            return Health(name=NAME, healthy=False, detail=str(exc).splitlines()[0])
        return Health(
            name=NAME,
            healthy=True,
            detail=f"Azurite {description.get('version', '?')}: {description['blobEndpoint']}, {https['blobEndpoint']}",
        )


def _list_containers(endpoint: str, ca_cert: str | None) -> None:
    kwargs: dict[str, Any] = {"retry_total": 0, "connection_timeout": 3, "read_timeout": 5}
    if ca_cert:
        kwargs["connection_verify"] = ca_cert
    key = {"account_name": ACCOUNT_NAME, "account_key": ACCOUNT_KEY}
    with BlobServiceClient(endpoint, credential=key, **kwargs) as client:
        list(next(client.list_containers(results_per_page=1).by_page()))


def _version(script: str) -> str:
    """Azurite's version from its package.json (dist/src/azurite.js -> package root)."""
    pkg = Path(script).parents[2] / "package.json"
    try:
        return str(json.loads(pkg.read_text()).get("version", ""))
    except (OSError, ValueError):
        return ""


SERVICE = AzuriteService()
