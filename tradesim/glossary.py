"""Every finance word a student meets in TradeSim, explained once, in plain words.

One source of truth: the glossary page (/glossary/) lists these entries, and the
`{% explain "<id>" %}` tag (tradesim.templatetags.glossary) shows an entry's one-sentence
`short` next to the word wherever a page uses it, with a link to the entry on the page.
The `id` is the entry's anchor on that page (/glossary/#time-weighted-return) and the key the
templates name; an unknown key is a template error, so a typo cannot ship.

Written for a 15-year-old: short sentences, an example with numbers where it helps, and no
word used before it is explained (or linked to its own entry).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    id: str  # the anchor on the glossary page and the key of {% explain %}
    term: str
    short: str  # one or two sentences, shown where the word appears
    text: str = ""  # more, on the glossary page only
    why: str = ""  # ranking metrics: why a teacher might rank a class by it


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    terms: tuple[Term, ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        "buying-and-selling",
        "Buying and selling",
        (
            Term(
                "share",
                "Share (stock)",
                "A small piece of a company. If you own a share, you own a tiny part of the "
                "company, and its price goes up and down with what people will pay for it.",
                "In TradeSim you buy and sell whole shares, never parts of one.",
            ),
            Term(
                "symbol",
                "Symbol (ticker)",
                "The short code that names a company on the market, such as AAPL for Apple.",
            ),
            Term(
                "market-order",
                "Market order",
                "An order to buy or sell right away at the current price. It fills at the "
                "price when your order reaches the market, which may have moved a little "
                "since you looked.",
                "The estimate on the order form uses the price on your screen; the trade "
                "itself uses the price at that moment. To trade only at a price you choose, "
                "use an order that waits, such as a limit order.",
            ),
            Term(
                "buy",
                "Buy",
                "Swap cash for shares: the price times the number of shares (plus any "
                "commission) leaves your cash, and the shares go into your portfolio.",
            ),
            Term(
                "sell",
                "Sell",
                "Swap shares back for cash: you get the price times the number of shares "
                "(minus any commission). You can only sell shares you own.",
            ),
            Term(
                "quantity",
                "Quantity (shares)",
                "How many shares an order buys or sells, or how many of a company you own.",
            ),
            Term(
                "price",
                "Price",
                "What one share costs right now. In TradeSim prices are simulated: they move "
                "a little at every market tick, like real prices do.",
            ),
            Term(
                "estimated-total",
                "Estimated total",
                "What the order would cost (or bring in) at the price on your screen: "
                "shares × price, plus any commission.",
                "It is an estimate because the trade uses the price at the moment your order "
                "arrives, which can be a little different.",
            ),
            Term(
                "commission",
                "Commission (fee)",
                "A fee you pay for each trade, on top of what the shares cost. Your class "
                "decides whether there is one and how big it is.",
                "A commission makes trading a lot more expensive than trading a little: each "
                "trade costs the fee, so buying and selling the same shares back and forth "
                "loses money even when the price does not move.",
            ),
            Term(
                "halted",
                "Halted",
                "Trading in this company is paused by your teacher: its price does not move "
                "and orders for it are refused until trading resumes.",
            ),
            Term(
                "trading-day",
                "Trading day (session)",
                "One simulated day of the market. The market in TradeSim runs faster than a "
                "real one: many simulated trading days can pass in one real day.",
                "By default a trading day is 390 market ticks, one for each minute of a real "
                "6½-hour trading day. When a day ends, each company's last price becomes its "
                "previous close and a new day begins.",
            ),
            Term(
                "market-tick",
                "Market tick",
                "One step of the simulated market: at each tick every price moves a little.",
            ),
            Term(
                "market-mood",
                "Market mood (calm or stormy)",
                "Whether the market is in a calm spell, when prices move by small amounts, or "
                "a stormy one, when they swing much more, up as well as down. A spell lasts "
                "some weeks, then the mood changes.",
                "Real markets have quiet months and wild weeks: big moves tend to come in "
                "bunches. TradeSim's market switches between the two moods at random; your "
                "teacher sets how wild each one is and how long it lasts on average. A "
                "stormy market is not a falling one: it is a riskier one, where a week can "
                "bring a large gain or a large loss.",
            ),
            Term(
                "previous-close",
                "Previous close",
                "A company's price at the end of the last simulated trading day. "
                "“Change” and “today” on a quote are measured from it.",
            ),
        ),
    ),
    Section(
        "orders-that-wait",
        "Orders that wait",
        (
            Term(
                "limit-order",
                "Limit order",
                "An order to buy at your price or lower, or to sell at your price or higher. "
                "It waits until the market gets there, and may never fill.",
                "Example: AAPL is at $189. A buy limit at $180 waits; if the price falls to "
                "$180 or less, you buy at the price then, never more than $180. A limit the "
                "price already meets fills at once. The market is checked at every tick.",
            ),
            Term(
                "stop-order",
                "Stop order (stop-loss)",
                "An order that waits until the price reaches your stop price, then buys or "
                "sells at the market price. A sell stop below the price limits a loss.",
                "Example: you own AAPL at $189 and set a sell stop at $170. If the price falls "
                "to $170 or less, your shares are sold at the next price, which may be lower "
                "than $170 when the price jumps. A buy stop sits above the price.",
            ),
            Term(
                "stop-limit-order",
                "Stop-limit order",
                "A stop order that becomes a limit order: once the price reaches your stop "
                "price, it waits to trade at your limit price or better.",
                "Example: a sell stop at $170 with a limit of $165 sells once the price falls "
                "to $170, but only for $165 a share or more. If the price drops straight past "
                "$165, it does not sell.",
            ),
            Term(
                "trailing-stop",
                "Trailing stop",
                "A stop that follows the price: a sell stop stays a set amount (or percent) "
                "below the highest price since you placed it, and goes off when the price "
                "falls that far.",
                "Example: a 10 % trailing sell stop on AAPL at $200 starts at $180. If AAPL "
                "rises to $220, the stop rises to $198; it never moves down. A buy trailing "
                "stop works the other way, above the lowest price.",
            ),
            Term(
                "order-duration",
                "Day order, good till cancelled",
                "How long an order waits. A day order (good for today) ends at the close of "
                "the simulated trading day; good till cancelled waits until you cancel it, "
                "or 90 trading days.",
                "An order that ends without filling is expired: the cash or shares it held "
                "are yours to use again.",
            ),
        ),
    ),
    Section(
        "your-cash",
        "Your cash",
        (
            Term(
                "cash",
                "Cash",
                "The money in your account that is not in shares. You spend it to buy and get "
                "it back when you sell. It is play money: nothing real is charged or paid.",
            ),
            Term(
                "held-for-orders",
                "Held for open orders",
                "Cash or shares set aside for an order that is still waiting for its price. "
                "They are still yours, but you can't spend or sell them twice: they are freed "
                "when the order fills, expires or you cancel it.",
                "A buy holds the most it could cost, commission included: the shares times "
                "its limit price, or, for a stop or trailing stop order, times its stop price "
                "plus 5 % (the price may jump past the stop). A sell holds its shares. "
                "Example: an order to buy 10 shares at $180.00 or less holds $1,800.00.",
            ),
            Term(
                "buying-power",
                "Free to spend (buying power)",
                "Your cash minus what your open orders hold: what you can spend on a new "
                "order right now.",
                "Example: $10,000 of cash with $1,800 held for an open buy order leaves "
                "$8,200 free to spend. In a class with margin, buying power also counts what "
                "you may borrow: your equity ÷ the initial margin, less what your positions "
                "and open orders already use.",
            ),
            Term(
                "deposit",
                "Deposit",
                "Adding cash to your account. Your class may limit how much you can add, so "
                "that the game is won by trading, not by depositing.",
                "Your starting cash counts as your first deposit.",
            ),
            Term(
                "withdrawal",
                "Withdrawal",
                "Taking cash out of your account. Like a deposit, it changes how much money "
                "you have but is not a gain or a loss.",
            ),
            Term(
                "grant",
                "Instructor grant (reset)",
                "Cash your teacher added to your account (a grant), or a fresh start your "
                "teacher gave you (a reset). Both count as money put in, like a deposit.",
            ),
            Term(
                "net-contributions",
                "Net contributions",
                "All the money put into your account (starting cash, deposits, grants) minus "
                "all the money taken out (withdrawals). It is what you put in, not what you "
                "earned.",
                "Example: $10,000 starting cash, a $500 deposit and a $200 withdrawal make "
                "$10,300 of net contributions. Your total return is measured against it.",
            ),
            Term(
                "cash-journal",
                "Cash journal (balance after)",
                "The list of every change to your cash: deposits, withdrawals, buys, sells, "
                "fees and interest. “Balance after” is your cash right after each one.",
            ),
            Term(
                "margin",
                "Margin (margin loan)",
                "Buying with borrowed money. In a class with margin, you may buy for more than "
                "your cash; your cash goes below zero, and that negative cash is a loan you "
                "pay interest on.",
                "The initial margin is the share of a buy you pay with your own money. At "
                "50 %, $10,000 of equity buys up to $20,000 of shares. Borrowing makes gains "
                "bigger, and losses too: if those shares fall 25 %, you lose $5,000, half of "
                "your own money.",
            ),
            Term(
                "equity",
                "Equity",
                "What your account is worth to you: your shares' market value plus your cash, "
                "minus what you borrowed and what buying back your short positions would "
                "cost. It is the same as your total value.",
                "Example: $20,000 of shares bought with $10,000 of cash and a $10,000 margin "
                "loan is $10,000 of equity.",
            ),
            Term(
                "margin-call",
                "Margin call",
                "A warning that your equity has fallen below the share of your positions' "
                "value your class requires (the maintenance margin). Add cash or sell to meet "
                "it, or shares are sold for you.",
                "Example: with a 30 % maintenance margin, $20,000 of shares need $6,000 of "
                "equity. If the shares fall to $14,000 and your loan is $10,000, your equity "
                "is $4,000, less than 30 % of $14,000 ($4,200): a margin call.",
            ),
            Term(
                "interest",
                "Interest",
                "What a loan costs, or what cash earns, as a yearly percent. In TradeSim it is "
                "charged (or paid) at each simulated day's close, one 252nd of the yearly rate "
                "a day, as 252 trading days make a year.",
                "Example: a $10,000 margin loan at 8 % a year costs about $3.17 a day.",
            ),
            Term(
                "short-selling",
                "Selling short (Sell short)",
                "Selling shares you do not own: you borrow them, sell them now, and buy them "
                "back later. You win if the price falls, and lose if it rises.",
                "Example: you sell 10 shares short at $100 and get $1,000. If the price "
                "falls to $80, buying them back costs $800: you made $200. If it rises to "
                "$150, buying them back costs $1,500: you lost $500. A price can keep rising, "
                "so a short can lose more than you got for it. Your class allows it only with "
                "enough equity (the initial margin), and not for very cheap stocks.",
            ),
            Term(
                "buy-to-cover",
                "Buy to cover",
                "Buying back shares you sold short, which closes (covers) the short position. "
                "Your profit or loss is the price you sold at minus the price you buy back at.",
                "Example: you sold 10 shares short at $100. Buying to cover at $90 costs $900 "
                "and makes you $100 (before commission); at $110 it costs $1,100, a $100 loss.",
            ),
            Term(
                "borrow-fee",
                "Borrow fee",
                "What borrowing shares to sell short costs: a yearly percent of the short "
                "position's value, charged a little at each simulated day's close.",
                "Example: a $10,000 short position with a 2 % borrow fee costs about $0.79 a "
                "day (2 % of $10,000 is $200 a year, over 252 trading days).",
            ),
        ),
    ),
    Section(
        "your-portfolio",
        "Your portfolio",
        (
            Term(
                "portfolio",
                "Portfolio",
                "Everything you own in TradeSim: your cash and all your shares.",
            ),
            Term(
                "holding",
                "Holding (position)",
                "The shares of one company that you own, such as 10 shares of AAPL. "
                "“Position” means the same thing.",
            ),
            Term(
                "average-cost",
                "Average cost",
                "What you paid per share, on average, for the shares of a company you hold. "
                "Bought 10 at $100 and 10 at $120? Your average cost is $110.",
                "Selling does not change the average cost of the shares you keep.",
            ),
            Term(
                "cost-basis",
                "Cost basis",
                "What the shares you hold cost you in total: average cost × number of shares.",
            ),
            Term(
                "market-value",
                "Market value",
                "What your shares are worth right now: number of shares × today's price. "
                "It is what you would get if you sold them all at this price. A short "
                "position's market value is below zero: what buying the shares back would "
                "cost you now.",
            ),
            Term(
                "total-value",
                "Total value",
                "Your cash plus the market value of all your shares, less what buying back "
                "your short positions costs: everything your portfolio is worth right now. "
                "With a margin loan your cash is below zero, so the total value is your "
                "equity: your shares less what you borrowed.",
            ),
            Term(
                "weight",
                "Weight",
                "How big one part of your portfolio is compared with the whole, as a "
                "percentage of your total value (cash included). With a margin loan, as a "
                "percentage of your shares' value: the loan is owed, not held. A short "
                "position's weight is its part of all your short positions.",
                "Example: $2,500 of shares in a $10,000 portfolio is a weight of 25%.",
            ),
            Term(
                "allocation",
                "Allocation",
                "How your money is spread: how much is in each company, each sector and cash.",
            ),
            Term(
                "sector",
                "Sector",
                "A group of companies in the same kind of business, such as Technology or "
                "Energy. Companies in one sector often go up and down together.",
            ),
            Term(
                "diversification",
                "Diversification",
                "Spreading your money over many companies and sectors, so that one bad day "
                "for one company cannot sink your whole portfolio.",
                "Your class may limit how much of your portfolio one stock may be (“most in "
                "one stock”) to push you to diversify.",
            ),
        ),
    ),
    Section(
        "gains-and-losses",
        "Gains and losses",
        (
            Term(
                "unrealized-pnl",
                "Unrealized P/L (profit or loss)",
                "How much the shares you still hold have gained or lost: market value minus "
                "cost basis. It is “unrealized” because it can still change until you sell. "
                "For a short position: (the price you sold short at − today's price) × shares.",
            ),
            Term(
                "realized-pnl",
                "Realized P/L (profit or loss)",
                "The gain or loss you locked in by selling: what the sale brought in minus "
                "the average cost of the shares sold (before commission).",
                "Example: you bought 10 shares at $100 and sell them at $130. Your realized "
                "P/L is 10 × ($130 − $100) = $300.",
            ),
            Term(
                "dividends",
                "Dividends",
                "Cash a company pays its shareholders once a quarter: on the ex-dividend day "
                "the price drops by the dividend and every holder is paid it in cash (a short "
                "seller owes it). Dividends count in your total return, apart from price gains.",
                "A quarter is 63 simulated trading days. Your total value does not change on "
                "the ex-dividend day: part of your shares' value turned into cash. Example: "
                "you hold 10 shares at $100 and the company pays $1.00 a share; the price "
                "drops to about $99 and $10.00 is added to your cash. Short 10 shares instead, "
                "and $10.00 is taken from your cash.",
            ),
            Term(
                "today",
                "Today (day change)",
                "How much your shares gained or lost since the current simulated trading day "
                "began. Shares you held when the day began count from the previous close; "
                "shares you bought today count from the price you paid.",
                "So buying is never a gain or a loss by itself: bought 10 shares at $50 today "
                "and the price is now $52? That holding is up $20 today, whatever the "
                "previous close was. If you bought and sold the same company today, the "
                "shares you sold count as the ones you held longest, those from before today, "
                "first. Shares you sold are no longer in “today”: what they made is in your "
                "realized P/L.",
            ),
            Term(
                "total-return",
                "Total return",
                "How much your portfolio has gained or lost in all: total value minus net "
                "contributions, also shown as a percentage of your net contributions.",
                "Example: you put in $10,000 and your portfolio is worth $10,800. Your total "
                "return is $800, or +8%. Deposits and withdrawals are taken out, so depositing "
                "more does not raise it.",
                why=(
                    "It is the simplest to understand: what you made for what you put in. It "
                    "is fairest when no one deposits or withdraws during the contest."
                ),
            ),
        ),
    ),
    Section(
        "measuring-how-you-did",
        "Measuring how you did",
        (
            Term(
                "time-weighted-return",
                "Time-weighted return (TWR)",
                "Your return from your choices alone: how much one unit of your portfolio has "
                "grown, so deposits and withdrawals, and when you made them, don't count.",
                "Think of your portfolio as a fund made of units. A deposit buys new units at "
                "today's unit value and a withdrawal sells some, so the value of one unit only "
                "moves when your shares gain or lose. Professional funds report their "
                "results this way, so that fund managers are not judged by when their "
                "clients add money.",
                why=(
                    "It is fair when students deposit or withdraw different amounts at "
                    "different times: adding cash neither helps nor hurts it, so only what you "
                    "bought and sold, and when, counts."
                ),
            ),
            Term(
                "max-drawdown",
                "Max drawdown",
                "The biggest drop your portfolio has had from a high point to a later low "
                "point, as a percentage. It shows the worst losing stretch you went through.",
                "Example: your unit value rose to 120, fell to 90, then climbed to 130. The "
                "max drawdown is (120 − 90) ÷ 120 = 25%. Deposits and withdrawals don't "
                "count, as in the time-weighted return.",
            ),
            Term(
                "indexed-chart",
                "Performance chart (start = 100)",
                "Both lines start at 100, so you can compare them however much money each one "
                "is about: 110 means up 10% since the start, 95 means down 5%.",
                "Your line follows the value of one unit of your portfolio (see time-weighted "
                "return), so deposits and withdrawals don't move it. When your line is above "
                "the market index's, you did better than the market.",
            ),
            Term(
                "market-index",
                "Market index (index fund)",
                "One number that follows the prices of the whole market at once. If the index "
                "is up 3%, the market as a whole is up 3%.",
                "In TradeSim the index is also a fund you can buy: one share of it is like "
                "owning a little of every company at once. Beating the index means you did "
                "better than someone who simply bought the whole market.",
            ),
            Term(
                "excess-return",
                "Return over the market index",
                "Your time-weighted return minus the market index's return over the same "
                "time. Above zero, you beat the market; below zero, the market beat you.",
                why=(
                    "When the whole market rises everyone gains, and when it falls everyone "
                    "loses. This shows who did better than simply buying the whole market, "
                    "whichever way it went."
                ),
            ),
            Term(
                "volatility",
                "Volatility (risk)",
                "How much and how often your returns swing up and down. A portfolio that "
                "jumps around a lot is volatile, or risky, even if it ends up in the same "
                "place as a steady one.",
            ),
            Term(
                "risk-adjusted-return",
                "Risk-adjusted return (Sharpe ratio)",
                "Your average return per step divided by how much your returns swing "
                "(their volatility). Steady gains score higher than the same gains made "
                "with wild ups and downs.",
                "TradeSim takes your return from one regular record of your portfolio to the "
                "next, averages them, and divides by their standard deviation (how spread "
                "out they are). Professionals call this a Sharpe ratio. It is a plain "
                "number, not a percentage: above 0 you gained on average, and the higher "
                "the steadier.",
                why=(
                    "It rewards steady gains over lucky gambles: putting everything in one "
                    "risky stock can win big or lose big, and this ranks the students who "
                    "earned their return with the smallest swings first, as professionals "
                    "judge a fund manager."
                ),
            ),
        ),
    ),
    Section(
        "your-class",
        "Your class and the leaderboard",
        (
            Term(
                "leaderboard",
                "Leaderboard",
                "Your class ranked by one measure of how well each student did, chosen by "
                "your teacher. The page says which measure and why.",
            ),
            Term(
                "rank",
                "Rank (unranked)",
                "Your place on the leaderboard. Your class may ask for a few trades of your "
                "own before you are ranked; until then you are listed after the ranked "
                "students, without a rank.",
            ),
            Term(
                "final-standings",
                "Final standings (leaderboard freeze)",
                "When your class ends, the leaderboard stops moving: it shows each student "
                "as their portfolio was recorded at the end, and nothing after that counts.",
            ),
            Term(
                "starting-cash",
                "Starting cash",
                "The play money you get when you join a class, the same for everyone in it.",
            ),
        ),
    ),
)

GLOSSARY: dict[str, Term] = {term.id: term for section in SECTIONS for term in section.terms}


def lookup(key: str) -> Term:
    """The entry for `key`; KeyError naming the key and the known ones when there is none."""
    try:
        return GLOSSARY[key]
    except KeyError:
        raise KeyError(f"No glossary entry {key!r}; known: {', '.join(sorted(GLOSSARY))}") from None
