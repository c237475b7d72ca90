"""glue/stocks_transform.py on a local SparkSession: indicators by hand and against numpy/pandas, and the job."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finlake.local.glue import local_spark
from glue import stocks_transform as job

pytestmark = pytest.mark.slow

QUOTES = job.QUOTES_MIN_SCHEMA
CDI = "date date, value decimal(20,8)"
REL = 1e-9


@pytest.fixture(scope="module")
def spark() -> Any:
    session = local_spark()
    # Test speed only: list the few hundred local partition folders on the driver rather than with a
    # Spark job of one task per folder (what Spark does past 32 folders, useful on S3, slow here).
    key = "spark.sql.sources.parallelPartitionDiscovery.threshold"
    previous = session.conf.get(key)
    session.conf.set(key, "100000")
    yield session
    session.conf.set(key, previous)


def d(text: str) -> date:
    return date.fromisoformat(text)


def dec(value: float | str, places: int = 2) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places))


def sessions(first: date, n: int) -> list[date]:
    """n weekdays from `first` (holidays play no role in these tests)."""
    days, day = [], first
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def quote_rows(closes: dict[str, list[Decimal]], days: list[date]) -> list[tuple]:
    """(ticker, dt_ref, high, low, close, currency, distribution) with high = close + 0.50 and low = close - 0.50."""
    return [
        (ticker, day, close + Decimal("0.5"), close - Decimal("0.5"), close, "R$", 100)
        for ticker, series in closes.items()
        for day, close in zip(days, series, strict=True)
    ]


def portfolio_rows(day: date, members: list[tuple[str, int, str | None]], reducer: str) -> list[tuple]:
    """(dt_ref, ticker, name, type, theoretical_quantity, weight_pct, sector, reducer)."""
    return [(day, t, t, "ON", q, dec(100 / len(members), 3), s, dec(reducer, 8)) for t, q, s in members]


def by_key(frame: Any, *keys: str) -> dict[tuple, dict[str, Any]]:
    return {tuple(r[k] for k in keys): r.asDict() for r in frame.collect()}


def close_to(actual: float | None, expected: float) -> bool:
    if math.isnan(expected):
        return actual is None
    return actual is not None and math.isclose(actual, expected, rel_tol=REL, abs_tol=1e-15)


# ------------------------------------------------------------------------------------ by hand


def test_returns_and_moving_averages_on_six_sessions_by_hand(spark: Any):
    days = sessions(d("2024-03-04"), 6)
    closes = [dec(c) for c in (10, 11, 12, 11, 13, 14)]
    quotes = spark.createDataFrame(quote_rows({"ABCD3": closes}, days), QUOTES)
    empty_pf = spark.createDataFrame([], job.PORTFOLIO_SCHEMA)
    rows = by_key(job.stock_indicators(quotes, empty_pf, spark.createDataFrame([], CDI)), "dt_ref")
    got = [rows[(day,)] for day in days]

    # daily_return = close_t / close_prev - 1: none, 11/10-1, 12/11-1, 11/12-1, 13/11-1, 14/13-1
    assert got[0]["daily_return"] is None and got[0]["log_return"] is None
    assert got[1]["daily_return"] == pytest.approx(0.1, rel=1e-12)
    assert got[2]["daily_return"] == pytest.approx(1 / 11, rel=1e-12)  # 0.090909...
    assert got[3]["daily_return"] == pytest.approx(-1 / 12, rel=1e-12)  # -0.083333...
    assert got[4]["daily_return"] == pytest.approx(2 / 11, rel=1e-12)  # 0.181818...
    assert got[5]["daily_return"] == pytest.approx(1 / 13, rel=1e-12)  # 0.076923...
    # log_return = ln(close_t / close_prev): ln(1.1) = 0.0953101798, ln(14/13) = 0.0741079722
    assert got[1]["log_return"] == pytest.approx(0.0953101798043249, rel=1e-12)
    assert got[5]["log_return"] == pytest.approx(0.0741079721537218, rel=1e-12)
    # ma_5: NULL on sessions 1-4; session 5: (10+11+12+11+13)/5 = 57/5 = 11.4; session 6: (11+12+11+13+14)/5 = 12.2
    assert [g["ma_5"] for g in got[:4]] == [None] * 4
    assert got[4]["ma_5"] == pytest.approx(11.4, rel=1e-12)
    assert got[5]["ma_5"] == pytest.approx(12.2, rel=1e-12)
    # fewer than 21 / 63 / 252 sessions: NULL; no portfolio: no index, not a member
    for column in ("ma_21", "ma_63", "ma_252", "high_21", "low_252", "vol_21", "drawdown_252", "beta_63"):
        assert got[5][column] is None, column
    assert (got[5]["ibov_level"], got[5]["sharpe_63"], got[5]["in_ibov"], got[5]["weight_pct"]) == (
        None,
        None,
        False,
        None,
    )
    assert got[5]["close"] == 14.0


def test_ibov_level_of_two_constituents_by_hand(spark: Any):
    mon, tue, wed, thu = sessions(d("2024-05-06"), 4)
    rows = [
        ("AAAA3", mon, None, None, dec(10), "R$", 100),
        ("BBBB4", mon, None, None, dec(20), "R$", 100),
        ("AAAA3", tue, None, None, dec(11), "R$", 100),
        ("BBBB4", tue, None, None, dec(20), "R$", 100),
        ("AAAA3", wed, None, None, dec(12), "R$", 100),  # BBBB4 has no close on Wednesday
        ("AAAA3", thu, None, None, dec(12), "R$", 100),
        ("BBBB4", thu, None, None, dec(21), "R$", 100),
    ]
    quotes = spark.createDataFrame(rows, QUOTES)
    portfolio = spark.createDataFrame(
        portfolio_rows(mon, [("AAAA3", 100, "X"), ("BBBB4", 50, "Y")], "4"), job.PORTFOLIO_SCHEMA
    )
    got = by_key(job.ibov_levels(quotes, portfolio), "dt_ref")

    # Monday: (100 x 10 + 50 x 20) / 4 = 2000 / 4 = 500; Tuesday: (1100 + 1000) / 4 = 525, return 525/500 - 1 = 0.05
    assert got[(mon,)]["ibov_level"] == 500.0 and got[(mon,)]["ibov_return"] is None
    assert got[(tue,)]["ibov_level"] == 525.0
    assert got[(tue,)]["ibov_return"] == pytest.approx(0.05, rel=1e-12)
    # Wednesday: a constituent without a close -> NULL, and so are both returns next to it
    assert got[(wed,)]["ibov_level"] is None and got[(wed,)]["ibov_return"] is None
    # Thursday: (1200 + 1050) / 4 = 562.5
    assert got[(thu,)]["ibov_level"] == 562.5 and got[(thu,)]["ibov_return"] is None

    # A portfolio older than 130 days is no longer in force.
    later = spark.createDataFrame([("AAAA3", mon + timedelta(days=131), None, None, dec(10), "R$", 100)], QUOTES)
    [(level,)] = [tuple(r) for r in job.ibov_levels(later, portfolio).select("ibov_level").collect()]
    assert level is None


def test_sector_return_1d_by_hand_and_compounded_returns_against_numpy(spark: Any):
    days = sessions(d("2023-12-01"), 30)  # crosses into 2024: return_ytd restarts
    rng = np.random.default_rng(7)
    members = [("PETR4", 100, "Energy"), ("PRIO3", 200, "Energy"), ("ITUB4", 50, "Banks"), ("BBDC4", 70, "Banks")]
    closes = {t: [dec(20 * math.exp(x)) for x in np.cumsum(rng.normal(0, 0.02, 30))] for t, _, _ in members}
    # Day 0 -> 1 by hand for Energy: PETR4 10 -> 11, PRIO3 5 -> 5.
    closes["PETR4"][:2] = [dec(10), dec(11)]
    closes["PRIO3"][:2] = [dec(5), dec(5)]
    closes["NOSEC3"] = [dec(1)] * 30
    quotes = spark.createDataFrame(quote_rows(closes, days), QUOTES)
    portfolio = spark.createDataFrame(
        portfolio_rows(days[0], [*members, ("NOSEC3", 10, None)], "1"), job.PORTFOLIO_SCHEMA
    )
    got = by_key(job.sector_performance(quotes, portfolio), "sector", "dt_ref")

    assert {s for s, _ in got} == {"Energy", "Banks"}  # the NULL sector is excluded
    assert len(got) == 2 * 29  # no row on day 0: no previous close
    first = got[("Energy", days[1])]
    # weights q x close_prev: PETR4 100 x 10 = 1000, PRIO3 200 x 5 = 1000; returns 0.10 and 0.00
    # return_1d = (1000 x 0.10 + 1000 x 0.00) / 2000 = 0.05
    assert first["return_1d"] == pytest.approx(0.05, rel=1e-12)
    assert first["constituents"] == 2
    assert first["return_1m"] is None and first["vol_21"] is None

    for sector in ("Energy", "Banks"):
        tickers = [(t, q) for t, q, s in members if s == sector]
        value = sum(q * np.array([float(c) for c in closes[t]]) for t, q in tickers)
        r = pd.Series(value[1:] / value[:-1] - 1, index=days[1:])
        r_1m = (1 + r).rolling(21).apply(np.prod, raw=True) - 1
        vol = r.rolling(21).std(ddof=1) * math.sqrt(252)
        ytd = (1 + r).groupby([x.year for x in r.index]).cumprod() - 1
        for day in days[1:]:
            row = got[(sector, day)]
            assert close_to(row["return_1d"], r[day])
            assert close_to(row["return_1m"], r_1m[day]), (sector, day)
            assert close_to(row["vol_21"], vol[day])
            assert close_to(row["return_ytd"], ytd[day])
            assert row["return_3m"] is None
    first_of_2024 = next(x for x in days if x.year == 2024)
    assert got[("Banks", first_of_2024)]["return_ytd"] == pytest.approx(got[("Banks", first_of_2024)]["return_1d"])


# ----------------------------------------------------------------------------- numpy reference

TICKERS = {"AAAA3": (1000, 500), "BBBB4": (2000, 2500), "CCCC3": (500, 700)}  # quantities, period 1 / 2
REDUCERS = ("1000", "1250.5")
N_SESSIONS = 300
CHANGE = 150  # the second portfolio period starts on this session


def generated(seed: int = 11) -> tuple[list[date], dict[str, list[Decimal]], list[tuple], list[tuple]]:
    """300 sessions of 3 tickers, portfolios of 2 periods, cdi_daily with gaps (forward-filled)."""
    days = sessions(d("2023-01-02"), N_SESSIONS)
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.01, N_SESSIONS)
    closes = {
        t: [dec(start * math.exp(x)) for x in np.cumsum(beta * market + rng.normal(0, 0.012, N_SESSIONS))]
        for t, start, beta in (("AAAA3", 30, 1.2), ("BBBB4", 12, 0.6), ("CCCC3", 55, 0.9))
    }
    portfolios = []
    for i, day in enumerate(days):
        if i % 20 and i != CHANGE:
            continue  # published every 20 sessions (< 130 days) and when the quantities change
        period = 0 if i < CHANGE else 1
        members = [(t, q[period], "S1" if t != "CCCC3" else "S2") for t, q in TICKERS.items()]
        portfolios += portfolio_rows(day, members, REDUCERS[period])
    cdi = [(day, dec(0.0437 + 0.0001 * (i % 7), 8)) for i, day in enumerate(days) if i % 10 != 3]
    return days, closes, portfolios, cdi


def reference(days: list[date], closes: dict[str, list[Decimal]], cdi: list[tuple]) -> dict[str, pd.DataFrame]:
    """Independent pandas implementation of vol_21, beta_63, drawdown_252 and sharpe_63."""
    px = pd.DataFrame({t: [float(c) for c in v] for t, v in closes.items()}, index=days)
    period = np.array([0 if i < CHANGE else 1 for i in range(len(days))])
    qty = pd.DataFrame({t: np.where(period == 0, q[0], q[1]) for t, q in TICKERS.items()}, index=days)
    reducer = np.where(period == 0, float(REDUCERS[0]), float(REDUCERS[1]))
    level = (qty * px).sum(axis=1) / reducer
    m = level / level.shift(1) - 1
    cdi_s = pd.Series({day: float(v) for day, v in cdi}).reindex(days).ffill() / 100
    out = {}
    for t in closes:
        c = px[t]
        r = c / c.shift(1) - 1
        lr = np.log(c / c.shift(1))
        beta = pd.Series(np.nan, index=days)
        for i in range(63, len(days)):
            window = slice(i - 62, i + 1)
            ri, mi = r.iloc[window].to_numpy(), m.iloc[window].to_numpy()
            beta.iloc[i] = np.cov(ri, mi, ddof=1)[0, 1] / np.var(mi, ddof=1)
        out[t] = pd.DataFrame(
            {
                "vol_21": lr.rolling(21).std(ddof=1) * math.sqrt(252),
                "beta_63": beta,
                "drawdown_252": c / c.rolling(252).max() - 1,
                "sharpe_63": (r.rolling(63).mean() - cdi_s.rolling(63).mean())
                / r.rolling(63).std(ddof=1)
                * math.sqrt(252),
                "ibov_level": level,
            }
        )
    return out


def test_vol_beta_drawdown_sharpe_match_an_independent_pandas_implementation(spark: Any):
    days, closes, portfolios, cdi = generated()
    quotes = spark.createDataFrame(quote_rows(closes, days), QUOTES)
    frame = job.stock_indicators(
        quotes, spark.createDataFrame(portfolios, job.PORTFOLIO_SCHEMA), spark.createDataFrame(cdi, CDI)
    )
    got = by_key(frame, "ticker", "dt_ref")
    expected = reference(days, closes, cdi)

    assert len(got) == 3 * N_SESSIONS
    for ticker, table in expected.items():
        for day, row in table.iterrows():
            actual = got[(ticker, day)]
            for column in ("vol_21", "beta_63", "drawdown_252", "sharpe_63", "ibov_level"):
                assert close_to(actual[column], row[column]), (ticker, day, column, actual[column], row[column])
            assert actual["in_ibov"] is True
    # the thresholds: first non-NULL on the 22nd / 64th / 252nd session
    a = [got[("AAAA3", day)] for day in days]
    assert [x["vol_21"] is None for x in a[20:22]] == [True, False]
    assert [x["beta_63"] is None for x in a[62:64]] == [True, False]
    assert [x["drawdown_252"] is None for x in a[250:252]] == [True, False]
    assert [x["sharpe_252"] is None for x in a[251:253]] == [True, False]


# ------------------------------------------------------------------------------------------ job


def write_parquet(directory: Path, table: pa.Table) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, directory / "part-0.parquet")
    return directory.as_uri() + "/"


def staged_quotes_table(days: list[date], closes: dict[str, list[Decimal]], extra: bool = True) -> pa.Table:
    price = pa.decimal128(22, 8)
    rows = []
    for ticker, series in closes.items():
        for day, close in zip(days, series, strict=True):
            rows.append((ticker, day, "010", None, close, len(rows) + 1))
    if extra:
        # one option quote (not spot); a forward contract at two terms the same day (two instruments, both
        # kept); and one duplicated (ticker, dt_ref) of the spot market: the later source line wins
        rows.append(("AAAAC300", days[-1], "070", None, dec("1.23"), len(rows) + 1))
        rows.append(("AAAA3T", days[-1], "030", "030", dec("10.10"), len(rows) + 1))
        rows.append(("AAAA3T", days[-1], "030", "060", dec("10.20"), len(rows) + 1))
        rows.append(("AAAA3", days[-5], "010", None, closes["AAAA3"][-5] + 1, len(rows) + 1))
    ticker, day, market, term, close, source = zip(*rows, strict=True)
    return pa.table(
        {
            "ticker": pa.array(ticker),
            "dt_ref": pa.array(day, pa.date32()),
            "bdi_code": pa.array(["02"] * len(rows)),
            "market_type": pa.array(market),
            "term_days": pa.array(term, pa.string()),
            "currency": pa.array(["R$"] * len(rows)),
            "open": pa.array(close, price),
            "high": pa.array([c + Decimal("0.5") for c in close], price),
            "low": pa.array([c - Decimal("0.5") for c in close], price),
            "close": pa.array(close, price),
            "trades": pa.array([10] * len(rows), pa.int32()),
            "quantity": pa.array([1000] * len(rows), pa.int64()),
            "volume": pa.array([c * 1000 for c in close], pa.decimal128(20, 2)),
            "isin": pa.array(["BRXXXXACNOR0"] * len(rows)),
            "distribution": pa.array([100] * len(rows), pa.int16()),
            "source_line": pa.array(source, pa.int32()),
        }
    )


def staged_portfolio_table(rows: list[tuple]) -> pa.Table:
    names = ["dt_ref", "ticker", "name", "type", "theoretical_quantity", "weight_pct", "sector", "reducer"]
    types = [pa.date32(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.decimal128(9, 3), pa.string()]
    types.append(pa.decimal128(24, 8))
    columns = list(zip(*rows, strict=True))
    return pa.table({n: pa.array(c, t) for n, c, t in zip(names, columns, types, strict=True)})


def staged_series_table(rows: list[tuple[str, date, Decimal]]) -> pa.Table:
    codes = {"cdi_daily": 12, "selic_target": 432}
    return pa.table(
        {
            "series": pa.array([r[0] for r in rows]),
            "code": pa.array([codes[r[0]] for r in rows], pa.int32()),
            "date": pa.array([r[1] for r in rows], pa.date32()),
            "value": pa.array([r[2] for r in rows], pa.decimal128(20, 8)),
        }
    )


def job_args(base: Path, run_id: str, start: str, end: str, staged: dict[str, str] | None = None) -> dict[str, str]:
    staged = staged or {}
    return {
        "run_id": run_id,
        "staged_quotes": staged.get("quotes", ""),
        "staged_portfolio": staged.get("portfolio", ""),
        "staged_series": staged.get("series", ""),
        "curated_root": (base / "curated").as_uri() + "/",
        "refined_root": (base / "refined").as_uri() + "/",
        "start_date": start,
        "end_date": end,
        "result_path": (base / "results" / f"{run_id}.json").as_uri(),
    }


def table_rows(spark: Any, uri: str) -> list[tuple]:
    """All rows of a table, the partition column first and then the others by name, sorted."""
    frame = spark.read.parquet(uri)
    partition = frame.columns[-1]
    columns = [partition, *sorted(c for c in frame.columns if c != partition)]
    return sorted((tuple(r) for r in frame.select(*columns).collect()), key=repr)  # repr: NULLs sort too


def write_history(table: pa.Table, uri_dir: Path) -> None:
    """Curated history as an earlier run left it (Hive layout by dt_ref, zstd), written by pyarrow to save time."""
    pq.write_to_dataset(table, uri_dir, partition_cols=["dt_ref"], compression="zstd")


@pytest.fixture(scope="module")
def backfill(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """260 sessions of curated history, then one backfill run staging and (re)computing the last 40 of 300."""
    base = tmp_path_factory.mktemp("backfill")
    days, closes, portfolios, cdi = generated()
    old, new = days[:-40], days[-40:]
    write_history(
        staged_quotes_table(old, {t: v[:-40] for t, v in closes.items()}, extra=False), base / "curated/b3_quotes"
    )
    write_history(staged_portfolio_table([r for r in portfolios if r[0] < new[0]]), base / "curated/b3_ibov_portfolio")
    staged = {
        "quotes": write_parquet(
            base / "staging/quotes", staged_quotes_table(new, {t: v[-40:] for t, v in closes.items()})
        ),
        "portfolio": write_parquet(
            base / "staging/portfolio", staged_portfolio_table([r for r in portfolios if r[0] >= new[0]])
        ),
        "series": write_parquet(base / "staging/series", staged_series_table([("cdi_daily", x, v) for x, v in cdi])),
    }
    args = job_args(base, "backfill", new[0].isoformat(), new[-1].isoformat(), staged)
    result = job.run(spark, args)
    return {"base": base, "days": days, "closes": closes, "args": args, "result": result}


def test_the_run_writes_curated_and_refined_partitions_and_reports_them(spark: Any, backfill: dict[str, Any]):
    base, days, result = backfill["base"], backfill["days"], backfill["result"]
    assert json.loads((base / "results" / "backfill.json").read_text()) == result
    assert result["quotes_rows"] == 3 * 40 + 3  # + the option quote and the forward at 2 terms; the duplicate dropped
    assert result["quotes_duplicates_dropped"] == 1
    assert result["quotes_partitions"] == [x.isoformat() for x in days[-40:]]
    assert result["portfolio_partitions"] == [days[260].isoformat(), days[280].isoformat()]
    assert result["series"] == ["cdi_daily"]
    assert result["indicator_rows"] == 3 * 40  # spot tickers only
    assert result["indicator_partitions"] == [x.isoformat() for x in days[-40:]]
    assert result["sector_rows"] == 2 * 40
    assert result["sector_partitions"] == result["indicator_partitions"]

    # The duplicate (AAAA3, days[-5]): the row of the later source line is kept.
    quotes = spark.read.parquet((base / "curated/b3_quotes").as_uri())
    kept = quotes.filter(f"ticker = 'AAAA3' and dt_ref = '{days[-5]}'").collect()
    assert [r["close"] for r in kept] == [backfill["closes"]["AAAA3"][-5] + 1]
    # Hive layout, partition column only in the path, zstd
    forward = quotes.filter("ticker = 'AAAA3T'").orderBy("term_days").collect()
    assert [(r["term_days"], r["close"]) for r in forward] == [("030", dec("10.10", 8)), ("060", dec("10.20", 8))]
    assert quotes.count() == 3 * N_SESSIONS + 3  # history + staged
    partition = base / "curated/b3_quotes" / f"dt_ref={days[-1]}"
    [part] = list(partition.glob("*.parquet"))
    assert "dt_ref" not in pq.read_schema(part).names
    assert pq.ParquetFile(part).metadata.row_group(0).column(0).compression == "ZSTD"
    # refined: only [start, end], partitioned by dt_ref
    refined = sorted(p.name for p in (base / "refined/stock_indicators").glob("dt_ref=*"))
    assert refined == [f"dt_ref={x}" for x in days[-40:]]
    indicators = spark.read.parquet((base / "refined/stock_indicators").as_uri())
    assert dict(indicators.dtypes) == {
        **{c: "double" for c in ("close", "daily_return", "log_return", "ma_5", "ma_21", "ma_63", "ma_252")},
        **{c: "double" for c in ("high_21", "low_21", "high_252", "low_252", "vol_21", "drawdown_252")},
        **{c: "double" for c in ("ibov_level", "ibov_return", "beta_63", "sharpe_63", "sharpe_252", "weight_pct")},
        "ticker": "string",
        "in_ibov": "boolean",
        "currency": "string",
        "currency_changed": "boolean",
        "distribution_changed": "boolean",
        "dt_ref": "date",
    }
    assert indicators.filter("ma_252 is null or sharpe_252 is null or beta_63 is null").count() == 0
    sectors = spark.read.parquet((base / "refined/sector_performance").as_uri())
    assert dict(sectors.dtypes) == {
        "sector": "string",
        "constituents": "int",
        **{c: "double" for c in ("return_1d", "return_1m", "return_3m", "return_ytd", "vol_21", "return_1y")},
        **{c: "double" for c in ("return_cumulative", "sharpe_252", "relative_strength")},
        "dt_ref": "date",
    }
    # the analytics tables: a row per ticker and sector and session; correlations at the month ends
    assert result["risk_rows"] == result["signal_rows"] == (3 + 2) * 40
    assert result["risk_partitions"] == result["signal_partitions"] == result["indicator_partitions"]
    ends = [days[i] for i in range(259, N_SESSIONS - 1) if days[i + 1].month != days[i].month]
    assert result["correlation_partitions"] == [x.isoformat() for x in ends]
    risk = spark.read.parquet((base / "refined/risk_metrics").as_uri())
    assert risk.filter("level = 'sector' and var_95 is null").count() == 0
    correlations = spark.read.parquet((base / "refined/correlations").as_uri())
    assert {(r["kind"], r["left"], r["right"]) for r in correlations.select("kind", "left", "right").collect()} == {
        ("sector_sector", "S1", "S2"),
        ("sector_factor", "S1", "cdi_daily"),
        ("sector_factor", "S2", "cdi_daily"),
    }
    assert set(result["headline"]) == {"biggest_mover", "worst_sector_var"}
    assert result["headline"]["worst_sector_var"]["dt_ref"] == days[-1].isoformat()


def test_daily_runs_reproduce_the_backfill_rows(spark: Any, backfill: dict[str, Any], tmp_path: Path):
    base, days = backfill["base"], backfill["days"]
    shutil.copytree(base / "curated", tmp_path / "curated")  # same curated history
    # and the refined sector rows the daily runs find before them (return_cumulative chains from them)
    for partition in (base / "refined/sector_performance").glob("dt_ref=*"):
        if partition.name < f"dt_ref={days[-3]}":
            shutil.copytree(partition, tmp_path / "refined/sector_performance" / partition.name)
    for day in days[-3:]:
        result = job.run(spark, job_args(tmp_path, f"daily-{day}", day.isoformat(), day.isoformat()))
        assert result["indicator_rows"] == 3 and result["quotes_rows"] == 0

    expected = {"stock_indicators": 9, "sector_performance": 6, "risk_metrics": 15, "trading_signals": 15}
    for table, rows in expected.items():
        backfilled = [r for r in table_rows(spark, (base / "refined" / table).as_uri()) if r[0] >= days[-3]]
        daily = [r for r in table_rows(spark, (tmp_path / "refined" / table).as_uri()) if r[0] >= days[-3]]
        assert len(daily) == rows
        assert daily == backfilled, table


def lake_before_last_day(backfill: dict[str, Any], lake: Path) -> None:
    """In ``lake``: the backfill's curated tables, and its refined sector_performance before its last day."""
    base, days = backfill["base"], backfill["days"]
    shutil.copytree(base / "curated", lake / "curated")
    for partition in (base / "refined/sector_performance").glob("dt_ref=*"):
        if partition.name < f"dt_ref={days[-1]}":
            shutil.copytree(partition, lake / "refined/sector_performance" / partition.name)


