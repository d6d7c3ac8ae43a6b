"""Microsoft.Resources and the endpoint's own plumbing: subscriptions, tenants, resource groups, provider
registrations, existence checks by id, cloud metadata, and the status of long-running operations."""

from __future__ import annotations

from typing import Any

from localcloud.arm.routing import Call, Reply, Route
from localcloud.arm.versions import API_VERSIONS, namespace
from localcloud.arm.wire import check_api_version, not_found, page
from localcloud.inventory import DEFAULT_LOCATION, Subscription
from servicelinker.model.errors import ArmError
from servicelinker.model.ids import ResourceId

SUBSCRIPTION_NAME = "Local cloud"


def _subscription(call: Call, sub: Subscription) -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub.id}", "subscriptionId": sub.id, "tenantId": call.world.tenant_id,
            "displayName": SUBSCRIPTION_NAME, "state": "Enabled", "authorizationSource": "RoleBased",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                     "spendingLimit": "Off"}}  # fmt: skip


def _subscriptions(call: Call) -> dict[str, Subscription]:
    data = call.world.inventory.load()
    return dict(data.subscriptions)


def list_subscriptions(call: Call) -> dict[str, Any]:
    """The subscriptions the caller holds a role in (at the subscription or anywhere below it), as ARM lists."""
    check_api_version(call, "Microsoft.Resources", "subscriptions")
    data = call.world.inventory.load()
    visible = []
    for sub in data.subscriptions.values():
        prefix = f"/subscriptions/{sub.id}".lower()
        mine = [ra for ra in data.role_assignments if ra.principal_id.lower() == call.principal.lower()]
        if any((ra.scope.rstrip("/").lower() + "/").startswith(prefix + "/") for ra in mine):
            visible.append(_subscription(call, sub))
    return page(visible)


def get_subscription(call: Call) -> dict[str, Any]:
    check_api_version(call, "Microsoft.Resources", "subscriptions")
    sub = _subscriptions(call).get(call.params["subscriptionId"].lower())
    if sub is None:
        raise ArmError("SubscriptionNotFound", f"The subscription '{call.params['subscriptionId']}' could not be "
                       "found.", target="subscriptionId", status=404)  # fmt: skip
    return _subscription(call, sub)


def list_tenants(call: Call) -> dict[str, Any]:
    check_api_version(call, "Microsoft.Resources", "tenants")
    tenant = call.world.tenant_id
    return page([{"id": f"/tenants/{tenant}", "tenantId": tenant, "tenantCategory": "Home",
                  "displayName": "Local cloud", "defaultDomain": "localcloud.localhost", "countryCode": "US"}])


def _groups(call: Call, subscription: str) -> dict[str, str]:
    groups: dict[str, str] = {}
    for res in call.world.inventory.load().resources.values():
        rid = ResourceId.try_parse(res.id)
        if rid is not None and rid.subscription.lower() == subscription.lower() and rid.resource_group:
            groups.setdefault(rid.resource_group.lower(), rid.resource_group)
    return groups


def _group(subscription: str, name: str) -> dict[str, Any]:
    return {"id": f"/subscriptions/{subscription}/resourceGroups/{name}", "name": name,
            "type": "Microsoft.Resources/resourceGroups", "location": DEFAULT_LOCATION,
            "properties": {"provisioningState": "Succeeded"}}  # fmt: skip


def list_groups(call: Call) -> dict[str, Any]:
    check_api_version(call, "Microsoft.Resources", "resourceGroups")
    sub = call.params["subscriptionId"]
    return page([_group(sub, name) for name in sorted(_groups(call, sub).values(), key=str.lower)])


def get_group(call: Call) -> Reply:
    check_api_version(call, "Microsoft.Resources", "resourceGroups")
    sub, name = call.params["subscriptionId"], call.params["resourceGroupName"]
    found = _groups(call, sub).get(name.lower())
    if found is None:
        raise ArmError("ResourceGroupNotFound", f"Resource group '{name}' could not be found.",
                       target="resourceGroupName", status=404)  # fmt: skip
    if call.method == "HEAD":
        return Reply(204)
    return Reply(200, _group(sub, found))


def _provider(call: Call, subscription: str, ns: str) -> dict[str, Any]:
    types = API_VERSIONS.get(ns, {})
    state = call.world.inventory.provider_state(subscription, ns)
    return {"id": f"/subscriptions/{subscription}/providers/{ns}", "namespace": ns, "registrationState": state,
            "registrationPolicy": "RegistrationRequired",
            "resourceTypes": [{"resourceType": t, "locations": ["Local"], "apiVersions": sorted(v, reverse=True)}
                              for t, v in types.items()]}  # fmt: skip


def _namespace(call: Call) -> str:
    given = call.params["resourceProviderNamespace"]
    ns = namespace(given)
    if ns is None:
        raise ArmError("InvalidResourceNamespace", f"The resource namespace '{given}' is invalid.",
                       target="resourceProviderNamespace", status=404)  # fmt: skip
    return ns


def get_provider(call: Call) -> dict[str, Any]:
    check_api_version(call, "Microsoft.Resources", "providers")
    ns = _namespace(call)
    return _provider(call, call.params["subscriptionId"], ns)


