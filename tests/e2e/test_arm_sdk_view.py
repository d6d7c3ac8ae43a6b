"""What a connection did, read back with Microsoft's SDK clients alone (no servicelinker code): the dev stack's
ARM endpoint answers them as Azure would. The firewall rule on the PostgreSQL server, the federated credential on
the identity, the role assignment at the account, the cluster's OIDC issuer and workload-identity flags; and
ARM's own errors (401 without a token, 403 `AuthorizationFailed` for a principal without a role, 404, an unknown
api-version, a stale If-Match)."""

from __future__ import annotations

import json
import ssl
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
from azure.mgmt.redis import RedisManagementClient

from localcloud.devstack.config import StackConfig
from tests.e2e.conftest import CLUSTER, RG, Cli, make_pg_database

pytestmark = pytest.mark.e2e

SUB = "00000000-0000-0000-0000-000000000000"
BASE = ["-g", RG, "-n", CLUSTER]
ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/devstoreaccount1"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


@pytest.fixture(scope="module")
def profile(devstack: dict[str, Any], stack_config: StackConfig) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((stack_config.state_dir / "cloud-profile.json").read_text())
    return data


def _credential(profile: dict[str, Any], client_id: str | None = None, secret: str | None = None) -> Any:
    secret = secret or Path(profile["clientSecretFile"]).read_text().strip()
    return ClientSecretCredential(profile["tenantId"], client_id or profile["clientId"], secret,
                                  authority=profile["authorityHost"], connection_verify=profile["caBundle"],
                                  disable_instance_discovery=True)  # fmt: skip


def _client(cls: Any, profile: dict[str, Any], credential: Any = None) -> Any:
    return cls(credential or _credential(profile), SUB, base_url=profile["armEndpoint"],
               credential_scopes=[profile["armAudience"] + ".default"], connection_verify=profile["caBundle"])


def test_the_sdks_read_what_connections_did(cli: Cli, devstack: dict[str, Any], namespace: str,
                                            profile: dict[str, Any]) -> None:  # fmt: skip
    db = make_pg_database(devstack)
    cli.ok("aks", "connection", "create", "postgres-flexible", *BASE, "--tg", RG, "--server", "sl-postgres",
           "--database", db.name, "--secret", f"name={db.user}", f"secret={db.password}", "--kube-namespace",
           namespace, "--connection", "sdk_pg")  # fmt: skip
    pg = _client(PostgreSQLManagementClient, profile)
    rules = {r.name: r for r in pg.firewall_rules.list_by_server(RG, "sl-postgres")}
    assert "ServiceConnector_127_0_0_1" in rules
    assert rules["ServiceConnector_127_0_0_1"].properties.start_ip_address == "127.0.0.1"
    assert pg.databases.get(RG, "sl-postgres", db.name).name == db.name

    name = f"sdk-{uuid.uuid4().hex[:6]}"
    identity_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/" \
        f"userAssignedIdentities/{name}"  # fmt: skip
    ident = cli.ok("local", "identity", "create", "--id", identity_id).json()
    cli.ok("aks", "connection", "create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1",
           "--workload-identity", identity_id, "--kube-namespace", namespace, "--connection", "sdk_wi")  # fmt: skip

    msi = _client(ManagedServiceIdentityClient, profile)
    assert msi.user_assigned_identities.get(RG, name).client_id == ident["clientId"]
    fics = list(msi.federated_identity_credentials.list(RG, name))
    aks = _client(ContainerServiceClient, profile).managed_clusters.get(RG, CLUSTER)
    assert aks.oidc_issuer_profile.enabled and aks.security_profile.workload_identity.enabled
    assert [(f.issuer, f.subject) for f in fics] == [
        (aks.oidc_issuer_profile.issuer_url, f"system:serviceaccount:{namespace}:sc-account-{ident['clientId']}")]
    auth = _client(AuthorizationManagementClient, profile)
    listed = auth.role_assignments.list_for_scope(ACCOUNT, filter=f"principalId eq '{ident['principalId']}'")
    granted = [a for a in listed if a.scope.lower() == ACCOUNT.lower()]
    assert [a.role_definition_id.rsplit("/", 1)[-1] for a in granted] == [BLOB_DATA_CONTRIBUTOR]
    assert granted[0].principal_type == "ServicePrincipal"


def test_arm_errors_in_arms_words(cli: Cli, profile: dict[str, Any]) -> None:
    cluster = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"
    tls = ssl.create_default_context(cafile=profile["caBundle"])
    with httpx.Client(base_url=profile["armEndpoint"], verify=tls, timeout=30) as http:
        anonymous = http.get(cluster, params={"api-version": "2026-08-01"})
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "AuthenticationFailed"
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
        token = _credential(profile).get_token(profile["armAudience"] + ".default").token
        headers = {"Authorization": f"Bearer {token}"}
        old = http.get(cluster, params={"api-version": "2019-01-01"}, headers=headers)
        assert old.status_code == 400 and old.json()["error"]["code"] == "NoRegisteredProviderFound"
        assert "2026-08-01" in old.json()["error"]["message"]
        stale = http.put(cluster, params={"api-version": "2026-08-01"}, json={"location": "local", "properties": {}},
                         headers={**headers, "If-Match": '"not-the-etag"'})  # fmt: skip
        assert stale.status_code == 412 and stale.json()["error"]["code"] == "PreconditionFailed"

    sp = cli.ok("local", "sp", "create", "--name", f"norole-{uuid.uuid4().hex[:6]}").json()
    nobody = _client(RedisManagementClient, profile, _credential(profile, sp["clientId"], sp["clientSecret"]))
    with pytest.raises(HttpResponseError) as refused:
        nobody.redis.list_keys(RG, "sl-redis")
    assert refused.value.status_code == 403 and refused.value.error is not None
    assert refused.value.error.code == "AuthorizationFailed"
    assert "does not have authorization to perform action 'Microsoft.Cache/redis/listKeys/action'" in str(
        refused.value.error.message)
    assert "primaryKey" not in str(refused.value)
    with pytest.raises(ResourceNotFoundError) as missing:
        _client(RedisManagementClient, profile).redis.get(RG, "no-such-cache")
    assert missing.value.error is not None and missing.value.error.code == "ResourceNotFound"


def test_service_connector_at_the_one_arm_url(profile: dict[str, Any], namespace: str) -> None:
    """ARM routes Microsoft.ServiceLinker to the stack's resource provider (`servicelinker serve`), as Azure's ARM
    routes to Service Connector: the official SDK creates, lists, validates and deletes through the ARM URL."""
    from azure.mgmt.servicelinker import ServiceLinkerManagementClient
    from azure.mgmt.servicelinker.models import AzureResource, LinkerResource, SecretAuthInfo

    client = ServiceLinkerManagementClient(_credential(profile), base_url=profile["armEndpoint"],
                                           credential_scopes=[profile["armAudience"] + ".default"],
                                           connection_verify=profile["caBundle"], polling_interval=1)  # fmt: skip
    source = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"
    target = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Cache/redis/sl-redis/databases/0"
    body = LinkerResource(target_service=AzureResource(id=target), auth_info=SecretAuthInfo(), client_type="python",
                          scope=namespace)  # fmt: skip
    made = client.linker.begin_create_or_update(source, "via_arm", body).result()
    assert made.provisioning_state == "Succeeded"
    assert "via_arm" in [linker.name for linker in client.linker.list(source)]
    validated = client.linker.begin_validate(source, "via_arm").result()
    assert validated.is_connection_available
    client.linker.begin_delete(source, "via_arm").result()
    assert "via_arm" not in [linker.name for linker in client.linker.list(source)]
