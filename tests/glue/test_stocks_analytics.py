"""Risk metrics, sector performance, trading signals and correlations of glue/stocks_transform.py on local
Spark, each against values worked out by hand and against an independent numpy/pandas computation written
here (not a port of the Spark code): the window one short, a gap longer than the lookback, a currency change
and a constant price included."""

from __future__ import annotations

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
from tests.glue.test_stocks_transform import (
    CDI,
    QUOTES,
    by_key,
    d,
    dec,
    portfolio_rows,
    sessions,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark() -> Any:
    return local_spark()


RISK_COLUMNS = (
    "var_95",
    "var_99",
    "es_95",
    "volatility_21",
    "volatility_63",
    "volatility_252",
    "max_drawdown_252",
    "beta_252",
    "alpha_252",
    "sharpe_252",
    "sortino_252",
    "correlation_ibov_63",
    "correlation_ibov_252",
)


def near(actual: float | None, expected: float, rel: float = 1e-9) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None
    return actual is not None and math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-12)


def closes_from(returns: list[float], start: float = 100.0) -> list[Decimal]:
    """Closes (8 decimal places, as curated stores them) that compound ``returns`` from ``start``."""
    out, level = [dec(start, 8)], start
    for r in returns:
        level *= 1 + r
        out.append(dec(level, 8))
    return out


def quotes_of(spark: Any, rows: dict[str, tuple[list[date], list[Decimal]]], currency: dict | None = None) -> Any:
    data = []
    for ticker, (days, closes) in rows.items():
        for i, (day, close) in enumerate(zip(days, closes, strict=True)):
            money = (currency or {}).get(ticker, lambda _i: "R$")(i)
            data.append((ticker, day, close, close, close, money, 100))
    return spark.createDataFrame(data, QUOTES)


def no_portfolio(spark: Any) -> Any:
    return spark.createDataFrame([], job.PORTFOLIO_SCHEMA)


def no_cdi(spark: Any) -> Any:
    return spark.createDataFrame([], CDI)


# ------------------------------------------------------------------------------ the reference


def reference_risk(r: pd.Series, m: pd.Series, rf: pd.Series) -> pd.DataFrame:
    """Independent pandas/numpy risk metrics per session: the window is the last 252 (or 21, 63) sessions'
    returns, all present, else NaN."""
    out = pd.DataFrame(index=r.index, columns=list(RISK_COLUMNS), dtype=float)
    values, market, free = r.to_numpy(), m.to_numpy(), rf.to_numpy()
    for i in range(len(r)):
        for k in (21, 63, 252):
            x = values[max(0, i - k + 1) : i + 1]
            if len(x) == k and not np.isnan(x).any():
                out.iloc[i, out.columns.get_loc(f"volatility_{k}")] = np.std(x, ddof=1) * math.sqrt(252)
        for k in (63, 252):
            x, y = values[max(0, i - k + 1) : i + 1], market[max(0, i - k + 1) : i + 1]
            if len(x) == k and not (np.isnan(x).any() or np.isnan(y).any()) and x.std() > 0 and y.std() > 0:
                out.iloc[i, out.columns.get_loc(f"correlation_ibov_{k}")] = np.corrcoef(x, y)[0, 1]
        x = values[max(0, i - 251) : i + 1]
        if len(x) < 252 or np.isnan(x).any():
            continue
        q05 = np.quantile(x, 0.05)
        wealth = np.cumprod(1 + x)
        peaks = np.maximum.accumulate(np.maximum(wealth, 1.0))
        row = {
            "var_95": -q05,
            "var_99": -np.quantile(x, 0.01),
            "es_95": -x[x <= q05].mean(),
            "max_drawdown_252": min(0.0, (wealth / peaks - 1).min()),
        }
        y, f = market[i - 251 : i + 1], free[i - 251 : i + 1]
        if not np.isnan(f).any():
            excess = x - f
            row["sharpe_252"] = (x.mean() - f.mean()) / x.std(ddof=1) * math.sqrt(252) if x.std() > 0 else np.nan
            downside = math.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))
            row["sortino_252"] = excess.mean() / downside * math.sqrt(252) if downside > 0 else np.nan
        if not np.isnan(y).any() and y.std() > 0:
            beta = np.cov(x, y, ddof=1)[0, 1] / np.var(y, ddof=1)
            row["beta_252"] = beta
            if not np.isnan(f).any():
                row["alpha_252"] = ((x - f).mean() - beta * (y - f).mean()) * 252
        for key, value in row.items():
            out.iloc[i, out.columns.get_loc(key)] = value
    return out


def wilder_rsi(closes: np.ndarray, changes: int = 100, period: int = 14) -> float:
    """RSI(14) the textbook way over the last ``changes`` price changes: seed with simple averages of the
    first 14 gains and losses, then smooth each next one with weight 1/14."""
    delta = np.diff(closes[-(changes + 1) :])
    gains, losses = np.clip(delta, 0, None), np.clip(-delta, 0, None)
    gain, loss = gains[:period].mean(), losses[:period].mean()
    for g, lo in zip(gains[period:], losses[period:], strict=True):
        gain = (gain * (period - 1) + g) / period
        loss = (loss * (period - 1) + lo) / period
    if loss == 0:
        return 100.0 if gain > 0 else float("nan")
    return 100 - 100 / (1 + gain / loss)


# ------------------------------------------------------------------------------ risk: by hand


