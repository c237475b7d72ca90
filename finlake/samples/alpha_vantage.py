"""Deterministic Alpha Vantage answers for local mode and tests, in its documented JSON (never the network).

Each symbol is one invented path from :data:`EPOCH` (same seed, same bytes; any window agrees with any
other): SPY's daily return is N(0.04%, 1%); every other symbol's is ``beta x SPY + N(0, 0.8%)`` with a beta
between 0.6 and 1.4 taken from the symbol's name. Sessions are US weekdays except the fixed-date holidays of
``finlake.samples.fred.us_holidays``. Each symbol goes ex a quarterly dividend (~0.4% of the price) on the
third Friday of March, June, September and December; the adjusted close is back-adjusted for them as of the
answer's last day, as Alpha Vantage's is (a later dividend rewrites the earlier adjusted closes).

:func:`av_answer` is the HTTP 200 body for a request: the series (the last 100 sessions for
``compact``, all since :data:`EPOCH` for ``full``), or one of Alpha Vantage's refusals: :data:`INVALID_KEY`
for a key other than :data:`LOCAL_KEY`, :data:`INVALID_CALL` for an unknown symbol, :data:`BURST_LIMIT`,
:data:`DAILY_LIMIT` and :data:`MINUTE_LIMIT` (its rate-limit answers) and :data:`PREMIUM` (a free key asking
for the adjusted series).
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from finlake.samples.fred import us_holidays
from functions.stocks.alpha_vantage import DailyBar, format_daily
from functions.stocks.global_sources import DEFAULT_WATCHLIST

EPOCH = date(2019, 1, 2)
COMPACT = 100
LOCAL_KEY = "FINLAKELOCAL0001"  # Alpha Vantage keys are 16 upper-case alphanumerics
FREE_KEY = "FINLAKEFREEKEY01"  # a free-plan key: the adjusted series is premium
SYMBOLS = DEFAULT_WATCHLIST  # the sample answers every symbol the source fetches by default
CENT = Decimal("0.0001")

INVALID_KEY = {
    "Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
}
INVALID_CALL = {
    "Error Message": "Invalid API call. Please retry or visit the documentation "
    "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY_ADJUSTED."
}
PREMIUM = {
    "Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of "
    "the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"
}
BURST_LIMIT = {
    "Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more "
    "sparingly (1 request per second). You may subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day), raise the per "
    "minute limit to a higher amount corresponding to your chosen plan, and disable all daily rate limits."
}
DAILY_LIMIT = {
    "Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please "
    "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily "
    "rate limits."
}
MINUTE_LIMIT = {
    "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 "
    "calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API "
    "call frequency."
}


def sessions(start: date, end: date) -> list[date]:
    """US market sessions from ``start`` to ``end`` (inclusive): weekdays that are not fixed-date holidays."""
    days, day = [], start
    while day <= end:
        if day.weekday() < 5 and day not in us_holidays(day.year):
            days.append(day)
        day += timedelta(days=1)
    return days


def _beta(symbol: str) -> float:
    return 0.6 + 0.8 * int(hashlib.sha256(symbol.encode()).hexdigest()[:4], 16) / 0xFFFF


def _dividend_day(day: date) -> bool:
    return day.month in (3, 6, 9, 12) and day.weekday() == 4 and 15 <= day.day <= 21


@lru_cache(maxsize=8)
def _market(seed: int, end: date) -> tuple[float, ...]:
    rng = random.Random(f"finlake-av:{seed}:SPY")
    return tuple(rng.gauss(0.0004, 0.01) for _ in sessions(EPOCH, end))


@lru_cache(maxsize=32)
def bars(symbol: str, end: date, *, seed: int = 7) -> tuple[DailyBar, ...]:
    """Every bar of ``symbol`` from :data:`EPOCH` to ``end``, adjusted closes as of ``end``."""
    if symbol not in SYMBOLS:
        raise ValueError(f"no sample Alpha Vantage symbol {symbol!r}; known: {SYMBOLS}")
    market = _market(seed, end)
    rng = random.Random(f"finlake-av:{seed}:{symbol}")
    beta = 1.0 if symbol == "SPY" else _beta(symbol)
    price, rows = 50.0 + 400.0 * _beta(symbol + "price") / 1.4, []
    for day, m in zip(sessions(EPOCH, end), market, strict=True):
        r = m if symbol == "SPY" else beta * m + rng.gauss(0.0, 0.008)
        previous, price = price, price * (1 + r)
        dividend = Decimal(f"{previous * 0.004:.4f}") if _dividend_day(day) else Decimal(0)
        close = Decimal(f"{price:.4f}") - dividend  # the price falls by the dividend on the ex date
        price = float(close)
        spread = abs(rng.gauss(0, 0.004)) * price
        high, low = Decimal(f"{max(previous, price) + spread:.4f}"), Decimal(f"{min(previous, price) - spread:.4f}")
        rows.append((day, Decimal(f"{previous:.4f}"), high, low, close, dividend, int(rng.uniform(2e6, 2e7))))
    factor, adjusted = Decimal(1), []
    for index in range(len(rows) - 1, -1, -1):  # back-adjust from the last day
        day, open_, high, low, close, dividend, volume = rows[index]
        adjusted.append(
            DailyBar(
                symbol,
                day,
                open_,
                high,
                low,
                close,
                (close * factor).quantize(CENT, ROUND_HALF_UP),
                volume,
                dividend,
                Decimal("1.0"),
            )
        )
        if dividend and index:
            factor *= 1 - dividend / rows[index - 1][4]
    return tuple(reversed(adjusted))


def av_answer(
    function: str,
    symbol: str,
    size: str,
    api_key: str,
    *,
    as_of: date,
    seed: int = 7,
    registered: tuple[str, str] = (LOCAL_KEY, FREE_KEY),
) -> tuple[int, bytes]:
    """(HTTP status, body) Alpha Vantage answers for one request (always HTTP 200).

    ``registered``: the keys it knows (the full one, then the free one).
    """
    if api_key not in registered:
        return 200, json.dumps(INVALID_KEY, indent=4).encode()
    if function == "TIME_SERIES_DAILY_ADJUSTED" and api_key == registered[1]:
        return 200, json.dumps(PREMIUM, indent=4).encode()
    if symbol not in SYMBOLS or function not in ("TIME_SERIES_DAILY_ADJUSTED", "TIME_SERIES_DAILY"):
        return 200, json.dumps(INVALID_CALL, indent=4).encode()
    series = bars(symbol, as_of, seed=seed)
    chosen = series[-COMPACT:] if size == "compact" else series
    return 200, format_daily(chosen, symbol, size=size, adjusted=function == "TIME_SERIES_DAILY_ADJUSTED")


def refusal(answer: dict[str, str]) -> tuple[int, bytes]:
    """One of the refusals above as Alpha Vantage sends it."""
    return 200, json.dumps(answer, indent=4).encode()
