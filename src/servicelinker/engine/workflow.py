"""The steps of a create/update and of a delete, each idempotent and recorded in the operation's log.

Create/update runs from the operation's `Plan` (planning.py): cluster state -> extension present and healthy ->
cluster features for the auth type -> the target's credentials and the configurations -> target firewall ->
identity (federated credential, role assignments) -> the ServiceConnection in sc-system -> the operator's Ready.
A failing step ends the operation with that step's error and remedy; a retry converges because every step is
idempotent.
"""

from __future__ import annotations

import time
from typing import Any

from servicelinker.catalog import limits, naming
from servicelinker.catalog.configuration import build_configurations
from servicelinker.catalog.targets import Target, check_supported
from servicelinker.clouds.base import ClusterInfo
from servicelinker.engine import errors, identity, planning
from servicelinker.engine.context import EngineContext
from servicelinker.engine.oplog import OperationLog, StepHandle
from servicelinker.engine.ports import ClusterPort
from servicelinker.kube import connections as kconn
from servicelinker.kube import contract
from servicelinker.kube.client import ReadyTimeout
from servicelinker.kube.cluster import SyncJobFailed
from servicelinker.kube.helm import HelmError
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId
from servicelinker.model.linker import LinkerProperties, LinkerResource, ProvisioningState
from servicelinker.model.records import Operation, blank_credentials
from servicelinker.store.repository import StoredLinker


def plan_of(ctx: EngineContext, op: Operation, stored: StoredLinker) -> planning.Plan:
    """The plan the request was accepted with (an operation recorded before plans were, is planned anew)."""
    if "plan" in op.params:
        return planning.Plan.model_validate(op.params["plan"])
    return planning.make_plan(ctx, op.resource_id, planning.desired(stored), stored)


# ---------------------------------------------------------------------------------------------- create / update


def apply(ctx: EngineContext, op: Operation, log: OperationLog) -> dict[str, Any] | None:
    stored = ctx.store.get_linker(op.resource_id)
    if stored is None:
        raise errors.linker_not_found(op.resource_id)
    plan = plan_of(ctx, op, stored)
    resource = planning.desired(stored)
    props = resource.properties
    target = plan.catalog_target
    ctx.store.set_linker_state(op.resource_id, "Updating" if op.kind == "update" else "Creating")
    with log.step("Check the cluster"):
        cluster = ctx.cloud.get_cluster(plan.source_id)
        planning.check_cluster_state(cluster)
    with ctx.cluster(cluster) as kc:
        with log.step("Install sc-extension") as st:
            ensure_extension(ctx, kc, cluster, st)
        with log.step("Check sc-extension health") as st:
            await_operator(ctx, kc, st)
        with log.step("Enable cluster features") as st:
            cluster = enable_features(ctx, cluster, props, st)
        with log.step("Read target configuration") as st:
            facts = planning.with_secrets(ctx, target, resource, plan.target_facts(), cluster)
            configs = build_configurations(resource, facts, target=target)
            limits.check_configurations(configs)
            st.note(f"{len(configs)} configuration values for {target.name} ({props.client_type or 'none'}).")
        with log.step("Configure target firewall") as st:
            configure_firewall(ctx, target, resource, cluster, op.resource_id, st)
        with log.step("Configure identity") as st:
            who = plan.identity
            if who.kind == "csi":  # the add-on's identity exists now that the add-on is enabled
                who = planning.identity_plan(ctx, cluster, resource, target, facts, name=plan.name,
                                             linker_id=plan.linker_id, namespace=plan.namespace)  # fmt: skip
            if who.kind == "none":
                st.skip("Secret authentication uses no identity.")
            else:
                st.note(identity.apply(ctx.cloud, who, cluster))
        resource_name = kconn.resource_name_for(op.resource_id, plan.name)
        with log.step("Write connection to the cluster") as st:
            spec, credentials = kconn.spec_for(op.resource_id, plan.name, plan.namespace,
                                               naming.secret_name(plan.name), configs, resource=resource_name,
                                               service_account=who.service_account)  # fmt: skip
            generation = kc.apply_connection(resource_name, spec, credentials)
            st.note(f"ServiceConnection {contract.SYSTEM_NAMESPACE}/{resource_name} generation {generation}.")
        with log.step("Wait for the operator") as st:
            await_ready(ctx, kc, resource_name, st)
    blanked = [c.model_dump() for c in blank_credentials(configs)]
    body = {**stored.body, "properties": {**stored.body["properties"], "provisioningState": "Succeeded"}}
    ctx.store.put_linker(op.resource_id, stored.source_id, stored.name, body, stored.secrets, "Succeeded", blanked)
    return {"Message": None}


