"""`ConnectionEngine`: the Engine (interface.py) over a cloud, clusters and the store.

Create/update (one PUT semantics): the checks that can reject a request run before anything is recorded
(planning.py), so a rejected request leaves nothing behind; then the linker is stored `Accepted` with an operation
carrying the plan, and the steps run (workflow.py) - here under the operation's lease (`run`), or in a server's
Runner (`execute`, called by the runner that holds the claim).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from servicelinker.catalog.configuration import build_configurations
from servicelinker.catalog.targets import check_supported
from servicelinker.engine import dryrun, errors, planning, workflow
from servicelinker.engine.context import EngineContext
from servicelinker.engine.interface import ExtensionReport, IdentityRef, ProgressListener
from servicelinker.engine.oplog import OperationLog
from servicelinker.engine.validation import Validator
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId, parse_connection_id, validate_source_id
from servicelinker.model.linker import ConfigurationInfo, LinkerResource, ProvisioningState
from servicelinker.model.records import Configuration, LinkerRecord, Operation, blank_credentials
from servicelinker.model.results import CreateOrUpdateDryrunParameters
from servicelinker.store.repository import Store, StoredLinker


class ConnectionEngine:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    @property
    def store(self) -> Store:
        """The store, for the Runner that claims this engine's operations (not part of the Engine interface)."""
        return self.ctx.store

    # ----------------------------------------------------------------------------------------------- reads

    def _stored(self, linker_id: str) -> StoredLinker:
        parse_connection_id(linker_id)
        found = self.ctx.store.get_linker(linker_id)
        if found is None:
            raise errors.linker_not_found(linker_id)
        return found

    def get(self, linker_id: str) -> LinkerRecord:
        return self._stored(linker_id).public()

    def find(self, linker_id: str) -> LinkerRecord | None:
        parse_connection_id(linker_id)
        found = self.ctx.store.get_linker(linker_id)
        return found.public() if found else None

    def list_linkers(self, source_id: str) -> list[LinkerRecord]:
        return [s.public() for s in self.ctx.store.list_linkers(validate_source_id(source_id))]

    def list_configurations(self, linker_id: str) -> list[Configuration]:
        stored = self._stored(linker_id)
        return blank_credentials([Configuration.model_validate(c) for c in stored.configurations])

    def generate_configurations(self, linker_id: str, info: ConfigurationInfo | None = None) -> list[Configuration]:
        """The same composition as a create's (facts, secrets, identity facts), with `info` applied."""
        stored = self._stored(linker_id)
        resource = planning.desired(stored)
        if info is not None:
            resource.properties.configuration_info = info
        target = check_supported(resource.properties)
        cluster = self.ctx.cloud.get_cluster(stored.source_id)
        facts = planning.with_secrets(self.ctx, target, resource, planning.describe(self.ctx, target, resource),
                                      cluster)  # fmt: skip
        return blank_credentials(build_configurations(resource, facts, target=target))

    def operation(self, operation_id: str) -> Operation | None:
        return self.ctx.store.get_operation(operation_id)

    def latest_operation(self, resource_id: str) -> Operation | None:
        return self.ctx.store.latest_operation(resource_id)

    # ------------------------------------------------------------------------------------------ create / update

    def begin_create_or_update(self, linker_id: str, resource: LinkerResource) -> Operation:
        existing = self.ctx.store.get_linker(linker_id)
        plan = planning.make_plan(self.ctx, linker_id, resource, existing)
        body = planning.public_body(plan, resource, existing, ProvisioningState.ACCEPTED, self.ctx)
        self.ctx.store.put_linker(linker_id, plan.source_id, plan.name, body, planning.sealed(resource),
                                  ProvisioningState.ACCEPTED)  # fmt: skip
        kind = "create" if existing is None else "update"
        return self.ctx.store.new_operation(linker_id, kind, {"plan": plan.model_dump(mode="json")})

    # ------------------------------------------------------------------------------------------------- delete

    def begin_delete(self, linker_id: str, cleanup: bool = False) -> Operation | None:
        parse_connection_id(linker_id)
        stored = self.ctx.store.get_linker(linker_id)
        if stored is None:
            return None
        self.ctx.cloud.check_access(stored.source_id, "Microsoft.ServiceLinker/linkers/delete")
        return self.ctx.store.new_operation(linker_id, "delete", {"cleanup": cleanup})

    # ----------------------------------------------------------------------------------------------- validate

    def begin_validate(self, linker_id: str) -> Operation:
        stored = self._stored(linker_id)
        self.ctx.cloud.check_access(stored.source_id, "Microsoft.ServiceLinker/linkers/read")
        return self.ctx.store.new_operation(linker_id, "validate")

    def _validate(self, op: Operation, log: OperationLog) -> dict[str, Any] | None:
        stored = self._stored(op.resource_id)
        with log.step("Validate the connection") as st:
            result = Validator(self.ctx).run(op.resource_id, stored.name, stored.source_id, planning.desired(stored))
            failed = [i["name"] for i in result["properties"]["validationDetail"] if i["result"] == "failure"]
            st.note("All checks passed." if not failed else f"Failed: {' '.join(failed)}")
        return result

    # --------------------------------------------------------------------------------------------- running

    def run(self, operation_id: str, listener: ProgressListener | None = None) -> Operation:
        """Run here, holding the operation's lease (a server sharing the store then does not run it too, and
        resumes it should this process die)."""
        from servicelinker.engine.runner import run_here

        return run_here(self, operation_id, listener)

    def hand_off(self, operation_id: str) -> None:
        """A detached process runs the operation (under its lease); `aks connection wait` or `show` follow it."""
        subprocess.Popen(
            [sys.executable, "-m", "servicelinker", "aks", "connection", "run-operation", operation_id],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def execute(self, operation_id: str, listener: ProgressListener | None = None) -> Operation:
        """Run an operation the caller has claimed; ends it Succeeded or Failed and returns it."""
        store = self.ctx.store
        op = store.get_operation(operation_id)
        if op is None:
            raise ArmError(ErrorCode.RESOURCE_NOT_FOUND, f"Operation {operation_id} was not found.",
                           target=operation_id)  # fmt: skip
        log = OperationLog(store, op.id, listener)
        try:
            if op.kind == "validate":
                result = self._validate(op, log)
            elif op.kind == "delete":
                result = workflow.delete(self.ctx, op, log)
            else:
                result = workflow.apply(self.ctx, op, log)
        except ArmError as exc:
            store.finish_operation(op.id, "Failed", error=exc.to_body()["error"])
            workflow.mark_failed(self.ctx, op)
        else:
            store.finish_operation(op.id, "Succeeded", result=result)
        done = store.get_operation(op.id)
        assert done is not None
        return done

    # --------------------------------------------------------------------------------------- checks, lookups

    def default_subscription(self) -> str:
        return self.ctx.cloud.default_subscription

    def check_access(self, scope: str, action: str) -> None:
        self.ctx.cloud.check_access(scope, action)

    def resolve_identity(self, identity_id: str) -> IdentityRef:
        info = self.ctx.cloud.get_identity(identity_id)
        return IdentityRef(client_id=info.client_id, subscription_id=ResourceId.parse(identity_id).subscription)

    def service_principal_object_id(self, client_id: str) -> str:
        found = self.ctx.cloud.find_service_principal(client_id)
        if found is None:
            raise ArmError(
                ErrorCode.RESOURCE_NOT_FOUND,
                f"Service principal '{client_id}' was not found.",
                target="properties.authInfo.clientId",
                remedy="Check the client id, or give the principal's object id (az: object-id=<id>).",
            )
        return found.principal_id

    def extension_status(self, source_id: str) -> ExtensionReport:
        cluster = self.ctx.cloud.get_cluster(validate_source_id(source_id))
        with self.ctx.cluster(cluster) as kc:
            status = kc.extension_status()
        return ExtensionReport(body=status.to_output(), healthy=status.healthy)

    # ----------------------------------------------------------------------------------------------- dryruns

    def put_dryrun(self, scope: str, name: str, parameters: CreateOrUpdateDryrunParameters, *,
                   has_source: bool) -> tuple[dict[str, Any], bool]:  # fmt: skip
        return dryrun.run(self.ctx, scope, name, parameters, has_source)

    def get_dryrun(self, scope: str, name: str) -> dict[str, Any]:
        body = self.ctx.store.get_dryrun(dryrun.dryrun_id(scope, name))
        if body is None:
            raise dryrun.not_found(scope, name)
        return body

    def list_dryruns(self, scope: str) -> list[dict[str, Any]]:
        return self.ctx.store.list_dryruns(scope)

    def delete_dryrun(self, scope: str, name: str) -> bool:
        return self.ctx.store.delete_dryrun(dryrun.dryrun_id(scope, name))


__all__ = ["ConnectionEngine"]
