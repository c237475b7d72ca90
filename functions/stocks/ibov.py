"""The IBOV theoretical portfolio ("Carteira do Dia") published by B3, parsed exactly.

Two source formats describe the same portfolio:

1. The CSV download ``IBOVDia_dd-mm-yy.csv``: latin-1 (a UTF-8 copy is accepted too), ``;``
   delimiter, a title line ``IBOV - Carteira do Dia 03/10/25``, the header
   ``Código;Ação;Tipo;Qtde. Teórica;Part. (%)``, one row per stock ending in ``;``, then the
   footers ``Quantidade Teórica Total;;;90.587.133.892;100,000`` and
   ``Redutor;;;15.019.274,20202473``.
2. The JSON endpoint behind the B3 web page (:func:`portfolio_url`), paged with ``pageNumber`` up
   to ``page.totalPages``. ``segment: "2"`` adds each stock's sector (``results[].segment``).

Numbers are pt-BR (``466.632.333``, ``0,544``) and are parsed exactly: quantities to ``int``,
weights to ``Decimal`` with 3 places (stored as decimal(9,3)), the reducer to ``Decimal`` with 8
places (decimal(24,8)). Never float.

Validation raises :class:`PortfolioError` naming the line (CSV) or page and result (JSON) and the
field: HTML or empty bodies, a missing title/header/footer, bad numbers, duplicate tickers, weights
not summing to 100 ± 0.01 and a footer total that differs from the sum of the quantities.
Network problems surface from the :class:`~functions.bndes.ckan.Http` layer as
``SourceUnavailable``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa

from functions.common.http import (
    Http,
    HttpResponse,
    SourceFormatError,
    get_file,
    looks_like_html,
    snippet,
)
from functions.common.ptbr import normalize_column, parse_ptbr_decimal
from functions.common.text import UndecodableText, charset_of, decode

PORTFOLIO_BASE_URL = "https://sistemaswebb3-listados.b3.com.br/indexProxy/indexCall/GetPortfolioDay/"
INDEX = "IBOV"
PAGE_SIZE = 120
SOURCE_CSV = "b3-ibov-csv"
SOURCE_JSON = "b3-ibov-json"
WEIGHT_TOTAL = Decimal(100)
WEIGHT_TOLERANCE = Decimal("0.01")
WEIGHT_PLACES = 3
REDUCER_PLACES = 8

CSV_HEADER = ("codigo", "acao", "tipo", "qtde_teorica", "part")
_TOTAL_LABEL = "quantidade_teorica_total"
_REDUCER_LABEL = "redutor"
_TITLE_RE = re.compile(
    r"carteira do dia\s+(?P<d>[0-9]{1,2})/(?P<m>[0-9]{1,2})/(?P<y>[0-9]{2}|[0-9]{4})\s*$", re.IGNORECASE
)
_DATE_RE = re.compile(r"^(?P<d>[0-9]{1,2})/(?P<m>[0-9]{1,2})/(?P<y>[0-9]{2}|[0-9]{4})$")
_INT_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+")
_TICKER_RE = re.compile(r"^[A-Z0-9]{4,12}$")

PORTFOLIO_SCHEMA = pa.schema(
    [
        pa.field("dt_ref", pa.date32(), nullable=False),
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("theoretical_quantity", pa.int64(), nullable=False),
        pa.field("weight_pct", pa.decimal128(9, 3), nullable=False),
        pa.field("sector", pa.string(), nullable=True),
        pa.field("reducer", pa.decimal128(24, 8), nullable=False),
    ]
)


class PortfolioError(SourceFormatError, ValueError):
    """The portfolio file or JSON page is not a valid IBOV portfolio (format, not network)."""


@dataclass(frozen=True)
class PortfolioRow:
    """One stock of an IBOV portfolio: ticker, company name, share type, theoretical quantity, weight (%, 3 places)."""

    ticker: str
    name: str
    type: str  # as published, e.g. "ON      NM"; portfolio_table collapses the blanks
    theoretical_quantity: int
    weight_pct: Decimal
    sector: str | None = None


@dataclass(frozen=True)
class Portfolio:
    """An IBOV theoretical portfolio of day ``dt_ref`` (B3 "Carteira do Dia", CSV or JSON).

    ``total_quantity`` and ``reducer`` are the footer's (reducer exact to 8 places); ``source`` names the
    format it was parsed from.
    """

    dt_ref: date
    rows: list[PortfolioRow]
    total_quantity: int
    reducer: Decimal
    source: str

    @property
    def weight_sum(self) -> Decimal:
        """The sum of the rows' weights in percent (100 ± 0.01 in a valid portfolio)."""
        return sum((row.weight_pct for row in self.rows), Decimal(0))


