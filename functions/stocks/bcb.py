"""Banco Central do Brasil SGS time series (SELIC, CDI, IPCA, PTAX), parsed exactly.

API: ``https://api.bcb.gov.br/dados/serie/bcdata.sgs.{code}/dados?formato=json&dataInicial=dd/MM/yyyy&dataFinal=dd/MM/yyyy``
answers a JSON list ``[{"data": "02/01/2024", "valor": "11.65"}, ...]``. Unlike the B3 files,
``valor`` uses a DOT decimal separator; it is parsed to ``Decimal`` as written (stored as
decimal(20,8), so at most 8 decimals and 12 integer digits are accepted).

Daily series answer at most a 10-year window per request (a longer one gets an error object), so
:class:`SgsClient` splits the range with :func:`windows`; the monthly IPCA is one request.
:func:`request_windows` decides which, and is the single place the cassette generator
(``finlake.samples.bcb``) and the client agree on the URLs.

What the API really sends (handled in :meth:`SgsClient.get`, i.e. in Fetch):

- an HTTP 200 whose body is an XHTML error page behind an XML prolog ("Requisição inválida!",
  python-bcb #27, GetBCBData #6; gone on retry), or a JSON error object: retried, then
  ``SourceUnavailable`` (the stocks run warns and loads the quotes without that series);
- ``{"erro": {"statusCode": 404, "detail": "Value(s) not found"}}`` (HTTP 404 or 200) for a
  window without points, e.g. before the series starts: a valid answer with no points, as ``[]``;
- points outside the window asked for (the last value before it, for a window past the last
  publication; pySGS #24): :func:`parse_sgs` with ``window`` keeps the window's points only.

Errors: :class:`SgsError` for anything else the API answered that is not a list of points
(invalid JSON, a 404 page for an unknown series, bad dates or values, naming the index and the
value). Network problems come from the Http layer as ``SourceUnavailable``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from functions.common.http import (
    Http,
    HttpResponse,
    SourceFormatError,
    get_file,
    json_error,
    looks_like_html,
    snippet,
)
from functions.common.text import UndecodableText, charset_of, decode

SGS_URL = (
    "https://api.bcb.gov.br/dados/serie/bcdata.sgs.{code}/dados"
    "?formato=json&dataInicial={start:%d/%m/%Y}&dataFinal={end:%d/%m/%Y}"
)
WINDOW_YEARS = 10
VALUE_PLACES = 8
VALUE_INTEGER_DIGITS = 12  # decimal(20,8)


@dataclass(frozen=True)
class SeriesInfo:
    """One BCB SGS series: finlake's name, its SGS code, unit (as BCB writes it), frequency and description."""

    name: str
    code: int
    unit: str
    frequency: str  # "daily" or "monthly"
    description: str


SERIES_INFO: dict[str, SeriesInfo] = {
    info.name: info
    for info in (
        SeriesInfo("selic_target", 432, "% a.a.", "daily", "SELIC target rate set by Copom"),
        SeriesInfo("selic_daily", 11, "% a.d.", "daily", "SELIC effective daily rate"),
        SeriesInfo("cdi_daily", 12, "% a.d.", "daily", "CDI (DI interbank) daily rate"),
        SeriesInfo("ipca_monthly", 433, "% a.m.", "monthly", "IPCA consumer price index, monthly change"),
        SeriesInfo("usd_brl", 1, "BRL per USD", "daily", "USD/BRL exchange rate, PTAX sell (venda)"),
    )
}
SERIES: dict[str, int] = {name: info.code for name, info in SERIES_INFO.items()}

_DATE_RE = re.compile(r"(?P<d>[0-9]{2})/(?P<m>[0-9]{2})/(?P<y>[0-9]{4})")
_VALUE_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