def list_providers(call: Call) -> dict[str, Any]:
    check_api_version(call, "Microsoft.Resources", "providers")
    return page([_provider(call, call.params["subscriptionId"], ns) for ns in API_VERSIONS])


def _set_registration(call: Call, state: str) -> dict[str, Any]:
    check_api_version(call, "Microsoft.Resources", "providers")
    ns = _namespace(call)
    call.world.inventory.set_provider_state(call.params["subscriptionId"], ns, state)
    return _provider(call, call.params["subscriptionId"], ns)


def register_provider(call: Call) -> dict[str, Any]:
    return _set_registration(call, "Registered")


def unregister_provider(call: Call) -> dict[str, Any]:
    return _set_registration(call, "NotRegistered")


def exists_by_id(call: Call) -> Reply:
    """`HEAD /{resourceId}`: 204 when the resource (or, for a child we do not store, its parent) exists."""
    resource_id = "/" + call.params["resourceId"].lstrip("/")
    rid = ResourceId.try_parse(resource_id)
    if rid is None:
        raise ArmError("InvalidResourceId", f"The resource id '{resource_id}' is invalid.", status=400)
    if call.world.resource(resource_id) is not None:
        return Reply(204)
    raise not_found(resource_id)


def operation_status(call: Call) -> dict[str, Any]:
    op = call.world.operations.get(call.params["operationId"])
    if op is None:
        raise not_found(call.path)
    body: dict[str, Any] = {"id": call.path, "name": op.id, "status": op.status, "startTime": op.start}
    if op.end:
        body["endTime"] = op.end
    if op.error:
        body["error"] = op.error
    return body


def operation_result(call: Call) -> Reply:
    op = call.world.operations.get(call.params["operationId"])
    if op is None:
        raise not_found(call.path)
    return Reply(202 if op.end is None else 204)


def metadata(call: Call) -> Any:
    """Cloud discovery (`az cloud register --endpoint-resource-manager`, azure-identity's cloud settings)."""
    base = call.world.base_url
    authority = call.world.authority_host
    document = {
        "portal": base, "authentication": {"loginEndpoint": authority,
                                           "audiences": ["https://management.core.windows.net/",
                                                         "https://management.azure.com/"],
                                           "tenant": "common", "identityProvider": "AAD"},
        "media": base, "graphAudience": "https://graph.microsoft.com/", "graph": base + "/",
        "name": "LocalCloud", "suffixes": {"azureDataLakeStoreFileSystem": "localhost", "acrLoginServer": "localhost",
                                           "sqlServerHostname": "localhost", "azureDataLakeAnalyticsCatalogAndJob":
                                           "localhost", "keyVaultDns": "vault.localhost", "storage": "localhost",
                                           "azureFrontDoorEndpointSuffix": "localhost"},
        "batch": base, "resourceManager": base + "/", "vmImageAliasDoc": base, "activeDirectoryDataLake": base,
        "sqlManagement": base, "microsoftGraphResourceId": "https://graph.microsoft.com/", "appInsightsResourceId":
        base, "appInsightsTelemetryChannelResourceId": base, "attestationResourceId": base,
        "synapseAnalyticsResourceId": base, "logAnalyticsResourceId": base, "ossrDbmsResourceId": base,
    }  # fmt: skip
    if call.api_version and call.api_version < "2019-05-01":
        return {"galleryEndpoint": base, "graphEndpoint": base + "/", "portalEndpoint": base,
                "authentication": document["authentication"]}  # fmt: skip
    return document  # one cloud, as az's `cloud register` reads it (api-version 2022-09-01)


SUB = "/subscriptions/{subscriptionId}"
PROVIDER = SUB + "/providers/{resourceProviderNamespace}"
ROUTES = (
    Route("GET", "/subscriptions", list_subscriptions, action=None),
    Route("GET", SUB, get_subscription, action="Microsoft.Resources/subscriptions/read"),
    Route("GET", "/tenants", list_tenants, action=None),
    Route("GET", "/metadata/endpoints", metadata, action=None, audience="none"),
    Route("GET", SUB + "/resourcegroups", list_groups, action="Microsoft.Resources/subscriptions/resourceGroups/read"),
    Route("GET", SUB + "/resourcegroups/{resourceGroupName}", get_group,
          action="Microsoft.Resources/subscriptions/resourceGroups/read"),
    Route("HEAD", SUB + "/resourcegroups/{resourceGroupName}", get_group,
          action="Microsoft.Resources/subscriptions/resourceGroups/read"),
    Route("GET", SUB + "/providers", list_providers, action=None),
    Route("GET", PROVIDER, get_provider, action=None),
    Route("POST", PROVIDER + "/register", register_provider, action="*/register/action"),
    Route("POST", PROVIDER + "/unregister", unregister_provider, action="*/unregister/action"),
    Route("HEAD", "/{resourceId}", exists_by_id, action="Microsoft.Resources/resources/read"),
    Route("GET", PROVIDER + "/locations/{location}/azureAsyncOperation/{operationId}", operation_status, action=None),
    Route("GET", PROVIDER + "/locations/{location}/operationResults/{operationId}", operation_result, action=None),
)  # fmt: skip
