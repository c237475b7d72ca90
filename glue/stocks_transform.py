"""Stocks domain, Glue 5.0 PySpark job: curated B3 quotes, IBOV portfolios and BCB series; refined indicators.

Reads (Parquet staged by the Lambda "Validate" step; each input may be absent for a run):

- ``staged_quotes``: B3 daily quotes (COTAHIST), prices decimal(22,8) per share.
- ``staged_portfolio``: IBOV theoretical portfolios, one per ``dt_ref``.
- ``staged_series``: BCB SGS series (selic_target, selic_daily, cdi_daily, ipca_monthly, usd_brl).
- ``staged_macro``: FRED series (source, series, date, value; NULL where FRED has "."), merged into curated
  ``macro_series/series=<id>/`` like the BCB series.
- ``staged_global``: Alpha Vantage daily bars of the US watchlist, merged into curated
  ``global_quotes/symbol=<symbol>/`` (a refetched session replaces the earlier row; docs/decisions/0020).

Writes (Parquet, zstd, Hive layout, partition columns only in the paths):

1. Curated, rewriting only the partitions the input touches (dynamic partition overwrite):
   ``<curated_root>b3_quotes/dt_ref=YYYY-MM-DD/`` (one row per instrument and day, every market kept; an
   instrument is (ticker, market_type, term_days): a forward contract (TPMERC 030) trades at several terms
   the same day; options carry series, strike and expiry in the ticker; a duplicated instrument and day
   keeps the row with the highest ``source_line``),
   ``<curated_root>b3_ibov_portfolio/dt_ref=YYYY-MM-DD/`` and ``<curated_root>bcb_series/series=<name>/``
   (merge: existing rows of the touched series union the staged ones, the staged row wins per
   (series, date); the merge is written to a temporary prefix first and the series partitions are
   rewritten from there, so Spark never overwrites a path it is still reading).
2. Refined, for the sessions ``start_date``..``end_date`` (inclusive) only, computed from the CURATED
   tables (quotes of the spot market, ``market_type = '010'``, from ``start_date - 400 days``;
   portfolios from ``start_date - 530 days``; cdi_daily from ``start_date - 400 days``):
   ``<refined_root>stock_indicators/dt_ref=.../``, ``<refined_root>sector_performance/dt_ref=.../``,
   ``risk_metrics/``, ``trading_signals/`` and ``correlations/`` (dt_ref = a month end) the same way.
3. The run's result as JSON at ``result_path`` (also returned by `run`).

Indicators of ``finlake_refined.stock_indicators`` (one row per spot ticker and session; "the last N
sessions" are the ticker's last N trading sessions up to and including t; prices are the exact
decimals cast to double here):

- ``daily_return`` = close_t / close_prev - 1 and ``log_return`` = ln(close_t / close_prev), where prev is
  the ticker's previous session.
- ``ma_N`` (N = 5, 21, 63, 252) = mean(close) over the last N sessions; NULL when fewer than N.
- ``high_N`` / ``low_N`` (N = 21, 252) = max(high) / min(low) over the last N sessions; NULL when fewer.
- ``vol_21`` = stddev_samp(log_return) over the last 21 sessions x sqrt(252); NULL when fewer than 21 returns.
- ``drawdown_252`` = close_t / max(close over the last 252 sessions) - 1; NULL when fewer than 252. A bounded
  running peak, so that a daily run and a backfill agree.
- ``ibov_level`` = sum(theoretical_quantity x close) / reducer over the constituents of the portfolio in force
  (the latest portfolio with dt_ref <= t and not older than 130 days); NULL when there is none or a
  constituent has no close on t. The sum of products is exact (decimal); only the division is in double.
- ``ibov_return`` = ibov_level_t / ibov_level of the previous market session - 1 (NULL unless both exist).
- ``beta_63`` = covar_samp(daily_return, ibov_return) / var_samp(ibov_return) over the last 63 sessions;
  NULL unless all 63 sessions have both returns.
- ``sharpe_N`` (N = 63, 252) = (mean(daily_return) - mean(cdi_daily / 100)) / stddev_samp(daily_return)
  x sqrt(252) over the last N sessions, cdi_daily (% per day) forward-filled to the session date; NULL
  when fewer than N returns or a session in the window has no CDI.
- ``in_ibov`` (member of the portfolio in force) and ``weight_pct`` (its weight, NULL when not a member).
- ``currency`` (MODREF of the close), ``currency_changed`` (the ticker's previous session was quoted in
  another currency) and ``distribution_changed`` (DISMES differs from the previous session's: the share went
  ex a distribution, dividend, interest on equity, bonus, subscription or split).

Currencies are never mixed (docs/decisions/0012-discontinuities.md): every window above runs over the
ticker's sessions in ONE currency regime (a regime starts where MODREF changes, e.g. CR$ -> R$ on 1994-07-01),
so a return across the change is NULL and flagged, and windows restart; the IBOV level needs its
constituents in one currency and ``ibov_return`` is NULL across a change; a sector's ``return_1d`` is NULL
when a member's close and previous close differ in currency, and its compounded returns are NULL over a
window holding such a day. Corporate events are not adjusted for (COTAHIST carries no factors): they are
flagged with ``distribution_changed``.

``finlake_refined.sector_performance`` (per sector of the portfolio in force, NULL sectors excluded, and
market session t): ``constituents`` = members with a close on t and on the previous market session;
``return_1d`` = sum(q x close_t) / sum(q x close_prev) - 1, i.e. the daily returns weighted by
theoretical_quantity x close_prev (sums exact in decimal); ``return_1m`` / ``return_3m`` = prod(1 + return_1d)
- 1 over the sector's last 21 / 63 sessions (NULL when fewer); ``return_ytd`` = the same over the sessions
of t's calendar year up to t; ``vol_21`` = stddev_samp(return_1d) over the last 21 sessions x sqrt(252).

It also gains ``return_1y`` (return_1d compounded over the last 252 sessions), ``return_cumulative``
(compounded since the sector's first session: chained from the latest refined value before the run, restarted
after a NULL return), ``sharpe_252`` (as the indicators', NULL for a zero deviation) and ``relative_strength``
= (1 + return_3m) / (1 + IBOV's return compounded over the last 63 market sessions).

Analytics (docs/decisions/0018-market-analytics.md; ``analytics=off`` leaves them out):

- ``finlake_refined.risk_metrics`` per (level, name, dt_ref), level 'ticker' (daily_return) or 'sector'
  (return_1d), over the last 252 returns: ``var_95`` / ``var_99`` = minus the 5% / 1% quantile (linear
  interpolation), ``es_95`` = minus the mean of the returns at or below the 5% quantile, ``volatility_N``
  (N = 21, 63, 252) = stddev_samp x sqrt(252), ``max_drawdown_252`` (<= 0) of the wealth index, ``beta_252``,
  ``alpha_252`` = (mean(r - rf) - beta x mean(m - rf)) x 252 (m: ibov_return, rf: cdi_daily / 100),
  ``sharpe_252``, ``sortino_252`` = mean(r - rf) / sqrt(mean(min(r - rf, 0)^2)) x sqrt(252),
  ``correlation_ibov_N`` (N = 63, 252). Fractions; ratios NULL when a deviation is zero. With curated
  ``global_quotes``, level 'etf' rows for each symbol of the US watchlist against the ``global_market``
  symbol (SPY) with FRED's DFF as the risk-free rate (:func:`global_returns`); column ``benchmark`` names
  the market of beta, alpha and the correlations ('IBOV' or 'SPY').
- ``finlake_refined.trading_signals`` per (level, name, dt_ref): tickers: ``ma_50``, ``ma_200``, ``ma_trend``,
  ``ma_cross`` / ``ma_cross_date`` (the latest golden or death cross of the last 63 sessions), ``momentum_12_1``
  = close_{t-21} / close_{t-252} - 1, ``rsi_14`` (Wilder, over the last 100 changes), ``breakout_252`` ('up' /
  'down' / 'none' against the previous 252 closes); sectors: ``momentum_12_1`` (return_1d compounded from
  t-251 to t-21), ``rotation_rank`` (1 = strongest that day) and ``rotation_rank_change``.
- ``finlake_refined.correlations`` (dt_ref, window, left, right, kind, correlation, observations) at the month
  ends whose next session the run computes: sector vs sector and sector vs each daily factor over 63 and 252
  market sessions, sector vs each monthly factor over 12 months (see :func:`read_factors`, FACTOR_CHANGES).

Stored types: refined values are double (indicators, not money: computed from the exact decimals of the
curated zone); ``constituents`` int; ``in_ibov`` boolean; ``ticker`` / ``sector`` string; ``dt_ref`` date
(partition).

Why windows count sessions, not calendar days: tickers trade on B3 sessions, and the conventions
(21 sessions ~ a month, 63 ~ a quarter, 252 ~ a year) are session counts, so holidays never shrink a
window. To make a daily run (which reads 400 days of history) and a backfill (which may read more)
produce identical rows, a window value is also NULL when the data it would use (the oldest session,
or for returns the session before the oldest) lies more than 400 days before t; on a ticker that trades
every session this never happens (252 sessions span about 365 days).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import glue_io
from pyspark.sql import Column, DataFrame, SparkSession, Window, WindowSpec
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

SPOT_MARKET = "010"
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # a dt_ref partition value as Spark writes it
LOOKBACK_DAYS = 400  # history read for the refined tables; also the bound of every window
PORTFOLIO_LOOKBACK_DAYS = 530
PORTFOLIO_MAX_AGE_DAYS = 130  # a portfolio older than this is no longer "in force"
ANNUALISE = math.sqrt(252)

ARGUMENTS = (
    "run_id",
    "staged_quotes",
    "staged_portfolio",
    "staged_series",
    "staged_macro",
    "staged_global",
    "curated_root",
    "refined_root",
    "start_date",
    "end_date",
    "result_path",
    "analytics",
    "global_market",
)

# Declared types of the curated tables (columns not listed keep the staged type).
QUOTE_TYPES = {
    "ticker": "string",
    "dt_ref": "date",
    "bdi_code": "string",
    "market_type": "string",
    "open": "decimal(22,8)",
    "high": "decimal(22,8)",
    "low": "decimal(22,8)",
    "avg_price": "decimal(22,8)",
    "close": "decimal(22,8)",
    "best_bid": "decimal(22,8)",
    "best_ask": "decimal(22,8)",
    "trades": "int",
    "quantity": "bigint",
    "volume": "decimal(20,2)",
    "strike": "decimal(22,8)",
    "option_correction": "tinyint",
    "expiration": "date",
    "quote_factor": "int",
    "strike_points": "decimal(22,6)",
    "isin": "string",
    "distribution": "smallint",
    "source_line": "int",
}
PORTFOLIO_SCHEMA = (
    "dt_ref date, ticker string, name string, type string, theoretical_quantity bigint, "
    "weight_pct decimal(9,3), sector string, reducer decimal(24,8)"
)
SERIES_SCHEMA = "series string, code int, date date, value decimal(20,8)"
MACRO_SCHEMA = "source string, series string, date date, value decimal(20,8)"
GLOBAL_SCHEMA = (
    "symbol string, date date, open decimal(22,8), high decimal(22,8), low decimal(22,8), close decimal(22,8), "
    "adjusted_close decimal(22,8), volume bigint, dividend_amount decimal(22,8), split_coefficient decimal(22,8), "
    "function string"
)
QUOTES_MIN_SCHEMA = (
    "ticker string, dt_ref date, high decimal(22,8), low decimal(22,8), close decimal(22,8), "
    "currency string, distribution smallint"
)
# What the refined tables read of curated b3_quotes (the declared types of QUOTE_TYPES; currency as staged).
QUOTES_READ_SCHEMA = (
    "ticker string, market_type string, high decimal(22,8), low decimal(22,8), close decimal(22,8), "
    "currency string, distribution smallint, dt_ref date"
)
ANCHOR_SCHEMA = "sector string, return_cumulative double, dt_ref date"  # what _anchors reads of sector_performance
INSTRUMENT = ("ticker", "dt_ref", "market_type", "term_days")  # the key of b3_quotes

# Exact sums of quantity x price: decimal(16,0) x decimal(20,8) = decimal(37,8), no precision loss
# (quantities < 1e16, prices < 1e12).
_QTY = "decimal(16,0)"
_PRICE = "decimal(20,8)"


# --------------------------------------------------------------------------------------------- pure


def dedupe_quotes(quotes: DataFrame) -> tuple[DataFrame, int]:
    """Drop duplicated instruments: one row per instrument and day, and the count dropped.

    One row per instrument and day (:data:`INSTRUMENT`; a null term_days is one value): the one with the
    highest source_line. Returns it and the number dropped.
    """
    keys = [F.coalesce(F.col(c), F.lit("")) if c == "term_days" else F.col(c) for c in INSTRUMENT]
    newest = Window.partitionBy(*keys).orderBy(F.col("source_line").desc())
    kept = quotes.withColumn("_rank", F.row_number().over(newest)).filter("_rank = 1").drop("_rank")
    return kept, quotes.count() - kept.count()


def merge_series(existing: DataFrame | None, staged: DataFrame, key: str = "series") -> DataFrame:
    """Merge staged series rows into existing ones, the staged row winning per (key, date).

    Existing rows of the ``key`` values present in ``staged`` union the staged ones; staged wins per
    (key, date) (bcb_series and macro_series: key "series"; global_quotes: "symbol").
    """
    new = staged.withColumn("_newer", F.lit(1))
    if existing is not None:
        touched = [r[key] for r in staged.select(key).distinct().collect()]
        old = existing.filter(F.col(key).isin(touched)).select(*staged.columns).withColumn("_newer", F.lit(0))
        new = new.unionByName(old)
    order = [F.col("_newer").desc(), *([F.col("value").desc_nulls_last()] if "value" in staged.columns else [])]
    winner = Window.partitionBy(key, "date").orderBy(*order)
    return new.withColumn("_rank", F.row_number().over(winner)).filter("_rank = 1").drop("_rank", "_newer")


def _calendar(quotes: DataFrame, portfolios: DataFrame, cdi: DataFrame | None = None) -> DataFrame:
    """The market-session calendar with the portfolio and CDI in force on each session.

    One row per market session (a date with spot quotes): dt_ref, prev_session (the market session before),
    pf_date (the date of the portfolio in force: the latest <= dt_ref, not older than 130 days) and, with
    ``cdi``, cdi (cdi_daily in % per day, forward-filled to dt_ref).

    Built as one timeline of dates ordered by (date, kind) so that a portfolio or CDI point dated on a
    session applies to it. The timeline holds a few hundred dates: one unpartitioned window is fine.
    """
    nothing = F.lit(None).cast("double")
    parts = [
        portfolios.select(F.col("dt_ref").alias("day")).distinct().select("day", F.lit(0).alias("kind"), nothing),
        quotes.select(F.col("dt_ref").alias("day")).distinct().select("day", F.lit(2).alias("kind"), nothing),
    ]
    if cdi is not None:
        parts.append(cdi.select(F.col("date").alias("day"), F.lit(1).alias("kind"), F.col("value").cast("double")))
    timeline = parts[0].toDF("day", "kind", "value")
    for part in parts[1:]:
        timeline = timeline.union(part.toDF("day", "kind", "value"))
    ordered = Window.orderBy("day", "kind")
    upto, before = ordered.rowsBetween(Window.unboundedPreceding, 0), ordered.rowsBetween(Window.unboundedPreceding, -1)
    pf_date = F.last(F.when(F.col("kind") == 0, F.col("day")), ignorenulls=True).over(upto)
    columns = [
        F.col("day").alias("dt_ref"),
        F.last(F.when(F.col("kind") == 2, F.col("day")), ignorenulls=True).over(before).alias("prev_session"),
        F.when(F.datediff(F.col("day"), pf_date) <= PORTFOLIO_MAX_AGE_DAYS, pf_date).alias("pf_date"),
    ]
    if cdi is not None:
        columns.append(F.last(F.when(F.col("kind") == 1, F.col("value")), ignorenulls=True).over(upto).alias("cdi"))
    return timeline.select("kind", *columns).filter(F.col("kind") == 2).drop("kind")


def _members(calendar: DataFrame, portfolios: DataFrame) -> DataFrame:
    """(dt_ref, prev_session, ticker, theoretical_quantity, weight_pct, sector): the portfolio in force per session."""
    members = portfolios.select(
        F.col("dt_ref").alias("pf_date"), "ticker", "theoretical_quantity", "weight_pct", "sector"
    )
    return calendar.select("dt_ref", "prev_session", "pf_date").join(F.broadcast(members), "pf_date").drop("pf_date")


def _ibov(quotes: DataFrame, portfolios: DataFrame, calendar: DataFrame) -> DataFrame:
    """The calendar with ibov_level and ibov_return."""
    sizes = portfolios.groupBy(F.col("dt_ref").alias("pf_date")).agg(
        F.count(F.lit(1)).alias("_members"), F.max("reducer").alias("_reducer")
    )
    product = F.col("theoretical_quantity").cast(_QTY) * F.col("close").cast(_PRICE)
    priced = (
        quotes.select("ticker", "dt_ref", "close", "currency")
        .join(F.broadcast(_members(calendar, portfolios)), ["ticker", "dt_ref"])
        .groupBy("dt_ref")
        .agg(
            F.count("close").alias("_priced"),
            F.sum(product).alias("_value"),
            F.min("currency").alias("_currency"),
            F.max("currency").alias("_currency_max"),
        )
    )
    one_currency = F.col("_currency") == F.col("_currency_max")
    level = F.when(
        (F.col("_members") == F.col("_priced")) & one_currency,
        F.col("_value").cast("double") / F.col("_reducer").cast("double"),
    )
    levels = (
        calendar.join(F.broadcast(sizes), "pf_date", "left")
        .join(F.broadcast(priced), "dt_ref", "left")
        .withColumn("ibov_level", level)
    )
    in_order = Window.orderBy("dt_ref")  # the calendar has every session, in order
    same_currency = F.col("_currency") == F.lag("_currency").over(in_order)
    previous = F.lag("ibov_level").over(in_order)
    return levels.withColumn("ibov_return", F.when(same_currency, F.col("ibov_level") / previous - 1)).drop(
        "_members", "_reducer", "_priced", "_value", "_currency", "_currency_max"
    )


def ibov_levels(quotes: DataFrame, portfolios: DataFrame) -> DataFrame:
    """(dt_ref, ibov_level, ibov_return) for every spot-market session of ``quotes``."""
    return _ibov(quotes, portfolios, _calendar(quotes, portfolios)).select("dt_ref", "ibov_level", "ibov_return")


# An aggregate over a frame of rows: frame(F.avg, "close") is the mean close over the frame.
Frame = Callable[..., Column]


def _over(window: WindowSpec) -> Frame:
    """The frame of a Spark window specification: ``_over(w)(F.avg, "x")`` is ``F.avg("x").over(w)``."""
    return lambda aggregate, *columns: aggregate(*columns).over(window)


def _full(frame: Frame, n: int, value: str, oldest: str, expr: Column) -> Column:
    """``expr`` when the frame holds n non-null ``value`` and its ``oldest`` date is within the lookback."""
    complete = frame(F.count, value) == n
    bounded = F.datediff(F.col("dt_ref"), frame(F.min, oldest)) <= LOOKBACK_DAYS
    return F.when(complete & bounded, expr)


TARGETED_MAX_DAYS = 31  # a span whose last day is fewer days than this after its first: targeted frames (Trailing)


class Trailing:
    """Aggregates over each row's trailing rows in a partition, for every row or for some target rows.

    ``keys`` partition the rows (a ticker and its currency regime, a risk series, a pair...), ordered by
    ``dt_ref``; ``rows(first, last)`` is the frame from ``-first`` rows back to ``-last`` rows back (0 = the
    row itself), like Spark's ``rowsBetween(first, last)``. Two evaluations give the same values, bit for bit:

    - every row (``targets`` None, a backfill): Spark's sliding row frames. Spark folds the whole frame again
      for every row, so n rows with a w-row frame cost n x w updates per aggregate.
    - the rows where the boolean column ``targets`` holds (the sessions of a daily run, month ends): each
      target gets the ``reach`` rows before it in its partition with their ``_offset`` (0: the target
      itself), and one unbounded frame per target folds ``when(offset in frame, x)``. Aggregates skip NULLs
      and fold oldest first, as the sliding frame does, so sums and moments see the same values in the same
      order; the cost is one fold of ``reach`` rows per target.

    Use: ``frame = t.frame(df)``, columns with ``t.rows(...)``/``t.last(...)``/``t.lag(...)``, select with
    ``*t.carry``, then ``t.done(result)``, which keeps the target rows (every row when ``targets`` is None).
    """

    def __init__(self, keys: list[str], targets: Column | None = None, reach: int = 0):
        self.keys, self.targets, self.reach = keys, targets, reach
        self.by = Window.partitionBy(*keys).orderBy("dt_ref")
        self.carry = ["_offset"] if targets is not None else []
        # Each frame's mask built once: a few py4j round trips each, and a targeted run asks for frames hundreds
        # of times (the window: _whole).
        self._inside: dict[tuple[int, int], Column] = {}

    @cached_property
    def _whole(self) -> WindowSpec:
        """Each target's whole partition, oldest first: the window every targeted frame folds over."""
        whole = Window.partitionBy(*self.keys, "_target").orderBy("dt_ref")
        return whole.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)

    def frame(self, rows: DataFrame) -> DataFrame:
        """``rows`` ready for :meth:`rows`.

        Without targets, ``rows`` itself. With targets, each target's ``reach`` preceding rows (and itself),
        with ``_idx`` (the row's number in its partition), ``_target`` (the target's) and ``_offset``
        (``_target - _idx``); ``ValueError`` if ``rows`` already has one of those columns.
        """
        if self.targets is None:
            return rows
        clash = {"_idx", "_targets", "_target", "_offset"} & set(rows.columns)
        if clash:
            raise ValueError(f"Trailing's own columns would overwrite {sorted(clash)}")
        every = F.collect_list(F.when(self.targets, F.col("_idx"))).over(Window.partitionBy(*self.keys))
        indexed = rows.withColumn("_idx", F.row_number().over(self.by)).withColumn("_targets", every)
        # A row goes to each target from itself to `reach` rows later; a row no target reaches is dropped.
        mine = F.filter("_targets", lambda target: target.between(F.col("_idx"), F.col("_idx") + self.reach))
        return (
            indexed.withColumn("_target", F.explode(mine))
            .withColumn("_offset", F.col("_target") - F.col("_idx"))
            .drop("_targets")
        )

    def rows(self, first: int, last: int = 0) -> Frame:
        """The frame of the rows from ``-first`` to ``-last`` rows back (first <= last <= 0)."""
        if self.targets is None:
            return _over(self.by.rowsBetween(first, last))
        if -first > self.reach:
            raise ValueError(f"a frame of {-first} rows back is beyond this Trailing's reach of {self.reach}")
        if (first, last) not in self._inside:
            self._inside[(first, last)] = F.col("_offset").between(-last, -first)
        inside, whole = self._inside[(first, last)], self._whole

        def over(aggregate: Callable[..., Column], *columns: Column | str) -> Column:
            masked = [F.when(inside, F.col(c) if isinstance(c, str) else c) for c in columns]
            return aggregate(*masked).over(whole)

        return over

    def last(self, n: int) -> Frame:
        """The frame of the last ``n`` rows, the row itself included."""
        return self.rows(-(n - 1), 0)

    def lag(self, column: str, k: int) -> Column:
        """``column`` ``k`` rows back in the partition (NULL when there is none), as ``F.lag``."""
        if self.targets is None:
            return F.lag(column, k).over(self.by)
        return self.rows(-k, -k)(lambda c: F.first(c, ignorenulls=True), column)

    def done(self, frame: DataFrame) -> DataFrame:
        """The target rows of ``frame`` (a select of this Trailing's columns with ``*carry``)."""
        if self.targets is None:
            return frame
        return frame.filter(F.col("_offset") == 0).drop("_offset")