def assert_last_day_as_backfilled(spark: Any, base: Path, lake: Path, day: Any, tables: tuple[str, ...]) -> None:
    """The refined rows of ``day`` in ``lake`` are the backfill's, table by table."""
    for table in tables:
        backfilled = [r for r in table_rows(spark, (base / "refined" / table).as_uri()) if r[0] == day]
        daily = [r for r in table_rows(spark, (lake / "refined" / table).as_uri()) if r[0] == day]
        assert daily and daily == backfilled, table


def test_a_daily_run_reads_only_the_partitions_its_windows_need(spark: Any, backfill: dict[str, Any], tmp_path: Path):
    """Unreadable partitions older than the lookback (quotes, portfolios, refined sectors) are never opened."""
    base, days = backfill["base"], backfill["days"]
    lake_before_last_day(backfill, tmp_path)
    too_old = f"dt_ref={days[-1] - timedelta(days=job.PORTFOLIO_LOOKBACK_DAYS + 1)}"  # before every lookback
    unreadable = [
        tmp_path / table / too_old
        for table in ("curated/b3_quotes", "curated/b3_ibov_portfolio", "refined/sector_performance")
    ]
    for folder in unreadable:
        folder.mkdir(parents=True)
        (folder / "part-0.zstd.parquet").write_bytes(b"not a Parquet file")

    result = job.run(spark, job_args(tmp_path, "daily-last", days[-1].isoformat(), days[-1].isoformat()))

    assert result["indicator_rows"] == 3 and result["indicator_partitions"] == [days[-1].isoformat()]
    for folder in unreadable:
        shutil.rmtree(folder)
    assert_last_day_as_backfilled(
        spark, base, tmp_path, days[-1], ("stock_indicators", "sector_performance", "risk_metrics", "trading_signals")
    )


