"""The synchronous checks of a create or update, and the `Plan` they produce.

A request is checked in the order a user would fix it (ids, name rule, supported combination, secrets, namespace
name, cluster state, provider registration, the caller's permissions, namespace existence, target existence,
identity existence); a failing check raises `ArmError` and nothing is recorded. What the checks resolved is the
`Plan`: recorded with the operation, it is what the steps run from (the catalog target, the namespace, the
target's non-secret facts, who gets which roles), so none of it is worked out twice, and a resumed operation runs
the plan its request was accepted with.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict

from servicelinker.catalog import limits, naming
from servicelinker.catalog.configuration import planned_names, service_of
from servicelinker.catalog.roles import roles_for
from servicelinker.catalog.targets import Target, check_supported, get_target
from servicelinker.clouds.base import ClusterInfo
from servicelinker.engine import errors, identity
from servicelinker.engine.context import EngineContext
from servicelinker.engine.ports import ClusterPort
from servicelinker.model.choices import check_choices
from servicelinker.model.errors import ArmError, ErrorCode, shown
from servicelinker.model.ids import ResourceId, parse_connection_id, validate_source_id
from servicelinker.model.linker import AzureResource, LinkerResource, SecretAuthInfo, ValueSecretInfo
from servicelinker.model.records import TargetFacts
from servicelinker.store.repository import StoredLinker

LINKER_TYPE = "microsoft.servicelinker/linkers"
REQUIRED_PROVIDERS = ("Microsoft.ServiceLinker", "Microsoft.KubernetesConfiguration")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Plan(BaseModel):
    """What a create/update was accepted with; stored in the operation's params (no secret in it)."""

    model_config = ConfigDict(frozen=True)

    linker_id: str
    source_id: str
    name: str
    namespace: str
    #: The catalog target's name (`postgres-flexible`, ...).
    target: str
    #: The target's facts without secrets, as the checks read them.
    facts: dict[str, Any]
    #: Workload identity and service principals: resolved at plan time. The Key Vault CSI add-on's identity
    #: exists only once the add-on is enabled, so that plan is made by the step that enables it.
    identity: identity.IdentityPlan

    @property
    def catalog_target(self) -> Target:
        return get_target(self.target)

    def target_facts(self) -> TargetFacts:
        return TargetFacts.model_validate(self.facts)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------------------ checks


def check_cluster_state(cluster: ClusterInfo) -> None:
    if cluster.provisioning_state != "Succeeded":
        raise errors.cluster_busy(cluster.id, cluster.provisioning_state)


def check_providers(ctx: EngineContext, source_id: str) -> None:
    subscription = ResourceId.parse(source_id).subscription
    for namespace in REQUIRED_PROVIDERS:
        if ctx.cloud.provider_state(subscription, namespace) != "Registered":
            raise errors.provider_not_registered(namespace, subscription)


def check_namespace_name(namespace: str) -> None:
    if not _DNS_LABEL.match(namespace) or len(namespace) > 63:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"'{shown(namespace)}' is not a valid Kubernetes namespace name.",
            target="properties.scope",
            remedy="Use lowercase letters, digits and '-' (at most 63 characters).",
        )


def check_auth_given(target: Target, resource: LinkerResource) -> None:
    """A connection delivers nothing without auth info, so none is accepted only when configuration is opted out
    too (az: `--opt-out auth configinfo`, reference §2.4)."""
    props = resource.properties
    opted_out = props.configuration_info is not None and props.configuration_info.action == "optOut"
    if props.auth_info is None and not opted_out:
        raise ArmError(
            ErrorCode.MISSING_REQUIRED_ARGUMENT,
            f"Auth info is required for a connection to {target.name}.",
            target="properties.authInfo",
            remedy="Give properties.authInfo (az: --secret, --workload-identity or --service-principal), or opt out "
            "of configuration as well (configurationInfo.action = optOut).",
        )


def check_namespace_kept(previous: StoredLinker | None, namespace: str) -> None:
    """The namespace of an AKS connection cannot change (az's own code says so); moving would leave the old
    Secret, with its password, behind. Refused, naming both, rather than ignored."""
    current = (previous.properties.get("scope") or naming.DEFAULT_NAMESPACE) if previous else None
    if current is not None and current != namespace:
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"The connection delivers to namespace '{current}'; the namespace of an existing AKS connection cannot "
            f"change to '{shown(namespace)}'.",
            target="properties.scope",
            remedy=f"Send scope '{current}' (az: --kube-namespace {current}), or delete the connection and create "
            "it in the other namespace.",
        )


