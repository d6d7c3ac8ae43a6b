"""The front door, before any route runs: the caller is authenticated before a byte of the body is read, and no
body larger than ARM's 4 MB limit is read at all.

An unauthenticated request gets its 401 at once, whatever its body (a 60 MB body without a token is never read);
a body over `MAX_BODY_BYTES` gets 413 `RequestEntityTooLarge`, whether it announces its length or streams it. The
principal is handed to the routes in the request's state (`deps.caller` reads it).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicelinker.api.auth import Authenticator, AuthError
from servicelinker.model.errors import ArmError

#: ARM refuses request bodies over 4 MB; a linker body is a few kilobytes.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Paths anyone may read: the API's own description.
PUBLIC_PATHS = frozenset({"/openapi.json"})
PRINCIPAL = "principal"


def too_large(limit: int = MAX_BODY_BYTES) -> ArmError:
    return ArmError(
        "RequestEntityTooLarge",
        f"The request body is larger than {limit // (1024 * 1024)} MB.",
        target="body",
        remedy="Send the resource's JSON body only; a linker's body is a few kilobytes.",
        status=413,
    )


async def _send_error(send: Send, error: ArmError, headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(error.to_body()).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": error.status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class Guard:
    def __init__(self, app: ASGIApp, authenticator: Callable[[], Authenticator], limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.authenticator = authenticator
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode(errors="replace") for k, v in scope.get("headers", [])}
        if scope["path"] not in PUBLIC_PATHS:
            try:
                principal = self.authenticator().authenticate(headers.get("authorization"))
            except AuthError as exc:
                await _send_error(send, exc, exc.headers)
                return
            except ArmError as exc:
                await _send_error(send, exc)
                return
            scope.setdefault("state", {})[PRINCIPAL] = principal
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            await _send_error(send, too_large(self.limit))
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # an HTTPException passes through FastAPI's body parsing unchanged; errors.py renders it
                    raise HTTPException(413, f"The request body is larger than {self.limit // (1024 * 1024)} MB.")
            return message

        await self.app(scope, limited_receive, send)
