"""Recover connection parameters from delivered configurations (reference §4). Pure functions, no I/O.

Why read them back instead of using the catalog's facts: `validate` must test exactly what an application in the
cluster receives, so a template that renders a value its driver misreads shows up as a failed test.

An application sees only key names and values, and a `customizedKeys` rename changes the names. So single-value
shapes (connection strings, URLs, DSNs) are recognised by their *value*, whatever the key; multi-key shapes
(`AZURE_POSTGRESQL_HOST` + `..._USER` + ..., Spring properties) are recognised by the last segment of the key name
(`..._HOST`, `...username`), grouped by the rest of the name, which survives most renames (`MY_DB_HOST`); passing
the linker's `customized_keys` restores the default names first.

Each parser follows the driver that consumes its shape, so the recovered parameters are the ones the
application's driver would use:
* libpq keyword strings: libpq's rules (`key = value`, single quotes, backslash escapes);
* PostgreSQL / MySQL URIs: percent-decoding, as libpq does;
* JDBC URLs: query values decoded like java.net.URLDecoder (pgjdbc, Connector/J); SQL Server `;k=v` with `{..}`;
* ADO.NET: DbConnectionStringBuilder's rules (case-insensitive keys with spaces, quoted values, `""` escapes);
* Go MySQL DSN: go-sql-driver's ParseDSN (last `/`, last `@` before it, first `:`; the password is literal);
* Redis URLs: redis-py's `from_url` (percent-decoded user and password, `/db` path, `rediss` = TLS);
* StackExchange.Redis: `host:port,option=value,...` (case-insensitive options);
* storage connection strings: `k=v;` split at the first `=` (account keys end in `=` padding).

Results are frozen dataclasses whose secret fields stay out of `repr`; `ExtractError` names the key and the
problem, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Generic, NamedTuple, TypeVar
from urllib.parse import unquote, unquote_plus, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from redis.connection import SSLConnection, parse_url

from servicelinker.catalog import services

POSTGRESQL = "postgresql"
MYSQL = "mysql"
SQLSERVER = "sqlserver"
#: The port a driver uses when a configuration names none: the service's default (catalog/services.py).
DEFAULT_DB_PORTS: dict[str, int | None] = {POSTGRESQL: services.POSTGRESQL.default_port,
                                           MYSQL: services.MYSQL.default_port, SQLSERVER: services.SQL.default_port}
#: redis-py's default port for a URL without one (the Redis protocol's own port, not Azure's TLS port).
REDIS_PORT = 6379
#: StackExchange.Redis's default port when `ssl=True` (Azure Cache for Redis' TLS port).
REDIS_TLS_PORT = services.REDIS.default_port or 6380
AZURE_ENDPOINT_SUFFIX = "core.windows.net"
STORAGE_SERVICES = ("blob", "queue", "table", "file")

# TLS modes, libpq's words (MySQL's `required` etc. are mapped onto them).
DISABLE = "disable"
ALLOW = "allow"
PREFER = "prefer"
REQUIRE = "require"
VERIFY_CA = "verify-ca"
VERIFY_FULL = "verify-full"

#: Normalised (lower-case, no spaces/-/_) TLS words of every shape -> libpq's word. `true` on `*_SSL` keys and
#: PHP's `MySQL_CLIENT_SSL` flag mean "encrypt" (no certificate check); an empty PHP flag means no TLS.
_TLS_WORDS: dict[str, str] = {
    **dict.fromkeys(("disable", "disabled", "none", "false", "0", "off", "no", ""), DISABLE),
    "allow": ALLOW,
    **dict.fromkeys(("prefer", "preferred"), PREFER),
    **dict.fromkeys(
        ("require", "required", "true", "1", "on", "yes", "mysqlclientssl", "mysqliclientssl", "skipverify"), REQUIRE
    ),
    "verifyca": VERIFY_CA,
    **dict.fromkeys(("verifyfull", "verifyidentity"), VERIFY_FULL),
}


class ExtractError(ValueError):
    """A value has a recognised shape but cannot be used. The message names the key, never the value."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def tls_mode(raw: str | None) -> str | None:
    """libpq's word for any shape's TLS setting (`Required`, `true`, `MySQL_CLIENT_SSL`, ...); None if unknown."""
    if raw is None:
        return None
    return _TLS_WORDS.get(re.sub(r"[\s_-]", "", raw.lower()))


# ============================================================================================ results


@dataclass(frozen=True)
class DatabaseParams:
    """PostgreSQL / MySQL / SQL Server connection parameters, and where they came from."""

    shape: str
    keys: tuple[str, ...]
    engine: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    #: libpq's word (`disable` ... `verify-full`); None when the configuration says nothing.
    sslmode: str | None = None
    #: Further driver keywords of the shape (libpq strings and URIs), passed through to the driver.
    options: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def ssl(self) -> bool | None:
        """True when TLS is demanded, False when refused, None when negotiable or unsaid."""
        if self.sslmode is None or self.sslmode in (ALLOW, PREFER):
            return None
        return self.sslmode != DISABLE

    def port_or_default(self) -> int | None:
        return self.port if self.port is not None else DEFAULT_DB_PORTS.get(self.engine or "")


