"""The local ARM endpoint against Microsoft's published REST specifications (tests/data/rest-spec).

1. Every response the endpoint gave during the test session (it records them: `StackConfig.arm_record`, secrets
   redacted) whose operation a vendored specification describes validates against that operation's schema for
   the status given. This test first drives each served operation itself through the official SDK clients, so
   it stands alone; run after the e2e suite it also checks everything the product sent.
2. The specifications' example requests are replayed against the endpoint (ids mapped to the stack's resource
   group, role definitions to a built-in role): each answer's status is one the example documents, and its body
   validates.

Counts are printed (`-s`); operations the endpoint serves whose specification is not vendored yet are listed.
"""

from __future__ import annotations

import json
import re
import ssl
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity
from azure.mgmt.redis import RedisManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from localcloud.arm.app import ROUTES
from localcloud.devstack.config import StackConfig
from tests.support.rest_spec import SpecSet

pytestmark = pytest.mark.integration

SUB = "00000000-0000-0000-0000-000000000000"
RG = "sl-dev"
READER = "acdd72a7-3d48-427e-ae8a-98bd7c05f7f0"
ISSUER = "https://issuer.example.com/contract"


@pytest.fixture(scope="module")
def profile(devstack: dict[str, Any], stack_config: StackConfig) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((stack_config.state_dir / "cloud-profile.json").read_text())
    return data


@pytest.fixture(scope="module")
def credential(profile: dict[str, Any]) -> ClientSecretCredential:
    secret = Path(profile["clientSecretFile"]).read_text().strip()
    return ClientSecretCredential(profile["tenantId"], profile["clientId"], secret, authority=profile["authorityHost"],
                                  connection_verify=profile["caBundle"], disable_instance_discovery=True)  # fmt: skip


def _sdk(cls: Any, credential: ClientSecretCredential, profile: dict[str, Any]) -> Any:
    scopes = [profile["armAudience"] + ".default"]
    return cls(credential, SUB, base_url=profile["armEndpoint"], credential_scopes=scopes,
               connection_verify=profile["caBundle"])  # fmt: skip


def _drive(credential: ClientSecretCredential, profile: dict[str, Any]) -> None:
    """Each served operation of the vendored specifications once, through the official SDK clients."""
    msi = _sdk(ManagedServiceIdentityClient, credential, profile)
    name = f"contract-{uuid.uuid4().hex[:6]}"
    made = msi.user_assigned_identities.create_or_update(RG, name, Identity(location="local"))
    msi.user_assigned_identities.get(RG, name)
    list(msi.user_assigned_identities.list_by_subscription())
    list(msi.user_assigned_identities.list_by_resource_group(RG))
    fic = FederatedIdentityCredential(issuer=ISSUER, subject="system:serviceaccount:a:b", audiences=["api://x"])
    msi.federated_identity_credentials.create_or_update(RG, name, "fic1", fic)
    msi.federated_identity_credentials.get(RG, name, "fic1")
    list(msi.federated_identity_credentials.list(RG, name))
    msi.federated_identity_credentials.delete(RG, name, "fic1")
    auth = _sdk(AuthorizationManagementClient, credential, profile)
    scope = f"/subscriptions/{SUB}/resourceGroups/{RG}"
    ra_name = str(uuid.uuid4())
    auth.role_assignments.create(scope, ra_name, RoleAssignmentCreateParameters(
        role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
        principal_id=made.principal_id, principal_type="ServicePrincipal"))  # fmt: skip
    auth.role_assignments.get(scope, ra_name)
    list(auth.role_assignments.list_for_scope(scope, filter=f"assignedTo('{made.principal_id}')"))
    auth.role_assignments.delete(scope, ra_name)
    auth.role_definitions.get(scope, READER)
    list(auth.permissions.list_for_resource_group(RG))
    msi.user_assigned_identities.delete(RG, name)
    subscriptions = SubscriptionClient(credential, base_url=profile["armEndpoint"],
                                       credential_scopes=[profile["armAudience"] + ".default"],
                                       connection_verify=profile["caBundle"])  # fmt: skip
    list(subscriptions.subscriptions.list())
    list(subscriptions.tenants.list())
    redis = _sdk(RedisManagementClient, credential, profile)
    redis.redis.get(RG, "sl-redis")
    redis.redis.list_keys(RG, "sl-redis")
    list(redis.firewall_rules.list(RG, "sl-redis"))