def check_secret_keys(target: Target, resource: LinkerResource) -> None:
    info = resource.properties.auth_info
    if not isinstance(info, SecretAuthInfo) or target.secret_is_auto:
        return
    if not info.name or not secret_value(info):
        raise errors.missing_secret_keys()


def secret_value(info: SecretAuthInfo) -> str | None:
    si = info.secret_info
    return si.value if isinstance(si, ValueSecretInfo) else None


def merge_stored_secret(previous: StoredLinker | None, resource: LinkerResource) -> None:
    """On update, a database password need not be re-sent: the stored one is kept (az requires it again;
    reference §7 item 9)."""
    info = resource.properties.auth_info
    if not isinstance(info, SecretAuthInfo) or (info.secret_info and secret_value(info)):
        return
    if previous is None or "authInfo" not in previous.secrets:
        return
    stored = SecretAuthInfo.model_validate(json.loads(previous.secrets["authInfo"]))
    if stored.name == info.name or info.name is None:
        info.name = stored.name
        info.secret_info = stored.secret_info


def check_secret_free(ctx: EngineContext, kc: ClusterPort, linker_id: str, source_id: str, name: str,
                      namespace: str) -> None:  # fmt: skip
    """The Secret this connection delivers must be its own: no other connection of the store delivers a Secret of
    that name into that namespace, and in the cluster it is absent, ours, or left behind by a deleted connection."""
    secret = naming.secret_name(name)
    me = linker_id.lower()
    for other in ctx.store.list_linkers(source_id):
        same_place = (other.properties.get("scope") or naming.DEFAULT_NAMESPACE) == namespace
        if other.id.lower() != me and same_place and naming.secret_name(other.name) == secret:
            raise errors.secret_taken(namespace, secret, other.id)
    owner = kc.secret_owner(namespace, secret)
    if owner is None or owner.lower() == me:
        return
    if owner == "" or ctx.store.get_linker(owner) is not None:
        raise errors.secret_taken(namespace, secret, owner or None)


# ------------------------------------------------------------------------------------------------------ facts


def identity_facts(ctx: EngineContext, kind: identity.Kind, cluster: ClusterInfo) -> dict[str, Any]:
    """What identity-based configurations name besides the target: the tenant, and for the Key Vault CSI driver
    the add-on identity's client id."""
    if kind == "none":
        return {}
    update: dict[str, Any] = {"tenant_id": ctx.cloud.tenant_id}
    addon = cluster.addons.get(identity.CSI_ADDON)
    if kind == "csi" and addon is not None:
        update["client_id"] = addon.identity_client_id
    return update


def describe(ctx: EngineContext, target: Target, resource: LinkerResource) -> TargetFacts:
    """The target's non-secret facts (a missing target or database raises)."""
    props = resource.properties
    if not props.target_id:
        return TargetFacts()
    return ctx.cloud.describe_target(target, props.target_id, identity_based=identity.kind_of(props) != "none")


def with_secrets(ctx: EngineContext, target: Target, resource: LinkerResource, facts: TargetFacts,
                 cluster: ClusterInfo) -> TargetFacts:  # fmt: skip
    """`facts` completed with the target's credentials and the identity facts: what configurations are made of."""
    props = resource.properties
    update = identity_facts(ctx, identity.kind_of(props), cluster)
    if props.target_id:
        secrets = ctx.cloud.target_secrets(target, props.target_id)
        update.update({k: getattr(secrets, k) for k in secrets.model_fields_set})
    return facts.model_copy(update=update) if update else facts


def identity_plan(
    ctx: EngineContext,
    cluster: ClusterInfo,
    resource: LinkerResource,
    target: Target,
    facts: TargetFacts,
    *,
    name: str,
    linker_id: str,
    namespace: str,
) -> identity.IdentityPlan:
    props = resource.properties
    kind = identity.kind_of(props)
    roles = roles_for(service_of(target, props, facts).roles, props) if kind != "none" else ()
    return identity.resolve(ctx.cloud, cluster, props, name=name, linker_id=linker_id, namespace=namespace,
                            roles=roles)  # fmt: skip


# ------------------------------------------------------------------------------------------------------ the plan


