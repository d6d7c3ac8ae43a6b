"""Microsoft.ManagedIdentity: user-assigned identities and their federated identity credentials.

Both are the inventory's records that the token service reads (`localcloud.identity`): a credential deleted here
is an assertion the token service refuses on the next exchange.
"""

from __future__ import annotations

from typing import Any

from localcloud import identity as identities
from localcloud.arm.routing import Call, Reply, Route
from localcloud.arm.wire import check_api_version, child_envelope, envelope, not_found, page
from localcloud.inventory import Resource

NS = "Microsoft.ManagedIdentity"


def _identity_body(res: Resource) -> dict[str, Any]:
    p = res.properties
    return envelope(res, {"tenantId": p.get("tenantId"), "principalId": p.get("principalId"),
                          "clientId": p.get("clientId"), "isolationScope": "None"})  # fmt: skip


def _identity_id(call: Call) -> str:
    p = call.params
    return (f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}/providers/"
            f"{identities.IDENTITY_TYPE}/{p['resourceName']}")  # fmt: skip


def get_identity(call: Call) -> dict[str, Any]:
    check_api_version(call, NS, "userAssignedIdentities")
    return _identity_body(identities.get_identity(call.world.inventory, _identity_id(call)))


def put_identity(call: Call) -> Reply:
    check_api_version(call, NS, "userAssignedIdentities")
    body = call.body if isinstance(call.body, dict) else {}
    existed = call.world.resource(_identity_id(call)) is not None
    made = identities.create_identity(call.world.inventory, _identity_id(call), location=body.get("location") or
                                      "local", tags=body.get("tags") or None)  # fmt: skip
    return Reply(200 if existed else 201, _identity_body(made))


def delete_identity(call: Call) -> Reply:
    check_api_version(call, NS, "userAssignedIdentities")
    return Reply(200 if identities.delete_identity(call.world.inventory, _identity_id(call)) else 204)


def list_by_subscription(call: Call) -> dict[str, Any]:
    check_api_version(call, NS, "userAssignedIdentities")
    found = identities.list_identities(call.world.inventory, subscription=call.params["subscriptionId"])
    return page([_identity_body(r) for r in found])


def list_by_group(call: Call) -> dict[str, Any]:
    check_api_version(call, NS, "userAssignedIdentities")
    found = identities.list_identities(call.world.inventory, subscription=call.params["subscriptionId"],
                                       resource_group=call.params["resourceGroupName"])  # fmt: skip
    return page([_identity_body(r) for r in found])


def _fic_body(res: Resource) -> dict[str, Any]:
    p = res.properties
    return child_envelope(res.id, identities.FIC_TYPE, {"issuer": p.get("issuer"), "subject": p.get("subject"),
                                                         "audiences": list(p.get("audiences", []))})  # fmt: skip


def list_fics(call: Call) -> dict[str, Any]:
    check_api_version(call, NS, "userAssignedIdentities/federatedIdentityCredentials")
    return page([_fic_body(f) for f in identities.list_federated_credentials(call.world.inventory,
                                                                             _identity_id(call))])  # fmt: skip


def get_fic(call: Call) -> dict[str, Any]:
    check_api_version(call, NS, "userAssignedIdentities/federatedIdentityCredentials")
    wanted = f"{_identity_id(call)}/{identities.FIC_SEGMENT}/{call.params['federatedIdentityCredentialResourceName']}"
    for fic in identities.list_federated_credentials(call.world.inventory, _identity_id(call)):
        if fic.id.lower() == wanted.lower():
            return _fic_body(fic)
    raise not_found(wanted)


def put_fic(call: Call) -> Reply:
    check_api_version(call, NS, "userAssignedIdentities/federatedIdentityCredentials")
    props = (call.body or {}).get("properties") or {}
    name = call.params["federatedIdentityCredentialResourceName"]
    existed = any(f.name.lower() == name.lower()
                  for f in identities.list_federated_credentials(call.world.inventory, _identity_id(call)))
    fic = identities.ensure_federated_credential(call.world.inventory, _identity_id(call), name,
                                                 str(props.get("issuer") or ""), str(props.get("subject") or ""),
                                                 [str(a) for a in props.get("audiences") or []])  # fmt: skip
    return Reply(200 if existed else 201, _fic_body(fic))


def delete_fic(call: Call) -> Reply:
    check_api_version(call, NS, "userAssignedIdentities/federatedIdentityCredentials")
    gone = identities.delete_federated_credential(call.world.inventory, _identity_id(call),
                                                  call.params["federatedIdentityCredentialResourceName"])
    return Reply(200 if gone else 204)


SUB = "/subscriptions/{subscriptionId}"
IDENTITY = SUB + "/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" \
    "{resourceName}"  # fmt: skip
FIC = IDENTITY + "/federatedIdentityCredentials/{federatedIdentityCredentialResourceName}"
ROUTES = (
    Route("GET", SUB + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", list_by_subscription),
    Route("GET", SUB + "/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/"
          "userAssignedIdentities", list_by_group),
    Route("GET", IDENTITY, get_identity),
    Route("PUT", IDENTITY, put_identity),
    Route("DELETE", IDENTITY, delete_identity),
    Route("GET", IDENTITY + "/federatedIdentityCredentials", list_fics),
    Route("GET", FIC, get_fic),
    Route("PUT", FIC, put_fic),
    Route("DELETE", FIC, delete_fic),
)
