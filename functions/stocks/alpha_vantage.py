"""Alpha Vantage daily prices of a US watchlist (SPDR sector ETFs and SPY by default).

API: ``https://www.alphavantage.co/query?function=TIME_SERIES_DAILY_ADJUSTED&symbol=XLK&outputsize=compact
&datatype=json&apikey=<key>`` answers HTTP 200 with::

    {"Meta Data": {"1. Information": "Daily Time Series with Splits and Dividend Events", "2. Symbol": "XLK",
                   "3. Last Refreshed": "2024-05-17", "4. Output Size": "Compact", "5. Time Zone": "US/Eastern"},
     "Time Series (Daily)": {"2024-05-17": {"1. open": "210.1000", "2. high": "211.0000", "3. low": "209.5000",
                                            "4. close": "210.8000", "5. adjusted close": "210.8000",
                                            "6. volume": "4712000", "7. dividend amount": "0.0000",
                                            "8. split coefficient": "1.0"}, ...}}

``outputsize=compact`` is the latest 100 sessions, ``full`` the whole history. ``TIME_SERIES_DAILY`` (the
endpoint a free key may call) has the same shape with ``"5. volume"`` and no adjusted close, dividend or
split. Prices in USD, dates in US/Eastern, as written (parsed to ``Decimal``).

The adjusted close is back-adjusted as of the answer's last day: every new dividend rewrites the
history, so adjusted closes fetched on different days do not chain. Returns are therefore computed
from the unadjusted fields (see glue/stocks_transform.py: ``(close x split + dividend) / previous close - 1``).

What Alpha Vantage answers instead of data, always with HTTP 200 (docs and its users' reports:
RomelTorres/alpha_vantage #211 #349, finance-quote #104 #363):

- ``{"Error Message": "the parameter apikey is invalid or missing. ..."}``: :class:`InvalidKey`;
- ``{"Error Message": "Invalid API call. ..."}`` (an unknown symbol): :class:`AlphaVantageError`;
- ``{"Information": "Thank you for using Alpha Vantage! This is a premium endpoint. ..."}``: the key's plan
  lacks the endpoint (TIME_SERIES_DAILY_ADJUSTED has been premium since 2023): :class:`PremiumEndpoint`;
- ``{"Note": "... standard API call frequency is 5 calls per minute and 500 calls per day ..."}`` (older),
  ``{"Information": "... Please consider spreading out your free API requests more sparingly (1 request per
  second) ..."}`` and ``{"Information": "... Our standard API rate limit is 25 requests per day ..."}``:
  :class:`RateLimited`, a transient source problem (a :class:`SourceUnavailable`), retried with
  exponential backoff unless it is the daily limit; never stored as raw data.

The key travels only in the query string: every URL shown or stored goes through ``redact``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from functions.common.http import (
    Http,
    HttpResponse,
    SourceError,
    SourceFormatError,
    SourceUnavailable,
    get_file,
    redact,
    snippet,
)

AV_URL = (
    "https://www.alphavantage.co/query?function={function}&symbol={symbol}&outputsize={size}&datatype=json&apikey={key}"
)
SERIES_KEY = "Time Series (Daily)"
PRICE_TYPE = pa.decimal128(22, 8)
_SYMBOL = re.compile(r"[A-Z0-9.\-]{1,12}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FIELDS_ADJUSTED = {
    "open": "1. open",
    "high": "2. high",
    "low": "3. low",
    "close": "4. close",
    "adjusted_close": "5. adjusted close",
    "volume": "6. volume",
    "dividend_amount": "7. dividend amount",
    "split_coefficient": "8. split coefficient",
}
_FIELDS_DAILY = {"open": "1. open", "high": "2. high", "low": "3. low", "close": "4. close", "volume": "5. volume"}

QUOTES_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("open", PRICE_TYPE, nullable=False),
        pa.field("high", PRICE_TYPE, nullable=False),
        pa.field("low", PRICE_TYPE, nullable=False),
        pa.field("close", PRICE_TYPE, nullable=False),
        pa.field("adjusted_close", PRICE_TYPE, nullable=True),
        pa.field("volume", pa.int64(), nullable=False),
        pa.field("dividend_amount", PRICE_TYPE, nullable=True),
        pa.field("split_coefficient", PRICE_TYPE, nullable=True),
        pa.field("function", pa.string(), nullable=False),
    ]
)


class AlphaVantageError(SourceFormatError):
    """Alpha Vantage answered an error (``Error Message``) or not the daily series."""


class InvalidKey(AlphaVantageError):
    """The key is invalid or missing: every other request would be refused the same way."""


class PremiumEndpoint(AlphaVantageError):
    """The key's plan does not include the function (TIME_SERIES_DAILY_ADJUSTED is premium)."""


