"""The local cloud's token service: Microsoft Entra ID's v2 token endpoint for apps, enough for azure-identity and
MSAL to work unchanged with `AZURE_AUTHORITY_HOST=https://127.0.0.1:<port>`.

Endpoints (`{tenant}` = the local tenant id):
* `GET /{tenant}/v2.0/.well-known/openid-configuration`, `GET /{tenant}/.well-known/openid-configuration` (v1),
  `GET /common/discovery/instance` (MSAL instance discovery), `GET /{tenant}/discovery/v2.0/keys` (our JWKS, also
  at `/{tenant}/discovery/keys` and `/common/discovery/keys`), `GET /error?code=N` (what a code means).
* `POST /{tenant}/oauth2/v2.0/token`, form-encoded, `grant_type=client_credentials`, `client_id`,
  `scope=<resource>/.default`, and one credential:
  - `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` + `client_assertion` (workload
    identity): the assertion must match a federated identity credential (FIC) of the user-assigned identity
    (issuer, subject, one audience; exact, case-sensitive compares, as Entra does since 2025) and verify against the
    FIC issuer's JWKS (signature; `exp`/`nbf` with `LEEWAY` seconds). The JWKS is found through the issuer's OIDC
    discovery document, fetched over HTTPS trusting the system roots plus every `--issuer-ca` (the kube-apiserver's
    CA on the dev stack), cached for `JWKS_TTL` and refetched at most every `MIN_REFRESH` seconds for an unknown kid.
    Only issuers named by a FIC that matched the assertion are ever fetched, so a caller cannot make the service
    fetch URLs of its choosing.
  - `client_secret` (in the form, or HTTP Basic): for service principals, checked against salted scrypt hashes.

Issued access tokens are RS256 JWTs signed with `--signing-key` (its public half is our JWKS): `aud` = the
requested resource, `iss` = `https://sts.windows.net/<tenant>/` (the v1 issuer: Entra gives Azure resources v1
tokens even through the v2 endpoint, and Azurite accepts nothing else), `tid`, `oid` = `sub` = the principal's
object id, `appid` = `azp` = the client id, `appidacr`/`azpacr` (1 = secret, 2 = assertion), `idp`,
`idtyp: app`, `ver: 1.0`, `uti`, `xms_mirid` (identities), `iat = nbf = now - 5 min` (Entra's skew allowance),
`exp = now + 3599 s`.

Role gate (stricter than Entra, on purpose): Entra issues an app token for any resource in the tenant and leaves
authorization to the resource, but Azurite authorizes every valid token and the dev Key Vault may run without an
access file. So that removing a role assignment really removes access on the local cloud, a token is issued only
when the principal holds at least one role assignment (at any scope: the resource server checks scopes) whose role
serves the requested resource (`RESOURCE_SERVICES`: storage.azure.com -> Storage data roles, vault.azure.net ->
Key Vault data roles, management.azure.com -> any role, ...). Refusals use AADSTS501051 ("not assigned to a role
for the application"), the code Entra gives when a resource requires an app-role assignment the client lacks: the
closest documented situation.

Errors have Entra's JSON shape (`error`, `error_description` ending in Trace ID / Correlation ID / Timestamp,
`error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`) and Entra's statuses (400, or 401 for
`invalid_client`). Codes, with where they come from:

| situation | error | code |
|---|---|---|
| missing parameter | invalid_request | 900144 |
| grant type other than client_credentials | unsupported_grant_type | 70003 |
| body not a form / duplicate parameter / both credentials | invalid_request | 9002313 |
| unknown tenant | invalid_request (token) / invalid_tenant (discovery) | 90002 |
| scope without `/.default` | invalid_scope | 1002012 |
| several resources in scope | invalid_scope | 70011 |
| resource not known to the local cloud | invalid_resource | 500011 |
| unknown client id | unauthorized_client | 700016 |
| no credential presented | invalid_client | 7000218 |
| wrong client_assertion_type | invalid_request | 90011 |
| assertion not a JWT / claims missing | invalid_request | 50027 |
| unsupported signing algorithm | invalid_request | 5002730 |
| identity has no FIC, or no FIC with the assertion's subject | invalid_request | 70021 |
| no FIC with the assertion's issuer | invalid_client | 700211 |
| FIC issuer+subject match, audience does not | invalid_client | 700212 |
| signature invalid or key not found | invalid_client | 50013 |
| assertion expired or not yet valid | invalid_client | 700024 |
| issuer's discovery/JWKS unreachable | invalid_client | 50166 (approximation) |
| wrong client secret | invalid_client | 7000215 |
| no role assignment that grants the resource's service | invalid_grant | 501051 (see above) |

Secrets, assertions and tokens are never logged nor echoed in errors (only the assertion's issuer, subject and
audience, which Entra echoes too).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from localcloud.identity import FIC_SEGMENT, Principal, verify_service_principal_secret
from localcloud.inventory import LOCAL_TENANT, InventoryData, RoleAssignment

log = logging.getLogger("servicelinker.tokenservice")

GRANT_CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
DEFAULT_SUFFIX = "/.default"
TOKEN_LIFETIME = 3599
#: Entra back-dates iat/nbf by five minutes so that resource servers with a slow clock accept fresh tokens.
BACKDATE = 300
#: Clock skew tolerated on assertions' exp/nbf.
LEEWAY = 60
JWKS_TTL = 300.0
MIN_REFRESH = 10.0
MAX_BODY = 64 * 1024
ASSERTION_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"})
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_GUID_TAIL = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/?$")

# ------------------------------------------------------------------------------------------------ role gate


@dataclass(frozen=True)
class ResourceService:
    """An Azure service as a token audience: its resource URIs, host suffixes, and the roles that grant it.

    `roles` maps role definition GUIDs (lowercase) to names; `any_role` means every role assignment counts
    (Azure Resource Manager authorizes per action, and any role grants some).
    """

    name: str
    audiences: tuple[str, ...]
    host_suffixes: tuple[str, ...] = ()
    roles: Mapping[str, str] = field(default_factory=dict)
    #: Roles known by name only (Redis data-access policies have no role definition id).
    role_names: frozenset[str] = frozenset()
    any_role: bool = False

    def grants(self, role_keys: frozenset[str]) -> bool:
        """True when any of a principal's role keys (GUIDs and lowercased names) grants this service."""
        if self.any_role:
            return bool(role_keys)
        return any(k in self.roles or k in self.role_names for k in role_keys)


