"""How connections look in CLI output: az's transforms (reference §2.8) over the REST bodies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from servicelinker.catalog import naming
from servicelinker.model.errors import ErrorDetail
from servicelinker.model.linker import LinkerProperties
from servicelinker.model.records import Configuration, LinkerRecord

if TYPE_CHECKING:
    from servicelinker.model.records import Operation


def linker_view(stored: LinkerRecord, configurations: Sequence[Configuration] | None = None) -> dict[str, Any]:
    """The linker as GET returns it, plus `kubernetesResourceName` (and `configurations` for show/create)."""
    view = dict(stored.body)
    props = LinkerProperties.model_validate(stored.body.get("properties", {}))
    view["kubernetesResourceName"] = naming.kubernetes_resource_names(stored.name, props)
    if configurations is not None:
        view["configurations"] = [c.to_source_configuration().response_dump() for c in configurations]
    return view


def linker_row(view: dict[str, Any]) -> dict[str, Any]:
    props = view.get("properties", {})
    return {
        "Name": view.get("name"),
        "Namespace": props.get("scope"),
        "Target": (props.get("targetService") or {}).get("id"),
        "AuthType": (props.get("authInfo") or {}).get("authType"),
        "ClientType": props.get("clientType"),
        "ProvisioningState": props.get("provisioningState"),
        "Secret": view.get("kubernetesResourceName", {}).get("secret"),
    }


def operation_view(op: Operation) -> dict[str, Any]:
    """An operation as the operationStatuses endpoint shows it."""
    out: dict[str, Any] = {
        "id": op.id,
        "name": op.id,
        "resourceId": op.resource_id,
        "status": op.status,
        "startTime": op.start_time.isoformat(),
        "steps": [s.model_dump(exclude_none=True) for s in op.steps],
    }
    if op.end_time:
        out["endTime"] = op.end_time.isoformat()
    if op.error:
        out["error"] = op.error
    return out


def error_detail(op: Operation) -> ErrorDetail:
    return ErrorDetail.model_validate(op.error or {"code": "InternalServerError", "message": "Operation failed."})


def secret_provider_class(
    connection_name: str, namespace: str, configurations: Sequence[Configuration]
) -> dict[str, Any]:
    """A ready SecretProviderClass for a Key Vault CSI connection (Azure leaves writing it to the user; the
    parameters are its tutorial's, filled from the connection). List the vault's secrets under `objects`."""
    values = {c.name: c.value for c in configurations}
    objects = "array:\n  - |\n    objectName: <secret-name>\n    objectType: secret\n"
    return {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1",
        "kind": "SecretProviderClass",
        "metadata": {"name": f"sc-{naming.secret_name(connection_name)[3:-7]}-spc", "namespace": namespace},
        "spec": {
            "provider": "azure",
            "parameters": {
                "usePodIdentity": "false",
                "useVMManagedIdentity": "true",
                "userAssignedIdentityID": values.get("AZURE_KEYVAULT_CLIENTID", ""),
                "keyvaultName": values.get("AZURE_KEYVAULT_NAME", ""),
                "tenantId": values.get("AZURE_KEYVAULT_TENANTID", ""),
                "objects": objects,
            },
        },
    }
