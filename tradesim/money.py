"""Money arithmetic: Decimal only, one rounding rule."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
PRICE_4DP = Decimal("0.0001")
ZERO = Decimal("0.00")

# The largest amount a money column holds: DecimalField(max_digits=15, decimal_places=2).
MAX_MONEY = Decimal("9999999999999.99")


def to_cents(value: Decimal) -> Decimal:
    """Round to whole cents, half away from zero (the way a statement rounds)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_4dp(value: Decimal) -> Decimal:
    """Round to four places, for average prices."""
    return Decimal(value).quantize(PRICE_4DP, rounding=ROUND_HALF_UP)


def parse_money(raw) -> Decimal:
    """Parse user input into a Decimal, or raise ValueError with a readable reason."""
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("Enter an amount such as 250 or 99.95.") from None
    if not value.is_finite():
        raise ValueError("Enter an amount such as 250 or 99.95.")
    return value


def ratio_of(column: str, numerator: int, denominator: int, *, places: int, at_least: Decimal):
    """A database expression: the `column` × denominator / numerator (a price after a
    numerator-for-denominator split), rounded half up to `places`, `at_least` at least;
    NULL stays NULL.

    The same on SQLite as on PostgreSQL: SQLite keeps a whole decimal as an integer, so
    the factors are written as literals with a decimal point (no integer division), and it rounds a
    binary float (49.995 is 49.99499…), so a nanocent is added first. Neither changes an
    exact result: a price of whole cents × d / n (n ≤ 10) lies at least a thousandth of a
    cent from a half-cent unless it is exactly on one."""
    from django.db.models import Case, DecimalField, F, Func, Value, When
    from django.db.models.functions import Greatest, Round

    divided = Func(
        F(column),
        template=f"((%(expressions)s) * {int(denominator)}.0 / {int(numerator)}.0)",
        output_field=DecimalField(max_digits=30, decimal_places=12),
    )
    rounded = Greatest(Round(divided + Value(Decimal("0.000000001")), places), Value(at_least))
    return Case(When(**{f"{column}__isnull": True}, then=Value(None)), default=rounded)
