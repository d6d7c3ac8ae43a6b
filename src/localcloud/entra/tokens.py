"""Issuing tokens: client-credential requests checked (secret or federated assertion, role gate) and signed."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from localcloud.entra.directory import Directory, DirectoryFile, Fic
from localcloud.entra.errors import (
    EntraError,
    assertion_error,
    malformed_request,
    missing_parameter,
    tenant_not_found,
)
from localcloud.entra.protocol import (
    ASSERTION_ALGORITHMS,
    BACKDATE,
    DEFAULT_SUFFIX,
    GRANT_CLIENT_CREDENTIALS,
    JWKS_TTL,
    JWT_BEARER,
    LEEWAY,
    MIN_REFRESH,
    RESERVED_SCOPES,
    TOKEN_LIFETIME,
)
from localcloud.entra.roles import (
    ResourceService,
    service_for,
)
from localcloud.identity import Principal, verify_service_principal_secret
from localcloud.inventory import LOCAL_TENANT
from localcloud.oidc import IssuerKeys, IssuerUnavailable, JsonFetcher, https_fetcher

# ------------------------------------------------------------------------------------------------- signer


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Signer:
    """Our token-signing key: RS256, `kid` = the RFC 7638 thumbprint of its public JWK (stable across restarts)."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key
        numbers = key.public_key().public_numbers()
        self.public_jwk = {"kty": "RSA", "e": _b64url_uint(numbers.e), "n": _b64url_uint(numbers.n)}
        canonical = json.dumps(self.public_jwk, separators=(",", ":"), sort_keys=True).encode()
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()

    @classmethod
    def from_pem(cls, path: Path) -> Signer:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SystemExit(f"--signing-key {path}: an RSA private key is required")
        return cls(key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self.public_jwk, "use": "sig", "kid": self.kid, "alg": "RS256"}]}

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})


# -------------------------------------------------------------------------------------------- the service


@dataclass
class Settings:
    """What the token service needs: where the directory lives, how to sign, whom to trust, what time it is."""

    inventory: Path
    signer: Signer
    tenant: str = LOCAL_TENANT
    fetch: JsonFetcher | None = None
    issuer_cas: Sequence[Path] = ()
    clock: Callable[[], float] = time.time
    leeway: int = LEEWAY
    token_lifetime: int = TOKEN_LIFETIME


@dataclass(frozen=True)
class TokenRequest:
    """A parsed client_credentials request: who, for which resource, with which credential."""

    client_id: str
    resource: str
    service: ResourceService
    secret: str | None
    assertion: str | None


#: Names that address this (the only) tenant besides its id: Entra's multi-tenant aliases and its domain.
TENANT_ALIASES = frozenset({"common", "organizations", "localcloud.localhost"})


