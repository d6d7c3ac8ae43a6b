"""`servicelinker aks connection list-support-types` / `list-configuration-names` through the real CLI app."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from servicelinker.catalog.targets import TARGET_NAMES, TARGETS
from servicelinker.cli.main import app

pytestmark = pytest.mark.unit

RUN = ["aks", "connection"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, [*RUN, *args])


def stderr_of(result: Any) -> str:
    try:
        return str(result.stderr)
    except ValueError:  # older click: stderr mixed into output
        return str(result.output)


# ----------------------------------------------------------------------------------------- list-support-types


def test_list_support_types_json() -> None:
    result = invoke("list-support-types")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["target"] for r in rows] == list(TARGET_NAMES)
    assert all(set(r) == {"source", "target", "auth_types", "client_types"} for r in rows)
    assert all(r["source"] == "aks" for r in rows)
    blob = rows[TARGET_NAMES.index("storage-blob")]
    assert blob["auth_types"] == ["workload-identity", "secret(auto)", "service-principal"]
    assert blob["client_types"] == ["dotnet", "dotnet-internal", "java", "python", "nodejs", "springBoot", "none"]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_list_support_types_filter_works(target: Any) -> None:
    result = invoke("list-support-types", "--target-type", target.name)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "source": "aks",
            "target": target.name,
            "auth_types": list(target.auth_types),
            "client_types": list(target.client_types),
        }
    ]


def test_list_support_types_table() -> None:
    result = invoke("list-support-types", "-t", "keyvault", "-o", "table")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Source", "Target", "AuthType", "ClientType"]
    assert lines[2].startswith("aks     keyvault  workload-identity, service-principal  dotnet, dotnet-internal")


def test_list_support_types_yaml() -> None:
    result = invoke("list-support-types", "-t", "redis", "-o", "yaml")
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)[0]["auth_types"] == ["workload-identity", "secret(auto)", "service-principal"]


def test_list_support_types_unknown_target() -> None:
    result = invoke("list-support-types", "-t", "postgresql")
    assert result.exit_code == 2
    err = stderr_of(result)
    assert "ERROR: (InvalidArgumentValue) Unsupported target type 'postgresql' for --target-type." in err
    assert "Valid values: postgres, postgres-flexible, mysql" in err
    assert result.stdout == ""


# ----------------------------------------------------------------------------------------- list-configuration-names


def test_list_configuration_names_rest_shape() -> None:
    result = invoke(
        "list-configuration-names", "--target-type", "storage-blob", "--auth-type", "secret", "--client-type", "python"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "value": [
            {
                "properties": {
                    "targetService": "Microsoft.Storage/storageAccounts/blobServices/default",
                    "clientType": "python",
                    "authType": "secret",
                    "names": [
                        {
                            "value": "AZURE_STORAGEBLOB_CONNECTIONSTRING",
                            "description": "Connection string",
                            "required": True,
                            "credential": True,
                        }
                    ],
                }
            }
        ]
    }


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_list_configuration_names_every_target(target: Any) -> None:
    result = invoke("list-configuration-names", "-t", target.name)
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)["value"]
    assert len(items) == len(target.config_keys) * len(target.client_types)
    for item in items:
        props = item["properties"]
        assert set(props) == {"targetService", "clientType", "authType", "names"}
        assert props["targetService"] == target.provider_type
        assert props["clientType"] in target.client_types
        assert props["names"]
        assert all(set(n) == {"value", "description", "required", "credential"} for n in props["names"])


@pytest.mark.parametrize(
    ("auth", "rest"),
    [
        ("workload-identity", "userAssignedIdentity"),
        ("secret", "secret"),
        ("service-principal", "servicePrincipalSecret"),
    ],
)
def test_list_configuration_names_auth_filter(auth: str, rest: str) -> None:
    result = invoke("list-configuration-names", "-t", "servicebus", "--auth-type", auth)
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)["value"]
    assert {i["properties"]["authType"] for i in items} == {rest}
    assert len(items) == 8


def test_list_configuration_names_keyvault_csi() -> None:
    result = invoke("list-configuration-names", "-t", "keyvault", "--auth-type", "csi", "--client-type", "none")
    assert result.exit_code == 0
    names = json.loads(result.stdout)["value"][0]["properties"]["names"]
    assert [n["value"] for n in names] == ["AZURE_KEYVAULT_NAME", "AZURE_KEYVAULT_TENANTID", "AZURE_KEYVAULT_CLIENTID"]


def test_list_configuration_names_table_flags_credentials() -> None:
    result = invoke("list-configuration-names", "-t", "postgres-flexible", "--client-type", "nodejs", "-o", "table")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ClientType", "AuthType", "Name", "Credential", "Required"]
    rows = {line.split()[2]: line.split()[3] for line in lines[2:]}
    assert rows == {
        "AZURE_POSTGRESQL_HOST": "False",
        "AZURE_POSTGRESQL_USER": "False",
        "AZURE_POSTGRESQL_PASSWORD": "True",
        "AZURE_POSTGRESQL_DATABASE": "False",
        "AZURE_POSTGRESQL_PORT": "False",
        "AZURE_POSTGRESQL_SSL": "False",
    }


@pytest.mark.parametrize(
    ("args", "message", "valid"),
    [
        (["-t", "nope"], "Unsupported target type 'nope' for --target-type.", "Valid values: postgres,"),
        (
            ["-t", "storage-file", "--auth-type", "workload-identity"],
            "Auth type 'workload-identity' is not supported for target storage-file (--auth-type).",
            "Valid values: secret.",
        ),
        (
            ["-t", "keyvault", "--auth-type", "secret"],
            "Auth type 'secret' is not supported for target keyvault (--auth-type).",
            "Valid values: workload-identity, service-principal, csi.",
        ),
        (
            ["-t", "signalr", "--client-type", "python"],
            "Client type 'python' is not supported for target signalr (--client-type).",
            "Valid values: dotnet, dotnet-internal, none.",
        ),
    ],
)
def test_list_configuration_names_errors(args: list[str], message: str, valid: str) -> None:
    result = invoke("list-configuration-names", *args)
    assert result.exit_code == 2
    err = stderr_of(result)
    assert f"ERROR: (InvalidArgumentValue) {message}" in err
    assert valid in err


def test_list_configuration_names_requires_target_type() -> None:
    result = invoke("list-configuration-names")
    assert result.exit_code != 0
    assert "--target-type" in stderr_of(result)
