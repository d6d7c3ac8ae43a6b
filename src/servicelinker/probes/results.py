"""What a probe reports, how driver messages are classified, and how secrets are kept out of it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import quote, quote_plus

from pydantic import BaseModel

from servicelinker.probes.extract import (
    extract_database,
    extract_identity,
    extract_redis,
    extract_storage,
)

log = logging.getLogger(__name__)

Status = Literal["success", "failure", "notTestable"]


class ProbeResult(BaseModel):
    """The outcome of one live test; `detail` is for humans and never carries a secret."""

    status: Status
    detail: str
    error_code: str | None = None


class ProbeErrorCode(StrEnum):
    """Why a probe failed (or could not run)."""

    AUTHENTICATION_FAILED = "AuthenticationFailed"
    DATABASE_NOT_FOUND = "DatabaseNotFound"
    PERMISSION_DENIED = "PermissionDenied"
    CLIENT_NOT_ALLOWED = "ClientNotAllowed"
    CONNECTION_REFUSED = "ConnectionRefused"
    HOST_NOT_FOUND = "HostNotFound"
    TIMEOUT = "Timeout"
    TLS_FAILED = "TlsFailed"
    CONFIGURATION_INCOMPLETE = "ConfigurationIncomplete"
    CONFIGURATION_INVALID = "ConfigurationInvalid"
    CONNECTION_FAILED = "ConnectionFailed"
    IDENTITY_BASED = "IdentityBased"
    NO_LOCAL_SERVER = "NoLocalServer"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    PROBE_ERROR = "ProbeError"


REMEDY_SECRET = "update the connection with the right --secret (servicelinker aks connection update ... --secret)"
REMEDY_KEY = (
    "update the connection so the Secret carries the account's current key (servicelinker aks connection update "
    "... --secret)"
)
REMEDY_NETWORK = "check that the server runs and that host and port in the configuration are right"


@dataclass(frozen=True)
class ProbeContext:
    """One probe's inputs (configuration names already restored from customizedKeys)."""

    target: str
    configurations: Mapping[str, str]
    timeout: float
    ca_file: str | None


# ============================================================================================ scrubbing

_SECRET_KEY_WORDS = re.compile(r"password|secret|key|connection[_.\-]?string|sasl|userinfo|token|pwd", re.IGNORECASE)
#: `password=...` style fragments of any shape (libpq, ADO.NET, JDBC, storage, StackExchange) and URL user info.
_SECRET_FRAGMENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"(?i)\b(password|pwd|accountkey|sharedaccesskey|accesskey|sig|secret)(\s*=\s*)"
            r"('[^']*'|\"[^\"]*\"|[^;&,\s]+)"
        ),
        r"\1\2***",
    ),
    (re.compile(r"(://[^:/@\s]*:)([^@\s]+)(@)"), r"\1***\3"),
)


