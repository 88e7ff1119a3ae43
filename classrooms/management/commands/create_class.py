"""manage.py create_class NAME --owner USERNAME [--rule KEY=VALUE ...]: a class from a
script, its join code alone on the last line of the output."""

import re
from datetime import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from classrooms.models import Classroom
from classrooms.services import create_class

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_WHOLE = re.compile(r"[+-]?\d+", re.ASCII)
NONE_WORDS = {"none", ""}


def _moment(text: str):
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "is not an ISO 8601 date and time, such as 2027-01-11T09:30 or "
            "2027-01-11T09:30:00+01:00"
        ) from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _number(text: str) -> Decimal:
    if not _NUMBER.fullmatch(text):
        raise ValueError("is not a number, such as 25000 or 99.95")
    return Decimal(text)


def _whole(text: str) -> int:
    if not _WHOLE.fullmatch(text):
        raise ValueError("is not a whole number")
    return int(text)


def _or_none(parse):
    def parse_or_none(text: str):
        return None if text.lower() in NONE_WORDS else parse(text)

    return parse_or_none


def _words(**meanings):
    def parse(text: str):
        try:
            return meanings[text.lower()]
        except KeyError:
            raise ValueError(f"is not one of: {', '.join(meanings)}") from None

    return parse


def _choice(choices):
    return _words(**{value: value for value in choices.values})


OPEN_CLOSED = _words(open=True, closed=False)

# KEY: (the class's column, how the value is read, what the README says about it).
RULES = {
    "starts_at": ("starts_at", _moment, "ISO 8601; orders are refused before it"),
    "ends_at": ("ends_at", _moment, "ISO 8601; the standings freeze at it"),
    "starting_cash": ("starting_cash", _number, "dollars, given on joining"),
    "deposits": ("deposits_open", OPEN_CLOSED, "open or closed"),
    "max_total_deposits": (
        "max_total_deposits",
        _or_none(_number),
        "dollars a student may deposit beyond the starting cash, or none",
    ),
    "withdrawals": ("withdrawals_open", OPEN_CLOSED, "open or closed"),
    "commission": (
        "commission_kind",
        _choice(Classroom.Commission),
        "none, flat, per_share, percent",
    ),
    "commission_amount": (
        "commission_amount",
        _number,
        "dollars a trade (flat), a share (per_share), or percent of the value (percent)",
    ),
    "commission_minimum": (
        "commission_minimum",
        _number,
        "dollars, the least a percent commission",
    ),
    "max_position_percent": (
        "max_position_percent",
        _or_none(_number),
        "most of the portfolio in one stock after a buy, in percent, or none",
    ),
    "max_trades_per_day": ("max_trades_per_day", _or_none(_whole), "a whole number, or none"),
    "order_types": (
        "order_types",
        _choice(Classroom.OrderTypes),
        "market (market orders only) or all (the default)",
    ),
    "closed_orders": (
        "closed_market_orders",
        _choice(Classroom.ClosedMarketOrders),
        "queue (market orders placed while the market is closed wait for the open, the "
        "default) or refuse",
    ),
    "min_share_price": ("min_share_price", _or_none(_number), "dollars, or none"),
    "ranking": (
        "ranking",
        _choice(Classroom.Ranking),
        "twr, total_return, excess_return, risk_adjusted",
    ),
    "min_trades_to_rank": ("min_trades_to_rank", _whole, "a whole number"),
    "names": ("names_shown", _words(shown=True, hidden=False), "shown or hidden"),
    "seat_limit": ("seat_limit", _or_none(_whole), "a whole number, or none"),
    "joining": ("joining_open", OPEN_CLOSED, "open or closed"),
    "api": ("api_access", _words(on=True, off=False), "on or off"),
    "margin": ("margin", _words(on=True, off=False), "on or off (the default)"),
    "initial_margin_percent": (
        "initial_margin_percent",
        _number,
        "percent of a margin buy paid with equity, 1 to 100 (default 50)",
    ),
    "maintenance_margin_percent": (
        "maintenance_margin_percent",
        _number,
        "percent of the positions' value equity must stay above (default 30)",
    ),
    "margin_call_days": (
        "margin_call_days",
        _whole,
        "simulated days to meet a margin call, 0 to 30 (default 0: sold at once)",
    ),
    "loan_rate_percent": (
        "loan_rate_percent",
        _number,
        "yearly interest on margin loans, in percent (default 8)",
    ),
    "short_selling": (
        "short_selling",
        _words(on=True, off=False),
        "on or off (the default): students may sell short and buy to cover",
    ),
    "min_short_price": (
        "min_short_price",
        _number,
        "dollars, the lowest share price a student may sell short (default 5)",
    ),
    "borrow_fee_percent": (
        "borrow_fee_percent",
        _number,
        "yearly fee on short positions' value, in percent (default 0)",
    ),
    "cash_rate_percent": (
        "cash_rate_percent",
        _number,
        "yearly interest on positive cash, in percent (default 0)",
    ),
}
KEY_OF = {column: key for key, (column, _, _) in RULES.items()}


