"""ARM paging: a list answers at most `PAGE_SIZE` items and a `nextLink` carrying `$skipToken` for the rest.

The token is the offset of the next page. A token the server did not issue (not a number, negative, past the end)
is refused with the parameter named, never answered with an arbitrary page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query, Request

from servicelinker.model.errors import ArmError, ErrorCode, shown

PAGE_SIZE = 100

SkipToken = Annotated[str | None, Query(alias="$skipToken", description="OData skipToken option for pagination.")]


def page(request: Request, items: Sequence[Any], skip_token: str | None) -> dict[str, Any]:
    """The page of `items` that `skip_token` points at, with the nextLink of the following one."""
    try:
        start = int(skip_token) if skip_token is not None else 0
    except ValueError:
        start = -1
    if start < 0 or start > len(items) or (skip_token is not None and not skip_token.isdigit()):
        raise ArmError(
            ErrorCode.INVALID_ARGUMENT_VALUE,
            f"The $skipToken '{shown(skip_token)}' is invalid.",
            target="$skipToken",
            remedy="Follow the nextLink of the previous page, or leave $skipToken out for the first page.",
        )
    body: dict[str, Any] = {"value": list(items[start : start + PAGE_SIZE])}
    if start + PAGE_SIZE < len(items):
        body["nextLink"] = str(request.url.include_query_params(**{"$skipToken": str(start + PAGE_SIZE)}))
    return body
