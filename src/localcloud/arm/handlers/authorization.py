"""Microsoft.Authorization: role assignments, role definitions and the caller's effective permissions.

Role assignments are the inventory's, which the token service reads too: an assignment removed here is a data
role the next token request no longer has. A second assignment of the same principal, role and scope under
another name is ARM's 409 `RoleAssignmentExists`.
"""

from __future__ import annotations

import re
from typing import Any

from localcloud.arm import authz
from localcloud.arm.routing import Call, Reply, Route
from localcloud.arm.wire import check_api_version, page
from localcloud.arm.world import now
from localcloud.inventory import RoleAssignment
from servicelinker.model.errors import ArmError
from servicelinker.model.ids import ResourceId

RA_TYPE = "Microsoft.Authorization/roleAssignments"
RA_SEGMENT = "/providers/Microsoft.Authorization/roleAssignments/"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _scope(call: Call) -> str:
    return "/" + call.params["scope"].strip("/")


def _subscription_of(scope: str) -> str:
    rid = ResourceId.try_parse(scope)
    return rid.subscription if rid is not None else ""


def _definition_id(ra: RoleAssignment) -> str:
    """The full role definition id (assignments recorded by role name are resolved to the built-in role)."""
    if ra.role_definition_id.startswith("/"):
        return ra.role_definition_id
    role = authz.definition(ra.role_definition_id) or authz.definition(ra.role_name)
    guid = role.guid if role else ra.role_definition_id
    return f"/subscriptions/{_subscription_of(ra.scope)}{authz.ROLE_DEFINITIONS_PATH}{guid}"


def _body(ra: RoleAssignment) -> dict[str, Any]:
    return {"id": ra.id, "name": ra.id.rstrip("/").rsplit("/", 1)[-1], "type": RA_TYPE,
            "properties": {"roleDefinitionId": _definition_id(ra), "principalId": ra.principal_id,
                           "principalType": ra.principal_type or "ServicePrincipal", "scope": ra.scope,
                           "createdOn": ra.created_on or now(), "updatedOn": ra.created_on or now()}}  # fmt: skip


def _principal_filter(expression: str) -> str | None:
    """The object id of `assignedTo('x')` or `principalId eq 'x'` (the filters ARM supports on lists)."""
    found = re.search(r"assignedTo\('([^']*)'\)|principalId\s+eq\s+'([^']*)'", expression or "", re.IGNORECASE)
    return (found.group(1) or found.group(2)) if found else None


def list_for_scope(call: Call) -> dict[str, Any]:
    """Assignments at, above and below the scope (`atScope()`: at or above only), as ARM lists them."""
    check_api_version(call, "Microsoft.Authorization", "roleAssignments")
    scope = _scope(call)
    expression = call.query.get("$filter", "")
    principal = _principal_filter(expression)
    at_scope = "atscope()" in expression.lower().replace(" ", "")
    out = []
    for ra in call.world.inventory.load().role_assignments:
        above = authz.in_scope(ra.scope, scope)
        below = authz.in_scope(scope, ra.scope)
        if not (above or (below and not at_scope)):
            continue
        if principal is not None and ra.principal_id.lower() != principal.lower():
            continue
        out.append(_body(ra))
    return page(out)