STORAGE_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "19e7f393-937e-4f77-808e-94535e297925": "Storage Queue Data Reader",
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": "Storage Queue Data Message Sender",
    "8a0f0c08-91a1-4084-bc3d-661d67233fed": "Storage Queue Data Message Processor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "0c867c2a-1d8c-454a-a3db-ab2ea1bdc8bb": "Storage File Data SMB Share Contributor",
    "aba4ae5f-2193-4029-9191-0cb91df5e314": "Storage File Data SMB Share Reader",
    "a7264617-510b-434b-a828-9731dc254ea7": "Storage File Data SMB Share Elevated Contributor",
}
KEYVAULT_ROLES = {
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "a4417e6f-fecd-4de8-b567-7b0420556985": "Key Vault Certificates Officer",
    "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba": "Key Vault Certificate User",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": "Key Vault Crypto Officer",
    "12338af0-0e69-4776-bea7-57ae8d297424": "Key Vault Crypto User",
    "e147488a-f6f5-4113-8e2d-b22465e65bf6": "Key Vault Crypto Service Encryption User",
    "21090545-7ca7-4776-b22c-e363652d74d2": "Key Vault Reader",
}
SERVICE_BUS_ROLES = {
    "090c5cfd-751d-490a-894a-3ce6f1109419": "Azure Service Bus Data Owner",
    "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": "Azure Service Bus Data Receiver",
    "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": "Azure Service Bus Data Sender",
}
EVENT_HUBS_ROLES = {
    "f526a384-b230-433a-b45c-95f59c4a2dec": "Azure Event Hubs Data Owner",
    "a638d3c7-ab3a-418d-83e6-5f17a39d4fde": "Azure Event Hubs Data Receiver",
    "2b629674-e913-4c01-ae53-ef4638d8f975": "Azure Event Hubs Data Sender",
}
APP_CONFIGURATION_ROLES = {
    "5ae67dd6-50cb-40e7-96ff-dc2bfa4b606b": "App Configuration Data Owner",
    "516239f1-63e1-4d78-a4de-a74fb236a071": "App Configuration Data Reader",
}
COGNITIVE_ROLES = {
    "a97b65f3-24c7-4388-baec-2e87135dc908": "Cognitive Services User",
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": "Cognitive Services OpenAI User",
    "a001fd3d-188f-4b5d-821b-7da978bf7442": "Cognitive Services OpenAI Contributor",
}
COSMOS_ROLES = {
    "5bd9cd88-fe45-4216-938b-f97437e15450": "DocumentDB Account Contributor",
    "00000000-0000-0000-0000-000000000001": "Cosmos DB Built-in Data Reader",
    "00000000-0000-0000-0000-000000000002": "Cosmos DB Built-in Data Contributor",
}
SIGNALR_ROLES = {
    "7e4f1700-ea5a-4f59-8f37-079cfe29dce3": "SignalR Service Owner",
    "420fcaa2-552c-430f-98ca-3264be4806c7": "SignalR App Server",
    "8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761": "SignalR/Web PubSub Contributor",
}
WEB_PUBSUB_ROLES = {
    "12cf5a90-567b-43ae-8102-96cf46c7d9b4": "Web PubSub Service Owner",
    "8cf5e20a-e4b2-4e9d-b3a1-5ceb692c2761": "SignalR/Web PubSub Contributor",
}

