"""Dividends' cash: paid to every holder of a stock on its ex-date, charged to every short.

The market's tick that opens a day calls `pay_dividends` (settings.DIVIDEND_HANDLERS)
inside its own transaction, with the day's [(symbol, per-share dividend), …]
(prices.actions). A holder of q shares is credited q × D as one `dividend` journal row; a
short seller of q shares owes the lender the dividend and is debited q × D as one
`dividend_charge` row, which may borrow as interest does (the margin call answers it).

Set-based: a fixed number of statements however many students hold the stocks. Lock
order as everywhere (balance, then holding): the holders' balance rows are locked first, in
one SELECT … FOR UPDATE ordered by id, and the holdings are read after, under those locks,
so a holder's trade either committed before (and its shares are paid) or waits for the
tick to commit (and trades at the ex-dividend price). A student who held none of the stock
when the balances were locked is not paid, whatever they buy meanwhile.

Once per student, symbol and day: each row carries the token "dividend:<SYMBOL>:<day>".
"""

from datetime import datetime
from decimal import Decimal

from ledger import services as ledger
from ledger.models import Transaction
from portfolio.models import Holding
from tradesim.money import ZERO, to_cents


def pay_dividends(*, dividends: list[tuple[str, Decimal]], day: int, at: datetime) -> str:
    """Credit every holder and charge every short of the day's dividends, in the caller's
    transaction. Statements: the accounts' lock (ledger.lock_all_accounts, PostgreSQL only),
    one lock of the holders' balances, then (when any) one read of their holdings, one of
    the tokens used, one UPDATE of the balances and one INSERT of the journal rows. Returns
    the tick summary's words, e.g. "dividends: 12 paid, 1 charged".
    Locks: every account (PostgreSQL), then the balance rows of the stocks' holders."""
    per_share = dict(dividends)
    # Every trade in flight commits first (it read the price before the drop, so its
    # shares are paid), and every later one waits for this tick's commit.
    ledger.lock_all_accounts()
    holders = Holding.objects.filter(stock_id__in=per_share).values("user_id")
    balances = ledger.lock_balances(users=holders)
    if not balances:
        return ""
    positions = (
        Holding.objects.filter(stock_id__in=per_share, user_id__in=holders)
        .order_by("user_id", "stock_id")
        .values_list("user_id", "stock_id", "quantity")
    )
    movements = []
    for user_id, symbol, quantity in positions:
        if user_id not in balances or quantity == 0:
            continue  # not a holder when the balances were locked: not paid
        amount = per_share[symbol]
        shares = abs(quantity)
        total = to_cents(amount * shares)
        if total <= ZERO:
            continue
        long = quantity > 0
        movements.append(
            ledger.Movement(
                user_id=user_id,
                type=Transaction.Type.DIVIDEND if long else Transaction.Type.DIVIDEND_CHARGE,
                amount=total,
                description=(
                    f"Dividend {symbol} ${amount:,.2f} × {shares:,}"
                    if long
                    else f"Dividend owed on short {symbol} ${amount:,.2f} × {shares:,}"
                ),
                symbol=symbol,
                token=ledger.dividend_token(symbol, day),
            )
        )
    written = ledger.post_in_bulk(movements, balances=balances, now=at)
    paid = sum(row.type == Transaction.Type.DIVIDEND for row in written)
    charged = len(written) - paid
    if not written:
        return ""
    text = f"dividends: {paid} paid"
    return text + (f", {charged} charged" if charged else "")
