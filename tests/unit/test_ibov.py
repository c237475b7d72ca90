from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.common.http import HttpResponse, NotTheFile, SourceUnavailable
from functions.common.ptbr import format_ptbr
from functions.stocks.ibov import (
    PORTFOLIO_SCHEMA,
    SOURCE_CSV,
    SOURCE_JSON,
    B3PortfolioClient,
    Portfolio,
    PortfolioError,
    PortfolioRow,
    parse_portfolio_csv,
    parse_portfolio_json,
    portfolio_table,
    portfolio_url,
)
from tests.http_fakes import FakeHttp

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
IBOV_CSV = FIXTURES / "b3" / "IBOVDia_03-10-25.csv"
SECTORS = ("Financeiro", "Petróleo, Gás e Biocombustíveis", "Materiais Básicos", "Consumo não Cíclico")


@pytest.fixture(scope="module")
def csv_bytes() -> bytes:
    return IBOV_CSV.read_bytes()


@pytest.fixture(scope="module")
def csv_portfolio(csv_bytes: bytes) -> Portfolio:
    return parse_portfolio_csv(csv_bytes)


def edit(data: bytes, old: str, new: str) -> bytes:
    text = data.decode("latin-1")
    assert old in text
    return text.replace(old, new, 1).encode("latin-1")


def row_of(portfolio: Portfolio, ticker: str) -> PortfolioRow:
    return next(row for row in portfolio.rows if row.ticker == ticker)


# --------------------------------------------------------------------------- CSV: the real file


def test_real_csv_totals(csv_portfolio: Portfolio) -> None:
    assert csv_portfolio.dt_ref == date(2025, 10, 3)
    assert csv_portfolio.source == SOURCE_CSV
    assert len(csv_portfolio.rows) == 82  # 86 lines: title, header, 82 stocks, 2 footers
    assert csv_portfolio.total_quantity == 90_587_133_892
    assert sum(row.theoretical_quantity for row in csv_portfolio.rows) == 90_587_133_892
    assert csv_portfolio.reducer == Decimal("15019274.20202473")
    assert csv_portfolio.weight_sum == Decimal("100.000")
    assert csv_portfolio.rows[0].ticker == "ALOS3"
    assert csv_portfolio.rows[-1].ticker == "YDUQ3"


def test_real_csv_spot_checks(csv_portfolio: Portfolio) -> None:
    assert row_of(csv_portfolio, "ALOS3") == PortfolioRow("ALOS3", "ALLOS", "ON  ED  NM", 466_632_333, Decimal("0.544"))
    assert row_of(csv_portfolio, "ABEV3") == PortfolioRow("ABEV3", "AMBEV S/A", "ON", 4_273_841_357, Decimal("2.358"))
    assert row_of(csv_portfolio, "YDUQ3") == PortfolioRow(
        "YDUQ3", "YDUQS PART", "ON      NM", 260_753_144, Decimal("0.150")
    )
    assert row_of(csv_portfolio, "YDUQ3").weight_pct.as_tuple().exponent == -3


def test_real_csv_as_utf8_parses_the_same(csv_bytes: bytes, csv_portfolio: Portfolio) -> None:
    utf8 = csv_bytes.decode("latin-1").encode("utf-8")
    assert parse_portfolio_csv(utf8) == csv_portfolio
    assert parse_portfolio_csv(b"\xef\xbb\xbf" + utf8.replace(b"\n", b"\r\n")) == csv_portfolio


def test_portfolio_table(csv_portfolio: Portfolio) -> None:
    table = portfolio_table(csv_portfolio)
    assert table.schema == PORTFOLIO_SCHEMA
    assert table.schema.field("weight_pct").type == pa.decimal128(9, 3)
    assert table.schema.field("reducer").type == pa.decimal128(24, 8)
    assert table.num_rows == 82
    first = table.slice(0, 1).to_pylist()[0]
    assert first == {
        "dt_ref": date(2025, 10, 3),
        "ticker": "ALOS3",
        "name": "ALLOS",
        "type": "ON ED NM",
        "theoretical_quantity": 466_632_333,
        "weight_pct": Decimal("0.544"),
        "sector": None,
        "reducer": Decimal("15019274.20202473"),
    }
    assert sum(table.column("weight_pct").to_pylist()) == Decimal("100.000")
    assert sum(table.column("theoretical_quantity").to_pylist()) == 90_587_133_892


# --------------------------------------------------------------------------- CSV: bad inputs


def test_csv_rejects_html_and_empty() -> None:
    with pytest.raises(PortfolioError, match="got HTML"):
        parse_portfolio_csv(b"<!DOCTYPE html><html><body>Manuten\xe7\xe3o</body></html>")
    with pytest.raises(PortfolioError, match="empty body"):
        parse_portfolio_csv(b"")
    with pytest.raises(PortfolioError, match="empty body"):
        parse_portfolio_csv(b"\r\n  \n")


