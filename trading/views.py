import logging
from dataclasses import dataclass, replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from classrooms.rules import ORDER_TYPES_MARKET, rulebook_for
from tradesim.exports import (
    csv_download,
    date_time_cell,
    date_time_header,
    decimal_cell,
    export_filename,
    safe_cell,
)
from tradesim.logging import form_error_codes, log_event
from tradesim.market_hours import closed_until, opens_words
from tradesim.templatetags.money import money, signed_money
from trading import selectors
from trading.forms import (
    OrderFilterForm,
    OrderTicketForm,
    TradeFilterForm,
    option_html,
    ticket_settings,
)
from trading.models import BUYING_SIDES, Order, Trade
from trading.services import (
    MAX_QUANTITY,
    DuplicateRequest,
    InvalidQuantity,
    NotEnoughShares,
    OrderClosed,
    OrderNotFound,
    PositionRefused,
    PositionTooLarge,
    SymbolHalted,
    TradingError,
    UnknownSymbol,
    cancel_order,
    describe_order,
    place_order,
)

logger = logging.getLogger("tradesim.trading")

PAGE_SIZE = 25

# Which form field a refusal belongs to; the rest are shown above the form.
ERROR_FIELDS = {
    UnknownSymbol: "symbol",
    SymbolHalted: "symbol",
    InvalidQuantity: "quantity",
    NotEnoughShares: "quantity",
    PositionTooLarge: "quantity",
    PositionRefused: "symbol",
}

# The sides of a short sale, offered only in a class that allows selling short.
SHORT_SIDES = (Order.Side.SELL_SHORT, Order.Side.BUY_TO_COVER)


# Placing orders ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def buy_view(request):
    return _order(request, side=Trade.Operation.BUY)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def sell_view(request):
    return _order(request, side=Trade.Operation.SELL)


# What a market order from /trading/buy/ or /trading/sell/ never carries: those URLs place
# market orders only, whatever else a form sends them.
_NOT_MARKET = ("type", "limit_price", "stop_price", "trail_percent", "trail_amount", "duration")


def _order(request, *, side: str):
    if request.method != "POST":
        form = _new_ticket(request, side=side)
        return _ticket_page(request, form, side=side)
    # The order is validated and placed before the symbol list is loaded: a placed order
    # redirects, so only a refused one pays for the page (two queries fewer on the path
    # every student takes).
    posted = request.POST.copy()
    for name in _NOT_MARKET:
        posted.pop(name, None)
    posted.setlist("side", [side])
    posted.setlist("type", [Order.Type.MARKET])
    form = OrderTicketForm(posted)
    if form.is_valid():
        data = form.cleaned_data
        try:
            # A market order: it trades now, or waits for the open while the market is
            # closed (MARKET_HOURS), as the class's rules say.
            order = place_order(user=request.user, request=data["order"], token=data["token"])
        except DuplicateRequest as error:
            messages.info(request, error.message)
            return redirect(_next_url(request, data.get("next")))
        except TradingError as error:
            form.add_error(_error_field(error), error.message)
        else:
            return _placed(request, order, next_url=data.get("next"))
    else:
        _log_refused_form(request, form, side=side)
    return _ticket_page(request, form, side=side, status=400)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def order_new_view(request):
    """The order ticket for any type of order. GET: the ticket, `?symbol=…&side=…&type=…`
    filled in. POST: place the order (trading.services.place_order)."""
    if request.method != "POST":
        side = request.GET.get("side", "")
        side = side if side in Order.Side.values else Order.Side.BUY
        rules = rulebook_for(request.user)
        if side in SHORT_SIDES and not rules.short_selling:
            side = Order.Side.BUY  # the class's ticket has no short sides
        return _ticket_page(request, _new_ticket(request, side=side), side=side, rules=rules)
    form = OrderTicketForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            order = place_order(user=request.user, request=data["order"], token=data["token"])
        except DuplicateRequest as error:
            messages.info(request, error.message)
            return redirect(_next_url(request, data.get("next")))
        except TradingError as error:
            form.add_error(_error_field(error), error.message)
        else:
            return _placed(request, order, next_url=data.get("next"))
    else:
        _log_refused_form(
            request,
            form,
            side=form.chosen_side(),
            event="order.rejected",
            type=form.cleaned_data.get("type") or None,
        )
    return _ticket_page(request, form, side=form.chosen_side(), status=400)


