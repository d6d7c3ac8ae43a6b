"""Who is calling (dev mode: unsigned tokens read; verifying mode: JWKS signatures checked) and what they may do."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt

from localcloud.keyvault.protocol import (
    AUDIENCES,
    KEYVAULT_RESOURCE,
    PERMISSIONS,
    ROLE_PERMISSIONS,
    KeyVaultError,
    log,
)
from localcloud.oidc import IssuerUnavailable, JwksClient

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


class JwksTokenValidator:
    """Verifying mode: RS256 signature against the JWKS, issuer, audience, lifetime, and an oid/sub claim."""

    def __init__(self, keys: JwksClient, issuers: Sequence[str], leeway: float = 60.0) -> None:
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
        try:
            key = self.keys.key(header.get("kid"))
        except IssuerUnavailable:
            raise KeyVaultError(503, "ServiceUnavailable", "The token signing keys could not be loaded.") from None
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
