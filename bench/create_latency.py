"""Create latency: one `aks connection create` end to end, in-process (the Engine the CLI builds), on a fresh stack.

Measures
  * the first create, which installs sc-extension (Helm) and runs the sc-job sync;
  * N creates per target with the extension installed: PostgreSQL flexible `sl-postgres` (secret auth, a real
    database and login made here) and Redis `sl-redis` database 0 (`--secret`, keys read from the server);
    p50/p95 of begin_create_or_update + run (synchronous checks, store, steps, operator delivery);
  * baseline, interleaved with the creates: server-side applying the same three objects (companion Secret,
    ServiceConnection, delivered Secret, byte for byte) straight to the API server with lightkube.
Prints create_p50 / raw_p50, and the median time of each engine step (from the operation log).

Through ARM versus before: every create goes through the Azure adapter to the local ARM endpoint (the one cloud
path). The "before" baseline is the in-process local cloud adapter this repository had until the ARM endpoint
replaced it (`LocalCloud` of commit BASELINE_REV, loaded from git history, not from the tree), driving the same
engine on the same stack; its creates are interleaved with the ARM ones, and arm_p50 / inprocess_p50 is printed.

    .venv/bin/python bench/create_latency.py [--quick] [--keep-stack]
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import sys
import time
import types
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib as bl

from servicelinker.engine.service import ConnectionEngine as Engine
from servicelinker.model.linker import LinkerResource
from servicelinker.model.records import Operation

NAMESPACE = "bench"
RAW_NAMESPACE = "bench-raw"
#: The last commit with the in-process local cloud adapter (src/localcloud/adapter.py), the "before" baseline.
BASELINE_REV = "4ab3cfd"


def _inprocess_engine(bs: bl.BenchStack) -> Engine | None:
    """The engine on the old in-process adapter, acting as the developer (None where git history is absent)."""
    from servicelinker.engine.factory import Engines

    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(["git", "-C", str(root), "show", f"{BASELINE_REV}:src/localcloud/adapter.py"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("baseline_inprocess_adapter")
    exec(compile(source, f"{BASELINE_REV}:src/localcloud/adapter.py", "exec"), module.__dict__)
    developer = json.loads((bs.cfg.state_dir / "developer.json").read_text())["objectId"]
    settings = bs.cfg.product_settings(ready_timeout=120.0)
    # its own copy of the inventory: the old adapter kept firewall records in another shape than ARM's
    inventory = bs.cfg.state_dir / "baseline-inventory.json"
    data = json.loads(bs.cfg.inventory.read_text())
    for resource in data["resources"].values():
        resource["properties"].pop("firewallRules", None)
    inventory.write_text(json.dumps(data))
    cloud = module.LocalCloud(settings, principal=developer, inventory_path=inventory)
    return Engines(settings, cloud_factory=lambda _principal: cloud).for_caller(None)


def _step_seconds(op: Operation) -> dict[str, float]:
    out: dict[str, float] = {}
    for st in op.steps:
        if st.end_time:
            start = dt.datetime.fromisoformat(st.start_time)
            end = dt.datetime.fromisoformat(st.end_time)
            out[st.name] = (end - start).total_seconds()
    return out


def _create(engine: Engine, name: str, body: LinkerResource) -> tuple[float, float, Operation]:
    """(seconds for the synchronous part, seconds in total, the finished operation)."""
    lid = bl.linker_id(name)
    t0 = time.perf_counter()
    op = engine.begin_create_or_update(lid, body)
    t1 = time.perf_counter()
    done = engine.run(op.id)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t0, done


def main() -> int:
    args = bl.parse_args(__doc__ or "")
    n = 3 if args.quick else 30
    started = time.monotonic()
    failures: list[str] = []
    with bl.running_stack(args.keep_stack) as bs:
        kube = bs.kube()
        bl.ensure_namespace(kube, NAMESPACE)
        bl.ensure_namespace(kube, RAW_NAMESPACE)
        account = bl.create_pg_account(bs)
        engine = bs.engine()
        stamp = time.strftime("%H%M%S")

        # 1. the first create: installs sc-extension (fresh stack)
        first_name = f"pgfirst_{stamp}"
        _, first_total, first_op = _create(engine, first_name, bl.postgres_body(account, NAMESPACE))
        if first_op.status != "Succeeded":
            raise SystemExit(f"first create failed: {first_op.error}")
        install = next(s for s in first_op.steps if s.name == "Install sc-extension")
        installed = install.status == "Succeeded"
        bl.log(f"first create {first_total:.2f}s (extension {'installed' if installed else 'already present'})")

        templates = {"postgres": bl.capture_template(kube, first_name)}
        bodies: dict[str, Callable[[], LinkerResource]] = {
            "postgres": lambda: bl.postgres_body(account, NAMESPACE),
            "redis": lambda: bl.redis_body(NAMESPACE),
        }
        baseline = _inprocess_engine(bs)
        inprocess: dict[str, list[float]] = defaultdict(list)
        created: dict[str, list[float]] = defaultdict(list)
        sync_part: dict[str, list[float]] = defaultdict(list)
        raw: dict[str, list[float]] = defaultdict(list)
        steps: dict[str, list[float]] = defaultdict(list)

        # 2. N creates per target, each followed by the raw write of the same objects
        for i in range(n):
            for target in ("postgres", "redis"):
                name = f"{target[:2]}{i:03d}_{stamp}"
                sync_s, total_s, op = _create(engine, name, bodies[target]())
                if op.status != "Succeeded":
                    failures.append(f"{name}: {op.error}")
                    continue
                created[target].append(total_s)
                sync_part[target].append(sync_s)
                step_secs = _step_seconds(op)
                for step, secs in step_secs.items():
                    steps[step].append(secs)
                # store writes (the step log is saved at every transition), Engine.get, final put_linker
                steps["(outside the steps, after the sync checks)"].append(total_s - sync_s - sum(step_secs.values()))
                if target not in templates:
                    templates[target] = bl.capture_template(kube, name)
                objs = bl.raw_objects(templates[target], f"raw{target[:2]}{i:03d}{stamp}", RAW_NAMESPACE)
                raw[target].append(bl.timed(lambda objs=objs: bl.apply_all(kube, objs)))
                if baseline is not None:
                    _, before_s, before_op = _create(baseline, f"ip{name}", bodies[target]())
                    if before_op.status == "Succeeded":
                        inprocess[target].append(before_s)
                    else:
                        failures.append(f"ip{name} (in-process baseline): {before_op.error}")
            if (i + 1) % 10 == 0:
                bl.log(f"{i + 1}/{n} rounds")
        if args.keep_stack:  # otherwise the whole stack goes away
            bl.delete_namespace(kube, RAW_NAMESPACE)

    wall = time.monotonic() - started
    all_created = created["postgres"] + created["redis"]
    all_raw = raw["postgres"] + raw["redis"]
    figures: dict[str, object] = {
        "bench": "create_latency",
        "n_per_target": n,
        "first_create_ms": bl.ms(first_total),
        "first_create_installed_extension": installed,
        "first_create_install_step_ms": bl.ms(_step_seconds(first_op).get("Install sc-extension", 0.0)),
    }
    rows: list[tuple[str, str]] = [
        ("first create" + (" (installs sc-extension)" if installed else " (extension already present)"),
         f"{bl.ms(first_total):.0f} ms (Install sc-extension step {figures['first_create_install_step_ms']:.0f} ms)"),
    ]  # fmt: skip
    for target in ("postgres", "redis"):
        c, r, s = created[target], raw[target], sync_part[target]
        if not c:
            continue
        p50, p95, r50 = bl.percentile(c, 50), bl.percentile(c, 95), bl.percentile(r, 50)
        figures[target] = {
            "create_p50_ms": bl.ms(p50),
            "create_p95_ms": bl.ms(p95),
            "sync_checks_p50_ms": bl.ms(bl.percentile(s, 50)),
            "raw_p50_ms": bl.ms(r50),
            "raw_p95_ms": bl.ms(bl.percentile(r, 95)),
            "ratio_create_p50_over_raw_p50": round(p50 / r50, 1),
        }
        rows.append(
            (f"{target} create p50 / p95", f"{bl.ms(p50):.0f} / {bl.ms(p95):.0f} ms  (n={len(c)})"),
        )
        rows.append(
            (f"{target} raw 3-object apply p50 / p95", f"{bl.ms(r50):.1f} / {bl.ms(bl.percentile(r, 95)):.1f} ms")
        )
        rows.append((f"{target} ratio create_p50 / raw_p50", f"{p50 / r50:.1f}x"))
        if inprocess[target]:
            b50 = bl.percentile(inprocess[target], 50)
            figures[target]["inprocess_create_p50_ms"] = bl.ms(b50)  # type: ignore[index]
            figures[target]["ratio_arm_p50_over_inprocess_p50"] = round(p50 / b50, 2)  # type: ignore[index]
            rows.append((f"{target} create p50 before (in-process adapter)", f"{bl.ms(b50):.0f} ms"))
            rows.append((f"{target} ratio through ARM / before", f"{p50 / b50:.2f}x"))
    if all_created:
        c50, r50 = bl.percentile(all_created, 50), bl.percentile(all_raw, 50)
        figures.update(
            {
                "create_p50_ms": bl.ms(c50),
                "create_p95_ms": bl.ms(bl.percentile(all_created, 95)),
                "raw_p50_ms": bl.ms(r50),
                "ratio_create_p50_over_raw_p50": round(c50 / r50, 1),
            }
        )
        rows.append(("all creates p50 / p95", f"{bl.ms(c50):.0f} / {figures['create_p95_ms']:.0f} ms"))
        rows.append(("ratio create_p50 / raw_p50 (all)", f"{c50 / r50:.1f}x"))
    step_medians = {k: bl.ms(statistics.median(v)) for k, v in steps.items()}
    figures["step_p50_ms"] = step_medians
    figures["failures"] = len(failures)
    figures["wall_s"] = round(wall, 1)
    figures["machine"] = bl.machine()
    for k, v in step_medians.items():
        rows.append((f"  step p50: {k}", f"{v:.0f} ms"))
    rows.append(("failures", str(len(failures))))
    rows.append(("wall time (incl. stack up/down)", f"{wall:.0f} s"))
    bl.table(rows, f"create latency (N={n} per target, {bl.machine()['cpus']} cpus)")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    bl.emit(figures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
