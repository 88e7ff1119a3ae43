"""The sample market `load_market` lists: well-known US large caps in eleven sectors and one
index fund that tracks the market factor.

Prices are round figures near where these stocks traded going into 2026; they are a
starting point, not a feed. The parameters are annual: `drift` is the expected return,
`volatility` the company-specific (idiosyncratic) volatility and `beta` the sensitivity to
the market factor (16 % a year). A stock's total volatility is
sqrt((beta · 16 %)² + volatility²) plus a little from jumps — between about 17 % for a
utility and 58 % for the most volatile names, in line with what these stocks show.
"""

from dataclasses import dataclass
from decimal import Decimal

from prices.simulation import DEFAULT_MODEL


@dataclass(frozen=True)
class Listing:
    symbol: str
    name: str
    sector: str
    price: Decimal
    drift: float
    volatility: float
    beta: float
    is_index: bool = False


INDEX_SYMBOL = "TSIM"

_TECH = "Technology"
_COMM = "Communication Services"
_DISC = "Consumer Discretionary"
_STAPLES = "Consumer Staples"
_HEALTH = "Health Care"
_FIN = "Financials"
_ENERGY = "Energy"
_INDU = "Industrials"
_UTIL = "Utilities"
_REIT = "Real Estate"
_MAT = "Materials"

