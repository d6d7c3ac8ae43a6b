"""The results of the resource provider's actions, in the 2024-04-01 schema: validation, configurations,
configuration names, Dapr configurations and dryruns (linker.py has the linker itself and its parts).

Pure data: no I/O.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from servicelinker.model.linker import DaprProperties, LinkerProperties, SystemData, _Model

# --------------------------------------------------------------------------------------------- results


class ValidationResultItem(_Model):
    name: str | None = None
    description: str | None = None
    result: str | None = None
    error_message: str | None = None
    error_code: str | None = None


class ValidateResult(_Model):
    linker_name: str | None = None
    is_connection_available: bool | None = None
    report_start_time_utc: str | None = None
    report_end_time_utc: str | None = None
    source_id: str | None = None
    target_id: str | None = None
    auth_type: str | None = None
    validation_detail: list[ValidationResultItem] | None = None


class ValidateOperationResult(_Model):
    properties: ValidateResult | None = None
    resource_id: str | None = None
    status: str | None = None


class SourceConfiguration(_Model):
    name: str | None = None
    value: str | None = None
    config_type: str | None = None
    key_vault_reference_identity: str | None = None
    description: str | None = None


class ConfigurationResult(_Model):
    configurations: list[SourceConfiguration] | None = None


class ConfigurationName(_Model):
    """One configuration name. `credential` is servicelinker's extension: the value is hidden by list-configuration."""

    value: str | None = None
    description: str | None = None
    required: bool | None = None
    credential: bool | None = None


class ConfigurationNames(_Model):
    target_service: str | None = None
    client_type: str | None = None
    auth_type: str | None = None
    secret_type: str | None = None
    dapr_properties: DaprProperties | None = None
    names: list[ConfigurationName] | None = None


class ConfigurationNameItem(_Model):
    properties: ConfigurationNames | None = None


class ConfigurationNameResult(_Model):
    value: list[ConfigurationNameItem] | None = None
    next_link: str | None = None


class DaprConfigurationProperties(_Model):
    target_type: str | None = None
    auth_type: str | None = None
    dapr_properties: DaprProperties | None = None


class DaprConfigurationResource(_Model):
    properties: DaprConfigurationProperties | None = None


class DaprConfigurationList(_Model):
    value: list[DaprConfigurationResource] | None = None
    next_link: str | None = None


# --------------------------------------------------------------------------------------------- dryrun


class CreateOrUpdateDryrunParameters(LinkerProperties):
    action_name: Literal["createOrUpdate"] = "createOrUpdate"


DryrunParameters = Annotated[CreateOrUpdateDryrunParameters, Field(discriminator="action_name")]


class BasicErrorDryrunPrerequisiteResult(_Model):
    type: Literal["basicError"] = "basicError"
    code: str | None = None
    message: str | None = None


class PermissionsMissingDryrunPrerequisiteResult(_Model):
    type: Literal["permissionsMissing"] = "permissionsMissing"
    scope: str | None = None
    permissions: list[str] | None = None
    recommended_role: str | None = None


DryrunPrerequisiteResult = Annotated[
    BasicErrorDryrunPrerequisiteResult | PermissionsMissingDryrunPrerequisiteResult, Field(discriminator="type")
]


class DryrunOperationPreview(_Model):
    """`operationType`: configConnection | configNetwork | configAuth."""

    name: str | None = None
    operation_type: str | None = None
    description: str | None = None
    action: str | None = None
    scope: str | None = None


class DryrunProperties(_Model):
    parameters: DryrunParameters | None = None
    prerequisite_results: list[DryrunPrerequisiteResult] | None = None
    operation_previews: list[DryrunOperationPreview] | None = None
    provisioning_state: str | None = None


class DryrunResource(_Model):
    id: str | None = None
    name: str | None = None
    type: str | None = None
    system_data: SystemData | None = None
    properties: DryrunProperties = Field(default_factory=DryrunProperties)

    def to_response(self) -> dict[str, Any]:
        return self.response_dump()


class DryrunPatch(_Model):
    properties: DryrunProperties | None = None


class DryrunList(_Model):
    value: list[DryrunResource] | None = None
    next_link: str | None = None
