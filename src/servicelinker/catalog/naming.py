"""Names: connection names, and the Kubernetes objects a connection produces (reference §2.6, §2.8, §5.1).

* Connection names must match `^[A-Za-z0-9._]+$` (the CLI's rule; hyphens are rejected, azure-cli#30268), else
  `Resource name can only contain letters (A-Z, a-z), numbers (0-9), periods ('.'), and underscores ('_')`.
* Default name: `<target without dashes>_<5 chars>`, the 5 chars a sample *without replacement* of `[a-z0-9]`
  (e.g. `storageblob_k3x9q`).
* Confluent Cloud creates `<name>` and `<name>_schema`; a given name must not end with `_schema`.
* Secret: `sc-<alphanumerics of the connection name>-secret`.
  **Decision (NOT FOUND whether the RP lowercases):** the name is lowercased, because Kubernetes object names
  must be RFC 1123 subdomains (lowercase); `storage_Conn` -> `sc-storageconn-secret`. For the lowercase names the
  CLI generates this is identical to the CLI's `kubernetesResourceName` transform. The alphanumeric part is cut so
  the whole name stays within 253 characters.
* ServiceAccount (workload identity, not CSI): `sc-account-<clientId>`, lowercased (client ids are GUIDs).
"""

from __future__ import annotations

import random
import re
import string

from servicelinker.model.errors import ArmError, ErrorCode, shown
from servicelinker.model.linker import LinkerProperties, UserAssignedIdentityAuthInfo

CONNECTION_NAME_PATTERN = re.compile(r"^[A-Za-z0-9._]+$")
CONNECTION_NAME_ERROR = (
    "Resource name can only contain letters (A-Z, a-z), numbers (0-9), periods ('.'), and underscores ('_')"
)
#: Azure publishes no maximum (NOT FOUND in the reference); 128 keeps every name derived from it (the Secret
#: `sc-<name>-secret`, the store's keys) within Kubernetes' and the store's limits.
CONNECTION_NAME_MAX = 128
CONNECTION_NAME_LENGTH_ERROR = f"Resource name must be at most {CONNECTION_NAME_MAX} characters long."
SCHEMA_SUFFIX = "_schema"
#: The Kubernetes namespace of a connection that names none (`--kube-namespace` default; applied once, by the plan).
DEFAULT_NAMESPACE = "default"
NAME_ALPHABET = string.ascii_lowercase + string.digits
K8S_NAME_MAX = 253
SECRET_PREFIX = "sc-"
SECRET_SUFFIX = "-secret"
SERVICE_ACCOUNT_PREFIX = "sc-account-"
_RFC1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def validate_connection_name(name: str, *, target: str = "--connection") -> str:
    """Return `name` if it is a valid connection name; `ArmError(InvalidArgumentValue)` with Azure's text otherwise."""
    if not isinstance(name, str) or not CONNECTION_NAME_PATTERN.fullmatch(name):
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            CONNECTION_NAME_ERROR,
            target=target,
            remedy=f"Rename the connection '{shown(name)}' (for example replace '-' with '_').",
        )
    if len(name) > CONNECTION_NAME_MAX:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            CONNECTION_NAME_LENGTH_ERROR,
            target=target,
            remedy=f"Choose a name of at most {CONNECTION_NAME_MAX} characters.",
        )
    return name


def validate_confluent_name(name: str, *, target: str = "--connection") -> str:
    """Confluent Cloud names must be valid and must not end with `_schema` (that name is the second linker)."""
    validate_connection_name(name, target=target)
    if name.endswith(SCHEMA_SUFFIX):
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            "Connection name of confluent-cloud can not end with '_schema'",
            target=target,
            remedy="Choose a name without the '_schema' suffix; the schema registry connection gets it.",
        )
    return name


def schema_connection_name(name: str) -> str:
    """The Confluent schema registry linker's name."""
    return name + SCHEMA_SUFFIX


def generate_connection_name(target_name: str, rng: random.Random | None = None) -> str:
    """`<target without dashes>_<5 distinct random [a-z0-9]>`, as the CLI does."""
    chooser = rng or random.SystemRandom()
    return f"{target_name.replace('-', '')}_{''.join(chooser.sample(NAME_ALPHABET, 5))}"


def _alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and ch.isalnum())


def secret_name(connection_name: str) -> str:
    """`sc-<alnum(name)>-secret`, lowercased and within 253 characters (see module docstring)."""
    room = K8S_NAME_MAX - len(SECRET_PREFIX) - len(SECRET_SUFFIX)
    return f"{SECRET_PREFIX}{_alnum(connection_name).lower()[:room]}{SECRET_SUFFIX}"


def service_account_name(client_id: str) -> str:
    """`sc-account-<clientId>` (lowercased)."""
    return f"{SERVICE_ACCOUNT_PREFIX}{client_id.lower()}"[:K8S_NAME_MAX]


def is_valid_kubernetes_name(name: str) -> bool:
    """RFC 1123 subdomain: lowercase alphanumerics, '-' and '.', at most 253 characters."""
    return len(name) <= K8S_NAME_MAX and bool(_RFC1123_SUBDOMAIN.fullmatch(name))


def kubernetes_resource_names(connection_name: str, properties: LinkerProperties) -> dict[str, str]:
    """The CLI's `kubernetesResourceName`: `{"secret": ...}` plus `"serviceAccount"` for workload identity."""
    names = {"secret": secret_name(connection_name)}
    info = properties.auth_info
    if isinstance(info, UserAssignedIdentityAuthInfo) and info.client_id and not properties.connects_as_csi_driver:
        names["serviceAccount"] = service_account_name(info.client_id)
    return names
