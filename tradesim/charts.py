"""Time-axis labels for the charts, in the site's time zone, computed on the server so that
every chart names its moments the same way and a test can read them."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone

WEEK = timedelta(days=7)


def axis_labels(moments: Sequence[datetime]) -> list[str]:
    """One label per moment, as short as the span allows: "14:05" within one calendar
    day, "Mon 09:30" within a week, "Mar 2 09:30" beyond; seconds ("14:05:30") only when two
    neighbouring moments would otherwise read the same. Labels only repeat for moments in
    the same second; the charts show a repeated label once (uniqueTick in
    static/js/price-chart.js and static/js/portfolio-charts.js)."""
    local = [timezone.localtime(moment) for moment in moments]
    if not local:
        return []
    days = {moment.date() for moment in local}
    if len(days) == 1:
        day_part = ""
    elif max(days) - min(days) < WEEK:
        day_part = "%a "
    else:
        day_part = "%b {day} "
    minutes = [moment.replace(second=0, microsecond=0) for moment in local]
    seconds = any(
        a == b and x.second != y.second
        for a, b, x, y in zip(minutes, minutes[1:], local, local[1:], strict=False)
    )
    time_part = "%H:%M:%S" if seconds else "%H:%M"
    return [moment.strftime(day_part + time_part).format(day=moment.day) for moment in local]
