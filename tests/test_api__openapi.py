"""The OpenAPI document is usable by generated clients: numeric bounds are numbers."""
from __future__ import annotations

NUMERIC_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
                    "minItems", "maxItems", "minProperties", "maxProperties", "multipleOf")


def _walk(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}/{key}", key, item
            yield from _walk(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}/{index}")


def test_openapi__every_bound_is_a_number(client):
    document = client.get("/api/v1/openapi.json").get_json()
    bounds = [(path, item) for path, key, item in _walk(document) if key in NUMERIC_KEYWORDS]
    assert bounds, "the document states no bounds at all"
    wrong = [(path, item) for path, item in bounds
             if isinstance(item, bool) or not isinstance(item, int | float)]
    assert wrong == []
    income = document["components"]["schemas"]["Household"]["properties"]["monthly_income"]
    assert income["minimum"] == 0