RESOURCE_SERVICES: tuple[ResourceService, ...] = (
    ResourceService(
        "Azure Storage",
        ("https://storage.azure.com", "e406a681-f3d4-42a8-90b6-c2b029497af1"),
        (
            ".blob.core.windows.net",
            ".queue.core.windows.net",
            ".table.core.windows.net",
            ".file.core.windows.net",
            ".dfs.core.windows.net",
        ),
        STORAGE_ROLES,
    ),
    ResourceService(
        "Azure Key Vault",
        ("https://vault.azure.net", "https://managedhsm.azure.net"),
        (".vault.azure.net",),
        KEYVAULT_ROLES,
    ),
    ResourceService(
        "Azure Service Bus",
        ("https://servicebus.azure.net",),
        (".servicebus.windows.net",),
        {**SERVICE_BUS_ROLES, **EVENT_HUBS_ROLES},
    ),
    ResourceService("Azure Event Hubs", ("https://eventhubs.azure.net",), (), EVENT_HUBS_ROLES),
    ResourceService(
        "Azure App Configuration",
        ("https://azconfig.io", "https://appconfig.azure.com"),
        (".azconfig.io",),
        APP_CONFIGURATION_ROLES,
    ),
    ResourceService(
        "Azure AI services",
        ("https://cognitiveservices.azure.com",),
        (".cognitiveservices.azure.com", ".openai.azure.com"),
        COGNITIVE_ROLES,
    ),
    ResourceService("Azure Cosmos DB", ("https://cosmos.azure.com",), (".documents.azure.com",), COSMOS_ROLES),
    ResourceService("Azure SignalR", ("https://signalr.azure.com",), (".service.signalr.net",), SIGNALR_ROLES),
    ResourceService("Azure Web PubSub", ("https://webpubsub.azure.com",), (".webpubsub.azure.com",), WEB_PUBSUB_ROLES),
    ResourceService(
        "Azure Cache for Redis",
        ("https://redis.azure.com", "acca5fbb-b7e4-4009-81f1-37e38fd66d78"),
        (".redis.cache.windows.net", ".redis.azure.net"),
        role_names=frozenset({"data owner", "data contributor", "data reader"}),
    ),
    ResourceService(
        "Azure Resource Manager",
        ("https://management.azure.com", "https://management.core.windows.net"),
        any_role=True,
    ),
)
#: Built-in role name (lowercase) -> GUID, so assignments recorded by name (`local role assign --role NAME`) count.
ROLE_IDS: dict[str, str] = {name.lower(): guid for svc in RESOURCE_SERVICES for guid, name in svc.roles.items()}


def service_for(resource: str) -> ResourceService | None:
    """The service a resource URI (or app id) belongs to: exact audience first, then the host's suffix."""
    wanted = resource.strip().rstrip("/").lower()
    for svc in RESOURCE_SERVICES:
        if wanted in svc.audiences:
            return svc
    host = (urlsplit(wanted).hostname or "") if wanted.startswith("https://") else ""
    for svc in RESOURCE_SERVICES:
        if host and any(host.endswith(suffix) for suffix in svc.host_suffixes):
            return svc
    return None


