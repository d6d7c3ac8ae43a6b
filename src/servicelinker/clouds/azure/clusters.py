"""The AKS cluster as the engine needs it: features, add-ons, outbound IPs, and a kubeconfig to reach it.

* The kubeconfig is the cluster *user* credential (`listClusterUserCredential`), what `az aks get-credentials`
  fetches; it is written 0600 under the state directory, named by a hash of the cluster id, and rewritten on every
  read (credentials rotate).
* Outbound IPs are where the cluster's traffic comes from, for target firewalls: the load balancer's effective
  outbound IPs, or a managed NAT gateway's. A cluster with `userDefinedRouting` or a user-assigned NAT gateway
  leaves through something AKS does not describe (the user's firewall or NAT): no IPs are known, so no firewall
  rule is made and validation says so.
* Features are turned on (never off) as AKS is updated: GET, modify, PUT with `If-Match` of the etag; a cluster
  that is not `Succeeded` gets the engine's Conflict error before any PUT.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from azure.core import MatchConditions

from servicelinker.clouds.azure.clients import ArmClients, wire_text
from servicelinker.clouds.azure.errors import arm_errors
from servicelinker.clouds.base import AddonProfile, ClusterInfo
from servicelinker.model.ids import ResourceId

#: A tag the dev stack's local cloud puts on its cluster: no kubelet runs the extension there.
OPERATOR_MODE_TAG = "localcloud-operator-mode"
NAT_OUTBOUND = ("managedNATGateway",)


def _attr(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def _addons(cluster: Any) -> dict[str, AddonProfile]:
    out: dict[str, AddonProfile] = {}
    for name, profile in (_attr(cluster, "addon_profiles") or {}).items():
        identity = _attr(profile, "identity")
        out[name] = AddonProfile(enabled=bool(_attr(profile, "enabled")),
                                 identity_client_id=_attr(identity, "client_id"),
                                 identity_object_id=_attr(identity, "object_id"),
                                 identity_resource_id=_attr(identity, "resource_id"))  # fmt: skip
    return out


def outbound_ip_ids(cluster: Any) -> list[str]:
    """Resource ids of the public IPs the cluster's egress uses (none for user-defined routing)."""
    network = _attr(cluster, "network_profile")
    outbound = wire_text(_attr(network, "outbound_type") or "loadBalancer")
    if outbound in NAT_OUTBOUND:
        refs = _attr(network, "nat_gateway_profile", "effective_outbound_i_ps") or []
    elif outbound == "loadBalancer":
        refs = _attr(network, "load_balancer_profile", "effective_outbound_i_ps") or []
    else:
        refs = []
    return [str(r.id) for r in refs if getattr(r, "id", None)]


def _public_ips(clients: ArmClients, ids: list[str]) -> list[str]:
    ips: list[str] = []
    for ip_id in ids:
        rid = ResourceId.parse(ip_id)
        with arm_errors(ip_id):
            address = clients.network(rid.subscription).public_ip_addresses.get(str(rid.resource_group), rid.name)
        if address.ip_address:
            ips.append(str(address.ip_address))
    return ips


def kubeconfig_path(state_dir: Path, cluster_id: str) -> Path:
    digest = hashlib.sha256(cluster_id.lower().encode()).hexdigest()[:16]
    return state_dir / "kubeconfigs" / f"{digest}.yaml"


def _write_private(path: Path, data: bytes) -> None:
    """Atomically, 0600; several threads and processes (REST replicas) write the same file, so each writes its own
    temporary file, and an unchanged credential is not rewritten."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _info(cluster: Any, kubeconfig: Path, ips: list[str]) -> ClusterInfo:
    oidc = _attr(cluster, "oidc_issuer_profile")
    tags = _attr(cluster, "tags") or {}
    return ClusterInfo(
        id=str(cluster.id),
        location=str(cluster.location),
        provisioning_state=wire_text(_attr(cluster, "provisioning_state") or "Succeeded"),
        kubeconfig=str(kubeconfig),
        oidc_issuer_enabled=bool(_attr(oidc, "enabled")),
        oidc_issuer_url=_attr(oidc, "issuer_url") if _attr(oidc, "enabled") else None,
        workload_identity_enabled=bool(_attr(cluster, "security_profile", "workload_identity", "enabled")),
        addons=_addons(cluster),
        outbound_ips=ips,
        operator_mode="external" if tags.get(OPERATOR_MODE_TAG) == "external" else "in-cluster",
    )


def get_cluster(clients: ArmClients, state_dir: Path, cluster_id: str) -> ClusterInfo:
    rid = ResourceId.parse(cluster_id)
    group, name = str(rid.resource_group), rid.name
    aks = clients.aks(rid.subscription).managed_clusters
    with arm_errors(cluster_id):
        cluster = aks.get(group, name)
        credentials = aks.list_cluster_user_credentials(group, name)
    configs = credentials.kubeconfigs or []
    if not configs or not configs[0].value:
        from servicelinker.clouds.azure.errors import service_error

        raise service_error(cluster_id, "The cluster returned no user credential (kubeconfig).")
    path = kubeconfig_path(state_dir, cluster_id)
    _write_private(path, bytes(configs[0].value))
    return _info(cluster, path, _public_ips(clients, outbound_ip_ids(cluster)))


def enable_features(clients: ArmClients, state_dir: Path, cluster_id: str, *, oidc_issuer: bool,
                    workload_identity: bool, addons: tuple[str, ...]) -> ClusterInfo:  # fmt: skip
    """GET -> modify -> PUT (If-Match the etag) of the managed cluster, only when something is off."""
    from azure.mgmt.containerservice import models

    rid = ResourceId.parse(cluster_id)
    group, name = str(rid.resource_group), rid.name
    aks = clients.aks(rid.subscription).managed_clusters
    with arm_errors(cluster_id):
        cluster = aks.get(group, name)
    changed = False
    if oidc_issuer and not _attr(cluster, "oidc_issuer_profile", "enabled"):
        cluster.oidc_issuer_profile = models.ManagedClusterOIDCIssuerProfile(enabled=True)
        changed = True
    if workload_identity and not _attr(cluster, "security_profile", "workload_identity", "enabled"):
        profile = cluster.security_profile or models.ManagedClusterSecurityProfile()
        profile.workload_identity = models.ManagedClusterSecurityProfileWorkloadIdentity(enabled=True)
        cluster.security_profile = profile
        changed = True
    for addon in addons:
        current = (cluster.addon_profiles or {}).get(addon)
        if not _attr(current, "enabled"):
            cluster.addon_profiles = {**(cluster.addon_profiles or {}),
                                      addon: models.ManagedClusterAddonProfile(enabled=True, config={})}  # fmt: skip
            changed = True
    if changed:
        etag = _attr(cluster, "e_tag") or _attr(cluster, "etag")
        with arm_errors(cluster_id):
            aks.begin_create_or_update(group, name, cluster, etag=etag,
                                       match_condition=MatchConditions.IfNotModified if etag else None).result()
    return get_cluster(clients, state_dir, cluster_id)
