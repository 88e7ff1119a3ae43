from django.db import migrations


def create_market_state(apps, schema_editor):
    MarketState = apps.get_model("prices", "MarketState")
    MarketState.objects.get_or_create(id=1)


class Migration(migrations.Migration):
    """The market clock's single row, so the first tick has a row to lock."""

    dependencies = [
        ("prices", "0002_market_calendar_and_parameter_ranges"),
    ]

    operations = [
        migrations.RunPython(create_market_state, migrations.RunPython.noop),
    ]