def test_var_and_expected_shortfall_of_a_known_set_of_returns_by_hand(spark: Any):
    """252 returns that are a shuffle of -0.126, -0.125, ..., +0.125 (steps of 0.001): sorted, the 13th and 14th
    are -0.114 and -0.113, so the 5% quantile (position 251 x 0.05 = 12.55) is -0.114 + 0.55 x 0.001 = -0.11345:
    VaR 95% = 0.11345. 1%: position 2.51 between -0.124 and -0.123: -0.12349, VaR 99% = 0.12349. ES 95% is
    the mean of the 13 returns at or below -0.11345: -(0.126 + ... + 0.114) / 13 = 0.120."""
    values = [k / 1000 for k in range(-126, 126)]
    rng = np.random.default_rng(3)
    returns = list(rng.permutation(values))
    days = sessions(d("2023-01-02"), 253)
    quotes = quotes_of(spark, {"HAND3": (days, closes_from(returns))})
    got = by_key(job.risk_metrics(quotes, no_portfolio(spark), no_cdi(spark)), "level", "name", "dt_ref")
    last = got[("ticker", "HAND3", days[-1])]
    assert last["var_95"] == pytest.approx(0.11345, rel=1e-6)
    assert last["var_99"] == pytest.approx(0.12349, rel=1e-6)
    assert last["es_95"] == pytest.approx(0.120, rel=1e-6)
    # the window one short: 251 returns on the day before
    before = got[("ticker", "HAND3", days[-2])]
    assert before["var_95"] is None and before["es_95"] is None and before["max_drawdown_252"] is None
    assert before["volatility_252"] is None and before["volatility_63"] is not None
    # no IBOV, no CDI: no beta, alpha, Sharpe, Sortino, correlation
    for column in ("beta_252", "alpha_252", "sharpe_252", "sortino_252", "correlation_ibov_63"):
        assert last[column] is None, column


def test_max_drawdown_by_hand(spark: Any):
    """Flat, then +10% (peak 1.10), -20% (0.88) and -5% (0.836): the worst fall is 0.836 / 1.10 - 1 = -0.24;
    a later +30% does not undo it while the peak is in the window."""
    returns = [0.0] * 252
    returns[100], returns[150], returns[160], returns[200] = 0.10, -0.20, -0.05, 0.30
    days = sessions(d("2023-01-02"), 253)
    quotes = quotes_of(spark, {"DRAW3": (days, closes_from(returns))})
    got = by_key(job.risk_metrics(quotes, no_portfolio(spark), no_cdi(spark)), "name", "dt_ref")
    assert got[("DRAW3", days[-1])]["max_drawdown_252"] == pytest.approx(-0.24, rel=1e-7)


def test_a_constant_price_has_zero_volatility_and_no_sharpe(spark: Any):
    """Close 10.00 every session, CDI 0.04% a day: volatility 0, VaR 0, ES 0, drawdown 0; Sharpe NULL (not
    infinite: zero deviation); the excess return is -0.0004 every day and so is the downside deviation, so
    Sortino = -0.0004 / 0.0004 x sqrt(252) = -15.8745; beta 0 and alpha = -0.0004 x 252 = -0.1008; no
    correlation (a constant has none)."""
    days = sessions(d("2023-01-02"), 253)
    quotes = quotes_of(
        spark,
        {
            "FLAT3": (days, [dec(10, 8)] * 253),
            "MOVE3": (days, closes_from(list(np.random.default_rng(5).normal(0, 0.01, 252)))),
        },
    )
    portfolio = spark.createDataFrame(
        portfolio_rows(days[0], [("FLAT3", 100, "S"), ("MOVE3", 100, "T")], "1"), job.PORTFOLIO_SCHEMA
    )
    portfolios = portfolio.unionByName(
        spark.createDataFrame(
            [r for day in days[50::50] for r in portfolio_rows(day, [("FLAT3", 100, "S"), ("MOVE3", 100, "T")], "1")],
            job.PORTFOLIO_SCHEMA,
        )
    )
    cdi = spark.createDataFrame([(day, dec("0.04", 8)) for day in days], CDI)
    got = by_key(job.risk_metrics(quotes, portfolios, cdi), "level", "name", "dt_ref")
    flat = got[("ticker", "FLAT3", days[-1])]
    assert (flat["volatility_21"], flat["volatility_252"], flat["var_95"], flat["es_95"]) == (0.0, 0.0, 0.0, 0.0)
    assert flat["max_drawdown_252"] == 0.0
    assert flat["sharpe_252"] is None
    assert flat["sortino_252"] == pytest.approx(-math.sqrt(252), rel=1e-9)
    assert flat["beta_252"] == 0.0
    assert flat["alpha_252"] == pytest.approx(-0.0004 * 252, rel=1e-9)
    assert flat["correlation_ibov_63"] is None and flat["correlation_ibov_252"] is None
    # the sector holding only the constant share: the same
    sector = got[("sector", "S", days[-1])]
    assert sector["volatility_252"] == 0.0 and sector["sharpe_252"] is None


# ------------------------------------------------------------------------- risk: against numpy


def generated_market(n: int = 300, seed: int = 11) -> dict[str, Any]:
    """Three tickers driven by one market factor, two sectors, portfolios every 20 sessions, CDI with gaps."""
    days = sessions(d("2023-01-02"), n)
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.01, n)
    quantities = {"AAAA3": 1000, "BBBB4": 2000, "CCCC3": 500}
    closes = {
        t: [dec(start * math.exp(x), 8) for x in np.cumsum(beta * market + rng.normal(0, 0.012, n))]
        for t, start, beta in (("AAAA3", 30, 1.2), ("BBBB4", 12, 0.6), ("CCCC3", 55, 0.9))
    }
    members = [(t, q, "S1" if t != "CCCC3" else "S2") for t, q in quantities.items()]
    portfolios = [r for i, day in enumerate(days) if i % 20 == 0 for r in portfolio_rows(day, members, "1000")]
    cdi = [(day, dec(0.0437 + 0.0001 * (i % 7), 8)) for i, day in enumerate(days) if i % 10 != 3]
    return {"days": days, "closes": closes, "quantities": quantities, "portfolios": portfolios, "cdi": cdi}