def _dated(span: tuple[date, date] | None) -> Column | None:
    """The rows dated in ``span`` (first, last day), as :class:`Trailing` targets; None (every row) without."""
    return None if span is None else F.col("dt_ref").between(F.lit(span[0]), F.lit(span[1]))


def market_sessions(quotes: DataFrame, portfolios: DataFrame, cdi: DataFrame | None = None) -> DataFrame:
    """The market-session calendar with the IBOV level and return of each session.

    One row per market session: dt_ref, prev_session, pf_date, ibov_level, ibov_return and (with ``cdi``)
    cdi (cdi_daily, % per day, forward-filled).
    """
    return _ibov(quotes, portfolios, _calendar(quotes, portfolios, cdi))


def ticker_sessions(quotes: DataFrame, portfolios: DataFrame, sessions: DataFrame) -> DataFrame:
    """The per-ticker, per-session base frame every ticker-level refined table starts from.

    One row per spot ticker and session with what every ticker-level table starts from: ticker, dt_ref,
    close/high/low (double), currency, currency_changed, distribution_changed, _regime (the ticker's currency
    regime number), prev_dt, daily_return, log_return, ibov_level, ibov_return, cdi, _member, weight_pct.
    """
    members = _members(sessions.select("dt_ref", "prev_session", "pf_date"), portfolios).select(
        "dt_ref", "ticker", F.lit(True).alias("_member"), F.col("weight_pct").cast("double").alias("weight_pct")
    )
    market = sessions.select("dt_ref", "ibov_level", "ibov_return", *(["cdi"] if "cdi" in sessions.columns else []))
    if "cdi" not in market.columns:
        market = market.withColumn("cdi", F.lit(None).cast("double"))

    # Windows never span two currencies: a regime is a ticker's run of sessions in one MODREF.
    in_time = Window.partitionBy("ticker").orderBy("dt_ref")
    by_ticker = Window.partitionBy("ticker", "_regime").orderBy("dt_ref")
    prev_ok = F.datediff(F.col("dt_ref"), F.col("prev_dt")) <= LOOKBACK_DAYS
    previous_currency = F.lag("currency").over(in_time)
    return (
        quotes.select(
            "ticker",
            "dt_ref",
            F.col("close").cast("double").alias("close"),
            F.col("high").cast("double").alias("high"),
            F.col("low").cast("double").alias("low"),
            "currency",
            "distribution",
        )
        .withColumn("currency_changed", F.coalesce(previous_currency != F.col("currency"), F.lit(False)))
        .withColumn(
            "distribution_changed",
            F.coalesce(F.lag("distribution").over(in_time) != F.col("distribution"), F.lit(False)),
        )
        .withColumn(
            "_regime",
            F.sum(F.col("currency_changed").cast("int")).over(in_time.rowsBetween(Window.unboundedPreceding, 0)),
        )
        .join(F.broadcast(market), "dt_ref", "left")
        .join(F.broadcast(members), ["dt_ref", "ticker"], "left")
        .withColumn("prev_close", F.lag("close").over(by_ticker))
        .withColumn("prev_dt", F.lag("dt_ref").over(by_ticker))
        .withColumn("daily_return", F.when(prev_ok, F.col("close") / F.col("prev_close") - 1))
        .withColumn("log_return", F.when(prev_ok, F.log(F.col("close") / F.col("prev_close"))))
    )


