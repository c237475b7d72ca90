"""Generated B3 sample data: determinism, daily vs yearly, calendar, IBOV portfolio formats."""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from finlake.samples.b3 import (
    SECTORS,
    STOCKS,
    close_cents,
    cotahist_daily,
    cotahist_yearly,
    ibov_portfolio,
    ibov_portfolio_csv,
    ibov_portfolio_json,
    is_trading_day,
    trading_days,
)
from functions.stocks.cotahist import parse_cotahist, unzip_cotahist

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
DAY = date(2024, 3, 1)


@pytest.fixture(scope="module")
def daily() -> bytes:
    return cotahist_daily(DAY)


def test_same_seed_same_bytes(daily: bytes) -> None:
    assert cotahist_daily(DAY) == daily
    assert cotahist_daily(DAY, seed=8) != daily
    assert ibov_portfolio_csv(DAY) == ibov_portfolio_csv(DAY)


def test_daily_file_parses_cleanly_with_realistic_content(daily: bytes) -> None:
    parsed = parse_cotahist(daily, file_name="COTAHIST_D01032024.TXT")
    table = parsed.table
    assert parsed.quarantined == []
    assert parsed.header_date == DAY
    assert 3000 <= table.num_rows <= 3400  # ~800k records a year
    assert set(table["market_type"].to_pylist()) == {"010", "020", "070", "080"}
    petr4 = table.filter(pc.equal(table["ticker"], "PETR4")).to_pylist()[0]
    assert (petr4["bdi_code"], petr4["isin"], petr4["specification"]) == ("02", "BRPETRACNPR6", "PN      N2")
    assert petr4["low"] <= petr4["open"] <= petr4["high"] and petr4["low"] <= petr4["close"] <= petr4["high"]
    assert petr4["close"] == Decimal(close_cents("PETR4", DAY)) / 100
    lot = table.filter(pc.equal(table["quote_factor"], 1000)).to_pylist()
    assert {r["ticker"] for r in lot} == {"FNAM11", "FNOR11", "FSRF11"}
    for r in lot:  # volume = quantity x average price per share, exactly
        assert r["volume"] == r["quantity"] * r["avg_price"]
        assert r["quantity"] % 1000 == 0
    options = table.filter(pc.equal(table["market_type"], "070")).to_pylist()
    assert all(r["expiration"] is not None and r["expiration"] >= DAY and r["strike"] > 0 for r in options)
    assert len({r["ticker"] for r in options}) == len(options)


def test_daily_and_yearly_records_are_identical() -> None:
    yearly = cotahist_yearly(2024, records_target=2500)
    year_lines = yearly.split(b"\r\n")[1:-2]
    for day in (date(2024, 1, 2), DAY, date(2024, 12, 30)):
        stamp = f"01{day:%Y%m%d}".encode()
        of_day = [line for line in year_lines if line.startswith(stamp)]
        assert of_day, day
        assert cotahist_daily(day).split(b"\r\n")[1 : 1 + len(of_day)] == of_day
    parsed = parse_cotahist(yearly, file_name="COTAHIST_A2024.TXT")
    assert parsed.quarantined == []
    assert 2500 <= parsed.records_in < 2800
    # the yearly trailer counts the records only, as B3's yearly files do now
    assert (parsed.trailer_total, parsed.trailer_convention) == (parsed.records_in, "records")


def test_yearly_zip_round_trip() -> None:
    from finlake.samples.b3 import cotahist_zip

    content = cotahist_yearly(2023, records_target=300)
    name, data = unzip_cotahist(cotahist_zip("COTAHIST_A2023.ZIP", content, "COTAHIST_A2023.TXT"))
    assert (name, data) == ("COTAHIST_A2023.TXT", content)


def test_trading_calendar() -> None:
    for holiday in (date(2024, 2, 12), date(2024, 2, 13), date(2024, 3, 29), date(2024, 5, 30), date(2024, 12, 25)):
        assert not is_trading_day(holiday), holiday
    assert is_trading_day(date(2024, 2, 14))  # Ash Wednesday trades (from 13:00)
    assert not is_trading_day(date(2021, 1, 25))  # São Paulo anniversary, observed until 2021
    assert is_trading_day(date(2022, 1, 25))
    assert not is_trading_day(date(2024, 11, 20)) and is_trading_day(date(2023, 11, 20))
    days = trading_days(date(2024, 2, 9), date(2024, 2, 16))
    assert days == [date(2024, 2, 9), date(2024, 2, 14), date(2024, 2, 15), date(2024, 2, 16)]
    assert 245 <= len(trading_days(date(2024, 1, 1), date(2024, 12, 31))) <= 253
    with pytest.raises(ValueError, match="not a B3 trading day"):
        cotahist_daily(date(2024, 2, 12))


