"""tests/support/rest_spec.py against the vendored specifications (tests/data/rest-spec): Microsoft's own examples
validate, concrete request paths map to the right operation, and a broken response is caught."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.rest_spec import SpecSet

pytestmark = pytest.mark.unit

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/sl-dev"
MSI = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/sl-id"
WEB = f"{RG}/providers/Microsoft.Web/sites/app"
REDIS = f"{RG}/providers/Microsoft.Cache/redis/r1"

#: The operations the local ARM endpoint serves, per api-version, whose specs are vendored.
LISTED: dict[str, set[str]] = {
    "2024-11-30": {
        "UserAssignedIdentities_Get", "UserAssignedIdentities_ListBySubscription",
        "UserAssignedIdentities_CreateOrUpdate", "FederatedIdentityCredentials_List",
        "FederatedIdentityCredentials_Get", "FederatedIdentityCredentials_CreateOrUpdate",
        "FederatedIdentityCredentials_Delete",
    },
    "2022-04-01": {
        "RoleAssignments_Get", "RoleAssignments_Create", "RoleAssignments_Delete", "RoleAssignments_ListForScope",
        "RoleDefinitions_Get", "RoleDefinitions_GetById",
    },
    "2024-04-01": set(),  # ServiceLinker 2024-04-01: no example files are vendored (README, Gaps)
    "2022-05-01": {"Linker_Validate"},
    "2022-12-01": {"Subscriptions_Get", "Subscriptions_List", "Tenants_List"},
    "2024-11-01": {"Redis_Get", "Redis_ListKeys", "FirewallRules_Get"},
}  # fmt: skip

#: Microsoft examples whose `api-version` parameter is not that of the swagger that references them.
API_VERSION_MISMATCH = {"RoleAssignments_Get.json": "2020-10-01-preview"}

#: Microsoft examples that do not validate against their own schema: (file name, status) -> why. None so far.
KNOWN_INVALID_EXAMPLES: dict[tuple[str, str], str] = {}

#: (method, concrete path, api-version) -> operationId.
PATHS: list[tuple[str, str, str, str]] = [
    ("GET", MSI, "2024-11-30", "UserAssignedIdentities_Get"),
    ("get", MSI.lower(), "2024-11-30", "UserAssignedIdentities_Get"),  # literal segments are case-insensitive
    ("PUT", MSI, "2024-11-30", "UserAssignedIdentities_CreateOrUpdate"),
    ("GET", f"/subscriptions/{SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities", "2024-11-30",
     "UserAssignedIdentities_ListBySubscription"),
    ("GET", f"{MSI}/federatedIdentityCredentials", "2024-11-30", "FederatedIdentityCredentials_List"),
    ("GET", f"{MSI}/federatedIdentityCredentials/fic1", "2024-11-30", "FederatedIdentityCredentials_Get"),
    ("PUT", f"{MSI}/federatedIdentityCredentials/fic1/", "2024-11-30", "FederatedIdentityCredentials_CreateOrUpdate"),
    ("DELETE", f"{MSI}/federatedIdentityCredentials/fic1", "2024-11-30", "FederatedIdentityCredentials_Delete"),
    # a whole scope (x-ms-skip-url-encoding) spans any number of segments
    ("GET", f"{RG}/providers/Microsoft.Cache/redis/r1/providers/Microsoft.ManagedIdentity/identities/default",
     "2024-11-30", "SystemAssignedIdentities_GetByScope"),
    ("GET", f"{RG}/providers/Microsoft.Authorization/roleAssignments/ra1", "2022-04-01", "RoleAssignments_Get"),
    ("PUT", f"{WEB}/providers/Microsoft.Authorization/roleAssignments/ra1", "2022-04-01", "RoleAssignments_Create"),
    ("DELETE", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/ra1", "2022-04-01",
     "RoleAssignments_Delete"),
    ("GET", f"{WEB}/providers/Microsoft.Authorization/roleAssignments", "2022-04-01",
     "RoleAssignments_ListForResource"),
    ("GET", f"{RG}/providers/Microsoft.Authorization/roleAssignments", "2022-04-01",
     "RoleAssignments_ListForResourceGroup"),
    ("GET", "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/roleAssignments",
     "2022-04-01", "RoleAssignments_ListForScope"),
    # a template that is one whole id: the least specific, chosen only when nothing else matches
    ("DELETE", "/providers/Microsoft.Authorization/roleAssignments/ra1", "2022-04-01", "RoleAssignments_DeleteById"),
    ("GET", f"{RG}/providers/Microsoft.Authorization/roleDefinitions/rd1", "2022-04-01", "RoleDefinitions_Get"),
    ("GET", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/rd1", "2022-04-01",
     "RoleDefinitions_Get"),
    # RoleDefinitions_GetById is `/{roleId}`, one whole id like RoleAssignments_GetById: no path tells them apart
    ("GET", f"{RG}/providers/Microsoft.Authorization/permissions", "2022-04-01", "Permissions_ListForResourceGroup"),
    # {parentResourcePath} and {resourceType} are x-ms-skip-url-encoding: each spans one or more segments
    ("GET", f"{WEB}/slots/s1/providers/Microsoft.Authorization/permissions", "2022-04-01",
     "Permissions_ListForResource"),
    ("GET", f"/subscriptions/{SUB}", "2022-12-01", "Subscriptions_Get"),
    ("GET", "/subscriptions", "2022-12-01", "Subscriptions_List"),
    ("GET", "/tenants", "2022-12-01", "Tenants_List"),
    ("GET", REDIS, "2024-11-01", "Redis_Get"),
    ("POST", f"{REDIS}/listKeys", "2024-11-01", "Redis_ListKeys"),
    ("GET", f"{REDIS}/firewallRules", "2024-11-01", "FirewallRules_List"),
    ("GET", f"{REDIS}/firewallRules/fw1", "2024-11-01", "FirewallRules_Get"),
    ("PUT", f"{REDIS}/firewallRules/fw1", "2024-11-01", "FirewallRules_CreateOrUpdate"),
    ("DELETE", f"{REDIS}/firewallRules/fw1", "2024-11-01", "FirewallRules_Delete"),
    ("GET", f"{WEB}/providers/Microsoft.ServiceLinker/linkers/l1", "2024-04-01", "Linker_Get"),
    ("PUT", f"{WEB}/providers/Microsoft.ServiceLinker/linkers/l1", "2024-04-01", "Linker_CreateOrUpdate"),
    ("GET", f"{WEB}/providers/Microsoft.ServiceLinker/linkers", "2024-04-01", "Linker_List"),
    ("POST", f"{WEB}/providers/Microsoft.ServiceLinker/linkers/l1/validateLinker", "2024-04-01", "Linker_Validate"),
    ("POST", f"{WEB}/providers/Microsoft.ServiceLinker/linkers/l1/validateLinker", "2022-05-01", "Linker_Validate"),
    ("GET", f"/subscriptions/{SUB}/resourceGroups/sl-dev/providers/Microsoft.ServiceLinker/locations/eastus/"
     "connectors/c1", "2024-04-01", "Connector_Get"),
    ("GET", "/providers/Microsoft.ServiceLinker/operations", "2024-04-01", "Operations_List"),
]  # fmt: skip

NOT_FOUND: list[tuple[str, str, str]] = [
    ("GET", MSI, "2099-01-01"),  # no spec of that api-version
    ("PATCH", f"{MSI}/federatedIdentityCredentials/fic1", "2024-11-30"),  # no such method
    ("GET", f"{MSI}/federatedIdentityCredentials/fic1/extra", "2024-11-30"),  # a path below any template
    ("GET", f"/subscriptions/{SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x", "2024-11-30"),
]


@pytest.fixture(scope="module")
def specs() -> SpecSet:
    return SpecSet.load()


def test_every_reference_resolves(specs: SpecSet) -> None:
    assert specs.unresolved() == []


def test_microsoft_examples_of_the_listed_operations_validate(specs: SpecSet) -> None:
    checked: dict[str, int] = {}
    problems: list[str] = []
    for version, operation_ids in LISTED.items():
        for operation_id in sorted(operation_ids):
            op = specs.by_id(operation_id, version)
            examples = list(op.examples())
            assert examples, f"{operation_id} ({version}): no example vendored"
            for example in examples:
                expected = API_VERSION_MISMATCH.get(example.path.name, version)
                assert example.parameters.get("api-version") == expected, example.path
                for status, response in example.responses.items():
                    errors = op.errors(int(status), response.get("body"))
                    known = KNOWN_INVALID_EXAMPLES.get((example.path.name, status))
                    if known:
                        assert errors, f"{example.path.name} {status} is listed as invalid ({known}) but validates"
                        continue
                    problems += [f"{example.path.name}: {e}" for e in errors]
                    checked[operation_id] = checked.get(operation_id, 0) + 1
    assert not problems, "\n".join(problems)
    # 7 ManagedIdentity operations with 10 responses, 4 role assignment ones with 6 (200/201, 200/204),
    # ServiceLinker 2022-05-01 validateLinker with 2 (200, 202), and each other listed operation with one (200)
    assert sum(checked.values()) == 26, checked
    assert set(checked) == set().union(*LISTED.values())


@pytest.mark.parametrize(("method", "path", "version", "operation_id"), PATHS)
def test_find_maps_a_concrete_path_to_its_operation(
    specs: SpecSet, method: str, path: str, version: str, operation_id: str
) -> None:
    op = specs.find(method, path, version)
    assert op is not None and op.operation_id == operation_id, op and op.template


@pytest.mark.parametrize(("method", "path", "version"), NOT_FOUND)
def test_find_answers_none_off_the_spec(specs: SpecSet, method: str, path: str, version: str) -> None:
    assert specs.find(method, path, version) is None


def _example(specs: SpecSet, operation_id: str, version: str, status: str) -> Any:
    op = specs.by_id(operation_id, version)
    return copy.deepcopy(next(op.examples()).responses[status]["body"])


def test_a_wrong_type_is_an_error(specs: SpecSet) -> None:
    op = specs.by_id("UserAssignedIdentities_Get", "2024-11-30")
    body = _example(specs, "UserAssignedIdentities_Get", "2024-11-30", "200")
    assert op.errors(200, body) == []
    body["tags"]["key1"] = 7
    assert op.errors(200, body) == ["UserAssignedIdentities_Get 200: tags/key1: 7 is not of type 'string'"]


def test_a_missing_required_property_is_an_error(specs: SpecSet) -> None:
    op = specs.by_id("UserAssignedIdentities_Get", "2024-11-30")
    body = _example(specs, "UserAssignedIdentities_Get", "2024-11-30", "200")
    del body["location"]  # TrackedResource (common-types v4) requires it: a cross-file reference
    assert op.errors(200, body) == ["UserAssignedIdentities_Get 200: <root>: 'location' is a required property"]
    fic = specs.by_id("FederatedIdentityCredentials_Get", "2024-11-30")
    body = _example(specs, "FederatedIdentityCredentials_Get", "2024-11-30", "200")
    del body["properties"]["audiences"]
    assert fic.errors(200, body) == [
        "FederatedIdentityCredentials_Get 200: properties: 'audiences' is a required property"
    ]


def test_statuses_and_empty_bodies(specs: SpecSet) -> None:
    delete = specs.by_id("FederatedIdentityCredentials_Delete", "2024-11-30")
    assert delete.errors(204, None) == []  # no schema: an empty body
    assert delete.errors(200, {"unexpected": True})  # no schema, yet a body
    assert delete.errors(202, None) == [
        "FederatedIdentityCredentials_Delete: status 202 is not declared (['200', '204', 'default'])"
    ]
    assert delete.errors(404, {"error": {"code": "NotFound", "message": "gone"}}) == []  # `default`
    assert delete.errors(404, {"error": {"code": 404}}) == [
        "FederatedIdentityCredentials_Delete 404: error/code: 404 is not of type 'string'"
    ]


def test_open_enums_and_polymorphism(specs: SpecSet) -> None:
    get = specs.by_id("UserAssignedIdentities_Get", "2024-11-30")
    body = _example(specs, "UserAssignedIdentities_Get", "2024-11-30", "200")
    body["properties"]["isolationScope"] = "SomethingNew"  # x-ms-enum modelAsString: an open enum
    assert get.errors(200, body) == []
    linker = specs.by_id("Linker_Get", "2024-04-01")
    resource = {
        "properties": {
            "targetService": {"type": "AzureResource", "id": "/subscriptions/x"},
            "authInfo": {"authType": "userAssignedIdentity", "clientId": "c", "subscriptionId": "s"},
        }
    }
    assert linker.errors(200, resource) == []
    resource["properties"]["authInfo"]["clientId"] = 5  # validated as the variant its authType names
    assert linker.errors(200, resource) == ["Linker_Get 200: properties/authInfo/clientId: 5 is not of type 'string'"]
