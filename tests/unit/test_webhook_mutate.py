"""The Workload Identity webhook's decision, without a cluster: which Pods get which patch, and how the server
answers AdmissionReviews (including its own failures, which must never stop a Pod)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from localcloud.webhook import mutate as m
from localcloud.webhook.server import BadReview, create_app, review_response

pytestmark = pytest.mark.unit

SETTINGS = m.WebhookSettings(authority_host="https://127.0.0.1:28931/", tenant_id="tenant-of-webhook")
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SA = {m.CLIENT_ID_ANNOTATION: CLIENT_ID}
API_MOUNT = {"name": "kube-api-access-x", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}


def pod(
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": "app-sa",
        "containers": containers if containers is not None else [{"name": "app", "image": "app"}],
    }
    if init is not None:
        spec["initContainers"] = init
    if volumes is not None:
        spec["volumes"] = volumes
    meta: dict[str, Any] = {"name": "p", "labels": {m.USE_LABEL: "true"} if labels is None else labels}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def request(obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    return {"uid": "u-1", "namespace": "ns1", "operation": operation, "object": obj}


def apply(doc: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """Just enough RFC 6902 `add` to check the patch's effect (the integration test uses the API server's)."""
    out = copy.deepcopy(doc)
    for op in patch:
        assert op["op"] == "add"
        *parents, last = op["path"].lstrip("/").split("/")
        target: Any = out
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            assert last == "-"
            target.append(copy.deepcopy(op["value"]))
        else:
            assert last not in target, f"add over an existing member {op['path']}"
            target[last] = copy.deepcopy(op["value"])
    return out


def env_of(container: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env") or []}


def mutated(obj: dict[str, Any], sa: Mapping[str, str] = SA) -> dict[str, Any]:
    return apply(obj, m.mutate(request(obj), sa, SETTINGS))


EXPECTED_ENV = {
    "AZURE_CLIENT_ID": CLIENT_ID,
    "AZURE_TENANT_ID": "tenant-of-webhook",
    "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
    "AZURE_AUTHORITY_HOST": "https://127.0.0.1:28931/",
}
EXPECTED_MOUNT = {"name": "azure-identity-token", "mountPath": "/var/run/secrets/azure/tokens", "readOnly": True}
EXPECTED_VOLUME = {
    "name": "azure-identity-token",
    "projected": {
        "sources": [
            {
                "serviceAccountToken": {
                    "path": "azure-identity-token",
                    "expirationSeconds": 3600,
                    "audience": "api://AzureADTokenExchange",
                }
            }
        ]
    },
}


def test_labelled_pod_gets_env_mount_and_volume() -> None:
    obj = pod(
        containers=[{"name": "app", "image": "app", "volumeMounts": [API_MOUNT]}],
        volumes=[{"name": "kube-api-access-x", "projected": {"sources": []}}],
    )
    patch = m.mutate(request(obj), SA, SETTINGS)
    assert patch == [
        {
            "op": "add",
            "path": "/spec/containers/0/env",
            "value": [{"name": k, "value": v} for k, v in EXPECTED_ENV.items()],
        },
        {"op": "add", "path": "/spec/containers/0/volumeMounts/-", "value": EXPECTED_MOUNT},
        {"op": "add", "path": "/spec/volumes/-", "value": EXPECTED_VOLUME},
    ]
    out = apply(obj, patch)
    assert out["spec"]["containers"][0]["volumeMounts"] == [API_MOUNT, EXPECTED_MOUNT]


def test_pod_without_volumes_gets_a_volumes_list() -> None:
    out = mutated(pod())
    assert out["spec"]["volumes"] == [EXPECTED_VOLUME]
    assert out["spec"]["containers"][0]["volumeMounts"] == [EXPECTED_MOUNT]
    assert env_of(out["spec"]["containers"][0]) == EXPECTED_ENV


def test_every_container_and_init_container() -> None:
    obj = pod(
        containers=[{"name": "a", "image": "a"}, {"name": "b", "image": "b"}],
        init=[{"name": "migrate", "image": "m"}],
    )
    out = mutated(obj)
    for c in out["spec"]["containers"] + out["spec"]["initContainers"]:
        assert env_of(c) == EXPECTED_ENV, c["name"]
        assert c["volumeMounts"] == [EXPECTED_MOUNT]
    assert len(out["spec"]["volumes"]) == 1


def test_skip_containers() -> None:
    obj = pod(
        annotations={m.SKIP_CONTAINERS_ANNOTATION: " sidecar ; migrate"},
        containers=[{"name": "app", "image": "a"}, {"name": "sidecar", "image": "s"}],
        init=[{"name": "migrate", "image": "m"}],
    )
    out = mutated(obj)
    app, sidecar = out["spec"]["containers"]
    assert env_of(app) == EXPECTED_ENV
    assert "env" not in sidecar and "volumeMounts" not in sidecar
    assert "env" not in out["spec"]["initContainers"][0]
    assert out["spec"]["volumes"] == [EXPECTED_VOLUME]  # upstream adds the volume regardless


def test_explicit_env_is_not_overwritten() -> None:
    mine = [{"name": "AZURE_CLIENT_ID", "value": "mine"}, {"name": "AZURE_TENANT_ID", "valueFrom": {"x": 1}}]
    out = mutated(pod(containers=[{"name": "app", "image": "a", "env": copy.deepcopy(mine)}]))
    env = out["spec"]["containers"][0]["env"]
    assert env[:2] == mine
    assert [e["name"] for e in env[2:]] == ["AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"]


def test_idempotent() -> None:
    obj = pod(init=[{"name": "i", "image": "i"}], containers=[{"name": "a", "image": "a", "env": []}])
    once = mutated(obj)
    assert m.mutate(request(once), SA, SETTINGS) == []


def test_existing_token_volume_or_mount_path_is_kept() -> None:
    own_volume = {"name": "azure-identity-token", "emptyDir": {}}
    own_mount = {"name": "other", "mountPath": "/var/run/secrets/azure/tokens"}
    obj = pod(containers=[{"name": "a", "image": "a", "volumeMounts": [own_mount]}], volumes=[own_volume])
    out = mutated(obj)
    assert out["spec"]["volumes"] == [own_volume]
    assert out["spec"]["containers"][0]["volumeMounts"] == [own_mount]
    assert env_of(out["spec"]["containers"][0]) == EXPECTED_ENV


@pytest.mark.parametrize("labels", [{}, {m.USE_LABEL: "false"}, {"app": "x"}])
def test_pod_without_the_label_is_not_mutated(labels: dict[str, str]) -> None:
    assert m.mutate(request(pod(labels=labels)), SA, SETTINGS) == []


def test_only_create_is_mutated() -> None:
    assert m.mutate(request(pod(), operation="UPDATE"), SA, SETTINGS) == []


def test_service_account_without_client_id_gets_the_rest() -> None:
    """As upstream: AZURE_CLIENT_ID is left out (empty values are never injected), the rest still comes."""
    out = mutated(pod(), sa={})
    env = env_of(out["spec"]["containers"][0])
    assert "AZURE_CLIENT_ID" not in env
    assert env == {k: v for k, v in EXPECTED_ENV.items() if k != "AZURE_CLIENT_ID"}
    assert out["spec"]["volumes"] == [EXPECTED_VOLUME]


def test_tenant_from_service_account_annotation() -> None:
    out = mutated(pod(), sa={**SA, m.TENANT_ID_ANNOTATION: "sa-tenant"})
    assert env_of(out["spec"]["containers"][0])["AZURE_TENANT_ID"] == "sa-tenant"


def test_token_expiration_pod_annotation_wins_over_service_account() -> None:
    sa = {**SA, m.TOKEN_EXPIRATION_ANNOTATION: "7200"}
    assert (
        mutated(pod(), sa=sa)["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"][
            "expirationSeconds"
        ]
        == 7200
    )
    obj = pod(annotations={m.TOKEN_EXPIRATION_ANNOTATION: "86400"})
    token = mutated(obj, sa=sa)["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["expirationSeconds"] == 86400


@pytest.mark.parametrize("value", ["3599", "86401", "1h", "-3600"])
def test_invalid_token_expiration_is_rejected(value: str) -> None:
    with pytest.raises(m.InvalidPod):
        m.mutate(request(pod(annotations={m.TOKEN_EXPIRATION_ANNOTATION: value})), SA, SETTINGS)


def test_service_account_name_defaults_and_namespace_from_request() -> None:
    obj = pod()
    del obj["spec"]["serviceAccountName"]
    assert m.service_account_name(obj) == "default"
    assert m.pod_namespace(request(obj)) == "ns1"


# ------------------------------------------------------------------------------------------------ server


def review(obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request(obj, operation)}


def lookup_of(accounts: dict[tuple[str, str], dict[str, str]]) -> Any:
    def lookup(namespace: str, name: str) -> Mapping[str, str] | None:
        return accounts.get((namespace, name))

    return lookup


LOOKUP = lookup_of({("ns1", "app-sa"): SA})


def test_review_response_carries_a_base64_json_patch() -> None:
    out = review_response(review(pod()), SETTINGS, LOOKUP)
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    resp = out["response"]
    assert resp["uid"] == "u-1" and resp["allowed"] is True and resp["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(resp["patch"]))
    assert patch == m.mutate(request(pod()), SA, SETTINGS)


def test_review_unlabelled_pod_is_allowed_without_lookup() -> None:
    def boom(namespace: str, name: str) -> Mapping[str, str] | None:
        raise AssertionError("no lookup for an unlabelled pod")

    resp = review_response(review(pod(labels={})), SETTINGS, boom)["response"]
    assert resp == {"uid": "u-1", "allowed": True}


def test_review_own_failure_admits_unmodified_with_a_warning() -> None:
    def broken(namespace: str, name: str) -> Mapping[str, str] | None:
        raise ConnectionError("API server unreachable")

    resp = review_response(review(pod()), SETTINGS, broken)["response"]
    assert resp["allowed"] is True and "patch" not in resp and resp["warnings"]


def test_review_missing_service_account_admits_unmodified() -> None:
    resp = review_response(review(pod()), SETTINGS, lookup_of({}))["response"]
    assert resp["allowed"] is True and "patch" not in resp and "not found" in resp["warnings"][0]


def test_review_invalid_expiration_is_denied() -> None:
    obj = pod(annotations={m.TOKEN_EXPIRATION_ANNOTATION: "60"})
    resp = review_response(review(obj), SETTINGS, LOOKUP)["response"]
    assert resp["allowed"] is False and resp["status"]["code"] == 400
    assert "between 3600 and 86400" in resp["status"]["message"]


def test_review_proxy_sidecar_is_not_supported_but_warned() -> None:
    obj = pod(annotations={m.INJECT_PROXY_SIDECAR_ANNOTATION: "true"})
    resp = review_response(review(obj), SETTINGS, LOOKUP)["response"]
    assert resp["patch"] and "not supported" in resp["warnings"][0]
    assert all("azwi-proxy" not in json.dumps(op) for op in json.loads(base64.b64decode(resp["patch"])))


def test_malformed_review() -> None:
    with pytest.raises(BadReview):
        review_response({"kind": "AdmissionReview"}, SETTINGS, LOOKUP)
    client = TestClient(create_app(SETTINGS, LOOKUP))
    assert client.post("/mutate", json={"request": {}}).status_code == 400
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.post("/mutate", json=review(pod())).json()["response"]["patchType"] == "JSONPatch"
