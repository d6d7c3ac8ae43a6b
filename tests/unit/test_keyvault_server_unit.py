"""The Key Vault server in-process (FastAPI TestClient): verifying-mode tokens, access file, store, wire shapes."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from localcloud.keyvault.app import ServerSettings, _parse_args, build_app, create_app
from localcloud.keyvault.auth import AccessFile, DevTokenValidator, JwksTokenValidator, Principal
from localcloud.keyvault.store import SecretChanges, SecretStore
from localcloud.oidc import JwksClient

pytestmark = pytest.mark.unit

JWKS_URL = "https://issuer.test/keys"


def jwks_keys(fetch: Callable[[], Mapping[str, Any]], *, min_refresh: float = 10.0, ttl: float = 3600.0) -> JwksClient:
    """The validator's key source over an in-test JWKS (no network)."""
    return JwksClient(JWKS_URL, lambda _url: fetch(), cooldown=min_refresh, lifespan=max(ttl, 0.001))

ISSUER = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"
AUDIENCE = "https://vault.azure.net"
API = "?api-version=7.6"
OID = "aaaaaaaa-0000-0000-0000-000000000001"
OTHER_OID = "bbbbbbbb-0000-0000-0000-000000000002"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks(signing_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    return {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"aud": AUDIENCE, "iss": ISSUER, "exp": now + 600, "nbf": now - 10, "oid": OID}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(key: rsa.RSAPrivateKey, kid: str = "k1", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": kid})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


Factory = Callable[..., TestClient]


@pytest.fixture
def make_client(jwks: dict[str, Any]) -> Factory:
    def factory(
        access: AccessFile | None = None,
        store: SecretStore | None = None,
        fetch: Callable[[], Mapping[str, Any]] | None = None,
    ) -> TestClient:
        validator = JwksTokenValidator(jwks_keys(fetch or (lambda: jwks)), [ISSUER], leeway=0)
        app = create_app(store or SecretStore(["slvault", "slvault2"]), validator, ServerSettings(access_check=access))
        return TestClient(app, base_url="https://slvault.localhost:8443")

    return factory


# ------------------------------------------------------------------------------------------- verifying mode


def test_valid_signed_token_is_accepted(make_client: Factory, signing_key: rsa.RSAPrivateKey) -> None:
    c = make_client()
    put = c.put(
        f"/secrets/db-password{API}",
        json={"value": "pw", "contentType": "text/plain"},
        headers=bearer(signed(signing_key)),
    )
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["value"] == "pw"
    assert body["id"].startswith("https://slvault.localhost:8443/secrets/db-password/")
    assert len(body["id"].rsplit("/", 1)[1]) == 32
    assert body["attributes"]["recoveryLevel"] == "Recoverable+Purgeable"
    got = c.get(f"/secrets/db-password/{API}", headers=bearer(signed(signing_key)))
    assert got.json()["value"] == "pw"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"aud": "https://storage.azure.com"}, "audience"),
        ({"iss": "https://sts.example/evil/"}, "issuer"),
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
        ({"oid": None}, "oid"),
        ({"exp": None}, "exp"),
    ],
)
def test_bad_claims_are_401(
    make_client: Factory, signing_key: rsa.RSAPrivateKey, overrides: dict[str, Any], fragment: str
) -> None:
    resp = make_client().get(f"/secrets{API}", headers=bearer(signed(signing_key, **overrides)))
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "Unauthorized"
    assert fragment in resp.json()["error"]["message"]
    assert resp.headers["WWW-Authenticate"].startswith('Bearer authorization="')


def test_sub_is_enough_without_oid(make_client: Factory, signing_key: rsa.RSAPrivateKey) -> None:
    resp = make_client().get(f"/secrets{API}", headers=bearer(signed(signing_key, oid=None, sub="svc-principal")))
    assert resp.status_code == 200


def test_wrong_signature_is_401(make_client: Factory) -> None:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    resp = make_client().get(f"/secrets{API}", headers=bearer(signed(impostor)))
    assert resp.status_code == 401
    assert "signature" in resp.json()["error"]["message"]


def test_unknown_kid_and_unsigned_are_401(make_client: Factory, signing_key: rsa.RSAPrivateKey) -> None:
    c = make_client()
    assert c.get(f"/secrets{API}", headers=bearer(signed(signing_key, kid="other"))).status_code == 401
    unsigned = jwt.encode(claims(), "", algorithm="none")
    resp = c.get(f"/secrets{API}", headers=bearer(unsigned))
    assert resp.status_code == 401
    assert "RS256" in resp.json()["error"]["message"]


