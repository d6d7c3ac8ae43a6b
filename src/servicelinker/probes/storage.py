"""Live tests of Azure Storage configurations (the Blob/Queue/Table SDKs; Files by a SharedKey-signed List)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import httpx
from azure.core.exceptions import AzureError, HttpResponseError

from servicelinker.probes.extract import (
    StorageParams,
    extract_storage,
)
from servicelinker.probes.results import (
    NETWORK_RULES,
    REMEDY_KEY,
    ProbeContext,
    ProbeErrorCode,
    ProbeResult,
    Rule,
    classify,
    fail,
    first_line,
    from_keys,
    missing,
    not_testable,
    ok,
)

# ============================================================================================ Storage

_STORAGE_RULES = (
    Rule(
        r"(?i)^HTTP 40[13]\b.*(AuthenticationFailed|AuthorizationFailure|Signature|authenticate)",
        ProbeErrorCode.AUTHENTICATION_FAILED,
        "the account key of {account} was rejected by {endpoint}",
        REMEDY_KEY,
    ),
    Rule(
        r"(?i)^HTTP 403\b",
        ProbeErrorCode.PERMISSION_DENIED,
        "{endpoint} refused the request: {message}",
        "check the account's network rules and the key's permissions",
    ),
    Rule(
        r"(?i)^HTTP 40[04]\b.*(AccountNotFound|ResourceNotFound|InvalidResourceName|not found)",
        ProbeErrorCode.DATABASE_NOT_FOUND,
        "account {account} is not served at {endpoint}: {message}",
        "check the account name and endpoint in the configuration",
    ),
    *NETWORK_RULES,
)

_SERVICE_LABELS = {"blob": "Blob", "queue": "Queue", "table": "Table", "file": "File"}


def storage_probe(service: str) -> Callable[[ProbeContext], ProbeResult]:
    def run(ctx: ProbeContext) -> ProbeResult:
        p = extract_storage(ctx.configurations, service=service)
        if p is None or (p.connection_string is None and p.account_key is None):
            return missing(ctx, "storage", ["connection string or account key"], p.keys if p else ())
        endpoint = p.default_endpoint(service) or "(no endpoint)"
        fields = {
            "account": p.account_name or "(unnamed)",
            "endpoint": _display_url(endpoint),
            "host": urlsplit(endpoint).hostname or endpoint,
            "timeout": ctx.timeout,
        }
        result = _storage_call(service, p, ctx, fields)
        if result.status == "failure" and p.endpoint(service) is None:
            note = (
                f"the configuration names no {_SERVICE_LABELS[service]} endpoint, so the SDK used {fields['endpoint']}"
            )
            result = result.model_copy(update={"detail": f"{note}: {result.detail}"})
        return result

    return run


def _storage_call(service: str, p: StorageParams, ctx: ProbeContext, fields: Mapping[str, Any]) -> ProbeResult:
    """One listing call; a failure classified from the HTTP status and storage error code."""
    try:
        _list_one(service, p, ctx)
    except HttpResponseError as exc:
        code = getattr(exc, "error_code", None) or exc.reason or ""
        message = f"HTTP {exc.status_code} {code}: {first_line(exc.message or str(exc))}"
        return classify(message, _STORAGE_RULES, fields)
    except AzureError as exc:
        return classify(first_line(str(exc)), _STORAGE_RULES, fields)
    except ValueError as exc:
        return fail(
            ProbeErrorCode.CONFIGURATION_INVALID,
            f"the storage SDK rejects the configuration: {first_line(str(exc))}",
            "update the connection so the value has the documented shape",
        )
    return ok(_storage_detail(service, p, p.default_endpoint(service) or ""))


def _storage_detail(service: str, p: StorageParams, endpoint: str) -> str:
    tls = "TLS" if endpoint.lower().startswith("https") else "no TLS"
    how = "a SAS token" if p.sas_token and not p.account_key else "the account key"
    return (
        f"Connected to the {_SERVICE_LABELS[service]} service of account {p.account_name} at "
        f"{_display_url(endpoint)} ({tls}), authenticated with {how}{from_keys(p.keys)}"
    )


def _display_url(url: str) -> str:
    """An endpoint without query (a SAS token lives there) or user info."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url


def _sdk_options(p: StorageParams, ctx: ProbeContext) -> dict[str, Any]:
    options: dict[str, Any] = {"retry_total": 0, "connection_timeout": ctx.timeout, "read_timeout": ctx.timeout}
    if ctx.ca_file:
        options["connection_verify"] = ctx.ca_file
    return options