def test_a_daily_run_skips_empty_and_non_date_partition_folders(spark: Any, backfill: dict[str, Any], tmp_path: Path):
    """An empty ``dt_ref=`` folder (a console "folder" object) and a ``dt_ref=20240102`` one change nothing."""
    base, days = backfill["base"], backfill["days"]
    lake_before_last_day(backfill, tmp_path)
    (tmp_path / "refined/sector_performance" / f"dt_ref={days[-2]}").rename(tmp_path / "empty")
    (tmp_path / "refined/sector_performance" / f"dt_ref={days[-2]}").mkdir()  # the newest before the run: empty
    compact = tmp_path / "curated/b3_quotes" / f"dt_ref={days[-1]:%Y%m%d}"  # Python reads it as a date, Spark not
    compact.mkdir()
    (compact / "part-0.zstd.parquet").write_bytes(b"not a Parquet file")

    result = job.run(spark, job_args(tmp_path, "daily-last", days[-1].isoformat(), days[-1].isoformat()))

    assert result["indicator_partitions"] == [days[-1].isoformat()]
    shutil.rmtree(compact)
    assert_last_day_as_backfilled(
        spark, base, tmp_path, days[-1], ("stock_indicators", "risk_metrics", "trading_signals")
    )


def test_rerunning_the_same_input_gives_the_same_rows(spark: Any, backfill: dict[str, Any]):
    base = backfill["base"]
    tables = [
        "curated/b3_quotes",
        "curated/b3_ibov_portfolio",
        "curated/bcb_series",
        "refined/stock_indicators",
        "refined/sector_performance",
        "refined/risk_metrics",
        "refined/trading_signals",
        "refined/correlations",
    ]
    before = {t: table_rows(spark, (base / t).as_uri()) for t in tables}
    kept = persistent_rdds(spark)
    again = job.run(spark, {**backfill["args"], "run_id": "again"})
    assert persistent_rdds(spark) <= kept  # the run freed what it cached and materialized
    after = {t: table_rows(spark, (base / t).as_uri()) for t in tables}

    assert {k: v for k, v in again.items() if k != "run_id"} == {
        k: v for k, v in backfill["result"].items() if k != "run_id"
    }
    for t in tables:
        assert after[t] == before[t], t
        assert len(set(after[t])) == len(after[t]), t


