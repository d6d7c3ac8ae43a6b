"""Microsoft.DBforPostgreSQL and Microsoft.DBforMySQL flexible servers: the server, its databases and its
firewall rules, read from and applied to the dev stack's real PostgreSQL and MariaDB.

* A database exists when the server has it (`pg_database`, `information_schema.schemata`).
* A PostgreSQL firewall rule is a line of the managed block of the server's `pg_hba.conf`, reloaded at once:
  without it the cluster's connections are refused, as Azure's firewall refuses them. MariaDB keeps its rules
  recorded only (tag `localcloud-firewall: recorded`): it has no IP list we can edit per rule.
* Facts Azure fixes and the stack cannot (the port, TLS off) are tags: `localcloud-port`, `localcloud-tls`.
* Rule PUT and DELETE are long-running in Azure (202 + Azure-AsyncOperation); so they are here.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

from localcloud import firewall
from localcloud.arm.routing import Call, Reply, Route
from localcloud.arm.wire import accepted, child_envelope, envelope, not_found, page, tracked
from localcloud.errors import service_unavailable
from localcloud.inventory import Resource
from servicelinker.model.errors import ArmError

PORT_TAG, TLS_TAG, FIREWALL_TAG = "localcloud-port", "localcloud-tls", "localcloud-firewall"


def _pg_admin(res: Resource) -> dict[str, Any]:
    """Connection arguments for the server's admin (its password is the inventory's secret)."""
    p = res.properties
    return {"host": p["fullyQualifiedDomainName"], "port": p["port"], "user": p["administratorLogin"],
            "password": res.secrets["administratorLoginPassword"], "dbname": "postgres", "connect_timeout": 5,
            "sslmode": "prefer"}  # fmt: skip


def _is_postgres(res: Resource) -> bool:
    return res.type.lower() == "microsoft.dbforpostgresql/flexibleservers"


def _server(call: Call) -> Resource:
    return tracked(call, call.params["ns"], "flexibleServers", "serverName")


def _hba(res: Resource) -> Path | None:
    hba = res.properties.get("hbaFile")
    if hba and Path(hba).is_file() and os.access(hba, os.W_OK):
        return Path(hba)
    return None


def _tags(res: Resource) -> dict[str, str]:
    tags = {**res.tags, PORT_TAG: str(res.properties["port"])}
    if not res.properties.get("ssl"):
        tags[TLS_TAG] = "disabled"
    if _hba(res) is None:
        tags[FIREWALL_TAG] = "recorded"
    return tags


def get_server(call: Call) -> dict[str, Any]:
    res = _server(call)
    p = res.properties
    body = envelope(res, {"fullyQualifiedDomainName": p["fullyQualifiedDomainName"],
                          "administratorLogin": p["administratorLogin"], "version": str(p.get("version") or ""),
                          "state": "Ready", "availabilityZone": "1",
                          "network": {"publicNetworkAccess": "Enabled"},
                          "storage": {"storageSizeGB": 32}, "highAvailability": {"mode": "Disabled"}},
                    sku={"name": "Standard_B1ms", "tier": "Burstable"})  # fmt: skip
    body["tags"] = _tags(res)
    return body


# ------------------------------------------------------------------------------------------------ databases


def _databases(res: Resource) -> list[str]:
    """The server's databases, read from the server itself."""
    if _is_postgres(res):
        import psycopg

        try:
            with psycopg.connect(**_pg_admin(res)) as conn:
                rows = conn.execute("SELECT datname FROM pg_database WHERE NOT datistemplate").fetchall()
        except psycopg.Error as exc:
            raise service_unavailable(res.id, "PostgreSQL server", type(exc).__name__) from None
        return [str(r[0]) for r in rows]
    import pymysql

    p = res.properties
    try:
        mysql = pymysql.connect(host=p["fullyQualifiedDomainName"], port=int(p["port"]), user=p["administratorLogin"],
                                password=res.secrets["administratorLoginPassword"], connect_timeout=5)  # fmt: skip
        try:
            with mysql.cursor() as cur:
                cur.execute("SELECT schema_name FROM information_schema.schemata")
                return [str(r[0]) for r in cur.fetchall()]
        finally:
            mysql.close()
    except pymysql.MySQLError as exc:
        raise service_unavailable(res.id, "MySQL server", type(exc).__name__) from None


def _database_body(res: Resource, name: str) -> dict[str, Any]:
    charset, collation = ("UTF8", "en_US.utf8") if _is_postgres(res) else ("utf8mb4", "utf8mb4_general_ci")
    return child_envelope(f"{res.id}/databases/{name}", f"{res.type}/databases",
                          {"charset": charset, "collation": collation})  # fmt: skip


def get_database(call: Call) -> dict[str, Any]:
    res = _server(call)
    name = call.params["databaseName"]
    if name not in _databases(res):
        raise not_found(f"{res.id}/databases/{name}")
    return _database_body(res, name)


def list_databases(call: Call) -> dict[str, Any]:
    res = _server(call)
    return page([_database_body(res, n) for n in sorted(_databases(res))])


# ------------------------------------------------------------------------------------------- firewall rules


