"""REST API overhead: `servicelinker serve` against a trivial FastAPI endpoint served the same way, in one run.

Both servers are uvicorn processes on 127.0.0.1 over HTTPS with the same certificate; our server validates real
RS256 bearer tokens (an issuer of this script) and checks the caller's role on every request, as deployed.

Measures, from a second process (an asyncio + httpx load generator, concurrency 16, keep-alive connections):
  * GET one linker, and GET the linkers of the cluster (N linkers), p50/p99 latency and throughput;
  * the trivial endpoint (GET returning a small JSON document) likewise, interleaved in rounds with the above;
  * PUT-to-Succeeded throughput: N Redis linkers created through the API at concurrency 8 (PUT, then polling the
    Azure-AsyncOperation URL every 0.2 s, as a client would), completed creates per second; and the same N
    creates through the in-process Engine (begin + run, sequential as the CLI does) as a second reference.
Prints ratios: our p50/p99 / trivial p50/p99, trivial req/s / our PUT-to-Succeeded per second.

Its own dev stack (kube, redis, operator, localcloud) on port base 28700 (the API on +60/+61, the issuer on
+62): do not run it alongside the API integration tests, which use the same block.

    .venv/bin/python bench/api_latency.py [--quick] [--port-base 28700]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONCURRENCY = 16
PUT_CONCURRENCY = 8


# ------------------------------------------------------------------------------------------ the trivial server


def serve_trivial(port: int, cert: str, key: str) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, Any]:
        return {"id": "/trivial", "name": "trivial", "properties": {"provisioningState": "Succeeded"}}

    uvicorn.run(app, host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key, log_level="warning",
                access_log=False)  # fmt: skip


# ----------------------------------------------------------------------------------------- the load generator


async def _load(url: str, token: str | None, ca: str, total: int, concurrency: int) -> dict[str, Any]:
    import ssl

    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    verify = ssl.create_default_context(cafile=ca)
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(verify=verify, headers=headers, limits=limits, timeout=30) as client:
        for _ in range(concurrency):  # warm the connections
            await client.get(url)

        async def worker() -> None:
            nonlocal errors
            for _ in counter:
                t0 = time.perf_counter()
                r = await client.get(url)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {"latencies": latencies, "wall": wall, "errors": errors}


def load_main(url: str, token: str, ca: str, total: int) -> None:
    result = asyncio.run(_load(url, token or None, ca, total, CONCURRENCY))
    sys.stdout.write(json.dumps(result) + "\n")


def run_load(url: str, token: str | None, ca: str, total: int) -> dict[str, Any]:
    """The load generator as a second process; returns its raw figures."""
    argv = [sys.executable, __file__, "--load", url, token or "", ca, str(total)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{proc.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(runs: list[dict[str, Any]]) -> dict[str, float]:
    lat = [x for r in runs for x in r["latencies"]]
    count = len(lat)
    wall = sum(r["wall"] for r in runs)
    return {
        "p50_ms": _pct(lat, 0.50) * 1000,
        "p99_ms": _pct(lat, 0.99) * 1000,
        "rps": count / wall,
        "errors": float(sum(r["errors"] for r in runs)),
        "n": float(count),
    }


# --------------------------------------------------------------------------------------------------- the bench


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_port(url: str, ca: str, timeout: float = 30) -> None:
    import ssl

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, verify=ssl.create_default_context(cafile=ca), timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


async def _creates(base: str, token: str, ca: str, ids: list[str], body: dict[str, Any]) -> tuple[float, list[str]]:
    import ssl

    import httpx

    failures: list[str] = []
    sem = asyncio.Semaphore(PUT_CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, verify=ssl.create_default_context(cafile=ca), timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as client:  # fmt: skip

        async def one(lid: str) -> None:
            async with sem:
                r = await client.put(lid, params={"api-version": "2024-04-01"}, json=body)
                if r.status_code != 201:
                    failures.append(f"{lid}: PUT {r.status_code} {r.text[:200]}")
                    return
                url = r.headers["Azure-AsyncOperation"]
                while True:
                    await asyncio.sleep(0.2)
                    status = (await client.get(url)).json()
                    if status["status"] in ("Succeeded", "Failed", "Canceled"):
                        if status["status"] != "Succeeded":
                            failures.append(f"{lid}: {status.get('error')}")
                        return

        t0 = time.perf_counter()
        await asyncio.gather(*(one(lid) for lid in ids))
        return time.perf_counter() - t0, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small N (smoke run)")
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("SL_BENCH_API_PORT_BASE", "28700")))
    args = parser.parse_args()
    n_linkers = 4 if args.quick else 24
    requests = 400 if args.quick else 4000
    rounds = 2 if args.quick else 3

    state = Path(tempfile.mkdtemp(prefix="sl-bench-api-"))
    os.environ["SL_PORT_BASE"] = str(args.port_base)
    os.environ["SL_STATE_DIR"] = str(state)

    from lightkube import Client, KubeConfig
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Namespace
    from tests.support.api_server import ApiServer, LocalIssuer

    from localcloud import admin
    from localcloud.devstack import localcloud, stack
    from localcloud.devstack.config import Ports, StackConfig
    from localcloud.inventory import LOCAL_SUBSCRIPTION, Inventory
    from servicelinker.engine.factory import Engines
    from servicelinker.model.linker import LinkerResource
    from servicelinker.settings import Settings

    cfg = StackConfig(state_dir=state, ports=Ports())
    source = localcloud.resource_ids()["kube"]
    redis_db = localcloud.resource_ids()["redis"] + "/databases/0"
    body = {"properties": {"targetService": {"type": "AzureResource", "id": redis_db},
                           "authInfo": {"authType": "secret"}, "clientType": "python", "scope": "bench"}}  # fmt: skip
    figures: dict[str, Any] = {"bench": "api_latency", "quick": args.quick, "concurrency": CONCURRENCY}
    api: ApiServer | None = None
    trivial: subprocess.Popen[bytes] | None = None
    issuer: LocalIssuer | None = None
    started = time.monotonic()
    try:
        t0 = time.monotonic()
        desc = stack.up(cfg, only=["kube", "redis", "tokenservice", "arm", "localcloud", "operator"])
        log(f"dev stack up in {time.monotonic() - t0:.1f}s (port base {args.port_base})")
        kube = Client(KubeConfig.from_file(desc["services"]["kube"]["kubeconfig"]), field_manager="bench")
        kube.create(Namespace(metadata=ObjectMeta(name="bench")))
        admin.grant(Inventory(cfg.inventory), "bench-user", "Contributor",
                    f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/sl-dev")
        issuer = LocalIssuer(args.port_base + 62)
        token = issuer.token("bench-user", lifetime=4 * 3600)
        api = ApiServer(state, args.port_base + 60, issuer=issuer.url, workers=2, extra_env={"SL_READY_TIMEOUT": "120"})
        assert api.ca_cert is not None
        ca = api.ca_cert
        cert, key = str(state / "api-tls" / "api.crt"), str(state / "api-tls" / "api.key")
        trivial_url = f"https://127.0.0.1:{args.port_base + 61}/ping"
        trivial = subprocess.Popen([sys.executable, __file__, "--serve-trivial", str(args.port_base + 61), cert, key],
                                   stdin=subprocess.DEVNULL)  # fmt: skip
        wait_port(trivial_url, ca)

        # 1. PUT-to-Succeeded through the API (the first create installs sc-extension: done before timing)
        first = f"{source}/providers/Microsoft.ServiceLinker/linkers/warmup"
        for attempt in range(3):  # a just-started API server can still be initialising its storage
            warm_s, fails = asyncio.run(_creates(api.url, token, ca, [first], body))
            if not fails:
                break
            log(f"warm-up create attempt {attempt + 1} failed: {fails[0][:300]}")
            time.sleep(5)
        else:
            raise RuntimeError(f"warm-up create failed: {fails}")
        log(f"warm-up create (extension install) {warm_s:.1f}s")
        ids = [f"{source}/providers/Microsoft.ServiceLinker/linkers/api_{i:03d}" for i in range(n_linkers)]
        put_wall, fails = asyncio.run(_creates(api.url, token, ca, ids, body))
        if fails:
            raise RuntimeError(f"creates failed: {fails[:3]}")
        put_rate = n_linkers / put_wall
        log(f"{n_linkers} creates through the API in {put_wall:.1f}s ({put_rate:.2f}/s)")

        # 1b. the same creates in-process (the CLI's path), sequential
        engine = Engines(Settings(state_dir=state, ready_timeout=120)).for_caller(None)
        t0 = time.perf_counter()
        for i in range(n_linkers):
            lid = f"{source}/providers/Microsoft.ServiceLinker/linkers/local_{i:03d}"
            done = engine.run(engine.begin_create_or_update(lid, LinkerResource.model_validate(body)).id)
            if done.status != "Succeeded":
                raise RuntimeError(f"in-process create failed: {done.error}")
        local_rate = n_linkers / (time.perf_counter() - t0)
        log(f"{n_linkers} creates in-process: {local_rate:.2f}/s")

        # 2. latency rounds, interleaved
        get_url = f"{api.url}{ids[0]}?api-version=2024-04-01"
        list_url = f"{api.url}{source}/providers/Microsoft.ServiceLinker/linkers?api-version=2024-04-01"
        listed = len(engine.list_linkers(source))
        runs: dict[str, list[dict[str, Any]]] = {"trivial": [], "get": [], "list": []}
        for r in range(rounds):
            runs["trivial"].append(run_load(trivial_url, None, ca, requests))
            runs["get"].append(run_load(get_url, token, ca, requests))
            runs["list"].append(run_load(list_url, token, ca, requests))
            log(f"round {r + 1}/{rounds} done")
        stats = {k: summarize(v) for k, v in runs.items()}
        for k, s in stats.items():
            if s["errors"]:
                raise RuntimeError(f"{k}: {s['errors']:.0f} non-200 responses")
        triv = stats["trivial"]
        figures.update({
            "linkers_listed": listed,
            "requests_per_kind": int(stats["get"]["n"]),
            "trivial_p50_ms": round(triv["p50_ms"], 2), "trivial_p99_ms": round(triv["p99_ms"], 2),
            "trivial_rps": round(triv["rps"], 1),
            "get_p50_ms": round(stats["get"]["p50_ms"], 2), "get_p99_ms": round(stats["get"]["p99_ms"], 2),
            "get_rps": round(stats["get"]["rps"], 1),
            "list_p50_ms": round(stats["list"]["p50_ms"], 2), "list_p99_ms": round(stats["list"]["p99_ms"], 2),
            "list_rps": round(stats["list"]["rps"], 1),
            "get_p50_ratio": round(stats["get"]["p50_ms"] / triv["p50_ms"], 2),
            "get_p99_ratio": round(stats["get"]["p99_ms"] / triv["p99_ms"], 2),
            "list_p50_ratio": round(stats["list"]["p50_ms"] / triv["p50_ms"], 2),
            "list_p99_ratio": round(stats["list"]["p99_ms"] / triv["p99_ms"], 2),
            "put_to_succeeded_per_s": round(put_rate, 3),
            "in_process_create_per_s": round(local_rate, 3),
            "trivial_rps_over_put_per_s": round(triv["rps"] / put_rate, 1),
            "api_put_vs_in_process_ratio": round(put_rate / local_rate, 2),
            "seconds": round(time.monotonic() - started, 1),
        })  # fmt: skip
    finally:
        if trivial is not None:
            trivial.terminate()
            trivial.wait(20)
        if api is not None:
            api.stop()
        if issuer is not None:
            issuer.close()
        stopped = stack.down(cfg)
        shutil.rmtree(state, ignore_errors=True)
        log(f"dev stack down ({len(stopped)} processes), {state} removed")

    title = f"REST API overhead vs a trivial FastAPI endpoint (HTTPS, uvicorn, concurrency {CONCURRENCY})"
    print(title)
    print("-" * len(title))
    print(f"{'':<26}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}{'p50 x':>8}{'p99 x':>8}")
    print(f"{'trivial GET':<26}{figures['trivial_p50_ms']:>10}{figures['trivial_p99_ms']:>10}"
          f"{figures['trivial_rps']:>10}{1.0:>8}{1.0:>8}")  # fmt: skip
    print(f"{'GET linker':<26}{figures['get_p50_ms']:>10}{figures['get_p99_ms']:>10}{figures['get_rps']:>10}"
          f"{figures['get_p50_ratio']:>8}{figures['get_p99_ratio']:>8}")  # fmt: skip
    print(f"{'GET linkers (' + str(figures['linkers_listed']) + ')':<26}{figures['list_p50_ms']:>10}"
          f"{figures['list_p99_ms']:>10}{figures['list_rps']:>10}{figures['list_p50_ratio']:>8}"
          f"{figures['list_p99_ratio']:>8}")  # fmt: skip
    print(f"PUT-to-Succeeded via API: {figures['put_to_succeeded_per_s']}/s (trivial req/s is "
          f"{figures['trivial_rps_over_put_per_s']}x that); in-process creates: {figures['in_process_create_per_s']}/s "
          f"(API/in-process {figures['api_put_vs_in_process_ratio']}x)")  # fmt: skip
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-trivial":
        serve_trivial(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "--load":
        load_main(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        raise SystemExit(main())