def stock_indicators(quotes: DataFrame, portfolios: DataFrame, cdi: DataFrame) -> DataFrame:
    """Indicators per spot ticker and session (see the module docstring) for every session of ``quotes``.

    ``quotes``: spot-market rows (ticker, dt_ref, high, low, close); ``portfolios``: the curated portfolios;
    ``cdi``: cdi_daily points (date, value).
    """
    return indicators_of(ticker_sessions(quotes, portfolios, market_sessions(quotes, portfolios, cdi)))


def indicators_of(base: DataFrame, span: tuple[date, date] | None = None) -> DataFrame:
    """``stock_indicators`` from :func:`ticker_sessions`: every session, or with ``span`` its sessions only.

    ``span`` (first, last day): the rows of those sessions only, computed with targeted frames (see
    :class:`Trailing`), with the same values as the rows of a computation over every session.
    """
    t = Trailing(["ticker", "_regime"], _dated(span), reach=251)
    last = t.last

    def on_closes(n: int, expr: Column) -> Column:
        return _full(last(n), n, "close", "dt_ref", expr)

    def on_returns(n: int, value: str, expr: Column) -> Column:
        return _full(last(n), n, value, "prev_dt", expr)

    def sharpe(n: int) -> Column:
        w = last(n)
        excess = w(F.avg, "daily_return") - w(F.avg, F.col("cdi") / 100)
        value = excess / w(F.stddev_samp, "daily_return") * ANNUALISE
        return F.when(w(F.count, "cdi") == n, on_returns(n, "daily_return", value))

    pair = F.when(F.col("daily_return").isNotNull() & F.col("ibov_return").isNotNull(), F.lit(1))
    beta = last(63)(F.covar_samp, "daily_return", "ibov_return") / last(63)(
        F.var_samp, F.when(pair.isNotNull(), F.col("ibov_return"))
    )

    return t.done(
        t.frame(base).select(
            "dt_ref",
            "ticker",
            "close",
            "daily_return",
            "log_return",
            *[on_closes(n, last(n)(F.avg, "close")).alias(f"ma_{n}") for n in (5, 21, 63, 252)],
            on_closes(21, last(21)(F.max, "high")).alias("high_21"),
            on_closes(21, last(21)(F.min, "low")).alias("low_21"),
            on_closes(252, last(252)(F.max, "high")).alias("high_252"),
            on_closes(252, last(252)(F.min, "low")).alias("low_252"),
            on_returns(21, "log_return", last(21)(F.stddev_samp, "log_return") * ANNUALISE).alias("vol_21"),
            on_closes(252, F.col("close") / last(252)(F.max, "close") - 1).alias("drawdown_252"),
            "ibov_level",
            "ibov_return",
            F.when(last(63)(F.count, pair) == 63, on_returns(63, "daily_return", beta)).alias("beta_63"),
            sharpe(63).alias("sharpe_63"),
            sharpe(252).alias("sharpe_252"),
            F.coalesce(F.col("_member"), F.lit(False)).alias("in_ibov"),
            "weight_pct",
            "currency",
            "currency_changed",
            "distribution_changed",
            *t.carry,
        )
    )


def _compounded(window: Any) -> Column:
    growth = F.aggregate(F.collect_list(1 + F.col("return_1d")).over(window), F.lit(1.0), lambda acc, x: acc * x)
    return growth - 1


def sector_daily(quotes: DataFrame, portfolios: DataFrame, sessions: DataFrame | None = None) -> DataFrame:
    """Each IBOV sector's constituents and 1-day return per market session.

    Per sector of the portfolio in force and market session: sector, dt_ref, prev_session, constituents,
    return_1d (NULL when a member's close and previous close differ in currency) and _mixed (1 on such a day).
    """
    calendar = sessions if sessions is not None else _calendar(quotes, portfolios)
    members = _members(calendar.select("dt_ref", "prev_session", "pf_date"), portfolios).filter(
        F.col("sector").isNotNull()
    )
    closes = quotes.select("ticker", "dt_ref", F.col("close").cast(_PRICE).alias("close"), "currency")
    before = closes.select(
        "ticker",
        F.col("dt_ref").alias("prev_session"),
        F.col("close").alias("close_prev"),
        F.col("currency").alias("currency_prev"),
    )
    qty = F.col("theoretical_quantity").cast(_QTY)
    mixed = F.col("currency") != F.col("currency_prev")
    return (
        closes.join(F.broadcast(members), ["ticker", "dt_ref"])
        .join(before, ["ticker", "prev_session"])
        .groupBy("sector", "dt_ref")
        .agg(
            F.count(F.lit(1)).cast("int").alias("constituents"),
            F.sum(qty * F.col("close")).alias("_value"),
            F.sum(qty * F.col("close_prev")).alias("_value_prev"),
            F.min("prev_session").alias("prev_session"),
            F.max(mixed.cast("int")).alias("_mixed"),
        )
        .withColumn(
            "return_1d",
            F.when(F.col("_mixed") == 0, F.col("_value").cast("double") / F.col("_value_prev").cast("double") - 1),
        )
        .drop("_value", "_value_prev")
    )


def sector_performance(
    quotes: DataFrame, portfolios: DataFrame, cdi: DataFrame | None = None, anchors: DataFrame | None = None
) -> DataFrame:
    """Per sector of the portfolio in force and market session (see the module docstring).

    ``cdi``: cdi_daily points (date, value), for sharpe_252; ``anchors``: (sector, anchor_date,
    anchor) the latest refined return_cumulative before the sessions computed, to chain from (see
    :func:`sector_performance_of`).
    """
    sessions = market_sessions(quotes, portfolios, cdi)
    return sector_performance_of(sector_daily(quotes, portfolios, sessions), sessions, anchors)


