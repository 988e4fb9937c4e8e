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
    assert {"404", "409", "422"} <= set(paths["/recommendations/interact"]["post"]["responses"])
    assert "409" in paths["/users/"]["post"]["responses"]
    assert "404" in paths["/users/{user_id}"]["get"]["responses"]


def test_every_operation_states_its_4xx_in_the_one_error_shape():
    """Every operation may answer a 400 (a request the server cannot parse) and a 422 (an unknown query
    parameter, at least): both are documented everywhere, a 422 as the validation array, any other 4xx as
    {detail, code, field}, always JSON."""
    spec = create_full_app().openapi()
    operations = [(f"{m.upper()} {p}", op) for p, ops in spec["paths"].items() for m, op in ops.items()]
    assert len(operations) == 36
    for label, operation in operations:
        responses = operation["responses"]
        assert {"400", "422"} <= set(responses), label
        for status, response in responses.items():
            if not status.startswith("4"):
                continue
            assert list(response["content"]) == ["application/json"], (label, status)
            shape = "HTTPValidationError" if status == "422" else "ErrorResponse"
            assert response["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{shape}"}, (
                label,
                status,
            )
    schemas = spec["components"]["schemas"]
    assert schemas["HTTPValidationError"]["required"] == ["detail"]
    assert schemas["HTTPValidationError"]["properties"]["detail"]["type"] == "array"
    assert schemas["ValidationError"]["required"] == ["loc", "msg", "type"]
    assert schemas["ErrorResponse"]["properties"]["detail"]["type"] == "string"
