"""Microsoft.Cache/redis: the cache (the dev stack's Redis), its keys, and its firewall rules.

The firewall rules are recorded (tag `localcloud-firewall: recorded`): Redis has no per-IP access list. The
number of databases is the server's own `databases` setting.
"""

from __future__ import annotations

from typing import Any

from localcloud.arm.routing import Call, Reply, Route
from localcloud.arm.wire import envelope, not_found, page, tracked
from localcloud.inventory import Resource
from servicelinker.model.errors import ArmError

CACHE_TYPE = "Microsoft.Cache/redis"
FIREWALL_TAG = "localcloud-firewall"


def _cache(call: Call) -> Resource:
    return tracked(call, "Microsoft.Cache", "redis", "name")


def _databases(res: Resource) -> int | None:
    import redis

    p = res.properties
    tls = not p.get("enableNonSslPort", True) and p.get("sslPort") is not None
    try:
        client = redis.Redis(host=p["hostName"], port=int(p["sslPort"] if tls else p["port"]),
                             password=res.secrets.get("primaryKey") or None, ssl=tls, socket_timeout=5)  # fmt: skip
        count = int(client.config_get("databases").get("databases", 16))
        client.close()
    except redis.RedisError:
        return None
    return count


def get(call: Call) -> dict[str, Any]:
    res = _cache(call)
    p = res.properties
    config: dict[str, Any] = {"maxmemory-policy": "volatile-lru"}
    if (databases := _databases(res)) is not None:
        config["databases"] = str(databases)
    props: dict[str, Any] = {"provisioningState": "Succeeded", "hostName": p["hostName"], "port": int(p["port"]),
                             "enableNonSslPort": bool(p.get("enableNonSslPort", True)), "redisVersion": "7",
                             "sku": {"name": "Basic", "family": "C", "capacity": 0},
                             "publicNetworkAccess": "Enabled", "redisConfiguration": config}  # fmt: skip
    if p.get("sslPort") is not None:
        props["sslPort"] = int(p["sslPort"])
    body = envelope(res, props)
    body["tags"] = {**res.tags, FIREWALL_TAG: "recorded"}
    return body


def list_keys(call: Call) -> dict[str, Any]:
    res = _cache(call)
    key = res.secrets.get("primaryKey", "")
    return {"primaryKey": key, "secondaryKey": res.secrets.get("secondaryKey", key)}


def _rule_body(res: Resource, name: str, rule: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{res.id}/firewallRules/{name}", "name": f"{res.name}/{name}",
            "type": f"{CACHE_TYPE}/firewallRules", "properties": {"startIP": rule["startIP"], "endIP": rule["endIP"]}}


def list_rules(call: Call) -> dict[str, Any]:
    res = _cache(call)
    rules: dict[str, dict[str, Any]] = res.properties.get("firewallRules", {})
    return page([_rule_body(res, k, v) for k, v in sorted(rules.items())])


def get_rule(call: Call) -> dict[str, Any]:
    res = _cache(call)
    name = call.params["ruleName"]
    rules: dict[str, dict[str, Any]] = res.properties.get("firewallRules", {})
    found = next(((k, v) for k, v in rules.items() if k.lower() == name.lower()), None)
    if found is None:
        raise not_found(f"{res.id}/firewallRules/{name}")
    return _rule_body(res, *found)


def put_rule(call: Call) -> Reply:
    res = _cache(call)
    props = (call.body or {}).get("properties") if isinstance(call.body, dict) else None
    start, end = (props or {}).get("startIP"), (props or {}).get("endIP")
    if not start or not end:
        raise ArmError("InvalidRequestBody", "The firewall rule needs properties.startIP and properties.endIP.",
                       target="properties", status=400)  # fmt: skip
    name = call.params["ruleName"]
    with call.world.inventory.edit() as data:
        rules = data.resources[res.id.rstrip("/").lower()].properties.setdefault("firewallRules", {})
        existed = name in rules
        rules[name] = {"startIP": str(start), "endIP": str(end)}
    return Reply(200 if existed else 201, _rule_body(res, name, {"startIP": start, "endIP": end}))


def delete_rule(call: Call) -> Reply:
    res = _cache(call)
    with call.world.inventory.edit() as data:
        rules = data.resources[res.id.rstrip("/").lower()].properties.setdefault("firewallRules", {})
        gone = rules.pop(call.params["ruleName"], None)
    return Reply(200 if gone is not None else 204)


CACHE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Cache/redis/{name}"
ROUTES = (
    Route("GET", CACHE, get),
    Route("POST", CACHE + "/listKeys", list_keys),
    Route("GET", CACHE + "/firewallRules", list_rules),
    Route("GET", CACHE + "/firewallRules/{ruleName}", get_rule),
    Route("PUT", CACHE + "/firewallRules/{ruleName}", put_rule),
    Route("DELETE", CACHE + "/firewallRules/{ruleName}", delete_rule),
)
