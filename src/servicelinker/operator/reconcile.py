"""Reconciliation of one ServiceConnection: desired Secret (and ServiceAccount) -> compare -> server-side apply.

Split in two on purpose. The pure half builds the desired objects, compares them with what the cluster holds
(`drift`) and computes the status; it is unit-tested without a cluster. The I/O half (`reconcile`, `cleanup`,
`write_status`) reads the few objects it needs and writes only when something differs, so a re-sync of an
unchanged connection costs reads, never writes (and never wakes anyone watching the Secret).

Secret values never leave this module except inside the Secret written to the API server: drift is described by
key names, errors are redacted, and what is remembered between passes are SHA-256 digests (VSO's HMAC idea).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import Namespace, Secret, ServiceAccount
from lightkube.types import PatchType
from pydantic import ValidationError

from servicelinker.kube.client import ServiceConnection
from servicelinker.kube.contract import (
    CONNECTION_ID_ANNOTATION,
    CONNECTION_REF_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    READY_CONDITION,
    ReadyReason,
    ServiceConnectionSpec,
)

FIELD_MANAGER = "servicelinker-operator"
SECRET = "Secret"
SERVICE_ACCOUNT = "ServiceAccount"
_UPDATE_HINT = "`servicelinker aks connection update`"

# ---------------------------------------------------------------------------------------------------------------
# Pure half
# ---------------------------------------------------------------------------------------------------------------


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

    def spec(self) -> ServiceConnectionSpec:
        try:
            return ServiceConnectionSpec.model_validate(self.raw_spec)
        except ValidationError as exc:
            # The field locations and messages only: pydantic's own str() quotes the input values.
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ReconcileError(
                ReadyReason.INVALID_SPEC,
                f"The ServiceConnection spec is invalid ({problems}). Re-create the connection with {_UPDATE_HINT}.",
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
                    f"{entry.name}). Supply the credentials again with {_UPDATE_HINT}.",
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
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
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


# ---------------------------------------------------------------------------------------------------------------
# I/O half
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Expectations:
    """In-memory expectations of every object this process wrote or verified, keyed by (kind, namespace, name):
    lets the drift watchers ignore the echo of our own writes without a round trip. Digests only."""

    by_key: dict[tuple[str, str, str], Expectation] = field(default_factory=dict)

    def remember(self, exp: Expectation) -> None:
        self.by_key[exp.key] = exp

    def forget(self, kind: str, namespace: str, name: str) -> None:
        self.by_key.pop((kind, namespace, name), None)

    def satisfied_by(self, kind: str, observed: Mapping[str, Any]) -> bool:
        """True when `observed` is exactly what we last wrote or verified (so there is nothing to repair)."""
        meta = observed.get("metadata") or {}
        exp = self.by_key.get((kind, str(meta.get("namespace")), str(meta.get("name"))))
        return exp is not None and not drift(exp, observed)


async def _get(client: AsyncClient, res: Any, name: str, namespace: str) -> dict[str, Any] | None:
    try:
        return to_dict(await client.get(res, name, namespace=namespace))
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise


async def get_connection(client: AsyncClient, name: str, namespace: str) -> dict[str, Any] | None:
    """The ServiceConnection as a dict, or None if it does not exist."""
    return await _get(client, ServiceConnection, name, namespace)


async def _load_credentials(client: AsyncClient, conn: Connection, spec: ServiceConnectionSpec) -> dict[str, str]:
    if not credential_keys(spec):
        return {}
    if not spec.credentials_secret_name:
        raise ReconcileError(
            ReadyReason.INVALID_SPEC,
            f"Configuration {', '.join(e.name for e in spec.configurations if e.secret_key)} reads a credential "
            f"but spec.credentialsSecretName is empty. Supply the credentials again with {_UPDATE_HINT}.",
        )
    companion = await _get(client, Secret, spec.credentials_secret_name, conn.namespace)
    if companion is None:
        raise ReconcileError(
            ReadyReason.CREDENTIALS_NOT_FOUND,
            f"Credential Secret '{conn.namespace}/{spec.credentials_secret_name}' is missing. Supply the "
            f"credentials of connection '{spec.connection_name}' again with {_UPDATE_HINT}; the operator "
            "re-syncs as soon as it appears.",
        )
    return dict(companion.get("data") or {})


async def _check_namespace(client: AsyncClient, namespace: str) -> None:
    try:
        ns = to_dict(await client.get(Namespace, namespace))
    except ApiError as exc:
        if exc.status.code == 404:
            raise ReconcileError(
                ReadyReason.NAMESPACE_NOT_FOUND,
                f"Namespace '{namespace}' does not exist. Create it (kubectl create namespace {namespace}); the "
                "operator delivers the connection as soon as it appears.",
            ) from None
        raise
    if (ns.get("metadata") or {}).get("deletionTimestamp"):
        raise ReconcileError(
            ReadyReason.NAMESPACE_TERMINATING,
            f"Namespace '{namespace}' is being deleted. Wait until it is gone and create it again, or point the "
            f"connection at another namespace with {_UPDATE_HINT}.",
        )


async def _recheck_namespace(client: AsyncClient, namespace: str) -> None:
    """After a 403/404 on write: a namespace deleted or terminating under our feet explains it better."""
    with contextlib.suppress(ApiError, httpx2.HTTPError):
        await _check_namespace(client, namespace)


async def _check_owner(
    client: AsyncClient, conn: Connection, desired: Mapping[str, Any], observed: Mapping[str, Any] | None
) -> None:
    """Refuse to overwrite an object servicelinker does not manage, or a Secret another live connection owns.
    ServiceAccounts may be shared between connections of the same identity."""
    if observed is None:
        return
    kind = desired["kind"]
    where = f"{desired['metadata']['namespace']}/{desired['metadata']['name']}"
    reason = ReadyReason.SECRET_CONFLICT if kind == SECRET else ReadyReason.SERVICE_ACCOUNT_CONFLICT
    if not is_managed(observed):
        raise ReconcileError(
            reason,
            f"{kind} '{where}' already exists and is not managed by servicelinker. Delete it, or label it "
            f"{MANAGED_BY_LABEL}={MANAGED_BY} to let connection '{conn.name}' take it over.",
        )
    other = owner_ref(observed)
    if kind != SECRET or other in (None, conn.ref):
        return
    other_ns, _, other_name = (other or "").partition("/")
    other_obj = await get_connection(client, other_name, other_ns) if other_ns == conn.namespace else None
    if other_obj is None or (other_obj.get("metadata") or {}).get("deletionTimestamp"):
        return  # left behind by a deleted connection (deletionPolicy Retain): adopt it
    other_spec = other_obj.get("spec") or {}
    if (other_spec.get("targetNamespace"), other_spec.get("secretName")) == (
        desired["metadata"]["namespace"],
        desired["metadata"]["name"],
    ):
        raise ReconcileError(
            reason,
            f"Secret '{where}' belongs to connection '{other}'. Choose another secret name for "
            f"'{conn.name}', or delete that connection first.",
        )


async def _apply(
    client: AsyncClient,
    res: Any,
    desired: dict[str, Any],
    exp: Expectation,
    observed: Mapping[str, Any] | None,
) -> list[str]:
    """Write `desired` if it drifted, in one request so that watchers never see a half-repaired object; return
    what was done, in words. Normally a server-side apply with force (takes back fields someone else edited). Keys
    someone else added cannot be removed by an apply (it leaves fields it never owned alone), so then one merge
    patch sets our keys and deletes theirs."""
    found = drift(exp, observed)
    if not found:
        return []
    meta = desired["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    if observed and exp.secret_type and (observed.get("type") or "Opaque") != exp.secret_type:
        await client.delete(res, name, namespace=namespace)  # type is immutable: re-create
        observed = None
    extra = [k for k in ((observed or {}).get("data") or {}) if k not in (desired.get("data") or {})]
    if extra:
        patch = {
            "metadata": {"labels": meta["labels"], "annotations": meta["annotations"]},
            "data": {**desired["data"], **dict.fromkeys(extra)},
        }
        await client.patch(res, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
    else:
        await client.patch(
            res, name, desired, namespace=namespace, patch_type=PatchType.APPLY, field_manager=FIELD_MANAGER, force=True
        )
    verb = "created" if observed is None else "repaired"
    detail = "" if observed is None else f" ({'; '.join(found)})"
    return [f"{verb} {exp.kind} {namespace}/{name}{detail}"]


def _api_failure(
    exc: Exception, kind: str, where: str, secrets: Iterable[str], *, writing: bool = True
) -> ReconcileError:
    """Map an API error while reading or writing to a Ready reason and remedy, any credential blanked out."""
    doing, verb = ("Writing", "write") if writing else ("Reading", "read")
    if not isinstance(exc, ApiError):
        return ReconcileError(
            ReadyReason.APPLY_FAILED,
            f"{doing} {kind} '{where}' failed: the API server is unreachable ({type(exc).__name__}). The operator "
            "retries with backoff.",
            retryable=True,
        )
    st = exc.status
    detail = redact(f"{st.code} {st.reason}: {st.message}", secrets)
    if st.code == 403:
        return ReconcileError(
            ReadyReason.FORBIDDEN,
            f"The operator may not {verb} {kind} '{where}' ({detail}). If sc-extension was installed with "
            f"operator.watchNamespaces, add '{where.split('/')[0]}' to it.",
        )
    if st.code in (400, 422):
        return ReconcileError(
            ReadyReason.INVALID_SPEC,
            f"The API server rejected {kind} '{where}' ({detail}). Fix the connection with {_UPDATE_HINT}.",
        )
    return ReconcileError(
        ReadyReason.APPLY_FAILED,
        f"{doing} {kind} '{where}' failed ({detail}). The operator retries with backoff.",
        retryable=True,
    )


async def _sync_one(
    client: AsyncClient,
    conn: Connection,
    res: Any,
    desired: dict[str, Any],
    observed: Mapping[str, Any] | None,
    expectations: Expectations | None,
    secrets: Iterable[str],
) -> list[str]:
    meta = desired["metadata"]
    where = f"{meta['namespace']}/{meta['name']}"
    exp = expectation_for(desired)
    if expectations is not None:
        expectations.remember(exp)  # before writing: the watch event of our own write may beat the response
    try:
        # A missing namespace shows up as a 404 from the write (then _recheck_namespace names it): no extra read
        # on the hot path of re-creating a deleted Secret.
        await _check_owner(client, conn, desired, observed)
        return await _apply(client, res, desired, exp, observed)
    except ReconcileError:
        if expectations is not None:
            expectations.forget(exp.kind, exp.namespace, exp.name)
        raise
    except (ApiError, httpx2.HTTPError) as exc:
        if expectations is not None:
            expectations.forget(exp.kind, exp.namespace, exp.name)
        if isinstance(exc, ApiError) and exc.status.code in (403, 404):
            await _recheck_namespace(client, meta["namespace"])
        raise _api_failure(exc, desired["kind"], where, secrets) from None


async def _read_all(
    client: AsyncClient, conn: Connection, spec: ServiceConnectionSpec
) -> tuple[dict[str, str], dict[str, Any] | None, dict[str, Any] | None]:
    """Credentials, current Secret and current ServiceAccount, read concurrently (one round trip, not three)."""
    sa_name = spec.service_account.name if spec.service_account else None

    async def no_sa() -> None:
        return None

    results = await asyncio.gather(
        _load_credentials(client, conn, spec),
        _get(client, Secret, spec.secret_name, spec.target_namespace),
        _get(client, ServiceAccount, sa_name, spec.target_namespace) if sa_name else no_sa(),
        return_exceptions=True,
    )
    for i, res in enumerate(results):
        if isinstance(res, ReconcileError):
            raise res
        if isinstance(res, ApiError | httpx2.HTTPError):
            kind, name = [
                ("credential Secret", spec.credentials_secret_name),
                (SECRET, spec.secret_name),
                (SERVICE_ACCOUNT, sa_name),
            ][i]
            where = f"{conn.namespace if i == 0 else spec.target_namespace}/{name}"
            raise _api_failure(res, kind, where, (), writing=False)
        if isinstance(res, BaseException):
            raise res
    credentials, secret, sa = results
    return credentials, secret, sa


async def reconcile(
    client: AsyncClient, connection: Any, *, expectations: Expectations | None = None
) -> ReconcileResult:
    """Bring the Secret (and ServiceAccount) of one ServiceConnection in line with its spec, writing only what
    differs. Never raises for what a user can cause: the result carries the reason and the remedy."""
    conn = connection if isinstance(connection, Connection) else parse_connection(connection)
    secret_ref: str | None = None
    try:
        spec = conn.spec()
        secret_ref = f"{spec.target_namespace}/{spec.secret_name}"
        credentials, secret, sa_observed = await _read_all(client, conn, spec)
        secrets = [credentials[k] for k in credential_keys(spec) if k in credentials]
        data = secret_data(spec, credentials, f"{conn.namespace}/{spec.credentials_secret_name}")
        desired = desired_secret(conn.ref, spec, data)
        changes = await _sync_one(client, conn, Secret, desired, secret, expectations, secrets)
        sa = desired_service_account(conn.ref, spec)
        sa_ref = None
        if sa is not None:
            changes += await _sync_one(client, conn, ServiceAccount, sa, sa_observed, expectations, secrets)
            sa_ref = f"{spec.target_namespace}/{sa['metadata']['name']}"
    except ReconcileError as err:
        return ReconcileResult.failed(err, secret_ref)
    sa_words = f" and ServiceAccount '{sa_ref}'" if sa_ref else ""
    return ReconcileResult(
        ready=True,
        reason=ReadyReason.SYNCED,
        message=f"Secret '{secret_ref}' ({len(data)} configuration(s)){sa_words} in sync.",
        secret_ref=secret_ref,
        service_account_ref=sa_ref,
        changes=tuple(changes),
    )


async def write_status(
    client: AsyncClient, conn: Connection, result: ReconcileResult, *, touch: bool, now: datetime | None = None
) -> bool:
    """Patch the connection's status if it changed (or `touch`); False if skipped or the CR is gone."""
    patch = status_patch(conn.status, result, conn.generation, rfc3339(now), touch=touch)
    if patch is None:
        return False
    try:
        await client.patch(
            ServiceConnection.Status, conn.name, patch, namespace=conn.namespace, patch_type=PatchType.MERGE
        )
    except ApiError as exc:
        if exc.status.code == 404:
            return False
        raise
    return True


