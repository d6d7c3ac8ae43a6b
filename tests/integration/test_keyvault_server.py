"""The dev stack's Key Vault, driven by the official azure-keyvault-secrets SDK over HTTPS (dev-mode tokens)."""

from __future__ import annotations

import os
import ssl
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from localcloud.devstack import keyvault, process
from localcloud.devstack.config import Ports, StackConfig

pytestmark = pytest.mark.integration

AUDIENCE = "https://vault.azure.net"


class UnsignedTokenCredential:
    """A TokenCredential minting unsigned JWTs, which the dev-mode server accepts; records what the SDK asked."""

    def __init__(
        self, audience: str = AUDIENCE, lifetime: int = 3600, oid: str = "11111111-2222-3333-4444-555555555555"
    ):
        self.audience = audience
        self.lifetime = lifetime
        self.oid = oid
        self.requests: list[tuple[tuple[str, ...], str | None]] = []

    def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any
    ) -> AccessToken:
        self.requests.append((scopes, tenant_id))
        now = int(time.time())
        token = mint(self.audience, now + self.lifetime, self.oid)
        return AccessToken(token, now + max(self.lifetime, 0))


def mint(audience: str, exp: int, oid: str = "11111111-2222-3333-4444-555555555555") -> str:
    return jwt.encode({"aud": audience, "exp": exp, "iat": exp - 3600, "oid": oid}, "", algorithm="none")