def test_csv_wrong_footer_total(csv_bytes: bytes) -> None:
    bad = edit(csv_bytes, "90.587.133.892", "90.587.133.893")
    with pytest.raises(PortfolioError, match=r"90,587,133,893 differs from the sum of the rows 90,587,133,892"):
        parse_portfolio_csv(bad)


@pytest.mark.parametrize(
    ("old", "message"),
    [
        ("Quantidade Teórica Total;;;90.587.133.892;100,000\n", "missing the footer 'Quantidade Teórica Total"),
        ("Redutor;;;15.019.274,20202473\n", "missing the footer 'Redutor"),
    ],
)
def test_csv_missing_footer(csv_bytes: bytes, old: str, message: str) -> None:
    with pytest.raises(PortfolioError, match=message):
        parse_portfolio_csv(edit(csv_bytes, old, ""))


def test_csv_weights_not_summing(csv_bytes: bytes) -> None:
    bad = edit(csv_bytes, "ALOS3;ALLOS;ON  ED  NM;466.632.333;0,544;", "ALOS3;ALLOS;ON  ED  NM;466.632.333;0,644;")
    with pytest.raises(PortfolioError, match=r"weights sum to 100\.100, expected 100"):
        parse_portfolio_csv(bad)


def test_csv_weights_within_tolerance(csv_bytes: bytes) -> None:
    # 0,544 -> 0,554: the weights sum to 100.010, at the edge of the tolerance; quantities unchanged.
    ok = edit(csv_bytes, ";466.632.333;0,544;", ";466.632.333;0,554;")
    assert parse_portfolio_csv(ok).weight_sum == Decimal("100.010")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("4.273.841.357;2,358", "4.273.841.35x;2,358", r"line 4, field 'Qtde\. Teórica'.*'4\.273\.841\.35x'"),
        ("4.273.841.357;2,358", "4.273.841.357;2.358", r"line 4, field 'Part\. \(%\)'.*'2\.358'"),
        ("4.273.841.357;2,358", "4.273.841.357;2,3581", r"line 4, field 'Part\. \(%\)'.*at most 3 decimals"),
        ("4.273.841.357;2,358", "-4.273.841.357;2,358", r"line 4, field 'Qtde\. Teórica'"),
        ("15.019.274,20202473", "15.019.274,2O2", r"line 86, field 'Redutor'"),
        ("ABEV3;AMBEV", "AB EV3;AMBEV", r"line 4, field 'Código'"),
        ("ABEV3;AMBEV S/A;ON;", "ABEV3;AMBEV S/A;", r"line 4: expected 5 fields"),
    ],
)
def test_csv_bad_number_names_line_and_field(csv_bytes: bytes, old: str, new: str, message: str) -> None:
    with pytest.raises(PortfolioError, match=message):
        parse_portfolio_csv(edit(csv_bytes, old, new))


def test_csv_duplicate_ticker(csv_bytes: bytes) -> None:
    bad = edit(csv_bytes, "ASAI3;ASSAI", "ABEV3;ASSAI")
    with pytest.raises(PortfolioError, match=r"line 5: duplicate ticker ABEV3 \(first seen at line 4\)"):
        parse_portfolio_csv(bad)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("IBOV - Carteira do Dia 03/10/25", "IBOV - Carteira", "line 1: expected a title"),
        ("IBOV - Carteira do Dia 03/10/25", "IBOV - Carteira do Dia 31/02/25", "line 1: not a calendar date"),
        ("Código;Ação;Tipo;", "Código;Tipo;Ação;", "line 2: expected the header"),
        ("Redutor;;;15.019.274,20202473\n", "Redutor;;;15.019.274,20202473\nPETR4;PETROBRAS;PN;1;0,000;\n", "line 87"),
    ],
)
def test_csv_structure_errors(csv_bytes: bytes, old: str, new: str, message: str) -> None:
    with pytest.raises(PortfolioError, match=message):
        parse_portfolio_csv(edit(csv_bytes, old, new))


# --------------------------------------------------------------------------- JSON


def json_row(row: PortfolioRow, index: int) -> dict[str, Any]:
    return {
        "segment": SECTORS[index % len(SECTORS)],
        "cod": row.ticker,
        "asset": row.name,
        "type": row.type,
        "part": format_ptbr(row.weight_pct, 3),
        "partAcum": None,
        "theoricalQty": format_ptbr(Decimal(row.theoretical_quantity), 0),
    }


