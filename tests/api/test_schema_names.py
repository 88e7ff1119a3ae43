"""The OpenAPI document names each schema by its class: two classes of one name would be one
entry in it, and one of them would be documented (and checked by clients) as the other."""

from collections import defaultdict

from ninja import Schema

import api.main  # noqa: F401  (every endpoint module, with its schemas)
from api.main import api


def _schemas(cls=Schema):
    for sub in cls.__subclasses__():
        yield sub
        yield from _schemas(sub)


def test_no_two_api_schemas_share_a_name():
    by_name = defaultdict(set)
    for schema in _schemas():
        if schema.__module__.startswith("api."):
            by_name[schema.__name__].add(f"{schema.__module__}.{schema.__qualname__}")

    assert {name: where for name, where in by_name.items() if len(where) > 1} == {}


def test_the_document_describes_each_schema_as_its_class():
    components = api.get_openapi_schema()["components"]["schemas"]

    assert set(components["ClassOut"]["properties"]) == {"id", "name"}
    assert "student_count" in components["ClassSummaryOut"]["properties"]
