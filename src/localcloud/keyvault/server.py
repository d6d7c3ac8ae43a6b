"""A small Azure Key Vault *secrets* data-plane server for the dev stack.

Why it exists: the planned emulator (Lowkey Vault) cannot be obtained here, and the project only allows a fake for
services no registry offers, on condition that it speaks the documented wire format. This server implements the
secrets part of the Key Vault REST API (api-version 7.0-7.6 plus the dated versions newer SDKs send by default), so
the official `azure-keyvault-secrets` SDK talks to it unchanged, including Key Vault's challenge protocol:

* A request without `Authorization: Bearer ...` gets 401 with
  `WWW-Authenticate: Bearer authorization="<authority>", resource="https://vault.azure.net"`; the SDK then asks its
  credential for `https://vault.azure.net/.default` and retries. Vault URLs here are not under `vault.azure.net`,
  so SDK clients must pass `verify_challenge_resource=False` (the same as with Lowkey Vault).
* Token validation has two modes.
  - Dev mode (the default): any well-formed JWT whose `aud` is `https://vault.azure.net` (or with a trailing slash)
    and that is neither expired nor not-yet-valid is accepted. THE SIGNATURE IS NOT CHECKED: this mode only keeps
    the protocol honest for local development and must never guard anything of value.
  - Verifying mode (`--jwks-url` and `--issuer`): RS256 signature against that JWKS, `iss`, `aud`, `exp`/`nbf`,
    and an `oid` or `sub` claim. With `--require-role`, every request is also checked against an access file
    (JSON, `--access-file`, re-read when it changes) that grants object ids permissions per vault.

Vaults are selected by the Host header's first label (`<vault>.localhost:<port>`, like Lowkey Vault), else by the
listening port (`--vault-port NAME=PORT` opens an extra listener for that vault, for machines where `*.localhost`
does not resolve), else the first vault is used (e.g. for `127.0.0.1` and `localhost`). Secret ids are built from
the scheme, host and port the client used, so they round-trip through the SDK's identifier parsing.

State lives in memory, or in a JSON file (`--state-file`, written atomically, mode 0600) so a restart keeps it.
Secret values are never logged nor put into error messages; the state file holds them in clear text (it is a dev
emulator), hence its mode.
"""

from __future__ import annotations

import argparse
import base64
import copy
import dataclasses
import json
import logging
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
import jwt
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


# --------------------------------------------------------------------------------------------------- the store


@dataclass
class SecretVersion:
    """One immutable value of a secret plus its mutable attributes (unix seconds, as on the wire)."""

    version: str
    value: str
    created: int
    updated: int
    enabled: bool = True
    nbf: int | None = None
    exp: int | None = None
    content_type: str | None = None
    tags: dict[str, str] | None = None


@dataclass
class Secret:
    """All versions of one secret, oldest first; the deletion dates are set while it is soft-deleted."""

    name: str
    versions: list[SecretVersion] = field(default_factory=list)
    deleted_date: int | None = None
    scheduled_purge_date: int | None = None

    @property
    def latest(self) -> SecretVersion:
        return self.versions[-1]

    def find(self, version: str | None) -> SecretVersion | None:
        if not version:
            return self.latest
        wanted = version.lower()
        return next((v for v in self.versions if v.version == wanted), None)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Secret:
        versions = [SecretVersion(**v) for v in data["versions"]]
        return cls(data["name"], versions, data.get("deleted_date"), data.get("scheduled_purge_date"))


@dataclass
class SecretChanges:
    """The optional parts of a set or update request, already validated."""

    content_type: str | None = None
    tags: dict[str, str] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    present: frozenset[str] = frozenset()


@dataclass
class _Vault:
    secrets: dict[str, Secret] = field(default_factory=dict)
    deleted: dict[str, Secret] = field(default_factory=dict)


