"""A small client for the TradeSim API, with nothing but Python's standard library.

example.py and momentum_bot.py use it; keep the three files in one folder. Your own
programs can use it too:

    from tradesim_api import TradeSim, Problem

    api = TradeSim("http://127.0.0.1:8000", token="tsk_...")
    account = api.get("/account")
    print(account["buying_power"])
    try:
        order = api.post("/orders", {"symbol": "AAPL", "quantity": 1, "side": "buy"})
    except Problem as problem:
        print(problem.code, problem.detail)   # insufficient_funds, "You need ..."

What it does for you:
- sends your token as `Authorization: Bearer <token>`;
- turns every error answer (a "problem document") into a `Problem` exception with the
  stable `code` your program can check and the `detail` a person can read;
- gives every POST an `Idempotency-Key`, so a POST sent again after a lost answer
  makes no second order or deposit;
- when the API says "too many requests" (429), waits the seconds it asks for in
  `Retry-After` and tries again;
- reads money as `Decimal` (the API sends money as text such as "1250.00": never use
  float for money).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from decimal import Decimal

API_PREFIX = "/api/v1"


class Problem(Exception):
    """The API refused a request: `status` (HTTP), `code` (stable, for programs), `detail`
    (for people); `body` is the whole problem document."""

    def __init__(self, status: int, body: dict):
        self.status = status
        self.body = body
        self.code = body.get("code", "unknown")
        self.detail = body.get("detail") or body.get("title") or "No detail given."
        super().__init__(f"{self.code}: {self.detail}")


class Unreachable(Exception):
    """The server did not answer at all (wrong --url, server not running, no network)."""


class TradeSim:
    """One connection to the API, as one user (the owner of the token)."""

    def __init__(self, url: str, token: str | None = None, *, timeout=30, max_waits=5, log=print):
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"the URL must start with http:// or https://, not {url!r}")
        self.base = url.rstrip("/") + API_PREFIX
        self.token = token
        self.timeout = timeout
        self.max_waits = max_waits  # how many 429 answers to wait out before giving up
        self.log = log
        # What the last answer was, for when the body is not the whole story.
        self.last_status = None
        self.last_headers = {}

    # Logging in ---------------------------------------------------------------------

    def log_in(self, username: str, password: str, name: str) -> dict:
        """POST /auth/token: a new token named `name`, kept for the next requests.
        The answer holds the token itself (shown only this once), its id and name."""
        made = self.post(
            "/auth/token",
            {"username": username, "password": password, "name": name},
            idempotent=False,
        )
        self.token = made["token"]
        return made

    # Requests -----------------------------------------------------------------------

    def get(self, path: str, **query):
        """GET path?query; None values are left out. Returns the JSON answer."""
        return self.request("GET", path, query=query)

    def post(self, path: str, body: dict, *, key: str | None = None, idempotent=True):
        """POST a JSON body. Unless told otherwise, with an Idempotency-Key (a new random
        one, or `key`): the same key sent again gets the first answer, not a second effect."""
        headers = {}
        if idempotent:
            headers["Idempotency-Key"] = key or str(uuid.uuid4())
        return self.request("POST", path, body=body, headers=headers)

    def delete(self, path: str):
        return self.request("DELETE", path)

    def all_pages(self, path: str, *, most: int = 1000, **query):
        """Every item of a paged list (`{"data": [...], "next_cursor": ...}`), following
        next_cursor, up to `most` items."""
        items = []
        cursor = None
        while len(items) < most:
            page = self.get(path, cursor=cursor, **query)
            items.extend(page.get("data", []))
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items[:most]

    def request(self, method: str, path: str, *, query=None, body=None, headers=None):
        url = self.base + path
        query = {name: value for name, value in (query or {}).items() if value is not None}
        if query:
            url += "?" + urllib.parse.urlencode(query)
        sent = {"Accept": "application/json", **(headers or {})}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"

        for _ in range(self.max_waits + 1):
            # The scheme is http or https (checked in __init__), never file: or another.
            request = urllib.request.Request(url, data=data, headers=sent, method=method)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return self._read(response.status, response.headers, response.read())
            except urllib.error.HTTPError as error:
                answer = error.read()
                self._remember(error.code, error.headers)
                if error.code == 429 and _json(answer).get("code") == "rate_limited":
                    # Too many requests: wait as long as the server asks, then try again
                    # (a POST keeps its Idempotency-Key, so it cannot happen twice).
                    wait = _seconds(error.headers.get("Retry-After"))
                    self.log(f"  (rate limited: waiting {wait} s, as Retry-After asks)")
                    time.sleep(wait)
                    continue
                problem = _json(answer) or {"detail": answer.decode(errors="replace")[:200]}
                raise Problem(error.code, problem) from None
            except urllib.error.URLError as error:
                raise Unreachable(f"could not reach {self.base}: {error.reason}") from None
        raise Problem(429, {"code": "rate_limited", "detail": "Still rate limited; try later."})

    def _read(self, status, headers, raw: bytes):
        self._remember(status, headers)
        return _json(raw) if raw else None

    def _remember(self, status, headers):
        self.last_status = status
        self.last_headers = {name.lower(): value for name, value in headers.items()}


def _json(raw: bytes):
    """JSON with its numbers as Decimal (never float); {} when it is not JSON."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        return {}


def _seconds(retry_after) -> int:
    try:
        return max(1, min(int(retry_after), 120))
    except (TypeError, ValueError):
        return 1


# Reading the answers --------------------------------------------------------------------


def items(answer) -> list:
    """The list in an answer: the answer itself, or its "data" (a page of a list)."""
    if isinstance(answer, list):
        return answer
    if isinstance(answer, dict) and isinstance(answer.get("data"), list):
        return answer["data"]
    return []


def decimal(value, default="0") -> Decimal:
    """Money and prices arrive as text ("187.25"): read them as Decimal."""
    if value is None or value == "":
        return Decimal(default)
    return Decimal(str(value))


def money(value) -> str:
    """$1,234.50 or -$12.00."""
    amount = decimal(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"