class Command(BaseCommand):
    help = (
        "Create a class run by the given instructors, with its rules (the rest as the "
        "settings say), and print its join code alone on the last line. Rule keys: "
        + "; ".join(f"{key} ({meaning})" for key, (_, _, meaning) in RULES.items())
        + ". Bad keys or values stop it with a message naming them; nothing is created."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The class's name, as students and instructors see it.")
        parser.add_argument(
            "--owner",
            action="append",
            required=True,
            metavar="USERNAME",
            help="An instructor (staff user) who runs the class; repeat for more.",
        )
        parser.add_argument(
            "--rule",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="A rule of the class; repeat for more. Keys: " + ", ".join(RULES) + ".",
        )

    def handle(self, *args, name, owner, rule, **options):
        rules = self._rules(rule)
        owners = self._owners(owner)
        try:
            classroom = create_class(name=name, owners=owners, rules=rules)
        except ValidationError as error:
            raise CommandError(_explain(error, rules)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the class “{classroom.name}”, run by "
                f"{', '.join(user.get_username() for user in owners)}."
            )
        )
        self.stdout.write("Students join at /classes/join/ or when they sign up, with the code:")
        self.stdout.write(classroom.join_code)

    @staticmethod
    def _rules(given: list[str]) -> dict:
        rules = {}
        for item in given:
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep:
                raise CommandError(f"--rule {item!r}: write it as KEY=VALUE.")
            if key not in RULES:
                raise CommandError(f"--rule {key}: no such rule. The keys are: {', '.join(RULES)}.")
            column, parse, _ = RULES[key]
            if column in rules:
                raise CommandError(f"--rule {key}: given twice.")
            try:
                rules[column] = parse(text.strip())
            except ValueError as error:
                raise CommandError(f"--rule {key}={text}: {text!r} {error}.") from None
        return rules

    @staticmethod
    def _owners(usernames: list[str]) -> list:
        User = get_user_model()
        found = {user.get_username(): user for user in User.objects.filter(username__in=usernames)}
        for username in usernames:
            if username not in found:
                raise CommandError(f"--owner {username}: there is no user called {username}.")
        return [found[username] for username in dict.fromkeys(usernames)]


def _explain(error: ValidationError, rules: dict) -> str:
    """The model's messages, each under the rule key (or option) it is about."""
    violated = {
        str(constraint.violation_error_message): constraint.condition.referenced_base_fields
        for constraint in Classroom._meta.constraints
        if getattr(constraint, "condition", None) is not None
    }
    lines = []
    for field, messages in error.message_dict.items():
        for message in messages:
            if field == NON_FIELD_ERRORS:
                keys = [KEY_OF[f] for f in sorted(violated.get(message, ())) if f in rules]
                where = ", ".join(f"--rule {key}" for key in keys) or "the class"
            elif field == "name":
                where = "NAME"
            elif field == "owners":
                where = "--owner"
            else:
                where = f"--rule {KEY_OF.get(field, field)}"
            lines.append(f"{where}: {message}")
    return "\n".join(lines)
