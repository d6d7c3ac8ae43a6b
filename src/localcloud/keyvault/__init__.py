"""A small Azure Key Vault *secrets* data-plane server for the dev stack.

Why it exists: the planned emulator (Lowkey Vault) cannot be obtained here, and the project only allows a fake for
services no registry offers, on condition that it speaks the documented wire format. This server implements the
secrets part of the Key Vault REST API (api-version 7.0-7.6 plus the dated versions newer SDKs send by default), so
the official `azure-keyvault-secrets` SDK talks to it unchanged, including Key Vault's challenge protocol:

* A request without `Authorization: Bearer ...` gets 401 with
  `WWW-Authenticate: Bearer authorization="<authority>", resource="https://vault.azure.net"`; the SDK then asks its
  credential for `https://vault.azure.net/.default` and retries. Vault URLs here are not under `vault.azure.net`,
  so SDK clients must pass `verify_challenge_resource=False` (the same as with Lowkey Vault).
* Token validation has two modes.
  - Dev mode (the default): any well-formed JWT whose `aud` is `https://vault.azure.net` (or with a trailing slash)
    and that is neither expired nor not-yet-valid is accepted. THE SIGNATURE IS NOT CHECKED: this mode only keeps
    the protocol honest for local development and must never guard anything of value.
  - Verifying mode (`--jwks-url` and `--issuer`): RS256 signature against that JWKS, `iss`, `aud`, `exp`/`nbf`,
    and an `oid` or `sub` claim. With `--require-role`, every request is also checked against an access file
    (JSON, `--access-file`, re-read when it changes) that grants object ids permissions per vault.

Vaults are selected by the Host header's first label (`<vault>.localhost:<port>`, like Lowkey Vault), else by the
listening port (`--vault-port NAME=PORT` opens an extra listener for that vault, for machines where `*.localhost`
does not resolve), else the first vault is used (e.g. for `127.0.0.1` and `localhost`). Secret ids are built from
the scheme, host and port the client used, so they round-trip through the SDK's identifier parsing.

State lives in memory, or in a JSON file (`--state-file`, written atomically, mode 0600) so a restart keeps it.
Secret values are never logged nor put into error messages; the state file holds them in clear text (it is a dev
emulator), hence its mode.

Modules: `protocol` (constants and errors), `store` (the secrets), `wire` (parsing and rendering), `auth`
(authentication and authorization), `app` (HTTP routes and `main`).
"""
