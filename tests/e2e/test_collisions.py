"""Issue 16, finding 1, at the level it was found (REST PUTs on a real `servicelinker serve`): connections whose
names normalise alike never share a Kubernetes object.

`coll_x` (PostgreSQL, one namespace) then `collx` (Redis, another): both deliver their own Secret, both validate,
each has its own ServiceConnection, and drift in one is still repaired. In one namespace, a third connection whose
Secret name would be the same (`coll.x` -> `sc-collx-secret`) is refused with 409 naming the owner, and leaves
nothing.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Secret

from localcloud.devstack import localcloud
from localcloud.devstack.config import StackConfig
from servicelinker.kube.client import ServiceConnection
from servicelinker.kube.contract import SYSTEM_NAMESPACE, resource_name
from tests.e2e.conftest import drop_pg_database, make_pg_database, run_consumer
from tests.e2e.test_connections import secret_exists, wait_for
from tests.support.api_server import ApiServer

pytestmark = pytest.mark.e2e

PORT_BASE = int(os.environ.get("SL_TEST_PORT_BASE", "28000"))
VERSION = {"api-version": "2024-04-01"}
IDS = localcloud.resource_ids()
LINKERS = f"{IDS['kube']}/providers/Microsoft.ServiceLinker/linkers"


@pytest.fixture(scope="module")
def server(devstack: dict[str, Any], stack_config: StackConfig) -> Iterator[ApiServer]:
    srv = ApiServer(stack_config.state_dir, PORT_BASE + 58, insecure_dev=True, tls=False)
    yield srv
    srv.stop()


def _namespace(kube: Client) -> str:
    name = f"coll-{uuid.uuid4().hex[:6]}"
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    return name


def _finish(http: httpx.Client, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202, 204), response.text
    if "Azure-AsyncOperation" not in response.headers:
        return {"status": "Succeeded"}
    url = response.headers["Azure-AsyncOperation"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status: dict[str, Any] = http.get(url).json()
        if status["status"] in ("Succeeded", "Failed", "Canceled"):
            assert status["status"] == "Succeeded", status
            return status
        time.sleep(0.3)
    raise AssertionError(f"{url} did not end")


def _validate(http: httpx.Client, name: str) -> dict[str, Any]:
    response = http.post(f"{LINKERS}/{name}/validateLinker", params=VERSION)
    _finish(http, response)
    result: dict[str, Any] = http.get(response.headers["Location"]).json()
    return result


def _data(kube: Client, namespace: str, name: str) -> dict[str, str]:
    secret = kube.get(Secret, name, namespace=namespace)
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def test_names_that_normalise_alike_get_their_own_objects(
    server: ApiServer, kube: Client, devstack: dict[str, Any]
) -> None:
    shop, other = _namespace(kube), _namespace(kube)
    db = make_pg_database(devstack)
    pg = {"properties": {"targetService": {"type": "AzureResource", "id": f"{IDS['postgres']}/databases/{db.name}"},
                         "authInfo": {"authType": "secret", "name": db.user,
                                      "secretInfo": {"secretType": "rawValue", "value": db.password}},
                         "clientType": "python", "scope": shop}}  # fmt: skip
    redis = {"properties": {"targetService": {"type": "AzureResource", "id": f"{IDS['redis']}/databases/0"},
                            "authInfo": {"authType": "secret"}, "clientType": "python", "scope": other}}  # fmt: skip
    try:
        with server.client(timeout=120) as http:
            _finish(http, http.put(f"{LINKERS}/coll_x", params=VERSION, json=pg))
            _finish(http, http.put(f"{LINKERS}/collx", params=VERSION, json=redis))

            for name in ("coll_x", "collx"):
                result = _validate(http, name)
                assert result["properties"]["isConnectionAvailable"] is True, result
            pg_data, redis_data = _data(kube, shop, "sc-collx-secret"), _data(kube, other, "sc-collx-secret")
            assert set(pg_data) == {"AZURE_POSTGRESQL_CONNECTIONSTRING"}
            assert set(redis_data) == {"AZURE_REDIS_CONNECTIONSTRING"}
            assert run_consumer("postgres-flexible", pg_data)["read"]
            assert run_consumer("redis", redis_data)["read"]

            # one ServiceConnection each, named from the whole linker id
            names = {c.metadata.name for c in kube.list(ServiceConnection, namespace=SYSTEM_NAMESPACE)}
            mine = {resource_name(f"{LINKERS}/{n}", n) for n in ("coll_x", "collx")}
            assert len(mine) == 2 and mine <= names

            # drift in the first is still repaired (the second no longer overwrites its object)
            kube.delete(Secret, "sc-collx-secret", namespace=shop)
            assert wait_for(lambda: secret_exists(kube, shop, "sc-collx-secret")), "not restored"
            assert _data(kube, shop, "sc-collx-secret") == pg_data

            # the same Secret name in the same namespace: refused, nothing written
            clash = {"properties": {**redis["properties"], "scope": shop}}
            before = {c.metadata.name for c in kube.list(ServiceConnection, namespace=SYSTEM_NAMESPACE)}
            refused = http.put(f"{LINKERS}/coll.x", params=VERSION, json=clash)
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["code"] == "Conflict" and "coll_x" in error["message"], error
            assert http.get(f"{LINKERS}/coll.x", params=VERSION).status_code == 404
            assert {c.metadata.name for c in kube.list(ServiceConnection, namespace=SYSTEM_NAMESPACE)} == before
            assert _data(kube, shop, "sc-collx-secret") == pg_data

            for name in ("coll_x", "collx"):
                _finish(http, http.delete(f"{LINKERS}/{name}", params=VERSION))
    finally:
        drop_pg_database(devstack, db.name)