def _step(acc: Column, growth: Column) -> Column:
    """One compounding step on a cumulative return.

    One compounding step on a cumulative return: (1 + acc) x growth - 1 (the same float operations in a
    daily run chaining from the stored value and in a backfill folding many days).
    """
    return (acc + 1) * growth - 1


def sector_performance_of(daily: DataFrame, sessions: DataFrame, anchors: DataFrame | None = None) -> DataFrame:
    """``sector_performance`` from :func:`sector_daily` and :func:`market_sessions`.

    ``return_cumulative`` compounds return_1d since the sector's first session read, or, when ``anchors``
    holds the sector's refined value on a session read, from that value; it restarts after a session whose
    return is NULL (a currency change).
    """
    by_sector = Window.partitionBy("sector").orderBy("dt_ref")

    def last(n: int) -> Any:
        return by_sector.rowsBetween(-(n - 1), 0)

    def on_returns(n: int, expr: Column) -> Column:
        return _full(_over(last(n)), n, "return_1d", "prev_session", expr)

    market = sessions.select(
        "dt_ref",
        "prev_session",
        "ibov_return",
        (F.col("cdi") / 100 if "cdi" in sessions.columns else F.lit(None)).alias("_rf"),
    )
    in_market = Window.orderBy("dt_ref").rowsBetween(-62, 0)  # the calendar: a few hundred rows, one partition
    ibov_growth = F.aggregate(F.collect_list(1 + F.col("ibov_return")).over(in_market), F.lit(1.0), lambda a, x: a * x)
    market = market.withColumn(
        "_ibov_3m", F.when(F.count("ibov_return").over(in_market) == 63, ibov_growth - 1)
    ).withColumn("_ibov_3m_oldest", F.min("prev_session").over(in_market))
    frame = daily.join(F.broadcast(market.drop("prev_session")), "dt_ref", "left")
    if anchors is not None:
        known = daily.select("sector", F.col("dt_ref").alias("anchor_date"))
        frame = frame.join(F.broadcast(anchors.join(known, ["sector", "anchor_date"])), "sector", "left")
    else:
        frame = frame.withColumn("anchor_date", F.lit(None).cast("date")).withColumn(
            "anchor", F.lit(None).cast("double")
        )
    upto = by_sector.rowsBetween(Window.unboundedPreceding, 0)
    frame = frame.withColumn("_segment", F.sum(F.col("return_1d").isNull().cast("int")).over(upto))
    segment = Window.partitionBy("sector", "_segment").orderBy("dt_ref")
    after = F.col("anchor_date").isNull() | (F.col("dt_ref") > F.col("anchor_date"))
    chained = F.col("anchor_date").isNotNull() & (F.min("dt_ref").over(segment) <= F.col("anchor_date"))
    seed = F.when(chained, F.coalesce(F.col("anchor"), F.lit(0.0))).otherwise(F.lit(0.0))
    growths = F.collect_list(F.when(after, 1 + F.col("return_1d"))).over(
        segment.rowsBetween(Window.unboundedPreceding, 0)
    )
    cumulative = F.aggregate(growths, seed, _step)

    sharpe = (F.avg("return_1d").over(last(252)) - F.avg("_rf").over(last(252))) / F.stddev_samp("return_1d").over(
        last(252)
    )
    sharpe_ok = (F.count("_rf").over(last(252)) == 252) & (F.stddev_samp("return_1d").over(last(252)) > 0)
    ytd = Window.partitionBy("sector", F.year("dt_ref")).orderBy("dt_ref").rowsBetween(Window.unboundedPreceding, 0)
    ytd_whole = F.sum(F.col("_mixed")).over(ytd) == 0  # no day of the year so far mixes two currencies
    return_3m = on_returns(63, _compounded(last(63)))
    ibov_ok = F.datediff(F.col("dt_ref"), F.col("_ibov_3m_oldest")) <= LOOKBACK_DAYS
    return frame.select(
        "dt_ref",
        "sector",
        "constituents",
        "return_1d",
        on_returns(21, _compounded(last(21))).alias("return_1m"),
        return_3m.alias("return_3m"),
        F.when(ytd_whole, _compounded(ytd)).alias("return_ytd"),
        on_returns(21, F.stddev_samp("return_1d").over(last(21)) * ANNUALISE).alias("vol_21"),
        on_returns(252, _compounded(last(252))).alias("return_1y"),
        F.when(F.col("return_1d").isNotNull() & after, cumulative).alias("return_cumulative"),
        F.when(sharpe_ok, on_returns(252, sharpe * ANNUALISE)).alias("sharpe_252"),
        F.when(ibov_ok, (1 + return_3m) / (1 + F.col("_ibov_3m"))).alias("relative_strength"),
    )


# ------------------------------------------------------------------------------------- analytics

RISK_WINDOW = 252
VOLATILITY_WINDOWS = (21, 63, 252)
IBOV_CORRELATION_WINDOWS = (63, 252)
MA_SHORT, MA_LONG = 50, 200
CROSS_LOOKBACK = 63  # a moving-average cross is reported for 63 sessions after it happened
RSI_PERIOD, RSI_CHANGES = 14, 100  # Wilder's RSI(14), seeded and smoothed over the last 100 price changes
MOMENTUM_SKIP = 21  # 12-1 month momentum: from 252 sessions ago to 21 sessions ago
CORRELATION_WINDOWS = (63, 252)
MONTHLY_CORRELATION_MONTHS = 12
FACTOR_STALE_DAYS = 7  # a daily factor's value is carried to a session at most this many days
# How a macro series becomes a factor change; a series not listed is a level (relative change).
# rate: the value is already a change (cdi_daily % per day, ipca_monthly % per month, month over month);
# difference: a level in percent whose change is its difference (DFF, DGS10); relative: v_t / v_prev - 1.
FACTOR_CHANGES = {
    "usd_brl": "relative",
    "cdi_daily": "rate",
    "ipca_monthly": "rate",
    "DFF": "difference",
    "DGS10": "difference",
    "VIXCLS": "relative",
    "CPIAUCSL": "relative",
}
BCB_FACTORS = ("usd_brl", "cdi_daily", "ipca_monthly")  # the BCB series used as factors
DEFAULT_MARKET = "SPY"  # the benchmark of the US watchlist's risk metrics (job argument global_market)
FACTOR_SCHEMA = "source string, series string, date date, value double"


def _quantile(sorted_values: Column, n: int, p: float) -> Column:
    """The p-quantile of ``n`` sorted values (linear interpolation, numpy's default).

    The p-quantile of ``n`` sorted values with linear interpolation between closest ranks (numpy's default,
    Hyndman & Fan type 7).
    """
    h = (n - 1) * p
    low = math.floor(h)
    a = F.element_at(sorted_values, low + 1)
    if h == low:
        return a
    return a + (F.element_at(sorted_values, low + 2) - a) * (h - low)


def _max_drawdown(path: Column) -> Column:
    """The worst fall from a running peak of the wealth index 1, (1 + r_1), (1 + r_1)(1 + r_2), ... (<= 0)."""
    start = F.struct(F.lit(1.0).alias("w"), F.lit(1.0).alias("p"), F.lit(0.0).alias("d"))

    def step(acc: Column, r: Column) -> Column:
        wealth = acc["w"] * (1 + r)
        peak = F.greatest(acc["p"], wealth)
        return F.struct(wealth.alias("w"), peak.alias("p"), F.least(acc["d"], wealth / peak - 1).alias("d"))

    return F.aggregate(path, start, step, lambda acc: acc["d"])


def risk_of(returns: DataFrame, span: tuple[date, date] | None = None) -> DataFrame:
    """``finlake_refined.risk_metrics`` rows from daily returns (see the module docstring).

    ``returns``: level, name, dt_ref, prev_dt (the session the return starts from), r (daily simple return),
    m (ibov_return) and rf (CDI, fraction per day) for every session of each name. ``span`` (first, last
    day): the rows of those sessions only, with targeted frames (see :class:`Trailing`), same values.
    """
    n = RISK_WINDOW
    t = Trailing(["level", "name"], _dated(span), reach=n - 1)
    last = t.last

    both = F.col("r").isNotNull() & F.col("m").isNotNull()
    w = last(n)
    frame = (
        returns.withColumn("_rp", F.when(both, F.col("r")))
        .withColumn("_mp", F.when(both, F.col("m")))
        .withColumn("_ex", F.col("r") - F.col("rf"))
        .withColumn("_mex", F.when(both, F.col("m") - F.col("rf")))
    )
    frame = t.frame(frame).select(
        "level",
        "name",
        "dt_ref",
        "r",
        *[_full(last(k), k, "r", "prev_dt", F.lit(True)).alias(f"_full_{k}") for k in VOLATILITY_WINDOWS],
        *[(last(k)(F.stddev_samp, "r") * ANNUALISE).alias(f"_vol_{k}") for k in VOLATILITY_WINDOWS],
        w(F.collect_list, "r").alias("_path"),
        w(F.avg, "r").alias("_mean_r"),
        w(F.avg, "rf").alias("_mean_rf"),
        w(F.count, "rf").alias("_n_rf"),
        w(F.stddev_samp, "r").alias("_sd"),
        w(F.avg, "_ex").alias("_mean_ex"),
        w(F.count, "_ex").alias("_n_ex"),
        F.sqrt(w(F.avg, F.pow(F.least(F.col("_ex"), F.lit(0.0)), 2))).alias("_downside"),
        (w(F.covar_samp, "_rp", "_mp") / w(F.var_samp, "_mp")).alias("_beta"),
        w(F.var_samp, "_mp").alias("_var_m"),
        w(F.avg, "_mex").alias("_mean_mex"),
        w(F.count, "_mex").alias("_n_mex"),
        *[last(k)(F.corr, "_rp", "_mp").alias(f"_corr_{k}") for k in IBOV_CORRELATION_WINDOWS],
        *[last(k)(F.count, "_mp").alias(f"_pairs_{k}") for k in IBOV_CORRELATION_WINDOWS],
        *[
            (F.least(last(k)(F.var_samp, "_rp"), last(k)(F.var_samp, "_mp")) > 0).alias(f"_varies_{k}")
            for k in IBOV_CORRELATION_WINDOWS
        ],
        *t.carry,
    )
    full = F.col(f"_full_{n}")
    # Materialised once per row: the window's returns are collected once (Spark does not share two equal
    # collect_list windows), and a lambda would evaluate the quantile again for every element.
    frame = t.done(frame).withColumn("_sorted", F.array_sort("_path"))
    frame = frame.withColumn("_q95", F.when(full, _quantile(F.col("_sorted"), n, 0.05)))
    frame = frame.withColumn("_tail", F.when(full, F.filter(F.col("_sorted"), lambda x: x <= F.col("_q95"))))
    q95, tail = F.col("_q95"), F.col("_tail")
    beta_ok = full & (F.col(f"_pairs_{n}") == n) & (F.col("_var_m") > 0)  # the market, not the risk-free rate
    return frame.select(
        "dt_ref",
        "level",
        "name",
        F.when(full, -q95).alias("var_95"),
        F.when(full, -_quantile(F.col("_sorted"), n, 0.01)).alias("var_99"),
        F.when(full, -F.aggregate(tail, F.lit(0.0), lambda a, x: a + x) / F.size(tail)).alias("es_95"),
        *[F.when(F.col(f"_full_{k}"), F.col(f"_vol_{k}")).alias(f"volatility_{k}") for k in VOLATILITY_WINDOWS],
        F.when(full, _max_drawdown(F.col("_path"))).alias(f"max_drawdown_{n}"),
        F.when(beta_ok, F.col("_beta")).alias(f"beta_{n}"),
        F.when(
            beta_ok & (F.col("_n_ex") == n) & (F.col("_n_mex") == n),
            (F.col("_mean_ex") - F.col("_beta") * F.col("_mean_mex")) * 252,
        ).alias(f"alpha_{n}"),
        F.when(
            full & (F.col("_n_rf") == n) & (F.col("_sd") > 0),
            (F.col("_mean_r") - F.col("_mean_rf")) / F.col("_sd") * ANNUALISE,
        ).alias(f"sharpe_{n}"),
        F.when(
            full & (F.col("_n_ex") == n) & (F.col("_downside") > 0), F.col("_mean_ex") / F.col("_downside") * ANNUALISE
        ).alias(f"sortino_{n}"),
        *[
            F.when(
                F.col(f"_full_{k}") & (F.col(f"_pairs_{k}") == k) & F.col(f"_varies_{k}"), F.col(f"_corr_{k}")
            ).alias(f"correlation_ibov_{k}")
            for k in IBOV_CORRELATION_WINDOWS
        ],
    )


