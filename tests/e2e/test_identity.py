"""Issue 6 end to end: password-free connections made with the CLI, used by a workload that holds no password.

The workload gets exactly what AKS would give it: the connection's Secret as environment variables, the variables
the workload-identity webhook injected into its Pod, and a ServiceAccount token projected into a file (the
kubelet's job; here a TokenRequest for the Pod's ServiceAccount written to that file).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.core_v1 import Container, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod, Secret, ServiceAccount, ServiceAccountToken

from tests.e2e.conftest import CLUSTER, RG, Cli, consumer, run_consumer

pytestmark = pytest.mark.e2e

SUB = "00000000-0000-0000-0000-000000000000"
BASE = ["-g", RG, "-n", CLUSTER]
ACCOUNT_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/devstoreaccount1"
TOKEN_AUDIENCE = "api://AzureADTokenExchange"


def _secret(kube: Client, namespace: str, name: str) -> dict[str, str]:
    data = kube.get(Secret, name, namespace=namespace).data or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


@pytest.fixture(scope="module")
def ca_bundle(devstack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CAs a workload must trust here: the token service's, Azurite's HTTPS and the Key Vault server's."""
    s = devstack["services"]
    parts = [s["tokenservice"]["caCert"], s["azurite"]["https"]["caCert"], s["keyvault"]["caCert"]]
    bundle = tmp_path_factory.mktemp("ca") / "bundle.pem"
    bundle.write_text("".join(Path(p).read_text() for p in parts))
    return bundle


def _identity(cli: Cli) -> tuple[str, dict[str, Any]]:
    name = f"id-{uuid.uuid4().hex[:8]}"
    rid = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    return rid, cli.ok("local", "identity", "create", "--id", rid).json()


def _pod_environment(kube: Client, namespace: str, service_account: str) -> dict[str, str]:
    """Create a Pod as a Deployment would, labelled for workload identity; return what the webhook injected."""
    pod = Pod(
        metadata=ObjectMeta(name=f"app-{uuid.uuid4().hex[:6]}", labels={"azure.workload.identity/use": "true"}),
        spec=PodSpec(serviceAccountName=service_account, containers=[Container(name="app", image="app:1")]),
    )
    stored = kube.create(pod, namespace=namespace)
    assert stored.spec is not None
    env = {e.name: e.value or "" for e in stored.spec.containers[0].env or []}
    return env


def _projected_token(
    kube: Client, namespace: str, service_account: str, path: Path, audience: str = TOKEN_AUDIENCE
) -> Path:
    req = ServiceAccountToken(
        metadata=ObjectMeta(name=service_account),
        spec=TokenRequestSpec(audiences=[audience], expirationSeconds=3600),
    )
    resp = kube.create(req, service_account, namespace=namespace)
    assert resp.status is not None
    path.write_text(resp.status.token)
    return path


def _workload_env(
    kube: Client, namespace: str, sa: str, ca_bundle: Path, tmp_path: Path, audience: str = TOKEN_AUDIENCE
) -> dict[str, str]:
    injected = _pod_environment(kube, namespace, sa)
    token_file = _projected_token(kube, namespace, sa, tmp_path / f"token-{uuid.uuid4().hex[:6]}", audience)
    # The kubelet projects the token at AZURE_FEDERATED_TOKEN_FILE; on this stack the test writes it elsewhere.
    return {
        **injected,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "REQUESTS_CA_BUNDLE": str(ca_bundle),
        "SSL_CERT_FILE": str(ca_bundle),
    }


def test_workload_identity_blob_end_to_end(
    cli: Cli, kube: Client, devstack: dict[str, Any], namespace: str, ca_bundle: Path, tmp_path: Path
) -> None:
    rid, ident = _identity(cli)
    client_id = ident["clientId"]
    created = cli.ok(
        "aks",
        "connection",
        "create",
        "storage-blob",
        *BASE,
        "--tg",
        RG,
        "--account",
        "devstoreaccount1",
        "--workload-identity",
        rid,
        "--client-type",
        "python",
        "--kube-namespace",
        namespace,
        "--connection",
        "blob_wi",
    ).json()
    sa = f"sc-account-{client_id}"
    assert created["kubernetesResourceName"] == {"secret": "sc-blobwi-secret", "serviceAccount": sa}
    data = _secret(kube, namespace, "sc-blobwi-secret")
    assert data == {
        "AZURE_STORAGEBLOB_RESOURCEENDPOINT": devstack["services"]["azurite"]["https"]["blobEndpoint"],
        "AZURE_STORAGEBLOB_CLIENTID": client_id,
    }
    account = kube.get(ServiceAccount, sa, namespace=namespace)
    assert account.metadata is not None and account.metadata.annotations is not None
    assert account.metadata.annotations["azure.workload.identity/client-id"] == client_id

    # The cluster got its OIDC issuer and workload identity through a recorded update.
    cluster = cli.ok(
        "local",
        "resource",
        "show",
        "--id",
        f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}",
    ).json()["properties"]
    assert cluster["oidcIssuerProfile"]["enabled"] is True
    assert cluster["securityProfile"]["workloadIdentity"]["enabled"] is True
    assert cluster["provisioningState"] == "Succeeded"
    assert any(u["enabled"]["workloadIdentity"] for u in cluster["updateHistory"])

    env = _workload_env(kube, namespace, sa, ca_bundle, tmp_path)
    ts = devstack["services"]["tokenservice"]
    assert env["AZURE_CLIENT_ID"] == client_id
    assert env["AZURE_TENANT_ID"] == SUB
    assert env["AZURE_AUTHORITY_HOST"].rstrip("/") == ts["authorityHost"].rstrip("/")
    result = run_consumer("wi-storage-blob", data, env)
    assert result["read"] == result["wrote"]

    items = {
        i["name"]: i["result"] for i in cli.ok("aks", "connection", "validate", *BASE, "--connection", "blob_wi").json()
    }
    assert items["Managed Identity existence validated."] == "success"
    assert items["Managed Identity permissions validated."] == "success"


