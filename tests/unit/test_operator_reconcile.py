"""The operator's pure half: desired Secret/ServiceAccount, drift detection, ownership, status, redaction."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from servicelinker.kube.client import ready_state
from servicelinker.kube.contract import (
    CONNECTION_ID_ANNOTATION,
    CONNECTION_LABEL,
    CONNECTION_REF_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION,
    ReadyReason,
    ServiceConnectionSpec,
    connection_hash,
)
from servicelinker.operator.desired import (
    ReconcileError,
    ReconcileResult,
    b64,
    desired_secret,
    desired_service_account,
    drift,
    expectation_for,
    is_managed,
    owner_ref,
    parse_connection,
    redact,
    secret_data,
    status_patch,
)
from servicelinker.operator.reconcile import Expectations

pytestmark = pytest.mark.unit

PASSWORD = "s3cr3t-P@ssw0rd!"
REF = "sc-system/mydb-1a2b3c4d"


def _spec(**extra: Any) -> ServiceConnectionSpec:
    raw: dict[str, Any] = {
        "connectionId": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c"
        "/providers/Microsoft.ServiceLinker/linkers/mydb",
        "connectionName": "mydb",
        "targetNamespace": "apps",
        "secretName": "sc-mydb-secret",
        "credentialsSecretName": "mydb-1a2b3c4d-credentials",
        "configurations": [
            {"name": "AZURE_POSTGRESQL_HOST", "value": "db.local"},
            {"name": "AZURE_POSTGRESQL_PASSWORD", "secretKey": "password"},
            {"name": "AZURE_POSTGRESQL_SSL", "value": "true"},
        ],
        **extra,
    }
    return ServiceConnectionSpec.model_validate(raw)


def _creds() -> dict[str, str]:
    return {"password": b64(PASSWORD)}


def _secret(spec: ServiceConnectionSpec | None = None) -> dict[str, Any]:
    spec = spec or _spec()
    return desired_secret(REF, spec, secret_data(spec, _creds(), "sc-system/x"))


def test_secret_data_in_order_with_inline_and_companion_values() -> None:
    data = secret_data(_spec(), _creds(), "sc-system/x")
    assert list(data) == ["AZURE_POSTGRESQL_HOST", "AZURE_POSTGRESQL_PASSWORD", "AZURE_POSTGRESQL_SSL"]
    assert base64.b64decode(data["AZURE_POSTGRESQL_HOST"]) == b"db.local"
    assert data["AZURE_POSTGRESQL_PASSWORD"] == b64(PASSWORD)  # copied as base64, never decoded


def test_missing_credential_key_names_the_key_not_a_value() -> None:
    with pytest.raises(ReconcileError) as err:
        secret_data(_spec(), {"other": b64(PASSWORD)}, "sc-system/mydb-credentials")
    assert err.value.reason is ReadyReason.CREDENTIAL_KEY_MISSING
    assert "'password'" in err.value.message and "AZURE_POSTGRESQL_PASSWORD" in err.value.message
    assert PASSWORD not in err.value.message and b64(PASSWORD) not in err.value.message


def test_desired_secret_labels_annotations_type() -> None:
    s = _secret()
    assert s["kind"] == "Secret" and s["type"] == "Opaque"
    assert s["metadata"]["name"] == "sc-mydb-secret" and s["metadata"]["namespace"] == "apps"
    assert s["metadata"]["labels"] == {MANAGED_BY_LABEL: MANAGED_BY,
                                       CONNECTION_LABEL: connection_hash(_spec().connection_id)}
    assert s["metadata"]["annotations"] == {
        CONNECTION_ID_ANNOTATION: _spec().connection_id,
        CONNECTION_REF_ANNOTATION: REF,
    }


def test_desired_service_account_for_workload_identity() -> None:
    assert desired_service_account(REF, _spec()) is None
    spec = _spec(
        serviceAccount={
            "name": "sc-account-1111",
            "annotations": {WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION: "1111"},
            "labels": {"team": "a", MANAGED_BY_LABEL: "someone-else"},
        }
    )
    sa = desired_service_account(REF, spec)
    assert sa is not None
    assert sa["metadata"]["annotations"][WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION] == "1111"
    assert sa["metadata"]["annotations"][CONNECTION_REF_ANNOTATION] == REF
    assert sa["metadata"]["labels"] == {"team": "a", MANAGED_BY_LABEL: MANAGED_BY}  # ours wins


def test_no_drift_when_identical_and_extra_labels_are_tolerated() -> None:
    s = _secret()
    observed = {**s, "metadata": {**s["metadata"], "labels": {**s["metadata"]["labels"], "extra": "x"}}}
    assert drift(expectation_for(s), observed) == []


def test_drift_is_described_by_key_names_only() -> None:
    s = _secret()
    tampered = {
        **s,
        "data": {**s["data"], "AZURE_POSTGRESQL_PASSWORD": b64("hacked-value"), "INJECTED": b64("x")},
    }
    del tampered["data"]["AZURE_POSTGRESQL_SSL"]
    found = drift(expectation_for(s), tampered)
    assert found == [
        "data changed: AZURE_POSTGRESQL_PASSWORD",
        "data missing: AZURE_POSTGRESQL_SSL",
        "data unexpected: INJECTED",
    ]
    assert not any(PASSWORD in f or "hacked-value" in f for f in found)


def test_drift_missing_object_labels_annotations_and_type() -> None:
    s = _secret()
    exp = expectation_for(s)
    assert drift(exp, None) == ["Secret is missing"]
    relabelled = {**s, "type": "kubernetes.io/basic-auth", "metadata": {**s["metadata"], "labels": {}}}
    relabelled["metadata"]["annotations"] = {}
    found = drift(exp, relabelled)
    assert found[0] == "type is kubernetes.io/basic-auth, not Opaque"
    assert f"label {MANAGED_BY_LABEL}, {CONNECTION_LABEL} changed or removed" in found
    assert any(f.startswith("annotation ") for f in found)


def test_service_account_ref_annotation_is_not_drift_when_shared() -> None:
    spec = _spec(serviceAccount={"name": "sc-account-1111", "annotations": {"a": "b"}})
    sa = desired_service_account(REF, spec)
    assert sa is not None
    written_by_other = {**sa, "metadata": {**sa["metadata"]}}
    written_by_other["metadata"]["annotations"] = {
        **sa["metadata"]["annotations"],
        CONNECTION_REF_ANNOTATION: "sc-system/other-connection",
    }
    assert drift(expectation_for(sa), written_by_other) == []
    del written_by_other["metadata"]["annotations"]["a"]
    assert drift(expectation_for(sa), written_by_other) == ["annotation a changed or removed"]


def test_expectations_hold_digests_not_values() -> None:
    s = _secret()
    exp = expectation_for(s)
    assert exp.data_digests is not None
    assert b64(PASSWORD) not in repr(exp) and PASSWORD not in repr(exp)
    store = Expectations()
    store.remember(exp)
    assert store.satisfied_by("Secret", s)
    assert not store.satisfied_by("Secret", {**s, "data": {}})
    store.forget("Secret", "apps", "sc-mydb-secret")
    assert not store.satisfied_by("Secret", s)


def test_ownership_helpers() -> None:
    s = _secret()
    assert is_managed(s) and owner_ref(s) == REF
    assert not is_managed({"metadata": {"labels": {}}}) and owner_ref({"metadata": {}}) is None


def test_invalid_spec_message_does_not_echo_input() -> None:
    conn = parse_connection({"metadata": {"name": "x", "namespace": "sc-system"}, "spec": {"secretName": PASSWORD}})
    with pytest.raises(ReconcileError) as err:
        conn.spec()
    assert err.value.reason is ReadyReason.INVALID_SPEC
    assert "connectionId" in err.value.message and PASSWORD not in err.value.message


def test_parse_connection_reads_meta() -> None:
    conn = parse_connection(
        {
            "metadata": {
                "name": "mydb-1",
                "namespace": "sc-system",
                "generation": 3,
                "uid": "u1",
                "deletionTimestamp": "2024-01-01T00:00:00Z",
            },
            "spec": {"a": 1},
            "status": {"observedGeneration": 2},
        }
    )
    assert (conn.ref, conn.generation, conn.deleting, conn.uid) == ("sc-system/mydb-1", 3, True, "u1")


def test_redact_plain_and_base64() -> None:
    text = f"rejected {PASSWORD} and {b64(PASSWORD)}"
    assert redact(text, [b64(PASSWORD)]) == "rejected *** and ***"


def _ok(**kw: Any) -> ReconcileResult:
    return ReconcileResult(True, ReadyReason.SYNCED, "in sync", secret_ref="apps/sc-mydb-secret", **kw)


def test_status_patch_first_time_sets_everything() -> None:
    patch = status_patch({}, _ok(), 4, "2024-01-01T00:00:00Z", touch=False)
    assert patch is not None
    st = patch["status"]
    assert st["observedGeneration"] == 4 and st["secretRef"] == "apps/sc-mydb-secret"
    assert st["serviceAccountRef"] is None and st["lastSyncTime"] == "2024-01-01T00:00:00Z"
    assert st["conditions"] == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Synced",
            "message": "in sync",
            "lastTransitionTime": "2024-01-01T00:00:00Z",
            "observedGeneration": 4,
        }
    ]


def test_status_patch_skips_unchanged_keeps_transition_time_and_other_conditions() -> None:
    first = status_patch({}, _ok(), 4, "2024-01-01T00:00:00Z", touch=False)
    assert first is not None
    previous = {
        **first["status"],
        "conditions": [{"type": "Other", "status": "True", "reason": "X"}, *first["status"]["conditions"]],
    }
    previous_ready_first = {**previous, "conditions": list(reversed(previous["conditions"]))}
    assert status_patch(previous_ready_first, _ok(), 4, "2024-02-02T00:00:00Z", touch=False) is not None  # order
    assert status_patch(previous, _ok(), 4, "2024-02-02T00:00:00Z", touch=False) is None
    touched = status_patch(previous, _ok(), 4, "2024-02-02T00:00:00Z", touch=True)
    assert touched is not None
    assert touched["status"]["lastSyncTime"] == "2024-02-02T00:00:00Z"
    assert touched["status"]["conditions"][0]["type"] == "Other"
    assert touched["status"]["conditions"][1]["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    failed = ReconcileResult(False, ReadyReason.NAMESPACE_NOT_FOUND, "create it")
    flipped = status_patch(previous, failed, 5, "2024-03-03T00:00:00Z", touch=False)
    assert flipped is not None
    ready = flipped["status"]["conditions"][1]
    assert (ready["status"], ready["reason"], ready["lastTransitionTime"]) == (
        "False",
        "NamespaceNotFound",
        "2024-03-03T00:00:00Z",
    )


def test_status_patch_written_when_objects_changed_even_if_status_same() -> None:
    first = status_patch({}, _ok(), 1, "t0", touch=False)
    assert first is not None
    assert status_patch(first["status"], _ok(changes=("repaired Secret apps/x",)), 1, "t1", touch=False) is not None


def test_ready_state_for_the_engine() -> None:
    obj: dict[str, Any] = {"metadata": {"generation": 2}, "status": {"observedGeneration": 1, "conditions": []}}
    assert not ready_state(obj).observed and not ready_state(obj).settled
    obj["status"] = {
        "observedGeneration": 2,
        "conditions": [{"type": "Ready", "status": "False", "reason": "ApplyFailed", "message": "retrying"}],
    }
    assert ready_state(obj).observed and not ready_state(obj).settled  # transient: keep waiting
    obj["status"]["conditions"][0]["reason"] = "NamespaceNotFound"
    assert ready_state(obj).settled
    obj["status"]["conditions"][0].update(status="True", reason="Synced")
    state = ready_state(obj)
    assert state.settled and state.condition is not None and state.condition.reason == "Synced"
