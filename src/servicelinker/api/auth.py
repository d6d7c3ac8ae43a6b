"""Who is calling: Bearer JWTs validated against one OpenID issuer, or the explicit `--insecure-dev` mode.

A token is accepted when it is a JWS signed with RS256/RS384/RS512 by a key of the issuer's JWKS (found through
`<issuer>/.well-known/openid-configuration`), its `iss` is the configured issuer (or the one the discovery document
names: Entra's v1 tokens say `https://sts.windows.net/<tenant>/`), its `aud` is one of the configured audiences,
and it is within `nbf`/`exp` (with a small leeway for clock skew). The caller is the token's `oid` claim, as ARM
uses it for role assignments. Keys are PyJWT's `PyJWKClient`'s: cached, and refetched when a token names an unknown
`kid` (at most every 30 s), so a key rotation is picked up without a restart.

Failures are 401s in ARM's format and words, with a `WWW-Authenticate: Bearer ...` challenge:
`AuthenticationFailed` (no or malformed header), `InvalidAuthenticationToken` (bad signature, unknown key, bad
issuer, no `oid`), `ExpiredAuthenticationToken`, `InvalidAuthenticationTokenAudience`.

`--insecure-dev` accepts every request as the server's own identity (the principal its cloud adapter signs in
as); serve.py refuses it on anything but 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from servicelinker.model.errors import ArmError
from servicelinker.model.records import Caller

DEFAULT_AUDIENCES = ("https://management.azure.com", "https://management.azure.com/",
                     "https://management.core.windows.net/")  # fmt: skip
LOCAL_USER = "local-user"
ALGORITHMS = ("RS256", "RS384", "RS512")
LEEWAY_SECONDS = 300  # ARM tolerates five minutes of clock skew
KEY_REFRESH_MIN_INTERVAL = 30.0
KEYS_TTL = 3600.0


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    object_id: str
    #: Shown in systemData.createdBy: the user's UPN, else the app id, else the object id.
    display_name: str
    #: systemData.createdByType: `User` or `Application`.
    kind: str = "User"
    tenant_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def caller(self) -> Caller:
        return Caller(object_id=self.object_id, display_name=self.display_name,
                      kind="Application" if self.kind == "Application" else "User")  # fmt: skip


class AuthError(ArmError):
    """A 401 with its `WWW-Authenticate` challenge."""

    def __init__(self, code: str, message: str, challenge: str) -> None:
        super().__init__(
            code,
            message,
            remedy="Send `Authorization: Bearer <token>` with a token of the configured issuer for the configured "
            "audience (az: `az account get-access-token`; the local cloud: its token service).",
            status=401,
        )
        self.headers = {"WWW-Authenticate": challenge}


class Authenticator(Protocol):
    def authenticate(self, authorization: str | None) -> Principal: ...

    def describe(self) -> dict[str, Any]: ...


class InsecureDevAuthenticator:
    """No token needed; every caller is one principal (the server's own identity; `local-user` where no cloud
    is configured, as in unit tests). Loopback development only."""

    def __init__(self, principal: str = LOCAL_USER) -> None:
        self.principal = Principal(object_id=principal, display_name=principal)

    def authenticate(self, authorization: str | None) -> Principal:
        return self.principal

    def describe(self) -> dict[str, Any]:
        return {"mode": "insecure-dev", "principal": self.principal.object_id}


Fetcher = Callable[[str], dict[str, Any]]


def http_fetcher(ca_file: str | None = None, timeout: float = 10.0) -> Fetcher:
    """GET a JSON document (discovery, JWKS); `ca_file` verifies a private issuer's TLS certificate."""
    verify: str | bool = ca_file if ca_file else True

    def fetch(url: str) -> dict[str, Any]:
        response = httpx.get(url, verify=verify, timeout=timeout)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    return fetch


