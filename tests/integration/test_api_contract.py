"""Microsoft's published specification (Microsoft.ServiceLinker 2024-04-01 servicelinker.json) is the contract.

The test walks the spec: every linker, dryrun (under a source and under a location), configurationNames and
operations operation is called on a real `servicelinker serve` over the dev stack (the connectors, the location-
scoped twin of linkers, are out of scope), in an order that makes each meaningful (create before get, validate
before delete). For each response:

* the route is served: never a 404 InvalidResourceType/NotFound nor a 405 for the path itself;
* the status is one the spec lists for the operation (errors: its `default`);
* the body validates against the spec's schema for that status, with `$ref`s resolved into common-types, Swagger's
  polymorphism honoured (a `discriminator` base validates as the variant its discriminator value names) and
  `modelAsString` enums open, as AutoRest clients treat them.

LRO bodies that the spec types only through the final state (the validation result behind the Location) are
validated too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from localcloud.devstack import localcloud
from localcloud.devstack.config import StackConfig
from localcloud.inventory import LOCAL_SUBSCRIPTION
from tests.support.api_server import ApiServer
from tests.support.rest_spec import REST_SPEC, SpecSet

PORT_BASE = int(os.environ.get("SL_TEST_PORT_BASE", "28000"))
#: Microsoft's published specification, vendored with its license (tests/data/rest-spec/README.md, LICENSE).
SPEC_DIR = REST_SPEC / "Microsoft.ServiceLinker" / "ServiceLinker" / "stable" / "2024-04-01"
SPEC = SPEC_DIR / "servicelinker.json"
COMMON_REF = "../../../../../../common-types/resource-management/v3/types.json"
pytestmark = pytest.mark.integration
VERSION = "2024-04-01"
SOURCE = localcloud.resource_ids()["kube"]
REDIS_DB = localcloud.resource_ids()["redis"] + "/databases/0"
LINKER = "contract_redis"
DRYRUN = "contract_dry"
METHODS = ("get", "put", "patch", "post", "delete")


# ------------------------------------------------------------------------------------------------- the spec


class Contract:
    """The ServiceLinker 2024-04-01 swagger, through the shared validator (tests/support/rest_spec.py: open enums,
    write-only secrets, discriminator polymorphism, cross-file `$ref`s into common-types)."""

    def __init__(self) -> None:
        self.specs = SpecSet.load(REST_SPEC)
        self.file = self.specs.file(SPEC.relative_to(REST_SPEC).as_posix())
        self.spec = self.file.doc
        self.spec_uri = self.file.uri

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        out = []
        for path, item in self.spec["paths"].items():
            if "/connectors" in path:
                continue  # location-scoped connectors: out of scope (no source resource)
            for method in METHODS:
                if method in item:
                    out.append((method, path, item[method]))
        return out

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        """Validation errors of `instance` against a response schema of the spec (its `$ref`s from the spec)."""
        return self.specs.validate(schema, instance, base_uri=self.spec_uri)


# ------------------------------------------------------------------------------------------------- requests

LINKER_BODY = {
    "properties": {
        "targetService": {"type": "AzureResource", "id": REDIS_DB},
        "authInfo": {"authType": "secret"},
        "clientType": "python",
        "scope": "default",
    }
}
DRYRUN_BODY = {"properties": {"parameters": {"actionName": "createOrUpdate", **LINKER_BODY["properties"]}}}
BODIES: dict[str, Any] = {
    "Linker_CreateOrUpdate": LINKER_BODY,
    "Linker_Update": {"properties": {"clientType": "python"}},
    "Linkers_GenerateConfigurations": {"customizedKeys": {"AZURE_REDIS_CONNECTIONSTRING": "REDIS_URL"}},
    "Linkers_CreateDryrun": DRYRUN_BODY,
    "Linkers_UpdateDryrun": {"properties": {"parameters": {"actionName": "createOrUpdate", "clientType": "java"}}},
    "Connector_CreateDryrun": DRYRUN_BODY,
    "Connector_UpdateDryrun": {"properties": {"parameters": {"actionName": "createOrUpdate", "clientType": "java"}}},
}
#: The order that makes every call meaningful; anything else in the spec runs after these.
ORDER = [
    "Operations_List", "ConfigurationNames_List",
    "Linker_CreateOrUpdate", "Linker_Get", "Linker_List", "Linker_Update", "Linker_ListConfigurations",
    "Linkers_GenerateConfigurations", "Linker_Validate", "Linkers_ListDaprConfigurations",
    "Linkers_CreateDryrun", "Linkers_GetDryrun", "Linkers_ListDryrun", "Linkers_UpdateDryrun", "Linkers_DeleteDryrun",
    "Connector_CreateDryrun", "Connector_GetDryrun", "Connector_ListDryrun", "Connector_UpdateDryrun",
    "Connector_DeleteDryrun",
    "Linker_Delete",
]  # fmt: skip
VALUES = {
    "resourceUri": SOURCE.lstrip("/"),
    "linkerName": LINKER,
    "dryrunName": DRYRUN,
    "subscriptionId": LOCAL_SUBSCRIPTION,
    "resourceGroupName": localcloud.RESOURCE_GROUP,
    "location": "local",
}


def _url(path: str) -> str:
    for key, value in VALUES.items():
        path = path.replace("{" + key + "}", value)
    assert "{" not in path, path
    return path


def _wait(http: httpx.Client, response: httpx.Response, timeout: float = 300) -> dict[str, Any]:
    url = response.headers["Azure-AsyncOperation"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = http.get(url).json()
        if status["status"] in ("Succeeded", "Failed", "Canceled"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"operation {url} did not end in {timeout}s")


@pytest.fixture(scope="module")
def server(devstack: dict[str, Any], stack_config: StackConfig) -> Iterator[ApiServer]:
    srv = ApiServer(stack_config.state_dir, PORT_BASE + 54, insecure_dev=True, tls=False)
    yield srv
    srv.stop()


def test_every_spec_operation_is_served_and_conforms(server: ApiServer) -> None:
    contract = Contract()
    operations = {op["operationId"]: (method, path, op) for method, path, op in contract.operations()}
    assert len(operations) == 21, sorted(operations)
    order = [o for o in ORDER if o in operations] + sorted(set(operations) - set(ORDER))
    problems: list[str] = []
    seen: dict[str, int] = {}
    with server.client(timeout=120) as http:
        for op_id in order:
            method, path, op = operations[op_id]
            kwargs: dict[str, Any] = {"params": {"api-version": VERSION}}
            if op_id in BODIES:
                kwargs["json"] = BODIES[op_id]
            if op_id == "ConfigurationNames_List":
                kwargs["params"]["$filter"] = "TargetService eq 'Microsoft.Cache/redis/databases'"
            r = http.request(method.upper(), _url(path), **kwargs)
            seen[op_id] = r.status_code
            code = (r.json().get("error", {}) if r.content and r.content != b"null" and r.status_code >= 400
                    else {}).get("code")  # fmt: skip
            if r.status_code == 405 or (r.status_code == 404 and code in ("InvalidResourceType", "NotFound")):
                problems.append(f"{op_id}: {method.upper()} {path} is not served ({r.status_code} {code})")
                continue
            responses = op["responses"]
            key = str(r.status_code) if str(r.status_code) in responses else "default"
            if key == "default" and r.status_code < 400:
                problems.append(f"{op_id}: status {r.status_code} is not in the spec ({sorted(responses)})")
                continue
            if key == "default":
                problems.append(f"{op_id}: failed with {r.status_code}: {r.text[:300]}")
            schema = responses[key].get("schema")
            if schema is not None:
                for err in contract.errors(schema, r.json()):
                    problems.append(f"{op_id} {r.status_code}: {err}")
            if r.status_code in (201, 202) and "Azure-AsyncOperation" in r.headers:
                final = _wait(http, r)
                if final["status"] != "Succeeded":
                    problems.append(f"{op_id}: operation ended {final['status']}: {final.get('error')}")
                if op_id == "Linker_Validate":
                    result = http.get(r.headers["Location"])
                    assert result.status_code == 200, result.text
                    for err in contract.errors(responses["200"]["schema"], result.json()):
                        problems.append(f"{op_id} final result: {err}")
    assert not problems, "\n".join(problems)
    assert seen["Linker_CreateOrUpdate"] == 201 and seen["Linker_Delete"] == 202 and seen["Linker_Validate"] == 202
    assert seen["Linkers_CreateDryrun"] == 201 and seen["Linkers_DeleteDryrun"] == 200


def test_error_bodies_conform(server: ApiServer) -> None:
    contract = Contract()
    error_schema = {"$ref": COMMON_REF + "#/definitions/ErrorResponse"}
    with server.client() as http:
        for url, params in [
            (f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers/absent", {"api-version": VERSION}),
            (f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers", {"api-version": "1999-01-01"}),
            (f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers", {}),
            ("/subscriptions/x/resourceGroups/y/providers/Microsoft.Web/sites/z/providers/Microsoft.ServiceLinker/"
             "linkers", {"api-version": VERSION}),
        ]:  # fmt: skip
            r = http.get(url, params=params)
            assert r.status_code in (400, 404)
            assert not contract.errors(error_schema, r.json()), r.text
