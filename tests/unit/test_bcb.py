from __future__ import annotations

import contextlib
import itertools
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finlake.samples.bcb import daily_rate, sgs_json, write_bcb_cassette
from functions.common.http import HttpResponse, NotTheFile, ReplayHttp, SourceUnavailable
from functions.stocks.bcb import (
    SERIES,
    SERIES_INFO,
    SERIES_SCHEMA,
    SeriesPoint,
    SgsClient,
    SgsError,
    daily_factor,
    format_sgs,
    merge_points,
    parse_sgs,
    request_windows,
    series_table,
    sgs_url,
    url_window,
    windows,
)
from tests.http_fakes import FakeHttp


def ok(body: bytes | str, status: int = 200, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(status, {"Content-Type": content_type}, body.encode() if isinstance(body, str) else body)


def point(name: str, day: date, value: str) -> SeriesPoint:
    return SeriesPoint(name, SERIES[name], day, Decimal(value))


# --------------------------------------------------------------------------- series and windows


def test_series_codes() -> None:
    assert SERIES == {"selic_target": 432, "selic_daily": 11, "cdi_daily": 12, "ipca_monthly": 433, "usd_brl": 1}
    assert SERIES_INFO["ipca_monthly"].frequency == "monthly"
    assert SERIES_INFO["cdi_daily"].unit == "% a.d."


def test_windows_2000_to_2026() -> None:
    result = windows(date(2000, 1, 1), date(2026, 11, 22))
    assert result == [
        (date(2000, 1, 1), date(2009, 12, 31)),
        (date(2010, 1, 1), date(2019, 12, 31)),
        (date(2020, 1, 1), date(2026, 11, 22)),
    ]
    for (_, end), (start, _) in itertools.pairwise(result):
        assert start - end == timedelta(days=1)  # no gap, no overlap


@given(st.dates(date(1990, 1, 1), date(2100, 1, 1)), st.integers(0, 20_000), st.integers(1, 12))
@settings(max_examples=200, deadline=None)
def test_windows_cover_the_range(start: date, days: int, years: int) -> None:
    end = start + timedelta(days=days)
    result = windows(start, end, years)
    assert result[0][0] == start and result[-1][1] == end
    for window_start, window_end in result:
        assert window_start <= window_end
        assert (window_end - window_start).days < 366 * years  # at most `years` years, both ends inclusive
    for (_, end_a), (start_b, _) in itertools.pairwise(result):
        assert start_b - end_a == timedelta(days=1)


def test_windows_from_29_february() -> None:
    assert windows(date(2000, 2, 29), date(2012, 1, 1)) == [
        (date(2000, 2, 29), date(2010, 2, 27)),
        (date(2010, 2, 28), date(2012, 1, 1)),
    ]


def test_windows_rejects_reversed_range() -> None:
    with pytest.raises(ValueError, match="after end"):
        windows(date(2020, 1, 2), date(2020, 1, 1))


def test_monthly_series_is_one_request() -> None:
    assert request_windows("ipca_monthly", date(2000, 1, 1), date(2026, 11, 22)) == [
        (date(2000, 1, 1), date(2026, 11, 22))
    ]
    with pytest.raises(ValueError, match="unknown SGS series"):
        request_windows("selic", date(2000, 1, 1), date(2026, 11, 22))


def test_sgs_url() -> None:
    assert sgs_url(432, date(2024, 1, 2), date(2024, 3, 4)) == (
        "https://api.bcb.gov.br/dados/serie/bcdata.sgs.432/dados?formato=json&dataInicial=02/01/2024&dataFinal=04/03/2024"
    )


# --------------------------------------------------------------------------- parsing


def test_parse_dot_decimal_exactly() -> None:
    body = (
        b'[{"data":"02/01/2024","valor":"11.65"},{"data":"03/01/2024","valor":"0.043739"},'
        b'{"data":"01/02/2024","valor":"-0.21"}]'
    )
    assert parse_sgs(body, "selic_target") == [
        point("selic_target", date(2024, 1, 2), "11.65"),
        point("selic_target", date(2024, 1, 3), "0.043739"),
        point("selic_target", date(2024, 2, 1), "-0.21"),
    ]
    assert parse_sgs(body, "selic_target")[1].value.as_tuple().exponent == -6


def test_empty_list_is_valid() -> None:
    assert parse_sgs(b"[]", "cdi_daily") == []
    assert parse_sgs(b" [ ]\n", "cdi_daily") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"<!DOCTYPE html><html><head><title>404 Not Found</title></html>", "got HTML"),
        (b"{not json", "invalid JSON"),
        (
            '{"error":"O sistema aceita uma janela de consulta de, no máximo, 10 anos","message":"x"}'.encode(),
            "answered an error: O sistema aceita",
        ),
        (b'{"message":"Not Found"}', "answered an error: Not Found"),
        (b'{"data":"02/01/2024","valor":"11.65"}', "expected a JSON list"),
        (b'"11.65"', "expected a JSON list"),
        (b'[{"data":"02/01/2024","valor":"11.65"},["x"]]', "item 1: expected an object"),
        (b'[{"data":"2024-01-02","valor":"11.65"}]', r"item 0: expected 'data' as dd/MM/yyyy, got '2024-01-02'"),
        (b'[{"data":"31/02/2024","valor":"11.65"}]', "item 0: 'data' is not a calendar date: '31/02/2024'"),
        (b'[{"data":"02/01/2024","valor":"11,65"}]', r"item 0: expected 'valor' as a dot-decimal number.*'11,65'"),
        (b'[{"data":"02/01/2024","valor":""}]', r"item 0: expected 'valor'.*''"),
        (b'[{"data":"02/01/2024","valor":11.65}]', r"item 0: expected 'valor'.*11\.65"),
        (b'[{"data":"02/01/2024"}]', r"item 0: expected 'valor'.*None"),
        (
            b'[{"data":"02/01/2024","valor":"1.123456789"}]',
            r"item 0: 'valor' '1\.123456789' does not fit decimal\(20,8\)",
        ),
    ],
)
def test_parse_errors(body: bytes, message: str) -> None:
    with pytest.raises(SgsError, match=message):
        parse_sgs(body, "selic_target")