SERIES_SCHEMA = pa.schema(
    [
        pa.field("series", pa.string(), nullable=False),
        pa.field("code", pa.int32(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("value", pa.decimal128(20, 8), nullable=False),
    ]
)


class SgsError(SourceFormatError, ValueError):
    """The SGS API answered, but not with a list of points."""


@dataclass(frozen=True)
class SeriesPoint:
    """One point of an SGS series: the day (``data``, dd/MM/yyyy in the source) and its exact value."""

    series: str
    code: int
    date: date
    value: Decimal


# --------------------------------------------------------------------------- windows and URLs


def series_info(name: str) -> SeriesInfo:
    """The :class:`SeriesInfo` of a finlake series name ("cdi_daily" ...).

    Raises
    ------
    ValueError
        For a name that is not in :data:`SERIES_INFO`.
    """
    try:
        return SERIES_INFO[name]
    except KeyError:
        raise ValueError(f"unknown SGS series {name!r}; expected one of {sorted(SERIES_INFO)}") from None


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February -> 28 February
        return day.replace(year=day.year + years, day=28)


def windows(start: date, end: date, years: int = WINDOW_YEARS) -> list[tuple[date, date]]:
    """Split ``[start, end]`` (inclusive) into consecutive windows of at most ``years`` years.

    ``windows(date(2000, 1, 1), date(2026, 11, 22))`` -> 2000-01-01..2009-12-31,
    2010-01-01..2019-12-31, 2020-01-01..2026-11-22: no gap, no overlap.
    """
    if years < 1:
        raise ValueError(f"years must be >= 1, got {years}")
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    result: list[tuple[date, date]] = []
    window_start = start
    while window_start <= end:
        window_end = min(_add_years(window_start, years) - timedelta(days=1), end)
        result.append((window_start, window_end))
        window_start = window_end + timedelta(days=1)
    return result


def request_windows(name: str, start: date, end: date) -> list[tuple[date, date]]:
    """The windows the client requests: 10-year windows for daily series, one for monthly ones."""
    if series_info(name).frequency == "daily":
        return windows(start, end)
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    return [(start, end)]


def sgs_url(code: int, start: date, end: date) -> str:
    """The SGS API URL (JSON) for series ``code`` from ``start`` to ``end``, both inclusive."""
    return SGS_URL.format(code=code, start=start, end=end)


# --------------------------------------------------------------------------- parse / format


def _parse_date(text: Any, where: str) -> date:
    match = _DATE_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise SgsError(f"{where}: expected 'data' as dd/MM/yyyy, got {text!r}")
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError as exc:
        raise SgsError(f"{where}: 'data' is not a calendar date: {text!r} ({exc})") from exc


def _parse_value(text: Any, where: str) -> Decimal:
    stripped = text.strip() if isinstance(text, str) else None
    if stripped is None or not _VALUE_RE.fullmatch(stripped):
        raise SgsError(f"{where}: expected 'valor' as a dot-decimal number like 13.65, got {text!r}")
    integer, _, fraction = stripped.lstrip("-").partition(".")
    if len(fraction) > VALUE_PLACES or len(integer.lstrip("0")) > VALUE_INTEGER_DIGITS:
        raise SgsError(
            f"{where}: 'valor' {text!r} does not fit decimal(20,8) "
            f"(at most {VALUE_INTEGER_DIGITS} integer digits and {VALUE_PLACES} decimals)"
        )
    return Decimal(stripped)


NO_VALUE = "value(s) not found"


def no_points(body: bytes) -> bool:
    """True for SGS's "Value(s) not found" answer to a window without points.

    True for SGS's answer to a window without points: ``{"erro": {"statusCode": 404, "detail":
    "Value(s) not found"}}`` (or the same under ``error``).
    """
    error = json_error(body)
    return error is not None and NO_VALUE in error.lower()


def _load(body: bytes, where: str, content_type: str | None) -> list[Any]:
    if not body.strip(b"\xef\xbb\xbf \t\r\n"):
        raise SgsError(f"{where}: expected a JSON list of points, got an empty body")
    if looks_like_html(body, content_type):
        raise SgsError(f"{where}: expected a JSON list of points, got HTML: {snippet(body)!r}")
    if no_points(body):
        return []
    try:
        payload = json.loads(decode(body, declared=charset_of(content_type), where=where).text)
    except (UndecodableText, json.JSONDecodeError, RecursionError) as exc:
        raise SgsError(f"{where}: expected a JSON list of points, got invalid JSON ({exc}): {snippet(body)!r}") from exc
    if isinstance(payload, dict) and ("error" in payload or "erro" in payload or "message" in payload):
        detail = payload.get("error") or payload.get("erro") or payload.get("message") or json.dumps(payload)
        raise SgsError(f"{where}: the SGS API answered an error: {snippet(str(detail), 200)}")
    if not isinstance(payload, list):
        raise SgsError(f"{where}: expected a JSON list of points, got {snippet(body)!r}")
    return payload


def parse_sgs(
    body: bytes,
    name: str,
    *,
    where: str = "SGS response",
    content_type: str | None = None,
    window: tuple[date, date] | None = None,
) -> list[SeriesPoint]:
    """The points of one SGS answer, in the order received; ``[]`` and "Value(s) not found" give none.

    With ``window`` (first, last day asked for, inclusive) points outside it are dropped.
    """
    code = series_info(name).code
    points: list[SeriesPoint] = []
    for index, item in enumerate(_load(body, where, content_type)):
        at = f"{where}, item {index}"
        if not isinstance(item, dict):
            raise SgsError(f"{at}: expected an object with 'data' and 'valor', got {snippet(json.dumps(item))!r}")
        points.append(SeriesPoint(name, code, _parse_date(item.get("data"), at), _parse_value(item.get("valor"), at)))
    if window is not None:
        points = [point for point in points if window[0] <= point.date <= window[1]]
    return points


def url_window(url: str) -> tuple[date, date] | None:
    """The (dataInicial, dataFinal) of an SGS URL, or None when it has not both."""
    found = dict(re.findall(r"data(Inicial|Final)=([0-9]{2}/[0-9]{2}/[0-9]{4})", url))
    if set(found) != {"Inicial", "Final"}:
        return None
    first, last = (_parse_date(found[key], url) for key in ("Inicial", "Final"))
    return first, last


def format_sgs(points: Iterable[SeriesPoint]) -> bytes:
    """The inverse of :func:`parse_sgs`: the JSON the SGS API would answer for these points."""
    items = [{"data": f"{point.date:%d/%m/%Y}", "valor": format(point.value, "f")} for point in points]
    return json.dumps(items, separators=(",", ":")).encode("utf-8")


def merge_points(chunks: Iterable[list[SeriesPoint]]) -> list[SeriesPoint]:
    """Points of consecutive windows, sorted by date, with dates repeated at the boundaries kept once.

    A repeated date with a different value is a contradiction in the source and raises SgsError.
    """
    by_date: dict[date, SeriesPoint] = {}
    for chunk in chunks:
        for point in chunk:
            previous = by_date.setdefault(point.date, point)
            if previous.value != point.value:
                raise SgsError(
                    f"{point.series}: {point.date:%d/%m/%Y} answered twice with different values "
                    f"({previous.value} and {point.value})"
                )
    return [by_date[day] for day in sorted(by_date)]


# --------------------------------------------------------------------------- client


class SgsClient:
    """Fetches one SGS series over a date range through an injected :class:`Http`."""

    def __init__(self, http: Http, *, timeout: float = 30.0) -> None:
        self.http = http
        self.timeout = timeout

    def urls(self, name: str, start: date, end: date) -> list[str]:
        """The SGS URLs for series ``name`` over [start, end], one per :func:`request_windows` window."""
        code = series_info(name).code
        return [
            sgs_url(code, window_start, window_end) for window_start, window_end in request_windows(name, start, end)
        ]

    def fetch(self, name: str, start: date, end: date) -> tuple[list[bytes], list[SeriesPoint]]:
        """The raw bodies as received (one per window) and the merged, de-duplicated points."""
        bodies: list[bytes] = []
        chunks: list[list[SeriesPoint]] = []
        for url in self.urls(name, start, end):
            response = self.get(url)
            content_type = response.header("content-type")
            chunks.append(parse_sgs(response.body, name, where=url, content_type=content_type, window=url_window(url)))
            bodies.append(response.body)
        return bodies, merge_points(chunks)

    def get(self, url: str) -> HttpResponse:
        """The answer for ``url``: a JSON list of points or SGS's "Value(s) not found" (HTTP 200 or 404).

        An error page or another JSON error is retried, then SourceUnavailable.
        """
        response = get_file(
            self.http,
            url,
            timeout=self.timeout,
            expect="json",
            accept=frozenset({200, 404}),
            error=SgsError,
            fine=no_points,
        )
        if response.status != 200 and not no_points(response.body):
            raise SgsError(f"expected HTTP 200 from {url}, got {response.status}: {snippet(response.body)!r}")
        return response


# --------------------------------------------------------------------------- table and helpers


def series_table(points: Iterable[SeriesPoint]) -> pa.Table:
    """The points as an Arrow table of :data:`SERIES_SCHEMA` (value decimal(20,8))."""
    rows = list(points)
    return pa.table(
        {
            "series": [point.series for point in rows],
            "code": [point.code for point in rows],
            "date": [point.date for point in rows],
            "value": [point.value for point in rows],
        },
        schema=SERIES_SCHEMA,
    )


def daily_factor(points: Iterable[SeriesPoint]) -> dict[date, Decimal]:
    """``{date: 1 + value/100}`` for a daily-rate series (``cdi_daily``, ``selic_daily``), exact.

    ``0.055131`` (% a.d.) -> ``Decimal("1.00055131")``.
    """
    factors: dict[date, Decimal] = {}
    for point in points:
        if series_info(point.series).unit != "% a.d.":
            raise ValueError(f"daily_factor needs a daily-rate series (% a.d.), got {point.series!r}")
        factors[point.date] = 1 + point.value.scaleb(-2)
    return factors
