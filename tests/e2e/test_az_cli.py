"""Microsoft's az CLI, unmodified (azure-cli from PyPI, in its own environment: scripts/install-az.sh), drives the
dev stack end to end through its one ARM URL: `az cloud register` discovers the cloud from `/metadata/endpoints`,
`az login --service-principal` signs in at the token service, and every `az aks connection` command reaches
`servicelinker serve` behind the ARM endpoint, as Azure's ARM routes to Service Connector. The workloads read the
Secrets az's connections delivered; az's own resource commands show what each connection changed.

Commands run: cloud register/set, login, account show, aks show, aks connection create (postgres-flexible, redis,
storage-blob --secret, storage-blob --workload-identity, keyvault --enable-csi), list, show, list-configuration,
update (client type, customized keys), validate, wait, delete, list-support-types, postgres flexible-server
firewall-rule list, identity federated-credential list, role assignment list, logout.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Secret, ServiceAccount

from localcloud.devstack import azcli
from localcloud.devstack.config import StackConfig
from tests.e2e.conftest import CLUSTER, RG, Cli, make_pg_database, run_consumer

pytestmark = pytest.mark.e2e

SUB = "00000000-0000-0000-0000-000000000000"
BASE = ["-g", RG, "-n", CLUSTER]


class Az:
    def __init__(self, binary: Path, env: dict[str, str], cwd: Path) -> None:
        self.binary, self.cwd = binary, cwd
        self.env = {**os.environ, **{k: v for k, v in env.items() if k != "PATH_PREPEND"}}
        self.commands: list[str] = []

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.commands.append(" ".join(args[:3]))
        return subprocess.run([str(self.binary), *args], env=self.env, cwd=self.cwd, capture_output=True, text=True,
                              timeout=600, check=False)  # fmt: skip

    def ok(self, *args: str) -> Any:
        done = self(*args, "-o", "json")
        assert done.returncode == 0, f"az {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.fixture(scope="module")
def az(devstack: dict[str, Any], stack_config: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Az:
    binary = azcli.az_binary(stack_config)
    assert binary is not None, "az is not installed: scripts/setup installs it (scripts/install-az.sh)"
    return Az(binary, azcli.configure(stack_config, binary), tmp_path_factory.mktemp("az"))


def _secret(kube: Client, namespace: str, name: str) -> dict[str, str]:
    data = kube.get(Secret, name, namespace=namespace).data or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def test_az_signs_in_and_reads_the_cluster(az: Az) -> None:
    account = az.ok("account", "show")
    assert account["id"] == SUB and account["user"]["type"] == "servicePrincipal"
    cluster = az.ok("aks", "show", *BASE)
    assert cluster["provisioningState"] == "Succeeded"
    assert cluster["networkProfile"]["loadBalancerProfile"]["effectiveOutboundIPs"]
    types = az.ok("aks", "connection", "list-support-types")
    assert {"postgres-flexible", "redis", "storage-blob", "keyvault"} <= {t["target"] for t in types}


def test_az_connection_lifecycle_with_secrets(az: Az, kube: Client, devstack: dict[str, Any], namespace: str) -> None:
    db = make_pg_database(devstack)
    made = az.ok("aks", "connection", "create", "postgres-flexible", *BASE, "--tg", RG, "--server", "sl-postgres",
                 "--database", db.name, "--secret", f"name={db.user}", f"secret={db.password}", "--client-type",
                 "python", "--kube-namespace", namespace, "--connection", "az_pg")  # fmt: skip
    assert made["provisioningState"] == "Succeeded"
    assert "password" not in json.dumps(made).lower() or db.password not in json.dumps(made)
    pg = _secret(kube, namespace, "sc-azpg-secret")
    assert run_consumer("postgres-flexible", pg)["read"]
    rules = az.ok("postgres", "flexible-server", "firewall-rule", "list", "-g", RG, "--server-name", "sl-postgres")
    assert "ServiceConnector_127_0_0_1" in [r["name"] for r in rules]

    az.ok("aks", "connection", "create", "redis", *BASE, "--tg", RG, "--server", "sl-redis", "--database", "0",
          "--secret", "--client-type", "python", "--kube-namespace", namespace, "--connection", "az_redis")
    assert run_consumer("redis", _secret(kube, namespace, "sc-azredis-secret"))["read"]
    az.ok("aks", "connection", "create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1",
          "--secret", "--client-type", "python", "--kube-namespace", namespace, "--connection", "az_blob")
    assert run_consumer("storage-blob", _secret(kube, namespace, "sc-azblob-secret"))["read"]

    names = [c["name"] for c in az.ok("aks", "connection", "list", *BASE)]
    assert {"az_pg", "az_redis", "az_blob"} <= set(names)
    shown = az.ok("aks", "connection", "show", *BASE, "--connection", "az_blob")
    assert shown["authInfo"]["authType"] == "secret" and shown["scope"] == namespace
    configs = az.ok("aks", "connection", "list-configuration", *BASE, "--connection", "az_blob")
    assert [c["name"] for c in configs["configurations"]] == ["AZURE_STORAGEBLOB_CONNECTIONSTRING"]
    assert all(not c.get("value") for c in configs["configurations"])  # values are not listed

    updated = az.ok("aks", "connection", "update", "storage-blob", *BASE, "--connection", "az_blob", "--client-type",
                    "dotnet", "--kube-namespace", namespace,
                    "--customized-keys", "AZURE_STORAGEBLOB_CONNECTIONSTRING=BLOB_CS")  # fmt: skip
    assert updated["clientType"] == "dotnet"
    assert "BLOB_CS" in _secret(kube, namespace, "sc-azblob-secret")
    az.ok("aks", "connection", "wait", *BASE, "--connection", "az_blob", "--created")
    validated = az.ok("aks", "connection", "validate", *BASE, "--connection", "az_pg")
    results = {v["name"]: v["result"] for v in validated}
    assert results["Connection to target validated."] == "success", validated

    for name in ("az_pg", "az_redis", "az_blob"):
        az.ok("aks", "connection", "delete", *BASE, "--connection", name, "--yes")
    assert not {"az_pg", "az_redis", "az_blob"} & {c["name"] for c in az.ok("aks", "connection", "list", *BASE)}


def test_az_workload_identity_and_keyvault(az: Az, cli: Cli, kube: Client, namespace: str) -> None:
    name = f"azid-{uuid.uuid4().hex[:6]}"
    identity_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/" \
        f"userAssignedIdentities/{name}"  # fmt: skip
    ident = cli.ok("local", "identity", "create", "--id", identity_id).json()
    made = az.ok("aks", "connection", "create", "storage-blob", *BASE, "--tg", RG, "--account", "devstoreaccount1",
                 "--workload-identity", identity_id, "--client-type", "python", "--kube-namespace", namespace,
                 "--connection", "az_wi")  # fmt: skip
    assert made["authInfo"]["authType"] == "userAssignedIdentity"
    account = kube.get(ServiceAccount, f"sc-account-{ident['clientId']}", namespace=namespace)
    assert account.metadata is not None and account.metadata.annotations is not None
    assert account.metadata.annotations["azure.workload.identity/client-id"] == ident["clientId"]
    fics = az.ok("identity", "federated-credential", "list", "-g", RG, "--identity-name", name)
    assert [f["subject"] for f in fics] == [f"system:serviceaccount:{namespace}:sc-account-{ident['clientId']}"]
    roles = az.ok("role", "assignment", "list", "--all", "--fill-principal-name", "false")
    mine = [r for r in roles if r["principalId"] == ident["principalId"]]
    assert [r["roleDefinitionName"] for r in mine] == ["Storage Blob Data Contributor"]
    cluster = az.ok("aks", "show", *BASE)
    assert cluster["oidcIssuerProfile"]["enabled"] and cluster["securityProfile"]["workloadIdentity"]["enabled"]

    vault = az.ok("aks", "connection", "create", "keyvault", *BASE, "--tg", RG, "--vault", "slvault", "--enable-csi",
                  "--client-type", "python", "--kube-namespace", namespace, "--connection", "az_kv")  # fmt: skip
    assert vault["provisioningState"] == "Succeeded"
    addon = az.ok("aks", "show", *BASE)["addonProfiles"]["azureKeyvaultSecretsProvider"]
    assert addon["enabled"] is True
    for connection in ("az_wi", "az_kv"):
        az.ok("aks", "connection", "delete", *BASE, "--connection", connection, "--yes")
    assert az("logout").returncode == 0
