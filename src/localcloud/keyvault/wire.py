"""Request parsing and response rendering in the Key Vault wire format (bundles, items, paging)."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import Request

from localcloud.keyvault.protocol import (
    HOST_RE,
    LATEST_API_VERSION,
    MAX_PAGE,
    MAX_TAGS,
    MAX_VALUE_BYTES,
    NAME_RE,
    RECOVERY_LEVEL,
    bad_parameter,
)
from localcloud.keyvault.store import (
    Secret,
    SecretChanges,
    SecretVersion,
)

# ------------------------------------------------------------------------------------------- request parsing


def vault_base_url(request: Request) -> str:
    """The vault URL as the client addressed it, so the ids we return point back to the same place."""
    host = request.headers.get("host", "")
    if not HOST_RE.match(host):
        raise bad_parameter("The Host header is invalid.")
    return f"{request.url.scheme}://{host}"


def parse_changes(body: Any, *, require_value: bool) -> tuple[str | None, SecretChanges]:
    """Validate a SecretSetParameters/SecretUpdateParameters body. Messages name fields, never echo values."""
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    value = body.get("value")
    if require_value:
        if not isinstance(value, str):
            raise bad_parameter("The property 'value' is required and must be a string.")
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise bad_parameter(f"The secret value is too large; the maximum is {MAX_VALUE_BYTES} bytes.")
    changes = SecretChanges(present=frozenset(k for k in ("contentType", "tags") if k in body))
    content_type = body.get("contentType")
    if content_type is not None and not isinstance(content_type, str):
        raise bad_parameter("The property 'contentType' must be a string.")
    changes.content_type = content_type
    changes.tags = _parse_tags(body.get("tags"))
    changes.attributes = _parse_attributes(body.get("attributes"))
    return (value if require_value else None), changes


def _parse_tags(tags: Any) -> dict[str, str] | None:
    if tags is None:
        return None
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise bad_parameter("The property 'tags' must be an object of string values.")
    if len(tags) > MAX_TAGS:
        raise bad_parameter(f"At most {MAX_TAGS} tags are allowed.")
    return dict(tags)


def _parse_attributes(attributes: Any) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise bad_parameter("The property 'attributes' must be an object.")
    out: dict[str, Any] = {}
    if "enabled" in attributes:
        if not isinstance(attributes["enabled"], bool | None):
            raise bad_parameter("The attribute 'enabled' must be a boolean.")
        out["enabled"] = True if attributes["enabled"] is None else attributes["enabled"]
    for key in ("nbf", "exp"):
        if key in attributes:
            when = attributes[key]
            if when is not None and (isinstance(when, bool) or not isinstance(when, int)):
                raise bad_parameter(f"The attribute '{key}' must be a unix time in seconds.")
            out[key] = when
    return out


def check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise bad_parameter(f"The request URI contains an invalid name: {name[:130]}")


# --------------------------------------------------------------------------------------------- rendering


def _attributes(version: SecretVersion, retention_days: int) -> dict[str, Any]:
    out: dict[str, Any] = {"enabled": version.enabled}
    if version.nbf is not None:
        out["nbf"] = version.nbf
    if version.exp is not None:
        out["exp"] = version.exp
    out.update(
        created=version.created, updated=version.updated, recoveryLevel=RECOVERY_LEVEL, recoverableDays=retention_days
    )
    return out


def render_item(
    base: str, secret: Secret, version: SecretVersion, retention_days: int, *, versioned: bool
) -> dict[str, Any]:
    """A SecretItem: what lists show. Unversioned ids for `GET /secrets`, versioned for `/versions`."""
    ident = f"{base}/secrets/{secret.name}" + (f"/{version.version}" if versioned else "")
    out: dict[str, Any] = {"id": ident, "attributes": _attributes(version, retention_days)}
    if version.content_type is not None:
        out["contentType"] = version.content_type
    if version.tags is not None:
        out["tags"] = version.tags
    return out


def render_bundle(base: str, secret: Secret, retention_days: int, *, with_value: bool) -> dict[str, Any]:
    """A SecretBundle (or, for soft-deleted secrets, a DeletedSecretBundle without the value)."""
    version = secret.latest
    out = render_item(base, secret, version, retention_days, versioned=True)
    if with_value:
        out = {"value": version.value, **out}
    if secret.deleted_date is not None:
        out.update(_deletion(base, secret))
    return out


def render_deleted_item(base: str, secret: Secret, retention_days: int) -> dict[str, Any]:
    out = render_item(base, secret, secret.latest, retention_days, versioned=False)
    out.update(_deletion(base, secret))
    return out


def _deletion(base: str, secret: Secret) -> dict[str, Any]:
    return {
        "recoveryId": f"{base}/deletedsecrets/{secret.name}",
        "deletedDate": secret.deleted_date,
        "scheduledPurgeDate": secret.scheduled_purge_date,
    }


def paginate(items: list[dict[str, Any]], request: Request, path: str, maxresults: int | None) -> dict[str, Any]:
    """One page in Key Vault's list shape; `nextLink` carries an opaque `$skiptoken` (the next offset)."""
    size = maxresults or MAX_PAGE
    token = request.query_params.get("$skiptoken")
    start = _decode_skiptoken(token) if token else 0
    page = items[start : start + size]
    next_link = None
    if start + size < len(items):
        skip = base64.urlsafe_b64encode(str(start + size).encode()).decode().rstrip("=")
        api = request.query_params.get("api-version", LATEST_API_VERSION)
        next_link = f"{vault_base_url(request)}{path}?api-version={api}&$skiptoken={skip}&maxresults={size}"
    return {"value": page, "nextLink": next_link}


def _decode_skiptoken(token: str) -> int:
    try:
        offset = int(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode())
    except ValueError:
        raise bad_parameter("The $skiptoken query parameter is invalid.") from None
    if offset < 0:
        raise bad_parameter("The $skiptoken query parameter is invalid.")
    return offset


def parse_maxresults(request: Request) -> int | None:
    raw = request.query_params.get("maxresults")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise bad_parameter(f"The maxresults query parameter must be an integer between 1 and {MAX_PAGE}.")
    return int(raw)
