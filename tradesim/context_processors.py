"""What every template may show."""

from django.utils import timezone


def time_zone(request):
    """The site's time zone, which every page names: times on pages are in it."""
    return {"time_zone": timezone.get_current_timezone_name()}
