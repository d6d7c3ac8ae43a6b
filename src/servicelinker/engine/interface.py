"""The engine's one public face: `Engine`, the Protocol the CLI, the REST API and the operation runner use.

Two implementations: `ConnectionEngine` (engine/service.py, the workflow itself, over a cloud, clusters and the
store) and `RemoteEngine` (engine/remote.py, the same calls over a servicelinker REST endpoint). Callers never
see a store, a cloud adapter or a Kubernetes client; they get `model.records` types back.

Long-running work is split as ARM splits it: `begin_*` validates synchronously (a bad request raises `ArmError`
and changes nothing), records the operation durably and returns it; `run(op_id)` carries it out here (holding its
lease, so a server sharing the store does not run it too) or, remotely, follows the server's run of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel

from servicelinker.model.linker import ConfigurationInfo, LinkerResource
from servicelinker.model.records import Configuration, LinkerRecord, Operation, Step
from servicelinker.model.results import CreateOrUpdateDryrunParameters

ProgressListener = Callable[[Step], None]


class IdentityRef(BaseModel):
    """What `az` reads of a user-assigned identity before a `--workload-identity` PUT."""

    client_id: str
    subscription_id: str


class ExtensionReport(BaseModel):
    """`az k8s-extension show` of sc-extension: the body (camelCase) and whether it is healthy."""

    body: dict[str, Any]
    healthy: bool


class Engine(Protocol):
    # ----------------------------------------------------------------------------------------------- reads
    def get(self, linker_id: str) -> LinkerRecord:
        """The linker; `ResourceNotFound` when absent."""
        ...

    def find(self, linker_id: str) -> LinkerRecord | None: ...

    def list_linkers(self, source_id: str) -> list[LinkerRecord]: ...

    def list_configurations(self, linker_id: str) -> list[Configuration]:
        """The delivered configurations, credential values blank (reference §6.2)."""
        ...

    def generate_configurations(self, linker_id: str, info: ConfigurationInfo | None = None) -> list[Configuration]:
        """What the linker would deliver with `info` as its configurationInfo (credentials blank)."""
        ...

    def operation(self, operation_id: str) -> Operation | None: ...

    def latest_operation(self, resource_id: str) -> Operation | None: ...

    # ------------------------------------------------------------------------------------- long-running work
    def begin_create_or_update(self, linker_id: str, resource: LinkerResource) -> Operation: ...

    def begin_delete(self, linker_id: str, cleanup: bool = False) -> Operation | None:
        """None when there is nothing to delete (REST: 204)."""
        ...

    def begin_validate(self, linker_id: str) -> Operation: ...

    def run(self, operation_id: str, listener: ProgressListener | None = None) -> Operation:
        """Carry the operation to its end (or follow it) and return it ended."""
        ...

    def hand_off(self, operation_id: str) -> None:
        """Make sure the operation goes on after this process returns (`--no-wait`)."""
        ...

    # ----------------------------------------------------------------------------------- checks and lookups
    def default_subscription(self) -> str:
        """The subscription `-g/-n` ids are in when none is configured (az: the account's default)."""
        ...

    def check_access(self, scope: str, action: str) -> None:
        """`AuthorizationFailed` (ARM's text) when the caller may not perform `action` on `scope`."""
        ...

    def resolve_identity(self, identity_id: str) -> IdentityRef:
        """A user-assigned identity's client id (az: `az identity show --ids`)."""
        ...

    def service_principal_object_id(self, client_id: str) -> str:
        """A service principal's object id (az: `az ad sp show --id`)."""
        ...

    def extension_status(self, source_id: str) -> ExtensionReport: ...

    # ------------------------------------------------------------------------------------------------ dryruns
    def put_dryrun(
        self, scope: str, name: str, parameters: CreateOrUpdateDryrunParameters, *, has_source: bool
    ) -> tuple[dict[str, Any], bool]:
        """Run a create's checks without doing it; returns the DryrunResource body and whether it is new."""
        ...

    def get_dryrun(self, scope: str, name: str) -> dict[str, Any]: ...

    def list_dryruns(self, scope: str) -> list[dict[str, Any]]: ...

    def delete_dryrun(self, scope: str, name: str) -> bool: ...
