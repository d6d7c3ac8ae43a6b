"""HTTP shape of the REST server, in-process (FastAPI TestClient) over a fake engine: api-versions, ARM errors,
LRO status codes and headers, authentication (an in-test RSA issuer), configurationNames, dryrun records, and
the checked-in OpenAPI document. The engine's behaviour itself is tested elsewhere (and end to end through the
SDK in tests/integration/test_api_sdk.py)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from servicelinker.api import openapi
from servicelinker.api.app import ApiSettings, canonical_path, create_app
from servicelinker.api.auth import InsecureDevAuthenticator, JwtAuthenticator
from servicelinker.api.routes_linkers import merge_patch
from servicelinker.api.routes_tenant import parse_filter
from servicelinker.engine import errors as engine_errors
from servicelinker.engine.context import EngineContext
from servicelinker.engine.service import ConnectionEngine
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import format_connection_id
from servicelinker.model.linker import API_VERSIONS, LinkerResource
from servicelinker.model.records import Caller, Configuration, Operation, Step
from servicelinker.store.repository import Store, StoredLinker
from tests.support.fakes import FakeCloud, FakeCluster

pytestmark = pytest.mark.unit

SUB = "00000000-0000-0000-0000-000000000000"
SOURCE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"
BASE = SOURCE + "/providers/Microsoft.ServiceLinker"
V = "2024-04-01"
TARGET = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Cache/redis/r1/databases/0"
BODY = {
    "properties": {
        "targetService": {"type": "AzureResource", "id": TARGET},
        "authInfo": {"authType": "secret"},
        "clientType": "python",
        "scope": "default",
    }
}


# ------------------------------------------------------------------------------------------------------- fakes


class FakeEngine:
    """Keeps linkers and operations in memory; operations end when the test says so. Permission checks and
    dryruns are the real engine's, over the unit-test fakes of its ports (tests/support/fakes.py)."""

    def __init__(self, world: World, principal: Caller) -> None:
        self.world = world
        self.cloud = FakeCloud(principal=principal.object_id, grants=world.grants)
        self.real = ConnectionEngine(EngineContext(cloud=self.cloud, store=world.store,
                                                   clusters=lambda _info: FakeCluster(), caller=principal))
        self.principal = principal

    def check_access(self, scope: str, action: str) -> None:
        self.cloud.check_access(scope, action)

    def put_dryrun(self, scope: str, name: str, parameters: Any, *, has_source: bool) -> tuple[dict[str, Any], bool]:
        return self.real.put_dryrun(scope, name, parameters, has_source=has_source)

    def get_dryrun(self, scope: str, name: str) -> dict[str, Any]:
        return self.real.get_dryrun(scope, name)

    def list_dryruns(self, scope: str) -> list[dict[str, Any]]:
        return self.real.list_dryruns(scope)

    def delete_dryrun(self, scope: str, name: str) -> bool:
        return self.real.delete_dryrun(scope, name)

    def generate_configurations(self, linker_id: str, info: Any = None) -> list[Configuration]:
        return self.list_configurations(linker_id)

    def get(self, linker_id: str) -> StoredLinker:
        found = self.world.linkers.get(linker_id.lower())
        if found is None:
            raise engine_errors.linker_not_found(linker_id)
        return found

    def list_linkers(self, source_id: str) -> list[StoredLinker]:
        return [s for s in self.world.linkers.values() if s.source_id.lower() == source_id.lower()]

    def list_configurations(self, linker_id: str) -> list[Configuration]:
        self.get(linker_id)
        return [
            Configuration(name="AZURE_REDIS_HOST", value="127.0.0.1"),
            Configuration(name="AZURE_REDIS_PASSWORD", value="", credential=True),
        ]

    def plan(self, linker_id: str, resource: LinkerResource) -> None:
        if self.world.plan_error is not None:
            raise self.world.plan_error
        self.cloud.check_access(SOURCE, "Microsoft.ServiceLinker/linkers/write")

    def begin_create_or_update(self, linker_id: str, resource: LinkerResource) -> Operation:
        self.plan(linker_id, resource)
        name = linker_id.rsplit("/", 1)[-1]
        body = resource.to_response()
        body.update({"id": linker_id, "name": name, "type": "microsoft.servicelinker/linkers"})
        body["properties"]["provisioningState"] = "Accepted"
        kind = "update" if linker_id.lower() in self.world.linkers else "create"
        self.world.linkers[linker_id.lower()] = StoredLinker(
            id=linker_id, source_id=SOURCE, name=name, body=body, provisioning_state="Accepted"
        )
        self.world.last_put = resource
        return self.world.new_op(linker_id, kind)

    def begin_delete(self, linker_id: str, cleanup: bool = False) -> Operation | None:
        if linker_id.lower() not in self.world.linkers:
            return None
        self.world.cleanup = cleanup
        return self.world.new_op(linker_id, "delete")

    def begin_validate(self, linker_id: str) -> Operation:
        self.get(linker_id)
        return self.world.new_op(linker_id, "validate")

    def operation(self, operation_id: str) -> Operation | None:
        return self.world.ops.get(operation_id)


