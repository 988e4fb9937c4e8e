"""schemathesis against the exported OpenAPI spec (shared/openapi.json) and the app that serves it, in process.

Positive and negative cases for every operation, on a real Postgres holding a little data and with
auth on, as deployed (the cases carry an admin key; schemathesis also checks that a request without one
is refused): every check schemathesis has runs (schemathesis.toml says what it is told beyond the spec):
no answer may be a 5xx, and every answer must conform to the spec (a documented status code, its content
type, headers and body schema). test_http_fuzz.py runs the same against a real `dummi run` over HTTP.
`make test` runs a bounded number of cases per operation; `make fuzz` runs many more
(DUMMI_FUZZ_EXAMPLES, see the Makefile).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from dummi.api.app import create_full_app
from tests.fuzz.conftest import count
from tests.fuzz.rules import (
    EXAMPLES,
    SPEC,
    breaks_rules_across_fields,
    excluded_checks,
    fuzz_config,
    store_records,
)

schema = schemathesis.openapi.from_path(SPEC, config=fuzz_config())
schema.app = create_full_app()


@pytest.fixture
def admin_key(client, db, monkeypatch) -> str:
    """Auth on, an admin key, and the records generated requests reach (rules.store_records)."""
    from dummi.services import api_keys
    from tests.conftest import _clear_caches

    monkeypatch.setenv("DUMMI_AUTH", "on")
    _clear_caches()
    key = api_keys.create_key(db, ["admin"], "fuzz").key
    store_records(lambda path, body: client.post(path, json=body, headers={"X-API-Key": key}))
    return key


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES)
def test_no_5xx_and_every_answer_conforms_to_the_spec(case, admin_key):
    response = case.call_and_validate(headers={"X-API-Key": admin_key}, excluded_checks=excluded_checks(case))
    if breaks_rules_across_fields(case):
        assert response.status_code in (401, 403, 422), response.text
    count("in process", case, response.status_code)
