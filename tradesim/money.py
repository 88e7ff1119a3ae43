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
