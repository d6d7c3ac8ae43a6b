"""Which Azure cloud the adapter talks to, and as whom: endpoints and the credential, from configuration only.

A cloud is its Resource Manager endpoint, the token audience ARM accepts, the Entra authority that issues tokens,
the Microsoft Graph endpoint and, for a private cloud, the CA that signs their certificates. Public Azure needs
nothing configured. A sovereign or private cloud (Azure Government, Azure China, Azure Stack, the dev stack's
local cloud) is described by a profile file, `SL_CLOUD_PROFILE` (default `<state dir>/cloud-profile.json`, which
`devstack up` writes), in this shape:

    {"armEndpoint": "https://...", "armAudience": "https://management.azure.com/", "authorityHost": "https://...",
     "tenantId": "...", "graphEndpoint": "https://...", "graphAudience": "https://graph.microsoft.com",
     "caBundle": "/path/ca.pem", "clientId": "...", "clientSecretFile": "/path/secret", "subscriptionId": "..."}

(`subscriptionId` is the cloud's default subscription, as `az account set` keeps one; `--subscription` and
`AZURE_SUBSCRIPTION_ID` win over it.)

The credential is `DefaultAzureCredential` (environment, workload identity, managed identity, az login, ... in its
documented order; `AZURE_TOKEN_CREDENTIALS` narrows it), unless the profile names a service principal
(`clientId` + `clientSecretFile`), as the dev stack's does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

PUBLIC_ARM = "https://management.azure.com"
PUBLIC_AUDIENCE = "https://management.azure.com/"
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
PUBLIC_GRAPH = "https://graph.microsoft.com"
PROFILE_FILE = "cloud-profile.json"


class CloudProfile(BaseModel):
    """One Azure cloud's endpoints, and optionally the service principal to act as."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")

    arm_endpoint: str = PUBLIC_ARM
    arm_audience: str = PUBLIC_AUDIENCE
    authority_host: str = PUBLIC_AUTHORITY
    graph_endpoint: str = PUBLIC_GRAPH
    #: The token audience of Graph, when it differs from its endpoint (a private cloud serving Graph elsewhere).
    graph_audience: str | None = None
    subscription_id: str | None = None
    tenant_id: str | None = None
    #: A CA bundle for a private cloud's certificates (None: the system's trust store).
    ca_bundle: Path | None = None
    client_id: str | None = None
    client_secret_file: Path | None = Field(default=None, repr=False)

    @classmethod
    def load(cls, path: Path | None) -> CloudProfile:
        """The profile in `path`, or public Azure when there is none."""
        if path is None or not path.is_file():
            return cls()
        data: dict[str, Any] = json.loads(path.read_text())
        return cls.model_validate(data)

    @property
    def arm_scope(self) -> str:
        return self.arm_audience.rstrip("/") + "/.default"

    @property
    def graph_scope(self) -> str:
        return (self.graph_audience or self.graph_endpoint).rstrip("/") + "/.default"

    def transport_options(self) -> dict[str, Any]:
        """What every pipeline (SDK clients, azure-identity) needs to reach this cloud."""
        return {"connection_verify": str(self.ca_bundle)} if self.ca_bundle else {}

    def credential(self) -> TokenCredential:
        from azure.identity import ClientSecretCredential, DefaultAzureCredential

        options: dict[str, Any] = {"authority": self.authority_host, **self.transport_options()}
        if self.authority_host.rstrip("/") != PUBLIC_AUTHORITY:
            # MSAL validates unknown authorities against login.microsoftonline.com (Azure Stack, private clouds)
            options["disable_instance_discovery"] = True
        if self.client_id and self.client_secret_file and self.tenant_id:
            secret = self.client_secret_file.read_text().strip()
            return ClientSecretCredential(self.tenant_id, self.client_id, secret, **options)
        return DefaultAzureCredential(**options)
