"""A ready classroom for trying TradeSim out: two instructors, each with a class of students
under different rules, and a few simulated trading days of prices, trades, deposits and
instructor actions.

Everything is written through the services (load_market, create_class, enroll_students,
create_instructor, advance_market, buy, sell, deposit, withdraw, grant_cash, schedule_event,
set_halted), so this command is also a worked example of using them. The history is
stamped over the last few weekdays rather than the seconds the command takes: while it
runs, the services read a simulated clock that moves with each tick, so trades, journal
rows, prices and portfolio snapshots all agree about when things happened.
"""

import logging
import random
import secrets
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from django.utils import timezone

from accounts.services import create_instructor, enroll_students
from classrooms.models import Classroom
from classrooms.services import create_class
from console.services import grant_cash
from ledger import services as ledger
from ledger.models import Balance
from prices import services as market
from prices.models import MarketState, Price, PriceHistory
from prices.ticker import TickerBusy, ticker_lock
from trading import services as trading
from trading.models import Trade

INSTRUCTOR = "instructor"
CLASS_NAME = "Demo class"


@dataclass(frozen=True)
class DemoClass:
    name: str
    instructor: str
    rules: dict


# The first plays by the settings; the second is a contest with rules of its own. Students
# are dealt to them in turn.
CLASSES = [
    DemoClass(CLASS_NAME, INSTRUCTOR, {}),
    DemoClass(
        "Demo contest",
        "instructor2",
        {
            "starting_cash": Decimal("100000.00"),
            "deposits_open": False,
            "withdrawals_open": False,
            "commission_kind": Classroom.Commission.PERCENT,
            "commission_amount": Decimal("0.10"),
            "commission_minimum": Decimal("1.00"),
            "max_position_percent": Decimal("25"),
            "max_trades_per_day": 20,
            "min_share_price": Decimal("5.00"),
            "ranking": Classroom.Ranking.TOTAL_RETURN,
            "min_trades_to_rank": 3,
            "names_shown": False,
            "seat_limit": 30,
        },
    ),
]
CONTEST_WEEKS = 8
EMAIL_DOMAIN = "demo.tradesim.example"
OPEN = time(9, 30)
TRADING_MINUTES = 390

# fmt: off
NAMES = [
    ("Ava", "Thompson"), ("Ben", "Okafor"), ("Chloe", "Nguyen"), ("Diego", "Ramirez"),
    ("Emma", "Schmidt"), ("Farah", "Haddad"), ("Gabe", "Kowalski"), ("Hana", "Sato"),
    ("Isaac", "Mensah"), ("Jade", "Whitfield"), ("Kofi", "Asante"), ("Lena", "Fischer"),
    ("Mateo", "Silva"), ("Nora", "Lindqvist"), ("Omar", "Farouk"), ("Priya", "Raman"),
    ("Quinn", "Gallagher"), ("Rosa", "Delgado"), ("Sam", "Whitaker"), ("Tara", "Mehta"),
    ("Uma", "Patel"), ("Victor", "Dubois"), ("Wen", "Li"), ("Yara", "Costa"),
    ("Zane", "Holloway"), ("Aiko", "Tanaka"), ("Bruno", "Moreau"), ("Cleo", "Adeyemi"),
    ("Dara", "Kelly"), ("Eli", "Rosen"),
]
# fmt: on


@dataclass(frozen=True)
class Style:
    """How a demo student trades: how often (chance per tick), what, how much of their
    cash a purchase takes, and how often an action is a sale."""

    name: str
    activity: float
    sectors: tuple[str, ...]  # empty: any stock; ("index",): the index fund only
    budget: tuple[float, float]
    sell_share: float


STYLES = [
    Style("index investor", 0.004, ("index",), (0.3, 0.6), 0.0),
    Style("tech fan", 0.03, ("Technology", "Communication Services"), (0.08, 0.2), 0.3),
    Style("day trader", 0.08, (), (0.05, 0.15), 0.5),
    Style("value hunter", 0.02, ("Financials", "Energy", "Consumer Staples", "Utilities"),
          (0.1, 0.25), 0.2),
    Style("cautious", 0.01, (), (0.03, 0.08), 0.3),
]  # fmt: skip


