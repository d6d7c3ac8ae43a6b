"""`RemoteEngine`: the Engine over a servicelinker REST endpoint (or an ARM endpoint routing to one), so every CLI
command prints the same output in-process or remote.

Built on azure-core, as Azure's own clients are: a `PipelineClient` (retries with Retry-After, the bearer header,
TLS with a private CA), `ItemPaged` for `nextLink` paging, and `LROPoller` + `ARMPolling` to follow a long-running
operation through its `Azure-AsyncOperation` (then `Location`) URL, honouring Retry-After. The polling method also
hands each status body's `steps` to the progress listener.

Configuration (first found wins): endpoint `--endpoint`, `SL_ENDPOINT`, `endpoint` in the CLI config file;
token `SL_TOKEN`, the file `SL_TOKEN_FILE` (or `tokenFile`), else none (a server in `--insecure-dev` mode);
CA bundle `SL_ENDPOINT_CA` (or `ca`). With Azure: `SL_TOKEN=$(az account get-access-token --query accessToken
-o tsv)`.

Errors come back as the server's ARM errors (code, message, target, remedy); an unreachable endpoint is
`ServiceUnavailable` naming it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core import PipelineClient
from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError
from azure.core.paging import ItemPaged
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import HeadersPolicy, RequestIdPolicy, RetryPolicy
from azure.core.polling import LROPoller
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.core.polling.arm_polling import ARMPolling

from servicelinker.engine.interface import ExtensionReport, IdentityRef, ProgressListener
from servicelinker.model.errors import ArmError, ErrorCode, ErrorDetail
from servicelinker.model.ids import LINKER_PROVIDER, ResourceId
from servicelinker.model.linker import DEFAULT_API_VERSION, ConfigurationInfo, LinkerResource
from servicelinker.model.records import TERMINAL_STATUSES, Configuration, LinkerRecord, Operation, Step
from servicelinker.model.results import CreateOrUpdateDryrunParameters
from servicelinker.settings import Settings

IDENTITY_API_VERSION = "2023-01-31"
SUBSCRIPTIONS_API_VERSION = "2022-12-01"


@dataclass(frozen=True)
class RemoteSettings:
    endpoint: str
    token: str | None = None
    ca: str | None = None
    api_version: str = DEFAULT_API_VERSION
    poll_interval: float = 0.5
    timeout: float = 120.0


def remote_settings(settings: Settings) -> RemoteSettings | None:
    """The remote settings, or None when no endpoint is configured (the CLI stays in-process)."""
    config = settings.cli_config()
    url = settings.endpoint or config.get("endpoint")
    if not url:
        return None
    token = settings.token.get_secret_value() if settings.token else None
    token_file = settings.token_file or config.get("tokenFile")
    if not token and token_file:
        from pathlib import Path

        token = Path(str(token_file)).expanduser().read_text().strip()
    ca = settings.endpoint_ca or config.get("ca")
    return RemoteSettings(endpoint=str(url).rstrip("/"), token=token or None, ca=str(ca) if ca else None)


def linker_record(body: Mapping[str, Any]) -> LinkerRecord:
    linker_id = str(body.get("id", ""))
    marker = f"/providers/{LINKER_PROVIDER.lower()}/"
    lowered = linker_id.lower()
    source = linker_id[: lowered.rindex(marker)] if marker in lowered else linker_id
    return LinkerRecord(id=linker_id, source_id=source, name=str(body.get("name", linker_id.rsplit("/", 1)[-1])),
                        body=dict(body), provisioning_state=str((body.get("properties") or {})
                                                                .get("provisioningState", "")))  # fmt: skip


def _parse_time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def operation_of(body: Mapping[str, Any], kind: str) -> Operation:
    """An operationStatuses body as the engine's Operation."""
    props = body.get("properties")
    result: dict[str, Any] | None = None
    if isinstance(props, dict):
        result = ({"properties": props, "resourceId": body.get("resourceId"), "status": body.get("status")}
                  if "validationDetail" in props else props)  # fmt: skip
    return Operation(
        id=str(body.get("name", "")),
        resource_id=str(body.get("resourceId", "")),
        kind=kind,
        status=str(body.get("status", "")),
        start_time=_parse_time(body.get("startTime")) or dt.datetime.now(dt.UTC),
        end_time=_parse_time(body.get("endTime")),
        steps=[Step.model_validate(s) for s in body.get("steps") or []],
        error=body.get("error"),
        result=result,
    )


