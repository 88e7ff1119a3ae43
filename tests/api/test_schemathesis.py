"""The API against its own OpenAPI document, fuzzed by schemathesis.

The document is read from the app itself (GET /api/v1/openapi.json through the WSGI app,
in this process: no server, no network), and every operation it lists is called with
inputs generated from it — valid ones (positive) and invalid ones (negative) — as a
student whose account has cash, shares and open orders, on a small market. Each answer
must be no 5xx, of a status the document lists for the operation, of its content type
(errors: application/problem+json), conform to the schema documented for its status,
and an input the document calls invalid must be refused.

Random text rarely holds what breaks a database, so every parameter and body field also
takes, now and then, a value from HOSTILE: NUL characters, which PostgreSQL refuses in
text; numbers past a BIGINT or a NUMERIC's digits; odd Unicode; dates and offsets at the
edges of what a database stores. A second test sends every HOSTILE value into every field
in turn, the other fields valid, and checks each answer the same way: a 4xx at most.

Bounded and reproducible: derandomized (the same inputs on every run) and at most
MAX_EXAMPLES generated inputs an operation, besides schemathesis' own boundary cases."""

import base64
import copy
import json
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import token_for
from tests.factories import PASSWORD, PriceFactory, PriceHistoryFactory, StudentFactory
from tradesim.wsgi import application
from trading import services as trading

DOCUMENT = "/api/v1/openapi.json"
MAX_EXAMPLES = 40
# How often a parameter or a body field takes a HOSTILE value instead of a generated one.
HOSTILE_PROBABILITY = 0.25


def _cursor(*values) -> str:
    """A page cursor as the API encodes one (base64 of a JSON list), with odd contents."""
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


HOSTILE = [
    # NUL, which PostgreSQL refuses in any text, alone and inside something plausible.
    "\x00",
    "AC\x00ME",
    "2026-01-05\x00",
    "10.00\x00",
    # Unicode that changes length or meaning when cased or normalized, or is invisible.
    "ß",
    "İ",
    "ＡＣＭＥ",
    "\u202eACME",
    "\ufeff",
    "e\u0301",
    "\U0010ffff",
    "😀",
    "\u2028",
    "\x7f",
    " ",
    "",
    # Wildcards and quotes that a LIKE or a raw query would treat specially.
    "%",
    "_",
    "' OR '1'='1",
    "\\",
    # Numbers as text: past any column's digits, not finite, not plain decimal.
    "NaN",
    "-Infinity",
    "1e999999",
    "9" * 40,
    "-0",
    "0.001",
    "1E+2",
    "0x10",
    "١٢٣",
    # Dates at the edges of what a database and Python store.
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "2026-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    # Cursors naming moments and ids at the edges.
    _cursor("9999-12-31T23:59:59-23:59", 1),
    _cursor("2026-02-30T00:00:00+00:00", 1),
    _cursor("0001-01-01T00:00:00+23:59", 1),
    _cursor("2026-01-01T00:00:00+00:00", 2**61),
    _cursor("2026-01-01T00:00:00", -1),
    # Whole numbers past an INTEGER, a BIGINT, and below zero.
    0,
    -1,
    2**31,
    2**63 - 1,
    2**63,
    10**30,
    -(2**63) - 1,
]

RESPONSE_CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CHECKS = [*RESPONSE_CHECKS, negative_data_rejection]


def _hostile_bindings(document: dict) -> dict:
    """Every query and path parameter and every top-level body field of every operation
    in the document, each bound to HOSTILE (schemathesis keeps, for valid inputs, the
    values that fit the field's schema, and uses the others for invalid ones)."""
    binding = {"dictionary": "hostile", "probability": HOSTILE_PROBABILITY}
    return {
        f"{location}.{name}": binding
        for _, location, name in _fields(document)
        if location in ("query", "path", "body")
    }


def _fields(document: dict) -> list[tuple[str, str, str]]:
    """(operation label, location, name) of every parameter and top-level body field."""
    schemas = document.get("components", {}).get("schemas", {})
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                found.append((label, parameter["in"], parameter["name"]))
            for name in _body_schema(operation, schemas).get("properties", {}):
                found.append((label, "body", name))
    return found


def _body_schema(operation: dict, schemas: dict) -> dict:
    content = operation.get("requestBody", {}).get("content", {})
    body = content.get("application/json", {}).get("schema", {})
    if "$ref" in body:
        body = schemas[body["$ref"].rsplit("/", 1)[-1]]
    return body


def _config(document: dict) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "dictionaries": {"hostile": {"values": HOSTILE}},
            "parameters": _hostile_bindings(document),
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # The test sends the student's token itself (see below).
                "with-security-parameters": False,
            },
        }
    )


