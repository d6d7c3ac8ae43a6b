"""Key Vault data-plane constants and errors (Key Vault's codes and wording)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

log = logging.getLogger("servicelinker.keyvault")

KEYVAULT_RESOURCE = "https://vault.azure.net"
AUDIENCES = (KEYVAULT_RESOURCE, KEYVAULT_RESOURCE + "/")
LOCAL_TENANT = "00000000-0000-0000-0000-000000000000"
DEFAULT_AUTHORITY = f"https://login.microsoftonline.com/{LOCAL_TENANT}"
#: The versions of the Key Vault data plane this server answers; newer SDKs default to the dated ones.
API_VERSIONS = frozenset({"2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-04-01"})
LATEST_API_VERSION = "2026-04-01"
NAME_RE = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
RECOVERY_LEVEL = "Recoverable+Purgeable"
MAX_PAGE = 25
MAX_VALUE_BYTES = 25 * 1024
MAX_TAGS = 15
PERMISSIONS = ("get", "list", "set", "delete", "recover", "purge")
#: Built-in Key Vault RBAC roles an access file may name instead of permissions.
ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "key vault secrets user": frozenset({"get", "list"}),
    "key vault secrets officer": frozenset(PERMISSIONS),
    "key vault administrator": frozenset(PERMISSIONS),
}
HELP_NOT_FOUND = "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
HELP_FORBIDDEN = "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"


class KeyVaultError(Exception):
    """An error answered in Key Vault's shape: `{"error": {"code", "message", "innererror"?}}`."""

    def __init__(
        self, status: int, code: str, message: str, inner: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner = inner
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            error["innererror"] = {"code": self.inner}
        return JSONResponse({"error": error}, status_code=self.status, headers=self.headers)


def bad_parameter(message: str) -> KeyVaultError:
    return KeyVaultError(400, "BadParameter", message)


def secret_not_found(name: str, version: str | None = None) -> KeyVaultError:
    ident = f"{name}/{version}" if version else name
    return KeyVaultError(
        404,
        "SecretNotFound",
        f"A secret with (name/id) {ident} was not found in this key vault. If you recently deleted this secret you "
        f"may be able to recover it using the correct recovery command. {HELP_NOT_FOUND}",
    )


def deleted_secret_not_found(name: str) -> KeyVaultError:
    return KeyVaultError(404, "SecretNotFound", f"Deleted Secret not found: {name}")
