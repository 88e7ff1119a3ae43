"""A class's dates and rules in plain words, as the students' pages show them.

Server-rendered text only (the site's Content-Security-Policy allows no inline script), in
the site's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from classrooms.models import Classroom
from classrooms.rules import ORDER_TYPES_MARKET, Rulebook, when
from tradesim.money import to_cents

RANKING_EXPLAINED = {
    Classroom.Ranking.TWR: (
        "the growth of one unit of your portfolio, so deposits and withdrawals don't count: "
        "only your gains and losses do"
    ),
    Classroom.Ranking.TOTAL_RETURN: (
        "what your portfolio gained or lost, as a percentage of the money put in"
    ),
    Classroom.Ranking.EXCESS_RETURN: (
        "your time-weighted return since the class started (or since you joined, if later) "
        "minus the market index's return over the same time: above zero, you beat the market"
    ),
    Classroom.Ranking.RISK_ADJUSTED: (
        "your average return from one regular snapshot of your portfolio to the next, "
        "divided by how much those returns swing (their standard deviation): steady gains "
        "beat wild ones"
    ),
}


# Each ranking's entry in the glossary (tradesim.glossary): what it is, and why a teacher
# might rank a class by it.
RANKING_TERMS = {
    Classroom.Ranking.TWR: "time-weighted-return",
    Classroom.Ranking.TOTAL_RETURN: "total-return",
    Classroom.Ranking.EXCESS_RETURN: "excess-return",
    Classroom.Ranking.RISK_ADJUSTED: "risk-adjusted-return",
}


@dataclass(frozen=True)
class Rule:
    name: str
    text: str
    term: str = ""  # the glossary entry that explains the rule's word, if any


def _on(moment: datetime, now: datetime) -> str:
    """ "today at 15:00", "tomorrow at 09:30", "in 12 days (Fri 23 Jan)": calendar days in
    the site's time zone, as people count them."""
    local = timezone.localtime(moment)
    days = (local.date() - timezone.localtime(now).date()).days
    if days <= 0:
        return f"today at {local:%H:%M}"
    if days == 1:
        return f"tomorrow at {local:%H:%M}"
    return f"in {days} days ({local:%a} {local.day} {local:%b})"


def countdown(rulebook: Rulebook, now: datetime | None = None) -> str:
    """Where the class stands in its dates, in a few words: "Starts tomorrow at 09:30",
    "Ends in 12 days (Fri 23 Jan)", "Ended Fri 23 Jan at 15:00"."""
    now = now or timezone.now()
    if not rulebook.has_started(now):
        return f"Starts {_on(rulebook.starts_at, now)}"
    if rulebook.ends_at is None:
        return "Open, with no end date"
    if not rulebook.has_ended(now):
        return f"Ends {_on(rulebook.ends_at, now)}"
    return f"Ended {when(rulebook.ends_at)}"


def _money(amount) -> str:
    return f"${to_cents(amount):,.2f}"


def _percent(value) -> str:
    return f"{value.normalize():f} %"


def rules(rulebook: Rulebook) -> list[Rule]:
    """Every rule of the class, one sentence each."""
    rb = rulebook
    if rb.starts_at and rb.ends_at:
        window = f"From {when(rb.starts_at)} to {when(rb.ends_at)}."
    elif rb.starts_at:
        window = f"From {when(rb.starts_at)}, with no end date."
    elif rb.ends_at:
        window = f"Open now, until {when(rb.ends_at)}."
    else:
        window = "Open now, with no end date."
    if rb.ends_at:
        window += (
            " After the end, orders, deposits and withdrawals are refused and the standings "
            "are final."
        )
    if not rb.deposits_open:
        deposits = "Not allowed."
    elif rb.max_total_deposits is not None:
        deposits = (
            f"Allowed, up to {_money(rb.max_total_deposits)} in all beyond your starting cash."
        )
    else:
        deposits = "Allowed, with no cap."
    commission = rb.describe_commission()
    listed = [
        Rule("Trading dates", window),
        Rule(
            "Starting cash",
            f"{_money(rb.starting_cash)}, given when you join the class (also if you join late).",
            "starting-cash",
        ),
        Rule("Deposits", deposits, "deposit"),
        Rule("Withdrawals", "Allowed." if rb.withdrawals_open else "Not allowed.", "withdrawal"),
        Rule(
            "Commission",
            "None." if commission == "none" else f"{commission[0].upper()}{commission[1:]}.",
            "commission",
        ),
        order_types(rb),
        *closed_market_orders(rb),
        Rule(
            "Most in one stock",
            f"After a buy, no stock may be more than {_percent(rb.max_position_percent)} of "
            "your portfolio's value."
            if rb.max_position_percent is not None
            else "No limit.",
            "diversification",
        ),
        Rule(
            "Trades a day",
            f"At most {rb.max_trades_per_day} trade{'s' if rb.max_trades_per_day != 1 else ''} "
            "per simulated day."
            if rb.max_trades_per_day
            else "No limit.",
            "trading-day",
        ),
        Rule(
            "Lowest share price",
            f"You may not buy shares priced below {_money(rb.min_share_price)}."
            if rb.min_share_price is not None
            else "No limit.",
        ),
        Rule("Leaderboard", ranking_sentence(rb), RANKING_TERMS[rb.ranking]),
        Rule(
            "To be ranked",
            f"At least {rb.min_trades_to_rank} trade{'s' if rb.min_trades_to_rank != 1 else ''}"
            " of your own."
            if rb.min_trades_to_rank
            else "No minimum number of trades.",
            "rank",
        ),
        Rule(
            "Names",
            "Classmates see each other's names on the leaderboard."
            if rb.names_shown
            else "Only your instructor sees names: you see your own rank and your "
            "classmates as “Student 4” and the like, and they see you the same way.",
        ),
        *margin(rb),
        api_access(rb),
    ]
    return listed


