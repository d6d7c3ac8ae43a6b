"""The limits Kubernetes and the operator impose on what a connection delivers, checked before anything is
recorded (the request's own values) and again before anything is written (the composed configurations), so a
request the cluster would refuse is refused at once, with the field named, instead of failing later.

* Secret keys: `[-._a-zA-Z0-9]+`, at most 253 characters (Kubernetes' rule for Secret data keys).
* A Secret holds at most 1 MiB; we keep every delivered Secret under `MAX_SECRET_BYTES` of values.
* The ServiceConnection carries the non-credential values inline, and the operator keeps a copy of its spec in an
  annotation (annotations share a 256 KiB budget), so inline keys and values stay under `MAX_INLINE_BYTES`.
* At most `MAX_CONFIGURATIONS` keys; a value a user gives (password, additional configuration, connection-string
  property, customized key) is at most `MAX_VALUE_BYTES`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from servicelinker.model.errors import ArmError, ErrorCode, shown
from servicelinker.model.linker import LinkerProperties, SecretAuthInfo, ServicePrincipalSecretAuthInfo, ValueSecretInfo
from servicelinker.model.records import Configuration

SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_KEY_LENGTH = 253
MAX_CONFIGURATIONS = 256
MAX_VALUE_BYTES = 64 * 1024
MAX_INLINE_BYTES = 128 * 1024
MAX_SECRET_BYTES = 768 * 1024
CONFIG_INFO = "properties.configurationInfo"


def _too_long(what: str, target: str, limit: int) -> ArmError:
    return ArmError(ErrorCode.INVALID_ARGUMENT_VALUE, f"{what} is longer than {limit} bytes.", target=target,
                    remedy=f"Keep it within {limit} bytes.")  # fmt: skip


def check_key(key: str, target: str) -> None:
    """A name that becomes a key of the delivered Secret."""
    if not SECRET_KEY.match(key) or len(key) > MAX_KEY_LENGTH:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"'{shown(key)}' is not a valid configuration name: a Kubernetes Secret key has 1 to {MAX_KEY_LENGTH} "
            "letters, digits, '-', '_' or '.'.",
            target=target,
            remedy="Rename it to letters, digits, '-', '_' and '.' only (for example AZURE_MY_SETTING).",
        )


def _check_values(values: Mapping[str, str], target: str) -> None:
    for key, value in values.items():
        if len(key.encode()) > MAX_VALUE_BYTES or len(value.encode()) > MAX_VALUE_BYTES:
            raise _too_long(f"The value of '{shown(key)}'", f"{target}.{shown(key)}", MAX_VALUE_BYTES)


def check_request(props: LinkerProperties) -> None:
    """What a request itself carries: the names it renames to or adds, and the sizes of the values it gives."""
    info = props.configuration_info
    if info is not None:
        for default, custom in (info.customized_keys or {}).items():
            check_key(default, f"{CONFIG_INFO}.customizedKeys")
            check_key(custom, f"{CONFIG_INFO}.customizedKeys.{shown(default)}")
        extra = info.additional_configurations or {}
        if len(extra) > MAX_CONFIGURATIONS:
            raise ArmError(ErrorCode.INVALID_ARGUMENT_VALUE,
                           f"{len(extra)} additional configurations are more than the {MAX_CONFIGURATIONS} a "
                           "connection delivers.", target=f"{CONFIG_INFO}.additionalConfigurations",
                           remedy=f"Deliver at most {MAX_CONFIGURATIONS} configurations.")  # fmt: skip
        for key in extra:
            check_key(key, f"{CONFIG_INFO}.additionalConfigurations")
        _check_values(extra, f"{CONFIG_INFO}.additionalConfigurations")
        if sum(len(k.encode()) + len(v.encode()) for k, v in extra.items()) > MAX_INLINE_BYTES:
            raise _too_long("The additional configurations", f"{CONFIG_INFO}.additionalConfigurations",
                            MAX_INLINE_BYTES)  # fmt: skip
        _check_values(info.additional_connection_string_properties or {},
                      f"{CONFIG_INFO}.additionalConnectionStringProperties")  # fmt: skip
    auth = props.auth_info
    given = {"name": getattr(auth, "name", None), "clientId": getattr(auth, "client_id", None)}
    if isinstance(auth, SecretAuthInfo) and isinstance(auth.secret_info, ValueSecretInfo):
        given["secretInfo.value"] = auth.secret_info.value
    if isinstance(auth, ServicePrincipalSecretAuthInfo):
        given["secret"] = auth.secret
    for field, value in given.items():
        if isinstance(value, str) and len(value.encode()) > MAX_VALUE_BYTES:
            raise _too_long(f"properties.authInfo.{field}", f"properties.authInfo.{field}", MAX_VALUE_BYTES)


def check_names(names: list[str]) -> None:
    """The names a linker will deliver: each a valid Secret key, none twice, not too many."""
    if len(names) > MAX_CONFIGURATIONS:
        raise ArmError(ErrorCode.INVALID_ARGUMENT_VALUE, f"The connection would deliver {len(names)} "
                       f"configurations, more than {MAX_CONFIGURATIONS}.", target=CONFIG_INFO,
                       remedy="Remove additional configurations.")  # fmt: skip
    seen: set[str] = set()
    for name in names:
        check_key(name, f"{CONFIG_INFO}.customizedKeys")
        if name in seen:
            raise ArmError(ErrorCode.INVALID_ARGUMENT_VALUE, f"Two configurations would be named '{shown(name)}'.",
                           target=f"{CONFIG_INFO}.customizedKeys",
                           remedy="Rename each configuration to a name of its own.")  # fmt: skip
        seen.add(name)


def check_configurations(configs: Iterable[Configuration]) -> None:
    """The composed configurations, before they are written: key syntax, uniqueness, count and sizes."""
    items = list(configs)
    check_names([c.name for c in items])
    inline = sum(len(c.name.encode()) + len(c.value.encode()) for c in items if not c.credential)
    total = sum(len(c.name.encode()) + len(c.value.encode()) for c in items)
    if inline > MAX_INLINE_BYTES:
        raise _too_long("The connection's non-credential configurations", CONFIG_INFO, MAX_INLINE_BYTES)
    if total > MAX_SECRET_BYTES:
        raise _too_long("The connection's configurations", CONFIG_INFO, MAX_SECRET_BYTES)
