"""Workload identity end to end on the dev stack: a consumer process holding only a service-account token from the
real kube-apiserver (TokenRequest, audience api://AzureADTokenExchange) and `AZURE_AUTHORITY_HOST` pointing at the
token service writes and reads blobs in Azurite over HTTPS (OAuth) and secrets in the Key Vault server, with
azure-identity's own credentials. Every refusal is asserted by its AADSTS code in the SDK's exception text.

Run alone with `SL_DEVSTACK_ONLY=kube,azurite,keyvault,tokenservice SL_TEST_PORT_BASE=28300`. When the session
stack was started without `tokenservice`, the module starts (and stops) the service itself.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from localcloud import admin
from localcloud import identity as ident
from localcloud.devstack import process, tokenservice
from localcloud.devstack.config import HOST, StackConfig
from localcloud.devstack.pki import load_key
from localcloud.inventory import LOCAL_SUBSCRIPTION, LOCAL_TENANT, Inventory

pytestmark = pytest.mark.integration

EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
RG = f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/sl-wi-test/providers"
STORAGE_ID = f"{RG}/Microsoft.Storage/storageAccounts/devstoreaccount1"
VAULT_ID = f"{RG}/Microsoft.KeyVault/vaults/slvault"

#: The consumer: an application as written for Azure. Arguments: credential kind, operation, endpoint.
CONSUMER = r"""
import json, os, sys, uuid
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

kind, operation, endpoint = sys.argv[1:4]

def credential():
    from azure.identity import ClientSecretCredential, DefaultAzureCredential, WorkloadIdentityCredential
    if kind == "wi":
        return WorkloadIdentityCredential()
    if kind == "default":
        return DefaultAzureCredential()
    # MSAL checks unknown authority hosts against login.microsoftonline.com unless told not to.
    return ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"],
                                  os.environ["AZURE_CLIENT_SECRET"], disable_instance_discovery=True)

def blobs(cred):
    from azure.storage.blob import BlobServiceClient
    service = BlobServiceClient(endpoint, credential=cred, retry_total=0)
    container = service.create_container("wi-" + uuid.uuid4().hex[:12])
    payload = uuid.uuid4().hex.encode()
    container.upload_blob("hello.txt", payload)
    assert container.download_blob("hello.txt").readall() == payload
    return {"container": container.container_name, "bytes": len(payload)}

def secrets(cred):
    from azure.keyvault.secrets import SecretClient
    client = SecretClient(endpoint, cred, verify_challenge_resource=False, retry_total=0)
    name = "wi-" + uuid.uuid4().hex[:12]
    value = uuid.uuid4().hex
    client.set_secret(name, value)
    assert client.get_secret(name).value == value
    return {"secret": name}

try:
    result = (blobs if operation == "blob" else secrets)(credential())
    print(json.dumps({"ok": True, **result}))
except (ClientAuthenticationError, HttpResponseError) as exc:
    print(json.dumps({"ok": False, "type": type(exc).__name__, "error": str(exc)}))
"""


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def services(devstack: dict[str, Any], stack_config: StackConfig) -> Iterator[dict[str, Any]]:
    """kube, azurite, keyvault from the session stack; the token service from it too, or started here."""
    found: dict[str, Any] = devstack["services"]
    missing = [s for s in ("kube", "azurite", "keyvault") if s not in found]
    if missing:
        pytest.skip(f"dev-stack services not started: {', '.join(missing)}")
    started_here = "tokenservice" not in found
    desc = tokenservice.SERVICE.start(stack_config) if started_here else found["tokenservice"]
    try:
        yield {**found, "tokenservice": desc}
    finally:
        rec = process.record(stack_config.state_dir, tokenservice.NAME)
        if started_here and rec is not None:
            process.stop(stack_config.state_dir, rec)


@pytest.fixture(scope="module")
def kube(services: dict[str, Any]) -> Iterator[httpx.Client]:
    desc = services["kube"]
    ctx = ssl.create_default_context(cafile=desc["caCert"])
    ctx.load_cert_chain(desc["adminCert"], desc["adminKey"])
    with httpx.Client(base_url=desc["server"], verify=ctx, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def namespace(kube: httpx.Client) -> Iterator[str]:
    name = f"wi-{uuid.uuid4().hex[:8]}"
    kube.post("/api/v1/namespaces", json={"metadata": {"name": name}}).raise_for_status()
    yield name
    kube.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture(scope="module")
def inventory(stack_config: StackConfig) -> Inventory:
    return Inventory(stack_config.inventory)


@pytest.fixture(scope="module")
def ca_bundle(services: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PEM with the token service's, Azurite's and the Key Vault's CAs: all the consumer trusts."""
    parts = [
        services["tokenservice"]["caCert"],
        services["azurite"]["https"]["caCert"],
        services["keyvault"]["caCert"],
    ]
    bundle = tmp_path_factory.mktemp("ca") / "bundle.pem"
    bundle.write_text("".join(Path(p).read_text() for p in parts))
    return bundle


