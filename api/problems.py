"""Errors as RFC 9457 problem details (`application/problem+json`), each with a stable
`code` a program can branch on, and the same message (`detail`) the pages show.

    {"type": "/api/v1/errors#insufficient_funds", "title": "Not enough cash",
     "status": 400, "detail": "…", "code": "insufficient_funds", "instance": "/api/v1/orders"}

The codes, their HTTP status and title are listed in CODES: a code, once published, keeps
its meaning (clients' programs branch on it)."""

from dataclasses import dataclass

from django.http import JsonResponse

import ledger.services as ledger
import trading.services as trading

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Code:
    status: int
    title: str
    meaning: str


CODES: dict[str, Code] = {
    # The request itself.
    "validation_error": Code(
        400,
        "The request is not valid",
        "A field is missing, of the wrong type or out of "
        "range; `errors` lists each field and what is wrong with it.",
    ),
    "malformed_json": Code(400, "The body is not JSON", "The body could not be read as JSON."),
    "invalid_cursor": Code(
        400, "Unknown page cursor", "`cursor` is not one this API gave out; start again without it."
    ),
    "invalid_idempotency_key": Code(
        400,
        "Unusable Idempotency-Key",
        "The Idempotency-Key header is empty, too long or "
        "holds characters other than printable ASCII.",
    ),
    "idempotency_key_reused": Code(
        409,
        "Idempotency-Key already used",
        "This Idempotency-Key was already used for a "
        "different request; use a new key for a new request.",
    ),
    # Who is asking.
    "not_authenticated": Code(
        401,
        "No API token",
        "Send a token as `Authorization: Bearer <token>`; make one on "
        "the API tokens page of your account, or with POST /api/v1/auth/token.",
    ),
    "invalid_token": Code(
        401,
        "Unknown or revoked token",
        "The token is not one of TradeSim's, or it was revoked; make a new one.",
    ),
    "invalid_credentials": Code(
        401, "Wrong username or password", "The username and password do not match."
    ),
    "login_locked": Code(
        429,
        "Too many failed log-ins",
        "Too many failed log-ins for this username from "
        "here; wait, or ask your instructor to unlock the account.",
    ),
    "api_disabled": Code(
        403,
        "API switched off for your class",
        "Your instructor has switched the API off for your class; the pages still work.",
    ),
    "permission_denied": Code(
        403,
        "Not allowed",
        "This token's owner may not do this (for example, a student "
        "asking for a class's standings, or an instructor placing an order).",
    ),
    "rate_limited": Code(
        429,
        "Too many requests",
        "This token sent more requests than its limit allows; wait the seconds in Retry-After.",
    ),
    # What was asked for.
    "not_found": Code(404, "Not found", "There is no such resource among yours."),
    "method_not_allowed": Code(405, "Method not allowed", "This address does not take it."),
    "unknown_symbol": Code(400, "Unknown symbol", "No stock on this market has this symbol."),
    "symbol_halted": Code(
        400, "Trading paused", "Your instructor has paused trading in this symbol."
    ),
    "invalid_quantity": Code(
        400, "Invalid quantity", "The quantity is not a whole number of shares in range."
    ),
    "invalid_order": Code(
        400,
        "Invalid order",
        "The order's type, prices or duration do not "
        "fit together; `field` names the one to change.",
    ),
    "invalid_amount": Code(
        400, "Invalid amount", "The amount is not positive whole cents in range."
    ),
    "insufficient_funds": Code(
        400,
        "Not enough cash",
        "The free cash (cash less what open orders hold) does not cover it; with margin or "
        "selling short, your equity does not meet the class's initial margin.",
    ),
    "insufficient_shares": Code(
        400,
        "Not enough shares",
        "You do not hold enough free shares (shares not held for open sell orders), or, "
        "buying to cover, you are not short that many free shares.",
    ),
    "position_conflict": Code(
        400,
        "On the other side of a position",
        "The order is on the wrong side of your position in the symbol: a buy or sell while "
        "you are short it (buy to cover instead), or a short sale while you own it (sell "
        "those shares first).",
    ),
    "position_too_large": Code(
        400,
        "Position too large",
        "The holding would exceed the most shares one student may hold of a stock.",
    ),
    "market_closed": Code(
        400,
        "Trading closed",
        "The market is closed (MARKET_HOURS) and your class refuses market orders until it "
        "opens, or your class's trading window is not open: it has not started yet, or it "
        "has ended.",
    ),
    "rule_violation": Code(
        400,
        "Refused by your class's rules",
        "One of your class's rules refuses it; `rule` names the rule (for a short sale: "
        "`short_selling` when the class does not allow it, `min_short_price` below the "
        "lowest price it lets you short).",
    ),
    "order_not_open": Code(
        409, "Order not open", "The order is filled, cancelled, expired or rejected already."
    ),
    "no_account": Code(
        409, "No cash account", "This user has no cash account (instructors do not trade)."
    ),
    "limit_not_reached": Code(
        400,
        "The price moved past the limit",
        "The price moved beyond the order's limit while it was being placed; nothing was "
        "traded. Place it again.",
    ),
    "refused": Code(
        400, "Refused", "The request was refused for the reason `detail` gives; nothing changed."
    ),
}


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, code: str, detail: str = "", *, headers=None, **extra):
        super().__init__(code, detail)
        self.code = code
        self.detail = detail or CODES[code].meaning
        self.headers = headers or {}
        self.extra = {name: value for name, value in extra.items() if value not in (None, "")}

    @property
    def status(self) -> int:
        return CODES[self.code].status