_document = schemathesis.openapi.from_wsgi(DOCUMENT, application).raw_schema
schema = schemathesis.openapi.from_wsgi(DOCUMENT, application, config=_config(_document))
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@pytest.fixture
def in_process(db):
    """The WSGI app closes the database connection at the end of each request, as it must
    in a server; here that connection holds the test's transaction. Django's test client
    keeps it open the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def market(db):
    """A few listed stocks with some history, as the sample market has (AAPL is the
    document's example symbol)."""
    stocks = [
        PriceFactory(symbol="AAPL", name="Apple", price=Decimal("180.00")),
        PriceFactory(symbol="ACME", name="Acme Corp", price=Decimal("50.00")),
        PriceFactory(symbol="BOLT", name="Bolt Motors", price=Decimal("12.50")),
        PriceFactory(symbol="CRUX", name="Crux Labs", price=Decimal("230.00")),
    ]
    for stock in stocks:
        for _ in range(3):
            PriceHistoryFactory(stock=stock, price=stock.price)
    return stocks


@pytest.fixture
def fuzz_student(in_process, market, settings):
    """A student with cash, shares of every stock and open orders of both sides, and their
    token, whose rate limit is set beyond what the fuzzing sends."""
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    user = StudentFactory(username="fuzz", cash="1000000.00")
    for stock in market:
        trading.buy(user=user, symbol=stock.symbol, quantity=100)
    _open_orders(user)
    return user, token_for(user, name="schemathesis")


def _open_orders(user) -> list[int]:
    """A resting buy and a resting sell of the student's, to read and cancel."""
    placed = [
        trading.place_order(
            user=user,
            request=trading.order_request(
                side="buy", type="limit", symbol="ACME", quantity=2, limit_price="10.00"
            ),
        ),
        trading.place_order(
            user=user,
            request=trading.order_request(
                side="sell", type="limit", symbol="BOLT", quantity=2, limit_price="99.00"
            ),
        ),
    ]
    return [order.pk for order in placed]


def _aim_at_real_orders(case, user) -> None:
    """Generated order ids rarely name an order that exists: half of the valid ones are
    turned into an open order of the student's, so that reading and cancelling succeed."""
    parameters = case.path_parameters or {}
    if "order_id" not in parameters or case.meta is None:
        return
    order_id = parameters["order_id"]
    positive = case.meta.generation.mode == GenerationMode.POSITIVE
    if positive and isinstance(order_id, int) and order_id % 2 == 0:
        parameters["order_id"] = _open_orders(user)[order_id % 4 // 2]


@schema.parametrize()
# One student's account serves all of an operation's inputs, as it would a program's.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_every_operation_keeps_to_the_document(case, fuzz_student):
    user, token = fuzz_student
    _aim_at_real_orders(case, user)
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


# Every hostile value in every field ---------------------------------------------------------


# What a student's program would send for these, where the document gives no example.
PLAIN = {"username": "fuzz", "password": PASSWORD}


def _plain(name: str, field_schema: dict):
    """A valid value for a field: the student's, the document's example or default, or
    one of the field's type."""
    if name in PLAIN:
        return PLAIN[name]
    branches = [field_schema, *field_schema.get("anyOf", [])]
    for branch in branches:
        if branch.get("examples"):
            return branch["examples"][0]
    if "default" in field_schema:
        return field_schema["default"]
    kinds = [branch.get("type") for branch in branches]
    return 1 if "integer" in kinds else "AAPL"


def _plain_request(operation: dict, schemas: dict, user) -> dict:
    """The path parameters and the body of a plain request to the operation: every
    required field with a valid value, and an open order of the student's for an id."""
    path_parameters = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            plain = _plain(parameter["name"], parameter.get("schema", {}))
            if parameter["name"] == "order_id":
                plain = _open_orders(user)[0]
            path_parameters[parameter["name"]] = plain
    body = _body_schema(operation, schemas)
    properties = body.get("properties", {})
    payload = {name: _plain(name, properties[name]) for name in body.get("required", [])}
    return {"path_parameters": path_parameters, "body": payload if body else None}


def _sendable_in_a_header(text: str) -> bool:
    return text.isascii() and text.isprintable() and text == text.strip()


@pytest.mark.parametrize(("label", "location", "name"), _fields(_document))
def test_every_field_answers_a_hostile_value_with_a_4xx_at_most(
    label, location, name, fuzz_student
):
    user, token = fuzz_student
    operation = schema.find_operation_by_label(label)
    raw = operation.definition.raw
    schemas = _document.get("components", {}).get("schemas", {})
    plain_request = _plain_request(raw, schemas, user)
    for value in HOSTILE:
        if location == "header" and not _sendable_in_a_header(str(value)):
            continue
        plain = copy.deepcopy(plain_request)
        query, headers = {}, {"Authorization": f"Bearer {token}"}
        if location == "body":
            plain["body"][name] = value
        elif location == "path":
            plain["path_parameters"][name] = value
        elif location == "query":
            query[name] = value
        else:
            headers[name] = str(value)
        case = operation.Case(
            path_parameters=plain["path_parameters"] or None,
            query=query or None,
            **({"body": plain["body"]} if plain["body"] is not None else {}),
        )
        response = case.call(headers=headers)
        case.validate_response(response, checks=RESPONSE_CHECKS, headers=headers)