#: Where Microsoft's specification and Azure's wire disagree, Azure's wire wins; each such case, and why.
KNOWN_SPEC_DEVIATIONS = {
    ("Subscriptions_List", "<root>: 'nextLink' is a required property"):
        "the spec requires nextLink; Azure omits it on the last page, and so does the endpoint",
    ("Tenants_List", "<root>: 'nextLink' is a required property"):
        "the spec requires nextLink; Azure omits it on the last page, and so does the endpoint",
}  # fmt: skip
#: Whole-id templates (`/{roleAssignmentId}`) match any path; they describe only paths naming their type.
BY_ID = {"RoleAssignments_GetById": "/roleassignments/", "RoleAssignments_DeleteById": "/roleassignments/",
         "RoleAssignments_CreateById": "/roleassignments/", "RoleDefinitions_GetById": "/roledefinitions/"}


def _operation(specs: SpecSet, method: str, path: str, api_version: str) -> Any:
    op = specs.find(method, re.sub(r"/{2,}", "/", path), api_version)
    if op is not None and op.operation_id in BY_ID and BY_ID[op.operation_id] not in path.lower():
        return None
    return op


def _errors(op: Any, status: int, body: Any) -> list[str]:
    """The operation's schema errors for this response, less the documented deviations."""
    return [e for e in op.errors(status, body)
            if not any(op.operation_id == known and e.endswith(text) for known, text in KNOWN_SPEC_DEVIATIONS)]


def _served_template(method: str, path: str) -> str:
    if "/providers/microsoft.servicelinker/" in path.lower():
        return f"{method} (forwarded to the Microsoft.ServiceLinker provider)"
    for route in ROUTES:
        if route.match(method, path) is not None:
            return f"{method} {route.template}"
    return f"{method} (unrouted) {path}"


def test_every_recorded_response_matches_the_specification(
    devstack: dict[str, Any], stack_config: StackConfig, credential: ClientSecretCredential, profile: dict[str, Any]
) -> None:
    assert stack_config.arm_record is not None
    _drive(credential, profile)
    specs = SpecSet.load()
    records = [json.loads(line) for line in stack_config.arm_record.read_text().splitlines() if line.strip()]
    checked: Counter[str] = Counter()
    without_spec: Counter[str] = Counter()
    problems = []
    for r in records:
        op = _operation(specs, r["method"], r["path"], r["apiVersion"])
        if op is None:
            without_spec[_served_template(r["method"], r["path"])] += 1
            continue
        checked[op.operation_id] += 1
        for error in _errors(op, r["status"], r["body"]):
            problems.append(f"{r['method']} {r['path']} -> {r['status']} ({op.operation_id}): {error}")
    print(f"\nARM contract: {len(records)} responses recorded, {sum(checked.values())} validated against "
          f"{len(checked)} specified operations, 0 expected errors; {len(without_spec)} served operations have no "
          f"vendored spec yet: {sorted(without_spec)}")  # fmt: skip
    assert problems == []
    wanted = {"UserAssignedIdentities_CreateOrUpdate", "UserAssignedIdentities_Get",
              "UserAssignedIdentities_ListBySubscription", "FederatedIdentityCredentials_CreateOrUpdate",
              "FederatedIdentityCredentials_Get", "FederatedIdentityCredentials_List",
              "FederatedIdentityCredentials_Delete", "RoleAssignments_Create", "RoleAssignments_Get",
              "RoleAssignments_Delete", "RoleDefinitions_Get",
              "Permissions_ListForResourceGroup", "Subscriptions_List", "Tenants_List", "Redis_Get", "Redis_ListKeys",
              "FirewallRules_List"}  # fmt: skip
    assert wanted <= set(checked), sorted(wanted - set(checked))
    # a scope's list is the spec's most specific list (ForResource, ForResourceGroup, ForSubscription, ForScope)
    assert any(op.startswith("RoleAssignments_ListFor") for op in checked)