# fmt: off
_ROWS = [
    # symbol, name, sector, price, drift, idiosyncratic volatility, beta
    ("AAPL", "Apple Inc.", _TECH, "262.50", 0.10, 0.22, 1.20),
    ("MSFT", "Microsoft Corporation", _TECH, "498.00", 0.10, 0.20, 1.10),
    ("NVDA", "NVIDIA Corporation", _TECH, "186.00", 0.15, 0.45, 1.75),
    ("AVGO", "Broadcom Inc.", _TECH, "345.00", 0.13, 0.38, 1.45),
    ("ORCL", "Oracle Corporation", _TECH, "215.00", 0.10, 0.34, 1.20),
    ("CRM", "Salesforce, Inc.", _TECH, "245.00", 0.09, 0.30, 1.25),
    ("ADBE", "Adobe Inc.", _TECH, "335.00", 0.08, 0.30, 1.20),
    ("AMD", "Advanced Micro Devices, Inc.", _TECH, "220.00", 0.13, 0.45, 1.70),
    ("CSCO", "Cisco Systems, Inc.", _TECH, "72.00", 0.07, 0.18, 0.90),
    ("IBM", "International Business Machines Corporation", _TECH, "295.00", 0.07, 0.22, 0.80),
    ("GOOGL", "Alphabet Inc. Class A", _COMM, "285.00", 0.11, 0.26, 1.10),
    ("META", "Meta Platforms, Inc.", _COMM, "640.00", 0.12, 0.33, 1.30),
    ("NFLX", "Netflix, Inc.", _COMM, "108.00", 0.12, 0.35, 1.25),
    ("DIS", "The Walt Disney Company", _COMM, "112.00", 0.07, 0.24, 1.10),
    ("VZ", "Verizon Communications Inc.", _COMM, "41.00", 0.05, 0.16, 0.50),
    ("T", "AT&T Inc.", _COMM, "26.00", 0.05, 0.18, 0.55),
    ("AMZN", "Amazon.com, Inc.", _DISC, "228.00", 0.12, 0.28, 1.25),
    ("TSLA", "Tesla, Inc.", _DISC, "430.00", 0.14, 0.50, 1.80),
    ("HD", "The Home Depot, Inc.", _DISC, "365.00", 0.08, 0.18, 1.00),
    ("MCD", "McDonald's Corporation", _DISC, "305.00", 0.07, 0.15, 0.65),
    ("NKE", "NIKE, Inc.", _DISC, "66.00", 0.07, 0.30, 1.05),
    ("SBUX", "Starbucks Corporation", _DISC, "86.00", 0.07, 0.26, 0.95),
    ("WMT", "Walmart Inc.", _STAPLES, "104.00", 0.08, 0.16, 0.60),
    ("PG", "The Procter & Gamble Company", _STAPLES, "150.00", 0.06, 0.13, 0.55),
    ("KO", "The Coca-Cola Company", _STAPLES, "70.00", 0.06, 0.13, 0.55),
    ("PEP", "PepsiCo, Inc.", _STAPLES, "148.00", 0.06, 0.15, 0.55),
    ("COST", "Costco Wholesale Corporation", _STAPLES, "915.00", 0.09, 0.18, 0.80),
    ("LLY", "Eli Lilly and Company", _HEALTH, "1010.00", 0.12, 0.30, 0.80),
    ("JNJ", "Johnson & Johnson", _HEALTH, "205.00", 0.06, 0.14, 0.55),
    ("UNH", "UnitedHealth Group Incorporated", _HEALTH, "330.00", 0.08, 0.30, 0.75),
    ("MRK", "Merck & Co., Inc.", _HEALTH, "97.00", 0.06, 0.20, 0.55),
    ("PFE", "Pfizer Inc.", _HEALTH, "25.50", 0.05, 0.22, 0.60),
    ("ABBV", "AbbVie Inc.", _HEALTH, "225.00", 0.08, 0.22, 0.60),
    ("JPM", "JPMorgan Chase & Co.", _FIN, "312.00", 0.09, 0.18, 1.10),
    ("BAC", "Bank of America Corporation", _FIN, "52.00", 0.08, 0.22, 1.25),
    ("V", "Visa Inc.", _FIN, "338.00", 0.09, 0.16, 0.95),
    ("MA", "Mastercard Incorporated", _FIN, "560.00", 0.10, 0.17, 1.05),
    ("GS", "The Goldman Sachs Group, Inc.", _FIN, "805.00", 0.09, 0.22, 1.35),
    ("BRK.B", "Berkshire Hathaway Inc. Class B", _FIN, "500.00", 0.08, 0.12, 0.85),
    ("XOM", "Exxon Mobil Corporation", _ENERGY, "116.00", 0.06, 0.22, 0.85),
    ("CVX", "Chevron Corporation", _ENERGY, "154.00", 0.06, 0.22, 0.90),
    ("COP", "ConocoPhillips", _ENERGY, "90.00", 0.06, 0.26, 1.00),
    ("CAT", "Caterpillar Inc.", _INDU, "575.00", 0.09, 0.24, 1.15),
    ("BA", "The Boeing Company", _INDU, "205.00", 0.08, 0.34, 1.30),
    ("GE", "GE Aerospace", _INDU, "300.00", 0.10, 0.26, 1.20),
    ("HON", "Honeywell International Inc.", _INDU, "198.00", 0.07, 0.17, 0.95),
    ("UPS", "United Parcel Service, Inc.", _INDU, "96.00", 0.06, 0.24, 0.95),
    ("RTX", "RTX Corporation", _INDU, "172.00", 0.08, 0.18, 0.80),
    ("NEE", "NextEra Energy, Inc.", _UTIL, "84.00", 0.07, 0.20, 0.65),
    ("DUK", "Duke Energy Corporation", _UTIL, "124.00", 0.05, 0.13, 0.50),
    ("SO", "The Southern Company", _UTIL, "93.00", 0.05, 0.13, 0.50),
    ("PLD", "Prologis, Inc.", _REIT, "126.00", 0.07, 0.22, 1.05),
    ("AMT", "American Tower Corporation", _REIT, "182.00", 0.06, 0.22, 0.85),
    ("LIN", "Linde plc", _MAT, "420.00", 0.08, 0.15, 0.85),
    ("NEM", "Newmont Corporation", _MAT, "88.00", 0.07, 0.35, 0.55),
    ("FCX", "Freeport-McMoRan Inc.", _MAT, "42.00", 0.08, 0.35, 1.50),
]
# fmt: on

MARKET: list[Listing] = [
    Listing(
        symbol=symbol,
        name=name,
        sector=sector,
        price=Decimal(price),
        drift=drift,
        volatility=volatility,
        beta=beta,
    )
    for symbol, name, sector, price, drift, volatility, beta in _ROWS
] + [
    # Tracks the market factor: beta 1, the market's drift, almost no company risk.
    Listing(
        symbol=INDEX_SYMBOL,
        name="TradeSim Total Market Index Fund",
        sector="Index Fund",
        price=Decimal("500.00"),
        drift=DEFAULT_MODEL.drift,
        volatility=0.01,
        beta=1.0,
        is_index=True,
    ),
]
