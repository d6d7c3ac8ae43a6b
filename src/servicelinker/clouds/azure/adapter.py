"""The Cloud port on Azure Resource Manager: the official management SDKs and Microsoft Graph.

Registered as the `azure` entry point of `servicelinker.clouds`. Which cloud (public Azure, a sovereign cloud, the
dev stack's local ARM endpoint) and which credential come from the profile (`profile.py`), never from code.
Constructed per principal: `principal=None` is the adapter's own identity (the CLI); the REST server passes the
caller's object id, whose permissions the pre-checks then evaluate (the adapter still acts with its own
credential, and ARM's answer on the real call is final).
"""

from __future__ import annotations

import base64
import json
from functools import cached_property
from typing import Any

from azure.core.credentials import TokenCredential

from servicelinker.catalog.targets import Target
from servicelinker.clouds.azure import access, clusters, facts, firewalls, generic, identities
from servicelinker.clouds.azure.clients import ArmClients
from servicelinker.clouds.azure.errors import arm_errors
from servicelinker.clouds.azure.graph import Graph
from servicelinker.clouds.azure.profile import PROFILE_FILE, CloudProfile
from servicelinker.clouds.base import ClusterInfo, FirewallState, IdentityInfo
from servicelinker.model.ids import ResourceId
from servicelinker.model.records import SECRET_FACTS, TargetFacts
from servicelinker.settings import Settings


