"""What the benchmarks share: their own dev stack (port block 29500, a temporary state directory), an in-process
Engine built the way the CLI builds it, request bodies built the way the CLI builds them, the "raw" baseline objects
(the same companion Secret, ServiceConnection and delivered Secret, written straight to the API server), and
output (a short table for humans, then one JSON line of figures).

Importing this module sets SL_PORT_BASE and SL_STATE_DIR in the process environment *before* anything reads them
(Ports() defaults, the cloud profile, the operator process the stack spawns), so nothing here touches a developer's
stack (27000), the test stack (28000) or another engineer's (29000).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PORT_BASE = 29500  # this benchmark suite owns 29500-29599
KEEP_STATE_DIR = Path(tempfile.gettempdir()) / f"sl-bench-{PORT_BASE}"
TEMP_PREFIX = "sl-bench-stack-"

os.environ["SL_PORT_BASE"] = str(PORT_BASE)
_LOAD_AT_START = os.getloadavg()[0]

from lightkube import ApiError, Client, KubeConfig  # noqa: E402
from lightkube.models.meta_v1 import ObjectMeta  # noqa: E402
from lightkube.resources.core_v1 import Namespace, Secret  # noqa: E402

from localcloud.devstack import localcloud, postgres, stack  # noqa: E402
from localcloud.devstack.config import Ports, StackConfig  # noqa: E402
from servicelinker.catalog import naming  # noqa: E402
from servicelinker.catalog.targets import get_target  # noqa: E402
from servicelinker.cli.aks_create import build_body  # noqa: E402
from servicelinker.engine.factory import Engines  # noqa: E402
from servicelinker.engine.service import ConnectionEngine  # noqa: E402
from servicelinker.kube import connections as kconn  # noqa: E402
from servicelinker.kube import contract, extension  # noqa: E402
from servicelinker.kube.client import ServiceConnection  # noqa: E402
from servicelinker.model.ids import format_connection_id  # noqa: E402
from servicelinker.model.linker import LinkerResource  # noqa: E402

FIELD_MANAGER = "servicelinker-bench"
#: build_body looks identities up only for --workload-identity/--service-principal, which no bench body uses.
_NO_LOOKUPS: Any = None
CLUSTER_ID = localcloud.resource_ids()["kube"]


# ------------------------------------------------------------------------------------------------------ arguments


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small N (CI smoke run)")
    parser.add_argument(
        "--keep-stack",
        action="store_true",
        help=f"use (or start) the stack in {KEEP_STATE_DIR} and leave it running; "
        "`python bench/_benchlib.py down` stops it",
    )
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------------------- stack


@dataclass
class BenchStack:
    cfg: StackConfig
    desc: dict[str, Any]
    reused: bool

    @property
    def kubeconfig(self) -> str:
        return str(self.desc["services"]["kube"]["kubeconfig"])

    def service(self, name: str) -> dict[str, Any]:
        svc: dict[str, Any] = self.desc["services"][name]
        return svc

    def kube(self) -> Client:
        return Client(KubeConfig.from_file(self.kubeconfig), field_manager=FIELD_MANAGER)

    def engine(self, ready_timeout: float = 120.0) -> ConnectionEngine:
        """As `cli.common.engine()` builds it: the local cloud and the SQLite store in the state directory."""
        return Engines(self.cfg.product_settings(ready_timeout=ready_timeout)).for_caller(None)

    def operator_pid(self) -> int:
        rec = json.loads((self.cfg.state_dir / "run" / "sc-operator.json").read_text())
        return int(rec["pid"])


def _config(state_dir: Path) -> StackConfig:
    os.environ["SL_STATE_DIR"] = str(state_dir)
    return StackConfig(state_dir=state_dir, ports=Ports(base=PORT_BASE))


def _remove(cfg: StackConfig) -> None:
    postgres.remove_private_data(cfg)
    shutil.rmtree(cfg.state_dir, ignore_errors=True)


@contextlib.contextmanager
def running_stack(keep: bool) -> Iterator[BenchStack]:
    """A whole dev stack on ports 29500-29599; torn down (processes stopped, data removed) unless `keep`."""
    state = KEEP_STATE_DIR if keep else Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    cfg = _config(state)
    reused = keep and stack.load_description(cfg).get("services", {}).get("kube") is not None
    t0 = time.monotonic()
    try:
        desc = stack.up(cfg)
        log(f"dev stack up in {time.monotonic() - t0:.1f}s (state {state}, port base {PORT_BASE})")
        yield BenchStack(cfg, desc, reused)
    finally:
        if not keep:
            stopped = stack.down(cfg)
            _remove(cfg)
            log(f"dev stack down ({len(stopped)} processes stopped), {state} removed")


def stop_kept_stack() -> None:
    cfg = _config(KEEP_STATE_DIR)
    stopped = stack.down(cfg)
    _remove(cfg)
    print(f"stopped {', '.join(stopped) or 'nothing'}; removed {KEEP_STATE_DIR}")


def ensure_namespace(client: Client, name: str) -> None:
    try:
        client.create(Namespace(metadata=ObjectMeta(name=name)))
    except ApiError as exc:
        if exc.status.code != 409:
            raise


def install_extension(bs: BenchStack, timeout: float = 60.0) -> float:
    """sc-extension installed (as the first create does) and the operator's heartbeat seen; returns seconds."""
    t0 = time.monotonic()
    extension.install_or_upgrade(bs.kubeconfig, "external")
    deadline = time.monotonic() + timeout
    while True:
        status = extension.status(bs.kubeconfig, CLUSTER_ID, "external")
        beat = next(s for s in status.statuses if s.code == "OperatorHeartbeat")
        if beat.level != "Error":
            return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise RuntimeError(f"operator heartbeat not seen within {timeout:g}s: {beat.message}")
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class PgAccount:
    database: str
    user: str
    password: str


