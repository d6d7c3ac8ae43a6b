"""The pure half of reconciling a ServiceConnection: the desired Secret (and ServiceAccount), the comparison with
what the cluster holds (`drift`), and the status. No I/O: unit-tested without a cluster (reconcile.py is the I/O
half). Secret values appear only inside the desired Secret; drift is described by key names, errors are redacted,
and what is remembered between passes are SHA-256 digests (VSO's HMAC idea)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from servicelinker.kube.contract import (
    CONNECTION_ID_ANNOTATION,
    CONNECTION_LABEL,
    CONNECTION_REF_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    READY_CONDITION,
    ReadyReason,
    ServiceConnectionSpec,
    connection_hash,
)

FIELD_MANAGER = "servicelinker-operator"
SECRET = "Secret"
SERVICE_ACCOUNT = "ServiceAccount"
UPDATE_HINT = "`servicelinker aks connection update`"



class ReconcileError(Exception):
    """A reconciliation that cannot finish, with the Ready reason and a message that says what to do.
    Messages name objects and keys, never values."""

    def __init__(self, reason: ReadyReason, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Connection:
    """The parts of a ServiceConnection object reconciliation needs; the spec is validated lazily so that an
    invalid spec still gets a status."""

    name: str
    namespace: str
    generation: int
    raw_spec: Mapping[str, Any]
    status: Mapping[str, Any]
    deleting: bool = False
    uid: str | None = None

    @property
    def ref(self) -> str:
        """`<namespace>/<name>`, the value of the connection-ref annotation on what this connection manages."""
        return f"{self.namespace}/{self.name}"

    @property
    def connection_id(self) -> str:
        return str(self.raw_spec.get("connectionId", ""))

    def spec(self) -> ServiceConnectionSpec:
        try:
            return ServiceConnectionSpec.model_validate(self.raw_spec)
        except ValidationError as exc:
            # The field locations and messages only: pydantic's own str() quotes the input values.
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ReconcileError(
                ReadyReason.INVALID_SPEC,
                f"The ServiceConnection spec is invalid ({problems}). Re-create the connection with {UPDATE_HINT}.",
            ) from None


def to_dict(obj: Any) -> dict[str, Any]:
    """lightkube models, generic resources and kopf bodies all become plain dicts."""
    if obj is None:
        return {}
    if hasattr(obj, "to_dict"):
        return dict(obj.to_dict())
    return dict(obj)


def parse_connection(obj: Any) -> Connection:
    """A Connection from a ServiceConnection object (dict, kopf body or lightkube generic resource)."""
    d = to_dict(obj)
    meta = d.get("metadata") or {}
    return Connection(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        generation=int(meta.get("generation") or 0),
        raw_spec=dict(d.get("spec") or {}),
        status=dict(d.get("status") or {}),
        deleting=bool(meta.get("deletionTimestamp")),
        uid=meta.get("uid"),
    )


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def credential_keys(spec: ServiceConnectionSpec) -> list[str]:
    """The companion-Secret keys this spec reads, in configuration order."""
    return [e.secret_key for e in spec.configurations if e.secret_key]


def secret_data(
    spec: ServiceConnectionSpec, credentials: Mapping[str, str] | None, credentials_ref: str = ""
) -> dict[str, str]:
    """The delivered Secret's `data` (base64 values), one key per configuration, in order. Credential values
    are copied from the companion Secret's (already base64) data without being decoded."""
    data: dict[str, str] = {}
    for entry in spec.configurations:
        if entry.secret_key:
            if credentials is None or entry.secret_key not in credentials:
                raise ReconcileError(
                    ReadyReason.CREDENTIAL_KEY_MISSING,
                    f"Credential Secret '{credentials_ref}' has no key '{entry.secret_key}' (needed for "
                    f"{entry.name}). Supply the credentials again with {UPDATE_HINT}.",
                )
            data[entry.name] = credentials[entry.secret_key]
        else:
            data[entry.name] = b64(entry.value or "")
    return data


def desired_secret(conn_ref: str, spec: ServiceConnectionSpec, data: Mapping[str, str]) -> dict[str, Any]:
    """The Opaque Secret the workload reads (`envFrom: secretRef`), labelled and annotated back to its CR."""
    return {
        "apiVersion": "v1",
        "kind": SECRET,
        "metadata": {
            "name": spec.secret_name,
            "namespace": spec.target_namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, CONNECTION_LABEL: connection_hash(spec.connection_id)},
            "annotations": {CONNECTION_ID_ANNOTATION: spec.connection_id, CONNECTION_REF_ANNOTATION: conn_ref},
        },
        "type": "Opaque",
        "data": dict(data),
    }


def desired_service_account(conn_ref: str, spec: ServiceConnectionSpec) -> dict[str, Any] | None:
    """The workload-identity ServiceAccount, if the spec asks for one; the spec's annotations (client-id,
    tenant-id) and labels, plus ours (which win, so the object stays traceable)."""
    sa = spec.service_account
    if sa is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": SERVICE_ACCOUNT,
        "metadata": {
            "name": sa.name,
            "namespace": spec.target_namespace,
            "labels": {**sa.labels, MANAGED_BY_LABEL: MANAGED_BY},
            "annotations": {
                **sa.annotations,
                CONNECTION_ID_ANNOTATION: spec.connection_id,
                CONNECTION_REF_ANNOTATION: conn_ref,
            },
        },
    }


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Expectation:
    """What a managed object must look like, holding digests instead of values so it can be kept in memory and
    compared with every watch event cheaply. Labels and annotations are checked as a subset (others may add
    their own); data exactly (a hand-added key is drift too)."""

    kind: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    data_digests: Mapping[str, str] | None = None
    secret_type: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)