def test_removed_role_or_federated_credential_is_refused_and_reported(
    cli: Cli, kube: Client, namespace: str, ca_bundle: Path, tmp_path: Path
) -> None:
    rid, ident = _identity(cli)
    client_id, principal_id = ident["clientId"], ident["principalId"]
    cli.ok(
        "aks",
        "connection",
        "create",
        "storage-blob",
        *BASE,
        "--tg",
        RG,
        "--account",
        "devstoreaccount1",
        "--workload-identity",
        rid,
        "--kube-namespace",
        namespace,
        "--connection",
        "blob_revoked",
    )
    data = _secret(kube, namespace, "sc-blobrevoked-secret")
    sa = f"sc-account-{client_id}"

    cli.ok(
        "local",
        "role",
        "remove",
        "--assignee",
        principal_id,
        "--role",
        "Storage Blob Data Contributor",
        "--scope",
        ACCOUNT_ID,
    )
    refused = consumer("wi-storage-blob", data, _workload_env(kube, namespace, sa, ca_bundle, tmp_path))
    assert refused.code != 0 and "AADSTS501051" in refused.err
    r = cli("aks", "connection", "validate", *BASE, "--connection", "blob_revoked")
    assert r.code == 1
    perms = {i["name"]: i for i in r.json()}["Managed Identity permissions validated."]
    assert perms["result"] == "failure" and "role 'Storage Blob Data Contributor'" in perms["errorMessage"]

    fics = cli.ok("local", "identity", "federated-credential", "list", "--identity-id", rid).json()
    assert len(fics) == 1
    cli.ok("local", "identity", "federated-credential", "delete", "--identity-id", rid, "--name", fics[0]["name"])
    cli.ok(
        "aks", "connection", "update", "storage-blob", *BASE, "--connection", "blob_revoked", "--client-type", "python"
    )  # restores both
    assert run_consumer("wi-storage-blob", data, _workload_env(kube, namespace, sa, ca_bundle, tmp_path))["read"]

    cli.ok("local", "identity", "federated-credential", "delete", "--identity-id", rid, "--name", fics[0]["name"])
    refused = consumer("wi-storage-blob", data, _workload_env(kube, namespace, sa, ca_bundle, tmp_path))
    assert refused.code != 0 and "AADSTS70021" in refused.err
    perms = {i["name"]: i for i in cli("aks", "connection", "validate", *BASE, "--connection", "blob_revoked").json()}[
        "Managed Identity permissions validated."
    ]
    assert perms["result"] == "failure" and "federated credential" in perms["errorMessage"]


def test_token_with_wrong_audience_is_refused(
    cli: Cli, kube: Client, namespace: str, ca_bundle: Path, tmp_path: Path
) -> None:
    rid, ident = _identity(cli)
    cli.ok(
        "aks",
        "connection",
        "create",
        "storage-blob",
        *BASE,
        "--tg",
        RG,
        "--account",
        "devstoreaccount1",
        "--workload-identity",
        rid,
        "--kube-namespace",
        namespace,
        "--connection",
        "blob_aud",
    )
    data = _secret(kube, namespace, "sc-blobaud-secret")
    sa = f"sc-account-{ident['clientId']}"
    env = _workload_env(kube, namespace, sa, ca_bundle, tmp_path, audience="api://SomethingElse")
    refused = consumer("wi-storage-blob", data, env)
    assert refused.code != 0 and "AADSTS700212" in refused.err


