"""Registers what the dev stack runs as resources of the local cloud, with ARM-style ids.

After `devstack up`, `servicelinker aks connection create postgres-flexible -g sl-dev -n sl-aks --tg sl-dev
--server sl-postgres --database appdb ...` works exactly as against Azure: the ids below resolve to the real
servers started here.
"""

from __future__ import annotations

from typing import Any

from localcloud.adapter import DEFAULT_PRINCIPAL, LocalCloud
from localcloud.devstack.base import Health
from localcloud.devstack.config import StackConfig
from localcloud.inventory import LOCAL_SUBSCRIPTION, Inventory, Resource

RESOURCE_GROUP = "sl-dev"
CLUSTER = "sl-aks"
_PREFIX = f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers"


def resource_ids() -> dict[str, str]:
    """The ids `devstack up` registers, by dev-stack service name."""
    return {
        "kube": f"{_PREFIX}/Microsoft.ContainerService/managedClusters/{CLUSTER}",
        "postgres": f"{_PREFIX}/Microsoft.DBforPostgreSQL/flexibleServers/sl-postgres",
        "mariadb": f"{_PREFIX}/Microsoft.DBforMySQL/flexibleServers/sl-mysql",
        "redis": f"{_PREFIX}/Microsoft.Cache/redis/sl-redis",
        "azurite": f"{_PREFIX}/Microsoft.Storage/storageAccounts/devstoreaccount1",
        "keyvault": f"{_PREFIX}/Microsoft.KeyVault/vaults/slvault",
    }


def _cluster(d: dict[str, Any]) -> Resource:
    return Resource(
        id=resource_ids()["kube"],
        type="Microsoft.ContainerService/managedClusters",
        properties={
            "provisioningState": "Succeeded",
            "kubernetesVersion": d["version"].lstrip("v"),
            "kubeconfig": d["kubeconfig"],
            # The API server is its own service-account issuer; "enabled" flips when a workload-identity
            # connection asks for it, as AKS's OIDC issuer does.
            "oidcIssuerProfile": {"enabled": False, "issuerURL": d["issuer"]},
            "securityProfile": {"workloadIdentity": {"enabled": False}},
            "addonProfiles": {},
            "outboundIps": ["127.0.0.1"],
            "operatorMode": "external",
        },
    )


def _flexible_server(service: str, resource_type: str, d: dict[str, Any], **extra: Any) -> Resource:
    """A PostgreSQL or MySQL flexible server: its admin endpoint, from which databases are read live."""
    return Resource(
        id=resource_ids()[service],
        type=resource_type,
        properties={
            "fullyQualifiedDomainName": d["host"],
            "port": d["port"],
            "administratorLogin": d["adminUser"],
            "version": d.get("version", ""),
            "ssl": d.get("ssl", False),
            **extra,
        },
        secrets={"administratorLoginPassword": d["password"]},
    )


def _postgres(d: dict[str, Any]) -> Resource:
    # The hba file is where the local cloud enforces firewall rules.
    return _flexible_server(
        "postgres", "Microsoft.DBforPostgreSQL/flexibleServers", d, hbaFile=d.get("hbaFile"), dataDir=d.get("dataDir")
    )


def _mysql(d: dict[str, Any]) -> Resource:
    return _flexible_server("mariadb", "Microsoft.DBforMySQL/flexibleServers", d)


def _redis(d: dict[str, Any]) -> Resource:
    return Resource(
        id=resource_ids()["redis"],
        type="Microsoft.Cache/redis",
        properties={
            "hostName": d["host"],
            "port": d["port"],
            "sslPort": d.get("tlsPort"),
            "enableNonSslPort": not d.get("tls", False),
        },
        secrets={"primaryKey": d["password"]},
    )


def _storage(d: dict[str, Any]) -> Resource:
    https = d.get("https", {})
    return Resource(
        id=resource_ids()["azurite"],
        type="Microsoft.Storage/storageAccounts",
        properties={
            "accountName": d["accountName"],
            "primaryEndpoints": {
                "blob": d["blobEndpoint"],
                "queue": d["queueEndpoint"],
                "table": d["tableEndpoint"],
            },
            "oauthEndpoints": {k: v for k, v in https.items() if k.endswith("Endpoint")},
            "oauthCaCert": https.get("caCert"),
        },
        secrets={"key1": d["accountKey"]},
    )


def _keyvault(d: dict[str, Any]) -> Resource:
    return Resource(
        id=resource_ids()["keyvault"],
        type="Microsoft.KeyVault/vaults",
        properties={"vaultUri": d["vaultUrl"], "caCert": d.get("caCert"), "enableRbacAuthorization": True},
    )


_BUILDERS = {
    "kube": _cluster,
    "postgres": _postgres,
    "mariadb": _mysql,
    "redis": _redis,
    "azurite": _storage,
    "keyvault": _keyvault,
}


def register(cfg: StackConfig, services: dict[str, dict[str, Any]]) -> list[str]:
    """Write (or refresh) one inventory resource per running service; keeps user edits of other resources."""
    inventory = Inventory(cfg.inventory)
    first_time = not inventory.path.exists()
    written = []
    for name, build in _BUILDERS.items():
        if name in services:
            resource = build(services[name])
            existing = inventory.get(resource.id)
            if existing is not None and name == "kube":
                # Keep cluster features a connection enabled (OIDC issuer, add-ons) across restarts.
                resource.properties = {**resource.properties, **_kept_cluster_state(existing.properties)}
            inventory.put(resource)
            written.append(resource.id)
    if first_time:
        # The local user owns the local subscription, as the creator of an Azure subscription does; remove the
        # assignment (`servicelinker local role remove`) to see permission errors; later `up`s keep that choice.
        owner_scope = f"/subscriptions/{LOCAL_SUBSCRIPTION}"
        LocalCloud(inventory_path=cfg.inventory).grant(DEFAULT_PRINCIPAL, "Owner", owner_scope)
    return written


def _kept_cluster_state(props: dict[str, Any]) -> dict[str, Any]:
    keep = ("oidcIssuerProfile", "securityProfile", "addonProfiles")
    return {k: props[k] for k in keep if k in props}


class LocalCloudService:
    """Not a process: the step of `up` that publishes the stack as local-cloud resources."""

    name = "localcloud"

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        from localcloud.devstack.stack import load_description

        services = load_description(cfg).get("services", {})
        ids = register(cfg, services)
        return {"inventory": str(cfg.inventory), "resources": ids, "resourceGroup": RESOURCE_GROUP}

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        inventory = Inventory(cfg.inventory)
        missing = [rid for rid in description.get("resources", []) if inventory.get(rid) is None]
        if missing:
            return Health(name=self.name, healthy=False, detail=f"missing from inventory: {', '.join(missing)}")
        return Health(name=self.name, healthy=True, detail=f"{len(description.get('resources', []))} resources")


SERVICE = LocalCloudService()
