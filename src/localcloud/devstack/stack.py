"""Bringing the whole dev stack up and down, and describing it.

Each service lives in its own module (`localcloud.devstack.<name>`) exposing `SERVICE`; this module only
orders them, records what runs where in `stack.json`, and stops exactly the processes `up` started.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localcloud.devstack import process
from localcloud.devstack.base import Health, Service
from localcloud.devstack.config import StackConfig

#: Start order. Kubernetes first, data services and the token service after, then the ARM endpoint (it checks
#: the token service's tokens), the registration of everything as local-cloud resources (it reads the others'
#: descriptions and writes the cloud profile clients use), the Microsoft.ServiceLinker provider behind ARM (it
#: acts with that profile), the out-of-cluster operator and the workload-identity webhook (it reads the token
#: service's authority).
SERVICE_NAMES: tuple[str, ...] = (
    "kube",
    "postgres",
    "mariadb",
    "redis",
    "azurite",
    "keyvault",
    "tokenservice",
    "arm",
    "localcloud",
    "provider",
    "operator",
    "webhook",
)


def service(name: str) -> Service:
    module = importlib.import_module(f"localcloud.devstack.{name}")
    svc: Service = module.SERVICE
    return svc


def load_description(cfg: StackConfig) -> dict[str, Any]:
    if not cfg.description_file.exists():
        return {}
    data: dict[str, Any] = json.loads(cfg.description_file.read_text())
    return data


def _selected(only: Sequence[str] | None) -> list[str]:
    if not only:
        return list(SERVICE_NAMES)
    unknown = sorted(set(only) - set(SERVICE_NAMES))
    if unknown:
        raise ValueError(f"Unknown dev-stack service(s): {', '.join(unknown)}. Known: {', '.join(SERVICE_NAMES)}")
    return [n for n in SERVICE_NAMES if n in only]


def up(cfg: StackConfig | None = None, only: Sequence[str] | None = None) -> dict[str, Any]:
    """Start the selected services (all by default); services already healthy are left running."""
    cfg = cfg or StackConfig()
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    desc = load_description(cfg)
    desc.setdefault("stateDir", str(cfg.state_dir))
    desc.setdefault("services", {})
    timings: dict[str, float] = {}
    for name in _selected(only):
        svc = service(name)
        current = desc["services"].get(name)
        if current is not None and name != "localcloud" and svc.health(cfg, current).healthy:
            continue
        t0 = time.monotonic()
        try:
            desc["services"][name] = svc.start(cfg)
        finally:
            timings[name] = round(time.monotonic() - t0, 2)
            desc["startSeconds"] = {**desc.get("startSeconds", {}), **timings}
            process.write_json(cfg.description_file, desc)
    if "kube" in desc["services"]:
        desc["kubeconfig"] = desc["services"]["kube"]["kubeconfig"]
    desc["caBundle"] = str(write_ca_bundle(cfg, desc["services"]))
    process.write_json(cfg.description_file, desc)
    return desc


def _ca_paths(node: Any) -> list[str]:
    """Every `caCert` path in a service description, nested ones included."""
    if isinstance(node, dict):
        found = [str(v) for k, v in node.items() if k == "caCert" and v]
        return found + [p for v in node.values() for p in _ca_paths(v)]
    return []


def write_ca_bundle(cfg: StackConfig, services: dict[str, Any]) -> Path:
    """One PEM with every CA of the stack, for workloads (REQUESTS_CA_BUNDLE / SSL_CERT_FILE)."""
    paths = dict.fromkeys(p for d in services.values() for p in _ca_paths(d) if Path(p).exists())
    bundle = cfg.state_dir / "ca-bundle.pem"
    bundle.write_text("".join(Path(p).read_text() for p in paths))
    return bundle


def status(cfg: StackConfig | None = None) -> list[Health]:
    cfg = cfg or StackConfig()
    desc = load_description(cfg).get("services", {})
    out = []
    for name in SERVICE_NAMES:
        if name not in desc:
            out.append(Health(name=name, healthy=False, detail="not started"))
            continue
        try:
            out.append(service(name).health(cfg, desc[name]))
        except Exception as exc:  # a broken probe is a finding, not a crash of `status`
            out.append(Health(name=name, healthy=False, detail=f"health check failed: {exc}"))
    return out


def down(cfg: StackConfig | None = None) -> list[str]:
    """Stop every process `up` recorded, newest first; returns the names of those that were running."""
    cfg = cfg or StackConfig()
    stopped = []
    for rec in reversed(process.records(cfg.state_dir)):
        if process.stop(cfg.state_dir, rec):
            stopped.append(rec.name)
    desc = load_description(cfg)
    if desc:
        desc["services"] = {}
        process.write_json(cfg.description_file, desc)
    return stopped


def env_exports(cfg: StackConfig | None = None) -> dict[str, str]:
    """Environment variables that point tools at the running stack."""
    cfg = cfg or StackConfig()
    desc = load_description(cfg).get("services", {})
    env: dict[str, str] = {"SL_STATE_DIR": str(cfg.state_dir), "PATH_PREPEND": str(cfg.bin_dir)}
    bundle = load_description(cfg).get("caBundle")
    if bundle:
        env["SL_CA_BUNDLE"] = bundle
    for name in SERVICE_NAMES:
        if name in desc:
            env.update(desc[name].get("env", {}))
    return env
