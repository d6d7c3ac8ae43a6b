"""The token service in-process (FastAPI TestClient) against an in-test "cluster issuer" whose discovery document and
JWKS a stub fetcher serves; plus the identity functions it reads (identities, FICs, service principals)."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from localcloud import admin
from localcloud import identity as ident
from localcloud.entra.app import create_app
from localcloud.entra.protocol import JWT_BEARER
from localcloud.entra.roles import role_keys, service_for
from localcloud.entra.tokens import Settings, Signer
from localcloud.inventory import LOCAL_TENANT, Inventory, RoleAssignment
from localcloud.oidc import IssuerKeys, IssuerUnavailable
from servicelinker.model.errors import ArmError

pytestmark = pytest.mark.unit

ISSUER = "https://oidc.cluster.test"
JWKS_URI = ISSUER + "/openid/v1/jwks"
KID = "cluster-key-1"
AUTHORITY = "https://127.0.0.1:9443"
TOKEN_URL = f"/{LOCAL_TENANT}/oauth2/v2.0/token"
STORAGE = "https://storage.azure.com"
VAULT = "https://vault.azure.net"
IDENTITY_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sl-dev/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/app-id"
)
STORAGE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sl-dev/providers/"
    "Microsoft.Storage/storageAccounts/devstoreaccount1"
)


@pytest.fixture(scope="module")
def cluster_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(rsa.generate_private_key(public_exponent=65537, key_size=2048))


class StubIssuer:
    """Serves the cluster issuer's discovery document and JWKS to the token service, counting fetches."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        self.documents: dict[str, Any] = {
            ISSUER + "/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": JWKS_URI},
            JWKS_URI: {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]},
        }
        self.fetched: list[str] = []
        self.down = False

    def __call__(self, url: str) -> dict[str, Any]:
        self.fetched.append(url)
        if self.down or url not in self.documents:
            raise IssuerUnavailable(f"{url} unreachable")
        doc: dict[str, Any] = self.documents[url]
        return doc


@pytest.fixture
def issuer(cluster_key: rsa.RSAPrivateKey) -> StubIssuer:
    return StubIssuer(cluster_key)


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    return Inventory(tmp_path / "local-cloud.json")


@pytest.fixture
def uami(inventory: Inventory) -> dict[str, str]:
    """An identity with a FIC for `sc-account-<clientId>` in namespace `app` and a blob data role."""
    res = ident.create_identity(inventory, IDENTITY_ID)
    client_id, principal_id = res.properties["clientId"], res.properties["principalId"]
    subject = f"system:serviceaccount:app:sc-account-{client_id}"
    ident.ensure_federated_credential(inventory, IDENTITY_ID, "sc-fic", ISSUER, subject)
    admin.grant(inventory, principal_id, "Storage Blob Data Contributor", STORAGE_ID)
    return {"clientId": client_id, "principalId": principal_id, "subject": subject}


@pytest.fixture
def client(inventory: Inventory, signer: Signer, issuer: StubIssuer) -> Iterator[TestClient]:
    app = create_app(Settings(inventory=inventory.path, signer=signer, fetch=issuer))
    with TestClient(app, base_url=AUTHORITY) as c:
        yield c


def sa_token(
    key: rsa.RSAPrivateKey,
    subject: str,
    *,
    audience: str | list[str] = "api://AzureADTokenExchange",
    issuer: str = ISSUER,
    lifetime: int = 3600,
    start: int | None = None,
    kid: str | None = KID,
) -> str:
    """A service-account token as the kube-apiserver writes it (RS256, aud list, iat/nbf/exp)."""
    now = int(time.time()) if start is None else start
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": [audience] if isinstance(audience, str) else audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "kubernetes.io": {"namespace": "app", "serviceaccount": {"name": subject.rsplit(":", 1)[-1]}},
    }
    headers = {"kid": kid} if kid else {}
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def assertion_form(client_id: str, assertion: str, resource: str = STORAGE) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "scope": f"{resource}/.default",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }


