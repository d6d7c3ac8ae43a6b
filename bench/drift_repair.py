"""Drift repair: with one connection Ready (PostgreSQL flexible, secret auth, created through the Engine), delete its
delivered Secret R times, and separately overwrite one of its values R times; each time, measure from the moment the
delete/patch request is sent until a watch on that Secret shows it restored to exactly the delivered data.

Baseline in the same run: the API server's own latency for creating a Secret of the same size (request to response,
p50), and, closer to what the repair path includes, from a create request to its ADDED event on the same watch.
Prints repair_p50 / api_write_p50. Also reports the operator's own figure from its log ("written N ms after the
event": watch event received -> repaired object written).

    .venv/bin/python bench/drift_repair.py [--quick] [--keep-stack]     (--quick: R = 5; full: R = 20)
"""

from __future__ import annotations

import queue
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib as bl
from lightkube import ApiError, Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from servicelinker.catalog import naming

NAMESPACE = "bench-drift"
SETTLE = 0.3  # seconds between trials, so one repair never overlaps the next trial
TRIAL_TIMEOUT = 30.0
_OPERATOR_LINE = re.compile(r"written (\d+) ms after the event")


class SecretWatch:
    """A watch on the Secrets of one namespace in a daemon thread; events are queued with their arrival time."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.events: queue.Queue[tuple[float, str, str, dict[str, str] | None]] = queue.Queue()
        listing = client.list(Secret, namespace=namespace)
        for _ in listing:
            pass
        self._version = listing.resourceVersion
        self._client, self._namespace = client, namespace
        threading.Thread(target=self._run, name="secret-watch", daemon=True).start()

    def _run(self) -> None:
        try:
            for kind, obj in self._client.watch(Secret, namespace=self._namespace, resource_version=self._version):
                name = obj.metadata.name if obj.metadata else ""
                self.events.put((time.perf_counter(), kind, name or "", dict(obj.data or {})))
        except Exception:  # the stack went down at the end of the run
            return

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    def wait_for(self, name: str, kinds: tuple[str, ...], data: dict[str, str] | None, timeout: float) -> float:
        """perf_counter() of the first event on `name` of one of `kinds` (with exactly `data`, if given)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {'/'.join(kinds)} of {name} within {timeout:g}s")
            try:
                when, kind, ev_name, ev_data = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev_name == name and kind in kinds and (data is None or ev_data == data):
                return when


def _operator_latencies(log_path: Path, offset: int) -> list[float]:
    with log_path.open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return [float(m.group(1)) for m in _OPERATOR_LINE.finditer(text)]


