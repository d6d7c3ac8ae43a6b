"""The local cloud's one OIDC/JWKS helper: signing keys of token issuers, for every token check it makes (the token
service verifying Kubernetes service-account assertions; the Key Vault server verifying access tokens).

Built on PyJWT's `PyJWKClient` (JWKS cache with a lifespan, one forced refresh per cooldown for an unknown `kid`),
with two additions: documents are fetched through one pluggable `fetch(url)` (verified HTTPS trusting the stack's
CAs; tests pass their own), and the last good key set stays in use when a refresh fails, so a flapping issuer does
not lock clients out.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

log = logging.getLogger(__name__)

JsonFetcher = Callable[[str], Mapping[str, Any]]
#: How long a fetched key set is trusted before it is fetched again.
KEYS_LIFESPAN = 3600.0
#: At most one forced refresh per this many seconds for tokens naming an unknown key.
REFRESH_COOLDOWN = 10.0


class IssuerUnavailable(Exception):
    """The issuer's discovery document or JWKS could not be loaded (reason only; no token material)."""


def https_fetcher(ca_files: Sequence[Path | str] = ()) -> JsonFetcher:
    """GET JSON over verified HTTPS, trusting the system roots plus `ca_files`; no redirects, 5 s timeout."""
    context = ssl.create_default_context()
    for ca in ca_files:
        context.load_verify_locations(cafile=str(ca))

    def fetch(url: str) -> Mapping[str, Any]:
        if not url.startswith("https://"):
            raise IssuerUnavailable(f"{url} is not an https URL")
        try:
            resp = httpx.get(url, verify=context, timeout=5.0, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise IssuerUnavailable(f"{url}: {type(exc).__name__}") from None
        if resp.status_code != 200:
            raise IssuerUnavailable(f"{url} answered {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            raise IssuerUnavailable(f"{url} did not return JSON") from None
        if not isinstance(data, dict):
            raise IssuerUnavailable(f"{url} did not return a JSON object")
        return data

    return fetch


class JwksClient(PyJWKClient):
    """One JWKS: PyJWKClient over `fetch`, keeping the last good key set when a refresh fails."""

    def __init__(self, uri: str, fetch: JsonFetcher, *, lifespan: float = KEYS_LIFESPAN,
                 cooldown: float = REFRESH_COOLDOWN) -> None:  # fmt: skip
        super().__init__(uri, cache_jwk_set=True, lifespan=lifespan, cooldown_duration=cooldown, timeout=5)
        self._fetch = fetch
        self._last_good: list[jwt.PyJWK] = []
        self._lock = threading.Lock()

    def fetch_data(self) -> Any:
        try:
            data = self._as_jwk_set_payload(dict(self._fetch(self.uri)))
        except IssuerUnavailable as exc:
            raise PyJWKClientConnectionError(str(exc)) from None
        except (OSError, ValueError) as exc:
            raise PyJWKClientConnectionError(type(exc).__name__) from None
        # PyJWKClient's own fetch_data starts the refresh cooldown on success; do as it does.
        self._last_successful_fetch = time.monotonic()
        return data

    def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key `kid` (or the only key when the token names none); None when the issuer has no such key.
        Raises IssuerUnavailable when no key set could ever be loaded."""
        with self._lock:
            try:
                keys = self.get_signing_keys()
                self._last_good = keys
                if kid is None:
                    return keys[0] if len(keys) == 1 else None
                found = self.get_signing_key(kid)
                self._last_good = self.get_signing_keys()
                return found
            except PyJWKClientConnectionError as exc:
                if not self._last_good:
                    raise IssuerUnavailable(str(exc)) from None
                log.warning("could not refresh %s (%s); using the last keys", self.uri, exc)
                return self._match(self._last_good, kid)
            except PyJWKClientError:
                return None

    @staticmethod
    def _match(keys: Sequence[jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        return next((k for k in keys if k.key_id == kid), None)


class IssuerKeys:
    """Signing keys per OIDC issuer, found through `<issuer>/.well-known/openid-configuration` -> `jwks_uri`."""

    def __init__(self, fetch: JsonFetcher, *, lifespan: float = KEYS_LIFESPAN,
                 cooldown: float = REFRESH_COOLDOWN) -> None:  # fmt: skip
        self._fetch = fetch
        self._lifespan = lifespan
        self._cooldown = cooldown
        self._lock = threading.Lock()
        self._clients: dict[str, JwksClient] = {}
        #: issuer -> (when its discovery last failed, why): not retried within the cooldown
        self._failed: dict[str, tuple[float, str]] = {}

    def key(self, issuer: str, kid: str | None) -> jwt.PyJWK | None:
        return self._client(issuer).key(kid)

    def _client(self, issuer: str) -> JwksClient:
        with self._lock:
            found = self._clients.get(issuer)
            if found is not None:
                return found
            failed = self._failed.get(issuer)
            if failed is not None and time.monotonic() - failed[0] < self._cooldown:
                raise IssuerUnavailable(f"{failed[1]} (retrying in {self._cooldown:.0f}s)")
            try:
                uri = self._jwks_uri(issuer)
            except IssuerUnavailable as exc:
                self._failed[issuer] = (time.monotonic(), str(exc))
                raise
            self._failed.pop(issuer, None)
            found = self._clients[issuer] = JwksClient(uri, self._fetch, lifespan=self._lifespan,
                                                       cooldown=self._cooldown)  # fmt: skip
            return found

    def _jwks_uri(self, issuer: str) -> str:
        discovery = self._fetch(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if str(discovery.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
            raise IssuerUnavailable(f"the discovery document of {issuer} names another issuer")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise IssuerUnavailable(f"the discovery document of {issuer} has no https jwks_uri")
        return jwks_uri
