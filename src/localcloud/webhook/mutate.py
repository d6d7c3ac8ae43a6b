"""What the Azure Workload Identity mutating webhook does to a Pod, as a pure function: AdmissionReview request
(a dict) + the annotations of the Pod's ServiceAccount -> a JSONPatch (RFC 6902) list.

It follows the azure-workload-identity project's webhook (pkg/webhook, v1 releases) so that a workload sees the
same environment here as on AKS:

* Only Pods labelled `azure.workload.identity/use: "true"` are touched (the webhook configuration's
  objectSelector already filters on it; the check here keeps the function safe to call on any Pod).
* Every container and init container (except those named in the pod annotation
  `azure.workload.identity/skip-containers`, a `;`-separated list) gets, unless it already has a variable of
  that name: AZURE_CLIENT_ID (ServiceAccount annotation `azure.workload.identity/client-id`), AZURE_TENANT_ID
  (ServiceAccount annotation `azure.workload.identity/tenant-id`, else the webhook's tenant),
  AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST (the webhook's). A variable whose value would be empty is
  not added, exactly as upstream: a ServiceAccount without a client id still gets the other three and the
  token, and the application is then expected to set AZURE_CLIENT_ID itself.
* Those containers also get a read-only mount of the volume `azure-identity-token` at
  /var/run/secrets/azure/tokens, and the Pod gets that projected volume: a ServiceAccount token for the audience
  `api://AzureADTokenExchange` at path `azure-identity-token`, valid for 3600 s unless the pod (first) or
  ServiceAccount annotation `azure.workload.identity/service-account-token-expiration` says otherwise
  (3600..86400, anything else rejects the Pod, as upstream does).

Not supported: `azure.workload.identity/inject-proxy-sidecar` (the proxy exists for applications on the retired
AAD Pod Identity flow and needs images this project does not ship); `proxy_sidecar_warnings` names it so the
server can warn the user instead of silently pretending. `envFrom` is not inspected (upstream does not either;
an `env` entry wins over `envFrom` in Kubernetes).

Idempotent: a variable, mount or volume already present is left alone, so running it on its own output (a
reinvocation, or a Pod created from a mutated Pod's spec) yields an empty patch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from servicelinker.kube.contract import (
    WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION,
    WORKLOAD_IDENTITY_TENANT_ID_ANNOTATION,
)

USE_LABEL = "azure.workload.identity/use"
CLIENT_ID_ANNOTATION = WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION
TENANT_ID_ANNOTATION = WORKLOAD_IDENTITY_TENANT_ID_ANNOTATION
TOKEN_EXPIRATION_ANNOTATION = "azure.workload.identity/service-account-token-expiration"
SKIP_CONTAINERS_ANNOTATION = "azure.workload.identity/skip-containers"
INJECT_PROXY_SIDECAR_ANNOTATION = "azure.workload.identity/inject-proxy-sidecar"

ENV_CLIENT_ID = "AZURE_CLIENT_ID"
ENV_TENANT_ID = "AZURE_TENANT_ID"
ENV_FEDERATED_TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"
ENV_AUTHORITY_HOST = "AZURE_AUTHORITY_HOST"

TOKEN_VOLUME_NAME = "azure-identity-token"
TOKEN_PATH = "azure-identity-token"
TOKEN_MOUNT_PATH = "/var/run/secrets/azure/tokens"
TOKEN_FILE = f"{TOKEN_MOUNT_PATH}/{TOKEN_PATH}"
AUDIENCE = "api://AzureADTokenExchange"
DEFAULT_TOKEN_EXPIRATION = 3600
MIN_TOKEN_EXPIRATION = 3600
MAX_TOKEN_EXPIRATION = 86400

#: Azure public cloud's authority host, what the upstream webhook injects when no cloud is configured.
PUBLIC_AUTHORITY_HOST = "https://login.microsoftonline.com/"

_CONTAINER_LISTS = ("initContainers", "containers")  # upstream mutates init containers first, then containers
_INTEGER = re.compile(r"^[+-]?[0-9]+$")

Patch = list[dict[str, Any]]


@dataclass(frozen=True)
class WebhookSettings:
    """What the webhook itself is configured with (upstream: the cloud's authority host, AZURE_TENANT_ID)."""

    authority_host: str = PUBLIC_AUTHORITY_HOST
    tenant_id: str = ""
    audience: str = AUDIENCE


class InvalidPod(ValueError):
    """The Pod (or its ServiceAccount) asks for something invalid; the webhook denies it, as upstream does, so
    the user learns at `kubectl apply` rather than from a workload that cannot get a token."""


def pod_of(request: Mapping[str, Any]) -> Mapping[str, Any]:
    """The Pod in an AdmissionReview `request` (its `object`)."""
    obj = request.get("object")
    return obj if isinstance(obj, Mapping) else {}


def _meta(pod: Mapping[str, Any], field: str) -> Mapping[str, str]:
    value = (pod.get("metadata") or {}).get(field)
    return value if isinstance(value, Mapping) else {}


def wants_workload_identity(pod: Mapping[str, Any]) -> bool:
    """True for Pods labelled `azure.workload.identity/use: "true"`, the only ones the webhook mutates."""
    return _meta(pod, "labels").get(USE_LABEL) == "true"


def service_account_name(pod: Mapping[str, Any]) -> str:
    """The Pod's ServiceAccount; Kubernetes assigns `default` when none is named."""
    spec = pod.get("spec") or {}
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def pod_namespace(request: Mapping[str, Any]) -> str:
    """Pods made by controllers carry no namespace in their metadata; the request always names it."""
    return str(request.get("namespace") or (pod_of(request).get("metadata") or {}).get("namespace") or "default")


def skip_containers(pod: Mapping[str, Any]) -> frozenset[str]:
    """Names from `azure.workload.identity/skip-containers` (`a;b`, surrounding blanks ignored)."""
    raw = _meta(pod, "annotations").get(SKIP_CONTAINERS_ANNOTATION) or ""
    return frozenset(n.strip() for n in raw.split(";") if n.strip())


def token_expiration(pod: Mapping[str, Any], sa_annotations: Mapping[str, str]) -> int:
    """expirationSeconds of the projected token: the pod annotation, else the ServiceAccount's, else 3600."""
    raw = _meta(pod, "annotations").get(TOKEN_EXPIRATION_ANNOTATION) or sa_annotations.get(TOKEN_EXPIRATION_ANNOTATION)
    if not raw:
        return DEFAULT_TOKEN_EXPIRATION
    if not _INTEGER.match(raw.strip()):
        raise InvalidPod(f"{TOKEN_EXPIRATION_ANNOTATION}: {raw!r} is not an integer number of seconds")
    value = int(raw.strip())
    if not MIN_TOKEN_EXPIRATION <= value <= MAX_TOKEN_EXPIRATION:
        raise InvalidPod(
            f"token expiration {value} not valid. Expected value to be between "
            f"{MIN_TOKEN_EXPIRATION} and {MAX_TOKEN_EXPIRATION}"
        )
    return value


def desired_env(sa_annotations: Mapping[str, str], settings: WebhookSettings) -> list[dict[str, str]]:
    """The four variables in upstream's order; those with an empty value are left out, as upstream does."""
    tenant = sa_annotations.get(TENANT_ID_ANNOTATION, settings.tenant_id)  # present but empty: no variable
    values = [
        (ENV_CLIENT_ID, sa_annotations.get(CLIENT_ID_ANNOTATION, "")),
        (ENV_TENANT_ID, tenant),
        (ENV_FEDERATED_TOKEN_FILE, TOKEN_FILE),
        (ENV_AUTHORITY_HOST, settings.authority_host),
    ]
    return [{"name": n, "value": v} for n, v in values if v]


def _append(path: str, current: Any, items: Iterable[dict[str, Any]]) -> Patch:
    """Ops appending `items` to the list at `path`; JSONPatch cannot append to a list that does not exist."""
    items = list(items)
    if not items:
        return []
    if not isinstance(current, list):
        return [{"op": "add", "path": path, "value": items}]
    return [{"op": "add", "path": f"{path}/-", "value": item} for item in items]


def container_patch(path: str, container: Mapping[str, Any], env: list[dict[str, str]]) -> Patch:
    """Missing env vars and the token mount for one container (at JSON pointer `path`)."""
    present = {e.get("name") for e in container.get("env") or [] if isinstance(e, Mapping)}
    mounts = [m for m in container.get("volumeMounts") or [] if isinstance(m, Mapping)]
    has_mount = any(m.get("name") == TOKEN_VOLUME_NAME or m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts)
    # A second mount at the same path would make the Pod invalid; the first one wins, the Pod is still created.
    mount = [] if has_mount else [{"name": TOKEN_VOLUME_NAME, "mountPath": TOKEN_MOUNT_PATH, "readOnly": True}]
    return _append(f"{path}/env", container.get("env"), (e for e in env if e["name"] not in present)) + _append(
        f"{path}/volumeMounts", container.get("volumeMounts"), mount
    )


def token_volume(expiration: int, audience: str) -> dict[str, Any]:
    """The projected ServiceAccount token volume, field for field what upstream adds."""
    token = {"path": TOKEN_PATH, "expirationSeconds": expiration, "audience": audience}
    return {"name": TOKEN_VOLUME_NAME, "projected": {"sources": [{"serviceAccountToken": token}]}}


def _has_token_volume(volumes: list[Any]) -> bool:
    """Upstream looks for any projected token at path `azure-identity-token`; a volume of our name also counts
    (adding a second one would make the Pod invalid)."""
    for vol in volumes:
        if not isinstance(vol, Mapping):
            continue
        if vol.get("name") == TOKEN_VOLUME_NAME:
            return True
        for source in (vol.get("projected") or {}).get("sources") or []:
            if ((source or {}).get("serviceAccountToken") or {}).get("path") == TOKEN_PATH:
                return True
    return False


def volume_patch(spec: Mapping[str, Any], expiration: int, audience: str) -> Patch:
    volumes = spec.get("volumes")
    if isinstance(volumes, list) and _has_token_volume(volumes):
        return []
    return _append("/spec/volumes", volumes, [token_volume(expiration, audience)])


def mutate(request: Mapping[str, Any], sa_annotations: Mapping[str, str], settings: WebhookSettings) -> Patch:
    """The JSONPatch for the Pod in `request` (empty: nothing to do). Raises InvalidPod for a bad expiration."""
    pod = pod_of(request)
    if request.get("operation", "CREATE") != "CREATE" or not wants_workload_identity(pod):
        return []
    expiration = token_expiration(pod, sa_annotations)
    env = desired_env(sa_annotations, settings)
    skip = skip_containers(pod)
    spec = pod.get("spec") or {}
    patch: Patch = []
    for field in _CONTAINER_LISTS:
        for i, container in enumerate(spec.get(field) or []):
            if isinstance(container, Mapping) and container.get("name") not in skip:
                patch += container_patch(f"/spec/{field}/{i}", container, env)
    # Upstream adds the volume even when every container is skipped; so do we.
    return patch + volume_patch(spec, expiration, settings.audience)


def proxy_sidecar_warnings(pod: Mapping[str, Any]) -> list[str]:
    """Warnings for what the Pod asks of upstream's webhook that this one does not do."""
    if wants_workload_identity(pod) and INJECT_PROXY_SIDECAR_ANNOTATION in _meta(pod, "annotations"):
        return [f"{INJECT_PROXY_SIDECAR_ANNOTATION} is not supported by servicelinker's webhook; no proxy injected"]
    return []
