"""Live tests of PostgreSQL and MySQL/MariaDB configurations (psycopg, PyMySQL)."""

from __future__ import annotations

import math
import re
import ssl
from typing import Any

import psycopg
import pymysql

from servicelinker.probes.extract import (
    MYSQL,
    POSTGRESQL,
    VERIFY_CA,
    VERIFY_FULL,
    DatabaseParams,
    extract_database,
)
from servicelinker.probes.results import (
    NETWORK_RULES,
    REMEDY_SECRET,
    ProbeContext,
    ProbeErrorCode,
    ProbeResult,
    Rule,
    classify,
    fail,
    first_line,
    from_keys,
    missing,
    ok,
)

# ============================================================================================ PostgreSQL

_PG_RULES = (
    Rule(
        r"password authentication failed|authentication failed",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "authentication failed for user {user} at {endpoint}",
        REMEDY_SECRET,
    ),
    Rule(
        r'database "(?P<db>[^"]*)" does not exist',
        ProbeErrorCode.DATABASE_NOT_FOUND,
        "database {db} does not exist on {endpoint}",
        "create the database, or update the connection to name an existing one (--database)",
    ),
    Rule(
        r"no pg_hba\.conf entry",
        ProbeErrorCode.CLIENT_NOT_ALLOWED,
        "the server at {endpoint} does not accept this client for user {user} and database {database} "
        "(no firewall / pg_hba.conf rule)",
        "add a firewall rule for the cluster's outbound address",
    ),
    Rule(
        r"permission denied for database|CONNECT privilege",
        ProbeErrorCode.PERMISSION_DENIED,
        "user {user} may not connect to database {database}",
        "grant the user CONNECT on the database",
    ),
    Rule(
        r"server does not support SSL",
        ProbeErrorCode.TLS_FAILED,
        "the configuration requires TLS but the server at {endpoint} does not offer it",
        "enable TLS on the server, or update the connection for a server without TLS",
    ),
    *NETWORK_RULES,
)


def probe_postgres(ctx: ProbeContext) -> ProbeResult:
    p = extract_database(ctx.configurations, engine=POSTGRESQL)
    if p is None or not p.host:
        return missing(ctx, "PostgreSQL", ["host"], p.keys if p else ())
    if p.password is None:
        return missing(ctx, "PostgreSQL", ["password"], p.keys)
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
        return classify(first_line(str(exc)), _PG_RULES, fields)
    version = _version_prefix(str(row[0]) if row else "", r"PostgreSQL [\d.]+", "PostgreSQL")
    return ok(
        f"Connected to {version} at {p.host}:{port} database {database} as user {user} "
        f"({'TLS' if tls else 'no TLS'}){from_keys(p.keys)}"
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
    Rule(
        r"^\(1045\)",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "authentication failed for user {user} at {endpoint}",
        REMEDY_SECRET,
    ),
    Rule(
        r"^\(1049\)",
        ProbeErrorCode.DATABASE_NOT_FOUND,
        "database {database} does not exist on {endpoint}",
        "create the database, or update the connection to name an existing one (--database)",
    ),
    Rule(
        r"^\(104[24]\)",
        ProbeErrorCode.PERMISSION_DENIED,
        "user {user} may not use database {database} (MySQL also says so when the database does not exist)",
        "create the database or grant the user privileges on it",
    ),
    Rule(
        r"^\(1130\)",
        ProbeErrorCode.CLIENT_NOT_ALLOWED,
        "the server at {endpoint} does not accept this client for user {user}",
        "add a firewall rule for the cluster's outbound address",
    ),
    Rule(
        r"SSL is required but the server doesn't support it",
        ProbeErrorCode.TLS_FAILED,
        "the configuration requires TLS but the server at {endpoint} does not offer it",
        "enable TLS on the server, or update the connection for a server without TLS",
    ),
    *NETWORK_RULES,
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


def probe_mysql(ctx: ProbeContext) -> ProbeResult:
    p = extract_database(ctx.configurations, engine=MYSQL)
    if p is None or not p.host:
        return missing(ctx, "MySQL", ["host"], p.keys if p else ())
    if p.password is None:
        return missing(ctx, "MySQL", ["password"], p.keys)
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
        return classify(f"({code}) {first_line(str(text))}", _MYSQL_RULES, fields)
    if p.ssl and not cipher:
        return fail(
            ProbeErrorCode.TLS_FAILED,
            f"the configuration requires TLS but the connection to {p.host}:{port} is not encrypted",
            "enable TLS on the server, or update the connection for a server without TLS",
        )
    product = "MariaDB" if "mariadb" in str(version).lower() else "MySQL"
    number = _version_prefix(str(version), r"[\d.]+", str(version))
    return ok(
        f"Connected to {product} {number} at {p.host}:{port} database {database or '(none)'} as user "
        f"{p.user} ({'TLS' if cipher else 'no TLS'}){from_keys(p.keys)}"
    )
