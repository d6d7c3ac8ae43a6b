"""Reading a target's facts from the real server behind a local-cloud resource.

One reader per resource type (a table, not a chain): PostgreSQL and MySQL check that the database exists on the
server, Redis that the database index is valid and the key works, storage and Key Vault that the endpoint
answers. Resources of other types carry their facts in the inventory (`properties.facts` and `secrets`), for
targets with no server on this machine (Service Bus, Cosmos DB, ...).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from localcloud.errors import not_found, service_unavailable
from localcloud.inventory import Resource
from servicelinker.model.records import TargetFacts

Reader = Callable[[Resource, str, dict[str, str]], TargetFacts]


def _child(target_id: str, values: dict[str, str], key: str) -> str:
    return values.get(key, "")


def _pg_admin(resource: Resource, dbname: str = "postgres") -> dict[str, Any]:
    p = resource.properties
    return {
        "host": p["fullyQualifiedDomainName"],
        "port": p["port"],
        "user": p["administratorLogin"],
        "password": resource.secrets["administratorLoginPassword"],
        "dbname": dbname,
        "connect_timeout": 5,
        "sslmode": "prefer",
    }


def postgres_facts(resource: Resource, target_id: str, values: dict[str, str]) -> TargetFacts:
    import psycopg  # drivers load only when their target is used

    database = _child(target_id, values, "database")
    try:
        with psycopg.connect(**_pg_admin(resource)) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
    except psycopg.Error as exc:
        raise service_unavailable(resource.id, "PostgreSQL server", type(exc).__name__) from None
    if not found:
        raise not_found(target_id, remedy=f"Create the database first (CREATE DATABASE {database}) or pick another.")
    p = resource.properties
    return TargetFacts(host=p["fullyQualifiedDomainName"], port=p["port"], database=database, ssl=bool(p.get("ssl")))


def mysql_facts(resource: Resource, target_id: str, values: dict[str, str]) -> TargetFacts:
    import pymysql

    database = _child(target_id, values, "database")
    p = resource.properties
    try:
        conn = pymysql.connect(
            host=p["fullyQualifiedDomainName"],
            port=int(p["port"]),
            user=p["administratorLogin"],
            password=resource.secrets["administratorLoginPassword"],
            connect_timeout=5,
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (database,))
                found = cur.fetchone()
        finally:
            conn.close()
    except pymysql.MySQLError as exc:
        raise service_unavailable(resource.id, "MySQL server", type(exc).__name__) from None
    if not found:
        raise not_found(target_id, remedy=f"Create the database first (CREATE DATABASE {database}) or pick another.")
    return TargetFacts(host=p["fullyQualifiedDomainName"], port=p["port"], database=database, ssl=bool(p.get("ssl")))


def redis_facts(resource: Resource, target_id: str, values: dict[str, str]) -> TargetFacts:
    import redis

    p = resource.properties
    index = _child(target_id, values, "database") or "0"
    tls = not p.get("enableNonSslPort", True) and p.get("sslPort") is not None
    port = int(p["sslPort"] if tls else p["port"])
    key = resource.secrets.get("primaryKey", "")
    try:
        client = redis.Redis(host=p["hostName"], port=port, password=key or None, ssl=tls, socket_timeout=5)
        databases = int(client.config_get("databases").get("databases", 16))
        client.close()
    except redis.RedisError as exc:
        raise service_unavailable(resource.id, "Redis server", type(exc).__name__) from None
    if not index.isdigit() or int(index) >= databases:
        raise not_found(target_id, remedy=f"Redis database index must be 0..{databases - 1}.")
    return TargetFacts(host=p["hostName"], port=port, database=index, ssl=tls, account_key=SecretStr(key))


def storage_facts(
    resource: Resource, target_id: str, values: dict[str, str], identity_based: bool = False
) -> TargetFacts:
    """Keys and endpoints; token-authenticated connections get the HTTPS endpoints (Azurite accepts bearer
    tokens only over HTTPS)."""
    p = resource.properties
    oauth = {k.removesuffix("Endpoint"): v for k, v in p.get("oauthEndpoints", {}).items()}
    endpoints = oauth if identity_based and oauth else p.get("primaryEndpoints", {})
    blob = endpoints.get("blob")
    if blob:
        try:
            ca = p.get("oauthCaCert")
            tls = ssl.create_default_context(cafile=ca) if ca and blob.startswith("https") else True
            httpx.get(blob.rstrip("/") + "?comp=list", timeout=5, verify=tls)
        except httpx.HTTPError as exc:
            raise service_unavailable(resource.id, "storage endpoint", type(exc).__name__) from None
    return TargetFacts(
        account_name=p.get("accountName", resource.name),
        account_key=SecretStr(resource.secrets["key1"]),
        blob_endpoint=blob,
        queue_endpoint=endpoints.get("queue"),
        table_endpoint=endpoints.get("table"),
        file_endpoint=endpoints.get("file"),
        ssl=str(blob or "").startswith("https"),
    )


def keyvault_facts(resource: Resource, target_id: str, values: dict[str, str]) -> TargetFacts:
    return TargetFacts(vault_uri=resource.properties["vaultUri"])


_SECRET_FIELDS = {name for name, f in TargetFacts.model_fields.items() if f.annotation == SecretStr | None}


def recorded_facts(resource: Resource, target_id: str, values: dict[str, str]) -> TargetFacts:
    """Facts kept in the inventory for a target no local server backs (configuration only)."""
    facts: dict[str, Any] = dict(resource.properties.get("facts", {}))
    for name, value in resource.secrets.items():
        if name in _SECRET_FIELDS:
            facts[name] = SecretStr(value)
    return TargetFacts(**facts)


READERS: dict[str, Reader] = {
    "microsoft.dbforpostgresql/flexibleservers": postgres_facts,
    "microsoft.dbforpostgresql/servers": postgres_facts,
    "microsoft.dbformysql/flexibleservers": mysql_facts,
    "microsoft.dbformysql/servers": mysql_facts,
    "microsoft.cache/redis": redis_facts,
    "microsoft.keyvault/vaults": keyvault_facts,
}


def read_facts(resource: Resource, target_id: str, values: dict[str, str], identity_based: bool = False) -> TargetFacts:
    if resource.type.lower() == "microsoft.storage/storageaccounts":
        return storage_facts(resource, target_id, values, identity_based)
    reader = READERS.get(resource.type.lower(), recorded_facts)
    return reader(resource, target_id, values)