def expectation_for(desired: Mapping[str, Any]) -> Expectation:
    meta = desired["metadata"]
    annotations = dict(meta.get("annotations") or {})
    if desired["kind"] == SERVICE_ACCOUNT:
        # A workload-identity ServiceAccount (sc-account-<clientId>) may be shared by several connections using
        # the same identity; which of them wrote it last is not drift.
        annotations.pop(CONNECTION_REF_ANNOTATION, None)
    data = desired.get("data")
    return Expectation(
        kind=desired["kind"],
        namespace=meta["namespace"],
        name=meta["name"],
        labels=dict(meta.get("labels") or {}),
        annotations=annotations,
        data_digests={k: _digest(v) for k, v in data.items()} if data is not None else None,
        secret_type=desired.get("type"),
    )


def _subset_drift(what: str, want: Mapping[str, str], have: Mapping[str, str]) -> list[str]:
    wrong = sorted(k for k, v in want.items() if have.get(k) != v)
    return [f"{what} {', '.join(wrong)} changed or removed"] if wrong else []


def drift(exp: Expectation, observed: Mapping[str, Any] | None) -> list[str]:
    """How `observed` differs from `exp`, as sentences naming fields and keys (never values); empty = in sync."""
    if not observed:
        return [f"{exp.kind} is missing"]
    meta = observed.get("metadata") or {}
    found: list[str] = []
    if exp.secret_type is not None and (observed.get("type") or "Opaque") != exp.secret_type:
        found.append(f"type is {observed.get('type')}, not {exp.secret_type}")
    if exp.data_digests is not None:
        have = {k: _digest(v) for k, v in (observed.get("data") or {}).items()}
        changed = sorted(k for k in exp.data_digests if k in have and have[k] != exp.data_digests[k])
        missing = sorted(k for k in exp.data_digests if k not in have)
        extra = sorted(k for k in have if k not in exp.data_digests)
        found += [
            f"data {label}: {', '.join(keys)}"
            for label, keys in (("changed", changed), ("missing", missing), ("unexpected", extra))
            if keys
        ]
    found += _subset_drift("label", exp.labels, meta.get("labels") or {})
    found += _subset_drift("annotation", exp.annotations, meta.get("annotations") or {})
    return found


def is_managed(observed: Mapping[str, Any]) -> bool:
    labels = (observed.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(MANAGED_BY_LABEL) == MANAGED_BY)


def owner_ref(observed: Mapping[str, Any]) -> str | None:
    """The `<namespace>/<name>` of the ServiceConnection a managed object belongs to, from its annotation."""
    annotations = (observed.get("metadata") or {}).get("annotations") or {}
    ref = annotations.get(CONNECTION_REF_ANNOTATION)
    return str(ref) if ref else None


def redact(text: str, secrets: Iterable[str]) -> str:
    """Blank any credential value (plain or base64) that an API error message might quote back."""
    for value in secrets:
        plain = _b64decode(value)
        for candidate in (value, plain):
            if candidate and len(candidate) >= 4:
                text = text.replace(candidate, "***")
    return text


def _b64decode(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


@dataclass(frozen=True)
class ReconcileResult:
    """The verdict of one pass: what goes into the Ready condition, and what was written (for events/logs)."""

    ready: bool
    reason: ReadyReason
    message: str
    secret_ref: str | None = None
    service_account_ref: str | None = None
    changes: tuple[str, ...] = ()
    retryable: bool = False

    @classmethod
    def failed(cls, err: ReconcileError, secret_ref: str | None = None) -> ReconcileResult:
        return cls(False, err.reason, err.message, secret_ref=secret_ref, retryable=err.retryable)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "reason": str(self.reason),
            "message": self.message,
            "secretRef": self.secret_ref,
            "serviceAccountRef": self.service_account_ref,
            "changes": list(self.changes),
        }


def rfc3339(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_patch(
    previous: Mapping[str, Any], result: ReconcileResult, generation: int, now: str, *, touch: bool
) -> dict[str, Any] | None:
    """The merge patch for `.status`, or None when nothing but lastSyncTime would change and `touch` is False
    (so drift checks of an unchanged connection do not write). lastTransitionTime moves only when the Ready
    status flips, as Kubernetes conventions ask."""
    conditions = [c for c in previous.get("conditions") or [] if c.get("type") != READY_CONDITION]
    old = next((c for c in previous.get("conditions") or [] if c.get("type") == READY_CONDITION), None)
    status = "True" if result.ready else "False"
    ready = {
        "type": READY_CONDITION,
        "status": status,
        "reason": str(result.reason),
        "message": result.message,
        "lastTransitionTime": old["lastTransitionTime"]
        if old and old.get("status") == status and old.get("lastTransitionTime")
        else now,
        "observedGeneration": generation,
    }
    new = {
        "observedGeneration": generation,
        "conditions": [*conditions, ready],
        "secretRef": result.secret_ref,
        "serviceAccountRef": result.service_account_ref,
    }
    unchanged = all(previous.get(k) == v for k, v in new.items())
    if unchanged and not touch and not result.changes:
        return None
    return {"status": {**new, "lastSyncTime": now}}