class TokenService:
    """The exchange itself, free of HTTP so it can be unit-tested and benchmarked directly."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = DirectoryFile(settings.inventory)
        self.issuer_keys = IssuerKeys(settings.fetch or https_fetcher(settings.issuer_cas), lifespan=JWKS_TTL,
                                      cooldown=MIN_REFRESH)

    @property
    def sts_issuer(self) -> str:
        return f"https://sts.windows.net/{self.settings.tenant}/"

    def check_tenant(self, tenant: str, error: str = "invalid_request") -> None:
        """The tenant by id, by its domain, or by the aliases Entra accepts for any tenant (`common`,
        `organizations`: az signs out through `organizations`)."""
        if tenant.lower() not in {self.settings.tenant.lower(), *TENANT_ALIASES}:
            raise tenant_not_found(tenant, error)

    def parse(self, form: Mapping[str, str]) -> TokenRequest:
        """Validate the request's parameters in Entra's order: grant type, client id, scope, credential."""
        grant = form.get("grant_type")
        if not grant:
            raise missing_parameter("grant_type")
        if grant != GRANT_CLIENT_CREDENTIALS:
            raise EntraError(
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type "
                f"'{grant}'. The local token service supports only client_credentials.",
            )
        client_id = form.get("client_id", "").strip()
        if not client_id:
            raise missing_parameter("client_id")
        resource = self._resource(form.get("scope", ""))
        service = service_for(resource)
        if service is None:
            raise EntraError(
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in "
                f"the tenant named {self.settings.tenant}. The local cloud serves "
                "Azure Storage, Key Vault, Service Bus, Event Hubs, App Configuration, AI services, "
                "Cosmos DB, SignalR, Web PubSub, Redis and Resource Manager.",
            )
        secret, assertion = form.get("client_secret"), form.get("client_assertion")
        if secret and assertion:
            raise malformed_request("present either client_assertion or client_secret, not both")
        if assertion is not None:
            kind = form.get("client_assertion_type")
            if not kind:
                raise missing_parameter("client_assertion_type")
            if kind != JWT_BEARER:
                raise EntraError("invalid_request", 90011, f"Unexpected client assertion type '{kind}'.")
        elif not secret:
            raise EntraError(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                401,
            )
        return TokenRequest(client_id, resource, service, secret or None, assertion)

    @staticmethod
    def _resource(scope: str) -> str:
        scopes = [s for s in scope.split() if s.lower() not in RESERVED_SCOPES]
        if not scopes:
            raise missing_parameter("scope")
        if len(scopes) > 1:
            raise EntraError(
                "invalid_scope",
                70011,
                f"The provided value for the input parameter 'scope' is not "
                f"valid. The scope {' '.join(scopes)} is not valid: ask for one resource "
                "per request.",
            )
        if not scopes[0].endswith(DEFAULT_SUFFIX) or len(scopes[0]) == len(DEFAULT_SUFFIX):
            raise EntraError(
                "invalid_scope",
                1002012,
                f"The provided value for scope {scopes[0]} is not valid. "
                "Client credential flows must have a scope value with /.default suffixed to the "
                "resource identifier (application ID URI).",
            )
        return scopes[0][: -len(DEFAULT_SUFFIX)]

    def exchange(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The token response for a valid request, else `EntraError`."""
        req = self.parse(form)
        directory = self.directory.current()
        principal = directory.principals.get(req.client_id.lower())
        if principal is None:
            raise EntraError(
                "unauthorized_client",
                700016,
                f"Application with identifier '{req.client_id}' was "
                f"not found in the directory '{self.settings.tenant}'. This can happen if the "
                "application has not been installed by the administrator of the tenant or consented "
                "to by any user in the tenant. You may have sent your authentication request to the "
                "wrong tenant.",
            )
        if req.assertion is not None:
            self._check_assertion(req.assertion, principal, directory)
        else:
            self._check_secret(req.secret or "", principal)
        self._check_roles(principal, req, directory)
        return self._issue(principal, req)

    # credentials ------------------------------------------------------------------------------------------

    def _check_secret(self, secret: str, principal: Principal) -> None:
        sp = principal.service_principal
        if sp is None or not verify_service_principal_secret(sp, secret):
            raise EntraError(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being "
                "sent in the request is the client secret value, not the client secret ID, for a "
                f"secret added to app '{principal.client_id}'.",
                401,
            )

    def _check_assertion(self, assertion: str, principal: Principal, directory: Directory) -> None:
        """FIC match on the assertion's claims, then signature against the issuer's keys, then its lifetime."""
        try:
            parsed = parse_jwt(assertion)
        except ValueError:
            raise assertion_error(50027, "JWT token is invalid or malformed.", "invalid_request") from None
        header, claims = parsed.header, parsed.claims
        iss, sub, auds = claims.get("iss"), claims.get("sub"), claims.get("aud")
        auds = [auds] if isinstance(auds, str) else auds
        if not (isinstance(iss, str) and isinstance(sub, str) and isinstance(auds, list) and auds):
            raise assertion_error(
                50027,
                "JWT token is invalid or malformed: the 'iss', 'sub' and 'aud' claims are required.",
                "invalid_request",
            )
        audiences = [str(a) for a in auds]
        fics = directory.fics.get((principal.resource_id or "").rstrip("/").lower(), ())
        fic = match_fic(fics, iss, sub, audiences)
        alg = header.get("alg")
        if alg not in ASSERTION_ALGORITHMS:
            raise assertion_error(
                5002730, f"Invalid JWT token. Unsupported key for the signing algorithm '{alg}'.", "invalid_request"
            )
        kid = header.get("kid")
        try:
            key = self.issuer_keys.key(fic.issuer, kid if isinstance(kid, str) else None)
        except IssuerUnavailable:
            raise assertion_error(
                50166,
                f"Request to External OIDC endpoint failed: the discovery document or "
                f"keys of issuer '{fic.issuer}' could not be retrieved.",
            ) from None
        if key is None:
            raise assertion_error(
                50013,
                "Assertion failed signature validation. [Reason - The key was not found., "
                f"Key ID used by client: '{kid}'].",
            )
        if not parsed.verify(str(alg), key):
            raise assertion_error(
                50013,
                "Assertion failed signature validation. [Reason - The provided signature "
                "value did not match the expected signature value.]",
            )
        self._check_lifetime(claims)

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        now = self.settings.clock()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, int | float):
            raise assertion_error(
                50027, "JWT token is invalid or malformed: the 'exp' claim is required.", "invalid_request"
            )
        start = nbf if isinstance(nbf, int | float) else None
        if exp + self.settings.leeway < now or (start is not None and start - self.settings.leeway > now):
            raise assertion_error(
                700024,
                f"Client assertion is not within its valid time range. Current time: "
                f"{_iso(now)}, assertion valid from {_iso(start or 0)}, expiry time of assertion "
                f"{_iso(exp)}.",
            )

    # authorization and issuance ---------------------------------------------------------------------------

    def _check_roles(self, principal: Principal, req: TokenRequest, directory: Directory) -> None:
        held = directory.roles.get(principal.object_id.lower(), frozenset())
        if not req.service.grants(held):
            raise EntraError(
                "invalid_grant",
                501051,
                f"Application '{principal.client_id}'({principal.display_name})"
                f" is not assigned to a role for the application '{req.resource}'({req.service.name}): "
                f"the principal {principal.object_id} holds no role assignment that grants "
                f"{req.service.name}.",
            )

    def _issue(self, principal: Principal, req: TokenRequest) -> dict[str, Any]:
        now = int(self.settings.clock())
        acr = "2" if req.assertion is not None else "1"
        claims: dict[str, Any] = {
            "aud": req.resource,
            "iss": self.sts_issuer,
            "iat": now - BACKDATE,
            "nbf": now - BACKDATE,
            "exp": now + self.settings.token_lifetime,
            "appid": principal.client_id,
            "appidacr": acr,
            "azp": principal.client_id,
            "azpacr": acr,
            "idp": self.sts_issuer,
            "idtyp": "app",
            "oid": principal.object_id,
            "sub": principal.object_id,
            "tid": self.settings.tenant,
            "uti": base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode(),
            "ver": "1.0",
        }
        if principal.resource_id:
            claims["xms_mirid"] = principal.resource_id
        lifetime = self.settings.token_lifetime
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self.settings.signer.sign(claims),
        }


