"""uvicorn's HTTP protocols with Keel's error envelope for the requests uvicorn refuses itself.

A request the HTTP parser cannot read (an absurd `Content-Length`, a malformed request line or header)
never reaches the app: uvicorn answers it with a plain-text 400. These subclasses answer the same 400
as JSON in the error envelope (`BAD_REQUEST`), like every other refusal. `keel serve` uses them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from uvicorn.protocols.http.h11_impl import H11Protocol

from keel.core.envelope import ErrorBody, ErrorEnvelope


def _envelope(msg: str) -> bytes:
    return msgspec.json.encode(
        ErrorEnvelope(error=ErrorBody(code="BAD_REQUEST", message=msg or "Invalid HTTP request"))
    )


def _response(body: bytes, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 400 Bad Request\r\n"]
    lines += [name + b": " + value + b"\r\n" for name, value in default_headers]
    lines += [
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
        b"connection: close\r\n\r\n",
        body,
    ]
    return b"".join(lines)


class KeelH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(_response(_envelope(msg), self.server_state.default_headers))
        self.transport.close()


try:  # uvicorn's faster parser, when installed (uvicorn[standard]); h11 otherwise
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is in the lock
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if HttpToolsProtocol is not None:

    class KeelHttpToolsProtocol(HttpToolsProtocol):
        def send_400_response(self, msg: str) -> None:
            self.transport.write(_response(_envelope(msg), self.server_state.default_headers))
            self.transport.close()


def http_protocol() -> type[Any]:
    """The protocol class uvicorn's `http="auto"` would pick (httptools when installed), with the
    envelope. Module-level classes: `keel serve --workers N` pickles them into each worker."""
    return KeelH11Protocol if HttpToolsProtocol is None else KeelHttpToolsProtocol