def refused(resp: Any, status: int, error: str, code: int) -> str:
    """Assert an Entra-shaped refusal and return its description."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "Trace ID: " in body["error_description"] and "Correlation ID: " in body["error_description"]
    assert body["error_uri"] == f"{AUTHORITY}/error?code={code}"
    assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()
    assert resp.headers["cache-control"] == "no-store"
    return str(body["error_description"])


Post = Callable[[dict[str, str]], Any]


@pytest.fixture
def post(client: TestClient) -> Post:
    return lambda form: client.post(TOKEN_URL, data=form)


# ------------------------------------------------------------------------------------------ token exchange


def test_workload_identity_token_for_storage(
    post: Post, client: TestClient, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey
) -> None:
    resp = post(assertion_form(uami["clientId"], sa_token(cluster_key, uami["subject"])))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == 3599
    keys = jwt.PyJWKSet.from_dict(client.get(f"/{LOCAL_TENANT}/discovery/v2.0/keys").json())
    kid = jwt.get_unverified_header(body["access_token"])["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims = jwt.decode(body["access_token"], key, algorithms=["RS256"], audience=STORAGE)
    assert claims["iss"] == f"https://sts.windows.net/{LOCAL_TENANT}/"  # what Azurite requires
    assert claims["tid"] == LOCAL_TENANT
    assert claims["oid"] == claims["sub"] == uami["principalId"]
    assert claims["appid"] == claims["azp"] == uami["clientId"]
    assert claims["appidacr"] == "2"
    assert claims["idtyp"] == "app" and claims["ver"] == "1.0"
    assert claims["xms_mirid"] == IDENTITY_ID
    assert claims["exp"] - int(time.time()) in range(3590, 3600)
    assert claims["nbf"] == claims["iat"] <= int(time.time()) - 299


def test_assertion_for_another_service_account_is_70021(
    post: Post, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey
) -> None:
    other = "system:serviceaccount:app:someone-else"
    text = refused(post(assertion_form(uami["clientId"], sa_token(cluster_key, other))), 400, "invalid_request", 70021)
    assert "No matching federated identity record found for presented assertion." in text
    assert f"Assertion Issuer: '{ISSUER}'. Assertion Subject: '{other}'." in text
    assert "Assertion Audience: 'api://AzureADTokenExchange'" in text


def test_identity_without_federated_credential_is_70021(
    post: Post, inventory: Inventory, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey
) -> None:
    assert ident.delete_federated_credential(inventory, IDENTITY_ID, "sc-fic")
    form = assertion_form(uami["clientId"], sa_token(cluster_key, uami["subject"]))
    refused(post(form), 400, "invalid_request", 70021)


def test_issuer_mismatch_is_700211(post: Post, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey) -> None:
    token = sa_token(cluster_key, uami["subject"], issuer="https://another-cluster.test")
    text = refused(post(assertion_form(uami["clientId"], token)), 401, "invalid_client", 700211)
    assert "issuer 'https://another-cluster.test'" in text


def test_audience_mismatch_is_700212(post: Post, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey) -> None:
    token = sa_token(cluster_key, uami["subject"], audience="https://kubernetes.default.svc")
    text = refused(post(assertion_form(uami["clientId"], token)), 401, "invalid_client", 700212)
    assert "audience 'https://kubernetes.default.svc'" in text


def test_expired_and_not_yet_valid_assertions_are_700024(
    post: Post, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey
) -> None:
    now = int(time.time())
    expired = sa_token(cluster_key, uami["subject"], start=now - 7200, lifetime=3600)
    text = refused(post(assertion_form(uami["clientId"], expired)), 401, "invalid_client", 700024)
    assert "Client assertion is not within its valid time range." in text
    future = sa_token(cluster_key, uami["subject"], start=now + 600)
    refused(post(assertion_form(uami["clientId"], future)), 401, "invalid_client", 700024)
    within_leeway = sa_token(cluster_key, uami["subject"], start=now - 3630, lifetime=3600)
    assert post(assertion_form(uami["clientId"], within_leeway)).status_code == 200


def test_forged_signature_and_unknown_key_are_50013(post: Post, uami: dict[str, str]) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = refused(
        post(assertion_form(uami["clientId"], sa_token(forger, uami["subject"]))), 401, "invalid_client", 50013
    )
    assert "did not match the expected signature" in text
    unknown = sa_token(forger, uami["subject"], kid="not-a-cluster-key")
    assert "The key was not found" in refused(
        post(assertion_form(uami["clientId"], unknown)), 401, "invalid_client", 50013
    )


def test_unsigned_and_hmac_assertions_are_refused(post: Post, uami: dict[str, str]) -> None:
    claims = {"iss": ISSUER, "sub": uami["subject"], "aud": ["api://AzureADTokenExchange"], "exp": time.time() + 60}
    unsigned = jwt.encode(claims, "", algorithm="none")
    refused(post(assertion_form(uami["clientId"], unsigned)), 400, "invalid_request", 5002730)
    hmac_signed = jwt.encode(claims, "a-shared-secret-of-32-bytes-length!", algorithm="HS256", headers={"kid": KID})
    refused(post(assertion_form(uami["clientId"], hmac_signed)), 400, "invalid_request", 5002730)


def test_key_of_another_type_fails_signature_check(post: Post, uami: dict[str, str]) -> None:
    """An ES256 token naming the issuer's RSA key id must not verify (no algorithm confusion)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": uami["subject"], "aud": ["api://AzureADTokenExchange"], "exp": now + 60}
    token = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": KID})
    refused(post(assertion_form(uami["clientId"], token)), 401, "invalid_client", 50013)


