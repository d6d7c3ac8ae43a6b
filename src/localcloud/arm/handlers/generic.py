"""Targets with no server on this machine (Service Bus, Cosmos DB, SQL, ...): resources recorded in the
inventory with their facts (`servicelinker local resource create --fact ... --secret ...`), served through ARM's
generic resource API in the JSON shape Azure gives them.

The shapes are the product's own records (`servicelinker.clouds.azure.generic.SHAPES`): `render` writes each
fact where the adapter reads it, so both sides agree by construction. A child (a queue, a database) exists when
it, or its top-level resource, is recorded.
"""

from __future__ import annotations

import re
from typing import Any

from localcloud.arm.routing import Call, Route
from localcloud.arm.wire import check_api_version, envelope, not_found
from localcloud.inventory import Resource
from servicelinker.clouds.azure.generic import SHAPES, Shape, render
from servicelinker.model.ids import ResourceId


def _recorded(call: Call, resource_id: str) -> Resource | None:
    """The inventory resource at `resource_id`, at one of its ancestors, or (for a top-level id) a recorded
    child of it, whose facts describe the same target."""
    rid = ResourceId.try_parse(resource_id)
    while rid is not None and rid.namespace is not None:
        found = call.world.resource(rid.text)
        if found is not None:
            return found
        rid = rid.parent
    prefix = resource_id.rstrip("/").lower() + "/"
    return next((r for k, r in call.world.inventory.load().resources.items() if k.startswith(prefix)), None)


def _facts(res: Resource) -> dict[str, Any]:
    return {**res.properties.get("facts", {}), "location": res.location}


def _secrets(res: Resource) -> dict[str, Any]:
    return dict(res.secrets)


def _shape(rid: ResourceId) -> Shape | None:
    return SHAPES.get(str(rid.top_level().resource_type).lower())


def get(call: Call) -> dict[str, Any]:
    resource_id = "/" + call.params["resourceId"].strip("/")
    rid = ResourceId.try_parse(resource_id)
    if rid is None or rid.namespace is None:
        raise not_found(resource_id)
    check_api_version(call, str(rid.namespace), "/".join(str(rid.resource_type).split("/")[1:]))
    res = _recorded(call, resource_id)
    if res is None:
        raise not_found(resource_id)
    shape = _shape(rid)
    stand_in = Resource(id=resource_id, type=str(rid.resource_type), location=res.location, tags=res.tags)
    if shape is None:
        return envelope(stand_in, {k: v for k, v in res.properties.items() if k != "facts"})
    child = resource_id.lower() != str(rid.top_level()).lower()
    facts = [f for f in shape.facts if f.child == child and f.name != "location"]
    if not child:
        facts += list(shape.secret_facts)  # Application Insights' connection string comes with the GET
    document = render(facts, {**_facts(res), **_secrets(res)})
    body = envelope(stand_in, document.pop("properties", {}))
    body.update(document)
    return body


def _split_top(path: str) -> tuple[str, str] | None:
    """(`/subscriptions/.../providers/NS/type/name`, the rest) of a path below a top-level resource."""
    segments = path.strip("/").split("/")
    lowered = [s.lower() for s in segments]
    if "providers" not in lowered or len(segments) < lowered.index("providers") + 5:
        return None
    cut = lowered.index("providers") + 4
    return "/" + "/".join(segments[:cut]), "/".join(segments[cut:])


def key_action(call: Call) -> dict[str, Any]:
    """`POST {top}/{action}` of a shape's key actions (`listKeys`, `authorizationRules/.../listKeys`)."""
    split = _split_top(f"{call.params['resourceId']}/{call.params['action']}")
    rid = ResourceId.try_parse(split[0]) if split else None
    if split is None or rid is None:
        raise not_found(call.path)
    top_id, action = split
    shape, res = _shape(rid), _recorded(call, top_id)
    if shape is None or res is None:
        raise not_found(top_id)
    check_api_version(call, str(rid.namespace), "/".join(str(rid.resource_type).split("/")[1:]))
    for key in shape.keys:
        if re.fullmatch(re.escape(key.action.lower()).replace(re.escape("{child}"), "[^/]+"), action.lower()):
            return render(key.facts, _secrets(res))
    raise not_found(f"{top_id}/{action}")


def _read_action(call: Call) -> str:
    rid = ResourceId.try_parse("/" + call.params["resourceId"].strip("/"))
    return f"{rid.resource_type}/read" if rid is not None and rid.resource_type else "Microsoft.Resources/read"


def _key_action(call: Call) -> str:
    rid = ResourceId.try_parse("/" + call.params["resourceId"].strip("/"))
    last = call.params["action"].rstrip("/").rsplit("/", 1)[-1]
    return f"{rid.resource_type}/{last}/action" if rid is not None else "Microsoft.Resources/action"

ROUTES = (
    Route("GET", "/{resourceId}", get, action=_read_action),
    Route("POST", "/{resourceId}/{action}", key_action, action=_key_action),
)