async def cleanup(
    client: AsyncClient,
    connection: Any,
    *,
    others: Iterable[Any] = (),
    expectations: Expectations | None = None,
) -> list[str]:
    """deletionPolicy Delete: remove the Secret and ServiceAccount this connection manages. An object is removed
    only if its annotation points at this connection (a ServiceAccount: or at one that no longer exists) and, for a
    ServiceAccount, no other live connection in `others` uses it. Returns what was done, in words."""
    conn = connection if isinstance(connection, Connection) else parse_connection(connection)
    try:
        spec = conn.spec()
    except ReconcileError:
        return []
    done: list[str] = []
    secret = await _get(client, Secret, spec.secret_name, spec.target_namespace)
    if secret and is_managed(secret) and owner_ref(secret) == conn.ref:
        done += await _delete(client, Secret, spec.target_namespace, spec.secret_name, expectations)
    if spec.service_account is None:
        return done
    sa_name = spec.service_account.name
    sa = await _get(client, ServiceAccount, sa_name, spec.target_namespace)
    if not sa or not is_managed(sa):
        return done
    live = [parse_connection(o) for o in others]
    live = [c for c in live if c.ref != conn.ref and not c.deleting]
    users = [c.ref for c in live if _uses_service_account(c, spec.target_namespace, sa_name)]
    if users:
        return [*done, f"kept ServiceAccount {spec.target_namespace}/{sa_name}: also used by {', '.join(users)}"]
    if owner_ref(sa) == conn.ref or owner_ref(sa) not in {c.ref for c in live}:
        done += await _delete(client, ServiceAccount, spec.target_namespace, sa_name, expectations)
    return done


def _uses_service_account(conn: Connection, namespace: str, name: str) -> bool:
    spec = conn.raw_spec
    return bool(spec.get("targetNamespace") == namespace and (spec.get("serviceAccount") or {}).get("name") == name)


async def _delete(
    client: AsyncClient, res: Any, namespace: str, name: str, expectations: Expectations | None
) -> list[str]:
    kind = SECRET if res is Secret else SERVICE_ACCOUNT
    if expectations is not None:
        expectations.forget(kind, namespace, name)
    try:
        await client.delete(res, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return []
        raise
    return [f"deleted {kind} {namespace}/{name}"]
