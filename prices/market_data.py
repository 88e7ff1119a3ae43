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
    # Corporate actions (prices.actions): the annual dividend yield, the day of each 63-day
    # quarter the stock goes ex-dividend and the day it reports earnings (None: never), and
    # the typical size of an earnings surprise as a log move.
    dividend_yield: float = 0.0
    dividend_day: int | None = None
    earnings_day: int | None = None
    earnings_volatility: float = 0.05


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

# Corporate actions: symbol → annual dividend yield, ex-dividend day of the quarter (None:
# pays none), earnings day of the quarter, typical earnings surprise (log). Yields are
# about what these companies paid going into 2026 (utilities, staples, energy and telecoms
# 2–7 %, big tech under 1 %, growth names nothing); the reports fall between days 10 and
# 49 of each 63-day quarter, a few every week, as real earnings seasons spread out.
_ACTIONS = {
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
}
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
        dividend_yield=_ACTIONS[symbol][0],
        dividend_day=_ACTIONS[symbol][1],
        earnings_day=_ACTIONS[symbol][2],
        earnings_volatility=_ACTIONS[symbol][3],
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
        # The fund passes on its holdings' dividends (about 1.3 % a year); it reports no
        # earnings of its own.
        dividend_yield=0.013,
        dividend_day=61,
    ),
]