class JwtAuthenticator:
    """Validates Bearer tokens of one OpenID issuer."""

    def __init__(
        self,
        issuer: str,
        audiences: Sequence[str] = DEFAULT_AUDIENCES,
        *,
        fetcher: Fetcher | None = None,
        ca_file: str | None = None,
        leeway: int = LEEWAY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer:
            raise ValueError("an issuer URL is required")
        self.issuer = issuer.rstrip("/")
        self.audiences = tuple(audiences)
        self._fetch = fetcher or http_fetcher(ca_file)
        self.leeway = leeway
        self._clock = clock
        self._lock = threading.Lock()
        self._issuers: set[str] = {issuer, self.issuer, self.issuer + "/", *entra_issuer_forms(self.issuer)}
        self._jwks: _IssuerJwks | None = None

    def describe(self) -> dict[str, Any]:
        return {"mode": "jwt", "issuer": self.issuer, "audiences": list(self.audiences)}

    # keys ------------------------------------------------------------------------------------------------------

    def _client(self) -> _IssuerJwks:
        with self._lock:
            if self._jwks is None:
                doc = self._fetch(f"{self.issuer}/.well-known/openid-configuration")
                if doc.get("issuer"):
                    self._issuers.add(str(doc["issuer"]))
                self._jwks = _IssuerJwks(str(doc["jwks_uri"]), self._fetch)
            return self._jwks

    def _key(self, kid: str) -> Any:
        try:
            client = self._client()
            if not kid:
                keys = client.get_signing_keys()
                if len(keys) != 1:
                    raise _invalid("the token names no key and the issuer publishes several")
                return keys[0].key
            return client.get_signing_key(kid).key
        except PyJWKClientConnectionError as exc:
            raise _invalid(f"the issuer's signing keys could not be read ({exc})") from None
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise _invalid(f"the issuer's signing keys could not be read ({type(exc).__name__})") from None
        except PyJWKClientError:
            raise _invalid("the token is signed with a key the issuer does not publish") from None

    # tokens ----------------------------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise AuthError(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                _challenge(self.issuer, "The authentication failed because of missing 'Authorization' header."),
            )
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                _challenge(self.issuer, "The 'Authorization' header is not a Bearer token."),
            )
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid("the token is not a JWT", self.issuer) from None
        if header.get("alg") not in ALGORITHMS:
            raise _invalid(f"the signing algorithm '{header.get('alg')}' is not accepted", self.issuer)
        key = self._key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=list(ALGORITHMS),
                options={"verify_aud": False, "verify_iss": False, "require": ["exp"]},
                leeway=self.leeway,
            )
        except jwt.ExpiredSignatureError:
            claims = jwt.decode(token, key=key, algorithms=list(ALGORITHMS), options={"verify_exp": False,
                                "verify_aud": False, "verify_iss": False, "verify_nbf": False})  # fmt: skip
            raise AuthError(
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{_utc(claims.get('exp'))}' is earlier than current UTC time "
                f"'{_utc(self._clock())}'.",
                _challenge(self.issuer, "The access token is expired."),
            ) from None
        except jwt.ImmatureSignatureError:
            raise _invalid("the token is not valid yet (nbf)", self.issuer) from None
        except jwt.PyJWTError as exc:
            raise _invalid(f"the token could not be validated ({type(exc).__name__})", self.issuer) from None
        if claims.get("iss") not in self._issuers:
            raise _invalid(f"the token's issuer '{claims.get('iss')}' is not trusted", self.issuer)
        audiences = claims.get("aud")
        token_audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if not any(a in self.audiences for a in token_audiences):
            shown = ", ".join(str(a) for a in token_audiences)
            raise AuthError(
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{shown}'. It should exactly "
                f"match with one of the allowed audiences '{', '.join(self.audiences)}'.",
                _challenge(self.issuer, "The access token has an invalid audience."),
            )
        oid = claims.get("oid")
        if not isinstance(oid, str) or not oid:
            raise _invalid("the token has no 'oid' claim", self.issuer)
        is_app = claims.get("idtyp") == "app" or ("upn" not in claims and "appid" in claims and "scp" not in claims)
        name = claims.get("upn") or claims.get("unique_name") or claims.get("appid") or claims.get("azp") or oid
        return Principal(
            object_id=oid,
            display_name=str(name),
            kind="Application" if is_app else "User",
            tenant_id=claims.get("tid"),
            claims=claims,
        )


_ENTRA_V2 = re.compile(r"^(?P<authority>https://[^/]+)/(?P<tenant>[^/]+)/v2\.0$")
_ENTRA_V1 = re.compile(r"^https://sts\.windows\.net/(?P<tenant>[^/]+)/?$")


def entra_issuer_forms(issuer: str) -> set[str]:
    """Both issuers Entra puts in a tenant's tokens: `<authority>/<tenant>/v2.0` (v2 tokens) and
    `https://sts.windows.net/<tenant>/` (v1 tokens, which is what Azure resources such as ARM get even through the
    v2 endpoint). Configured with either, the authenticator accepts both."""
    v2, v1 = _ENTRA_V2.match(issuer), _ENTRA_V1.match(issuer)
    if v2:
        tenant = v2["tenant"]
        return {f"https://sts.windows.net/{tenant}/", f"{v2['authority']}/{tenant}/"}
    if v1:
        tenant = v1["tenant"]
        return {f"https://login.microsoftonline.com/{tenant}/v2.0", f"https://sts.windows.net/{tenant}/"}
    return set()


class _IssuerJwks(PyJWKClient):
    """PyJWKClient (cached key set, one forced refresh per cooldown for an unknown kid) fetching through the
    authenticator's fetcher, so a private issuer's CA and in-test issuers work the same way."""

    def __init__(self, uri: str, fetch: Fetcher) -> None:
        super().__init__(uri, cache_jwk_set=True, lifespan=KEYS_TTL, cooldown_duration=KEY_REFRESH_MIN_INTERVAL)
        self._fetcher = fetch

    def fetch_data(self) -> Any:
        try:
            data = self._as_jwk_set_payload(self._fetcher(self.uri))
        except (httpx.HTTPError, ValueError) as exc:
            raise PyJWKClientConnectionError(type(exc).__name__) from None
        self._last_successful_fetch = time.monotonic()  # as PyJWKClient's own fetch_data: starts the cooldown
        return data


def _utc(value: Any) -> str:
    try:
        moment = dt.datetime.fromtimestamp(float(value), dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return str(value)
    return moment.strftime("%m/%d/%Y %H:%M:%S")


def _challenge(issuer: str, description: str) -> str:
    return f'Bearer authorization_uri="{issuer}", error="invalid_token", error_description="{description}"'


def _invalid(why: str, issuer: str = "") -> AuthError:
    return AuthError(
        "InvalidAuthenticationToken",
        f"The access token is invalid: {why}.",
        _challenge(issuer, "The access token is invalid."),
    )
