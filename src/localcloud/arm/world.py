"""What the endpoint serves from: the local cloud's inventory, its long-running operations, and how it is
addressed (its public URL, tenant). One per process; handlers read it through `Call.world`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.inventory import LOCAL_TENANT, Inventory, Resource


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def etag_of(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


#: Response fields that carry credentials (listKeys, list credentials): recorded as "<redacted>".
SECRET_FIELDS = frozenset({"primarykey", "secondarykey", "value", "primaryconnectionstring",
                           "secondaryconnectionstring", "connectionstring", "primarymasterkey", "key1", "key2"})


def redacted(body: Any) -> Any:
    """`body` with credential values replaced (same types for strings, so a schema still applies)."""
    if isinstance(body, dict):
        return {k: "<redacted>" if k.lower() in SECRET_FIELDS and isinstance(v, str) else redacted(v)
                for k, v in body.items()}  # fmt: skip
    if isinstance(body, list):
        return [redacted(v) for v in body]
    return body


@dataclass
class Operation:
    id: str
    status: str
    start: str
    end: str | None = None
    error: dict[str, Any] | None = None


@dataclass
class World:
    inventory: Inventory
    #: The URL clients reach the endpoint by (Azure-AsyncOperation and nextLink point here).
    base_url: str
    tenant_id: str = LOCAL_TENANT
    #: The token service (Entra) that issues the tokens this endpoint accepts.
    authority_host: str = ""
    operations: dict[str, Operation] = field(default_factory=dict)
    #: A JSON-lines file receiving every response (method, path, api-version, status, body with secrets
    #: redacted), for the contract tests; None: nothing is recorded.
    record: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def resource(self, resource_id: str) -> Resource | None:
        return self.inventory.get(resource_id)

    def remember(self, method: str, path: str, api_version: str, status: int, body: Any) -> None:
        if self.record is None:
            return
        line = json.dumps({"method": method, "path": path, "apiVersion": api_version, "status": status,
                           "body": redacted(body)})  # fmt: skip
        with self.lock, self.record.open("a") as f:
            f.write(line + "\n")

    def finished_operation(self, error: dict[str, Any] | None = None) -> Operation:
        """An operation the endpoint has already carried out: the real servers changed synchronously, the LRO
        protocol (Azure-AsyncOperation, Location) is kept so that SDK pollers work as against Azure."""
        op = Operation(str(uuid.uuid4()), "Failed" if error else "Succeeded", now(), now(), error)
        with self.lock:
            self.operations[op.id] = op
            if len(self.operations) > 10_000:  # bounded: old finished operations go first
                for stale in list(self.operations)[:1000]:
                    self.operations.pop(stale, None)
        return op