def reference_inputs(g: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series, pd.Series, dict[str, pd.Series]]:
    days = g["days"]
    px = pd.DataFrame({t: [float(c) for c in v] for t, v in g["closes"].items()}, index=days)
    qty = pd.Series(g["quantities"], dtype=float)
    level = (px * qty).sum(axis=1) / 1000
    m = level / level.shift(1) - 1
    rf = pd.Series({day: float(v) for day, v in g["cdi"]}).reindex(days).ffill() / 100
    sector_value = {"S1": px[["AAAA3", "BBBB4"]] @ qty[["AAAA3", "BBBB4"]], "S2": px["CCCC3"] * qty["CCCC3"]}
    sector_r = {s: v / v.shift(1) - 1 for s, v in sector_value.items()}
    return px, m, rf, sector_r


def test_risk_metrics_match_an_independent_numpy_computation(spark: Any):
    g = generated_market()
    quotes = quotes_of(spark, {t: (g["days"], v) for t, v in g["closes"].items()})
    frame = job.risk_metrics(
        quotes, spark.createDataFrame(g["portfolios"], job.PORTFOLIO_SCHEMA), spark.createDataFrame(g["cdi"], CDI)
    )
    got = by_key(frame, "level", "name", "dt_ref")
    px, m, rf, sector_r = reference_inputs(g)
    expected = {("ticker", t): reference_risk(px[t] / px[t].shift(1) - 1, m, rf) for t in px}
    expected |= {("sector", s): reference_risk(r, m, rf) for s, r in sector_r.items()}
    assert len(got) == 3 * len(g["days"]) + 2 * (len(g["days"]) - 1)  # a sector has no return on day one
    checked = 0
    for (level, name), table in expected.items():
        for day, row in table.iloc[1:].iterrows():
            actual = got[(level, name, day)]
            for column in RISK_COLUMNS:
                assert near(actual[column], row[column]), (level, name, day, column, actual[column], row[column])
                checked += actual[column] is not None
    assert checked > 5 * 48 * len(RISK_COLUMNS)  # 48 sessions with every value, for each of the 5 names
    first = [got[("ticker", "AAAA3", day)] for day in g["days"]]
    assert [x["var_95"] is None for x in first[251:253]] == [True, False]  # 252 returns need 253 closes
    assert [x["volatility_21"] is None for x in first[20:22]] == [True, False]


def test_risk_windows_never_span_a_gap_longer_than_the_lookback_or_a_currency_change(spark: Any):
    """GAPP3 trades 260 sessions, nothing for 420 days, then 300 sessions; MODR3 changes from CR$ to R$ on its
    261st session. After either break the first 21-session volatility comes on the 22nd session (21 returns),
    the first VaR on the 253rd, and each equals numpy on the sessions after the break alone."""
    rng = np.random.default_rng(9)
    before, after = sessions(d("2021-01-04"), 260), sessions(d("2021-01-04") + timedelta(days=420 + 380), 300)
    returns = list(rng.normal(0, 0.015, 559))
    closes = closes_from(returns)
    days = before + after
    quotes = quotes_of(
        spark,
        {"GAPP3": (days, closes), "MODR3": (days, closes)},
        currency={"MODR3": lambda i: "CR$" if i < 260 else "R$"},
    )
    got = by_key(job.risk_metrics(quotes, no_portfolio(spark), no_cdi(spark)), "name", "dt_ref")
    tail = pd.Series([float(c) for c in closes[260:]], index=after)
    expected = reference_risk(tail / tail.shift(1) - 1, pd.Series(np.nan, index=after), pd.Series(np.nan, index=after))
    for ticker in ("GAPP3", "MODR3"):
        rows = [got[(ticker, day)] for day in after]
        assert [r["volatility_21"] is None for r in rows[20:22]] == [True, False], ticker
        assert [r["var_95"] is None for r in rows[251:253]] == [True, False], ticker
        for day, r in zip(after, rows, strict=True):
            for column in ("var_95", "es_95", "volatility_21", "volatility_252", "max_drawdown_252"):
                assert near(r[column], expected.loc[day, column]), (ticker, day, column)
        assert got[(ticker, before[-1])]["var_95"] is not None  # the window before the break was whole


# ------------------------------------------------------------------------------- sector performance


def test_sector_performance_new_columns_match_numpy(spark: Any):
    g = generated_market()
    quotes = quotes_of(spark, {t: (g["days"], v) for t, v in g["closes"].items()})
    frame = job.sector_performance(
        quotes, spark.createDataFrame(g["portfolios"], job.PORTFOLIO_SCHEMA), spark.createDataFrame(g["cdi"], CDI)
    )
    got = by_key(frame, "sector", "dt_ref")
    _, m, rf, sector_r = reference_inputs(g)
    ibov_3m = (1 + m).rolling(63).apply(np.prod, raw=True) - 1
    for sector, r in sector_r.items():
        growth = 1 + r
        return_1y = growth.rolling(252).apply(np.prod, raw=True) - 1
        return_3m = growth.rolling(63).apply(np.prod, raw=True) - 1
        cumulative = growth.cumprod() - 1
        sharpe = (r.rolling(252).mean() - rf.rolling(252).mean()) / r.rolling(252).std(ddof=1) * math.sqrt(252)
        for day in g["days"][1:]:
            row = got[(sector, day)]
            assert near(row["return_1y"], return_1y[day]), (sector, day)
            assert near(row["return_cumulative"], cumulative[day], rel=1e-9), (sector, day)
            assert near(row["sharpe_252"], sharpe[day]), (sector, day)
            assert near(row["relative_strength"], (1 + return_3m[day]) / (1 + ibov_3m[day])), (sector, day)
    # by hand on day 2: cumulative = (1 + r1)(1 + r2) - 1
    r1, r2 = sector_r["S2"].iloc[1], sector_r["S2"].iloc[2]
    assert got[("S2", g["days"][2])]["return_cumulative"] == pytest.approx((1 + r1) * (1 + r2) - 1, rel=1e-12)


