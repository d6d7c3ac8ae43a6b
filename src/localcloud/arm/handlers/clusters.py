"""Microsoft.ContainerService/managedClusters and the public IPs of their outbound load balancer.

The cluster is the dev stack's kube-apiserver. What AKS features mean here: the OIDC issuer is the API server's
own service-account issuer (its URL is published once the feature is on); workload identity is the stack's
webhook; an add-on gets a user-assigned identity in the node resource group, as AKS creates
`azurekeyvaultsecretsprovider-<cluster>`. The kubeconfig is the stack's. Local-only facts travel as tags:
`localcloud-operator-mode: external` (no kubelet runs the extension's pods; the operator is a host process).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from localcloud import identity as identities
from localcloud.arm.routing import Call, Reply, Route
from localcloud.arm.wire import accepted, check_api_version, envelope, not_found, tracked
from localcloud.arm.world import etag_of, now
from localcloud.inventory import Resource
from servicelinker.model.errors import ArmError
from servicelinker.model.ids import ResourceId

CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"
PIP_TYPE = "Microsoft.Network/publicIPAddresses"
OPERATOR_MODE_TAG = "localcloud-operator-mode"


def node_resource_group(res: Resource) -> str:
    rid = ResourceId.parse(res.id)
    return f"MC_{rid.resource_group}_{rid.name}_{res.location}"


def outbound_ip_ids(res: Resource) -> list[str]:
    rid = ResourceId.parse(res.id)
    ips = list(res.properties.get("outboundIps", []))
    return [f"/subscriptions/{rid.subscription}/resourceGroups/{node_resource_group(res)}/providers/"
            f"{PIP_TYPE}/{rid.name}-outbound-{i}" for i in range(len(ips))]  # fmt: skip


def _addons(props: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, addon in props.get("addonProfiles", {}).items():
        body: dict[str, Any] = {"enabled": bool(addon.get("enabled")), "config": addon.get("config") or {}}
        if addon.get("identity_client_id"):
            body["identity"] = {"resourceId": addon.get("identity_resource_id"),
                                "clientId": addon.get("identity_client_id"),
                                "objectId": addon.get("identity_object_id")}  # fmt: skip
        out[name] = body
    return out


def _properties(res: Resource) -> dict[str, Any]:
    p = res.properties
    oidc = p.get("oidcIssuerProfile", {})
    rid = ResourceId.parse(res.id)
    return {
        "provisioningState": p.get("provisioningState", "Succeeded"),
        "powerState": {"code": "Running"},
        "kubernetesVersion": p.get("kubernetesVersion", ""),
        "currentKubernetesVersion": p.get("kubernetesVersion", ""),
        "dnsPrefix": rid.name,
        "fqdn": "127.0.0.1",
        "enableRBAC": True,
        "nodeResourceGroup": node_resource_group(res),
        "oidcIssuerProfile": {"enabled": bool(oidc.get("enabled")),
                              **({"issuerURL": oidc.get("issuerURL")} if oidc.get("enabled") else {})},
        "securityProfile": {"workloadIdentity": {"enabled": bool(
            p.get("securityProfile", {}).get("workloadIdentity", {}).get("enabled"))}},
        "addonProfiles": _addons(p),
        "networkProfile": {"networkPlugin": "kubenet", "outboundType": "loadBalancer", "loadBalancerSku": "standard",
                           "loadBalancerProfile": {"effectiveOutboundIPs": [{"id": i} for i in outbound_ip_ids(res)]}},
    }  # fmt: skip


def _tags(res: Resource) -> dict[str, str]:
    tags = dict(res.tags)
    if res.properties.get("operatorMode") == "external":
        tags[OPERATOR_MODE_TAG] = "external"
    return tags


def _etag(res: Resource) -> str:
    return etag_of([res.properties.get(k) for k in ("oidcIssuerProfile", "securityProfile", "addonProfiles",
                                                    "provisioningState")])  # fmt: skip


def render(res: Resource) -> dict[str, Any]:
    body = envelope(res, _properties(res), eTag=_etag(res), sku={"name": "Base", "tier": "Free"})
    body["type"] = CLUSTER_TYPE
    body["tags"] = _tags(res)
    return body


def _cluster(call: Call) -> Resource:
    return tracked(call, "Microsoft.ContainerService", "managedClusters", "resourceName")


def get(call: Call) -> dict[str, Any]:
    return render(_cluster(call))


def list_user_credentials(call: Call) -> dict[str, Any]:
    res = _cluster(call)
    config = Path(res.properties["kubeconfig"]).read_bytes()
    return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(config).decode()}]}


def _addon_identity(res: Resource, call: Call, addon: str) -> dict[str, str]:
    rid = ResourceId.parse(res.id)
    identity_id = (f"/subscriptions/{rid.subscription}/resourceGroups/{node_resource_group(res)}/providers/"
                   f"Microsoft.ManagedIdentity/userAssignedIdentities/{addon.lower()}-{rid.name}")  # fmt: skip
    made = identities.create_identity(call.world.inventory, identity_id)
    return {"identity_client_id": made.properties["clientId"], "identity_object_id": made.properties["principalId"],
            "identity_resource_id": made.id}  # fmt: skip


def _unquoted(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


def put(call: Call) -> Reply:
    """An update of an existing cluster (the dev stack does not create clusters): OIDC issuer, workload
    identity, add-ons; `If-Match` must name the current etag; a cluster not `Succeeded` refuses, as AKS does."""
    res = _cluster(call)
    if_match = call.headers.get("if-match")
    if if_match and if_match.strip() != "*" and _unquoted(if_match) != _etag(res):
        raise ArmError("PreconditionFailed", "The specified precondition 'If-Match' failed: the managed cluster "
                       "was changed since it was read.", target="If-Match", status=412,
                       remedy="GET the cluster again and retry with its current eTag.")  # fmt: skip
    state = res.properties.get("provisioningState", "Succeeded")
    if state != "Succeeded":
        raise ArmError("OperationNotAllowed", f"Operation is not allowed because there's an in progress "
                       f"{state.lower()} managed cluster operation on the managed cluster.", status=409,
                       target=res.id)  # fmt: skip
    wanted = (call.body or {}).get("properties") or {}
    new_addons = {name: a for name, a in (wanted.get("addonProfiles") or {}).items()
                  if a.get("enabled") and not res.properties.get("addonProfiles", {}).get(name, {}).get("enabled")}
    made = {name: _addon_identity(res, call, name) for name in new_addons}
    with call.world.inventory.edit() as data:
        props = data.resources[res.id.rstrip("/").lower()].properties
        if (wanted.get("oidcIssuerProfile") or {}).get("enabled"):
            props.setdefault("oidcIssuerProfile", {})["enabled"] = True
        if ((wanted.get("securityProfile") or {}).get("workloadIdentity") or {}).get("enabled"):
            props.setdefault("securityProfile", {}).setdefault("workloadIdentity", {})["enabled"] = True
        for name, identity in made.items():
            props.setdefault("addonProfiles", {})[name] = {"enabled": True, "config": new_addons[name].get("config")
                                                           or {}, **identity}  # fmt: skip
        changes = {"oidcIssuer": bool((wanted.get("oidcIssuerProfile") or {}).get("enabled")),
                   "workloadIdentity": bool(((wanted.get("securityProfile") or {}).get("workloadIdentity") or {})
                                            .get("enabled")), "addons": sorted(made)}  # fmt: skip
        props.setdefault("updateHistory", []).append({"time": now(), "enabled": changes})
        props["provisioningState"] = "Succeeded"
    updated = call.world.resource(res.id)
    assert updated is not None
    body = render(updated)
    body["properties"]["provisioningState"] = "Updating"  # what AKS answers while the update runs
    return accepted(call, call.world.finished_operation(), body, status=200)


def get_public_ip(call: Call) -> dict[str, Any]:
    """A public IP of a cluster's outbound load balancer (its address is the cluster's egress, loopback here)."""
    check_api_version(call, "Microsoft.Network", "publicIPAddresses")
    wanted = call.resource_path.lower()
    for res in call.world.inventory.list(CLUSTER_TYPE):
        for ip_id, address in zip(outbound_ip_ids(res), res.properties.get("outboundIps", []), strict=False):
            if ip_id.lower() == wanted:
                return {"id": ip_id, "name": ip_id.rsplit("/", 1)[-1], "type": PIP_TYPE, "location": res.location,
                        "sku": {"name": "Standard", "tier": "Regional"},
                        "properties": {"provisioningState": "Succeeded", "ipAddress": address,
                                       "publicIPAddressVersion": "IPv4", "publicIPAllocationMethod": "Static",
                                       "idleTimeoutInMinutes": 30}}  # fmt: skip
    raise not_found(call.resource_path)


CLUSTER = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/" \
    "Microsoft.ContainerService/managedClusters/{resourceName}"  # fmt: skip
ROUTES = (
    Route("GET", CLUSTER, get),
    Route("PUT", CLUSTER, put),
    Route("POST", CLUSTER + "/listClusterUserCredential", list_user_credentials),
    Route("GET", "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/"
          "publicIPAddresses/{publicIpAddressName}", get_public_ip),
)
