"""The dev stack's Azure Key Vault: our secrets data-plane server (`localcloud.keyvault`)
over HTTPS with a certificate from a small CA kept in the state directory.

Why our own server: Lowkey Vault's app jar is not served by Maven Central, and no registry offers another Key Vault
emulator; the server speaks Key Vault's documented wire format so the official SDK works against it unchanged.

Vault URLs and name resolution: Lowkey Vault-style `https://<vault>.localhost:<port>/` URLs need `*.localhost` to
resolve, which glibc does not do on Debian 12 without nss-myhostname/systemd-resolved (`getent hosts
slvault.localhost` fails here). So every vault gets its own loopback listener and an IP URL:
`slvault` (the default) on `cfg.ports.keyvault`, `slvault2` on `cfg.ports.keyvault_secondary`.
The server still selects a vault by a `<vault>.localhost` Host header where that name does resolve, and the
certificate covers `127.0.0.1`, `localhost` and `*.localhost`.

SDK clients need `connection_verify=<caCert>` and `verify_challenge_resource=False` (the challenge names
`https://vault.azure.net`, which the 127.0.0.1 URLs are not under), exactly as with Lowkey Vault.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localcloud.devstack import process
from localcloud.devstack.base import Health, https_problem, process_health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.keyvault.protocol import DEFAULT_AUTHORITY, LOCAL_TENANT

NAME = "keyvault"
DEFAULT_VAULT = "slvault"
SECOND_VAULT = "slvault2"
START_TIMEOUT = 30.0
CERT_VALIDITY = dt.timedelta(days=825)
RENEW_BEFORE = dt.timedelta(days=30)
SERVER_SANS: tuple[x509.GeneralName, ...] = (
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.DNSName("localhost"),
    x509.DNSName("*.localhost"),
)


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    cert: Path
    key: Path


def vault_ports(cfg: StackConfig) -> dict[str, int]:
    return {DEFAULT_VAULT: cfg.ports.keyvault, SECOND_VAULT: cfg.ports.keyvault_secondary}


def vault_urls(cfg: StackConfig) -> dict[str, str]:
    return {name: f"https://{HOST}:{port}/" for name, port in vault_ports(cfg).items()}


# ------------------------------------------------------------------------------------------------- TLS


def _write_private(path: Path, data: bytes) -> None:
    """Write key material readable by the owner only, from the first byte (no chmod race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ensure_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA is created once and kept, so clients that trust `ca.crt` keep working across restarts."""
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc - RENEW_BEFORE > _now():
            return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("servicelinker dev Key Vault CA"))
        .issuer_name(_name("servicelinker dev Key Vault CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "server.crt").unlink(missing_ok=True)  # issued by the old CA
    return cert, key


def _server_cert_current(cert_path: Path, key_path: Path, ca: x509.Certificate) -> bool:
    if not (cert_path.exists() and key_path.exists()):
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        cert.issuer == ca.subject
        and cert.not_valid_after_utc - RENEW_BEFORE > _now()
        and all(name in sans for name in SERVER_SANS)
    )


def ensure_tls(directory: Path) -> TlsFiles:
    """CA plus a server certificate for 127.0.0.1, localhost and *.localhost; reused while still valid."""
    ca, ca_key = _ensure_ca(directory)
    files = TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    if _server_cert_current(files.cert, files.key, ca):
        return files
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("servicelinker dev Key Vault"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(list(SERVER_SANS)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(files.key, _key_pem(key))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------------------------- service


def argv(cfg: StackConfig, tls: TlsFiles) -> list[str]:
    """The server's command line: dev-mode tokens, both vaults, state persisted in the service directory."""
    ports = vault_ports(cfg)
    return [
        sys.executable,
        "-m",
        "localcloud.keyvault.app",
        "--host",
        HOST,
        "--port",
        str(ports[DEFAULT_VAULT]),
        "--vault-port",
        f"{SECOND_VAULT}={ports[SECOND_VAULT]}",
        "--vaults",
        f"{DEFAULT_VAULT},{SECOND_VAULT}",
        "--cert",
        str(tls.cert),
        "--key",
        str(tls.key),
        "--state-file",
        str(state_file(cfg)),
        "--authority",
        DEFAULT_AUTHORITY,
    ]


def state_file(cfg: StackConfig) -> Path:
    return cfg.service_dir(NAME) / "secrets.json"


def _healthy(ca_cert: str, urls: dict[str, str]) -> str | None:
    """None when every vault listener answers `/healthz` over verified TLS, else what failed."""
    for name, url in urls.items():
        problem = https_problem(url + "healthz", ca_cert, "/healthz")
        if problem:
            return f"{name}: {problem}"
    return None


class KeyVaultService:
    name = NAME

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        """Stop a leftover server of ours, (re)use the TLS files, spawn the server and wait for both listeners."""
        tls = ensure_tls(cfg.service_dir(NAME) / "tls")
        rec = process.respawn(cfg.state_dir, NAME, argv(cfg, tls))
        urls = vault_urls(cfg)
        process.wait_until(lambda: _healthy(str(tls.ca_cert), urls) is None, START_TIMEOUT, "Key Vault server", rec)
        return describe(cfg, tls)

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        return process_health(cfg, NAME, lambda: _healthy(description["caCert"], description["vaults"]),
                              description["vaultUrl"])


def describe(cfg: StackConfig, tls: TlsFiles) -> dict[str, Any]:
    urls = vault_urls(cfg)
    return {
        "vaultUrl": urls[DEFAULT_VAULT],
        "vaults": urls,
        "port": cfg.ports.keyvault,
        "caCert": str(tls.ca_cert),
        "tenantId": LOCAL_TENANT,
        "authority": DEFAULT_AUTHORITY,
        "audience": "https://vault.azure.net",
        "authMode": "dev (unsigned tokens accepted; aud and exp checked)",
        "stateFile": str(state_file(cfg)),
        "sdkOptions": {"verify_challenge_resource": False, "connection_verify": str(tls.ca_cert)},
        "env": {
            "SL_KEYVAULT_URL": urls[DEFAULT_VAULT],
            "SL_KEYVAULT2_URL": urls[SECOND_VAULT],
            "SL_KEYVAULT_CA": str(tls.ca_cert),
            "SL_KEYVAULT_TENANT_ID": LOCAL_TENANT,
        },
    }


SERVICE = KeyVaultService()
