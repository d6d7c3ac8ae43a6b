"""The `LinkerResource` model of Microsoft.ServiceLinker, and the result shapes the REST server reuses.

Schema: api-version 2024-04-01 (the newest stable), which is a superset of 2022-05-01; the 2024-07-01-preview
additions used by AKS (`targetService.type = FabricPlatform`, `resourceProperties.type = AppConfig`) are accepted too.

Conventions:
* Python attribute names are snake_case; the JSON names (aliases) are the spec's camelCase exactly
  (`vNetSolution`, `callerClientIP`, ...). Both are accepted on input (`populate_by_name`).
* Polymorphic members are discriminated unions on the spec's discriminators: `targetService.type`,
  `targetService.resourceProperties.type`, `authInfo.authType`, `authInfo.secretInfo.secretType`,
  dryrun `parameters.actionName` and `prerequisiteResults[].type`.
* Unknown members are kept (`extra="allow"`) so bodies of newer api-versions round-trip.
* Open enums (`modelAsString: true` in the spec, e.g. `clientType`) are plain `str`; the known values are
  constants on small namespaces (`ClientType.PYTHON`, ...). The CLI also sends values outside the spec enum
  (`dotnet-internal`, `dotnet-connectionString`).
* Secrets (`x-ms-secret`: `secretInfo.value` of a `rawValue` secret, `servicePrincipalSecret.secret`,
  `servicePrincipalCertificate.certificate`, `easyAuthMicrosoftEntraID.secret`) are write-only:
  `to_response()` / `response_dump()` drop them, as Azure does (a GET of a secret linker returns
  `secretInfo: {secretType: rawValue}`). `keyVaultSecretUri.value` is a URI, not `x-ms-secret` in the spec, and is
  returned. Use `model_dump(by_alias=True)` (no response context) only to persist, encrypted.

Pure data: no I/O.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.alias_generators import to_camel

# --------------------------------------------------------------------------------------------- api-versions

API_VERSION_2021_11_01_PREVIEW = "2021-11-01-preview"
API_VERSION_2022_01_01_PREVIEW = "2022-01-01-preview"
API_VERSION_2022_05_01 = "2022-05-01"
API_VERSION_2022_11_01_PREVIEW = "2022-11-01-preview"
API_VERSION_2023_04_01_PREVIEW = "2023-04-01-preview"
API_VERSION_2024_04_01 = "2024-04-01"
API_VERSION_2024_07_01_PREVIEW = "2024-07-01-preview"

#: Every published api-version of Microsoft.ServiceLinker, oldest first (reference §1.2).
API_VERSIONS: tuple[str, ...] = (
    API_VERSION_2021_11_01_PREVIEW,
    API_VERSION_2022_01_01_PREVIEW,
    API_VERSION_2022_05_01,
    API_VERSION_2022_11_01_PREVIEW,
    API_VERSION_2023_04_01_PREVIEW,
    API_VERSION_2024_04_01,
    API_VERSION_2024_07_01_PREVIEW,
)
#: The schema this model implements.
DEFAULT_API_VERSION = API_VERSION_2024_04_01
#: The api-version `az` 2.91 sends.
CLI_API_VERSION = API_VERSION_2024_07_01_PREVIEW

#: ARM resource type of a linker as returned on the wire (lowercase, as recorded; reference §1.1).
LINKER_RESOURCE_TYPE = "microsoft.servicelinker/linkers"
DRYRUN_RESOURCE_TYPE = "microsoft.servicelinker/dryruns"

#: Serialization context key that makes `_Model` drop write-only secrets.
RESPONSE_CONTEXT = "servicelinker_response"


# --------------------------------------------------------------------------------------------- open enums


class ClientType:
    """Known `clientType` values (the field is an open string)."""

    NONE = "none"
    DOTNET = "dotnet"
    DOTNET_INTERNAL = "dotnet-internal"
    DOTNET_CONNECTION_STRING = "dotnet-connectionString"
    JAVA = "java"
    PYTHON = "python"
    GO = "go"
    PHP = "php"
    RUBY = "ruby"
    DJANGO = "django"
    NODEJS = "nodejs"
    SPRING_BOOT = "springBoot"
    KAFKA_SPRING_BOOT = "kafka-springBoot"
    JMS_SPRING_BOOT = "jms-springBoot"
    DAPR = "dapr"

    #: The spec's enum (2024-04-01).
    SPEC: ClassVar[tuple[str, ...]] = (
        "none", "dotnet", "java", "python", "go", "php", "ruby", "django", "nodejs", "springBoot",
        "kafka-springBoot", "jms-springBoot", "dapr",
    )  # fmt: skip


class AuthType:
    """`authInfo.authType` values."""

    SYSTEM_ASSIGNED_IDENTITY = "systemAssignedIdentity"
    USER_ASSIGNED_IDENTITY = "userAssignedIdentity"
    SERVICE_PRINCIPAL_SECRET = "servicePrincipalSecret"
    SERVICE_PRINCIPAL_CERTIFICATE = "servicePrincipalCertificate"
    SECRET = "secret"
    ACCESS_KEY = "accessKey"
    USER_ACCOUNT = "userAccount"
    EASY_AUTH_MICROSOFT_ENTRA_ID = "easyAuthMicrosoftEntraID"


class TargetServiceType:
    AZURE_RESOURCE = "AzureResource"
    CONFLUENT_BOOTSTRAP_SERVER = "ConfluentBootstrapServer"
    CONFLUENT_SCHEMA_REGISTRY = "ConfluentSchemaRegistry"
    SELF_HOSTED_SERVER = "SelfHostedServer"
    FABRIC_PLATFORM = "FabricPlatform"


class SecretType:
    RAW_VALUE = "rawValue"
    KEY_VAULT_SECRET_URI = "keyVaultSecretUri"
    KEY_VAULT_SECRET_REFERENCE = "keyVaultSecretReference"


class AuthMode:
    OPT_IN_ALL_AUTH = "optInAllAuth"
    OPT_OUT_ALL_AUTH = "optOutAllAuth"


class ActionType:
    ENABLE = "enable"
    OPT_OUT = "optOut"


class DeleteOrUpdateBehavior:
    DEFAULT = "Default"
    FORCED_CLEANUP = "ForcedCleanup"


class ProvisioningState:
    ACCEPTED = "Accepted"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"
    UPDATING = "Updating"
    DELETING = "Deleting"


class ConfigurationType:
    DEFAULT = "Default"
    KEY_VAULT_SECRET = "KeyVaultSecret"


# --------------------------------------------------------------------------------------------- base


class _Model(BaseModel):
    """Base: camelCase aliases, names accepted, unknown members kept, secrets dropped in responses."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    #: Python names of this model's `x-ms-secret` fields.
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_secrets(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        context = info.context
        if self.secret_fields and isinstance(data, dict) and isinstance(context, dict) and context.get(
            RESPONSE_CONTEXT
        ):
            for name in self.secret_fields:
                data.pop(name, None)
                alias = type(self).model_fields[name].alias
                if alias:
                    data.pop(alias, None)
        return data

    def response_dump(self) -> dict[str, Any]:
        """JSON-ready dict for an HTTP response: camelCase, no null members, no secrets."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, context={RESPONSE_CONTEXT: True})

    def request_dump(self) -> dict[str, Any]:
        """JSON-ready dict with secrets kept (for sending a PUT, or persisting encrypted)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------------------------- targetService


class AzureKeyVaultProperties(_Model):
    type: Literal["KeyVault"] = "KeyVault"
    connect_as_kubernetes_csi_driver: bool | None = None


class AzureAppConfigProperties(_Model):
    """2024-07-01-preview."""

    type: Literal["AppConfig"] = "AppConfig"
    connect_with_kubernetes_extension: bool | None = None


AzureResourceProperties = Annotated[
    AzureKeyVaultProperties | AzureAppConfigProperties, Field(discriminator="type")
]


class AzureResource(_Model):
    type: Literal["AzureResource"] = "AzureResource"
    id: str | None = None
    resource_properties: AzureResourceProperties | None = None


class ConfluentBootstrapServer(_Model):
    type: Literal["ConfluentBootstrapServer"] = "ConfluentBootstrapServer"
    endpoint: str | None = None


class ConfluentSchemaRegistry(_Model):
    type: Literal["ConfluentSchemaRegistry"] = "ConfluentSchemaRegistry"
    endpoint: str | None = None


class SelfHostedServer(_Model):
    type: Literal["SelfHostedServer"] = "SelfHostedServer"
    endpoint: str | None = None


class FabricPlatform(_Model):
    """2024-07-01-preview."""

    type: Literal["FabricPlatform"] = "FabricPlatform"
    endpoint: str | None = None


TargetService = Annotated[
    AzureResource | ConfluentBootstrapServer | ConfluentSchemaRegistry | SelfHostedServer | FabricPlatform,
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------------------------- authInfo


class ValueSecretInfo(_Model):
    secret_type: Literal["rawValue"] = "rawValue"
    value: str | None = None

    secret_fields: ClassVar[frozenset[str]] = frozenset({"value"})

    def __repr_args__(self) -> Any:
        return [(k, "***" if k == "value" and v is not None else v) for k, v in super().__repr_args__()]


class KeyVaultSecretUriSecretInfo(_Model):
    secret_type: Literal["keyVaultSecretUri"] = "keyVaultSecretUri"
    value: str | None = None


class KeyVaultSecretReferenceSecretInfo(_Model):
    secret_type: Literal["keyVaultSecretReference"] = "keyVaultSecretReference"
    name: str | None = None
    version: str | None = None


SecretInfo = Annotated[
    ValueSecretInfo | KeyVaultSecretUriSecretInfo | KeyVaultSecretReferenceSecretInfo,
    Field(discriminator="secret_type"),
]


class _AuthBase(_Model):
    auth_mode: str | None = None

    def __repr_args__(self) -> Any:
        return [(k, "***" if k in self.secret_fields and v is not None else v) for k, v in super().__repr_args__()]


class SecretAuthInfo(_AuthBase):
    auth_type: Literal["secret"] = "secret"
    name: str | None = None
    secret_info: SecretInfo | None = None


class UserAssignedIdentityAuthInfo(_AuthBase):
    auth_type: Literal["userAssignedIdentity"] = "userAssignedIdentity"
    client_id: str | None = None
    subscription_id: str | None = None
    user_name: str | None = None
    delete_or_update_behavior: str | None = None
    roles: list[str] | None = None


class SystemAssignedIdentityAuthInfo(_AuthBase):
    auth_type: Literal["systemAssignedIdentity"] = "systemAssignedIdentity"
    user_name: str | None = None
    delete_or_update_behavior: str | None = None
    roles: list[str] | None = None


class ServicePrincipalSecretAuthInfo(_AuthBase):
    auth_type: Literal["servicePrincipalSecret"] = "servicePrincipalSecret"
    client_id: str | None = None
    principal_id: str | None = None
    secret: str | None = None
    user_name: str | None = None
    delete_or_update_behavior: str | None = None
    roles: list[str] | None = None

    secret_fields: ClassVar[frozenset[str]] = frozenset({"secret"})


class ServicePrincipalCertificateAuthInfo(_AuthBase):
    auth_type: Literal["servicePrincipalCertificate"] = "servicePrincipalCertificate"
    client_id: str | None = None
    principal_id: str | None = None
    certificate: str | None = None
    delete_or_update_behavior: str | None = None
    roles: list[str] | None = None

    secret_fields: ClassVar[frozenset[str]] = frozenset({"certificate"})


class AccessKeyInfo(_AuthBase):
    """`permissions`: Read, Write (Cosmos, App Config) or Listen, Send, Manage (Event Hubs, Service Bus)."""

    auth_type: Literal["accessKey"] = "accessKey"
    permissions: list[str] | None = None


class UserAccountAuthInfo(_AuthBase):
    auth_type: Literal["userAccount"] = "userAccount"
    principal_id: str | None = None
    user_name: str | None = None
    delete_or_update_behavior: str | None = None
    roles: list[str] | None = None


class EasyAuthMicrosoftEntraIDAuthInfo(_AuthBase):
    auth_type: Literal["easyAuthMicrosoftEntraID"] = "easyAuthMicrosoftEntraID"
    client_id: str | None = None
    secret: str | None = None
    delete_or_update_behavior: str | None = None

    secret_fields: ClassVar[frozenset[str]] = frozenset({"secret"})


AuthInfo = Annotated[
    SecretAuthInfo
    | UserAssignedIdentityAuthInfo
    | SystemAssignedIdentityAuthInfo
    | ServicePrincipalSecretAuthInfo
    | ServicePrincipalCertificateAuthInfo
    | AccessKeyInfo
    | UserAccountAuthInfo
    | EasyAuthMicrosoftEntraIDAuthInfo,
    Field(discriminator="auth_type"),
]


# --------------------------------------------------------------------------------------------- other properties


class VNetSolution(_Model):
    type: str | None = None
    delete_or_update_behavior: str | None = None


class SecretStore(_Model):
    key_vault_id: str | None = None
    key_vault_secret_name: str | None = None


class FirewallRules(_Model):
    ip_ranges: list[str] | None = None
    azure_services: str | None = None
    caller_client_ip: str | None = Field(default=None, alias="callerClientIP")


class PublicNetworkSolution(_Model):
    delete_or_update_behavior: str | None = None
    action: str | None = None
    firewall_rules: FirewallRules | None = None


class DaprMetadata(_Model):
    name: str | None = None
    value: str | None = None
    secret_ref: str | None = None
    description: str | None = None
    required: str | None = None


class DaprProperties(_Model):
    version: str | None = None
    component_type: str | None = None
    secret_store_component: str | None = None
    metadata: list[DaprMetadata] | None = None
    scopes: list[str] | None = None
    runtime_version: str | None = None
    binding_component_direction: str | None = None


class ConfigurationStore(_Model):
    app_configuration_id: str | None = None


class ConfigurationInfo(_Model):
    delete_or_update_behavior: str | None = None
    action: str | None = None
    customized_keys: dict[str, str] | None = None
    dapr_properties: DaprProperties | None = None
    additional_configurations: dict[str, str] | None = None
    additional_connection_string_properties: dict[str, str] | None = None
    configuration_store: ConfigurationStore | None = None


class LinkerProperties(_Model):
    target_service: TargetService | None = None
    auth_info: AuthInfo | None = None
    client_type: str | None = None
    provisioning_state: str | None = None
    v_net_solution: VNetSolution | None = Field(default=None, alias="vNetSolution")
    secret_store: SecretStore | None = None
    scope: str | None = None
    public_network_solution: PublicNetworkSolution | None = None
    configuration_info: ConfigurationInfo | None = None

    @property
    def target_id(self) -> str | None:
        """The ARM id of an `AzureResource` target, else None."""
        return self.target_service.id if isinstance(self.target_service, AzureResource) else None

    @property
    def connects_with_appconfig_extension(self) -> bool:
        """True for an App Configuration linker read by the cluster's App Configuration extension (2024-07-01-preview
        `resourceProperties: {type: AppConfig, connectWithKubernetesExtension: true}`)."""
        target = self.target_service
        return (
            isinstance(target, AzureResource)
            and isinstance(target.resource_properties, AzureAppConfigProperties)
            and bool(target.resource_properties.connect_with_kubernetes_extension)
        )

    @property
    def connects_as_csi_driver(self) -> bool:
        """True for a Key Vault linker delivered through the secrets-store CSI driver (AKS)."""
        target = self.target_service
        return (
            isinstance(target, AzureResource)
            and isinstance(target.resource_properties, AzureKeyVaultProperties)
            and bool(target.resource_properties.connect_as_kubernetes_csi_driver)
        )


class SystemData(_Model):
    created_by: str | None = None
    created_by_type: str | None = None
    created_at: str | None = None
    last_modified_by: str | None = None
    last_modified_by_type: str | None = None
    last_modified_at: str | None = None


class LinkerResource(_Model):
    """A linker (ARM proxy resource). `properties` is required on PUT."""

    id: str | None = None
    name: str | None = None
    type: str | None = None
    system_data: SystemData | None = None
    properties: LinkerProperties = Field(default_factory=LinkerProperties)

    def to_response(self) -> dict[str, Any]:
        """The body of a GET/PUT response as Azure gives it: secrets dropped, nulls omitted except `vNetSolution`
        (Azure returns it as null), and a secret connection whose value was not given (keys read from the
        target) still says `secretInfo: {secretType: rawValue}`, which az's update reads."""
        body = self.response_dump()
        props = body.setdefault("properties", {})
        props.setdefault("vNetSolution", None)
        auth = props.get("authInfo")
        if isinstance(auth, dict) and auth.get("authType") == "secret" and "secretInfo" not in auth:
            auth["secretInfo"] = {"secretType": "rawValue"}
        return body


class LinkerPatch(_Model):
    properties: LinkerProperties | None = None


class ResourceList(_Model):
    """`Linker_List` result (named `LinkerList` in 2022-05-01)."""

    value: list[LinkerResource] | None = None
    next_link: str | None = None
