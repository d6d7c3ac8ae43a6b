"""The api-versions the endpoint serves, per resource provider and type: those the pinned management SDKs send
(pyproject.toml) and the versions of the vendored specifications (tests/data/rest-spec). ARM refuses any other
with `NoRegisteredProviderFound`, naming the versions it supports, and so does this endpoint."""

from __future__ import annotations

from collections.abc import Mapping

#: namespace -> resource type -> api-versions (oldest first).
API_VERSIONS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "Microsoft.ContainerService": {"managedClusters": ("2024-05-01", "2025-10-01", "2026-08-01"),
                                   "locations": ("2026-08-01",)},
    "Microsoft.Network": {"publicIPAddresses": ("2024-05-01", "2026-03-01")},
    "Microsoft.ManagedIdentity": {"userAssignedIdentities": ("2023-01-31", "2024-11-30"),
                                  "userAssignedIdentities/federatedIdentityCredentials": ("2023-01-31",
                                                                                          "2024-11-30")},
    "Microsoft.DBforPostgreSQL": {"flexibleServers": ("2024-08-01", "2025-08-01", "2026-10-01"),
                                  "flexibleServers/databases": ("2024-08-01", "2025-08-01", "2026-10-01"),
                                  "flexibleServers/firewallRules": ("2024-08-01", "2025-08-01", "2026-10-01"),
                                  "locations": ("2026-10-01",)},
    "Microsoft.DBforMySQL": {"flexibleServers": ("2023-12-30", "2024-12-30"),
                             "flexibleServers/databases": ("2023-12-30", "2024-12-30"),
                             "flexibleServers/firewallRules": ("2023-12-30", "2024-12-30"),
                             "locations": ("2024-12-30",)},
    "Microsoft.Cache": {"redis": ("2024-03-01", "2024-11-01"), "redis/firewallRules": ("2024-03-01", "2024-11-01"),
                        "redisEnterprise": ("2024-10-01",), "redisEnterprise/databases": ("2024-10-01",)},
    "Microsoft.Storage": {"storageAccounts": ("2023-05-01", "2025-01-01", "2026-09-01")},
    "Microsoft.KeyVault": {"vaults": ("2023-07-01", "2026-05-15")},
    "Microsoft.Authorization": {"roleAssignments": ("2022-04-01",), "roleDefinitions": ("2022-04-01",),
                                "permissions": ("2022-04-01",)},
    "Microsoft.Resources": {"subscriptions": ("2022-12-01",), "tenants": ("2022-12-01",),
                            "resourceGroups": ("2024-11-01", "2025-04-01"), "providers": ("2025-04-01",),
                            "resources": ("2025-04-01",)},
    "Microsoft.ServiceLinker": {"linkers": ("2022-05-01", "2024-04-01"), "dryruns": ("2024-04-01",),
                                "configurationNames": ("2024-04-01",), "operations": ("2022-05-01", "2024-04-01")},
    "Microsoft.KubernetesConfiguration": {"extensions": ("2023-05-01", "2024-11-01")},
    # targets served through ARM's generic resource API (servicelinker.clouds.azure.generic)
    "Microsoft.ServiceBus": {"namespaces": ("2021-11-01",), "namespaces/queues": ("2021-11-01",),
                             "namespaces/topics": ("2021-11-01",)},
    "Microsoft.EventHub": {"namespaces": ("2024-01-01",), "namespaces/eventhubs": ("2024-01-01",)},
    "Microsoft.AppConfiguration": {"configurationStores": ("2023-03-01",)},
    "Microsoft.SignalRService": {"SignalR": ("2024-03-01",), "WebPubSub": ("2024-03-01",)},
    "Microsoft.DocumentDB": {"databaseAccounts": ("2024-05-15",)},
    "Microsoft.CognitiveServices": {"accounts": ("2024-10-01",)},
    "Microsoft.Insights": {"components": ("2020-02-02",)},
    "Microsoft.Sql": {"servers": ("2021-11-01",), "servers/databases": ("2021-11-01",)},
}  # fmt: skip


def namespace(name: str) -> str | None:
    """The namespace as ARM spells it, for any casing."""
    return next((ns for ns in API_VERSIONS if ns.lower() == name.lower()), None)


def versions_for(ns: str, resource_type: str) -> tuple[str, ...]:
    """The versions of `resource_type` (child types fall back to their top-level type's versions)."""
    types = {t.lower(): v for t, v in API_VERSIONS.get(namespace(ns) or "", {}).items()}
    wanted = resource_type.lower()
    while wanted:
        if wanted in types:
            return types[wanted]
        wanted = wanted.rpartition("/")[0]
    return ()
