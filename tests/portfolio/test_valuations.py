"""The portfolio_valuations view (every user's sums in one grouped pass) against the
per-user subqueries it stands in for, so the two ways of valuing can never drift apart."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.roles import ensure_instructor_group
from ledger import services as ledger
from ledger.models import Transaction
from portfolio import selectors, valuation_view
from portfolio.models import PortfolioSnapshot, Valuation
from portfolio.services import take_snapshots
from tests.factories import ClassroomFactory, InstructorFactory, StudentFactory, TransactionFactory
from tests.portfolio.helpers import buy, listed, sell, set_price
from trading.services import reset_student

D = Decimal

pytestmark = pytest.mark.django_db


def both_ways(users):
    """{pk: (market_value, net_contributions)} per user, valued each way."""

    def sums(all_at_once):
        rows = selectors.valued(users, all_at_once=all_at_once).values_list(
            "pk", "market_value", "net_contributions", "total_value"
        )
        return {pk: (mv, net, total) for pk, mv, net, total in rows}

    return sums(False), sums(True)


@pytest.fixture
def every_kind_of_row(student, other_student):
    """Journal rows of every type and holdings at moved prices, for two students."""
    instructor = InstructorFactory()
    instructor.groups.add(ensure_instructor_group())
    listed("AAA", "10.00")
    listed("BBB", "33.33")
    buy(student, "AAA", 7)
    buy(student, "BBB", 3)
    buy(other_student, "BBB", 11)
    set_price("AAA", "12.34")
    set_price("BBB", "30.01")
    sell(student, "AAA", 2)
    ledger.deposit(user=student, amount="250.00")
    ledger.withdraw(user=student, amount="40.50")
    ledger.grant(user=student, amount="99.99", reason="prize", instructor=instructor)
    ledger.deposit(user=other_student, amount="1.01")
    TransactionFactory(user=other_student, type=Transaction.Type.FEE, amount=D("2.00"))
    TransactionFactory(user=student, type=Transaction.Type.INTEREST, amount=D("3.17"))
    TransactionFactory(user=student, type=Transaction.Type.CASH_INTEREST, amount=D("1.59"))
    reset_student(student=other_student, instructor=instructor, reason="fresh start")
    return student, other_student


def test_every_journal_type_is_counted_the_same_both_ways(every_kind_of_row):
    types = set(Transaction.objects.values_list("type", flat=True))
    assert types >= {"deposit", "withdrawal", "buy", "sell", "fee", "grant"}
    assert types >= {"interest", "cash_interest"}
    assert types & {"reset_credit", "reset_debit"}

    per_user, all_at_once = both_ways(get_user_model().objects.all())

    assert per_user == all_at_once


def test_the_view_values_holdings_at_the_current_price(every_kind_of_row):
    student, other = every_kind_of_row

    valuation = Valuation.objects.get(user=student)

    # 5 AAA at 12.34 and 3 BBB at 30.01; net flows 10,000 + 250 − 40.50 + 99.99 (the
    # interest rows are gains and losses, not flows).
    assert valuation.market_value == D("151.73")
    assert valuation.net_contributions == D("10309.49")
    # The reset sold everything: no holdings, and a student nobody touched is all zeros.
    assert Valuation.objects.get(user=other).market_value == D("0")
    fresh = StudentFactory()
    assert (Valuation.objects.get(user=fresh).market_value, fresh.valuation.net_contributions) == (
        D("0"),
        D("10000.00"),
    )


def test_ranking_everyone_and_ranking_one_class_agree(every_kind_of_row):
    student, other = every_kind_of_row
    classroom = ClassroomFactory(name="Period 1")
    get_user_model().objects.filter(pk__in=[student.pk, other.pk]).update(classroom=classroom)
    StudentFactory()  # another student, in no class

    everyone = {row["pk"]: row for row in selectors.ranking()}
    one_class = {
        row["pk"]: row for row in selectors.ranking(selectors.Board(classroom_id=classroom.pk))
    }

    assert set(one_class) == {student.pk, other.pk}
    for pk, row in one_class.items():
        assert row["total_value"] == everyone[pk]["total_value"]
        assert row["metric"] == everyone[pk]["metric"]


@pytest.mark.django_db(transaction=True)
def test_migrate_takes_the_view_away_and_puts_it_back():
    def has_view():
        return valuation_view.NAME in connection.introspection.table_names(include_views=True)

    assert has_view()

    # Back before the Valuation model: the view goes with it.
    call_command("migrate", "portfolio", "0003", verbosity=0)
    assert not has_view()

    # Forward again: made anew after the migrations ran (which ran without it in the way).
    call_command("migrate", verbosity=0)
    assert has_view()
    assert Valuation.objects.count() == get_user_model().objects.count()


@pytest.mark.django_db(transaction=True)
def test_a_failed_migration_leaves_the_view_in_place(monkeypatch):
    def has_view():
        return valuation_view.NAME in connection.introspection.table_names(include_views=True)

    def fail(self, *args, **kwargs):
        assert not has_view()  # out of the way while migrations run
        raise RuntimeError("a migration failed")

    monkeypatch.setattr(MigrationExecutor, "migrate", fail)

    with pytest.raises(RuntimeError, match="a migration failed"):
        call_command("migrate", "portfolio", "0003", verbosity=0)

    assert has_view()


def test_with_no_migrations_to_run_the_view_stays():
    valuation_view.drop(using="default", plan=[])

    assert valuation_view.NAME in connection.introspection.table_names(include_views=True)


def test_interest_is_a_gain_or_a_loss_never_a_contribution():
    saver = StudentFactory(classroom=ClassroomFactory(name="Savers", cash_rate_percent=D("4")))
    take_snapshots(timestamp=timezone.now() - timedelta(minutes=5))
    before = selectors.portfolio_overview(saver)
    assert before.net_contributions == D("10000.00") and before.total_return == D("0.00")

    ledger.accrue_interest(day=1)  # $10,000 at 4 % a year: $1.59 for the day
    take_snapshots(timestamp=timezone.now())

    after = selectors.portfolio_overview(saver)
    assert after.cash == D("10001.59")
    assert after.net_contributions == D("10000.00")  # unchanged: no units were issued
    assert Valuation.objects.get(user=saver).net_contributions == D("10000.00")
    assert after.total_return == D("1.59")
    assert after.unit_value == D("1.000159")  # the same units, worth more
    assert after.twr_pct > 0
    snapshot = PortfolioSnapshot.objects.filter(user=saver).latest("timestamp")
    assert (snapshot.net_contributions, snapshot.total_value) == (D("10000.00"), D("10001.59"))
    assert snapshot.units == D("10000")