def persistent_rdds(spark: Any) -> set[int]:
    """The ids of the RDDs the session keeps on its executors (caches and local checkpoints)."""
    return set(spark.sparkContext._jsc.getPersistentRDDs().keySet())


def test_a_materialized_frame_has_its_rows_and_no_lineage_and_release_frees_them(spark: Any, tmp_path: Path):
    """glue_io.materialized: the same rows, a plan that no longer reads the files (so a write under them does not
    walk it), and its blocks gone with release, as a cache's are."""
    import glue_io

    pq.write_to_dataset(pa.table({"x": [1, 2, 3], "dt_ref": ["2024-01-02"] * 3}), tmp_path / "t", ["dt_ref"])
    read = spark.read.parquet((tmp_path / "t").as_uri()).filter("x > 1")
    kept = persistent_rdds(spark)
    frame = glue_io.materialized(read)
    assert len(persistent_rdds(spark) - kept) == 1
    assert sorted(frame.collect()) == sorted(read.collect())
    assert "Relation" not in frame._jdf.queryExecution().analyzed().toString()
    assert "Relation" in read._jdf.queryExecution().analyzed().toString()
    glue_io.release(frame)
    assert persistent_rdds(spark) == kept
    cached = read.cache()
    cached.count()
    glue_io.release(cached)
    assert persistent_rdds(spark) == kept


