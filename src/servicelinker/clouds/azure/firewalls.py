"""Firewall rules that admit a cluster's outbound IPs to a target, per target type (a table, not a chain).

* PostgreSQL/MySQL flexible servers refuse every IP they do not list: one rule per IP, named
  `ServiceConnector_<ip>` so it is found again (and is the same rule for every connection from that cluster).
* Redis, storage and Key Vault admit everyone until they have rules (Redis) or `defaultAction: Deny` (storage, Key
  Vault): while open, nothing is added (a first rule would shut everyone else out); once closed, the IP is added.
  Storage and Key Vault IP rules carry no name, so the IPs we added are listed in a tag on the resource
  (`servicelinker-ip-rules`) and only those are ever removed.
* A rule is released when the last connection that needs it goes: the engine calls `release` only then.
* A resource tagged `localcloud-firewall: recorded` (the dev stack's servers that cannot enforce an IP list) keeps
  the rules without enforcing them; validation reports that as a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from servicelinker.clouds.azure.clients import ArmClients, wire_text
from servicelinker.clouds.azure.errors import arm_errors
from servicelinker.clouds.base import FirewallState
from servicelinker.model.ids import ResourceId

ENFORCEMENT_TAG = "localcloud-firewall"
OUR_IPS_TAG = "servicelinker-ip-rules"


def rule_name(ip: str) -> str:
    """Azure-style rule name for one outbound IP (letters, digits and '_' suit every service)."""
    return "ServiceConnector_" + ip.replace(".", "_").replace(":", "_")


def _where(rid: ResourceId) -> tuple[str, str, str]:
    return rid.subscription, str(rid.resource_group), rid.levels[0][1]


def _enforced(resource: Any) -> bool:
    return str((getattr(resource, "tags", None) or {}).get(ENFORCEMENT_TAG, "enforced")) != "recorded"


@dataclass(frozen=True)
class Firewall:
    """How one type of target lists admitted IPs: `admit`/`revoke` change it, `state` reads it."""

    admit: Callable[[ArmClients, ResourceId, list[str]], None]
    revoke: Callable[[ArmClients, ResourceId, list[str]], None]
    state: Callable[[ArmClients, ResourceId, list[str]], tuple[bool, bool, str]]


# ------------------------------------------------------------------------------------ flexible servers


def _is_postgres(rid: ResourceId) -> bool:
    return str(rid.namespace).lower() == "microsoft.dbforpostgresql"


def _server_api(clients: ArmClients, rid: ResourceId) -> Any:
    return clients.postgres(rid.subscription) if _is_postgres(rid) else clients.mysql(rid.subscription)


def _rule(rid: ResourceId, ip: str) -> Any:
    if _is_postgres(rid):
        from azure.mgmt.postgresqlflexibleservers.models import FirewallRule as PostgresRule
        from azure.mgmt.postgresqlflexibleservers.models import FirewallRuleProperties

        return PostgresRule(properties=FirewallRuleProperties(start_ip_address=ip, end_ip_address=ip))
    from azure.mgmt.mysqlflexibleservers.models import FirewallRule as MySQLRule

    return MySQLRule(start_ip_address=ip, end_ip_address=ip)


def _flexible_admit(clients: ArmClients, rid: ResourceId, ips: list[str]) -> None:
    _, group, server = _where(rid)
    api = _server_api(clients, rid)
    with arm_errors(str(rid.top_level())):
        for ip in ips:
            api.firewall_rules.begin_create_or_update(group, server, rule_name(ip), _rule(rid, ip)).result()


def _flexible_revoke(clients: ArmClients, rid: ResourceId, ips: list[str]) -> None:
    _, group, server = _where(rid)
    api = _server_api(clients, rid)
    with arm_errors(str(rid.top_level())):
        existing = {r.name for r in api.firewall_rules.list_by_server(group, server)}
        for ip in ips:
            if rule_name(ip) in existing:
                api.firewall_rules.begin_delete(group, server, rule_name(ip)).result()


def _covers(rule: Any, ip: str) -> bool:
    import ipaddress

    start = getattr(rule, "start_ip_address", None) or getattr(rule, "start_ip", None)
    end = getattr(rule, "end_ip_address", None) or getattr(rule, "end_ip", None)
    try:
        low, high, address = (ipaddress.ip_address(str(v)) for v in (start, end, ip))
    except ValueError:
        return False
    return low.version == high.version == address.version and int(low) <= int(address) <= int(high)


def _refused(missing: list[str]) -> str:
    return (f"The server's firewall does not admit {', '.join(missing)} (no rule covers it): connections from the "
            "cluster are refused.")


def _flexible_state(clients: ArmClients, rid: ResourceId, ips: list[str]) -> tuple[bool, bool, str]:
    _, group, server_name = _where(rid)
    api = _server_api(clients, rid)
    with arm_errors(str(rid.top_level())):
        server = api.servers.get(group, server_name)
        rules = list(api.firewall_rules.list_by_server(group, server_name))
    missing = [ip for ip in ips if not any(_covers(r, ip) for r in rules)]
    if missing:
        return False, _enforced(server), _refused(missing)
    return True, _enforced(server), f"Firewall rules admit {', '.join(ips)}."


# ------------------------------------------------------------------------------------------------- Redis


def _redis_rules(clients: ArmClients, rid: ResourceId) -> list[Any]:
    _, group, name = _where(rid)
    return list(clients.redis(rid.subscription).firewall_rules.list(group, name))


def _redis_admit(clients: ArmClients, rid: ResourceId, ips: list[str]) -> None:
    from azure.mgmt.redis.models import RedisFirewallRule

    _, group, name = _where(rid)
    api = clients.redis(rid.subscription).firewall_rules
    with arm_errors(str(rid.top_level())):
        rules = _redis_rules(clients, rid)
        if not rules:  # open to every IP: a first rule would shut everyone else out
            return
        for ip in ips:
            if not any(_covers(r, ip) for r in rules):
                rule = RedisFirewallRule(start_ip=ip, end_ip=ip)
                api.create_or_update(group, name, rule_name(ip).replace("_", ""), rule)


def _redis_revoke(clients: ArmClients, rid: ResourceId, ips: list[str]) -> None:
    _, group, name = _where(rid)
    api = clients.redis(rid.subscription).firewall_rules
    with arm_errors(str(rid.top_level())):
        existing = {str(r.name).rsplit("/", 1)[-1] for r in _redis_rules(clients, rid)}
        for ip in ips:
            if rule_name(ip).replace("_", "") in existing:
                api.delete(group, name, rule_name(ip).replace("_", ""))


def _redis_state(clients: ArmClients, rid: ResourceId, ips: list[str]) -> tuple[bool, bool, str]:
    _, group, name = _where(rid)
    with arm_errors(str(rid.top_level())):
        cache = clients.redis(rid.subscription).redis.get(group, name)
        rules = _redis_rules(clients, rid)
    if not rules:
        return True, _enforced(cache), "The cache has no firewall rules: every IP is admitted."
    missing = [ip for ip in ips if not any(_covers(r, ip) for r in rules)]
    if missing:
        return False, _enforced(cache), _refused(missing)
    return True, _enforced(cache), f"Firewall rules admit {', '.join(ips)}."


# ------------------------------------------------------------------------------------ storage, Key Vault


def _our_ips(resource: Any) -> set[str]:
    return {ip for ip in ((getattr(resource, "tags", None) or {}).get(OUR_IPS_TAG, "")).split(",") if ip}


def _tagged(resource: Any, ips: set[str]) -> dict[str, str]:
    tags = dict(getattr(resource, "tags", None) or {})
    if ips:
        tags[OUR_IPS_TAG] = ",".join(sorted(ips))
    else:
        tags.pop(OUR_IPS_TAG, None)
    return tags


def _merged(rules: list[Any], value_of: Callable[[Any], str], make: Callable[[str], Any], ours: set[str],
            ips: list[str], add: bool) -> tuple[list[Any], set[str]]:  # fmt: skip
    """An unnamed IP list after admitting (or releasing) `ips`, and the IPs that are ours: an IP already listed by
    someone else is not ours, and only ours are ever removed."""
    listed = {value_of(r) for r in rules}
    if add:
        new = [ip for ip in ips if ip not in listed]
        return rules + [make(ip) for ip in new], ours | set(new)
    gone = {ip for ip in ips if ip in ours}
    return [r for r in rules if value_of(r) not in gone], ours - gone


def _storage_change(clients: ArmClients, rid: ResourceId, ips: list[str], add: bool) -> None:
    from azure.mgmt.storage import models

    _, group, name = _where(rid)
    api = clients.storage(rid.subscription).storage_accounts
    with arm_errors(str(rid.top_level())):
        account = api.get_properties(group, name)
        rules = account.network_rule_set
        if rules is None or wire_text(rules.default_action) != "Deny":
            return
        rules.ip_rules, ours = _merged(list(rules.ip_rules or []), lambda r: r.ip_address_or_range,
                                       lambda ip: models.IPRule(ip_address_or_range=ip), _our_ips(account), ips, add)
        properties = models.StorageAccountPropertiesUpdateParameters(network_rule_set=rules)
        update = models.StorageAccountUpdateParameters(tags=_tagged(account, ours), properties=properties)
        api.update(group, name, update)


def _storage_state(clients: ArmClients, rid: ResourceId, ips: list[str]) -> tuple[bool, bool, str]:
    _, group, name = _where(rid)
    with arm_errors(str(rid.top_level())):
        account = clients.storage(rid.subscription).storage_accounts.get_properties(group, name)
    rules = account.network_rule_set
    if rules is None or wire_text(rules.default_action) != "Deny":
        return True, _enforced(account), "The account admits every network (defaultAction Allow)."
    listed = {r.ip_address_or_range for r in rules.ip_rules or []}
    missing = [ip for ip in ips if ip not in listed]
    return (not missing, _enforced(account),
            f"The account's IP rules do not list {', '.join(missing)}." if missing else "IP rules admit the cluster.")


def _vault_change(clients: ArmClients, rid: ResourceId, ips: list[str], add: bool) -> None:
    from azure.mgmt.keyvault import models

    _, group, name = _where(rid)
    api = clients.keyvault(rid.subscription).vaults
    with arm_errors(str(rid.top_level())):
        vault = api.get(group, name)
        acls = vault.properties.network_acls
        if acls is None or wire_text(acls.default_action) != "Deny":
            return
        acls.ip_rules, ours = _merged(list(acls.ip_rules or []), lambda r: r.value, lambda ip: models.IPRule(value=ip),
                                      _our_ips(vault), ips, add)
        api.update(group, name, models.VaultPatchParameters(tags=_tagged(vault, ours),
                                                            properties=models.VaultPatchProperties(network_acls=acls)))


def _vault_state(clients: ArmClients, rid: ResourceId, ips: list[str]) -> tuple[bool, bool, str]:
    _, group, name = _where(rid)
    with arm_errors(str(rid.top_level())):
        vault = clients.keyvault(rid.subscription).vaults.get(group, name)
    acls = vault.properties.network_acls
    if acls is None or wire_text(acls.default_action) != "Deny":
        return True, _enforced(vault), "The vault admits every network (defaultAction Allow)."
    missing = [ip for ip in ips if ip not in {r.value for r in acls.ip_rules or []}]
    return (not missing, _enforced(vault),
            f"The vault's IP rules do not list {', '.join(missing)}." if missing else "IP rules admit the cluster.")


FLEXIBLE = Firewall(_flexible_admit, _flexible_revoke, _flexible_state)
FIREWALLS: dict[str, Firewall] = {
    "microsoft.dbforpostgresql/flexibleservers": FLEXIBLE,
    "microsoft.dbformysql/flexibleservers": FLEXIBLE,
    "microsoft.cache/redis": Firewall(_redis_admit, _redis_revoke, _redis_state),
    "microsoft.storage/storageaccounts": Firewall(lambda c, r, i: _storage_change(c, r, i, True),
                                                  lambda c, r, i: _storage_change(c, r, i, False), _storage_state),
    "microsoft.keyvault/vaults": Firewall(lambda c, r, i: _vault_change(c, r, i, True),
                                          lambda c, r, i: _vault_change(c, r, i, False), _vault_state),
}


def state(clients: ArmClients, target_id: str, ips: list[str]) -> FirewallState:
    rid = ResourceId.parse(target_id)
    names = ", ".join(rule_name(ip) for ip in ips)
    firewall = FIREWALLS.get(str(rid.top_level().resource_type).lower())
    if firewall is None:
        return FirewallState(rule_name=names, admitted=True, enforceable=False,
                             detail="servicelinker does not manage this target's firewall.")  # fmt: skip
    if not ips:
        return FirewallState(rule_name="", admitted=True, enforceable=False,
                             detail="The cluster's outbound IPs are not known (user-defined routing or a NAT "
                             "gateway of your own): no firewall rule was made.")  # fmt: skip
    admitted, enforced, detail = firewall.state(clients, rid, ips)
    if not enforced:
        detail = ("Firewall rule recorded; not enforceable on this server (it has no IP firewall the local cloud "
                  "can edit).")  # fmt: skip
    return FirewallState(rule_name=names, admitted=admitted, enforceable=enforced, detail=detail)


def admit(clients: ArmClients, target_id: str, ips: list[str]) -> None:
    rid = ResourceId.parse(target_id)
    firewall = FIREWALLS.get(str(rid.top_level().resource_type).lower())
    if firewall is not None and ips:
        firewall.admit(clients, rid, ips)


def revoke(clients: ArmClients, target_id: str, ips: list[str]) -> None:
    rid = ResourceId.parse(target_id)
    firewall = FIREWALLS.get(str(rid.top_level().resource_type).lower())
    if firewall is not None and ips:
        firewall.revoke(clients, rid, ips)