@dataclass(frozen=True)
class RedisParams:
    """Redis connection parameters (Azure Cache for Redis, Redis Enterprise, any Redis)."""

    shape: str
    keys: tuple[str, ...]
    host: str | None = None
    port: int = REDIS_PORT
    password: str | None = field(default=None, repr=False)
    username: str | None = None
    db: int = 0
    tls: bool = False


@dataclass(frozen=True)
class StorageParams:
    """An Azure Storage account as a connection string or Spring properties describe it."""

    shape: str
    keys: tuple[str, ...]
    account_name: str | None = None
    account_key: str | None = field(default=None, repr=False)
    #: The connection string itself, when that was the shape (the SDKs take it as is).
    connection_string: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)
    protocol: str = "https"
    endpoint_suffix: str | None = None
    #: Explicit endpoints: (service, url), service in blob/queue/table/file.
    endpoints: tuple[tuple[str, str], ...] = ()

    def endpoint(self, service: str) -> str | None:
        """The service's endpoint: explicit, else built from the endpoint suffix; None when neither is given."""
        explicit = dict(self.endpoints).get(service)
        if explicit:
            return explicit
        if self.endpoint_suffix and self.account_name:
            return f"{self.protocol}://{self.account_name}.{service}.{self.endpoint_suffix}"
        return None

    def default_endpoint(self, service: str) -> str | None:
        """What the Azure SDKs use when nothing names the endpoint: the public cloud's suffix."""
        if self.account_name is None:
            return None
        return self.endpoint(service) or f"{self.protocol}://{self.account_name}.{service}.{AZURE_ENDPOINT_SUFFIX}"


@dataclass(frozen=True)
class IdentityParams:
    """A token-based configuration: a client id (workload identity), maybe a client secret (service principal)."""

    keys: tuple[str, ...]
    client_id: str | None = None
    tenant_id: str | None = None
    endpoint: str | None = None
    has_client_secret: bool = False

    @property
    def kind(self) -> str:
        return "service principal" if self.has_client_secret else "workload identity"


# ============================================================================================ shape table

P = TypeVar("P")


@dataclass(frozen=True)
class ValueShape(Generic[P]):
    """A single-value shape: recognised by its value alone (`matches`), then parsed (`parse(key, value)`)."""

    name: str
    matches: Callable[[str], bool]
    parse: Callable[[str, str], P]


def _prefixed(*prefixes: str) -> Callable[[str], bool]:
    return lambda value: value.strip().lower().startswith(prefixes)


# ============================================================================================ helpers


def _int(key: str, raw: str | None, what: str = "port") -> int | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise ExtractError(key, f"the {what} is not a number") from None


