"""CLI hygiene for secrets (hardening finding 7): a malformed `--secret` token is never echoed, and passwords can come
from a file or standard input instead of the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from servicelinker.catalog.targets import get_target
from servicelinker.cli import aks_create
from servicelinker.model.errors import ArmError

pytestmark = pytest.mark.unit


def test_a_malformed_secret_token_is_not_echoed() -> None:
    with pytest.raises(ArmError) as raised:
        aks_create._secret_auth(get_target("postgres-flexible"), ["name=app", "hunter2-typed-here"])
    assert "hunter2" not in str(raised.value) and "value 2 has no '='" in raised.value.message


def test_secret_values_from_a_file_and_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw.txt").write_text("s3cr3t from file\n")
    auth = aks_create._secret_auth(get_target("postgres-flexible"), ["name=app", f"secret=@{tmp_path / 'pw.txt'}"])
    assert auth["secretInfo"]["value"] == "s3cr3t from file"
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    assert aks_create._secret_auth(get_target("mysql-flexible"), ["name=a", "secret=-"])["secretInfo"]["value"] == (
        "from-stdin")
    assert aks_create._secret_auth(get_target("sql"), ["name=a", "secret=@@literal"])["secretInfo"]["value"] == (
        "@literal")


def test_an_unreadable_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArmError) as raised:
        aks_create._secret_auth(get_target("postgres-flexible"), ["name=app", f"secret=@{tmp_path / 'missing'}"])
    assert raised.value.target == "--secret" and "cannot be read" in raised.value.message


@pytest.mark.parametrize(
    ("body_field", "auth_flag", "flag"),
    [
        ("properties.scope", None, "--kube-namespace"),
        ("linkerName", None, "--connection"),
        ("properties.configurationInfo.customizedKeys", None, "--customized-keys"),
        ("properties.configurationInfo.customizedKeys.AZURE_X", None, "--customized-keys"),
        ("properties.targetService.id", None, "--target-id"),
        ("properties.authInfo.clientId", "--workload-identity", "--workload-identity"),
        ("properties.authInfo", None, "--secret"),
        ("--opt-out", None, "--opt-out"),
        ("properties.configurationInfo", None, "properties.configurationInfo"),
    ],
)
def test_engine_errors_name_the_flag_on_the_cli(body_field: str, auth_flag: str | None, flag: str) -> None:
    """The engine names the body's field (what a REST caller sent); the CLI user sent a flag (finding 6)."""
    from servicelinker.cli.common import flag_for

    assert flag_for(body_field, auth_flag) == flag
