"""The Workload Identity mutating webhook as an HTTPS server: `POST /mutate` answers `admission.k8s.io/v1`
AdmissionReviews with the patch from `localcloud.webhook.mutate`, looking the Pod's ServiceAccount up with
lightkube.

It is registered with `failurePolicy: Ignore`, and it behaves accordingly on its own failures: if the
ServiceAccount cannot be read or anything else goes wrong, the Pod is admitted unmodified, the error is logged and
the user gets an admission warning. Only an invalid request from the user (a token expiration outside
3600..86400) is denied, as the upstream webhook denies it. A malformed AdmissionReview gets HTTP 400, which the
API server treats as a failed call, i.e. ignores.

Run: `python -m localcloud.webhook.server --host 127.0.0.1 --port P --cert C --key K --kubeconfig KC
--authority-host URL --tenant-id T`.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import httpx2
import uvicorn
from fastapi import Body, FastAPI, HTTPException
from lightkube import ApiError, Client, KubeConfig
from lightkube.resources.core_v1 import ServiceAccount

from localcloud.webhook.mutate import (
    PUBLIC_AUTHORITY_HOST,
    InvalidPod,
    WebhookSettings,
    mutate,
    pod_namespace,
    pod_of,
    proxy_sidecar_warnings,
    service_account_name,
    wants_workload_identity,
)

log = logging.getLogger("localcloud.webhook")

API_VERSION = "admission.k8s.io/v1"
#: Under the 5 s timeoutSeconds of the webhook configuration, so a slow API server costs a warning, not the call.
LOOKUP_TIMEOUT = 3.0
FAILURE_WARNING = "servicelinker workload identity webhook failed; the pod was not mutated (see the webhook log)"

#: (namespace, name) -> the ServiceAccount's annotations, or None when it does not exist.
ServiceAccountLookup = Callable[[str, str], Mapping[str, str] | None]


class BadReview(ValueError):
    """The body is not an AdmissionReview with a request uid; there is nothing to answer."""


def _review(response: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


def _pod_label(request: Mapping[str, Any]) -> str:
    meta = pod_of(request).get("metadata") or {}
    return f"{pod_namespace(request)}/{meta.get('name') or str(meta.get('generateName') or '') + '(generated)'}"


def _admit(
    uid: str, request: Mapping[str, Any], settings: WebhookSettings, lookup: ServiceAccountLookup
) -> dict[str, Any]:
    """The response for a Pod that wants workload identity; raises on lookup or mutation errors."""
    pod = pod_of(request)
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    namespace, account = pod_namespace(request), service_account_name(pod)
    annotations = lookup(namespace, account)
    if annotations is None:
        log.warning("pod %s: ServiceAccount %s/%s not found; not mutated", _pod_label(request), namespace, account)
        response["warnings"] = [f"ServiceAccount {namespace}/{account} not found; workload identity not injected"]
        return response
    patch = mutate(request, annotations, settings)
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    warnings = proxy_sidecar_warnings(pod)
    if warnings:
        response["warnings"] = warnings
    log.info("pod %s (ServiceAccount %s): %d patch operation(s)", _pod_label(request), account, len(patch))
    return response


def review_response(
    review: Mapping[str, Any], settings: WebhookSettings, lookup: ServiceAccountLookup
) -> dict[str, Any]:
    """The AdmissionReview to send back for `review`. Never raises except BadReview."""
    request = review.get("request")
    if not isinstance(request, Mapping) or not request.get("uid"):
        raise BadReview("not an AdmissionReview with a request uid")
    uid = str(request["uid"])
    if not wants_workload_identity(pod_of(request)) or request.get("operation", "CREATE") != "CREATE":
        return _review({"uid": uid, "allowed": True})
    try:
        return _review(_admit(uid, request, settings, lookup))
    except InvalidPod as exc:
        log.info("pod %s denied: %s", _pod_label(request), exc)
        return _review({"uid": uid, "allowed": False, "status": {"code": 400, "message": str(exc)}})
    except Exception:  # failurePolicy Ignore: our failure must not stop the Pod
        log.exception("pod %s: admission failed; admitting it unmodified", _pod_label(request))
        return _review({"uid": uid, "allowed": True, "warnings": [FAILURE_WARNING]})


def create_app(settings: WebhookSettings, lookup: ServiceAccountLookup) -> FastAPI:
    """The ASGI app; `lookup` is injected so the app can be exercised without a cluster."""
    app = FastAPI(title="servicelinker workload identity webhook", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/mutate")
    def mutate_pod(review: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        # A plain `def`: the lightkube lookup blocks, so FastAPI runs it in its thread pool.
        try:
            return review_response(review, settings, lookup)
        except BadReview as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def kube_lookup(kubeconfig: str, timeout: float = LOOKUP_TIMEOUT) -> ServiceAccountLookup:
    """A ServiceAccount lookup through lightkube, reading the API server directly (no cache: the ServiceAccount
    is usually created moments before its first Pod)."""
    client = Client(KubeConfig.from_file(kubeconfig), timeout=httpx2.Timeout(timeout))

    def lookup(namespace: str, name: str) -> Mapping[str, str] | None:
        try:
            sa = client.get(ServiceAccount, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise
        return dict(sa.metadata.annotations or {}) if sa.metadata else {}

    return lookup


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m localcloud.webhook.server", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True, help="PEM serving certificate")
    p.add_argument("--key", required=True, help="PEM private key of the serving certificate")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig allowed to get ServiceAccounts")
    p.add_argument("--authority-host", default=PUBLIC_AUTHORITY_HOST, help="value of AZURE_AUTHORITY_HOST")
    p.add_argument("--tenant-id", default="", help="AZURE_TENANT_ID when the ServiceAccount names none")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = WebhookSettings(authority_host=args.authority_host, tenant_id=args.tenant_id)
    app = create_app(settings, kube_lookup(args.kubeconfig))
    log.info("authority host %s, tenant %s", settings.authority_host, settings.tenant_id or "(none)")
    uvicorn.run(app, host=args.host, port=args.port, ssl_certfile=args.cert, ssl_keyfile=args.key, log_level="info")


if __name__ == "__main__":
    main()
