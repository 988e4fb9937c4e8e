"""uvicorn's HTTP protocol for `dummi run`, answering a request it cannot parse the way the API answers
its errors. uvicorn refuses such a request (a NUL or a non-UTF-8 byte in the URL, a URL over 64 KiB, a
broken header) before any route sees it, with a text/plain 400; here that 400 is JSON in the error shape
the spec states for every operation (``dummi.api.errors``)."""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.h11_impl import H11Protocol

from dummi.api.errors import MALFORMED_REQUEST

MALFORMED_BODY = json.dumps(MALFORMED_REQUEST, separators=(",", ":")).encode()
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(MALFORMED_BODY)).encode()),
    (b"connection", b"close"),
]


class JsonErrorsProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's own protocol (httptools where installed, else h11) with a JSON 400."""

    def send_400_response(self, msg: str) -> None:
        if isinstance(self, H11Protocol):
            for event in (
                h11.Response(status_code=400, headers=_HEADERS, reason=b"Bad Request"),
                h11.Data(data=MALFORMED_BODY),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event))
        else:
            head = [b"HTTP/1.1 400 Bad Request\r\n"]
            head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
            head += [name + b": " + value + b"\r\n" for name, value in _HEADERS]
            self.transport.write(b"".join(head) + b"\r\n" + MALFORMED_BODY)
        self.transport.close()


# what `dummi run` passes as uvicorn's ``http`` (an import string: worker processes load it too)
HTTP_PROTOCOL = "dummi.local_http:JsonErrorsProtocol"