def global_returns(bars: DataFrame, dff: DataFrame, market: str) -> DataFrame:
    """Risk inputs (r, m, rf) of the US watchlist from curated ``global_quotes`` and FRED DFF.

    Risk inputs of the US watchlist (level 'etf', name the symbol) from curated ``global_quotes``: r =
    (close x split_coefficient + dividend_amount) / previous close - 1 (a total return from the unadjusted
    fields: adjusted closes fetched on different days do not chain; without dividends and splits, from
    TIME_SERIES_DAILY, a price return), m = the ``market`` symbol's r that session, rf = the latest FRED DFF
    (% per year) of the last FACTOR_STALE_DAYS days as a per-session rate, (1 + DFF/100)^(1/252) - 1; NULL
    without DFF (FRED off), and with it Sharpe, Sortino and alpha.

    ``bars``: symbol, date, close, dividend_amount, split_coefficient; ``dff``: date, value (percent per year).
    """
    by = Window.partitionBy("symbol").orderBy("date")
    rows = bars.select(
        "symbol",
        "date",
        F.col("close").cast("double").alias("close"),
        F.coalesce(F.col("dividend_amount").cast("double"), F.lit(0.0)).alias("dividend"),
        F.coalesce(F.col("split_coefficient").cast("double"), F.lit(1.0)).alias("split"),
    )
    rows = rows.select(
        F.lit("etf").alias("level"),
        F.col("symbol").alias("name"),
        F.col("date").alias("dt_ref"),
        F.lag("date").over(by).alias("prev_dt"),
        ((F.col("close") * F.col("split") + F.col("dividend")) / F.lag("close").over(by) - 1).alias("r"),
    )
    market_r = rows.filter(F.col("name") == market).select("dt_ref", F.col("r").alias("m"))
    days = rows.select("dt_ref").distinct()
    latest = Window.partitionBy("dt_ref").orderBy(F.col("date").desc())
    rf = (
        days.join(
            dff.select("date", F.col("value").cast("double").alias("dff")).filter(F.col("dff").isNotNull()),
            (F.col("date") <= F.col("dt_ref")) & (F.col("date") >= F.date_sub(F.col("dt_ref"), FACTOR_STALE_DAYS)),
        )
        .withColumn("_rank", F.row_number().over(latest))
        .filter("_rank = 1")
        .select("dt_ref", (F.pow(1 + F.col("dff") / 100, 1.0 / 252) - 1).alias("rf"))
    )
    return (
        rows.join(market_r, "dt_ref", "left")
        .join(rf, "dt_ref", "left")
        .select("level", "name", "dt_ref", "prev_dt", "r", "m", "rf")
    )


def _ticker_returns(base: DataFrame) -> DataFrame:
    return base.select(
        F.lit("ticker").alias("level"),
        F.col("ticker").alias("name"),
        "dt_ref",
        "prev_dt",
        F.col("daily_return").alias("r"),
        F.col("ibov_return").alias("m"),
        (F.col("cdi") / 100).alias("rf"),
    )


def _sector_returns(daily: DataFrame, sessions: DataFrame) -> DataFrame:
    market = sessions.select("dt_ref", F.col("ibov_return").alias("m"), (F.col("cdi") / 100).alias("rf"))
    return daily.join(F.broadcast(market), "dt_ref", "left").select(
        F.lit("sector").alias("level"),
        F.col("sector").alias("name"),
        "dt_ref",
        F.col("prev_session").alias("prev_dt"),
        F.col("return_1d").alias("r"),
        "m",
        "rf",
    )


def risk_metrics(quotes: DataFrame, portfolios: DataFrame, cdi: DataFrame) -> DataFrame:
    """The ``finlake_refined.risk_metrics`` rows (tickers and sectors) for every session of ``quotes``.

    ``finlake_refined.risk_metrics`` for every session of ``quotes``: one row per spot ticker
    (level 'ticker') and per IBOV sector (level 'sector'). Inputs as :func:`stock_indicators`.
    """
    sessions = market_sessions(quotes, portfolios, cdi)
    base = ticker_sessions(quotes, portfolios, sessions)
    daily = sector_daily(quotes, portfolios, sessions)
    return risk_of(_ticker_returns(base).unionByName(_sector_returns(daily, sessions)))


def _rsi(changes: Column) -> Column:
    """Wilder's RSI(14) of an array of price changes.

    Wilder's RSI(14) over RSI_CHANGES price changes (oldest first): the first 14 gains and losses are
    averaged, then avg_t = (avg_{t-1} x 13 + x_t) / 14; RSI = 100 - 100 / (1 + avg_gain / avg_loss),
    100 when there is no loss, NULL when the price never moved.
    """
    p = RSI_PERIOD
    seed = F.slice(changes, 1, p)
    start = F.struct(
        (F.aggregate(seed, F.lit(0.0), lambda a, x: a + F.greatest(x, F.lit(0.0))) / p).alias("g"),
        (F.aggregate(seed, F.lit(0.0), lambda a, x: a + F.greatest(-x, F.lit(0.0))) / p).alias("l"),
    )

    def step(acc: Column, x: Column) -> Column:
        return F.struct(
            ((acc["g"] * (p - 1) + F.greatest(x, F.lit(0.0))) / p).alias("g"),
            ((acc["l"] * (p - 1) + F.greatest(-x, F.lit(0.0))) / p).alias("l"),
        )

    final = F.aggregate(F.slice(changes, p + 1, RSI_CHANGES - p), start, step)
    gain, loss = final["g"], final["l"]
    return F.when(loss > 0, 100 - 100 / (1 + gain / loss)).when(gain > 0, F.lit(100.0))


def signals_of(base: DataFrame, daily: DataFrame, span: tuple[date, date] | None = None) -> DataFrame:
    """``finlake_refined.trading_signals`` from :func:`ticker_sessions` and :func:`sector_daily`.

    ``span`` (first, last day): the ticker rows of those sessions only, with targeted frames (see
    :class:`Trailing`), same values. The moving-average crosses and the sector rows are computed on every
    session either way: a cross is reported for CROSS_LOOKBACK sessions, so it needs the averages of the
    sessions before a target too, and sliding frames cost less than that many targets.
    """
    by = Window.partitionBy("ticker", "_regime").orderBy("dt_ref")

    def on_closes(frame: Frame, n: int, expr: Column) -> Column:
        return _full(frame, n, "close", "dt_ref", expr)

    def sliding(n: int) -> Frame:  # the moving averages: Spark's sliding frames over every session
        return _over(by.rowsBetween(-(n - 1), 0))

    ma_short = on_closes(sliding(MA_SHORT), MA_SHORT, sliding(MA_SHORT)(F.avg, "close"))
    ma_long = on_closes(sliding(MA_LONG), MA_LONG, sliding(MA_LONG)(F.avg, "close"))
    frame = base.withColumn("ma_50", ma_short).withColumn("ma_200", ma_long)
    frame = frame.withColumn("_trend", F.signum(F.col("ma_50") - F.col("ma_200")))
    previous = F.lag("_trend").over(by)
    kind = F.when((previous < 0) & (F.col("_trend") > 0), F.lit("golden")).when(
        (previous > 0) & (F.col("_trend") < 0), F.lit("death")
    )
    # A cross on session s compares the averages of s and s-1: its data starts MA_LONG sessions before s.
    frame = frame.withColumn(
        "_cross", F.when(kind.isNotNull(), F.struct(F.col("dt_ref").alias("day"), kind.alias("kind"))).otherwise(None)
    ).withColumn("_cross_oldest", F.min("dt_ref").over(by.rowsBetween(-MA_LONG, 0)))
    crosses = F.collect_list(
        F.when(F.col("_cross").isNotNull(), F.struct("_cross", F.col("_cross_oldest").alias("oldest")))
    ).over(by.rowsBetween(-(CROSS_LOOKBACK - 1), 0))
    frame = frame.withColumn("_crosses", crosses)
    frame = frame.withColumn("_change", F.when(F.col("daily_return").isNotNull(), F.col("close") - F.col("prev_close")))

    t = Trailing(["ticker", "_regime"], _dated(span), reach=RISK_WINDOW)
    rows = t.rows
    momentum = t.lag("close", MOMENTUM_SKIP) / t.lag("close", RISK_WINDOW) - 1
    changes = rows(-(RSI_CHANGES - 1))(F.collect_list, "_change")
    prior = rows(-RISK_WINDOW, -1)
    breakout = (
        F.when(F.col("close") > prior(F.max, "close"), F.lit("up"))
        .when(F.col("close") < prior(F.min, "close"), F.lit("down"))
        .otherwise(F.lit("none"))
    )
    recent = F.filter(F.col("_crosses"), lambda c: F.datediff(F.col("dt_ref"), c["oldest"]) <= LOOKBACK_DAYS)
    latest = F.element_at(recent, -1)["_cross"]
    tickers = t.frame(frame).select(
        "dt_ref",
        F.lit("ticker").alias("level"),
        F.col("ticker").alias("name"),
        "ma_50",
        "ma_200",
        F.when(F.col("_trend") > 0, "up").when(F.col("_trend") < 0, "down").alias("ma_trend"),
        F.when(F.size(recent) > 0, latest["kind"]).alias("ma_cross"),
        F.when(F.size(recent) > 0, latest["day"]).alias("ma_cross_date"),
        on_closes(rows(-RISK_WINDOW, 0), RISK_WINDOW + 1, momentum).alias("momentum_12_1"),
        _full(rows(-(RSI_CHANGES - 1)), RSI_CHANGES, "_change", "prev_dt", _rsi(changes)).alias("rsi_14"),
        F.when(on_closes(prior, RISK_WINDOW, F.lit(True)), breakout).alias("breakout_252"),
        *t.carry,
    )
    return t.done(tickers).unionByName(_rotation(daily), allowMissingColumns=True)