def client(desc: dict[str, Any], url: str | None = None, credential: Any = None) -> SecretClient:
    return SecretClient(
        url or desc["vaultUrl"],
        credential or UnsignedTokenCredential(),
        connection_verify=desc["caCert"],
        verify_challenge_resource=False,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def kv(devstack: dict[str, Any]) -> dict[str, Any]:
    desc: dict[str, Any] = devstack["services"]["keyvault"]
    return desc


@pytest.fixture(scope="module")
def tls(kv: dict[str, Any]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=kv["caCert"])


def test_description_and_health(kv: dict[str, Any], stack_config: StackConfig) -> None:
    assert kv["vaultUrl"] == f"https://127.0.0.1:{stack_config.ports.keyvault}/"
    assert set(kv["vaults"]) == {"slvault", "slvault2"}
    assert kv["env"]["SL_KEYVAULT_URL"] == kv["vaultUrl"]
    assert kv["env"]["SL_KEYVAULT_CA"] == kv["caCert"]
    assert keyvault.SERVICE.health(stack_config, kv).healthy
    key = Path(kv["caCert"]).with_name("server.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_challenge_then_token(kv: dict[str, Any], tls: ssl.SSLContext) -> None:
    raw = httpx.get(kv["vaultUrl"] + "secrets?api-version=7.6", verify=tls)
    assert raw.status_code == 401
    assert raw.headers["WWW-Authenticate"] == (
        f'Bearer authorization="https://login.microsoftonline.com/{kv["tenantId"]}", resource="https://vault.azure.net"'
    )
    assert raw.json()["error"]["code"] == "Unauthorized"

    # `localhost` is another authority for the default vault, so the SDK's challenge cache is cold for it.
    url = kv["vaultUrl"].replace("127.0.0.1", "localhost")
    cred = UnsignedTokenCredential()
    statuses: list[int] = []
    name = unique("challenge")
    client(kv, url, cred).set_secret(
        name, "v", raw_response_hook=lambda r: statuses.append(r.http_response.status_code)
    )
    assert statuses == [401, 200]
    assert cred.requests == [(("https://vault.azure.net/.default",), kv["tenantId"])]
    assert client(kv).get_secret(name).value == "v"  # same vault behind both authorities


def test_set_get_list_update(kv: dict[str, Any]) -> None:
    c = client(kv)
    name = unique("app-password")
    first = c.set_secret(name, "s3cret-1", content_type="text/plain", tags={"team": "a"})
    assert first.value == "s3cret-1"
    assert first.id == f"{kv['vaultUrl']}secrets/{name}/{first.properties.version}"
    assert first.properties.vault_url == kv["vaultUrl"].rstrip("/")
    assert first.properties.recovery_level == "Recoverable+Purgeable"
    assert first.properties.created_on is not None
    second = c.set_secret(name, "s3cret-2")

    assert c.get_secret(name).value == "s3cret-2"
    assert c.get_secret(name, first.properties.version).value == "s3cret-1"
    assert name in {p.name for p in c.list_properties_of_secrets()}
    versions = {p.version for p in c.list_properties_of_secret_versions(name)}
    assert versions == {first.properties.version, second.properties.version}

    updated = c.update_secret_properties(name, first.properties.version, content_type="application/json", tags={})
    assert updated.content_type == "application/json"
    disabled = c.update_secret_properties(name, enabled=False)
    assert disabled.enabled is False and disabled.version == second.properties.version
    with pytest.raises(HttpResponseError) as err:
        c.get_secret(name)
    assert err.value.status_code == 403
    c.update_secret_properties(name, enabled=True)
    assert c.get_secret(name).value == "s3cret-2"


def test_paging(kv: dict[str, Any]) -> None:
    c = client(kv)
    name = unique("paged")
    for i in range(9):
        c.set_secret(name, f"v{i}")
    pages = list(c.list_properties_of_secret_versions(name, max_page_size=4).by_page())
    assert [len(list(p)) for p in pages] == [4, 4, 1]


def test_delete_recover_purge(kv: dict[str, Any]) -> None:
    c = client(kv)
    name = unique("doomed")
    c.set_secret(name, "bye")
    deleted = c.begin_delete_secret(name).result()
    assert deleted.recovery_id == f"{kv['vaultUrl']}deletedsecrets/{name}"
    assert deleted.deleted_date is not None and deleted.scheduled_purge_date is not None
    with pytest.raises(ResourceNotFoundError):
        c.get_secret(name)
    assert c.get_deleted_secret(name).name == name
    assert name in {d.name for d in c.list_deleted_secrets()}
    with pytest.raises(HttpResponseError) as conflict:
        c.set_secret(name, "again")
    assert conflict.value.status_code == 409

    c.begin_recover_deleted_secret(name).result()
    assert c.get_secret(name).value == "bye"

    c.begin_delete_secret(name).wait()
    c.purge_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        c.get_deleted_secret(name)
    c.set_secret(name, "reborn")  # the name is free again after purging
    assert c.get_secret(name).value == "reborn"


def test_vaults_are_separate(kv: dict[str, Any]) -> None:
    name = unique("only-in-two")
    second = client(kv, kv["vaults"]["slvault2"])
    secret = second.set_secret(name, "two")
    assert secret.id is not None and secret.id.startswith(kv["vaults"]["slvault2"])
    with pytest.raises(ResourceNotFoundError):
        client(kv).get_secret(name)


def test_unknown_secret_is_404(kv: dict[str, Any]) -> None:
    with pytest.raises(ResourceNotFoundError) as err:
        client(kv).get_secret(unique("missing"))
    assert err.value.status_code == 404
    assert err.value.error is not None and err.value.error.code == "SecretNotFound"
    assert "was not found in this key vault" in str(err.value)


def test_bad_name_is_400(kv: dict[str, Any]) -> None:
    with pytest.raises(HttpResponseError) as err:
        client(kv).set_secret("bad_name", "v")
    assert err.value.status_code == 400
    assert err.value.error is not None and err.value.error.code == "BadParameter"


def test_api_version_required(kv: dict[str, Any], tls: ssl.SSLContext) -> None:
    auth = {"Authorization": "Bearer " + mint(AUDIENCE, int(time.time()) + 600)}
    for query in ("", "?api-version=9.9"):
        resp = httpx.get(kv["vaultUrl"] + "secrets" + query, headers=auth, verify=tls)
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "BadParameter"
    assert httpx.get(kv["vaultUrl"] + "secrets?api-version=7.0", headers=auth, verify=tls).status_code == 200


def test_expired_and_wrong_audience_refused(kv: dict[str, Any], tls: ssl.SSLContext) -> None:
    url = kv["vaultUrl"] + "secrets?api-version=7.6"
    for token in (mint(AUDIENCE, int(time.time()) - 3600), mint("https://storage.azure.com", int(time.time()) + 600)):
        resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, verify=tls)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "Unauthorized"
        assert "WWW-Authenticate" in resp.headers
    with pytest.raises(ClientAuthenticationError):
        client(kv, credential=UnsignedTokenCredential(audience="https://management.azure.com")).get_secret("any")
    with pytest.raises(ClientAuthenticationError):
        client(kv, credential=UnsignedTokenCredential(lifetime=-3600)).get_secret("any")


def test_values_are_not_logged(kv: dict[str, Any], stack_config: StackConfig) -> None:
    marker = "never-log-" + uuid.uuid4().hex
    c = client(kv)
    c.set_secret(unique("quiet"), marker)
    with pytest.raises(HttpResponseError):
        c.set_secret("bad_name", marker)
    rec = process.record(stack_config.state_dir, "keyvault")
    assert rec is not None
    assert marker not in Path(rec.log).read_text()


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[StackConfig]:
    """A second, private Key Vault server (own state dir and ports inside our block) that the test may restart."""
    base = int(os.environ.get("SL_TEST_PORT_BASE", "28000"))
    cfg = StackConfig(state_dir=tmp_path, ports=Ports(keyvault=base + 50))
    try:
        yield cfg
    finally:
        rec = process.record(cfg.state_dir, "keyvault")
        if rec is not None:
            process.stop(cfg.state_dir, rec)


def test_secrets_survive_restart(own_stack: StackConfig) -> None:
    desc = keyvault.SERVICE.start(own_stack)
    name = unique("durable")
    created = client(desc).set_secret(name, "kept")
    gone = unique("gone")
    client(desc).set_secret(gone, "x")
    client(desc).begin_delete_secret(gone).wait()
    state = Path(desc["stateFile"])
    assert stat.S_IMODE(state.stat().st_mode) == 0o600

    rec = process.record(own_stack.state_dir, "keyvault")
    assert rec is not None and process.stop(own_stack.state_dir, rec)
    assert not keyvault.SERVICE.health(own_stack, desc).healthy

    desc2 = keyvault.SERVICE.start(own_stack)
    assert desc2["caCert"] == desc["caCert"]  # same CA, so clients keep trusting it
    again = client(desc2).get_secret(name)
    assert again.value == "kept" and again.properties.version == created.properties.version
    assert len(list(client(desc2).list_deleted_secrets())) == 1
