"""The contract between the engine and the operator: the ServiceConnection custom resource, its companion
credential Secret, and the labels and annotations put on what the operator writes.

The engine writes a ServiceConnection (and, for credential values, a companion Secret) into `sc-system`; the
operator turns it into the Secret `sc-<name>-secret` (and for workload identity the ServiceAccount
`sc-account-<clientId>`) in the connection's namespace. Credentials never sit in the custom resource itself:
custom resources are readable more widely than Secrets, and they show up in `kubectl get -o yaml`.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GROUP = "servicelinker.io"
VERSION = "v1"
KIND = "ServiceConnection"
PLURAL = "serviceconnections"
API_VERSION = f"{GROUP}/{VERSION}"
SYSTEM_NAMESPACE = "sc-system"
EXTENSION_NAME = "sc-extension"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "servicelinker"
CONNECTION_ID_ANNOTATION = "servicelinker.io/connection-id"
CONNECTION_REF_ANNOTATION = "servicelinker.io/service-connection"  # "<namespace>/<name>" of the custom resource
#: Label on everything a connection writes (its Secret, ServiceAccount, credential Secret): `connection_hash` of
#: the linker id, so every object a connection ever wrote can be found again by a label-selected list.
CONNECTION_LABEL = "servicelinker.io/connection"
WORKLOAD_IDENTITY_CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
WORKLOAD_IDENTITY_TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"

#: The operator's liveness signal: a coordination.k8s.io Lease in sc-system renewed every HEARTBEAT_SECONDS.
HEARTBEAT_LEASE = "sc-operator-heartbeat"
HEARTBEAT_SECONDS = 10
#: A ConfigMap in sc-system where `operator sync --once` (the sc-job) records its last result.
SYNC_STATUS_CONFIGMAP = "sc-job-status"
#: Label the engine puts on a companion credential Secret in sc-system; its value is the ServiceConnection's name.
#: The operator watches exactly the Secrets carrying it (a label-selected watch, not every Secret in sc-system,
#: which also holds Helm's large release Secrets), so a rotated password reaches the workload's Secret at once.
CREDENTIALS_FOR_LABEL = "servicelinker.io/credentials-for"
#: The condition the operator keeps on every ServiceConnection; the engine waits on it.
READY_CONDITION = "Ready"


class ReadyReason(StrEnum):
    """Why a ServiceConnection is (not) Ready: the `reason` of its Ready condition."""

    SYNCED = "Synced"
    INVALID_SPEC = "InvalidSpec"
    NAMESPACE_NOT_FOUND = "NamespaceNotFound"
    NAMESPACE_TERMINATING = "NamespaceTerminating"
    CREDENTIALS_NOT_FOUND = "CredentialsNotFound"
    CREDENTIAL_KEY_MISSING = "CredentialKeyMissing"
    SECRET_CONFLICT = "SecretConflict"
    SERVICE_ACCOUNT_CONFLICT = "ServiceAccountConflict"
    FORBIDDEN = "Forbidden"
    APPLY_FAILED = "ApplyFailed"


#: Reasons the operator clears on its own by retrying (API hiccups); every other False reason needs someone to act,
#: and the operator re-syncs as soon as the missing piece (namespace, credential Secret) appears.
TRANSIENT_REASONS = frozenset({ReadyReason.APPLY_FAILED})


class _Camel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ConfigurationEntry(_Camel):
    """One key of the delivered Secret. Non-credential values are inline; credential values are read from the
    companion Secret under `secret_key`."""

    name: str
    value: str | None = None
    secret_key: str | None = Field(default=None, alias="secretKey")


class ServiceAccountSpec(_Camel):
    name: str
    annotations: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


class ServiceConnectionSpec(_Camel):
    connection_id: str = Field(alias="connectionId")
    connection_name: str = Field(alias="connectionName")
    target_namespace: str = Field(alias="targetNamespace")
    secret_name: str = Field(alias="secretName")
    configurations: list[ConfigurationEntry] = Field(default_factory=list)
    credentials_secret_name: str | None = Field(default=None, alias="credentialsSecretName")
    #: A hash of the companion Secret's content: a rotated password changes the spec, hence the generation, so
    #: the engine can wait until the operator has delivered exactly this revision.
    credentials_revision: str | None = Field(default=None, alias="credentialsRevision")
    service_account: ServiceAccountSpec | None = Field(default=None, alias="serviceAccount")
    #: Retain (Azure's behaviour: objects stay after the connection is deleted) or Delete (clean up).
    deletion_policy: Literal["Retain", "Delete"] = Field(default="Retain", alias="deletionPolicy")


class Condition(_Camel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str | None = Field(default=None, alias="lastTransitionTime")
    observed_generation: int | None = Field(default=None, alias="observedGeneration")


class ServiceConnectionStatus(_Camel):
    observed_generation: int | None = Field(default=None, alias="observedGeneration")
    conditions: list[Condition] = Field(default_factory=list)
    secret_ref: str | None = Field(default=None, alias="secretRef")
    service_account_ref: str | None = Field(default=None, alias="serviceAccountRef")
    last_sync_time: str | None = Field(default=None, alias="lastSyncTime")


def connection_hash(connection_id: str) -> str:
    """A connection's short fingerprint: the first 16 hex of SHA-256 of its lowercased linker id (ARM ids compare
    case-insensitively, so `pg_shop` and `PG_SHOP` are one linker while `pg_shop` and `pgshop` are two)."""
    return hashlib.sha256(connection_id.rstrip("/").lower().encode()).hexdigest()[:16]


def resource_name(connection_id: str, connection_name: str) -> str:
    """The ServiceConnection's name: a readable prefix (the connection name's lowercased alphanumerics) and the
    fingerprint of the *whole* linker id, so two connections never share one, whatever their names normalise to."""
    alnum = "".join(ch for ch in connection_name.lower() if ch.isascii() and ch.isalnum())[:40] or "connection"
    return f"{alnum}-{connection_hash(connection_id)}"


def legacy_resource_name(connection_id: str, connection_name: str) -> str:
    """The name releases before 0.2 gave a ServiceConnection (50 alphanumerics + a hash of the cluster only):
    two connections whose names normalised alike shared it. The operator migrates such objects at start-up."""
    source = connection_id.lower().split("/providers/microsoft.servicelinker/")[0]
    alnum = "".join(ch for ch in connection_name.lower() if ch.isalnum())[:50] or "connection"
    return f"{alnum}-{hashlib.sha256(source.encode()).hexdigest()[:8]}"


def credentials_secret_name(resource: str) -> str:
    return f"{resource}-credentials"
