"""The dev stack's Kubernetes control plane: etcd, kube-apiserver and kube-controller-manager, all on 127.0.0.1.

Built from source by scripts/build-k8s-bins.sh (no registry ships these binaries). The API server is its own
service-account issuer (`https://127.0.0.1:<port>`), so TokenRequest works and the issuer's OIDC discovery
document and JWKS are served to anonymous callers, as an AKS OIDC issuer serves them publicly. The controller
manager provides namespace deletion, default ServiceAccounts and garbage collection. No kubelet runs: Pods are
never started (servicelinker runs its operator out of cluster on this stack).
"""

from __future__ import annotations

import base64
import os
import secrets
import ssl
import subprocess
from pathlib import Path
from typing import Any

import httpx
import yaml

from localcloud.devstack import process
from localcloud.devstack.base import Health
from localcloud.devstack.config import HOST, StackConfig
from localcloud.devstack.pki import CertificateAuthority, ensure_rsa_keypair

ADMIN_USER = "servicelinker-admin"
CLUSTER_NAME = "servicelinker-dev"
SERVICE_CIDR = "10.96.0.0/16"
#: Lets anonymous callers read the issuer's discovery document and JWKS (AKS serves them publicly).
DISCOVERY_BINDING: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "servicelinker:service-account-issuer-discovery"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:service-account-issuer-discovery",
    },
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}],
}


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> None:
    """A kubeconfig with the credentials embedded, so it can be copied anywhere; mode 0600 (it holds a key)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": {"server": server, "certificate-authority-data": _b64(ca)}}],
        "users": [{"name": user, "user": {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}}],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": CLUSTER_NAME,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def write_encryption_config(d: Path) -> Path:
    """Secrets are encrypted at rest in etcd (AKS encrypts etcd too): an EncryptionConfiguration with one secretbox
    key (XSalsa20-Poly1305), made once and kept (mode 0600) so a restarted stack reads its old Secrets."""
    path = d / "pki" / "encryption-config.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        config = {
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [{"resources": ["secrets"],
                           "providers": [{"secretbox": {"keys": [{"name": "key1", "secret": key}]}},
                                         {"identity": {}}]}],
        }  # fmt: skip
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(yaml.safe_dump(config))
    return path


def binary(cfg: StackConfig, name: str) -> str:
    path = cfg.bin_dir / name
    if not path.exists():
        raise process.StartError(
            f"{name} is not built: {path} is missing. Run `scripts/setup` (it builds the Kubernetes binaries "
            "into the cache once, then reuses them)."
        )
    return str(path)


def _version(cfg: StackConfig) -> str:
    vf = cfg.bin_dir / "kube-apiserver.version"
    return vf.read_text().strip() if vf.exists() else "unknown"


class KubeService:
    name = "kube"

    def _client(self, desc: dict[str, Any], timeout: float = 5.0) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=desc["caCert"])
        ctx.load_cert_chain(desc["adminCert"], desc["adminKey"])
        return httpx.Client(base_url=desc["server"], verify=ctx, timeout=timeout)

    def start(self, cfg: StackConfig) -> dict[str, Any]:
        d = cfg.service_dir("kube")
        pki = CertificateAuthority(d / "pki")
        server = f"https://{HOST}:{cfg.ports.apiserver}"
        apiserver_crt, apiserver_key = pki.issue(
            "apiserver",
            "kube-apiserver",
            dns_names=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
            ip_addresses=[HOST, "10.96.0.1"],
            server=True,
        )
        admin_crt, admin_key = pki.issue("admin", ADMIN_USER, organizations=["system:masters"], client=True)
        kcm_crt, kcm_key = pki.issue("controller-manager", "system:kube-controller-manager", client=True)
        sa_key, sa_pub = d / "pki" / "sa.key", d / "pki" / "sa.pub"
        ensure_rsa_keypair(sa_key, sa_pub)
        write_kubeconfig(cfg.kubeconfig, server, pki.cert_path, admin_crt, admin_key, ADMIN_USER)
        kcm_kubeconfig = d / "controller-manager.kubeconfig"
        write_kubeconfig(kcm_kubeconfig, server, pki.cert_path, kcm_crt, kcm_key, "system:kube-controller-manager")

        desc: dict[str, Any] = {
            "server": server,
            "kubeconfig": str(cfg.kubeconfig),
            "caCert": str(pki.cert_path),
            "adminCert": str(admin_crt),
            "adminKey": str(admin_key),
            "issuer": server,
            "jwksUri": f"{server}/openid/v1/jwks",
            "serviceAccountSigningKey": str(sa_key),
            "etcd": f"http://{HOST}:{cfg.ports.etcd_client}",
            "version": _version(cfg),
            "env": {"KUBECONFIG": str(cfg.kubeconfig)},
        }
        self._start_etcd(cfg, d)
        self._start_apiserver(cfg, d, desc, apiserver_crt, apiserver_key, sa_key, sa_pub)
        self._bootstrap(desc)
        self._start_controller_manager(cfg, d, desc, kcm_kubeconfig, sa_key)
        return desc

    def _start_etcd(self, cfg: StackConfig, d: Path) -> None:
        client = f"http://{HOST}:{cfg.ports.etcd_client}"
        peer = f"http://{HOST}:{cfg.ports.etcd_peer}"
        argv = [
            binary(cfg, "etcd"),
            "--name=servicelinker",
            f"--data-dir={d / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=servicelinker={peer}",
            "--log-level=warn",
            "--quota-backend-bytes=2147483648",
        ]
        rec = process.spawn(cfg.state_dir, "etcd", argv)

        def healthy() -> bool:
            return bool(httpx.get(f"{client}/health", timeout=2).json().get("health") == "true")

        process.wait_until(healthy, 30, "etcd", rec)

    def _start_apiserver(
        self,
        cfg: StackConfig,
        d: Path,
        desc: dict[str, Any],
        crt: Path,
        key: Path,
        sa_key: Path,
        sa_pub: Path,
    ) -> None:
        argv = [
            binary(cfg, "kube-apiserver"),
            f"--etcd-servers={desc['etcd']}",
            f"--bind-address={HOST}",
            f"--advertise-address={HOST}",
            f"--secure-port={cfg.ports.apiserver}",
            f"--tls-cert-file={crt}",
            f"--tls-private-key-file={key}",
            f"--client-ca-file={desc['caCert']}",
            f"--cert-dir={d / 'apiserver-certs'}",
            "--authorization-mode=RBAC",
            "--anonymous-auth=true",
            f"--service-account-issuer={desc['issuer']}",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true",
            "--profiling=false",
            "--endpoint-reconciler-type=none",
            f"--encryption-provider-config={write_encryption_config(d)}",
            "--v=1",
        ]
        rec = process.spawn(cfg.state_dir, "kube-apiserver", argv)

        def ready() -> bool:
            with self._client(desc, timeout=2) as c:
                return c.get("/readyz").status_code == 200

        process.wait_until(ready, 90, "kube-apiserver", rec, interval=0.25)

    def _bootstrap(self, desc: dict[str, Any]) -> None:
        """Objects every cluster of ours needs; applied server-side, so re-running is harmless."""
        with self._client(desc) as c:
            r = c.patch(
                f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{DISCOVERY_BINDING['metadata']['name']}",
                params={"fieldManager": "servicelinker-devstack", "force": "true"},
                headers={"Content-Type": "application/apply-patch+yaml"},
                content=yaml.safe_dump(DISCOVERY_BINDING),
            )
            r.raise_for_status()

    def _start_controller_manager(
        self, cfg: StackConfig, d: Path, desc: dict[str, Any], kubeconfig: Path, sa_key: Path
    ) -> None:
        argv = [
            binary(cfg, "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false",
            f"--bind-address={HOST}",
            f"--secure-port={cfg.ports.controller_manager}",
            f"--cert-dir={d / 'controller-manager-certs'}",
            f"--service-account-private-key-file={sa_key}",
            f"--root-ca-file={desc['caCert']}",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--cluster-signing-cert-file={desc['caCert']}",
            f"--cluster-signing-key-file={Path(desc['caCert']).with_name('ca.key')}",
            "--v=1",
        ]
        rec = process.spawn(cfg.state_dir, "kube-controller-manager", argv)
        url = f"https://{HOST}:{cfg.ports.controller_manager}/healthz"

        def healthy() -> bool:
            return httpx.get(url, verify=False, timeout=2).status_code == 200  # its serving cert is self-signed

        process.wait_until(healthy, 60, "kube-controller-manager", rec, interval=0.25)

    def health(self, cfg: StackConfig, description: dict[str, Any]) -> Health:
        parts = []
        for name in ("etcd", "kube-apiserver", "kube-controller-manager"):
            rec = process.record(cfg.state_dir, name)
            if rec is None or not process.is_alive(rec):
                return Health(name=self.name, healthy=False, detail=f"{name} is not running")
            parts.append(f"{name} pid {rec.pid}")
        try:
            with self._client(description, timeout=3) as c:
                if c.get("/readyz").status_code != 200:
                    return Health(name=self.name, healthy=False, detail="kube-apiserver /readyz is not ok")
        except httpx.HTTPError as exc:
            return Health(name=self.name, healthy=False, detail=f"kube-apiserver unreachable: {exc}")
        return Health(
            name=self.name,
            healthy=True,
            detail=f"{description['server']} {description['version']}; " + ", ".join(parts),
        )


def kubectl(cfg: StackConfig, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the machine's kubectl against the stack (used by tests and for diagnostics)."""
    return subprocess.run(
        ["kubectl", f"--kubeconfig={cfg.kubeconfig}", *args], capture_output=True, text=True, check=False
    )


SERVICE = KubeService()