def test_series_table_and_daily_factor() -> None:
    points = [point("cdi_daily", date(2024, 1, 2), "0.043739"), point("cdi_daily", date(2024, 1, 3), "0.043739")]
    table = series_table(points)
    assert table.schema == SERIES_SCHEMA
    assert table.schema.field("value").type == pa.decimal128(20, 8)
    assert table.to_pylist()[0] == {
        "series": "cdi_daily",
        "code": 12,
        "date": date(2024, 1, 2),
        "value": Decimal("0.043739"),
    }
    assert daily_factor(points) == {date(2024, 1, 2): Decimal("1.00043739"), date(2024, 1, 3): Decimal("1.00043739")}
    with pytest.raises(ValueError, match="daily-rate series"):
        daily_factor([point("selic_target", date(2024, 1, 2), "11.65")])


# --------------------------------------------------------------------------- client


def test_client_pages_through_windows_and_removes_boundary_duplicates() -> None:
    first = b'[{"data":"30/12/2019","valor":"4.0185"},{"data":"31/12/2019","valor":"4.0307"}]'
    # the API can repeat the last point before a window's start; kept once
    second = b'[{"data":"31/12/2019","valor":"4.0307"},{"data":"02/01/2020","valor":"4.0213"}]'
    http = FakeHttp(ok(b"[]"), ok(first), ok(second))
    raw, points = SgsClient(http).fetch("usd_brl", date(2000, 1, 1), date(2026, 11, 22))
    base = "https://api.bcb.gov.br/dados/serie/bcdata.sgs.1/dados?formato=json"
    assert http.urls == [
        f"{base}&dataInicial=01/01/2000&dataFinal=31/12/2009",
        f"{base}&dataInicial=01/01/2010&dataFinal=31/12/2019",
        f"{base}&dataInicial=01/01/2020&dataFinal=22/11/2026",
    ]
    assert raw == [b"[]", first, second]
    assert points == [
        point("usd_brl", date(2019, 12, 30), "4.0185"),
        point("usd_brl", date(2019, 12, 31), "4.0307"),
        point("usd_brl", date(2020, 1, 2), "4.0213"),
    ]