class Workload:
    """An identity of the local cloud and the ServiceAccount `sc-account-<clientId>` that may act as it."""

    def __init__(self, inventory: Inventory, kube: httpx.Client, namespace: str, name: str) -> None:
        self.inventory = inventory
        self.kube = kube
        self.namespace = namespace
        self.identity_id = f"{RG}/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
        res = ident.create_identity(inventory, self.identity_id)
        self.client_id = str(res.properties["clientId"])
        self.principal_id = str(res.properties["principalId"])
        self.service_account = f"sc-account-{self.client_id}"
        self.subject = f"system:serviceaccount:{namespace}:{self.service_account}"
        create_service_account(kube, namespace, self.service_account)

    def federate(self, issuer: str) -> None:
        ident.ensure_federated_credential(self.inventory, self.identity_id, "sc-fic", issuer, self.subject)

    def grant(self, role: str, scope: str) -> None:
        admin.grant(self.inventory, self.principal_id, role, scope)

    def token(self, audience: str = EXCHANGE_AUDIENCE, service_account: str | None = None) -> str:
        return request_token(self.kube, self.namespace, service_account or self.service_account, audience)


def create_service_account(kube: httpx.Client, namespace: str, name: str) -> None:
    kube.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", json={"metadata": {"name": name}}).raise_for_status()


