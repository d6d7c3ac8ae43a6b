"""Token exchange benchmark: the local token service's workload-identity exchange against its irreducible work.

What is measured, all in one run on this machine:
* bare:       verify one RS256 JWT (the service-account token) + sign one RS256 JWT (the access token), in process
              with PyJWT — the cryptography every exchange must do;
* in-process: `TokenService.exchange` called directly (form parsing, directory lookup, FIC match, role gate, the
              two RS256 operations), no HTTP;
* HTTP:       POST /{tenant}/oauth2/v2.0/token over HTTPS on loopback from a keep-alive client (p50, p90), and
              tokens per second at several client concurrencies;
* floor:      GET of the JWKS over the same connection (what HTTPS + the framework cost without any token work).

Ratios are printed against the bare cost: `p50 / bare p50` (how many bare exchanges one HTTP exchange costs) and
`tokens/s / bare ops/s` (which fraction of the single-core crypto ceiling the service delivers).

Setup, all temporary and on ephemeral loopback ports: a CA, an OIDC "cluster issuer" served over HTTPS from a
thread (discovery + JWKS; fetched once, then cached by the service), an inventory with one identity, its federated
credential and a Storage Blob Data Contributor assignment, and the token service as its own process.

    .venv/bin/python bench/token_exchange.py [--quick] [--concurrency 1,4,16] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from localcloud.adapter import LocalCloud

from localcloud import identity as ident
from localcloud.devstack.pki import CertificateAuthority, ensure_rsa_keypair, load_key
from localcloud.entra.protocol import JWT_BEARER
from localcloud.entra.tokens import Settings, Signer, TokenService
from localcloud.inventory import LOCAL_SUBSCRIPTION, LOCAL_TENANT, Inventory
from localcloud.oidc import https_fetcher

HOST = "127.0.0.1"
AUDIENCE = "api://AzureADTokenExchange"
RESOURCE = "https://storage.azure.com"
IDENTITY_ID = (
    f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/bench/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/bench-app"
)
STORAGE_ID = f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/bench/providers/Microsoft.Storage/storageAccounts/b"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Fixture:
    directory: Path
    ca: Path
    cert: Path
    key: Path
    issuer: str
    issuer_key: rsa.RSAPrivateKey
    signing_key: Path
    inventory: Path
    client_id: str
    subject: str


def prepare(directory: Path, issuer_port: int) -> Fixture:
    """CA and serving cert, issuer key, token-signing key, and an inventory with one federated identity."""
    ca = CertificateAuthority(directory / "tls", common_name="token-bench-ca")
    cert, key = ca.issue("server", HOST, dns_names=["localhost"], ip_addresses=[HOST], server=True)
    ensure_rsa_keypair(directory / "issuer.key", directory / "issuer.pub")
    ensure_rsa_keypair(directory / "signing.key", directory / "signing.pub")
    issuer = f"https://{HOST}:{issuer_port}"
    inventory = Inventory(directory / "local-cloud.json")
    res = ident.create_identity(inventory, IDENTITY_ID)
    client_id = str(res.properties["clientId"])
    subject = f"system:serviceaccount:bench:sc-account-{client_id}"
    ident.ensure_federated_credential(inventory, IDENTITY_ID, "bench", issuer, subject)
    cloud = LocalCloud(inventory_path=inventory.path)
    cloud.grant(str(res.properties["principalId"]), "Storage Blob Data Contributor", STORAGE_ID)
    return Fixture(
        directory,
        ca.cert_path,
        cert,
        key,
        issuer,
        load_key(directory / "issuer.key"),
        directory / "signing.key",
        inventory.path,
        client_id,
        subject,
    )


def service_account_token(fx: Fixture) -> str:
    now = int(time.time())
    claims = {"iss": fx.issuer, "sub": fx.subject, "aud": [AUDIENCE], "iat": now, "nbf": now, "exp": now + 3600}
    return jwt.encode(claims, fx.issuer_key, algorithm="RS256", headers={"kid": "bench-issuer"})


@contextlib.contextmanager
def issuer_server(fx: Fixture, port: int) -> Iterator[None]:
    """The cluster issuer's discovery document and JWKS over HTTPS, from a thread of this process."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(fx.issuer_key.public_key()))
    app = FastAPI()
    app.get("/.well-known/openid-configuration")(lambda: {"issuer": fx.issuer, "jwks_uri": f"{fx.issuer}/jwks"})
    app.get("/jwks")(lambda: {"keys": [{**jwk, "kid": "bench-issuer", "use": "sig", "alg": "RS256"}]})
    config = uvicorn.Config(
        app, host=HOST, port=port, ssl_certfile=str(fx.cert), ssl_keyfile=str(fx.key), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 15, "issuer")
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(5)