def test_jwks_is_cached_and_refetched_for_new_kid(jwks: dict[str, Any], signing_key: rsa.RSAPrivateKey) -> None:
    calls: list[int] = []

    def fetch() -> Mapping[str, Any]:
        calls.append(1)
        return jwks

    keys = jwks_keys(fetch, min_refresh=0)
    validator = JwksTokenValidator(keys, [ISSUER])
    validator.validate(signed(signing_key))
    validator.validate(signed(signing_key))
    assert len(calls) == 1
    assert keys.key("rotated") is None
    assert len(calls) == 2


def test_unreachable_jwks_is_503(make_client: Factory, signing_key: rsa.RSAPrivateKey) -> None:
    def broken() -> Mapping[str, Any]:
        raise OSError("connection refused")

    resp = make_client(fetch=broken).get(f"/secrets{API}", headers=bearer(signed(signing_key)))
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "ServiceUnavailable"


def test_cached_keys_survive_a_failed_refetch(jwks: dict[str, Any], signing_key: rsa.RSAPrivateKey) -> None:
    answers: list[Mapping[str, Any] | None] = [jwks, None]

    def flaky() -> Mapping[str, Any]:
        answer = answers.pop(0) if answers else None
        if answer is None:
            raise OSError("token service down")
        return answer

    keys = jwks_keys(flaky, ttl=0, min_refresh=0)
    validator = JwksTokenValidator(keys, [ISSUER])
    assert validator.validate(signed(signing_key)).object_id == OID
    assert validator.validate(signed(signing_key)).object_id == OID  # refetch failed, cached key used