def _validate(body: Any) -> tuple[str, str, str]:
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise ArmError("InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                       "'properties' is required.", target="properties", status=400)  # fmt: skip
    role_id, principal = str(props.get("roleDefinitionId") or ""), str(props.get("principalId") or "")
    if not role_id or authz.definition(role_id) is None:
        raise ArmError("RoleDefinitionDoesNotExist", f"The specified role definition with ID "
                       f"'{role_id.rsplit('/', 1)[-1]}' does not exist.", target="properties.roleDefinitionId",
                       status=400)  # fmt: skip
    if not principal:
        raise ArmError("InvalidPrincipalId", "A valid principal ID must be provided for role assignment.",
                       target="properties.principalId", status=400)  # fmt: skip
    return role_id, principal, str(props.get("principalType") or "ServicePrincipal")


def create(call: Call) -> Reply:
    check_api_version(call, "Microsoft.Authorization", "roleAssignments")
    scope, name = _scope(call), call.params["roleAssignmentName"]
    if not _GUID.match(name):
        raise ArmError("InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not valid. The role assignment"
                       " ID must be a GUID.", target="roleAssignmentName", status=400)  # fmt: skip
    role_id, principal, principal_type = _validate(call.body)
    role = authz.definition(role_id)
    assert role is not None
    assignment_id = f"{scope}{RA_SEGMENT}{name}"
    with call.world.inventory.edit() as data:
        for ra in data.role_assignments:
            if ra.id.lower() == assignment_id.lower():
                return Reply(200, _body(ra))
            same_role = (authz.definition(ra.role_definition_id) or authz.definition(ra.role_name)) == role
            if same_role and ra.principal_id.lower() == principal.lower() and \
                    ra.scope.rstrip("/").lower() == scope.rstrip("/").lower():
                raise ArmError("RoleAssignmentExists", "The role assignment already exists.",
                               target=assignment_id, status=409)  # fmt: skip
        ra = RoleAssignment(id=assignment_id, scope=scope, principal_id=principal, role_definition_id=role_id,
                            role_name=role.name, principal_type=principal_type, created_on=now())  # fmt: skip
        data.role_assignments.append(ra)
    return Reply(201, _body(ra))


def _find(call: Call) -> RoleAssignment | None:
    wanted = f"{_scope(call)}{RA_SEGMENT}{call.params['roleAssignmentName']}".lower()
    return next((ra for ra in call.world.inventory.load().role_assignments if ra.id.lower() == wanted), None)


def get(call: Call) -> dict[str, Any]:
    check_api_version(call, "Microsoft.Authorization", "roleAssignments")
    found = _find(call)
    if found is None:
        raise ArmError("RoleAssignmentNotFound", "The role assignment was not found.", target=call.path, status=404)
    return _body(found)


def delete(call: Call) -> Reply:
    check_api_version(call, "Microsoft.Authorization", "roleAssignments")
    wanted = f"{_scope(call)}{RA_SEGMENT}{call.params['roleAssignmentName']}".lower()
    with call.world.inventory.edit() as data:
        found = next((ra for ra in data.role_assignments if ra.id.lower() == wanted), None)
        if found is None:
            return Reply(204)
        data.role_assignments = [ra for ra in data.role_assignments if ra is not found]
    return Reply(200, _body(found))


def get_definition(call: Call) -> dict[str, Any]:
    check_api_version(call, "Microsoft.Authorization", "roleDefinitions")
    role = authz.BY_GUID.get(call.params["roleDefinitionId"].lower())
    if role is None:
        raise ArmError("RoleDefinitionDoesNotExist", f"The specified role definition with ID "
                       f"'{call.params['roleDefinitionId']}' does not exist.", status=404)  # fmt: skip
    return role.body(_scope(call))


def list_definitions(call: Call) -> dict[str, Any]:
    check_api_version(call, "Microsoft.Authorization", "roleDefinitions")
    wanted = re.search(r"roleName\s+eq\s+'([^']*)'", call.query.get("$filter", ""), re.IGNORECASE)
    roles = [r for r in authz.BY_GUID.values() if wanted is None or r.name.lower() == wanted.group(1).lower()]
    return page([r.body(_scope(call)) for r in roles])


def permissions(call: Call) -> dict[str, Any]:
    """The caller's effective permissions at the scope: one entry per role that applies there."""
    check_api_version(call, "Microsoft.Authorization", "permissions")
    cut = call.path.lower().rfind("/providers/microsoft.authorization/permissions")
    scope = call.path[:cut] or "/"
    roles = authz.roles_of(authz.assignments_of(call.world.inventory.load(), call.principal, scope))
    return page([{"actions": list(r.actions), "notActions": list(r.not_actions), "dataActions": list(r.data_actions),
                  "notDataActions": []} for r in roles])  # fmt: skip


SCOPED = "/{scope}/providers/Microsoft.Authorization"
ROUTES = (
    Route("GET", SCOPED + "/roleAssignments", list_for_scope, action="Microsoft.Authorization/roleAssignments/read",
          scope_param="scope"),
    Route("PUT", SCOPED + "/roleAssignments/{roleAssignmentName}", create,
          action="Microsoft.Authorization/roleAssignments/write", scope_param="scope"),
    Route("GET", SCOPED + "/roleAssignments/{roleAssignmentName}", get,
          action="Microsoft.Authorization/roleAssignments/read", scope_param="scope"),
    Route("DELETE", SCOPED + "/roleAssignments/{roleAssignmentName}", delete,
          action="Microsoft.Authorization/roleAssignments/delete", scope_param="scope"),
    Route("GET", SCOPED + "/roleDefinitions/{roleDefinitionId}", get_definition, action=None),
    Route("GET", SCOPED + "/roleDefinitions", list_definitions, action=None),
    Route("GET", SCOPED + "/permissions", permissions, action=None),
)  # fmt: skip
