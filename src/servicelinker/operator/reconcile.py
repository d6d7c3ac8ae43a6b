"""Reconciliation of one ServiceConnection: desired Secret (and ServiceAccount) -> compare -> server-side apply.

Split in two on purpose. The pure half builds the desired objects, compares them with what the cluster holds
(`drift`) and computes the status; it is unit-tested without a cluster. The I/O half (`reconcile`, `cleanup`,
`write_status`) reads the few objects it needs and writes only when something differs, so a re-sync of an
unchanged connection costs reads, never writes (and never wakes anyone watching the Secret).

Secret values never leave this module except inside the Secret written to the API server: drift is described by
key names, errors are redacted, and what is remembered between passes are SHA-256 digests (VSO's HMAC idea).

The pure half lives in desired.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import Namespace, Secret, ServiceAccount
from lightkube.types import PatchType

from servicelinker.kube.client import ServiceConnection
from servicelinker.kube.contract import (
    CONNECTION_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ReadyReason,
    ServiceConnectionSpec,
    connection_hash,
)
from servicelinker.operator.desired import (
    FIELD_MANAGER,
    SECRET,
    SERVICE_ACCOUNT,
    UPDATE_HINT,
    Connection,
    Expectation,
    ReconcileError,
    ReconcileResult,
    credential_keys,
    desired_secret,
    desired_service_account,
    drift,
    expectation_for,
    is_managed,
    owner_ref,
    parse_connection,
    redact,
    rfc3339,
    secret_data,
    status_patch,
    to_dict,
)


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


async def get_object(client: AsyncClient, res: Any, name: str, namespace: str) -> dict[str, Any] | None:
    try:
        return to_dict(await client.get(res, name, namespace=namespace))
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise


async def get_connection(client: AsyncClient, name: str, namespace: str) -> dict[str, Any] | None:
    """The ServiceConnection as a dict, or None if it does not exist."""
    return await get_object(client, ServiceConnection, name, namespace)


async def _load_credentials(client: AsyncClient, conn: Connection, spec: ServiceConnectionSpec) -> dict[str, str]:
    if not credential_keys(spec):
        return {}
    if not spec.credentials_secret_name:
        raise ReconcileError(
            ReadyReason.INVALID_SPEC,
            f"Configuration {', '.join(e.name for e in spec.configurations if e.secret_key)} reads a credential "
            f"but spec.credentialsSecretName is empty. Supply the credentials again with {UPDATE_HINT}.",
        )
    companion = await get_object(client, Secret, spec.credentials_secret_name, conn.namespace)
    if companion is None:
        raise ReconcileError(
            ReadyReason.CREDENTIALS_NOT_FOUND,
            f"Credential Secret '{conn.namespace}/{spec.credentials_secret_name}' is missing. Supply the "
            f"credentials of connection '{spec.connection_name}' again with {UPDATE_HINT}; the operator "
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
            f"connection at another namespace with {UPDATE_HINT}.",
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
    if str(other_spec.get("connectionId", "")).lower() == conn.connection_id.lower():
        return  # the same connection under its old name (being migrated): take it over
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
            f"The API server rejected {kind} '{where}' ({detail}). Fix the connection with {UPDATE_HINT}.",
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
        get_object(client, Secret, spec.secret_name, spec.target_namespace),
        get_object(client, ServiceAccount, sa_name, spec.target_namespace) if sa_name else no_sa(),
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
        # only now that the new objects are in place: what the connection delivered before goes
        changes += await remove_superseded(client, conn, secret_ref, sa_ref, expectations)
    except ReconcileError as err:
        return ReconcileResult.failed(err, secret_ref)
    except (ApiError, httpx2.HTTPError) as exc:
        return ReconcileResult.failed(_api_failure(exc, SECRET, secret_ref or conn.ref, ()), secret_ref)
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
    places = {(spec.target_namespace, spec.secret_name), *await owned_secrets(client, conn)}
    previous = _ref_parts(conn.status.get("secretRef"))
    if previous is not None:
        places.add(previous)
    for namespace, name in sorted(places):
        secret = await get_object(client, Secret, name, namespace)
        if secret and is_managed(secret) and owner_ref(secret) == conn.ref:
            done += await delete_object(client, Secret, namespace, name, expectations)
    if spec.service_account is None:
        return done
    sa_name = spec.service_account.name
    sa = await get_object(client, ServiceAccount, sa_name, spec.target_namespace)
    if not sa or not is_managed(sa):
        return done
    live = [parse_connection(o) for o in others]
    live = [c for c in live if c.ref != conn.ref and not c.deleting]
    users = [c.ref for c in live if _uses_service_account(c, spec.target_namespace, sa_name)]
    if users:
        return [*done, f"kept ServiceAccount {spec.target_namespace}/{sa_name}: also used by {', '.join(users)}"]
    if owner_ref(sa) == conn.ref or owner_ref(sa) not in {c.ref for c in live}:
        done += await delete_object(client, ServiceAccount, spec.target_namespace, sa_name, expectations)
    return done


def _uses_service_account(conn: Connection, namespace: str, name: str) -> bool:
    spec = conn.raw_spec
    return bool(spec.get("targetNamespace") == namespace and (spec.get("serviceAccount") or {}).get("name") == name)


async def delete_object(
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


# ----------------------------------------------------------------------------------------------- what is stale

ALL_NAMESPACES = "*"


def _ref_parts(ref: Any) -> tuple[str, str] | None:
    text = str(ref or "")
    namespace, _, name = text.partition("/")
    return (namespace, name) if namespace and name else None


async def remove_superseded(client: AsyncClient, conn: Connection, secret_ref: str | None, sa_ref: str | None,
                            expectations: Expectations | None = None) -> list[str]:  # fmt: skip
    """Delete what the status says this connection delivered before, when that is no longer what it delivers."""
    done: list[str] = []
    for key, current, kind, res in (("secretRef", secret_ref, "Secret", Secret),
                                    ("serviceAccountRef", sa_ref, "ServiceAccount", ServiceAccount)):  # fmt: skip
        previous = _ref_parts(conn.status.get(key))
        if previous is None or f"{previous[0]}/{previous[1]}" == current:
            continue
        observed = await get_object(client, res, previous[1], previous[0])
        if not observed or not is_managed(observed) or owner_ref(observed) != conn.ref:
            continue  # not ours any more (another connection took it over, or someone else made it)
        if kind == "ServiceAccount" and await _used_by_another(client, conn, previous):
            continue
        done += await delete_object(client, res, previous[0], previous[1], expectations)
    return done


async def _used_by_another(client: AsyncClient, conn: Connection, where: tuple[str, str]) -> bool:
    async for obj in client.list(ServiceConnection, namespace=conn.namespace):
        other = parse_connection(obj)
        spec = other.raw_spec
        same = (spec.get("targetNamespace"), (spec.get("serviceAccount") or {}).get("name")) == where
        if other.ref != conn.ref and not other.deleting and same:
            return True
    return False


async def owned_secrets(client: AsyncClient, conn: Connection) -> list[tuple[str, str]]:
    """(namespace, name) of every Secret labelled as this connection's, owned by it, in any namespace."""
    labels: dict[str, Any] = {MANAGED_BY_LABEL: MANAGED_BY, CONNECTION_LABEL: connection_hash(conn.connection_id)}
    found = []
    async for obj in client.list(Secret, namespace=ALL_NAMESPACES, labels=labels):
        d = to_dict(obj)
        meta = d.get("metadata") or {}
        if owner_ref(d) == conn.ref:
            found.append((str(meta.get("namespace")), str(meta.get("name"))))
    return found