def ensure_extension(ctx: EngineContext, kc: ClusterPort, cluster: ClusterInfo, st: StepHandle) -> None:
    try:
        release, ran = kc.ensure_extension(ctx.settings.extension_values)
    except HelmError as exc:
        raise errors.extension_failed(exc.message) from None
    if not ran:
        st.skip(f"sc-extension {release.chart_version} already installed.")
        return
    note = f"Helm release sc-extension revision {release.revision} ({release.status})."
    if cluster.operator_mode == "external":
        try:
            note += " " + kc.run_sync_job()
        except SyncJobFailed as exc:
            raise errors.extension_failed(str(exc)) from None
    st.note(note)


def await_operator(ctx: EngineContext, kc: ClusterPort, st: StepHandle) -> None:
    deadline = time.monotonic() + ctx.settings.heartbeat_grace
    while True:
        alive, message = kc.operator_heartbeat()
        if alive:
            st.note(message)
            return
        if time.monotonic() > deadline:
            raise errors.operator_silent(message)
        time.sleep(0.5)


def enable_features(ctx: EngineContext, cluster: ClusterInfo, props: LinkerProperties, st: StepHandle) -> ClusterInfo:
    oidc, wi, addons = identity.features_for(props)
    if not (oidc or wi or addons):
        st.skip("Secret authentication needs no cluster feature.")
        return cluster
    wanted = []
    if oidc and not cluster.oidc_issuer_enabled:
        wanted.append("OIDC issuer")
    if wi and not cluster.workload_identity_enabled:
        wanted.append("workload identity")
    missing_addons = tuple(a for a in addons if not (cluster.addons.get(a) and cluster.addons[a].enabled))
    wanted += [f"add-on {a}" for a in missing_addons]
    if not wanted:
        st.skip("Already enabled on the cluster.")
        return cluster
    updated = ctx.cloud.enable_cluster_features(cluster.id, oidc_issuer=oidc, workload_identity=wi,
                                                addons=missing_addons)  # fmt: skip
    st.note(f"Cluster updated (Updating, then {updated.provisioning_state}): enabled {', '.join(wanted)}.")
    return updated


def configure_firewall(ctx: EngineContext, target: Target, resource: LinkerResource, cluster: ClusterInfo,
                       linker_id: str, st: StepHandle) -> None:  # fmt: skip
    pns = resource.properties.public_network_solution
    target_id = resource.properties.target_id
    if pns is not None and pns.action == "optOut":
        st.skip("Opted out (--opt-out publicnetwork).")
        return
    if not target_id or not cluster.outbound_ips:
        st.skip("No target firewall to configure.")
        return
    state = ctx.cloud.ensure_firewall_rule(target, target_id, cluster.outbound_ips, linker_id)
    st.note(f"{state.rule_name}: {state.detail}")


def await_ready(ctx: EngineContext, kc: ClusterPort, resource_name: str, st: StepHandle) -> None:
    try:
        cond = kc.wait_ready(resource_name, ctx.settings.ready_timeout)
    except ReadyTimeout as exc:
        raise errors.operator_silent(str(exc)) from None
    if cond.status != "True":
        raise errors.not_reconciled(cond.reason, cond.message)
    st.note(cond.message)


# ------------------------------------------------------------------------------------------------------- delete


def rule_sharers(ctx: EngineContext, stored: StoredLinker, target_id: str) -> list[str]:
    """Other connections of the same cluster to the same target resource: a firewall rule admits the cluster, not
    one connection, so it stays while any of them needs it."""
    server = ResourceId.parse(target_id).top_level()
    out = []
    for other in ctx.store.list_linkers(stored.source_id):
        other_target = LinkerProperties.model_validate(other.properties).target_id
        same = other_target is not None and ResourceId.parse(other_target).top_level() == server
        if other.id.lower() != stored.id.lower() and same:
            out.append(other.name)
    return sorted(out)


