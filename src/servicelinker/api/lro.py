"""ARM long-running operations (reference §1.5): the headers of an accepted request and the two polling endpoints.

* `Azure-AsyncOperation: <base>/subscriptions/{sub}/providers/Microsoft.ServiceLinker/locations/{loc}/
  operationStatuses/{id}?api-version=...` — the status document `{id, name, resourceId, status, startTime,
  endTime?, error?, properties?}`; for a validation, `properties` holds the ValidateResult flattened, as recorded
  on Azure. servicelinker adds `steps` (the engine's step log) so clients can show progress.
* `Location: .../operationResults/{id}?api-version=...` — 202 (with Location and Retry-After) while the operation
  runs, then the final result: 200 + ValidateOperationResult for a validation (`final-state-via: location`),
  200 + the linker for a create/update, 204 for a delete; a failed operation answers with its ARM error.
* `Retry-After` (seconds) on every accepted response.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from servicelinker.api.deps import Backend
from servicelinker.model.errors import HTTP_STATUS, ArmError, ErrorDetail
from servicelinker.model.ids import LINKER_PROVIDER, ResourceId
from servicelinker.model.records import Operation

TERMINAL = frozenset({"Succeeded", "Failed", "Canceled"})
STATUSES = "operationStatuses"
RESULTS = "operationResults"


def base_url(request: Request, be: Backend) -> str:
    return (be.public_url or str(request.base_url)).rstrip("/")


def operation_url(request: Request, be: Backend, kind: str, op: Operation, api_version: str) -> str:
    subscription = ResourceId.parse(op.resource_id).subscription
    return (
        f"{base_url(request, be)}/subscriptions/{subscription}/providers/{LINKER_PROVIDER}/locations/"
        f"{be.location}/{kind}/{op.id}?api-version={api_version}"
    )


def accepted_headers(
    request: Request, be: Backend, op: Operation, api_version: str, *, location: bool = True
) -> dict[str, str]:
    headers = {
        "Azure-AsyncOperation": operation_url(request, be, STATUSES, op, api_version),
        "Retry-After": str(be.retry_after),
    }
    if location:
        headers["Location"] = operation_url(request, be, RESULTS, op, api_version)
    return headers


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    text: str = value.isoformat()
    return text.replace("+00:00", "Z")


def status_body(request: Request, be: Backend, op: Operation) -> dict[str, Any]:
    subscription = ResourceId.parse(op.resource_id).subscription
    body: dict[str, Any] = {
        "id": f"/subscriptions/{subscription}/providers/{LINKER_PROVIDER}/locations/{be.location}/{STATUSES}/{op.id}",
        "name": op.id,
        "resourceId": op.resource_id,
        "status": op.status,
        "startTime": _iso(op.start_time),
    }
    if op.end_time is not None:
        body["endTime"] = _iso(op.end_time)
    if op.error:
        body["error"] = op.error
    if op.status == "Succeeded":
        result = op.result or {}
        if op.kind == "validate" and isinstance(result.get("properties"), dict):
            body["properties"] = result["properties"]
        elif op.kind in ("create", "update"):
            body["properties"] = result or {"Message": None}
        elif op.kind == "delete":
            body["properties"] = None  # as Azure's delete status carries it
    body["steps"] = [s.model_dump(mode="json", exclude_none=True) for s in op.steps]
    return body


def operation_error(op: Operation) -> ArmError:
    """The ARM error a failed operation ended with (its HTTP status from the code)."""
    detail = ErrorDetail.model_validate(op.error or {"code": "InternalServerError", "message": "Operation failed."})
    status = HTTP_STATUS.get(detail.code or "", 400)
    return ArmError.from_detail(detail, status=status if status < 500 else 500)
