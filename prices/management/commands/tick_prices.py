import logging
import signal
import threading
import time
from fractions import Fraction

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.utils import timezone

from prices import schedule
from prices.selectors import market_day
from prices.services import MAX_DT, MarketBusy, MarketError, advance_market
from prices.simulation import MINUTES_PER_TRADING_DAY, ONE_MINUTE, new_rng
from prices.ticker import DEAD_PEER_SECONDS, TickerBusy, ticker_lock
from tradesim.logging import log_event
from tradesim.market_hours import opens_words

logger = logging.getLogger("tradesim.prices")

_UNITS = {"m": 1, "h": 60, "d": MINUTES_PER_TRADING_DAY}  # in trading minutes
MAX_EVERY = 86400  # seconds: a day is plenty, and time.sleep overflows above about 9e9
CLOSED_BEAT_SECONDS = 60  # while the market is closed, the heartbeat's pace


def parse_dt(value) -> float:
    """0.0025641, "1/390", or a duration of the 6.5-hour trading day: "1m", "15m", "1h", "1d"."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    try:
        if text[-1:] in _UNITS:
            return float(Fraction(text[:-1])) * _UNITS[text[-1]] / MINUTES_PER_TRADING_DAY
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise CommandError(
            f"--dt {value!r}: give a share of a trading day (0.0025, 1/390) or 1m, 15m, 1h, 1d."
        ) from None


class Command(BaseCommand):
    help = (
        "Advance the simulated market. With no options: one tick (one minute of a trading "
        "day) and exit. --ticks N for N ticks; --every SECONDS to keep ticking until N ticks, "
        "Ctrl-C or SIGTERM. With MARKET_HOURS set it ticks only while the market is open "
        "(each school session one trading day; --every waits for the open, a single run "
        "outside the hours only ends a day left open), unless --ignore-hours. One ticker at "
        "a time, for as long as it runs: a second one exits at once with a message (or, with "
        "--wait, starts when the first ends). A ticker that is killed, even with kill -9, "
        "frees the market at once; on PostgreSQL, one whose "
        f"machine vanished frees it within {DEAD_PEER_SECONDS} seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ticks", type=int, help="how many ticks (default 1; with --every: until Ctrl-C)"
        )
        parser.add_argument(
            "--every",
            type=float,
            metavar="SECONDS",
            help=f"tick every SECONDS seconds (more than 0, at most {MAX_EVERY})",
        )
        parser.add_argument(
            "--dt",
            help="the share of a trading day one tick stands for: 0.0025641, 1/390, or "
            "1m, 15m, 1h, 1d (default 1m: one minute of a 6.5-hour day, 390 ticks a day; "
            "with MARKET_HOURS, the tick's share of the school session)",
        )
        parser.add_argument(
            "--ignore-hours",
            action="store_true",
            help="tick even while MARKET_HOURS says the market is closed",
        )
        parser.add_argument("--seed", type=int, help="random seed, for a reproducible market")
        parser.add_argument(
            "--symbols",
            nargs="+",
            metavar="SYMBOL",
            help="tick only these symbols (space or comma separated)",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="if another ticker is running, wait until it ends instead of exiting",
        )

    def handle(self, *args, **options):
        dt = parse_dt(options["dt"] if options["dt"] is not None else ONE_MINUTE)
        if not 0 < dt <= MAX_DT:
            raise CommandError(f"--dt must be more than 0 and at most {MAX_DT:g} trading day.")
        ticks, every = options["ticks"], options["every"]
        if ticks is not None and ticks < 1:
            raise CommandError("--ticks must be at least 1.")
        if every is not None and not 0 < every <= MAX_EVERY:  # also refuses nan
            raise CommandError(
                f"--every must be a number of seconds, more than 0 and at most {MAX_EVERY} (a day)."
            )
        if every is None and ticks is None:
            ticks = 1
        symbols = None
        if options["symbols"]:
            symbols = [s for arg in options["symbols"] for s in arg.split(",") if s.strip()]

        rng = new_rng(options["seed"])
        self._ticking = False
        self._stop_requested = False
        done = failed = 0
        restore = self._install_signal_handlers() if (ticks or 0) != 1 else {}
        try:
            with ticker_lock(wait=options["wait"], on_wait=self._waiting) as lock:
                if every is not None:
                    self._warn_if_cache_is_per_process()
                hours = None if options["ignore_hours"] else settings.MARKET_HOURS
                next_at = time.monotonic()
                while ticks is None or done < ticks:
                    if done and every is not None:
                        next_at += every
                        delay = next_at - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                        else:
                            next_at = time.monotonic()  # running late: carry on, no burst
                    tick_dt = dt
                    if hours is not None:
                        plan = self._follow_hours(lock, hours, every, rng=rng, symbols=symbols)
                        if plan is None:
                            break  # closed, and a single run does not wait
                        if plan.waited:
                            next_at = time.monotonic()
                        if options["dt"] is None:
                            tick_dt = plan.dt
                    result = self._tick(lock, tick_dt, rng=rng, symbols=symbols, number=done + 1)
                    failed += result is None
                    done += 1
                    if result is not None:
                        self._heartbeat(lock)
                        self.stdout.write(result.summary())
                    if self._stop_requested:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            self.stdout.write(f"Stopped after {done} tick{'s' if done != 1 else ''}.")
        except TickerBusy as exc:
            raise CommandError(
                f"{exc.message}; stop it first, or pass --wait to start when it ends."
            ) from exc
        except MarketError as exc:
            raise CommandError(exc.message) from exc
        except DatabaseError as exc:  # taking the lock: the loop keeps its own errors
            raise CommandError(f"Could not take the ticker lock: {exc}") from exc
        finally:
            for signum, handler in restore.items():
                signal.signal(signum, handler)
        if failed and failed == done:
            raise CommandError(
                f"{'The tick' if done == 1 else f'All {done} ticks'} failed; the market did "
                "not move. See the error above."
            )
        if failed:
            self.stderr.write(f"{failed} of {done} ticks failed; the others went through.")

    def _follow_hours(self, lock, hours, every, **tick) -> schedule.Plan | None:
        """Wait until the market is open (a single run: None at once if it is closed),
        finishing a trading day its session left open; the plan for the next tick."""
        told = False
        while True:
            now = timezone.now()
            try:
                day = market_day()
            except DatabaseError as exc:
                if every is None:
                    raise CommandError(f"Could not read the market clock: {exc}") from exc
                # A database restart, say: a ticker meant to run all day tries again.
                self.stderr.write(f"Could not read the market clock ({exc}); trying again.")
                self._drop_broken_connection()
                time.sleep(min(every, CLOSED_BEAT_SECONDS))
                continue
            plan = schedule.plan(hours, now=now, day=day, every=every)
            if plan.finish_day:
                self._finish_day(lock, plan.finish_day, **tick)
            if plan.open:
                if told:
                    self.stdout.write("The market is open: ticking.")
                return schedule.Plan(open=True, dt=plan.dt, waited=told)
            self._heartbeat(lock)
            opens = hours.next_open(now)
            closed = (
                f"The market is closed (open {hours.describe()}, "
                f"{timezone.get_current_timezone_name()}); it opens {opens_words(opens)}."
            )
            if every is None:
                self.stdout.write(f"{closed} No tick (--ignore-hours ticks anyway).")
                return None
            if not told:
                self.stdout.write(f"{closed} Waiting for the open (Ctrl-C stops).")
                told = True
            time.sleep(min(CLOSED_BEAT_SECONDS, max((opens - now).total_seconds(), 0.05)))

    def _tick(self, lock, dt: float, *, rng, symbols, number: int | None):
        """One tick of `dt`; None if it failed and was rolled back (logged). `number`: the
        tick attempt, or None for a day's closing tick."""
        self._ticking = True
        try:
            lock.ensure()
            # With the ticker lock held, what else holds the market row is a halt, for a
            # moment: wait for it rather than give up the tick.
            return advance_market(dt=dt, symbols=symbols, rng=rng, wait=True)
        except Exception as exc:
            if isinstance(exc, MarketError) and not isinstance(exc, MarketBusy):
                raise  # no market, an unknown symbol, the lock lost: stop
            # One failed tick (a database hiccup, say) rolled back and left the market as
            # it was; a ticker meant to run all day carries on.
            self._tick_failed(number, exc)
            return None
        finally:
            self._ticking = False

    def _finish_day(self, lock, share: float, *, rng, symbols) -> None:
        """A closing tick: the rest of a trading day whose session has ended (a failed one
        is tried again at the next look)."""
        result = self._tick(lock, share, rng=rng, symbols=symbols, number=None)
        if result is None:
            return
        self._heartbeat(lock)
        self.stdout.write(f"Closed the trading day at the close. {result.summary()}")
        if self._stop_requested:
            raise KeyboardInterrupt

    def _heartbeat(self, lock) -> None:
        try:
            lock.heartbeat()
        except Exception as exc:  # the next tick, or the next minute, tries again
            logger.warning("Could not record the ticker's heartbeat: %s", exc)
            self._drop_broken_connection()

    def _drop_broken_connection(self) -> None:
        # A broken database connection stays broken: drop it so the next use reconnects.
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()

    def _waiting(self, holder: str | None) -> None:
        self.stderr.write(
            f"Waiting for {holder or 'the other ticker'} to end before the first tick "
            "(Ctrl-C gives up)."
        )

    def _tick_failed(self, number: int | None, exc: Exception) -> None:
        """`number`: the tick attempt, or None for the closing tick of a day."""
        log_event(
            logger,
            "market.tick_failed",
            level=logging.ERROR,
            exc_info=exc,
            attempt=number,
            error=type(exc).__name__,
            result="rolled_back",
        )
        self.stderr.write(
            f"{f'Tick attempt {number}' if number else 'The closing tick'} failed "
            f"({type(exc).__name__}: {exc}); nothing of it was "
            "saved. Carrying on."
        )
        self._drop_broken_connection()

    def _install_signal_handlers(self) -> dict:
        """Ctrl-C (or SIGTERM) between ticks stops at once; during a tick it lets the tick
        finish and commit first. Returns the handlers to put back."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def on_signal(signum, frame):
            if self._ticking:
                self._stop_requested = True
            else:
                raise KeyboardInterrupt

        restore = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signum == signal.SIGINT and signal.getsignal(signum) is signal.SIG_IGN:
                # Started as a background job of a script, which leaves Ctrl-C to the
                # job in the foreground (as Python itself does); SIGTERM still stops it.
                continue
            restore[signum] = signal.signal(signum, on_signal)
        return restore

    def _warn_if_cache_is_per_process(self):
        backend = settings.CACHES["default"]["BACKEND"]
        if backend.endswith("LocMemCache") and settings.QUOTE_CACHE_SECONDS > 0:
            self.stderr.write(
                "Note: CACHE_URL is a local-memory cache, which each process keeps for itself: "
                "web pages may show a quote up to "
                f"{settings.QUOTE_CACHE_SECONDS} s old. A shared cache (Redis) shows every "
                "tick at once."
            )
