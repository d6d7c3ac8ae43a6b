"""The Azure adapter's requests, exactly as its SDK calls put them on the wire (a recording HTTPS endpoint answers
with ARM-shaped bodies): paths, api-versions, bodies, If-Match, deterministic names, and how ARM's answers become
the port's results and errors."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servicelinker.catalog.targets import get_target
from servicelinker.clouds.azure import AzureCloud
from servicelinker.clouds.azure.firewalls import rule_name
from servicelinker.clouds.azure.identities import assignment_name
from servicelinker.clouds.azure.profile import CloudProfile
from servicelinker.model.errors import ArmError
from servicelinker.settings import Settings
from tests.support.recording_arm import RecordingArm, Reply, StaticCredential

pytestmark = pytest.mark.unit

SUB = "00000000-0000-0000-0000-0000000000aa"
RG = "rg"
CLUSTER = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/aks"
PG = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg"
REDIS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Cache/redis/cache"
IP_ID = f"/subscriptions/{SUB}/resourceGroups/MC_rg/providers/Microsoft.Network/publicIPAddresses/out1"
IDENTITY = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
KUBECONFIG = b"apiVersion: v1\nkind: Config\nclusters: []\n"


@pytest.fixture()
def arm(tmp_path: Path) -> Iterator[RecordingArm]:
    server = RecordingArm(tmp_path)
    yield server
    server.close()


@pytest.fixture()
def cloud(arm: RecordingArm, tmp_path: Path) -> AzureCloud:
    profile = CloudProfile(arm_endpoint=arm.url, graph_endpoint=arm.url, ca_bundle=arm.ca_path, tenant_id="tenant")
    return AzureCloud(Settings(state_dir=tmp_path / "state", subscription=SUB), profile=profile,
                      credential=StaticCredential(), retry_total=0)  # fmt: skip


def _cluster(**props: Any) -> dict[str, Any]:
    return {"id": CLUSTER, "name": "aks", "location": "westeurope", "eTag": "etag-1",
            "tags": {"localcloud-operator-mode": "external"},
            "properties": {"provisioningState": "Succeeded", "oidcIssuerProfile": {"enabled": False},
                           "networkProfile": {"outboundType": "loadBalancer",
                                              "loadBalancerProfile": {"effectiveOutboundIPs": [{"id": IP_ID}]}},
                           **props}}  # fmt: skip


def _serve_cluster(arm: RecordingArm, *bodies: dict[str, Any]) -> None:
    arm.route("GET", f"{CLUSTER}", *[Reply(200, b) for b in bodies])
    value = base64.b64encode(KUBECONFIG).decode()
    arm.route("POST", f"{CLUSTER}/listClusterUserCredential", Reply(200, {"kubeconfigs": [{"name": "clusterUser",
                                                                                          "value": value}]}))
    arm.route("GET", IP_ID, Reply(200, {"id": IP_ID, "properties": {"ipAddress": "203.0.113.7"}}))


def test_get_cluster_reads_features_credential_and_outbound_ips(cloud: AzureCloud, arm: RecordingArm) -> None:
    _serve_cluster(arm, _cluster())
    info = cloud.get_cluster(CLUSTER)
    assert info.outbound_ips == ["203.0.113.7"] and info.operator_mode == "external"
    assert not info.oidc_issuer_enabled and info.provisioning_state == "Succeeded"
    path = Path(info.kubeconfig)
    assert path.read_bytes() == KUBECONFIG and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    (get,) = arm.sent("GET", CLUSTER)
    assert get.api_version and get.headers["authorization"].startswith("Bearer ")
    assert arm.sent("POST", f"{CLUSTER}/listClusterUserCredential")


def test_user_defined_routing_has_no_known_outbound_ip(cloud: AzureCloud, arm: RecordingArm) -> None:
    _serve_cluster(arm, _cluster(networkProfile={"outboundType": "userDefinedRouting"}))
    assert cloud.get_cluster(CLUSTER).outbound_ips == []
    assert not arm.sent("GET", IP_ID)


def test_enabling_features_puts_the_cluster_back_with_its_etag(cloud: AzureCloud, arm: RecordingArm) -> None:
    enabled = _cluster(oidcIssuerProfile={"enabled": True, "issuerURL": "https://issuer.example/x/"},
                       securityProfile={"workloadIdentity": {"enabled": True}})  # fmt: skip
    _serve_cluster(arm, _cluster(), enabled)
    arm.route("PUT", CLUSTER, Reply(200, enabled))
    info = cloud.enable_cluster_features(CLUSTER, oidc_issuer=True, workload_identity=True)
    (put,) = arm.sent("PUT", CLUSTER)
    assert put.headers["if-match"] == "\"etag-1\""  # azure-core quotes the etag
    assert put.body["properties"]["oidcIssuerProfile"] == {"enabled": True}
    assert put.body["properties"]["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert info.oidc_issuer_enabled and info.workload_identity_enabled
    assert info.oidc_issuer_url == "https://issuer.example/x/"


def test_nothing_to_enable_sends_no_put(cloud: AzureCloud, arm: RecordingArm) -> None:
    _serve_cluster(arm, _cluster(oidcIssuerProfile={"enabled": True, "issuerURL": "https://i/"}))
    cloud.enable_cluster_features(CLUSTER, oidc_issuer=True)
    assert not arm.sent("PUT", CLUSTER)


def test_a_conflict_from_aks_keeps_azures_code_and_words(cloud: AzureCloud, arm: RecordingArm) -> None:
    _serve_cluster(arm, _cluster())
    arm.route("PUT", CLUSTER, Reply(409, {"error": {"code": "OperationNotAllowed", "message": "Operation is not "
                                                    "allowed: Another operation (Updating) is in progress."}}))
    with pytest.raises(ArmError) as raised:
        cloud.enable_cluster_features(CLUSTER, oidc_issuer=True)
    assert (raised.value.code, raised.value.status) == ("OperationNotAllowed", 409)
    assert "Another operation (Updating) is in progress" in raised.value.message


def test_own_permissions_decide_and_not_actions_subtract(cloud: AzureCloud, arm: RecordingArm) -> None:
    database = f"{PG}/databases/app"
    permissions = (f"/subscriptions/{SUB}/resourcegroups/{RG}/providers/Microsoft.DBforPostgreSQL/"
                   "flexibleServers/pg/databases/app/providers/Microsoft.Authorization/permissions")  # fmt: skip
    arm.route("GET", permissions, Reply(200, {"value": [{"actions": ["*"], "notActions": ["*/write"]}]}))
    cloud.check_access(database, "Microsoft.DBforPostgreSQL/read")
    with pytest.raises(ArmError) as raised:
        cloud.check_access(database, "Microsoft.DBforPostgreSQL/flexibleServers/write")
    assert raised.value.code == "AuthorizationFailed"
    assert "does not have authorization to perform action 'Microsoft.DBforPostgreSQL/flexibleServers/write'" in (
        raised.value.message)


def test_a_callers_permissions_come_from_its_role_assignments(arm: RecordingArm, tmp_path: Path) -> None:
    profile = CloudProfile(arm_endpoint=arm.url, ca_bundle=arm.ca_path, tenant_id="tenant")
    caller = AzureCloud(Settings(state_dir=tmp_path, subscription=SUB), principal="caller-oid", profile=profile,
                        credential=StaticCredential(), retry_total=0)  # fmt: skip
    reader = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7"
    arm.route("GET", f"{CLUSTER}/providers/Microsoft.Authorization/roleAssignments",
              Reply(200, {"value": [{"id": "/x", "name": "a", "properties": {
                  "scope": f"/subscriptions/{SUB}", "roleDefinitionId": reader, "principalId": "caller-oid"}}]}))
    arm.route("GET", reader, Reply(200, {"id": reader, "properties": {"permissions": [{"actions": ["*/read"]}]}}))
    caller.check_access(CLUSTER, "Microsoft.ContainerService/managedClusters/read")
    with pytest.raises(ArmError):
        caller.check_access(CLUSTER, "Microsoft.ServiceLinker/linkers/write")
    (listed, *_) = arm.sent("GET", f"{CLUSTER}/providers/Microsoft.Authorization/roleAssignments")
    assert listed.query["$filter"] == ["assignedTo('caller-oid')"]


def test_postgres_facts_and_a_missing_database(cloud: AzureCloud, arm: RecordingArm) -> None:
    arm.route("GET", PG, Reply(200, {"id": PG, "name": "pg", "location": "westeurope", "tags": {
        "localcloud-port": "28010", "localcloud-tls": "disabled"},
        "properties": {"fullyQualifiedDomainName": "pg.postgres.database.azure.com"}}))
    arm.route("GET", f"{PG}/databases/app", Reply(200, {"id": f"{PG}/databases/app", "name": "app"}))
    target = get_target("postgres-flexible")
    facts = cloud.describe_target(target, f"{PG}/databases/app")
    assert (facts.host, facts.port, facts.database, facts.ssl) == ("pg.postgres.database.azure.com", 28010, "app",
                                                                   False)  # fmt: skip
    arm.route("GET", f"{PG}/databases/nodb", Reply(404, {"error": {"code": "ResourceNotFound", "message": "The "
                                                         "Resource 'Microsoft.DBforPostgreSQL/flexibleServers/pg/"
                                                         "databases/nodb' under resource group 'rg' was not found."}}))
    with pytest.raises(ArmError) as raised:
        cloud.describe_target(target, f"{PG}/databases/nodb")
    assert raised.value.code == "ResourceNotFound" and raised.value.status == 404 and "nodb" in raised.value.message


def test_postgres_firewall_rule_is_named_by_ip_and_released(cloud: AzureCloud, arm: RecordingArm) -> None:
    name = rule_name("203.0.113.7")
    rule = {"id": f"{PG}/firewallRules/{name}", "name": name,
            "properties": {"startIpAddress": "203.0.113.7", "endIpAddress": "203.0.113.7"}}  # fmt: skip
    status = f"/subscriptions/{SUB}/providers/Microsoft.DBforPostgreSQL/locations/l/azureAsyncOperation/op1"
    # the SDK takes only 202 (an LRO): it follows Azure-AsyncOperation, then GETs the rule
    arm.route("PUT", f"{PG}/firewallRules/{name}",
              Reply(202, None, {"Azure-AsyncOperation": "{base}" + status + "?api-version=x"}))
    arm.route("GET", status, Reply(200, {"name": "op1", "status": "Succeeded"}))
    arm.route("GET", f"{PG}/firewallRules/{name}", Reply(200, rule))
    arm.route("GET", PG, Reply(200, {"id": PG, "name": "pg", "location": "l", "properties": {}}))
    arm.route("GET", f"{PG}/firewallRules", Reply(200, {"value": [rule]}))
    arm.route("DELETE", f"{PG}/firewallRules/{name}", Reply(204))
    target = get_target("postgres-flexible")
    state = cloud.ensure_firewall_rule(target, f"{PG}/databases/app", ["203.0.113.7"], "conn")
    assert name == "ServiceConnector_203_0_113_7"
    assert state.admitted and state.enforceable
    (put,) = arm.sent("PUT", f"{PG}/firewallRules/{name}")
    assert put.body == {"properties": {"startIpAddress": "203.0.113.7", "endIpAddress": "203.0.113.7"}}
    cloud.release_firewall_rule(target, f"{PG}/databases/app", ["203.0.113.7"], "conn")
    assert arm.sent("DELETE", f"{PG}/firewallRules/{name}")


def test_an_open_redis_gets_no_first_rule(cloud: AzureCloud, arm: RecordingArm) -> None:
    arm.route("GET", f"{REDIS}/firewallRules", Reply(200, {"value": []}))
    arm.route("GET", REDIS, Reply(200, {"id": REDIS, "name": "cache", "location": "l", "properties": {
        "hostName": "cache.redis.cache.windows.net", "port": 6379, "sslPort": 6380, "enableNonSslPort": False}}))
    state = cloud.ensure_firewall_rule(get_target("redis"), f"{REDIS}/databases/0", ["203.0.113.7"], "conn")
    assert state.admitted and "no firewall rules" in state.detail
    assert not [r for r in arm.requests if r.method == "PUT"]


def test_role_assignment_name_is_stable_and_exists_is_success(cloud: AzureCloud, arm: RecordingArm) -> None:
    name = assignment_name("principal", "ba92f5b4-2d11-453d-a403-e96b0029c9fe", REDIS)
    assert name == assignment_name("principal", "BA92F5B4-2d11-453d-a403-e96b0029c9fe", REDIS + "/")
    path = f"{REDIS}/providers/Microsoft.Authorization/roleAssignments/{name}"
    arm.route("PUT", path, Reply(409, {"error": {"code": "RoleAssignmentExists",
                                                 "message": "The role assignment already exists."}}))
    cloud.ensure_role_assignment("principal", "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data "
                                 "Contributor", REDIS)  # fmt: skip
    (put,) = arm.sent("PUT", path)
    assert put.body["properties"] == {
        "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "principalId": "principal",
        "principalType": "ServicePrincipal",
    }


def test_federated_credentials_are_idempotent_and_limited_to_twenty(cloud: AzureCloud, arm: RecordingArm) -> None:
    fics = f"{IDENTITY}/federatedIdentityCredentials"
    arm.route("GET", fics, Reply(200, {"value": []}))
    arm.route("PUT", f"{fics}/sc-conn", Reply(200, {"id": f"{fics}/sc-conn", "name": "sc-conn", "properties": {
        "issuer": "https://i", "subject": "system:serviceaccount:ns:sa", "audiences": ["api://AzureADTokenExchange"]}}))
    cloud.ensure_federated_credential(IDENTITY, "sc-conn", "https://i", "system:serviceaccount:ns:sa",
                                      "api://AzureADTokenExchange")  # fmt: skip
    (put,) = arm.sent("PUT", f"{fics}/sc-conn")
    assert put.body == {"properties": {"issuer": "https://i", "subject": "system:serviceaccount:ns:sa",
                                       "audiences": ["api://AzureADTokenExchange"]}}  # fmt: skip
    full = [{"id": f"{fics}/f{i}", "name": f"f{i}", "properties": {"issuer": "x", "subject": "y", "audiences": []}}
            for i in range(20)]  # fmt: skip
    arm.route("GET", fics, Reply(200, {"value": full}))
    with pytest.raises(ArmError) as raised:
        cloud.ensure_federated_credential(IDENTITY, "sc-other", "https://i", "s", "a")
    assert "already has 20 federated identity credentials" in raised.value.message


def test_service_principal_comes_from_graph(cloud: AzureCloud, arm: RecordingArm) -> None:
    arm.route("GET", r"/v1.0/servicePrincipals\(appId='app-1'\)", Reply(200, {"id": "obj-1", "appId": "app-1",
                                                                             "appOwnerOrganizationId": "tenant"}))
    found = cloud.find_service_principal("app-1")
    assert found is not None and (found.principal_id, found.client_id) == ("obj-1", "app-1")
    assert cloud.find_service_principal("absent") is None


def test_unreachable_arm_is_a_clear_error(tmp_path: Path) -> None:
    profile = CloudProfile(arm_endpoint="https://127.0.0.1:9", tenant_id="tenant")
    cloud = AzureCloud(Settings(state_dir=tmp_path, subscription=SUB), profile=profile,
                       credential=StaticCredential(), retry_total=0)  # fmt: skip
    with pytest.raises(ArmError) as raised:
        cloud.get_cluster(CLUSTER)
    assert raised.value.code == "ServiceUnavailable" and raised.value.status == 503


# ------------------------------------------------------------------------------- generic ARM targets


SB = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ServiceBus/namespaces/bus"
SQL = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Sql/servers/sqls"
RE = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Cache/redisEnterprise/re"


def test_service_bus_facts_and_connection_string(cloud: AzureCloud, arm: RecordingArm) -> None:
    arm.route("GET", SB, Reply(200, {"id": SB, "location": "westeurope", "properties": {
        "serviceBusEndpoint": "https://bus.servicebus.windows.net:443/"}}))
    arm.route("POST", f"{SB}/authorizationRules/RootManageSharedAccessKey/listKeys",
              Reply(200, {"primaryConnectionString": "Endpoint=sb://bus.servicebus.windows.net/;SharedAccessKey=k"}))
    target = get_target("servicebus")
    facts = cloud.describe_target(target, SB)
    assert (facts.namespace_fqdn, facts.location, facts.connection_string) == (
        "bus.servicebus.windows.net", "westeurope", None)
    secret = cloud.target_secrets(target, SB).connection_string
    assert secret is not None and secret.get_secret_value().endswith("SharedAccessKey=k")
    (get,) = arm.sent("GET", SB)
    assert get.api_version == "2021-11-01"


def test_sql_database_must_exist(cloud: AzureCloud, arm: RecordingArm) -> None:
    arm.route("GET", SQL, Reply(200, {"id": SQL, "location": "l", "properties": {
        "fullyQualifiedDomainName": "sqls.database.windows.net"}}))
    arm.route("GET", f"{SQL}/databases/app", Reply(200, {"id": f"{SQL}/databases/app"}))
    assert cloud.describe_target(get_target("sql"), f"{SQL}/databases/app").host == "sqls.database.windows.net"
    with pytest.raises(ArmError) as raised:
        cloud.describe_target(get_target("sql"), f"{SQL}/databases/absent")
    assert raised.value.status == 404 and raised.value.code == "ResourceNotFound"


def test_redis_enterprise_port_from_its_database_and_keys_from_the_database(
    cloud: AzureCloud, arm: RecordingArm
) -> None:
    arm.route("GET", RE, Reply(200, {"id": RE, "location": "l", "properties": {"hostName": "re.redis.azure.net"}}))
    arm.route("GET", f"{RE}/databases/default", Reply(200, {"properties": {"port": 10000}}))
    arm.route("POST", f"{RE}/databases/default/listKeys", Reply(200, {"primaryKey": "pk"}))
    target = get_target("redis-enterprise")
    facts = cloud.describe_target(target, f"{RE}/databases/default")
    assert (facts.host, facts.port) == ("re.redis.azure.net", 10000)
    key = cloud.target_secrets(target, f"{RE}/databases/default").account_key
    assert key is not None and key.get_secret_value() == "pk"


def test_every_generic_shape_reads_back_what_it_renders() -> None:
    from servicelinker.clouds.azure.generic import SHAPES, render

    samples = {"namespace_fqdn": "ns.example.net", "host": "h.example.net", "endpoint": "https://h.example.net",
               "connection_string": "Endpoint=x", "account_key": "k", "account_kind": "OpenAI", "location": "l",
               "port": "10000"}  # fmt: skip
    for kind, shape in SHAPES.items():
        for group in (shape.facts, shape.secret_facts, *[k.facts for k in shape.keys]):
            own = [f for f in group if not f.child]
            values = {f.name: samples[f.name] for f in own}
            if "endpoint" in values and "host" in values:  # one ARM member carries both
                values["endpoint"] = "https://" + values["host"]
            document = render(own, values)
            assert {f.name: f.read(document) for f in own} == values, kind


def test_unnamed_ip_lists_change_only_what_servicelinker_added() -> None:
    """Storage and Key Vault IP rules carry no name: an IP someone else listed is never taken as ours, and
    releasing removes only ours."""
    from servicelinker.clouds.azure.firewalls import _merged

    def value(rule: dict[str, str]) -> str:
        return rule["ip"]

    def make(ip: str) -> dict[str, str]:
        return {"ip": ip}

    theirs = [{"ip": "10.0.0.1"}]
    rules, ours = _merged(theirs, value, make, set(), ["10.0.0.1", "10.0.0.2"], add=True)
    assert rules == [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}] and ours == {"10.0.0.2"}
    rules, ours = _merged(rules, value, make, ours, ["10.0.0.1", "10.0.0.2"], add=False)
    assert rules == [{"ip": "10.0.0.1"}] and ours == set()