def test_return_cumulative_chains_from_the_refined_value_and_restarts_after_a_currency_change(spark: Any):
    """Sector X: member QQQ3 at 10, 11, 12.1, then (R$) 5, 5.5. Anchored at 0.21 on the third day: day 4 has no
    return (the currency changed), so day 5 restarts: 5.5 / 5 - 1 = 0.10. Unanchored from day 1: 0.10, 0.21."""
    days = sessions(d("2024-01-01"), 5)
    closes = [dec(x, 8) for x in ("10", "11", "12.1", "5", "5.5")]
    quotes = quotes_of(spark, {"QQQ3": (days, closes)}, currency={"QQQ3": lambda i: "CR$" if i < 3 else "R$"})
    portfolio = spark.createDataFrame(portfolio_rows(days[0], [("QQQ3", 1, "X")], "1"), job.PORTFOLIO_SCHEMA)
    plain = by_key(job.sector_performance(quotes, portfolio), "dt_ref")
    assert plain[(days[1],)]["return_cumulative"] == pytest.approx(0.10, rel=1e-12)
    assert plain[(days[2],)]["return_cumulative"] == pytest.approx(0.21, rel=1e-12)
    assert plain[(days[3],)]["return_cumulative"] is None
    assert plain[(days[4],)]["return_cumulative"] == pytest.approx(0.10, rel=1e-12)
    anchors = spark.createDataFrame([("X", days[1], 0.5)], "sector string, anchor_date date, anchor double")
    chained = by_key(job.sector_performance(quotes, portfolio, anchors=anchors), "dt_ref")
    assert chained[(days[2],)]["return_cumulative"] == pytest.approx(1.5 * 1.1 - 1, rel=1e-12)  # 0.65
    assert chained[(days[4],)]["return_cumulative"] == pytest.approx(0.10, rel=1e-12)


# ------------------------------------------------------------------------------------ signals


def test_signals_by_hand_on_a_straight_line(spark: Any):
    """close_i = 100 + i: every change is a gain, so RSI = 100; momentum 12-1 on session 252 (0-based) is
    close_231 / close_0 - 1 = 331 / 100 - 1 = 2.31; each close beyond 252 sessions is above all before: 'up';
    MA 50 > MA 200 from session 199 on, with no cross (the 50-session average was never below)."""
    n = 260
    days = sessions(d("2023-01-02"), n)
    closes = [dec(100 + i, 8) for i in range(n)]
    got = by_key(job.trading_signals(quotes_of(spark, {"LINE3": (days, closes)}), no_portfolio(spark)), "dt_ref")
    rows = [got[(day,)] for day in days]
    assert rows[252]["momentum_12_1"] == pytest.approx(2.31, rel=1e-12)
    assert rows[251]["momentum_12_1"] is None  # one short
    assert rows[100]["rsi_14"] == 100.0 and rows[99]["rsi_14"] is None  # 100 changes need 101 closes
    assert [r["breakout_252"] for r in rows[251:254]] == [None, "up", "up"]
    assert rows[199]["ma_200"] == pytest.approx(100 + 99.5, rel=1e-12) and rows[198]["ma_200"] is None
    assert rows[199]["ma_50"] == pytest.approx(100 + 174.5, rel=1e-12)
    assert rows[199]["ma_trend"] == "up" and rows[199]["ma_cross"] is None
    assert {r["level"] for r in rows} == {"ticker"}


def test_signals_match_pandas_with_a_cross_a_gap_and_a_currency_change(spark: Any):
    """A fall then a rise gives a golden cross; the day it happened is reported for 63 sessions; RSI, momentum
    and breakouts equal the textbook computations; a constant price has no RSI; a currency change restarts
    every window."""
    rng = np.random.default_rng(21)
    n = 420
    days = sessions(d("2022-01-03"), n)
    path = np.concatenate([np.linspace(0, -0.4, 210), np.linspace(-0.4, 0.5, n - 210)]) + rng.normal(0, 0.01, n)
    closes = [dec(50 * math.exp(x), 8) for x in path]
    flat = [dec(20, 8)] * n
    quotes = quotes_of(
        spark,
        {"WAVE3": (days, closes), "FLAT3": (days, flat), "MODR3": (days, closes)},
        currency={"MODR3": lambda i: "CR$" if i < 150 else "R$"},
    )
    got = by_key(job.trading_signals(quotes, no_portfolio(spark)), "name", "dt_ref")
    c = pd.Series([float(x) for x in closes], index=days)
    ma50, ma200 = c.rolling(50).mean(), c.rolling(200).mean()
    trend = np.sign(ma50 - ma200)
    crosses = [i for i in range(1, n) if trend.iloc[i - 1] < 0 < trend.iloc[i]]
    assert len(crosses) == 1
    cross = crosses[0]
    for i, day in enumerate(days):
        row = got[("WAVE3", day)]
        assert near(row["ma_50"], ma50.iloc[i]) and near(row["ma_200"], ma200.iloc[i])
        in_reach = cross <= i < cross + 63
        assert row["ma_cross"] == ("golden" if in_reach else None), (i, row["ma_cross"])
        assert row["ma_cross_date"] == (days[cross] if in_reach else None)
        momentum = c.iloc[i - 21] / c.iloc[i - 252] - 1 if i >= 252 else float("nan")
        assert near(row["momentum_12_1"], momentum), i
        rsi = wilder_rsi(c.to_numpy()[: i + 1]) if i >= 100 else float("nan")
        assert near(row["rsi_14"], rsi), (i, row["rsi_14"], rsi)
        if i >= 252:
            prior = c.iloc[i - 252 : i]
            expected = "up" if c.iloc[i] > prior.max() else "down" if c.iloc[i] < prior.min() else "none"
            assert row["breakout_252"] == expected, i
    assert got[("FLAT3", days[-1])]["rsi_14"] is None and got[("FLAT3", days[-1])]["breakout_252"] == "none"
    # MODR3: the windows restart in R$ on session 150: RSI after 100 R$ changes (sessions 151..250), MA 200
    # after 200 R$ sessions (150..349), momentum after 253 (150..402)
    modr = [got[("MODR3", day)] for day in days]
    assert modr[249]["rsi_14"] is None and near(modr[250]["rsi_14"], wilder_rsi(c.to_numpy()[150:251]))
    assert modr[348]["ma_200"] is None and near(modr[349]["ma_200"], c.iloc[150:350].mean())
    assert modr[401]["momentum_12_1"] is None and near(modr[402]["momentum_12_1"], c.iloc[381] / c.iloc[150] - 1)


