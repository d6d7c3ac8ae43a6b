"""validate: real checks where Azure's AKS validation "is always success" (reference §6.1, §7 item 7).

Each check is one ValidateOperationResult item, with Azure's item names where Azure has one:
target existence, target firewall, configured connection information (the Secret in the namespace holds exactly
what the connection delivers), plus ours: the extension's health and a live connection test that reaches the
target with the values the workload reads. A check that cannot be made here says so (`warning`), never success.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from servicelinker.catalog import naming
from servicelinker.catalog.targets import Target, check_supported
from servicelinker.clouds.base import ClusterInfo
from servicelinker.engine import identity, planning
from servicelinker.engine.context import EngineContext
from servicelinker.engine.ports import ClusterPort
from servicelinker.kube import connections as kconn
from servicelinker.model.errors import ArmError
from servicelinker.model.linker import LinkerResource
from servicelinker.model.results import ValidateOperationResult, ValidateResult, ValidationResultItem

TARGET_EXISTENCE = "Target resource existence validated."
TARGET_FIREWALL = "Target service firewall validated."
CONFIGURED_INFO = "Configured connection information validated."
EXTENSION_HEALTH = "Kubernetes extension validated."
LIVE_CONNECTION = "Connection to target validated."


def _item(name: str, result: str, message: str | None = None, code: str | None = None) -> ValidationResultItem:
    return ValidationResultItem(
        name=name,
        description=message if result == "success" else None,
        result=result,
        error_message=None if result == "success" else message,
        error_code=code,
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Validator:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.cloud = ctx.cloud

    def run(self, linker_id: str, name: str, source_id: str, resource: LinkerResource) -> dict[str, Any]:
        start = _now()
        props = resource.properties
        target = check_supported(props)
        namespace = props.scope or naming.DEFAULT_NAMESPACE
        items: list[ValidationResultItem] = []
        cluster = self.cloud.get_cluster(source_id)
        items.append(self._existence(target, props.target_id))
        items.append(self._firewall(target, props.target_id, cluster))
        with self.ctx.cluster(cluster) as kc:
            items.append(self._extension(kc))
            items += self._identity(cluster, target, resource, name, linker_id, namespace)
            delivered, configured = self._configured(kc, linker_id, name, namespace)
        items.append(configured)
        items.append(self._live(target, delivered))
        available = all(i.result != "failure" for i in items)
        result = ValidateOperationResult(
            resource_id=linker_id,
            status="Succeeded",
            properties=ValidateResult(
                linker_name=name,
                is_connection_available=available,
                report_start_time_utc=start,
                report_end_time_utc=_now(),
                source_id=source_id,
                target_id=props.target_id,
                auth_type=props.auth_info.auth_type if props.auth_info else None,
                validation_detail=items,
            ),
        )
        return result.response_dump()

    def _existence(self, target: Target, target_id: str | None) -> ValidationResultItem:
        if not target_id:
            return _item(TARGET_EXISTENCE, "warning", "The target has no Azure resource id to check.")
        try:
            self.cloud.describe_target(target, target_id)
        except ArmError as exc:
            return _item(TARGET_EXISTENCE, "failure", str(exc), exc.code)
        return _item(TARGET_EXISTENCE, "success", f"{target_id} exists.")

    def _firewall(self, target: Target, target_id: str | None, cluster: ClusterInfo) -> ValidationResultItem:
        if not target_id or not cluster.outbound_ips:
            return _item(TARGET_FIREWALL, "warning", "No firewall to check (no target id or no outbound IP).")
        try:
            state = self.cloud.check_firewall(target, target_id, cluster.outbound_ips)
        except ArmError as exc:
            return _item(TARGET_FIREWALL, "failure", str(exc), exc.code)
        if not state.admitted:
            return _item(
                TARGET_FIREWALL,
                "failure",
                state.detail + " Update the connection to restore the rule.",
                "FirewallRuleMissing",
            )
        if not state.enforceable:
            return _item(TARGET_FIREWALL, "warning", state.detail, "FirewallNotEnforceable")
        return _item(TARGET_FIREWALL, "success", state.detail)

    def _identity(self, cluster: ClusterInfo, target: Target, resource: LinkerResource, name: str, linker_id: str,
                  namespace: str) -> list[ValidationResultItem]:  # fmt: skip
        if identity.kind_of(resource.properties) == "none":
            return []
        try:
            facts = planning.describe(self.ctx, target, resource)
            plan = planning.identity_plan(self.ctx, cluster, resource, target, facts, name=name, linker_id=linker_id,
                                          namespace=namespace)  # fmt: skip
        except ArmError as exc:
            return [_item(identity.IDENTITY_EXISTENCE, "failure", str(exc), exc.code)]
        return [_item(n, r, m, c) for n, r, m, c in identity.check(self.cloud, plan, cluster)]

    def _extension(self, kc: ClusterPort) -> ValidationResultItem:
        status = kc.extension_status()
        if status.healthy:
            return _item(EXTENSION_HEALTH, "success", "; ".join(s.message for s in status.statuses))
        bad = "; ".join(s.message for s in status.statuses if s.level == "Error") or status.provisioning_state
        return _item(EXTENSION_HEALTH, "failure", bad, "ExtensionUnhealthy")

    def _configured(
        self, kc: ClusterPort, linker_id: str, name: str, namespace: str
    ) -> tuple[dict[str, str] | None, ValidationResultItem]:
        secret = naming.secret_name(name)
        expected = kc.expected_secret_data(kconn.resource_name_for(linker_id, name))
        delivered = kc.read_secret(namespace, secret)
        if expected is None:
            return delivered, _item(
                CONFIGURED_INFO,
                "failure",
                "The connection is missing from the cluster (no "
                "ServiceConnection in sc-system). Update the connection to restore it.",
                "ConnectionNotInCluster",
            )
        if delivered is None:
            return None, _item(
                CONFIGURED_INFO,
                "failure",
                f"Secret {namespace}/{secret} does not exist. The "
                "operator restores it; if it stays missing, check `servicelinker aks extension show`.",
                "SecretNotFound",
            )
        missing = sorted(set(expected) - set(delivered))
        extra = sorted(set(delivered) - set(expected))
        changed = sorted(k for k in expected if k in delivered and delivered[k] != expected[k])
        if missing or extra or changed:
            parts = [
                f"{label}: {', '.join(keys)}"
                for label, keys in (("missing", missing), ("unexpected", extra), ("differing", changed))
                if keys
            ]
            return delivered, _item(
                CONFIGURED_INFO,
                "failure",
                f"Secret {namespace}/{secret} does not match the "
                f"connection ({'; '.join(parts)}). The operator reverts edits; values are not "
                "shown.",
                "SecretMismatch",
            )
        return delivered, _item(
            CONFIGURED_INFO,
            "success",
            f"Secret {namespace}/{secret} holds the connection's {len(expected)} configuration values.",
        )

    def _live(self, target: Target, delivered: dict[str, str] | None) -> ValidationResultItem:
        if delivered is None:
            return _item(LIVE_CONNECTION, "failure", "No delivered configuration to test.", "SecretNotFound")
        from servicelinker.probes.live import probe  # database drivers load only when validating

        result = probe(target.name, delivered)
        status = {"success": "success", "failure": "failure"}.get(result.status, "warning")
        return _item(LIVE_CONNECTION, status, result.detail, result.error_code)
