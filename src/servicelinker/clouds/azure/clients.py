"""The official management SDK clients, one per (service, subscription), all pointed at the profile's cloud.

Every client shares one credential and the profile's transport options, so a private cloud's CA and endpoint
apply everywhere; retries (429 with Retry-After, 5xx) and LRO polling are the SDKs' own policies. Imports are
lazy: a command that never touches Redis never loads its SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from azure.core.credentials import TokenCredential

from servicelinker.clouds.azure.profile import CloudProfile

if TYPE_CHECKING:
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.keyvault import KeyVaultManagementClient
    from azure.mgmt.msi import ManagedServiceIdentityClient
    from azure.mgmt.mysqlflexibleservers import MySQLManagementClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
    from azure.mgmt.redis import RedisManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.storage import StorageManagementClient

T = TypeVar("T")
#: Seconds between LRO polls when the service gives no Retry-After (the SDKs' default is 30 s).
POLLING_INTERVAL = 1.0


def wire_text(value: Any) -> str:
    """An SDK enum member (`OutboundType.LOAD_BALANCER`) or string as the wire spells it (`loadBalancer`)."""
    return str(getattr(value, "value", value))


class ArmClients:
    """Lazily built, cached SDK clients for one cloud and credential."""

    def __init__(self, profile: CloudProfile, credential: TokenCredential, **pipeline: Any) -> None:
        self.profile = profile
        self.credential = credential
        self._pipeline = pipeline
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _client(self, cls: Callable[..., T], subscription: str) -> T:
        key = (getattr(cls, "__name__", str(cls)), subscription.lower())
        with self._lock:
            if key not in self._clients:
                self._clients[key] = cls(
                    self.credential,
                    subscription,
                    base_url=self.profile.arm_endpoint,
                    credential_scopes=[self.profile.arm_scope],
                    polling_interval=POLLING_INTERVAL,
                    **self.profile.transport_options(),
                    **self._pipeline,
                )
            client: T = self._clients[key]
            return client

    def aks(self, subscription: str) -> ContainerServiceClient:
        from azure.mgmt.containerservice import ContainerServiceClient

        return self._client(ContainerServiceClient, subscription)

    def network(self, subscription: str) -> NetworkManagementClient:
        from azure.mgmt.network import NetworkManagementClient

        return self._client(NetworkManagementClient, subscription)

    def resources(self, subscription: str) -> ResourceManagementClient:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return self._client(ResourceManagementClient, subscription)

    def authorization(self, subscription: str) -> AuthorizationManagementClient:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return self._client(AuthorizationManagementClient, subscription)

    def msi(self, subscription: str) -> ManagedServiceIdentityClient:
        from azure.mgmt.msi import ManagedServiceIdentityClient

        return self._client(ManagedServiceIdentityClient, subscription)

    def postgres(self, subscription: str) -> PostgreSQLManagementClient:
        from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

        return self._client(PostgreSQLManagementClient, subscription)

    def mysql(self, subscription: str) -> MySQLManagementClient:
        from azure.mgmt.mysqlflexibleservers import MySQLManagementClient

        return self._client(MySQLManagementClient, subscription)

    def redis(self, subscription: str) -> RedisManagementClient:
        from azure.mgmt.redis import RedisManagementClient

        return self._client(RedisManagementClient, subscription)

    def storage(self, subscription: str) -> StorageManagementClient:
        from azure.mgmt.storage import StorageManagementClient

        return self._client(StorageManagementClient, subscription)

    def keyvault(self, subscription: str) -> KeyVaultManagementClient:
        from azure.mgmt.keyvault import KeyVaultManagementClient

        return self._client(KeyVaultManagementClient, subscription)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
