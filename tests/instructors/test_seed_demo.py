"""seed_demo: a demo classroom written through the services, consistent, and idempotent."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Max, Min
from django.utils import timezone

from accounts.roles import INSTRUCTORS
from classrooms.models import Classroom
from ledger.models import Transaction
from portfolio.models import Holding, PortfolioSnapshot
from prices import services as market
from prices.models import PriceHistory
from prices.ticker import ticker_lock
from tests.factories import StudentFactory
from tradesim.models import AuditEntry
from trading.models import Trade

# Real commits: the market's tick hook (the portfolio snapshots) runs after each commit.
pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
SMALL = {"students": 5, "days": 2, "ticks_per_day": 20, "seed": 7}


def seed(**options) -> str:
    out = StringIO()
    defaults = {"password": "Demo-Teacher-2024", "student_password": "demo-pass-123", **SMALL}
    call_command("seed_demo", stdout=out, stderr=out, **{**defaults, **options})
    return out.getvalue()


def counts() -> dict:
    return {
        "users": User.objects.count(),
        "trades": Trade.objects.count(),
        "journal": Transaction.objects.count(),
        "history": PriceHistory.objects.count(),
        "snapshots": PortfolioSnapshot.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def test_the_demo_classroom_is_ready_with_its_logins_printed():
    out = seed()

    assert "Instructor login at /admin/: instructor / Demo-Teacher-2024" in out
    assert "Instructor login at /admin/: instructor2 / Demo-Teacher-2024" in out
    assert "share the password demo-pass-123" in out and "demo only" in out
    for username in ("instructor", "instructor2"):
        teacher = User.objects.get(username=username)
        assert teacher.is_staff and not teacher.is_superuser
        assert teacher.groups.filter(name=INSTRUCTORS).exists()
        assert teacher.check_password("Demo-Teacher-2024")
    students = User.objects.filter(classroom__name__in=["Demo class", "Demo contest"])
    assert students.count() == 5
    assert all(s.check_password("demo-pass-123") for s in students)
    assert Trade.objects.filter(user__in=students).count() > 5
    # Charts have a history: snapshots for every student, prices for every tick.
    assert (
        PortfolioSnapshot.objects.filter(user__in=students).values("user").distinct().count() == 5
    )
    assert PriceHistory.objects.values("timestamp").distinct().count() == 1 + 40


def test_two_classes_with_different_rules_each_run_by_its_instructor():
    out = seed()

    demo, contest = Classroom.objects.order_by("name")
    assert (demo.name, contest.name) == ("Demo class", "Demo contest")
    assert list(demo.owners.values_list("username", flat=True)) == ["instructor"]
    assert list(contest.owners.values_list("username", flat=True)) == ["instructor2"]
    assert (demo.students.count(), contest.students.count()) == (3, 2)
    assert demo.starting_cash == settings.STARTING_CASH and demo.ends_at is None
    assert contest.starting_cash == Decimal("100000.00") and contest.ends_at > timezone.now()
    assert (demo.deposits_open, contest.deposits_open) == (settings.DEPOSITS_OPEN, False)
    assert (demo.ranking, contest.ranking) == ("twr", "total_return")
    assert contest.max_position_percent == Decimal("25") and not contest.names_shown
    for room in (demo, contest):
        assert f"“{room.name}” " in out and f"join code {room.join_code}" in out
        opening = Transaction.objects.filter(
            user__classroom=room, description="Starting cash"
        ).values_list("amount", flat=True)
        assert set(opening) == {room.starting_cash}


def test_the_prize_goes_to_a_student_of_the_instructors_own_class():
    seed()

    assert Transaction.objects.get(type="grant").user.classroom.name == "Demo class"


def test_the_books_balance_after_the_demo():
    seed()

    call_command("check_ledger", stdout=StringIO())  # raises CommandError on any mismatch
    net = Counter()
    for user_id, symbol, operation, quantity in Trade.objects.values_list(
        "user_id", "stock_id", "operation", "quantity"
    ):
        net[(user_id, symbol)] += quantity if operation == "buy" else -quantity
    held = {(h.user_id, h.stock_id): h.quantity for h in Holding.objects.all()}
    assert held == {key: q for key, q in net.items() if q}


def test_every_trade_has_its_journal_row_as_the_services_write_them():
    seed()

    trades = Counter(Trade.objects.values_list("operation", flat=True))
    journal = Counter(
        Transaction.objects.filter(type__in=["buy", "sell"]).values_list("type", flat=True)
    )
    assert trades == journal


def test_the_instructor_actions_are_audited_with_their_author():
    seed()

    teacher = User.objects.get(username="instructor")
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert actions == {"market_event", "halt", "resume", "grant_cash"}
    assert set(AuditEntry.objects.values_list("actor", flat=True)) == {teacher.pk}
    grant = Transaction.objects.get(type="grant")
    assert grant.created_by == teacher and grant.description.startswith("Granted by instructor")


def test_the_history_lies_in_the_past_in_order():
    seed()

    now = timezone.now()
    ticks = PriceHistory.objects.aggregate(first=Min("timestamp"), last=Max("timestamp"))
    trades = Trade.objects.aggregate(first=Min("timestamp"), last=Max("timestamp"))
    assert ticks["last"] < now
    assert ticks["first"] <= trades["first"] and trades["last"] <= ticks["last"]
    assert ticks["last"] - ticks["first"] > timedelta(days=1)  # two trading days apart


def test_a_second_run_adds_nothing_and_says_so():
    seed()
    before = counts()

    out = seed()

    assert "already there" in out and "nothing added" in out
    assert "Demo-Teacher-2024" not in out and "demo-pass-123" not in out
    assert "Instructor login: instructor2 (password unchanged)." in out
    assert counts() == before
    assert Classroom.objects.count() == 2


def test_a_market_that_has_moved_already_keeps_its_history_in_order():
    market.load_market()
    last = market.advance_market(seed=1).timestamp

    seed(days=1)

    new_rows = PriceHistory.objects.filter(timestamp__gt=last).count()
    assert new_rows == 20 * PriceHistory.objects.values("stock").distinct().count()
    assert not PriceHistory.objects.filter(timestamp__lt=last - timedelta(minutes=1)).exists()


def test_a_username_taken_outside_the_class_is_left_out():
    StudentFactory(username="ava.t", email="ava@school.example")

    out = seed()

    assert "ava.t exists outside “Demo class”" in out
    assert User.objects.filter(classroom__name__in=["Demo class", "Demo contest"]).count() == 4
    assert not Trade.objects.filter(user__username="ava.t").exists()


def test_a_weak_instructor_password_is_refused_before_anything_is_made():
    with pytest.raises(CommandError, match="too common|too short"):
        seed(password="password")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "options", [{"students": 0}, {"students": 31}, {"days": 0}, {"ticks_per_day": 0}]
)
def test_options_out_of_range_are_refused(options):
    with pytest.raises(CommandError):
        seed(**options)


def test_a_running_ticker_is_stopped_first_and_nothing_is_made():
    with ticker_lock(command="tick_prices"), pytest.raises(CommandError) as refused:
        seed()

    assert "Another tick_prices is already running (process " in str(refused.value)
    assert "stop it first, then run seed_demo again" in str(refused.value)
    assert not User.objects.exists()
    assert not PriceHistory.objects.exists()
