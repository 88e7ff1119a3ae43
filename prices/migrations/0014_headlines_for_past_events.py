"""One headline for each market event applied before the market wrote its own news, so
the news keeps its past: the text as prices.news.event_text writes it (frozen here)."""

from decimal import ROUND_HALF_UP, Decimal

from django.db import migrations


def _percent_text(percent: Decimal) -> str:
    value = abs(percent).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value:f}".removesuffix(".0") + "\u00a0%"


def _text(symbol, sector, percent, reason) -> str:
    big = abs(percent) >= 10
    if symbol:
        verb = ("jumps" if big else "rises") if percent > 0 else ("plunges" if big else "falls")
        text = f"{symbol} {verb} {_percent_text(percent)}"
    else:
        verb = ("soar" if big else "rise") if percent > 0 else ("plunge" if big else "fall")
        text = f"{sector} stocks {verb} {_percent_text(percent)}"
    reason = reason.strip()
    return (f"{text}: {reason}" if reason else text)[:300]


def write_headlines(apps, schema_editor):
    MarketEvent = apps.get_model("prices", "MarketEvent")
    Headline = apps.get_model("prices", "Headline")
    Price = apps.get_model("prices", "Price")
    events = MarketEvent.objects.filter(
        applied_at__isnull=False, cancelled_at__isnull=True
    ).order_by("applied_at", "id")
    symbols = {e.stock_id for e in events if e.stock_id}
    sectors = dict(Price.objects.filter(symbol__in=symbols).values_list("symbol", "sector"))
    Headline.objects.bulk_create(
        Headline(
            kind="event",
            day=event.applied_day or 1,
            published_at=event.applied_at,
            stock_id=event.stock_id,
            sector=sectors.get(event.stock_id, "") if event.stock_id else event.sector,
            text=_text(event.stock_id, event.sector, event.percent, event.reason),
            percent=event.percent,
        )
        for event in events
    )


def remove_headlines(apps, schema_editor):
    apps.get_model("prices", "Headline").objects.filter(kind="event").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("prices", "0013_corporate_actions_of_the_sample_market"),
    ]

    operations = [migrations.RunPython(write_headlines, remove_headlines)]
