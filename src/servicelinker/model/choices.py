"""The closed sets of values a linker's body may hold, checked before anything is recorded.

The specification marks these enums `modelAsString` (clients must accept values a later api-version adds), which
is why the model keeps them as plain strings; a server, though, must not accept a value it cannot act on: an
unknown `authMode` or `action` would be stored, answered with 201 and then silently ignored. Every member named
here is refused with the field and the allowed values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from servicelinker.model.errors import ArmError, ErrorCode, shown
from servicelinker.model.ids import is_valid_resource_id
from servicelinker.model.linker import (
    ActionType,
    AuthMode,
    DeleteOrUpdateBehavior,
    LinkerProperties,
)

ACTIONS = (ActionType.ENABLE, ActionType.OPT_OUT)
AUTH_MODES = (AuthMode.OPT_IN_ALL_AUTH, AuthMode.OPT_OUT_ALL_AUTH)
BEHAVIOURS = (DeleteOrUpdateBehavior.DEFAULT, DeleteOrUpdateBehavior.FORCED_CLEANUP)
ALLOW_TYPES = ("true", "false")
VNET_TYPES = ("serviceEndpoint", "privateLink")
#: A login name longer than any target accepts (PostgreSQL 63, MySQL 32, SQL 128) is a mistake, not a name.
MAX_USER_NAME = 128


def _one_of(value: str | None, allowed: Iterable[str], field: str) -> None:
    options = tuple(allowed)
    if value is not None and value not in options:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"'{shown(value)}' is not a valid value of {field}.",
            target=field,
            remedy=f"Use one of: {', '.join(options)}.",
        )


def _ip_range(text: str) -> bool:
    """`a.b.c.d`, a CIDR block, or `first-last`, as ARM's firewall rules take them."""
    parts = text.split("-")
    try:
        if len(parts) == 2:
            ipaddress.ip_address(parts[0].strip())
            ipaddress.ip_address(parts[1].strip())
        elif len(parts) == 1:
            ipaddress.ip_network(text.strip(), strict=False)
        else:
            return False
    except ValueError:
        return False
    return True


def check_choices(props: LinkerProperties) -> None:
    """Every enumerated member of the body holds a value the service acts on."""
    auth = props.auth_info
    if auth is not None:
        _one_of(auth.auth_mode, AUTH_MODES, "properties.authInfo.authMode")
        _one_of(getattr(auth, "delete_or_update_behavior", None), BEHAVIOURS,
                "properties.authInfo.deleteOrUpdateBehavior")  # fmt: skip
        name = getattr(auth, "name", None)
        if isinstance(name, str) and (len(name) > MAX_USER_NAME or not name.isprintable()):
            raise ArmError(ErrorCode.INVALID_ARGUMENT_VALUE,
                           f"properties.authInfo.name is not a user name: more than {MAX_USER_NAME} characters or "
                           "control characters.", target="properties.authInfo.name",
                           remedy="Give the database user's login name.")  # fmt: skip
    network = props.public_network_solution
    if network is not None:
        _one_of(network.action, ACTIONS, "properties.publicNetworkSolution.action")
        _one_of(network.delete_or_update_behavior, BEHAVIOURS,
                "properties.publicNetworkSolution.deleteOrUpdateBehavior")  # fmt: skip
        rules = network.firewall_rules
        if rules is not None:
            where = "properties.publicNetworkSolution.firewallRules"
            _one_of(rules.caller_client_ip, ALLOW_TYPES, f"{where}.callerClientIP")
            _one_of(rules.azure_services, ALLOW_TYPES, f"{where}.azureServices")
            bad = [r for r in rules.ip_ranges or () if not _ip_range(r)]
            if bad:
                raise ArmError(ErrorCode.INVALID_ARGUMENT_VALUE,
                               f"'{shown(bad[0])}' is not an IP address, CIDR block or range.",
                               target=f"{where}.ipRanges", remedy="Give e.g. 203.0.113.7, 203.0.113.0/24 or "
                               "203.0.113.1-203.0.113.9.")  # fmt: skip
    if props.v_net_solution is not None:
        _one_of(props.v_net_solution.type, VNET_TYPES, "properties.vNetSolution.type")
        _one_of(props.v_net_solution.delete_or_update_behavior, BEHAVIOURS,
                "properties.vNetSolution.deleteOrUpdateBehavior")  # fmt: skip
    store = props.secret_store
    if store is not None and store.key_vault_id and not is_valid_resource_id(store.key_vault_id):
        raise ArmError(ErrorCode.INVALID_RESOURCE_ID, f"Resource id is invalid: {shown(store.key_vault_id)}",
                       target="properties.secretStore.keyVaultId",
                       remedy="Give the Key Vault's resource id (/subscriptions/.../vaults/<name>).")  # fmt: skip
    if store is not None and (store.key_vault_id or store.key_vault_secret_name):
        # accepted and then ignored, the value would still land in a plain Secret: refused instead
        raise ArmError(ErrorCode.UNSUPPORTED_COMBINATION,
                       "Keeping an AKS connection's secret in a Key Vault (properties.secretStore) is not supported: "
                       "servicelinker delivers the values as a Kubernetes Secret in the connection's namespace.",
                       target="properties.secretStore.keyVaultId",
                       remedy="Drop properties.secretStore (az: --vault-id), or connect the workload to the vault "
                       "itself (`aks connection create keyvault --enable-csi`).")  # fmt: skip
    info = props.configuration_info
    if info is not None:
        _one_of(info.action, ACTIONS, "properties.configurationInfo.action")
        _one_of(info.delete_or_update_behavior, BEHAVIOURS, "properties.configurationInfo.deleteOrUpdateBehavior")
        if info.dapr_properties is not None:
            raise ArmError(ErrorCode.UNSUPPORTED_COMBINATION,
                           "Dapr components are not delivered to AKS clusters: daprProperties applies to Container "
                           "Apps.", target="properties.configurationInfo.daprProperties",
                           remedy="Drop configurationInfo.daprProperties.")  # fmt: skip