def role_keys(assignment: RoleAssignment) -> set[str]:
    """What a role assignment names: a GUID (from a definition id, a bare GUID, or a known name) and the name."""
    keys: set[str] = set()
    for value in (assignment.role_definition_id, assignment.role_name):
        text = value.strip()
        if not text:
            continue
        m = _GUID_TAIL.search(text)
        if m:
            keys.add(m.group(1).lower())
        else:
            keys.add(text.lower())
            if text.lower() in ROLE_IDS:
                keys.add(ROLE_IDS[text.lower()])
    return keys


# -------------------------------------------------------------------------------------------------- errors


class EntraError(Exception):
    """A refusal in Entra's words: OAuth `error`, AADSTS `code`, description, and HTTP status."""

    def __init__(self, error: str, code: int, description: str, status: int = 400) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.error = error
        self.code = code
        self.description = description
        self.status = status

    def body(self, authority: str, correlation_id: str | None = None) -> dict[str, Any]:
        """The JSON body Entra sends, with fresh trace id and the caller's correlation id when it sent one."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace = str(uuid.uuid4())
        correlation = correlation_id or str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.description} Trace ID: {trace} "
            f"Correlation ID: {correlation} Timestamp: {now}",
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{authority}/error?code={self.code}",
        }


def missing_parameter(name: str) -> EntraError:
    return EntraError("invalid_request", 900144, f"The request body must contain the following parameter: '{name}'.")


def malformed_request(why: str) -> EntraError:
    return EntraError("invalid_request", 9002313, f"Invalid request. Request is malformed or invalid: {why}.")


def tenant_not_found(tenant: str, error: str = "invalid_request") -> EntraError:
    return EntraError(
        error,
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        f"signing into the correct cloud. The local cloud's tenant is {LOCAL_TENANT}.",
    )


def assertion_error(code: int, description: str, error: str = "invalid_client") -> EntraError:
    """Assertion refusals are `invalid_client` (401) unless the request itself was malformed (400)."""
    return EntraError(error, code, description, 401 if error == "invalid_client" else 400)


#: What each code means and what to do, served at /error?code=N (Entra's error_uri page, locally).
ERROR_HELP: dict[int, tuple[str, str]] = {
    900144: ("A required parameter is missing.", "Send grant_type, client_id, scope and one credential."),
    70003: ("Unsupported grant type.", "Only client_credentials is supported by the local token service."),
    9002313: ("The request is malformed.", "Send one application/x-www-form-urlencoded body, each parameter once."),
    90002: ("Unknown tenant.", f"Use the local tenant id {LOCAL_TENANT}."),
    1002012: ("The scope is not '<resource>/.default'.", "Client credentials need a '/.default' scope."),
    70011: ("Invalid scope.", "Ask for one resource per token request."),
    500011: ("Unknown resource.", "Ask for a resource the local cloud serves (see RESOURCE_SERVICES)."),
    700016: (
        "Unknown client id.",
        "Use the clientId of an identity (`servicelinker local identity list`) or a "
        "service principal (`servicelinker local sp list`).",
    ),
    7000218: ("No client credential.", "Send client_assertion (workload identity) or client_secret."),
    90011: ("Unexpected client assertion type.", f"Use client_assertion_type={JWT_BEARER}."),
    50027: ("The assertion is not a valid JWT.", "Send the service-account token itself."),
    5002730: ("Unsupported assertion signing algorithm.", "Sign assertions with RS256 or ES256."),
    70021: (
        "No matching federated identity credential.",
        "Create a federated credential whose issuer, subject "
        "and audience equal the token's (`servicelinker local identity federated-credential create`).",
    ),
    700211: (
        "No federated credential with the assertion's issuer.",
        "Set the credential's issuer to the cluster's OIDC issuer URL, exactly.",
    ),
    700212: (
        "No federated credential with the assertion's audience.",
        "Request the service-account token with "
        "audience api://AzureADTokenExchange, or add that audience to the credential.",
    ),
    50013: ("Assertion signature validation failed.", "The token must be signed by the issuer's current key."),
    700024: ("The assertion is expired or not yet valid.", "Use a fresh service-account token."),
    50166: (
        "The issuer's OIDC discovery document or keys could not be fetched.",
        "Check the issuer is reachable and trusted (--issuer-ca).",
    ),
    7000215: ("Invalid client secret.", "Send the secret value printed by `servicelinker local sp create`."),
    501051: (
        "The principal holds no role that grants the requested resource's service.",
        "Assign a data role on the target (`servicelinker local role assign`).",
    ),
}


# --------------------------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class Fic:
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class Directory:
    """The inventory indexed for token requests: principals by client id, FICs by identity, roles by object id."""

    principals: Mapping[str, Principal]
    fics: Mapping[str, tuple[Fic, ...]]
    roles: Mapping[str, frozenset[str]]

    @classmethod
    def build(cls, data: InventoryData) -> Directory:
        principals: dict[str, Principal] = {}
        fics: dict[str, list[Fic]] = {}
        for sp in data.service_principals.values():
            principals[sp.client_id.lower()] = Principal(
                "servicePrincipal", sp.client_id, sp.object_id, sp.tenant_id, sp.display_name, service_principal=sp
            )
        marker = "/" + FIC_SEGMENT.lower() + "/"
        for k, res in data.resources.items():
            kind = res.type.lower()
            if kind == "microsoft.managedidentity/userassignedidentities" and res.properties.get("clientId"):
                p = res.properties
                principals[str(p["clientId"]).lower()] = Principal(
                    "userAssignedIdentity",
                    str(p["clientId"]),
                    str(p.get("principalId", "")),
                    str(p.get("tenantId", LOCAL_TENANT)),
                    res.name,
                    resource_id=res.id,
                )
            elif kind.endswith("/federatedidentitycredentials") and marker in k:
                p = res.properties
                fic = Fic(
                    res.name,
                    str(p.get("issuer", "")),
                    str(p.get("subject", "")),
                    tuple(str(a) for a in p.get("audiences", [])),
                )
                fics.setdefault(k.split(marker, 1)[0], []).append(fic)
        roles: dict[str, set[str]] = {}
        for ra in data.role_assignments:
            roles.setdefault(ra.principal_id.lower(), set()).update(role_keys(ra))
        return cls(
            principals,
            {k: tuple(sorted(v, key=lambda f: f.name)) for k, v in fics.items()},
            {k: frozenset(v) for k, v in roles.items()},
        )


class DirectoryFile:
    """The inventory file, re-indexed whenever it changes (mtime, size or inode), so grants and revocations made
    by the CLI or the engine apply to the very next token request without a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._directory = Directory({}, {}, {})

    def current(self) -> Directory:
        with self._lock:
            try:
                st = self.path.stat()
            except OSError:
                self._stamp, self._directory = None, Directory({}, {}, {})
                return self._directory
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                try:
                    data = InventoryData.model_validate_json(self.path.read_bytes())
                except (OSError, ValueError):
                    # A hand-edited file that does not parse: keep serving what was last valid, retry next time.
                    log.warning("inventory %s is unreadable or malformed; keeping the previous directory", self.path)
                    return self._directory
                self._directory = Directory.build(data)
                self._stamp = stamp
            return self._directory