def _new_ticket(request, *, side: str) -> OrderTicketForm:
    order_type = request.GET.get("type", "")
    return OrderTicketForm(
        initial={
            "symbol": request.GET.get("symbol", "").strip().upper()[:20],
            "side": side,
            "type": order_type if order_type in Order.Type.values else Order.Type.MARKET,
            "next": request.GET.get("next", ""),
        }
    )


def _error_field(error: TradingError) -> str | None:
    # A class's rule, such as market orders only, is told above the form (a class of market
    # orders only has no type to choose).
    return getattr(error, "field", "") or ERROR_FIELDS.get(type(error))


def _log_refused_form(request, form, *, side: str, event: str = "trade.rejected", **extra):
    # Refusals by the service are logged there; this is the form's own.
    log_event(
        logger,
        event,
        user=request.user.get_username(),
        side=side,
        **extra,
        symbol=form.cleaned_data.get("symbol"),
        quantity=form.cleaned_data.get("quantity"),
        result="rejected",
        reason="invalid_input",
        errors=form_error_codes(form),
    )


def _placed(request, order: Order, *, next_url: str | None):
    """The redirect after a placed order, with its news: what it traded, if it filled at
    once, or what it waits for and holds."""
    if order.trade is not None:
        text = confirmation(order.trade)
        if order.type != Order.Type.MARKET:
            text = f"The price was already within your limit, so it filled now: {text}"
        messages.success(request, text)
        return redirect(_next_url(request, next_url))
    if order.held_cash:
        held = f"{money(order.held_cash)} is held for it."
    elif order.side == Order.Side.SELL_SHORT:
        held = "Nothing is held for it: the margin it needs is checked when it fills."
    elif order.side == Order.Side.BUY_TO_COVER:
        held = f"{order.held_shares:,} of your short {order.stock_id} {_shares(order.held_shares)} "
        held += f"{'is' if order.held_shares == 1 else 'are'} held for it."
    else:
        held = f"Your {order.held_shares:,} {order.stock_id} {_shares(order.held_shares)} "
        held += f"{'is' if order.held_shares == 1 else 'are'} held for it."
    text = f"Order placed: {describe_order(order)}. {held}"
    opens = closed_until()
    if order.type == Order.Type.MARKET and opens is not None:
        text = f"The market is closed until {opens_words(opens)}; your order waits. {text}"
    orders = reverse("trading:orders")
    messages.success(request, format_html('{} <a href="{}">See your orders</a>', text, orders))
    return redirect(_next_url(request, next_url, default="trading:orders"))


def _shares(count: int) -> str:
    return "share" if count == 1 else "shares"


