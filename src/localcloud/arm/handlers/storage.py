"""Microsoft.Storage/storageAccounts (the dev stack's Azurite) and Microsoft.KeyVault/vaults (its Key Vault).

Keys are Azurite's. Network rules are kept as ARM keeps them (`networkAcls`, read-modify-write through PATCH)
and recorded only (tag `localcloud-firewall: recorded`): neither server filters by client IP. The HTTPS endpoints
on which Azurite accepts bearer tokens travel as tags `localcloud-oauth-<service>-endpoint`.
"""

from __future__ import annotations

from typing import Any

from localcloud.arm.routing import Call, Route
from localcloud.arm.wire import envelope, tracked
from localcloud.arm.world import now
from localcloud.inventory import Resource

FIREWALL_TAG = "localcloud-firewall"
OAUTH_TAG = "localcloud-oauth-{service}-endpoint"
OPEN = {"defaultAction": "Allow", "bypass": "AzureServices", "ipRules": [], "virtualNetworkRules": []}


def _patch(call: Call, res: Resource, acls_at: tuple[str, ...]) -> None:
    """Merge a PATCH: tags replace, `networkAcls` replaces (ARM's PATCH semantics for these properties)."""
    body = call.body if isinstance(call.body, dict) else {}
    with call.world.inventory.edit() as data:
        stored = data.resources[res.id.rstrip("/").lower()]
        if isinstance(body.get("tags"), dict):
            stored.tags = {str(k): str(v) for k, v in body["tags"].items()}
        node: Any = body
        for step in acls_at:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict):
            stored.properties["networkAcls"] = {**OPEN, **node}


# ------------------------------------------------------------------------------------------------- storage


def _account(call: Call) -> Resource:
    return tracked(call, "Microsoft.Storage", "storageAccounts", "accountName")


def _account_body(res: Resource) -> dict[str, Any]:
    p = res.properties
    endpoints = dict(p.get("primaryEndpoints", {}))
    props = {"provisioningState": "Succeeded", "primaryEndpoints": endpoints, "primaryLocation": res.location,
             "statusOfPrimary": "available", "creationTime": p.get("creationTime", "2024-01-01T00:00:00Z"),
             "networkAcls": p.get("networkAcls", OPEN), "supportsHttpsTrafficOnly": False,
             "allowSharedKeyAccess": True, "minimumTlsVersion": "TLS1_2", "accessTier": "Hot"}  # fmt: skip
    body = envelope(res, props, kind="StorageV2", sku={"name": "Standard_LRS", "tier": "Standard"})
    tags = {**res.tags, FIREWALL_TAG: "recorded"}
    for key, url in p.get("oauthEndpoints", {}).items():
        tags[OAUTH_TAG.format(service=key.removesuffix("Endpoint"))] = url
    body["tags"] = tags
    return body


def get_account(call: Call) -> dict[str, Any]:
    return _account_body(_account(call))


def update_account(call: Call) -> dict[str, Any]:
    res = _account(call)
    _patch(call, res, ("properties", "networkAcls"))
    updated = call.world.resource(res.id)
    assert updated is not None
    return _account_body(updated)


def list_account_keys(call: Call) -> dict[str, Any]:
    res = _account(call)
    keys = [{"keyName": name, "value": value, "permissions": "FULL", "creationTime": now()}
            for name, value in sorted(res.secrets.items()) if name.startswith("key")]  # fmt: skip
    return {"keys": keys}


# ----------------------------------------------------------------------------------------------- Key Vault


def _vault(call: Call) -> Resource:
    return tracked(call, "Microsoft.KeyVault", "vaults", "vaultName")


def _vault_body(call: Call, res: Resource) -> dict[str, Any]:
    p = res.properties
    props = {"tenantId": call.world.tenant_id, "sku": {"family": "A", "name": "standard"}, "vaultUri": p["vaultUri"],
             "enableRbacAuthorization": bool(p.get("enableRbacAuthorization", True)), "accessPolicies": [],
             "networkAcls": p.get("networkAcls", OPEN), "provisioningState": "Succeeded",
             "publicNetworkAccess": "Enabled", "enableSoftDelete": True, "softDeleteRetentionInDays": 90}  # fmt: skip
    body = envelope(res, props)
    body["tags"] = {**res.tags, FIREWALL_TAG: "recorded"}
    return body


def get_vault(call: Call) -> dict[str, Any]:
    return _vault_body(call, _vault(call))


def update_vault(call: Call) -> dict[str, Any]:
    res = _vault(call)
    _patch(call, res, ("properties", "networkAcls"))
    updated = call.world.resource(res.id)
    assert updated is not None
    return _vault_body(call, updated)


GROUP = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers"
ACCOUNT = GROUP + "/Microsoft.Storage/storageAccounts/{accountName}"
VAULT = GROUP + "/Microsoft.KeyVault/vaults/{vaultName}"
ROUTES = (
    Route("GET", ACCOUNT, get_account),
    Route("PATCH", ACCOUNT, update_account),
    Route("POST", ACCOUNT + "/listKeys", list_account_keys),
    Route("GET", VAULT, get_vault),
    Route("PATCH", VAULT, update_vault),
)