def create_pg_account(bs: BenchStack, database: str = "benchdb", user: str = "benchuser") -> PgAccount:
    """A real database and login on sl-postgres, made with the admin credentials in stack.json."""
    import psycopg
    from psycopg import sql

    password = secrets.token_urlsafe(18)
    info = postgres.admin_conninfo(bs.service("postgres"))
    with psycopg.connect(**info, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user)))
    return PgAccount(database, user, password)


def linker_id(name: str) -> str:
    return format_connection_id(CLUSTER_ID, name)


def postgres_body(account: PgAccount, namespace: str, client_type: str = "python") -> LinkerResource:
    """What `aks connection create postgres-flexible -g sl-dev -n sl-aks --tg sl-dev --server sl-postgres
    --database <db> --secret name=<user> secret=<pw> --client-type python --kube-namespace <ns>` sends."""
    opts = {
        "resource_group": localcloud.RESOURCE_GROUP,
        "target_resource_group": localcloud.RESOURCE_GROUP,
        "server": "sl-postgres",
        "database": account.database,
        "secret": [f"name={account.user}", f"secret={account.password}"],
        "client_type": client_type,
        "kube_namespace": namespace,
    }
    return build_body(_NO_LOOKUPS, get_target("postgres-flexible"), opts, CLUSTER_ID, None)


def redis_body(namespace: str, client_type: str = "python") -> LinkerResource:
    """`aks connection create redis ... --server sl-redis --database 0 --secret --client-type python`."""
    opts = {
        "resource_group": localcloud.RESOURCE_GROUP,
        "target_resource_group": localcloud.RESOURCE_GROUP,
        "server": "sl-redis",
        "database": "0",
        "secret": ["__bare__"],
        "client_type": client_type,
        "kube_namespace": namespace,
    }
    return build_body(_NO_LOOKUPS, get_target("redis"), opts, CLUSTER_ID, None)


# ---------------------------------------------------------------------------------------------------- raw objects


@dataclass(frozen=True)
class RawTemplate:
    """The three objects one connection puts into the cluster, read back from a real one (values included),
    so the baseline writes exactly the same bytes under other names."""

    credentials: dict[str, str]  # companion Secret data (base64)
    spec: dict[str, Any]  # ServiceConnection spec
    delivered: dict[str, str]  # delivered Secret data (base64)
    delivered_annotations: dict[str, str]


def capture_template(client: Client, connection_name: str) -> RawTemplate:
    resource = kconn.resource_name_for(linker_id(connection_name), connection_name)
    cr = client.get(ServiceConnection, resource, namespace=contract.SYSTEM_NAMESPACE).to_dict()
    spec: dict[str, Any] = dict(cr["spec"])
    creds: dict[str, str] = {}
    if spec.get("credentialsSecretName"):
        companion = client.get(Secret, spec["credentialsSecretName"], namespace=contract.SYSTEM_NAMESPACE)
        creds = dict(companion.data or {})
    delivered = client.get(Secret, spec["secretName"], namespace=spec["targetNamespace"])
    annotations = dict((delivered.metadata.annotations if delivered.metadata else None) or {})
    return RawTemplate(creds, spec, dict(delivered.data or {}), annotations)