@dataclass(frozen=True)
class ParsedJwt:
    """A compact JWS split once: header and claims decoded, the signed bytes and signature kept for `verify`.

    Parsed here rather than by PyJWT's decode because PyJWT re-parses the token per call and checks the
    base64url alphabet character by character in Python, which cost more than the RSA verification itself;
    `base64.b64decode(validate=True)` does the same check in C.
    """

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes

    def verify(self, alg: str, key: jwt.PyJWK) -> bool:
        """Check the signature with `alg` (from an allow-list) and the issuer's key; a key of another type fails."""
        try:
            algorithm = jwt.get_algorithm_by_name(alg)
            prepared = algorithm.prepare_key(key.key)
            return bool(algorithm.verify(self.signing_input, prepared, self.signature))
        except (jwt.PyJWTError, NotImplementedError, ValueError, TypeError):
            return False


def _b64url(segment: str) -> bytes:
    return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)


def parse_jwt(token: str) -> ParsedJwt:
    """Split and decode a compact JWS; ValueError if it is not three base64url parts with JSON-object header/claims."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise ValueError("not a compact JWS")
    try:
        header, claims = json.loads(_b64url(parts[0])), json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("not base64url-encoded JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header and claims must be JSON objects")
    return ParsedJwt(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


def match_fic(fics: Sequence[Fic], issuer: str, subject: str, audiences: Sequence[str]) -> Fic:
    """The FIC an assertion matches, or the Entra error that says which of issuer, subject, audience did not."""
    shown = ", ".join(audiences)
    if not fics:
        raise assertion_error(70021, _no_match(issuer, subject, shown), "invalid_request")
    same_issuer = [f for f in fics if f.issuer == issuer]
    if not same_issuer:
        raise assertion_error(
            700211,
            f"No matching federated identity record found for presented assertion "
            f"issuer '{issuer}'. Please check your federated identity credential Subject, "
            "Audience and Issuer against the presented assertion.",
        )
    same_subject = [f for f in same_issuer if f.subject == subject]
    if not same_subject:
        raise assertion_error(70021, _no_match(issuer, subject, shown), "invalid_request")
    for fic in same_subject:
        if any(a in fic.audiences for a in audiences):
            return fic
    raise assertion_error(
        700212,
        f"No matching federated identity record found for presented assertion audience "
        f"'{shown}'. Please check your federated identity credential Subject, Audience and Issuer "
        "against the presented assertion.",
    )


def _no_match(issuer: str, subject: str, audience: str) -> str:
    return (
        f"No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. "
        f"Assertion Subject: '{subject}'. Assertion Audience: '{audience}'."
    )


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