def test_malformed_assertion_is_50027(post: Post, uami: dict[str, str]) -> None:
    refused(post(assertion_form(uami["clientId"], "not-a-jwt")), 400, "invalid_request", 50027)
    refused(post(assertion_form(uami["clientId"], "e30.e30*.x")), 400, "invalid_request", 50027)  # not base64url
    refused(post(assertion_form(uami["clientId"], "W10.e30.")), 400, "invalid_request", 50027)  # header not an object
    no_sub = jwt.encode({"iss": ISSUER, "aud": "x"}, "", algorithm="none")
    refused(post(assertion_form(uami["clientId"], no_sub)), 400, "invalid_request", 50027)


def test_unknown_client_is_700016(post: Post, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey) -> None:
    stranger = str(uuid.uuid4())
    text = refused(
        post(assertion_form(stranger, sa_token(cluster_key, uami["subject"]))), 400, "unauthorized_client", 700016
    )
    assert f"Application with identifier '{stranger}' was not found in the directory '{LOCAL_TENANT}'" in text


def test_unreachable_issuer_is_50166_and_keys_are_cached(
    post: Post, issuer: StubIssuer, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey
) -> None:
    form = assertion_form(uami["clientId"], sa_token(cluster_key, uami["subject"]))
    assert post(form).status_code == 200
    assert post(form).status_code == 200
    assert len(issuer.fetched) == 2  # discovery + JWKS, once for both requests
    issuer.down = True
    assert post(form).status_code == 200  # cached keys keep working while the issuer is down


def test_issuer_down_from_the_start_is_50166(
    post: Post, issuer: StubIssuer, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey
) -> None:
    issuer.down = True
    form = assertion_form(uami["clientId"], sa_token(cluster_key, uami["subject"]))
    assert ISSUER in refused(post(form), 401, "invalid_client", 50166)


def test_issuer_keys_refetch_for_unknown_kid_is_rate_limited(issuer: StubIssuer) -> None:
    keys = IssuerKeys(issuer, lifespan=300, cooldown=10)
    assert keys.key(ISSUER, KID) is not None
    assert keys.key(ISSUER, "rotated") is None
    assert keys.key(ISSUER, "rotated") is None
    assert len(issuer.fetched) == 2  # discovery + JWKS: unknown kids within the cooldown did not refetch
    eager = IssuerKeys(issuer, lifespan=300, cooldown=0)
    assert eager.key(ISSUER, KID) is not None
    assert eager.key(ISSUER, "rotated") is None
    assert len(issuer.fetched) == 5  # without a cooldown, the unknown kid refetched the JWKS once


def test_discovery_naming_another_issuer_is_refused(issuer: StubIssuer) -> None:
    issuer.documents[ISSUER + "/.well-known/openid-configuration"] = {
        "issuer": "https://evil.test",
        "jwks_uri": JWKS_URI,
    }
    with pytest.raises(IssuerUnavailable, match="names another issuer"):
        IssuerKeys(issuer).key(ISSUER, KID)


# ------------------------------------------------------------------------------------------ request shape