class _StepReplay:
    """Turns successive status bodies into step transitions for a progress listener."""

    def __init__(self, listener: ProgressListener | None) -> None:
        self.listener = listener
        self.shown: dict[str, str] = {}

    def __call__(self, body: Mapping[str, Any]) -> None:
        if self.listener is None:
            return
        for raw in body.get("steps") or []:
            step = Step.model_validate(raw)
            before = self.shown.get(step.name)
            if before is None:
                self.listener(step.model_copy(update={"status": "Running"}))
            if step.status != "Running" and before != step.status:
                self.listener(step)
            self.shown[step.name] = step.status


class _ProgressPolling(ARMPolling):
    """ARM's polling, also showing each status body's steps."""

    def __init__(self, replay: _StepReplay, interval: float) -> None:
        super().__init__(timeout=interval)
        self._replay = replay

    def update_status(self) -> None:
        super().update_status()
        try:
            body = self._pipeline_response.http_response.json()
        except ValueError:
            return
        if isinstance(body, dict) and "steps" in body:
            self._replay(body)


def _error_of(response: HttpResponse) -> ArmError:
    try:
        detail = ErrorDetail.model_validate(response.json().get("error") or {})
    except (ValueError, AttributeError):
        detail = ErrorDetail(code=str(response.status_code), message=response.text()[:500])
    if not detail.code:
        detail.code = ErrorCode.INTERNAL_SERVER_ERROR if response.status_code >= 500 else "BadRequest"
    return ArmError.from_detail(detail, status=response.status_code)


