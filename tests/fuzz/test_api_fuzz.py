"""schemathesis against the exported OpenAPI spec (shared/openapi.json) and the app that serves it.

Positive and negative cases for every operation, on a real Postgres holding a little data and with
auth on, as deployed (the cases carry an admin key; schemathesis also checks that a request without one
is refused): no answer may be a 5xx, and every answer must conform to the spec (status code, content
type, headers, body).
`make test` runs a bounded number of cases per operation; `make fuzz` runs many more
(DUMMI_FUZZ_EXAMPLES, see the Makefile).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from dummi.api.app import create_full_app
from tests.fuzz.conftest import CASES, STATUSES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("DUMMI_FUZZ_EXAMPLES", "30"))

config = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")  # what the repo tells a schemathesis run
config.projects.default.generation.update(modes=["positive", "negative"], max_examples=EXAMPLES, deterministic=False)
schema = schemathesis.openapi.from_path(ROOT / "shared" / "openapi.json", config=config)
schema.app = create_full_app()


@pytest.fixture
def admin_key(client, db, monkeypatch) -> str:
    """Auth on, an admin key, and a user, an item and an interaction for generated requests to reach."""
    from dummi.services import api_keys
    from tests.conftest import _clear_caches

    monkeypatch.setenv("DUMMI_AUTH", "on")
    _clear_caches()
    key = api_keys.create_key(db, ["admin"], "fuzz").key
    headers = {"X-API-Key": key}
    client.post(
        "/users/", json={"user_id": "alice", "interests": ["python"], "skill_level": "beginner"}, headers=headers
    )
    item = {"content_id": "tut1", "title": "Python basics", "category": "python"}
    client.post("/content/", json=item, headers=headers)
    event = {"user_id": "alice", "content_id": "tut1", "interaction_type": "like"}
    client.post("/recommendations/interact", json=event, headers=headers)
    return key


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES)
def test_no_5xx_and_every_answer_conforms_to_the_spec(case, admin_key):
    # Negative query values that a query string cannot carry (an object, a nameless parameter) reach the
    # app as valid ones, and schemathesis then reports a "schema-violating request accepted": that
    # check stays on for bodies and paths; tests/integration/test_limits.py covers the query rules.
    excluded = [negative_data_rejection] if case.method == "GET" else []
    if _breaks_rules_across_fields(case):
        excluded.append(positive_data_acceptance)  # its 422 is the right answer (asserted below)
    response = case.call_and_validate(headers={"X-API-Key": admin_key}, excluded_checks=excluded)
    if _breaks_rules_across_fields(case):
        assert response.status_code in (401, 403, 422), response.text
    CASES[case.operation.label] += 1
    STATUSES[response.status_code] += 1


def _breaks_rules_across_fields(case) -> bool:
    """POST /experiments bodies that fit the schema but break a rule JSON Schema cannot say: variant names
    must differ, and the end must come after the start (and after now); POST /batch-jobs bodies whose output
    is the input or inside the store's own folders."""
    from datetime import UTC, datetime

    from dummi.batch.jobs import RESERVED_PREFIXES

    if case.operation.label == "POST /batch-jobs" and isinstance(case.body, dict):
        output = case.body.get("output")
        return isinstance(output, str) and (output == case.body.get("input") or output.startswith(RESERVED_PREFIXES))

    body = case.body if case.operation.label == "POST /experiments" else None
    if not isinstance(body, dict) or not isinstance(body.get("variants"), list):
        return False
    names = [v.get("name") if isinstance(v, dict) else None for v in body["variants"]]
    if not all(isinstance(n, str) for n in names):  # off the schema: its own 422
        return False
    if len(set(names)) != len(names):
        return True
    try:
        ends = datetime.fromisoformat(body["ends_at"]) if body.get("ends_at") else None
        starts = datetime.fromisoformat(body["starts_at"]) if body.get("starts_at") else datetime.now(UTC)
        return ends is not None and ends <= starts
    except (TypeError, ValueError):  # not a time with a zone: the schema's own 422
        return False
