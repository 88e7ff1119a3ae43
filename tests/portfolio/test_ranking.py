"""A class's leaderboard: each metric's order on a small example worked by hand, the
minimum number of trades, hidden names, and the standings frozen at the class's end."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from classrooms.rules import Rulebook
from ledger import services as ledger
from ledger.models import Transaction
from portfolio import selectors
from portfolio.services import after_tick
from tests.factories import ClassroomFactory, InstructorFactory, StudentFactory
from tests.portfolio.helpers import buy, listed, tick

D = Decimal

pytestmark = pytest.mark.django_db

BASE = timezone.now() - timedelta(hours=2)  # the class starts here
JOINED = BASE - timedelta(days=1)  # and the students signed up the day before
T = [BASE + timedelta(minutes=10 * i) for i in range(6)]  # the market's ticks


def board_of(classroom, now=None) -> selectors.Board:
    classroom.refresh_from_db()
    return selectors.Board.of(Rulebook.from_classroom(classroom), now=now)


def table(classroom, now=None, **kwargs) -> list[tuple]:
    """(rank, name, metric value) of every row, in the board's order."""
    board = board_of(classroom, now)
    rows = selectors.standings(selectors.ranking(board), board, **kwargs)
    return [(row.rank, row.name, row.metric_value) for row in rows]


def student(name, classroom, cash="10000.00", joined=JOINED):
    return StudentFactory(username=name, classroom=classroom, date_joined=joined, cash=cash)


def market_tick(number, prices):
    tick(prices, T[number])
    after_tick(ticks=number, timestamp=T[number])


@pytest.fixture(autouse=True)
def _snapshot_every_tick(settings):
    settings.SNAPSHOT_EVERY_TICKS = 1


# Total return and time-weighted return ---------------------------------------------------


@pytest.fixture
def deposit_before_the_rise():
    """ann: 100 XYZ @ 100; XYZ falls to 90 (unit value 0.90); she deposits 9,000 and buys
    100 more at 90; XYZ rises to 110: 22,000 on 19,000 put in.
      time-weighted: 10,000 units + 9,000 / 0.90 = 20,000 units; 22,000 / 20,000 = +10.00 %
      total return:  (22,000 − 19,000) / 19,000 = +15.79 %
    dan: 50 ABC @ 100, ABC to 126: 11,300 on 10,000, +13.00 % both ways.
    bob: cash, 0.00 % both ways."""
    period = ClassroomFactory(name="Period 1", starts_at=BASE)
    listed("XYZ", "100.00")
    listed("ABC", "100.00")
    ann, dan = student("ann", period), student("dan", period)
    student("bob", period)
    buy(ann, "XYZ", 100)
    buy(dan, "ABC", 50)
    market_tick(1, {"XYZ": "100.00", "ABC": "100.00"})
    market_tick(2, {"XYZ": "90.00", "ABC": "100.00"})
    ledger.deposit(user=ann, amount="9000.00")
    buy(ann, "XYZ", 100)
    market_tick(3, {"XYZ": "110.00", "ABC": "126.00"})
    return period


def test_the_time_weighted_return_ranks_skill_not_timing(deposit_before_the_rise):
    assert table(deposit_before_the_rise) == [
        (1, "dan", D("13.00")),
        (2, "ann", D("10.00")),
        (3, "bob", D("0.00")),
    ]


def test_the_total_return_counts_the_money_put_in(deposit_before_the_rise):
    deposit_before_the_rise.ranking = "total_return"
    deposit_before_the_rise.save()

    assert table(deposit_before_the_rise) == [
        (1, "ann", D("15.79")),
        (2, "dan", D("13.00")),
        (3, "bob", D("0.00")),
    ]


# Return over the market index -------------------------------------------------------------