def test_sector_rotation_rank_and_its_change(spark: Any):
    """Three one-member sectors: A grows 0.3% a day for 230 sessions then falls 1% a day, B grows 0.2% and C
    0.1% a day. The 12-1 momentum equals numpy's product of returns from 252 to 21 sessions ago; ranks follow it
    (1 = strongest). By hand, in logs: on session 252 A's window holds 230 gains and one fall, 0.679, B's 0.462
    and C's 0.231; each session swaps a gain of A for a fall (-0.013), so B overtakes A after 17 sessions, on
    session 269: B's change is +1 and A's -1, then 0. C stays 3rd."""
    n = 275
    days = sessions(d("2023-01-02"), n)
    growth = {"A": [0.003] * 230 + [-0.01] * (n - 231), "B": [0.002] * (n - 1), "C": [0.001] * (n - 1)}
    closes = {f"{s}AAA3": closes_from(r) for s, r in growth.items()}
    quotes = quotes_of(spark, {t: (days, v) for t, v in closes.items()})
    portfolio = spark.createDataFrame(
        [r for day in days[::50] for r in portfolio_rows(day, [(f"{s}AAA3", 1, s) for s in growth], "1")],
        job.PORTFOLIO_SCHEMA,
    )
    got = by_key(job.trading_signals(quotes, portfolio).filter("level = 'sector'"), "name", "dt_ref")
    for i in range(252, n):
        moms = {}
        for s, r in growth.items():
            window = np.array(r[i - 252 : i - 21])  # returns of sessions i-251 .. i-21 (r[k] is session k+1's)
            moms[s] = np.prod(1 + window) - 1
            assert near(got[(s, days[i])]["momentum_12_1"], moms[s], rel=1e-7), (s, i)
        order = sorted(moms, key=lambda s: -moms[s])
        assert [got[(s, days[i])]["rotation_rank"] for s in order] == [1, 2, 3], i
    assert got[("A", days[251])]["rotation_rank"] is None
    ranks = {s: [got[(s, day)]["rotation_rank"] for day in days[252:]] for s in growth}
    assert ranks["C"] == [3] * (n - 252)
    swap = next(k for k, r in enumerate(ranks["B"]) if r == 1) + 252
    assert swap == 269
    assert got[("B", days[swap])]["rotation_rank_change"] == 1 and got[("A", days[swap])]["rotation_rank_change"] == -1
    assert got[("B", days[swap + 1])]["rotation_rank_change"] == 0


# ------------------------------------------------------------------------------- correlations


def factor_rows(days: list[date], rng: np.random.Generator) -> list[tuple]:
    """usd_brl daily (PTAX on sessions), cdi_daily, ipca_monthly (first of the month) and an extra FRED-like
    daily level DFF: (source, series, date, value)."""
    usd = 5 * np.exp(np.cumsum(rng.normal(0, 0.008, len(days))))
    rows = [("bcb", "usd_brl", day, float(v)) for day, v in zip(days, usd, strict=True)]
    rows += [("bcb", "cdi_daily", day, 0.04 + 0.001 * (i % 5)) for i, day in enumerate(days)]
    months = sorted({day.replace(day=1) for day in days})
    rows += [
        ("bcb", "ipca_monthly", m, float(v)) for m, v in zip(months, rng.normal(0.4, 0.2, len(months)), strict=True)
    ]
    calendar = [days[0] + timedelta(days=k) for k in range((days[-1] - days[0]).days + 1)]
    dff = 5 + np.cumsum(rng.normal(0, 0.02, len(calendar)))
    rows += [("fred", "DFF", day, float(v)) for day, v in zip(calendar, dff, strict=True)]
    return rows