def _list_one(service: str, p: StorageParams, ctx: ProbeContext) -> None:
    """One authenticated listing call with the service's SDK client, built as the application would build it."""
    options = _sdk_options(p, ctx)
    if service == "blob":
        from azure.storage.blob import BlobServiceClient

        blob = _build(BlobServiceClient, p, "blob", options)
        with blob:
            next(blob.list_containers(results_per_page=1).by_page(), None)
    elif service == "queue":
        from azure.storage.queue import QueueServiceClient

        queue = _build(QueueServiceClient, p, "queue", options)
        with queue:
            next(queue.list_queues(results_per_page=1).by_page(), None)
    else:
        from azure.core.credentials import AzureNamedKeyCredential
        from azure.data.tables import TableServiceClient

        if p.connection_string:
            table = TableServiceClient.from_connection_string(p.connection_string, **options)
        else:
            credential = AzureNamedKeyCredential(p.account_name or "", p.account_key or "")
            table = TableServiceClient(p.default_endpoint("table") or "", credential=credential, **options)
        with table:
            next(table.list_tables(results_per_page=1).by_page(), None)


def _build(client_type: Any, p: StorageParams, service: str, options: dict[str, Any]) -> Any:
    if p.connection_string:
        return client_type.from_connection_string(p.connection_string, **options)
    credential = {"account_name": p.account_name, "account_key": p.account_key}
    return client_type(p.default_endpoint(service), credential=credential, **options)


# ---------------------------------------------------------------------------------------------- Azure Files

FILE_API_VERSION = "2023-11-03"


def probe_file(ctx: ProbeContext) -> ProbeResult:
    """Azure Files: no SDK here, and Azurite has no File service. A File endpoint the configuration names is
    tested with a SharedKey-signed List Shares when it answers; otherwise notTestable with the reason."""
    p = extract_storage(ctx.configurations, service="file")
    if p is None or p.account_key is None:
        return missing(ctx, "storage", ["connection string or account key"], p.keys if p else ())
    endpoint = p.endpoint("file")
    if endpoint is None:
        return not_testable(
            ProbeErrorCode.SERVICE_UNAVAILABLE,
            f"the configuration names no File endpoint for account {p.account_name}, and Azurite "
            "(the local storage emulator) has no File service to test against",
        )
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not _answers(parts.hostname or "", port, ctx.timeout):
        return not_testable(
            ProbeErrorCode.SERVICE_UNAVAILABLE,
            f"no File service answers at {_display_url(endpoint)} (Azurite, the local storage "
            "emulator, has no File service)",
        )
    fields = {
        "account": p.account_name,
        "endpoint": _display_url(endpoint),
        "host": parts.hostname,
        "timeout": ctx.timeout,
    }
    try:
        status, code = shared_key_list(endpoint, p.account_name or "", p.account_key, ctx.timeout, ctx.ca_file)
    except httpx.HTTPError as exc:
        return classify(first_line(str(exc)) or type(exc).__name__, _STORAGE_RULES, fields)
    if status >= 300:
        return classify(f"HTTP {status} {code}", _STORAGE_RULES, fields)
    return ok(_storage_detail("file", p, endpoint))


def _answers(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def shared_key_list(
    endpoint: str, account: str, key: str, timeout: float, ca_file: str | None = None
) -> tuple[int, str]:
    """`GET <endpoint>/?comp=list&maxresults=1` signed with the account key (Storage SharedKey scheme, the same
    for Blob, Queue and File); returns (HTTP status, x-ms-error-code)."""
    base = endpoint if endpoint.endswith("/") else endpoint + "/"
    query = {"comp": "list", "maxresults": "1"}
    headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": FILE_API_VERSION}
    path = urlsplit(base).path or "/"
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
    canonical_resource = f"/{account}{path}" + "".join(f"\n{k}:{v}" for k, v in sorted(query.items()))
    to_sign = "GET\n" + "\n" * 11 + canonical_headers + canonical_resource
    digest = hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()
    headers["Authorization"] = f"SharedKey {account}:{base64.b64encode(digest).decode()}"
    verify: Any = ca_file if ca_file else True
    with httpx.Client(timeout=timeout, verify=verify) as client:
        response = client.get(base, params=query, headers=headers)
    return response.status_code, response.headers.get("x-ms-error-code", "")