# -------------------------------------------------------------------------------------------- issuer keys

JsonFetcher = Callable[[str], Mapping[str, Any]]


class IssuerUnavailable(Exception):
    """The issuer's discovery document or JWKS could not be loaded (reason only; no token material)."""


def https_fetcher(ca_files: Sequence[Path] = ()) -> JsonFetcher:
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


@dataclass
class _KeySet:
    keys: dict[str | None, jwt.PyJWK]
    fetched_at: float
    attempted_at: float


class IssuerKeys:
    """Signing keys per OIDC issuer, found through `<issuer>/.well-known/openid-configuration` -> `jwks_uri`.

    Cached for `ttl`; an unknown kid triggers a refetch, at most one attempt per `min_refresh` seconds per issuer
    whatever its outcome, and a failed refetch keeps the cached keys (a flapping issuer does not lock clients out).
    """

    def __init__(
        self,
        fetch: JsonFetcher,
        ttl: float = JWKS_TTL,
        min_refresh: float = MIN_REFRESH,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._sets: dict[str, _KeySet] = {}

    def key(self, issuer: str, kid: str | None) -> jwt.PyJWK | None:
        """The issuer's key `kid` (or its only key when the token names none); None if the issuer has no such key."""
        with self._lock:
            now = self._monotonic()
            entry = self._sets.get(issuer)
            stale = entry is None or now - entry.fetched_at > self._ttl or _lookup(entry.keys, kid) is None
            if stale and (entry is None or now - entry.attempted_at >= self._min_refresh):
                try:
                    keys = self._load(issuer)
                except IssuerUnavailable as exc:
                    log.warning("could not load the keys of issuer %s: %s", issuer, exc)
                    if entry is None:
                        self._sets[issuer] = _KeySet({}, float("-inf"), now)
                        raise
                    entry.attempted_at = now
                    if not entry.keys:
                        raise
                else:
                    entry = self._sets[issuer] = _KeySet(keys, now, now)
            elif stale and entry is not None and not entry.keys:
                raise IssuerUnavailable(f"keys of {issuer} are unavailable (retrying in {self._min_refresh:.0f}s)")
            assert entry is not None
            return _lookup(entry.keys, kid)

    def _load(self, issuer: str) -> dict[str | None, jwt.PyJWK]:
        discovery = self._fetch(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if str(discovery.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
            raise IssuerUnavailable(f"the discovery document of {issuer} names another issuer")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise IssuerUnavailable(f"the discovery document of {issuer} has no https jwks_uri")
        try:
            keyset = jwt.PyJWKSet.from_dict(dict(self._fetch(jwks_uri)))
        except jwt.PyJWTError as exc:
            raise IssuerUnavailable(f"the JWKS of {issuer} is unusable: {type(exc).__name__}") from None
        return {k.key_id: k for k in keyset.keys}


def _lookup(keys: Mapping[str | None, jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
    if kid is None and len(keys) == 1:
        return next(iter(keys.values()))
    return keys.get(kid)


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


class TokenService:
    """The exchange itself, free of HTTP so it can be unit-tested and benchmarked directly."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = DirectoryFile(settings.inventory)
        self.issuer_keys = IssuerKeys(settings.fetch or https_fetcher(settings.issuer_cas))

    @property
    def sts_issuer(self) -> str:
        return f"https://sts.windows.net/{self.settings.tenant}/"

    def check_tenant(self, tenant: str, error: str = "invalid_request") -> None:
        if tenant.lower() != self.settings.tenant.lower():
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


# ----------------------------------------------------------------------------------------------- the app


def _authority(request: Request) -> str:
    """`https://<host>` as the client addressed us (so 127.0.0.1 and localhost both work); Host is validated."""
    host = request.headers.get("host", "")
    if not _HOST_RE.match(host):
        host = request.url.netloc if _HOST_RE.match(request.url.netloc) else "127.0.0.1"
    return f"https://{host}"


def read_form(body: bytes, content_type: str, authorization: str | None) -> dict[str, str]:
    """The form parameters, each at most once; HTTP Basic credentials become client_id/client_secret."""
    if len(body) > MAX_BODY:
        raise malformed_request("the body is too large")
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise malformed_request("the body must be application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise malformed_request("the body is not valid form data") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise malformed_request(f"parameter '{name}' appears more than once")
        form[name] = value
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise malformed_request("the Basic authorization header is malformed") from None
        user, sep, password = decoded.partition(":")
        if not sep or "client_secret" in form:
            raise malformed_request("send the client secret either in the body or as HTTP Basic, not both")
        form.setdefault("client_id", unquote_plus(user))
        form["client_secret"] = unquote_plus(password)
    return form


def openid_configuration(authority: str, tenant: str, version: str) -> dict[str, Any]:
    """Entra's discovery document for one tenant; `version` "v2.0" or "v1"."""
    t = f"{authority}/{tenant}"
    v2 = version == "v2.0"
    return {
        "token_endpoint": f"{t}/oauth2/v2.0/token" if v2 else f"{t}/oauth2/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{t}/discovery/v2.0/keys" if v2 else f"{t}/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{t}/v2.0" if v2 else f"https://sts.windows.net/{tenant}/",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{t}/oauth2/v2.0/authorize" if v2 else f"{t}/oauth2/authorize",
        "device_authorization_endpoint": f"{t}/oauth2/v2.0/devicecode" if v2 else f"{t}/oauth2/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{t}/oauth2/v2.0/logout" if v2 else f"{t}/oauth2/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "appid", "azp", "ver"],
        "tenant_region_scope": None,
        "cloud_instance_name": urlsplit(authority).netloc,
        "cloud_graph_host_name": urlsplit(authority).netloc,
        "msgraph_host": urlsplit(authority).netloc,
        "rbac_url": authority,
    }


def _entra_response(exc: EntraError, request: Request) -> JSONResponse:
    correlation = request.headers.get("client-request-id")
    if correlation is not None and not re.fullmatch(r"[0-9A-Fa-f-]{36}", correlation):
        correlation = None
    return JSONResponse(
        exc.body(_authority(request), correlation),
        status_code=exc.status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def create_app(settings: Settings) -> FastAPI:
    """The token service as an ASGI app (tests drive it with TestClient, main() serves it over HTTPS)."""
    service = TokenService(settings)
    app = FastAPI(title="servicelinker local token service", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    @app.exception_handler(EntraError)
    async def _entra(request: Request, exc: EntraError) -> JSONResponse:
        return _entra_response(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {
                "error": "not_found" if exc.status_code == 404 else "invalid_request",
                "error_description": str(exc.detail),
            },
            status_code=exc.status_code,
        )

    @app.get("/{tenant}/v2.0/.well-known/openid-configuration")
    def discovery_v2(tenant: str, request: Request) -> dict[str, Any]:
        service.check_tenant(tenant, "invalid_tenant")
        return openid_configuration(_authority(request), settings.tenant, "v2.0")

    @app.get("/{tenant}/.well-known/openid-configuration")
    def discovery_v1(tenant: str, request: Request) -> dict[str, Any]:
        service.check_tenant(tenant, "invalid_tenant")
        return openid_configuration(_authority(request), settings.tenant, "v1")

    @app.get("/common/discovery/instance")
    def instance_discovery(request: Request, authorization_endpoint: str = "") -> dict[str, Any]:
        return _instance(request, authorization_endpoint, settings.tenant)

    @app.get("/common/discovery/keys")
    def keys_common() -> dict[str, Any]:
        return settings.signer.jwks()

    @app.get("/{tenant}/discovery/v2.0/keys")
    @app.get("/{tenant}/discovery/keys")
    def keys(tenant: str) -> dict[str, Any]:
        service.check_tenant(tenant, "invalid_tenant")
        return settings.signer.jwks()

    @app.get("/error")
    def error_help(code: int = 0) -> dict[str, Any]:
        summary, remedy = ERROR_HELP.get(code, ("Unknown code.", "See the token service's module documentation."))
        return {"code": code, "message": summary, "remedy": remedy}

    @app.post("/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> JSONResponse:
        body = await request.body()
        service.check_tenant(tenant)
        form = read_form(body, request.headers.get("content-type", ""), request.headers.get("authorization"))
        try:
            result = service.exchange(form)
        except EntraError as exc:
            log.info("refused client_id=%s code=AADSTS%d", form.get("client_id", "")[:64], exc.code)
            raise
        log.info("issued client_id=%s", form.get("client_id", "")[:64])
        return JSONResponse(result, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return app


def _instance(request: Request, authorization_endpoint: str, tenant: str) -> dict[str, Any]:
    """MSAL's instance discovery: this host (with its 127.0.0.1/localhost alias) is the only known instance."""
    authority = _authority(request)
    here = urlsplit(authority)
    aliases = [here.netloc]
    if here.hostname in ("127.0.0.1", "localhost"):
        other = "localhost" if here.hostname == "127.0.0.1" else "127.0.0.1"
        aliases.append(f"{other}:{here.port}" if here.port else other)
    asked = urlsplit(authorization_endpoint) if authorization_endpoint else here
    if asked.netloc.lower() not in [a.lower() for a in aliases]:
        raise EntraError("invalid_instance", 50049, "Unknown or invalid instance.")
    return {
        "tenant_discovery_endpoint": f"{authority}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": here.netloc, "preferred_cache": here.netloc, "aliases": aliases}],
    }


# ------------------------------------------------------------------------------------------------------ main


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Local Microsoft Entra ID-compatible token service (HTTPS).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True, help="PEM server certificate")
    p.add_argument("--key", required=True, help="PEM server private key")
    p.add_argument("--inventory", required=True, help="the local cloud's inventory (local-cloud.json)")
    p.add_argument("--signing-key", required=True, help="PEM RSA key that signs issued tokens")
    p.add_argument("--issuer-ca", action="append", default=[], help="CA trusted for FIC issuers (repeatable)")
    p.add_argument("--tenant", default=LOCAL_TENANT)
    p.add_argument("--log-level", default="info")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve over HTTPS until SIGTERM/SIGINT."""
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(
        inventory=Path(args.inventory),
        signer=Signer.from_pem(Path(args.signing_key)),
        tenant=args.tenant,
        issuer_cas=[Path(c) for c in args.issuer_ca],
    )
    log.info("token service on https://%s:%d tenant=%s kid=%s", args.host, args.port, args.tenant, settings.signer.kid)
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        ssl_certfile=args.cert,
        ssl_keyfile=args.key,
        log_level=args.log_level,
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
