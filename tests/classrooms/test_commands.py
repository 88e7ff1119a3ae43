"""manage.py create_class: a class from a script, its join code alone on the last line."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from classrooms.models import Classroom, looks_like_join_code
from tests.factories import InstructorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def teachers(instructor):
    return instructor, InstructorFactory(username="coteacher", email="co@school.example")


def create_class(*args) -> list[str]:
    out = StringIO()
    call_command("create_class", *args, stdout=out)
    return out.getvalue().splitlines()


def test_it_prints_the_join_code_alone_on_its_last_line(teachers):
    lines = create_class("Period 3", "--owner", "teacher")

    room = Classroom.objects.get(name="Period 3")
    assert lines[-1] == room.join_code
    assert looks_like_join_code(lines[-1])
    assert list(room.owners.all()) == [teachers[0]]


def test_every_rule_key_sets_its_rule(teachers):
    create_class(
        "Period 3",
        "--owner=teacher",
        "--owner=coteacher",
        "--rule=starts_at=2027-01-11T09:30:00+00:00",
        "--rule=ends_at=2027-03-01T16:00Z",
        "--rule=starting_cash=25000",
        "--rule=deposits=closed",
        "--rule=max_total_deposits=5000",
        "--rule=withdrawals=closed",
        "--rule=commission=percent",
        "--rule=commission_amount=0.5",
        "--rule=commission_minimum=1.00",
        "--rule=max_position_percent=25",
        "--rule=max_trades_per_day=10",
        "--rule=min_share_price=1",
        "--rule=order_types=market",
        "--rule=ranking=risk_adjusted",
        "--rule=min_trades_to_rank=3",
        "--rule=names=hidden",
        "--rule=seat_limit=30",
        "--rule=joining=closed",
        "--rule=api=off",
    )

    room = Classroom.objects.get(name="Period 3")
    assert set(room.owners.values_list("username", flat=True)) == {"teacher", "coteacher"}
    assert room.starts_at == datetime(2027, 1, 11, 9, 30, tzinfo=UTC)
    assert room.ends_at == datetime(2027, 3, 1, 16, 0, tzinfo=UTC)
    assert room.starting_cash == Decimal("25000")
    assert (room.deposits_open, room.withdrawals_open, room.joining_open) == (False,) * 3
    assert room.max_total_deposits == Decimal("5000")
    assert (room.commission_kind, room.commission_amount, room.commission_minimum) == (
        "percent",
        Decimal("0.5"),
        Decimal("1.00"),
    )
    assert room.max_position_percent == Decimal("25")
    assert room.max_trades_per_day == 10
    assert room.min_share_price == Decimal("1")
    assert room.order_types == "market"
    assert (room.ranking, room.min_trades_to_rank, room.names_shown) == ("risk_adjusted", 3, False)
    assert room.seat_limit == 30
    assert room.api_access is False


def test_a_date_without_a_zone_is_in_the_sites_time_zone(teachers, settings):
    settings.TIME_ZONE = "America/New_York"

    create_class("Period 3", "--owner", "teacher", "--rule", "starts_at=2027-01-11T09:30")

    room = Classroom.objects.get(name="Period 3")
    assert room.starts_at == datetime(2027, 1, 11, 14, 30, tzinfo=UTC)


def test_none_clears_a_limit_and_keys_are_read_in_any_case(teachers):
    create_class(
        "Period 3",
        "--owner",
        "teacher",
        "--rule",
        "max_total_deposits=none",
        "--rule",
        "deposits=Open",
        "--rule",
        "ranking=TWR",
    )

    room = Classroom.objects.get(name="Period 3")
    assert room.max_total_deposits is None
    assert room.deposits_open is True
    assert room.ranking == "twr"


def test_a_class_takes_every_order_type_unless_told_market_only(teachers):
    create_class("Period 3", "--owner", "teacher")
    create_class("Period 4", "--owner", "teacher", "--rule", "order_types=MARKET")
    create_class("Period 5", "--owner", "teacher", "--rule", "order_types=all")

    chosen = dict(Classroom.objects.values_list("name", "order_types"))
    assert chosen == {"Period 3": "all", "Period 4": "market", "Period 5": "all"}


@pytest.mark.parametrize(
    "rule, message",
    [
        ("colour=blue", "--rule colour: no such rule"),
        ("starting_cash", "--rule 'starting_cash': write it as KEY=VALUE"),
        ("starts_at=next monday", "--rule starts_at=next monday: 'next monday' is not an ISO 8601"),
        ("ends_at=2027-02-30", "--rule ends_at=2027-02-30: '2027-02-30' is not an ISO 8601"),
        ("starting_cash=lots", "--rule starting_cash=lots: 'lots' is not a number"),
        ("starting_cash=1e5", "--rule starting_cash=1e5: '1e5' is not a number"),
        ("starting_cash=-5", "--rule starting_cash: Ensure this value is greater than or equal"),
        ("starting_cash=10.005", "--rule starting_cash: Ensure that there are no more than 2"),
        ("deposits=maybe", "--rule deposits=maybe: 'maybe' is not one of: open, closed"),
        ("withdrawals=yes", "--rule withdrawals=yes: 'yes' is not one of: open, closed"),
        ("commission=tithe", "--rule commission=tithe: 'tithe' is not one of: none, flat"),
        ("commission_amount=-1", "--rule commission_amount: Ensure this value is greater"),
        ("max_position_percent=150", "--rule max_position_percent: Ensure this value is less"),
        ("max_position_percent=0", "--rule max_position_percent: The most in one stock is a"),
        ("max_trades_per_day=2.5", "--rule max_trades_per_day=2.5: '2.5' is not a whole number"),
        ("max_trades_per_day=0", "--rule max_trades_per_day: Ensure this value is greater"),
        ("min_share_price=cheap", "--rule min_share_price=cheap: 'cheap' is not a number"),
        ("order_types=limit", "--rule order_types=limit: 'limit' is not one of: all, market"),
        ("order_types=", "--rule order_types=: '' is not one of: all, market"),
        ("ranking=luck", "--rule ranking=luck: 'luck' is not one of: twr, total_return"),
        ("min_trades_to_rank=-1", "--rule min_trades_to_rank: Ensure this value is greater"),
        ("names=secret", "--rule names=secret: 'secret' is not one of: shown, hidden"),
        ("seat_limit=0", "--rule seat_limit: A seat limit is at least 1"),
        ("joining=shut", "--rule joining=shut: 'shut' is not one of: open, closed"),
    ],
)
def test_a_bad_key_or_value_stops_it_naming_the_key(teachers, rule, message):
    with pytest.raises(CommandError) as refused:
        create_class("Period 3", "--owner", "teacher", "--rule", rule)

    assert message in str(refused.value)
    assert not Classroom.objects.exists()


def test_a_class_that_ends_before_it_starts_names_both_dates(teachers):
    with pytest.raises(CommandError) as refused:
        create_class(
            "Period 3",
            "--owner",
            "teacher",
            "--rule",
            "starts_at=2027-03-01",
            "--rule",
            "ends_at=2027-01-11",
        )

    assert str(refused.value) == (
        "--rule ends_at, --rule starts_at: The class must start before it ends."
    )


def test_a_rule_given_twice_is_refused(teachers):
    with pytest.raises(CommandError, match="--rule seat_limit: given twice"):
        create_class("P3", "--owner", "teacher", "--rule", "seat_limit=3", "--rule", "seat_limit=4")


def test_the_owner_must_be_an_existing_instructor(teachers, student):
    with pytest.raises(CommandError, match="--owner nobody: there is no user called nobody"):
        create_class("Period 3", "--owner", "nobody")
    with pytest.raises(CommandError, match="--owner: Only instructors .* alice"):
        create_class("Period 3", "--owner", "alice")
    assert not Classroom.objects.exists()


def test_an_owner_is_required():
    with pytest.raises(CommandError, match="--owner"):
        create_class("Period 3")


def test_a_name_in_use_is_refused_naming_it(teachers):
    create_class("Period 3", "--owner", "teacher")

    with pytest.raises(CommandError, match="NAME: Class with this Name already exists"):
        create_class("Period 3", "--owner", "teacher")
    assert Classroom.objects.count() == 1


def test_five_sections_from_a_script_get_five_codes(teachers):
    codes = [create_class(f"Section {n}", "--owner", "teacher")[-1] for n in range(1, 6)]

    assert len(set(codes)) == 5
    assert set(Classroom.objects.values_list("join_code", flat=True)) == set(codes)
