"""Market hours for tests: a schedule under which the market is closed right now."""

from django.utils import timezone

from tradesim.market_hours import MarketHours, parse

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def closed_now() -> MarketHours:
    """One session, 08:00–15:30 on a weekday three days from today's (in TIME_ZONE)."""
    return parse(f"{_DAYS[(timezone.localtime().weekday() + 3) % 7]} 08:00-15:30")