def _ticket_page(request, form: OrderTicketForm, *, side: str, status: int = 200, rules=None):
    rules = rules or rulebook_for(request.user)
    if side in SHORT_SIDES and not rules.short_selling:
        side = Order.Side.BUY  # a refused short sale in a class without them: the usual ticket
    chosen = str(form["symbol"].value() or "").strip().upper()
    if side in (Order.Side.BUY, Order.Side.SELL_SHORT):
        # Every listed symbol: the picker's options are made once per market mark.
        listing = _listing(side)
        options = listing.options
        overrides = {}
        for symbol, (quantity, on_hold) in selectors.ticket_holdings(request.user).items():
            if symbol in listing.position:
                option = replace(
                    options[listing.position[symbol]], held=quantity, held_for_orders=on_hold
                )
                overrides[symbol] = option
        selected = overrides.get(chosen)
        if selected is None and chosen in listing.position:
            selected = options[listing.position[chosen]]
        form.use_symbol_listing(
            listing=listing,
            overrides={s: listing.labels(o) for s, o in overrides.items()},
        )
    else:
        options = selectors.order_options(request.user, side=side)
        form.use_symbol_choices(**_form_choices(options, side))
        selected = next((o for o in options if o.symbol == chosen), None)
    context = {
        "form": form,
        "side": side,
        "side_label": Order.Side(side).label,
        "buying": side in BUYING_SIDES,
        "options": options,
        "selected": selected,
        # In a class with margin, with its buying power, loan, equity and margin level.
        "cash": selectors.cash_of(request.user, rules=rules),
        # The class's commission, which the ticket's estimate charges as the service does,
        # and the order types it allows.
        "rules": rules,
        "market_only": rules.order_types == ORDER_TYPES_MARKET,
        "max_quantity": MAX_QUANTITY,
        **ticket_settings(),
    }
    return render(request, "trading/order.html", context, status=status)


@dataclass(frozen=True)
class _Listing:
    """The symbol picker's options for a side, for someone who holds none of them
    (forms.ListedSymbolSelect): their HTML, and where each symbol is."""

    mark: str
    side: str
    options: list
    position: dict
    html: list

    def labels(self, option) -> tuple:
        return _option_label(option, self.side), _option_data(option)


# The latest listing of each side, in this process: thousands of options on a large
# market, the same for every student until a tick (selectors.market_mark) changes them.
_LISTINGS: dict[str, _Listing] = {}


def _listing(side: str) -> _Listing:
    mark = selectors.market_mark()
    listing = _LISTINGS.get(side)
    if listing is None or listing.mark != mark:
        options = selectors.listed_options()
        listing = _Listing(
            mark=mark,
            side=side,
            options=options,
            position={o.symbol: i for i, o in enumerate(options)},
            html=[
                option_html(o.symbol, _option_label(o, side), _option_data(o), False)
                for o in options
            ],
        )
        _LISTINGS[side] = listing
    return listing


def _form_choices(options, side: str) -> dict:
    return {
        "symbol_choices": [(o.symbol, _option_label(o, side)) for o in options],
        "option_data": {o.symbol: _option_data(o) for o in options},
    }


def _option_data(option) -> dict:
    # data-held: the shares the student can sell (or, short, cover) now; those open orders
    # hold besides; data-short: the position is short.
    data = {"price": f"{option.price:.2f}", "held": option.free, "disabled": option.halted}
    if option.held_for_orders:
        data["held-for-orders"] = option.held_for_orders
    if option.is_short:
        data["short"] = 1
    return data


def _option_label(option, side: str) -> str:
    label = f"{option.symbol} — {option.name} (${option.price:,.2f})"
    if side == Order.Side.SELL:
        label += f" · {option.held:,} held"
        if option.held_for_orders:
            label += f", {option.held_for_orders:,} of them for open orders"
    elif side == Order.Side.BUY_TO_COVER:
        label += f" · short {option.size:,}, you can cover {option.free:,}"
        if option.held_for_orders:
            label += f" ({option.held_for_orders:,} held for open orders)"
    elif side == Order.Side.SELL_SHORT and option.held:
        label += f" · short {option.size:,}" if option.is_short else f" · you own {option.held:,}"
    if option.halted:
        label += " · trading paused"
    return label


# What a trade did, in the past tense, by its operation.
DONE = {
    Trade.Operation.BUY: "Bought",
    Trade.Operation.SELL: "Sold",
    Trade.Operation.SHORT: "Sold short",
    Trade.Operation.COVER: "Bought to cover",
}


