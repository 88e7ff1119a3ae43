"""The sample market's corporate actions for symbols already listed (by symbol): the
dividend yields, ex-dividend and earnings days that prices.market_data gives new listings.
A symbol not in the sample market keeps the defaults (no dividend, no earnings)."""

from django.db import migrations

# symbol → dividend yield, ex-dividend day, earnings day, earnings volatility (as listed in
# prices.market_data when this migration was written).
# fmt: off
ACTIONS = {
    "AAPL": (0.004, 3, 10, 0.04),
    "MSFT": (0.007, 26, 27, 0.04),
    "NVDA": (0.0003, 49, 44, 0.08),
    "AVGO": (0.007, 14, 21, 0.07),
    "ORCL": (0.009, 37, 38, 0.07),
    "CRM": (0.007, 60, 15, 0.07),
    "ADBE": (0.0, None, 32, 0.07),
    "AMD": (0.0, None, 49, 0.08),
    "CSCO": (0.023, 13, 26, 0.05),
    "IBM": (0.023, 36, 43, 0.06),
    "GOOGL": (0.003, 59, 20, 0.05),
    "META": (0.003, 24, 37, 0.08),
    "NFLX": (0.0, None, 14, 0.08),
    "DIS": (0.009, 12, 31, 0.05),
    "VZ": (0.066, 35, 48, 0.03),
    "T": (0.043, 58, 25, 0.04),
    "AMZN": (0.0, None, 42, 0.07),
    "TSLA": (0.0, None, 19, 0.09),
    "HD": (0.025, 11, 36, 0.04),
    "MCD": (0.023, 34, 13, 0.03),
    "NKE": (0.024, 57, 30, 0.08),
    "SBUX": (0.028, 22, 47, 0.06),
    "WMT": (0.009, 45, 24, 0.04),
    "PG": (0.028, 10, 41, 0.03),
    "KO": (0.029, 33, 18, 0.03),
    "PEP": (0.038, 56, 35, 0.03),
    "COST": (0.005, 21, 12, 0.04),
    "LLY": (0.006, 44, 29, 0.06),
    "JNJ": (0.025, 9, 46, 0.03),
    "UNH": (0.026, 32, 23, 0.07),
    "MRK": (0.034, 55, 40, 0.04),
    "PFE": (0.067, 20, 17, 0.04),
    "ABBV": (0.029, 43, 34, 0.04),
    "JPM": (0.019, 8, 11, 0.03),
    "BAC": (0.021, 31, 28, 0.04),
    "V": (0.007, 54, 45, 0.03),
    "MA": (0.005, 19, 22, 0.03),
    "GS": (0.02, 42, 39, 0.04),
    "BRK.B": (0.0, None, 16, 0.02),
    "XOM": (0.034, 30, 33, 0.03),
    "CVX": (0.044, 53, 10, 0.03),
    "COP": (0.035, 18, 27, 0.04),
    "CAT": (0.01, 41, 44, 0.05),
    "BA": (0.0, None, 21, 0.06),
    "GE": (0.005, 29, 38, 0.06),
    "HON": (0.023, 52, 15, 0.04),
    "UPS": (0.068, 17, 32, 0.07),
    "RTX": (0.016, 40, 49, 0.04),
    "NEE": (0.027, 5, 26, 0.04),
    "DUK": (0.034, 28, 43, 0.02),
    "SO": (0.032, 51, 20, 0.02),
    "PLD": (0.032, 16, 37, 0.04),
    "AMT": (0.037, 39, 14, 0.04),
    "LIN": (0.013, 4, 31, 0.03),
    "NEM": (0.012, 27, 48, 0.07),
    "FCX": (0.014, 50, 25, 0.06),
    "TSIM": (0.013, 61, None, 0.05),
}
# fmt: on


def fill(apps, schema_editor):
    Price = apps.get_model("prices", "Price")
    listed = list(Price.objects.filter(symbol__in=ACTIONS))
    for price in listed:
        (
            price.dividend_yield,
            price.dividend_day,
            price.earnings_day,
            price.earnings_volatility,
        ) = ACTIONS[price.symbol]
    Price.objects.bulk_update(
        listed, ["dividend_yield", "dividend_day", "earnings_day", "earnings_volatility"]
    )


class Migration(migrations.Migration):
    dependencies = [("prices", "0012_corporate_actions")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
