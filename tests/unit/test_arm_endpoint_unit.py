"""The local ARM endpoint's pure parts: route matching (case-insensitive, most specific wins), the actions ARM
derives from a route, and the role rule (`actions` minus `notActions`, assignments inherited downwards)."""

from __future__ import annotations

import pytest

from localcloud.arm import authz
from localcloud.arm.app import ROUTES
from localcloud.arm.routing import Call, derived_action, resolve
from localcloud.inventory import InventoryData, RoleAssignment

pytestmark = pytest.mark.unit

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
RG = SUB + "/resourceGroups/sl-dev"


@pytest.mark.parametrize(("method", "path", "handler"), [
    ("GET", RG + "/providers/Microsoft.ContainerService/managedClusters/sl-aks", "get"),
    ("get", RG.upper() + "/PROVIDERS/microsoft.containerservice/MANAGEDCLUSTERS/sl-aks", "get"),
    ("POST", RG + "/providers/Microsoft.ContainerService/managedClusters/sl-aks/listClusterUserCredential",
     "list_user_credentials"),
    ("PUT", RG + "/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg/firewallRules/r1", "put_rule"),
    ("GET", RG + "/providers/Microsoft.DBforMySQL/flexibleServers/my/databases/appdb", "get_database"),
    ("POST", RG + "/providers/Microsoft.Cache/redis/r/listKeys", "list_keys"),
    ("POST", RG + "/providers/Microsoft.Storage/storageAccounts/a/listKeys", "list_account_keys"),
    ("PUT", RG + "/providers/Microsoft.Authorization/roleAssignments/5b7a1f0e-0000-4000-8000-000000000001", "create"),
    ("GET", RG + "/providers/Microsoft.Cache/redis/r/providers/Microsoft.Authorization/permissions", "permissions"),
    ("GET", SUB + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3d48-427e-ae8a-98bd7c05f7f0",
     "get_definition"),
    ("POST", RG + "/providers/Microsoft.ServiceBus/namespaces/sb/authorizationRules/Root/listKeys", "key_action"),
    ("GET", RG + "/providers/Microsoft.ServiceBus/namespaces/sb/queues/q1", "get"),
    ("HEAD", RG + "/providers/Microsoft.Cache/redis/r", "get"),  # HEAD is a GET without the body
    ("HEAD", RG + "/providers/Microsoft.Fabric/capacities/c", "exists_by_id"),
    ("GET", "/v1.0/servicePrincipals(appId='0f0e')", "service_principal"),
    ("GET", SUB + "/providers/Microsoft.Cache/locations/local/azureAsyncOperation/abc", "operation_status"),
])  # fmt: skip
def test_routes_resolve_to_the_most_specific_operation(method: str, path: str, handler: str) -> None:
    found = resolve(ROUTES, method.upper(), path)
    assert found is not None
    assert found[0].handler.__name__ == handler


@pytest.mark.parametrize(("template", "method", "action"), [
    ("/s/{s}/providers/Microsoft.Cache/redis/{n}", "GET", "Microsoft.Cache/redis/read"),
    ("/s/{s}/providers/Microsoft.Cache/redis/{n}/listKeys", "POST", "Microsoft.Cache/redis/listKeys/action"),
    ("/s/{s}/providers/Microsoft.Cache/redis/{n}/firewallRules/{r}", "PUT",
     "Microsoft.Cache/redis/firewallRules/write"),
    ("/s/{s}/providers/Microsoft.Cache/redis/{n}/firewallRules", "GET", "Microsoft.Cache/redis/firewallRules/read"),
    ("/s/{s}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{n}/firewallRules/{r}", "DELETE",
     "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules/delete"),
])  # fmt: skip
def test_actions_are_derived_as_arm_names_them(template: str, method: str, action: str) -> None:
    assert derived_action(template, method) == action


def _data(*assignments: tuple[str, str, str]) -> InventoryData:
    return InventoryData(role_assignments=[
        RoleAssignment(id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{i}", scope=scope,
                       principal_id=who, role_definition_id=role, role_name=role)
        for i, (who, role, scope) in enumerate(assignments)])  # fmt: skip


def test_contributor_may_write_resources_but_not_role_assignments() -> None:
    data = _data(("p1", "b24988ac-6180-42a0-ab88-20f7382dd24c", RG))
    assert authz.allowed(data, "p1", "Microsoft.Cache/redis/listKeys/action", RG + "/providers/Microsoft.Cache/redis/r")
    assert not authz.allowed(data, "p1", "Microsoft.Authorization/roleAssignments/write", RG)
    assert not authz.allowed(data, "p1", "Microsoft.Cache/redis/read", SUB)  # the assignment is below the scope
    assert not authz.allowed(data, "p2", "Microsoft.Cache/redis/read", RG)


def test_reader_reads_and_owner_by_name_does_everything() -> None:
    data = _data(("r", "Reader", SUB), ("o", "Owner", SUB))
    assert authz.allowed(data, "r", "Microsoft.ContainerService/managedClusters/read", RG)
    assert not authz.allowed(data, "r", "Microsoft.ContainerService/managedClusters/write", RG)
    assert authz.allowed(data, "o", "Microsoft.Authorization/roleAssignments/write", RG + "/providers/X/y/z")


def test_a_data_role_grants_no_control_plane_action() -> None:
    data = _data(("d", "Storage Blob Data Contributor", RG))
    assert not authz.allowed(data, "d", "Microsoft.Storage/storageAccounts/listKeys/action", RG)


def test_call_resource_path_keeps_the_id() -> None:
    call = Call("GET", RG + "/x/", {}, {}, None, {}, "", None)  # type: ignore[arg-type]
    assert call.resource_path == RG + "/x"


@pytest.mark.parametrize(("path", "forwarded"), [
    (RG + "/providers/Microsoft.ContainerService/managedClusters/c/providers/Microsoft.ServiceLinker/linkers/l", True),
    (SUB + "/resourcegroups/sl-dev/providers/Microsoft.ServiceLinker/locations/local/dryruns/d", True),
    (SUB + "/providers/Microsoft.ServiceLinker/locations/local/operationStatuses/x", True),
    (SUB + "/resourcegroups/sl-dev/providers/Microsoft.ServiceLinker/locations/local/providers/"
     "Microsoft.Authorization/roleAssignments", False),  # the innermost provider is ARM's own
    (SUB + "/providers/Microsoft.ServiceLinker", False),  # registration state
    (SUB + "/providers/Microsoft.ServiceLinker/register", False),
    (RG + "/providers/Microsoft.Cache/redis/r", False),
])  # fmt: skip
def test_arm_routes_the_service_linker_namespace_to_its_provider(path: str, forwarded: bool) -> None:
    from localcloud.arm.app import Endpoint

    endpoint = Endpoint(None, None, None, {"Microsoft.ServiceLinker": "http://127.0.0.1:1"})  # type: ignore[arg-type]
    assert (endpoint._provider(path) is not None) is forwarded
