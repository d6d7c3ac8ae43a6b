"""Two `servicelinker serve` processes on one PostgreSQL store take 100 creates concurrently over HTTP: every
connection is PUT to both servers at once, and exactly 100 linkers result, all delivered, none duplicated or lost.

Ports: SL_TEST_PORT_BASE +60 and +61.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Secret

from localcloud.devstack.config import StackConfig
from tests.support.api_server import ApiServer

pytestmark = pytest.mark.integration

SUB = "00000000-0000-0000-0000-000000000000"
SOURCE = f"/subscriptions/{SUB}/resourceGroups/sl-dev/providers/Microsoft.ContainerService/managedClusters/sl-aks"
REDIS = f"/subscriptions/{SUB}/resourceGroups/sl-dev/providers/Microsoft.Cache/redis/sl-redis/databases/0"
API = "api-version=2024-04-01"
N = 100


@pytest.fixture(scope="module")
def store_url(devstack: dict[str, Any]) -> str:
    pg = devstack["services"]["postgres"]
    name = f"slstore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host=pg["host"], port=pg["port"], user=pg["adminUser"], password=pg["password"],
                         dbname="postgres", autocommit=True) as conn:  # fmt: skip
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{pg['adminUser']}:{pg['password']}@{pg['host']}:{pg['port']}/{name}"


@pytest.fixture(scope="module")
def servers(devstack: dict[str, Any], stack_config: StackConfig, store_url: str) -> Iterator[list[ApiServer]]:
    base = int(os.environ.get("SL_TEST_PORT_BASE", "28000"))
    env = {"SL_STORE_KEYS": Fernet.generate_key().decode(), "SL_READY_TIMEOUT": "120"}  # one key for both replicas
    started: list[ApiServer] = []
    try:
        for port in (base + 60, base + 61):
            started.append(ApiServer(stack_config.state_dir, port, insecure_dev=True, tls=False, workers=3,
                                     extra_env=env, extra_args=["--store-url", store_url]))  # fmt: skip
        yield started
    finally:
        for srv in started:
            srv.stop()


def _put(client: httpx.Client, name: str, namespace: str) -> str:
    body = {"properties": {"targetService": {"type": "AzureResource", "id": REDIS}, "authInfo": {"authType": "secret"},
                           "clientType": "python", "scope": namespace}}  # fmt: skip
    r = client.put(f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers/{name}?{API}", json=body)
    assert r.status_code in (200, 201), r.text
    return str(r.headers["Azure-AsyncOperation"])


def _wait(client: httpx.Client, url: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(url).json()
        if status["status"] in ("Succeeded", "Failed", "Canceled"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"operation {url} did not end")


def test_two_servers_one_postgresql_store_100_concurrent_creates(
    servers: list[ApiServer], devstack: dict[str, Any], store_url: str
) -> None:
    kube = Client(KubeConfig.from_file(devstack["services"]["kube"]["kubeconfig"]))
    namespace = f"two-{uuid.uuid4().hex[:6]}"
    kube.create(Namespace(metadata=ObjectMeta(name=namespace)))
    clients = [httpx.Client(base_url=s.url, timeout=120) for s in servers]
    # The extension is installed once up front, as a cluster's first connection does.
    first = _wait(clients[0], _put(clients[0], "warmup", namespace))
    assert first["status"] == "Succeeded", first

    names = [f"conn_{i:03d}" for i in range(N)]
    jobs = [(clients[i % 2], name) for name in names for i in (0, 1)]  # every name PUT to both servers
    with ThreadPoolExecutor(16) as pool:
        urls = list(pool.map(lambda job: (job[0], _put(job[0], job[1], namespace)), jobs))
        ended = list(pool.map(lambda cu: _wait(*cu), urls))
    failed = [e for e in ended if e["status"] != "Succeeded"]
    assert not failed, failed[:3]

    listed = clients[0].get(f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers?{API}").json()["value"]
    mine = sorted(v["name"] for v in listed if v["name"].startswith("conn_"))
    assert mine == names  # none lost, none duplicated
    assert clients[1].get(f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers?{API}").json()["value"] == listed
    with psycopg.connect(store_url) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT key) FROM linkers WHERE name LIKE 'conn_%'").fetchone()
        ops = conn.execute("SELECT count(*) FROM operations WHERE kind IN ('create', 'update') "
                           "AND status = 'Succeeded'").fetchone()  # fmt: skip
    assert rows == (N, N)
    assert ops is not None and ops[0] == 2 * N + 1  # every PUT's operation ran to Succeeded (plus the warm-up)
    hosts = {httpx.URL(url).port for _, url in urls}
    assert hosts == {s.port for s in servers}, "both servers accepted creates and served their operations"
    secrets = {s.metadata.name for s in kube.list(Secret, namespace=namespace) if s.metadata and s.metadata.name}
    assert {f"sc-conn{i:03d}-secret" for i in range(N)} <= secrets
    for c in clients:
        c.close()
