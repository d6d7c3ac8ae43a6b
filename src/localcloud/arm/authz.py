"""Who may do what: ARM's built-in role definitions and the rule that evaluates them.

A request is authorized when some role assignment of the caller, at the request's scope or above it, names a role
whose `actions` match the request's action and whose `notActions` do not (ARM's rule). Assignments recorded by
role name (`servicelinker local role assign --role Owner`) count as the built-in role of that name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from localcloud.entra.roles import RESOURCE_SERVICES
from localcloud.inventory import InventoryData, RoleAssignment

ROLE_DEFINITIONS_PATH = "/providers/Microsoft.Authorization/roleDefinitions/"


@dataclass(frozen=True)
class RoleDefinition:
    guid: str
    name: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    description: str = ""

    def allows(self, action: str) -> bool:
        wanted = action.lower()
        return any(fnmatchcase(wanted, a.lower()) for a in self.actions) and not any(
            fnmatchcase(wanted, n.lower()) for n in self.not_actions
        )

    def body(self, scope: str) -> dict[str, object]:
        """The role definition as ARM returns it (2022-04-01)."""
        return {
            "id": f"{scope.rstrip('/')}{ROLE_DEFINITIONS_PATH}{self.guid}",
            "name": self.guid,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "roleName": self.name,
                "type": "BuiltInRole",
                "description": self.description or self.name,
                "assignableScopes": ["/"],
                "permissions": [{"actions": list(self.actions), "notActions": list(self.not_actions),
                                 "dataActions": list(self.data_actions), "notDataActions": []}],
            },
        }  # fmt: skip


_CONTRIBUTOR_DENIED = (
    "Microsoft.Authorization/*/Delete",
    "Microsoft.Authorization/*/Write",
    "Microsoft.Authorization/elevateAccess/Action",
    "Microsoft.Blueprint/blueprintAssignments/write",
    "Microsoft.Blueprint/blueprintAssignments/delete",
    "Microsoft.Compute/galleries/share/action",
)
#: Azure's built-in control-plane roles (GUIDs as Azure publishes them).
CONTROL_ROLES: tuple[RoleDefinition, ...] = (
    RoleDefinition("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", ("*",),
                   description="Grants full access to manage all resources, including the ability to assign roles."),
    RoleDefinition("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor", ("*",), _CONTRIBUTOR_DENIED,
                   description="Grants full access to manage all resources, but does not allow you to assign roles."),
    RoleDefinition("acdd72a7-3d48-427e-ae8a-98bd7c05f7f0", "Reader", ("*/read",),
                   description="View all resources, but does not allow you to make any changes."),
    RoleDefinition("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator",
                   ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
                   description="Lets you manage user access to Azure resources."),
    RoleDefinition("f58310d9-a9f6-439a-9e8d-f62e7b41a168", "Role Based Access Control Administrator",
                   ("Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete",
                    "*/read", "Microsoft.Support/*"),
                   description="Manage access to Azure resources by assigning roles using Azure RBAC."),
    RoleDefinition("4abbcc35-e782-43d8-92c5-2d3f1bd2253f", "Azure Kubernetes Service Cluster User Role",
                   ("Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
                    "Microsoft.ContainerService/managedClusters/read"),
                   description="List cluster user credential action."),
)  # fmt: skip
#: Data-plane roles (storage, Key Vault, ...): no control-plane action beyond what Azure lists for reading.
DATA_ROLES: tuple[RoleDefinition, ...] = tuple(
    RoleDefinition(guid, name, data_actions=("*",))
    for guid, name in sorted({g: n for svc in RESOURCE_SERVICES for g, n in svc.roles.items()}.items())
    if guid not in {r.guid for r in CONTROL_ROLES}
)
BY_GUID: dict[str, RoleDefinition] = {r.guid: r for r in (*CONTROL_ROLES, *DATA_ROLES)}
BY_NAME: dict[str, RoleDefinition] = {r.name.lower(): r for r in (*CONTROL_ROLES, *DATA_ROLES)}


def definition(role: str) -> RoleDefinition | None:
    """The built-in role a role definition id, a bare GUID or a role name names."""
    text = role.strip().rstrip("/")
    guid = text.rsplit("/", 1)[-1].lower()
    return BY_GUID.get(guid) or BY_NAME.get(text.lower())


def in_scope(assignment_scope: str, scope: str) -> bool:
    """Whether an assignment at `assignment_scope` applies at `scope` (the same scope or one below it)."""
    a, s = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return a in ("", "/") or s == a or s.startswith(a + "/")


def assignments_of(data: InventoryData, principal: str, scope: str) -> list[RoleAssignment]:
    return [ra for ra in data.role_assignments
            if ra.principal_id.lower() == principal.lower() and in_scope(ra.scope, scope)]  # fmt: skip


def roles_of(assignments: Iterable[RoleAssignment]) -> list[RoleDefinition]:
    found = [definition(ra.role_definition_id) or definition(ra.role_name) for ra in assignments]
    return [r for r in found if r is not None]


def allowed(data: InventoryData, principal: str, action: str, scope: str) -> bool:
    return any(role.allows(action) for role in roles_of(assignments_of(data, principal, scope)))
