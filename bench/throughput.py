"""Create throughput: M connection creates at concurrency 8 (threads, each with its own Engine and therefore its
own SQLite connection pool on the one store file, as 8 CLI processes would have), alternating PostgreSQL flexible
(secret auth) and Redis (`--secret`) targets; every create waits for the operator's Ready, as the CLI does.

Baseline in the same run: server-side applying the same M sets of objects (companion Secret, ServiceConnection,
delivered Secret; the bytes of a real connection) straight to the API server at concurrency 8 (a lightkube client
per thread). Prints creates/s, raw objects/s and raw sets/s, and creates/s / raw sets/s; failures (with the exact
errors, e.g. SQLite contention) and wall time.

Also probes a cold start: 8 threads opening a Store on a fresh state directory at once (first use of the store,
as 8 CLI commands started together on a new machine would), reporting any error.

    .venv/bin/python bench/throughput.py [--quick] [--keep-stack]     (--quick: 20 creates)
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib as bl

from servicelinker.engine.service import ConnectionEngine as Engine
from servicelinker.store.repository import Store

CONCURRENCY = 8
NAMESPACE = "bench-tp"
RAW_NAMESPACE = "bench-tp-raw"


def _error_text(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__module__}.{type(exc).__name__}: {first}"[:300]


def cold_store_probe(workers: int = CONCURRENCY) -> list[str]:
    """Open `workers` Stores on one fresh directory at the same instant; return the errors (empty = fine)."""
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sl-bench-store-") as d:
        barrier = threading.Barrier(workers)

        def open_store() -> None:
            barrier.wait()
            try:
                store = Store.in_directory(Path(d))
                store.get_linker(bl.linker_id("probe"))
            except Exception as exc:
                errors.append(_error_text(exc))

        threads = [threading.Thread(target=open_store) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    return errors


def main() -> int:
    args = bl.parse_args(__doc__ or "")
    total = 20 if args.quick else 200
    started = time.monotonic()
    with bl.running_stack(args.keep_stack) as bs:
        kube = bs.kube()
        bl.ensure_namespace(kube, NAMESPACE)
        bl.ensure_namespace(kube, RAW_NAMESPACE)
        account = bl.create_pg_account(bs)
        stamp = time.strftime("%H%M%S")

        # warm-up (not timed): installs sc-extension, and gives the objects the baseline copies
        warm = bs.engine()
        templates: dict[str, bl.RawTemplate] = {}
        for target, body in (("postgres", bl.postgres_body(account, NAMESPACE)), ("redis", bl.redis_body(NAMESPACE))):
            name = f"warm{target[:2]}_{stamp}"
            op = warm.run(warm.begin_create_or_update(bl.linker_id(name), body).id)
            if op.status != "Succeeded":
                raise SystemExit(f"warm-up create {name} failed: {op.error}")
            templates[target] = bl.capture_template(kube, name)
        bl.log("warm-up done; extension installed")

        # engine: `total` creates at concurrency 8, one Engine per thread
        local = threading.local()

        def engine() -> Engine:
            if not hasattr(local, "engine"):
                local.engine = bs.engine(ready_timeout=300.0)
            eng: Engine = local.engine
            return eng

        failures: list[str] = []
        latencies: list[float] = []
        lock = threading.Lock()

        def create(i: int) -> None:
            target = "postgres" if i % 2 == 0 else "redis"
            name = f"tp{target[:2]}{i:04d}_{stamp}"
            body = bl.postgres_body(account, NAMESPACE) if target == "postgres" else bl.redis_body(NAMESPACE)
            t0 = time.perf_counter()
            try:
                eng = engine()
                op = eng.run(eng.begin_create_or_update(bl.linker_id(name), body).id)
                outcome = None if op.status == "Succeeded" else f"operation {op.status}: {op.error}"
            except Exception as exc:
                outcome = _error_text(exc)
                traceback.print_exc(file=sys.stderr)
            with lock:
                if outcome is None:
                    latencies.append(time.perf_counter() - t0)
                else:
                    failures.append(f"{name}: {outcome}")

        t0 = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(create, range(total)))
        engine_wall = time.perf_counter() - t0
        bl.log(f"{total} creates in {engine_wall:.1f}s ({len(failures)} failed)")

        # baseline: the same sets of objects, straight to the API server, concurrency 8
        clients = threading.local()
        raw_failures: list[str] = []

        def raw(i: int) -> None:
            if not hasattr(clients, "kube"):
                clients.kube = bs.kube()
            target = "postgres" if i % 2 == 0 else "redis"
            objs = bl.raw_objects(templates[target], f"raw{target[:2]}{i:04d}{stamp}", RAW_NAMESPACE)
            try:
                bl.apply_all(clients.kube, objs)
            except Exception as exc:
                with lock:
                    raw_failures.append(_error_text(exc))

        sets = [bl.raw_objects(templates["postgres" if i % 2 == 0 else "redis"], "x", "y") for i in range(total)]
        objects = sum(len(s) for s in sets)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(raw, range(total)))
        raw_wall = time.perf_counter() - t0
        bl.log(f"{objects} raw objects in {raw_wall:.2f}s")

        cold_errors = cold_store_probe()
        if args.keep_stack:
            bl.delete_namespace(kube, RAW_NAMESPACE)

    wall = time.monotonic() - started
    ok = len(latencies)
    creates_per_s = ok / engine_wall
    raw_sets_per_s = (total - len(raw_failures)) / raw_wall
    raw_objects_per_s = objects / raw_wall
    figures: dict[str, Any] = {
        "bench": "throughput",
        "creates": total,
        "concurrency": CONCURRENCY,
        "succeeded": ok,
        "failures": len(failures),
        "failure_kinds": dict(Counter(f.split(": ", 1)[1][:120] for f in failures)),
        "engine_wall_s": round(engine_wall, 2),
        "creates_per_s": round(creates_per_s, 2),
        "create_p50_ms": bl.ms(bl.percentile(latencies, 50)),
        "create_p95_ms": bl.ms(bl.percentile(latencies, 95)),
        "raw_objects": objects,
        "raw_failures": len(raw_failures),
        "raw_wall_s": round(raw_wall, 3),
        "raw_objects_per_s": round(raw_objects_per_s, 1),
        "raw_sets_per_s": round(raw_sets_per_s, 1),
        "ratio_creates_per_s_over_raw_sets_per_s": round(creates_per_s / raw_sets_per_s, 4),
        "slowdown_raw_sets_per_s_over_creates_per_s": round(raw_sets_per_s / creates_per_s, 1),
        "cold_store_open_errors": dict(Counter(cold_errors)),
        "wall_s": round(wall, 1),
        "machine": bl.machine(),
    }
    rows = [
        ("creates (concurrency 8)", f"{ok}/{total} succeeded in {engine_wall:.1f} s"),
        ("creates/s", f"{creates_per_s:.2f}"),
        ("create latency p50 / p95 under load", f"{figures['create_p50_ms']:.0f} / {figures['create_p95_ms']:.0f} ms"),
        ("raw apply (3 objects per set)", f"{objects} objects in {raw_wall:.2f} s"),
        ("raw objects/s  |  raw sets/s", f"{raw_objects_per_s:.0f}  |  {raw_sets_per_s:.1f}"),
        (
            "ratio creates/s / raw sets/s",
            f"{creates_per_s / raw_sets_per_s:.4f} ({raw_sets_per_s / creates_per_s:.0f}x slower)",
        ),
        ("failures (engine / raw)", f"{len(failures)} / {len(raw_failures)}"),
        ("cold store open x8", "ok" if not cold_errors else f"{len(cold_errors)} errors: {cold_errors[0]}"),
        ("wall time (incl. stack up/down)", f"{wall:.0f} s"),
    ]
    bl.table(rows, f"create throughput ({total} creates, concurrency {CONCURRENCY}, {bl.machine()['cpus']} cpus)")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    bl.emit(figures)
    return 1 if failures or raw_failures else 0


if __name__ == "__main__":
    sys.exit(main())
