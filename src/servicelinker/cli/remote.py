"""The CLI against a `servicelinker serve` endpoint: `RemoteEngine`, a facade with the Engine methods the connection
commands call, backed by the REST API, so every command prints the same output in-process or remote.

Configuration (first found wins):

* endpoint: `--endpoint`, else `SL_ENDPOINT`, else `endpoint` in the CLI config file (`SL_CONFIG`, default
  `~/.config/servicelinker/config.json`); none means in-process;
* token: `SL_TOKEN`, else the file named by `SL_TOKEN_FILE` (or `tokenFile` in the config), else no
  Authorization header (a server in `--insecure-dev` mode). With Azure: `SL_TOKEN=$(az account get-access-token
  --query accessToken -o tsv)`;
* CA bundle for an HTTPS endpoint with a private certificate: `SL_ENDPOINT_CA` (or `ca` in the config).

What maps to what:

| Engine method | REST call |
|---|---|
| get / list_linkers / list_configurations | GET linkers/{name}, GET linkers, POST listConfigurations |
| begin_create_or_update / begin_delete / begin_validate | PUT, DELETE (`?cleanup=true`), POST validateLinker |
| run(op_id, listener) / operation(op_id) | polls the operationStatuses URL; its `steps` feed the listener |
| store.get_linker / store.latest_operation | GET linkers/{name} (404 = None) / the last operation this client began |

Errors come back as the server's ARM errors (code, message, target, remedy), i.e. the same `ArmError` the engine
raises in-process; an unreachable endpoint is `ServiceUnavailable` naming it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from servicelinker.catalog.configuration import Configuration
from servicelinker.model.errors import ArmError, ErrorDetail
from servicelinker.model.ids import LINKER_PROVIDER
from servicelinker.model.linker import DEFAULT_API_VERSION, LinkerResource
from servicelinker.store.repository import Operation, Step, StoredLinker

TERMINAL = frozenset({"Succeeded", "Failed", "Canceled"})
DEFAULT_CONFIG = Path.home() / ".config" / "servicelinker" / "config.json"
Listener = Callable[[Step], None]


@dataclass(frozen=True)
class RemoteSettings:
    endpoint: str
    token: str | None = None
    ca: str | None = None
    api_version: str = DEFAULT_API_VERSION
    poll_interval: float = 0.5
    timeout: float = 120.0


def _config_file() -> dict[str, Any]:
    path = Path(os.environ.get("SL_CONFIG", str(DEFAULT_CONFIG))).expanduser()
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def settings_from_env(endpoint: str | None = None) -> RemoteSettings | None:
    """The remote settings, or None when no endpoint is configured (the CLI stays in-process)."""
    config = _config_file()
    url = endpoint or os.environ.get("SL_ENDPOINT") or config.get("endpoint")
    if not url:
        return None
    token = os.environ.get("SL_TOKEN")
    token_file = os.environ.get("SL_TOKEN_FILE") or config.get("tokenFile")
    if not token and token_file:
        token = Path(token_file).expanduser().read_text().strip()
    ca = os.environ.get("SL_ENDPOINT_CA") or config.get("ca")
    return RemoteSettings(endpoint=str(url).rstrip("/"), token=token or None, ca=ca or None)


def _parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def stored_linker(body: Mapping[str, Any]) -> StoredLinker:
    """A linker body as the engine's StoredLinker (no secrets, no configurations: those stay on the server)."""
    linker_id = str(body.get("id", ""))
    lowered = linker_id.lower()
    marker = f"/providers/{LINKER_PROVIDER.lower()}/"
    source = linker_id[: lowered.rindex(marker)] if marker in lowered else linker_id
    return StoredLinker(
        id=linker_id,
        source_id=source,
        name=str(body.get("name", linker_id.rsplit("/", 1)[-1])),
        body=dict(body),
        provisioning_state=str((body.get("properties") or {}).get("provisioningState", "")),
    )