def test_correlations_at_month_ends_by_hand_and_against_numpy(spark: Any):
    """Sector Q's member has P's daily returns (from 200 instead of 100) and N's the opposite ones: at each
    month end corr(P, Q) = 1 and corr(N, P) = -1 by hand (up to the closes' 8 decimal places); sector vs factor
    correlations (USD/BRL daily change, CDI, the extra DFF series as a difference, IPCA month over month
    against the sector's monthly return) equal numpy's."""
    rng = np.random.default_rng(4)
    n = 300
    days = sessions(d("2023-01-02"), n)
    r = rng.normal(0, 0.01, n - 1)
    closes = {"PPPP3": closes_from(list(r)), "QQQQ3": closes_from(list(r), 200.0), "NNNN3": closes_from(list(-r))}
    members = [("PPPP3", 1, "P"), ("QQQQ3", 1, "Q"), ("NNNN3", 1, "N")]
    portfolio = spark.createDataFrame(
        [x for day in days[::50] for x in portfolio_rows(day, members, "1")], job.PORTFOLIO_SCHEMA
    )
    factors = spark.createDataFrame(factor_rows(days, rng), job.FACTOR_SCHEMA)
    quotes = quotes_of(spark, {t: (days, v) for t, v in closes.items()})
    got = by_key(job.correlations(quotes, portfolio, factors), "dt_ref", "window", "left", "right")

    ends = [days[i] for i in range(n - 1) if days[i + 1].month != days[i].month]
    assert {k[0] for k in got} == set(ends)
    sector_r = {s: pd.Series([float(x) for x in closes[t]], index=days).pct_change() for t, _, s in members}
    rows = factor_rows(days, _replay(4, n))
    usd = pd.Series({x[2]: x[3] for x in rows if x[1] == "usd_brl"}).reindex(days)
    dff = pd.Series({x[2]: x[3] for x in rows if x[1] == "DFF"})
    cdi = pd.Series({x[2]: x[3] for x in rows if x[1] == "cdi_daily"}).reindex(days)
    daily_factors = {"usd_brl": usd.pct_change(), "cdi_daily": cdi, "DFF": dff.reindex(days).diff()}
    ipca = pd.Series({x[2]: x[3] for x in rows if x[1] == "ipca_monthly"})
    for end in ends:
        i = days.index(end)
        for window in (63, 252):
            p_q = got[(end, window, "P", "Q")]
            n_p = got[(end, window, "N", "P")]
            if i < window:
                assert p_q["correlation"] is None and p_q["observations"] == i
                continue
            assert p_q["correlation"] == pytest.approx(1.0, abs=1e-6) and p_q["observations"] == window
            assert n_p["correlation"] == pytest.approx(-1.0, abs=1e-3)
            assert p_q["kind"] == "sector_sector"
            x = sector_r["P"].iloc[i - window + 1 : i + 1]
            for name, series in daily_factors.items():
                y = series.iloc[i - window + 1 : i + 1]
                row = got[(end, window, "P", name)]
                assert row["kind"] == "sector_factor" and row["observations"] == window
                assert near(row["correlation"], np.corrcoef(x, y)[0, 1], rel=1e-7), (end, window, name)
        monthly = got.get((end, 12, "P", "ipca_monthly"))
        months = pd.period_range(end=pd.Period(end, "M"), periods=12, freq="M")
        if months[0] <= pd.Period(days[0], "M"):  # the first month has no return on its first session
            assert monthly is None or monthly["correlation"] is None
            continue
        sector_month = (1 + sector_r["P"]).groupby(pd.PeriodIndex(days, freq="M")).prod() - 1
        y = [ipca[m.to_timestamp().date()] for m in months]
        assert monthly["kind"] == "sector_factor_monthly" and monthly["observations"] == 12
        assert near(monthly["correlation"], np.corrcoef(sector_month[months], y)[0, 1], rel=1e-7), end


def _replay(seed: int, n: int) -> np.random.Generator:
    """The generator state factor_rows saw in the test above (after the sector returns were drawn)."""
    rng = np.random.default_rng(seed)
    rng.normal(0, 0.01, n - 1)
    return rng


# ------------------------------------------------------------------------- targeted == sliding frames


def exact_rows(frame: Any, span: tuple[date, date]) -> list[tuple]:
    """The rows of ``frame`` dated in ``span``, as tuples, floats as their exact bits (``float.hex``: NaN
    equals NaN, -0.0 differs from 0.0, and so does any last bit)."""
    rows = frame.filter(frame["dt_ref"].between(span[0], span[1])).collect()
    return sorted((tuple(x.hex() if isinstance(x, float) else x for x in r) for r in rows), key=repr)


def test_targeted_frames_give_the_sliding_frames_rows_bit_for_bit(spark: Any):
    """A daily run computes only its sessions' rows (Trailing with a span); a backfill every row (Spark's
    sliding frames). On three tickers and two sectors with gaps in the CDI, a ticker that changes currency,
    one that stops trading for longer than the lookback and comes back, one that starts late (windows never
    full) and one that misses the span's days, the rows of each span are the same, float for float."""
    g = generated_market(n=420, seed=3)
    days, closes = g["days"], g["closes"]
    gap = days[:100] + days[390:]  # 290 sessions missing: more than the 400 days of the lookback
    assert (days[390] - days[99]).days > job.LOOKBACK_DAYS
    late, quiet = days[300:], days[:250] + days[260:]
    listing = {t: (days, v) for t, v in closes.items()} | {
        "MODR3": (days, closes["AAAA3"]),
        "GAPP3": (gap, closes["BBBB4"][:100] + closes["BBBB4"][390:]),
        "LATE3": (late, closes["CCCC3"][300:]),
        "QUIET3": (quiet, closes["CCCC3"][:250] + closes["CCCC3"][260:]),
    }
    quotes = quotes_of(spark, listing, currency={"MODR3": lambda i: "CR$" if i < 180 else "R$"})
    portfolios = spark.createDataFrame(g["portfolios"], job.PORTFOLIO_SCHEMA)
    cdi = spark.createDataFrame(g["cdi"], CDI)
    sessions_ = job.market_sessions(quotes, portfolios, cdi).cache()
    base = job.ticker_sessions(quotes, portfolios, sessions_).cache()
    daily = job.sector_daily(quotes, portfolios, sessions_).cache()
    returns = job._ticker_returns(base).unionByName(job._sector_returns(daily, sessions_)).cache()
    tables = {
        "stock_indicators": lambda span: job.indicators_of(base, span),
        "risk_metrics": lambda span: job.risk_of(returns, span),
        "trading_signals": lambda span: job.signals_of(base, daily, span),
    }
    spans = [
        (days[0], days[0]),  # the first session: no window has data yet
        (days[180], days[180]),  # a daily run: MODR3's first R$ session
        (days[250], days[-1]),  # QUIET3 misses days; GAPP3 comes back after its gap; LATE3's windows fill
    ]
    for name, compute in tables.items():
        every = compute(None).cache()
        for span in spans:
            expected, got = exact_rows(every, span), exact_rows(compute(span), span)
            assert got == expected, (name, span)
            assert expected, (name, span)
        every.unpersist()
    with pytest.raises(ValueError, match="reach"):
        job.Trailing(["ticker"], job.F.lit(True), reach=20).last(63)
    with pytest.raises(ValueError, match="overwrite"):  # its own columns never replace the input's
        job.Trailing(["ticker"], job.F.lit(True), reach=1).frame(base.withColumn("_offset", job.F.lit(0)))


# ------------------------------------------------------------------------------- daily == backfill


def write_table(directory: Path, rows: list[dict[str, Any]], schema: pa.Schema, partition: list[str]) -> None:
    pq.write_to_dataset(pa.Table.from_pylist(rows, schema), directory, partition_cols=partition)


