"""Nothing stale left behind: what a connection no longer wants is removed, and old objects are brought up to date.

* **Superseded objects.** A connection's status records the Secret (and ServiceAccount) it last delivered; when its
  spec now points elsewhere (another namespace, another name: an edit, or the later of two racing PUTs), the old
  one, which may hold a superseded password, is deleted once the new one is in place (`remove_superseded`).
* **Garbage.** Every delivered Secret is labelled with its connection's fingerprint (`servicelinker.io/connection`).
  `collect_garbage` lists them across namespaces and deletes those whose connection still exists but points at
  another Secret. A Secret whose connection is gone is kept: deleting a connection keeps its Secret unless its
  deletion policy says Delete (Azure's behaviour).
* **Everything a connection wrote**, for deletionPolicy Delete: `owned_secrets` finds its Secrets by the label,
  wherever they are.
* **Legacy names.** Releases before 0.2 named a ServiceConnection after 50 alphanumerics of the connection name and
  the cluster, so two connections could share one. `migrate_legacy_names` re-creates each such object under its
  name from the whole linker id (credential Secret included) and removes the old one without running its
  deletion policy; the delivered Secret is taken over by the new object (same connection id).
"""

from __future__ import annotations

import logging
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from servicelinker.kube.client import ServiceConnection
from servicelinker.kube.contract import (
    CONNECTION_LABEL,
    CREDENTIALS_FOR_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    SYSTEM_NAMESPACE,
    credentials_secret_name,
    resource_name,
)
from servicelinker.operator.desired import FIELD_MANAGER, Connection, owner_ref, parse_connection, to_dict
from servicelinker.operator.reconcile import ALL_NAMESPACES, Expectations, delete_object, get_object

log = logging.getLogger(__name__)


async def collect_garbage(client: AsyncClient, namespace: str = SYSTEM_NAMESPACE,
                          expectations: Expectations | None = None) -> list[str]:  # fmt: skip
    """Delete delivered Secrets whose (still existing) connection now delivers another one."""
    wanted: dict[str, tuple[str, str]] = {}
    async for sc in client.list(ServiceConnection, namespace=namespace):
        conn = parse_connection(sc)
        if not conn.deleting:
            wanted[conn.ref] = (str(conn.raw_spec.get("targetNamespace")), str(conn.raw_spec.get("secretName")))
    done: list[str] = []
    selector: dict[str, Any] = {MANAGED_BY_LABEL: MANAGED_BY, CONNECTION_LABEL: None}
    async for secret in client.list(Secret, namespace=ALL_NAMESPACES, labels=selector):
        d = to_dict(secret)
        meta = d.get("metadata") or {}
        ref = owner_ref(d)
        here = (str(meta.get("namespace")), str(meta.get("name")))
        if ref in wanted and wanted[ref] != here:
            done += await delete_object(client, Secret, here[0], here[1], expectations)
    return done


async def migrate_legacy_names(client: AsyncClient, namespace: str = SYSTEM_NAMESPACE) -> list[str]:
    """Re-create ServiceConnections that carry a pre-0.2 name under the name of their whole linker id."""
    done: list[str] = []
    objs = [to_dict(o) async for o in client.list(ServiceConnection, namespace=namespace)]
    for obj in objs:
        conn = parse_connection(obj)
        spec = dict(conn.raw_spec)
        if conn.deleting or not conn.connection_id or not spec.get("connectionName"):
            continue
        wanted = resource_name(conn.connection_id, str(spec["connectionName"]))
        if wanted == conn.name:
            continue
        try:
            done.append(await _migrate(client, obj, conn, spec, wanted))
        except ApiError as exc:
            log.warning("could not migrate ServiceConnection %s to %s: %s", conn.ref, wanted, exc.status.message)
    return done


async def _migrate(client: AsyncClient, obj: dict[str, Any], conn: Connection, spec: dict[str, Any],
                   wanted: str) -> str:  # fmt: skip
    meta = obj.get("metadata") or {}
    old_credentials = spec.get("credentialsSecretName")
    if old_credentials:
        companion = await get_object(client, Secret, str(old_credentials), conn.namespace)
        if companion is not None:
            cmeta = companion.get("metadata") or {}
            labels = {**(cmeta.get("labels") or {}), CREDENTIALS_FOR_LABEL: wanted}
            new_companion = {"apiVersion": "v1", "kind": "Secret", "type": companion.get("type", "Opaque"),
                             "metadata": {"name": credentials_secret_name(wanted), "namespace": conn.namespace,
                                          "labels": labels, "annotations": cmeta.get("annotations") or {}},
                             "data": companion.get("data") or {}}  # fmt: skip
            await client.patch(Secret, credentials_secret_name(wanted), new_companion, namespace=conn.namespace,
                               patch_type=PatchType.APPLY, field_manager=FIELD_MANAGER, force=True)  # fmt: skip
        spec["credentialsSecretName"] = credentials_secret_name(wanted)
    body = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {"name": wanted, "namespace": conn.namespace, "labels": meta.get("labels") or {},
                         "annotations": _own_annotations(meta.get("annotations") or {})},
            "spec": spec}  # fmt: skip
    await client.apply(ServiceConnection.from_dict(body), field_manager=FIELD_MANAGER, force=True)
    # Gone without its deletion policy running: the new object delivers the same Secret.
    await client.patch(ServiceConnection, conn.name, {"metadata": {"finalizers": None}}, namespace=conn.namespace,
                       patch_type=PatchType.MERGE)  # fmt: skip
    await delete_object_quietly(client, ServiceConnection, conn.namespace, conn.name)
    if old_credentials:
        await delete_object_quietly(client, Secret, conn.namespace, str(old_credentials))
    return f"migrated ServiceConnection {conn.ref} to {conn.namespace}/{wanted}"


def _own_annotations(annotations: dict[str, Any]) -> dict[str, Any]:
    """Ours only: kopf's bookkeeping of the old object must not make it skip the new one."""
    return {k: v for k, v in annotations.items() if not k.startswith("operator.servicelinker.io")}


async def delete_object_quietly(client: AsyncClient, res: Any, namespace: str, name: str) -> None:
    try:
        await client.delete(res, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code != 404:
            raise