@pytest.mark.parametrize(
    ("change", "status", "error", "code"),
    [
        ({"grant_type": None}, 400, "invalid_request", 900144),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"client_id": None}, 400, "invalid_request", 900144),
        ({"scope": None}, 400, "invalid_request", 900144),
        ({"scope": STORAGE}, 400, "invalid_scope", 1002012),
        ({"scope": f"{STORAGE}/.default {VAULT}/.default"}, 400, "invalid_scope", 70011),
        ({"scope": "https://api.loganalytics.io/.default"}, 400, "invalid_resource", 500011),
        (
            {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
            400,
            "invalid_request",
            90011,
        ),
        ({"client_assertion_type": None}, 400, "invalid_request", 900144),
        ({"client_assertion": None, "client_assertion_type": None}, 401, "invalid_client", 7000218),
        ({"client_secret": "also-a-secret"}, 400, "invalid_request", 9002313),
    ],
)
def test_malformed_requests(
    post: Post,
    uami: dict[str, str],
    cluster_key: rsa.RSAPrivateKey,
    change: dict[str, str | None],
    status: int,
    error: str,
    code: int,
) -> None:
    form: dict[str, str] = assertion_form(uami["clientId"], sa_token(cluster_key, uami["subject"]))
    for name, value in change.items():
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value
    refused(post(form), status, error, code)