def test_bcb_series_merge_keeps_the_union_and_the_newest_value(spark: Any, tmp_path: Path):
    one, two, three, four = sessions(d("2024-07-01"), 4)
    first = [("cdi_daily", one, dec("0.04", 8)), ("cdi_daily", two, dec("0.041", 8)), ("cdi_daily", three, dec(1, 8))]
    first.append(("selic_target", one, dec("10.5", 8)))
    staged = {"series": write_parquet(tmp_path / "staging/1", staged_series_table(first))}
    assert job.run(spark, job_args(tmp_path, "first", "", "", staged))["series"] == ["cdi_daily", "selic_target"]

    second = [("cdi_daily", three, dec("0.042", 8)), ("cdi_daily", four, dec("0.043", 8))]
    staged = {"series": write_parquet(tmp_path / "staging/2", staged_series_table(second))}
    result = job.run(spark, job_args(tmp_path, "second", "", "", staged))

    assert result["series"] == ["cdi_daily"]
    assert result["indicator_rows"] == 0 and result["quotes_partitions"] == []
    rows = table_rows(spark, (tmp_path / "curated/bcb_series").as_uri())  # columns: series, code, date, value
    assert rows == [
        ("cdi_daily", 12, one, dec("0.04", 8)),
        ("cdi_daily", 12, two, dec("0.041", 8)),
        ("cdi_daily", 12, three, dec("0.042", 8)),  # the new value replaced 1.0
        ("cdi_daily", 12, four, dec("0.043", 8)),
        ("selic_target", 432, one, dec("10.5", 8)),  # an untouched series stays as it was
    ]
    assert sorted(p.name for p in (tmp_path / "curated").iterdir()) == ["bcb_series"]  # the temporary copy is gone
    [part] = list((tmp_path / "curated/bcb_series/series=cdi_daily").glob("*.parquet"))
    assert "series" not in pq.read_schema(part).names