# --------------------------------------------------------------------------- scalars


def parse_int(text: str, where: str) -> int:
    """``"466.632.333"`` -> ``466632333``; ``where`` names the line/field in the error."""
    stripped = text.strip()
    if not _INT_RE.fullmatch(stripped):
        raise PortfolioError(f"{where}: expected a whole pt-BR number like 1.234.567, got {text!r}")
    return int(stripped.replace(".", ""))


def parse_decimal(text: str, places: int, where: str) -> Decimal:
    """``"0,544"`` -> ``Decimal("0.544")`` with exactly ``places`` decimals; no sign, no rounding.

    A decimal comma is required: ``"2.358"`` would otherwise read as 2358 (thousands separator).
    """
    if "," not in text:
        raise PortfolioError(f"{where}: expected a pt-BR number with a decimal comma like 1.234,567, got {text!r}")
    try:
        value = parse_ptbr_decimal(text)
    except ValueError as exc:
        raise PortfolioError(f"{where}: expected a pt-BR number like 1.234,567, got {text!r}") from exc
    if value < 0 or text.strip().startswith("("):
        raise PortfolioError(f"{where}: expected a non-negative number, got {text!r}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise PortfolioError(f"{where}: expected at most {places} decimals, got {text!r}")
    return value.quantize(Decimal(1).scaleb(-places))


def parse_short_date(text: str, where: str) -> date:
    """``"03/10/25"`` -> ``date(2025, 10, 3)`` (two-digit years are 20yy); ``dd/mm/yyyy`` too."""
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise PortfolioError(f"{where}: expected a date dd/mm/yy, got {text!r}")
    return _make_date(match, text, where)


def _make_date(match: re.Match[str], text: str, where: str) -> date:
    year = int(match["y"])
    year = 2000 + year if len(match["y"]) == 2 else year
    try:
        return date(year, int(match["m"]), int(match["d"]))
    except ValueError as exc:
        raise PortfolioError(f"{where}: not a calendar date: {text!r} ({exc})") from exc


def _ticker(text: str, where: str) -> str:
    ticker = text.strip()
    if not _TICKER_RE.match(ticker):
        raise PortfolioError(f"{where}: expected a ticker like PETR4, got {text!r}")
    return ticker


def _check_body(body: bytes, what: str, content_type: str | None = None) -> None:
    if not body.strip(b"\xef\xbb\xbf \t\r\n"):
        raise PortfolioError(f"expected {what}, got an empty body")
    if looks_like_html(body, content_type):
        raise PortfolioError(f"expected {what}, got HTML: {snippet(body)!r}")


def _decode(data: bytes, what: str, content_type: str | None = None) -> str:
    """Decode a portfolio body to text, rejecting the portfolio when it is not clean.

    The text (functions.common.text: B3 publishes the CSV in latin-1, JSON in UTF-8); a text
    that cannot be decoded cleanly rejects the portfolio, which is all or nothing.
    """
    try:
        decoded = decode(data, declared=charset_of(content_type), where=what)
    except UndecodableText as exc:
        raise PortfolioError(str(exc)) from exc
    if decoded.bad_lines:
        line, reason = decoded.bad_lines[0]
        raise PortfolioError(f"{what}, line {line}: {reason}")
    return decoded.text


# --------------------------------------------------------------------------- validation


def _validate(portfolio: Portfolio, where: str) -> Portfolio:
    """Whole-portfolio rules shared by both formats."""
    if not portfolio.rows:
        raise PortfolioError(f"{where}: the portfolio has no stocks")
    weight_sum = portfolio.weight_sum
    if abs(weight_sum - WEIGHT_TOTAL) > WEIGHT_TOLERANCE:
        raise PortfolioError(
            f"{where}: weights sum to {weight_sum}, expected {WEIGHT_TOTAL} ± {WEIGHT_TOLERANCE} "
            f"over {len(portfolio.rows)} stocks"
        )
    quantity_sum = sum(row.theoretical_quantity for row in portfolio.rows)
    if quantity_sum != portfolio.total_quantity:
        raise PortfolioError(
            f"{where}: footer total quantity {portfolio.total_quantity:,} differs from the sum of the "
            f"rows {quantity_sum:,} (difference {portfolio.total_quantity - quantity_sum:,})"
        )
    if portfolio.reducer <= 0:
        raise PortfolioError(f"{where}: expected a positive reducer, got {portfolio.reducer}")
    return portfolio


def _check_duplicate(seen: dict[str, str], ticker: str, where: str) -> None:
    if ticker in seen:
        raise PortfolioError(f"{where}: duplicate ticker {ticker} (first seen at {seen[ticker]})")
    seen[ticker] = where


# --------------------------------------------------------------------------- CSV


@dataclass
class _CsvState:
    rows: list[PortfolioRow]
    seen: dict[str, str]
    total: int | None = None
    reducer: Decimal | None = None


def _fields(line: str) -> list[str]:
    fields = line.split(";")
    while fields and not fields[-1].strip():
        fields.pop()  # rows end in ";" and footers are padded with empty fields
    return fields


def _csv_title(lines: list[str]) -> date:
    title = lines[0].strip() if lines else ""
    match = _TITLE_RE.search(title)
    if match is None:
        raise PortfolioError(f"line 1: expected a title like 'IBOV - Carteira do Dia 03/10/25', got {title!r}")
    return _make_date(match, title, "line 1")


def _csv_header(lines: list[str]) -> None:
    header = tuple(normalize_column(name) for name in _fields(lines[1])) if len(lines) > 1 else ()
    if header != CSV_HEADER:
        got = lines[1] if len(lines) > 1 else "nothing"
        raise PortfolioError(
            f"line 2: expected the header 'Código;Ação;Tipo;Qtde. Teórica;Part. (%)', got {snippet(got)!r}"
        )


def _csv_footer(label: str, fields: list[str], state: _CsvState, where: str) -> None:
    if label == _TOTAL_LABEL:
        if state.total is not None:
            raise PortfolioError(f"{where}: a second 'Quantidade Teórica Total' footer")
        if len(fields) < 4:
            raise PortfolioError(f"{where}: expected 'Quantidade Teórica Total;;;<quantity>;<part>', got {fields}")
        state.total = parse_int(fields[3], f"{where}, field 'Qtde. Teórica'")
        if len(fields) > 4:
            parse_decimal(fields[4], WEIGHT_PLACES, f"{where}, field 'Part. (%)'")
    else:
        if state.reducer is not None:
            raise PortfolioError(f"{where}: a second 'Redutor' footer")
        if len(fields) < 4:
            raise PortfolioError(f"{where}: expected 'Redutor;;;<reducer>', got {fields}")
        state.reducer = parse_decimal(fields[3], REDUCER_PLACES, f"{where}, field 'Redutor'")


def _csv_row(fields: list[str], where: str) -> PortfolioRow:
    if len(fields) != 5:
        raise PortfolioError(f"{where}: expected 5 fields (Código;Ação;Tipo;Qtde. Teórica;Part. (%)), got {fields}")
    code, name, kind, quantity, part = fields
    return PortfolioRow(
        ticker=_ticker(code, f"{where}, field 'Código'"),
        name=name.strip(),
        type=kind.strip(),
        theoretical_quantity=parse_int(quantity, f"{where}, field 'Qtde. Teórica'"),
        weight_pct=parse_decimal(part, WEIGHT_PLACES, f"{where}, field 'Part. (%)'"),
    )


def _csv_line(line: str, state: _CsvState, where: str) -> None:
    fields = _fields(line)
    label = normalize_column(fields[0]) if fields else ""
    if label in (_TOTAL_LABEL, _REDUCER_LABEL):
        _csv_footer(label, fields, state, where)
        return
    if state.total is not None or state.reducer is not None:
        raise PortfolioError(f"{where}: unexpected line after the footer: {snippet(line)!r}")
    row = _csv_row(fields, where)
    _check_duplicate(state.seen, row.ticker, where)
    state.rows.append(row)


def parse_portfolio_csv(data: bytes) -> Portfolio:
    """Parse and validate an ``IBOVDia_dd-mm-yy.csv`` download."""
    _check_body(data, "the IBOV portfolio CSV")
    lines = _decode(data, "the IBOV portfolio CSV").splitlines()
    dt_ref = _csv_title(lines)
    _csv_header(lines)
    state = _CsvState(rows=[], seen={})
    for number, line in enumerate(lines[2:], start=3):
        if line.strip():
            _csv_line(line, state, f"line {number}")
    if state.total is None:
        raise PortfolioError("missing the footer 'Quantidade Teórica Total;;;<quantity>;<part>'")
    if state.reducer is None:
        raise PortfolioError("missing the footer 'Redutor;;;<reducer>'")
    portfolio = Portfolio(dt_ref, state.rows, state.total, state.reducer, SOURCE_CSV)
    return _validate(portfolio, f"IBOV portfolio of {dt_ref:%d/%m/%Y}")


# --------------------------------------------------------------------------- JSON


def portfolio_url(page: int = 1) -> str:
    """The JSON URL of one page of the portfolio, with the sector breakdown (segment 2)."""
    if page < 1:
        raise ValueError(f"page must be >= 1, got {page}")
    query = {"language": "pt-br", "pageNumber": page, "pageSize": PAGE_SIZE, "index": INDEX, "segment": "2"}
    encoded = base64.b64encode(json.dumps(query, separators=(",", ":")).encode("utf-8")).decode("ascii")
    return PORTFOLIO_BASE_URL + encoded


def load_page(body: bytes, where: str, content_type: str | None = None) -> dict[str, Any]:
    """One JSON page as a dict with ``page``, ``header`` and a ``results`` list, or PortfolioError."""
    _check_body(body, f"an IBOV portfolio JSON page ({where})", content_type)
    try:
        payload = json.loads(_decode(body, where, content_type))
    except json.JSONDecodeError as exc:
        raise PortfolioError(f"{where}: invalid JSON ({exc}): {snippet(body)!r}") from exc
    if not isinstance(payload, dict):
        raise PortfolioError(f"{where}: expected a JSON object, got {snippet(body)!r}")
    for key, kind in (("page", dict), ("header", dict), ("results", list)):
        if not isinstance(payload.get(key), kind):
            raise PortfolioError(f"{where}: expected '{key}' to be a JSON {kind.__name__}, got {snippet(body)!r}")
    return payload


def total_pages(payload: dict[str, Any], where: str) -> int:
    """The ``page.totalPages`` of a JSON page of the portfolio endpoint.

    Raises
    ------
    PortfolioError
        When it is missing, not an integer or below 1.
    """
    value = payload["page"].get("totalPages")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PortfolioError(f"{where}: expected a positive 'page.totalPages', got {value!r}")
    return value


def _text(item: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise PortfolioError(f"{where}: expected a text field '{key}', got {value!r}")
    return value


def _json_row(item: Any, where: str) -> PortfolioRow:
    if not isinstance(item, dict):
        raise PortfolioError(f"{where}: expected an object, got {item!r}")
    sector = _text(item, "segment", where, required=False).strip()
    return PortfolioRow(
        ticker=_ticker(_text(item, "cod", where), f"{where}, field 'cod'"),
        name=_text(item, "asset", where).strip(),
        type=_text(item, "type", where).strip(),
        theoretical_quantity=parse_int(_text(item, "theoricalQty", where), f"{where}, field 'theoricalQty'"),
        weight_pct=parse_decimal(_text(item, "part", where), WEIGHT_PLACES, f"{where}, field 'part'"),
        sector=sector or None,
    )


def _json_header(header: dict[str, Any], where: str) -> tuple[date, int, Decimal]:
    dt_ref = parse_short_date(_text(header, "date", where), f"{where}, field 'header.date'")
    total = parse_int(_text(header, "theoricalQty", where), f"{where}, field 'header.theoricalQty'")
    reducer = parse_decimal(_text(header, "reductor", where), REDUCER_PLACES, f"{where}, field 'header.reductor'")
    return dt_ref, total, reducer


def parse_portfolio_json(pages: list[bytes]) -> Portfolio:
    """Parse and validate the JSON pages (in order, page 1 first) of one portfolio."""
    if not pages:
        raise PortfolioError("expected at least one IBOV portfolio JSON page, got none")
    payloads = [load_page(body, f"page {number}") for number, body in enumerate(pages, start=1)]
    expected_pages = total_pages(payloads[0], "page 1")
    if expected_pages != len(pages):
        raise PortfolioError(f"page 1 announces {expected_pages} pages, got {len(pages)}")
    header = _json_header(payloads[0]["header"], "page 1")
    rows: list[PortfolioRow] = []
    seen: dict[str, str] = {}
    for number, payload in enumerate(payloads, start=1):
        if number > 1 and _json_header(payload["header"], f"page {number}") != header:
            raise PortfolioError(f"page {number}: its header differs from page 1's ({payload['header']!r})")
        for index, item in enumerate(payload["results"]):
            where = f"page {number} result {index}"
            row = _json_row(item, where)
            _check_duplicate(seen, row.ticker, where)
            rows.append(row)
    total_records = payloads[0]["page"].get("totalRecords")
    if total_records is not None and total_records != len(rows):
        raise PortfolioError(f"page 1 announces {total_records} records, got {len(rows)} over {len(pages)} pages")
    dt_ref, total, reducer = header
    return _validate(Portfolio(dt_ref, rows, total, reducer, SOURCE_JSON), f"IBOV portfolio of {dt_ref:%d/%m/%Y}")


# --------------------------------------------------------------------------- client


class B3PortfolioClient:
    """Downloads every JSON page of today's IBOV portfolio through an injected :class:`Http`."""

    def __init__(self, http: Http, *, timeout: float = 30.0, max_pages: int = 20) -> None:
        self.http = http
        self.timeout = timeout
        self.max_pages = max_pages

    def fetch(self) -> tuple[list[bytes], Portfolio]:
        """The raw pages as received (for the raw zone) and the parsed portfolio."""
        first = self._get(portfolio_url(1))
        payload = load_page(first.body, "page 1", first.header("content-type"))
        pages = total_pages(payload, "page 1")
        if pages > self.max_pages:
            raise PortfolioError(f"page 1 announces {pages} pages, more than the limit of {self.max_pages}")
        bodies = [first.body]
        for number in range(2, pages + 1):
            response = self._get(portfolio_url(number))
            _check_body(response.body, f"an IBOV portfolio JSON page (page {number})", response.header("content-type"))
            bodies.append(response.body)
        return bodies, parse_portfolio_json(bodies)

    def _get(self, url: str) -> HttpResponse:
        """A page; an error page or JSON error at HTTP 200 is retried, then SourceUnavailable."""
        return get_file(self.http, url, timeout=self.timeout, expect="json", error=PortfolioError)


# --------------------------------------------------------------------------- table


def portfolio_table(p: Portfolio) -> pa.Table:
    """One row per stock; ``type`` with its blanks collapsed (``"ON      NM"`` -> ``"ON NM"``)."""
    n = len(p.rows)
    return pa.table(
        {
            "dt_ref": [p.dt_ref] * n,
            "ticker": [row.ticker for row in p.rows],
            "name": [row.name for row in p.rows],
            "type": [" ".join(row.type.split()) for row in p.rows],
            "theoretical_quantity": [row.theoretical_quantity for row in p.rows],
            "weight_pct": [row.weight_pct for row in p.rows],
            "sector": [row.sector for row in p.rows],
            "reducer": [p.reducer] * n,
        },
        schema=PORTFOLIO_SCHEMA,
    )
