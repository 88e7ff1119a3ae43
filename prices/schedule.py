"""How a ticker follows MARKET_HOURS (tradesim.market_hours): what each tick stands for.

Each school session is one simulated trading day. While the market is open, a tick stands
for its share of the session (a tick a minute in a 7.5-hour session: 1/450 of a day), so
the session's ticks add up to the day and the day does not end early. The day ends with
the session: the ticker's first look after the close finishes it (a closing tick of what is
left of the day), which also expires the day's orders; a day still open when the next
session begins (no ticker ran at the close) is finished by that session's first tick.
Students' "trades per day" and day orders then follow the school's days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prices.selectors import MarketDay
from tradesim.market_hours import MarketHours

# A tick never quite finishes the day while the session runs: the closing tick does.
_ROOM = 1e-6
DEFAULT_TICK_SECONDS = 60  # a single run (a timer or cron) is taken to come once a minute


@dataclass(frozen=True)
class Plan:
    open: bool
    finish_day: float | None = None  # first a closing tick of this share of a day
    dt: float | None = None  # then, while open, a tick of this share of a day
    waited: bool = False  # the ticker waited for the open


def plan(hours: MarketHours, *, now: datetime, day: MarketDay, every: float | None) -> Plan:
    """What a ticker following `hours` does at `now`, the market clock being `day`."""
    session = hours.current(now)
    left = 0.0 if day.closed else 1.0 - day.elapsed
    started = day.last_tick_at is not None
    if session is None:
        # After the close: finish the day the session left open.
        return Plan(open=False, finish_day=left if started and left > 0 else None)
    opens, closes = session
    finish = None
    if started and left > 0 and day.last_tick_at < opens:
        finish, left = left, 0.0  # a day left open by an earlier session
    share = (every or DEFAULT_TICK_SECONDS) / (closes - opens).total_seconds()
    dt = min(share, 1.0)
    if left > 0:  # the day under way: keep room for the closing tick
        dt = min(dt, max(left - _ROOM, _ROOM / 10))
    return Plan(open=True, finish_day=finish, dt=dt)