def request_token(kube: httpx.Client, namespace: str, service_account: str, audience: str) -> str:
    """A TokenRequest, as the kubelet makes for a projected service-account token volume."""
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": [audience], "expirationSeconds": 3600},
    }
    resp = kube.post(f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token", json=body)
    resp.raise_for_status()
    return str(resp.json()["status"]["token"])


@pytest.fixture(scope="module")
def app(inventory: Inventory, kube: httpx.Client, namespace: str, services: dict[str, Any]) -> Workload:
    """The connected workload: FIC for its ServiceAccount, blob and secrets roles (what a connection creates)."""
    w = Workload(inventory, kube, namespace, f"wi-app-{uuid.uuid4().hex[:6]}")
    w.federate(services["kube"]["issuer"])
    w.grant("Storage Blob Data Contributor", STORAGE_ID)
    w.grant("Key Vault Secrets Officer", VAULT_ID)
    return w


@pytest.fixture(scope="module")
def verifying_vault(
    services: dict[str, Any], stack_config: StackConfig, app: Workload, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second Key Vault server that checks our tokens' signatures against the token service's JWKS, names the
    token service as its challenge authority, and authorizes by object id (an access file mirroring the role)."""
    kv, ts = services["keyvault"], services["tokenservice"]
    port = free_port()  # ephemeral range: no dev-stack port block can hold it
    access = tmp_path_factory.mktemp("kv") / "access.json"
    access.write_text(json.dumps({"slvault": {app.principal_id: ["Key Vault Secrets Officer"]}}))
    tls_dir = Path(kv["caCert"]).parent
    argv = [
        sys.executable, "-m", "localcloud.keyvault.app",
        "--host", HOST, "--port", str(port), "--vaults", "slvault",
        "--cert", str(tls_dir / "server.crt"), "--key", str(tls_dir / "server.key"),
        "--authority", f"{ts['authorityHost']}/{ts['tenantId']}",
        "--issuer", ts["issuer"], "--jwks-url", ts["jwksUri"], "--jwks-ca", ts["caCert"],
        "--require-role", "--access-file", str(access),
    ]  # fmt: skip
    rec = process.spawn(stack_config.state_dir, "keyvault-verifying", argv)
    url = f"https://{HOST}:{port}/"
    context = ssl.create_default_context(cafile=kv["caCert"])
    try:
        process.wait_until(
            lambda: httpx.get(url + "healthz", verify=context, timeout=2).status_code == 200, 30, "verifying vault", rec
        )
        yield url
    finally:
        process.stop(stack_config.state_dir, rec)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def consume(
    services: dict[str, Any], ca_bundle: Path, env: dict[str, str], kind: str, operation: str, endpoint: str
) -> dict[str, Any]:
    """Run the consumer with nothing but the given identity variables, the authority host and the CA bundle."""
    full_env = {
        **env,
        "AZURE_TENANT_ID": LOCAL_TENANT,
        "AZURE_AUTHORITY_HOST": services["tokenservice"]["authorityHost"],
        "REQUESTS_CA_BUNDLE": str(ca_bundle),
        "SSL_CERT_FILE": str(ca_bundle),
    }
    proc = subprocess.run(
        [sys.executable, "-c", CONSUMER, kind, operation, endpoint],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def wi_env(client_id: str, token: str, directory: Path) -> dict[str, str]:
    token_file = directory / f"token-{uuid.uuid4().hex[:8]}"
    token_file.write_text(token)
    return {"AZURE_CLIENT_ID": client_id, "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}


def refused_with(result: dict[str, Any], code: int) -> str:
    assert not result["ok"], result
    assert result["type"] == "ClientAuthenticationError", result
    text = str(result["error"])
    assert f"AADSTS{code}:" in text, text
    return text


# ------------------------------------------------------------------------------------------------- tests


def test_token_service_is_described_and_healthy(services: dict[str, Any], stack_config: StackConfig) -> None:
    ts = services["tokenservice"]
    assert ts["authorityHost"] == f"https://{HOST}:{stack_config.ports.token_service}"
    assert ts["env"] == {"AZURE_AUTHORITY_HOST": ts["authorityHost"], "SL_TOKEN_SERVICE_CA": ts["caCert"]}
    assert ts["issuerCas"] == [services["kube"]["caCert"]]
    assert tokenservice.SERVICE.health(stack_config, ts).healthy


def test_workload_identity_writes_and_reads_blobs(
    services: dict[str, Any], ca_bundle: Path, app: Workload, tmp_path: Path
) -> None:
    env = wi_env(app.client_id, app.token(), tmp_path)
    endpoint = services["azurite"]["https"]["blobEndpoint"]
    assert consume(services, ca_bundle, env, "wi", "blob", endpoint)["ok"]
    # The same application with DefaultAzureCredential, as Azure's samples write it.
    assert consume(services, ca_bundle, env, "default", "blob", endpoint)["ok"]


def test_workload_identity_sets_and_gets_secrets(
    services: dict[str, Any], ca_bundle: Path, app: Workload, verifying_vault: str, tmp_path: Path
) -> None:
    env = wi_env(app.client_id, app.token(), tmp_path)
    assert consume(services, ca_bundle, env, "wi", "secret", services["keyvault"]["vaultUrl"])["ok"]
    assert consume(services, ca_bundle, env, "wi", "secret", verifying_vault)["ok"]


def test_verifying_vault_challenge_names_the_token_service(services: dict[str, Any], verifying_vault: str) -> None:
    ts = services["tokenservice"]
    context = ssl.create_default_context(cafile=services["keyvault"]["caCert"])
    resp = httpx.get(verifying_vault + "secrets?api-version=7.6", verify=context)
    assert resp.status_code == 401
    assert f'authorization="{ts["authorityHost"]}/{LOCAL_TENANT}"' in resp.headers["WWW-Authenticate"]


def test_token_of_another_service_account_is_refused(
    services: dict[str, Any], ca_bundle: Path, app: Workload, kube: httpx.Client, namespace: str, tmp_path: Path
) -> None:
    create_service_account(kube, namespace, "someone-else")
    env = wi_env(app.client_id, app.token(service_account="someone-else"), tmp_path)
    result = consume(services, ca_bundle, env, "wi", "blob", services["azurite"]["https"]["blobEndpoint"])
    text = refused_with(result, 70021)
    assert f"Assertion Subject: 'system:serviceaccount:{namespace}:someone-else'" in text


def test_expired_token_is_refused(
    services: dict[str, Any], ca_bundle: Path, app: Workload, kube: httpx.Client, tmp_path: Path
) -> None:
    """Signed with the cluster's own service-account key and kid, so only its lifetime is wrong."""
    kube_desc = services["kube"]
    kid = kube.get("/openid/v1/jwks").json()["keys"][0]["kid"]
    now = int(time.time())
    claims = {
        "iss": kube_desc["issuer"],
        "sub": app.subject,
        "aud": [EXCHANGE_AUDIENCE],
        "iat": now - 7200,
        "nbf": now - 7200,
        "exp": now - 3600,
        "kubernetes.io": {"namespace": app.namespace, "serviceaccount": {"name": app.service_account}},
    }
    key = load_key(Path(kube_desc["serviceAccountSigningKey"]))
    expired = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    env = wi_env(app.client_id, expired, tmp_path)
    result = consume(services, ca_bundle, env, "wi", "blob", services["azurite"]["https"]["blobEndpoint"])
    assert "not within its valid time range" in refused_with(result, 700024)


def test_wrong_audience_is_refused(services: dict[str, Any], ca_bundle: Path, app: Workload, tmp_path: Path) -> None:
    env = wi_env(app.client_id, app.token(audience="https://kubernetes.default.svc"), tmp_path)
    result = consume(services, ca_bundle, env, "wi", "blob", services["azurite"]["https"]["blobEndpoint"])
    refused_with(result, 700212)


def test_missing_federated_credential_is_refused(
    services: dict[str, Any], ca_bundle: Path, inventory: Inventory, kube: httpx.Client, namespace: str, tmp_path: Path
) -> None:
    lonely = Workload(inventory, kube, namespace, f"wi-nofic-{uuid.uuid4().hex[:6]}")
    lonely.grant("Storage Blob Data Contributor", STORAGE_ID)
    endpoint = services["azurite"]["https"]["blobEndpoint"]
    result = consume(services, ca_bundle, wi_env(lonely.client_id, lonely.token(), tmp_path), "wi", "blob", endpoint)
    refused_with(result, 70021)
    lonely.federate("https://oidc.other-cluster.invalid")  # a FIC, but for another cluster's issuer
    result = consume(services, ca_bundle, wi_env(lonely.client_id, lonely.token(), tmp_path), "wi", "blob", endpoint)
    refused_with(result, 700211)


def test_removed_role_assignment_is_refused(
    services: dict[str, Any], ca_bundle: Path, inventory: Inventory, kube: httpx.Client, namespace: str, tmp_path: Path
) -> None:
    w = Workload(inventory, kube, namespace, f"wi-revoked-{uuid.uuid4().hex[:6]}")
    w.federate(services["kube"]["issuer"])
    w.grant("Storage Blob Data Contributor", STORAGE_ID)
    endpoint = services["azurite"]["https"]["blobEndpoint"]
    env = wi_env(w.client_id, w.token(), tmp_path)
    assert consume(services, ca_bundle, env, "wi", "blob", endpoint)["ok"]
    assert admin.revoke(inventory, w.principal_id, None, STORAGE_ID) == 1
    text = refused_with(consume(services, ca_bundle, env, "wi", "blob", endpoint), 501051)
    assert "Azure Storage" in text
    vault = services["keyvault"]["vaultUrl"]
    refused_with(consume(services, ca_bundle, env, "wi", "secret", vault), 501051)


def test_service_principal_with_client_secret(services: dict[str, Any], ca_bundle: Path, inventory: Inventory) -> None:
    sp, secret = ident.create_service_principal(inventory, f"wi-test-sp-{uuid.uuid4().hex[:6]}")
    admin.grant(inventory, sp.object_id, "Storage Blob Data Contributor", STORAGE_ID)
    endpoint = services["azurite"]["https"]["blobEndpoint"]
    env = {"AZURE_CLIENT_ID": sp.client_id, "AZURE_CLIENT_SECRET": secret}
    assert consume(services, ca_bundle, env, "sp", "blob", endpoint)["ok"]
    wrong = {**env, "AZURE_CLIENT_SECRET": secret[:-4] + "AAAA"}
    text = refused_with(consume(services, ca_bundle, wrong, "sp", "blob", endpoint), 7000215)
    assert secret not in text
    refused_with(consume(services, ca_bundle, env, "sp", "secret", services["keyvault"]["vaultUrl"]), 501051)