def test_workload_identity_key_vault(
    cli: Cli, kube: Client, devstack: dict[str, Any], namespace: str, ca_bundle: Path, tmp_path: Path
) -> None:
    from azure.core.credentials import AccessToken
    from azure.keyvault.secrets import SecretClient

    class _DevToken:  # the vault's admin seeds a secret (dev-mode tokens are accepted for the admin)
        def get_token(self, *scopes: str, **_: Any) -> AccessToken:
            claims = {"aud": "https://vault.azure.net", "exp": int(time.time()) + 600, "oid": "admin"}
            body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            return AccessToken(f"eyJhbGciOiJub25lIn0.{body}.", claims["exp"])

    kv = devstack["services"]["keyvault"]
    name, value = f"db-password-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    admin = SecretClient(kv["vaultUrl"], _DevToken(), verify_challenge_resource=False, connection_verify=kv["caCert"])
    admin.set_secret(name, value)

    rid, ident = _identity(cli)
    cli.ok(
        "aks",
        "connection",
        "create",
        "keyvault",
        *BASE,
        "--tg",
        RG,
        "--vault",
        "slvault",
        "--workload-identity",
        rid,
        "--client-type",
        "python",
        "--kube-namespace",
        namespace,
        "--connection",
        "kv_wi",
    )
    data = _secret(kube, namespace, "sc-kvwi-secret")
    assert data["AZURE_KEYVAULT_RESOURCEENDPOINT"] == kv["vaultUrl"]
    assert data["AZURE_KEYVAULT_CLIENTID"] == ident["clientId"]
    env = _workload_env(kube, namespace, f"sc-account-{ident['clientId']}", ca_bundle, tmp_path)
    result = run_consumer("wi-keyvault", data, {**env, "READ_SECRET": name, "EXPECTED_VALUE": value})
    assert result["read"] == result["wrote"]


def test_service_principal_end_to_end(
    cli: Cli, kube: Client, devstack: dict[str, Any], namespace: str, ca_bundle: Path
) -> None:
    sp = cli.ok("local", "sp", "create", "--name", f"app-{uuid.uuid4().hex[:6]}").json()
    created = cli.ok(
        "aks",
        "connection",
        "create",
        "storage-queue",
        *BASE,
        "--tg",
        RG,
        "--account",
        "devstoreaccount1",
        "--service-principal",
        f"client-id={sp['clientId']}",
        f"secret={sp['clientSecret']}",
        "--client-type",
        "python",
        "--kube-namespace",
        namespace,
        "--connection",
        "queue_sp",
    ).json()
    assert sp["clientSecret"] not in json.dumps(created)
    data = _secret(kube, namespace, "sc-queuesp-secret")
    assert data["AZURE_STORAGEQUEUE_CLIENTID"] == sp["clientId"]
    assert data["AZURE_STORAGEQUEUE_CLIENTSECRET"] == sp["clientSecret"]
    assert data["AZURE_STORAGEQUEUE_TENANTID"] == SUB
    listed = cli.ok("aks", "connection", "list-configuration", *BASE, "--connection", "queue_sp").json()
    assert {c["name"]: c["value"] for c in listed["configurations"]}["AZURE_STORAGEQUEUE_CLIENTSECRET"] == ""
    env = {
        "SP_PREFIX": "AZURE_STORAGEQUEUE",
        "AZURE_AUTHORITY_HOST": devstack["services"]["tokenservice"]["authorityHost"],
        "REQUESTS_CA_BUNDLE": str(ca_bundle),
        "SSL_CERT_FILE": str(ca_bundle),
    }
    result = run_consumer("sp-storage-queue", data, env)
    assert result["read"] == result["wrote"]
    wrong = consumer("sp-storage-queue", {**data, "AZURE_STORAGEQUEUE_CLIENTSECRET": "not-the-secret"}, env)
    assert wrong.code != 0 and "AADSTS7000215" in wrong.err


def test_key_vault_defaults_to_the_csi_driver(cli: Cli, kube: Client, namespace: str) -> None:
    r = cli.ok(
        "aks",
        "connection",
        "create",
        "keyvault",
        *BASE,
        "--tg",
        RG,
        "--vault",
        "slvault",
        "--kube-namespace",
        namespace,
        "--connection",
        "kv_csi",
    )
    assert "use secrets store csi driver as default: --enable-csi" in r.err
    out = r.json()
    assert out["properties"]["targetService"]["resourceProperties"] == {
        "type": "KeyVault",
        "connectAsKubernetesCsiDriver": True,
    }
    assert out["kubernetesResourceName"] == {"secret": "sc-kvcsi-secret"}  # no ServiceAccount for CSI
    data = _secret(kube, namespace, "sc-kvcsi-secret")
    assert data["AZURE_KEYVAULT_NAME"] == "slvault"
    cluster_id = (
        f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"
    )
    addon = cli.ok("local", "resource", "show", "--id", cluster_id).json()["properties"]["addonProfiles"][
        "azureKeyvaultSecretsProvider"
    ]
    assert addon["enabled"] is True and data["AZURE_KEYVAULT_CLIENTID"] == addon["identity_client_id"]
    spc = out["secretProviderClass"]
    assert spc["kind"] == "SecretProviderClass" and spc["spec"]["provider"] == "azure"
    assert spc["spec"]["parameters"]["userAssignedIdentityID"] == addon["identity_client_id"]
    assert spc["spec"]["parameters"]["keyvaultName"] == "slvault"
    items = {
        i["name"]: i["result"] for i in cli.ok("aks", "connection", "validate", *BASE, "--connection", "kv_csi").json()
    }
    assert items["Managed Identity permissions validated."] == "success"
