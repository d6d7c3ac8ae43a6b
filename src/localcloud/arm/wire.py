"""ARM's wire format: error envelopes, resource envelopes, LRO headers, paging."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from localcloud import errors
from localcloud.arm.routing import Call, Reply
from localcloud.arm.versions import versions_for
from localcloud.arm.world import Operation
from localcloud.inventory import Resource
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId


def error_body(error: ArmError) -> dict[str, Any]:
    """`{"error": {code, message, target?, details?, additionalInfo?}}` (the remedy in additionalInfo)."""
    detail = error.to_detail().model_dump(mode="json", by_alias=True, exclude_none=True)
    return {"error": detail}


def envelope(res: Resource, properties: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A tracked resource as ARM returns it."""
    body: dict[str, Any] = {"id": res.id, "name": res.name, "type": res.type, "location": res.location,
                            "tags": dict(res.tags)}  # fmt: skip
    body.update({k: v for k, v in top.items() if v is not None})
    body["properties"] = properties
    return body


def child_envelope(resource_id: str, resource_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A proxy (child) resource: no location, no tags."""
    return {"id": resource_id, "name": resource_id.rstrip("/").rsplit("/", 1)[-1], "type": resource_type,
            "properties": properties}  # fmt: skip


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    """One page holds everything here (the local cloud's collections are small); `nextLink` is absent, as ARM
    omits it on the last page."""
    return {"value": items}


_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha|-privatepreview)?$")


def check_api_version(call: Call, namespace: str, resource_type: str) -> None:
    """ARM's answer to a missing or unknown api-version, with the versions it lists for the type.

    The shapes served do not change between the versions clients send today, so any well-formed version from the
    oldest one listed on is answered (the management SDKs pin one version, az another); older or malformed ones
    are refused as ARM refuses a version the provider does not have."""
    supported = versions_for(namespace, resource_type)
    version = call.api_version
    if not version:
        raise ArmError("MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.",
                       target="api-version", status=400,
                       remedy=f"Add ?api-version= (supported: {', '.join(supported)}).")  # fmt: skip
    if supported and (not _VERSION.match(version) or version[:10] < supported[0]):
        raise ArmError("NoRegisteredProviderFound",
                       f"No registered resource provider found for location 'local' and API version '{version}' for "
                       f"type '{resource_type}'. The supported api-versions are '{', '.join(supported)}'. The "
                       "supported locations are 'local'.", target="api-version", status=400,
                       remedy=f"Use api-version {supported[-1]} (or any later one).")


def not_found(resource_id: str) -> ArmError:
    """ARM's 404: for a resource its text naming the provider path (`localcloud.errors`), else a plain one."""
    rid = ResourceId.try_parse(resource_id)
    if rid is not None and rid.namespace is not None:
        return errors.not_found(resource_id)
    return ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"The resource '{resource_id}' was not found.", target=resource_id,
                    status=404)  # fmt: skip


def tracked(call: Call, namespace: str, kind: str, name_param: str) -> Resource:
    """The resource `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/<namespace>/<kind>/
    {<name_param>}` of the call, after its api-version is checked; ARM's 404 when absent or of another type."""
    check_api_version(call, namespace, kind)
    p = call.params
    resource_id = (f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}/providers/"
                   f"{namespace}/{kind}/{p[name_param]}")  # fmt: skip
    res = call.world.resource(resource_id)
    if res is None or res.type.lower() != f"{namespace}/{kind}".lower():
        raise not_found(resource_id)
    return res


def _operation_url(call: Call, op: Operation, kind: str) -> str:
    rid = ResourceId.try_parse(call.path)
    sub = rid.subscription if rid is not None else "00000000-0000-0000-0000-000000000000"
    ns = str(rid.namespace) if rid is not None and rid.namespace else "Microsoft.Resources"
    return (f"{call.world.base_url}/subscriptions/{sub}/providers/{ns}/locations/local/{kind}/{quote(op.id)}"
            f"?api-version={quote(call.api_version)}")  # fmt: skip


def accepted(call: Call, op: Operation, body: Any = None, status: int = 202, location: str | None = None) -> Reply:
    """A long-running operation's first answer: `Azure-AsyncOperation` to poll, `Location` for the result."""
    headers = {"Azure-AsyncOperation": _operation_url(call, op, "azureAsyncOperation"),
               "Location": location or _operation_url(call, op, "operationResults"), "Retry-After": "0"}  # fmt: skip
    return Reply(status, body, headers)
