"""The local cloud's admin path: states Azure would not let a user set (a cluster stuck `Updating`, a provider
unregistered behind one's back) and grants that must work even when the caller holds no role (restoring an Owner
a test removed). `servicelinker local ...` and tests use it; the product never does (it speaks ARM).

Everything here edits the inventory the ARM endpoint and the token service read, under its lock.
"""

from __future__ import annotations

import uuid

from localcloud.errors import not_found
from localcloud.inventory import Inventory, RoleAssignment

#: Names role assignments made by role name, so a repeated grant finds the same one.
_ASSIGNMENTS = uuid.UUID("0c7c1b1e-6a51-4d35-9b76-3f3a0f5d6a21")


def grant(inventory: Inventory, principal: str, role: str, scope: str) -> RoleAssignment:
    """Assign `role` (a built-in role's name or id) to `principal` at `scope`; idempotent."""
    with inventory.edit() as data:
        for ra in data.role_assignments:
            same = ra.principal_id == principal and ra.role_name.lower() == role.lower()
            if same and ra.scope.lower() == scope.lower():
                return ra
        name = uuid.uuid5(_ASSIGNMENTS, f"{principal}|{role}|{scope}".lower())
        ra = RoleAssignment(id=f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}",
                            scope=scope, principal_id=principal, role_definition_id=role, role_name=role)  # fmt: skip
        data.role_assignments.append(ra)
        return ra


def revoke(inventory: Inventory, principal: str, role: str | None, scope: str) -> int:
    """Remove `principal`'s assignments of `role` (every role when None) at exactly `scope`; how many went."""
    with inventory.edit() as data:
        keep = [ra for ra in data.role_assignments
                if not (ra.principal_id == principal and ra.scope.lower() == scope.lower()
                        and (role is None or role.lower() in (ra.role_name.lower(),
                                                              ra.role_definition_id.rsplit("/", 1)[-1].lower())))]
        removed = len(data.role_assignments) - len(keep)
        data.role_assignments = keep
        return removed


def set_cluster_state(inventory: Inventory, cluster_id: str, state: str) -> None:
    with inventory.edit() as data:
        res = data.resources.get(cluster_id.rstrip("/").lower())
        if res is None or res.type.lower() != "microsoft.containerservice/managedclusters":
            raise not_found(cluster_id)
        res.properties["provisioningState"] = state