class RemoteStore:
    """The two store reads the CLI makes (`aks connection wait`)."""

    def __init__(self, engine: RemoteEngine) -> None:
        self._engine = engine

    def get_linker(self, linker_id: str) -> StoredLinker | None:
        try:
            return self._engine.get(linker_id)
        except ArmError as exc:
            if exc.status == 404:
                return None
            raise

    def latest_operation(self, resource_id: str) -> Operation | None:
        op_id = self._engine.latest.get(resource_id.lower())
        return self._engine.operation(op_id) if op_id else None


class RemoteEngine:
    """Engine-shaped client of the REST API (see the module docstring)."""

    remote = True

    def __init__(self, settings: RemoteSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=settings.ca) if settings.ca else True
        self._http = httpx.Client(base_url=settings.endpoint, headers=headers, verify=verify,
                                  timeout=settings.timeout, transport=transport)  # fmt: skip
        self._status_urls: dict[str, str] = {}
        self._kinds: dict[str, str] = {}
        self.latest: dict[str, str] = {}
        self.store = RemoteStore(self)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------------------------------------ HTTP

    def _request(self, method: str, url: str, *, json_body: Any = None, params: dict[str, str] | None = None,
                 absolute: bool = False) -> httpx.Response:  # fmt: skip
        query = {} if absolute else {"api-version": self.settings.api_version}
        query.update(params or {})
        try:
            response = self._http.request(method, url, params=query or None, json=json_body)
        except httpx.TransportError as exc:
            raise ArmError(
                "ServiceUnavailable",
                f"The servicelinker endpoint {self.settings.endpoint} could not be reached ({type(exc).__name__}).",
                target="SL_ENDPOINT",
                remedy="Start the server (`servicelinker serve ...`), check --endpoint/SL_ENDPOINT and SL_ENDPOINT_CA, "
                "or unset SL_ENDPOINT to work in-process.",
                status=503,
            ) from None
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def _linker_url(self, linker_id: str, action: str = "") -> str:
        return linker_id + (f"/{action}" if action else "")

    def _begin(self, response: httpx.Response, resource_id: str, kind: str) -> Operation:
        url = response.headers.get("Azure-AsyncOperation")
        if not url:
            raise ArmError("InvalidResponse", f"The server accepted {kind} but named no Azure-AsyncOperation URL.",
                           remedy="Check that --endpoint points at a servicelinker server.", status=502)  # fmt: skip
        op_id = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        self._status_urls[op_id] = url
        self._kinds[op_id] = kind
        self.latest[resource_id.lower()] = op_id
        return Operation(id=op_id, resource_id=resource_id, kind=kind, status="Accepted",
                         start_time=dt.datetime.now(dt.UTC))  # fmt: skip

    # ------------------------------------------------------------------------------------------ read side

    def get(self, linker_id: str) -> StoredLinker:
        return stored_linker(self._request("GET", self._linker_url(linker_id)).json())

    def list_linkers(self, source_id: str) -> list[StoredLinker]:
        response = self._request("GET", f"{source_id.rstrip('/')}/providers/{LINKER_PROVIDER}/linkers")
        items: list[StoredLinker] = []
        while True:
            page = response.json()
            items += [stored_linker(b) for b in page.get("value") or []]
            next_link = page.get("nextLink")
            if not next_link:
                return items
            response = self._request("GET", next_link, absolute=True)

    def list_configurations(self, linker_id: str) -> list[Configuration]:
        result = self._request("POST", self._linker_url(linker_id, "listConfigurations")).json()
        return [
            Configuration(name=c.get("name", ""), value=c.get("value") or "", description=c.get("description") or "")
            for c in result.get("configurations") or []
        ]  # fmt: skip

    # ---------------------------------------------------------------------------------------- write side

    def begin_create_or_update(self, linker_id: str, resource: LinkerResource) -> Operation:
        response = self._request("PUT", self._linker_url(linker_id), json_body=resource.request_dump())
        return self._begin(response, linker_id, "create")

    def create_or_update(self, linker_id: str, resource: LinkerResource, listener: Listener | None = None
                         ) -> Operation:  # fmt: skip
        return self.run(self.begin_create_or_update(linker_id, resource).id, listener)

    def begin_delete(self, linker_id: str, cleanup: bool = False) -> Operation | None:
        params = {"cleanup": "true"} if cleanup else None
        response = self._request("DELETE", self._linker_url(linker_id), params=params)
        if response.status_code == 204:
            return None
        return self._begin(response, linker_id, "delete")

    def delete(self, linker_id: str, cleanup: bool = False, listener: Listener | None = None) -> Operation | None:
        op = self.begin_delete(linker_id, cleanup)
        return self.run(op.id, listener) if op else None

    def begin_validate(self, linker_id: str) -> Operation:
        response = self._request("POST", self._linker_url(linker_id, "validateLinker"))
        return self._begin(response, linker_id, "validate")

    def validate(self, linker_id: str, listener: Listener | None = None) -> Operation:
        return self.run(self.begin_validate(linker_id).id, listener)

    # ------------------------------------------------------------------------------------------ operations

    def _status_url(self, operation_id: str) -> str:
        known = self._status_urls.get(operation_id)
        if known:
            return known
        subscription = os.environ.get("SL_SUBSCRIPTION", "00000000-0000-0000-0000-000000000000")
        return (f"/subscriptions/{subscription}/providers/{LINKER_PROVIDER}/locations/local/operationStatuses/"
                f"{operation_id}?api-version={self.settings.api_version}")  # fmt: skip

    def operation(self, operation_id: str) -> Operation | None:
        try:
            body = self._request("GET", self._status_url(operation_id), absolute=True).json()
        except ArmError as exc:
            if exc.status == 404:
                return None
            raise
        return self._to_operation(body)

    def _to_operation(self, body: Mapping[str, Any]) -> Operation:
        props = body.get("properties")
        result: dict[str, Any] | None = None
        if isinstance(props, dict):
            result = (
                {"properties": props, "resourceId": body.get("resourceId"), "status": body.get("status")}
                if "validationDetail" in props
                else props
            )
        op_id = str(body.get("name", ""))
        return Operation(
            id=op_id,
            resource_id=str(body.get("resourceId", "")),
            kind=self._kinds.get(op_id, "unknown"),
            status=str(body.get("status", "")),
            start_time=_parse_time(body.get("startTime")) or dt.datetime.now(dt.UTC),
            end_time=_parse_time(body.get("endTime")),
            steps=[Step.model_validate(s) for s in body.get("steps") or []],
            error=body.get("error"),
            result=result,
        )

    def run(self, operation_id: str, listener: Listener | None = None) -> Operation:
        """Follow the operation the server runs until it ends, replaying its steps to `listener`."""
        shown: dict[str, str] = {}
        while True:
            op = self.operation(operation_id)
            if op is None:
                raise ArmError("ResourceNotFound", f"Operation {operation_id} was not found.", target=operation_id,
                               status=404)  # fmt: skip
            if listener is not None:
                for step in op.steps:
                    before = shown.get(step.name)
                    if before is None:
                        listener(step.model_copy(update={"status": "Running"}))
                    if step.status != "Running" and before != step.status:
                        listener(step)
                    shown[step.name] = step.status
            if op.status in TERMINAL:
                return op
            time.sleep(self.settings.poll_interval)


def _error_of(response: httpx.Response) -> ArmError:
    try:
        detail = ErrorDetail.model_validate(response.json().get("error") or {})
    except (ValueError, AttributeError):
        detail = ErrorDetail(code=str(response.status_code), message=response.text[:500])
    if not detail.code:
        detail.code = str(response.status_code)
    return ArmError.from_detail(detail, status=response.status_code)