class RateLimited(SourceUnavailable):
    """Alpha Vantage's rate-limit answer (a ``Note`` or an ``Information``): try later."""

    def __init__(self, message: str, *, daily: bool) -> None:
        super().__init__(message)
        self.daily = daily


@dataclass(frozen=True)
class DailyBar:
    """One session of a symbol as Alpha Vantage reports it.

    Prices in USD as ``Decimal`` (stored as decimal(22,8)), ``date`` the session day in US/Eastern,
    ``volume`` in shares. ``adjusted_close``, ``dividend_amount`` and ``split_coefficient`` are None from
    ``TIME_SERIES_DAILY``, which lacks them.
    """

    symbol: str
    date: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    adjusted_close: Decimal | None
    volume: int
    dividend_amount: Decimal | None
    split_coefficient: Decimal | None


def check_symbol(symbol: str) -> str:
    """Return ``symbol`` when it looks like a ticker (upper-case letters, digits, '.', '-').

    Raises
    ------
    ValueError
        When it does not (it is put in a URL).
    """
    if not _SYMBOL.fullmatch(symbol):
        raise ValueError(f"not a ticker symbol: {symbol!r} (upper-case letters, digits, '.', '-')")
    return symbol


def av_url(function: str, symbol: str, size: str, api_key: str) -> str:
    """The query URL (with the key: :func:`redact` it before showing or storing it)."""
    if size not in ("compact", "full"):
        raise ValueError(f"outputsize must be compact or full, got {size!r}")
    return AV_URL.format(function=function, symbol=check_symbol(symbol), size=size, key=api_key)


def refusal(body: bytes) -> AlphaVantageError | RateLimited | None:
    """The error Alpha Vantage's HTTP 200 answer stands for, or None when it is not one of its refusals."""
    try:
        payload = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict) or SERIES_KEY in payload:
        return None
    for key in ("Error Message", "Note", "Information"):
        text = payload.get(key)
        if not isinstance(text, str):
            continue
        said = f'{key}: "{" ".join(text.split())}"'
        lower = text.lower()
        if key == "Error Message":
            return (InvalidKey if "apikey" in lower else AlphaVantageError)(
                f"Alpha Vantage refused the request: {said}"
            )
        if "premium endpoint" in lower:
            return PremiumEndpoint(
                f"Alpha Vantage refused the request, the key's plan lacks this endpoint: {said}; with a free key set "
                "the alpha_vantage.function context to TIME_SERIES_DAILY"
            )
        if any(word in lower for word in ("rate limit", "call frequency", "more sparingly", "per day", "per minute")):
            return RateLimited(f"Alpha Vantage rate limit: {said}", daily="per day" in lower and "minute" not in lower)
        return AlphaVantageError(f"Alpha Vantage answered no data: {said}")
    return None


def _decimal(item: dict[str, Any], field: str, where: str) -> Decimal:
    text = item.get(field)
    try:
        value = Decimal(text.strip()) if isinstance(text, str) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or -value.as_tuple().exponent > 8:  # type: ignore[operator]
        raise AlphaVantageError(f"{where}: expected {field!r} as a decimal string, got {text!r}")
    return value


def parse_daily(body: bytes, symbol: str, *, where: str = "Alpha Vantage response") -> list[DailyBar]:
    """The bars of one TIME_SERIES_DAILY[_ADJUSTED] answer, oldest first.

    Raises the refusal the body is (:func:`refusal`), or AlphaVantageError for anything that is not the
    documented series of ``symbol`` (naming the date and field).
    """
    if (error := refusal(body)) is not None:
        raise error
    try:
        payload = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AlphaVantageError(
            f"{where}: expected Alpha Vantage's JSON, got invalid JSON ({exc}): {snippet(body)!r}"
        ) from exc
    series = payload.get(SERIES_KEY) if isinstance(payload, dict) else None
    meta = payload.get("Meta Data") if isinstance(payload, dict) else None
    if not isinstance(series, dict) or not isinstance(meta, dict):
        raise AlphaVantageError(f"{where}: expected 'Meta Data' and {SERIES_KEY!r}, got {snippet(body)!r}")
    answered = str(meta.get("2. Symbol", "")).upper()
    if answered != symbol.upper():
        raise AlphaVantageError(f"{where}: asked for {symbol}, the answer is for {answered or 'no symbol'}")
    bars = []
    for day_text, item in sorted(series.items()):
        at = f"{where}, {symbol} {day_text}"
        if not _DATE.fullmatch(day_text) or not isinstance(item, dict):
            raise AlphaVantageError(f"{at}: expected a YYYY-MM-DD key with an object of prices")
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise AlphaVantageError(f"{at}: not a calendar date") from None
        adjusted = "5. adjusted close" in item
        fields = _FIELDS_ADJUSTED if adjusted else _FIELDS_DAILY
        values = {name: _decimal(item, field, at) for name, field in fields.items()}
        if values["volume"] != values["volume"].to_integral_value() or values["volume"] < 0:
            raise AlphaVantageError(f"{at}: volume {item.get(fields['volume'])!r} is not a whole number")
        bars.append(
            DailyBar(
                symbol,
                day,
                values["open"],
                values["high"],
                values["low"],
                values["close"],
                values.get("adjusted_close"),
                int(values["volume"]),
                values.get("dividend_amount"),
                values.get("split_coefficient"),
            )
        )
    return bars