# ------------------------------------------------------------------------------------ discontinuities

REALWORLD_1994 = Path(__file__).resolve().parents[2].parent / "shared/fixtures/realworld/b3"


def test_the_real_plan_never_mixes_two_currencies(spark: Any):
    """The 1994 file across the Real plan (CR$ until 1994-06-30, R$ from 1994-07-04; prices drop ~2.75x):
    the return across the change is NULL and flagged, never -63.56%, and windows restart in R$."""
    from functions.stocks.cotahist import parse_cotahist

    content = (REALWORLD_1994 / "COTAHIST_A1994_excerpt_real_transition.TXT").read_bytes()
    parsed = parse_cotahist(content, file_name="COTAHIST_A1994_excerpt_real_transition.TXT")
    assert parsed.table.num_rows == 6 and parsed.quarantined == []
    table = parsed.table.select(["ticker", "dt_ref", "high", "low", "close", "currency", "distribution"])
    assert [(r["ticker"], str(r["dt_ref"]), r["currency"]) for r in table.to_pylist()] == [
        ("PETR4", "1994-06-29", "CR$"),
        ("VALE5", "1994-06-29", "CR$"),
        ("PETR4", "1994-06-30", "CR$"),
        ("VALE5", "1994-06-30", "CR$"),
        ("PETR4", "1994-07-04", "R$"),
        ("VALE5", "1994-07-04", "R$"),
    ]
    quotes = spark.createDataFrame(table.to_pandas(), QUOTES)
    portfolio = spark.createDataFrame(
        portfolio_rows(d("1994-06-29"), [("PETR4", 100, "Petróleo"), ("VALE5", 50, "Mineração")], "1"),
        job.PORTFOLIO_SCHEMA,
    )
    rows = by_key(job.stock_indicators(quotes, portfolio, spark.createDataFrame([], CDI)), "ticker", "dt_ref")
    petr_0630, petr_0704 = rows[("PETR4", d("1994-06-30"))], rows[("PETR4", d("1994-07-04"))]
    # within CR$: 274.40 / 271.50 - 1 (per lot of 1,000: FATCOT 1000, the ratio is the same per share)
    assert petr_0630["daily_return"] == pytest.approx(274.40 / 271.50 - 1, rel=1e-9)
    assert (petr_0630["currency"], petr_0630["currency_changed"]) == ("CR$", False)
    for ticker in ("PETR4", "VALE5"):
        after = rows[(ticker, d("1994-07-04"))]
        assert (after["currency"], after["currency_changed"]) == ("R$", True)
        assert after["daily_return"] is None and after["log_return"] is None  # not 100.00 / 274.40 - 1 = -63.56%
        assert after["ibov_return"] is None
    assert petr_0704["close"] == pytest.approx(0.1)  # R$ 100.00 per lot of 1,000
    levels = by_key(job.ibov_levels(quotes, portfolio), "dt_ref")
    assert levels[(d("1994-06-30"),)]["ibov_return"] is not None
    assert levels[(d("1994-07-04"),)]["ibov_level"] is not None and levels[(d("1994-07-04"),)]["ibov_return"] is None
    sectors = by_key(job.sector_performance(quotes, portfolio), "sector", "dt_ref")
    assert sectors[("Petróleo", d("1994-06-30"))]["return_1d"] == pytest.approx(274.40 / 271.50 - 1, rel=1e-9)
    assert sectors[("Petróleo", d("1994-07-04"))]["return_1d"] is None
    assert sectors[("Petróleo", d("1994-07-04"))]["return_ytd"] is None
    assert all(r["daily_return"] is None or r["daily_return"] > -0.5 for r in rows.values())


def test_a_distribution_change_is_flagged(spark: Any):
    days = sessions(d("2024-03-04"), 3)
    rows = [("ABCD3", day, None, None, dec(10), "R$", dist) for day, dist in zip(days, (100, 100, 101), strict=True)]
    got = by_key(
        job.stock_indicators(
            spark.createDataFrame(rows, QUOTES),
            spark.createDataFrame([], job.PORTFOLIO_SCHEMA),
            spark.createDataFrame([], CDI),
        ),
        "dt_ref",
    )
    assert [got[(day,)]["distribution_changed"] for day in days] == [False, False, True]
    assert got[(days[2],)]["daily_return"] == 0.0  # kept: prices are not adjusted (docs/decisions/0012)
