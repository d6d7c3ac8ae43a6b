"""Entra error responses (AADSTS codes) with Entra's wording."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from localcloud.entra.protocol import (
    JWT_BEARER,
)
from localcloud.inventory import LOCAL_TENANT

# -------------------------------------------------------------------------------------------------- errors


class EntraError(Exception):
    """A refusal in Entra's words: OAuth `error`, AADSTS `code`, description, and HTTP status."""

    def __init__(self, error: str, code: int, description: str, status: int = 400) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.error = error
        self.code = code
        self.description = description
        self.status = status

    def body(self, authority: str, correlation_id: str | None = None) -> dict[str, Any]:
        """The JSON body Entra sends, with fresh trace id and the caller's correlation id when it sent one."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace = str(uuid.uuid4())
        correlation = correlation_id or str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.description} Trace ID: {trace} "
            f"Correlation ID: {correlation} Timestamp: {now}",
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{authority}/error?code={self.code}",
        }


def missing_parameter(name: str) -> EntraError:
    return EntraError("invalid_request", 900144, f"The request body must contain the following parameter: '{name}'.")


def malformed_request(why: str) -> EntraError:
    return EntraError("invalid_request", 9002313, f"Invalid request. Request is malformed or invalid: {why}.")


def tenant_not_found(tenant: str, error: str = "invalid_request") -> EntraError:
    return EntraError(
        error,
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        f"signing into the correct cloud. The local cloud's tenant is {LOCAL_TENANT}.",
    )


def assertion_error(code: int, description: str, error: str = "invalid_client") -> EntraError:
    """Assertion refusals are `invalid_client` (401) unless the request itself was malformed (400)."""
    return EntraError(error, code, description, 401 if error == "invalid_client" else 400)


#: What each code means and what to do, served at /error?code=N (Entra's error_uri page, locally).
ERROR_HELP: dict[int, tuple[str, str]] = {
    900144: ("A required parameter is missing.", "Send grant_type, client_id, scope and one credential."),
    70003: ("Unsupported grant type.", "Only client_credentials is supported by the local token service."),
    9002313: ("The request is malformed.", "Send one application/x-www-form-urlencoded body, each parameter once."),
    90002: ("Unknown tenant.", f"Use the local tenant id {LOCAL_TENANT}."),
    1002012: ("The scope is not '<resource>/.default'.", "Client credentials need a '/.default' scope."),
    70011: ("Invalid scope.", "Ask for one resource per token request."),
    500011: ("Unknown resource.", "Ask for a resource the local cloud serves (see RESOURCE_SERVICES)."),
    700016: (
        "Unknown client id.",
        "Use the clientId of an identity (`servicelinker local identity list`) or a "
        "service principal (`servicelinker local sp list`).",
    ),
    7000218: ("No client credential.", "Send client_assertion (workload identity) or client_secret."),
    90011: ("Unexpected client assertion type.", f"Use client_assertion_type={JWT_BEARER}."),
    50027: ("The assertion is not a valid JWT.", "Send the service-account token itself."),
    5002730: ("Unsupported assertion signing algorithm.", "Sign assertions with RS256 or ES256."),
    70021: (
        "No matching federated identity credential.",
        "Create a federated credential whose issuer, subject "
        "and audience equal the token's (`servicelinker local identity federated-credential create`).",
    ),
    700211: (
        "No federated credential with the assertion's issuer.",
        "Set the credential's issuer to the cluster's OIDC issuer URL, exactly.",
    ),
    700212: (
        "No federated credential with the assertion's audience.",
        "Request the service-account token with "
        "audience api://AzureADTokenExchange, or add that audience to the credential.",
    ),
    50013: ("Assertion signature validation failed.", "The token must be signed by the issuer's current key."),
    700024: ("The assertion is expired or not yet valid.", "Use a fresh service-account token."),
    50166: (
        "The issuer's OIDC discovery document or keys could not be fetched.",
        "Check the issuer is reachable and trusted (--issuer-ca).",
    ),
    7000215: ("Invalid client secret.", "Send the secret value printed by `servicelinker local sp create`."),
    501051: (
        "The principal holds no role that grants the requested resource's service.",
        "Assign a data role on the target (`servicelinker local role assign`).",
    ),
}