def split_host_port(key: str, raw: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port`, `host,port` (SQL Server), `tcp:host,port` -> (host, port)."""
    text = raw.strip()
    if text.lower().startswith("tcp:"):
        text = text[4:]
    if "," in text:
        host, _, port = text.partition(",")
        return host.strip(), _int(key, port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, _int(key, rest[1:]) if rest.startswith(":") else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _int(key, port)
    return text, None


def _first_host(key: str, hostspec: str) -> tuple[str | None, int | None]:
    """The first of `h1:p1,h2:p2` (multi-host URLs); drivers try them in order."""
    first = hostspec.split(",")[0]
    if not first:
        return None, None
    host, port = split_host_port(key, first)
    return host or None, port


def _query_pairs(query: str, decode: Callable[[str], str]) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((decode(name), decode(value)))
    return pairs


def _pick(pairs: Iterable[tuple[str, str]], *names: str, case: bool = True) -> str | None:
    """The value of the first pair whose name is one of `names` (case-insensitively unless `case`)."""
    wanted = names if case else tuple(n.lower() for n in names)
    for name, value in pairs:
        if (name if case else name.lower()) in wanted:
            return value
    return None


# ============================================================================================ libpq


def parse_libpq_keywords(text: str) -> dict[str, str] | None:
    """libpq's own parse (PQconninfoParse, through psycopg) of a `key = value ...` string; None when libpq rejects it
    (bad grammar, an unknown keyword) or it is a URI."""
    if "://" in text.split("=", 1)[0]:
        return None
    try:
        return {k: str(v) for k, v in conninfo_to_dict(text).items() if v is not None}
    except psycopg.ProgrammingError:
        return None


def _is_libpq(value: str) -> bool:
    pairs = parse_libpq_keywords(value)
    return bool(pairs) and bool(set(pairs or {}) & {"host", "hostaddr", "dbname"})


_LIBPQ_FIELDS = ("host", "hostaddr", "port", "dbname", "user", "password", "sslmode")


def _from_libpq_pairs(shape: str, key: str, d: Mapping[str, str], engine: str | None) -> DatabaseParams:
    host = d.get("host") or d.get("hostaddr")
    first_host = host.split(",")[0] if host else None
    port = d.get("port", "").split(",")[0]
    return DatabaseParams(
        shape=shape,
        keys=(key,),
        engine=engine,
        host=first_host or None,
        port=_int(key, port),
        database=d.get("dbname") or None,
        user=d.get("user") or None,
        password=d.get("password"),
        sslmode=tls_mode(d.get("sslmode")),
        options=tuple((k, v) for k, v in d.items() if k not in _LIBPQ_FIELDS),
    )


def _parse_libpq(key: str, value: str) -> DatabaseParams:
    pairs = parse_libpq_keywords(value)
    assert pairs is not None  # matched by _is_libpq
    return _from_libpq_pairs("libpq", key, pairs, POSTGRESQL)


# ============================================================================================ URIs


def _split_uri(key: str, value: str, schemes: tuple[str, ...]) -> tuple[str, str, str, str]:
    """`scheme://userinfo@hostspec/path?query` -> (userinfo, hostspec, path, query), tolerating multi-host specs
    that urlsplit rejects. The userinfo ends at the *last* `@` before the path."""
    rest = value.strip()
    for scheme in schemes:
        if rest.lower().startswith(scheme):
            rest = rest[len(scheme) :]
            break
    authority, sep, tail = rest.partition("/")
    if not sep:
        authority, _, query = authority.partition("?")
        path = ""
    else:
        path, _, query = tail.partition("?")
    userinfo, at, hostspec = authority.rpartition("@")
    if not at:
        userinfo, hostspec = "", authority
    return userinfo, hostspec, path, query


def _parse_pg_uri(key: str, value: str) -> DatabaseParams:
    """libpq's own URI parse (percent-decoding, multi-host, query keywords overriding the URI's parts)."""
    try:
        parsed = {k: str(v) for k, v in conninfo_to_dict(value.strip()).items() if v is not None}
    except psycopg.ProgrammingError:
        raise ExtractError(key, "not a valid PostgreSQL URI") from None
    return _from_libpq_pairs("postgresql-uri", key, parsed, POSTGRESQL)


def _parse_mysql_uri(key: str, value: str) -> DatabaseParams:
    userinfo, hostspec, path, query = _split_uri(key, value, ("mysql://", "mariadb://"))
    user, _, password = userinfo.partition(":")
    host, port = _first_host(key, hostspec)
    pairs = _query_pairs(query, unquote)
    return DatabaseParams(
        shape="mysql-uri",
        keys=(key,),
        engine=MYSQL,
        host=unquote(host) if host else None,
        port=port,
        database=unquote(path) or None,
        user=unquote(user) or None,
        password=unquote(password) if ":" in userinfo else None,
        sslmode=tls_mode(_pick(pairs, "ssl-mode", "sslmode", "ssl_mode", "ssl", case=False)),
    )


# ============================================================================================ JDBC


def _parse_jdbc_postgres(key: str, value: str) -> DatabaseParams:
    """pgjdbc: `jdbc:postgresql://h[:p][,h2[:p2]]/db?k=v&...` (also `jdbc:postgresql:db`); values URL-decoded."""
    rest = value.strip()[len("jdbc:postgresql:") :]
    if rest.startswith("//"):
        hostspec, _, tail = rest[2:].partition("/")
    else:
        hostspec, tail = "localhost", rest
    path, _, query = tail.partition("?")
    host, port = _first_host(key, hostspec)
    pairs = _query_pairs(query, unquote_plus)
    sslmode = _pick(pairs, "sslmode")
    if sslmode is None and (_pick(pairs, "ssl") or "").lower() == "true":
        sslmode = VERIFY_FULL  # pgjdbc: ssl=true without sslmode verifies the certificate and host
    return DatabaseParams(
        shape="jdbc",
        keys=(key,),
        engine=POSTGRESQL,
        host=host,
        port=port,
        database=unquote_plus(path) or None,
        user=_pick(pairs, "user"),
        password=_pick(pairs, "password"),
        sslmode=tls_mode(sslmode),
    )


def _parse_jdbc_mysql(key: str, value: str) -> DatabaseParams:
    """Connector/J: `jdbc:mysql://[u[:p]@]h[:p][,h2]/db?k=v&...`; property names case-insensitive, values
    URL-decoded; `useSSL=true`/`requireSSL=true` without `sslMode` mean REQUIRED."""
    scheme = "jdbc:mariadb://" if value.strip().lower().startswith("jdbc:mariadb:") else "jdbc:mysql://"
    userinfo, hostspec, path, query = _split_uri(key, value, (scheme,))
    host, port = _first_host(key, hostspec)
    pairs = _query_pairs(query, unquote_plus)
    sslmode = _pick(pairs, "sslmode", case=False)
    if sslmode is None:
        flag = (_pick(pairs, "usessl", "requiressl", case=False) or "").lower()
        sslmode = {"true": REQUIRE, "false": DISABLE}.get(flag)
    user, _, password = userinfo.partition(":")
    return DatabaseParams(
        shape="jdbc",
        keys=(key,),
        engine=MYSQL,
        host=host,
        port=port,
        database=unquote_plus(path) or None,
        user=_pick(pairs, "user", case=False) or unquote_plus(user) or None,
        password=_pick(pairs, "password", case=False) or (unquote_plus(password) if ":" in userinfo else None),
        sslmode=tls_mode(sslmode),
    )


def _sqlserver_props(text: str) -> list[tuple[str, str]]:
    """`;k=v;k={v;with;semicolons}}x}` (mssql-jdbc): braces quote a value, `}}` is a literal `}`."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq < 0:
            break
        name = text[i:eq].strip().strip(";").strip()
        i = eq + 1
        if i < n and text[i] == "{":
            out: list[str] = []
            i += 1
            while i < n:
                if text[i] == "}" and text[i + 1 : i + 2] == "}":
                    out.append("}")
                    i += 2
                elif text[i] == "}":
                    i += 1
                    break
                else:
                    out.append(text[i])
                    i += 1
            value = "".join(out)
            semi = text.find(";", i)
            i = n if semi < 0 else semi + 1
        else:
            semi = text.find(";", i)
            value = text[i:] if semi < 0 else text[i:semi]
            i = n if semi < 0 else semi + 1
        if name:
            pairs.append((name, value.strip() if not value.startswith(" ") else value))
    return pairs