def test_client_keeps_only_each_windows_points() -> None:
    # The second window (from 01/01/2020) answers a point of 2019 too: outside the window asked, dropped.
    http = FakeHttp(ok(b'[{"data":"31/12/2019","valor":"4.0307"}]'), ok(b'[{"data":"31/12/2019","valor":"4.1"}]'))
    _, points = SgsClient(http).fetch("usd_brl", date(2010, 1, 1), date(2026, 1, 1))
    assert points == [point("usd_brl", date(2019, 12, 31), "4.0307")]


def test_merge_rejects_conflicting_values_of_one_date() -> None:
    with pytest.raises(SgsError, match="31/12/2019 answered twice with different values"):
        merge_points([[point("usd_brl", date(2019, 12, 31), "4.0307")], [point("usd_brl", date(2019, 12, 31), "4.1")]])


def test_no_value_answer_is_an_empty_window() -> None:
    body = b'{"erro":{"statusCode":404,"detail":"Value(s) not found"}}'
    for status in (200, 404):
        raw, points = SgsClient(FakeHttp(ok(body, status))).fetch("cdi_daily", date(1980, 1, 2), date(1980, 3, 1))
        assert (raw, points) == ([body], [])
    assert parse_sgs(b'{"error":"Value(s) not found","message":"x"}', "cdi_daily") == []


def test_points_outside_the_window_are_dropped() -> None:
    body = b'[{"data":"28/02/2026","valor":"0.05"},{"data":"02/03/2026","valor":"0.06"}]'
    window = (date(2026, 3, 2), date(2026, 3, 6))
    assert parse_sgs(body, "cdi_daily", window=window) == [point("cdi_daily", date(2026, 3, 2), "0.06")]
    url = "https://api.bcb.gov.br/dados/serie/bcdata.sgs.12/dados?formato=json&dataInicial=02/03/2026&dataFinal=06/03/2026"
    assert url_window(url) == window


def test_client_errors() -> None:
    start, end = date(2024, 1, 1), date(2024, 12, 31)
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        SgsClient(FakeHttp(ok(b"busy", 503))).fetch("cdi_daily", start, end)
    with pytest.raises(SgsError, match="got 404"):
        SgsClient(FakeHttp(ok(b"<html>404</html>", 404, "text/html"))).fetch("cdi_daily", start, end)
    window = "O sistema aceita uma janela de consulta de, no máximo, 10 anos em séries de periodicidade diária"
    error = json.dumps({"error": window, "message": "x"}).encode()
    with pytest.raises(NotTheFile, match="a JSON error object: O sistema aceita uma janela"):
        SgsClient(FakeHttp(*[ok(error)] * 3)).fetch("cdi_daily", start, end)
    with pytest.raises(NotTheFile, match=r"an error page \(HTML\).*login.*3 times"):
        SgsClient(FakeHttp(*[ok(b"<html>login</html>", 200, "text/html")] * 3)).fetch("cdi_daily", start, end)
    with pytest.raises(ValueError, match="unknown SGS series"):
        SgsClient(FakeHttp()).fetch("selic", start, end)


# --------------------------------------------------------------------------- properties


values = st.decimals(min_value=Decimal("-999999999999.99999999"), max_value=Decimal("999999999999.99999999"), places=8)
points_strategy = st.lists(
    st.builds(
        lambda name, day, value: SeriesPoint(name, SERIES[name], day, value),
        st.sampled_from(["cdi_daily"]),
        st.dates(date(1900, 1, 1), date(2999, 12, 31)),
        values | st.decimals(min_value=-1000, max_value=1000, places=2),
    ),
    max_size=20,
)