def margin(rulebook: Rulebook) -> list[Rule]:
    """Buying on margin and selling short, told in classes that allow them, and interest on
    cash, told when the class pays any."""
    told = []
    if rulebook.margin:
        days = rulebook.margin_call_days
        meet = (
            "positions are sold for you at once, largest first"
            if days == 0
            else f"you have {days} simulated trading day{'s' if days != 1 else ''} to add cash "
            "or sell; then positions are sold for you, largest first"
        )
        told.append(
            Rule(
                "Margin",
                f"Allowed: you may borrow to buy, up to a buying power of your equity ÷ "
                f"{_percent(rulebook.initial_margin_percent)} (the initial margin). The loan "
                f"pays {_percent(rulebook.loan_rate_percent)} a year in interest. If your "
                f"equity falls below {_percent(rulebook.maintenance_margin_percent)} of your "
                f"positions' value, you get a margin call: {meet}.",
                "margin",
            )
        )
    if rulebook.short_selling:
        fee = (
            f" Borrowed shares cost a borrow fee of {_percent(rulebook.borrow_fee_percent)} a "
            "year of their value, charged at each simulated day's close."
            if rulebook.borrow_fee_percent > 0
            else ""
        )
        told.append(
            Rule(
                "Short selling",
                f"Allowed: you may sell short stocks priced at "
                f"${rulebook.min_short_price:,.2f} or more, and buy them back to cover. "
                f"Selling short needs equity of at least "
                f"{_percent(rulebook.initial_margin_percent)} of your positions' value, the new "
                f"short included (the initial margin).{fee}",
                "short-selling",
            )
        )
    if rulebook.cash_rate_percent > 0:
        told.append(
            Rule(
                "Interest on cash",
                f"{_percent(rulebook.cash_rate_percent)} a year on cash above zero, paid at "
                "each simulated day's close.",
            )
        )
    return told


def api_access(rulebook: Rulebook) -> Rule:
    if rulebook.api_access:
        return Rule(
            "Programs (the API)",
            "Allowed: a program of yours may read your account and trade through the JSON "
            "API, with a personal token from the API tokens page of your account.",
        )
    return Rule(
        "Programs (the API)",
        "Not allowed: your instructor has switched the API off for this class, so programs' "
        "requests are refused. The pages work as usual.",
    )


def order_types(rulebook: Rulebook) -> Rule:
    if rulebook.order_types == ORDER_TYPES_MARKET:
        return Rule(
            "Order types",
            "Market orders only: you buy and sell at the current price.",
            "market-order",
        )
    return Rule(
        "Order types",
        "All: market, limit, stop, stop-limit and trailing stop orders.",
    )


def closed_market_orders(rulebook: Rulebook) -> list[Rule]:
    """Told only where the market keeps hours (MARKET_HOURS)."""
    hours = settings.MARKET_HOURS
    if hours is None:
        return []
    when = f"The market is open {hours.describe()}."
    if rulebook.closed_market_orders == Classroom.ClosedMarketOrders.REFUSE:
        return [Rule("Market hours", f"{when} Market orders are refused while it is closed.")]
    return [
        Rule(
            "Market hours",
            f"{when} A market order placed while it is closed waits for the open and fills at "
            "the first price; its cost is held until then.",
        )
    ]


def ranking_sentence(rulebook: Rulebook) -> str:
    label = Classroom.Ranking(rulebook.ranking).label
    return f"Ranks by {label.lower()}: {RANKING_EXPLAINED[rulebook.ranking]}."