def _parse_jdbc_sqlserver(key: str, value: str) -> DatabaseParams:
    """mssql-jdbc: `jdbc:sqlserver://h[\\instance][:p];databaseName=..;user=..;password=..;`."""
    rest = value.strip()[len("jdbc:sqlserver://") :]
    server, _, props = rest.partition(";")
    pairs = _sqlserver_props(props)
    host, port = split_host_port(key, server.split("\\")[0]) if server else (None, None)
    encrypt = (_pick(pairs, "encrypt", case=False) or "").lower()
    return DatabaseParams(
        shape="jdbc",
        keys=(key,),
        engine=SQLSERVER,
        host=host or _pick(pairs, "serverName", "server", case=False),
        port=port or _int(key, _pick(pairs, "portNumber", "port", case=False)),
        database=_pick(pairs, "databaseName", "database", case=False),
        user=_pick(pairs, "user", "userName", case=False),
        password=_pick(pairs, "password", case=False),
        sslmode={"true": REQUIRE, "strict": VERIFY_FULL, "mandatory": REQUIRE, "false": PREFER}.get(encrypt),
    )


# ============================================================================================ ADO.NET


#: Normalised ADO.NET keywords (lower-case, no spaces) -> field. Npgsql, MySqlConnector/Connector/NET, SqlClient
#: and go-mssqldb (`server=..;user id=..`) synonyms.
_ADO_FIELDS: dict[str, str] = {
    **dict.fromkeys(("server", "host", "datasource", "address", "addr", "networkaddress"), "host"),
    "port": "port",
    **dict.fromkeys(("database", "initialcatalog"), "database"),
    **dict.fromkeys(("userid", "user", "username", "uid"), "user"),
    **dict.fromkeys(("password", "pwd"), "password"),
    **dict.fromkeys(("sslmode", "ssl"), "sslmode"),
    "encrypt": "encrypt",
}