@given(points_strategy)
@settings(max_examples=200, deadline=None)
def test_parse_format_round_trip(points: list[SeriesPoint]) -> None:
    parsed = parse_sgs(format_sgs(points), "cdi_daily")
    assert parsed == points
    assert [format(p.value, "f") for p in parsed] == [format(p.value, "f") for p in points]
    assert series_table(parsed).num_rows == len(points)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["data", "valor", "error", "x"]), children, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values | st.binary(max_size=60))
@settings(max_examples=300, deadline=None)
def test_only_sgs_error_escapes(payload: object) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with contextlib.suppress(SgsError):
        parse_sgs(body, "selic_target")


# --------------------------------------------------------------------------- generator and cassette


def test_generator_is_deterministic() -> None:
    a = sgs_json("selic_target", date(2024, 1, 1), date(2024, 12, 31), seed=7)
    assert a == sgs_json("selic_target", date(2024, 1, 1), date(2024, 12, 31), seed=7)
    assert a != sgs_json("selic_target", date(2024, 1, 1), date(2024, 12, 31), seed=8)
    assert sgs_json("usd_brl", date(2024, 1, 6), date(2024, 1, 7)) == b"[]"  # a weekend


def test_generator_values_are_consistent() -> None:
    start, end = date(2014, 1, 1), date(2026, 11, 22)
    target = parse_sgs(sgs_json("selic_target", start, end), "selic_target")
    selic = parse_sgs(sgs_json("selic_daily", start, end), "selic_daily")
    cdi = parse_sgs(sgs_json("cdi_daily", start, end), "cdi_daily")
    assert [p.date for p in target] == [p.date for p in selic] == [p.date for p in cdi]
    assert all(p.date.weekday() < 5 for p in target)
    assert all(Decimal(10) <= p.value <= Decimal(15) for p in target)
    steps = {b.value - a.value for a, b in itertools.pairwise(target)}
    assert steps <= {Decimal("0.00"), Decimal("0.25"), Decimal("-0.25"), Decimal("0.50"), Decimal("-0.50")}
    for t, s, c in zip(target, selic, cdi, strict=True):
        assert s.value == daily_rate(t.value) and c.value == daily_rate(t.value - Decimal("0.10"))
    # by hand: (1.1365 ** (1/252) - 1) * 100 = 0.0507879... -> 0.050788
    assert daily_rate(Decimal("13.65")) == Decimal("0.050788")
    ipca = parse_sgs(sgs_json("ipca_monthly", start, end), "ipca_monthly")
    assert len(ipca) == 12 * 12 + 11 and all(p.date.day == 1 and 0 <= p.value <= 1 for p in ipca)
    usd = parse_sgs(sgs_json("usd_brl", start, end), "usd_brl")
    assert all(Decimal("3.8") <= p.value <= Decimal("6.5") for p in usd)


def test_client_reads_the_generated_cassette(tmp_path: Path) -> None:
    start, end = date(2014, 1, 1), date(2026, 11, 22)
    cassette = write_bcb_cassette(tmp_path / "cassette", start, end)
    index = json.loads((cassette / "index.json").read_text("utf-8"))
    assert len(index) == 4 * 2 + 1  # daily series: 2014-2023 and 2024-2026; IPCA: one request
    client = SgsClient(ReplayHttp(cassette))
    raw, points = client.fetch("cdi_daily", start, end)
    assert len(raw) == 2
    assert raw[1] == sgs_json("cdi_daily", date(2024, 1, 1), end)
    assert points == parse_sgs(sgs_json("cdi_daily", start, end), "cdi_daily")
    assert points[0].date == date(2014, 1, 1) and points[-1].date == date(2026, 11, 20)  # 22/11/2026 is a Sunday
    for name in SERIES:
        _, got = client.fetch(name, start, end)
        assert got and got[0].series == name
    assert series_table(points).num_rows == len(points)