def curated_two_years(root: Path) -> list[date]:
    """Two generated years of curated history (2023-01-02 .. 2024-12-03): 4 tickers in 3 sectors, a portfolio
    every 20 sessions, cdi_daily, usd_brl and ipca_monthly in bcb_series, and a FRED-like DFF in macro_series
    (source=fred/series=DFF/: a table the job has never been told about)."""
    days = [x for x in sessions(d("2023-01-02"), 600) if x <= d("2024-12-03")]
    rng = np.random.default_rng(17)
    market = rng.normal(0.0003, 0.01, len(days))
    names = {
        "AAAA3": ("S1", 1000, 1.1),
        "BBBB4": ("S1", 800, 0.7),
        "CCCC3": ("S2", 500, 1.3),
        "DDDD3": ("S3", 900, 0.4),
    }
    quotes = []
    for ticker, (_, _, beta) in names.items():
        path = np.cumsum(beta * market + rng.normal(0, 0.012, len(days)))
        for day, x in zip(days, path, strict=True):
            close = dec(20 * math.exp(x), 8)
            quotes.append(
                {
                    "ticker": ticker,
                    "dt_ref": day,
                    "market_type": "010",
                    "term_days": None,
                    "high": close,
                    "low": close,
                    "close": close,
                    "currency": "R$",
                    "distribution": 100,
                    "source_line": 1,
                }
            )
    price = pa.decimal128(22, 8)
    write_table(
        root / "b3_quotes",
        quotes,
        pa.schema(
            [
                ("ticker", pa.string()),
                ("dt_ref", pa.date32()),
                ("market_type", pa.string()),
                ("term_days", pa.string()),
                ("high", price),
                ("low", price),
                ("close", price),
                ("currency", pa.string()),
                ("distribution", pa.int16()),
                ("source_line", pa.int32()),
            ]
        ),
        ["dt_ref"],
    )
    portfolio = [
        {
            "dt_ref": day,
            "ticker": t,
            "name": t,
            "type": "ON",
            "theoretical_quantity": q,
            "weight_pct": dec(25, 3),
            "sector": s,
            "reducer": dec(1000, 8),
        }
        for day in days[::20]
        for t, (s, q, _) in names.items()
    ]
    write_table(
        root / "b3_ibov_portfolio",
        portfolio,
        pa.schema(
            [
                ("dt_ref", pa.date32()),
                ("ticker", pa.string()),
                ("name", pa.string()),
                ("type", pa.string()),
                ("theoretical_quantity", pa.int64()),
                ("weight_pct", pa.decimal128(9, 3)),
                ("sector", pa.string()),
                ("reducer", pa.decimal128(24, 8)),
            ]
        ),
        ["dt_ref"],
    )
    usd = 5 * np.exp(np.cumsum(rng.normal(0, 0.008, len(days))))
    series = [{"series": "usd_brl", "code": 1, "date": x, "value": dec(v, 8)} for x, v in zip(days, usd, strict=True)]
    series += [
        {"series": "cdi_daily", "code": 12, "date": x, "value": dec(0.04 + 0.001 * (i % 5), 8)}
        for i, x in enumerate(days)
    ]
    months = sorted({x.replace(day=1) for x in days})
    series += [
        {"series": "ipca_monthly", "code": 433, "date": m, "value": dec(v, 8)}
        for m, v in zip(months, rng.normal(0.4, 0.2, len(months)), strict=True)
    ]
    write_table(
        root / "bcb_series",
        series,
        pa.schema(
            [("series", pa.string()), ("code", pa.int32()), ("date", pa.date32()), ("value", pa.decimal128(20, 8))]
        ),
        ["series"],
    )
    calendar = [days[0] + timedelta(days=k) for k in range((days[-1] - days[0]).days + 1)]
    dff = 5 + np.cumsum(rng.normal(0, 0.02, len(calendar)))
    write_table(
        root / "macro_series",
        [{"source": "fred", "series": "DFF", "date": x, "value": float(v)} for x, v in zip(calendar, dff, strict=True)],
        pa.schema([("source", pa.string()), ("series", pa.string()), ("date", pa.date32()), ("value", pa.float64())]),
        ["source", "series"],
    )
    return days


def rows_of(spark: Any, folder: Path) -> list[tuple]:
    frame = spark.read.parquet(folder.as_uri())
    columns = ["dt_ref", *sorted(c for c in frame.columns if c != "dt_ref")]
    return sorted((tuple(r) for r in frame.select(*columns).collect()), key=repr)


