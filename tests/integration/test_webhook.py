"""The Workload Identity webhook against the dev stack's real API server: a labelled Pod is stored with what AKS's
webhook injects, an unlabelled one is untouched, and a dead webhook never stops a Pod (failurePolicy Ignore).

Run alone with `SL_DEVSTACK_ONLY=kube SL_TEST_PORT_BASE=28900`; the webhook is started here when the stack did
not start it (it is not in SERVICE_NAMES yet, or was left out by SL_DEVSTACK_ONLY).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod, ServiceAccount

from localcloud.devstack import process
from localcloud.devstack import webhook as webhook_service
from localcloud.devstack.config import StackConfig
from localcloud.webhook import mutate as m

pytestmark = pytest.mark.integration

CLIENT_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
TOKEN_FILE = "/var/run/secrets/azure/tokens/azure-identity-token"


@pytest.fixture(scope="module")
def webhook(devstack: dict[str, Any], stack_config: StackConfig) -> Iterator[dict[str, Any]]:
    desc: dict[str, Any] | None = devstack["services"].get("webhook")
    started = desc is None
    if desc is None:
        desc = webhook_service.SERVICE.start(stack_config)
    yield desc
    rec = process.record(stack_config.state_dir, webhook_service.PROCESS_NAME)
    if started and rec is not None:
        process.stop(stack_config.state_dir, rec)


@pytest.fixture(scope="module")
def client(devstack: dict[str, Any]) -> Client:
    return Client(KubeConfig.from_file(devstack["services"]["kube"]["kubeconfig"]), field_manager="sl-tests")


@pytest.fixture(scope="module")
def namespace(client: Client, webhook: dict[str, Any]) -> Iterator[str]:
    name = f"wi-{uuid.uuid4().hex[:8]}"
    client.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name
    client.delete(Namespace, name)


def service_account(client: Client, namespace: str, annotations: dict[str, str]) -> str:
    name = f"sa-{uuid.uuid4().hex[:6]}"
    client.create(ServiceAccount(metadata=ObjectMeta(name=name, annotations=annotations)), namespace=namespace)
    return name


def create_pod(client: Client, namespace: str, sa: str, *, labelled: bool = True) -> dict[str, Any]:
    """Create a Pod (two containers and an init container) and return it as the API server stored it."""
    name = f"p-{uuid.uuid4().hex[:6]}"
    body = {
        "metadata": {"name": name, "labels": {m.USE_LABEL: "true"} if labelled else {"app": "plain"}},
        "spec": {
            "serviceAccountName": sa,
            "initContainers": [{"name": "migrate", "image": "migrate:1"}],
            "containers": [
                {"name": "app", "image": "app:1", "env": [{"name": "KEEP", "value": "me"}]},
                {"name": "sidecar", "image": "sidecar:1"},
            ],
        },
    }
    client.create(cast(Pod, Pod.from_dict(body)), namespace=namespace)
    stored: dict[str, Any] = client.get(Pod, name, namespace=namespace).to_dict()
    return stored


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod["spec"].get("initContainers") or []) + list(pod["spec"]["containers"])


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env") or []}


def token_volumes(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in pod["spec"].get("volumes") or [] if v["name"] == "azure-identity-token"]


def test_labelled_pod_gets_workload_identity(client: Client, namespace: str, webhook: dict[str, Any]) -> None:
    sa = service_account(client, namespace, {m.CLIENT_ID_ANNOTATION: CLIENT_ID})
    pod = create_pod(client, namespace, sa)
    expected = {
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_TENANT_ID": webhook["tenantId"],
        "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
        "AZURE_AUTHORITY_HOST": webhook["authorityHost"],
    }
    assert len(containers(pod)) == 3
    for c in containers(pod):
        env = env_of(c)
        assert {k: env.get(k) for k in expected} == expected, c["name"]
        mounts = [vm for vm in c.get("volumeMounts") or [] if vm["name"] == "azure-identity-token"]
        assert mounts == [
            {"name": "azure-identity-token", "mountPath": "/var/run/secrets/azure/tokens", "readOnly": True}
        ], c["name"]
    assert env_of(pod["spec"]["containers"][0])["KEEP"] == "me"
    [volume] = token_volumes(pod)
    [source] = volume["projected"]["sources"]
    assert source["serviceAccountToken"] == {
        "audience": "api://AzureADTokenExchange",
        "expirationSeconds": 3600,
        "path": "azure-identity-token",
    }


def test_service_account_tenant_and_expiration(client: Client, namespace: str) -> None:
    annotations = {
        m.CLIENT_ID_ANNOTATION: CLIENT_ID,
        m.TENANT_ID_ANNOTATION: "72f988bf-86f1-41af-91ab-2d7cd011db47",
        m.TOKEN_EXPIRATION_ANNOTATION: "7200",
    }
    pod = create_pod(client, namespace, service_account(client, namespace, annotations))
    assert {env_of(c)["AZURE_TENANT_ID"] for c in containers(pod)} == {"72f988bf-86f1-41af-91ab-2d7cd011db47"}
    [volume] = token_volumes(pod)
    assert volume["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 7200


def test_unlabelled_pod_is_untouched(client: Client, namespace: str) -> None:
    sa = service_account(client, namespace, {m.CLIENT_ID_ANNOTATION: CLIENT_ID})
    pod = create_pod(client, namespace, sa, labelled=False)
    assert token_volumes(pod) == []
    for c in containers(pod):
        assert not [k for k in env_of(c) if k.startswith("AZURE_")], c["name"]


def test_pods_are_created_while_the_webhook_is_down(
    client: Client, namespace: str, stack_config: StackConfig, webhook: dict[str, Any]
) -> None:
    sa = service_account(client, namespace, {m.CLIENT_ID_ANNOTATION: CLIENT_ID})
    rec = process.record(stack_config.state_dir, webhook_service.PROCESS_NAME)
    assert rec is not None
    process.stop(stack_config.state_dir, rec)
    try:
        pod = create_pod(client, namespace, sa)
        assert token_volumes(pod) == []
        assert all("AZURE_CLIENT_ID" not in env_of(c) for c in containers(pod))
    finally:
        webhook_service.SERVICE.start(stack_config)  # later tests of the session may need it
    assert token_volumes(create_pod(client, namespace, sa)) != []
