"""Issue 16, finding 4-6: a corpus of bad input through REST (a real `servicelinker serve`) and the CLI.

Every case must be refused synchronously:
* REST: a 4xx (never 5xx) with ARM's error shape `{"error": {"code", "message"}}`, a real code (a word, not a
  number), the offending field named (in `target`, else in the message), no input secret echoed;
* CLI: a non-zero exit, `ERROR: (Code) ...` on stderr, the flag named;
* and nothing created: the store's rows, the cluster's ServiceConnections and Secrets are as they were.

The corpus counts are printed (`-s`) for the closing note.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Secret

from localcloud.devstack import localcloud
from localcloud.devstack.config import StackConfig
from servicelinker.kube.client import ServiceConnection
from tests.e2e.conftest import CLUSTER, RG, Cli
from tests.support.api_server import ApiServer

pytestmark = pytest.mark.e2e

PORT_BASE = int(os.environ.get("SL_TEST_PORT_BASE", "28000"))
VERSION = "2024-04-01"
IDS = localcloud.resource_ids()
SOURCE = IDS["kube"]
SUB = SOURCE.split("/")[2]
LINKERS = f"{SOURCE}/providers/Microsoft.ServiceLinker/linkers"
DRYRUNS = f"{SOURCE}/providers/Microsoft.ServiceLinker/dryruns"
PG_DB = IDS["postgres"] + "/databases/postgres"
MYSQL_DB = IDS["mariadb"] + "/databases/mysql"
REDIS_DB = IDS["redis"] + "/databases/0"
BLOB = IDS["azurite"] + "/blobServices/default"
VAULT = IDS["keyvault"]
#: A password that must never come back in any response.
CANARY = f"canary-{uuid.uuid4().hex}"
CODE = re.compile(r"^[A-Z][A-Za-z]+$")
WI_CLIENT = "11111111-2222-3333-4444-555555555555"


def _secret_auth(**extra: Any) -> dict[str, Any]:
    return {"authType": "secret", "name": "app", "secretInfo": {"secretType": "rawValue", "value": CANARY}, **extra}


def _pg(**props: Any) -> dict[str, Any]:
    base = {"targetService": {"type": "AzureResource", "id": PG_DB}, "authInfo": _secret_auth(),
            "clientType": "python", "scope": "default"}  # fmt: skip
    return {"properties": {**base, **props}}


def _redis(**props: Any) -> dict[str, Any]:
    base = {"targetService": {"type": "AzureResource", "id": REDIS_DB}, "authInfo": {"authType": "secret"},
            "clientType": "python", "scope": "default"}  # fmt: skip
    return {"properties": {**base, **props}}


def _config(**info: Any) -> dict[str, Any]:
    return _pg(configurationInfo=info)


@dataclass
class Case:
    """One bad request: what is sent, and the field the error must name."""

    name: str
    field: str
    body: Any = None
    method: str = "PUT"
    path: str = f"{LINKERS}/corpus"
    params: dict[str, str] = field(default_factory=lambda: {"api-version": VERSION})
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    status: int | None = None


def _names() -> list[Case]:
    bad = {"hyphen": "my-conn", "space": "a b", "dollar": "x$y", "at": "x@y", "semicolon": "x;y", "quote": "x'y",
           "unicode": "名前", "percent": "x%25y", "too long": "a" * 129, "very long": "a" * 5000,
           "star": "x*y", "plus": "x+y", "comma": "x,y", "tilde": "x~y"}  # fmt: skip
    return [Case(f"linker name: {k}", "linkerName", _pg(), path=f"{LINKERS}/{v}") for k, v in bad.items()]


def _front_door() -> list[Case]:
    return [
        Case("api-version missing", "api-version", _pg(), params={}),
        Case("api-version unknown", "api-version", _pg(), params={"api-version": "1999-01-01"}),
        Case("api-version garbage", "api-version", _pg(), params={"api-version": "'; drop table linkers"}),
        Case("subscription not a GUID", "subscription", _pg(), code="InvalidSubscriptionId",
             path=LINKERS.replace(SUB, "not-a-guid") + "/corpus"),
        Case("resource group with '!'", "resource group", _pg(), path=LINKERS.replace(f"/{RG}/", "/bad!rg/") + "/x"),
        Case("resource group ending with '.'", "resource group", _pg(),
             path=LINKERS.replace(f"/{RG}/", "/rg./") + "/x"),
        Case("resource group of 91 characters", "resource group", _pg(),
             path=LINKERS.replace(f"/{RG}/", f"/{'r' * 91}/") + "/x"),
        Case("cluster name starting with '-'", "cluster", _pg(), path=LINKERS.replace(f"/{CLUSTER}/", "/-bad/") + "/x"),
        Case("cluster name of 64 characters", "cluster", _pg(),
             path=LINKERS.replace(f"/{CLUSTER}/", f"/{'c' * 64}/") + "/x"),
        Case("body not JSON", "body", raw=b"{not json", headers={"Content-Type": "application/json"}),
        Case("body not UTF-8", "body", raw=b'{"properties": "\xff\xfe"}', headers={"Content-Type": "application/json"}),
        Case("body empty", "body", raw=b"", headers={"Content-Type": "application/json"}),
        Case("body deeply nested", "body", raw=b"[" * 100_000 + b"]" * 100_000,
             headers={"Content-Type": "application/json"}),
        Case("body a JSON array", "body", [1, 2, 3]),
        Case("body a JSON string", "body", "properties"),
        Case("body null", "body", raw=b"null", headers={"Content-Type": "application/json"}),
        Case("body without properties", "properties", {"name": "x"}),
        Case("properties not an object", "properties", {"properties": "x"}),
        Case("body over 4 MB", "body", raw=b'{"properties": {"clientType": "' + b"x" * (5 << 20) + b'"}}',
             headers={"Content-Type": "application/json"}, code="RequestEntityTooLarge", status=413),
        Case("content type text/plain", "body", raw=json.dumps(_pg()).encode(), headers={"Content-Type": "text/plain"}),
    ]  # fmt: skip


def _targets() -> list[Case]:
    return [
        Case("targetService missing", "targetService", {"properties": {"authInfo": _secret_auth()}}),
        Case("targetService null", "targetService", _pg(targetService=None)),
        Case("targetService a string", "targetService", _pg(targetService=PG_DB)),
        Case("targetService.type unknown", "targetService", _pg(targetService={"type": "Foo", "id": PG_DB})),
        Case("targetService.id missing", "targetService", _pg(targetService={"type": "AzureResource"})),
        Case("targetService.id a number", "targetService", _pg(targetService={"type": "AzureResource", "id": 7})),
        Case("targetService.id malformed", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": "/subscriptions/x/nonsense"})),
        Case("targetService.id relative", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": "resourceGroups/a/providers/b"})),
        Case("targetService.id of an unsupported type", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": IDS["kube"]})),
        Case("targetService.id: storage account without a service", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": IDS["azurite"]})),
        Case("targetService.id: server without a database", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": IDS["postgres"]})),
        Case("targetService.id: non-GUID subscription", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": PG_DB.replace(SUB, "nope")})),
        Case("targetService.id: server that does not exist", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": PG_DB.replace("sl-postgres", "nope")})),
        Case("targetService.id: database that does not exist", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": PG_DB.replace("/postgres", "/nodb")})),
        Case("targetService.id: 2000 characters", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": PG_DB + "x" * 2000})),
        Case("targetService.id: ../ traversal", "targetService.id",
             _pg(targetService={"type": "AzureResource", "id": PG_DB + "/../../../vaults/slvault"})),
        Case("targetService.resourceProperties unknown type", "targetService",
             _pg(targetService={"type": "AzureResource", "id": VAULT, "resourceProperties": {"type": "Nope"}})),
    ]  # fmt: skip


def _auth() -> list[Case]:
    sa = "servicePrincipalSecret"
    return [
        Case("authInfo missing (postgres needs one)", "authInfo", {"properties": {k: v for k, v in _pg()[
            "properties"].items() if k != "authInfo"}}),
        Case("authInfo null", "authInfo", _pg(authInfo=None)),
        Case("authInfo a list", "authInfo", _pg(authInfo=[_secret_auth()])),
        Case("authType missing", "authInfo", _pg(authInfo={"name": "a"})),
        Case("authType unknown", "authInfo", _pg(authInfo={"authType": "magic"})),
        Case("authType accessKey for postgres", "authInfo", _pg(authInfo={"authType": "accessKey"})),
        Case("authType systemAssignedIdentity on AKS", "authInfo",
             _pg(authInfo={"authType": "systemAssignedIdentity"})),
        Case("authType userAccount on AKS", "authInfo", _pg(authInfo={"authType": "userAccount"})),
        Case("secret: no name", "authInfo", _pg(authInfo={"authType": "secret", "secretInfo": {
            "secretType": "rawValue", "value": CANARY}})),
        Case("secret: secretType unknown", "authInfo", _pg(authInfo=_secret_auth(secretInfo={
            "secretType": "carrierPigeon", "value": CANARY}))),
        Case("secret: Key Vault secret reference on AKS", "authInfo", _pg(authInfo=_secret_auth(secretInfo={
            "secretType": "keyVaultSecretUri", "value": "https://v.vault.azure.net/secrets/x"}))),
        Case("secret: value of 1 MiB", "authInfo", _pg(authInfo=_secret_auth(secretInfo={
            "secretType": "rawValue", "value": "p" * (1 << 20)}))),
        Case("secret: value a number", "authInfo", _pg(authInfo=_secret_auth(secretInfo={
            "secretType": "rawValue", "value": 12345}))),
        Case("secret: name of 2000 characters", "authInfo", _pg(authInfo=_secret_auth(name="u" * 2000))),
        Case("service principal without clientId", "authInfo", _pg(authInfo={"authType": sa, "secret": CANARY})),
        Case("service principal without secret", "authInfo", _pg(authInfo={"authType": sa, "clientId": WI_CLIENT})),
        Case("service principal, clientId not a GUID", "authInfo", _pg(authInfo={
            "authType": sa, "clientId": "nope", "principalId": WI_CLIENT, "secret": CANARY})),
        Case("workload identity without clientId", "authInfo", _pg(authInfo={"authType": "userAssignedIdentity",
                                                                            "subscriptionId": SUB})),
        Case("workload identity, clientId not a GUID", "authInfo", _pg(authInfo={
            "authType": "userAssignedIdentity", "clientId": "not-a-guid", "subscriptionId": SUB})),
        Case("workload identity, subscription not a GUID", "authInfo", _pg(authInfo={
            "authType": "userAssignedIdentity", "clientId": WI_CLIENT, "subscriptionId": "nope"})),
        Case("workload identity, unknown role", "authInfo", _redis(authInfo={
            "authType": "userAssignedIdentity", "clientId": WI_CLIENT, "subscriptionId": SUB, "roles": [7]})),
        Case("authMode unknown", "authInfo", _pg(authInfo=_secret_auth(authMode="sometimes"))),
    ]  # fmt: skip


def _properties() -> list[Case]:
    cases = [
        Case("clientType unknown", "clientType", _pg(clientType="cobol")),
        Case("clientType of 10,000 characters", "clientType", _pg(clientType="c" * 10_000)),
        Case("clientType a number", "clientType", _pg(clientType=3)),
        Case("scope upper case", "scope", _pg(scope="Shop")),
        Case("scope with '_'", "scope", _pg(scope="my_ns")),
        Case("scope of 64 characters", "scope", _pg(scope="n" * 64)),
        Case("scope starting with '-'", "scope", _pg(scope="-ns")),
        Case("scope a number", "scope", _pg(scope=12)),
        Case("scope with a path", "scope", _pg(scope="../kube-system")),
        Case("scope: namespace that does not exist", "scope", _pg(scope="no-such-namespace")),
        Case("publicNetworkSolution.action unknown", "publicNetworkSolution",
             _pg(publicNetworkSolution={"action": "Explode"})),
        Case("publicNetworkSolution.firewallRules.callerClientIP unknown", "publicNetworkSolution",
             _pg(publicNetworkSolution={"firewallRules": {"callerClientIP": "maybe"}})),
        Case("publicNetworkSolution.firewallRules.ipRanges not ranges", "publicNetworkSolution",
             _pg(publicNetworkSolution={"firewallRules": {"ipRanges": ["not-an-ip"]}})),
        Case("vNetSolution.type unknown", "vNetSolution", _pg(vNetSolution={"type": "wormhole"})),
        Case("secretStore.keyVaultId malformed", "secretStore", _pg(secretStore={"keyVaultId": "nope"})),
    ]
    for target, body in (("mysql", _pg(targetService={"type": "AzureResource", "id": MYSQL_DB})),
                         ("redis", _redis()), ("blob", _redis(targetService={"type": "AzureResource", "id": BLOB}))):
        props = body["properties"]
        cases += [
            Case(f"{target}: clientType unknown", "clientType", {"properties": {**props, "clientType": "fortran"}}),
            Case(f"{target}: scope invalid", "scope", {"properties": {**props, "scope": "UPPER"}}),
            Case(f"{target}: customizedKeys key with a space", "customizedKeys", {"properties": {
                **props, "configurationInfo": {"customizedKeys": {"A B": "C"}}}}),
            Case(f"{target}: customizedKeys to an invalid Secret key", "customizedKeys", {"properties": {
                **props, "configurationInfo": {"customizedKeys": {"AZURE_X": "bad key!"}}}}),
        ]  # fmt: skip
    return cases


def _configuration_info() -> list[Case]:
    many = {f"K{i}": "v" for i in range(10_000)}
    big = {f"BIG{i}": "v" * (60 << 10) for i in range(14)}
    return [
        Case("customizedKeys value with shell syntax", "customizedKeys", _config(customizedKeys={
            "AZURE_POSTGRESQL_CONNECTIONSTRING": "A B=$(id)\n"})),
        Case("customizedKeys value with ../", "customizedKeys", _config(customizedKeys={
            "AZURE_POSTGRESQL_CONNECTIONSTRING": "../../x"})),
        Case("customizedKeys value empty", "customizedKeys", _config(customizedKeys={
            "AZURE_POSTGRESQL_CONNECTIONSTRING": ""})),
        Case("customizedKeys value of 300 characters", "customizedKeys", _config(customizedKeys={
            "AZURE_POSTGRESQL_CONNECTIONSTRING": "K" * 300})),
        Case("customizedKeys a list", "customizedKeys", _config(customizedKeys=["a", "b"])),
        Case("customizedKeys value a number", "customizedKeys", _config(customizedKeys={"AZURE_X": 1})),
        Case("customizedKeys: two keys renamed to one", "customizedKeys", _pg(
            targetService={"type": "AzureResource", "id": MYSQL_DB},
            configurationInfo={"customizedKeys": {"AZURE_MYSQL_HOST": "X", "AZURE_MYSQL_USER": "X"}})),
        Case("additionalConfigurations key with a space", "additionalConfigurations",
             _config(additionalConfigurations={"A B": "v"})),
        Case("additionalConfigurations key with '='", "additionalConfigurations",
             _config(additionalConfigurations={"A=B": "v"})),
        Case("additionalConfigurations key with a newline", "additionalConfigurations",
             _config(additionalConfigurations={"A\nB": "v"})),
        Case("additionalConfigurations key ../../x", "additionalConfigurations",
             _config(additionalConfigurations={"../../x": "v"})),
        Case("additionalConfigurations key empty", "additionalConfigurations",
             _config(additionalConfigurations={"": "v"})),
        Case("additionalConfigurations key of 300 characters", "additionalConfigurations",
             _config(additionalConfigurations={"K" * 300: "v"})),
        Case("additionalConfigurations value a number", "additionalConfigurations",
             _config(additionalConfigurations={"K": 5})),
        Case("additionalConfigurations value of 100 KiB", "additionalConfigurations",
             _config(additionalConfigurations={"K": "v" * (100 << 10)})),
        Case("additionalConfigurations: 10,000 of them", "configurationInfo",
             _config(additionalConfigurations=many)),
        Case("additionalConfigurations: 840 KiB in all", "configurationInfo",
             _config(additionalConfigurations=big)),
        Case("configurationInfo.action unknown", "configurationInfo", _config(action="explode")),
        Case("configurationInfo.deleteOrUpdateBehavior unknown", "configurationInfo",
             _config(deleteOrUpdateBehavior="sometimes")),
        Case("configurationInfo a string", "configurationInfo", _pg(configurationInfo="x")),
        Case("additionalConnectionStringProperties value a list", "additionalConnectionStringProperties",
             _config(additionalConnectionStringProperties={"sslmode": ["a"]})),
        Case("daprProperties on AKS", "daprProperties", _config(daprProperties={"componentType": "state.redis"})),
    ]  # fmt: skip


def _other_operations() -> list[Case]:
    absent = f"{LINKERS}/absent_{uuid.uuid4().hex[:6]}"
    return [
        Case("GET an absent linker", "absent", None, method="GET", path=absent, code="ResourceNotFound", status=404),
        Case("PATCH an absent linker", "absent", {"properties": {"clientType": "python"}}, method="PATCH",
             path=absent, status=404),
        Case("validate an absent linker", "absent", None, method="POST", path=absent + "/validateLinker", status=404),
        Case("listConfigurations of an absent linker", "absent", None, method="POST",
             path=absent + "/listConfigurations", status=404),
        Case("list with a forged $skipToken", "$skipToken", None, method="GET", path=LINKERS,
             params={"api-version": VERSION, "$skipToken": "not-a-token"}),
        Case("configurationNames with a malformed $filter", "$filter", None, method="GET",
             path="/providers/Microsoft.ServiceLinker/configurationNames",
             params={"api-version": VERSION, "$filter": "TargetService eq"}),
        Case("dryrun without parameters", "parameters", {"properties": {}}, path=f"{DRYRUNS}/corpus_dry"),
        Case("dryrun with an unknown actionName", "parameters", {"properties": {"parameters": {
            "actionName": "destroy", **_pg()["properties"]}}}, path=f"{DRYRUNS}/corpus_dry"),
        Case("dryrun with a malformed target id", "targetService.id", {"properties": {"parameters": {
            "actionName": "createOrUpdate", **_pg(targetService={"type": "AzureResource", "id": "/x"})[
                "properties"]}}}, path=f"{DRYRUNS}/corpus_dry"),
        Case("dryrun with a bad name", "dryrunName", {"properties": {"parameters": {
            "actionName": "createOrUpdate", **_pg()["properties"]}}}, path=f"{DRYRUNS}/bad-name"),
        Case("generateConfigurations of an absent linker", "absent", {"customizedKeys": {"AZURE_X": "Y"}},
             method="POST", path=f"{absent}/generateConfigurations", status=404),
    ]  # fmt: skip


CORPUS: list[Case] = _names() + _front_door() + _targets() + _auth() + _properties() + _configuration_info() + \
    _other_operations()


# ------------------------------------------------------------------------------------------------- what exists


def _store_rows(db: Path) -> int:
    """Rows in every table of the store but alembic's (0 before the store exists)."""
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                  if r[0] != "alembic_version"]  # fmt: skip
        return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)