@contextlib.contextmanager
def token_service(fx: Fixture, port: int) -> Iterator[str]:
    """The token service as its own process (the way the dev stack runs it); yields its authority URL."""
    argv = [
        sys.executable,
        "-m",
        "localcloud.entra.app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--cert",
        str(fx.cert),
        "--key",
        str(fx.key),
        "--inventory",
        str(fx.inventory),
        "--signing-key",
        str(fx.signing_key),
        "--issuer-ca",
        str(fx.ca),
        "--log-level",
        "warning",
    ]
    log = open(fx.directory / "tokenservice.log", "wb")  # noqa: SIM115 - closed below, after the process
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    authority = f"https://{HOST}:{port}"
    context = ssl.create_default_context(cafile=str(fx.ca))
    try:
        url = f"{authority}/{LOCAL_TENANT}/v2.0/.well-known/openid-configuration"
        wait_for(lambda: httpx.get(url, verify=context, timeout=2).status_code == 200, 30, "token service", proc)
        yield authority
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_for(check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        time.sleep(0.05)
    raise SystemExit(f"{what} was not ready after {timeout:.0f}s")


# ------------------------------------------------------------------------------------------- measurements


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bare_cost(fx: Fixture, assertion: str, n: int) -> list[float]:
    """Verify the service-account token (RS256, iss/aud/exp) and sign an access token (RS256): nothing else."""
    public = fx.issuer_key.public_key()
    signing = load_key(fx.signing_key)

    def once() -> None:
        claims = jwt.decode(assertion, public, algorithms=["RS256"], audience=AUDIENCE, issuer=fx.issuer)
        now = int(time.time())
        jwt.encode(
            {
                "aud": RESOURCE,
                "iss": "https://sts.windows.net/t/",
                "oid": claims["sub"],
                "iat": now,
                "nbf": now,
                "exp": now + 3599,
            },
            signing,
            algorithm="RS256",
            headers={"kid": "k"},
        )

    return timed(once, n)


def form(fx: Fixture, assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": fx.client_id,
        "scope": f"{RESOURCE}/.default",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }


def in_process(fx: Fixture, assertion: str, n: int) -> list[float]:
    service = TokenService(
        Settings(inventory=fx.inventory, signer=Signer(load_key(fx.signing_key)), fetch=https_fetcher([fx.ca]))
    )
    body = form(fx, assertion)
    service.exchange(body)  # warm the issuer-key cache and the directory
    return timed(lambda: service.exchange(body), n)


def http_latency(fx: Fixture, authority: str, assertion: str, n: int) -> tuple[list[float], list[float]]:
    """Sequential exchanges and JWKS GETs over one keep-alive HTTPS connection."""
    url = f"{authority}/{LOCAL_TENANT}/oauth2/v2.0/token"
    keys = f"{authority}/{LOCAL_TENANT}/discovery/v2.0/keys"
    body = form(fx, assertion)
    with httpx.Client(verify=ssl.create_default_context(cafile=str(fx.ca)), timeout=10) as client:

        def exchange() -> None:
            resp = client.post(url, data=body)
            if resp.status_code != 200:
                raise SystemExit(f"exchange failed: {resp.status_code} {resp.text[:300]}")

        for _ in range(20):
            exchange()
        floor = timed(lambda: client.get(keys).raise_for_status(), n)
        return timed(exchange, n), floor


def throughput(fx: Fixture, authority: str, assertion: str, concurrency: int, seconds: float) -> float:
    """Tokens per second with `concurrency` keep-alive clients posting back to back for `seconds`."""
    url = f"{authority}/{LOCAL_TENANT}/oauth2/v2.0/token"
    body = form(fx, assertion)
    deadline = time.monotonic() + seconds
    context = ssl.create_default_context(cafile=str(fx.ca))

    def worker() -> int:
        done = 0
        with httpx.Client(verify=context, timeout=30) as client:
            while time.monotonic() < deadline:
                if client.post(url, data=body).status_code == 200:
                    done += 1
        return done

    t0 = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        total = sum(pool.map(lambda _: worker(), range(concurrency)))
    return total / (time.monotonic() - t0)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="fewer samples, shorter throughput runs")
    p.add_argument("--concurrency", default="1,4,16", help="comma-separated client concurrencies")
    p.add_argument("--json", action="store_true", help="print only the JSON line")
    args = p.parse_args(argv)
    n, seconds = (200, 2.0) if args.quick else (2000, 8.0)
    levels = [int(c) for c in args.concurrency.split(",") if c]

    directory = Path(tempfile.mkdtemp(prefix="sl-token-bench-"))
    try:
        issuer_port, service_port = free_port(), free_port()
        fx = prepare(directory, issuer_port)
        assertion = service_account_token(fx)
        with issuer_server(fx, issuer_port), token_service(fx, service_port) as authority:
            bare = bare_cost(fx, assertion, n)
            direct = in_process(fx, assertion, n)
            http, floor = http_latency(fx, authority, assertion, n)
            rates = {c: throughput(fx, authority, assertion, c, seconds) for c in levels}
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    report(bare, direct, http, floor, rates, quick=args.quick, json_only=args.json)


