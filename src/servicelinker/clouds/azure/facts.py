"""A target's facts read from Azure: one reader per resource type (a table, not a chain).

Each reader takes the target's id and the values the catalog parsed from it (`{"database": ...}`) and returns
`TargetFacts` without secrets; `SECRET_READERS` read only the credentials (keys), when values are composed. A
child that does not exist (a database) is ARM's own 404 from the child's GET.

Facts that Azure fixes and the dev stack's local cloud cannot (a server's port, plain-text Redis, token endpoints
over HTTPS for Azurite) arrive as tags on the resource, documented in `docs/azure.md`:
`localcloud-port`, `localcloud-tls` (`disabled`), `localcloud-oauth-<service>-endpoint` (blob, queue, table).
Real Azure resources carry none of them, so Azure's values apply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from servicelinker.clouds.azure.clients import ArmClients
from servicelinker.clouds.azure.errors import arm_errors
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId
from servicelinker.model.records import TargetFacts

PORT_TAG = "localcloud-port"
TLS_TAG = "localcloud-tls"
OAUTH_TAG = "localcloud-oauth-{service}-endpoint"
REDIS_DATABASES = 16
STORAGE_SERVICES = ("blob", "queue", "table", "file")

Reader = Callable[[ArmClients, ResourceId, dict[str, str], bool], TargetFacts]


def _tags(resource: Any) -> dict[str, str]:
    return dict(getattr(resource, "tags", None) or {})


def _port(resource: Any) -> int | None:
    value = _tags(resource).get(PORT_TAG)
    return int(value) if value and value.isdigit() else None


def _tls(resource: Any) -> bool:
    return _tags(resource).get(TLS_TAG, "").lower() != "disabled"


def _where(rid: ResourceId) -> tuple[str, str, str]:
    return rid.subscription, str(rid.resource_group), rid.levels[0][1]


def _flexible_server(api: Any, rid: ResourceId, values: dict[str, str]) -> TargetFacts:
    """PostgreSQL and MySQL flexible servers alike: the server's FQDN, and the database must exist."""
    _, group, server_name = _where(rid)
    database = values.get("database", "")
    with arm_errors(str(rid)):
        server = api.servers.get(group, server_name)
        if database:
            api.databases.get(group, server_name, database)
    return TargetFacts(host=server.fully_qualified_domain_name, port=_port(server), database=database or None,
                       ssl=_tls(server), location=server.location)  # fmt: skip


def postgres(clients: ArmClients, rid: ResourceId, values: dict[str, str], identity: bool) -> TargetFacts:
    return _flexible_server(clients.postgres(rid.subscription), rid, values)


def mysql(clients: ArmClients, rid: ResourceId, values: dict[str, str], identity: bool) -> TargetFacts:
    return _flexible_server(clients.mysql(rid.subscription), rid, values)


def _redis_endpoint(cache: Any) -> tuple[int, bool]:
    """Azure's rule: the TLS port unless only the plain one is open."""
    tls = not cache.enable_non_ssl_port and cache.ssl_port is not None
    return int(cache.ssl_port if tls else cache.port), tls


def redis(clients: ArmClients, rid: ResourceId, values: dict[str, str], identity: bool) -> TargetFacts:
    sub, group, name = _where(rid)
    with arm_errors(str(rid)):
        cache = clients.redis(sub).redis.get(group, name)
    index = values.get("database") or "0"
    configured = getattr(getattr(cache, "redis_configuration", None), "additional_properties", None) or {}
    databases = int(configured.get("databases", REDIS_DATABASES))
    if not index.isdigit() or int(index) >= databases:
        raise ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"The Redis database '{index}' of '{rid.top_level()}' does not "
                       f"exist: its databases are 0..{databases - 1}.", target=str(rid),
                       remedy=f"Use a database index from 0 to {databases - 1}.")  # fmt: skip
    port, tls = _redis_endpoint(cache)
    return TargetFacts(host=cache.host_name, port=port, database=index, ssl=tls, location=cache.location)


def storage(clients: ArmClients, rid: ResourceId, values: dict[str, str], identity: bool) -> TargetFacts:
    sub, group, name = _where(rid)
    with arm_errors(str(rid)):
        account = clients.storage(sub).storage_accounts.get_properties(group, name)
    primary = account.primary_endpoints
    endpoints = {s: getattr(primary, s, None) for s in STORAGE_SERVICES}
    if identity:  # the local cloud's Azurite takes bearer tokens over HTTPS only
        tags = _tags(account)
        endpoints = {s: tags.get(OAUTH_TAG.format(service=s), e) for s, e in endpoints.items()}
    blob = endpoints["blob"] or ""
    suffix = blob.split(".blob.", 1)[1].strip("/") if ".blob." in blob else None
    return TargetFacts(account_name=name, blob_endpoint=endpoints["blob"], queue_endpoint=endpoints["queue"],
                       table_endpoint=endpoints["table"], file_endpoint=endpoints["file"], endpoint_suffix=suffix,
                       ssl=blob.startswith("https"), location=account.location)  # fmt: skip


def keyvault(clients: ArmClients, rid: ResourceId, values: dict[str, str], identity: bool) -> TargetFacts:
    sub, group, name = _where(rid)
    with arm_errors(str(rid)):
        vault = clients.keyvault(sub).vaults.get(group, name)
    return TargetFacts(vault_uri=vault.properties.vault_uri, location=vault.location)


def redis_keys(clients: ArmClients, rid: ResourceId) -> TargetFacts:
    sub, group, name = _where(rid)
    with arm_errors(str(rid)):
        keys = clients.redis(sub).redis.list_keys(group, name)
    return TargetFacts(account_key=SecretStr(keys.primary_key or ""))


def storage_keys(clients: ArmClients, rid: ResourceId) -> TargetFacts:
    sub, group, name = _where(rid)
    with arm_errors(str(rid)):
        keys = list(clients.storage(sub).storage_accounts.list_keys(group, name).keys_property or [])
    return TargetFacts(account_key=SecretStr(str(keys[0].value or ""))) if keys else TargetFacts()


#: Readers by the top-level ARM type of the target (lowercase).
READERS: dict[str, Reader] = {
    "microsoft.dbforpostgresql/flexibleservers": postgres,
    "microsoft.dbformysql/flexibleservers": mysql,
    "microsoft.cache/redis": redis,
    "microsoft.storage/storageaccounts": storage,
    "microsoft.keyvault/vaults": keyvault,
}
SECRET_READERS: dict[str, Callable[[ArmClients, ResourceId], TargetFacts]] = {
    "microsoft.cache/redis": redis_keys,
    "microsoft.storage/storageaccounts": storage_keys,
}


def top_type(rid: ResourceId) -> str:
    return str(rid.top_level().resource_type).lower()


def unsupported(rid: ResourceId) -> ArmError:
    return ArmError(ErrorCode.UNSUPPORTED_COMBINATION,
                    f"servicelinker's Azure adapter does not read targets of type '{rid.top_level().resource_type}'.",
                    target=str(rid), remedy="See docs/azure.md for the targets it reads.")  # fmt: skip