def _cluster_objects(kube: Client) -> set[str]:
    objects = {f"Secret {s.metadata.namespace}/{s.metadata.name}" for s in kube.list(Secret, namespace="*")}
    try:
        objects |= {f"ServiceConnection {c.metadata.namespace}/{c.metadata.name}"
                    for c in kube.list(ServiceConnection, namespace="*")}  # fmt: skip
    except httpx2.HTTPStatusError as exc:  # no extension installed yet: its CRD is not there
        if exc.response.status_code != 404:
            raise
    return objects


@pytest.fixture(scope="module")
def corpus_server(devstack: dict[str, Any], stack_config: StackConfig, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[ApiServer, Path]]:  # fmt: skip
    db = tmp_path_factory.mktemp("corpus") / "corpus.db"
    srv = ApiServer(stack_config.state_dir, PORT_BASE + 57, insecure_dev=True, tls=False,
                    extra_env={"SL_STORE_URL": f"sqlite:///{db}"})  # fmt: skip
    yield srv, db
    srv.stop()


def _problems(case: Case, response: httpx.Response) -> list[str]:
    out: list[str] = []
    if not 400 <= response.status_code < 500:
        return [f"status {response.status_code}: {response.text[:300]}"]
    if case.status is not None and response.status_code != case.status:
        out.append(f"status {response.status_code}, wanted {case.status}")
    if CANARY in response.text:
        out.append("the request's password is echoed")
    if len(response.content) > 16_384:
        out.append(f"an error body of {len(response.content)} bytes (input echoed?)")
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return [*out, f"not an ARM error body: {response.text[:300]}"]
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, str) or not CODE.match(code):
        out.append(f"code {code!r} is not an ARM code")
    if case.code is not None and code != case.code:
        out.append(f"code {code}, wanted {case.code}")
    if not message:
        out.append("no message")
    named = f"{error.get('target') or ''} {message or ''}".lower()
    if case.field.lower() not in named:
        out.append(f"neither target nor message names {case.field!r}: {error.get('target')!r} {message!r}"[:400])
    return out


