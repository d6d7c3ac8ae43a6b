"""The dev stack's Kubernetes: real objects, a CRD, TokenRequest verified against the issuer's JWKS, the
controller manager's work, and Helm against it."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from lightkube import Client, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret, ServiceAccount, ServiceAccountToken

from localcloud.devstack.config import StackConfig

pytestmark = pytest.mark.integration

AUDIENCE = "api://AzureADTokenExchange"


@pytest.fixture(scope="module")
def kube(devstack: dict[str, Any]) -> dict[str, Any]:
    desc: dict[str, Any] = devstack["services"]["kube"]
    return desc


@pytest.fixture(scope="module")
def client(kube: dict[str, Any]) -> Client:
    return Client(KubeConfig.from_file(kube["kubeconfig"]), field_manager="servicelinker-tests")


@pytest.fixture()
def namespace(client: Client) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    client.create(Namespace(metadata=ObjectMeta(name=name)))
    return name


def test_namespace_secret_serviceaccount_roundtrip(client: Client, namespace: str) -> None:
    client.create(Secret(metadata=ObjectMeta(name="s1"), stringData={"KEY": "v1"}), namespace=namespace)
    client.create(ServiceAccount(metadata=ObjectMeta(name="sa1")), namespace=namespace)
    secret = client.get(Secret, "s1", namespace=namespace)
    assert secret.data is not None and secret.data["KEY"] == "djE="  # base64 of v1
    assert client.get(ServiceAccount, "sa1", namespace=namespace).metadata.name == "sa1"


def test_crd_and_custom_object(client: Client, namespace: str) -> None:
    group = "tests.servicelinker.io"
    crd = CustomResourceDefinition.from_dict(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
                            }
                        },
                    }
                ],
            },
        }
    )
    client.apply(crd)
    widget = create_namespaced_resource(group, "v1", "Widget", "widgets")
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create(widget(metadata=ObjectMeta(name="w1"), spec={"size": 3}), namespace=namespace)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # the CRD's endpoint appears a moment after it is Established
    got = client.get(widget, "w1", namespace=namespace)
    assert got.spec == {"size": 3}
    assert got.metadata.namespace == namespace


def test_token_request_verifies_against_issuer_jwks(client: Client, kube: dict[str, Any], namespace: str) -> None:
    client.create(ServiceAccount(metadata=ObjectMeta(name="workload")), namespace=namespace)
    req = ServiceAccountToken(
        metadata=ObjectMeta(name="workload"), spec=TokenRequestSpec(audiences=[AUDIENCE], expirationSeconds=3600)
    )
    resp = client.create(req, "workload", namespace=namespace)
    assert resp.status is not None
    token = resp.status.token

    # The issuer's discovery document and JWKS are public, as an AKS OIDC issuer's are: no credentials here.
    issuer = kube["issuer"]
    tls = ssl.create_default_context(cafile=kube["caCert"])
    discovery = httpx.get(f"{issuer}/.well-known/openid-configuration", verify=tls).json()
    assert discovery["issuer"] == issuer
    jwks = httpx.get(discovery["jwks_uri"], verify=tls).json()
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=[header["alg"]], audience=AUDIENCE, issuer=issuer)
    assert claims["sub"] == f"system:serviceaccount:{namespace}:workload"
    assert claims["aud"] == [AUDIENCE]

    # A token is bound to its audience: verification with another audience fails.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, jwt.PyJWK(key).key, algorithms=[header["alg"]], audience="api://other", issuer=issuer)


def test_controller_manager_creates_default_serviceaccount_and_deletes_namespaces(
    client: Client, namespace: str
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        names = [sa.metadata.name for sa in client.list(ServiceAccount, namespace=namespace)]
        if "default" in names:
            break
        time.sleep(0.2)
    assert "default" in names
    client.delete(Namespace, namespace)
    deadline = time.monotonic() + 60
    gone = False
    while time.monotonic() < deadline and not gone:
        gone = namespace not in [ns.metadata.name for ns in client.list(Namespace)]
        time.sleep(0.3)
    assert gone, "namespace deletion did not finish (is kube-controller-manager running?)"


def _helm(stack_config: StackConfig, kube: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": kube["kubeconfig"], "HELM_CACHE_HOME": str(stack_config.state_dir / "helm")}
    return subprocess.run(
        [str(stack_config.bin_dir / "helm"), *args], capture_output=True, text=True, env=env, check=False
    )


def test_helm_install_upgrade_uninstall(
    client: Client, kube: dict[str, Any], stack_config: StackConfig, namespace: str
) -> None:
    chart = os.path.join(os.path.dirname(__file__), "..", "fixtures", "charts", "hello")
    r = _helm(stack_config, kube, "install", "greet", chart, "-n", namespace, "--wait", "--timeout", "60s")
    assert r.returncode == 0, r.stderr
    cm = client.get(ConfigMap, "greet-greeting", namespace=namespace)
    assert cm.data is not None and cm.data["greeting"] == "hello"
    assert cm.data["kubeVersion"] == kube["version"]

    r = _helm(stack_config, kube, "upgrade", "greet", chart, "-n", namespace, "--set", "greeting=hi")
    assert r.returncode == 0, r.stderr
    assert client.get(ConfigMap, "greet-greeting", namespace=namespace).data == {
        "greeting": "hi",
        "kubeVersion": kube["version"],
    }
    status = json.loads(_helm(stack_config, kube, "status", "greet", "-n", namespace, "-o", "json").stdout)
    assert status["version"] == 2 and status["info"]["status"] == "deployed"

    r = _helm(stack_config, kube, "uninstall", "greet", "-n", namespace, "--wait")
    assert r.returncode == 0, r.stderr
    assert [c.metadata.name for c in client.list(ConfigMap, namespace=namespace)] == ["kube-root-ca.crt"]


def test_secrets_are_encrypted_at_rest_in_etcd(client: Client, kube: dict[str, Any], namespace: str) -> None:
    """Hardening finding 7: what etcd stores for a Secret is secretbox ciphertext, never the value (as AKS)."""
    canary = f"canary-{uuid.uuid4().hex}"
    client.create(Secret(metadata=ObjectMeta(name="at-rest"), stringData={"KEY": canary}), namespace=namespace)
    import base64

    key = base64.b64encode(f"/registry/secrets/{namespace}/at-rest".encode()).decode()
    found = httpx.post(f"{kube['etcd']}/v3/kv/range", json={"key": key}, timeout=5).json()
    stored = base64.b64decode(found["kvs"][0]["value"])
    assert stored.startswith(b"k8s:enc:secretbox:v1:key1:")
    assert canary.encode() not in stored and base64.b64encode(canary.encode()) not in stored
    read_back = client.get(Secret, "at-rest", namespace=namespace).data
    assert read_back == {"KEY": base64.b64encode(canary.encode()).decode()}
