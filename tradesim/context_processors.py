"""What every template may show."""

from django.conf import settings
from django.utils import timezone

from tradesim.market_hours import closed_until, opens_words


def time_zone(request):
    """The site's time zone, which every page names: times on pages are in it."""
    return {"time_zone": timezone.get_current_timezone_name()}


def market_hours(request):
    """While MARKET_HOURS says the market is closed: when it opens ("tomorrow at 08:00") and
    its hours, for the notice on every page. No query."""
    opens = closed_until()
    if opens is None:
        return {}
    return {"market_opens": opens_words(opens), "market_hours": settings.MARKET_HOURS.describe()}
