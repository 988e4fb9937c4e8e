"""Text a JSON parser reads but nothing downstream can hold, put into every place of every operation: no answer
may be a 5xx (or a dropped connection), and every refusal must be JSON.

schemathesis draws strings from Unicode without NUL or lone surrogates in JSON bodies, and numbers that
are finite, so its runs never sent what real clients do send: ``NaN`` and ``Infinity`` (Python's json and
JavaScript's JSON.stringify of a bad float write them, or null), ``1e999``, ``\\u0000`` and a lone ``\\ud800`` (a
truncated emoji). Each of those reached a 500 on some route before ``dummi.api.text_guard``. Here every
operation of the spec gets a few of schemathesis' valid requests, each with one place at a time made
hostile: a body's string or number, a path parameter, a query parameter (percent-encoded NUL and
non-UTF-8 bytes too).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from schemathesis import GenerationMode

from dummi.api.text_guard import text_errors
from tests.fuzz.rules import SPEC, fuzz_config, store_records

CASES_PER_OPERATION = 3
NUMBERS = ("NaN", "Infinity", "-Infinity", "1e999")  # written into the body as they stand
_NUMBER = "\x01hostile number\x01"
STRINGS = ("a\x00b", "\ud800", "x\udfff", "\x00")
URL_VALUES = ("a%00b", "%FF", "%C3%28", "%ED%A0%80")  # a NUL, a stray byte, a broken pair, an encoded surrogate

schema = schemathesis.openapi.from_path(SPEC, config=fuzz_config())
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


def _cases(operation) -> list:
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hypothesis' note that .example() is for exploring
        return [strategy.example() for _ in range(CASES_PER_OPERATION)]


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def _hostile_bodies(body: Any) -> Iterator[tuple[tuple, bytes]]:
    """(the place, the body as bytes with that place made hostile) for every string and number in ``body``."""
    for n, (path, leaf) in enumerate(_leaves(body)):
        if isinstance(leaf, bool) or leaf is None:
            continue
        if isinstance(leaf, int | float):  # a placeholder, then the bare token in its place
            text = json.dumps(_replaced(body, path, _NUMBER))
            yield path, text.replace(json.dumps(_NUMBER), NUMBERS[n % len(NUMBERS)]).encode()
        elif isinstance(leaf, str):  # ensure_ascii: a lone surrogate and a NUL written as JSON escapes
            yield path, json.dumps(_replaced(body, path, leaf + STRINGS[n % len(STRINGS)])).encode()


def _path(operation, parameters: dict[str, Any]) -> str:
    path = operation.path
    for name, value in parameters.items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.fixture
def stored(client):
    store_records(lambda path, body: client.post(path, json=body))
    return client


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_hostile_text_anywhere_is_refused_never_a_server_error(stored, operation):
    client, sent = stored, 0
    for case in _cases(operation):
        parameters = {k: quote(str(v), safe="") for k, v in (case.path_parameters or {}).items()}
        query = {k: v for k, v in (case.query or {}).items() if isinstance(v, str | int | float)}
        attempts: list[tuple[Any, str, dict | None, bytes | None]] = []
        for name in parameters:  # a path parameter, escaped as a client's URL library would send it
            for value in URL_VALUES:
                attempts.append((f"path {name}", _path(operation, {**parameters, name: value}), query, None))
        for name in query:
            for value in URL_VALUES[:2]:
                raw = "&".join(f"{quote(k)}={value if k == name else quote(str(v))}" for k, v in query.items())
                attempts.append((f"query {name}", f"{_path(operation, parameters)}?{raw}", None, None))
        body = case.body if isinstance(case.body, dict | list) else None
        if body is not None:
            for place, raw in _hostile_bodies(body):
                attempts.append((place, _path(operation, parameters), query, raw))
        for where, url, params, content in attempts:
            headers = {"Content-Type": "application/json"} if content is not None else {}
            response = client.request(operation.method.upper(), url, params=params, content=content, headers=headers)
            sent += 1
            context = (operation.label, where, url, content, response.text[:300])
            if content is None:  # in the URL: the malformed request's 400, before any route
                assert response.status_code == 400 and response.json()["code"] == "malformed_request", context
            else:  # in the body: a 422 at the place (or at text schemathesis itself drew, a key with a NUL, say)
                assert response.status_code == 422, context
                if not text_errors(body):
                    assert response.json()["detail"][0]["loc"] == ["body", *where], context
    if operation.path_parameters.items:  # a place to put text in: something was sent
        assert sent