def parse_ado_net(text: str) -> list[tuple[str, str]] | None:
    """DbConnectionStringBuilder's grammar: `key=value;` pairs; keys trimmed (`==` is a literal `=`); values bare
    (trimmed, up to `;`) or quoted with `"` / `'` (a doubled quote is literal). None when not that grammar."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and (text[i].isspace() or text[i] == ";"):
            i += 1
        if i >= n:
            break
        name, i = _ado_key(text, i)
        if name is None:
            return None
        value, i = _ado_value(text, i)
        if value is None:
            return None
        pairs.append((name, value))
    return pairs


def _ado_key(text: str, i: int) -> tuple[str | None, int]:
    out: list[str] = []
    n = len(text)
    while i < n:
        if text[i] == "=":
            if text[i + 1 : i + 2] == "=":
                out.append("=")
                i += 2
                continue
            return "".join(out).strip() or None, i + 1
        if text[i] == ";":
            return None, i
        out.append(text[i])
        i += 1
    return None, i


def _ado_value(text: str, i: int) -> tuple[str | None, int]:
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    if i < n and text[i] in "\"'":
        quote = text[i]
        out: list[str] = []
        i += 1
        while i < n:
            if text[i] == quote:
                if text[i + 1 : i + 2] == quote:
                    out.append(quote)
                    i += 2
                    continue
                break
            out.append(text[i])
            i += 1
        if i >= n:
            return None, i  # unterminated quote
        i += 1
        while i < n and text[i].isspace():
            i += 1
        if i < n and text[i] != ";":
            return None, i
        return "".join(out), i
    semi = text.find(";", i)
    end = n if semi < 0 else semi
    return text[i:end].strip(), end


def _ado_fields(value: str) -> dict[str, str] | None:
    pairs = parse_ado_net(value)
    if not pairs or len(pairs) < 2:
        return None
    fields: dict[str, str] = {}
    for name, val in pairs:
        f = _ADO_FIELDS.get(re.sub(r"\s", "", name.lower()))
        if f is not None:
            fields[f] = val  # last one wins, as in DbConnectionStringBuilder
    return fields


def _is_ado(value: str) -> bool:
    fields = _ado_fields(value)
    # A host never contains whitespace; this keeps a libpq string with a `;` in a value out.
    return fields is not None and "host" in fields and not re.search(r"\s", fields["host"].strip())


def _parse_ado(key: str, value: str) -> DatabaseParams:
    fields = _ado_fields(value) or {}
    host, port = split_host_port(key, fields["host"])
    if "port" in fields:
        port = _int(key, fields["port"])
    sslmode = tls_mode(fields.get("sslmode"))
    if sslmode is None and "encrypt" in fields:
        sslmode = {"true": REQUIRE, "strict": VERIFY_FULL, "mandatory": REQUIRE}.get(fields["encrypt"].lower())
    return DatabaseParams(
        shape="ado.net",
        keys=(key,),
        host=host,
        port=port,
        database=fields.get("database") or None,
        user=fields.get("user") or None,
        password=fields.get("password"),
        sslmode=sslmode,
    )


# ============================================================================================ Go MySQL DSN


_GO_ADDR = re.compile(r"^(?P<net>[a-z0-9]+)(?:\((?P<addr>.*)\))?$")


class GoDsn(NamedTuple):
    user: str
    password: str | None
    net: str
    addr: str
    dbname: str
    params: list[tuple[str, str]]


def parse_go_mysql_dsn(value: str) -> GoDsn | None:
    """go-sql-driver's ParseDSN: `[user[:password]@][net[(addr)]]/dbname[?params]`.

    The last `/` ends the address, the last `@` before it ends the user info, the first `:` in that splits user
    and password; the password is used literally, params are query-unescaped. None when not that grammar.
    """
    slash = value.rfind("/")
    if slash < 0:
        return None
    head, tail = value[:slash], value[slash + 1 :]
    at = head.rfind("@")
    userinfo, netaddr = (head[:at], head[at + 1 :]) if at >= 0 else ("", head)
    m = _GO_ADDR.match(netaddr)
    if m is None:
        return None
    user, colon, password = userinfo.partition(":")
    dbname, _, params = tail.partition("?")
    return GoDsn(
        user,
        password if colon else None,
        m.group("net"),
        m.group("addr") or "",
        dbname,
        _query_pairs(params, unquote_plus),
    )


def _is_go_mysql_dsn(value: str) -> bool:
    if "://" in value or "@" not in value:
        return False
    parsed = parse_go_mysql_dsn(value.strip())
    return parsed is not None and parsed.net in ("tcp", "tcp6", "unix")


#: go-sql-driver `tls=` values -> libpq words (`true` verifies the certificate and host name).
_GO_TLS = {"true": VERIFY_FULL, "skip-verify": REQUIRE, "preferred": PREFER, "false": DISABLE}


def _parse_go_mysql(key: str, value: str) -> DatabaseParams:
    parsed = parse_go_mysql_dsn(value.strip())
    assert parsed is not None
    user, password, _net, addr, dbname, params = parsed
    host, port = split_host_port(key, addr) if addr else ("127.0.0.1", None)
    tls = _pick(params, "tls")
    return DatabaseParams(
        shape="go-mysql-dsn",
        keys=(key,),
        engine=MYSQL,
        host=host,
        port=port,
        database=unquote(dbname) or None,
        user=user or None,
        password=password,
        sslmode=_GO_TLS.get(tls.lower(), VERIFY_FULL) if tls is not None else None,  # other values: a named config
    )


# ============================================================================================ Redis


def _parse_redis_url(key: str, value: str) -> RedisParams:
    """redis-py's own parse (`redis.connection.parse_url`, what `from_url` uses); a key with an unescaped `/`, `?` or
    `#` ends the authority early, exactly as it would in the application, which then has no usable host."""
    problem = "not a valid Redis URL (a '/', '?', '#' or '@' in the key must be percent-encoded)"
    try:
        parsed = parse_url(value.strip())
    except ValueError:
        raise ExtractError(key, problem) from None
    if not parsed.get("host"):
        raise ExtractError(key, problem)
    return RedisParams(
        shape="redis-url",
        keys=(key,),
        host=str(parsed["host"]),
        port=int(parsed.get("port") or REDIS_PORT),
        password=parsed.get("password") or None,  # redis-py: an empty password is none
        username=parsed.get("username") or None,
        db=int(parsed.get("db") or 0),
        tls=parsed.get("connection_class") is SSLConnection,
    )


#: StackExchange.Redis options that mark a `host:port,option=value` string.
_SE_OPTIONS = frozenset(
    {
        "password",
        "user",
        "ssl",
        "defaultdatabase",
        "abortconnect",
        "connecttimeout",
        "synctimeout",
        "asynctimeout",
        "allowadmin",
        "sslhost",
        "sslprotocols",
        "name",
        "connectretry",
        "keepalive",
        "servicename",
        "tiebreaker",
        "version",
    }
)
_SE_ENDPOINT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+)(:\d+)?$")


def _stackexchange_parts(value: str) -> tuple[list[str], dict[str, str]] | None:
    endpoints: list[str] = []
    options: dict[str, str] = {}
    for part in value.split(","):
        item = part.strip()
        if not item:
            continue
        if "=" in item:
            name, _, val = item.partition("=")
            options[name.strip().lower()] = val.strip()
        elif _SE_ENDPOINT.match(item):
            endpoints.append(item)
        else:
            return None
    return endpoints, options


def _is_stackexchange(value: str) -> bool:
    parts = _stackexchange_parts(value)
    return parts is not None and bool(parts[0]) and bool(set(parts[1]) & _SE_OPTIONS)


def _parse_stackexchange(key: str, value: str) -> RedisParams:
    parts = _stackexchange_parts(value)
    assert parts is not None
    endpoints, options = parts
    tls = options.get("ssl", "").lower() == "true"
    host, port = split_host_port(key, endpoints[0])
    return RedisParams(
        shape="stackexchange",
        keys=(key,),
        host=host,
        port=port or (REDIS_TLS_PORT if tls else REDIS_PORT),
        password=options.get("password"),
        username=options.get("user") or None,
        db=_int(key, options.get("defaultdatabase"), "database index") or 0,
        tls=tls,
    )


# ============================================================================================ storage


_STORAGE_CS_KEYS = frozenset(
    {"accountname", "blobendpoint", "queueendpoint", "tableendpoint", "fileendpoint", "usedevelopmentstorage"}
)
#: Azurite's well-known development account (public in its documentation; not a secret).
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_DEV_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}


def parse_storage_connection_string(text: str) -> dict[str, str]:
    """`Key=Value;...` with the key lower-cased; values split at the first `=` (account keys end in `=`)."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        if "=" in part:
            name, _, value = part.partition("=")
            out[name.strip().lower()] = value.strip()
    return out


