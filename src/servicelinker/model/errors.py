"""ARM errors: the `{"error": {"code", "message", "target", "details", "additionalInfo"}}` body and the exception.

Every error a user can cause carries three things: an ARM error `code` (Azure's where Azure has one), a
`message` naming what was wrong (Azure's exact text where the reference quotes one, e.g.
`Resource id is invalid: <id>`), and a `remedy` saying what to do. The remedy is kept apart from the message so
that Azure's texts stay byte-exact; on the wire it travels as an `additionalInfo` entry of type `Remedy`
(ARM's documented extension point), and `str(error)` joins both for humans.

Pure data: no I/O, nothing else of ours imported.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorCode(StrEnum):
    """ARM error codes used by servicelinker (Azure's spelling)."""

    INVALID_ARGUMENT_VALUE = "InvalidArgumentValue"
    INVALID_RESOURCE_ID = "InvalidResourceId"
    MISSING_REQUIRED_ARGUMENT = "RequiredArgumentMissing"
    INVALID_REQUEST_CONTENT = "InvalidRequestContent"
    UNSUPPORTED_COMBINATION = "UnsupportedCombination"
    RESOURCE_NOT_FOUND = "ResourceNotFound"
    CONFLICT = "Conflict"
    SUBSCRIPTION_NOT_REGISTERED = "SubscriptionNotRegistered"
    AUTHORIZATION_FAILED = "AuthorizationFailed"
    INTERNAL_SERVER_ERROR = "InternalServerError"


#: The HTTP status an ARM front end returns for each code (anything unlisted is a 400).
HTTP_STATUS: dict[str, int] = {
    ErrorCode.INVALID_ARGUMENT_VALUE: 400,
    ErrorCode.INVALID_RESOURCE_ID: 400,
    ErrorCode.MISSING_REQUIRED_ARGUMENT: 400,
    ErrorCode.INVALID_REQUEST_CONTENT: 400,
    ErrorCode.UNSUPPORTED_COMBINATION: 400,
    ErrorCode.RESOURCE_NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.SUBSCRIPTION_NOT_REGISTERED: 409,
    ErrorCode.AUTHORIZATION_FAILED: 403,
    ErrorCode.INTERNAL_SERVER_ERROR: 500,
}

#: The longest part of a user's input an error message quotes.
QUOTE_LIMIT = 64


def shown(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A user's input as an error message may quote it: at most `limit` characters (an error never echoes a
    20 MB value, nor a whole password someone pasted into the wrong field)."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: `additionalInfo[].type` under which the remedy travels.
REMEDY_INFO_TYPE = "Remedy"


class ErrorAdditionalInfo(BaseModel):
    """ARM `ErrorAdditionalInfo` (common-types v3)."""

    model_config = ConfigDict(extra="allow")

    type: str | None = None
    info: dict[str, Any] | None = None


class ErrorDetail(BaseModel):
    """ARM `ErrorDetail` (common-types v3); `details` nests."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    code: str | None = None
    message: str | None = None
    target: str | None = None
    details: list[ErrorDetail] | None = None
    additional_info: list[ErrorAdditionalInfo] | None = Field(default=None, alias="additionalInfo")

    @property
    def remedy(self) -> str | None:
        """The remedy carried in `additionalInfo`, if any."""
        for item in self.additional_info or []:
            if item.type == REMEDY_INFO_TYPE and item.info:
                value = item.info.get("message")
                return str(value) if value is not None else None
        return None


class ErrorResponse(BaseModel):
    """ARM `ErrorResponse`: `{"error": ErrorDetail}`."""

    model_config = ConfigDict(extra="allow")

    error: ErrorDetail | None = None


class ArmError(Exception):
    """An error with an ARM code, a message naming the field, and a remedy.

    Raised by model/catalog validation and by the engine; the REST layer turns it into an `ErrorResponse`
    with `status`, the CLI prints `str(error)`.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        target: str | None = None,
        remedy: str | None = None,
        status: int | None = None,
        details: list[ArmError] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.target = target
        self.remedy = remedy
        self.status = status if status is not None else HTTP_STATUS.get(self.code, 400)
        self.details = list(details or [])

    def __str__(self) -> str:
        text = f"({self.code}) {self.message}"
        return f"{text} {self.remedy}" if self.remedy else text

    def __repr__(self) -> str:
        return f"ArmError(code={self.code!r}, message={self.message!r}, target={self.target!r})"

    def to_detail(self) -> ErrorDetail:
        """The `ErrorDetail` for this error (remedy in `additionalInfo`)."""
        info = (
            [ErrorAdditionalInfo(type=REMEDY_INFO_TYPE, info={"message": self.remedy})] if self.remedy else None
        )
        return ErrorDetail(
            code=self.code,
            message=self.message,
            target=self.target,
            details=[d.to_detail() for d in self.details] or None,
            additional_info=info,
        )

    def to_response(self) -> ErrorResponse:
        """The ARM error body."""
        return ErrorResponse(error=self.to_detail())

    def to_body(self) -> dict[str, Any]:
        """The ARM error body as JSON-ready data (no null members)."""
        return self.to_response().model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_detail(cls, detail: ErrorDetail, status: int | None = None) -> ArmError:
        """Rebuild an error received from ARM (e.g. by the Azure cloud adapter)."""
        return cls(
            detail.code or ErrorCode.INTERNAL_SERVER_ERROR,
            detail.message or "",
            target=detail.target,
            remedy=detail.remedy,
            status=status,
            details=[cls.from_detail(d) for d in detail.details or []],
        )


def invalid_argument(message: str, *, target: str, remedy: str) -> ArmError:
    """Shorthand for the most common user error."""
    return ArmError(ErrorCode.INVALID_ARGUMENT_VALUE, message, target=target, remedy=remedy)


def authorization_failed(principal: str, action: str, scope: str, remedy: str | None = None) -> ArmError:
    """ARM's 403 for a principal lacking `action` at `scope`, in ARM's words."""
    return ArmError(
        ErrorCode.AUTHORIZATION_FAILED,
        f"The client '{principal}' with object id '{principal}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
        "your credentials.",
        target=scope,
        remedy=remedy or f"Ask an owner of the scope to grant a role that allows {action} (e.g. Contributor).",
    )
