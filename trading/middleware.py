"""News of a student's orders on their next page: "Your order filled: Bought 10 AAPL at
$179.50 for $1,795.00.", "Your order to … was rejected: …", "Your day order to … expired at
the close."

The fills and expiries happen in tick_prices, another process; each sets the student's
news key in the shared cache after it commits (services.order_news_key), and marks its
order not yet told (Order.notified=False). A page load costs one cache read and no query
while there is no news.
"""

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db.models import Count, Window

from trading.models import Order
from trading.services import GTC_DAYS, describe_order, order_news_key
from trading.views import confirmation

MAX_TOLD = 3  # one message per order, then "…and N more"
MAX_READ = 200  # orders read at once; past that, the rest are only counted


class OrderNewsMiddleware:
    """On a logged-in GET of a page (not an htmx swap, an export, a static file, the API
    or the admin), add one message per order that filled, was rejected, expired or was
    cancelled by the teacher since the last page: two queries when there is news, none
    when there is not."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.skipped = tuple(
            prefix
            for prefix in (settings.STATIC_URL, "/api/", "/admin/", "/healthz", "/favicon.ico")
            if prefix
        )

    def __call__(self, request):
        if self._is_a_page(request) and request.user.is_authenticated:
            tell_order_news(request)
        return self.get_response(request)

    def _is_a_page(self, request) -> bool:
        return (
            request.method == "GET"
            and request.headers.get("HX-Request") != "true"
            and request.GET.get("format", "") in ("", "html")
            and not request.path.startswith(self.skipped)
            and hasattr(request, "_messages")
        )


def tell_order_news(request) -> int:
    """Add the messages for the user's orders not yet told of, and mark them told.
    Returns how many orders were told of."""
    user_id = request.user.pk
    key = order_news_key(user_id)
    if not cache.get(key):
        return 0
    # The key goes first: an order that closes from here on sets it again after its
    # commit, so it is told on the next page instead of lost between the read and the
    # update below.
    cache.delete(key)
    news = list(
        Order.objects.filter(user_id=user_id, notified=False)
        .select_related("trade")
        .annotate(waiting=Window(Count("id")))
        .order_by("-closed_at", "-id")[:MAX_READ]
    )
    if not news:
        return 0
    waiting = news[0].waiting
    told = Order.objects.filter(user_id=user_id, notified=False)
    if waiting <= len(news):
        told = told.filter(pk__in=[order.pk for order in news])
    told.update(notified=True)
    for order in news[:MAX_TOLD]:
        level, text = order_news(order)
        messages.add_message(request, level, text)
    if waiting > MAX_TOLD:
        messages.info(request, f"…and {waiting - MAX_TOLD:,} more: see your orders.")
    return waiting


def order_news(order: Order) -> tuple[int, str]:
    """The message level and text that tell a student what became of `order`."""
    what = _what(order)
    if order.status == Order.Status.FILLED and order.trade is not None:
        return messages.SUCCESS, f"Your order filled: {confirmation(order.trade)}"
    if order.status == Order.Status.REJECTED:
        return messages.WARNING, f"Your order to {what} was rejected: {_sentence(order.reason)}"
    if order.status == Order.Status.EXPIRED:
        if order.duration == Order.Duration.DAY:
            return messages.INFO, f"Your day order to {what} expired at the close."
        return (
            messages.INFO,
            f"Your order to {what} expired: the price did not reach it in {GTC_DAYS} trading days.",
        )
    text = f"Your teacher cancelled your order to {what}"
    if order.reason and not order.reason.startswith("Cancelled by "):
        return messages.INFO, f"{text}: {_sentence(order.reason)}"
    return messages.INFO, f"{text}."


def _what(order: Order) -> str:
    """ "buy 10 AAPL if the price falls to $180.00 or less": the order without how long it
    lasts, to follow "Your order to"."""
    text = describe_order(order).rsplit("; ", 1)[0]
    return text[:1].lower() + text[1:]


def _sentence(text: str) -> str:
    text = text.strip() or "no reason was given"
    return text if text.endswith((".", "!", "?")) else text + "."