class RemoteEngine:
    """Engine-shaped client of the REST API (see the module docstring)."""

    def __init__(self, settings: RemoteSettings, **transport_options: Any) -> None:
        self.settings = settings
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        options: dict[str, Any] = {"connection_verify": settings.ca} if settings.ca else {}
        options.update(transport_options)
        self._client: PipelineClient[HttpRequest, HttpResponse] = PipelineClient(
            base_url=settings.endpoint,
            policies=[RequestIdPolicy(), HeadersPolicy(headers), RetryPolicy(retry_total=3, retry_backoff_factor=0.5)],
            connection_timeout=10,
            read_timeout=settings.timeout,
            **options,
        )
        self._initial: dict[str, tuple[PipelineResponse[HttpRequest, HttpResponse], str]] = {}
        self._status_urls: dict[str, str] = {}
        self._latest: dict[str, str] = {}

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------------------------------------ HTTP

    def _send(self, method: str, url: str, *, json: Any = None, params: dict[str, str] | None = None,
              absolute: bool = False) -> PipelineResponse[HttpRequest, HttpResponse]:  # fmt: skip
        query = {} if absolute else {"api-version": self.settings.api_version}
        query.update(params or {})
        request = HttpRequest(method, url if absolute else self.settings.endpoint + url, params=query or None,
                              json=json)  # fmt: skip
        try:
            response: PipelineResponse[HttpRequest, HttpResponse] = self._client.send_request(
                request, _return_pipeline_response=True
            )  # type: ignore[assignment]  # azure-core types send_request by its default return
        except (ServiceRequestError, AzureError) as exc:
            raise ArmError(
                "ServiceUnavailable",
                f"The servicelinker endpoint {self.settings.endpoint} could not be reached ({type(exc).__name__}).",
                target="SL_ENDPOINT",
                remedy="Start the server (`servicelinker serve ...`), check --endpoint/SL_ENDPOINT and SL_ENDPOINT_CA, "
                "or unset SL_ENDPOINT to work in-process.",
                status=503,
            ) from None
        if response.http_response.status_code >= 400:
            raise _error_of(response.http_response)
        return response

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        return self._send(method, url, **kwargs).http_response.json()

    def _paged(self, url: str) -> Iterator[dict[str, Any]]:
        return self._paged_absolute(f"{self.settings.endpoint}{url}?api-version={self.settings.api_version}")

    def _paged_absolute(self, url: str) -> Iterator[dict[str, Any]]:
        def get_next(next_link: str | None) -> HttpResponse:
            return self._send("GET", next_link or url, absolute=True).http_response

        def extract(response: HttpResponse) -> tuple[str | None, Iterator[dict[str, Any]]]:
            page = response.json()
            return page.get("nextLink") or None, iter(page.get("value") or [])

        return iter(ItemPaged(get_next, extract))

    def _begin(self, response: PipelineResponse[HttpRequest, HttpResponse], resource_id: str,
               kind: str) -> Operation:  # fmt: skip
        url = response.http_response.headers.get("Azure-AsyncOperation")
        if not url:
            raise ArmError("InvalidResponse", f"The server accepted {kind} but named no Azure-AsyncOperation URL.",
                           remedy="Check that --endpoint points at a servicelinker server.", status=502)  # fmt: skip
        op_id = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        self._initial[op_id] = (response, kind)
        self._status_urls[op_id] = url
        self._latest[resource_id.lower()] = op_id
        return Operation(id=op_id, resource_id=resource_id, kind=kind, status="Accepted",
                         start_time=dt.datetime.now(dt.UTC))  # fmt: skip

    # ----------------------------------------------------------------------------------------------- reads

    def get(self, linker_id: str) -> LinkerRecord:
        return linker_record(self._json("GET", linker_id))

    def find(self, linker_id: str) -> LinkerRecord | None:
        try:
            return self.get(linker_id)
        except ArmError as exc:
            if exc.status == 404:
                return None
            raise

    def list_linkers(self, source_id: str) -> list[LinkerRecord]:
        return [linker_record(b) for b in self._paged(f"{source_id.rstrip('/')}/providers/{LINKER_PROVIDER}/linkers")]

    @staticmethod
    def _configurations(result: Mapping[str, Any]) -> list[Configuration]:
        return [Configuration(name=c.get("name", ""), value=c.get("value") or "", description=c.get("description")
                              or "") for c in result.get("configurations") or []]  # fmt: skip

    def list_configurations(self, linker_id: str) -> list[Configuration]:
        return self._configurations(self._json("POST", f"{linker_id}/listConfigurations"))

    def generate_configurations(self, linker_id: str, info: ConfigurationInfo | None = None) -> list[Configuration]:
        body = info.request_dump() if info is not None else None
        return self._configurations(self._json("POST", f"{linker_id}/generateConfigurations", json=body))

    def operation(self, operation_id: str) -> Operation | None:
        url = self._status_urls.get(operation_id)
        if url is None:
            return None
        kind = self._initial[operation_id][1]
        return operation_of(self._json("GET", url, absolute=True), kind)

    def latest_operation(self, resource_id: str) -> Operation | None:
        op_id = self._latest.get(resource_id.lower())
        return self.operation(op_id) if op_id else None

    # ------------------------------------------------------------------------------------------ long-running

    def begin_create_or_update(self, linker_id: str, resource: LinkerResource) -> Operation:
        return self._begin(self._send("PUT", linker_id, json=resource.request_dump()), linker_id, "create")

    def begin_delete(self, linker_id: str, cleanup: bool = False) -> Operation | None:
        response = self._send("DELETE", linker_id, params={"cleanup": "true"} if cleanup else None)
        if response.http_response.status_code == 204:
            return None
        return self._begin(response, linker_id, "delete")

    def begin_validate(self, linker_id: str) -> Operation:
        return self._begin(self._send("POST", f"{linker_id}/validateLinker"), linker_id, "validate")

    def run(self, operation_id: str, listener: ProgressListener | None = None) -> Operation:
        """Follow the server's run of an operation this client began (ARM polling), replaying its steps."""
        if operation_id not in self._initial:
            raise ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"Operation {operation_id} was not begun by this client.",
                           target=operation_id, remedy="Poll its Azure-AsyncOperation URL instead.")  # fmt: skip
        initial, _ = self._initial[operation_id]
        polling = _ProgressPolling(_StepReplay(listener), self.settings.poll_interval)
        poller: LROPoller[Any] = LROPoller(self._client, initial, lambda response: response, polling)
        with contextlib.suppress(HttpResponseError):  # a failed operation: its status body carries the error
            poller.result()
        op = self.operation(operation_id)
        assert op is not None
        if op.status not in TERMINAL_STATUSES:  # pragma: no cover - the poller returns only at the end
            raise ArmError("OperationTimedOut", f"Operation {operation_id} did not end.", target=operation_id)
        return op

    def hand_off(self, operation_id: str) -> None:
        """Nothing to do: the server runs its operations itself."""

    # ------------------------------------------------------------------------------------------ lookups

    def default_subscription(self) -> str:
        """The first subscription the endpoint lists (ARM's `GET /subscriptions`, as `az account` defaults)."""
        try:
            found = next(iter(self._paged_absolute(f"{self.settings.endpoint}/subscriptions?api-version="
                                                   f"{SUBSCRIPTIONS_API_VERSION}")), None)  # fmt: skip
        except ArmError as exc:
            if exc.status != 404:
                raise
            found = None
        if not found or not found.get("subscriptionId"):
            raise ArmError(
                ErrorCode.MISSING_REQUIRED_ARGUMENT,
                f"The endpoint {self.settings.endpoint} lists no subscription.",
                target="SL_SUBSCRIPTION",
                remedy="Set SL_SUBSCRIPTION, or pass --source-id/--id with the full resource id.",
            )
        return str(found["subscriptionId"])

    def check_access(self, scope: str, action: str) -> None:
        """Nothing to check here: the server authorizes every request with the caller's token."""

    def resolve_identity(self, identity_id: str) -> IdentityRef:
        """`az identity show`: a GET of the identity through the same endpoint (an ARM endpoint serves it)."""
        body = self._json("GET", f"{identity_id}?api-version={IDENTITY_API_VERSION}", absolute=True)
        client_id = (body.get("properties") or {}).get("clientId")
        if not client_id:
            raise ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"The identity {identity_id} has no clientId.",
                           target="--workload-identity")  # fmt: skip
        return IdentityRef(client_id=client_id, subscription_id=ResourceId.parse(identity_id).subscription)

    def service_principal_object_id(self, client_id: str) -> str:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            "The service principal's object id cannot be looked up through a servicelinker endpoint.",
            target="--service-principal",
            remedy=f"Pass object-id=<object id> (`az ad sp show --id {client_id} --query id -o tsv`).",
        )

    def extension_status(self, source_id: str) -> ExtensionReport:
        raise ArmError(
            "NotSupported",
            "The extension's status is read from the cluster, which a servicelinker endpoint does not expose.",
            target="--endpoint",
            remedy="Run `servicelinker aks extension show` without --endpoint, with access to the cluster.",
            status=400,
        )

    # ----------------------------------------------------------------------------------------------- dryruns

    @staticmethod
    def _dryrun_url(scope: str, name: str = "") -> str:
        return f"{scope}/providers/{LINKER_PROVIDER}/dryruns" + (f"/{name}" if name else "")

    def put_dryrun(self, scope: str, name: str, parameters: CreateOrUpdateDryrunParameters, *,
                   has_source: bool) -> tuple[dict[str, Any], bool]:  # fmt: skip
        body = {"properties": {"parameters": parameters.request_dump()}}
        response = self._send("PUT", self._dryrun_url(scope, name), json=body).http_response
        return response.json(), response.status_code == 201

    def get_dryrun(self, scope: str, name: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json("GET", self._dryrun_url(scope, name))
        return body

    def list_dryruns(self, scope: str) -> list[dict[str, Any]]:
        return list(self._paged(self._dryrun_url(scope)))

    def delete_dryrun(self, scope: str, name: str) -> bool:
        return self._send("DELETE", self._dryrun_url(scope, name)).http_response.status_code == 200