@pytest.fixture
def late_joiner():
    """The index MKT: 1,000 at the start and after t1, 1,100 after t2, 1,210 after t3.
    dan and bob (from the start): the index made +21.00 % over their span.
      dan: 50 ABC @ 100 → 126: +13.00 %, over the index −8.00 %
      bob: cash: 0.00 %, over the index −21.00 %
    eve joins between t2 and t3, when the index stood at 1,100 (+10.00 % to 1,210 since),
    and puts 2,000 of her 10,000 in ABC at 100 → 126: +5.20 %, over the index −4.80 %."""
    period = ClassroomFactory(name="Period 1", starts_at=BASE, ranking="excess_return")
    listed("ABC", "100.00")
    index = listed("MKT", "1000.00", is_index=True)
    tick({"MKT": "1000.00"}, BASE)
    dan = student("dan", period)
    student("bob", period)
    buy(dan, "ABC", 50)
    market_tick(1, {"ABC": "100.00", "MKT": "1000.00"})
    market_tick(2, {"ABC": "100.00", "MKT": "1100.00"})
    eve = student("eve", period, joined=T[2] + timedelta(minutes=1))
    buy(eve, "ABC", 20)
    market_tick(3, {"ABC": "126.00", "MKT": "1210.00"})
    assert index.pk
    return period


def test_the_return_over_the_index_compares_each_student_with_the_index_over_their_span(
    late_joiner,
):
    assert table(late_joiner) == [
        (1, "eve", D("-4.80")),
        (2, "dan", D("-8.00")),
        (3, "bob", D("-21.00")),
    ]
    # By time-weighted return eve would be second: she is first by what she made of
    # the market she had.
    late_joiner.ranking = "twr"
    late_joiner.save()
    assert [name for _, name, _ in table(late_joiner)] == ["dan", "eve", "bob"]


def test_without_a_market_index_nobody_is_ranked_over_it(late_joiner):
    from prices.models import Price

    Price.objects.filter(symbol="MKT").update(is_index=False)

    assert table(late_joiner) == [
        (None, "dan", None),  # by total value
        (None, "eve", None),
        (None, "bob", None),
    ]


# Risk-adjusted return -------------------------------------------------------------------------


@pytest.fixture
def three_temperaments():
    """Each puts all 10,000 in one share of their own stock. From t1, the returns between
    regular snapshots are:
      steady +1 %, +2 %, +1 %:  mean 1.3333 %, sample deviation 0.5774 %  →  +2.31
      wild  +10 %, −5 %, +10 %: mean 5 %,      sample deviation 8.6603 %  →  +0.58
      gloomy −1 %, −2 %, −1 %:                                           →  −2.31
    cash holds cash: no variation, no ratio. newbie signed up after the start, with one
    return since: not enough to tell."""
    period = ClassroomFactory(name="Period 1", starts_at=BASE, ranking="risk_adjusted")
    prices = {
        "STDY": ["10000.00", "10100.00", "10302.00", "10405.02"],
        "WILD": ["10000.00", "11000.00", "10450.00", "11495.00"],
        "GLUM": ["10000.00", "9900.00", "9702.00", "9604.98"],
    }
    for symbol, history in prices.items():
        listed(symbol, history[0])
    for name, symbol in [("steady", "STDY"), ("wild", "WILD"), ("gloomy", "GLUM")]:
        buy(student(name, period), symbol, 1)
    student("cash", period)
    for number in range(1, 5):
        if number == 3:
            student("newbie", period, joined=T[2] + timedelta(minutes=1))
        market_tick(number, {symbol: history[number - 1] for symbol, history in prices.items()})
    return period


def test_the_risk_adjusted_return_prefers_steady_gains(three_temperaments):
    assert table(three_temperaments) == [
        (1, "steady", D("2.31")),  # a population deviation would make it 2.83
        (2, "wild", D("0.58")),
        (3, "gloomy", D("-2.31")),
        (None, "cash", None),
        (None, "newbie", None),
    ]
    three_temperaments.ranking = "twr"
    three_temperaments.save()
    assert [name for _, name, _ in table(three_temperaments)][:2] == ["wild", "steady"]


def test_the_risk_adjusted_return_counts_only_the_classs_span(three_temperaments):
    """Starting the class after t3 leaves everyone one return (the one at t4)."""
    three_temperaments.starts_at = T[3] + timedelta(minutes=1)
    three_temperaments.save()

    assert [rank for rank, _, _ in table(three_temperaments)] == [None] * 5


