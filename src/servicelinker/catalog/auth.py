"""Auth types: the CLI's names (reference §2.4, §3) and what each one is in the REST `authInfo`.

| CLI name            | flag                                   | REST `authInfo.authType` | configuration key   |
|---------------------|----------------------------------------|--------------------------|---------------------|
| `workload-identity` | `--workload-identity <uami id>`        | `userAssignedIdentity`   | userAssignedIdentity|
| `secret(auto)`      | `--secret` (no keys; RP reads the keys)| `secret`                 | secret              |
| `secret`            | `--secret name=.. secret=..`           | `secret`                 | secret              |
| `service-principal` | `--service-principal client-id= ...`   | `servicePrincipalSecret` | servicePrincipalSecret |
| `csi`               | `--enable-csi` (Key Vault only)        | `userAssignedIdentity`   | csi                 |

There is no workload-identity authType in REST: AKS workload identity *is* `userAssignedIdentity` with the
identity's `clientId`. The Key Vault secrets-store CSI driver path is also `userAssignedIdentity`, but without a
`clientId` (the AKS add-on's identity is used) and with `targetService.resourceProperties =
{type: KeyVault, connectAsKubernetesCsiDriver: true}`; it produces different configuration names, hence its own
configuration key `csi`. `csi` is servicelinker's name for that path (the CLI only has the `--enable-csi` flag);
`list-configuration-names --auth-type csi` is an addition to az's three values.
"""

from __future__ import annotations

from dataclasses import dataclass

from servicelinker.model.linker import AuthType, LinkerProperties

WORKLOAD_IDENTITY = "workload-identity"
SECRET = "secret"
SECRET_AUTO = "secret(auto)"
SERVICE_PRINCIPAL = "service-principal"
CSI = "csi"

#: Configuration-table key of the CSI path (REST authType userAssignedIdentity + connectAsKubernetesCsiDriver).
CSI_CONFIG_KEY = "csi"
#: Configuration-table key of a secret App Configuration connection read by the cluster's App Configuration
#: extension (`connectWithKubernetesExtension`): Azure names its key for the extension, not for the SDKs.
APPCONFIG_EXTENSION_SECRET_KEY = "secret+appconfig-extension"


@dataclass(frozen=True)
class AuthOption:
    """One CLI auth type and its REST meaning."""

    cli_name: str
    flag: str
    rest_auth_type: str
    config_key: str
    #: True when the user supplies the credential (`name=`/`secret=`); False when the RP fetches it itself.
    user_supplied_secret: bool = False


AUTH_OPTIONS: dict[str, AuthOption] = {
    o.cli_name: o
    for o in (
        AuthOption(WORKLOAD_IDENTITY, "--workload-identity", AuthType.USER_ASSIGNED_IDENTITY,
                   AuthType.USER_ASSIGNED_IDENTITY),
        AuthOption(SECRET_AUTO, "--secret", AuthType.SECRET, AuthType.SECRET),
        AuthOption(SECRET, "--secret", AuthType.SECRET, AuthType.SECRET, user_supplied_secret=True),
        AuthOption(SERVICE_PRINCIPAL, "--service-principal", AuthType.SERVICE_PRINCIPAL_SECRET,
                   AuthType.SERVICE_PRINCIPAL_SECRET),
        AuthOption(CSI, "--enable-csi", AuthType.USER_ASSIGNED_IDENTITY, CSI_CONFIG_KEY),
    )
}  # fmt: skip

#: The `--auth-type` values of `list-configuration-names` (az's three, plus `csi`), -> configuration key.
CLI_AUTH_FILTERS: dict[str, str] = {
    SECRET: AuthType.SECRET,
    WORKLOAD_IDENTITY: AuthType.USER_ASSIGNED_IDENTITY,
    SERVICE_PRINCIPAL: AuthType.SERVICE_PRINCIPAL_SECRET,
    CSI: CSI_CONFIG_KEY,
}

#: Configuration key -> REST authType (for `ConfigurationNames.authType`).
CONFIG_KEY_REST_AUTH: dict[str, str] = {
    AuthType.SECRET: AuthType.SECRET,
    AuthType.USER_ASSIGNED_IDENTITY: AuthType.USER_ASSIGNED_IDENTITY,
    AuthType.SERVICE_PRINCIPAL_SECRET: AuthType.SERVICE_PRINCIPAL_SECRET,
    CSI_CONFIG_KEY: AuthType.USER_ASSIGNED_IDENTITY,
    APPCONFIG_EXTENSION_SECRET_KEY: AuthType.SECRET,
}

#: Configuration key -> the CLI name shown to users (secret(auto) and secret share `secret`).
CONFIG_KEY_CLI_NAME: dict[str, str] = {
    AuthType.SECRET: SECRET,
    AuthType.USER_ASSIGNED_IDENTITY: WORKLOAD_IDENTITY,
    AuthType.SERVICE_PRINCIPAL_SECRET: SERVICE_PRINCIPAL,
    CSI_CONFIG_KEY: CSI,
    APPCONFIG_EXTENSION_SECRET_KEY: SECRET,
}


def cli_to_rest(cli_name: str) -> str:
    """REST authType of a CLI auth name (`workload-identity` -> `userAssignedIdentity`); KeyError if unknown."""
    return AUTH_OPTIONS[cli_name].rest_auth_type


def config_key_of(cli_name: str) -> str:
    """Configuration-table key of a CLI auth name."""
    return AUTH_OPTIONS[cli_name].config_key


def config_key_for(properties: LinkerProperties) -> str | None:
    """The configuration-table key of a linker: its authType, or `csi` for the Key Vault CSI path.

    None when the linker has no authInfo (auth and configuration opted out).
    """
    if properties.auth_info is None:
        return None
    if properties.connects_as_csi_driver:
        return CSI_CONFIG_KEY
    if properties.connects_with_appconfig_extension and properties.auth_info.auth_type == AuthType.SECRET:
        return APPCONFIG_EXTENSION_SECRET_KEY
    return properties.auth_info.auth_type


def rest_to_cli(rest_auth_type: str, *, csi: bool = False, user_supplied_secret: bool = False) -> str | None:
    """CLI auth name of a REST authType (None for types the AKS CLI does not offer)."""
    if csi:
        return CSI
    if rest_auth_type == AuthType.SECRET:
        return SECRET if user_supplied_secret else SECRET_AUTO
    return {
        AuthType.USER_ASSIGNED_IDENTITY: WORKLOAD_IDENTITY,
        AuthType.SERVICE_PRINCIPAL_SECRET: SERVICE_PRINCIPAL,
    }.get(rest_auth_type)