def _reload(res: Resource) -> None:
    import psycopg

    try:
        with psycopg.connect(**_pg_admin(res), autocommit=True) as conn:
            errors = conn.execute("SELECT line_number FROM pg_hba_file_rules WHERE error IS NOT NULL").fetchall()
            if errors:
                raise service_unavailable(res.id, "PostgreSQL server", f"pg_hba.conf has errors at {errors}")
            conn.execute("SELECT pg_reload_conf()")
    except psycopg.Error as exc:
        raise service_unavailable(res.id, "PostgreSQL server", type(exc).__name__) from None


def _rule_body(res: Resource, name: str, rule: dict[str, Any]) -> dict[str, Any]:
    return child_envelope(f"{res.id}/firewallRules/{name}", f"{res.type}/firewallRules",
                          {"startIpAddress": rule["startIpAddress"], "endIpAddress": rule["endIpAddress"]})


def _rules(res: Resource) -> dict[str, dict[str, Any]]:
    """The server's rules: for PostgreSQL what its pg_hba.conf admits now (someone may have edited it), for a
    server that cannot enforce rules what was recorded."""
    hba = _hba(res)
    if hba is None:
        recorded: dict[str, dict[str, Any]] = res.properties.get("firewallRules", {})
        return recorded
    networks: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    for key, cidr in firewall.read_rules(hba).items():
        networks.setdefault(key.split("~", 1)[0], []).append(ipaddress.ip_network(cidr, strict=False))
    return {name: {"startIpAddress": str(min(n.network_address for n in nets)),
                   "endIpAddress": str(max(n.broadcast_address for n in nets))}
            for name, nets in networks.items()}  # fmt: skip


def _rule_properties(call: Call) -> tuple[str, str]:
    props = (call.body or {}).get("properties") if isinstance(call.body, dict) else None
    start, end = (props or {}).get("startIpAddress"), (props or {}).get("endIpAddress")
    if not start or not end:
        raise ArmError("InvalidParameterValue", "Invalid value given for parameter 'startIpAddress' or "
                       "'endIpAddress'. Specify valid IP addresses.", target="properties.startIpAddress",
                       status=400)  # fmt: skip
    try:
        firewall.range_cidrs(str(start), str(end))
    except ValueError:
        raise ArmError("FirewallRuleNotIPv4Address", f"The firewall rule '{start}'-'{end}' is not a valid IPv4 "
                       "address range.", target="properties", status=400) from None  # fmt: skip
    return str(start), str(end)


def put_rule(call: Call) -> Reply:
    res = _server(call)
    name = call.params["firewallRuleName"]
    start, end = _rule_properties(call)
    rule = {"startIpAddress": start, "endIpAddress": end}
    with call.world.inventory.edit() as data:
        data.resources[res.id.rstrip("/").lower()].properties.setdefault("firewallRules", {})[name] = rule
    hba = _hba(res)
    if hba is not None and firewall.set_rule(hba, name, start, end):
        _reload(res)
    op = call.world.finished_operation()
    return accepted(call, op, status=202, location=None)


def get_rule(call: Call) -> dict[str, Any]:
    res = _server(call)
    name = call.params["firewallRuleName"]
    found = {k.lower(): (k, v) for k, v in _rules(res).items()}.get(name.lower())
    if found is None:
        raise not_found(f"{res.id}/firewallRules/{name}")
    return _rule_body(res, *found)


def list_rules(call: Call) -> dict[str, Any]:
    res = _server(call)
    return page([_rule_body(res, k, v) for k, v in sorted(_rules(res).items())])


def delete_rule(call: Call) -> Reply:
    res = _server(call)
    name = call.params["firewallRuleName"]
    found = next((k for k in _rules(res) if k.lower() == name.lower()), None)
    with call.world.inventory.edit() as data:
        rules = data.resources[res.id.rstrip("/").lower()].properties.setdefault("firewallRules", {})
        for k in [k for k in rules if k.lower() == name.lower()]:
            rules.pop(k)
    if found is None:
        return Reply(204)
    hba = _hba(res)
    if hba is not None and firewall.drop_rule(hba, found):
        _reload(res)
    return accepted(call, call.world.finished_operation(), status=202)


SERVER = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{ns}/flexibleServers/" \
    "{serverName}"  # fmt: skip
RULE = SERVER + "/firewallRules/{firewallRuleName}"


def _bind(handler: Any, ns: str) -> Any:
    """`handler` for one of the two namespaces (the rest of the path is the same for both)."""
    def bound(call: Call) -> Any:
        call.params["ns"] = ns
        return handler(call)

    bound.__name__ = handler.__name__
    return bound


OPERATIONS = (("GET", SERVER, get_server), ("GET", SERVER + "/databases/{databaseName}", get_database),
              ("GET", SERVER + "/databases", list_databases), ("GET", SERVER + "/firewallRules", list_rules),
              ("GET", RULE, get_rule), ("PUT", RULE, put_rule), ("DELETE", RULE, delete_rule))  # fmt: skip
ROUTES = tuple(Route(method, template.replace("{ns}", ns), _bind(handler, ns))
               for ns in ("Microsoft.DBforPostgreSQL", "Microsoft.DBforMySQL")
               for method, template, handler in OPERATIONS)  # fmt: skip