def _claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified: only to learn who the adapter itself is (ARM verifies the token)."""
    try:
        payload = token.split(".")[1]
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data


class AzureCloud:
    name = "azure"

    def __init__(self, settings: Settings | None = None, principal: str | None = None,
                 profile: CloudProfile | None = None, credential: TokenCredential | None = None,
                 **pipeline: Any) -> None:  # fmt: skip
        """`profile`/`credential` default to the configured ones; `pipeline` options (e.g. `transport`) go to
        every SDK client."""
        self.settings = settings or Settings()
        path = self.settings.cloud_profile or self.settings.state_dir / PROFILE_FILE
        self.profile = profile or CloudProfile.load(path)
        self.credential = credential or self.profile.credential()
        self.clients = ArmClients(self.profile, self.credential, **pipeline)
        self._pipeline = pipeline
        self._caller = principal

    # who ------------------------------------------------------------------------------------------------

    @cached_property
    def _own_claims(self) -> dict[str, Any]:
        with arm_errors():
            token = self.credential.get_token(self.profile.arm_scope).token
        return _claims(token)

    @property
    def principal(self) -> str:
        return self._caller or str(self._own_claims.get("oid") or self._own_claims.get("sub") or "unknown")

    @property
    def principal_is_application(self) -> bool:
        """Whether the adapter signs in as an application (service principal or managed identity), not a user."""
        return self._caller is None and self._own_claims.get("idtyp") == "app"

    @property
    def tenant_id(self) -> str:
        return self.profile.tenant_id or str(self._own_claims.get("tid") or "")

    @cached_property
    def default_subscription(self) -> str:
        configured = self.settings.subscription or self.settings.azure_subscription_id or self.profile.subscription_id
        if configured:
            return str(configured)
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        client = SubscriptionClient(self.credential, base_url=self.profile.arm_endpoint,
                                    credential_scopes=[self.profile.arm_scope], **self.profile.transport_options(),
                                    **self._pipeline)
        with arm_errors("/subscriptions"):
            subscriptions = [s.subscription_id for s in client.subscriptions.list()]
        return str(subscriptions[0]) if subscriptions else ""

    # resources and access ------------------------------------------------------------------------------

    def resource_exists(self, resource_id: str) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        rid = ResourceId.parse(resource_id)
        api = self.clients.resources(rid.subscription).resources
        try:
            version = self._api_version(rid)
            with arm_errors(resource_id):
                return bool(api.check_existence_by_id(resource_id, api_version=version))
        except ResourceNotFoundError:
            return False

    def _api_version(self, rid: ResourceId) -> str:
        """The newest stable api-version ARM lists for the resource's type."""
        provider = self.clients.resources(rid.subscription).providers.get(str(rid.namespace))
        wanted = "/".join(str(rid.resource_type).split("/")[1:]).lower()
        for kind in provider.resource_types or []:
            if str(kind.resource_type).lower() == wanted:
                versions = [v for v in kind.api_versions or [] if "preview" not in v] or list(kind.api_versions or [])
                return sorted(versions)[-1]
        raise LookupError(f"no api-version for {rid.resource_type}")

    def provider_state(self, subscription_id: str, namespace: str) -> str:
        return access.provider_state(self.clients, subscription_id, namespace)

    def check_access(self, scope: str, action: str) -> None:
        if self._caller is None:
            permissions = access.own_permissions(self.clients, scope)
        else:
            permissions = access.principal_permissions(self.clients, self._caller, scope)
        if permissions is not None and not access.allows(permissions, action):
            raise access.denied(self.principal, action, scope)

    # the cluster ----------------------------------------------------------------------------------------

    def get_cluster(self, cluster_id: str) -> ClusterInfo:
        return clusters.get_cluster(self.clients, self.settings.state_dir, cluster_id)

    def enable_cluster_features(self, cluster_id: str, *, oidc_issuer: bool = False, workload_identity: bool = False,
                                addons: tuple[str, ...] = ()) -> ClusterInfo:  # fmt: skip
        return clusters.enable_features(self.clients, self.settings.state_dir, cluster_id, oidc_issuer=oidc_issuer,
                                        workload_identity=workload_identity, addons=addons)  # fmt: skip

    # targets ----------------------------------------------------------------------------------------------

    def describe_target(self, target: Target, target_id: str, identity_based: bool = False) -> TargetFacts:
        rid = ResourceId.parse(target_id)
        reader = facts.READERS.get(facts.top_type(rid))
        if reader is not None:
            found = reader(self.clients, rid, target.id_values(target_id), identity_based)
        elif (shape := generic.shape_of(rid)) is not None:
            found = generic.describe(self.clients, rid, shape)
        else:
            raise facts.unsupported(rid)
        return found.model_copy(update=dict.fromkeys(SECRET_FACTS))

    def target_secrets(self, target: Target, target_id: str) -> TargetFacts:
        rid = ResourceId.parse(target_id)
        reader = facts.SECRET_READERS.get(facts.top_type(rid))
        if reader is not None:
            return reader(self.clients, rid)
        shape = generic.shape_of(rid)
        return generic.secrets(self.clients, rid, shape) if shape else TargetFacts()

    # firewalls --------------------------------------------------------------------------------------------

    def ensure_firewall_rule(self, target: Target, target_id: str, ips: list[str], connection_id: str) -> FirewallState:
        firewalls.admit(self.clients, target_id, ips)
        return firewalls.state(self.clients, target_id, ips)

    def release_firewall_rule(self, target: Target, target_id: str, ips: list[str], connection_id: str) -> None:
        firewalls.revoke(self.clients, target_id, ips)

    def check_firewall(self, target: Target, target_id: str, ips: list[str]) -> FirewallState:
        return firewalls.state(self.clients, target_id, ips)

    # identities ---------------------------------------------------------------------------------------------

    def find_identity(self, client_id: str) -> IdentityInfo | None:
        return identities.find_identity(self.clients, self.default_subscription, client_id)

    def get_identity(self, identity_id: str) -> IdentityInfo:
        return identities.get_identity(self.clients, identity_id)

    @cached_property
    def _graph(self) -> Graph:
        return Graph(self.profile, self.credential, **self._pipeline)

    def find_service_principal(self, client_id: str) -> IdentityInfo | None:
        found = self._graph.service_principal(client_id)
        if found is None:
            return None
        return IdentityInfo(id=f"servicePrincipals/{found.get('appId', client_id)}", client_id=str(found["appId"]),
                            principal_id=str(found["id"]),
                            tenant_id=str(found.get("appOwnerOrganizationId") or self.tenant_id))  # fmt: skip

    def ensure_federated_credential(self, identity_id: str, name: str, issuer: str, subject: str,
                                    audience: str) -> None:  # fmt: skip
        identities.ensure_federated_credential(self.clients, identity_id, name, issuer, subject, audience)

    def federated_credential_exists(self, identity_id: str, issuer: str, subject: str, audience: str) -> bool:
        return identities.federated_credential_exists(self.clients, identity_id, issuer, subject, audience)

    def delete_federated_credential(self, identity_id: str, name: str) -> None:
        identities.delete_federated_credential(self.clients, identity_id, name)

    def ensure_role_assignment(self, principal_id: str, role_id: str, role_name: str, scope: str) -> None:
        identities.ensure_role_assignment(self.clients, principal_id, role_id, scope)

    def has_role_assignment(self, principal_id: str, role_id: str, scope: str) -> bool:
        return identities.has_role_assignment(self.clients, principal_id, role_id, scope)

    def remove_role_assignment(self, principal_id: str, role_id: str, scope: str) -> None:
        identities.remove_role_assignment(self.clients, principal_id, role_id, scope)

    def describe(self) -> dict[str, Any]:
        return {"cloud": self.name, "armEndpoint": self.profile.arm_endpoint, "principal": self.principal}