class Scrubber:
    """Replaces every secret of a configuration in a text by `***` (whole-word for very short secrets)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        variants: set[str] = set()
        for s in secrets:
            if s:
                variants.update({s, quote(s, safe=""), quote_plus(s, safe="")})
        self._secrets = sorted(variants, key=len, reverse=True)

    @classmethod
    def of(cls, configurations: Mapping[str, str]) -> Scrubber:
        """Secrets of a configuration: values under credential-like names, and every password/key extracted."""
        found = [v for k, v in configurations.items() if _SECRET_KEY_WORDS.search(k)]
        for extract in (db_secret, redis_secret, storage_secrets):
            try:
                found.extend(extract(configurations))
            except Exception:  # a malformed value: its key's value is covered above when it is a credential
                continue
        return cls(found)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if len(secret) >= 4:
                text = text.replace(secret, "***")
            else:
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
        for pattern, replacement in _SECRET_FRAGMENTS:
            text = pattern.sub(replacement, text)
        return text


def db_secret(configurations: Mapping[str, str]) -> list[str]:
    p = extract_database(configurations)
    return [p.password] if p and p.password else []


def redis_secret(configurations: Mapping[str, str]) -> list[str]:
    p = extract_redis(configurations)
    return [p.password] if p and p.password else []


def storage_secrets(configurations: Mapping[str, str]) -> list[str]:
    p = extract_storage(configurations)
    return [s for s in (p.account_key, p.sas_token, p.connection_string) if s] if p else []


def first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


# ============================================================================================ results


def ok(detail: str) -> ProbeResult:
    return ProbeResult(status="success", detail=detail)


def fail(code: ProbeErrorCode, reason: str, remedy: str | None = None) -> ProbeResult:
    detail = f"{reason}; {remedy}" if remedy else reason
    return ProbeResult(status="failure", detail=detail, error_code=code)


def not_testable(code: ProbeErrorCode, reason: str) -> ProbeResult:
    return ProbeResult(status="notTestable", detail=reason, error_code=code)


def from_keys(keys: Iterable[str]) -> str:
    names = ", ".join(dict.fromkeys(keys))
    return f" (read from {names})" if names else ""


@dataclass(frozen=True)
class Rule:
    """A driver error recognised by its message: code, reason and remedy templates (`{user}`, `{endpoint}`...)."""

    pattern: str
    code: ProbeErrorCode
    reason: str
    remedy: str


NETWORK_RULES = (
    Rule(
        r"(?i)could not translate host name|name or service not known|nodename nor servname|"
        r"temporary failure in name resolution|failed to resolve|getaddrinfo",
        ProbeErrorCode.HOST_NOT_FOUND,
        "host name {host} does not resolve",
        "check the host in the configuration",
    ),
    Rule(
        r"(?i)connection refused|errno 111|actively refused",
        ProbeErrorCode.CONNECTION_REFUSED,
        "nothing accepts connections at {endpoint}",
        REMEDY_NETWORK,
    ),
    Rule(
        r"(?i)timeout expired|timed out|timeout",
        ProbeErrorCode.TIMEOUT,
        "no answer from {endpoint} within {timeout:g}s",
        "check the network path and the firewall to the server",
    ),
    Rule(
        r"(?i)ssl|tls|certificate|wrong_version_number",
        ProbeErrorCode.TLS_FAILED,
        "the TLS handshake with {endpoint} failed: {message}",
        "check that the server speaks TLS on this port and that its certificate is trusted",
    ),
)


def classify(message: str, rules: Iterable[Rule], fields: Mapping[str, Any]) -> ProbeResult:
    """The first rule whose pattern matches the driver's `message` decides the failure (`probe` scrubs the whole
    detail afterwards, so the quoted message cannot leak a secret)."""
    for rule in rules:
        m = re.search(rule.pattern, message)
        if m:
            values = {**fields, **{k: v for k, v in m.groupdict().items() if v is not None}, "message": message}
            return fail(rule.code, rule.reason.format(**values), rule.remedy.format(**values))
    return fail(
        ProbeErrorCode.CONNECTION_FAILED, f"connecting to {fields['endpoint']} failed: {message}", REMEDY_NETWORK
    )




def identity_result(ctx: ProbeContext) -> ProbeResult | None:
    """notTestable for token-based configurations (client id, maybe a client secret; no password or key)."""
    identity = extract_identity(ctx.configurations)
    if identity is None:
        return None
    return not_testable(
        ProbeErrorCode.IDENTITY_BASED,
        f"{identity.kind} configuration{from_keys(identity.keys)}: {identity.kind} tokens are "
        "tested by the token service, not by a live connection",
    )


def missing(ctx: ProbeContext, what: str, fields: Iterable[str], keys: Iterable[str] = ()) -> ProbeResult:
    identity = identity_result(ctx)
    if identity is not None:
        return identity
    names = ", ".join(fields)
    return fail(
        ProbeErrorCode.CONFIGURATION_INCOMPLETE,
        f"the configuration has no {what} {names}{from_keys(keys)}",
        "update the connection (or its customizedKeys) so the Secret carries the documented names",
    )