def _rotation(daily: DataFrame) -> DataFrame:
    """The sector rotation rows of trading_signals (12-1 month momentum and its rank).

    Sector rows of trading_signals: 12-1 month momentum of the sector (its return_1d compounded from 252
    to 21 sessions ago), its rank among the sectors that day (1 = strongest) and the change since the sector's
    previous session (positive: it moved up).
    """
    by = Window.partitionBy("sector").orderBy("dt_ref")
    window = by.rowsBetween(-(RISK_WINDOW - 1), -MOMENTUM_SKIP)
    n = RISK_WINDOW - MOMENTUM_SKIP
    momentum = _full(_over(window), n, "return_1d", "prev_session", _compounded(window))
    ranked = daily.withColumn("momentum_12_1", momentum)
    day = Window.partitionBy("dt_ref", F.col("momentum_12_1").isNull()).orderBy(F.col("momentum_12_1").desc())
    ranked = ranked.withColumn("rotation_rank", F.when(F.col("momentum_12_1").isNotNull(), F.rank().over(day)))
    return ranked.select(
        "dt_ref",
        F.lit("sector").alias("level"),
        F.col("sector").alias("name"),
        "momentum_12_1",
        F.col("rotation_rank").cast("int").alias("rotation_rank"),
        (F.lag("rotation_rank").over(by) - F.col("rotation_rank")).cast("int").alias("rotation_rank_change"),
    )


def trading_signals(quotes: DataFrame, portfolios: DataFrame) -> DataFrame:
    """``finlake_refined.trading_signals`` for every session of ``quotes`` (spot rows as :func:`stock_indicators`)."""
    sessions = market_sessions(quotes, portfolios)
    return signals_of(ticker_sessions(quotes, portfolios, sessions), sector_daily(quotes, portfolios, sessions))


def month_ends(sessions: DataFrame) -> DataFrame:
    """Each month's last market session and the session after it.

    (dt_ref, next_session): each month's last market session and the session after it (the first of a later
    month). A month end is known once its next session is: a run writes the month ends whose next session it
    computes.
    """
    return sessions.filter(
        F.col("prev_session").isNotNull() & (F.trunc("dt_ref", "month") != F.trunc("prev_session", "month"))
    ).select(F.col("prev_session").alias("dt_ref"), F.col("dt_ref").alias("next_session"))


def factor_frequency(factors: DataFrame) -> DataFrame:
    """(series, monthly): a series whose points all fall on the first of a month is monthly, else daily."""
    return factors.groupBy("series").agg(
        F.min((F.dayofmonth("date") == 1).cast("int")).cast("boolean").alias("monthly")
    )


def _change(value: Column, previous: Column, series: Column) -> Column:
    """A factor's change by FACTOR_CHANGES (relative when the series is not listed)."""
    how = F.coalesce(
        F.element_at(F.create_map(*[F.lit(x) for pair in FACTOR_CHANGES.items() for x in pair]), series),
        F.lit("relative"),
    )
    return (
        F.when(how == "rate", value)
        .when(how == "difference", value - previous)
        .when(previous != 0, value / previous - 1)
    )


def daily_factor_changes(factors: DataFrame, sessions: DataFrame) -> DataFrame:
    """Each daily factor's change between consecutive market sessions.

    (name, dt_ref, x, prev_dt) of each daily factor on each market session: its change between the values in
    force at prev_session and at the session (a value is in force FACTOR_STALE_DAYS days at most).
    """
    timeline = factors.select("series", F.col("date").alias("day"), F.lit(0).alias("kind"), "value").unionByName(
        sessions.select(F.col("dt_ref").alias("day"))
        .crossJoin(factors.select("series").distinct())
        .select("series", "day", F.lit(1).alias("kind"), F.lit(None).cast("double").alias("value"))
    )
    upto = Window.partitionBy("series").orderBy("day", "kind").rowsBetween(Window.unboundedPreceding, 0)
    point_day = F.last(F.when(F.col("kind") == 0, F.col("day")), ignorenulls=True).over(upto)
    in_force = F.when(
        F.datediff(F.col("day"), point_day) <= FACTOR_STALE_DAYS, F.last("value", ignorenulls=True).over(upto)
    )
    at = (
        timeline.select("series", "day", "kind", in_force.alias("value"))
        .filter(F.col("kind") == 1)
        .select("series", F.col("day").alias("dt_ref"), "value")
    )
    before = at.select("series", F.col("dt_ref").alias("prev_session"), F.col("value").alias("previous"))
    return (
        at.join(F.broadcast(sessions.select("dt_ref", "prev_session")), "dt_ref")
        .join(before, ["series", "prev_session"], "left")
        .select(
            F.col("series").alias("name"),
            "dt_ref",
            _change(F.col("value"), F.col("previous"), F.col("series")).alias("x"),
            F.col("prev_session").alias("prev_dt"),
        )
    )


def _pair_correlations(
    left: DataFrame, right: DataFrame, sessions: DataFrame, ends: DataFrame, kind: str, same: bool
) -> DataFrame:
    """Rolling Pearson correlations of two sets of series over CORRELATION_WINDOWS sessions, at month ends.

    (dt_ref, window, left, right, kind, correlation, observations) on the sessions of ``ends`` (dt_ref), for
    the windows of CORRELATION_WINDOWS market sessions: Pearson correlation of x over the window when both
    series have a value on every session of it, else NULL (observations: the sessions where both have one).
    Only those sessions' windows are folded (:class:`Trailing` targets).
    """
    marked = ends.select("dt_ref", F.lit(True).alias("_end")).distinct()
    grid = sessions.select("dt_ref", "prev_session").join(F.broadcast(marked), "dt_ref", "left")
    a = left.select(F.col("name").alias("left"), "dt_ref", F.col("x").alias("_a"))
    b = right.select(F.col("name").alias("right"), "dt_ref", F.col("x").alias("_b"))
    names = a.select("left").distinct().crossJoin(b.select("right").distinct())
    if same:
        names = names.filter(F.col("left") < F.col("right"))
    pairs = (
        grid.crossJoin(names)
        .join(a, ["left", "dt_ref"], "left")
        .join(b, ["right", "dt_ref"], "left")
        .withColumn("_both", F.when(F.col("_a").isNotNull() & F.col("_b").isNotNull(), F.lit(1)))
        .withColumn("_a", F.when(F.col("_both") == 1, F.col("_a")))
        .withColumn("_b", F.when(F.col("_both") == 1, F.col("_b")))
    )
    t = Trailing(["left", "right"], F.col("_end").isNotNull(), reach=max(CORRELATION_WINDOWS) - 1)
    by_window = []
    for n in CORRELATION_WINDOWS:  # every window in one pass over the pairs, then a row per window
        w = t.last(n)
        complete = (w(F.count, "_both") == n) & (F.datediff(F.col("dt_ref"), w(F.min, "prev_session")) <= LOOKBACK_DAYS)
        varies = F.least(w(F.var_samp, "_a"), w(F.var_samp, "_b")) > 0
        by_window.append(
            F.struct(
                F.lit(n).alias("window"),
                F.when(complete & varies, w(F.corr, "_a", "_b")).alias("correlation"),
                w(F.count, "_both").cast("int").alias("observations"),
            )
        )
    windows = t.done(t.frame(pairs).select("dt_ref", "left", "right", F.array(*by_window).alias("_windows"), *t.carry))
    return windows.select("dt_ref", "left", "right", F.explode("_windows").alias("_w")).select(
        "dt_ref",
        "_w.window",
        "left",
        "right",
        F.lit(kind).alias("kind"),
        "_w.correlation",
        "_w.observations",
    )


def monthly_sector_returns(daily: DataFrame, sessions: DataFrame) -> DataFrame:
    """Each sector's compounded return over each calendar month.

    (name, month, x, oldest): a sector's return over a calendar month (its return_1d compounded over every
    market session of the month; NULL when a session lacks one) and the oldest session it uses.
    """
    month = F.trunc("dt_ref", "month")
    count = sessions.groupBy(month.alias("month")).agg(F.count(F.lit(1)).alias("_sessions"))
    # in date order, so that every run multiplies in the same order
    days = F.array_sort(F.collect_list(F.struct("dt_ref", "return_1d")))
    growth = F.aggregate(days, F.lit(1.0), lambda a, x: a * (1 + x["return_1d"]))
    return (
        daily.groupBy("sector", month.alias("month"))
        .agg(
            growth.alias("_growth"),
            F.count("return_1d").alias("_returns"),
            F.min("prev_session").alias("oldest"),
        )
        .join(F.broadcast(count), "month")
        .select(
            F.col("sector").alias("name"),
            "month",
            F.when(F.col("_returns") == F.col("_sessions"), F.col("_growth") - 1).alias("x"),
            "oldest",
        )
    )


def monthly_factor_changes(factors: DataFrame) -> DataFrame:
    """(name, month, x) of each monthly factor: its change from the previous month (FACTOR_CHANGES)."""
    by = Window.partitionBy("series").orderBy("month")
    points = factors.select("series", F.trunc("date", "month").alias("month"), "value")
    previous = F.when(F.months_between("month", F.lag("month").over(by)) == 1, F.lag("value").over(by))
    return points.select(
        F.col("series").alias("name"), "month", _change(F.col("value"), previous, F.col("series")).alias("x")
    )


def _monthly_correlations(sectors: DataFrame, factors: DataFrame, ends: DataFrame) -> DataFrame:
    """Sector vs monthly factor correlations at each month end.

    Sector vs monthly factor at each month end: MONTHLY_CORRELATION_MONTHS consecutive months ending with the
    month end's month, both values present in each; window = the number of months.
    """
    n = MONTHLY_CORRELATION_MONTHS
    pairs = sectors.select(F.col("name").alias("left"), "month", F.col("x").alias("_a"), "oldest").join(
        factors.select(F.col("name").alias("right"), "month", F.col("x").alias("_b")), "month"
    )
    pairs = pairs.withColumn("_both", F.when(F.col("_a").isNotNull() & F.col("_b").isNotNull(), F.lit(1)))
    by = Window.partitionBy("left", "right").orderBy("month").rowsBetween(-(n - 1), 0)
    consecutive = F.months_between("month", F.min("month").over(by)) == n - 1
    stats = pairs.select(
        "month",
        "left",
        "right",
        (F.count("_both").over(by) == n) & consecutive,
        F.min("oldest").over(by).alias("_oldest"),
        F.when(F.col("_both") == 1, F.col("_a")).alias("_a"),
        F.when(F.col("_both") == 1, F.col("_b")).alias("_b"),
    ).toDF("month", "left", "right", "_complete", "_oldest", "_a", "_b")
    stats = stats.select(
        "month",
        "left",
        "right",
        "_complete",
        "_oldest",
        F.corr("_a", "_b").over(by).alias("_corr"),
        F.count("_a").over(by).cast("int").alias("observations"),
        (F.least(F.var_samp("_a").over(by), F.var_samp("_b").over(by)) > 0).alias("_varies"),
    )
    at = ends.select("dt_ref", F.trunc("dt_ref", "month").alias("month"))
    bounded = F.datediff(F.col("dt_ref"), F.col("_oldest")) <= LOOKBACK_DAYS
    return stats.join(at, "month").select(
        "dt_ref",
        F.lit(n).alias("window"),
        "left",
        "right",
        F.lit("sector_factor_monthly").alias("kind"),
        F.when(F.col("_complete") & bounded & F.col("_varies"), F.col("_corr")).alias("correlation"),
        "observations",
    )