# The minimum number of trades --------------------------------------------------------------


@pytest.fixture
def min_two_trades():
    """Two trades to be ranked. ann: two buys. bob: one buy, and a reset's sale (the
    instructor's, not his). cat: none, and the best return (a grant she did not trade)."""
    period = ClassroomFactory(name="Period 1", starts_at=BASE, min_trades_to_rank=2)
    listed("XYZ", "100.00")
    ann, bob, cat = student("ann", period), student("bob", period), student("cat", period)
    buy(ann, "XYZ", 1)
    buy(ann, "XYZ", 1)
    buy(bob, "XYZ", 1)
    ledger.credit(
        user=bob,
        type=Transaction.Type.SELL,
        amount=D("1.00"),
        description="Reset by teacher: Sold 1 XYZ",
        symbol="XYZ",
        created_by=InstructorFactory(username="teacher"),
    )
    tick({"XYZ": "150.00"}, T[1])
    assert cat.pk
    return period


def test_too_few_trades_are_listed_after_the_ranked_with_what_is_missing(min_two_trades):
    board = board_of(min_two_trades)

    rows = selectors.standings(selectors.ranking(board), board)

    assert [(r.rank, r.name, r.trades, r.trades_needed) for r in rows] == [
        (1, "ann", 2, 0),
        (None, "bob", 1, 1),
        (None, "cat", 0, 2),
    ]
    assert {r.ranked_total for r in rows} == {1}
    assert {r.board_size for r in rows} == {3}


def test_trades_before_the_class_started_do_not_count(min_two_trades):
    min_two_trades.starts_at = timezone.now() + timedelta(minutes=1)
    min_two_trades.save()

    assert [rank for rank, _, _ in table(min_two_trades)] == [None, None, None]


# Names -------------------------------------------------------------------------------------


def test_hidden_names_leave_the_viewer_their_own(deposit_before_the_rise):
    viewer = deposit_before_the_rise.students.get(username="ann")

    rows = table(deposit_before_the_rise, viewer_id=viewer.pk, names=False)

    assert rows == [
        (1, "Student 1", D("13.00")),
        (2, "ann", D("10.00")),
        (3, "Student 3", D("0.00")),
    ]


# Frozen standings ------------------------------------------------------------------------------


@pytest.fixture
def ended_class():
    """Period 1 ends between t2 and t3. At t2: ann's 100 XYZ at 120 (+20 %), dan's 100 ABC
    at 110 (+10 %). At t3, after the end, XYZ crashes to 50 and ABC soars to 200."""
    period = ClassroomFactory(name="Period 1", starts_at=BASE, ends_at=T[2] + timedelta(minutes=5))
    listed("XYZ", "100.00")
    listed("ABC", "100.00")
    buy(student("ann", period), "XYZ", 100)
    buy(student("dan", period), "ABC", 100)
    market_tick(1, {"XYZ": "100.00", "ABC": "100.00"})
    market_tick(2, {"XYZ": "120.00", "ABC": "110.00"})
    return period


@pytest.mark.parametrize("ranking", ["twr", "total_return", "excess_return", "risk_adjusted"])
def test_a_tick_after_the_end_changes_no_rank_or_value_shown(ended_class, ranking):
    listed("MKT", "1000.00", is_index=True)
    tick({"MKT": "1000.00"}, BASE)
    ended_class.ranking = ranking
    ended_class.save()
    board = board_of(ended_class)
    assert board.is_frozen

    before = selectors.standings(selectors.ranking(board), board)
    market_tick(3, {"XYZ": "50.00", "ABC": "200.00", "MKT": "1500.00"})
    after = selectors.standings(selectors.ranking(board_of(ended_class)), board)

    assert after == before
    if ranking != "risk_adjusted":  # one return each by the end: nobody ranked by it
        assert [(s.rank, s.name) for s in after] == [(1, "ann"), (2, "dan")]
    assert [s.total_value for s in after] == [D("12000.00"), D("11000.00")]


