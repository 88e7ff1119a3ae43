"""The news the tick writes (prices.news): a headline for each instructor's market event
it applies and for each large move, one per symbol, and the kinds in its summary line."""

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from prices import news
from prices.models import Headline, MarketEvent, MarketParameters, Price
from prices.services import TickResult, advance_market
from prices.simulation import DIFFUSION_ONLY, NO_JUMPS, MarketModel

pytestmark = pytest.mark.django_db

# Only the stocks' own volatility moves prices: no market, no jumps.
STOCKS_ONLY = MarketModel.constant(0.0, drift=0.0, market_jumps=NO_JUMPS, stock_jumps=NO_JUMPS)
# Only the market moves (the index fund with it).
MARKET_ONLY = MarketModel.constant(2.0, drift=0.0, market_jumps=NO_JUMPS, stock_jumps=NO_JUMPS)
NBSP = "\u00a0"


def headlines() -> list[tuple]:
    return list(
        Headline.objects.order_by("id").values_list("kind", "stock_id", "sector", "text", "percent")
    )


# Instructors' market events ---------------------------------------------------------------


def test_an_applied_event_writes_one_headline_and_no_large_move(still):
    MarketEvent.objects.create(stock_id="AAPL", percent=Decimal("-12.00"), reason="Recall")
    now = timezone.now()

    result = advance_market(seed=1, now=now, model=DIFFUSION_ONLY)

    assert headlines() == [
        ("event", "AAPL", "Technology", "AAPL plunges 12" + NBSP + "%: Recall", Decimal("-12.00"))
    ]
    row = Headline.objects.get()
    assert (row.day, row.published_at) == (1, now)
    assert result.headlines == 1
    assert "1 headline: 1 market event" in result.summary()


def test_a_sector_event_is_one_headline_for_the_sector(still):
    MarketEvent.objects.create(sector="Energy", percent=Decimal("8.50"))
    MarketEvent.objects.create(stock_id="MSFT", percent=Decimal("3.00"), reason="  New chip ")

    advance_market(seed=1, model=DIFFUSION_ONLY)

    # XOM moved 8.5 %, past the news threshold: its sector's headline tells it.
    assert headlines() == [
        ("event", None, "Energy", "Energy stocks rise 8.5" + NBSP + "%", Decimal("8.50")),
        ("event", "MSFT", "Technology", "MSFT rises 3" + NBSP + "%: New chip", Decimal("3.00")),
    ]


def test_an_event_waiting_for_a_halted_symbol_writes_nothing_yet(still):
    Price.objects.filter(symbol="AAPL").update(halted=True)
    MarketEvent.objects.create(stock_id="AAPL", percent=Decimal("20.00"))

    result = advance_market(seed=1, model=DIFFUSION_ONLY)

    assert headlines() == []
    assert result.headlines == 0 and "headline" not in result.summary()


@pytest.mark.parametrize(
    ("symbol", "sector", "percent", "text"),
    [
        ("XOM", "", Decimal("12"), "XOM jumps 12" + NBSP + "%"),
        ("XOM", "", Decimal("-9.5"), "XOM falls 9.5" + NBSP + "%"),
        (None, "Energy", Decimal("-10"), "Energy stocks plunge 10" + NBSP + "%"),
        (None, "Energy", Decimal("25"), "Energy stocks soar 25" + NBSP + "%"),
    ],
)
def test_an_events_words_follow_its_direction_and_size(symbol, sector, percent, text):
    assert news.event_text(symbol=symbol, sector=sector, percent=percent, reason="") == text


# Large moves ------------------------------------------------------------------------------


def test_a_stock_that_moves_past_the_threshold_makes_the_news(still):
    Price.objects.filter(symbol="XOM").update(volatility=2.0)

    quiet = advance_market(seed=1, dt=1.0, model=STOCKS_ONLY)  # XOM +1.73 %
    assert headlines() == [] and quiet.headlines == 0

    loud = advance_market(seed=2, dt=1.0, model=STOCKS_ONLY)  # XOM −13.35 %

    assert headlines() == [
        (
            "jump",
            "XOM",
            "Energy",
            "XOM plunges 13.4" + NBSP + "% in heavy trading",
            Decimal("-13.35"),
        )
    ]
    assert Headline.objects.get().day == 2
    assert "1 headline: 1 large move" in loud.summary()


def test_the_threshold_is_the_market_parameters(still):
    Price.objects.filter(symbol="XOM").update(volatility=2.0)
    MarketParameters.objects.update_or_create(id=1, defaults={"news_move_percent": Decimal("1.5")})

    advance_market(seed=1, dt=1.0, model=STOCKS_ONLY)  # XOM +1.73 %

    assert [text for _, _, _, text, _ in headlines()] == [
        "XOM jumps 1.7" + NBSP + "% as buyers rush in"
    ]