def test_rest_corpus_is_refused_with_arm_errors_and_creates_nothing(
    corpus_server: tuple[ApiServer, Path], kube: Client
) -> None:
    server, db = corpus_server
    assert len(CORPUS) >= 100, len(CORPUS)
    rows, objects = _store_rows(db), _cluster_objects(kube)
    problems: list[str] = []
    with server.client(timeout=120) as http:
        for i, case in enumerate(CORPUS):
            kwargs: dict[str, Any] = {"params": case.params, "headers": case.headers}
            if case.raw is not None:
                kwargs["content"] = case.raw
            elif case.body is not None:
                kwargs["json"] = case.body
            # a name of its own: a case wrongly accepted must not turn the next ones into updates
            path = f"{LINKERS}/corpus{i}" if case.path == f"{LINKERS}/corpus" else case.path
            response = http.request(case.method, path, **kwargs)
            problems += [f"{case.name}: {p}" for p in _problems(case, response)]
            now = _store_rows(db)
            if response.status_code >= 400 and now != rows:
                problems.append(f"{case.name}: the store changed: {rows} -> {now} rows")
            rows = now
    created = _cluster_objects(kube) - objects
    if created:
        problems.append(f"refused requests created cluster objects: {sorted(created)}")
    if "Traceback" in server.log():
        problems.append(f"the server logged a traceback: {server.log()[-2000:]}")
    print(f"\nREST bad-input corpus: {len(CORPUS)} cases, {len(problems)} problems")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------- the CLI