def test_internal_errors_are_500_without_details(dev: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    store: SecretStore = dev.app.state.keyvault.store  # type: ignore[attr-defined]

    def explode(vault: str) -> list[Any]:
        raise RuntimeError("leaked-secret-value")

    store.list_secrets = explode  # type: ignore[method-assign]
    resp = dev.get(f"/secrets{API}", headers=dev_token())
    assert resp.status_code == 500
    assert resp.json()["error"]["code"] == "InternalServerError"
    assert "leaked-secret-value" not in resp.text
    assert "leaked-secret-value" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_missing_token_gets_the_challenge(make_client: Factory) -> None:
    resp = make_client().put(f"/secrets/x{API}", content=b"")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == (
        'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", '
        'resource="https://vault.azure.net"'
    )


# ---------------------------------------------------------------------------------------------- access file


def test_access_file_grants_and_reloads(make_client: Factory, signing_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "access.json"
    path.write_text(json.dumps({"slvault": [OID]}))
    c = make_client(access=AccessFile(path))
    mine, theirs = bearer(signed(signing_key)), bearer(signed(signing_key, oid=OTHER_OID))

    assert c.put(f"/secrets/s1{API}", json={"value": "v"}, headers=mine).status_code == 200
    denied = c.get(f"/secrets/s1{API}", headers=theirs)
    assert denied.status_code == 403
    error = denied.json()["error"]
    assert error["code"] == "Forbidden"
    assert f"oid={OTHER_OID}" in error["message"]
    assert "does not have secrets get permission on key vault 'slvault" in error["message"]
    # the other vault is not granted to anyone
    other_vault = c.get(f"/secrets{API}", headers={**mine, "Host": "slvault2.localhost:8443"})
    assert other_vault.status_code == 403

    path.write_text(json.dumps({"slvault": {OTHER_OID: ["Key Vault Secrets User"]}}))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    assert c.get(f"/secrets/s1{API}", headers=theirs).status_code == 200
    write = c.put(f"/secrets/s1{API}", json={"value": "v2"}, headers=theirs)
    assert write.status_code == 403 and "secrets set permission" in write.json()["error"]["message"]
    assert c.get(f"/secrets/s1{API}", headers=mine).status_code == 403  # no longer listed

    path.unlink()
    assert c.get(f"/secrets/s1{API}", headers=theirs).status_code == 403  # missing file denies


def test_access_file_wildcard_vault_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "access.json"
    path.write_text(json.dumps({"*": {OID: ["get", "LIST", "bogus"]}}))
    check = AccessFile(path)
    me = Principal(object_id=OID)
    assert check("anyvault", me, "get") and check("anyvault", me, "list")
    assert not check("anyvault", me, "set") and not check("anyvault", me, "bogus")
    assert not check("anyvault", Principal(), "get")


# ------------------------------------------------------------------------------------------ dev mode and wire


@pytest.fixture
def dev() -> TestClient:
    app = create_app(SecretStore(["slvault", "slvault2"]), DevTokenValidator())
    return TestClient(app, base_url="https://127.0.0.1:8443")


def dev_token(**overrides: Any) -> dict[str, str]:
    return bearer(jwt.encode(claims(iss=None, **overrides), "", algorithm="none"))


def test_dev_mode_checks_audience_and_lifetime_only(dev: TestClient) -> None:
    assert dev.get(f"/secrets{API}", headers=dev_token()).status_code == 200
    assert dev.get(f"/secrets{API}", headers=dev_token(aud=AUDIENCE + "/")).status_code == 200
    assert dev.get(f"/secrets{API}", headers=dev_token(aud="api://other")).status_code == 401
    assert dev.get(f"/secrets{API}", headers=dev_token(exp=int(time.time()) - 3600)).status_code == 401
    assert dev.get(f"/secrets{API}", headers=bearer("not-a-jwt")).status_code == 401


def test_host_header_selects_the_vault(dev: TestClient) -> None:
    auth = dev_token()
    dev.put(f"/secrets/shared{API}", json={"value": "one"}, headers=auth)
    two = {**auth, "Host": "slvault2.localhost:8443"}
    assert dev.get(f"/secrets/shared{API}", headers=two).status_code == 404
    put = dev.put(f"/secrets/shared{API}", json={"value": "two"}, headers=two)
    assert put.json()["id"].startswith("https://slvault2.localhost:8443/secrets/shared/")
    assert dev.get(f"/secrets/shared{API}", headers={**auth, "Host": "localhost:8443"}).json()["value"] == "one"
    unknown = dev.get(f"/secrets{API}", headers={**auth, "Host": "nosuch.localhost:8443"})
    assert unknown.status_code == 404


def test_listener_port_selects_the_vault() -> None:
    settings = ServerSettings(vault_ports={9443: "slvault2"})
    app = create_app(SecretStore(["slvault", "slvault2"]), DevTokenValidator(), settings)
    on_second = TestClient(app, base_url="https://127.0.0.1:9443")
    on_first = TestClient(app, base_url="https://127.0.0.1:8443")
    auth = dev_token()
    # TestClient reports the server address from the URL, as uvicorn reports the listening socket
    on_second.put(f"/secrets/s{API}", json={"value": "v"}, headers=auth)
    assert on_second.get(f"/secrets/s{API}", headers=auth).status_code == 200
    assert on_first.get(f"/secrets/s{API}", headers=auth).status_code == 404


def test_not_found_shapes(dev: TestClient) -> None:
    auth = dev_token()
    missing = dev.get(f"/secrets/nope{API}", headers=auth).json()["error"]
    assert missing["code"] == "SecretNotFound"
    assert missing["message"].startswith("A secret with (name/id) nope was not found in this key vault.")
    dev.put(f"/secrets/there{API}", json={"value": "v"}, headers=auth)
    version = "0" * 32
    wrong_version = dev.get(f"/secrets/there/{version}{API}", headers=auth).json()["error"]
    assert f"there/{version}" in wrong_version["message"]
    assert dev.get(f"/deletedsecrets/nope{API}", headers=auth).status_code == 404
    assert dev.get(f"/secrets/nope/versions{API}", headers=auth).json() == {"value": [], "nextLink": None}


def test_bad_requests_never_echo_values(dev: TestClient) -> None:
    auth = dev_token()
    value = "top-secret-value"
    cases = [
        dev.put(f"/secrets/bad_name{API}", json={"value": value}, headers=auth),
        dev.put(f"/secrets/ok{API}", json={"value": value, "tags": {"t": 1}}, headers=auth),
        dev.put(f"/secrets/ok{API}", json={"value": value, "attributes": {"exp": "soon"}}, headers=auth),
        dev.put(f"/secrets/ok{API}", json={"value": value * 2000}, headers=auth),
        dev.put(f"/secrets/ok{API}", content=b'{"value": "' + value.encode(), headers=auth),
        dev.put(f"/secrets/ok{API}", json={"valu": value}, headers=auth),
    ]
    for resp in cases:
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "BadParameter"
        assert value not in resp.text


def test_api_versions(dev: TestClient) -> None:
    auth = dev_token()
    for version in ("7.0", "7.3", "7.6", "2025-07-01", "2026-04-01"):
        assert dev.get(f"/secrets?api-version={version}", headers=auth).status_code == 200
    for query in ("", "?api-version=6.0", "?api-version=7.7"):
        resp = dev.get(f"/secrets{query}", headers=auth)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "BadParameter"


def test_paging_and_maxresults(dev: TestClient) -> None:
    auth = dev_token()
    for i in range(5):
        dev.put(f"/secrets/p{i}{API}", json={"value": "v"}, headers=auth)
    page = dev.get("/secrets?api-version=7.6&maxresults=2", headers=auth).json()
    names = [item["id"].rsplit("/", 1)[1] for item in page["value"]]
    while page["nextLink"]:
        assert page["nextLink"].startswith("https://127.0.0.1:8443/secrets?")
        page = dev.get(page["nextLink"].removeprefix("https://127.0.0.1:8443"), headers=auth).json()
        names += [item["id"].rsplit("/", 1)[1] for item in page["value"]]
    assert names == [f"p{i}" for i in range(5)]
    assert dev.get("/secrets?api-version=7.6&maxresults=26", headers=auth).status_code == 400


def test_update_semantics(dev: TestClient) -> None:
    auth = dev_token()
    first = dev.put(f"/secrets/u{API}", json={"value": "1", "tags": {"a": "b"}}, headers=auth).json()
    dev.put(f"/secrets/u{API}", json={"value": "2"}, headers=auth)
    version = first["id"].rsplit("/", 1)[1]
    patched = dev.patch(
        f"/secrets/u/{version}{API}", json={"contentType": "x/y", "attributes": {"exp": 4102444800}}, headers=auth
    ).json()
    assert "value" not in patched
    assert patched["contentType"] == "x/y" and patched["tags"] == {"a": "b"}
    assert patched["attributes"]["exp"] == 4102444800
    latest = dev.patch(f"/secrets/u/{API}", json={"tags": {"k": "v"}}, headers=auth).json()
    assert latest["tags"] == {"k": "v"} and latest["id"] != first["id"]


# -------------------------------------------------------------------------------------------------- the store


def test_store_persists_atomically_with_private_mode(tmp_path: Path) -> None:
    state = tmp_path / "state" / "secrets.json"
    store = SecretStore(["slvault"], state)
    store.set("slvault", "Mixed-Case", "v1", SecretChanges())
    store.set("slvault", "gone", "v", SecretChanges())
    store.delete("slvault", "gone")
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert [p.name for p in state.parent.iterdir()] == ["secrets.json"]  # no temp files left behind

    again = SecretStore(["slvault"], state)
    assert again.get("slvault", "mixed-case").latest.value == "v1"
    assert again.get("slvault", "mixed-case").name == "Mixed-Case"
    assert [s.name for s in again.list_deleted("slvault")] == ["gone"]


def test_deleted_secrets_are_purged_after_retention(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = SecretStore(["slvault"], retention_days=7, clock=lambda: now[0])
    store.set("slvault", "old", "v", SecretChanges())
    store.delete("slvault", "old")
    now[0] += 7 * 86400
    assert store.list_deleted("slvault") == []


def test_cli_arguments(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _parse_args(["--port", "1", "--cert", "c", "--key", "k", "--jwks-url", "https://issuer.test/keys"])
    with pytest.raises(SystemExit):
        _parse_args(["--port", "1", "--cert", "c", "--key", "k", "--require-role"])
    args = _parse_args(
        ["--port", "1", "--cert", "c", "--key", "k", "--vaults", "a-vault,b-vault", "--vault-port", "b-vault=2"]
    )
    _, ports = build_app(args)
    assert ports == [1, 2]


def test_cli_verifying_mode_builds_a_jwks_validator(tmp_path: Path) -> None:
    access = tmp_path / "access.json"
    access.write_text(json.dumps({"slvault": [OID]}))
    argv = ["--port", "1", "--cert", "c", "--key", "k", "--jwks-url", JWKS_URL, "--issuer", ISSUER]
    app, _ = build_app(_parse_args([*argv, "--require-role", "--access-file", str(access)]))
    validator = app.state.keyvault.validator
    assert isinstance(validator, JwksTokenValidator)
    assert validator.keys.uri == JWKS_URL and validator.issuers == (ISSUER,)
    c = TestClient(app, base_url="https://127.0.0.1:8443")
    unsigned = jwt.encode(claims(), "", algorithm="none")
    assert c.get(f"/secrets{API}", headers=bearer(unsigned)).status_code == 401
