"""Who may do what: provider registration and the caller's permissions, as ARM computes them.

The adapter acting for itself asks ARM directly (`permissions.list_for_resource` / `list_for_resource_group`:
the effective actions of the token's principal). A resource provider acting for a *caller* (the REST server) asks
which role assignments apply to that principal at the scope (`$filter=assignedTo('<oid>')`) and evaluates their
role definitions. Either way the result is only a pre-check with a clear message: ARM's own 403
`AuthorizationFailed` on the real call stays the final word.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from servicelinker.clouds.azure.clients import ArmClients, wire_text
from servicelinker.clouds.azure.errors import arm_errors
from servicelinker.model.errors import ArmError, authorization_failed
from servicelinker.model.ids import ResourceId


def provider_state(clients: ArmClients, subscription: str, namespace: str) -> str:
    with arm_errors(f"/subscriptions/{subscription}/providers/{namespace}"):
        provider = clients.resources(subscription).providers.get(namespace)
    return wire_text(provider.registration_state or "NotRegistered")


def _matches(pattern: str, action: str) -> bool:
    return fnmatchcase(action.lower(), pattern.lower())


def allows(permissions: Iterable[Any], action: str) -> bool:
    """ARM's rule: some permission's `actions` match and none of that permission's `notActions` do."""
    for permission in permissions:
        actions = list(getattr(permission, "actions", None) or [])
        not_actions = list(getattr(permission, "not_actions", None) or [])
        if any(_matches(a, action) for a in actions) and not any(_matches(n, action) for n in not_actions):
            return True
    return False


def own_permissions(clients: ArmClients, scope: str) -> list[Any] | None:
    """The effective permissions of the adapter's own principal at `scope` (a resource or resource group); None
    for a subscription, where ARM has no permissions API (the real call decides)."""
    rid = ResourceId.parse(scope)
    api = clients.authorization(rid.subscription).permissions
    group = rid.resource_group
    with arm_errors(scope):
        if group is None:
            return None
        if rid.namespace is None:
            return list(api.list_for_resource_group(group))
        *parents, (kind, name) = rid.levels
        parent = "/".join(f"{t}/{n}" for t, n in parents)
        return list(api.list_for_resource(group, str(rid.namespace), parent, kind, name))


def _in_scope(assignment_scope: str, scope: str) -> bool:
    a, s = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return s == a or s.startswith(a + "/")


def principal_permissions(clients: ArmClients, principal_id: str, scope: str) -> list[Any]:
    """The permissions `principal_id` holds at `scope` through role assignments at or above it."""
    rid = ResourceId.parse(scope)
    auth = clients.authorization(rid.subscription)
    with arm_errors(scope):
        assignments = [a for a in auth.role_assignments.list_for_scope(scope, filter=f"assignedTo('{principal_id}')")
                       if _in_scope(str(a.scope), scope)]  # fmt: skip
        permissions: list[Any] = []
        for assignment in assignments:
            definition = auth.role_definitions.get_by_id(str(assignment.role_definition_id))
            permissions += list(definition.permissions or [])
    return permissions


def denied(principal: str, action: str, scope: str) -> ArmError:
    return authorization_failed(principal, action, scope, remedy=f"Ask an owner of the scope to grant a role that "
                                f"allows {action} (e.g. Contributor); see docs/azure.md.")