def delete(ctx: EngineContext, op: Operation, log: OperationLog) -> dict[str, Any] | None:
    cleanup = bool(op.params.get("cleanup"))
    stored = ctx.store.get_linker(op.resource_id)
    if stored is None:
        return None
    resource = planning.desired(stored)
    props = resource.properties
    resource_name = kconn.resource_name_for(op.resource_id, stored.name)
    cluster: ClusterInfo | None = None
    with log.step("Remove connection from the cluster") as st:
        try:
            cluster = ctx.cloud.get_cluster(stored.source_id)
        except ArmError as exc:
            if exc.code != ErrorCode.RESOURCE_NOT_FOUND:
                raise
            st.skip("The cluster no longer exists.")
        else:
            with ctx.cluster(cluster) as kc:
                legacy = contract.legacy_resource_name(op.resource_id, stored.name)
                remove_from_cluster(ctx, kc, resource_name, cleanup, st, legacy)
    with log.step("Release target firewall rule") as st:
        if not cleanup or not props.target_id:
            st.skip("Kept (Azure keeps firewall rules on delete; pass --cleanup to remove them).")
        elif cluster is None:
            st.skip("The cluster no longer exists; its outbound addresses are unknown.")
        elif sharing := rule_sharers(ctx, stored, props.target_id):
            st.skip(f"Kept: the cluster's firewall rule also admits {', '.join(sharing)}.")
        else:
            ctx.cloud.release_firewall_rule(check_supported(props), props.target_id, cluster.outbound_ips,
                                            op.resource_id)  # fmt: skip
            st.note("Released the cluster's firewall rule on the target.")
    with log.step("Release identity configuration") as st:
        kind = identity.kind_of(props)
        if kind == "none":
            st.skip("Secret authentication uses no identity.")
        elif not cleanup:
            st.skip("Kept (pass --cleanup to remove the federated credential and role assignments).")
        elif cluster is None:
            st.skip("The cluster no longer exists.")
        else:
            target = check_supported(props)
            facts = planning.describe(ctx, target, resource)
            namespace = props.scope or naming.DEFAULT_NAMESPACE
            who = planning.identity_plan(ctx, cluster, resource, target, facts, name=stored.name,
                                         linker_id=op.resource_id, namespace=namespace)  # fmt: skip
            st.note(identity.release(ctx.cloud, who))
    with log.step("Remove connection record"):
        ctx.store.delete_linker(op.resource_id)
    return None


def remove_from_cluster(ctx: EngineContext, kc: ClusterPort, resource_name: str, cleanup: bool,
                        st: StepHandle, legacy_name: str | None = None) -> None:  # fmt: skip
    if kc.connection(resource_name) is None:
        if legacy_name is None or kc.connection(legacy_name) is None:
            st.skip("No ServiceConnection in the cluster.")
            return
        resource_name = legacy_name  # not migrated yet (the operator renames such objects when it starts)
    timeout = ctx.settings.ready_timeout
    if cleanup:
        # The operator guards Delete-policy connections with a finalizer; deleting before it is in place would
        # skip the cleanup, so wait for it.
        kc.set_deletion_policy(resource_name, "Delete")
        _wait(lambda: bool(((kc.connection(resource_name) or {}).get("metadata") or {}).get("finalizers")), timeout,
              f"ServiceConnection {resource_name} got no finalizer in time", 0.1)  # fmt: skip
    kc.delete_connection(resource_name)
    # the operator's finalizer runs the deletion policy
    _wait(lambda: kc.connection(resource_name) is None, timeout,
          f"ServiceConnection {resource_name} was not finalized in time", 0.2)  # fmt: skip
    st.note("Secret and ServiceAccount removed." if cleanup else "Secret kept in the namespace (as Azure does).")


def _wait(done: Any, timeout: float, what: str, interval: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise errors.operator_silent(what)
        time.sleep(interval)


def mark_failed(ctx: EngineContext, op: Operation) -> None:
    if op.kind in ("create", "update"):
        ctx.store.set_linker_state(op.resource_id, ProvisioningState.FAILED)
