"""Registers what the dev stack runs as resources of the local cloud, with ARM-style ids.

After `devstack up`, `servicelinker aks connection create postgres-flexible -g sl-dev -n sl-aks --tg sl-dev
--server sl-postgres --database appdb ...` works exactly as against Azure: the ids below resolve to the real
servers started here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from localcloud import admin
from localcloud import identity as identities
from localcloud.devstack.base import Health
from localcloud.devstack.config import StackConfig
from localcloud.inventory import LOCAL_SUBSCRIPTION, LOCAL_TENANT, Inventory, Resource

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
        # The developer owns the local subscription, as the creator of an Azure subscription does; remove the
        # assignment (`servicelinker local role remove`) to see permission errors; later `up`s keep that choice.
        owner_scope = f"/subscriptions/{LOCAL_SUBSCRIPTION}"
        admin.grant(inventory, developer(cfg, inventory)["objectId"], "Owner", owner_scope)
    return written


DEVELOPER_NAME = "servicelinker-developer"


def developer(cfg: StackConfig, inventory: Inventory) -> dict[str, str]:
    """The service principal the developer (the CLI, `servicelinker serve`) signs in as: created once, its
    secret kept 0600 in the state directory (the inventory holds only its hash), recreated if either is lost."""
    record, secret_file = cfg.state_dir / "developer.json", cfg.state_dir / "developer.secret"
    if record.is_file() and secret_file.is_file():
        known: dict[str, str] = json.loads(record.read_text())
        if inventory.load().service_principals.get(known["clientId"].lower()) is not None:
            return known
    sp, secret = identities.create_service_principal(inventory, DEVELOPER_NAME)
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    made = {"clientId": sp.client_id, "objectId": sp.object_id, "clientSecretFile": str(secret_file)}
    record.write_text(json.dumps(made, indent=2))
    return made


def write_cloud_profile(cfg: StackConfig, services: dict[str, dict[str, Any]], who: dict[str, str]) -> Path:
    """`<state>/cloud-profile.json`: the local cloud as the Azure adapter (servicelinker.clouds.azure.profile)
    reads a sovereign cloud, with a CA bundle of the ARM endpoint's and the token service's certificates."""
    arm, tokens = services["arm"], services["tokenservice"]
    bundle = cfg.state_dir / "cloud-ca.pem"
    bundle.write_text("".join(Path(p).read_text() for p in (arm["caCert"], tokens["caCert"])))
    profile = {"armEndpoint": arm["endpoint"], "armAudience": "https://management.azure.com/",
               "authorityHost": tokens["authorityHost"], "tenantId": LOCAL_TENANT,
               "graphEndpoint": arm["endpoint"], "graphAudience": "https://graph.microsoft.com",
               "caBundle": str(bundle), "clientId": who["clientId"], "clientSecretFile": who["clientSecretFile"],
               "subscriptionId": LOCAL_SUBSCRIPTION}  # fmt: skip
    path = cfg.state_dir / "cloud-profile.json"
    path.write_text(json.dumps(profile, indent=2))
    return path


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
        who = developer(cfg, Inventory(cfg.inventory))
        described: dict[str, Any] = {"inventory": str(cfg.inventory), "resources": ids,
                                     "resourceGroup": RESOURCE_GROUP,
                                     "developer": {"clientId": who["clientId"], "objectId": who["objectId"]}}
        if "arm" in services and "tokenservice" in services:
            described["cloudProfile"] = str(write_cloud_profile(cfg, services, who))
        return described

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        inventory = Inventory(cfg.inventory)
        missing = [rid for rid in description.get("resources", []) if inventory.get(rid) is None]
        if missing:
            return Health(name=self.name, healthy=False, detail=f"missing from inventory: {', '.join(missing)}")
        return Health(name=self.name, healthy=True, detail=f"{len(description.get('resources', []))} resources")


SERVICE = LocalCloudService()