def test_body_must_be_one_form(client: TestClient, uami: dict[str, str]) -> None:
    as_json = client.post(TOKEN_URL, json={"grant_type": "client_credentials"})
    refused(as_json, 400, "invalid_request", 9002313)
    twice = client.post(
        TOKEN_URL,
        content="grant_type=client_credentials&client_id=a&client_id=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "more than once" in refused(twice, 400, "invalid_request", 9002313)


def test_unknown_tenant_is_90002(client: TestClient) -> None:
    resp = client.post("/contoso.onmicrosoft.com/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
    refused(resp, 400, "invalid_request", 90002)
    disc = client.get("/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration")
    refused(disc, 400, "invalid_tenant", 90002)


def test_correlation_id_is_echoed(client: TestClient) -> None:
    cid = str(uuid.uuid4())
    resp = client.post(TOKEN_URL, data={"grant_type": "x"}, headers={"client-request-id": cid})
    assert resp.json()["correlation_id"] == cid
    assert f"Correlation ID: {cid}" in resp.json()["error_description"]


# -------------------------------------------------------------------------------------------- role gate


def test_role_gate_follows_the_inventory(
    post: Post, inventory: Inventory, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey
) -> None:
    token = sa_token(cluster_key, uami["subject"])
    vault = assertion_form(uami["clientId"], token, VAULT)
    text = refused(post(vault), 400, "invalid_grant", 501051)
    assert f"is not assigned to a role for the application '{VAULT}'(Azure Key Vault)" in text
    vault_id = STORAGE_ID.replace("Microsoft.Storage/storageAccounts/devstoreaccount1", "Microsoft.KeyVault/vaults/kv")
    secrets_user = "4633458b-17de-408a-b874-0445c86b69e6"  # Key Vault Secrets User
    admin.grant(inventory, uami["principalId"], secrets_user, vault_id)
    assert post(vault).status_code == 200
    assert post(assertion_form(uami["clientId"], token, "https://management.azure.com")).status_code == 200
    assert admin.revoke(inventory, uami["principalId"], None, STORAGE_ID) == 1
    refused(post(assertion_form(uami["clientId"], token)), 400, "invalid_grant", 501051)  # storage: re-read
    assert post(vault).status_code == 200
    admin.revoke(inventory, uami["principalId"], None, vault_id)
    # Entra issues Resource Manager tokens to every principal: ARM authorizes each call by role assignment
    assert post(assertion_form(uami["clientId"], token, "https://management.azure.com")).status_code == 200


def test_malformed_inventory_keeps_the_last_good_directory(
    post: Post, inventory: Inventory, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey
) -> None:
    form = assertion_form(uami["clientId"], sa_token(cluster_key, uami["subject"]))
    assert post(form).status_code == 200
    good = inventory.path.read_text()
    inventory.path.write_text(good[: len(good) // 2])  # a half-written hand edit
    assert post(form).status_code == 200
    inventory.path.write_text(good)
    assert post(form).status_code == 200


def test_account_specific_storage_audience(post: Post, uami: dict[str, str], cluster_key: rsa.RSAPrivateKey) -> None:
    resource = "https://devstoreaccount1.blob.core.windows.net"
    resp = post(assertion_form(uami["clientId"], sa_token(cluster_key, uami["subject"]), resource))
    assert resp.status_code == 200
    assert jwt.decode(resp.json()["access_token"], options={"verify_signature": False})["aud"] == resource


def test_role_keys_and_services() -> None:
    by_name = RoleAssignment(
        id="1",
        scope="/s",
        principal_id="p",
        role_definition_id="Key Vault Secrets Officer",
        role_name="Key Vault Secrets Officer",
    )
    assert "b86a8fe4-44ce-4948-aee5-eccb2c155cd7" in role_keys(by_name)
    full = RoleAssignment(
        id="2",
        scope="/s",
        principal_id="p",
        role_definition_id="/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/"
        "BA92F5B4-2D11-453D-A403-E96B0029C9FE",
    )
    assert role_keys(full) == {"ba92f5b4-2d11-453d-a403-e96b0029c9fe"}
    storage = service_for("https://storage.azure.com/")
    assert storage is not None and storage.grants(frozenset(role_keys(full)))
    assert not storage.grants(frozenset(role_keys(by_name)))
    assert service_for("https://myvault.vault.azure.net") is service_for(VAULT)
    assert service_for("https://evil.example/storage.azure.com") is None
    redis = service_for("https://redis.azure.com")
    assert redis is not None and redis.grants(frozenset({"data owner"}))


# ----------------------------------------------------------------------------------- service principals


@pytest.fixture
def sp(inventory: Inventory) -> tuple[str, str, str]:
    principal, secret = ident.create_service_principal(inventory, "ci-deployer")
    admin.grant(inventory, principal.object_id, "Storage Blob Data Reader", STORAGE_ID)
    return principal.client_id, principal.object_id, secret


def secret_form(client_id: str, secret: str, resource: str = STORAGE) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "scope": f"{resource}/.default",
        "client_secret": secret,
    }


def test_service_principal_secret(post: Post, client: TestClient, sp: tuple[str, str, str]) -> None:
    client_id, object_id, secret = sp
    resp = post(secret_form(client_id, secret))
    assert resp.status_code == 200, resp.text
    claims = jwt.decode(resp.json()["access_token"], options={"verify_signature": False})
    assert claims["oid"] == object_id and claims["appid"] == client_id and claims["appidacr"] == "1"
    assert "xms_mirid" not in claims
    text = refused(post(secret_form(client_id, secret + "x")), 401, "invalid_client", 7000215)
    assert secret not in text
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    form = {"grant_type": "client_credentials", "scope": f"{STORAGE}/.default"}
    ok = client.post(TOKEN_URL, data=form, headers={"Authorization": f"Basic {basic}"})
    assert ok.status_code == 200, ok.text


def test_secret_for_a_managed_identity_is_7000215(post: Post, uami: dict[str, str]) -> None:
    refused(post(secret_form(uami["clientId"], "guess")), 401, "invalid_client", 7000215)


def test_nothing_secret_is_logged(
    post: Post,
    sp: tuple[str, str, str],
    uami: dict[str, str],
    cluster_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client_id, _, secret = sp
    issued = post(secret_form(client_id, secret)).json()["access_token"]
    post(secret_form(client_id, "wrong-secret-value"))
    assertion = sa_token(cluster_key, "system:serviceaccount:app:x")
    post(assertion_form(uami["clientId"], assertion))
    logged = caplog.text
    assert "AADSTS7000215" in logged and "AADSTS70021" in logged
    for value in (secret, "wrong-secret-value", issued, assertion, assertion.split(".")[1]):
        assert value not in logged


def test_secret_hashing(inventory: Inventory, sp: tuple[str, str, str]) -> None:
    client_id, _, secret = sp
    stored = ident.get_service_principal(inventory, client_id)
    assert len(secret) == 40 and secret[4:6] == "Q~"
    assert secret not in inventory.path.read_text()
    assert stored.secret_hashes[0].startswith("scrypt$16384$8$1$")
    assert ident.verify_service_principal_secret(stored, secret)
    assert not ident.verify_service_principal_secret(stored, secret[:-1])
    assert not ident.verify_service_principal_secret(stored, "")
    assert ident.hash_secret(secret) != stored.secret_hashes[0]  # salted
    tampered = stored.model_copy(update={"secret_hashes": ["scrypt$99999999$8$1$AA==$AA==", "md5$x"]})
    assert not ident.verify_service_principal_secret(tampered, secret)
    assert ident.public_service_principal(stored)["secretCount"] == 1
    assert "secret_hashes" not in json.dumps(ident.public_service_principal(stored))


# ------------------------------------------------------------------------------------ discovery documents


def test_discovery_documents(client: TestClient) -> None:
    v2 = client.get(f"/{LOCAL_TENANT}/v2.0/.well-known/openid-configuration").json()
    assert v2["token_endpoint"] == f"{AUTHORITY}/{LOCAL_TENANT}/oauth2/v2.0/token"
    assert v2["jwks_uri"] == f"{AUTHORITY}/{LOCAL_TENANT}/discovery/v2.0/keys"
    assert v2["authorization_endpoint"].startswith(AUTHORITY)
    v1 = client.get(f"/{LOCAL_TENANT}/.well-known/openid-configuration").json()
    assert v1["issuer"] == f"https://sts.windows.net/{LOCAL_TENANT}/"
    other_host = client.get(
        f"/{LOCAL_TENANT}/v2.0/.well-known/openid-configuration", headers={"host": "localhost:9443"}
    ).json()
    assert other_host["token_endpoint"].startswith("https://localhost:9443/")
    keys = client.get("/common/discovery/keys").json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["use"] == "sig" and keys[0]["alg"] == "RS256"


def test_instance_discovery(client: TestClient) -> None:
    endpoint = f"{AUTHORITY}/{LOCAL_TENANT}/oauth2/v2.0/authorize"
    found = client.get("/common/discovery/instance", params={"api-version": "1.1", "authorization_endpoint": endpoint})
    assert found.status_code == 200
    body = found.json()
    assert body["tenant_discovery_endpoint"] == f"{AUTHORITY}/{LOCAL_TENANT}/v2.0/.well-known/openid-configuration"
    assert body["metadata"][0]["preferred_network"] == "127.0.0.1:9443"
    assert body["metadata"][0]["aliases"] == ["127.0.0.1:9443", "localhost:9443"]
    unknown = client.get(
        "/common/discovery/instance",
        params={"authorization_endpoint": "https://elsewhere.test/t/oauth2/v2.0/authorize"},
    )
    refused(unknown, 400, "invalid_instance", 50049)


def test_error_page(client: TestClient) -> None:
    page = client.get("/error", params={"code": 70021}).json()
    assert page["code"] == 70021 and "federated-credential create" in page["remedy"]


def test_signer_kid_is_stable(signer: Signer) -> None:
    again = Signer(signer.key)
    assert again.kid == signer.kid and again.jwks() == signer.jwks()


# --------------------------------------------------------------------------------------- identity functions


def test_create_identity_is_idempotent(inventory: Inventory) -> None:
    first = ident.create_identity(inventory, IDENTITY_ID)
    again = ident.create_identity(inventory, IDENTITY_ID.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
    assert again.properties["clientId"] == first.properties["clientId"]
    assert first.properties["tenantId"] == LOCAL_TENANT
    uuid.UUID(first.properties["clientId"])
    uuid.UUID(first.properties["principalId"])
    assert ident.get_identity(inventory, IDENTITY_ID).id == IDENTITY_ID
    other = IDENTITY_ID.replace("sl-dev", "other-rg").replace("app-id", "second")
    ident.create_identity(inventory, other)
    assert [r.name for r in ident.list_identities(inventory)] == ["second", "app-id"]
    assert [r.name for r in ident.list_identities(inventory, resource_group="sl-dev")] == ["app-id"]


@pytest.mark.parametrize(
    "bad",
    [
        "not-an-id",
        STORAGE_ID,
        IDENTITY_ID + "/federatedIdentityCredentials/x",
        IDENTITY_ID.replace("app-id", "a!"),
    ],
)
def test_create_identity_rejects_bad_ids(inventory: Inventory, bad: str) -> None:
    with pytest.raises(ArmError):
        ident.create_identity(inventory, bad)


def test_get_missing_identity_is_arm_not_found(inventory: Inventory) -> None:
    with pytest.raises(ArmError) as err:
        ident.get_identity(inventory, IDENTITY_ID)
    assert err.value.code == "ResourceNotFound"
    assert "Microsoft.ManagedIdentity/userAssignedIdentities/app-id" in err.value.message


def test_federated_credentials(inventory: Inventory) -> None:
    ident.create_identity(inventory, IDENTITY_ID)
    fic = ident.ensure_federated_credential(inventory, IDENTITY_ID, "fic-1", ISSUER, "system:serviceaccount:a:b")
    assert fic.id == IDENTITY_ID + "/federatedIdentityCredentials/fic-1"
    assert fic.properties == {
        "issuer": ISSUER,
        "subject": "system:serviceaccount:a:b",
        "audiences": ["api://AzureADTokenExchange"],
    }
    same = ident.ensure_federated_credential(inventory, IDENTITY_ID, "fic-1", ISSUER, "system:serviceaccount:a:b")
    assert same == fic
    elsewhere = ident.ensure_federated_credential(inventory, IDENTITY_ID, "fic-2", ISSUER, "system:serviceaccount:a:b")
    assert elsewhere.name == "fic-1"  # the wanted credential already exists under another name
    with pytest.raises(ArmError, match="issuer and subject pair can be used only once"):
        ident.ensure_federated_credential(
            inventory, IDENTITY_ID, "fic-2", ISSUER, "system:serviceaccount:a:b", ["api://Other"]
        )
    updated = ident.ensure_federated_credential(inventory, IDENTITY_ID, "fic-1", ISSUER, "system:serviceaccount:a:c")
    assert updated.properties["subject"] == "system:serviceaccount:a:c"
    assert [f.name for f in ident.list_federated_credentials(inventory, IDENTITY_ID)] == ["fic-1"]
    assert ident.delete_federated_credential(inventory, IDENTITY_ID, "fic-1")
    assert not ident.delete_federated_credential(inventory, IDENTITY_ID, "fic-1")


@pytest.mark.parametrize(
    ("name", "issuer", "subject", "audiences"),
    [
        ("x", ISSUER, "s", ["a"]),
        ("ok-name", "http://plain.test", "s", ["a"]),
        ("ok-name", ISSUER, " ", ["a"]),
        ("ok-name", ISSUER, "s", []),
    ],
)
def test_federated_credential_validation(
    inventory: Inventory, name: str, issuer: str, subject: str, audiences: list[str]
) -> None:
    ident.create_identity(inventory, IDENTITY_ID)
    with pytest.raises(ArmError):
        ident.ensure_federated_credential(inventory, IDENTITY_ID, name, issuer, subject, audiences)


def test_federated_credential_on_missing_identity(inventory: Inventory) -> None:
    with pytest.raises(ArmError, match="was not found"):
        ident.ensure_federated_credential(inventory, IDENTITY_ID, "fic", ISSUER, "s")


def test_twenty_federated_credentials_at_most(inventory: Inventory) -> None:
    ident.create_identity(inventory, IDENTITY_ID)
    for i in range(ident.MAX_FEDERATED_CREDENTIALS):
        ident.ensure_federated_credential(inventory, IDENTITY_ID, f"fic-{i:02d}", ISSUER, f"subject-{i}")
    with pytest.raises(ArmError, match="Too many federated identity credentials") as err:
        ident.ensure_federated_credential(inventory, IDENTITY_ID, "fic-20", ISSUER, "subject-20")
    assert err.value.code == "BadRequest" and err.value.status == 400
    # updating one of the twenty is still allowed
    ident.ensure_federated_credential(inventory, IDENTITY_ID, "fic-00", ISSUER, "subject-new")


def test_delete_identity_removes_its_credentials(inventory: Inventory) -> None:
    ident.create_identity(inventory, IDENTITY_ID)
    ident.ensure_federated_credential(inventory, IDENTITY_ID, "fic-1", ISSUER, "s")
    assert ident.delete_identity(inventory, IDENTITY_ID)
    assert inventory.load().resources == {}
    assert not ident.delete_identity(inventory, IDENTITY_ID)


def test_find_principal_by_client_id(inventory: Inventory) -> None:
    res = ident.create_identity(inventory, IDENTITY_ID)
    sp, _ = ident.create_service_principal(inventory, "deployer")
    found = ident.find_principal_by_client_id(inventory, res.properties["clientId"].upper())
    assert found is not None and found.kind == "userAssignedIdentity"
    assert found.object_id == res.properties["principalId"] and found.resource_id == IDENTITY_ID
    found_sp = ident.find_principal_by_client_id(inventory.load(), sp.client_id)
    assert found_sp is not None and found_sp.kind == "servicePrincipal" and found_sp.object_id == sp.object_id
    assert ident.find_principal_by_client_id(inventory, str(uuid.uuid4())) is None
    assert ident.find_principal_by_client_id(inventory, "") is None


def test_service_principal_management(inventory: Inventory) -> None:
    sp, _ = ident.create_service_principal(inventory, "b-app")
    ident.create_service_principal(inventory, "a-app")
    assert [s.display_name for s in ident.list_service_principals(inventory)] == ["a-app", "b-app"]
    assert ident.get_service_principal(inventory, sp.client_id.upper()).object_id == sp.object_id
    assert ident.delete_service_principal(inventory, sp.client_id)
    with pytest.raises(ArmError, match="was not found in the directory"):
        ident.get_service_principal(inventory, sp.client_id)
    with pytest.raises(ArmError):
        ident.create_service_principal(inventory, "  ")


# --------------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Runs `local identity|sp ...` (mounted as cli/local.py will mount them) against a fresh state directory."""
    import typer
    from typer.testing import CliRunner

    from localcloud.cli import identity as identity_cli

    monkeypatch.setenv("SL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("SL_SUBSCRIPTION", raising=False)
    root = typer.Typer()
    root.add_typer(identity_cli.app, name="identity")
    root.add_typer(identity_cli.sp_app, name="sp")
    runner = CliRunner()
    return lambda *args: runner.invoke(root, list(args))


def test_cli_identity_and_federated_credential(cli: Callable[..., Any]) -> None:
    created = cli("identity", "create", "-g", "sl-dev", "-n", "app-id")
    assert created.exit_code == 0, created.output
    shown = json.loads(cli("identity", "show", "--id", IDENTITY_ID).stdout)
    assert shown["clientId"] == json.loads(created.stdout)["clientId"]
    assert shown["id"] == IDENTITY_ID and shown["tenantId"] == LOCAL_TENANT
    assert [i["name"] for i in json.loads(cli("identity", "list").stdout)] == ["app-id"]
    fic = cli(
        "identity",
        "federated-credential",
        "create",
        "-g",
        "sl-dev",
        "--identity-name",
        "app-id",
        "-n",
        "sc-fic",
        "--issuer",
        ISSUER,
        "--subject",
        "system:serviceaccount:app:sc-account-x",
    )
    assert fic.exit_code == 0, fic.output
    assert json.loads(fic.stdout)["audiences"] == ["api://AzureADTokenExchange"]
    listed = json.loads(cli("identity", "federated-credential", "list", "--identity-id", IDENTITY_ID).stdout)
    assert [f["name"] for f in listed] == ["sc-fic"]
    missing = cli("identity", "show", "-g", "sl-dev", "-n", "nope")
    assert missing.exit_code == 1 and "(ResourceNotFound)" in missing.output
    assert cli("identity", "show").exit_code == 1  # neither --id nor -g/-n


def test_cli_service_principal_secret_is_shown_once(cli: Callable[..., Any]) -> None:
    created = cli("sp", "create", "--name", "deployer")
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    assert {"clientId", "objectId", "tenantId", "clientSecret"} <= body.keys()
    shown = cli("sp", "show", "--id", body["clientId"])
    assert body["clientSecret"] not in shown.stdout and "clientSecret" not in shown.stdout
    assert json.loads(shown.stdout)["objectId"] == body["objectId"]
    listed = cli("sp", "list")
    assert body["clientSecret"] not in listed.stdout and "scrypt" not in listed.stdout
    assert cli("sp", "delete", "--id", body["clientId"]).exit_code == 0
    assert cli("sp", "show", "--id", body["clientId"]).exit_code == 1