def test_a_backfill_over_two_years_equals_daily_runs_over_the_last_sessions(spark: Any, tmp_path: Path):
    """One run over two generated years, then (on a copy of the same curated history and the refined sector rows
    before them) one daily run per session of the last four (2024-11-28 .. 2024-12-03, across a month end): every
    refined table holds the same rows, the November correlations included (written by the run of 2024-12-02)."""
    backfill, daily = tmp_path / "backfill", tmp_path / "daily"
    days = curated_two_years(backfill / "curated")
    last = days[-4:]
    assert last[0] == d("2024-11-28") and last[2] == d("2024-12-02")
    args = {
        "run_id": "backfill",
        "curated_root": (backfill / "curated").as_uri() + "/",
        "refined_root": (backfill / "refined").as_uri() + "/",
        "start_date": days[0].isoformat(),
        "end_date": days[-1].isoformat(),
    }
    result = job.run(spark, args)
    assert result["correlation_partitions"][-1] == "2024-11-29"
    assert result["risk_rows"] == (4 + 3) * len(days) - 3  # a sector has no return on day one

    shutil.copytree(backfill / "curated", daily / "curated")
    for partition in (backfill / "refined/sector_performance").glob("dt_ref=*"):
        if partition.name < f"dt_ref={last[0]}":
            shutil.copytree(partition, daily / "refined/sector_performance" / partition.name)
    for day in last:
        job.run(
            spark,
            {
                **args,
                "run_id": f"daily-{day}",
                "curated_root": (daily / "curated").as_uri() + "/",
                "refined_root": (daily / "refined").as_uri() + "/",
                "start_date": day.isoformat(),
                "end_date": day.isoformat(),
            },
        )

    for table in ("stock_indicators", "sector_performance", "risk_metrics", "trading_signals"):
        expected = [r for r in rows_of(spark, backfill / "refined" / table) if r[0] >= last[0]]
        got = [r for r in rows_of(spark, daily / "refined" / table) if r[0] >= last[0]]
        assert len(got) == len(expected) > 0, table
        assert got == expected, table
    expected = [r for r in rows_of(spark, backfill / "refined/correlations") if r[0] == d("2024-11-29")]
    got = rows_of(spark, daily / "refined/correlations")
    assert len(got) == len(expected) > 0
    assert got == expected
    kinds = {(r["kind"], r["right"]) for r in spark.read.parquet((daily / "refined/correlations").as_uri()).collect()}
    assert ("sector_factor", "DFF") in kinds and ("sector_factor_monthly", "ipca_monthly") in kinds
    assert ("sector_factor", "usd_brl") in kinds and ("sector_factor", "cdi_daily") in kinds
    # values exist at the end of two years: the 252-session windows are whole
    risk = spark.read.parquet((daily / "refined/risk_metrics").as_uri())
    assert risk.filter("var_95 is null or beta_252 is null or sharpe_252 is null").count() == 0


# ------------------------------------------------------------------------ the US watchlist against SPY


def test_etf_risk_against_spy_matches_an_independent_computation(spark: Any):
    """Two symbols over 300 US sessions with dividends and a 2-for-1 split; DFF every calendar day but the
    last three (FRED publishes it a day late) and a NULL. Returns, the market and the risk-free rate are
    rebuilt here in pandas from the raw fields, then the metrics by the reference above."""
    rng = np.random.default_rng(5)
    days = sessions(date(2023, 1, 2), 300)
    spy_r = rng.normal(0.0004, 0.01, len(days))
    xlk_r = 1.2 * spy_r + rng.normal(0, 0.006, len(days))
    bars, raw = [], {}
    for symbol, returns in (("SPY", spy_r), ("XLK", xlk_r)):
        closes, dividends, splits, price = [], [], [], 100.0
        for i, r in enumerate(returns):
            dividend = round(price * 0.004, 4) if i % 63 == 40 else 0.0
            split = 2.0 if (symbol == "XLK" and i == 150) else 1.0
            price = round((price * (1 + r) - dividend) / split, 4)
            closes.append(price)
            dividends.append(dividend)
            splits.append(split)
        raw[symbol] = pd.DataFrame({"close": closes, "dividend": dividends, "split": splits}, index=days)
        bars += [
            (symbol, day, dec(c, 8), dec(dv, 8), dec(sp, 8))
            for day, c, dv, sp in zip(days, closes, dividends, splits, strict=True)
        ]
    frame = spark.createDataFrame(
        bars,
        "symbol string, date date, close decimal(22,8), dividend_amount decimal(22,8), split_coefficient decimal(22,8)",
    )
    calendar = pd.date_range(days[0] - timedelta(days=10), days[-1] - timedelta(days=3)).date
    dff_values = {day: 5.33 + 0.25 * (day >= date(2023, 7, 27)) for day in calendar}
    dff_values[date(2023, 3, 1)] = None  # a NULL is skipped: the day before's value holds
    dff = spark.createDataFrame([(day, value) for day, value in dff_values.items()], "date date, value double")

    got = by_key(job.risk_of(job.global_returns(frame, dff, "SPY")), "name", "dt_ref")

    def total_returns(table: pd.DataFrame) -> pd.Series:
        return (table["close"] * table["split"] + table["dividend"]) / table["close"].shift(1) - 1

    known = pd.Series({day: value for day, value in dff_values.items() if value is not None})
    rate = pd.Series(
        [known[(known.index <= day) & (known.index >= day - timedelta(days=7))].iloc[-1] for day in days], index=days
    )
    rf = (1 + rate / 100) ** (1 / 252) - 1
    market = total_returns(raw["SPY"])
    assert got[("XLK", days[-1])]["beta_252"] is not None
    for symbol in ("SPY", "XLK"):
        expected = reference_risk(total_returns(raw[symbol]), market, rf)
        for day in days[-30:]:
            for column in RISK_COLUMNS:
                assert near(got[(symbol, day)][column], expected.loc[day, column], 1e-7), (symbol, day, column)
    assert got[("SPY", days[-1])]["beta_252"] == pytest.approx(1.0)
    assert got[("XLK", days[-1])]["beta_252"] == pytest.approx(1.2, abs=0.1)
    # The split day's return is the market's move, not -50%.
    split_day = days[150]
    xlk_split = total_returns(raw["XLK"]).loc[split_day]
    assert abs(xlk_split) < 0.1


def test_without_dff_the_etf_metrics_that_need_a_risk_free_rate_are_null(spark: Any):
    days = sessions(date(2023, 1, 2), 260)
    rng = np.random.default_rng(9)
    bars = []
    for symbol in ("SPY", "XLE"):
        for day, close in zip(days, closes_from(list(rng.normal(0, 0.01, len(days) - 1))), strict=True):
            bars.append((symbol, day, close, None, None))
    frame = spark.createDataFrame(
        bars,
        "symbol string, date date, close decimal(22,8), dividend_amount decimal(22,8), split_coefficient decimal(22,8)",
    )
    dff = spark.createDataFrame([], "date date, value double")
    last = by_key(job.risk_of(job.global_returns(frame, dff, "SPY")), "name", "dt_ref")[("XLE", days[-1])]
    assert last["var_95"] is not None and last["beta_252"] is not None and last["correlation_ibov_252"] is not None
    assert last["sharpe_252"] is None and last["sortino_252"] is None and last["alpha_252"] is None