CREATE = ["aks", "connection", "create"]
BASE = ["-g", RG, "-n", CLUSTER]
PG_ARGS = ["--tg", RG, "--server", "sl-postgres", "--database", "postgres"]
PG_SECRET = ["--secret", "name=app", f"secret={CANARY}"]
REDIS_ARGS = ["--tg", RG, "--server", "sl-redis", "--database", "0", "--secret"]
CLI_CORPUS: dict[str, tuple[list[str], str]] = {
    "connection name with '-'": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "my-conn"], "--connection"),
    "connection name of 129 characters": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "a" * 129],
                                          "--connection"),
    "customized key with a space": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "cli_corpus",
                                     "--customized-keys", "AZURE_REDIS_CONNECTIONSTRING=bad key!"],
                                    "--customized-keys"),
    "customized key with ../": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "cli_corpus",
                                 "--customized-keys", "AZURE_REDIS_CONNECTIONSTRING=../../x"], "--customized-keys"),
    "customized keys not pairs": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "cli_corpus",
                                   "--customized-keys", "NOEQUALS"], "--customized-keys"),
    "namespace upper case": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "cli_corpus",
                              "--kube-namespace", "Shop"], "--kube-namespace"),
    "namespace with '_'": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "cli_corpus",
                            "--kube-namespace", "my_ns"], "--kube-namespace"),
    "namespace that does not exist": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "cli_corpus",
                                       "--kube-namespace", "no-such-ns"], "--kube-namespace"),
    "client type unknown": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "cli_corpus",
                             "--client-type", "cobol"], "--client-type"),
    "opt-out unknown": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--connection", "cli_corpus", "--opt-out", "all"],
                        "--opt-out"),
    "secret without keys for postgres": ([*CREATE, "postgres-flexible", *BASE, *PG_ARGS, "--secret",
                                          "--connection", "cli_corpus"], "--secret"),
    "secret with only a name": ([*CREATE, "postgres-flexible", *BASE, *PG_ARGS, "--secret", "name=app",
                                 "--connection", "cli_corpus"], "--secret"),
    "secret with an unknown key": ([*CREATE, "postgres-flexible", *BASE, *PG_ARGS, *PG_SECRET, "colour=red",
                                    "--connection", "cli_corpus"], "--secret"),
    "secret from Key Vault": ([*CREATE, "postgres-flexible", *BASE, *PG_ARGS, "--secret", "name=app",
                               "secret-uri=https://v.vault.azure.net/secrets/x", "--connection", "cli_corpus"],
                              "--secret"),
    "secret token malformed": ([*CREATE, "postgres-flexible", *BASE, *PG_ARGS, "--secret", "name=app",
                                CANARY, "--connection", "cli_corpus"], "--secret"),
    "secret from a missing file": ([*CREATE, "postgres-flexible", *BASE, *PG_ARGS, "--secret", "name=app",
                                    "secret=@/nonexistent/pw", "--connection", "cli_corpus"], "--secret"),
    "keys given to an automatic secret": ([*CREATE, "redis", *BASE, "--tg", RG, "--server", "sl-redis",
                                           "--database", "0", "--secret", "name=a", "--connection", "cli_corpus"],
                                          "--secret"),
    "no auth for postgres": ([*CREATE, "postgres-flexible", *BASE, *PG_ARGS, "--connection", "cli_corpus"],
                             "--secret"),
    "two auth flags": ([*CREATE, "postgres-flexible", *BASE, *PG_ARGS, *PG_SECRET, "--workload-identity",
                        "/subscriptions/x", "--connection", "cli_corpus"], "--workload-identity"),
    "workload identity id malformed": ([*CREATE, "redis", *BASE, "--tg", RG, "--server", "sl-redis", "--database",
                                        "0", "--workload-identity", "not-an-id", "--connection", "cli_corpus"],
                                       "--workload-identity"),
    "service principal without a secret": ([*CREATE, "postgres-flexible", *BASE, *PG_ARGS, "--service-principal",
                                            f"client-id={WI_CLIENT}", "--connection", "cli_corpus"],
                                           "--service-principal"),
    "enable-csi for redis": ([*CREATE, "redis", *BASE, *REDIS_ARGS, "--enable-csi", "--connection", "cli_corpus"],
                             "--enable-csi"),
    "target id malformed": ([*CREATE, "storage-blob", *BASE, "--target-id", "/subscriptions/x/nonsense", "--secret",
                             "--connection", "cli_corpus"], "--target-id"),
    "target id of another type": ([*CREATE, "storage-blob", *BASE, "--target-id", IDS["azurite"], "--secret",
                                   "--connection", "cli_corpus"], "--target-id"),
    "target server that does not exist": ([*CREATE, "postgres-flexible", *BASE, "--tg", RG, "--server", "nope",
                                           "--database", "postgres", *PG_SECRET, "--connection", "cli_corpus"],
                                          "--target-id"),
    "target names missing": ([*CREATE, "postgres-flexible", *BASE, "--tg", RG, *PG_SECRET,
                              "--connection", "cli_corpus"], "--server"),
    "source names missing": ([*CREATE, "redis", *REDIS_ARGS, "--connection", "cli_corpus"], "--resource-group"),
    "source id malformed": ([*CREATE, "redis", "--source-id", "/subscriptions/x", *REDIS_ARGS,
                             "--connection", "cli_corpus"], "--source-id"),
    "resource group invalid": ([*CREATE, "redis", "-g", "bad!rg", "-n", CLUSTER, *REDIS_ARGS,
                                "--connection", "cli_corpus"], "resource"),
    "show without a connection": (["aks", "connection", "show", *BASE], "--connection"),
    "show with a malformed id": (["aks", "connection", "show", "--id", "/subscriptions/x"], "--id"),
    "validate an absent connection": (["aks", "connection", "validate", *BASE, "--connection", "absent_c"],
                                      "absent_c"),
    "delete with a malformed id": (["aks", "connection", "delete", "--id", "nope", "--yes"], "--id"),
    "update without changes": (["aks", "connection", "update", "redis", *BASE, "--connection", "absent_c"],
                               "absent_c"),
}  # fmt: skip
ERROR_LINE = re.compile(r"^ERROR: \(([A-Za-z]+)\) ", re.MULTILINE)