def correlations_of(daily: DataFrame, sessions: DataFrame, factors: DataFrame, ends: DataFrame) -> DataFrame:
    """The ``finlake_refined.correlations`` rows at the given month ends.

    ``finlake_refined.correlations`` at the month ends ``ends`` (dt_ref) from :func:`sector_daily`,
    :func:`market_sessions` and the factors (source, series, date, value).
    """
    sector_x = daily.select(F.col("sector").alias("name"), "dt_ref", F.col("return_1d").alias("x"))
    frequency = factor_frequency(factors)
    by_frequency = factors.join(F.broadcast(frequency), "series")
    daily_factors = daily_factor_changes(by_frequency.filter(~F.col("monthly")).drop("monthly"), sessions)
    session_rows = _pair_correlations(sector_x, sector_x, sessions, ends, "sector_sector", same=True).unionByName(
        _pair_correlations(sector_x, daily_factors, sessions, ends, "sector_factor", same=False)
    )
    monthly = _monthly_correlations(
        monthly_sector_returns(daily, sessions),
        monthly_factor_changes(by_frequency.filter(F.col("monthly")).drop("monthly")),
        ends,
    )
    return session_rows.unionByName(monthly)


def correlations(
    quotes: DataFrame, portfolios: DataFrame, factors: DataFrame, first: date | None = None, last: date | None = None
) -> DataFrame:
    """The ``finlake_refined.correlations`` rows of the month ends a run computes.

    ``finlake_refined.correlations`` at the month ends whose next session lies in [first, last] (all the
    month ends with a next session in ``quotes`` when not given). ``factors``: (source, series, date, value).
    """
    sessions = market_sessions(quotes, portfolios)
    ends = month_ends(sessions)
    if first is not None:
        ends = ends.filter(F.col("next_session") >= F.lit(first))
    if last is not None:
        ends = ends.filter(F.col("next_session") <= F.lit(last))
    return correlations_of(sector_daily(quotes, portfolios, sessions), sessions, factors, ends)


# ----------------------------------------------------------------------------------------------- io


def _typed(frame: DataFrame, types: dict[str, str]) -> DataFrame:
    return frame.select(*[F.col(c).cast(types[c]).alias(c) if c in types else F.col(c) for c in frame.columns])


def _write_curated(spark: SparkSession, args: dict[str, str], curated: str, result: dict[str, Any]) -> None:
    """Write each staged input to its curated table, the tables concurrently (`glue_io.concurrently`)."""

    def quotes() -> None:
        staged = glue_io.read_optional(spark, args.get("staged_quotes"))
        if staged is None:
            return
        rows, dropped = dedupe_quotes(_typed(staged, QUOTE_TYPES))
        rows = rows.cache()
        result["quotes_rows"] = rows.count()
        result["quotes_duplicates_dropped"] = dropped
        result["quotes_partitions"] = glue_io.distinct_values(rows, "dt_ref")
        glue_io.write_partitioned(rows, curated + "b3_quotes/", "dt_ref")
        rows.unpersist()

    def portfolio() -> None:
        staged = glue_io.read_optional(spark, args.get("staged_portfolio"))
        if staged is None:
            return
        rows = _typed(staged, _ddl_types(PORTFOLIO_SCHEMA))
        result["portfolio_partitions"] = glue_io.distinct_values(rows, "dt_ref")
        glue_io.write_partitioned(rows, curated + "b3_ibov_portfolio/", "dt_ref")

    def merged(staged_arg: str, table: str, ddl: str, key: str, said: str) -> Callable[[], None]:
        """Merge the staged rows of ``staged_arg`` into curated ``table`` by ``key`` (`_merge_into`)."""

        def write() -> None:
            staged = glue_io.read_optional(spark, args.get(staged_arg))
            if staged is None:
                return
            types = _ddl_types(ddl)
            rows = _typed(staged, types).select(*types)
            result[said] = glue_io.distinct_values(rows, key)
            _merge_into(spark, args, rows, curated + table + "/", ddl, key)

        return write

    glue_io.concurrently(
        quotes,
        portfolio,
        merged("staged_series", "bcb_series", SERIES_SCHEMA, "series", "series"),
        merged("staged_macro", "macro_series", MACRO_SCHEMA, "series", "macro_series"),
        merged("staged_global", "global_quotes", GLOBAL_SCHEMA, "symbol", "global_symbols"),
    )


def _merge_into(spark: SparkSession, args: dict[str, str], staged: DataFrame, target: str, ddl: str, key: str) -> None:
    """Merge staged series rows into a curated table, rewriting only the touched partitions.

    Rewrite the ``key`` partitions of ``target`` that ``staged`` touches with :func:`merge_series` of the
    existing rows and the staged ones. The merge is materialised under a temporary prefix first, so Spark
    never overwrites a path it is still reading.
    """
    existing = glue_io.read_optional(spark, target)
    merged = merge_series(_typed(existing, _ddl_types(ddl)) if existing is not None else None, staged, key)
    parent, table = target.rstrip("/").rsplit("/", 1)
    run = re.sub(r"[^A-Za-z0-9_-]", "_", args.get("run_id") or "run")
    temp = f"{parent}/_tmp_{table}_{run}/"
    glue_io.write_partitioned(merged, temp, key)
    glue_io.write_partitioned(_typed(spark.read.parquet(temp), _ddl_types(ddl)), target, key)
    glue_io.delete(spark, temp)


def _ddl_types(ddl: str) -> dict[str, str]:
    pairs = (field.strip().split(" ", 1) for field in ddl.split(", "))
    return {name: kind for name, kind in pairs}


def _dates_between(values: list[str], first: date, last: date) -> list[str]:
    """The partition values of ``values`` that are ``yyyy-MM-dd`` dates in [first, last] (others never match)."""

    def day(value: str) -> date | None:
        # Only yyyy-MM-dd, what Spark writes and casts: Python also reads '20240102', which Spark casts to NULL.
        if not ISO_DAY.fullmatch(value):
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None

    return [v for v in values if (d := day(v)) is not None and first <= d <= last]


def _read_dated(spark: SparkSession, uri: str, first: date, last: date, schema: str) -> DataFrame:
    """The ``dt_ref`` partitions of the table at ``uri`` dated in [first, last], read with ``schema``.

    Only those folders are read, with the declared schema (no schema inference over every folder): a daily
    run reads only the history its windows need. Empty (with ``schema``) when the table or the dates are absent.
    """
    values = _dates_between(glue_io.partition_values(spark, uri, "dt_ref"), first, last)
    return glue_io.read_partitions(spark, uri, "dt_ref", values, schema)


