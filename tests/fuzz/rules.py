"""How the fuzz runs (in process and over HTTP) are configured, and what they exempt and why: shared by both."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection

from dummi.batch.jobs import is_reserved

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "shared" / "openapi.json"
EXAMPLES = int(os.environ.get("DUMMI_FUZZ_EXAMPLES", "30"))


def fuzz_config() -> SchemathesisConfig:
    """What the repo tells a schemathesis run (schemathesis.toml: every check on, and what each is told
    beyond the spec), with positive and negative cases."""
    config = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")
    config.projects.default.generation.update(
        modes=["positive", "negative"], max_examples=EXAMPLES, deterministic=False
    )
    return config


# What both runs store before each operation's cases, under the id schemathesis' coverage phase gives every
# path parameter that names a user or an item ("0", the shortest valid identifier), so that its cases reach a
# stored record and not a 404: a user, an interaction, and an item whose availability ends where the phase's
# times are (2000-01-01T00:00:00Z), so a PATCH moving available_from there is refused by the service, not
# the schema (the 422 the spec must describe too).
USER = {"user_id": "0", "interests": ["python"], "skill_level": "beginner"}
ITEM = {"content_id": "0", "title": "Python basics", "category": "python", "available_until": "2000-01-01T00:00:00Z"}
EVENT = {"user_id": "0", "content_id": "0", "interaction_type": "like"}


def store_records(post: Callable[[str, dict], object]) -> None:
    post("/users/", USER)
    post("/content/", ITEM)
    post("/recommendations/interact", EVENT)


def excluded_checks(case) -> list:
    # Negative query values that a query string cannot carry (an object, a nameless parameter) reach the
    # app as valid ones, and schemathesis then reports a "schema-violating request accepted": that
    # check stays on for bodies and paths; tests/integration/test_limits.py covers the query rules.
    return [negative_data_rejection] if case.method == "GET" else []


def breaks_rules_across_fields(case) -> bool:
    """Bodies that fit the schema but break a rule JSON Schema cannot say (schemathesis.toml lets their 422
    pass the positive-data check; the tests assert the 422): POST /experiments' variant names must differ,
    and its end must come after the start (and after now); POST /batch-jobs' output must not be the input
    nor inside the store's own folders."""
    if case.operation.label == "POST /batch-jobs" and isinstance(case.body, dict):
        output = case.body.get("output")
        return isinstance(output, str) and (output == case.body.get("input") or is_reserved(output))

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