# ----------------------------------------------------------------------------------------- example replay

ORDER = {"put": 0, "patch": 1, "get": 2, "post": 3, "delete": 4}


def _url(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], template)


def _values(example: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    """The example's path parameters, with the subscription, group, scope and names of this stack."""
    values = {k: str(v) for k, v in example.items() if isinstance(v, str | int)}
    values.update({"subscriptionId": SUB, "resourceGroupName": RG, "scope": f"subscriptions/{SUB}/resourceGroups/{RG}"})
    for key in ("resourceName", "federatedIdentityCredentialResourceName", "roleAssignmentName"):
        if key in values:
            values[key] = names[key]
    return values


def _body(example: dict[str, Any]) -> Any:
    bodies = [v for k, v in example.items() if isinstance(v, dict) and k not in ("api-version",)]
    if not bodies:
        return None
    body = json.loads(json.dumps(bodies[0]))
    props = body.get("properties", {})
    if "roleDefinitionId" in props:  # the example's custom role does not exist here: a built-in one does
        props["roleDefinitionId"] = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{READER}"
    if "issuer" in props:
        props["issuer"] = ISSUER
    return body


def test_specification_examples_replay(
    devstack: dict[str, Any], credential: ClientSecretCredential, profile: dict[str, Any]
) -> None:
    specs = SpecSet.load()
    token = credential.get_token(profile["armAudience"] + ".default").token
    names = {"resourceName": f"replay-{uuid.uuid4().hex[:6]}", "federatedIdentityCredentialResourceName": "replayfic",
             "roleAssignmentName": str(uuid.uuid4())}  # fmt: skip
    # role definitions are Azure's built-ins here (the examples read custom ones): not replayed
    served = [op for op in specs.operations if op.api_version in ("2024-11-30", "2022-04-01", "2022-12-01")
              and not op.operation_id.startswith(("RoleDefinitions_", "Permissions_"))]
    replayed, problems = 0, []
    tls = ssl.create_default_context(cafile=profile["caBundle"])
    with httpx.Client(base_url=profile["armEndpoint"], verify=tls, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:  # fmt: skip
        # an identity for the FIC and role-assignment examples to act on
        identity_url = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/" \
            f"userAssignedIdentities/{names['resourceName']}"  # fmt: skip
        made = client.put(identity_url, params={"api-version": "2024-11-30"}, json={"location": "local"})
        assert made.status_code in (200, 201), made.text
        for op in sorted(served, key=lambda o: ORDER.get(o.method, 9)):
            for example in op.examples():
                values = _values(example.parameters, names)
                try:
                    url = _url(op.template, values)
                except KeyError:
                    continue  # a parameter the example does not give (a by-id variant)
                if not any(r.match(op.method.upper(), url) for r in ROUTES):
                    continue
                body = _body(example.parameters)
                if body and "principalId" in body.get("properties", {}):
                    body["properties"]["principalId"] = made.json()["properties"]["principalId"]
                resp = client.request(op.method.upper(), url, params={"api-version": op.api_version}, json=body)
                replayed += 1
                documented = {int(s) for s in example.responses if s.isdigit()}
                if resp.status_code not in documented:
                    problems.append(f"{example.name}: {resp.status_code} not in {sorted(documented)}: "
                                    f"{resp.text[:200]}")
                    continue
                body = resp.json() if resp.content else None
                problems += [f"{example.name}: {e}" for e in _errors(op, resp.status_code, body)]
        client.delete(identity_url, params={"api-version": "2024-11-30"})
    print(f"\nARM examples: {replayed} example requests replayed")
    assert replayed >= 8
    assert problems == [], "\n".join(problems)