def _is_storage_cs(value: str) -> bool:
    return "=" in value and bool(set(parse_storage_connection_string(value)) & _STORAGE_CS_KEYS)


def _parse_storage_cs(key: str, value: str) -> StorageParams:
    d = parse_storage_connection_string(value)
    if d.get("usedevelopmentstorage", "").lower() == "true":
        return StorageParams(
            shape="connection-string",
            keys=(key,),
            account_name=DEV_ACCOUNT_NAME,
            account_key=DEV_ACCOUNT_KEY,
            connection_string=value.strip(),
            protocol="http",
            endpoints=tuple((s, f"http://127.0.0.1:{p}/{DEV_ACCOUNT_NAME}") for s, p in _DEV_PORTS.items()),
        )
    return StorageParams(
        shape="connection-string",
        keys=(key,),
        account_name=d.get("accountname") or None,
        account_key=d.get("accountkey") or None,
        connection_string=value.strip(),
        sas_token=d.get("sharedaccesssignature") or None,
        protocol=(d.get("defaultendpointsprotocol") or "https").lower(),
        endpoint_suffix=d.get("endpointsuffix") or None,
        endpoints=tuple((s, d[f"{s}endpoint"]) for s in STORAGE_SERVICES if d.get(f"{s}endpoint")),
    )


# ============================================================================================ malformed values

_ADO_START = re.compile(r"(?i)^\s*(server|host|data\s*source|address|addr)\s*=[^;]*;")
_LIBPQ_START = re.compile(r"^\s*(host|hostaddr|dbname|user|port|password|sslmode)\s*=")


def _looks_ado(value: str) -> bool:
    return bool(_ADO_START.match(value)) and not _is_storage_cs(value)


def _looks_libpq(value: str) -> bool:
    return bool(_LIBPQ_START.match(value)) and "dbname" in value


def _reject(problem: str) -> Callable[[str, str], DatabaseParams]:
    def parse(key: str, value: str) -> DatabaseParams:
        raise ExtractError(key, problem)

    return parse


# ============================================================================================ the tables

#: Database shapes recognised by value, most specific first (ADO.NET before libpq: see `_is_ado`).
DATABASE_SHAPES: tuple[ValueShape[DatabaseParams], ...] = (
    ValueShape("jdbc-postgresql", _prefixed("jdbc:postgresql:"), _parse_jdbc_postgres),
    ValueShape("jdbc-mysql", _prefixed("jdbc:mysql:", "jdbc:mariadb:"), _parse_jdbc_mysql),
    ValueShape("jdbc-sqlserver", _prefixed("jdbc:sqlserver://"), _parse_jdbc_sqlserver),
    ValueShape("postgresql-uri", _prefixed("postgresql://", "postgres://"), _parse_pg_uri),
    ValueShape("mysql-uri", _prefixed("mysql://", "mariadb://"), _parse_mysql_uri),
    ValueShape("go-mysql-dsn", _is_go_mysql_dsn, _parse_go_mysql),
    ValueShape("ado.net", lambda v: not _is_storage_cs(v) and _is_ado(v), _parse_ado),
    ValueShape("libpq", _is_libpq, _parse_libpq),
    # Values that start like a connection string but break its grammar: the application's driver rejects or
    # misreads them too, so they are reported rather than skipped.
    ValueShape(
        "malformed-ado.net",
        _looks_ado,
        _reject("not a valid ADO.NET connection string (a value with ';' or quotes must be enclosed in double quotes)"),
    ),
    ValueShape(
        "malformed-libpq",
        _looks_libpq,
        _reject(
            "not a valid libpq connection string (a value with spaces, "
            "quotes or backslashes must be single-quoted, with ' and \\ "
            "escaped)"
        ),
    ),
)

REDIS_SHAPES: tuple[ValueShape[RedisParams], ...] = (
    ValueShape("redis-url", _prefixed("redis://", "rediss://"), _parse_redis_url),
    ValueShape("stackexchange", _is_stackexchange, _parse_stackexchange),
)

STORAGE_SHAPES: tuple[ValueShape[StorageParams], ...] = (
    ValueShape("connection-string", _is_storage_cs, _parse_storage_cs),
)

