"""The dev stack's Azure Workload Identity webhook: `localcloud.webhook.server` over HTTPS on 127.0.0.1,
registered with the API server as a MutatingWebhookConfiguration, so Pods labelled
`azure.workload.identity/use: "true"` are stored with what AKS's webhook would inject.

The serving certificate comes from a small CA of its own in `<state>/webhook/pki` (its certificate is the
configuration's caBundle), so the webhook does not write into the kube service's PKI. AZURE_AUTHORITY_HOST and the
default AZURE_TENANT_ID are the local token service's (its stack.json entry: `authorityHost`, `tenantId`), or
Azure public cloud's authority and the local tenant when no token service runs.

The configuration uses `failurePolicy: Ignore`: when the webhook is down (after `devstack down`, the
configuration stays in etcd pointing at a closed port), Pods are still created, just not mutated.
"""

from __future__ import annotations

import base64
import ssl
import sys
import uuid
from pathlib import Path
from typing import Any, cast

import httpx
from lightkube import Client, KubeConfig
from lightkube.resources.admissionregistration_v1 import MutatingWebhookConfiguration
from lightkube.resources.core_v1 import Pod

from localcloud.devstack import process, stack
from localcloud.devstack.base import Health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.devstack.pki import CertificateAuthority
from localcloud.inventory import LOCAL_TENANT
from localcloud.webhook.mutate import ENV_FEDERATED_TOKEN_FILE, PUBLIC_AUTHORITY_HOST, USE_LABEL

NAME = "webhook"
PROCESS_NAME = "sl-webhook"
CONFIGURATION_NAME = "servicelinker-workload-identity"
#: A webhook's name must be a fully qualified name with at least three segments.
WEBHOOK_NAME = "mutation.workload-identity.servicelinker.io"
FIELD_MANAGER = "servicelinker-devstack"
START_TIMEOUT = 30.0
#: The API server picks a new configuration up through an informer; this bounds the wait for it to call us.
EFFECTIVE_TIMEOUT = 30.0


def identity_settings(cfg: StackConfig) -> tuple[str, str]:
    """(authority host, tenant id) from the token service's description, with the documented fallbacks."""
    token_service = stack.load_description(cfg).get("services", {}).get("tokenservice") or {}
    return (
        str(token_service.get("authorityHost") or PUBLIC_AUTHORITY_HOST),
        str(token_service.get("tenantId") or LOCAL_TENANT),
    )


def configuration(url: str, ca_bundle: bytes) -> dict[str, Any]:
    """The MutatingWebhookConfiguration: Pod CREATEs of labelled Pods, never blocking on the webhook's failure."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": CONFIGURATION_NAME, "labels": {"app.kubernetes.io/managed-by": "servicelinker"}},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_bundle).decode()},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                        "scope": "*",
                    }
                ],
                "objectSelector": {"matchLabels": {USE_LABEL: "true"}},
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "failurePolicy": "Ignore",
                "matchPolicy": "Equivalent",
                # As upstream: a webhook running after ours may add containers; the patch is idempotent.
                "reinvocationPolicy": "IfNeeded",
                "timeoutSeconds": 5,
            }
        ],
    }


def _probe_pod() -> Pod:
    """A dry-run Pod the webhook must mutate: proof that the API server calls it."""
    pod = Pod.from_dict(
        {
            "metadata": {"name": f"sl-webhook-probe-{uuid.uuid4().hex[:8]}", "labels": {USE_LABEL: "true"}},
            "spec": {"serviceAccountName": "default", "containers": [{"name": "probe", "image": "probe"}]},
        }
    )
    return cast(Pod, pod)


def _mutated(pod: Pod) -> bool:
    containers = pod.spec.containers if pod.spec else []
    return any(e.name == ENV_FEDERATED_TOKEN_FILE for c in containers for e in (c.env or []))


class WebhookService:
    name = NAME

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        d = cfg.service_dir(NAME)
        ca = CertificateAuthority(d / "pki", common_name="servicelinker-devstack-webhook-ca")
        cert, key = ca.issue("serving", HOST, ip_addresses=[HOST], dns_names=["localhost"], server=True)
        authority_host, tenant_id = identity_settings(cfg)
        port = cfg.ports.webhook
        argv = [
            sys.executable,
            "-m",
            "localcloud.webhook.server",
            f"--host={HOST}",
            f"--port={port}",
            f"--cert={cert}",
            f"--key={key}",
            f"--kubeconfig={cfg.kubeconfig}",
            f"--authority-host={authority_host}",
            f"--tenant-id={tenant_id}",
        ]
        rec = process.spawn(cfg.state_dir, PROCESS_NAME, argv, env={"PYTHONUNBUFFERED": "1"})
        base = f"https://{HOST}:{port}"
        process.wait_until(lambda: _healthy(base, ca.cert_path), START_TIMEOUT, PROCESS_NAME, rec, interval=0.2)
        client = Client(KubeConfig.from_file(str(cfg.kubeconfig)), field_manager=FIELD_MANAGER)
        doc = configuration(f"{base}/mutate", ca.cert_path.read_bytes())
        client.apply(cast(MutatingWebhookConfiguration, MutatingWebhookConfiguration.from_dict(doc)), force=True)
        process.wait_until(
            lambda: _mutated(client.create(_probe_pod(), namespace="default", dry_run=True)),
            EFFECTIVE_TIMEOUT,
            "the API server calling the workload identity webhook",
            rec,
            interval=0.25,
        )
        return {
            "url": f"{base}/mutate",
            "port": port,
            "caCert": str(ca.cert_path),
            "configuration": CONFIGURATION_NAME,
            "authorityHost": authority_host,
            "tenantId": tenant_id,
            "pid": rec.pid,
            "log": rec.log,
        }

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        rec = process.record(cfg.state_dir, PROCESS_NAME)
        if rec is None or not process.is_alive(rec):
            return Health(name=self.name, healthy=False, detail=f"{PROCESS_NAME} is not running")
        base = description["url"].rsplit("/", 1)[0]
        try:
            ok = _healthy(base, Path(description["caCert"]))
        except httpx.HTTPError as exc:
            return Health(name=self.name, healthy=False, detail=f"{base} unreachable: {exc}")
        if not ok:
            return Health(name=self.name, healthy=False, detail=f"{base}/healthz is not ok")
        return Health(name=self.name, healthy=True, detail=f"{description['url']} pid {rec.pid}")


def _healthy(base: str, ca_cert: Path) -> bool:
    ctx = ssl.create_default_context(cafile=str(ca_cert))
    return httpx.get(f"{base}/healthz", verify=ctx, timeout=2).status_code == 200


SERVICE = WebhookService()