def test_a_large_market_move_is_one_market_headline(still):
    Price.objects.filter(symbol__in=["TSIM", "XOM"]).update(beta=1.0)

    result = advance_market(seed=2, dt=1.0, model=MARKET_ONLY)

    index = Price.objects.get(symbol="TSIM")
    move = (index.price - Decimal("500.00")) / Decimal("5.00")
    assert abs(move) >= 8  # XOM moved with it: no headline of its own
    [(kind, symbol, sector, text, percent)] = headlines()
    assert (kind, symbol, sector) == ("market", "TSIM", "")
    assert percent == move.quantize(Decimal("0.01"))
    verb = "rises" if move > 0 else "falls"
    assert text.endswith(f"the market {verb} {news.percent_text(move)}")
    assert "1 headline: 1 market move" in result.summary()


def test_large_moves_skip_what_the_drafts_already_tell():
    drafts = [
        news.headline("earnings", "ACME beats estimates", symbol="ACME", percent=9),
        news.headline("event", "Energy stocks fall 9 %", sector="Energy", percent=-9),
    ]
    moves = [
        ("ACME", "Industrials", 10_000, 10_900, False),  # has its earnings headline
        ("XOM", "Energy", 10_000, 9_100, False),  # its sector's event tells it
        ("BIG", "Industrials", 10_000, 10_800, False),  # exactly the threshold: news
        ("SMALL", "Industrials", 10_000, 10_799, False),  # just under it
        ("FUND", "Index Fund", 10_000, 12_000, True),  # index funds: the market's headline
    ]

    found = news.large_moves(
        moves,
        threshold=Decimal("8.00"),
        drafts=drafts,
        market_move=Decimal("-0.4"),
        index_symbol="FUND",
        tick=7,
    )

    assert [(d.kind, d.symbol, d.percent) for d in found] == [("jump", "BIG", Decimal("8.00"))]


def test_a_market_wide_headline_in_the_drafts_stands_for_every_move():
    drafts = [news.headline("scenario", "Panic on Wall Street", percent=-20)]
    moves = [("ACME", "Industrials", 10_000, 8_000, False)]

    found = news.large_moves(
        moves,
        threshold=Decimal("8.00"),
        drafts=drafts,
        market_move=Decimal("-20"),
        index_symbol=None,
        tick=1,
    )

    assert found == []


def test_a_large_moves_words_are_chosen_by_symbol_and_tick_alone():
    def words(symbol, tick):
        [draft] = news.large_moves(
            [(symbol, "Tech", 100, 150, False)],
            threshold=Decimal("8"),
            drafts=[],
            market_move=Decimal("0"),
            index_symbol=None,
            tick=tick,
        )
        return draft.text

    assert words("ACME", 3) == words("ACME", 3)
    said = {words("ACME", tick) for tick in range(30)}
    assert said == {t.format(symbol="ACME", percent="50" + NBSP + "%") for t in news.RISES}


# The summary line -------------------------------------------------------------------------


def test_the_summary_names_the_headlines_kinds():
    drafts = [
        news.headline("jump", "A soars", symbol="A"),
        news.headline("earnings", "B beats", symbol="B"),
        news.headline("jump", "C plunges", symbol="C"),
    ]
    result = TickResult(
        ticks=5,
        timestamp=timezone.now() - timedelta(minutes=1),
        trading_day=2,
        day_elapsed=0.5,
        new_day=False,
        symbols=3,
        advancers=2,
        decliners=1,
        unchanged=0,
        halted=0,
        events_applied=0,
        index_symbol=None,
        index_price=None,
        index_change_pct=Decimal("0.10"),
        market_return=0.001,
        headlines=3,
        headline_kinds=news.kinds_text(drafts),
    )

    assert "| 3 headlines: 1 earnings, 2 large moves" in result.summary()


def test_kinds_in_words_one_and_several():
    drafts = [news.headline(kind, "x") for kind in ("dividend", "split", "split", "event")]
    assert news.kinds_text(drafts) == "1 dividend, 2 splits, 1 market event"
    assert news.kinds_text([]) == ""


# The news of the market's past ------------------------------------------------------------

past = importlib.import_module("prices.migrations.0014_headlines_for_past_events")


def test_the_migration_writes_a_headline_for_each_event_applied_before(market):
    at = timezone.now() - timedelta(days=3)
    MarketEvent.objects.create(
        stock_id="XOM", percent=Decimal("-12"), reason="Spill", applied_at=at, applied_day=4
    )
    MarketEvent.objects.create(sector="Technology", percent=Decimal("5"), applied_at=at)
    MarketEvent.objects.create(stock_id="AAPL", percent=Decimal("5"))  # pending
    MarketEvent.objects.create(stock_id="AAPL", percent=Decimal("5"), cancelled_at=at)

    past.write_headlines(django_apps, None)

    assert list(
        Headline.objects.order_by("id").values_list(
            "kind", "day", "published_at", "stock_id", "sector", "text", "percent"
        )
    ) == [
        ("event", 4, at, "XOM", "Energy", "XOM plunges 12" + NBSP + "%: Spill", Decimal("-12")),
        ("event", 1, at, None, "Technology", "Technology stocks rise 5" + NBSP + "%", Decimal("5")),
    ]
    # Its words are the tick's.
    assert Headline.objects.order_by("id").first().text == news.event_text(
        symbol="XOM", sector="", percent=Decimal("-12"), reason="Spill"
    )

    past.remove_headlines(django_apps, None)
    assert not Headline.objects.exists()
