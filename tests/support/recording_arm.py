"""A recording HTTPS endpoint for the Azure adapter's unit tests: it answers the adapter's SDK calls from a table of
canned ARM responses and records every request exactly as it arrived (method, path, query, headers, body).

It is a real server on 127.0.0.1 (TLS from a throw-away CA, because the SDKs' bearer-token policy refuses plain
HTTP), so the adapter's requests cross a real socket; the unit tests then assert on what was sent. Routes match
on method and a case-insensitive path regex; an unmatched request gets ARM's 404 body and is recorded too.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken

HOST = "127.0.0.1"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    @property
    def api_version(self) -> str | None:
        return (self.query.get("api-version") or [None])[0]


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class StaticCredential:
    """azure-core TokenCredential with a fixed, unsigned JWT for `oid` (the endpoint checks nothing)."""

    def __init__(self, oid: str = "11111111-1111-1111-1111-111111111111", tid: str = "tenant") -> None:
        import base64

        def part(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

        self.token = f"{part({'alg': 'none'})}.{part({'oid': oid, 'tid': tid})}.sig"
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes += scopes
        return AccessToken(self.token, int(time.time()) + 3600)


class RecordingArm:
    """`routes`: (METHOD, path regex) -> Reply, or a list of Replies served in turn (the last one repeats)."""

    def __init__(self, directory: Path) -> None:
        from localcloud.devstack.pki import CertificateAuthority

        ca = CertificateAuthority(directory / "pki", common_name="recording-arm-test-ca")
        cert, key = ca.issue("arm", HOST, ip_addresses=[HOST], server=True)
        self.ca_path = ca.cert_path
        self.routes: dict[tuple[str, str], Reply | list[Reply]] = {}
        self.requests: list[Recorded] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                outer.requests.append(Recorded(self.command, url.path, parse_qs(url.query),
                                               {k.lower(): v for k, v in self.headers.items()}, body))  # fmt: skip
                reply = outer._reply(self.command, url.path)
                payload = json.dumps(reply.body).encode() if reply.body is not None else b""
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value.replace("{base}", outer.url))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://{HOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True, name="recording-arm")
        self._thread.start()

    def route(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[(method.upper(), path)] = list(replies) if len(replies) > 1 else replies[0]

    def _reply(self, method: str, path: str) -> Reply:
        for (m, pattern), reply in self.routes.items():
            if m == method and re.fullmatch(pattern, path, flags=re.IGNORECASE):
                if isinstance(reply, list):
                    return reply.pop(0) if len(reply) > 1 else reply[0]
                return reply
        return Reply(404, {"error": {"code": "ResourceNotFound", "message": f"No route for {method} {path}."}})

    def sent(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path, flags=re.IGNORECASE)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