def test_common_market_factor_makes_returns_correlated() -> None:
    days = trading_days(date(2023, 1, 2), date(2024, 12, 30))
    series = np.array([[close_cents(t, d) for d in days] for t in ("VALE3", "ITUB4", "WEGE3")], dtype=float)
    returns = np.diff(np.log(series), axis=1)
    corr = np.corrcoef(returns)
    assert corr[0, 1] > 0.1 and corr[0, 2] > 0.1 and corr[1, 2] > 0.1


def test_ibov_portfolio_weights_quantities_and_reducer() -> None:
    rows = ibov_portfolio(DAY)
    assert len(rows) == len(STOCKS)
    assert sum(r["weight_pct"] for r in rows) == Decimal("100.000")  # type: ignore[misc]
    assert {r["sector"] for r in rows} == set(SECTORS)
    # quantities are fixed within the Jan-Apr period and change in May
    same = {r["ticker"]: r["theoretical_quantity"] for r in ibov_portfolio(date(2024, 4, 30))}
    assert same == {r["ticker"]: r["theoretical_quantity"] for r in rows}
    may = {r["ticker"]: r["theoretical_quantity"] for r in ibov_portfolio(date(2024, 5, 2))}
    assert may != same
    first = date(2024, 1, 2)
    start = ibov_portfolio(first)
    reducer = start[0]["reducer"]
    assert isinstance(reducer, Decimal) and reducer.as_tuple().exponent == -8
    level = sum(int(str(r["theoretical_quantity"])) * close_cents(str(r["ticker"]), first) for r in start)
    assert math.isclose(level / 100 / float(reducer), 130_000, rel_tol=1e-6)


def test_ibov_csv_matches_the_b3_download_format() -> None:
    body = ibov_portfolio_csv(DAY)
    lines = body.decode("latin-1").split("\n")
    assert lines[0] == "IBOV - Carteira do Dia 01/03/24"
    assert lines[1] == "Código;Ação;Tipo;Qtde. Teórica;Part. (%)"
    assert lines[-1] == ""
    stocks = lines[2:-3]
    assert all(line.endswith(";") and line.count(";") == 5 for line in stocks)
    quantities = [int(line.split(";")[3].replace(".", "")) for line in stocks]
    total_label, _, _, total, part = lines[-3].split(";")
    assert (total_label, part) == ("Quantidade Teórica Total", "100,000")
    assert int(total.replace(".", "")) == sum(quantities)
    weights = [Decimal(line.split(";")[4].replace(",", ".")) for line in stocks]
    assert sum(weights) == Decimal("100.000")
    assert lines[-2].startswith("Redutor;;;") and len(lines[-2].split(",")[1]) == 8
    fixture = FIXTURES / "b3" / "IBOVDia_03-10-25.csv"
    if fixture.exists():  # same header and footer shapes as the real download
        real = fixture.read_bytes().decode("latin-1").split("\n")
        assert real[1] == lines[1]
        assert real[-3].split(";")[0] == total_label and real[-2].startswith("Redutor;;;")


def test_ibov_json_matches_get_portfolio_day() -> None:
    body = json.loads(ibov_portfolio_json(DAY))
    assert body["page"] == {"pageNumber": 1, "pageSize": 120, "totalRecords": len(STOCKS), "totalPages": 1}
    header = body["header"]
    assert header["date"] == "01/03/24" and header["part"] == "100,000" and header["partAcum"] is None
    results = body["results"]
    assert len(results) == len(STOCKS)
    total = sum(int(r["theoricalQty"].replace(".", "")) for r in results)
    assert int(header["theoricalQty"].replace(".", "")) == total
    parts = [Decimal(r["part"].replace(",", ".")) for r in results]
    assert sum(parts) == Decimal("100.000")
    by_sector: dict[str, Decimal] = {}
    for r, part in zip(results, parts, strict=True):
        by_sector[r["segment"]] = by_sector.get(r["segment"], Decimal(0)) + part
    assert all(Decimal(r["partAcum"].replace(".", "").replace(",", ".")) == by_sector[r["segment"]] for r in results)
    petr4 = next(r for r in results if r["cod"] == "PETR4")
    assert (petr4["asset"], petr4["type"], petr4["segment"]) == (
        "PETROBRAS",
        "PN      N2",
        "Petróleo, Gás e Biocombustíveis",
    )