def main() -> int:
    args = bl.parse_args(__doc__ or "")
    rounds = 5 if args.quick else 20
    started = time.monotonic()
    failures: list[str] = []
    with bl.running_stack(args.keep_stack) as bs:
        kube = bs.kube()
        bl.ensure_namespace(kube, NAMESPACE)
        account = bl.create_pg_account(bs)
        name = f"drift_{time.strftime('%H%M%S')}"
        eng = bs.engine()
        op = eng.run(eng.begin_create_or_update(bl.linker_id(name), bl.postgres_body(account, NAMESPACE)).id)
        if op.status != "Succeeded":
            raise SystemExit(f"create failed: {op.error}")
        secret_name = naming.secret_name(name)
        delivered = kube.get(Secret, secret_name, namespace=NAMESPACE)
        expected: dict[str, str] = dict(delivered.data or {})
        edit_key = sorted(expected)[0]
        bl.log(f"connection {name} Ready; Secret {NAMESPACE}/{secret_name} has {len(expected)} keys")

        log_path = bs.cfg.state_dir / "logs" / "sc-operator.log"
        log_offset = log_path.stat().st_size
        watch = SecretWatch(kube, NAMESPACE)
        time.sleep(SETTLE)

        def trial(what: str, action: Any, kinds: tuple[str, ...]) -> float | None:
            watch.drain()
            t0 = time.perf_counter()
            try:
                action()
                return watch.wait_for(secret_name, kinds, expected, TRIAL_TIMEOUT) - t0
            except (TimeoutError, ApiError) as exc:
                failures.append(f"{what}: {exc}")
                return None
            finally:
                time.sleep(SETTLE)

        deletes: list[float] = []
        edits: list[float] = []
        for i in range(rounds):
            took = trial(f"delete #{i}", lambda: kube.delete(Secret, secret_name, namespace=NAMESPACE), ("ADDED",))
            if took is not None:
                deletes.append(took)
        for i in range(rounds):
            patch = {"data": {edit_key: bl.b64(f"tampered-{i}")}}

            def edit(patch: dict[str, Any] = patch) -> None:
                kube.patch(Secret, secret_name, patch, namespace=NAMESPACE, patch_type=PatchType.MERGE)

            took = trial(f"edit #{i}", edit, ("MODIFIED",))
            if took is not None:
                edits.append(took)
        operator_ms = _operator_latencies(log_path, log_offset)

        # baseline: the API server creating a Secret of the same size (round trip, and until the watch sees it)
        api_write: list[float] = []
        api_seen: list[float] = []
        for i in range(rounds):
            probe = f"bench-probe-{i}"
            body = Secret(metadata=ObjectMeta(name=probe, namespace=NAMESPACE), type="Opaque", data=expected)
            watch.drain()
            t0 = time.perf_counter()
            kube.create(body)
            api_write.append(time.perf_counter() - t0)
            api_seen.append(watch.wait_for(probe, ("ADDED",), None, TRIAL_TIMEOUT) - t0)
            kube.delete(Secret, probe, namespace=NAMESPACE)
            time.sleep(SETTLE)
        if args.keep_stack:
            bl.delete_namespace(kube, NAMESPACE)

    wall = time.monotonic() - started
    api50 = bl.percentile(api_write, 50)
    seen50 = bl.percentile(api_seen, 50)
    figures: dict[str, Any] = {"bench": "drift_repair", "rounds": rounds}
    rows: list[tuple[str, str]] = []
    for label, values in (("delete", deletes), ("edit", edits)):
        p50, p95 = bl.percentile(values, 50), bl.percentile(values, 95)
        figures[label] = {
            "repair_p50_ms": bl.ms(p50),
            "repair_p95_ms": bl.ms(p95),
            "repaired": len(values),
            "ratio_repair_p50_over_api_write_p50": round(p50 / api50, 1),
            "ratio_repair_p50_over_api_create_seen_p50": round(p50 / seen50, 1),
        }
        rows.append(
            (f"{label} -> restored p50 / p95", f"{bl.ms(p50):.1f} / {bl.ms(p95):.1f} ms ({len(values)}/{rounds})")
        )
        rows.append((f"{label}: ratio repair_p50 / api_write_p50", f"{p50 / api50:.1f}x"))
    figures.update(
        {
            "api_write_p50_ms": bl.ms(api50),
            "api_write_p95_ms": bl.ms(bl.percentile(api_write, 95)),
            "api_create_to_watch_p50_ms": bl.ms(seen50),
            "operator_event_to_write_p50_ms": round(bl.percentile(operator_ms, 50), 1) if operator_ms else None,
            "operator_repairs_logged": len(operator_ms),
            "failures": len(failures),
            "wall_s": round(wall, 1),
            "machine": bl.machine(),
        }
    )
    rows += [
        ("API server: create Secret p50 (round trip)", f"{bl.ms(api50):.1f} ms"),
        ("API server: create -> ADDED on watch p50", f"{bl.ms(seen50):.1f} ms"),
        (
            "operator's own: event -> repaired write p50",
            f"{figures['operator_event_to_write_p50_ms']} ms ({len(operator_ms)} logged)",
        ),
        ("failures", str(len(failures))),
        ("wall time (incl. stack up/down)", f"{wall:.0f} s"),
    ]
    bl.table(rows, f"drift repair ({rounds} deletes + {rounds} edits, {bl.machine()['cpus']} cpus)")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    bl.emit(figures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
