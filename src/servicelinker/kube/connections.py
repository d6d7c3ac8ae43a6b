"""What the engine writes into a cluster for one connection: the ServiceConnection in sc-system and its
companion credential Secret; and what it reads back (the delivered Secret, namespaces).

Credential values go only into the companion Secret (type Opaque, labelled for the operator's watch); the custom
resource lists them by key. Both are applied server-side, so a retried create converges.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from lightkube import ApiError, Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Secret
from lightkube.types import PatchType

from servicelinker.kube import contract
from servicelinker.kube.client import ServiceConnection
from servicelinker.model.records import Configuration

FIELD_MANAGER = "servicelinker-engine"


def resource_name_for(connection_id: str, connection_name: str) -> str:
    return contract.resource_name(connection_id, connection_name)


def namespace_exists(client: Client, namespace: str) -> bool:
    try:
        ns = client.get(Namespace, namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return False
        raise
    return not (ns.status and ns.status.phase == "Terminating")


def spec_for(
    connection_id: str,
    connection_name: str,
    namespace: str,
    secret_name: str,
    configurations: Sequence[Configuration],
    *,
    resource: str,
    service_account: contract.ServiceAccountSpec | None = None,
    deletion_policy: str = "Retain",
) -> tuple[contract.ServiceConnectionSpec, dict[str, str]]:
    """The custom resource's spec and the companion Secret's data (credential values, by key)."""
    entries: list[contract.ConfigurationEntry] = []
    credentials: dict[str, str] = {}
    for i, c in enumerate(configurations):
        if c.credential:
            key = f"c{i:03d}"
            credentials[key] = c.value
            entries.append(contract.ConfigurationEntry(name=c.name, secret_key=key))
        else:
            entries.append(contract.ConfigurationEntry(name=c.name, value=c.value))
    spec = contract.ServiceConnectionSpec(
        connection_id=connection_id,
        connection_name=connection_name,
        target_namespace=namespace,
        secret_name=secret_name,
        configurations=entries,
        credentials_secret_name=contract.credentials_secret_name(resource) if credentials else None,
        credentials_revision=_revision(credentials) if credentials else None,
        service_account=service_account,
        deletion_policy=deletion_policy,
    )
    return spec, credentials


def _revision(credentials: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for key in sorted(credentials):
        digest.update(key.encode() + b"\0" + credentials[key].encode() + b"\0")
    return digest.hexdigest()[:16]


def apply(client: Client, resource: str, spec: contract.ServiceConnectionSpec, credentials: dict[str, str]) -> int:
    """Write the companion Secret first (the operator reads it when the custom resource changes), then the
    custom resource; returns the custom resource's generation, which the operator's status must reach."""
    labels = {contract.MANAGED_BY_LABEL: contract.MANAGED_BY}
    if spec.credentials_secret_name:
        secret = Secret(
            metadata=ObjectMeta(
                name=spec.credentials_secret_name,
                namespace=contract.SYSTEM_NAMESPACE,
                labels={**labels, contract.CREDENTIALS_FOR_LABEL: resource},
                annotations={contract.CONNECTION_ID_ANNOTATION: spec.connection_id},
            ),
            type="Opaque",
            data={k: base64.b64encode(v.encode()).decode() for k, v in credentials.items()},
        )
        client.apply(secret, field_manager=FIELD_MANAGER, force=True)
    body: dict[str, Any] = {
        "apiVersion": contract.API_VERSION,
        "kind": contract.KIND,
        "metadata": {
            "name": resource,
            "namespace": contract.SYSTEM_NAMESPACE,
            "labels": labels,
            "annotations": {contract.CONNECTION_ID_ANNOTATION: spec.connection_id},
        },
        "spec": spec.model_dump(by_alias=True, exclude_none=True),
    }
    applied = client.apply(ServiceConnection.from_dict(body), field_manager=FIELD_MANAGER, force=True)
    return int(applied.metadata.generation or 0)


def set_deletion_policy(client: Client, resource: str, policy: str) -> None:
    body = {
        "apiVersion": contract.API_VERSION,
        "kind": contract.KIND,
        "metadata": {"name": resource, "namespace": contract.SYSTEM_NAMESPACE},
        "spec": {"deletionPolicy": policy},
    }
    client.patch(
        ServiceConnection,
        resource,
        body,
        namespace=contract.SYSTEM_NAMESPACE,
        patch_type=PatchType.MERGE,
    )


def get(client: Client, resource: str) -> dict[str, Any] | None:
    try:
        obj = client.get(ServiceConnection, resource, namespace=contract.SYSTEM_NAMESPACE)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise
    data: dict[str, Any] = obj.to_dict()  # type: ignore[no-untyped-call]
    return data


def delete(client: Client, resource: str) -> bool:
    """Delete the custom resource (the operator's finalizer applies its deletionPolicy) and the companion."""
    found = True
    try:
        client.delete(ServiceConnection, resource, namespace=contract.SYSTEM_NAMESPACE)
    except ApiError as exc:
        if exc.status.code != 404:
            raise
        found = False
    try:
        client.delete(Secret, contract.credentials_secret_name(resource), namespace=contract.SYSTEM_NAMESPACE)
    except ApiError as exc:
        if exc.status.code != 404:
            raise
    return found


def read_secret(client: Client, namespace: str, name: str) -> dict[str, str] | None:
    """The delivered Secret's data, decoded; None when it does not exist."""
    try:
        secret = client.get(Secret, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def expected_secret_data(client: Client, resource: str) -> dict[str, str] | None:
    """What the workload's Secret must hold: the ServiceConnection's inline values plus its companion's."""
    cr = get(client, resource)
    if cr is None:
        return None
    spec = contract.ServiceConnectionSpec.model_validate(cr["spec"])
    credentials: dict[str, str] = {}
    if spec.credentials_secret_name:
        credentials = read_secret(client, contract.SYSTEM_NAMESPACE, spec.credentials_secret_name) or {}
    return {
        e.name: e.value if e.value is not None else credentials.get(e.secret_key or "", "") for e in spec.configurations
    }


def secret_owner(client: Client, namespace: str, name: str) -> str | None:
    """None when the Secret does not exist; its connection-id annotation when servicelinker manages it; "" else."""
    try:
        secret = client.get(Secret, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise
    meta = secret.metadata
    labels = (meta.labels if meta else None) or {}
    if labels.get(contract.MANAGED_BY_LABEL) != contract.MANAGED_BY:
        return ""
    return str(((meta.annotations if meta else None) or {}).get(contract.CONNECTION_ID_ANNOTATION, ""))