def json_pages(portfolio: Portfolio, page_size: int = 60) -> list[bytes]:
    results = [json_row(row, index) for index, row in enumerate(portfolio.rows)]
    chunks = [results[i : i + page_size] for i in range(0, len(results), page_size)]
    header = {
        "date": f"{portfolio.dt_ref:%d/%m/%y}",
        "text": "Quantidade Teórica Total",
        "part": "100,000",
        "partAcum": None,
        "textReductor": "Redutor",
        "reductor": format_ptbr(portfolio.reducer, 8),
        "theoricalQty": format_ptbr(Decimal(portfolio.total_quantity), 0),
    }
    return [
        json.dumps(
            {
                "page": {
                    "pageNumber": number,
                    "pageSize": page_size,
                    "totalRecords": len(results),
                    "totalPages": len(chunks),
                },
                "header": header,
                "results": chunk,
            },
            ensure_ascii=False,
        ).encode("utf-8")
        for number, chunk in enumerate(chunks, start=1)
    ]


def ok(body: bytes, status: int = 200, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(status, {"Content-Type": content_type}, body)


def test_portfolio_url() -> None:
    url = portfolio_url(2)
    prefix = "https://sistemaswebb3-listados.b3.com.br/indexProxy/indexCall/GetPortfolioDay/"
    assert url.startswith(prefix)
    assert json.loads(base64.b64decode(url.removeprefix(prefix))) == {
        "language": "pt-br",
        "pageNumber": 2,
        "pageSize": 120,
        "index": "IBOV",
        "segment": "2",
    }
    assert portfolio_url().endswith(
        "eyJsYW5ndWFnZSI6InB0LWJyIiwicGFnZU51bWJlciI6MSwicGFnZVNpemUiOjEyMCwiaW5kZXgiOiJJQk9WIiwic2VnbWVudCI6IjIifQ=="
    )
    with pytest.raises(ValueError):
        portfolio_url(0)


def test_json_two_pages_match_the_csv(csv_portfolio: Portfolio) -> None:
    pages = json_pages(csv_portfolio)
    assert len(pages) == 2
    parsed = parse_portfolio_json(pages)
    assert parsed.source == SOURCE_JSON
    assert (parsed.dt_ref, parsed.total_quantity, parsed.reducer) == (
        date(2025, 10, 3),
        90_587_133_892,
        Decimal("15019274.20202473"),
    )
    assert parsed.weight_sum == Decimal("100.000")
    assert len(parsed.rows) == 82
    assert [replace(row, sector=None) for row in parsed.rows] == csv_portfolio.rows
    assert row_of(parsed, "ALOS3").sector == "Financeiro"
    assert row_of(parsed, "ABEV3").sector == "Petróleo, Gás e Biocombustíveis"
    table = portfolio_table(parsed)
    assert table.column("sector").null_count == 0
    assert portfolio_table(replace(parsed, rows=[replace(r, sector=None) for r in parsed.rows])).equals(
        portfolio_table(replace(csv_portfolio, source=SOURCE_JSON))
    )


def test_client_pages_through(csv_portfolio: Portfolio) -> None:
    pages = json_pages(csv_portfolio)
    http = FakeHttp(*(ok(page) for page in pages))
    raw, portfolio = B3PortfolioClient(http).fetch()
    assert http.urls == [portfolio_url(1), portfolio_url(2)]
    assert raw == pages
    assert portfolio == parse_portfolio_json(pages)


def test_client_errors(csv_portfolio: Portfolio) -> None:
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        B3PortfolioClient(FakeHttp(ok(b"busy", 503))).fetch()
    with pytest.raises(PortfolioError, match=r"HTTP 200.*got 404"):
        B3PortfolioClient(FakeHttp(ok(b"<html>not found</html>", 404, "text/html"))).fetch()
    pages = json_pages(csv_portfolio)
    login = ok(b"<html>login</html>", 200, "text/html")
    with pytest.raises(NotTheFile, match=r"answered HTTP 200 with an error page \(HTML\).*3 times"):
        B3PortfolioClient(FakeHttp(ok(pages[0]), login, login, login)).fetch()
    # once only: the retry gets the page
    _, portfolio = B3PortfolioClient(FakeHttp(ok(pages[0]), login, ok(pages[1]))).fetch()
    assert portfolio == parse_portfolio_json(pages)


def mutate(page: bytes, change: Any) -> bytes:
    payload = json.loads(page)
    change(payload)
    return json.dumps(payload).encode("utf-8")


def test_json_bad_inputs(csv_portfolio: Portfolio) -> None:
    pages = json_pages(csv_portfolio)
    with pytest.raises(PortfolioError, match="got HTML"):
        parse_portfolio_json([b"<!doctype html><title>B3</title>"])
    with pytest.raises(PortfolioError, match="empty body"):
        parse_portfolio_json([pages[0], b""])
    with pytest.raises(PortfolioError, match="got none"):
        parse_portfolio_json([])
    with pytest.raises(PortfolioError, match="invalid JSON"):
        parse_portfolio_json([b"{not json"])
    with pytest.raises(PortfolioError, match="announces 2 pages, got 1"):
        parse_portfolio_json(pages[:1])
    with pytest.raises(PortfolioError, match="'header' to be a JSON dict"):
        parse_portfolio_json([mutate(pages[0], lambda p: p.pop("header")), pages[1]])


def test_json_wrong_footer_and_weights(csv_portfolio: Portfolio) -> None:
    pages = json_pages(csv_portfolio)

    def wrong_total(p: dict[str, Any]) -> None:
        p["header"]["theoricalQty"] = "90.587.133.000"

    def wrong_weight(p: dict[str, Any]) -> None:
        p["results"][0]["part"] = "1,544"

    with pytest.raises(PortfolioError, match="90,587,133,000 differs from the sum of the rows 90,587,133,892"):
        parse_portfolio_json([mutate(pages[0], wrong_total), mutate(pages[1], wrong_total)])
    with pytest.raises(PortfolioError, match=r"weights sum to 101\.000"):
        parse_portfolio_json([mutate(pages[0], wrong_weight), pages[1]])
    with pytest.raises(PortfolioError, match="page 2: its header differs"):
        parse_portfolio_json([pages[0], mutate(pages[1], wrong_total)])


def test_json_bad_number_names_page_result_field(csv_portfolio: Portfolio) -> None:
    pages = json_pages(csv_portfolio)

    def bad_qty(p: dict[str, Any]) -> None:
        p["results"][3]["theoricalQty"] = "1.2345"

    def duplicate(p: dict[str, Any]) -> None:
        p["results"][0]["cod"] = "ALOS3"

    with pytest.raises(PortfolioError, match=r"page 2 result 3, field 'theoricalQty'.*'1\.2345'"):
        parse_portfolio_json([pages[0], mutate(pages[1], bad_qty)])
    with pytest.raises(
        PortfolioError, match=r"page 2 result 0: duplicate ticker ALOS3 \(first seen at page 1 result 0\)"
    ):
        parse_portfolio_json([pages[0], mutate(pages[1], duplicate)])


# --------------------------------------------------------------------------- properties


tickers = st.from_regex(r"[A-Z]{4}[0-9]{1,2}", fullmatch=True)


@st.composite
def portfolios(draw: st.DrawFn) -> Portfolio:
    codes = draw(st.lists(tickers, min_size=1, max_size=8, unique=True))
    weights = [
        Decimal(w).scaleb(-3)
        for w in draw(st.lists(st.integers(0, 5000), min_size=len(codes) - 1, max_size=len(codes) - 1))
    ]
    rest = Decimal("100.000") - sum(weights, Decimal(0))
    if rest < 0:
        weights, rest = [Decimal("0.000")] * len(weights), Decimal("100.000")
    weights.append(rest)
    quantities = draw(st.lists(st.integers(0, 10**12), min_size=len(codes), max_size=len(codes)))
    names = draw(
        st.lists(
            st.from_regex(r"[A-Z][A-Z0-9 ./]{0,15}[A-Z]", fullmatch=True), min_size=len(codes), max_size=len(codes)
        )
    )
    rows = [
        PortfolioRow(code, name, "ON      NM", quantity, weight)
        for code, name, quantity, weight in zip(codes, names, quantities, weights, strict=True)
    ]
    reducer = Decimal(draw(st.integers(1, 10**14))).scaleb(-8)
    day = draw(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
    return Portfolio(day, rows, sum(quantities), reducer, SOURCE_CSV)


def format_csv(p: Portfolio) -> bytes:
    lines = [f"IBOV - Carteira do Dia {p.dt_ref:%d/%m/%y}", "Código;Ação;Tipo;Qtde. Teórica;Part. (%)"]
    lines += [
        f"{r.ticker};{r.name};{r.type};{format_ptbr(Decimal(r.theoretical_quantity), 0)};"
        f"{format_ptbr(r.weight_pct, 3)};"
        for r in p.rows
    ]
    lines.append(f"Quantidade Teórica Total;;;{format_ptbr(Decimal(p.total_quantity), 0)};100,000")
    lines.append(f"Redutor;;;{format_ptbr(p.reducer, 8)}")
    return ("\n".join(lines) + "\n").encode("latin-1")


@given(portfolios())
@settings(max_examples=60, deadline=None)
def test_csv_round_trip(portfolio: Portfolio) -> None:
    assert parse_portfolio_csv(format_csv(portfolio)) == portfolio


@given(
    st.binary(max_size=300) | st.text(alphabet="IBOV Carteira do Dia0123456789/;.,\n-", max_size=300).map(str.encode)
)
@settings(max_examples=200, deadline=None)
def test_only_portfolio_error_escapes(data: bytes) -> None:
    for parse in (parse_portfolio_csv, lambda body: parse_portfolio_json([body])):
        with contextlib.suppress(PortfolioError):
            parse(data)
