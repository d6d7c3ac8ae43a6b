"""Microsoft Graph, for the one thing ARM cannot answer: which service principal an application (client) id is.

Graph has no management SDK for Python worth its weight here, so this is one GET through azure-core's pipeline
(bearer token for the profile's Graph audience, retries, the profile's CA) - what `az ad sp show --id` does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest

from servicelinker.clouds.azure.errors import arm_errors
from servicelinker.clouds.azure.profile import CloudProfile
from servicelinker.model.errors import ArmError, shown


class Graph:
    def __init__(self, profile: CloudProfile, credential: TokenCredential, **pipeline: Any) -> None:
        policies = [RetryPolicy(), BearerTokenCredentialPolicy(credential, profile.graph_scope)]
        self._client: PipelineClient[Any, Any] = PipelineClient(
            base_url=profile.graph_endpoint.rstrip("/"), policies=policies, **profile.transport_options(), **pipeline
        )

    def service_principal(self, app_id: str) -> dict[str, Any] | None:
        """The service principal of application `app_id` (`id` is its object id), None when there is none."""
        path = f"/v1.0/servicePrincipals(appId='{quote(app_id, safe='')}')"
        request = HttpRequest("GET", self._client.format_url(path), headers={"Accept": "application/json"})
        with arm_errors(f"servicePrincipals/{app_id}"):
            response = self._client.send_request(request)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            error = (response.json() or {}).get("error", {}) if response.text() else {}
            raise ArmError(str(error.get("code") or "GraphError"),
                           shown(str(error.get("message") or response.reason), 300), status=response.status_code,
                           target=f"servicePrincipals/{app_id}",
                           remedy="The caller needs Application.Read.All (or Directory.Read.All) in Microsoft Graph.")
        data: dict[str, Any] = response.json()
        return data

    def close(self) -> None:
        self._client.close()