def problem_response(request, problem: Problem) -> JsonResponse:
    entry = CODES[problem.code]
    body = {
        "type": f"/api/v1/errors#{problem.code}",
        "title": entry.title,
        "status": entry.status,
        "detail": problem.detail,
        "code": problem.code,
        "instance": request.path,
        **problem.extra,
    }
    response = JsonResponse(body, status=entry.status, content_type=PROBLEM_JSON)
    # An error counts against the token's rate limit too, and says so (api.auth.check_rate).
    for name, value in {**getattr(request, "api_rate", {}), **problem.headers}.items():
        response[name] = value
    if entry.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="TradeSim"'
    return response


def from_form(form, *, code: str = "validation_error", names=None) -> Problem:
    """The problem for a bound form's errors (a page's form the API checks input with):
    each error with its field, under the API's name for it (`names`: form field → API
    name); the hidden one-time token's are left out (the API has none)."""
    names = names or {}
    errors = [
        {"field": "" if field == "__all__" else names.get(field, field), "message": message}
        for field, messages in form.errors.items()
        if field != "token"
        for message in messages
    ]
    return Problem(code, "; ".join(e["message"] for e in errors), errors=errors)


# The services' refusals, by class: the most specific first.
_REFUSALS: list[tuple[type[Exception], str]] = [
    (trading.UnknownSymbol, "unknown_symbol"),
    (trading.SymbolHalted, "symbol_halted"),
    (trading.InvalidQuantity, "invalid_quantity"),
    (trading.InvalidOrder, "invalid_order"),
    (trading.NoCashAccount, "no_account"),
    (trading.InsufficientFunds, "insufficient_funds"),
    (trading.NotEnoughShares, "insufficient_shares"),
    (trading.PositionRefused, "position_conflict"),
    (trading.PositionTooLarge, "position_too_large"),
    (trading.OrderClosed, "order_not_open"),
    (trading.OrderNotFound, "not_found"),
    (trading.LimitNotReached, "limit_not_reached"),
    (trading.RuleRefused, "rule_violation"),
    (ledger.InvalidAmount, "invalid_amount"),
    (ledger.InsufficientFunds, "insufficient_funds"),
    (ledger.NoAccount, "no_account"),
    (ledger.RuleRefused, "rule_violation"),
]
# A class's trading window, and market orders refused while the market is closed, are the
# API's "market closed".
_WINDOW_RULES = {"starts_at", "ends_at", "closed_market_orders"}


def from_refusal(error: Exception) -> Problem:
    """The problem for a service's refusal (trading.TradingError, ledger.LedgerError)."""
    code = next((code for kind, code in _REFUSALS if isinstance(error, kind)), "refused")
    rule = getattr(error, "rule", "") or ""
    if code == "rule_violation" and rule in _WINDOW_RULES:
        code = "market_closed"
    return Problem(
        code,
        getattr(error, "message", "") or str(error),
        field=getattr(error, "field", "") or None,
        rule=rule or None,
    )
