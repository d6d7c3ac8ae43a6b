"""Microsoft Graph's one call the product makes: which service principal an application (client) id is.

Service principals of app registrations and of user-assigned identities (Entra gives each managed identity one)
both answer, as in Entra. Served to tokens for the Graph audience only.
"""

from __future__ import annotations

from typing import Any

from localcloud import identity as identities
from localcloud.arm.routing import Call, Reply, Route


def service_principal(call: Call) -> Reply:
    app_id = call.params["appId"]
    found = identities.find_principal_by_client_id(call.world.inventory, app_id)
    if found is None:
        return Reply(404, {"error": {"code": "Request_ResourceNotFound", "message": f"Resource '{app_id}' does not "
                                     "exist or one of its queried reference-property objects are not present."}})
    body: dict[str, Any] = {"id": found.object_id, "appId": found.client_id, "displayName": found.display_name,
                            "appOwnerOrganizationId": found.tenant_id, "accountEnabled": True,
                            "servicePrincipalType": "ManagedIdentity" if found.kind == "userAssignedIdentity"
                            else "Application"}  # fmt: skip
    if found.resource_id:
        body["alternativeNames"] = ["isExplicit=True", found.resource_id]
    return Reply(200, body)


ROUTES = (Route("GET", "/v1.0/servicePrincipals(appId='{appId}')", service_principal, action=None, audience="graph"),)