TARGET_ID_FIELD = "properties.targetService.id"


@contextmanager
def about(body_field: str) -> Iterator[None]:
    """Errors raised inside name `body_field` as their target: ARM's look-up errors (a target not found, access
    to it refused) carry a resource id, but a REST caller needs the member of the body it came from."""
    try:
        yield
    except ArmError as error:
        if error.target is None or error.target.startswith("/"):
            error.target = body_field
        raise


def make_plan(ctx: EngineContext, linker_id: str, resource: LinkerResource,
              previous: StoredLinker | None) -> Plan:  # fmt: skip
    """Every synchronous check of a create/update; raises ArmError, changes nothing."""
    cid = parse_connection_id(linker_id, target="linkerName")
    naming.validate_connection_name(cid.name, target="linkerName")
    source_id = validate_source_id(cid.source_id, target="resourceUri")
    props = resource.properties
    target = check_supported(props)
    if isinstance(props.target_service, AzureResource) and props.target_service.id:
        target.validate_id(props.target_service.id, target=TARGET_ID_FIELD)
    merge_stored_secret(previous, resource)
    check_auth_given(target, resource)
    check_secret_keys(target, resource)
    limits.check_request(props)
    check_choices(props)
    namespace = props.scope or naming.DEFAULT_NAMESPACE
    check_namespace_name(namespace)
    check_namespace_kept(previous, namespace)
    cluster = ctx.cloud.get_cluster(source_id)
    check_cluster_state(cluster)
    check_providers(ctx, source_id)
    ctx.cloud.check_access(source_id, "Microsoft.ServiceLinker/linkers/write")
    with about(TARGET_ID_FIELD):
        if props.target_id:
            ctx.cloud.check_access(props.target_id, f"{ResourceId.parse(props.target_id).namespace}/read")
    with ctx.cluster(cluster) as kc:
        if not kc.namespace_exists(namespace):
            raise errors.namespace_not_found(namespace)
        check_secret_free(ctx, kc, linker_id, source_id, cid.name, namespace)
    with about(TARGET_ID_FIELD):
        facts = describe(ctx, target, resource)
    limits.check_names(planned_names(resource, facts, target=target))
    kind = identity.kind_of(props)
    plan = identity.IdentityPlan(kind=kind)
    if kind in ("workload", "servicePrincipal"):  # the identity must exist
        plan = identity_plan(ctx, cluster, resource, target, facts, name=cid.name, linker_id=linker_id,
                             namespace=namespace)  # fmt: skip
    return Plan(linker_id=linker_id, source_id=source_id, name=cid.name, namespace=namespace, target=target.name,
                facts=facts.public_dump(), identity=plan)  # fmt: skip


# ------------------------------------------------------------------------------------------------------ bodies


def sealed(resource: LinkerResource) -> dict[str, str]:
    """The write-only parts of the auth info, to be sealed in the store (empty when there are none)."""
    info = resource.properties.auth_info
    if info is None:
        return {}
    full = info.request_dump()
    return {"authInfo": json.dumps(full)} if full != info.response_dump() else {}


def desired(stored: StoredLinker) -> LinkerResource:
    """The linker with its write-only secrets put back (for composing configuration values)."""
    body = dict(stored.body)
    if "authInfo" in stored.secrets:
        body["properties"] = {**body["properties"], "authInfo": json.loads(stored.secrets["authInfo"])}
    return LinkerResource.model_validate(body)


def public_body(plan: Plan, resource: LinkerResource, existing: StoredLinker | None, state: str,
                ctx: EngineContext) -> dict[str, Any]:  # fmt: skip
    stamp = now()
    created = (existing.body.get("systemData") or {}) if existing else {}
    body = resource.model_copy(deep=True)
    body.properties.scope = plan.namespace
    body.properties.provisioning_state = state
    out = body.to_response()
    caller = ctx.caller
    out.update({
        "id": plan.linker_id,
        "name": plan.name,
        "type": LINKER_TYPE,
        "systemData": {
            "createdBy": created.get("createdBy", caller.display_name),
            "createdByType": created.get("createdByType", caller.kind),
            "createdAt": created.get("createdAt", stamp),
            "lastModifiedBy": caller.display_name,
            "lastModifiedByType": caller.kind,
            "lastModifiedAt": stamp,
        },
    })  # fmt: skip
    return out
