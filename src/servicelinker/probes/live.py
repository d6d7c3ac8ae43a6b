"""Live connection tests: reach the target with exactly the configuration delivered into the Kubernetes Secret.

Why: Azure's `az aks connection validate` never looks at the values in the cluster (reference §6.1, §7.7), so a
wrong password or a template a driver misreads only shows when the workload fails. `probe` reads the parameters
back from the key/value pairs (`extract`), connects with the driver an application would use (psycopg, PyMySQL,
redis-py, the Azure Storage SDKs), makes one cheap authenticated call and says what it reached.

Results are `success`, `failure` (reason + remedy, and an `error_code`) or `notTestable` (identity-based
configurations, whose tokens the token service tests; targets with no server on this machine).

Secrets never leave: details are composed from non-secret parameters (host, port, database, user, key names);
driver messages, which can echo a DSN or a user, are only quoted after every secret of the configuration has
been replaced by `***`; nothing is raised out of `probe`. Every network call is bounded by `timeout`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import quote, quote_plus, urlsplit

import httpx
import psycopg
import pymysql
import redis as redis_py
from azure.core.exceptions import AzureError, HttpResponseError
from pydantic import BaseModel
from redis.backoff import NoBackoff
from redis.retry import Retry

from servicelinker.catalog.targets import TARGETS, TARGETS_BY_NAME
from servicelinker.probes.extract import (
    MYSQL,
    POSTGRESQL,
    VERIFY_CA,
    VERIFY_FULL,
    DatabaseParams,
    ExtractError,
    RedisParams,
    StorageParams,
    extract_database,
    extract_identity,
    extract_redis,
    extract_storage,
    restore_names,
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
class _Ctx:
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
        for extract in (_db_secret, _redis_secret, _storage_secrets):
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


def _db_secret(configurations: Mapping[str, str]) -> list[str]:
    p = extract_database(configurations)
    return [p.password] if p and p.password else []


def _redis_secret(configurations: Mapping[str, str]) -> list[str]:
    p = extract_redis(configurations)
    return [p.password] if p and p.password else []


def _storage_secrets(configurations: Mapping[str, str]) -> list[str]:
    p = extract_storage(configurations)
    return [s for s in (p.account_key, p.sas_token, p.connection_string) if s] if p else []


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


# ============================================================================================ results


def _ok(detail: str) -> ProbeResult:
    return ProbeResult(status="success", detail=detail)


def _fail(code: ProbeErrorCode, reason: str, remedy: str | None = None) -> ProbeResult:
    detail = f"{reason}; {remedy}" if remedy else reason
    return ProbeResult(status="failure", detail=detail, error_code=code)


def _not_testable(code: ProbeErrorCode, reason: str) -> ProbeResult:
    return ProbeResult(status="notTestable", detail=reason, error_code=code)


def _from_keys(keys: Iterable[str]) -> str:
    names = ", ".join(dict.fromkeys(keys))
    return f" (read from {names})" if names else ""


@dataclass(frozen=True)
class _Rule:
    """A driver error recognised by its message: code, reason and remedy templates (`{user}`, `{endpoint}`...)."""

    pattern: str
    code: ProbeErrorCode
    reason: str
    remedy: str


_NETWORK_RULES = (
    _Rule(
        r"(?i)could not translate host name|name or service not known|nodename nor servname|"
        r"temporary failure in name resolution|failed to resolve|getaddrinfo",
        ProbeErrorCode.HOST_NOT_FOUND,
        "host name {host} does not resolve",
        "check the host in the configuration",
    ),
    _Rule(
        r"(?i)connection refused|errno 111|actively refused",
        ProbeErrorCode.CONNECTION_REFUSED,
        "nothing accepts connections at {endpoint}",
        REMEDY_NETWORK,
    ),
    _Rule(
        r"(?i)timeout expired|timed out|timeout",
        ProbeErrorCode.TIMEOUT,
        "no answer from {endpoint} within {timeout:g}s",
        "check the network path and the firewall to the server",
    ),
    _Rule(
        r"(?i)ssl|tls|certificate|wrong_version_number",
        ProbeErrorCode.TLS_FAILED,
        "the TLS handshake with {endpoint} failed: {message}",
        "check that the server speaks TLS on this port and that its certificate is trusted",
    ),
)


def _classify(message: str, rules: Iterable[_Rule], fields: Mapping[str, Any]) -> ProbeResult:
    """The first rule whose pattern matches the driver's `message` decides the failure (`probe` scrubs the whole
    detail afterwards, so the quoted message cannot leak a secret)."""
    for rule in rules:
        m = re.search(rule.pattern, message)
        if m:
            values = {**fields, **{k: v for k, v in m.groupdict().items() if v is not None}, "message": message}
            return _fail(rule.code, rule.reason.format(**values), rule.remedy.format(**values))
    return _fail(
        ProbeErrorCode.CONNECTION_FAILED, f"connecting to {fields['endpoint']} failed: {message}", REMEDY_NETWORK
    )


# ============================================================================================ entry point


def probe(
    target: str,
    configurations: Mapping[str, str],
    *,
    timeout: float = 5.0,
    ca_file: str | None = None,
    customized_keys: Mapping[str, str] | None = None,
) -> ProbeResult:
    """Test `configurations` (a connection's Secret data) against the `target` (CLI target name) they point at.

    `ca_file` is the trust root for certificate checks (the dev stack's private CAs): used where the
    configuration asks for verification (`verify-ca`/`verify-full`, Go's `tls=true`), for Redis over TLS and
    for HTTPS storage endpoints. `customized_keys` (the linker's default -> custom names) lets renamed keys be
    recognised. Never raises; never puts a secret in the result or the log.
    """
    ctx = _Ctx(target, restore_names(configurations, customized_keys), max(timeout, 0.5), ca_file)
    scrub = Scrubber.of(ctx.configurations)  # default names, so renamed credentials are still recognised
    try:
        result = _dispatch(ctx)
    except ExtractError as exc:
        result = _fail(
            ProbeErrorCode.CONFIGURATION_INVALID,
            f"the configuration is unusable: {exc}",
            "update the connection so the value has the documented shape",
        )
    except Exception as exc:  # a probe reports, it does not crash `validate`
        result = _fail(
            ProbeErrorCode.PROBE_ERROR, f"the test itself failed: {type(exc).__name__}: {_first_line(str(exc))}"
        )
    result = result.model_copy(update={"detail": scrub(result.detail)})
    log.debug("probe %s: %s %s", target, result.status, result.detail)
    return result


def _dispatch(ctx: _Ctx) -> ProbeResult:
    known = TARGETS_BY_NAME.get(ctx.target)
    runner = LIVE_PROBES.get(known.probe or "") if known else None
    if runner is not None:
        return runner(ctx)
    identity = _identity_result(ctx)
    if identity is not None:
        return identity
    what = known.display if known else ctx.target
    return _not_testable(ProbeErrorCode.NO_LOCAL_SERVER, f"no {what} server runs on this machine")


def _identity_result(ctx: _Ctx) -> ProbeResult | None:
    """notTestable for token-based configurations (client id, maybe a client secret; no password or key)."""
    identity = extract_identity(ctx.configurations)
    if identity is None:
        return None
    return _not_testable(
        ProbeErrorCode.IDENTITY_BASED,
        f"{identity.kind} configuration{_from_keys(identity.keys)}: {identity.kind} tokens are "
        "tested by the token service, not by a live connection",
    )


def _missing(ctx: _Ctx, what: str, fields: Iterable[str], keys: Iterable[str] = ()) -> ProbeResult:
    identity = _identity_result(ctx)
    if identity is not None:
        return identity
    names = ", ".join(fields)
    return _fail(
        ProbeErrorCode.CONFIGURATION_INCOMPLETE,
        f"the configuration has no {what} {names}{_from_keys(keys)}",
        "update the connection (or its customizedKeys) so the Secret carries the documented names",
    )


# ============================================================================================ PostgreSQL

_PG_RULES = (
    _Rule(
        r"password authentication failed|authentication failed",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "authentication failed for user {user} at {endpoint}",
        REMEDY_SECRET,
    ),
    _Rule(
        r'database "(?P<db>[^"]*)" does not exist',
        ProbeErrorCode.DATABASE_NOT_FOUND,
        "database {db} does not exist on {endpoint}",
        "create the database, or update the connection to name an existing one (--database)",
    ),
    _Rule(
        r"no pg_hba\.conf entry",
        ProbeErrorCode.CLIENT_NOT_ALLOWED,
        "the server at {endpoint} does not accept this client for user {user} and database {database} "
        "(no firewall / pg_hba.conf rule)",
        "add a firewall rule for the cluster's outbound address",
    ),
    _Rule(
        r"permission denied for database|CONNECT privilege",
        ProbeErrorCode.PERMISSION_DENIED,
        "user {user} may not connect to database {database}",
        "grant the user CONNECT on the database",
    ),
    _Rule(
        r"server does not support SSL",
        ProbeErrorCode.TLS_FAILED,
        "the configuration requires TLS but the server at {endpoint} does not offer it",
        "enable TLS on the server, or update the connection for a server without TLS",
    ),
    *_NETWORK_RULES,
)


def _probe_postgres(ctx: _Ctx) -> ProbeResult:
    p = extract_database(ctx.configurations, engine=POSTGRESQL)
    if p is None or not p.host:
        return _missing(ctx, "PostgreSQL", ["host"], p.keys if p else ())
    if p.password is None:
        return _missing(ctx, "PostgreSQL", ["password"], p.keys)
    port = p.port_or_default()
    kwargs: dict[str, Any] = {
        **dict(p.options),
        "host": p.host,
        "port": port,
        "user": p.user,
        "password": p.password,
        "connect_timeout": max(2, math.ceil(ctx.timeout)),
    }
    if p.database:
        kwargs["dbname"] = p.database
    if p.sslmode:
        kwargs["sslmode"] = p.sslmode
    if ctx.ca_file and p.sslmode in (VERIFY_CA, VERIFY_FULL):
        kwargs["sslrootcert"] = ctx.ca_file
    fields = _db_fields(p, port, ctx.timeout)
    try:
        with psycopg.connect(**{k: v for k, v in kwargs.items() if v is not None}, autocommit=True) as conn:
            row = conn.execute("SELECT version()").fetchone()
            info = conn.info
            tls = conn.pgconn.ssl_in_use
            database, user = info.dbname, info.user
    except psycopg.Error as exc:
        return _classify(_first_line(str(exc)), _PG_RULES, fields)
    version = _version_prefix(str(row[0]) if row else "", r"PostgreSQL [\d.]+", "PostgreSQL")
    return _ok(
        f"Connected to {version} at {p.host}:{port} database {database} as user {user} "
        f"({'TLS' if tls else 'no TLS'}){_from_keys(p.keys)}"
    )


def _db_fields(p: DatabaseParams, port: int | None, timeout: float) -> dict[str, Any]:
    return {
        "user": p.user or "(none)",
        "database": p.database or p.user or "(default)",
        "host": p.host,
        "endpoint": f"{p.host}:{port}",
        "timeout": timeout,
    }


def _version_prefix(full: str, pattern: str, fallback: str) -> str:
    m = re.search(pattern, full)
    return m.group(0) if m else fallback


# ============================================================================================ MySQL / MariaDB

_MYSQL_RULES = (
    _Rule(
        r"^\(1045\)",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "authentication failed for user {user} at {endpoint}",
        REMEDY_SECRET,
    ),
    _Rule(
        r"^\(1049\)",
        ProbeErrorCode.DATABASE_NOT_FOUND,
        "database {database} does not exist on {endpoint}",
        "create the database, or update the connection to name an existing one (--database)",
    ),
    _Rule(
        r"^\(104[24]\)",
        ProbeErrorCode.PERMISSION_DENIED,
        "user {user} may not use database {database} (MySQL also says so when the database does not exist)",
        "create the database or grant the user privileges on it",
    ),
    _Rule(
        r"^\(1130\)",
        ProbeErrorCode.CLIENT_NOT_ALLOWED,
        "the server at {endpoint} does not accept this client for user {user}",
        "add a firewall rule for the cluster's outbound address",
    ),
    _Rule(
        r"SSL is required but the server doesn't support it",
        ProbeErrorCode.TLS_FAILED,
        "the configuration requires TLS but the server at {endpoint} does not offer it",
        "enable TLS on the server, or update the connection for a server without TLS",
    ),
    *_NETWORK_RULES,
)


def _mysql_tls(p: DatabaseParams, ca_file: str | None) -> dict[str, Any]:
    """PyMySQL TLS arguments for the configuration's mode (required: encrypt only; verify-*: check the CA)."""
    if p.ssl is False:
        return {"ssl_disabled": True}
    if p.ssl is None:
        return {}  # PyMySQL's default: TLS when the server offers it
    ctx = (
        ssl.create_default_context(cafile=ca_file)
        if p.sslmode in (VERIFY_CA, VERIFY_FULL)
        else ssl.create_default_context()
    )
    if p.sslmode not in (VERIFY_CA, VERIFY_FULL):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif p.sslmode == VERIFY_CA:
        ctx.check_hostname = False
    return {"ssl": ctx}


def _probe_mysql(ctx: _Ctx) -> ProbeResult:
    p = extract_database(ctx.configurations, engine=MYSQL)
    if p is None or not p.host:
        return _missing(ctx, "MySQL", ["host"], p.keys if p else ())
    if p.password is None:
        return _missing(ctx, "MySQL", ["password"], p.keys)
    port = p.port_or_default() or 3306
    fields = _db_fields(p, port, ctx.timeout)
    try:
        conn = pymysql.connect(
            host=p.host,
            port=port,
            user=p.user or "",
            password=p.password,
            database=p.database,
            connect_timeout=ctx.timeout,
            read_timeout=ctx.timeout,
            write_timeout=ctx.timeout,
            **_mysql_tls(p, ctx.ca_file),
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION(), DATABASE()")
                version, database = cur.fetchone() or ("", "")
                cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                cipher = (cur.fetchone() or ("", ""))[1]
        finally:
            conn.close()
    except pymysql.MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        text = exc.args[1] if len(exc.args) > 1 else str(exc)
        return _classify(f"({code}) {_first_line(str(text))}", _MYSQL_RULES, fields)
    if p.ssl and not cipher:
        return _fail(
            ProbeErrorCode.TLS_FAILED,
            f"the configuration requires TLS but the connection to {p.host}:{port} is not encrypted",
            "enable TLS on the server, or update the connection for a server without TLS",
        )
    product = "MariaDB" if "mariadb" in str(version).lower() else "MySQL"
    number = _version_prefix(str(version), r"[\d.]+", str(version))
    return _ok(
        f"Connected to {product} {number} at {p.host}:{port} database {database or '(none)'} as user "
        f"{p.user} ({'TLS' if cipher else 'no TLS'}){_from_keys(p.keys)}"
    )


# ============================================================================================ Redis

_REDIS_RULES = (
    _Rule(
        r"WRONGPASS|invalid username-password pair|invalid password",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "authentication failed for user {user} at {endpoint}",
        REMEDY_SECRET,
    ),
    _Rule(
        r"NOAUTH|Authentication required|HELLO must be called with the client already authenticated",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "the server at {endpoint} requires a password but the configuration carries none",
        REMEDY_SECRET,
    ),
    _Rule(
        r"without any password configured",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "the configuration carries a password but the server at {endpoint} has none configured",
        REMEDY_SECRET,
    ),
    _Rule(
        r"(?i)DB index is out of range|invalid DB index",
        ProbeErrorCode.DATABASE_NOT_FOUND,
        "database index {database} does not exist on {endpoint}",
        "update the connection with a valid database",
    ),
    *_NETWORK_RULES,
)


def _probe_redis(ctx: _Ctx) -> ProbeResult:
    p = extract_redis(ctx.configurations)
    if p is None or not p.host:
        return _missing(ctx, "Redis", ["host"], p.keys if p else ())
    if p.password is None and extract_identity(ctx.configurations) is not None:
        return _identity_result(ctx) or _missing(ctx, "Redis", ["password"], p.keys)
    fields = {
        "user": p.username or "default",
        "database": p.db,
        "host": p.host,
        "endpoint": f"{p.host}:{p.port}",
        "timeout": ctx.timeout,
    }
    try:
        with _redis_client(p, ctx) as client:
            client.ping()
            version = str(client.info("server").get("redis_version", "?"))
    except redis_py.RedisError as exc:
        return _tls_hint(_classify(_first_line(str(exc)), _REDIS_RULES, fields), p.tls)
    return _ok(
        f"Connected to Redis {version} at {p.host}:{p.port} database {p.db}"
        f"{' as user ' + p.username if p.username else ''} ({'TLS' if p.tls else 'no TLS'})"
        f"{_from_keys(p.keys)}"
    )


def _tls_hint(result: ProbeResult, tls: bool) -> ProbeResult:
    """A TLS client talking to a plain port usually just hangs or is reset: say that TLS may be the cause."""
    if not tls or result.error_code not in (ProbeErrorCode.TIMEOUT, ProbeErrorCode.CONNECTION_FAILED):
        return result
    hint = " (the configuration uses TLS: check that the server speaks TLS on this port)"
    reason, sep, remedy = result.detail.partition("; ")
    return result.model_copy(update={"detail": reason + hint + sep + remedy})


def _redis_client(p: RedisParams, ctx: _Ctx) -> redis_py.Redis[bytes]:
    tls: dict[str, Any] = {"ssl": True, "ssl_ca_certs": ctx.ca_file} if p.tls else {}
    return redis_py.Redis(
        host=p.host or "",
        port=p.port,
        db=p.db,
        username=p.username,
        password=p.password,
        socket_connect_timeout=ctx.timeout,
        socket_timeout=ctx.timeout,
        retry=Retry(NoBackoff(), 0),
        **tls,
    )


# ============================================================================================ Storage

_STORAGE_RULES = (
    _Rule(
        r"(?i)^HTTP 40[13]\b.*(AuthenticationFailed|AuthorizationFailure|Signature|authenticate)",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "the account key of {account} was rejected by {endpoint}",
        REMEDY_KEY,
    ),
    _Rule(
        r"(?i)^HTTP 403\b",
        ProbeErrorCode.PERMISSION_DENIED,
        "{endpoint} refused the request: {message}",
        "check the account's network rules and the key's permissions",
    ),
    _Rule(
        r"(?i)^HTTP 40[04]\b.*(AccountNotFound|ResourceNotFound|InvalidResourceName|not found)",
        ProbeErrorCode.DATABASE_NOT_FOUND,
        "account {account} is not served at {endpoint}: {message}",
        "check the account name and endpoint in the configuration",
    ),
    *_NETWORK_RULES,
)

_SERVICE_LABELS = {"blob": "Blob", "queue": "Queue", "table": "Table", "file": "File"}


def _storage_probe(service: str) -> Callable[[_Ctx], ProbeResult]:
    def run(ctx: _Ctx) -> ProbeResult:
        p = extract_storage(ctx.configurations, service=service)
        if p is None or (p.connection_string is None and p.account_key is None):
            return _missing(ctx, "storage", ["connection string or account key"], p.keys if p else ())
        endpoint = p.default_endpoint(service) or "(no endpoint)"
        fields = {
            "account": p.account_name or "(unnamed)",
            "endpoint": _display_url(endpoint),
            "host": urlsplit(endpoint).hostname or endpoint,
            "timeout": ctx.timeout,
        }
        result = _storage_call(service, p, ctx, fields)
        if result.status == "failure" and p.endpoint(service) is None:
            note = (
                f"the configuration names no {_SERVICE_LABELS[service]} endpoint, so the SDK used {fields['endpoint']}"
            )
            result = result.model_copy(update={"detail": f"{note}: {result.detail}"})
        return result

    return run


def _storage_call(service: str, p: StorageParams, ctx: _Ctx, fields: Mapping[str, Any]) -> ProbeResult:
    """One listing call; a failure classified from the HTTP status and storage error code."""
    try:
        _list_one(service, p, ctx)
    except HttpResponseError as exc:
        code = getattr(exc, "error_code", None) or exc.reason or ""
        message = f"HTTP {exc.status_code} {code}: {_first_line(exc.message or str(exc))}"
        return _classify(message, _STORAGE_RULES, fields)
    except AzureError as exc:
        return _classify(_first_line(str(exc)), _STORAGE_RULES, fields)
    except ValueError as exc:
        return _fail(
            ProbeErrorCode.CONFIGURATION_INVALID,
            f"the storage SDK rejects the configuration: {_first_line(str(exc))}",
            "update the connection so the value has the documented shape",
        )
    return _ok(_storage_detail(service, p, p.default_endpoint(service) or ""))


def _storage_detail(service: str, p: StorageParams, endpoint: str) -> str:
    tls = "TLS" if endpoint.lower().startswith("https") else "no TLS"
    how = "a SAS token" if p.sas_token and not p.account_key else "the account key"
    return (
        f"Connected to the {_SERVICE_LABELS[service]} service of account {p.account_name} at "
        f"{_display_url(endpoint)} ({tls}), authenticated with {how}{_from_keys(p.keys)}"
    )


def _display_url(url: str) -> str:
    """An endpoint without query (a SAS token lives there) or user info."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url


def _sdk_options(p: StorageParams, ctx: _Ctx) -> dict[str, Any]:
    options: dict[str, Any] = {"retry_total": 0, "connection_timeout": ctx.timeout, "read_timeout": ctx.timeout}
    if ctx.ca_file:
        options["connection_verify"] = ctx.ca_file
    return options


def _list_one(service: str, p: StorageParams, ctx: _Ctx) -> None:
    """One authenticated listing call with the service's SDK client, built as the application would build it."""
    options = _sdk_options(p, ctx)
    if service == "blob":
        from azure.storage.blob import BlobServiceClient

        blob = _build(BlobServiceClient, p, "blob", options)
        with blob:
            next(blob.list_containers(results_per_page=1).by_page(), None)
    elif service == "queue":
        from azure.storage.queue import QueueServiceClient

        queue = _build(QueueServiceClient, p, "queue", options)
        with queue:
            next(queue.list_queues(results_per_page=1).by_page(), None)
    else:
        from azure.core.credentials import AzureNamedKeyCredential
        from azure.data.tables import TableServiceClient

        if p.connection_string:
            table = TableServiceClient.from_connection_string(p.connection_string, **options)
        else:
            credential = AzureNamedKeyCredential(p.account_name or "", p.account_key or "")
            table = TableServiceClient(p.default_endpoint("table") or "", credential=credential, **options)
        with table:
            next(table.list_tables(results_per_page=1).by_page(), None)


def _build(client_type: Any, p: StorageParams, service: str, options: dict[str, Any]) -> Any:
    if p.connection_string:
        return client_type.from_connection_string(p.connection_string, **options)
    credential = {"account_name": p.account_name, "account_key": p.account_key}
    return client_type(p.default_endpoint(service), credential=credential, **options)


# ---------------------------------------------------------------------------------------------- Azure Files

FILE_API_VERSION = "2023-11-03"


def _probe_file(ctx: _Ctx) -> ProbeResult:
    """Azure Files: no SDK here, and Azurite has no File service. A File endpoint the configuration names is
    tested with a SharedKey-signed List Shares when it answers; otherwise notTestable with the reason."""
    p = extract_storage(ctx.configurations, service="file")
    if p is None or p.account_key is None:
        return _missing(ctx, "storage", ["connection string or account key"], p.keys if p else ())
    endpoint = p.endpoint("file")
    if endpoint is None:
        return _not_testable(
            ProbeErrorCode.SERVICE_UNAVAILABLE,
            f"the configuration names no File endpoint for account {p.account_name}, and Azurite "
            "(the local storage emulator) has no File service to test against",
        )
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not _answers(parts.hostname or "", port, ctx.timeout):
        return _not_testable(
            ProbeErrorCode.SERVICE_UNAVAILABLE,
            f"no File service answers at {_display_url(endpoint)} (Azurite, the local storage "
            "emulator, has no File service)",
        )
    fields = {
        "account": p.account_name,
        "endpoint": _display_url(endpoint),
        "host": parts.hostname,
        "timeout": ctx.timeout,
    }
    try:
        status, code = shared_key_list(endpoint, p.account_name or "", p.account_key, ctx.timeout, ctx.ca_file)
    except httpx.HTTPError as exc:
        return _classify(_first_line(str(exc)) or type(exc).__name__, _STORAGE_RULES, fields)
    if status >= 300:
        return _classify(f"HTTP {status} {code}", _STORAGE_RULES, fields)
    return _ok(_storage_detail("file", p, endpoint))


def _answers(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def shared_key_list(
    endpoint: str, account: str, key: str, timeout: float, ca_file: str | None = None
) -> tuple[int, str]:
    """`GET <endpoint>/?comp=list&maxresults=1` signed with the account key (Storage SharedKey scheme, the same
    for Blob, Queue and File); returns (HTTP status, x-ms-error-code)."""
    base = endpoint if endpoint.endswith("/") else endpoint + "/"
    query = {"comp": "list", "maxresults": "1"}
    headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": FILE_API_VERSION}
    path = urlsplit(base).path or "/"
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
    canonical_resource = f"/{account}{path}" + "".join(f"\n{k}:{v}" for k, v in sorted(query.items()))
    to_sign = "GET\n" + "\n" * 11 + canonical_headers + canonical_resource
    digest = hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()
    headers["Authorization"] = f"SharedKey {account}:{base64.b64encode(digest).decode()}"
    verify: Any = ca_file if ca_file else True
    with httpx.Client(timeout=timeout, verify=verify) as client:
        response = client.get(base, params=query, headers=headers)
    return response.status_code, response.headers.get("x-ms-error-code", "")


# ============================================================================================ the table

#: A service's `probe` (catalog/services.py) -> the live test. Services without one are notTestable.
LIVE_PROBES: dict[str, Callable[[_Ctx], ProbeResult]] = {
    "postgresql": _probe_postgres,
    "mysql": _probe_mysql,
    "redis": _probe_redis,
    "storage-blob": _storage_probe("blob"),
    "storage-queue": _storage_probe("queue"),
    "storage-table": _storage_probe("table"),
    "storage-file": _probe_file,
}

#: The targets `probe` can test live (the others are notTestable), derived from the catalog.
LIVE_TARGETS: tuple[str, ...] = tuple(t.name for t in TARGETS if t.probe in LIVE_PROBES)
