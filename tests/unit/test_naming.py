"""Connection names, generated names, and the Kubernetes Secret / ServiceAccount names (reference §2.6, §2.8)."""

from __future__ import annotations

import random
import re

import pytest

from servicelinker.catalog import naming
from servicelinker.catalog.naming import (
    CONNECTION_NAME_ERROR,
    generate_connection_name,
    is_valid_kubernetes_name,
    kubernetes_resource_names,
    schema_connection_name,
    secret_name,
    service_account_name,
    validate_confluent_name,
    validate_connection_name,
)
from servicelinker.catalog.targets import TARGETS, Target
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.linker import LinkerProperties

pytestmark = pytest.mark.unit

CLIENT_ID = "CCD6321C-1111-2222-3333-444455556666"


@pytest.mark.parametrize("name", ["storage_conn", "a", "A.b_C9", "storageblob_k3x9q", "...", "_", "x" * 128])
def test_valid_connection_names(name: str) -> None:
    assert validate_connection_name(name) == name


@pytest.mark.parametrize("name", ["storage-conn", "", "a b", "conn/1", "ä", "conn:1", "conn\n"])
def test_invalid_connection_names(name: str) -> None:
    with pytest.raises(ArmError) as err:
        validate_connection_name(name)
    assert err.value.message == (
        "Resource name can only contain letters (A-Z, a-z), numbers (0-9), periods ('.'), and underscores ('_')"
    )
    assert err.value.message == CONNECTION_NAME_ERROR
    assert err.value.code == ErrorCode.INVALID_ARGUMENT_VALUE
    assert err.value.target == "--connection"
    assert err.value.remedy


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_generated_names(target: Target) -> None:
    prefix = target.name.replace("-", "")
    for seed in range(20):
        name = generate_connection_name(target.name, random.Random(seed))
        assert re.fullmatch(re.escape(prefix) + r"_[a-z0-9]{5}", name)
        suffix = name.rsplit("_", 1)[1]
        assert len(set(suffix)) == 5  # sampled without replacement
        assert validate_connection_name(name) == name
        assert is_valid_kubernetes_name(secret_name(name))


def test_generated_name_is_random_by_default() -> None:
    names = {generate_connection_name("storage-blob") for _ in range(50)}
    assert len(names) > 40


def test_generated_name_is_deterministic_with_a_seed() -> None:
    assert generate_connection_name("storage-blob", random.Random(7)) == generate_connection_name(
        "storage-blob", random.Random(7)
    )


@pytest.mark.parametrize(
    ("connection", "secret"),
    [
        ("storage_conn", "sc-storageconn-secret"),  # the CLI transform's example
        ("account412a8", "sc-account412a8-secret"),  # the samples' name
        ("storageblob_k3x9q", "sc-storageblobk3x9q-secret"),
        ("My.Conn_1", "sc-myconn1-secret"),  # decision: lowercased for Kubernetes
        ("._", "sc--secret"),
    ],
)
def test_secret_name(connection: str, secret: str) -> None:
    assert secret_name(connection) == secret
    assert is_valid_kubernetes_name(secret)


def test_secret_name_is_cut_to_253_characters() -> None:
    name = secret_name("A" * 400)
    assert len(name) == 253
    assert name.startswith("sc-aaa") and name.endswith("-secret")
    assert is_valid_kubernetes_name(name)


def test_service_account_name() -> None:
    assert service_account_name(CLIENT_ID) == "sc-account-ccd6321c-1111-2222-3333-444455556666"
    assert is_valid_kubernetes_name(service_account_name(CLIENT_ID))


@pytest.mark.parametrize(
    ("name", "valid"),
    [("sc-a-secret", True), ("Sc-a", False), ("-a", False), ("a-", False), ("a.b", True), ("a_b", False), ("", False)],
)
def test_kubernetes_name_rule(name: str, valid: bool) -> None:
    assert is_valid_kubernetes_name(name) is valid


def test_kubernetes_resource_names() -> None:
    kv = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
    wi = LinkerProperties.model_validate(
        {
            "targetService": {"type": "AzureResource", "id": kv},
            "authInfo": {"authType": "userAssignedIdentity", "clientId": CLIENT_ID},
        }
    )
    assert kubernetes_resource_names("kv_conn", wi) == {
        "secret": "sc-kvconn-secret",
        "serviceAccount": "sc-account-ccd6321c-1111-2222-3333-444455556666",
    }
    csi = LinkerProperties.model_validate(
        {
            "targetService": {
                "type": "AzureResource",
                "id": kv,
                "resourceProperties": {"type": "KeyVault", "connectAsKubernetesCsiDriver": True},
            },
            "authInfo": {"authType": "userAssignedIdentity"},
        }
    )
    assert kubernetes_resource_names("kv_conn", csi) == {"secret": "sc-kvconn-secret"}
    secret = LinkerProperties.model_validate({"authInfo": {"authType": "secret"}})
    assert kubernetes_resource_names("kv_conn", secret) == {"secret": "sc-kvconn-secret"}


def test_confluent_names() -> None:
    assert validate_confluent_name("kafka_1") == "kafka_1"
    assert schema_connection_name("kafka_1") == "kafka_1_schema"
    with pytest.raises(ArmError) as err:
        validate_confluent_name("kafka_schema")
    assert err.value.message == "Connection name of confluent-cloud can not end with '_schema'"
    with pytest.raises(ArmError) as err:
        validate_confluent_name("kafka-1")
    assert err.value.message == CONNECTION_NAME_ERROR


def test_connection_names_longer_than_128_are_refused_without_echoing_them() -> None:
    with pytest.raises(ArmError) as raised:
        naming.validate_connection_name("x" * 129)
    assert raised.value.code == "InvalidArgumentValue" and "at most 128" in raised.value.message
    with pytest.raises(ArmError) as raised:
        naming.validate_connection_name("bad-" + "y" * 100_000)
    assert len(str(raised.value)) < 400