class SecretStore:
    """The secrets of every vault, guarded by one lock; every change is persisted before the call returns.

    Names are case-insensitive in Key Vault, so entries are keyed by the lower-cased name and keep the spelling
    of their first creation. Callers get deep copies, never the live objects.
    """

    def __init__(
        self,
        vaults: Sequence[str],
        state_file: Path | None = None,
        retention_days: int = 90,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._state_file = state_file
        self.retention_days = retention_days
        self._clock = clock
        self._vaults: dict[str, _Vault] = {v: _Vault() for v in vaults}
        if state_file is not None and state_file.exists():
            self._load(state_file)

    @property
    def vault_names(self) -> tuple[str, ...]:
        return tuple(self._vaults)

    def now(self) -> int:
        return int(self._clock())

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        for vault_name, vault in data.get("vaults", {}).items():
            target = self._vaults.setdefault(vault_name, _Vault())
            target.secrets = {k: Secret.from_json(s) for k, s in vault.get("secrets", {}).items()}
            target.deleted = {k: Secret.from_json(s) for k, s in vault.get("deleted", {}).items()}

    def _save(self) -> None:
        """Write the whole state atomically (temp file in the same directory, fsync, rename), mode 0600."""
        if self._state_file is None:
            return
        data = {
            "vaults": {
                name: {
                    "secrets": {k: dataclasses.asdict(s) for k, s in v.secrets.items()},
                    "deleted": {k: dataclasses.asdict(s) for k, s in v.deleted.items()},
                }
                for name, v in self._vaults.items()
            }
        }
        write_private_json(self._state_file, data)

    def _vault(self, vault: str) -> _Vault:
        v = self._vaults[vault]
        now = self.now()
        expired = [
            k for k, s in v.deleted.items() if s.scheduled_purge_date is not None and s.scheduled_purge_date <= now
        ]
        for key in expired:
            del v.deleted[key]
        if expired:
            self._save()
        return v

    def set(self, vault: str, name: str, value: str, changes: SecretChanges) -> Secret:
        """A new version becomes the latest; refused while a deleted secret of that name awaits recovery/purge."""
        with self._lock:
            v = self._vault(vault)
            key = name.lower()
            if key in v.deleted:
                raise KeyVaultError(
                    409,
                    "Conflict",
                    f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; "
                    "in this state, the secret can only be recovered or purged.",
                    inner="ObjectIsDeletedButRecoverable",
                )
            now = self.now()
            version = SecretVersion(uuid.uuid4().hex, value, now, now, content_type=changes.content_type)
            version.tags = changes.tags
            _apply_attributes(version, changes.attributes)
            secret = v.secrets.setdefault(key, Secret(name))
            secret.versions.append(version)
            self._save()
            return _only(secret, version)

    def get(self, vault: str, name: str, version: str | None = None) -> Secret:
        """The secret with exactly one version in `versions`: the one asked for, or the latest."""
        with self._lock:
            secret = self._vault(vault).secrets.get(name.lower())
            found = secret.find(version) if secret else None
            if secret is None or found is None:
                raise secret_not_found(name, version)
            return _only(secret, found)

    def update(self, vault: str, name: str, version: str | None, changes: SecretChanges) -> Secret:
        with self._lock:
            secret = self._vault(vault).secrets.get(name.lower())
            found = secret.find(version) if secret else None
            if secret is None or found is None:
                raise secret_not_found(name, version)
            if "contentType" in changes.present:
                found.content_type = changes.content_type
            if "tags" in changes.present:
                found.tags = changes.tags
            _apply_attributes(found, changes.attributes)
            found.updated = self.now()
            self._save()
            return _only(secret, found)

    def list_secrets(self, vault: str) -> list[Secret]:
        with self._lock:
            secrets = self._vault(vault).secrets.values()
            return sorted((copy.deepcopy(s) for s in secrets), key=lambda s: s.name.lower())

    def versions(self, vault: str, name: str) -> Secret | None:
        with self._lock:
            return copy.deepcopy(self._vault(vault).secrets.get(name.lower()))

    def delete(self, vault: str, name: str) -> Secret:
        """Soft delete: all versions move to the deleted collection until recovered, purged or past retention."""
        with self._lock:
            v = self._vault(vault)
            secret = v.secrets.pop(name.lower(), None)
            if secret is None:
                raise secret_not_found(name)
            now = self.now()
            secret.deleted_date = now
            secret.scheduled_purge_date = now + self.retention_days * 86400
            v.deleted[name.lower()] = secret
            self._save()
            return copy.deepcopy(secret)

    def list_deleted(self, vault: str) -> list[Secret]:
        with self._lock:
            secrets = self._vault(vault).deleted.values()
            return sorted((copy.deepcopy(s) for s in secrets), key=lambda s: s.name.lower())

    def get_deleted(self, vault: str, name: str) -> Secret:
        with self._lock:
            secret = self._vault(vault).deleted.get(name.lower())
            if secret is None:
                raise deleted_secret_not_found(name)
            return copy.deepcopy(secret)

    def purge(self, vault: str, name: str) -> None:
        with self._lock:
            if self._vault(vault).deleted.pop(name.lower(), None) is None:
                raise deleted_secret_not_found(name)
            self._save()

    def recover(self, vault: str, name: str) -> Secret:
        with self._lock:
            v = self._vault(vault)
            secret = v.deleted.pop(name.lower(), None)
            if secret is None:
                raise deleted_secret_not_found(name)
            secret.deleted_date = secret.scheduled_purge_date = None
            v.secrets[name.lower()] = secret
            self._save()
            return _only(secret, secret.latest)


def _only(secret: Secret, version: SecretVersion) -> Secret:
    return Secret(secret.name, [copy.deepcopy(version)], secret.deleted_date, secret.scheduled_purge_date)


def _apply_attributes(version: SecretVersion, attributes: Mapping[str, Any]) -> None:
    if "enabled" in attributes:
        version.enabled = attributes["enabled"]
    if "nbf" in attributes:
        version.nbf = attributes["nbf"]
    if "exp" in attributes:
        version.exp = attributes["exp"]


def write_private_json(path: Path, data: object) -> None:
    """Atomically replace `path` with `data` as JSON; the file is created 0600 because it holds secret values."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------- request parsing


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


# -------------------------------------------------------------------------------------------- authentication


@dataclass(frozen=True)
class Principal:
    """Who a token names: Key Vault identifies callers by object id, app id and issuer."""

    object_id: str | None = None
    app_id: str | None = None
    issuer: str | None = None

    def describe(self) -> str:
        return f"appid={self.app_id or ''};oid={self.object_id or ''};iss={self.issuer or ''}"


class TokenValidator(Protocol):
    def validate(self, token: str) -> Principal: ...


def unauthorized(message: str) -> KeyVaultError:
    return KeyVaultError(401, "Unauthorized", message)


def _principal(claims: Mapping[str, Any]) -> Principal:
    def text(key: str) -> str | None:
        value = claims.get(key)
        return value if isinstance(value, str) and value else None

    return Principal(text("oid") or text("sub"), text("appid") or text("azp"), text("iss"))


def _jwt_error(exc: jwt.PyJWTError) -> KeyVaultError:
    """Map PyJWT's failures to Key Vault-like messages; the token itself is never echoed."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return unauthorized("Token validation failed: the token is expired.")
    if isinstance(exc, jwt.ImmatureSignatureError):
        return unauthorized("Token validation failed: the token is not yet valid (nbf).")
    if isinstance(exc, jwt.InvalidAudienceError):
        return unauthorized(f"Token validation failed: invalid audience. Expected {KEYVAULT_RESOURCE}.")
    if isinstance(exc, jwt.InvalidIssuerError):
        return unauthorized("Token validation failed: invalid issuer.")
    if isinstance(exc, jwt.InvalidSignatureError):
        return unauthorized("Token validation failed: the signature is invalid.")
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return unauthorized(f"Token validation failed: the claim '{exc.claim}' is missing.")
    return unauthorized("Token validation failed: the bearer token is malformed.")


class DevTokenValidator:
    """Dev mode: checks shape, audience and lifetime only. The signature is NOT verified (see module docstring)."""

    def __init__(self, leeway: float = 60.0) -> None:
        self.leeway = leeway

    def validate(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                options={
                    "verify_signature": False,
                    "verify_aud": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "require": ["aud", "exp"],
                },
                audience=list(AUDIENCES),
                leeway=self.leeway,
            )
        except jwt.PyJWTError as exc:
            raise _jwt_error(exc) from None
        return _principal(claims)


JwksFetcher = Callable[[], Mapping[str, Any]]


class JwksKeys:
    """Signing keys from a JWKS, fetched lazily and cached for `ttl`; an unknown kid triggers a refetch.

    Fetch attempts are rate-limited to one per `min_refresh` seconds whatever their outcome, so a flood of
    tokens with unknown kids cannot hammer the token service; if a refetch fails, the cached keys stay in use.
    """

    def __init__(self, fetch: JwksFetcher, ttl: float = 3600.0, min_refresh: float = 10.0) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._lock = threading.Lock()
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")

    def key(self, kid: str | None) -> jwt.PyJWK | None:
        with self._lock:
            now = time.monotonic()
            due = now - self._fetched_at > self._ttl or self._lookup(kid) is None
            if due and now - self._attempted_at >= self._min_refresh:
                self._attempted_at = now
                self._refresh()
            if not self._keys:
                raise KeyVaultError(503, "ServiceUnavailable", "The token signing keys could not be loaded.")
            return self._lookup(kid)

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def _refresh(self) -> None:
        try:
            keyset = jwt.PyJWKSet.from_dict(dict(self._fetch()))
        except Exception as exc:  # failing to load keys is the server's problem, not the caller's token
            log.warning("could not load the JWKS: %s", type(exc).__name__)
            return
        self._keys = {k.key_id: k for k in keyset.keys}
        self._fetched_at = time.monotonic()


class JwksTokenValidator:
    """Verifying mode: RS256 signature against the JWKS, issuer, audience, lifetime, and an oid/sub claim."""

    def __init__(self, keys: JwksKeys, issuers: Sequence[str], leeway: float = 60.0) -> None:
        self.keys = keys
        self.issuers = tuple(issuers)
        self.leeway = leeway

    def validate(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _jwt_error(exc) from None
        if header.get("alg") != "RS256":
            raise unauthorized("Token validation failed: the token must be signed with RS256.")
        key = self.keys.key(header.get("kid"))
        if key is None:
            raise unauthorized("Token validation failed: the signing key is unknown.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=list(AUDIENCES),
                issuer=self.issuers,
                leeway=self.leeway,
                options={"require": ["aud", "exp", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise _jwt_error(exc) from None
        principal = _principal(claims)
        if principal.object_id is None:
            raise unauthorized("Token validation failed: the token has neither an 'oid' nor a 'sub' claim.")
        return principal


def fetch_jwks(url: str, ca_file: str | None = None) -> Mapping[str, Any]:
    """Read a JWKS from a file path, a file:// URL or an http(s) URL (trusting `ca_file` if given)."""
    if url.startswith("file://"):
        url = url[len("file://") :]
    if "://" not in url:
        data = json.loads(Path(url).read_text())
    else:
        verify = ssl.create_default_context(cafile=ca_file) if ca_file else True
        resp = httpx.get(url, verify=verify, timeout=5.0)
        resp.raise_for_status()
        data = resp.json()
    if not isinstance(data, dict):
        raise ValueError("the JWKS is not a JSON object")
    return data


# ---------------------------------------------------------------------------------------------- authorization

#: (vault, principal, permission) -> allowed?  The role-assignment check hook.
AccessCheck = Callable[[str, Principal, str], bool]


class AccessFile:
    """Role assignments from a JSON file, re-read whenever it changes (mtime, size or inode).

    Shape: `{"<vault>" | "*": ["<object id>", ...] | {"<object id>": ["get", "list", ... | "<role name>"]}}`.
    A list of ids grants every secrets permission; a map grants the named permissions or built-in roles
    (`Key Vault Secrets User` = get+list, `Key Vault Secrets Officer` = all). A missing or broken file denies.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._grants: dict[str, dict[str, frozenset[str]]] = {}

    def __call__(self, vault: str, principal: Principal, permission: str) -> bool:
        if principal.object_id is None:
            return False
        grants = self._current()
        oid = principal.object_id
        return any(permission in grants.get(scope, {}).get(oid, frozenset()) for scope in (vault, "*"))

    def _current(self) -> dict[str, dict[str, frozenset[str]]]:
        with self._lock:
            try:
                st = self.path.stat()
            except OSError:
                self._stamp, self._grants = None, {}
                return {}
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                self._grants = self._read()
                self._stamp = stamp
            return self._grants

    def _read(self) -> dict[str, dict[str, frozenset[str]]]:
        try:
            raw = json.loads(self.path.read_text())
            return {vault: _grants_of(entry) for vault, entry in raw.items()}
        except (OSError, ValueError, AttributeError, TypeError):
            log.warning("access file %s is unreadable or malformed; denying all", self.path)
            return {}


def _grants_of(entry: Any) -> dict[str, frozenset[str]]:
    if isinstance(entry, list):
        return {str(oid): frozenset(PERMISSIONS) for oid in entry}
    out: dict[str, frozenset[str]] = {}
    for oid, names in entry.items():
        perms: set[str] = set()
        for item in names:
            lowered = str(item).lower()
            perms |= ROLE_PERMISSIONS.get(lowered, frozenset({lowered}) & set(PERMISSIONS))
        out[str(oid)] = frozenset(perms)
    return out


# ------------------------------------------------------------------------------------------------ the app


@dataclass(frozen=True)
class ServerSettings:
    """What the app needs besides the store and the token validator."""

    authority: str = DEFAULT_AUTHORITY
    #: extra listening port -> vault served there
    vault_ports: Mapping[int, str] = field(default_factory=dict)
    access_check: AccessCheck | None = None


@dataclass(frozen=True)
class RequestContext:
    vault: str
    base_url: str
    principal: Principal


def vault_base_url(request: Request) -> str:
    """The vault URL as the client addressed it, so the ids we return point back to the same place."""
    host = request.headers.get("host", "")
    if not HOST_RE.match(host):
        raise bad_parameter("The Host header is invalid.")
    return f"{request.url.scheme}://{host}"


def select_vault(request: Request, vaults: Sequence[str], vault_ports: Mapping[int, str]) -> str:
    """`<vault>.<anything>` in Host picks that vault; else the listening port's vault; else the first one."""
    label, dot, rest = _hostname(request).partition(".")
    if dot and rest.lower() == "localhost":
        match = next((v for v in vaults if v.lower() == label.lower()), None)
        if match is None:
            raise KeyVaultError(404, "VaultNotFound", f"The vault '{label[:64]}' does not exist on this server.")
        return match
    if dot:
        match = next((v for v in vaults if v.lower() == label.lower()), None)
        if match is not None:
            return match
    server = request.scope.get("server")
    if server and server[1] in vault_ports:
        return vault_ports[server[1]]
    return vaults[0]


def _hostname(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if ":" in host else host


def create_app(store: SecretStore, validator: TokenValidator, settings: ServerSettings | None = None) -> FastAPI:
    """The FastAPI application: Key Vault's secrets routes, `/healthz`, and Key Vault-shaped errors."""
    app = FastAPI(title="servicelinker local Key Vault (secrets)", openapi_url=None, docs_url=None, redoc_url=None)
    app.router.redirect_slashes = False
    app.state.keyvault = _AppState(store, validator, settings or ServerSettings())
    app.include_router(router)
    _add_error_handlers(app)
    app.add_middleware(_SanitizedErrors)
    return app


@dataclass(frozen=True)
class _AppState:
    store: SecretStore
    validator: TokenValidator
    settings: ServerSettings

    @property
    def challenge(self) -> str:
        return f'Bearer authorization="{self.settings.authority}", resource="{KEYVAULT_RESOURCE}"'


def _state(request: Request) -> _AppState:
    state: _AppState = request.app.state.keyvault
    return state


def authenticate(request: Request) -> Principal:
    """The caller named by the bearer token; every 401 carries the challenge, as Key Vault's do."""
    state = _state(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        return state.validator.validate(token.strip())
    except KeyVaultError as exc:
        if exc.status == 401:
            exc.headers["WWW-Authenticate"] = state.challenge
        raise


def authorize(request: Request, permission: str) -> RequestContext:
    """Vault, then authentication (401), api-version (400) and the role-assignment hook (403), in that order."""
    state = _state(request)
    vault = select_vault(request, state.store.vault_names, state.settings.vault_ports)
    principal = authenticate(request)
    _check_api_version(request)
    check = state.settings.access_check
    if check is not None and not check(vault, principal, permission):
        raise KeyVaultError(
            403,
            "Forbidden",
            f"The user, group or application '{principal.describe()}' does not have secrets {permission} "
            f"permission on key vault '{vault};location=local'. {HELP_FORBIDDEN}",
            inner="AccessDenied",
        )
    return RequestContext(vault, vault_base_url(request), principal)


def _get(request: Request) -> RequestContext:
    return authorize(request, "get")


def _list(request: Request) -> RequestContext:
    return authorize(request, "list")


def _set(request: Request) -> RequestContext:
    return authorize(request, "set")


def _delete(request: Request) -> RequestContext:
    return authorize(request, "delete")


def _recover(request: Request) -> RequestContext:
    return authorize(request, "recover")


def _purge(request: Request) -> RequestContext:
    return authorize(request, "purge")


async def _json_body(request: Request) -> Any:
    """The request body as JSON; a parse failure is a 400 whose message never quotes the body."""
    raw = await request.body()
    if not raw:
        raise bad_parameter("The request body is empty.")
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_parameter("The request body is not valid JSON.") from None


GetCtx = Annotated[RequestContext, Depends(_get)]
ListCtx = Annotated[RequestContext, Depends(_list)]
SetCtx = Annotated[RequestContext, Depends(_set)]
DeleteCtx = Annotated[RequestContext, Depends(_delete)]
RecoverCtx = Annotated[RequestContext, Depends(_recover)]
PurgeCtx = Annotated[RequestContext, Depends(_purge)]
JsonBody = Annotated[Any, Depends(_json_body)]

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> dict[str, Any]:
    """Unauthenticated liveness probe for the dev stack (not part of Key Vault's API)."""
    return {"status": "ok", "vaults": list(_state(request).store.vault_names)}


@router.put("/secrets/{name}")
def set_secret(name: str, request: Request, ctx: SetCtx, body: JsonBody) -> Any:
    check_name(name)
    value, changes = parse_changes(body, require_value=True)
    assert value is not None
    state = _state(request)
    secret = state.store.set(ctx.vault, name, value, changes)
    return render_bundle(ctx.base_url, secret, state.store.retention_days, with_value=True)


@router.get("/secrets")
def list_secrets(request: Request, ctx: ListCtx) -> Any:
    maxresults = parse_maxresults(request)
    store = _state(request).store
    items = [
        render_item(ctx.base_url, s, s.latest, store.retention_days, versioned=False)
        for s in store.list_secrets(ctx.vault)
    ]
    return paginate(items, request, "/secrets", maxresults)


@router.get("/secrets/{name}/versions")
def list_versions(name: str, request: Request, ctx: ListCtx) -> Any:
    check_name(name)
    maxresults = parse_maxresults(request)
    store = _state(request).store
    secret = store.versions(ctx.vault, name) or Secret(name)
    items = [render_item(ctx.base_url, secret, v, store.retention_days, versioned=True) for v in secret.versions]
    return paginate(items, request, f"/secrets/{name}/versions", maxresults)


def _get_secret(request: Request, name: str, version: str, ctx: RequestContext) -> Any:
    check_name(name)
    store = _state(request).store
    secret = store.get(ctx.vault, name, version or None)
    if not secret.latest.enabled:
        raise KeyVaultError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
    return render_bundle(ctx.base_url, secret, store.retention_days, with_value=True)


@router.get("/secrets/{name}")
@router.get("/secrets/{name}/")
def get_latest(name: str, request: Request, ctx: GetCtx) -> Any:
    return _get_secret(request, name, "", ctx)


@router.get("/secrets/{name}/{version}")
def get_version(name: str, version: str, request: Request, ctx: GetCtx) -> Any:
    return _get_secret(request, name, version, ctx)


def _update_secret(request: Request, name: str, version: str, ctx: RequestContext, body: Any) -> Any:
    check_name(name)
    _, changes = parse_changes(body, require_value=False)
    store = _state(request).store
    secret = store.update(ctx.vault, name, version or None, changes)
    return render_bundle(ctx.base_url, secret, store.retention_days, with_value=False)


@router.patch("/secrets/{name}/")
def update_latest(name: str, request: Request, ctx: SetCtx, body: JsonBody) -> Any:
    return _update_secret(request, name, "", ctx, body)


@router.patch("/secrets/{name}/{version}")
def update_version(name: str, version: str, request: Request, ctx: SetCtx, body: JsonBody) -> Any:
    return _update_secret(request, name, version, ctx, body)


@router.delete("/secrets/{name}")
def delete_secret(name: str, request: Request, ctx: DeleteCtx) -> Any:
    check_name(name)
    store = _state(request).store
    return render_bundle(ctx.base_url, store.delete(ctx.vault, name), store.retention_days, with_value=False)


@router.get("/deletedsecrets")
def list_deleted(request: Request, ctx: ListCtx) -> Any:
    maxresults = parse_maxresults(request)
    store = _state(request).store
    items = [render_deleted_item(ctx.base_url, s, store.retention_days) for s in store.list_deleted(ctx.vault)]
    return paginate(items, request, "/deletedsecrets", maxresults)


@router.get("/deletedsecrets/{name}")
def get_deleted(name: str, request: Request, ctx: ListCtx) -> Any:
    check_name(name)
    store = _state(request).store
    return render_bundle(ctx.base_url, store.get_deleted(ctx.vault, name), store.retention_days, with_value=False)


@router.delete("/deletedsecrets/{name}", status_code=204)
def purge_deleted(name: str, request: Request, ctx: PurgeCtx) -> Response:
    check_name(name)
    _state(request).store.purge(ctx.vault, name)
    return Response(status_code=204)


@router.post("/deletedsecrets/{name}/recover")
def recover_deleted(name: str, request: Request, ctx: RecoverCtx) -> Any:
    check_name(name)
    store = _state(request).store
    return render_bundle(ctx.base_url, store.recover(ctx.vault, name), store.retention_days, with_value=False)


def _check_api_version(request: Request) -> None:
    version = request.query_params.get("api-version")
    if not version:
        raise bad_parameter("The 'api-version' query parameter is missing.")
    if version not in API_VERSIONS:
        raise bad_parameter(
            f"The specified version ({version[:40]}) is not recognized. "
            f"Consider using the latest supported version ({LATEST_API_VERSION})."
        )


def _add_error_handlers(app: FastAPI) -> None:
    async def on_keyvault_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, KeyVaultError)
        return exc.response()

    async def on_http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequest")
        message = "The requested resource or operation does not exist on this Key Vault."
        return KeyVaultError(exc.status_code, code, message).response()

    app.add_exception_handler(KeyVaultError, on_keyvault_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


class _SanitizedErrors:
    """Turns unexpected exceptions into a 500 logged by type only: an exception's text could quote a secret value."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error("internal error in %s %s: %s", scope.get("method"), scope.get("path"), type(exc).__name__)
            if started:
                raise RuntimeError("internal error (details withheld)") from None
            response = KeyVaultError(500, "InternalServerError", "An internal error occurred.").response()
            await response(scope, receive, send)


# ------------------------------------------------------------------------------------------------------ main


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Local Azure Key Vault secrets data-plane server (HTTPS).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="listener of the first (default) vault")
    p.add_argument("--cert", required=True, help="PEM server certificate")
    p.add_argument("--key", required=True, help="PEM server private key")
    p.add_argument("--vaults", default="slvault", help="comma-separated vault names; the first is the default")
    p.add_argument("--vault-port", action="append", default=[], metavar="NAME=PORT", help="extra listener per vault")
    p.add_argument("--state-file", help="JSON state file; in-memory if omitted")
    p.add_argument("--retention-days", type=int, default=90, help="soft-delete retention (7-90)")
    p.add_argument("--authority", default=DEFAULT_AUTHORITY, help="authorization URL announced in the 401 challenge")
    p.add_argument("--issuer", help="comma-separated accepted token issuers (verifying mode)")
    p.add_argument("--jwks-url", help="JWKS URL or file (verifying mode)")
    p.add_argument("--jwks-ca", help="CA bundle for fetching an https JWKS")
    p.add_argument("--require-role", action="store_true", help="check every request against --access-file")
    p.add_argument("--access-file", help="JSON role assignments per vault")
    p.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    if bool(args.jwks_url) != bool(args.issuer):
        p.error("--jwks-url and --issuer go together (verifying mode)")
    if args.require_role and not args.access_file:
        p.error("--require-role needs --access-file")
    if not 7 <= args.retention_days <= 90:
        p.error("--retention-days must be between 7 and 90")
    return args


def _vault_ports(specs: Sequence[str], vaults: Sequence[str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for spec in specs:
        name, _, port = spec.partition("=")
        if name not in vaults or not port.isdigit():
            raise SystemExit(f"--vault-port {spec}: expected NAME=PORT with NAME one of {', '.join(vaults)}")
        out[int(port)] = name
    return out


def build_app(args: argparse.Namespace) -> tuple[FastAPI, list[int]]:
    """The app configured from the command line, and the ports to listen on (the default vault's first)."""
    vaults = [v for v in args.vaults.split(",") if v]
    bad = [v for v in vaults if not re.fullmatch(r"[0-9a-zA-Z-]{3,24}", v)]
    if not vaults or bad:
        raise SystemExit(f"--vaults: invalid vault name(s) {bad or '(none)'}")
    vault_ports = _vault_ports(args.vault_port, vaults)
    validator: TokenValidator = DevTokenValidator()
    if args.jwks_url:
        url, ca = args.jwks_url, args.jwks_ca
        keys = JwksKeys(lambda: fetch_jwks(url, ca))
        validator = JwksTokenValidator(keys, [i for i in args.issuer.split(",") if i])
    access: AccessCheck | None = AccessFile(Path(args.access_file)) if args.require_role else None
    store = SecretStore(vaults, Path(args.state_file) if args.state_file else None, args.retention_days)
    settings = ServerSettings(authority=args.authority, vault_ports=vault_ports, access_check=access)
    return create_app(store, validator, settings), [args.port, *vault_ports]


def _listen(host: str, port: int) -> socket.socket:
    return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve over HTTPS on `--port` and every `--vault-port` until SIGTERM/SIGINT."""
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app, ports = build_app(args)
    mode = "verifying (JWKS)" if args.jwks_url else "DEV (token signatures NOT checked)"
    log.info("key vault secrets server: vaults=%s ports=%s auth=%s", args.vaults, ports, mode)
    sockets = [_listen(args.host, p) for p in ports]
    config = uvicorn.Config(
        app,
        ssl_certfile=args.cert,
        ssl_keyfile=args.key,
        log_level=args.log_level,
        lifespan="off",
        access_log=True,
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run(sockets=sockets)


if __name__ == "__main__":
    main()
