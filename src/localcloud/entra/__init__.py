"""The local cloud's token service: Microsoft Entra ID's v2 token endpoint for apps, enough for azure-identity and
MSAL to work unchanged with `AZURE_AUTHORITY_HOST=https://127.0.0.1:<port>`.

Endpoints (`{tenant}` = the local tenant id):
* `GET /{tenant}/v2.0/.well-known/openid-configuration`, `GET /{tenant}/.well-known/openid-configuration` (v1),
  `GET /common/discovery/instance` (MSAL instance discovery), `GET /{tenant}/discovery/v2.0/keys` (our JWKS, also
  at `/{tenant}/discovery/keys` and `/common/discovery/keys`), `GET /error?code=N` (what a code means).
* `POST /{tenant}/oauth2/v2.0/token`, form-encoded, `grant_type=client_credentials`, `client_id`,
  `scope=<resource>/.default`, and one credential:
  - `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` + `client_assertion` (workload
    identity): the assertion must match a federated identity credential (FIC) of the user-assigned identity
    (issuer, subject, one audience; exact, case-sensitive compares, as Entra does since 2025) and verify against the
    FIC issuer's JWKS (signature; `exp`/`nbf` with `LEEWAY` seconds). The JWKS is found through the issuer's OIDC
    discovery document, fetched over HTTPS trusting the system roots plus every `--issuer-ca` (the kube-apiserver's
    CA on the dev stack), cached for `JWKS_TTL` and refetched at most every `MIN_REFRESH` seconds for an unknown kid.
    Only issuers named by a FIC that matched the assertion are ever fetched, so a caller cannot make the service
    fetch URLs of its choosing.
  - `client_secret` (in the form, or HTTP Basic): for service principals, checked against salted scrypt hashes.

Issued access tokens are RS256 JWTs signed with `--signing-key` (its public half is our JWKS): `aud` = the
requested resource, `iss` = `https://sts.windows.net/<tenant>/` (the v1 issuer: Entra gives Azure resources v1
tokens even through the v2 endpoint, and Azurite accepts nothing else), `tid`, `oid` = `sub` = the principal's
object id, `appid` = `azp` = the client id, `appidacr`/`azpacr` (1 = secret, 2 = assertion), `idp`,
`idtyp: app`, `ver: 1.0`, `uti`, `xms_mirid` (identities), `iat = nbf = now - 5 min` (Entra's skew allowance),
`exp = now + 3599 s`.

Role gate (stricter than Entra, on purpose): Entra issues an app token for any resource in the tenant and leaves
authorization to the resource, but Azurite authorizes every valid token and the dev Key Vault may run without an
access file. So that removing a role assignment really removes access on the local cloud, a token is issued only
when the principal holds at least one role assignment (at any scope: the resource server checks scopes) whose role
serves the requested resource (`RESOURCE_SERVICES`: storage.azure.com -> Storage data roles, vault.azure.net ->
Key Vault data roles, management.azure.com -> any role, ...). Refusals use AADSTS501051 ("not assigned to a role
for the application"), the code Entra gives when a resource requires an app-role assignment the client lacks: the
closest documented situation.

Errors have Entra's JSON shape (`error`, `error_description` ending in Trace ID / Correlation ID / Timestamp,
`error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`) and Entra's statuses (400, or 401 for
`invalid_client`). Codes, with where they come from:

| situation | error | code |
|---|---|---|
| missing parameter | invalid_request | 900144 |
| grant type other than client_credentials | unsupported_grant_type | 70003 |
| body not a form / duplicate parameter / both credentials | invalid_request | 9002313 |
| unknown tenant | invalid_request (token) / invalid_tenant (discovery) | 90002 |
| scope without `/.default` | invalid_scope | 1002012 |
| several resources in scope | invalid_scope | 70011 |
| resource not known to the local cloud | invalid_resource | 500011 |
| unknown client id | unauthorized_client | 700016 |
| no credential presented | invalid_client | 7000218 |
| wrong client_assertion_type | invalid_request | 90011 |
| assertion not a JWT / claims missing | invalid_request | 50027 |
| unsupported signing algorithm | invalid_request | 5002730 |
| identity has no FIC, or no FIC with the assertion's subject | invalid_request | 70021 |
| no FIC with the assertion's issuer | invalid_client | 700211 |
| FIC issuer+subject match, audience does not | invalid_client | 700212 |
| signature invalid or key not found | invalid_client | 50013 |
| assertion expired or not yet valid | invalid_client | 700024 |
| issuer's discovery/JWKS unreachable | invalid_client | 50166 (approximation) |
| wrong client secret | invalid_client | 7000215 |
| no role assignment that grants the resource's service | invalid_grant | 501051 (see above) |

Secrets, assertions and tokens are never logged nor echoed in errors (only the assertion's issuer, subject and
audience, which Entra echoes too).

Modules: `protocol` (constants), `roles` (the role gate), `errors` (AADSTS errors), `directory` (who is who, from
the inventory), `tokens` (the exchange itself), `app` (HTTP routes and `main`). Issuer keys come from
`localcloud.oidc`.
"""
