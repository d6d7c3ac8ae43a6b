"""Helpers for driving a real `servicelinker serve` process (integration tests and bench/api_latency.py).

* `LocalIssuer`: an OpenID issuer of its own on 127.0.0.1 (discovery document + JWKS over plain HTTP, an RSA key
  made here) that mints ARM-style access tokens for any `oid`; and `IssuerCredential`, an azure-core
  TokenCredential over it, so the official SDK authenticates for real.
* `ApiServer`: `python -m servicelinker.cli.serve` as a child process (HTTPS with a certificate from a CA made in the
  state directory), waited for, and stopped by its pid.

Nothing here is used by the server itself.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ARM_AUDIENCE = "https://management.azure.com"
HOST = "127.0.0.1"


class LocalIssuer:
    """An OpenID issuer at `http://127.0.0.1:<port>/<tenant>` with one RSA signing key."""

    def __init__(self, port: int, tenant: str = "00000000-0000-0000-0000-000000000000") -> None:
        self.tenant = tenant
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "sl-test-key", "use": "sig", "alg": "RS256"})
        self.url = f"http://{HOST}:{port}/{tenant}"
        documents = {
            f"/{tenant}/.well-known/openid-configuration": {"issuer": self.url, "jwks_uri": f"{self.url}/keys",
                                                           "id_token_signing_alg_values_supported": ["RS256"]},
            f"/{tenant}/keys": {"keys": [jwk]},
        }  # fmt: skip

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                doc = documents.get(self.path.split("?")[0])
                payload = json.dumps(doc if doc is not None else {"error": "not_found"}).encode()
                self.send_response(200 if doc is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="sl-test-issuer", daemon=True)
        self._thread.start()

    def token(self, oid: str, *, audience: str = ARM_AUDIENCE, lifetime: int = 3600, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": audience, "oid": oid, "sub": oid, "tid": self.tenant, "iat": now,
                "nbf": now, "exp": now + lifetime, "upn": f"{oid}@local", **claims}  # fmt: skip
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": "sl-test-key"})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@dataclass
class IssuerCredential:
    """azure-core `TokenCredential`: tokens of a LocalIssuer for one principal (object id)."""

    issuer: LocalIssuer
    oid: str

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        audience = scopes[0].removesuffix("/.default") if scopes else ARM_AUDIENCE
        return AccessToken(self.issuer.token(self.oid, audience=audience), int(time.time()) + 3600)


class ApiServer:
    """`servicelinker serve` in a child process over HTTPS (or HTTP with `tls=False`)."""

    def __init__(
        self,
        state_dir: Path,
        port: int,
        *,
        issuer: str | None = None,
        insecure_dev: bool = False,
        tls: bool = True,
        workers: int = 2,
        extra_env: dict[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.state_dir = state_dir
        self.port = port
        self.log_path = state_dir / f"api-{port}.log"
        argv = [sys.executable, "-m", "servicelinker.cli.serve", "--host", HOST, "--port", str(port),
                "--workers", str(workers), *extra_args]  # fmt: skip
        self.ca_cert: str | None = None
        if tls:
            from localcloud.devstack.pki import CertificateAuthority

            ca = CertificateAuthority(state_dir / "api-tls", common_name="servicelinker-api-test-ca")
            cert, key = ca.issue("api", HOST, ip_addresses=[HOST], dns_names=["localhost"], server=True)
            argv += ["--cert", str(cert), "--key", str(key)]
            self.ca_cert = str(ca.cert_path)
        if insecure_dev:
            argv.append("--insecure-dev")
        elif issuer:
            argv += ["--issuer", issuer, "--audience", ARM_AUDIENCE]
        env = {**os.environ, "SL_STATE_DIR": str(state_dir), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.url = f"{'https' if tls else 'http'}://{HOST}:{port}"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            stdin=subprocess.DEVNULL)  # fmt: skip
        self._wait_ready()

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, **kwargs: Any) -> httpx.Client:
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=self.ca_cert) if self.ca_cert else False
        return httpx.Client(base_url=self.url, verify=verify, **kwargs)

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with self.client(timeout=2) as c:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"servicelinker serve exited ({self.process.returncode}):\n{self.log()}")
                try:
                    c.get("/providers/Microsoft.ServiceLinker/operations", params={"api-version": "2024-04-01"})
                    return
                except httpx.TransportError:
                    time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"servicelinker serve did not answer within {timeout:g}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-4000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 120.0) -> int | None:
        """SIGTERM (uvicorn drains, the runner finishes what it runs), then SIGKILL after `timeout`."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode
