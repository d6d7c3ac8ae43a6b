"""Identities, federated credentials and role assignments, as ARM keeps them.

* A user-assigned identity is found by client id among the subscription's identities (ARM has no index by
  client id); a service principal through Microsoft Graph.
* Federated identity credentials are idempotent by name; an identity holds at most 20, and a full one is said so
  before ARM refuses the twenty-first.
* A role assignment's name is uuid5 of (principal, role, scope), so a retry finds the same one; ARM's
  `RoleAssignmentExists` (the same grant under another name) is success.
"""

from __future__ import annotations

import uuid
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from servicelinker.clouds.azure.clients import ArmClients
from servicelinker.clouds.azure.errors import arm_errors, from_response
from servicelinker.clouds.base import IdentityInfo
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId

MAX_FEDERATED_CREDENTIALS = 20
ROLE_NAMESPACE = uuid.UUID("6f6c2a9e-8f0b-4d7c-9a55-5e7a1c3b2d10")


def identity_info(identity: Any) -> IdentityInfo:
    return IdentityInfo(id=str(identity.id), client_id=str(identity.client_id),
                        principal_id=str(identity.principal_id), tenant_id=str(identity.tenant_id))  # fmt: skip


def get_identity(clients: ArmClients, identity_id: str) -> IdentityInfo:
    rid = ResourceId.parse(identity_id)
    with arm_errors(identity_id):
        found = clients.msi(rid.subscription).user_assigned_identities.get(str(rid.resource_group), rid.name)
    return identity_info(found)


def find_identity(clients: ArmClients, subscription: str, client_id: str) -> IdentityInfo | None:
    with arm_errors(f"/subscriptions/{subscription}"):
        for identity in clients.msi(subscription).user_assigned_identities.list_by_subscription():
            if str(identity.client_id).lower() == client_id.lower():
                return identity_info(identity)
    return None


def _fic_api(clients: ArmClients, identity_id: str) -> tuple[Any, str, str]:
    rid = ResourceId.parse(identity_id)
    return clients.msi(rid.subscription).federated_identity_credentials, str(rid.resource_group), rid.name


def ensure_federated_credential(clients: ArmClients, identity_id: str, name: str, issuer: str, subject: str,
                                audience: str) -> None:  # fmt: skip
    from azure.mgmt.msi.models import FederatedIdentityCredential

    api, group, identity = _fic_api(clients, identity_id)
    with arm_errors(identity_id):
        existing = list(api.list(group, identity))
        if len(existing) >= MAX_FEDERATED_CREDENTIALS and name not in {f.name for f in existing}:
            raise ArmError(
                ErrorCode.CONFLICT,
                f"The identity '{identity_id}' already has {MAX_FEDERATED_CREDENTIALS} federated identity "
                "credentials, the most Azure allows.",
                target=identity_id,
                remedy="Delete connections (or credentials) that no longer use this identity, or use another one.",
            )
        api.create_or_update(group, identity, name,
                             FederatedIdentityCredential(issuer=issuer, subject=subject, audiences=[audience]))


def federated_credential_exists(clients: ArmClients, identity_id: str, issuer: str, subject: str,
                                audience: str) -> bool:  # fmt: skip
    api, group, identity = _fic_api(clients, identity_id)
    with arm_errors(identity_id):
        return any(f.issuer == issuer and f.subject == subject and audience in (f.audiences or [])
                   for f in api.list(group, identity))  # fmt: skip


def delete_federated_credential(clients: ArmClients, identity_id: str, name: str) -> None:
    api, group, identity = _fic_api(clients, identity_id)
    try:
        api.delete(group, identity, name)
    except ResourceNotFoundError:
        pass
    except HttpResponseError as exc:
        raise from_response(exc, identity_id) from None


# ------------------------------------------------------------------------------------------ role assignments


def assignment_name(principal_id: str, role_id: str, scope: str) -> str:
    return str(uuid.uuid5(ROLE_NAMESPACE, f"{principal_id}|{role_id}|{scope.rstrip('/')}".lower()))


def _definition_id(scope: str, role_id: str) -> str:
    if role_id.startswith("/"):
        return role_id
    return f"/subscriptions/{ResourceId.parse(scope).subscription}/providers/Microsoft.Authorization/" \
        f"roleDefinitions/{role_id}"  # fmt: skip


def _same_role(definition_id: str, role_id: str) -> bool:
    return definition_id.rstrip("/").rsplit("/", 1)[-1].lower() == role_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _in_scope(assignment_scope: str, scope: str) -> bool:
    a, s = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return s == a or s.startswith(a + "/")


def ensure_role_assignment(clients: ArmClients, principal_id: str, role_id: str, scope: str,
                           principal_type: str = "ServicePrincipal") -> None:  # fmt: skip
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

    api = clients.authorization(ResourceId.parse(scope).subscription).role_assignments
    parameters = RoleAssignmentCreateParameters(role_definition_id=_definition_id(scope, role_id),
                                                principal_id=principal_id, principal_type=principal_type)
    try:
        api.create(scope, assignment_name(principal_id, role_id, scope), parameters)
    except HttpResponseError as exc:
        if getattr(exc.error, "code", None) != "RoleAssignmentExists":
            raise from_response(exc, scope) from None


def _assignments(clients: ArmClients, principal_id: str, scope: str) -> list[Any]:
    api = clients.authorization(ResourceId.parse(scope).subscription).role_assignments
    with arm_errors(scope):
        return list(api.list_for_scope(scope, filter=f"principalId eq '{principal_id}'"))


def has_role_assignment(clients: ArmClients, principal_id: str, role_id: str, scope: str) -> bool:
    return any(_same_role(str(a.role_definition_id), role_id) and _in_scope(str(a.scope), scope)
               for a in _assignments(clients, principal_id, scope))  # fmt: skip


def remove_role_assignment(clients: ArmClients, principal_id: str, role_id: str, scope: str) -> None:
    api = clients.authorization(ResourceId.parse(scope).subscription).role_assignments
    for assignment in _assignments(clients, principal_id, scope):
        exact = str(assignment.scope).rstrip("/").lower() == scope.rstrip("/").lower()
        if exact and _same_role(str(assignment.role_definition_id), role_id):
            with arm_errors(scope):
                api.delete_by_id(str(assignment.id))