#: Multi-key shapes: field -> last segments of the key name (split at `.` and `_`). Longest suffixes are tried
#: first, so `ssl.enabled` beats `enabled` and `account-name` is not a database `name`.
DATABASE_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "host": (("host",), ("hostname",), ("server",), ("servername",)),
    "port": (("port",),),
    "database": (("database",), ("dbname",), ("name",)),
    "user": (("user",), ("username",), ("uid",)),
    "password": (("password",),),
    "sslmode": (("ssl",), ("sslmode",), ("flag",)),
    "url": (("url",),),
}
REDIS_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "host": (("host",),),
    "port": (("port",),),
    "password": (("password",),),
    "username": (("username",),),
    "db": (("database",), ("db",)),
    "ssl": (("ssl",), ("ssl", "enabled")),
}
STORAGE_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "account_name": (("account-name",), ("account",), ("accountname",)),
    "account_key": (("account-key",), ("access-key",), ("accountkey",)),
    "endpoint": (("endpoint",),),
    **{f"endpoint:{s}": ((f"{s}-endpoint",),) for s in STORAGE_SERVICES},
}
IDENTITY_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "client_id": (("clientid",), ("client-id",)),
    "tenant_id": (("tenantid",), ("tenant-id",)),
    "client_secret": (("clientsecret",), ("client-secret",), ("client-key",)),
    "endpoint": (("resourceendpoint",), ("endpoint",), ("host",), ("fullyqualifiednamespace",), ("base",), ("uri",)),
}


# ============================================================================================ key groups


@dataclass
class KeyGroup:
    """Keys sharing a name prefix (`AZURE_POSTGRESQL`, `spring.datasource`): field -> (key, value)."""

    prefix: tuple[str, ...]
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        hit = self.fields.get(name)
        return hit[1] if hit else None

    def key(self, name: str) -> str:
        return self.fields[name][0]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.fields.values())

    @property
    def is_spring(self) -> bool:
        """Spring properties are dotted (`spring.datasource.url`, `azure.storage.account-name`)."""
        return any("." in k for k in self.keys)


def _tokens(key: str) -> tuple[str, ...]:
    return tuple(re.split(r"[._]", key.lower()))


def key_groups(configurations: Mapping[str, str], table: Mapping[str, tuple[tuple[str, ...], ...]]) -> list[KeyGroup]:
    """Group keys by prefix, naming each by the field its last segments select (first key wins per field)."""
    suffixes = sorted(((s, f) for f, ss in table.items() for s in ss), key=lambda sf: -len(sf[0]))
    groups: dict[tuple[str, ...], KeyGroup] = {}
    for key, value in configurations.items():
        tokens = _tokens(key)
        for suffix, name in suffixes:
            if len(tokens) > len(suffix) and tokens[-len(suffix) :] == suffix:
                prefix = tokens[: -len(suffix)]
                groups.setdefault(prefix, KeyGroup(prefix)).fields.setdefault(name, (key, value))
                break
    return list(groups.values())


def _best_group(groups: Iterable[KeyGroup], required: Iterable[str]) -> KeyGroup | None:
    """The group with all `required` fields and the most fields (the first on a tie)."""
    needed = tuple(required)
    best: KeyGroup | None = None
    for g in groups:
        if all(g.get(f) is not None for f in needed) and (best is None or len(g.fields) > len(best.fields)):
            best = g
    return best


def _group_of(groups: Iterable[KeyGroup], key: str) -> KeyGroup | None:
    return next((g for g in groups if key in g.keys), None)


def restore_names(configurations: Mapping[str, str], customized_keys: Mapping[str, str] | None) -> dict[str, str]:
    """Undo `customizedKeys` (default name -> custom name, matched case-insensitively) so default names are seen."""
    back = {custom.lower(): default for default, custom in (customized_keys or {}).items()}
    return {back.get(k.lower(), k): v for k, v in configurations.items()}


def _first_shape(
    configurations: Mapping[str, str], shapes: Iterable[ValueShape[P]], accept: Callable[[P], bool] = lambda _: True
) -> P | None:
    """The first value (in configuration order) that a shape recognises and `accept` takes."""
    table = tuple(shapes)
    for key, value in configurations.items():
        for shape in table:
            if shape.matches(value):
                parsed = shape.parse(key, value)
                if accept(parsed):
                    return parsed
                break
    return None


# ============================================================================================ public API


def extract_database(
    configurations: Mapping[str, str],
    *,
    engine: str | None = None,
    customized_keys: Mapping[str, str] | None = None,
) -> DatabaseParams | None:
    """PostgreSQL/MySQL/SQL Server parameters from any §4 shape; None when nothing locates a server.

    A single-value shape (connection string, URL, DSN) wins; what it lacks (Spring's URL carries no user or
    password) is filled from the keys that share its key's prefix, or from the most complete separate-key group.
    `engine` (`postgresql`, `mysql`, `sqlserver`) skips URLs of other engines and is the default engine of
    engine-neutral shapes (ADO.NET, separate keys).
    """
    configs = restore_names(configurations, customized_keys)
    groups = key_groups(configs, DATABASE_FIELDS)
    primary = _first_shape(configs, DATABASE_SHAPES, lambda p: engine is None or p.engine in (None, engine))
    if primary is not None:
        group = _group_of(groups, primary.keys[0]) or _best_group(groups, ("password",))
        filled = _fill_from_group(primary, group) if group else primary
        return replace(filled, engine=filled.engine or engine)
    group = _best_group(groups, ("host",))
    return _database_from_group(group, engine) if group else None