class SimulatedClock:
    """What timezone.now() returns while the history is written."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@contextmanager
def simulated_time(clock: SimulatedClock):
    # The services call django.utils.timezone.now() through the module, so replacing the
    # module's function moves every timestamp they write (and nothing after the command).
    original = timezone.now
    timezone.now = clock
    try:
        yield clock
    finally:
        timezone.now = original


@contextmanager
def quiet_logs(name: str):
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def trading_days(count: int, today) -> list:
    """The `count` weekdays before `today`, oldest first."""
    days, day = [], today
    while len(days) < count:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days[::-1]


def tick_times(*, days: int, per_day: int, now: datetime, after: datetime | None) -> list:
    """The moments of the simulated ticks: `per_day` evenly through the trading hours of
    each of the last `days` weekdays; or, if the market has already ticked later than that
    would start (`after`), spread evenly between its last tick and now, so the price
    history stays in order."""
    step = timedelta(minutes=TRADING_MINUTES / per_day)
    zone = timezone.get_current_timezone()
    moments = [
        timezone.make_aware(datetime.combine(day, OPEN), zone) + step * (i + 1)
        for day in trading_days(days, timezone.localdate(now))
        for i in range(per_day)
    ]
    if after is not None and moments[0] <= after:
        total = days * per_day
        gap = (now - after) / (total + 1)
        moments = [after + gap * (i + 1) for i in range(total)]
    return moments


class Command(BaseCommand):
    help = (
        "Create a demo classroom: two instructor logins (printed), each with a class of "
        "students under different rules, and a few simulated days of prices, trades and "
        "deposits, so the dashboards, charts and leaderboards look alive. Idempotent: a "
        "second run adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--students", type=int, default=25, help=f"How many (1–{len(NAMES)}; default 25)."
        )
        parser.add_argument("--days", type=int, default=3, help="Simulated trading days (1–10).")
        parser.add_argument(
            "--ticks-per-day",
            type=int,
            default=78,
            help="Market ticks per simulated day (default 78: one every 5 minutes).",
        )
        parser.add_argument("--seed", type=int, default=2024, help="Makes the demo repeatable.")
        parser.add_argument(
            "--password",
            help="The instructors' password (default: a random one each, printed).",
        )
        parser.add_argument(
            "--student-password",
            help="The password all demo students share (default: a random one, printed).",
        )

    def handle(self, *args, **options):
        count, days, per_day = options["students"], options["days"], options["ticks_per_day"]
        if not 1 <= count <= len(NAMES):
            raise CommandError(f"--students must be from 1 to {len(NAMES)}.")
        if not 1 <= days <= 10:
            raise CommandError("--days must be from 1 to 10.")
        if not 1 <= per_day <= 390:
            raise CommandError("--ticks-per-day must be from 1 to 390.")
        self.rng = random.Random(options["seed"])
        # Hundreds of trades make hundreds of log lines; -v 2 shows them.
        quiet = options["verbosity"] < 2
        try:
            # Its simulated days would interleave with a running ticker's ticks.
            with (
                ticker_lock(command="seed_demo"),
                quiet_logs("tradesim") if quiet else nullcontext(),
            ):
                self._seed(count, days, per_day, options)
        except TickerBusy as exc:
            raise CommandError(
                f"{exc.message}; stop it first, then run seed_demo again: it writes days of "
                "market history, and needs the market to itself."
            ) from exc

    def _seed(self, count, days, per_day, options):
        added = []

        instructors, passwords = {}, {}
        for demo in CLASSES:
            user, password = self._instructor(demo.instructor, options["password"])
            instructors[demo.instructor] = user
            if password:
                passwords[demo.instructor] = password
                added.append(f"the instructor {demo.instructor}")
        classrooms = []
        for demo in CLASSES:
            classroom = Classroom.objects.filter(name=demo.name).first()
            if classroom is None:
                classroom = self._class(demo, instructors[demo.instructor])
                added.append(f"the class “{demo.name}”")
            classrooms.append(classroom)
        instructor = instructors[INSTRUCTOR]
        own_class = classrooms[0]

        User = get_user_model()
        roster = [
            (f"{first.lower()}.{last[0].lower()}", first, last, classrooms[i % len(classrooms)])
            for i, (first, last) in enumerate(NAMES[:count])
        ]
        taken = dict(
            User.objects.filter(username__in=[r[0] for r in roster]).values_list(
                "username", "classroom_id"
            )
        )
        for username, _, _, classroom in roster:
            if taken.get(username, classroom.pk) != classroom.pk:
                self.stderr.write(
                    f"{username} exists outside “{classroom.name}”: left out of the demo."
                )
        roster = [r for r in roster if taken.get(r[0], r[3].pk) == r[3].pk]
        usernames = [username for username, _, _, _ in roster]
        missing = [r for r in roster if r[0] not in taken]
        needs_history = (
            bool(usernames)
            and not Trade.objects.filter(
                user__username__in=usernames, user__classroom__in=classrooms
            ).exists()
        )

        moments = []
        if needs_history:
            moments = tick_times(
                days=days, per_day=per_day, now=timezone.now(), after=self._latest_price_time()
            )
        clock = SimulatedClock(moments[0] - timedelta(minutes=5) if moments else timezone.now())
        student_password = None
        with simulated_time(clock) if moments else nullcontext():
            # Listed at the start of the simulated days, so each symbol's history begins
            # with its listing price.
            loaded = market.load_market(now=clock.moment)
            if loaded.created:
                added.append(f"listed {len(loaded.created)} symbols")
            if missing:
                student_password = options["student_password"] or secrets.token_urlsafe(9)
                for classroom in classrooms:
                    joining = [
                        (username, f"{username}@{EMAIL_DOMAIN}", first, last)
                        for username, first, last, room in missing
                        if room == classroom
                    ]
                    if joining:
                        enroll_students(
                            students=joining, password=student_password, classroom=classroom
                        )
                added.append(f"{len(missing)} students")
            if needs_history:
                students = list(
                    User.objects.filter(username__in=usernames, classroom__in=classrooms).order_by(
                        "username"
                    )
                )
                summary = self._simulate(
                    students, instructor, own_class, moments, clock, per_day, options
                )
                added.append(summary)

        self._report(added, instructors, passwords, classrooms, usernames, student_password)

    @staticmethod
    def _latest_price_time():
        """When the market last moved or was listed: the simulated days must come after it,
        or the price charts would run backwards."""
        last_tick = MarketState.objects.filter(id=1).values_list("last_tick_at", flat=True).first()
        last_row = PriceHistory.objects.aggregate(latest=Max("timestamp"))["latest"]
        known = [t for t in (last_tick, last_row) if t is not None]
        return max(known) if known else None

    # Who --------------------------------------------------------------------------------

    def _instructor(self, username: str, password: str | None):
        """A demo instructor, and the password when it was created just now."""
        User = get_user_model()
        found = User.objects.filter(username=username).first()
        if found is not None:
            return found, None
        password = password or secrets.token_urlsafe(12)
        try:
            user = create_instructor(
                username=username, email=f"{username}@{EMAIL_DOMAIN}", password=password
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        return user, password

    @staticmethod
    def _class(demo: DemoClass, owner) -> Classroom:
        rules = dict(demo.rules)
        if demo.rules:
            rules["ends_at"] = timezone.now() + timedelta(weeks=CONTEST_WEEKS)
        try:
            return create_class(name=demo.name, owners=[owner], rules=rules)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None

    # The simulated days -----------------------------------------------------------------

    def _simulate(self, students, instructor, own_class, moments, clock, per_day, options) -> str:
        rng = self.rng
        market_rng = random.Random(options["seed"] + 1)
        styles = {s.pk: STYLES[i % len(STYLES)] for i, s in enumerate(students)}
        cash = dict(Balance.objects.filter(user__in=students).values_list("user_id", "amount"))
        held: dict[int, dict[str, int]] = defaultdict(dict)
        depositors = set(rng.sample([s.pk for s in students], k=max(1, len(students) // 5)))
        deposit_at = {pk: rng.randrange(len(moments)) for pk in depositors}
        withdrawer = rng.choice(students).pk
        withdraw_at = rng.randrange(len(moments) // 2, len(moments))
        # The instructor's prize goes to a student of their own class.
        own_students = [s for s in students if s.classroom_id == own_class.pk] or students
        script = self._instructor_script(len(moments), per_day, own_students)
        can_act = instructor.has_perm("ledger.grant_cash")
        self.halted = None
        trades = flows = 0

        for n, moment in enumerate(moments):
            clock.moment = moment
            market.advance_market(dt=1 / per_day, rng=market_rng, now=moment, wait=True)
            quotes = {
                symbol: (price, sector, halted, is_index)
                for symbol, price, sector, halted, is_index in Price.objects.values_list(
                    "symbol", "price", "sector", "halted", "is_index"
                )
            }
            if can_act and n in script:
                script[n](instructor, students, quotes)
            for student in students:
                pk = student.pk
                if deposit_at.get(pk) == n:
                    amount = Decimal(rng.choice([1000, 2000, 2500, 5000]))
                    try:
                        ledger.deposit(user=student, amount=amount, description="Summer job")
                    except ledger.LedgerError:
                        pass  # deposits may be closed or capped in this class
                    else:
                        cash[pk] += amount
                        flows += 1
                if pk == withdrawer and n == withdraw_at and cash[pk] >= 500:
                    try:
                        ledger.withdraw(user=student, amount="500", description="Field trip")
                    except ledger.LedgerError:
                        pass  # withdrawals may be closed in this class
                    else:
                        cash[pk] -= 500
                        flows += 1
                first_purchase = n == 0 and styles[pk].name != "cautious"
                if not first_purchase and rng.random() >= styles[pk].activity:
                    continue
                trade = self._trade(student, styles[pk], quotes, cash, held[pk], force_buy=n == 0)
                if trade is not None:
                    trades += 1
        days = max(1, len(moments) // per_day)
        return (
            f"{len(moments)} market ticks over {days} simulated day{'s' if days != 1 else ''}, "
            f"{trades} trades and {flows} deposits and withdrawals"
        )

    def _trade(self, student, style, quotes, cash, held, *, force_buy=False):
        rng = self.rng
        open_quotes = {s: q for s, q in quotes.items() if not q[2]}
        if held and not force_buy and rng.random() < style.sell_share:
            symbol = rng.choice(sorted(s for s in held if s in open_quotes) or [None])
            if symbol is None:
                return None
            quantity = held[symbol] if rng.random() < 0.5 else max(1, held[symbol] // 2)
            try:
                trade = trading.sell(user=student, symbol=symbol, quantity=quantity)
            except trading.TradingError:
                return None
            held[symbol] -= quantity
            if not held[symbol]:
                del held[symbol]
            cash[student.pk] += trade.total - trade.commission
            return trade
        if style.sectors == ("index",):
            choices = [s for s, q in open_quotes.items() if q[3]]
        elif style.sectors:
            choices = [s for s, q in open_quotes.items() if q[1] in style.sectors and not q[3]]
        else:
            choices = [s for s, q in open_quotes.items() if not q[3]]
        if not choices:
            return None
        symbol = rng.choice(sorted(choices))
        budget = cash[student.pk] * Decimal(str(round(rng.uniform(*style.budget), 3)))
        quantity = int(budget // open_quotes[symbol][0])
        if quantity < 1:
            return None
        try:
            trade = trading.buy(user=student, symbol=symbol, quantity=quantity)
        except trading.TradingError:
            return None
        held[symbol] = held.get(symbol, 0) + quantity
        cash[student.pk] -= trade.total + trade.commission
        return trade

    def _instructor_script(self, ticks: int, per_day: int, prize_candidates) -> dict:
        """What the instructor does, and at which tick: news for a sector, a halt and its
        resumption, a prize; each goes into the audit log."""
        rng = self.rng

        def news(instructor, students, quotes):
            sectors = sorted({q[1] for q in quotes.values() if not q[3]})
            sector = "Technology" if "Technology" in sectors else rng.choice(sectors)
            market.schedule_event(
                sector=sector, percent=Decimal("-6"), reason="Export curbs on chips", by=instructor
            )

        def halt(instructor, students, quotes):
            self.halted = rng.choice(sorted(s for s, q in quotes.items() if not q[3]))
            market.set_halted(symbols=[self.halted], halted=True, by=instructor)

        def resume(instructor, students, quotes):
            if self.halted:
                market.set_halted(symbols=[self.halted], halted=False, by=instructor)

        def prize(instructor, students, quotes):
            grant_cash(
                student=rng.choice(prize_candidates),
                instructor=instructor,
                amount=Decimal("500"),
                reason="Best stock pitch of the week",
            )

        middle = ticks // 2
        return {
            max(1, middle - per_day // 4): news,
            middle: halt,
            min(ticks - 1, middle + per_day // 3): resume,
            min(ticks - 1, middle + per_day // 2): prize,
        }

    # What happened ----------------------------------------------------------------------

    def _report(self, added, instructors, passwords, classrooms, usernames, student_password):
        style = self.style
        names = " and ".join(f"“{classroom.name}”" for classroom in classrooms)
        if not added:
            self.stdout.write(
                style.SUCCESS(
                    f"The demo classroom is already there ({len(usernames)} students in "
                    f"{names}); nothing added."
                )
            )
        else:
            self.stdout.write(style.SUCCESS("Demo classroom ready: " + "; ".join(added) + "."))
        for username in instructors:
            if username in passwords:
                self.stdout.write(
                    f"Instructor login at /admin/: {username} / {passwords[username]}  "
                    f"(shown once; change it with `manage.py changepassword {username}`)"
                )
            else:
                self.stdout.write(f"Instructor login: {username} (password unchanged).")
        for demo, classroom in zip(CLASSES, classrooms, strict=True):
            self.stdout.write(
                f"“{classroom.name}” ({demo.instructor}'s): join code {classroom.join_code}"
            )
        if student_password:
            self.stdout.write(
                f"Students {usernames[0]} … {usernames[-1]} share the password "
                f"{student_password}  (demo only: shown once, do not reuse it)"
            )
        self.stdout.write("Move the market on with `manage.py tick_prices --every 5`.")
