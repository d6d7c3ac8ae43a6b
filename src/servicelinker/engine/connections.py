"""The connection workflow: validate a request, record it, then run idempotent steps, each logged.

Create/update (one PUT semantics): checks that can reject a request synchronously (bad input, a busy cluster, an
unregistered provider, a missing permission, a namespace/server/database that does not exist) run *before*
anything is recorded, so a rejected request leaves nothing behind. Then the linker is stored `Accepted` and the
steps of DESIGN.md run; a failing step ends the operation `Failed` with that step's error and remedy, and a retry
converges because every step is idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lightkube import Client

from servicelinker.catalog import naming
from servicelinker.catalog.configuration import (
    Configuration,
    TargetFacts,
    blank_credentials,
    build_configurations,
    family_of,
)
from servicelinker.catalog.roles import roles_for
from servicelinker.catalog.targets import Target, check_supported
from servicelinker.clouds.base import Cloud, ClusterInfo
from servicelinker.engine import errors, identity
from servicelinker.engine.oplog import OperationLog, ProgressListener
from servicelinker.engine.validation import Validator
from servicelinker.kube import client as kube_client
from servicelinker.kube import connections as kconn
from servicelinker.kube import contract, extension
from servicelinker.kube.helm import HelmError
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import parse_connection_id, validate_source_id
from servicelinker.model.linker import (
    AuthType,
    AzureResource,
    LinkerResource,
    ProvisioningState,
    SecretAuthInfo,
    ValueSecretInfo,
)
from servicelinker.store.repository import Operation, Store, StoredLinker

LINKER_TYPE = "microsoft.servicelinker/linkers"
REQUIRED_PROVIDERS = ("Microsoft.ServiceLinker", "Microsoft.KubernetesConfiguration")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass
class EngineSettings:
    ready_timeout: float = 90.0
    #: How long to wait for an out-of-cluster operator's first heartbeat after the extension is installed.
    heartbeat_grace: float = 30.0
    #: Extra Helm values for sc-extension (tests use it to make an install fail the way a bad value does).
    extension_values: dict[str, Any] = field(default_factory=dict)
    caller: str = "local-user"


@dataclass
class Plan:
    """Everything a create/update needs, resolved during the synchronous checks."""

    linker_id: str
    source_id: str
    name: str
    resource: LinkerResource
    target: Target
    cluster: ClusterInfo
    namespace: str


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Engine:
    def __init__(self, cloud: Cloud, store: Store, settings: EngineSettings | None = None) -> None:
        self.cloud = cloud
        self.store = store
        self.settings = settings or EngineSettings()

    # ------------------------------------------------------------------------------------------- read side

    def get(self, linker_id: str) -> StoredLinker:
        parse_connection_id(linker_id)
        found = self.store.get_linker(linker_id)
        if found is None:
            raise errors.linker_not_found(linker_id)
        return found

    def list_linkers(self, source_id: str) -> list[StoredLinker]:
        return self.store.list_linkers(validate_source_id(source_id))

    def list_configurations(self, linker_id: str) -> list[Configuration]:
        """The delivered configurations with credential values blank (reference §6.2)."""
        stored = self.get(linker_id)
        return blank_credentials([Configuration.model_validate(c) for c in stored.configurations])

    def operation(self, operation_id: str) -> Operation | None:
        return self.store.get_operation(operation_id)

    # ------------------------------------------------------------------------------------- create / update

    def plan(self, linker_id: str, resource: LinkerResource) -> Plan:
        """Synchronous checks, in the order a user would fix them; raises ArmError, changes nothing."""
        cid = parse_connection_id(linker_id)
        naming.validate_connection_name(cid.name)
        source_id = validate_source_id(cid.source_id)
        props = resource.properties
        target = check_supported(props)
        if isinstance(props.target_service, AzureResource) and props.target_service.id:
            target.validate_id(props.target_service.id)
        self._merge_stored_secret(linker_id, resource)
        self._check_secret_keys(target, resource)
        namespace = props.scope or "default"
        if not _DNS_LABEL.match(namespace) or len(namespace) > 63:
            raise ArmError(
                ErrorCode.INVALID_ARGUMENT_VALUE,
                f"'{namespace}' is not a valid Kubernetes namespace name.",
                target="--kube-namespace",
                remedy="Use lowercase letters, digits and '-' (at most 63 characters).",
            )
        cluster = self.cloud.get_cluster(source_id)
        self._check_cluster_state(cluster)
        self._check_providers(source_id)
        self.cloud.check_access(source_id, "Microsoft.ServiceLinker/linkers/write")
        target_id = props.target_id
        if target_id:
            self.cloud.check_access(target_id, f"{_provider_of(target_id)}/read")
        with self._kube(cluster) as kc:
            if not kconn.namespace_exists(kc, namespace):
                raise errors.namespace_not_found(namespace)
        facts = self._facts(target, resource, cluster)  # the server and database exist
        if identity.kind_of(props) in ("workload", "servicePrincipal"):
            self._identity_plan(cluster, resource, target, facts, cid.name, linker_id)  # the identity exists
        return Plan(linker_id, source_id, cid.name, resource, target, cluster, namespace)

    def begin_create_or_update(self, linker_id: str, resource: LinkerResource) -> Operation:
        plan = self.plan(linker_id, resource)
        existing = self.store.get_linker(linker_id)
        body = self._public_body(plan, existing, ProvisioningState.ACCEPTED)
        self.store.put_linker(
            linker_id,
            plan.source_id,
            plan.name,
            body,
            self._sealed(resource),
            ProvisioningState.ACCEPTED,
        )
        return self.store.new_operation(linker_id, "create" if existing is None else "update")

    def create_or_update(
        self, linker_id: str, resource: LinkerResource, listener: ProgressListener | None = None
    ) -> Operation:
        op = self.begin_create_or_update(linker_id, resource)
        return self.run(op.id, listener)

    def run(self, operation_id: str, listener: ProgressListener | None = None) -> Operation:
        op = self.store.get_operation(operation_id)
        if op is None:
            raise ArmError(
                ErrorCode.RESOURCE_NOT_FOUND, f"Operation {operation_id} was not found.", target=operation_id
            )
        runner: Callable[[Operation, OperationLog], dict[str, Any] | None] = {
            "create": self._run_apply,
            "update": self._run_apply,
            "delete": self._run_delete,
            "validate": self._run_validate,
        }[op.kind]
        log = OperationLog(self.store, op.id, listener)
        try:
            result = runner(op, log)
        except ArmError as exc:
            self.store.finish_operation(op.id, "Failed", error=exc.to_body()["error"])
            if op.kind in ("create", "update"):
                self.store.set_linker_state(op.resource_id, ProvisioningState.FAILED)
        else:
            self.store.finish_operation(op.id, "Succeeded", result=result)
        done = self.store.get_operation(op.id)
        assert done is not None
        return done

    def _run_apply(self, op: Operation, log: OperationLog) -> dict[str, Any] | None:
        stored = self.get(op.resource_id)
        resource = self._desired(stored)
        self.store.set_linker_state(op.resource_id, "Updating" if op.kind == "update" else "Creating")
        props = resource.properties
        target = check_supported(props)
        with log.step("Check the cluster"):
            cluster = self.cloud.get_cluster(stored.source_id)
            self._check_cluster_state(cluster)
        with log.step("Install sc-extension") as st:
            self._ensure_extension(cluster, st)
        with log.step("Check sc-extension health") as st:
            self._await_operator(cluster, st)
        with log.step("Enable cluster features") as st:
            cluster = self._enable_features(cluster, props, st)
        with log.step("Read target configuration") as st:
            facts = self._facts(target, resource, cluster)
            configs = build_configurations(resource, facts, target=target)
            st.note(f"{len(configs)} configuration values for {target.name} ({props.client_type or 'none'}).")
        with log.step("Configure target firewall") as st:
            self._configure_firewall(target, resource, cluster, op.resource_id, st)
        with log.step("Configure identity") as st:
            plan = self._identity_plan(cluster, resource, target, facts, stored.name, op.resource_id)
            if plan.kind == "none":
                st.skip("Secret authentication uses no identity.")
            else:
                st.note(identity.apply(self.cloud, plan, cluster))
        resource_name = kconn.resource_name_for(op.resource_id, stored.name)
        with log.step("Write connection to the cluster") as st, self._kube(cluster) as kc:
            spec, credentials = kconn.spec_for(
                op.resource_id,
                stored.name,
                props.scope or "default",
                naming.secret_name(stored.name),
                configs,
                resource=resource_name,
                service_account=plan.service_account,
            )
            generation = kconn.apply(kc, resource_name, spec, credentials)
            st.note(f"ServiceConnection {contract.SYSTEM_NAMESPACE}/{resource_name} generation {generation}.")
        with log.step("Wait for the operator") as st, self._kube(cluster) as kc:
            self._await_ready(kc, resource_name, st)
        blanked = [c.model_dump() for c in blank_credentials(configs)]
        body = {**stored.body, "properties": {**stored.body["properties"], "provisioningState": "Succeeded"}}
        self.store.put_linker(op.resource_id, stored.source_id, stored.name, body, stored.secrets, "Succeeded", blanked)
        return {"Message": None}

    # ----------------------------------------------------------------------------------------------- delete

    def begin_delete(self, linker_id: str, cleanup: bool = False) -> Operation | None:
        """None when there is nothing to delete (REST: 204)."""
        parse_connection_id(linker_id)
        stored = self.store.get_linker(linker_id)
        if stored is None:
            return None
        self.cloud.check_access(stored.source_id, "Microsoft.ServiceLinker/linkers/delete")
        return self.store.new_operation(linker_id, "delete", {"cleanup": cleanup})

    def delete(
        self, linker_id: str, cleanup: bool = False, listener: ProgressListener | None = None
    ) -> Operation | None:
        op = self.begin_delete(linker_id, cleanup)
        return self.run(op.id, listener) if op else None

    def _run_delete(self, op: Operation, log: OperationLog) -> dict[str, Any] | None:
        cleanup = bool(op.params.get("cleanup"))
        stored = self.store.get_linker(op.resource_id)
        if stored is None:
            return None
        resource = self._desired(stored)
        resource_name = kconn.resource_name_for(op.resource_id, stored.name)
        with log.step("Remove connection from the cluster") as st:
            try:
                cluster = self.cloud.get_cluster(stored.source_id)
            except ArmError as exc:
                if exc.code != ErrorCode.RESOURCE_NOT_FOUND:
                    raise
                st.skip("The cluster no longer exists.")
            else:
                with self._kube(cluster) as kc:
                    self._remove_from_cluster(kc, resource_name, cleanup, st)
        with log.step("Release target firewall rule") as st:
            target_id = resource.properties.target_id
            if not cleanup or not target_id:
                st.skip("Kept (Azure keeps firewall rules on delete; pass --cleanup to remove them).")
            else:
                target = check_supported(resource.properties)
                cluster = self.cloud.get_cluster(stored.source_id)
                self.cloud.release_firewall_rule(target, target_id, cluster.outbound_ips, op.resource_id)
                st.note("Released this connection's use of the cluster's firewall rule.")
        with log.step("Release identity configuration") as st:
            kind = identity.kind_of(resource.properties)
            if kind == "none":
                st.skip("Secret authentication uses no identity.")
            elif not cleanup:
                st.skip("Kept (pass --cleanup to remove the federated credential and role assignments).")
            else:
                target = check_supported(resource.properties)
                cluster = self.cloud.get_cluster(stored.source_id)
                facts = self._facts(target, resource, cluster)
                plan = self._identity_plan(cluster, resource, target, facts, stored.name, op.resource_id)
                st.note(identity.release(self.cloud, plan))
        with log.step("Remove connection record"):
            self.store.delete_linker(op.resource_id)
        return None

    def _remove_from_cluster(self, kc: Client, resource_name: str, cleanup: bool, st: Any) -> None:
        if kconn.get(kc, resource_name) is None:
            st.skip("No ServiceConnection in the cluster.")
            return
        if cleanup:
            # The operator guards Delete-policy connections with a finalizer; deleting before it is in place
            # would skip the cleanup, so wait for it.
            kconn.set_deletion_policy(kc, resource_name, "Delete")
            deadline = time.monotonic() + self.settings.ready_timeout
            while not (kconn.get(kc, resource_name) or {}).get("metadata", {}).get("finalizers"):
                if time.monotonic() > deadline:
                    raise errors.operator_silent(f"ServiceConnection {resource_name} got no finalizer in time")
                time.sleep(0.1)
        kconn.delete(kc, resource_name)
        deadline = time.monotonic() + self.settings.ready_timeout
        while kconn.get(kc, resource_name) is not None:  # the operator's finalizer runs the deletion policy
            if time.monotonic() > deadline:
                raise errors.operator_silent(f"ServiceConnection {resource_name} was not finalized in time")
            time.sleep(0.2)
        st.note("Secret and ServiceAccount removed." if cleanup else "Secret kept in the namespace (as Azure does).")

    # --------------------------------------------------------------------------------------------- validate

    def begin_validate(self, linker_id: str) -> Operation:
        stored = self.get(linker_id)
        self.cloud.check_access(stored.source_id, "Microsoft.ServiceLinker/linkers/read")
        return self.store.new_operation(linker_id, "validate")

    def validate(self, linker_id: str, listener: ProgressListener | None = None) -> Operation:
        return self.run(self.begin_validate(linker_id).id, listener)

    def _run_validate(self, op: Operation, log: OperationLog) -> dict[str, Any] | None:
        stored = self.get(op.resource_id)
        with log.step("Validate the connection") as st:
            resource = self._desired(stored)
            target = check_supported(resource.properties)

            def plan_for(cluster: ClusterInfo) -> identity.IdentityPlan:
                facts = self._facts(target, resource, cluster)
                return self._identity_plan(cluster, resource, target, facts, stored.name, op.resource_id)

            result = Validator(self.cloud, self._kube).run(
                op.resource_id, stored.name, stored.source_id, resource, plan_for
            )
            failed = [i["name"] for i in result["properties"]["validationDetail"] if i["result"] == "failure"]
            st.note("All checks passed." if not failed else f"Failed: {' '.join(failed)}")
        return result

    # -------------------------------------------------------------------------------------------- helpers

    def _kube(self, cluster: ClusterInfo) -> Client:
        return kube_client.sync_client(cluster.kubeconfig, field_manager=kconn.FIELD_MANAGER)

    def _check_cluster_state(self, cluster: ClusterInfo) -> None:
        if cluster.provisioning_state != "Succeeded":
            raise errors.cluster_busy(cluster.id, cluster.provisioning_state)

    def _check_providers(self, source_id: str) -> None:
        subscription = source_id.split("/")[2]
        for namespace in REQUIRED_PROVIDERS:
            if self.cloud.provider_state(subscription, namespace) != "Registered":
                raise errors.provider_not_registered(namespace, subscription)

    def _ensure_extension(self, cluster: ClusterInfo, st: Any) -> None:
        try:
            release, ran = extension.install_or_upgrade(
                cluster.kubeconfig, cluster.operator_mode, self.settings.extension_values or None
            )
        except HelmError as exc:
            raise errors.extension_failed(exc.message) from None
        if ran:
            note = f"Helm release sc-extension revision {release.revision} ({release.status})."
            if cluster.operator_mode == "external":
                note += " " + self._run_sync_job(cluster)
            st.note(note)
        else:
            st.skip(f"sc-extension {release.chart_version} already installed.")

    def _run_sync_job(self, cluster: ClusterInfo) -> str:
        """What the chart's sc-job hook runs after an install/upgrade; with no kubelet to run the Job, the same
        command runs here, against the cluster's API server - once the ServiceConnection API answers, as the hook
        would run only after the release's CRD serves (right after its creation the API answers 404, then 503)."""
        with self._kube(cluster) as kc:
            if not kube_client.wait_for_api(kc, timeout=self.settings.ready_timeout):
                raise errors.extension_failed("the ServiceConnection API did not become available after the install")
        argv = [
            sys.executable,
            "-m",
            "servicelinker",
            "operator",
            "sync",
            "--once",
            "--kubeconfig",
            cluster.kubeconfig,
            "--namespace",
            contract.SYSTEM_NAMESPACE,
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise errors.extension_failed(f"sc-job failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
        return "sc-job sync succeeded."

    def _await_operator(self, cluster: ClusterInfo, st: Any) -> None:
        deadline = time.monotonic() + self.settings.heartbeat_grace
        while True:
            beat = extension.heartbeat(cluster.kubeconfig, cluster.operator_mode)
            if beat.level != "Error":
                st.note(beat.message)
                return
            if time.monotonic() > deadline:
                raise errors.operator_silent(beat.message)
            time.sleep(0.5)

    def _facts(self, target: Target, resource: LinkerResource, cluster: ClusterInfo) -> TargetFacts:
        """The target's facts, plus what identity-based configurations name: the tenant, and for the Key Vault
        CSI driver the add-on identity's client id."""
        props = resource.properties
        kind = identity.kind_of(props)
        facts = (
            self.cloud.target_facts(target, props.target_id, identity_based=kind != "none")
            if props.target_id
            else TargetFacts()
        )
        if kind == "none":
            return facts
        update: dict[str, Any] = {"tenant_id": self.cloud.tenant_id}
        addon = cluster.addons.get(identity.CSI_ADDON)
        if kind == "csi" and addon is not None:
            update["client_id"] = addon.identity_client_id
        return facts.model_copy(update=update)

    def _enable_features(self, cluster: ClusterInfo, props: Any, st: Any) -> ClusterInfo:
        oidc, wi, addons = identity.features_for(props)
        wanted = []
        if oidc and not cluster.oidc_issuer_enabled:
            wanted.append("OIDC issuer")
        if wi and not cluster.workload_identity_enabled:
            wanted.append("workload identity")
        missing_addons = tuple(a for a in addons if not (cluster.addons.get(a) and cluster.addons[a].enabled))
        wanted += [f"add-on {a}" for a in missing_addons]
        if not (oidc or wi or addons):
            st.skip("Secret authentication needs no cluster feature.")
            return cluster
        if not wanted:
            st.skip("Already enabled on the cluster.")
            return cluster
        updated = self.cloud.enable_cluster_features(
            cluster.id, oidc_issuer=oidc, workload_identity=wi, addons=missing_addons
        )
        st.note(f"Cluster updated (Updating, then {updated.provisioning_state}): enabled {', '.join(wanted)}.")
        return updated

    def _identity_plan(
        self, cluster: ClusterInfo, resource: LinkerResource, target: Target, facts: TargetFacts, name: str, lid: str
    ) -> identity.IdentityPlan:
        props = resource.properties
        roles = roles_for(family_of(target, props, facts), props) if identity.kind_of(props) != "none" else ()
        return identity.resolve(self.cloud, cluster, props, name=name, linker_id=lid, roles=roles)

    def _configure_firewall(
        self, target: Target, resource: LinkerResource, cluster: ClusterInfo, linker_id: str, st: Any
    ) -> None:
        pns = resource.properties.public_network_solution
        target_id = resource.properties.target_id
        if pns is not None and pns.action == "optOut":
            st.skip("Opted out (--opt-out publicnetwork).")
            return
        if not target_id or not cluster.outbound_ips:
            st.skip("No target firewall to configure.")
            return
        state = self.cloud.ensure_firewall_rule(target, target_id, cluster.outbound_ips, linker_id)
        st.note(f"{state.rule_name}: {state.detail}")

    def _await_ready(self, kc: Client, resource_name: str, st: Any) -> None:
        try:
            cond = kube_client.wait_for_ready(kc, resource_name, timeout=self.settings.ready_timeout)
        except kube_client.ReadyTimeout as exc:
            raise errors.operator_silent(str(exc)) from None
        if cond.status != "True":
            raise errors.not_reconciled(cond.reason, cond.message)
        st.note(cond.message)

    def _merge_stored_secret(self, linker_id: str, resource: LinkerResource) -> None:
        """On update, a database password need not be re-sent: the stored one is kept (az requires it again;
        reference §7 item 9)."""
        info = resource.properties.auth_info
        if not isinstance(info, SecretAuthInfo) or (info.secret_info and _secret_value(info)):
            return
        stored = self.store.get_linker(linker_id)
        if stored is None or "authInfo" not in stored.secrets:
            return
        previous = SecretAuthInfo.model_validate(json.loads(stored.secrets["authInfo"]))
        if previous.name == info.name or info.name is None:
            info.name = previous.name
            info.secret_info = previous.secret_info

    def _check_secret_keys(self, target: Target, resource: LinkerResource) -> None:
        info = resource.properties.auth_info
        if not isinstance(info, SecretAuthInfo) or target.secret_is_auto:
            return
        if not info.name or not _secret_value(info):
            raise errors.missing_secret_keys()

    def _sealed(self, resource: LinkerResource) -> dict[str, str]:
        info = resource.properties.auth_info
        if info is None:
            return {}
        full = info.request_dump()
        public = info.response_dump()
        return {"authInfo": json.dumps(full)} if full != public else {}

    def _desired(self, stored: StoredLinker) -> LinkerResource:
        """The linker with its write-only secrets put back (for composing configuration values)."""
        body = dict(stored.body)
        if "authInfo" in stored.secrets:
            body["properties"] = {**body["properties"], "authInfo": json.loads(stored.secrets["authInfo"])}
        return LinkerResource.model_validate(body)

    def _public_body(self, plan: Plan, existing: StoredLinker | None, state: str) -> dict[str, Any]:
        now = _now()
        created = (existing.body.get("systemData") or {}) if existing else {}
        body = plan.resource.model_copy(deep=True)
        body.properties.scope = plan.namespace
        body.properties.provisioning_state = state
        out = body.to_response()
        out.update(
            {
                "id": plan.linker_id,
                "name": plan.name,
                "type": LINKER_TYPE,
                "systemData": {
                    "createdBy": created.get("createdBy", self.settings.caller),
                    "createdByType": "User",
                    "createdAt": created.get("createdAt", now),
                    "lastModifiedBy": self.settings.caller,
                    "lastModifiedByType": "User",
                    "lastModifiedAt": now,
                },
            }
        )
        return out


def _secret_value(info: SecretAuthInfo) -> str | None:
    si = info.secret_info
    return si.value if isinstance(si, ValueSecretInfo) else None


def _provider_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    i = lowered.index("providers") if "providers" in lowered else -1
    return "/".join(parts[i + 1 : i + 3]) if i >= 0 else ""


__all__ = ["AuthType", "Engine", "EngineSettings", "Plan"]
