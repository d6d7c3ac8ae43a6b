"""Extraction of connection parameters from delivered configurations: every §4 shape, and a round trip through
the catalog's `build_configurations` for every client type of the live-testable targets (extraction must recover
exactly the facts). Also the pure parts of `probe`: notTestable decisions, malformed values, secret scrubbing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from servicelinker.catalog.configuration import build_configurations
from servicelinker.catalog.targets import get_target
from servicelinker.model.linker import (
    AzureResource,
    ConfigurationInfo,
    LinkerProperties,
    SecretAuthInfo,
    ServicePrincipalSecretAuthInfo,
    UserAssignedIdentityAuthInfo,
    ValueSecretInfo,
)
from servicelinker.model.records import TargetFacts
from servicelinker.probes import extract as ex
from servicelinker.probes.live import probe
from servicelinker.probes.results import Scrubber

pytestmark = pytest.mark.unit

SUB = "00000000-0000-0000-0000-000000000000"
PG_HOST = "srv1.postgres.database.azure.com"
MY_HOST = "srv1.mysql.database.azure.com"


def _db(p: ex.DatabaseParams | None) -> dict[str, Any]:
    assert p is not None
    return {
        "shape": p.shape,
        "engine": p.engine,
        "host": p.host,
        "port": p.port,
        "database": p.database,
        "user": p.user,
        "password": p.password,
        "sslmode": p.sslmode,
    }


# ============================================================================================ database shapes

DB_SHAPES: list[tuple[str, dict[str, str], str | None, dict[str, Any]]] = [
    (
        "libpq-python",
        {"AZURE_POSTGRESQL_CONNECTIONSTRING": f"dbname=db1 host={PG_HOST} port=5432 sslmode=require user=u1 "
                                              "password=p1"},
        "postgresql",
        {"shape": "libpq", "engine": "postgresql", "host": PG_HOST, "port": 5432, "database": "db1", "user": "u1",
         "password": "p1", "sslmode": "require"},
    ),
    (
        "libpq-go-no-port",
        {"AZURE_POSTGRESQL_CONNECTIONSTRING": f"host={PG_HOST} dbname=db1 sslmode=require user=u1 password=p1"},
        "postgresql",
        {"shape": "libpq", "engine": "postgresql", "host": PG_HOST, "port": None, "database": "db1", "user": "u1",
         "password": "p1", "sslmode": "require"},
    ),
    (
        "libpq-quoted",
        {"X": r"host = h  dbname='my db' user=u1 password='it\'s a \\ secret' sslmode=disable"},
        None,
        {"shape": "libpq", "engine": "postgresql", "host": "h", "port": None, "database": "my db", "user": "u1",
         "password": "it's a \\ secret", "sslmode": "disable"},
    ),
    (
        "ado-npgsql",
        {"AZURE_POSTGRESQL_CONNECTIONSTRING": f"Server={PG_HOST};Database=db1;Port=5432;Ssl Mode=Require;"
                                              "User Id=u1;Password=p1;"},
        "postgresql",
        {"shape": "ado.net", "engine": "postgresql", "host": PG_HOST, "port": 5432, "database": "db1", "user": "u1",
         "password": "p1", "sslmode": "require"},
    ),
    (
        "ado-quoted-password",
        {"C": 'Server=h;Database=db1;Port=1;User Id=u1;Password="a;b ""c"" d";SSL Mode=None'},
        "mysql",
        {"shape": "ado.net", "engine": "mysql", "host": "h", "port": 1, "database": "db1", "user": "u1",
         "password": 'a;b "c" d', "sslmode": "disable"},
    ),
    (
        "ado-mysql-dotnet",
        {"AZURE_MYSQL_CONNECTIONSTRING": f"Server={MY_HOST};Database=db1;Port=3306;User Id=u1;Password=p1;"
                                         "SSL Mode=Required"},
        "mysql",
        {"shape": "ado.net", "engine": "mysql", "host": MY_HOST, "port": 3306, "database": "db1", "user": "u1",
         "password": "p1", "sslmode": "require"},
    ),
    (
        "ado-sqlserver-data-source",
        {"AZURE_SQL_CONNECTIONSTRING": "Data Source=s.database.windows.net,1433;Initial Catalog=db1;User ID=u1;"
                                       "Password=p1"},
        "sqlserver",
        {"shape": "ado.net", "engine": "sqlserver", "host": "s.database.windows.net", "port": 1433,
         "database": "db1", "user": "u1", "password": "p1", "sslmode": None},
    ),
    (
        "go-mssql",
        {"AZURE_SQL_CONNECTIONSTRING": "server=s.database.windows.net;port=1433;database=db1;user id=u1;"
                                       "password=p1;"},
        "sqlserver",
        {"shape": "ado.net", "engine": "sqlserver", "host": "s.database.windows.net", "port": 1433,
         "database": "db1", "user": "u1", "password": "p1", "sslmode": None},
    ),
    (
        "jdbc-postgresql",
        {"AZURE_POSTGRESQL_CONNECTIONSTRING": f"jdbc:postgresql://{PG_HOST}:5432/db1?sslmode=require&user=u1"
                                              "&password=p%40%3B%20x%2B"},
        None,
        {"shape": "jdbc", "engine": "postgresql", "host": PG_HOST, "port": 5432, "database": "db1", "user": "u1",
         "password": "p@; x+", "sslmode": "require"},
    ),
    (
        "jdbc-postgresql-ssl-true",
        {"U": "jdbc:postgresql://h1:6432,h2:6433/db1?ssl=true&user=u1&password=p1"},
        None,
        {"shape": "jdbc", "engine": "postgresql", "host": "h1", "port": 6432, "database": "db1", "user": "u1",
         "password": "p1", "sslmode": "verify-full"},
    ),
    (
        "jdbc-mysql",
        {"AZURE_MYSQL_CONNECTIONSTRING": f"jdbc:mysql://{MY_HOST}:3306/db1?sslmode=required&user=u1"
                                         "&password=p%26%3D1"},
        None,
        {"shape": "jdbc", "engine": "mysql", "host": MY_HOST, "port": 3306, "database": "db1", "user": "u1",
         "password": "p&=1", "sslmode": "require"},
    ),
    (
        "jdbc-mysql-usessl",
        {"U": "jdbc:mysql://u1:p1@h:3307/db1?useSSL=false"},
        None,
        {"shape": "jdbc", "engine": "mysql", "host": "h", "port": 3307, "database": "db1", "user": "u1",
         "password": "p1", "sslmode": "disable"},
    ),
    (
        "jdbc-sqlserver",
        {"AZURE_SQL_CONNECTIONSTRING": "jdbc:sqlserver://s.database.windows.net:1433;databaseName=db1;user=u1;"
                                       "password={p;}}1};"},
        None,
        {"shape": "jdbc", "engine": "sqlserver", "host": "s.database.windows.net", "port": 1433,
         "database": "db1", "user": "u1", "password": "p;}1", "sslmode": None},
    ),
    (
        "go-mysql-dsn",
        {"AZURE_MYSQL_CONNECTIONSTRING": f"u1:p@:/1@tcp({MY_HOST}:3306)/db1?tls=true"},
        None,
        {"shape": "go-mysql-dsn", "engine": "mysql", "host": MY_HOST, "port": 3306, "database": "db1",
         "user": "u1", "password": "p@:/1", "sslmode": "verify-full"},
    ),
    (
        "go-mysql-dsn-no-tls",
        {"AZURE_MYSQL_CONNECTIONSTRING": "u1:p1@tcp(127.0.0.1:28011)/db1?tls=false"},
        None,
        {"shape": "go-mysql-dsn", "engine": "mysql", "host": "127.0.0.1", "port": 28011, "database": "db1",
         "user": "u1", "password": "p1", "sslmode": "disable"},
    ),
    (
        "postgresql-uri",
        {"DATABASE_URL": "postgresql://u1:p%40ss@h:5433/db%201?sslmode=verify-ca&application_name=app"},
        None,
        {"shape": "postgresql-uri", "engine": "postgresql", "host": "h", "port": 5433, "database": "db 1",
         "user": "u1", "password": "p@ss", "sslmode": "verify-ca"},
    ),
    (
        "mysql-uri",
        {"DATABASE_URL": "mysql://u1:p%2F1@h:3306/db1?ssl-mode=REQUIRED"},
        None,
        {"shape": "mysql-uri", "engine": "mysql", "host": "h", "port": 3306, "database": "db1", "user": "u1",
         "password": "p/1", "sslmode": "require"},
    ),
    (
        "nodejs-separate-keys",
        {"AZURE_POSTGRESQL_HOST": PG_HOST, "AZURE_POSTGRESQL_USER": "u1", "AZURE_POSTGRESQL_PASSWORD": "p1",
         "AZURE_POSTGRESQL_DATABASE": "db1", "AZURE_POSTGRESQL_PORT": "5432", "AZURE_POSTGRESQL_SSL": "true"},
        "postgresql",
        {"shape": "separate-keys", "engine": "postgresql", "host": PG_HOST, "port": 5432, "database": "db1",
         "user": "u1", "password": "p1", "sslmode": "require"},
    ),
    (
        "django-name",
        {"AZURE_POSTGRESQL_NAME": "db1", "AZURE_POSTGRESQL_HOST": PG_HOST, "AZURE_POSTGRESQL_USER": "u1",
         "AZURE_POSTGRESQL_PASSWORD": "p1"},
        "postgresql",
        {"shape": "separate-keys", "engine": "postgresql", "host": PG_HOST, "port": None, "database": "db1",
         "user": "u1", "password": "p1", "sslmode": None},
    ),
    (
        "php-mysql",
        {"AZURE_MYSQL_DBNAME": "db1", "AZURE_MYSQL_HOST": MY_HOST, "AZURE_MYSQL_PORT": "3306",
         "AZURE_MYSQL_FLAG": "MySQL_CLIENT_SSL", "AZURE_MYSQL_USERNAME": "u1", "AZURE_MYSQL_PASSWORD": "p1"},
        "mysql",
        {"shape": "separate-keys", "engine": "mysql", "host": MY_HOST, "port": 3306, "database": "db1",
         "user": "u1", "password": "p1", "sslmode": "require"},
    ),
    (
        "php-mysql-empty-flag",
        {"AZURE_MYSQL_DBNAME": "db1", "AZURE_MYSQL_HOST": "h", "AZURE_MYSQL_FLAG": "",
         "AZURE_MYSQL_USERNAME": "u1", "AZURE_MYSQL_PASSWORD": "p1"},
        "mysql",
        {"shape": "separate-keys", "engine": "mysql", "host": "h", "port": None, "database": "db1", "user": "u1",
         "password": "p1", "sslmode": "disable"},
    ),
    (
        "ruby-mysql",
        {"AZURE_MYSQL_DATABASE": "db1", "AZURE_MYSQL_HOST": MY_HOST, "AZURE_MYSQL_USERNAME": "u1",
         "AZURE_MYSQL_PASSWORD": "p1", "AZURE_MYSQL_SSLMODE": "required"},
        "mysql",
        {"shape": "separate-keys", "engine": "mysql", "host": MY_HOST, "port": None, "database": "db1",
         "user": "u1", "password": "p1", "sslmode": "require"},
    ),
    (
        "php-sql-servername",
        {"AZURE_SQL_SERVERNAME": "s.database.windows.net,1433", "AZURE_SQL_DATABASE": "db1",
         "AZURE_SQL_UID": "u1", "AZURE_SQL_PASSWORD": "p1"},
        "sqlserver",
        {"shape": "separate-keys", "engine": "sqlserver", "host": "s.database.windows.net", "port": 1433,
         "database": "db1", "user": "u1", "password": "p1", "sslmode": None},
    ),
    (
        "spring-datasource",
        {"spring.datasource.url": f"jdbc:postgresql://{PG_HOST}:5432/db1?sslmode=require",
         "spring.datasource.username": "u1", "spring.datasource.password": "p1"},
        None,
        {"shape": "jdbc", "engine": "postgresql", "host": PG_HOST, "port": 5432, "database": "db1", "user": "u1",
         "password": "p1", "sslmode": "require"},
    ),
    (
        "second-connection-prefix",
        {"AZURE_POSTGRESQL_CONN2_HOST": "h", "AZURE_POSTGRESQL_CONN2_USER": "u1",
         "AZURE_POSTGRESQL_CONN2_PASSWORD": "p1", "AZURE_POSTGRESQL_CONN2_DATABASE": "db1"},
        "postgresql",
        {"shape": "separate-keys", "engine": "postgresql", "host": "h", "port": None, "database": "db1",
         "user": "u1", "password": "p1", "sslmode": None},
    ),
    (
        "renamed-connection-string-by-value",
        {"MY_DB": "dbname=db1 host=h port=1 user=u1 password=p1", "OTHER": "x"},
        "postgresql",
        {"shape": "libpq", "engine": "postgresql", "host": "h", "port": 1, "database": "db1", "user": "u1",
         "password": "p1", "sslmode": None},
    ),
    (
        "renamed-separate-keys-by-suffix",
        {"PG_MAIN_HOST": "h", "PG_MAIN_USERNAME": "u1", "PG_MAIN_PASSWORD": "p1", "PG_MAIN_DBNAME": "db1"},
        "postgresql",
        {"shape": "separate-keys", "engine": "postgresql", "host": "h", "port": None, "database": "db1",
         "user": "u1", "password": "p1", "sslmode": None},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("configs", "engine", "expected"), [c[1:] for c in DB_SHAPES], ids=[c[0] for c in DB_SHAPES])
def test_database_shapes(configs: dict[str, str], engine: str | None, expected: dict[str, Any]) -> None:
    assert _db(ex.extract_database(configs, engine=engine)) == expected


def test_spring_keys_are_reported() -> None:
    p = ex.extract_database({"spring.datasource.url": "jdbc:mysql://h:3306/db1", "spring.datasource.username": "u1",
                             "spring.datasource.password": "p1"})  # fmt: skip
    assert p is not None
    assert p.keys == ("spring.datasource.url", "spring.datasource.username", "spring.datasource.password")


def test_engine_filter_skips_other_engines() -> None:
    configs = {"A": "jdbc:mysql://m:3306/db1?user=u&password=p", "B": "jdbc:postgresql://pg:5432/db2?user=u&password=p"}
    assert _db(ex.extract_database(configs, engine="postgresql"))["host"] == "pg"
    assert _db(ex.extract_database(configs, engine="mysql"))["host"] == "m"


def test_customized_keys_restore_default_names() -> None:
    configs = {"WHERE": "h", "WHO": "u1", "SECRET_SAUCE": "p1", "WHICH": "db1"}
    renames = {"AZURE_POSTGRESQL_HOST": "WHERE", "AZURE_POSTGRESQL_USER": "WHO",
               "AZURE_POSTGRESQL_PASSWORD": "SECRET_SAUCE", "AZURE_POSTGRESQL_DATABASE": "which"}  # fmt: skip
    assert ex.extract_database(configs) is None  # nothing to go by without the renames
    p = ex.extract_database(configs, customized_keys=renames)
    assert p is not None
    assert (p.host, p.user, p.password, p.database) == ("h", "u1", "p1", "db1")


def test_no_database_configuration() -> None:
    assert ex.extract_database({"AZURE_STORAGEBLOB_CONNECTIONSTRING": "AccountName=a;AccountKey=k"}) is None
    assert ex.extract_database({}) is None


@pytest.mark.parametrize(
    "value",
    [
        "dbname=db1 host=h port=5432 sslmode=require user=u1 password=p w'x",
        "Server=h;Database=db1;Port=5432;Ssl Mode=Require;User Id=u1;Password=a;b;",
        'Server=h;Database=db1;Port=5432;User Id=u1;Password="p"q;',
    ],
    ids=["libpq-unquoted-space", "ado-unquoted-semicolon", "ado-unterminated-quote"],
)
def test_malformed_connection_strings_are_reported_without_the_value(value: str) -> None:
    with pytest.raises(ex.ExtractError) as info:
        ex.extract_database({"AZURE_POSTGRESQL_CONNECTIONSTRING": value})
    assert info.value.key == "AZURE_POSTGRESQL_CONNECTIONSTRING"
    assert "p w" not in str(info.value) and "a;b" not in str(info.value) and '"p"q' not in str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        "host=h port=5432 dbname=db1 user=u1 password=p1 sslmode=require",
        "host = h  dbname = 'a b' password='x\\'y' ",
        "dbname=db1 host=h password=a\\ b",
        "host=h dbname=d options='-c search_path=s' application_name=app",
    ],
)
def test_libpq_strings_are_parsed_by_libpq(value: str) -> None:
    assert ex.parse_libpq_keywords(value) == conninfo_to_dict(value)


@pytest.mark.parametrize("value", ["Server=h;Database=d", "host=h bogus=1", "host='unterminated", "postgresql://h/d"])
def test_what_libpq_rejects_is_not_a_libpq_string(value: str) -> None:
    assert ex.parse_libpq_keywords(value) is None


def test_tls_words() -> None:
    table = {"Require": "require", "Required": "require", "REQUIRED": "require", "true": "require",
             "MySQL_CLIENT_SSL": "require", "None": "disable", "disabled": "disable", "false": "disable",
             "": "disable", "Preferred": "prefer", "VerifyCA": "verify-ca", "verify_identity": "verify-full",
             "VerifyFull": "verify-full", "bogus": None}  # fmt: skip
    assert {k: ex.tls_mode(k) for k in table} == table


# ============================================================================================ Redis shapes

REDIS_SHAPES: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("url-tls", {"AZURE_REDIS_CONNECTIONSTRING": "rediss://:k%2Fe%2By=@c1.redis.cache.windows.net:6380/0"},
     {"shape": "redis-url", "host": "c1.redis.cache.windows.net", "port": 6380, "password": "k/e+y=",
      "username": None, "db": 0, "tls": True}),
    ("url-plain-db", {"AZURE_REDIS_CONNECTIONSTRING": "redis://:pw@127.0.0.1:28012/3"},
     {"shape": "redis-url", "host": "127.0.0.1", "port": 28012, "password": "pw", "username": None, "db": 3,
      "tls": False}),
    ("url-user", {"R": "redis://app:pw@h"},
     {"shape": "redis-url", "host": "h", "port": 6379, "password": "pw", "username": "app", "db": 0, "tls": False}),
    ("url-empty-password", {"R": "redis://:@h:1/0"},
     {"shape": "redis-url", "host": "h", "port": 1, "password": None, "username": None, "db": 0, "tls": False}),
    ("stackexchange", {"AZURE_REDIS_CONNECTIONSTRING": "c1.redis.cache.windows.net:6380,password=k+/y==,ssl=True,"
                                                       "defaultDatabase=0"},
     {"shape": "stackexchange", "host": "c1.redis.cache.windows.net", "port": 6380, "password": "k+/y==",
      "username": None, "db": 0, "tls": True}),
    ("stackexchange-defaults", {"R": "h,password=pw,ssl=False,abortConnect=False,defaultDatabase=2"},
     {"shape": "stackexchange", "host": "h", "port": 6379, "password": "pw", "username": None, "db": 2,
      "tls": False}),
    ("spring", {"spring.redis.host": "h", "spring.redis.port": "6380", "spring.redis.database": "1",
                "spring.redis.password": "pw", "spring.redis.ssl": "true"},
     {"shape": "spring", "host": "h", "port": 6380, "password": "pw", "username": None, "db": 1, "tls": True}),
    ("spring-boot-3", {"spring.data.redis.host": "h", "spring.data.redis.password": "pw",
                       "spring.data.redis.ssl.enabled": "true"},
     {"shape": "spring", "host": "h", "port": 6379, "password": "pw", "username": None, "db": 0, "tls": True}),
    ("workload-identity-host-only", {"AZURE_REDIS_HOST": "c1.redis.cache.windows.net", "AZURE_REDIS_CLIENTID": "c"},
     {"shape": "separate-keys", "host": "c1.redis.cache.windows.net", "port": 6379, "password": None,
      "username": None, "db": 0, "tls": False}),
]  # fmt: skip


def _redis(p: ex.RedisParams | None) -> dict[str, Any]:
    assert p is not None
    return {"shape": p.shape, "host": p.host, "port": p.port, "password": p.password, "username": p.username,
            "db": p.db, "tls": p.tls}  # fmt: skip


@pytest.mark.parametrize(("configs", "expected"), [c[1:] for c in REDIS_SHAPES], ids=[c[0] for c in REDIS_SHAPES])
def test_redis_shapes(configs: dict[str, str], expected: dict[str, Any]) -> None:
    assert _redis(ex.extract_redis(configs)) == expected


def test_redis_url_with_unescaped_slash_in_key_is_reported() -> None:
    with pytest.raises(ex.ExtractError, match="must be percent-encoded") as info:
        ex.extract_redis({"AZURE_REDIS_CONNECTIONSTRING": "rediss://:ab/cd=@h:6380/0"})
    assert "ab/cd" not in str(info.value)


# ============================================================================================ storage shapes

KEY = "a2V5LWtleS1rZXkta2V5LWtleS1rZXk+/w=="
AZURE_CS = f"DefaultEndpointsProtocol=https;AccountName=acct1;AccountKey={KEY};EndpointSuffix=core.windows.net"
AZURITE_CS = (
    f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
    "BlobEndpoint=http://127.0.0.1:28020/devstoreaccount1;QueueEndpoint=http://127.0.0.1:28021/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:28022/devstoreaccount1;"
)

STORAGE_SHAPES: list[tuple[str, dict[str, str], str, dict[str, Any]]] = [
    ("azure-suffix", {"AZURE_STORAGEBLOB_CONNECTIONSTRING": AZURE_CS}, "blob",
     {"shape": "connection-string", "account": "acct1", "key": KEY, "endpoint": "https://acct1.blob.core.windows.net",
      "cs": AZURE_CS}),
    ("azure-suffix-table", {"AZURE_STORAGETABLE_CONNECTIONSTRING": AZURE_CS}, "table",
     {"shape": "connection-string", "account": "acct1", "key": KEY,
      "endpoint": "https://acct1.table.core.windows.net", "cs": AZURE_CS}),
    ("azurite-explicit", {"AZURE_STORAGEQUEUE_CONNECTIONSTRING": AZURITE_CS}, "queue",
     {"shape": "connection-string", "account": "devstoreaccount1", "key": KEY,
      "endpoint": "http://127.0.0.1:28021/devstoreaccount1", "cs": AZURITE_CS}),
    ("azurite-no-file-endpoint", {"AZURE_STORAGEFILE_CONNECTIONSTRING": AZURITE_CS}, "file",
     {"shape": "connection-string", "account": "devstoreaccount1", "key": KEY, "endpoint": None, "cs": AZURITE_CS}),
    ("development-storage", {"S": "UseDevelopmentStorage=true"}, "blob",
     {"shape": "connection-string", "account": "devstoreaccount1", "key": ex.DEV_ACCOUNT_KEY,
      "endpoint": "http://127.0.0.1:10000/devstoreaccount1", "cs": "UseDevelopmentStorage=true"}),
    ("spring-blob", {"azure.storage.account-name": "acct1", "azure.storage.account-key": KEY,
                     "azure.storage.blob-endpoint": "https://acct1.blob.core.windows.net/",
                     "spring.cloud.azure.storage.blob.account-name": "acct1",
                     "spring.cloud.azure.storage.blob.account-key": KEY,
                     "spring.cloud.azure.storage.blob.endpoint": "https://acct1.blob.core.windows.net/"}, "blob",
     {"shape": "spring", "account": "acct1", "key": KEY, "endpoint": "https://acct1.blob.core.windows.net/",
      "cs": None}),
    ("spring-cloud-blob-only", {"spring.cloud.azure.storage.blob.account-name": "acct1",
                                "spring.cloud.azure.storage.blob.account-key": KEY,
                                "spring.cloud.azure.storage.blob.endpoint": "http://127.0.0.1:1/acct1"}, "blob",
     {"shape": "spring", "account": "acct1", "key": KEY, "endpoint": "http://127.0.0.1:1/acct1", "cs": None}),
    ("spring-queue-account-access-key", {"spring.cloud.azure.storage.account": "acct1",
                                         "spring.cloud.azure.storage.access-key": KEY}, "queue",
     {"shape": "spring", "account": "acct1", "key": KEY, "endpoint": None, "cs": None}),
    ("spring-file", {"azure.storage.account-name": "acct1", "azure.storage.account-key": KEY,
                     "azure.storage.file-endpoint": "https://acct1.file.core.windows.net/"}, "file",
     {"shape": "spring", "account": "acct1", "key": KEY, "endpoint": "https://acct1.file.core.windows.net/",
      "cs": None}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("configs", "service", "expected"), [c[1:] for c in STORAGE_SHAPES], ids=[c[0] for c in STORAGE_SHAPES]
)
def test_storage_shapes(configs: dict[str, str], service: str, expected: dict[str, Any]) -> None:
    p = ex.extract_storage(configs, service=service)
    assert p is not None
    got = {"shape": p.shape, "account": p.account_name, "key": p.account_key, "endpoint": p.endpoint(service),
           "cs": p.connection_string}  # fmt: skip
    assert got == expected


def test_storage_default_endpoint_is_the_public_cloud() -> None:
    configs = {"spring.cloud.azure.storage.account": "acct1", "spring.cloud.azure.storage.access-key": KEY}
    p = ex.extract_storage(configs)
    assert p is not None
    assert p.default_endpoint("queue") == "https://acct1.queue.core.windows.net"


def test_storage_identity_only_has_no_storage_params() -> None:
    configs = {"AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://acct1.blob.core.windows.net/",
               "AZURE_STORAGEBLOB_CLIENTID": "cid"}  # fmt: skip
    assert ex.extract_storage(configs) is None
    identity = ex.extract_identity(configs)
    assert identity is not None
    assert (identity.client_id, identity.endpoint, identity.kind) == (
        "cid",
        "https://acct1.blob.core.windows.net/",
        "workload identity",
    )


def test_secret_fields_stay_out_of_repr() -> None:
    db = ex.extract_database({"C": "host=h dbname=d user=u password=hunter2-secret"})
    rd = ex.extract_redis({"R": "redis://:hunter2-secret@h:1/0"})
    st = ex.extract_storage({"S": f"AccountName=a;AccountKey={KEY};BlobEndpoint=http://h/a"})
    for p in (db, rd, st):
        assert "hunter2-secret" not in repr(p) and KEY not in repr(p)


# ============================================================================================ catalog round trip


def _props(target: str, client: str, auth: Any, **ids: str) -> LinkerProperties:
    t = get_target(target)
    return LinkerProperties(
        target_service=AzureResource(id=t.format_id(SUB, target_resource_group="rg", **ids)),
        auth_info=auth,
        client_type=client,
    )


def _configs(props: LinkerProperties, facts: TargetFacts) -> dict[str, str]:
    return {c.name: c.value for c in build_configurations(props, facts)}


def _secret(user: str | None, password: str | None) -> SecretAuthInfo:
    return SecretAuthInfo(name=user, secret_info=ValueSecretInfo(value=password) if password else None)


#: (family, client) whose configuration carries no TLS setting (Azure's documented names).
NO_TLS = {("postgresql", "django"), ("mysql", "python"), ("mysql", "django")}

DB_FACTS = {
    "azure": lambda host: TargetFacts(host=host, database="appdb", ssl=True),
    "local": lambda host: TargetFacts(host="127.0.0.1", port=28010, database="appdb", ssl=False),
}
PLAIN_PASSWORD = "S3cret-pa55_word"


def _db_cases() -> list[Any]:
    cases = []
    for target, family, host in (("postgres-flexible", "postgresql", PG_HOST), ("mysql-flexible", "mysql", MY_HOST)):
        for client in get_target(target).client_types:
            for where in DB_FACTS:
                cases.append(pytest.param(target, family, host, client, where, id=f"{target}-{client}-{where}"))
    return cases


@pytest.mark.parametrize(("target", "family", "host", "client", "where"), _db_cases())
def test_catalog_database_round_trip(target: str, family: str, host: str, client: str, where: str) -> None:
    facts = DB_FACTS[where](host)
    configs = _configs(_props(target, client, _secret("app1", PLAIN_PASSWORD), server="srv1", database="appdb"), facts)
    p = ex.extract_database(configs, engine=family)
    assert p is not None
    default_port = ex.DEFAULT_DB_PORTS[family]
    assert (p.host, p.port_or_default(), p.database, p.user, p.password) == (
        facts.host,
        facts.port or default_port,
        "appdb",
        "app1",
        PLAIN_PASSWORD,
    )
    expected_tls = None if (family, client) in NO_TLS else facts.ssl
    assert p.ssl is expected_tls or (client == "go" and family == "mysql" and p.ssl is facts.ssl)
    assert set(p.keys) <= set(configs)


#: Credentials with every character some shape must escape: blanks, quotes, backslash, `;`, `@`, `/`, `%`, `&`,
#: `=`, `+`, braces (libpq quoting, ADO.NET quoting, mssql-jdbc braces, URL percent-encoding).
TRICKY_PASSWORD = "p w'\"\\;@/%&=+{x}"
TRICKY_USER = "app +user&=%;'x"
#: (target, engine) pairs whose every client type is checked.
DB_TARGETS = (("postgres-flexible", "postgresql"), ("mysql-flexible", "mysql"), ("sql", "sqlserver"))


def _tricky_cases() -> list[Any]:
    return [
        pytest.param(target, family, client, id=f"{target}-{client}")
        for target, family in DB_TARGETS
        for client in get_target(target).client_types
    ]


@pytest.mark.parametrize(("target", "family", "client"), _tricky_cases())
def test_catalog_round_trip_with_credentials_that_need_escaping(target: str, family: str, client: str) -> None:
    facts = TargetFacts(host="127.0.0.1", port=28010, database="appdb", ssl=True)
    user = TRICKY_USER
    configs = _configs(_props(target, client, _secret(user, TRICKY_PASSWORD), server="s", database="appdb"), facts)
    p = ex.extract_database(configs, engine=family)
    assert p is not None
    assert (p.host, p.port, p.database, p.user, p.password) == ("127.0.0.1", 28010, "appdb", user, TRICKY_PASSWORD)


@pytest.mark.parametrize("target", ["postgres-flexible", "mysql-flexible"])
def test_catalog_jdbc_user_with_url_specials(target: str) -> None:
    facts = TargetFacts(host="127.0.0.1", port=28010, database="appdb", ssl=True)
    configs = _configs(_props(target, "java", _secret(TRICKY_USER, "pw"), server="s", database="appdb"), facts)
    p = ex.extract_database(configs)
    assert p is not None and p.user == TRICKY_USER


@pytest.mark.parametrize("client", get_target("sql").client_types)
def test_catalog_sql_round_trip(client: str) -> None:
    facts = TargetFacts(host="s1.database.windows.net", database="appdb")
    configs = _configs(_props("sql", client, _secret("app1", PLAIN_PASSWORD), server="s1", database="appdb"), facts)
    p = ex.extract_database(configs, engine="sqlserver")
    assert p is not None
    assert (p.host, p.port_or_default(), p.database, p.user, p.password) == (
        "s1.database.windows.net",
        1433,
        "appdb",
        "app1",
        PLAIN_PASSWORD,
    )


REDIS_FACTS = {
    "azure": TargetFacts(host="c1.redis.cache.windows.net", database="0", ssl=True,
                         account_key=SecretStr("k3y-value-abc123=")),
    "local": TargetFacts(host="127.0.0.1", port=28012, database="2", ssl=False, account_key=SecretStr("pw-123_x")),
}  # fmt: skip


@pytest.mark.parametrize("where", list(REDIS_FACTS))
@pytest.mark.parametrize("client", get_target("redis").client_types)
def test_catalog_redis_round_trip(client: str, where: str) -> None:
    facts = REDIS_FACTS[where]
    configs = _configs(_props("redis", client, SecretAuthInfo(), server="c1", database=facts.database or "0"), facts)
    p = ex.extract_redis(configs)
    assert p is not None
    assert facts.account_key is not None
    assert (p.host, p.port, p.password, p.db, p.tls) == (
        facts.host,
        facts.port or 6380,
        facts.account_key.get_secret_value(),
        int(facts.database or 0),
        facts.ssl,
    )


@pytest.mark.parametrize("client", get_target("redis").client_types)
def test_catalog_redis_with_a_base64_key(client: str) -> None:
    """Azure access keys are base64 (`/`, `+`, `=`): a URL must percent-encode the `/`."""
    facts = TargetFacts(host="c1.redis.cache.windows.net", database="0", ssl=True, account_key=SecretStr("ab/c+d%=="))
    configs = _configs(_props("redis", client, SecretAuthInfo(), server="c1", database="0"), facts)
    p = ex.extract_redis(configs)
    assert p is not None and p.password == "ab/c+d%=="


@pytest.mark.parametrize("client", get_target("redis").client_types)
def test_catalog_redis_workload_identity(client: str) -> None:
    facts = TargetFacts(host="c1.redis.cache.windows.net", database="0")
    configs = _configs(_props("redis", client, UserAssignedIdentityAuthInfo(client_id="cid-1"), server="c1",
                              database="0"), facts)  # fmt: skip
    identity = ex.extract_identity(configs)
    assert identity is not None and identity.client_id == "cid-1" and not identity.has_client_secret
    redis_params = ex.extract_redis(configs)
    assert redis_params is not None and redis_params.password is None


STORAGE_KEY = "ZGV2LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU2Nzg5+/=="


def _storage_facts(where: str) -> TargetFacts:
    if where == "azure":
        return TargetFacts(
            account_name="acct1", account_key=SecretStr(STORAGE_KEY), endpoint_suffix="core.windows.net",
            blob_endpoint="https://acct1.blob.core.windows.net/", queue_endpoint="https://acct1.queue.core.windows.net/",
            table_endpoint="https://acct1.table.core.windows.net/", file_endpoint="https://acct1.file.core.windows.net/",
        )  # fmt: skip
    base = "http://127.0.0.1:{}/devstoreaccount1"
    return TargetFacts(
        account_name="devstoreaccount1", account_key=SecretStr(STORAGE_KEY), ssl=False,
        blob_endpoint=base.format(28020), queue_endpoint=base.format(28021), table_endpoint=base.format(28022),
    )  # fmt: skip


def _storage_cases() -> list[Any]:
    cases = []
    for target in ("storage-blob", "storage-queue", "storage-table", "storage-file"):
        for client in get_target(target).client_types:
            for where in ("azure", "local"):
                cases.append(pytest.param(target, client, where, id=f"{target}-{client}-{where}"))
    return cases


@pytest.mark.parametrize(("target", "client", "where"), _storage_cases())
def test_catalog_storage_round_trip(target: str, client: str, where: str) -> None:
    service = target.removeprefix("storage-")
    facts = _storage_facts(where)
    configs = _configs(_props(target, client, SecretAuthInfo(), account=facts.account_name or ""), facts)
    p = ex.extract_storage(configs, service=service)
    assert p is not None
    assert (p.account_name, p.account_key) == (facts.account_name, STORAGE_KEY)
    named: str | None = getattr(facts, f"{service}_endpoint")
    endpoint = p.endpoint(service)
    if endpoint is None:
        # Only where the configuration names no endpoint: Spring queue (account + key only), and Azurite's File.
        assert (target, client) == ("storage-queue", "springBoot") or named is None
    else:
        assert endpoint.rstrip("/") == (named or "").rstrip("/")


@pytest.mark.parametrize("target", ["storage-blob", "storage-queue", "storage-table"])
def test_catalog_storage_identity(target: str) -> None:
    facts = _storage_facts("azure").model_copy(update={"tenant_id": "tid"})
    auths: list[tuple[Any, str]] = [
        (UserAssignedIdentityAuthInfo(client_id="cid"), "workload identity"),
        (ServicePrincipalSecretAuthInfo(client_id="cid", secret="sp-secret"), "service principal"),
    ]
    for auth, kind in auths:
        configs = _configs(_props(target, "python", auth, account="acct1"), facts)
        assert ex.extract_storage(configs) is None
        identity = ex.extract_identity(configs)
        assert identity is not None and (identity.client_id, identity.kind) == ("cid", kind)


def test_catalog_customized_keys_round_trip() -> None:
    renames = {"AZURE_POSTGRESQL_HOST": "DB_WHERE", "AZURE_POSTGRESQL_PASSWORD": "DB_SECRET",
               "AZURE_POSTGRESQL_USER": "DB_WHO", "AZURE_POSTGRESQL_DATABASE": "DB_WHICH"}  # fmt: skip
    props = _props("postgres-flexible", "nodejs", _secret("app1", PLAIN_PASSWORD), server="s", database="appdb")
    props.configuration_info = ConfigurationInfo(customized_keys=renames)
    configs = _configs(props, DB_FACTS["local"](PG_HOST))
    assert "DB_WHERE" in configs
    p = ex.extract_database(configs, customized_keys=renames)
    assert p is not None and (p.host, p.user, p.password, p.database) == ("127.0.0.1", "app1", PLAIN_PASSWORD, "appdb")


# ============================================================================================ probe (no I/O paths)


@pytest.mark.parametrize(
    ("target", "configs", "needle"),
    [
        (
            "servicebus",
            {
                "AZURE_SERVICEBUS_CONNECTIONSTRING": "Endpoint=sb://n.servicebus.windows.net/;"
                "SharedAccessKeyName=k;SharedAccessKey=sb-secret-1"
            },
            "no Azure Service Bus server",
        ),
        (
            "sql",
            {"AZURE_SQL_CONNECTIONSTRING": "jdbc:sqlserver://s:1433;databaseName=d;user=u;password=sql-pw-1;"},
            "no Azure SQL Database server",
        ),
        (
            "cosmos-sql",
            {
                "AZURE_COSMOS_CONNECTIONSTRING": "AccountEndpoint=https://a.documents.azure.com:443/;"
                "AccountKey=cosmos-key-1"
            },
            "no Azure Cosmos DB for NoSQL server",
        ),
        (
            "eventhub",
            {"AZURE_EVENTHUB_FULLYQUALIFIEDNAMESPACE": "n.servicebus.windows.net", "AZURE_EVENTHUB_CLIENTID": "cid"},
            "workload identity tokens are tested by the token service",
        ),
        (
            "keyvault",
            {
                "AZURE_KEYVAULT_RESOURCEENDPOINT": "https://v.vault.azure.net/",
                "AZURE_KEYVAULT_CLIENTID": "c",
                "AZURE_KEYVAULT_CLIENTSECRET": "kv-secret-1",
                "AZURE_KEYVAULT_TENANTID": "t",
            },
            "service principal tokens are tested by the token service",
        ),
        (
            "storage-blob",
            {
                "AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://a.blob.core.windows.net/",
                "AZURE_STORAGEBLOB_CLIENTID": "cid",
            },
            "workload identity tokens",
        ),
        (
            "redis",
            {"AZURE_REDIS_HOST": "c1.redis.cache.windows.net", "AZURE_REDIS_CLIENTID": "cid"},
            "workload identity tokens",
        ),
        ("storage-file", {"AZURE_STORAGEFILE_CONNECTIONSTRING": AZURITE_CS}, "Azurite"),
    ],
    ids=["servicebus", "sql", "cosmos", "eventhub-wi", "keyvault-sp", "blob-wi", "redis-wi", "file-azurite"],
)
def test_not_testable(target: str, configs: dict[str, str], needle: str) -> None:
    result = probe(target, configs)
    assert result.status == "notTestable"
    assert needle in result.detail
    for secret in ("sb-secret-1", "sql-pw-1", "cosmos-key-1", "kv-secret-1", KEY):
        assert secret not in result.detail


def test_probe_reports_a_malformed_value_without_secrets() -> None:
    configs = {"AZURE_POSTGRESQL_CONNECTIONSTRING": "dbname=d host=127.0.0.1 user=u password=my secret pw"}
    result = probe("postgres-flexible", configs)
    assert (result.status, result.error_code) == ("failure", "ConfigurationInvalid")
    assert "AZURE_POSTGRESQL_CONNECTIONSTRING" in result.detail and "secret pw" not in result.detail


def test_probe_reports_missing_parts() -> None:
    result = probe("mysql-flexible", {"AZURE_MYSQL_HOST": "h", "AZURE_MYSQL_USER": "u"})
    assert (result.status, result.error_code) == ("failure", "ConfigurationIncomplete")
    assert "password" in result.detail


@pytest.mark.parametrize(
    ("configs", "text"),
    [
        ({"P": "host=h dbname=d password=hunter22"}, 'connection to "h" failed: password=hunter22 rejected'),
        ({"AZURE_MYSQL_PASSWORD": "hunter22"}, "Access denied (using password: hunter22)"),
        ({"R": "rediss://:hunter22@h:1/0"}, "Error connecting to rediss://:hunter22@h:1/0"),
        ({"S": f"AccountName=a;AccountKey={KEY};BlobEndpoint=http://h/a"}, f"bad AccountKey={KEY}; key {KEY}"),
        ({"J": "jdbc:postgresql://h/d?password=p%40ss%21"}, "password p%40ss%21 / p@ss!"),
    ],
)
def test_scrubber(configs: Mapping[str, str], text: str) -> None:
    scrubbed = Scrubber.of(configs)(text)
    for secret in ("hunter22", KEY, "p@ss!", "p%40ss%21"):
        assert secret not in scrubbed
    assert "***" in scrubbed


def test_scrubber_short_secrets_whole_words_only() -> None:
    scrub = Scrubber(["ab"])
    assert scrub("user ab failed; table tab") == "user *** failed; table tab"