def confirmation(trade: Trade) -> str:
    """The flash after an order: "Bought 10 AAPL at $189.12 for $1,891.20"; a short sale
    "Sold short 10 ACME at $100.00 for $1,000.00"; a cover "Bought to cover …" with its
    realized P/L."""
    verb = DONE.get(trade.operation, "Traded")
    text = f"{verb} {trade.quantity:,} {trade.stock_id} at {money(trade.price)}"
    text += f" for {money(trade.total)}"
    if trade.commission:
        text += f", plus {money(trade.commission)} commission"
    if trade.realized_pnl is not None:
        text += f" (realized {signed_money(trade.realized_pnl)})"
    return text + "."


def _next_url(request, candidate: str | None, *, default: str = "trading:history") -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(default)


# History -----------------------------------------------------------------------------

CSV_HEADER = [
    "Symbol",
    "Side",
    "Quantity",
    "Price",
    "Amount",
    "Commission",
    "Realized P/L",
]


def csv_header() -> list[str]:
    return [date_time_header(), *CSV_HEADER]


@login_required
@require_safe
def history(request):
    form = TradeFilterForm(request.GET)
    export = request.GET.get("format", "")
    if export not in ("", "html", "csv"):
        form.is_valid()
        form.add_error(None, "The format can be csv, or left out for this page.")
    if not form.is_valid():
        context = {"form": form, "page_obj": None, "totals": None, "filters": None}
        return render(request, "trading/history.html", context, status=400)

    filters = selectors.TradeFilters(**form.cleaned_data)
    if export == "csv":
        return _csv_response(request.user, filters)

    totals = selectors.totals_for(request.user, filters)
    paginator = Paginator(selectors.trades_for(request.user, filters), PAGE_SIZE)
    # The aggregate already counted the rows; spare the paginator its own COUNT query.
    paginator.count = totals.count
    page_obj = paginator.get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page_obj": page_obj,
        "trades": list(page_obj.object_list),
        "totals": totals,
        "filters": filters,
    }
    return render(request, "trading/history.html", context)


def _csv_response(user, filters):
    def rows():  # a generator: nothing is read until the response is sent
        for trade in selectors.trades_for(user, filters).iterator(chunk_size=1000):
            yield [
                date_time_cell(trade.timestamp),
                trade.stock_id,
                trade.get_operation_display(),
                trade.quantity,
                decimal_cell(trade.price),
                decimal_cell(trade.total),
                decimal_cell(trade.commission),
                decimal_cell(trade.realized_pnl),
            ]

    filename = export_filename("trades", user.get_username())
    return csv_download(rows(), header=csv_header(), filename=filename)


# Orders ------------------------------------------------------------------------------

ORDERS_CSV_HEADER = [
    "Symbol",
    "Side",
    "Type",
    "Quantity",
    "Limit price",
    "Stop price",
    "Trail %",
    "Trail $",
    "Duration",
    "Description",
    "Status",
    "Reason",
    "Fill price",
    "Amount",
    "Commission",
]


def orders_csv_header() -> list[str]:
    zone = timezone.get_current_timezone_name()
    return [date_time_header(), *ORDERS_CSV_HEADER, f"Closed ({zone})", "ID"]


@login_required
@require_safe
def orders(request):
    """The user's orders: the open ones first, each with what it holds and a Cancel
    button, then the past ones with their outcome; filters (status, symbol, side, type,
    start, end), 25 to a page, and `?format=csv` for exactly the filtered orders."""
    form = OrderFilterForm(request.GET)
    export = request.GET.get("format", "")
    if export not in ("", "html", "csv"):
        form.is_valid()
        form.add_error(None, "The format can be csv, or left out for this page.")
    if not form.is_valid():
        return _render_orders(request, form, filters=None, status=400)
    filters = selectors.OrderFilters(**form.cleaned_data)
    if export == "csv":
        return _orders_csv(request.user, filters)
    return _render_orders(request, form, filters=filters)


