"""schemathesis over HTTP against a real `dummi run` (uvicorn, the embedded Postgres, the sample catalog,
auth on with an admin key), started by the test: what the in-process run cannot see, such as the answers
of the HTTP server itself to a request it cannot parse. Every check runs, as in test_api_fuzz.py; and the
requests uvicorn refuses before any route answer the JSON 400 every operation documents."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from dummi.api.errors import MALFORMED_REQUEST
from tests.e2e.test_local_server import _free_port, _output, _popen, _stop, _wait_ready
from tests.fuzz.conftest import count
from tests.fuzz.rules import (
    EXAMPLES,
    ITEM,
    ROOT,
    SPEC,
    USER,
    breaks_rules_across_fields,
    excluded_checks,
    fuzz_config,
    store_records,
)


@dataclass(frozen=True)
class Served:
    base: str
    port: int
    key: str


# The port is chosen when the module is collected: the schema needs its base URL then (schemathesis'
# lazy schemas from a fixture do not run on pytest 9).
PORT = _free_port()
over_http = schemathesis.openapi.from_path(SPEC, config=fuzz_config())
over_http.config.update(base_url=f"http://127.0.0.1:{PORT}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir, port = tmp_path_factory.mktemp("fuzz-run") / "data", PORT
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DUMMI_DB_POOL_SIZE")}
    env.update(DUMMI_DATA_DIR=str(data_dir), PORT=str(port), DUMMI_AUTH="on")
    proc = _popen([sys.executable, "-m", "dummi.cli", "run", "--no-access-log"], env, data_dir.parent / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base)
        made = subprocess.run(
            [sys.executable, "-m", "dummi.cli", "keys", "create", "--scope", "admin", "--name", "fuzz"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr + _output(proc)
        yield Served(base, port, made.stdout.strip().splitlines()[-1])
    finally:
        out = _stop(proc)
    assert "Traceback" not in out, out


@pytest.fixture
def records(served: Served) -> None:
    """The records each operation's cases reach (rules.store_records), stored afresh: the cases of the
    operations before may have changed or deleted them."""
    headers = {"X-API-Key": served.key}
    for path in (f"/content/{ITEM['content_id']}", f"/users/{USER['user_id']}"):
        assert httpx.delete(served.base + path, headers=headers, timeout=30).status_code in (204, 404)
    store_records(lambda path, body: httpx.post(served.base + path, json=body, headers=headers, timeout=30))


@over_http.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES)
def test_over_http_no_5xx_and_every_answer_conforms_to_the_spec(case, served, records):
    response = case.call_and_validate(headers={"X-API-Key": served.key}, excluded_checks=excluded_checks(case))
    if breaks_rules_across_fields(case):
        assert response.status_code in (401, 403, 422), response.text
    count("over HTTP", case, response.status_code)


def _raw(served: Served, request_line: bytes, headers: bytes = b"") -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One request as bytes on the wire (an HTTP client would refuse to send these): status line, headers, body."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        conn.sendall(request_line + b"\r\nHost: x\r\nX-API-Key: " + served.key.encode() + b"\r\n" + headers + b"\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    return status, {k.lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines)}, body


@pytest.mark.parametrize(
    ("request_line", "headers"),
    [
        (b"GET /recommendations/popular?category=a\x00b HTTP/1.1", b""),  # a NUL in the query
        (b"GET /recommendations/popular?category=\xff HTTP/1.1", b""),  # not UTF-8
        (b"GET /recommendations/popular?category=" + b"a" * 70_000 + b" HTTP/1.1", b""),  # a URL over 64 KiB
        (b"GET /content/a\x00b HTTP/1.1", b""),  # a NUL in the path
        (b"GET /health HTTP/1.1", b"X-Thing: a\x00b\r\n"),  # a NUL in a header
    ],
)
def test_a_request_the_server_cannot_parse_is_the_documented_json_400(served, request_line, headers):
    status, head, body = _raw(served, request_line, headers)
    assert status.startswith(b"HTTP/1.1 400 "), (status, body)
    assert head[b"content-type"] == b"application/json"
    assert json.loads(body) == MALFORMED_REQUEST
    assert int(head[b"content-length"]) == len(body)