def _fill_from_group(params: DatabaseParams, group: KeyGroup) -> DatabaseParams:
    extra = _database_from_group(group, params.engine)
    keys = params.keys + tuple(k for k in extra.keys if k not in params.keys and k not in _url_keys(group))
    return replace(
        params,
        keys=keys,
        host=params.host or extra.host,
        port=params.port if params.port is not None else extra.port,
        database=params.database or extra.database,
        user=params.user or extra.user,
        password=params.password if params.password is not None else extra.password,
        sslmode=params.sslmode or extra.sslmode,
    )


def _url_keys(group: KeyGroup) -> tuple[str, ...]:
    return (group.key("url"),) if group.get("url") is not None else ()


def _database_from_group(group: KeyGroup, engine: str | None) -> DatabaseParams:
    host_raw = group.get("host")
    host, port = split_host_port(group.key("host"), host_raw) if host_raw else (None, None)
    if group.get("port") is not None:
        port = _int(group.key("port"), group.get("port")) or port
    return DatabaseParams(
        shape="spring" if group.is_spring else "separate-keys",
        keys=tuple(k for k in group.keys if k not in _url_keys(group)),
        engine=engine,
        host=host or None,
        port=port,
        database=group.get("database") or None,
        user=group.get("user") or None,
        password=group.get("password"),
        sslmode=tls_mode(group.get("sslmode")),
    )


def extract_redis(
    configurations: Mapping[str, str], *, customized_keys: Mapping[str, str] | None = None
) -> RedisParams | None:
    """Redis parameters: a `redis(s)://` URL, a StackExchange string, or Spring / separate keys
    (`spring.redis.host` ..., `AZURE_REDIS_HOST`); None when nothing names a host."""
    configs = restore_names(configurations, customized_keys)
    primary = _first_shape(configs, REDIS_SHAPES)
    if primary is not None:
        return primary
    group = _best_group(key_groups(configs, REDIS_FIELDS), ("host",))
    if group is None:
        return None
    port = _int(group.key("port"), group.get("port")) if "port" in group.fields else None
    db = _int(group.key("db"), group.get("db"), "database index") if "db" in group.fields else None
    return RedisParams(
        shape="spring" if group.is_spring else "separate-keys",
        keys=group.keys,
        host=group.get("host"),
        port=port if port is not None else REDIS_PORT,
        password=group.get("password") or None,
        username=group.get("username") or None,
        db=db or 0,
        tls=tls_mode(group.get("ssl")) in (REQUIRE, VERIFY_CA, VERIFY_FULL),
    )


def extract_storage(
    configurations: Mapping[str, str],
    *,
    service: str | None = None,
    customized_keys: Mapping[str, str] | None = None,
) -> StorageParams | None:
    """A storage account: a connection string (Azure `EndpointSuffix=` or explicit `BlobEndpoint=` form) or
    Spring's account name + key (+ endpoint) properties. With `service`, a shape naming that service's endpoint
    is preferred. None when no account key or connection string is present (identity-based configurations)."""
    configs = restore_names(configurations, customized_keys)
    wanted: Callable[[StorageParams], bool] = lambda p: service is None or p.endpoint(service) is not None  # noqa: E731
    primary = _first_shape(configs, STORAGE_SHAPES, wanted) or _first_shape(configs, STORAGE_SHAPES)
    if primary is not None:
        return primary
    groups = [g for g in key_groups(configs, STORAGE_FIELDS) if g.get("account_key") is not None]
    candidates = [_storage_from_group(g) for g in groups]
    ranked = sorted(candidates, key=lambda p: (not wanted(p), -len(p.keys)))
    return ranked[0] if ranked else None


def _storage_from_group(group: KeyGroup) -> StorageParams:
    endpoints: dict[str, str] = {}
    for service in STORAGE_SERVICES:
        value = group.get(f"endpoint:{service}")
        if value:
            endpoints[service] = value
    generic = group.get("endpoint")
    if generic and group.prefix:
        service = {"fileshare": "file"}.get(group.prefix[-1], group.prefix[-1])
        if service in STORAGE_SERVICES:
            endpoints.setdefault(service, generic)
    first = next(iter(endpoints.values()), "")
    return StorageParams(
        shape="spring",
        keys=group.keys,
        account_name=group.get("account_name") or None,
        account_key=group.get("account_key") or None,
        protocol=(urlsplit(first).scheme or "https") if first else "https",
        endpoints=tuple(endpoints.items()),
    )


def extract_identity(
    configurations: Mapping[str, str], *, customized_keys: Mapping[str, str] | None = None
) -> IdentityParams | None:
    """The token-based part of a configuration (`..._CLIENTID`, `...credential.client-id`, + endpoint, tenant,
    client secret); None when no client id is delivered."""
    configs = restore_names(configurations, customized_keys)
    found: dict[str, tuple[str, str]] = {}
    for group in key_groups(configs, IDENTITY_FIELDS):
        for name, hit in group.fields.items():
            found.setdefault(name, hit)
    if "client_id" not in found:
        return None
    return IdentityParams(
        keys=tuple(k for k, _ in found.values()),
        client_id=found["client_id"][1],
        tenant_id=found["tenant_id"][1] if "tenant_id" in found else None,
        endpoint=found["endpoint"][1] if "endpoint" in found else None,
        has_client_secret="client_secret" in found,
    )
