"""ARM's own errors, kept: a failed SDK call becomes an `ArmError` with the code, message and status ARM gave
(`ResourceNotFound`, `AuthorizationFailed`, `Conflict`, ...), so the user reads Azure's words, not a traceback.
Transport failures (the endpoint unreachable) and credential failures get codes of their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

from servicelinker.model.errors import ArmError, ErrorCode, shown

SERVICE_UNAVAILABLE = "ServiceUnavailable"
AUTHENTICATION_FAILED = "AuthenticationFailed"


def service_error(resource_id: str, message: str) -> ArmError:
    return ArmError(SERVICE_UNAVAILABLE, message, target=resource_id, status=503,
                    remedy="Retry; if it persists, check the resource in the Azure portal.")  # fmt: skip


def from_response(error: HttpResponseError, resource_id: str | None) -> ArmError:
    odata = getattr(error, "error", None)
    code = getattr(odata, "code", None) or (error.reason or "").replace(" ", "") or ErrorCode.INTERNAL_SERVER_ERROR
    message = getattr(odata, "message", None) or shown(error.message, 500)
    status = error.status_code or 500
    remedy = None
    if code == ErrorCode.AUTHORIZATION_FAILED:
        remedy = "Ask an owner of the scope for a role that allows the action (see docs/azure.md)."
    elif status == 404:
        remedy = "Check the resource id, or create the resource first."
    return ArmError(str(code), str(message), target=getattr(odata, "target", None) or resource_id, status=status,
                    remedy=remedy)  # fmt: skip


@contextmanager
def arm_errors(resource_id: str | None = None) -> Iterator[None]:
    """Translate the SDKs' exceptions raised inside into `ArmError`s about `resource_id`."""
    try:
        yield
    except ClientAuthenticationError as exc:
        raise ArmError(AUTHENTICATION_FAILED, f"Could not get a token for Azure: {shown(exc.message, 300)}",
                       status=401, remedy="Sign in (`az login`) or configure a credential (docs/azure.md).") from None
    except HttpResponseError as exc:
        raise from_response(exc, resource_id) from None
    except ServiceRequestError as exc:
        raise ArmError(SERVICE_UNAVAILABLE, f"Azure Resource Manager could not be reached: {shown(exc.message, 300)}",
                       status=503, remedy="Check the network and the configured ARM endpoint.") from None
