"""Operator memory: the resident set (VmRSS) of the out-of-cluster sc-operator process the dev stack started, idle
with no ServiceConnection, then with K ServiceConnections all Ready; and how long the operator takes to make all K
Ready.

The K connections are written the way the engine writes them (`kube.connections.spec_for` + `apply`: companion
Secret, then the ServiceConnection, server-side applied into sc-system), for a PostgreSQL flexible target with
secret auth, all delivering into one namespace under K distinct Secret names; 8 writer threads. sc-extension is
installed first without any connection (as the first create would), so "idle" means the operator is watching and
heartbeating with nothing to do.

    .venv/bin/python bench/operator_memory.py [--quick] [--keep-stack]     (--quick: K = 200; full: K = 2,000)
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib as bl
from lightkube import Client
from lightkube.resources.core_v1 import Secret

from servicelinker.catalog.configuration import build_configurations
from servicelinker.catalog.targets import check_supported
from servicelinker.clouds.azure import AzureCloud
from servicelinker.kube import connections as kconn
from servicelinker.kube import contract
from servicelinker.kube.client import ServiceConnection, ready_state

NAMESPACE = "bench-mem"
WRITERS = 8


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # "VmRSS:   123456 kB"
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def sample_rss_kib(pid: int, samples: int = 5, interval: float = 1.0) -> int:
    values = []
    for i in range(samples):
        if i:
            time.sleep(interval)
        values.append(status_kib(pid, "VmRSS"))
    return int(statistics.median(values))


def is_ready(obj: dict[str, Any]) -> bool:
    state = ready_state(obj)
    return state.observed and state.condition is not None and state.condition.status == "True"


def count_ready(client: Client) -> int:
    return sum(1 for o in client.list(ServiceConnection, namespace=contract.SYSTEM_NAMESPACE) if is_ready(o.to_dict()))


class ReadyWatch:
    """Watches the ServiceConnections in sc-system from a daemon thread and records when each first becomes Ready
    (cheaper for the machine, and so for the operator being measured, than listing 2,000 objects every second)."""

    def __init__(self, client: Client) -> None:
        self.ready_at: dict[str, float] = {}
        self.lock = threading.Lock()
        listing = client.list(ServiceConnection, namespace=contract.SYSTEM_NAMESPACE)
        for obj in listing:
            if is_ready(obj.to_dict()) and obj.metadata and obj.metadata.name:
                self.ready_at[obj.metadata.name] = 0.0
        self._version = listing.resourceVersion
        self._client = client
        threading.Thread(target=self._run, name="ready-watch", daemon=True).start()

    def _run(self) -> None:
        try:
            for _, obj in self._client.watch(
                ServiceConnection, namespace=contract.SYSTEM_NAMESPACE, resource_version=self._version
            ):
                d = obj.to_dict()
                name = d["metadata"]["name"]
                if name not in self.ready_at and is_ready(d):
                    with self.lock:
                        self.ready_at[name] = time.monotonic()
        except Exception:  # the stack went down at the end of the run
            return

    def count(self) -> int:
        with self.lock:
            return len(self.ready_at)


def main() -> int:
    args = bl.parse_args(__doc__ or "")
    k = 200 if args.quick else 2000
    ready_timeout = 300.0 if args.quick else 1800.0
    started = time.monotonic()
    with bl.running_stack(args.keep_stack) as bs:
        kube = bs.kube()
        pid = bs.operator_pid()
        bl.ensure_namespace(kube, NAMESPACE)
        account = bl.create_pg_account(bs)
        install_s = bl.install_extension(bs)
        bl.log(f"sc-extension installed, operator pid {pid} heartbeating ({install_s:.1f}s)")
        existing = count_ready(kube)  # Ready ones (0 on a fresh stack)
        log_offset = bl.log_offset(bs)
        time.sleep(5.0)  # let kopf's and the watchers' start-up settle
        idle_kib = sample_rss_kib(pid)
        bl.log(f"idle RSS {idle_kib / 1024:.1f} MiB with {existing} ServiceConnections")

        # what the engine writes for one postgres connection, composed once (facts read from the real server)
        resource_body = bl.postgres_body(account, NAMESPACE)
        target = check_supported(resource_body.properties)
        target_id = resource_body.properties.target_id
        assert target_id is not None
        cloud = AzureCloud(bs.cfg.product_settings())
        facts = cloud.describe_target(target, target_id)
        facts = facts.model_copy(update=cloud.target_secrets(target, target_id).model_dump(exclude_unset=True))
        configs = build_configurations(resource_body, facts, target=target)
        stamp = time.strftime("%H%M%S")
        local = threading.local()
        errors: list[str] = []
        written_at: dict[str, float] = {}
        watch = ReadyWatch(kube)

        def write(i: int) -> None:
            if not hasattr(local, "kube"):
                local.kube = bs.kube()
            name = f"mem{i:05d}_{stamp}"
            lid = bl.linker_id(name)
            resource = kconn.resource_name_for(lid, name)
            spec, creds = kconn.spec_for(
                lid, name, NAMESPACE, f"sc-mem{i:05d}{stamp}-secret", configs, resource=resource
            )
            try:
                kconn.apply(local.kube, resource, spec, creds)
                written_at[resource] = time.monotonic()
            except Exception as exc:
                errors.append(f"{name}: {type(exc).__name__}: {exc}")

        t0 = time.monotonic()
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(write, range(k)))
        writes_s = time.monotonic() - t0
        ready_when_written = watch.count() - existing
        bl.log(f"{k} connections written in {writes_s:.1f}s ({len(errors)} errors), {ready_when_written} Ready")

        deadline = t0 + ready_timeout
        peak_during_kib = 0
        while watch.count() < k + existing and time.monotonic() < deadline:
            peak_during_kib = max(peak_during_kib, status_kib(pid, "VmRSS"))
            time.sleep(0.5)
        ready = count_ready(kube)  # confirm with one list
        all_ready_s = max(watch.ready_at.values(), default=t0) - t0
        timed_out = ready < k + existing
        lags = [watch.ready_at[n] - w for n, w in written_at.items() if watch.ready_at.get(n)]
        bl.log(f"{ready - existing}/{k} Ready after {all_ready_s:.1f}s" + (" (TIMED OUT)" if timed_out else ""))
        delivered = sum(
            1 for _ in kube.list(Secret, namespace=NAMESPACE, labels={contract.MANAGED_BY_LABEL: contract.MANAGED_BY})
        )
        time.sleep(10.0)  # status writes, Events and kopf bookkeeping settle
        loaded_kib = sample_rss_kib(pid)
        hwm_kib = status_kib(pid, "VmHWM")
        bl.log(f"RSS with {k} connections: {loaded_kib / 1024:.1f} MiB (peak {hwm_kib / 1024:.1f} MiB)")
        problems = bl.log_problems(bs, log_offset)
        if args.keep_stack:
            cleanup(kube)

    wall = time.monotonic() - started
    per_conn_kib = (loaded_kib - idle_kib) / k
    figures: dict[str, Any] = {
        "bench": "operator_memory",
        "connections": k,
        "idle_rss_mib": round(idle_kib / 1024, 1),
        "loaded_rss_mib": round(loaded_kib / 1024, 1),
        "peak_rss_mib": round(hwm_kib / 1024, 1),
        "peak_rss_seen_while_syncing_mib": round(peak_during_kib / 1024, 1),
        "kib_per_connection": round(per_conn_kib, 1),
        "writes_s": round(writes_s, 1),
        "all_ready_s": round(all_ready_s, 1),
        "ready_when_writes_done": ready_when_written,
        "write_to_ready_p50_s": round(bl.percentile(lags, 50), 2),
        "write_to_ready_p95_s": round(bl.percentile(lags, 95), 2),
        "write_to_ready_max_s": round(max(lags, default=float("nan")), 2),
        "ready": ready - existing,
        "ready_per_s": round((ready - existing) / all_ready_s, 1),
        "delivered_secrets": delivered,
        "timed_out": timed_out,
        "write_errors": len(errors),
        "operator_log_problems": problems,
        "wall_s": round(wall, 1),
        "machine": bl.machine(),
    }
    rows = [
        ("operator RSS idle (0 connections)", f"{idle_kib / 1024:.1f} MiB"),
        (f"operator RSS with {k} Ready", f"{loaded_kib / 1024:.1f} MiB (peak VmHWM {hwm_kib / 1024:.1f} MiB)"),
        ("per connection", f"{per_conn_kib:.1f} KiB"),
        (f"write {k} CRs + companions (8 threads)", f"{writes_s:.1f} s"),
        (f"time until all {k} Ready (from first write)", f"{all_ready_s:.1f} s" + (" TIMED OUT" if timed_out else "")),
        ("Ready when the last write returned", f"{ready_when_written}"),
        (
            "write -> Ready per connection p50 / p95 / max",
            " / ".join(str(figures[f"write_to_ready_{p}_s"]) for p in ("p50", "p95", "max")) + " s",
        ),
        ("Ready / delivered Secrets", f"{ready - existing} / {delivered}"),
        ("operator log warnings/errors", str(sum(problems.values()))),
        ("wall time (incl. stack up/down)", f"{wall:.0f} s"),
    ]
    bl.table(rows, f"operator memory ({k} connections, {bl.machine()['cpus']} cpus)")
    for e in errors[:10]:
        print(f"WRITE ERROR {e}", file=sys.stderr)
    bl.emit(figures)
    return 1 if timed_out or errors or delivered != k else 0


def cleanup(client: Client) -> None:
    """--keep-stack: remove what this run added, so the next run starts from idle again."""
    for obj in list(client.list(ServiceConnection, namespace=contract.SYSTEM_NAMESPACE)):
        name = obj.metadata.name if obj.metadata else None
        if name and name.startswith("mem"):
            kconn.delete(client, name)
    bl.delete_namespace(client, NAMESPACE)


if __name__ == "__main__":
    sys.exit(main())