def test_the_same_tick_would_have_turned_a_running_class_around(ended_class):
    ended_class.ends_at = None
    ended_class.save()

    market_tick(3, {"XYZ": "50.00", "ABC": "200.00"})

    assert [(rank, name) for rank, name, _ in table(ended_class)] == [(1, "dan"), (2, "ann")]


def test_the_end_itself_is_after_the_class(ended_class):
    """The window is [start, end): at the end the standings are already frozen."""
    end = ended_class.ends_at

    assert not board_of(ended_class, now=end - timedelta(microseconds=1)).is_frozen
    assert board_of(ended_class, now=end).is_frozen


def test_a_student_with_no_record_by_the_end_is_not_ranked(ended_class):
    late = student("late", ended_class, joined=timezone.now())
    market_tick(3, {"XYZ": "50.00", "ABC": "200.00"})

    rows = table(ended_class)

    assert rows[-1] == (None, "late", None)
    assert late.pk


# A page of the board ------------------------------------------------------------------------


@pytest.mark.parametrize("ranking", ["twr", "total_return", "excess_return", "risk_adjusted"])
@pytest.mark.parametrize("min_trades", [0, 2])
def test_a_page_of_the_board_is_the_boards_own_rows(deposit_before_the_rise, ranking, min_trades):
    # The page runs the ranking's SQL compiled once per board: every row and every value
    # (Decimals, not the database's floats) is what the ORM's ranking gives.
    listed("MKT", "1000.00", is_index=True)
    tick({"MKT": "1000.00"}, BASE)
    deposit_before_the_rise.ranking = ranking
    deposit_before_the_rise.min_trades_to_rank = min_trades
    deposit_before_the_rise.save()
    board = board_of(deposit_before_the_rise)
    ann = deposit_before_the_rise.students.get(username="ann")
    everyone = selectors.standings(selectors.ranking(board), board)

    page, mine = selectors.ranking_page(board, first=2, last=2, viewer_id=ann.pk)

    assert page == everyone[1:2]
    assert mine == next(row for row in everyone if row.user_id == ann.pk)
    assert selectors.ranking_page(board, first=1, last=3, viewer_id=None) == (everyone, None)


def test_a_page_keeps_its_rows_and_the_viewers_and_follows_the_market(deposit_before_the_rise):
    board = board_of(deposit_before_the_rise)
    bob = deposit_before_the_rise.students.get(username="bob")
    names = lambda rows: [(row.position, row.name) for row in rows]  # noqa: E731

    page, mine = selectors.ranking_page(board, first=1, last=1, viewer_id=bob.pk)
    assert (names(page), mine.name, mine.position) == ([(1, "dan")], "bob", 3)
    page, mine = selectors.ranking_page(board, first=2, last=3, viewer_id=None)
    assert (names(page), mine) == ([(2, "ann"), (3, "bob")], None)

    # The SQL is kept, not the rows: the next tick reorders the same board.
    market_tick(4, {"XYZ": "150.00", "ABC": "90.00"})
    page, _ = selectors.ranking_page(board, first=1, last=3, viewer_id=None)
    assert names(page) == [(1, "ann"), (2, "bob"), (3, "dan")]


def test_the_compiled_page_follows_the_index_and_the_clock(deposit_before_the_rise, clock):
    # The SQL is compiled on the first look; what it reads (prices, the index, snapshots)
    # and the time are the database's at each run, as a freshly built ranking sees them.
    listed("MKT", "1000.00", is_index=True)
    tick({"MKT": "1000.00"}, BASE)
    deposit_before_the_rise.ranking = "excess_return"
    deposit_before_the_rise.save()
    board = board_of(deposit_before_the_rise)
    before, _ = selectors.ranking_page(board, first=1, last=3, viewer_id=None)

    clock(T[5] + timedelta(days=1))
    market_tick(4, {"XYZ": "110.00", "ABC": "126.00", "MKT": "1200.00"})
    after, _ = selectors.ranking_page(board, first=1, last=3, viewer_id=None)

    assert after == selectors.standings(selectors.ranking(board), board)
    assert [row.metric_value for row in after] != [row.metric_value for row in before]