def _read_window(spark: SparkSession, curated: str, start: date, end: date) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Spot quotes, portfolios and cdi_daily points that the refined rows of [start, end] depend on.

    Only the partitions of the lookback are read (b3_quotes and b3_ibov_portfolio by ``dt_ref``, bcb_series'
    ``series=cdi_daily``), with the curated tables' declared types.
    """
    quotes_from = start - timedelta(days=LOOKBACK_DAYS)
    quotes = _read_dated(spark, curated + "b3_quotes/", quotes_from, end, QUOTES_READ_SCHEMA)
    quotes = quotes.filter(F.col("market_type") == SPOT_MARKET).select(
        "ticker", "dt_ref", "high", "low", "close", "currency", "distribution"
    )
    portfolios = _read_dated(
        spark, curated + "b3_ibov_portfolio/", start - timedelta(days=PORTFOLIO_LOOKBACK_DAYS), end, PORTFOLIO_SCHEMA
    ).select(*[c for c in _ddl_types(PORTFOLIO_SCHEMA) if c != "dt_ref"], "dt_ref")  # as stored: the partition last
    cdi_values = [v for v in glue_io.partition_values(spark, curated + "bcb_series/", "series") if v == "cdi_daily"]
    cdi = (
        glue_io.read_partitions(spark, curated + "bcb_series/", "series", cdi_values, SERIES_SCHEMA)
        .filter(F.col("date").between(F.lit(quotes_from), F.lit(end)))
        .select("date", "value")
    )
    return quotes, portfolios, cdi


def _write_refined(
    frame: DataFrame,
    uri: str,
    span: tuple[date, date] | None,
    headline: Callable[[DataFrame, list[str]], dict[str, Any]] | None = None,
) -> tuple[int, list[str], dict[str, Any]]:
    """Write a refined table's rows of ``span`` and describe what was written.

    Write the rows of ``frame`` dated in ``span`` (all of them when None); their count, partitions and
    what ``headline`` says of them.
    """
    rows = glue_io.materialized(
        frame if span is None else frame.filter(F.col("dt_ref").between(F.lit(span[0]), F.lit(span[1])))
    )
    sizes = rows.groupBy("dt_ref").count().collect()  # rows and partitions in one Spark job
    count, partitions = sum(r["count"] for r in sizes), sorted(str(r["dt_ref"]) for r in sizes)
    if count:
        glue_io.write_partitioned(rows, uri, "dt_ref")
    said = headline(rows, partitions) if headline is not None and count else {}
    glue_io.release(rows)
    return count, partitions, said


def _anchors(spark: SparkSession, refined: str, start: date) -> DataFrame | None:
    """Each sector's stored cumulative return just before ``start`` (the backfill anchor).

    Each sector's latest refined return_cumulative before ``start`` (within the lookback): (sector,
    anchor_date, anchor); None when the table has no partition in the lookback or its newest one there does
    not have the column yet (the same anchors: an empty frame and None chain nothing). Reads only the
    lookback's partitions, with :data:`ANCHOR_SCHEMA`.
    """
    uri = refined + "sector_performance/"
    first, last = start - timedelta(days=LOOKBACK_DAYS), start - timedelta(days=1)
    values = _dates_between(glue_io.partition_values(spark, uri, "dt_ref"), first, last)
    # The column's presence is read from the newest partition's footer only (a table gains columns, never loses).
    if "return_cumulative" not in _newest_columns(spark, uri, values):
        return None
    rows = glue_io.read_partitions(spark, uri, "dt_ref", values, ANCHOR_SCHEMA)
    latest = Window.partitionBy("sector").orderBy(F.col("dt_ref").desc())
    return (
        rows.withColumn("_rank", F.row_number().over(latest))
        .filter("_rank = 1")
        .select("sector", F.col("dt_ref").alias("anchor_date"), F.col("return_cumulative").alias("anchor"))
    )


def _newest_columns(spark: SparkSession, uri: str, values: list[str]) -> list[str]:
    """The columns of the newest ``dt_ref`` partition of ``values`` that holds a file; [] when none does.

    An empty partition folder (a file removed by hand, a zero-byte "folder" object the S3 console makes) has no
    footer to read: the next older one is asked.
    """
    for value in reversed(values):
        try:
            return spark.read.parquet(f"{uri}dt_ref={value}").columns
        except AnalysisException:
            continue
    return []


def read_factors(spark: SparkSession, curated: str, first: date, last: date) -> DataFrame:
    """The macro factor points (BCB and FRED) dated in [first, last].

    Macro factor points (source, series, date, value) dated in [first, last]: the BCB_FACTORS series of
    curated ``bcb_series`` (source 'bcb') and every series of curated ``macro_series`` (source, series, date,
    value; any partition layout) when that table exists; a (source, series, date) present in both comes from
    ``macro_series``.
    """
    parts = []
    bcb_series = glue_io.read_optional(spark, curated + "bcb_series/")
    if bcb_series is not None:
        parts.append(
            bcb_series.filter(F.col("series").isin(*BCB_FACTORS)).select(
                F.lit("bcb").alias("source"), "series", "date", "value", F.lit(0).alias("_from")
            )
        )
    macro = glue_io.read_optional(spark, curated + "macro_series/", merge=True)
    if macro is not None and {"source", "series", "date", "value"} <= set(macro.columns):
        parts.append(macro.select("source", "series", "date", "value", F.lit(1).alias("_from")))
    points = spark.createDataFrame([], FACTOR_SCHEMA).withColumn("_from", F.lit(0))
    for part in parts:
        points = points.unionByName(
            part.select(
                F.col("source").cast("string"),
                F.col("series").cast("string"),
                F.col("date").cast("date"),
                F.col("value").cast("double"),
                "_from",
            )
        )
    latest = Window.partitionBy("source", "series", "date").orderBy(F.col("_from").desc())
    return (
        points.filter(F.col("date").between(F.lit(first), F.lit(last)) & F.col("value").isNotNull())
        .withColumn("_rank", F.row_number().over(latest))
        .filter("_rank = 1")
        .drop("_rank", "_from")
    )


def _read_global(spark: SparkSession, curated: str, start: date, end: date, market: str = "") -> DataFrame | None:
    """The US watchlist's risk inputs over the lookback, or None without ``global_quotes``.

    The risk inputs of the US watchlist over the lookback (:func:`global_returns`), or None without
    curated ``global_quotes``.
    """
    bars = glue_io.read_optional(spark, curated + "global_quotes/")
    if bars is None:
        return None
    first = start - timedelta(days=LOOKBACK_DAYS)
    bars = bars.withColumn("date", F.col("date").cast("date")).filter(F.col("date").between(F.lit(first), F.lit(end)))
    macro = glue_io.read_optional(spark, curated + "macro_series/", merge=True)
    if macro is None:
        dff = spark.createDataFrame([], "date date, value double")
    else:
        dff = macro.filter((F.col("source") == "fred") & (F.col("series") == "DFF")).select(
            F.col("date").cast("date").alias("date"), "value"
        )
    return global_returns(bars, dff, market or DEFAULT_MARKET)


def _headline_risk(rows: DataFrame, partitions: list[str]) -> dict[str, Any]:
    """The riskiest sector on the last B3 session written, for the run's email.

    The riskiest sector (highest 1-day VaR 95%) on the last B3 session written, read from the rows: ETF rows
    may have a later US session, so the last of ``partitions`` need not be a B3 one.
    """
    last = rows.filter(F.col("level") != "etf").agg(F.max("dt_ref")).first()[0]  # type: ignore[index]
    worst = (
        rows.filter((F.col("dt_ref") == F.lit(last)) & (F.col("level") == "sector") & F.col("var_95").isNotNull())
        .orderBy(F.col("var_95").desc(), "name")
        .first()
    )
    return {"dt_ref": str(last), **({"sector": worst["name"], "var_95": worst["var_95"]} if worst else {})}


def _headline_mover(rows: DataFrame, partitions: list[str]) -> dict[str, Any]:
    """The spot ticker with the largest absolute daily return on the last session written (``partitions[-1]``)."""
    last = date.fromisoformat(partitions[-1])
    mover = (
        rows.filter((F.col("dt_ref") == F.lit(last)) & F.col("daily_return").isNotNull())
        .orderBy(F.abs("daily_return").desc(), "ticker")
        .first()
    )
    return {
        "dt_ref": str(last),
        **({"ticker": mover["ticker"], "daily_return": mover["daily_return"]} if mover else {}),
    }


def _write_refined_tables(
    spark: SparkSession,
    args: dict[str, str],
    curated: str,
    refined: str,
    span: tuple[date, date],
    result: dict[str, Any],
) -> None:
    """Write every refined table for the sessions of ``span``.

    Every refined table for the sessions of ``span`` (correlations: the month ends whose next session is in
    it), the tables concurrently over the same materialized inputs (`glue_io.concurrently`).
    ``args["analytics"] == "off"`` leaves out risk_metrics, trading_signals and correlations (benchmarks).
    """
    start, end = span
    # Small inputs, each used several times by the plans below: read the files once, and give every plan built
    # on them their rows instead of their lineage (smaller plans; see glue_io.materialized).
    quotes, portfolios, cdi = (glue_io.materialized(frame) for frame in _read_window(spark, curated, start, end))
    sessions = glue_io.materialized(market_sessions(quotes, portfolios, cdi))
    base = glue_io.materialized(ticker_sessions(quotes, portfolios, sessions))
    daily = glue_io.materialized(sector_daily(quotes, portfolios, sessions))
    kept = [quotes, portfolios, cdi, sessions, base, daily]  # materialized or cached: released at the end
    # A few days (a daily run): only their rows go through the trailing windows (same values, see Trailing).
    targeted = span if (end - start).days < TARGETED_MAX_DAYS else None
    said: dict[str, dict[str, Any]] = {}

    def indicators() -> None:
        result["indicator_rows"], result["indicator_partitions"], said["mover"] = _write_refined(
            indicators_of(base, targeted), refined + "stock_indicators/", span, _headline_mover
        )

    def sectors() -> None:
        frame = sector_performance_of(daily, sessions, _anchors(spark, refined, start))
        result["sector_rows"], result["sector_partitions"], _ = _write_refined(
            frame, refined + "sector_performance/", span
        )

    def risk() -> None:
        returns = _ticker_returns(base).unionByName(_sector_returns(daily, sessions))
        market = args.get("global_market") or DEFAULT_MARKET
        etf = _read_global(spark, curated, start, end, market)
        if etf is not None:
            returns = returns.unionByName(etf)
        frame = risk_of(returns, targeted).withColumn(
            "benchmark", F.when(F.col("level") == "etf", F.lit(market)).otherwise(F.lit("IBOV"))
        )
        result["risk_rows"], result["risk_partitions"], said["worst"] = _write_refined(
            frame, refined + "risk_metrics/", span, _headline_risk
        )

    def signals() -> None:
        result["signal_rows"], result["signal_partitions"], _ = _write_refined(
            signals_of(base, daily, targeted), refined + "trading_signals/", span
        )

    def correlations() -> None:
        ends = month_ends(sessions).filter(F.col("next_session").between(F.lit(start), F.lit(end))).cache()
        kept.append(ends)
        if ends.count():
            factors = read_factors(
                spark, curated, start - timedelta(days=LOOKBACK_DAYS + 2 * FACTOR_STALE_DAYS + 31), end
            ).cache()
            kept.append(factors)
            result["correlation_rows"], result["correlation_partitions"], _ = _write_refined(
                correlations_of(daily, sessions, factors, ends), refined + "correlations/", None
            )

    analytics = args.get("analytics", "on") != "off"
    glue_io.concurrently(indicators, sectors, *((risk, signals, correlations) if analytics else ()))
    if analytics:
        result["headline"] = {"biggest_mover": said["mover"], "worst_sector_var": said["worst"]}
    for frame in kept:
        glue_io.release(frame)


def run(spark: SparkSession, args: dict[str, str]) -> dict[str, Any]:
    """The job: curated writes, refined (re)computation of [start_date, end_date], result JSON.

    Parameters
    ----------
    spark
        The session (Glue's, or a local one in tests and local mode).
    args
        The job arguments of :data:`ARGUMENTS` without their ``--``: ``staged_*`` are Parquet URIs the
        Validate step wrote (each may be empty or absent), ``curated_root``/``refined_root`` lake prefixes,
        ``start_date``/``end_date`` ISO dates of the B3 sessions to recompute (default: the dates of the
        staged quotes; neither and no quotes: no refined write), ``result_path`` where the result JSON goes,
        ``analytics`` "off" to skip risk_metrics, trading_signals and correlations.

    Returns
    -------
    dict
        The result: row counts and written partition values per table (``quotes_rows``,
        ``indicator_partitions`` ...) and the email's ``headline``; also written to ``result_path``.

    Raises
    ------
    ValueError
        When ``start_date``/``end_date`` is not an ISO date.
    """
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    curated, refined = glue_io.root(args["curated_root"]), glue_io.root(args["refined_root"])
    result: dict[str, Any] = {
        "run_id": args.get("run_id", ""),
        "quotes_rows": 0,
        "quotes_duplicates_dropped": 0,
        "quotes_partitions": [],
        "portfolio_partitions": [],
        "series": [],
        "macro_series": [],
        "global_symbols": [],
        "indicator_rows": 0,
        "indicator_partitions": [],
        "sector_rows": 0,
        "sector_partitions": [],
        "risk_rows": 0,
        "risk_partitions": [],
        "signal_rows": 0,
        "signal_partitions": [],
        "correlation_rows": 0,
        "correlation_partitions": [],
        "headline": {},
    }
    _write_curated(spark, args, curated, result)

    start_arg, end_arg = args.get("start_date", ""), args.get("end_date", "")
    if not start_arg and not end_arg and result["quotes_partitions"]:
        start_arg, end_arg = result["quotes_partitions"][0], result["quotes_partitions"][-1]
    if start_arg or end_arg:
        start = date.fromisoformat(start_arg or end_arg)
        end = date.fromisoformat(end_arg or start_arg)
        _write_refined_tables(spark, args, curated, refined, (start, end), result)

    if args.get("result_path"):
        glue_io.write_result(args["result_path"], result)
    return result


def main() -> None:
    """The job on Glue (`glue_io.run_job`)."""
    glue_io.run_job(run, ARGUMENTS)


if __name__ == "__main__":
    main()