def raw_objects(template: RawTemplate, name: str, namespace: str) -> list[Any]:
    """Companion Secret, ServiceConnection and delivered Secret named after `name`, all in `namespace` (not
    sc-system: the operator must not reconcile them, and nothing points back to a real connection)."""
    resource = f"{name}-0000cafe"
    companion_name = contract.credentials_secret_name(resource)
    labels = {contract.MANAGED_BY_LABEL: contract.MANAGED_BY}
    spec = {
        **template.spec,
        "connectionName": name,
        "targetNamespace": namespace,
        "secretName": naming.secret_name(name),
        **({"credentialsSecretName": companion_name} if template.credentials else {}),
    }
    objs: list[Any] = []
    if template.credentials:
        objs.append(
            Secret(
                metadata=ObjectMeta(
                    name=companion_name,
                    namespace=namespace,
                    labels={**labels, contract.CREDENTIALS_FOR_LABEL: resource},
                    annotations={contract.CONNECTION_ID_ANNOTATION: template.spec["connectionId"]},
                ),
                type="Opaque",
                data=template.credentials,
            )
        )
    objs.append(
        ServiceConnection.from_dict(
            {
                "apiVersion": contract.API_VERSION,
                "kind": contract.KIND,
                "metadata": {
                    "name": resource,
                    "namespace": namespace,
                    "labels": labels,
                    "annotations": {contract.CONNECTION_ID_ANNOTATION: template.spec["connectionId"]},
                },
                "spec": spec,
            }
        )
    )
    objs.append(
        Secret(
            metadata=ObjectMeta(
                name=naming.secret_name(name),
                namespace=namespace,
                labels=labels,
                annotations={
                    **template.delivered_annotations,
                    # same length class as the real ref, but not in sc-system: the operator ignores it
                    contract.CONNECTION_REF_ANNOTATION: f"{namespace}/{resource}",
                },
            ),
            type="Opaque",
            data=template.delivered,
        )
    )
    return objs


def apply_all(client: Client, objs: Sequence[Any]) -> None:
    """Server-side apply, as the engine (companion, CR) and the operator (delivered Secret) write them."""
    for obj in objs:
        client.apply(obj, field_manager=FIELD_MANAGER, force=True)


def delete_namespace(client: Client, name: str) -> None:
    with contextlib.suppress(ApiError):
        client.delete(Namespace, name)


def log_offset(bs: BenchStack, name: str = "sc-operator") -> int:
    path = bs.cfg.state_dir / "logs" / f"{name}.log"
    return path.stat().st_size if path.exists() else 0


def log_problems(bs: BenchStack, offset: int, name: str = "sc-operator") -> dict[str, int]:
    """WARNING/ERROR/Traceback lines a process logged since `offset`, counted by their text (ids stripped)."""
    path = bs.cfg.state_dir / "logs" / f"{name}.log"
    if not path.exists():
        return {}
    with path.open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    found: dict[str, int] = {}
    for line in text.splitlines():
        m = re.search(r"\b(WARNING|ERROR|CRITICAL)\b(.*)|^(Traceback).*", line)
        if not m:
            continue
        what = (m.group(1) or m.group(3)) + (m.group(2) or "")
        what = re.sub(r"[a-z0-9]+-[0-9a-f]{8}\b", "<name>", what)  # ServiceConnection names
        what = re.sub(r"\d+", "N", what)[:160]
        found[what] = found.get(what, 0) + 1
    return dict(sorted(found.items(), key=lambda kv: -kv[1])[:10])


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


# --------------------------------------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank-interpolated percentile (statistics.quantiles, inclusive method); p in 0..100."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    q = statistics.quantiles(sorted(values), n=100, method="inclusive")
    if p <= 0:
        return float(min(values))
    if p >= 100:
        return float(max(values))
    return float(q[int(p) - 1])


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        # other work on this machine (2 cores shared with other engineers' stacks and tests) skews the figures
        "loadavg_1m_start": round(_LOAD_AT_START, 2),
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def table(rows: Sequence[tuple[str, str]], title: str) -> None:
    width = max(len(k) for k, _ in rows)
    print(title)
    print("-" * len(title))
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def emit(figures: dict[str, Any]) -> None:
    print(json.dumps(figures, sort_keys=False), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["down"]:
        stop_kept_stack()
    else:
        print("usage: python bench/_benchlib.py down   (stops the stack --keep-stack left running)")
