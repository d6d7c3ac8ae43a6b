"""The REST server as a real process on the dev stack, driven by Microsoft's azure-mgmt-servicelinker SDK.

`servicelinker serve` runs over HTTPS (a certificate from a CA made in the stack's state directory, trusted by the
SDK through `connection_verify`) and validates bearer tokens against an OpenID issuer of this test (RSA key, JWKS
over HTTP on loopback); the SDK authenticates with a TokenCredential that mints that issuer's tokens. The caller's
`oid` gets a role in the local cloud's inventory, as a role assignment in Azure would.

End to end: begin_create_or_update (Redis, `--secret`) ends Succeeded through the Azure-AsyncOperation polling the
SDK does itself; get, list, list_configurations (credential blank), begin_validate (final state via Location),
a dryrun, configurationNames, operations; begin_delete; then 404. Unauthenticated calls get 401 and callers
without the role 403, both in ARM's format.

Ports: SL_TEST_PORT_BASE (+51 the API, +52 the issuer).
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.servicelinker import ServiceLinkerManagementClient
from azure.mgmt.servicelinker.models import (
    AzureResource,
    CreateOrUpdateDryrunParameters,
    DryrunResource,
    LinkerResource,
    SecretAuthInfo,
)
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Secret

from localcloud import admin
from localcloud.devstack import localcloud
from localcloud.devstack.config import StackConfig
from localcloud.inventory import LOCAL_SUBSCRIPTION, Inventory
from servicelinker.catalog import naming
from servicelinker.cli import views
from servicelinker.cli.output import render
from servicelinker.engine.factory import Engines
from servicelinker.engine.remote import RemoteEngine, RemoteSettings
from servicelinker.model.errors import ArmError
from servicelinker.model.linker import LinkerResource as LinkerResourceModel
from servicelinker.settings import Settings
from tests.support.api_server import ApiServer, IssuerCredential, LocalIssuer

pytestmark = pytest.mark.integration

PORT_BASE = int(os.environ.get("SL_TEST_PORT_BASE", "28000"))
SOURCE = localcloud.resource_ids()["kube"]
RG_SCOPE = f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/{localcloud.RESOURCE_GROUP}"
REDIS_DB = localcloud.resource_ids()["redis"] + "/databases/0"
OWNER, READER, NOBODY = "sl-api-sdk-owner", "sl-api-sdk-reader", "sl-api-sdk-nobody"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    iss = LocalIssuer(PORT_BASE + 52)
    yield iss
    iss.close()


@pytest.fixture(scope="module")
def server(devstack: dict[str, Any], stack_config: StackConfig, issuer: LocalIssuer) -> Iterator[ApiServer]:
    inventory = Inventory(stack_config.inventory)
    admin.grant(inventory, OWNER, "Contributor", RG_SCOPE)
    admin.grant(inventory, READER, "Reader", RG_SCOPE)
    srv = ApiServer(stack_config.state_dir, PORT_BASE + 51, issuer=issuer.url, extra_env={"SL_READY_TIMEOUT": "90"})
    yield srv
    code = srv.stop()
    admin.revoke(inventory, OWNER, None, RG_SCOPE)
    admin.revoke(inventory, READER, None, RG_SCOPE)
    assert code in (0, -signal.SIGTERM), srv.log()  # uvicorn re-raises SIGTERM after a clean shutdown


def sdk(server: ApiServer, issuer: LocalIssuer, oid: str) -> ServiceLinkerManagementClient:
    return ServiceLinkerManagementClient(IssuerCredential(issuer, oid), base_url=server.url,
                                         connection_verify=server.ca_cert, polling_interval=1)  # fmt: skip


@pytest.fixture(scope="module")
def kube(devstack: dict[str, Any]) -> Client:
    return Client(KubeConfig.from_file(devstack["services"]["kube"]["kubeconfig"]), field_manager="api-tests")


@pytest.fixture()
def namespace(kube: Client) -> Iterator[str]:
    name = f"api-{uuid.uuid4().hex[:6]}"
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name
    kube.delete(Namespace, name)


def redis_linker(namespace: str) -> LinkerResource:
    return LinkerResource(target_service=AzureResource(id=REDIS_DB), auth_info=SecretAuthInfo(), client_type="python",
                          scope=namespace)  # fmt: skip


def test_sdk_end_to_end(server: ApiServer, issuer: LocalIssuer, kube: Client, namespace: str) -> None:
    client = sdk(server, issuer, OWNER)
    name = f"redis_{uuid.uuid4().hex[:6]}"

    created = client.linker.begin_create_or_update(SOURCE, name, redis_linker(namespace)).result(timeout=300)
    assert created.provisioning_state == "Succeeded", server.log()
    assert created.name == name and created.type == "microsoft.servicelinker/linkers"
    assert created.system_data.created_by == f"{OWNER}@local"

    got = client.linker.get(SOURCE, name)
    assert got.id.lower() == f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers/{name}".lower()
    assert got.scope == namespace and got.auth_info.auth_type == "secret"
    assert name in [x.name for x in client.linker.list(SOURCE)]

    configs = {c.name: c.value for c in client.linker.list_configurations(SOURCE, name).configurations}
    assert configs == {"AZURE_REDIS_CONNECTIONSTRING": ""}  # the credential is blank (reference §6.2)
    delivered = kube.get(Secret, naming.secret_name(name), namespace=namespace)
    assert set((delivered.data or {}).keys()) == {"AZURE_REDIS_CONNECTIONSTRING"}

    validated = client.linker.begin_validate(SOURCE, name).result(timeout=120)
    assert validated.is_connection_available, [(d.name, d.result, d.error_message) for d in validated.validation_detail]
    assert validated.linker_name == name
    assert "Target resource existence validated." in [d.name for d in validated.validation_detail]

    names = list(client.configuration_names.list(filter="TargetService eq 'Microsoft.Cache/redis/databases' and "
                                                        "AuthType eq 'secret' and ClientType eq 'python'"))  # fmt: skip
    assert [n.value for n in names[0].names or []] == ["AZURE_REDIS_CONNECTIONSTRING"]
    assert any(op.name == "Microsoft.ServiceLinker/linkers/write" for op in client.operations.list())

    client.linker.begin_delete(SOURCE, name).result(timeout=120)
    with pytest.raises(ResourceNotFoundError):
        client.linker.get(SOURCE, name)
    assert name not in [x.name for x in client.linker.list(SOURCE)]


def test_sdk_dryrun_previews_and_touches_nothing(server: ApiServer, issuer: LocalIssuer, namespace: str) -> None:
    client = sdk(server, issuer, OWNER)
    params = CreateOrUpdateDryrunParameters(target_service=AzureResource(id=REDIS_DB), auth_info=SecretAuthInfo(),
                                            client_type="python", scope=namespace)  # fmt: skip
    dry = client.linkers.begin_create_dryrun(SOURCE, "dry1", DryrunResource(parameters=params)).result(timeout=60)
    assert dry.provisioning_state == "Succeeded"
    assert dry.prerequisite_results == []
    previews: list[Any] = dry.operation_previews or []
    assert {p.operation_type for p in previews} >= {"configConnection", "configNetwork"}
    assert [d.name for d in client.linkers.list_dryrun(SOURCE)] == ["dry1"]
    with pytest.raises(ResourceNotFoundError):
        client.linker.get(SOURCE, "dry1")  # the dryrun created no linker

    missing_ns = CreateOrUpdateDryrunParameters(target_service=AzureResource(id=REDIS_DB), auth_info=SecretAuthInfo(),
                                                client_type="python", scope="no-such-namespace")  # fmt: skip
    blocked = client.linkers.begin_create_dryrun(SOURCE, "dry2", DryrunResource(parameters=missing_ns)).result()
    results: list[Any] = blocked.prerequisite_results or []
    assert [(r.type, r.code) for r in results] == [("basicError", "InvalidArgumentValue")]

    reader = sdk(server, issuer, READER)
    with pytest.raises(HttpResponseError) as denied:
        reader.linkers.begin_create_dryrun(SOURCE, "dry3", DryrunResource(parameters=params)).result()
    assert denied.value.status_code == 403

    client.linkers.delete_dryrun(SOURCE, "dry1")
    client.linkers.delete_dryrun(SOURCE, "dry2")
    assert list(client.linkers.list_dryrun(SOURCE)) == []


def test_unauthenticated_and_unauthorized(server: ApiServer, issuer: LocalIssuer, namespace: str) -> None:
    url = f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers"
    with server.client() as http:
        r = http.get(url, params={"api-version": "2024-04-01"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationFailed"
        assert r.headers["WWW-Authenticate"].startswith("Bearer ")
        forged = LocalIssuer(PORT_BASE + 53)  # same claims, a key the server does not trust
        try:
            r = http.get(url, params={"api-version": "2024-04-01"},
                         headers={"Authorization": f"Bearer {forged.token(OWNER)}"})  # fmt: skip
        finally:
            forged.close()
        assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"

    reader = sdk(server, issuer, READER)
    assert isinstance(list(reader.linker.list(SOURCE)), list)  # Reader may read
    with pytest.raises(HttpResponseError) as denied:
        reader.linker.begin_create_or_update(SOURCE, "nope", redis_linker(namespace)).result()
    assert denied.value.status_code == 403
    assert denied.value.error is not None and denied.value.error.code == "AuthorizationFailed"

    nobody = sdk(server, issuer, NOBODY)
    with pytest.raises(HttpResponseError) as denied:
        list(nobody.linker.list(SOURCE))
    assert denied.value.status_code == 403

    expired = issuer.token(OWNER, lifetime=-3600)
    with server.client() as http:
        r = http.get(url, params={"api-version": "2024-04-01"}, headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "ExpiredAuthenticationToken"


def test_api_versions_over_the_wire(server: ApiServer, issuer: LocalIssuer) -> None:
    headers = {"Authorization": f"Bearer {issuer.token(OWNER)}"}
    url = f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers"
    with server.client(headers=headers) as http:
        for version in ("2021-11-01-preview", "2022-05-01", "2023-04-01-preview", "2024-04-01", "2024-07-01-preview"):
            assert http.get(url, params={"api-version": version}).status_code == 200, version
        bad = http.get(url, params={"api-version": "2019-01-01"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "NoRegisteredProviderFound"
        assert http.get(url).json()["error"]["code"] == "MissingApiVersionParameter"


def test_remote_engine_matches_in_process(
    server: ApiServer, issuer: LocalIssuer, stack_config: StackConfig, namespace: str
) -> None:
    """What the CLI prints comes from the same views over RemoteEngine (REST) as over the in-process Engine."""
    local = Engines(Settings(state_dir=stack_config.state_dir)).for_caller(None)
    remote = RemoteEngine(RemoteSettings(endpoint=server.url, token=issuer.token(OWNER), ca=server.ca_cert))
    name = f"remote_{uuid.uuid4().hex[:6]}"
    lid = f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers/{name}"
    body = LinkerResourceModel.model_validate(
        {"properties": {"targetService": {"type": "AzureResource", "id": REDIS_DB}, "authInfo": {"authType": "secret"},
                        "clientType": "python", "scope": namespace}}
    )  # fmt: skip
    seen: list[tuple[str, str]] = []
    done = remote.run(remote.begin_create_or_update(lid, body).id, lambda s: seen.append((s.name, s.status)))
    assert done.status == "Succeeded", done.error
    assert ("Write connection to the cluster", "Running") in seen
    assert ("Write connection to the cluster", "Succeeded") in seen

    def show(eng: Any) -> str:
        return render(views.linker_view(eng.get(lid), configurations=eng.list_configurations(lid)))

    assert show(remote) == show(local)
    assert render([views.linker_view(s) for s in remote.list_linkers(SOURCE)]) == render(
        [views.linker_view(s) for s in local.list_linkers(SOURCE)]
    )
    validated = remote.run(remote.begin_validate(lid).id)
    assert validated.result is not None
    assert validated.result["properties"]["isConnectionAvailable"] is True
    stored = local.operation(validated.id)
    assert stored is not None and stored.result == validated.result  # the ValidateOperationResult, unchanged
    begun = remote.begin_delete(lid)
    assert begun is not None
    deleted = remote.run(begun.id)
    assert deleted is not None and deleted.status == "Succeeded"
    assert remote.begin_delete(lid) is None and remote.find(lid) is None
    with pytest.raises(ArmError) as via_rest:
        remote.get(lid)
    with pytest.raises(ArmError) as in_process:
        local.get(lid)
    assert str(via_rest.value) == str(in_process.value)
    remote.close()


def test_local_token_service_is_an_accepted_issuer(devstack: dict[str, Any], stack_config: StackConfig) -> None:
    """The local cloud's Entra-compatible token service as the server's issuer: a service principal's
    client-credentials token (azure-identity's ClientSecretCredential) is accepted, its role is enforced."""
    ts = devstack["services"].get("tokenservice")
    if ts is None:
        pytest.skip("the dev stack runs no tokenservice (SL_DEVSTACK_ONLY)")
    from azure.identity import ClientSecretCredential

    from localcloud.identity import create_service_principal, delete_service_principal
    from localcloud.inventory import LOCAL_TENANT

    inventory = Inventory(stack_config.inventory)
    sp, secret = create_service_principal(inventory, "sl-api-sdk-test")
    inventory = Inventory(stack_config.inventory)
    admin.grant(inventory, sp.object_id, "Reader", RG_SCOPE)
    server = ApiServer(stack_config.state_dir, PORT_BASE + 56, issuer=f"{ts['authorityHost']}/{LOCAL_TENANT}",
                       extra_args=["--issuer-ca", ts["caCert"]])  # fmt: skip
    try:
        credential = ClientSecretCredential(
            LOCAL_TENANT,
            sp.client_id,
            secret,
            authority=ts["authorityHost"],
            disable_instance_discovery=True,
            connection_verify=ts["caCert"],
        )
        client = ServiceLinkerManagementClient(credential, base_url=server.url, connection_verify=server.ca_cert)
        assert isinstance(list(client.linker.list(SOURCE)), list)
        with pytest.raises(ResourceNotFoundError):
            client.linker.get(SOURCE, "absent")
        with pytest.raises(HttpResponseError) as denied:  # Reader: no write
            client.linker.begin_create_or_update(SOURCE, "nope", redis_linker("default")).result()
        assert denied.value.status_code == 403
        assert f"'{sp.object_id}'" in str(denied.value.message)
    finally:
        server.stop()
        admin.revoke(inventory, sp.object_id, None, RG_SCOPE)
        delete_service_principal(inventory, sp.client_id)