def format_daily(bars: Iterable[DailyBar], symbol: str, *, size: str, adjusted: bool = True) -> bytes:
    """The inverse of :func:`parse_daily`: Alpha Vantage's JSON for these bars (newest first, as it answers)."""
    rows = sorted(bars, key=lambda bar: bar.date, reverse=True)
    series = {}
    for bar in rows:
        item = {
            "1. open": f"{bar.open:.4f}",
            "2. high": f"{bar.high:.4f}",
            "3. low": f"{bar.low:.4f}",
            "4. close": f"{bar.close:.4f}",
        }
        if adjusted:
            item |= {
                "5. adjusted close": format(bar.adjusted_close if bar.adjusted_close is not None else bar.close, "f"),
                "6. volume": str(bar.volume),
                "7. dividend amount": f"{bar.dividend_amount or Decimal(0):.4f}",
                "8. split coefficient": format(bar.split_coefficient or Decimal("1.0"), "f"),
            }
        else:
            item["5. volume"] = str(bar.volume)
        series[f"{bar.date:%Y-%m-%d}"] = item
    meta = {
        "1. Information": "Daily Time Series with Splits and Dividend Events"
        if adjusted
        else "Daily Prices (open, high, low, close) and Volumes",
        "2. Symbol": symbol,
        "3. Last Refreshed": f"{rows[0].date:%Y-%m-%d}" if rows else "",
        "4. Output Size": "Full size" if size == "full" else "Compact",
        "5. Time Zone": "US/Eastern",
    }
    return json.dumps({"Meta Data": meta, SERIES_KEY: series}, indent=4).encode()


class AlphaVantageClient:
    """Alpha Vantage's daily series, one symbol at a time, paced and retried on rate limits.

    Fetches daily series one symbol at a time, at most one request per ``pause_s`` seconds; a
    rate-limit answer is retried after ``pause_s x 2^attempt`` (``retries`` times) unless it is the daily one.
    """

    def __init__(
        self,
        http: Http,
        api_key: str,
        *,
        function: str,
        pause_s: float,
        retries: int = 2,
        timeout: float = 60.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.http = http
        self._key = api_key
        self.function = function
        self.pause_s = pause_s
        self.retries = retries
        self.timeout = timeout
        self.sleep = sleep or time.sleep
        self.requests = 0

    def url(self, symbol: str, size: str) -> str:
        """The URL as it may be shown and stored (the key replaced by ``***``)."""
        return redact(av_url(self.function, symbol, size, self._key))

    def _get(self, url: str) -> HttpResponse:
        if self.requests:
            self.sleep(self.pause_s)
        self.requests += 1
        try:
            return get_file(self.http, url, timeout=self.timeout, expect="json-object", error=AlphaVantageError)
        except SourceError as exc:
            raise type(exc)(redact(str(exc))) from None

    def get(self, symbol: str, size: str) -> tuple[HttpResponse, list[DailyBar], int]:
        """(the answer, its bars, how many rate-limit answers came first).

        Raises the refusal (InvalidKey, PremiumEndpoint, AlphaVantageError, RateLimited after the
        retries) naming the redacted URL.
        """
        url = av_url(self.function, symbol, size, self._key)
        shown = redact(url)
        limited = 0
        while True:
            response = self._get(url)
            error = refusal(response.body)
            if isinstance(error, RateLimited) and not error.daily and limited < self.retries:
                limited += 1
                self.sleep(self.pause_s * 2**limited)
                continue
            if error is not None:
                raise type(error)(
                    f"{shown}: {error}", **({"daily": error.daily} if isinstance(error, RateLimited) else {})
                )
            return response, parse_daily(response.body, symbol, where=shown), limited


def quotes_table(bars: Iterable[DailyBar], function: str) -> pa.Table:
    """The bars as an Arrow table of :data:`QUOTES_SCHEMA`, each row tagged with the ``function`` that fetched it."""
    rows = list(bars)
    columns: dict[str, list[Any]] = {name: [getattr(bar, name) for bar in rows] for name in QUOTES_SCHEMA.names[:-1]}
    columns["function"] = [function] * len(rows)
    return pa.table(columns, schema=QUOTES_SCHEMA)