class FakeRunner:
    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def submit(self, operation_id: str) -> None:
        self.submitted.append(operation_id)

    def stop(self) -> None:
        self.stopped = True


class World:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.linkers: dict[str, StoredLinker] = {}
        self.ops: dict[str, Operation] = {}
        self.grants: dict[str, set[str]] = {"local-user": {"*"}}
        self.plan_error: ArmError | None = None
        self.last_put: LinkerResource | None = None
        self.cleanup: bool | None = None
        self.principals: list[str] = []

    def new_op(self, resource_id: str, kind: str) -> Operation:
        op = Operation(
            id=str(uuid.uuid4()),
            resource_id=resource_id,
            kind=kind,
            status="Accepted",
            start_time=dt.datetime.now(dt.UTC),
        )
        self.ops[op.id] = op
        return op

    def finish(
        self,
        op_id: str,
        status: str = "Succeeded",
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        op = self.ops[op_id]
        steps = [Step(name="Check the cluster", status="Succeeded", start_time="2026-01-01T00:00:00+00:00")]
        self.ops[op_id] = op.model_copy(
            update={
                "status": status,
                "result": result,
                "error": error,
                "steps": steps,
                "end_time": dt.datetime.now(dt.UTC),
            }
        )

    def engine_for(self, principal: Caller) -> FakeEngine:
        self.principals.append(principal.object_id)
        return FakeEngine(self, principal)


@pytest.fixture()
def world(tmp_path: Path) -> World:
    return World(Store(f"sqlite:///{tmp_path / 'sl.db'}", tmp_path / "store.key"))


def _client(world: World, authenticator: Any = None) -> Iterator[tuple[TestClient, FakeRunner]]:
    runner = FakeRunner()
    settings = ApiSettings(
        authenticator=authenticator or InsecureDevAuthenticator(),
        engine_factory=world.engine_for,  # type: ignore[arg-type]
        runner=runner,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, runner
    assert runner.stopped


@pytest.fixture()
def client(world: World) -> Iterator[tuple[TestClient, FakeRunner]]:
    yield from _client(world)


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] and error["message"]
    return error


# ------------------------------------------------------------------------------------------------- api-version


def test_api_version_missing(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.get(BASE + "/linkers")
    assert r.status_code == 400
    assert _error(r)["code"] == "MissingApiVersionParameter"


def test_api_version_malformed(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.get(BASE + "/linkers", params={"api-version": "latest"})
    assert r.status_code == 400
    err = _error(r)
    assert err["code"] == "InvalidApiVersionParameter"
    assert err["message"] == (
        f"The api-version 'latest' is invalid. The supported versions are '{', '.join(API_VERSIONS)}'."
    )


def test_api_version_unpublished(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.get(BASE + "/linkers/x", params={"api-version": "2020-01-01"})
    assert r.status_code == 400
    err = _error(r)
    assert err["code"] == "NoRegisteredProviderFound"
    assert "API version '2020-01-01' for type 'linkers'" in err["message"]
    assert "2022-05-01" in err["message"] and "2024-07-01-preview" in err["message"]


@pytest.mark.parametrize("version", API_VERSIONS)
def test_every_published_api_version_is_accepted(client: tuple[TestClient, FakeRunner], version: str) -> None:
    c, _ = client
    r = c.get(BASE + "/linkers", params={"api-version": version})
    assert r.status_code == 200, r.text
    assert r.json() == {"value": []}


# ------------------------------------------------------------------------------------------------- LRO shapes


def test_put_returns_201_accepted_with_async_header(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, runner = client
    r = c.put(BASE + "/linkers/redis_1", params={"api-version": V}, json=BODY)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["properties"]["provisioningState"] == "Accepted"
    assert body["id"] == format_connection_id(SOURCE, "redis_1")
    url = r.headers["Azure-AsyncOperation"]
    op_id = runner.submitted[-1]
    assert url == (
        f"http://testserver/subscriptions/{SUB}/providers/Microsoft.ServiceLinker/locations/local/"
        f"operationStatuses/{op_id}?api-version={V}"
    )
    assert r.headers["Retry-After"] == "1"
    status = c.get(url.removeprefix("http://testserver"))
    assert status.status_code == 200
    sb = status.json()
    assert sb["status"] == "Accepted" and sb["name"] == op_id and sb["resourceId"] == body["id"]
    assert sb["id"].endswith(f"/operationStatuses/{op_id}") and "endTime" not in sb
    world.finish(op_id)
    done = c.get(url.removeprefix("http://testserver")).json()
    assert done["status"] == "Succeeded" and done["endTime"] and done["properties"] == {"Message": None}
    assert done["steps"][0]["name"] == "Check the cluster"


def test_failed_operation_status_carries_arm_error(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, runner = client
    r = c.put(BASE + "/linkers/redis_1", params={"api-version": V}, json=BODY)
    op_id = runner.submitted[-1]
    error = engine_errors.operator_silent("no heartbeat").to_body()["error"]
    world.finish(op_id, "Failed", error=error)
    sb = c.get(r.headers["Azure-AsyncOperation"]).json()
    assert sb["status"] == "Failed" and sb["error"]["code"] == "ExtensionUnhealthy"


def test_delete_returns_202_null_with_three_headers_then_204(
    world: World, client: tuple[TestClient, FakeRunner]
) -> None:
    c, runner = client
    c.put(BASE + "/linkers/redis_1", params={"api-version": V}, json=BODY)
    r = c.delete(BASE + "/linkers/redis_1", params={"api-version": V})
    assert r.status_code == 202
    assert r.content == b"null" and r.headers["content-type"] == "application/json"
    assert "/operationStatuses/" in r.headers["Azure-AsyncOperation"]
    assert "/operationResults/" in r.headers["Location"]
    assert r.headers["Retry-After"] == "1"
    assert world.cleanup is False
    op_id = runner.submitted[-1]
    assert c.get(r.headers["Location"]).status_code == 202
    world.finish(op_id)
    assert c.get(r.headers["Location"]).status_code == 204
    world.linkers.clear()
    assert c.delete(BASE + "/linkers/redis_1", params={"api-version": V}).status_code == 204


def test_delete_cleanup_extension(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    c.put(BASE + "/linkers/redis_1", params={"api-version": V}, json=BODY)
    assert c.delete(BASE + "/linkers/redis_1", params={"api-version": V, "cleanup": "true"}).status_code == 202
    assert world.cleanup is True


def test_validate_202_then_location_200(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, runner = client
    c.put(BASE + "/linkers/redis_1", params={"api-version": V}, json=BODY)
    r = c.post(BASE + "/linkers/redis_1/validateLinker", params={"api-version": V})
    assert r.status_code == 202 and r.content == b"null"
    location = r.headers["Location"]
    running = c.get(location)
    assert running.status_code == 202 and running.headers["Location"] == location
    polled = c.get(r.headers["Azure-AsyncOperation"])  # a running validation's status: 202 and both headers again
    assert polled.status_code == 202 and polled.headers["Location"] == location
    assert polled.headers["Azure-AsyncOperation"] == r.headers["Azure-AsyncOperation"]
    result = {
        "resourceId": "x",
        "status": "Succeeded",
        "properties": {"linkerName": "redis_1", "isConnectionAvailable": True, "validationDetail": []},
    }
    world.finish(runner.submitted[-1], result=result)
    final = c.get(location)
    assert final.status_code == 200
    body = final.json()
    assert {k: body[k] for k in result} == result
    assert body["name"] == runner.submitted[-1] and body["startTime"] and body["endTime"]  # as Azure gives it
    assert body["id"].endswith(f"/operationStatuses/{runner.submitted[-1]}")
    status = c.get(r.headers["Azure-AsyncOperation"]).json()
    assert status["properties"]["isConnectionAvailable"] is True  # flattened, as Azure records it


def test_failed_location_answers_with_the_error(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, runner = client
    c.put(BASE + "/linkers/redis_1", params={"api-version": V}, json=BODY)
    r = c.post(BASE + "/linkers/redis_1/validateLinker", params={"api-version": V})
    world.finish(runner.submitted[-1], "Failed", error={"code": "Conflict", "message": "busy"})
    final = c.get(r.headers["Location"])
    assert final.status_code == 409 and _error(final)["code"] == "Conflict"


def test_unknown_operation_is_404(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.get(
        f"/subscriptions/{SUB}/providers/Microsoft.ServiceLinker/locations/local/operationStatuses/nope",
        params={"api-version": V},
    )
    assert r.status_code == 404 and _error(r)["code"] == "ResourceNotFound"


# ---------------------------------------------------------------------------------------------------- bodies


def test_get_missing_linker_is_arm_404(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.get(BASE + "/linkers/nope", params={"api-version": V})
    assert r.status_code == 404
    assert _error(r)["code"] == "ResourceNotFound"


def test_non_aks_source_is_400(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    web = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/app"
    r = c.get(web + "/providers/Microsoft.ServiceLinker/linkers", params={"api-version": V})
    assert r.status_code == 400
    err = _error(r)
    assert err["message"].startswith(f"Unsupported source resource id: {web}.") and err["target"] == "resourceUri"


def test_invalid_body_names_the_member(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    bad = {"properties": {"authInfo": {"authType": "nonsense"}}}
    r = c.put(BASE + "/linkers/x", params={"api-version": V}, json=bad)
    assert r.status_code == 400
    err = _error(r)
    assert err["code"] == "InvalidRequestContent"
    assert err["target"].startswith("properties.authInfo"), err
    r = c.put(
        BASE + "/linkers/x",
        params={"api-version": V},
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and _error(r)["code"] == "InvalidRequestContent"
    r = c.put(BASE + "/linkers/x", params={"api-version": V})
    assert r.status_code == 400 and "body is missing" in _error(r)["message"]


def test_engine_error_is_arm_body_with_remedy(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    world.plan_error = engine_errors.cluster_busy(SOURCE, "Updating")
    r = c.put(BASE + "/linkers/x", params={"api-version": V}, json=BODY)
    assert r.status_code == 409
    err = _error(r)
    assert err["code"] == "Conflict"
    assert err["additionalInfo"][0]["type"] == "Remedy"


def test_list_get_list_configurations(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    c.put(BASE + "/linkers/redis_1", params={"api-version": V}, json=BODY)
    listed = c.get(BASE + "/linkers", params={"api-version": V}).json()
    assert [x["name"] for x in listed["value"]] == ["redis_1"]
    assert c.get(BASE + "/linkers/redis_1", params={"api-version": V}).json()["name"] == "redis_1"
    r = c.post(BASE + "/linkers/redis_1/listConfigurations", params={"api-version": V})
    assert r.status_code == 200
    assert r.json() == {
        "configurations": [
            {"name": "AZURE_REDIS_HOST", "value": "127.0.0.1", "configType": "Default", "description": "",
             "keyVaultReferenceIdentity": None},
            {"name": "AZURE_REDIS_PASSWORD", "value": "", "configType": "Default", "description": "",
             "keyVaultReferenceIdentity": None},
        ]
    }  # fmt: skip


def test_patch_merges_into_the_existing_linker(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    assert c.patch(BASE + "/linkers/redis_1", params={"api-version": V}, json={"properties": {}}).status_code == 404
    c.put(BASE + "/linkers/redis_1", params={"api-version": V}, json=BODY)
    r = c.patch(BASE + "/linkers/redis_1", params={"api-version": V}, json={"properties": {"clientType": "java"}})
    assert r.status_code == 201 and "Azure-AsyncOperation" in r.headers
    assert world.last_put is not None
    assert world.last_put.properties.client_type == "java"
    assert world.last_put.properties.target_id == TARGET


def test_merge_patch_replaces_a_member_whose_discriminator_changes() -> None:
    base = {"authInfo": {"authType": "secret", "name": "u"}, "scope": "a", "clientType": "python"}
    out = merge_patch(base, {"authInfo": {"authType": "userAssignedIdentity", "clientId": "c"}, "scope": None})
    assert out == {"authInfo": {"authType": "userAssignedIdentity", "clientId": "c"}, "clientType": "python"}
    assert merge_patch(base, {"authInfo": {"name": "v"}})["authInfo"] == {"authType": "secret", "name": "v"}


def test_dapr_configurations_empty_list(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.get(BASE + "/daprConfigurations", params={"api-version": V})
    assert r.status_code == 200 and r.json() == {"value": []}


def test_generic_404_and_405_are_arm_bodies(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.get(BASE + "/connections", params={"api-version": V})
    assert r.status_code == 404 and _error(r)["code"] == "InvalidResourceType"
    r = c.post(BASE + "/linkers", params={"api-version": V})
    assert r.status_code == 405 and _error(r)["code"] == "MethodNotAllowed"
    r = c.get("/nothing/here")
    assert r.status_code == 404 and _error(r)["code"] == "NotFound"


def test_unexpected_exception_is_500_without_detail(
    client: tuple[TestClient, FakeRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, _ = client

    def boom(self: FakeEngine, linker_id: str) -> StoredLinker:
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr(FakeEngine, "get", boom)
    r = c.get(BASE + "/linkers/x", params={"api-version": V})
    assert r.status_code == 500
    assert _error(r)["code"] == "InternalServerError" and "hunter2" not in r.text


def test_paths_are_case_insensitive(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    c.put(BASE + "/linkers/redis_1", params={"api-version": V}, json=BODY)
    lower = SOURCE + "/PROVIDERS/microsoft.servicelinker/LINKERS/redis_1"
    assert c.get(lower, params={"api-version": V}).status_code == 200
    assert (
        canonical_path("/subscriptions/s/resourceGroups/rg/providers/microsoft.servicelinker/locations/l/DRYRUNS/x")
        == "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ServiceLinker/locations/l/dryruns/x"
    )


# ----------------------------------------------------------------------------------------------- authorization


def test_reader_can_read_but_not_write(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    world.grants["local-user"] = {"*/read"}
    assert c.get(BASE + "/linkers", params={"api-version": V}).status_code == 200
    r = c.put(BASE + "/linkers/x", params={"api-version": V}, json=BODY)
    assert r.status_code == 403
    err = _error(r)
    assert err["code"] == "AuthorizationFailed"
    assert "'Microsoft.ServiceLinker/linkers/write'" in err["message"]
    assert c.delete(BASE + "/linkers/x", params={"api-version": V}).status_code == 403
    assert c.post(BASE + "/linkers/x/validateLinker", params={"api-version": V}).status_code == 403


def test_no_role_cannot_read(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    world.grants.clear()
    r = c.get(BASE + "/linkers", params={"api-version": V})
    assert r.status_code == 403 and "'Microsoft.ServiceLinker/linkers/read'" in _error(r)["message"]


# ------------------------------------------------------------------------------------------------ authentication

ISSUER = "https://issuer.test/tenant"
AUD = "https://management.azure.com"


class Issuer:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "k1", "use": "sig"})
        self.jwks = {"keys": [jwk]}
        self.fetched: list[str] = []

    def fetch(self, url: str) -> dict[str, Any]:
        self.fetched.append(url)
        if url == ISSUER + "/.well-known/openid-configuration":
            return {"issuer": ISSUER, "jwks_uri": ISSUER + "/keys"}
        assert url == ISSUER + "/keys"
        return self.jwks

    def token(self, *, key: Any = None, kid: str = "k1", **claims: Any) -> str:
        now = int(time.time())
        base = {
            "iss": ISSUER,
            "aud": AUD,
            "oid": "alice-oid",
            "upn": "alice@local",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        base.update(claims)
        return jwt.encode(base, key or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture()
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture()
def secured(world: World, issuer: Issuer) -> Iterator[tuple[TestClient, FakeRunner]]:
    world.grants = {"alice-oid": {"*"}, "reader-oid": {"*/read"}}
    yield from _client(world, JwtAuthenticator(ISSUER, (AUD,), fetcher=issuer.fetch))


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_missing_token_is_401_with_challenge(secured: tuple[TestClient, FakeRunner]) -> None:
    c, _ = secured
    r = c.get(BASE + "/linkers", params={"api-version": V})
    assert r.status_code == 401
    assert _error(r) == {
        **_error(r),
        "code": "AuthenticationFailed",
        "message": "Authentication failed. The 'Authorization' header is missing.",
    }
    assert r.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert (
        c.get(BASE + "/linkers", params={"api-version": V}, headers={"Authorization": "Basic eA=="}).status_code == 401
    )


def test_valid_token_names_the_caller(world: World, issuer: Issuer, secured: tuple[TestClient, FakeRunner]) -> None:
    c, _ = secured
    r = c.get(BASE + "/linkers", params={"api-version": V}, headers=_auth(issuer.token()))
    assert r.status_code == 200
    assert world.principals[-1] == "alice-oid"
    assert issuer.fetched == [ISSUER + "/.well-known/openid-configuration", ISSUER + "/keys"]


def test_reader_token_gets_403(issuer: Issuer, secured: tuple[TestClient, FakeRunner]) -> None:
    c, _ = secured
    token = issuer.token(oid="reader-oid")
    assert c.get(BASE + "/linkers", params={"api-version": V}, headers=_auth(token)).status_code == 200
    r = c.put(BASE + "/linkers/x", params={"api-version": V}, json=BODY, headers=_auth(token))
    assert r.status_code == 403 and _error(r)["code"] == "AuthorizationFailed"
    assert "'reader-oid'" in _error(r)["message"]
    stranger = issuer.token(oid="stranger")
    assert c.get(BASE + "/linkers", params={"api-version": V}, headers=_auth(stranger)).status_code == 403


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": int(time.time()) - 3600}, "ExpiredAuthenticationToken"),
        ({"aud": "https://vault.azure.net"}, "InvalidAuthenticationTokenAudience"),
        ({"iss": "https://evil.test/"}, "InvalidAuthenticationToken"),
        ({"oid": None}, "InvalidAuthenticationToken"),
        ({"nbf": int(time.time()) + 3600}, "InvalidAuthenticationToken"),
    ],
)
def test_bad_tokens_are_401(
    issuer: Issuer, secured: tuple[TestClient, FakeRunner], claims: dict[str, Any], code: str
) -> None:
    c, _ = secured
    token = issuer.token(**{k: v for k, v in claims.items() if v is not None})
    if claims.get("oid", "x") is None:
        now = int(time.time())
        token = jwt.encode(
            {"iss": ISSUER, "aud": AUD, "exp": now + 600}, issuer.key, algorithm="RS256", headers={"kid": "k1"}
        )
    r = c.get(BASE + "/linkers", params={"api-version": V}, headers=_auth(token))
    assert r.status_code == 401, r.text
    assert _error(r)["code"] == code
    assert "WWW-Authenticate" in r.headers


def test_foreign_signature_and_garbage_are_401(issuer: Issuer, secured: tuple[TestClient, FakeRunner]) -> None:
    c, _ = secured
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for token in (
        issuer.token(key=other),
        issuer.token(kid="unknown"),
        "not-a-jwt",
        jwt.encode({"oid": "x"}, "k" * 32, algorithm="HS256"),
    ):
        r = c.get(BASE + "/linkers", params={"api-version": V}, headers=_auth(token))
        assert r.status_code == 401, token
        assert _error(r)["code"] == "InvalidAuthenticationToken"


# ----------------------------------------------------------------------------------------------------- tenant


def test_operations_list(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.get("/providers/Microsoft.ServiceLinker/operations", params={"api-version": V})
    assert r.status_code == 200
    names = {o["name"] for o in r.json()["value"]}
    assert {"Microsoft.ServiceLinker/linkers/write", "Microsoft.ServiceLinker/dryruns/read"} <= names


def test_configuration_names_filter_and_paging(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    url = "/providers/Microsoft.ServiceLinker/configurationNames"
    f = "TargetService eq 'Microsoft.Cache/redis/databases' and AuthType eq 'secret' and clientType eq 'python'"
    r = c.get(url, params={"api-version": V, "$filter": f})
    assert r.status_code == 200, r.text
    items = r.json()["value"]
    assert len(items) == 1
    props = items[0]["properties"]
    assert (props["targetService"], props["authType"], props["clientType"]) == (
        "Microsoft.Cache/redis/databases",
        "secret",
        "python",
    )
    assert props["names"] and all(n["value"].startswith("AZURE_REDIS_") for n in props["names"])
    everything: list[Any] = []
    page = c.get(url, params={"api-version": V}).json()
    everything += page["value"]
    while "nextLink" in page:
        page = c.get(page["nextLink"]).json()
        everything += page["value"]
    assert len(everything) > 100
    bad = c.get(url, params={"api-version": V, "$filter": "TargetService ne 'x'"})
    assert bad.status_code == 400 and _error(bad)["target"] == "$filter"


def test_parse_filter() -> None:
    assert parse_filter("targetservice eq 'A/b' AND AuthType eq 'it''s'") == {
        "TargetService": "A/b",
        "AuthType": "it's",
    }
    assert parse_filter(None) == {}
    with pytest.raises(ArmError) as exc:
        parse_filter("Foo eq 'x'")
    assert exc.value.code == ErrorCode.INVALID_ARGUMENT_VALUE


# ----------------------------------------------------------------------------------------------------- dryruns


def test_dryrun_create_returns_plan_and_touches_nothing(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, runner = client
    body = {"properties": {"parameters": {"actionName": "createOrUpdate", **BODY["properties"]}}}
    r = c.put(BASE + "/dryruns/dry1", params={"api-version": V}, json=body)
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert props["provisioningState"] == "Succeeded" and props["prerequisiteResults"] == []
    kinds = {p["operationType"] for p in props["operationPreviews"]}
    assert kinds == {"configConnection", "configNetwork"}
    assert runner.submitted == [] and world.linkers == {}
    again = c.put(BASE + "/dryruns/dry1", params={"api-version": V}, json=body)
    assert again.status_code == 200
    patched = c.patch(
        BASE + "/dryruns/dry1",
        params={"api-version": V},
        json={"properties": {"parameters": {"actionName": "createOrUpdate", "scope": "nope"}}},
    )
    assert patched.status_code == 200
    result = patched.json()["properties"]["prerequisiteResults"]
    assert result == [
        {
            "type": "basicError",
            "code": "InvalidArgumentValue",
            "message": "The Kubernetes namespace 'nope' does not exist in the cluster.",
        }
    ]
    assert [d["name"] for d in c.get(BASE + "/dryruns", params={"api-version": V}).json()["value"]] == ["dry1"]
    assert (
        c.get(BASE + "/dryruns/dry1", params={"api-version": V}).json()["properties"]["parameters"]["scope"] == "nope"
    )
    assert c.delete(BASE + "/dryruns/dry1", params={"api-version": V}).status_code == 200
    assert c.delete(BASE + "/dryruns/dry1", params={"api-version": V}).status_code == 204
    assert c.get(BASE + "/dryruns/dry1", params={"api-version": V}).status_code == 404


def test_dryrun_reports_missing_permissions(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    world.grants["local-user"] = {"Microsoft.ServiceLinker/dryruns/write", "*/read"}
    body = {"properties": {"parameters": {"actionName": "createOrUpdate", **BODY["properties"]}}}
    r = c.put(BASE + "/dryruns/dry2", params={"api-version": V}, json=body)
    assert r.status_code == 201, r.text
    results = r.json()["properties"]["prerequisiteResults"]
    assert results == [
        {
            "type": "permissionsMissing",
            "scope": SOURCE,
            "permissions": ["Microsoft.ServiceLinker/linkers/write"],
            "recommendedRole": "Contributor",
        }
    ]


def test_location_dryruns_are_served(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    base = f"/subscriptions/{SUB}/resourcegroups/rg/providers/Microsoft.ServiceLinker/locations/local/dryruns"
    assert c.get(base, params={"api-version": V}).json() == {"value": []}
    assert c.get(base + "/x", params={"api-version": V}).status_code == 404


# ----------------------------------------------------------------------------------------------------- openapi


def test_checked_in_openapi_matches_the_app() -> None:
    generated = openapi.render(create_app().openapi())
    assert openapi.CHECKED_IN.read_text() == generated, (
        "openapi/servicelinker.json is stale: run `.venv/bin/python -m servicelinker.api.openapi --write`"
    )


def test_openapi_is_served(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    doc = c.get("/openapi.json").json()
    assert "/{resource_uri}/providers/Microsoft.ServiceLinker/linkers/{linker_name}" in doc["paths"]
    put = doc["paths"]["/{resource_uri}/providers/Microsoft.ServiceLinker/linkers/{linker_name}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/LinkerResource")


# -------------------------------------------------------------------------------------------------- serve command


def test_serve_refuses_insecure_dev_off_loopback() -> None:
    from typer.testing import CliRunner

    from servicelinker.cli import serve

    r = CliRunner().invoke(serve.app, ["--host", "0.0.0.0", "--insecure-dev"])
    assert r.exit_code == 2 and "binds 127.0.0.1 only" in r.output
    r = CliRunner().invoke(serve.app, ["--port", "1"])
    assert r.exit_code == 2 and "--issuer" in r.output
    r = CliRunner().invoke(serve.app, ["--insecure-dev", "--cert", "c.pem"])
    assert r.exit_code == 2 and "--cert and --key go together" in r.output


# ------------------------------------------------------------------------------------------------- front door


def test_no_token_is_401_before_the_body_is_read(secured: tuple[TestClient, FakeRunner]) -> None:
    """Hardening finding 5: a huge or malformed body without a token gets 401, not 400 or a parse."""
    c, runner = secured
    for content in (b"{not json", b"x" * (6 * 1024 * 1024)):
        r = c.put(BASE + "/linkers/big", params={"api-version": V}, content=content,
                  headers={"Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 401 and _error(r)["code"] == "AuthenticationFailed"
    assert runner.submitted == []


def test_bodies_over_4_mb_are_413_in_arms_format(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, runner = client
    big = json.dumps({"properties": {**BODY["properties"], "clientType": "p" * (5 * 1024 * 1024)}}).encode()
    r = c.put(BASE + "/linkers/big", params={"api-version": V}, content=big,
              headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and _error(r)["code"] == "RequestEntityTooLarge"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(5):
            yield b" " * (1024 * 1024)

    r = c.put(BASE + "/linkers/big", params={"api-version": V}, content=chunks(),
              headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and _error(r)["code"] == "RequestEntityTooLarge"
    assert runner.submitted == [] and world.linkers == {}


def test_errors_never_echo_a_huge_value(world: World, client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.get(BASE + "/linkers", params={"api-version": "2024-04-01" + "x" * 30_000})
    assert r.status_code == 400 and len(r.content) < 4000


def test_malformed_json_gets_an_arm_code_and_target(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    r = c.put(BASE + "/linkers/bad", params={"api-version": V}, content=b"{not json",
              headers={"Content-Type": "application/json"})  # fmt: skip
    error = _error(r)
    assert r.status_code == 400 and error["code"] == "InvalidRequestContent" and error.get("target")


def test_a_non_guid_subscription_is_400_invalid_subscription_id(client: tuple[TestClient, FakeRunner]) -> None:
    c, _ = client
    path = SOURCE.replace(SUB, "not-a-guid") + "/providers/Microsoft.ServiceLinker/linkers/x"
    r = c.get(path, params={"api-version": V})
    assert r.status_code == 400 and _error(r)["code"] == "InvalidSubscriptionId"


def test_both_issuer_forms_entra_issues_are_accepted() -> None:
    """Hardening finding 8: configured with the v2 issuer, ARM tokens (v1 issuer) must be accepted too."""
    from servicelinker.api.auth import entra_issuer_forms

    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert f"https://sts.windows.net/{tenant}/" in entra_issuer_forms(f"https://login.microsoftonline.com/{tenant}/v2.0")
    assert f"https://login.microsoftonline.com/{tenant}/v2.0" in entra_issuer_forms(f"https://sts.windows.net/{tenant}/")
    assert entra_issuer_forms("https://issuer.example/other") == set()
