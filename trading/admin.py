"""Trades and orders in the admin: read-only for everybody, superusers included. A trade is
written only by trading.services, together with its journal rows and the holding; an order
changes only there too (an instructor's cancel goes through cancel_order). An instructor
sees the trades and orders of the students in their own classes only."""

from django.contrib import admin, messages

from tradesim.admin import OwnClassFilter, OwnStudentsOnlyMixin
from trading.models import MarginCall, Order, Trade
from trading.services import OrderClosed, TradingError, cancel_order, describe_order


@admin.register(Trade)
class TradeAdmin(OwnStudentsOnlyMixin, admin.ModelAdmin):
    list_display = [
        "timestamp",
        "user",
        "operation",
        "stock",
        "quantity",
        "price",
        "total",
        "commission",
        "realized_pnl",
    ]
    list_filter = ["operation", ("user__classroom", OwnClassFilter), "timestamp"]
    list_select_related = ["user", "stock"]
    search_fields = ["user__username", "stock__symbol"]
    date_hierarchy = "timestamp"
    # Counting every trade for "N total" gets slow on a big class.
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(OwnStudentsOnlyMixin, admin.ModelAdmin):
    """Every order, market and resting, read-only: an order changes only through
    trading.services (placed, filled, cancelled, expired). An instructor sees the orders of
    the students in their own classes, and may cancel open ones (audited)."""

    # The order in words first: on a phone the list scrolls sideways after it.
    list_display = ["order", "user", "outcome", "holds", "created_at"]
    list_display_links = ["order"]
    list_filter = [
        "status",
        "type",
        "side",
        ("user__classroom", OwnClassFilter),
        "created_at",
    ]
    list_select_related = ["user"]
    search_fields = ["user__username", "stock__symbol"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    actions = ["cancel_action"]
    fields = [
        "user",
        "order",
        "stock",
        "side",
        "type",
        "quantity",
        "limit_price",
        "stop_price",
        "trail_percent",
        "trail_amount",
        "trail_mark",
        "trigger",
        "triggered_at",
        "duration",
        "expires_day",
        "status",
        "reason",
        "held_cash",
        "held_shares",
        "trade",
        "created_at",
        "closed_at",
        "cancelled_by",
    ]
    readonly_fields = fields

    @admin.display(description="Order")
    def order(self, obj):
        return describe_order(obj)

    @admin.display(description="Trigger price")
    def trigger(self, obj):
        if obj.type == Order.Type.MARKET:  # its trigger is one every price reaches
            return "— (waits for the market's open)" if obj.trigger_direction else "—"
        return f"${obj.trigger_price:,.2f}" if obj.trigger_price is not None else "—"

    @admin.display(description="Holds")
    def holds(self, obj):
        if obj.held_cash:
            return f"${obj.held_cash:,.2f}"
        if obj.held_shares:
            return f"{obj.held_shares:,} share{'s' if obj.held_shares != 1 else ''}"
        return "—"

    @admin.display(description="Status", ordering="status")
    def outcome(self, obj):
        status, reason = obj.get_status_display(), obj.reason
        if not reason or reason.lower().startswith(status.lower()):  # "Cancelled by …"
            return reason or status
        return f"{status}: {reason}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("trading.cancel_order")

    @admin.action(description="Cancel the selected open orders", permissions=["cancel"])
    def cancel_action(self, request, queryset):
        """Each open order through cancel_order (its hold released, the cancel audited);
        the others are left as they are."""
        open_orders = queryset.filter(status=Order.Status.OPEN).order_by("id")
        ids = list(open_orders.values_list("pk", flat=True))
        cancelled, refused = 0, []
        for order_id in ids:
            try:
                cancel_order(order_id=order_id, by=request.user)
            except OrderClosed:
                pass  # filled, expired or cancelled meanwhile
            except TradingError as error:
                refused.append(error.message)
            else:
                cancelled += 1
        skipped = queryset.count() - len(ids)
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {cancelled} open order{'s' if cancelled != 1 else ''}; what they "
                "held is free again.",
                messages.SUCCESS,
            )
        if skipped or not (cancelled or refused):
            self.message_user(
                request,
                "Only open orders can be cancelled: filled, expired, rejected and cancelled "
                "orders stay as they are.",
                messages.WARNING,
            )
        for message in dict.fromkeys(refused):
            self.message_user(request, f"Not cancelled: {message}", messages.ERROR)


@admin.register(MarginCall)
class MarginCallAdmin(OwnStudentsOnlyMixin, admin.ModelAdmin):
    """Margin calls, read-only: opened, met and liquidated only at the ticks
    (trading.services.check_margin_calls). An instructor sees the calls of the students in
    their own classes."""

    list_display = [
        "user",
        "status",
        "opened_day",
        "due_day",
        "equity",
        "requirement",
        "opened_at",
        "closed_at",
    ]
    list_filter = ["status", ("user__classroom", OwnClassFilter), "opened_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    date_hierarchy = "opened_at"
    show_full_result_count = False
    list_per_page = 50
    fields = [
        "user",
        "status",
        "opened_at",
        "opened_day",
        "due_day",
        "equity",
        "requirement",
        "met_at",
        "liquidated_at",
        "detail",
    ]
    readonly_fields = fields

    @admin.display(description="Met or liquidated")
    def closed_at(self, obj):
        return obj.met_at or obj.liquidated_at

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
