"""The market's opening hours (`MARKET_HOURS`), in the site's time zone.

    MARKET_HOURS=Mon-Fri 08:00-15:30
    MARKET_HOURS=Mon-Thu 08:00-15:30; Fri 08:00-12:00

Unset, the market never closes. Set, `tick_prices` ticks only while it is open, the pages
say when it opens next, and a market order placed while it is closed waits for the open or
is refused, as the student's class says (classrooms' `closed_market_orders` rule).

Times are wall-clock times in TIME_ZONE, so a session keeps its hours across a change to
or from daylight saving time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CLOCK = r"([01]?[0-9]|2[0-3]):([0-5][0-9])"
_SESSION = re.compile(rf"(?P<days>[A-Za-z,\- ]+?)\s+{_CLOCK}\s*-\s*{_CLOCK}")
EXAMPLE = "a schedule such as 'Mon-Fri 08:00-15:30' (days, then opening and closing times)"


@dataclass(frozen=True)
class Session:
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time

    def describe(self) -> str:
        return f"{_describe_days(self.days)} {self.opens:%H:%M}–{self.closes:%H:%M}"


@dataclass(frozen=True)
class MarketHours:
    sessions: tuple[Session, ...]

    def session_on(self, day: date) -> Session | None:
        for session in self.sessions:
            if day.weekday() in session.days:
                return session
        return None

    def current(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The (open, close) of the session under way at `at`, or None if closed."""
        local = timezone.localtime(at)
        session = self.session_on(local.date())
        if session is None:
            return None
        opens, closes = _moment(local.date(), session.opens), _moment(local.date(), session.closes)
        return (opens, closes) if opens <= at < closes else None

    def is_open(self, at: datetime) -> bool:
        return self.current(at) is not None

    def next_open(self, at: datetime) -> datetime:
        """When the market next opens at or after `at` (`at` itself if it is open)."""
        if self.current(at):
            return at
        day = timezone.localtime(at).date()
        for offset in range(8):
            session = self.session_on(day + timedelta(days=offset))
            if session is not None:
                opens = _moment(day + timedelta(days=offset), session.opens)
                if opens > at:
                    return opens
        raise AssertionError("a schedule has at least one session a week")  # pragma: no cover

    def last_close(self, at: datetime) -> datetime:
        """When the market last closed at or before `at`."""
        day = timezone.localtime(at).date()
        for offset in range(8):
            session = self.session_on(day - timedelta(days=offset))
            if session is not None:
                closes = _moment(day - timedelta(days=offset), session.closes)
                if closes <= at:
                    return closes
        raise AssertionError("a schedule has at least one session a week")  # pragma: no cover

    def describe(self) -> str:
        """ "Mon–Fri 08:00–15:30" """
        return "; ".join(session.describe() for session in self.sessions)


def parse(text: str) -> MarketHours:
    """`MARKET_HOURS`'s text as a schedule; ValueError saying what it must be."""
    sessions, taken = [], set()
    for part in (p.strip() for p in text.split(";")):
        match = _SESSION.fullmatch(part)
        if not match:
            raise ValueError(EXAMPLE)
        days = _days(match["days"])
        opens = time(int(match[2]), int(match[3]))
        closes = time(int(match[4]), int(match[5]))
        if closes <= opens:
            raise ValueError(f"{EXAMPLE}, each closing after it opens on the same day")
        if days & taken:
            raise ValueError(f"{EXAMPLE}, each day in one session only")
        taken |= days
        sessions.append(Session(frozenset(days), opens, closes))
    return MarketHours(tuple(sessions))


def closed_until(at: datetime | None = None) -> datetime | None:
    """When the market opens next, if `MARKET_HOURS` says it is closed at `at` (now);
    None when it is open or has no hours."""
    hours = getattr(settings, "MARKET_HOURS", None)
    at = at or timezone.now()
    if hours is None or hours.is_open(at):
        return None
    return hours.next_open(at)


def closed_since(at: datetime | None = None) -> datetime | None:
    """When the market closed, if `MARKET_HOURS` says it is closed at `at` (now); None when
    it is open or has no hours."""
    hours = getattr(settings, "MARKET_HOURS", None)
    at = at or timezone.now()
    if hours is None or hours.is_open(at):
        return None
    return hours.last_close(at)


def opens_words(moment: datetime, *, now: datetime | None = None) -> str:
    """ "today at 08:00", "tomorrow at 08:00", "Mon 7 Dec at 08:00" (local time)."""
    local, today = timezone.localtime(moment), timezone.localtime(now or timezone.now()).date()
    if local.date() == today:
        return f"today at {local:%H:%M}"
    if local.date() == today + timedelta(days=1):
        return f"tomorrow at {local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"


def _moment(day: date, clock: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, clock), timezone.get_default_timezone())


def _days(text: str) -> set[int]:
    days: set[int] = set()
    for item in (i.strip().lower() for i in text.split(",")):
        first, _, last = (p.strip()[:3] for p in item.partition("-"))
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(EXAMPLE)
        start = DAYS.index(first)
        end = DAYS.index(last) if last else start
        if end < start:
            raise ValueError(f"{EXAMPLE}, with day ranges from Mon towards Sun")
        days.update(range(start, end + 1))
    return days


def _describe_days(days: frozenset[int]) -> str:
    ordered = sorted(days)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{_DAY_NAMES[ordered[0]]}–{_DAY_NAMES[ordered[-1]]}"
    return ", ".join(_DAY_NAMES[d] for d in ordered)
