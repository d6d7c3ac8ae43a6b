"""Targets read through ARM's generic resource API, one declarative record per resource type.

Service Bus, Event Hubs, App Configuration, SignalR, Web PubSub, Cosmos DB, Cognitive Services, Application
Insights, SQL and Redis Enterprise need only a GET of the resource (and of the target's child, which must exist)
and a key action (`listKeys`, `listConnectionStrings`, ...). Rather than ten more SDKs for two calls each, a
`Shape` names the api-version, where each fact sits in ARM's JSON, and which POST returns the keys. The dev stack's
local cloud can render its resources from the same records (`render`), so both sides agree by construction.

A `Fact` maps one `TargetFacts` field to a path in the JSON; `wire` says how ARM's value wraps the fact
(`https://{}:443/` around a namespace FQDN), `fact` how the fact wraps ARM's value (`https://{}` around a host name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat
from pydantic import SecretStr

from servicelinker.clouds.azure.clients import ArmClients
from servicelinker.clouds.azure.errors import arm_errors
from servicelinker.model.ids import ResourceId
from servicelinker.model.records import SECRET_FACTS, TargetFacts

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Fact:
    name: str
    path: Path
    wire: str = "{}"
    fact: str = "{}"
    #: Read from the target's child resource (e.g. a Redis Enterprise database) rather than the top-level one.
    child: bool = False

    def read(self, document: Any) -> str | None:
        value = _dig(document, self.path)
        if value is None:
            return None
        text = str(value)
        found = re.fullmatch(re.escape(self.wire).replace(r"\{\}", "(.*)"), text)
        return self.fact.format(found.group(1)) if found else None

    def value_for(self, fact_value: str) -> str:
        """The value ARM holds for a fact (what the local cloud serves)."""
        inner = re.fullmatch(re.escape(self.fact).replace(r"\{\}", "(.*)"), fact_value)
        return self.wire.format(inner.group(1) if inner else fact_value)


@dataclass(frozen=True)
class KeyAction:
    """A POST under the resource (`{child}` stands for the target's child name) and the facts in its answer."""

    action: str
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class Shape:
    api_version: str
    facts: tuple[Fact, ...]
    keys: tuple[KeyAction, ...] = ()
    #: Facts that are secrets but come with the GET (Application Insights' connection string).
    secret_facts: tuple[Fact, ...] = field(default=())


def _dig(document: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        if isinstance(step, int):
            document = document[step] if isinstance(document, list) and len(document) > step else None
        else:
            document = document.get(step) if isinstance(document, Mapping) else None
        if document is None:
            return None
    return document


def _p(*path: str | int) -> Path:
    return tuple(path)


LOCATION = Fact("location", _p("location"))
_NAMESPACE = (Fact("namespace_fqdn", _p("properties", "serviceBusEndpoint"), wire="https://{}:443/"), LOCATION)
_ROOT_KEY = KeyAction("authorizationRules/RootManageSharedAccessKey/listKeys",
                      (Fact("connection_string", _p("primaryConnectionString")),))  # fmt: skip
_SIGNALR = Shape("2024-03-01", (Fact("host", _p("properties", "hostName")),
                                Fact("endpoint", _p("properties", "hostName"), fact="https://{}"), LOCATION),
                 (KeyAction("listKeys", (Fact("connection_string", _p("primaryConnectionString")),
                                         Fact("account_key", _p("primaryKey")))),))  # fmt: skip

SHAPES: dict[str, Shape] = {
    "microsoft.servicebus/namespaces": Shape("2021-11-01", _NAMESPACE, (_ROOT_KEY,)),
    "microsoft.eventhub/namespaces": Shape("2024-01-01", _NAMESPACE, (_ROOT_KEY,)),
    "microsoft.appconfiguration/configurationstores": Shape(
        "2023-03-01", (Fact("endpoint", _p("properties", "endpoint")), LOCATION),
        (KeyAction("listKeys", (Fact("connection_string", _p("value", 0, "connectionString")),)),)),
    "microsoft.signalrservice/signalr": _SIGNALR,
    "microsoft.signalrservice/webpubsub": _SIGNALR,
    "microsoft.documentdb/databaseaccounts": Shape(
        "2024-05-15", (Fact("endpoint", _p("properties", "documentEndpoint")), LOCATION),
        (KeyAction("listKeys", (Fact("account_key", _p("primaryMasterKey")),)),
         KeyAction("listConnectionStrings", (Fact("connection_string",
                                                  _p("connectionStrings", 0, "connectionString")),)))),
    "microsoft.cognitiveservices/accounts": Shape(
        "2024-10-01", (Fact("endpoint", _p("properties", "endpoint")), Fact("account_kind", _p("kind")), LOCATION),
        (KeyAction("listKeys", (Fact("account_key", _p("key1")),)),)),
    "microsoft.insights/components": Shape(
        "2020-02-02", (LOCATION,), secret_facts=(Fact("connection_string", _p("properties", "ConnectionString")),)),
    "microsoft.sql/servers": Shape("2021-11-01", (Fact("host", _p("properties", "fullyQualifiedDomainName")),
                                                  LOCATION)),
    "microsoft.cache/redisenterprise": Shape(
        "2024-10-01", (Fact("host", _p("properties", "hostName")), Fact("port", _p("properties", "port"), child=True),
                       LOCATION),
        (KeyAction("databases/{child}/listKeys", (Fact("account_key", _p("primaryKey")),)),)),
}  # fmt: skip


def shape_of(rid: ResourceId) -> Shape | None:
    return SHAPES.get(str(rid.top_level().resource_type).lower())


def _call(clients: ArmClients, method: str, path: str, api_version: str, rid: ResourceId) -> dict[str, Any]:
    request = HttpRequest(method, f"{clients.profile.arm_endpoint.rstrip('/')}{path}",
                          params={"api-version": api_version}, headers={"Accept": "application/json"})  # fmt: skip
    with arm_errors(path):
        response = clients.resources(rid.subscription).send_request(request)
        if response.status_code >= 400:
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    data: dict[str, Any] = response.json() if response.content else {}
    return data


def _facts(found: Sequence[Fact], top: Any, child: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fact in found:
        value = fact.read(child if fact.child else top)
        if value is not None:
            out[fact.name] = SecretStr(value) if fact.name in SECRET_FACTS else value
    if isinstance(out.get("port"), str):
        out["port"] = int(out["port"])
    return out


def describe(clients: ArmClients, rid: ResourceId, shape: Shape) -> TargetFacts:
    """The target's facts without secrets; its child (a database, a keyspace) must exist."""
    top_id = str(rid.top_level())
    top = _call(clients, "GET", top_id, shape.api_version, rid)
    child = _call(clients, "GET", str(rid), shape.api_version, rid) if str(rid).lower() != top_id.lower() else {}
    values = _facts(shape.facts, top, child)
    return TargetFacts(account_name=rid.top_level().name, **values)


def secrets(clients: ArmClients, rid: ResourceId, shape: Shape) -> TargetFacts:
    """Only the target's keys and connection strings."""
    top_id = str(rid.top_level())
    values: dict[str, Any] = {}
    if shape.secret_facts:
        values.update(_facts(shape.secret_facts, _call(clients, "GET", top_id, shape.api_version, rid), {}))
    for key in shape.keys:
        action = key.action.replace("{child}", rid.name)
        values.update(_facts(key.facts, _call(clients, "POST", f"{top_id}/{action}", shape.api_version, rid), {}))
    return TargetFacts(**values)


def render(found: Sequence[Fact], values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON in which `found` read `values` back (the inverse of reading, for a server that serves the shape)."""
    document: dict[str, Any] = {}
    for fact in found:
        if values.get(fact.name) is None:
            continue
        node: Any = document
        *parents, last = fact.path
        for step, after in zip(parents, fact.path[1:], strict=True):
            empty: Any = [{}] if isinstance(after, int) else {}
            node = node.setdefault(step, empty) if isinstance(step, str) else node[step]
        node[last] = fact.value_for(str(values[fact.name]))
    return document
