"""The TradeSim API (/api/v1/): django-ninja, typed with pydantic, its OpenAPI 3.1
document generated from the same types that check the requests."""

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from api.auth import BearerToken
from api.problems import CODES, PROBLEM_JSON, Problem, problem_response

DESCRIPTION = """
The class market, for programs: read your account, positions, quotes, history and the
market's news; place and cancel orders; deposit and withdraw, under your class's rules.
Everything a page can do, through the same rules.

**Authentication.** Send a personal token as `Authorization: Bearer <token>`. Make one
on the *API tokens* page of your account, or with `POST /api/v1/auth/token`.

**Money** is a decimal string with two places (`"1250.00"`), never a JSON number.
**Times** are ISO 8601 with their offset, in the school's time zone.

**Errors** are RFC 9457 problem details (`application/problem+json`) with a stable
`code`; see [the list of codes](/api/v1/errors).

**Retries.** Send an `Idempotency-Key` header (a UUID, say) with a POST: the same key
again makes no second order or deposit, and answers with the first one.

**Limits.** Each token may send a number of requests a minute (the X-RateLimit-*
headers say how many are left); past it, 429 with `Retry-After`.
"""


class TradeSimAPI(NinjaAPI):
    def create_response(self, request, data, *, status=None, temporal_response=None):
        response = super().create_response(
            request, data, status=status, temporal_response=temporal_response
        )
        for name, value in getattr(request, "api_rate", {}).items():
            response[name] = value
        return response

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return document_problems(schema)


class JsonBody(Parser):
    """Request bodies are JSON; a text anywhere in one that holds a NUL character (U+0000,
    `\\u0000` in JSON) is refused here, as RejectNulCharactersMiddleware refuses one in a
    form or an address: no field takes one, and PostgreSQL refuses to compare or store it."""

    def parse_body(self, request):
        data = super().parse_body(request)
        field = _nul_in(data)
        if field is not None:
            detail = "The body holds a NUL character (\\u0000), which no field accepts."
            raise Problem(
                "validation_error",
                detail,
                field=field or None,
                errors=[{"field": field, "message": detail}],
            )
        return data


def _nul_in(value, path="") -> str | None:
    """The dotted path of the first text in `value` that holds a NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return where
        found = _nul_in(item, where)
        if found is not None:
            return found
    return None


api = TradeSimAPI(
    title="TradeSim API",
    version="1",
    description=DESCRIPTION,
    auth=BearerToken(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url=None,
    parser=JsonBody(),
)


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "enum": sorted(CODES)},
        "instance": {"type": "string"},
        "field": {"type": "string", "description": "The request field to change."},
        "rule": {"type": "string", "description": "The class rule that refused it."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique text (a UUID, say): a retry with the same key makes no second "
    "effect and answers with the first one.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[!-~]+$"},
}
# Every operation may answer these; ours add their own (400, 404, 409).
_COMMON = {
    "400": "The request is not valid, or the rules refuse it.",
    "401": "No token, or an unknown or revoked one.",
    "403": "The API is switched off for your class, or this token may not do this.",
    "429": "Too many requests: wait the seconds in Retry-After.",
}


def document_problems(schema):
    """Every error answer is `application/problem+json` with the Problem schema."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            public = not operation.get("security") and path.endswith("/auth/token")
            for status, description in _COMMON.items():
                responses.setdefault(status, {"description": description})
            if "{" in path:
                responses.setdefault("404", {"description": "No such resource among yours."})
            if method == "post" and not public:
                responses.setdefault(
                    "409", {"description": "The Idempotency-Key was used for another request."}
                )
                operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
            if method == "delete":
                responses.setdefault("409", {"description": "It cannot be done any more."})
            for status, response in responses.items():
                if int(status) >= 400:
                    response["content"] = problem
    return schema


@api.exception_handler(Problem)
def _problem(request, exc: Problem):
    return problem_response(request, exc)


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    errors = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
        if location and location[0] in ("query", "path", "header"):
            location = location[1:]
        errors.append({"field": ".".join(location), "message": error.get("msg", "")})
    detail = "; ".join(
        f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
    )
    return problem_response(request, Problem("validation_error", detail, errors=errors))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return problem_response(request, Problem("not_authenticated"))


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    if isinstance(exc.__cause__, Problem):  # refused by JsonBody
        return problem_response(request, exc.__cause__)
    if exc.status_code == 400:
        return problem_response(
            request, Problem("malformed_json", "The body could not be read as JSON.")
        )
    code = {
        401: "not_authenticated",
        403: "permission_denied",
        404: "not_found",
        405: "method_not_allowed",
        429: "rate_limited",
    }.get(exc.status_code, "refused")
    return problem_response(request, Problem(code, str(exc)))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return problem_response(request, Problem("not_found"))


# The operations, by what they are about.
from api.endpoints import (  # noqa: E402
    account,
    activity,
    auth_token,
    cash,
    news,
    orders,
    positions,
    quotes,
    standings,
)

for module in (auth_token, account, positions, quotes, news, orders, cash, activity, standings):
    api.add_router("/", module.router)
