"""ARM-shaped errors of the local cloud, with Azure's wording."""

from __future__ import annotations

from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.errors import authorization_failed as arm_authorization_failed
from servicelinker.model.ids import ResourceId


def _resource_path(resource_id: str) -> tuple[str, str]:
    """('Microsoft.DBforPostgreSQL/flexibleServers/sl-postgres/databases/appdb', resource group) of an id: the
    part after `providers/`, as ARM names a resource in its not-found message."""
    rid = ResourceId.try_parse(resource_id)
    if rid is None:
        return resource_id, ""
    rg = rid.resource_group or ""
    lowered = [s.lower() for s in rid.segments]
    if "providers" not in lowered:
        return resource_id, rg
    return "/".join(rid.segments[lowered.index("providers") + 1 :]), rg


def not_found(resource_id: str, remedy: str | None = None) -> ArmError:
    path, rg = _resource_path(resource_id)
    return ArmError(
        ErrorCode.RESOURCE_NOT_FOUND,
        f"The Resource '{path}' under resource group '{rg}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        target=resource_id,
        remedy=remedy or "Check the resource group and name, or create the resource first.",
    )


def authorization_failed(principal: str, action: str, scope: str) -> ArmError:
    return arm_authorization_failed(
        principal, action, scope,
        remedy=f"Ask an owner of the scope to grant a role that allows {action} (e.g. Contributor), or on the local "
        f"cloud: `servicelinker local role assign --assignee {principal} --role Contributor --scope {scope}`.",
    )


def service_unavailable(resource_id: str, what: str, reason: str) -> ArmError:
    return ArmError(
        "ServiceUnavailable",
        f"The {what} behind '{resource_id}' could not be reached: {reason}",
        target=resource_id,
        remedy="Start it (`servicelinker devstack up`) and check `servicelinker devstack status`.",
        status=503,
    )