def report(
    bare: list[float],
    direct: list[float],
    http: list[float],
    floor: list[float],
    rates: dict[int, float],
    *,
    quick: bool,
    json_only: bool,
) -> None:
    bare_p50 = statistics.median(bare)
    bare_rate = 1.0 / statistics.mean(bare)
    figures: dict[str, Any] = {
        "benchmark": "token_exchange",
        "quick": quick,
        "cpus": os.cpu_count(),
        "bare_verify_sign_p50_ms": round(bare_p50 * 1e3, 3),
        "bare_ops_per_s": round(bare_rate, 1),
        "in_process_exchange_p50_ms": round(statistics.median(direct) * 1e3, 3),
        "http_exchange_p50_ms": round(statistics.median(http) * 1e3, 3),
        "http_exchange_p90_ms": round(percentile(http, 0.9) * 1e3, 3),
        "http_floor_jwks_get_p50_ms": round(statistics.median(floor) * 1e3, 3),
        "tokens_per_s": {str(c): round(r, 1) for c, r in rates.items()},
        "ratio_in_process_p50_to_bare": round(statistics.median(direct) / bare_p50, 2),
        "ratio_http_p50_to_bare": round(statistics.median(http) / bare_p50, 2),
        "ratio_tokens_per_s_to_bare_ops": {str(c): round(r / bare_rate, 3) for c, r in rates.items()},
    }
    if not json_only:
        rows = [
            ("bare verify+sign (in process)", figures["bare_verify_sign_p50_ms"], "1.00"),
            ("exchange, in process", figures["in_process_exchange_p50_ms"], figures["ratio_in_process_p50_to_bare"]),
            ("exchange over HTTPS, p50", figures["http_exchange_p50_ms"], figures["ratio_http_p50_to_bare"]),
            ("exchange over HTTPS, p90", figures["http_exchange_p90_ms"], round(percentile(http, 0.9) / bare_p50, 2)),
            (
                "JWKS GET over HTTPS (floor)",
                figures["http_floor_jwks_get_p50_ms"],
                round(statistics.median(floor) / bare_p50, 2),
            ),
        ]
        print(f"{'latency':34} {'ms':>9} {'x bare':>8}")
        for name, ms, ratio in rows:
            print(f"{name:34} {ms:>9} {ratio!s:>8}")
        print(f"\n{'throughput':34} {'tokens/s':>9} {'/ bare':>8}")
        print(f"{'bare verify+sign, 1 core':34} {figures['bare_ops_per_s']:>9} {'1.000':>8}")
        for c, r in rates.items():
            print(f"{f'HTTPS, {c} client(s)':34} {round(r, 1):>9} {r / bare_rate:>8.3f}")
        print()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