def test_cli_corpus_is_refused_with_arm_errors_and_creates_nothing(
    cli: Cli, kube: Client, stack_config: StackConfig
) -> None:
    db = stack_config.state_dir / "servicelinker.db"
    rows, objects = _store_rows(db), _cluster_objects(kube)
    problems: list[str] = []
    for name, (args, flag) in CLI_CORPUS.items():
        r = cli(*args)
        found = ERROR_LINE.search(r.err)
        if r.code == 0:
            problems.append(f"{name}: exit 0")
        elif found is None or not CODE.match(found.group(1)):
            problems.append(f"{name}: no 'ERROR: (Code)' line: {r.err[-400:]}")
        elif flag.lower() not in r.err.lower():
            problems.append(f"{name}: {flag} not named: {r.err[-400:]}")
        if CANARY in r.err or CANARY in r.out:
            problems.append(f"{name}: the password is echoed")
        if "Traceback" in r.err:
            problems.append(f"{name}: a traceback: {r.err[-400:]}")
        now = _store_rows(db)
        if now != rows:
            problems.append(f"{name}: the store changed: {rows} -> {now} rows")
        rows = now
    created = _cluster_objects(kube) - objects
    if created:
        problems.append(f"refused commands created cluster objects: {sorted(created)}")
    print(f"\nCLI bad-input corpus: {len(CLI_CORPUS)} cases, {len(problems)} problems")
    assert not problems, "\n".join(problems)