def _render_orders(request, form, *, filters, status=200, refusal: str | None = None):
    context = {"form": form, "filters": filters, "page_obj": None, "refusal": refusal}
    if filters is not None:
        totals = selectors.order_totals(request.user, filters)
        paginator = Paginator(selectors.orders_for(request.user, filters), PAGE_SIZE)
        # The aggregate already counted the rows; spare the paginator its own COUNT query.
        paginator.count = totals.count
        page_obj = paginator.get_page(request.GET.get("page"))
        rows = list(page_obj.object_list)
        context.update(
            totals=totals,
            page_obj=page_obj,
            open_orders=[order for order in rows if order.is_open],
            past_orders=[order for order in rows if not order.is_open],
        )
    # Where a Cancel button brings the student back to: this page as they see it; after a
    # refused cancel (this page answering a POST), the plain list.
    orders_url = reverse("trading:orders")
    context["orders_url"] = orders_url
    context["here"] = request.get_full_path() if request.method != "POST" else orders_url
    return render(request, "trading/orders.html", context, status=status)


def _orders_csv(user, filters):
    def rows():  # a generator: nothing is read until the response is sent
        for order in selectors.orders_for(user, filters).iterator(chunk_size=1000):
            trade = order.trade
            yield [
                date_time_cell(order.created_at),
                order.stock_id,
                order.get_side_display(),
                order.get_type_display(),
                order.quantity,
                decimal_cell(order.limit_price),
                decimal_cell(order.stop_price),
                decimal_cell(order.trail_percent),
                decimal_cell(order.trail_amount),
                order.get_duration_display(),
                describe_order(order),
                order.get_status_display(),
                safe_cell(order.reason),
                decimal_cell(trade.price if trade else None),
                decimal_cell(trade.total if trade else None),
                decimal_cell(trade.commission if trade else None),
                date_time_cell(order.closed_at),
                order.pk,
            ]

    filename = export_filename("orders", user.get_username())
    return csv_download(rows(), header=orders_csv_header(), filename=filename)


@login_required
@require_POST
def cancel_order_view(request, order_id: int):
    """Cancel one of the user's open orders and free what it held; back to the orders page
    (or a safe `next`) with what was freed. Another user's order is a 404; an order that
    is no longer open is refused with the reason (400) and nothing changes."""
    order = (
        Order.objects.filter(pk=order_id, user_id=request.user.pk)
        .only("held_cash", "held_shares")
        .first()
    )
    if order is None:
        raise Http404("There is no such order among yours.")
    # What it holds now is what the cancel frees: an open order's holds never change.
    held_cash, held_shares = order.held_cash, order.held_shares
    try:
        cancelled = cancel_order(user=request.user, order_id=order.pk)
    except OrderNotFound:
        raise Http404("There is no such order among yours.") from None
    except OrderClosed as error:
        log_event(
            logger,
            "order.cancel_rejected",
            user=request.user.get_username(),
            order=order.pk,
            result="rejected",
            reason=type(error).__name__,
            message=error.message,
        )
        return _render_orders(
            request,
            OrderFilterForm({}),
            filters=selectors.OrderFilters(),
            status=400,
            refusal=error.message,
        )
    messages.success(request, cancelled_message(cancelled, held_cash, held_shares))
    return redirect(_next_url(request, request.POST.get("next"), default="trading:orders"))


def cancelled_message(order: Order, held_cash, held_shares: int) -> str:
    """ "Cancelled: Buy 10 AAPL if the price falls to $180.00 or less; good for today.
    $1,800.00 is free again." """
    text = f"Cancelled: {describe_order(order)}."
    if held_cash:
        text += f" {money(held_cash)} is free again."
    elif held_shares:
        one = held_shares == 1
        if order.side == Order.Side.BUY_TO_COVER:
            return text + (
                f" {held_shares:,} short {order.stock_id} share{'' if one else 's'} "
                f"{'is' if one else 'are'} free to cover again."
            )
        text += (
            f" Your {held_shares:,} {order.stock_id} share{'' if one else 's'} "
            f"{'is' if one else 'are'} free to sell again."
        )
    return text
