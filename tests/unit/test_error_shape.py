"""The 422 a service raises has the shape of the schema's own: the field it names becomes ``loc``."""

from __future__ import annotations

import pytest

from dummi.api.errors import validation_body


@pytest.mark.parametrize(
    ("field", "loc"),
    [
        (None, ["body"]),
        ("available_until", ["body", "available_until"]),
        ("variants[0].overrides", ["body", "variants", 0, "overrides"]),
        ("options.filters[2][1]", ["body", "options", "filters", 2, 1]),
    ],
)
def test_a_service_422_names_its_field_in_loc(field, loc):
    body = validation_body("ends_at must be after starts_at", "invalid_request", field)
    assert body == {"detail": [{"type": "invalid_request", "loc": loc, "msg": "ends_at must be after starts_at"}]}
