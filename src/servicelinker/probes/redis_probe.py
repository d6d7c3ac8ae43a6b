"""Live test of Redis configurations (redis-py): AUTH, then a cheap command."""

from __future__ import annotations

from typing import Any

import redis as redis_py
from redis.backoff import NoBackoff
from redis.retry import Retry

from servicelinker.probes.extract import (
    RedisParams,
    extract_identity,
    extract_redis,
)
from servicelinker.probes.results import (
    NETWORK_RULES,
    REMEDY_SECRET,
    ProbeContext,
    ProbeErrorCode,
    ProbeResult,
    Rule,
    classify,
    first_line,
    from_keys,
    identity_result,
    missing,
    ok,
)

# ============================================================================================ Redis

_REDIS_RULES = (
    Rule(
        r"WRONGPASS|invalid username-password pair|invalid password",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "authentication failed for user {user} at {endpoint}",
        REMEDY_SECRET,
    ),
    Rule(
        r"NOAUTH|Authentication required|HELLO must be called with the client already authenticated",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "the server at {endpoint} requires a password but the configuration carries none",
        REMEDY_SECRET,
    ),
    Rule(
        r"without any password configured",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "the configuration carries a password but the server at {endpoint} has none configured",
        REMEDY_SECRET,
    ),
    Rule(
        r"(?i)DB index is out of range|invalid DB index",
        ProbeErrorCode.DATABASE_NOT_FOUND,
        "database index {database} does not exist on {endpoint}",
        "update the connection with a valid database",
    ),
    *NETWORK_RULES,
)


def probe_redis(ctx: ProbeContext) -> ProbeResult:
    p = extract_redis(ctx.configurations)
    if p is None or not p.host:
        return missing(ctx, "Redis", ["host"], p.keys if p else ())
    if p.password is None and extract_identity(ctx.configurations) is not None:
        return identity_result(ctx) or missing(ctx, "Redis", ["password"], p.keys)
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
        return _tls_hint(classify(first_line(str(exc)), _REDIS_RULES, fields), p.tls)
    return ok(
        f"Connected to Redis {version} at {p.host}:{p.port} database {p.db}"
        f"{' as user ' + p.username if p.username else ''} ({'TLS' if p.tls else 'no TLS'})"
        f"{from_keys(p.keys)}"
    )


def _tls_hint(result: ProbeResult, tls: bool) -> ProbeResult:
    """A TLS client talking to a plain port usually just hangs or is reset: say that TLS may be the cause."""
    if not tls or result.error_code not in (ProbeErrorCode.TIMEOUT, ProbeErrorCode.CONNECTION_FAILED):
        return result
    hint = " (the configuration uses TLS: check that the server speaks TLS on this port)"
    reason, sep, remedy = result.detail.partition("; ")
    return result.model_copy(update={"detail": reason + hint + sep + remedy})


def _redis_client(p: RedisParams, ctx: ProbeContext) -> redis_py.Redis[bytes]:
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
