"""The engine's ARM errors with the seed's wording (reference §1.7) and a remedy for each."""

from __future__ import annotations

from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.ids import ResourceId


def cluster_busy(cluster_id: str, state: str) -> ArmError:
    name = ResourceId.parse(cluster_id).name
    return ArmError(
        ErrorCode.CONFLICT,
        f"Operation returned an invalid status code 'Conflict'. The cluster '{name}' is in provisioning state "
        f"'{state}': Service Connector cannot change a cluster while another operation is in progress on it.",
        target=cluster_id,
        remedy="Wait until the cluster's provisioningState is 'Succeeded' (`az aks show -g <rg> -n <cluster> --query "
        "provisioningState`; on the local cloud `servicelinker local resource show --id <cluster id>`), then retry.",
        status=409,
    )


def provider_not_registered(namespace: str, subscription: str) -> ArmError:
    return ArmError(
        "MissingSubscriptionRegistration",
        f"The subscription is not registered to use namespace '{namespace}'. See https://aka.ms/rps-not-found for "
        "how to register subscriptions.",
        target=f"/subscriptions/{subscription}",
        remedy=f"Register it with `az provider register -n {namespace} --subscription {subscription}` (on the local "
        f"cloud: `servicelinker local provider register --namespace {namespace}`), wait until it shows "
        "'Registered', then retry.",
        status=409,
    )


def extension_failed(helm_message: str) -> ArmError:
    return ArmError(
        "ExtensionOperationFailed",
        f"Installing or upgrading the Kubernetes extension sc-extension failed. Helm: {helm_message}",
        target="sc-extension",
        remedy="Fix the cause Helm names (`helm status sc-extension -n sc-system`, `kubectl -n sc-system get events`), "
        "or remove a broken release with `helm uninstall sc-extension -n sc-system`, then retry; `servicelinker aks "
        "extension show` reports the extension's health.",
        status=422,
    )


def operator_silent(detail: str) -> ArmError:
    return ArmError(
        "ExtensionUnhealthy",
        f"The sc-extension operator is not running: {detail}",
        target="sc-extension",
        remedy="On a cluster: `kubectl -n sc-system get pods,events` (image pulls, taints). On the dev stack: run "
        "`servicelinker devstack up` (it starts the operator out of cluster).",
        status=503,
    )


def namespace_not_found(namespace: str) -> ArmError:
    return ArmError(
        ErrorCode.INVALID_ARGUMENT_VALUE,
        f"The Kubernetes namespace '{namespace}' does not exist in the cluster.",
        target="properties.scope",
        remedy=f"Create it (`kubectl create namespace {namespace}`) or choose an existing one (properties.scope; "
        "az: --kube-namespace).",
    )


def not_reconciled(reason: str, message: str) -> ArmError:
    return ArmError(
        "ConnectionNotReady",
        f"The operator could not deliver the connection's Secret ({reason}): {message}",
        target="sc-extension",
        remedy="Fix the cause named above; the operator retries by itself, and `servicelinker aks connection "
        "validate` reports the result.",
        status=422,
    )


def linker_not_found(linker_id: str) -> ArmError:
    name = ResourceId.parse(linker_id).name
    return ArmError(
        ErrorCode.RESOURCE_NOT_FOUND,
        f"The Resource 'Microsoft.ServiceLinker/linkers/{name}' under resource "
        f"'{linker_id.split('/providers/Microsoft.ServiceLinker')[0]}' was not found.",
        target=linker_id,
        remedy="Check the connection name (`servicelinker aks connection list -g <rg> -n <cluster>`).",
    )


def missing_secret_keys() -> ArmError:
    return ArmError(
        ErrorCode.MISSING_REQUIRED_ARGUMENT,
        "Required keys missing for parameter --secret. All possible keys are: name, secret/secret-uri/secret-name",
        target="properties.authInfo",
        remedy="Give the database user and password (properties.authInfo.name and secretInfo.value; az: --secret "
        "name=<user> secret=<password>).",
    )


def secret_taken(namespace: str, secret: str, owner: str | None) -> ArmError:
    """Two connections must never deliver one Secret (their names normalise alike, e.g. `coll_x` and `collx`)."""
    who = f"connection '{ResourceId.parse(owner).name}' ({owner})" if owner else "something other than servicelinker"
    return ArmError(
        ErrorCode.CONFLICT,
        f"The Secret '{namespace}/{secret}' that this connection would deliver already belongs to {who}.",
        target="linkerName",
        remedy="Give the connection a name whose letters and digits differ (the Secret is named sc-<letters and "
        "digits of the name>-secret), deliver it to another namespace, or delete the other connection first.",
        status=409,
    )
