"""The LinkerResource model: spec examples round-trip, every polymorphic variant parses, secrets never leave."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from servicelinker.model import linker as m
from servicelinker.model import results as r

pytestmark = pytest.mark.unit

REST_SPEC = Path(__file__).resolve().parents[1] / "data" / "rest-spec"
LOCAL_EXAMPLE = REST_SPEC / "Microsoft.ServiceLinker/stable/2022-05-01/examples/ValidateLinkSuccess.json"
SPEC_2024_04 = REST_SPEC / "Microsoft.ServiceLinker/ServiceLinker/stable/2024-04-01/servicelinker.json"

SUB = "00000000-0000-0000-0000-000000000000"
PG = (
    f"/subscriptions/{SUB}/resourceGroups/test-rg/providers/Microsoft.DBforPostgreSQL/servers/test-pg/databases/test-db"
)
MONGO = f"/subscriptions/{SUB}/resourceGroups/test-rg/providers/Microsoft.DocumentDb/databaseAccounts/test-acc/mongodbDatabases/test-db"  # noqa: E501
APP = f"/subscriptions/{SUB}/resourceGroups/test-rg/providers/Microsoft.Web/sites/test-app"
KV = f"/subscriptions/{SUB}/resourceGroups/test-rg/providers/Microsoft.KeyVault/vaults/kvname"

# Response bodies of the official examples (azure-rest-api-specs, servicelinker 2024-07-01-preview examples:
# Linker.json, LinkerList.json, PutLinker.json, PutConnector.json, PutDryrun.json, ValidateLinkerSuccess.json,
# GetConfigurations.json, ConfigurationNamesList.json, LinkerGenerateConfigurations.json), kept verbatim.
LINKER_GET: dict[str, Any] = {
    "name": "linkName",
    "type": "Microsoft.ServiceLinker/links",
    "id": APP + "/providers/Microsoft.ServiceLinker/links/linkName",
    "properties": {
        "authInfo": {"name": "name", "authType": "secret"},
        "clientType": "dotnet",
        "configurationInfo": {
            "additionalConfigurations": {"throttlingLimit": "100"},
            "customizedKeys": {
                "AZURE_MYSQL_CONNECTIONSTRING": "myConnectionstring",
                "AZURE_MYSQL_SSLMODE": "mySslmode",
            },
            "deleteOrUpdateBehavior": "ForcedCleanup",
        },
        "publicNetworkSolution": {"action": "enable"},
        "scope": "AKS-Namespace",
        "secretStore": {"keyVaultId": KV},
        "targetService": {"type": "AzureResource", "id": MONGO},
    },
    "systemData": {"createdAt": "2020-07-12T22:05:09Z"},
}
LINKER_LIST: dict[str, Any] = {
    "value": [
        {
            "name": "linkName",
            "type": "Microsoft.ServiceLinker/links",
            "id": f"/subscriptions/{SUB}/resourceGroups/test-rg/providers/Microsoft.ServiceLinker/links/linkName",
            "properties": {
                "authInfo": {"name": "username", "authType": "secret"},
                "targetService": {"type": "AzureResource", "id": MONGO},
            },
            "systemData": {"createdAt": "2020-07-12T22:05:09Z"},
        }
    ]
}
PUT_LINKER_REQUEST: dict[str, Any] = {
    "properties": {
        "authInfo": {"name": "name", "authType": "secret", "secretInfo": {"secretType": "rawValue", "value": "secret"}},
        "targetService": {"type": "AzureResource", "id": PG},
        "vNetSolution": {"type": "serviceEndpoint"},
    }
}
PUT_LINKER_RESPONSE: dict[str, Any] = {
    "name": "linkName",
    "type": "Microsoft.ServiceLinker/links",
    "id": APP + "/providers/Microsoft.ServiceLinker/links/linkName",
    "properties": {
        "authInfo": {"name": "name", "authType": "secret"},
        "targetService": {"type": "AzureResource", "id": PG},
        "vNetSolution": {"type": "serviceEndpoint"},
    },
}
PUT_CONNECTOR_RESPONSE: dict[str, Any] = {
    "name": "linkName",
    "type": "Microsoft.ServiceLinker/links",
    "id": APP + "/providers/Microsoft.ServiceLinker/links/linkName",
    "properties": {
        "authInfo": {"authType": "secret"},
        "secretStore": {"keyVaultId": KV.replace("kvname", "test-kv")},
        "targetService": {"type": "AzureResource", "id": MONGO},
    },
}
PUT_DRYRUN_REQUEST: dict[str, Any] = {
    "properties": {
        "parameters": {
            "actionName": "createOrUpdate",
            "authInfo": {
                "name": "name",
                "authType": "secret",
                "secretInfo": {"secretType": "rawValue", "value": "secret"},
            },
            "targetService": {"type": "AzureResource", "id": MONGO},
        }
    }
}
_ACC = MONGO.rsplit("/", 2)[0]
PUT_DRYRUN_RESPONSE: dict[str, Any] = {
    "name": "dryrunName",
    "type": "Microsoft.ServiceLinker/dryruns",
    "id": APP + "/providers/Microsoft.ServiceLinker/dryruns/dryrunName",
    "properties": {
        "operationPreviews": [
            {
                "name": "configFirewallRule",
                "description": "Config firewall rule for target service to allow source service access",
                "action": "Microsoft.DocumentDb/databaseAccounts/write",
                "operationType": "configNetwork",
                "scope": _ACC,
            }
        ],
        "parameters": {
            "actionName": "createOrUpdate",
            "authInfo": {"name": "name", "authType": "secret"},
            "targetService": {"type": "AzureResource", "id": MONGO},
        },
        "prerequisiteResults": [
            {"type": "basicError", "code": "ResourceNotFound", "message": "Target resource is not found"},
            {
                "type": "permissionsMissing",
                "permissions": ["Microsoft.DocumentDb/databaseAccounts/write"],
                "scope": _ACC,
            },
        ],
        "provisioningState": "Succeeded",
    },
}
VALIDATE_LINKER: dict[str, Any] = {
    "properties": {
        "authType": "secret",
        "isConnectionAvailable": True,
        "reportEndTimeUtc": "2020-07-12T22:06:09Z",
        "reportStartTimeUtc": "2020-07-12T22:05:09Z",
        "sourceId": MONGO,
        "targetId": MONGO,
        "validationDetail": [
            {"name": "TargetExistence", "description": "The target existence is validated", "result": "success"},
            {
                "name": "TargetNetworkAccess",
                "description": "Deny public network access is set to yes. Please confirm you are using private "
                "endpoint connection to access target resource.",
                "result": "warning",
            },
        ],
    }
}
GET_CONFIGURATIONS: dict[str, Any] = {
    "configurations": [
        {"name": "AZURE_POSTGRESQL_HOST", "configType": "Default", "value": "Host"},
        {"name": "AZURE_POSTGRESQL_USER", "configType": "Default", "value": "Username"},
        {"name": "AZURE_POSTGRESQL_DATABASE", "configType": "Default", "value": "DatabaseName"},
        {"name": "AZURE_POSTGRESQL_PORT", "configType": "Default", "value": "Port"},
        {
            "name": "AZURE_POSTGRESQL_PASSWORD",
            "configType": "KeyVaultSecret",
            "keyVaultReferenceIdentity": "system",
            "value": "SecretUri",
        },
    ]
}
CONFIGURATION_NAMES_LIST: dict[str, Any] = {
    "value": [
        {
            "properties": {
                "authType": "systemAssignedIdentity",
                "clientType": "none",
                "names": [
                    {"description": "App configuration endpoint", "value": "AZURE_APPCONFIGURATION_ENDPOINT"},
                    {"description": "The scopes required for the token.", "value": "AZURE_APPCONFIGURATION_SCOPE"},
                ],
                "targetService": "MICROSOFT.APPCONFIGURATION/CONFIGURATIONSTORES",
            }
        },
        {
            "properties": {
                "authType": "userAssignedIdentity",
                "clientType": "none",
                "names": [
                    {"description": "App configuration endpoint", "value": "AZURE_APPCONFIGURATION_ENDPOINT"},
                    {
                        "description": "The client(application) ID of the user identity.",
                        "value": "AZURE_APPCONFIGURATION_CLIENTID",
                    },
                    {"description": "The scopes required for getting token.", "value": "AZURE_APPCONFIGURATION_SCOPE"},
                ],
                "targetService": "MICROSOFT.APPCONFIGURATION/CONFIGURATIONSTORES",
            }
        },
    ]
}
GENERATE_CONFIGURATIONS: dict[str, Any] = {
    "configurations": [{"name": "MyConnectionstring", "value": "ConnectionString"}]
}

#: Minimal AKS PUT bodies recorded on the wire (reference §1.3).
AKS_SECRET_PUT: dict[str, Any] = {
    "properties": {
        "targetService": {
            "type": "AzureResource",
            "id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x"
            "/blobServices/default",
        },
        "authInfo": {"authType": "secret"},
        "clientType": "python",
        "secretStore": {},
        "scope": "default",
        "publicNetworkSolution": {},
        "configurationInfo": {},
    }
}
AKS_WI_PUT: dict[str, Any] = {
    "properties": {
        "targetService": {"type": "AzureResource", "id": KV},
        "authInfo": {
            "authType": "userAssignedIdentity",
            "clientId": "11111111-2222-3333-4444-555555555555",
            "subscriptionId": SUB,
        },
        "clientType": "python",
        "secretStore": {},
        "scope": "default",
        "publicNetworkSolution": {},
        "configurationInfo": {},
    }
}

ROUND_TRIPS: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
    ("Linker.json", m.LinkerResource, LINKER_GET),
    ("LinkerList.json", m.ResourceList, LINKER_LIST),
    ("PutLinker.json 200", m.LinkerResource, PUT_LINKER_RESPONSE),
    ("PutConnector.json 200", m.LinkerResource, PUT_CONNECTOR_RESPONSE),
    ("PutDryrun.json 200", r.DryrunResource, PUT_DRYRUN_RESPONSE),
    ("ValidateLinkerSuccess.json", r.ValidateOperationResult, VALIDATE_LINKER),
    ("GetConfigurations.json", r.ConfigurationResult, GET_CONFIGURATIONS),
    ("ConfigurationNamesList.json", r.ConfigurationNameResult, CONFIGURATION_NAMES_LIST),
    ("LinkerGenerateConfigurations.json", r.ConfigurationResult, GENERATE_CONFIGURATIONS),
    ("recorded AKS secret PUT", m.LinkerResource, AKS_SECRET_PUT),
    ("recorded AKS workload-identity PUT", m.LinkerResource, AKS_WI_PUT),
]


@pytest.mark.parametrize(("title", "model", "body"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_spec_examples_round_trip(title: str, model: type[BaseModel], body: dict[str, Any]) -> None:
    parsed = model.model_validate(body)
    assert parsed.response_dump() == body  # type: ignore[attr-defined]


def test_local_reference_example_round_trips() -> None:
    example = json.loads(LOCAL_EXAMPLE.read_text())
    body = example["responses"]["200"]["body"]
    result = r.ValidateResult.model_validate(body)
    assert result.response_dump() == body
    assert result.is_connection_available is True
    assert [d.result for d in result.validation_detail or []] == ["success", "warning"]


@pytest.mark.parametrize("request_body", [PUT_LINKER_REQUEST, PUT_DRYRUN_REQUEST], ids=["PutLinker", "PutDryrun"])
def test_put_request_secret_is_write_only(request_body: dict[str, Any]) -> None:
    model: type[m.LinkerResource] | type[r.DryrunResource] = (
        r.DryrunResource if "parameters" in request_body["properties"] else m.LinkerResource
    )
    parsed = model.model_validate(request_body)
    assert parsed.request_dump() == request_body
    response = json.dumps(parsed.to_response())
    assert '"secret"' not in response.replace('"authType": "secret"', "")
    assert '"secretInfo": {"secretType": "rawValue"}' in response


def test_recorded_aks_bodies_parse_to_the_right_variants() -> None:
    secret = m.LinkerResource.model_validate(AKS_SECRET_PUT).properties
    assert isinstance(secret.target_service, m.AzureResource)
    assert isinstance(secret.auth_info, m.SecretAuthInfo)
    assert secret.auth_info.secret_info is None
    assert secret.scope == "default"
    assert secret.secret_store == m.SecretStore()
    wi = m.LinkerResource.model_validate(AKS_WI_PUT).properties
    assert isinstance(wi.auth_info, m.UserAssignedIdentityAuthInfo)
    assert wi.auth_info.client_id == "11111111-2222-3333-4444-555555555555"
    assert wi.target_id == KV


# --------------------------------------------------------------------------------------------- variants

TARGET_VARIANTS: list[tuple[dict[str, Any], type[BaseModel]]] = [
    ({"type": "AzureResource", "id": KV}, m.AzureResource),
    (
        {"type": "ConfluentBootstrapServer", "endpoint": "xxx.eastus.azure.confluent.cloud:9092"},
        m.ConfluentBootstrapServer,
    ),
    (
        {"type": "ConfluentSchemaRegistry", "endpoint": "https://xxx.eastus.azure.confluent.cloud"},
        m.ConfluentSchemaRegistry,
    ),
    ({"type": "SelfHostedServer", "endpoint": "10.0.0.4:5432"}, m.SelfHostedServer),
    (
        {"type": "FabricPlatform", "endpoint": "https://api.fabric.microsoft.com/v1/workspaces/w/SqlDatabases/d"},
        m.FabricPlatform,
    ),
]


@pytest.mark.parametrize(("body", "cls"), TARGET_VARIANTS, ids=[c.__name__ for _, c in TARGET_VARIANTS])
def test_target_service_variants(body: dict[str, Any], cls: type[BaseModel]) -> None:
    props = m.LinkerProperties.model_validate({"targetService": body})
    assert type(props.target_service) is cls
    assert props.response_dump() == {"targetService": body}


@pytest.mark.parametrize(
    ("body", "cls", "flag"),
    [
        ({"type": "KeyVault", "connectAsKubernetesCsiDriver": True}, m.AzureKeyVaultProperties, True),
        ({"type": "KeyVault", "connectAsKubernetesCsiDriver": False}, m.AzureKeyVaultProperties, False),
        ({"type": "AppConfig", "connectWithKubernetesExtension": True}, m.AzureAppConfigProperties, False),
    ],
)
def test_resource_properties_variants(body: dict[str, Any], cls: type[BaseModel], flag: bool) -> None:
    props = m.LinkerProperties.model_validate(
        {"targetService": {"type": "AzureResource", "id": KV, "resourceProperties": body}}
    )
    assert isinstance(props.target_service, m.AzureResource)
    assert type(props.target_service.resource_properties) is cls
    assert props.connects_as_csi_driver is flag
    assert props.response_dump()["targetService"]["resourceProperties"] == body


#: (authInfo body, class, secret member paths that a response must not contain)
AUTH_VARIANTS: list[tuple[dict[str, Any], type[BaseModel], list[str]]] = [
    (
        {"authType": "secret", "name": "admin", "secretInfo": {"secretType": "rawValue", "value": "P@ssw0rd"}},
        m.SecretAuthInfo,
        ["secretInfo.value"],
    ),
    (
        {
            "authType": "secret",
            "name": "admin",
            "secretInfo": {"secretType": "keyVaultSecretUri", "value": "https://kv.vault.azure.net/secrets/s/1"},
        },
        m.SecretAuthInfo,
        [],
    ),
    (
        {
            "authType": "secret",
            "name": "admin",
            "secretInfo": {"secretType": "keyVaultSecretReference", "name": "pgpass", "version": "1"},
        },
        m.SecretAuthInfo,
        [],
    ),
    (
        {
            "authType": "userAssignedIdentity",
            "clientId": "cid",
            "subscriptionId": SUB,
            "userName": "aad_user",
            "deleteOrUpdateBehavior": "ForcedCleanup",
            "roles": ["Storage Blob Data Reader"],
            "authMode": "optInAllAuth",
        },
        m.UserAssignedIdentityAuthInfo,
        [],
    ),
    (
        {"authType": "systemAssignedIdentity", "userName": "u", "deleteOrUpdateBehavior": "Default", "roles": ["r"]},
        m.SystemAssignedIdentityAuthInfo,
        [],
    ),
    (
        {
            "authType": "servicePrincipalSecret",
            "clientId": "cid",
            "principalId": "pid",
            "secret": "sp-secret",
            "userName": "u",
            "roles": ["r"],
        },
        m.ServicePrincipalSecretAuthInfo,
        ["secret"],
    ),
    (
        {
            "authType": "servicePrincipalCertificate",
            "clientId": "cid",
            "principalId": "pid",
            "certificate": "MIIC...",
            "roles": ["r"],
        },
        m.ServicePrincipalCertificateAuthInfo,
        ["certificate"],
    ),
    ({"authType": "accessKey", "permissions": ["Listen", "Send"]}, m.AccessKeyInfo, []),
    ({"authType": "userAccount", "principalId": "pid", "userName": "u", "roles": ["r"]}, m.UserAccountAuthInfo, []),
    (
        {
            "authType": "easyAuthMicrosoftEntraID",
            "clientId": "cid",
            "secret": "easy-secret",
            "deleteOrUpdateBehavior": "Default",
        },
        m.EasyAuthMicrosoftEntraIDAuthInfo,
        ["secret"],
    ),
]


def _without(body: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(body))
    for path in paths:
        node = out
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        del node[leaf]
    return out


@pytest.mark.parametrize(
    ("body", "cls", "secrets"), AUTH_VARIANTS, ids=[f"{b['authType']}-{i}" for i, (b, _, _) in enumerate(AUTH_VARIANTS)]
)
def test_auth_info_variants_and_secret_hiding(body: dict[str, Any], cls: type[BaseModel], secrets: list[str]) -> None:
    linker = m.LinkerResource.model_validate({"properties": {"authInfo": body}})
    info = linker.properties.auth_info
    assert type(info) is cls
    # full fidelity for storage / outgoing requests
    assert linker.request_dump() == {"properties": {"authInfo": body}}
    # responses never carry x-ms-secret members (and carry vNetSolution: null and a secret's secretType, as Azure)
    shown = _without(body, secrets)
    if shown["authType"] == "secret":
        shown.setdefault("secretInfo", {"secretType": "rawValue"})
    assert linker.to_response() == {"properties": {"authInfo": shown, "vNetSolution": None}}
    for path in secrets:
        secret_value = body
        for part in path.split("."):
            secret_value = secret_value[part]
        assert str(secret_value) not in json.dumps(linker.to_response())
        assert str(secret_value) not in repr(linker)


def test_secret_fields_match_the_spec_x_ms_secret() -> None:
    """Every `x-ms-secret` property of the 2024-04-01 spec is dropped by the model, and nothing else is."""
    spec = json.loads(SPEC_2024_04.read_text())
    flagged = {
        (name, prop)
        for name, definition in spec["definitions"].items()
        for prop, schema in definition.get("properties", {}).items()
        if schema.get("x-ms-secret")
    }
    assert flagged == {
        ("ValueSecretInfo", "value"),
        ("ServicePrincipalSecretAuthInfo", "secret"),
        ("ServicePrincipalCertificateAuthInfo", "certificate"),
        ("EasyAuthMicrosoftEntraIDAuthInfo", "secret"),
    }
    model_classes: dict[str, type[BaseModel]] = {
        "ValueSecretInfo": m.ValueSecretInfo,
        "ServicePrincipalSecretAuthInfo": m.ServicePrincipalSecretAuthInfo,
        "ServicePrincipalCertificateAuthInfo": m.ServicePrincipalCertificateAuthInfo,
        "EasyAuthMicrosoftEntraIDAuthInfo": m.EasyAuthMicrosoftEntraIDAuthInfo,
    }
    for definition, prop in flagged:
        cls = model_classes[definition]
        field = next(k for k, f in cls.model_fields.items() if f.alias == prop)
        assert field in getattr(cls, "secret_fields")  # noqa: B009


def test_every_spec_property_has_its_camel_case_alias() -> None:
    """The model's JSON names are the spec's, for every definition the model implements."""
    spec = json.loads(SPEC_2024_04.read_text())
    pairs: dict[str, type[BaseModel]] = {
        "LinkerProperties": m.LinkerProperties,
        "AzureResource": m.AzureResource,
        "SecretStore": m.SecretStore,
        "PublicNetworkSolution": m.PublicNetworkSolution,
        "FirewallRules": m.FirewallRules,
        "ConfigurationInfo": m.ConfigurationInfo,
        "DaprProperties": m.DaprProperties,
        "DaprMetadata": m.DaprMetadata,
        "VNetSolution": m.VNetSolution,
        "ValidateResult": r.ValidateResult,
        "ValidationResultItem": r.ValidationResultItem,
        "SourceConfiguration": r.SourceConfiguration,
        "ConfigurationNames": r.ConfigurationNames,
        "ConfigurationName": r.ConfigurationName,
        "DryrunProperties": r.DryrunProperties,
        "DryrunOperationPreview": r.DryrunOperationPreview,
        "UserAssignedIdentityAuthInfo": m.UserAssignedIdentityAuthInfo,
        "ServicePrincipalSecretAuthInfo": m.ServicePrincipalSecretAuthInfo,
        "PermissionsMissingDryrunPrerequisiteResult": r.PermissionsMissingDryrunPrerequisiteResult,
        "ConfigurationStore": m.ConfigurationStore,
        "AzureKeyVaultProperties": m.AzureKeyVaultProperties,
    }
    for definition, cls in pairs.items():
        aliases = {f.alias or k for k, f in cls.model_fields.items()}
        for prop in spec["definitions"][definition].get("properties", {}):
            assert prop in aliases, f"{definition}.{prop}"


def test_client_type_is_an_open_string() -> None:
    for value in [*m.ClientType.SPEC, "dotnet-internal", "dotnet-connectionString", "some-future-client"]:
        props = m.LinkerProperties.model_validate({"clientType": value})
        assert props.client_type == value
    assert m.ClientType.SPEC == (
        "none",
        "dotnet",
        "java",
        "python",
        "go",
        "php",
        "ruby",
        "django",
        "nodejs",
        "springBoot",
        "kafka-springBoot",
        "jms-springBoot",
        "dapr",
    )


def test_unknown_members_are_kept() -> None:
    body = {"properties": {"clientType": "python", "futureThing": {"x": 1}}, "etag": "W/1"}
    linker = m.LinkerResource.model_validate(body)
    assert linker.response_dump() == body


def test_unknown_discriminator_is_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        m.LinkerResource.model_validate({"properties": {"authInfo": {"authType": "workloadIdentity"}}})
    assert "authType" in str(err.value) or "auth_type" in str(err.value)


def test_names_and_aliases_both_accepted() -> None:
    by_name = m.LinkerProperties(
        client_type="python",
        v_net_solution=m.VNetSolution(type="privateLink"),
        public_network_solution=m.PublicNetworkSolution(firewall_rules=m.FirewallRules(caller_client_ip="true")),
        auth_info=m.UserAssignedIdentityAuthInfo(client_id="c"),
    )
    dumped = by_name.response_dump()
    assert dumped == {
        "authInfo": {"authType": "userAssignedIdentity", "clientId": "c"},
        "clientType": "python",
        "vNetSolution": {"type": "privateLink"},
        "publicNetworkSolution": {"firewallRules": {"callerClientIP": "true"}},
    }
    assert m.LinkerProperties.model_validate(dumped) == by_name


def test_full_properties_round_trip() -> None:
    body = {
        "targetService": {
            "type": "AzureResource",
            "id": KV,
            "resourceProperties": {"type": "KeyVault", "connectAsKubernetesCsiDriver": True},
        },
        "authInfo": {"authType": "userAssignedIdentity", "authMode": "optOutAllAuth"},
        "clientType": "dotnet-internal",
        "provisioningState": "Succeeded",
        "vNetSolution": {"type": "serviceEndpoint", "deleteOrUpdateBehavior": "Default"},
        "secretStore": {"keyVaultId": KV, "keyVaultSecretName": "s"},
        "scope": "team-a",
        "publicNetworkSolution": {
            "deleteOrUpdateBehavior": "ForcedCleanup",
            "action": "optOut",
            "firewallRules": {"ipRanges": ["10.0.0.0/24"], "azureServices": "true", "callerClientIP": "false"},
        },
        "configurationInfo": {
            "deleteOrUpdateBehavior": "Default",
            "action": "enable",
            "customizedKeys": {"AZURE_KEYVAULT_RESOURCEENDPOINT": "VAULT_URL"},
            "daprProperties": {
                "version": "v1",
                "componentType": "secretstores.azure.keyvault",
                "secretStoreComponent": "s",
                "metadata": [
                    {"name": "vaultName", "value": "kv", "secretRef": "", "description": "d", "required": "true"}
                ],
                "scopes": ["app"],
                "runtimeVersion": "1.12",
                "bindingComponentDirection": "input",
            },
            "additionalConfigurations": {"A": "1"},
            "additionalConnectionStringProperties": {"Timeout": "30"},
            "configurationStore": {"appConfigurationId": KV},
        },
    }
    linker = m.LinkerResource(
        id="x",
        name="n",
        type=m.LINKER_RESOURCE_TYPE,
        system_data=m.SystemData(created_by="me", created_by_type="User", created_at="2024-01-01T00:00:00Z"),
        properties=m.LinkerProperties.model_validate(body),
    )
    dumped = linker.to_response()
    assert dumped["properties"] == body
    assert dumped["type"] == "microsoft.servicelinker/linkers"
    assert dumped["systemData"] == {"createdBy": "me", "createdByType": "User", "createdAt": "2024-01-01T00:00:00Z"}
    assert m.LinkerResource.model_validate(dumped) == linker


def test_2022_05_01_bodies_are_accepted() -> None:
    """2022-05-01 is a subset: its PUT shape (no configurationInfo/publicNetworkSolution) parses unchanged."""
    body = {
        "properties": {
            "targetService": {"type": "ConfluentBootstrapServer", "endpoint": "x:9092"},
            "authInfo": {"authType": "secret", "name": "key", "secretInfo": {"secretType": "rawValue", "value": "v"}},
            "clientType": "kafka-springBoot",
            "vNetSolution": {"type": "privateLink"},
            "secretStore": {"keyVaultId": KV},
            "scope": "c1",
        }
    }
    linker = m.LinkerResource.model_validate(body)
    assert linker.request_dump() == body


def test_api_versions() -> None:
    assert m.API_VERSIONS == (
        "2021-11-01-preview",
        "2022-01-01-preview",
        "2022-05-01",
        "2022-11-01-preview",
        "2023-04-01-preview",
        "2024-04-01",
        "2024-07-01-preview",
    )
    assert m.DEFAULT_API_VERSION == "2024-04-01"
    assert m.CLI_API_VERSION == "2024-07-01-preview"


def test_configuration_name_credential_extension_is_optional() -> None:
    name = r.ConfigurationName(value="AZURE_X_KEY", description="d", required=True, credential=True)
    assert name.response_dump() == {"value": "AZURE_X_KEY", "description": "d", "required": True, "credential": True}
    assert r.ConfigurationName(value="A").response_dump() == {"value": "A"}
