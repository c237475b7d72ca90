"""Stocks domain, Glue 5.0 PySpark job: curated B3 quotes, IBOV portfolios and BCB series; refined indicators.

Reads (Parquet staged by the Lambda "Validate" step; each input may be absent for a run):

- ``staged_quotes``: B3 daily quotes (COTAHIST), prices decimal(22,8) per share.
- ``staged_portfolio``: IBOV theoretical portfolios, one per ``dt_ref``.
- ``staged_series``: BCB SGS series (selic_target, selic_daily, cdi_daily, ipca_monthly, usd_brl).

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
   ``<refined_root>stock_indicators/dt_ref=.../`` and ``<refined_root>sector_performance/dt_ref=.../``.
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

import json
import math
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

SPOT_MARKET = "010"
LOOKBACK_DAYS = 400  # history read for the refined tables; also the bound of every window
PORTFOLIO_LOOKBACK_DAYS = 530
PORTFOLIO_MAX_AGE_DAYS = 130  # a portfolio older than this is no longer "in force"
ANNUALISE = math.sqrt(252)

ARGUMENTS = (
    "run_id",
    "staged_quotes",
    "staged_portfolio",
    "staged_series",
    "curated_root",
    "refined_root",
    "start_date",
    "end_date",
    "result_path",
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
CDI_SCHEMA = "date date, value decimal(20,8)"
QUOTES_MIN_SCHEMA = (
    "ticker string, dt_ref date, high decimal(22,8), low decimal(22,8), close decimal(22,8), "
    "currency string, distribution smallint"
)
INSTRUMENT = ("ticker", "dt_ref", "market_type", "term_days")  # the key of b3_quotes

# Exact sums of quantity x price: decimal(16,0) x decimal(20,8) = decimal(37,8), no precision loss
# (quantities < 1e16, prices < 1e12).
_QTY = "decimal(16,0)"
_PRICE = "decimal(20,8)"


# --------------------------------------------------------------------------------------------- pure


def dedupe_quotes(quotes: DataFrame) -> tuple[DataFrame, int]:
    """One row per instrument and day (:data:`INSTRUMENT`; a null term_days is one value): the one with the
    highest source_line. Returns it and the number dropped."""
    keys = [F.coalesce(F.col(c), F.lit("")) if c == "term_days" else F.col(c) for c in INSTRUMENT]
    newest = Window.partitionBy(*keys).orderBy(F.col("source_line").desc())
    kept = quotes.withColumn("_rank", F.row_number().over(newest)).filter("_rank = 1").drop("_rank")
    return kept, quotes.count() - kept.count()


def merge_series(existing: DataFrame | None, staged: DataFrame) -> DataFrame:
    """Existing rows of the series present in ``staged`` union the staged ones; staged wins per (series, date)."""
    new = staged.withColumn("_newer", F.lit(1))
    if existing is not None:
        touched = [r["series"] for r in staged.select("series").distinct().collect()]
        old = existing.filter(F.col("series").isin(touched)).select(*staged.columns).withColumn("_newer", F.lit(0))
        new = new.unionByName(old)
    winner = Window.partitionBy("series", "date").orderBy(F.col("_newer").desc(), F.col("value").desc())
    return new.withColumn("_rank", F.row_number().over(winner)).filter("_rank = 1").drop("_rank", "_newer")


def _calendar(quotes: DataFrame, portfolios: DataFrame, cdi: DataFrame | None = None) -> DataFrame:
    """One row per market session (a date with spot quotes): dt_ref, prev_session (the market session before),
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


def _full(window: Any, n: int, value: str, oldest: str, expr: Column) -> Column:
    """``expr`` when the window holds n non-null ``value`` and its ``oldest`` date is within the lookback."""
    complete = F.count(value).over(window) == n
    bounded = F.datediff(F.col("dt_ref"), F.min(oldest).over(window)) <= LOOKBACK_DAYS
    return F.when(complete & bounded, expr)


def stock_indicators(quotes: DataFrame, portfolios: DataFrame, cdi: DataFrame) -> DataFrame:
    """Indicators per spot ticker and session (see the module docstring) for every session of ``quotes``.

    ``quotes``: spot-market rows (ticker, dt_ref, high, low, close); ``portfolios``: the curated portfolios;
    ``cdi``: cdi_daily points (date, value).
    """
    calendar = _calendar(quotes, portfolios, cdi)
    sessions = _ibov(quotes, portfolios, calendar).select("dt_ref", "ibov_level", "ibov_return", "cdi")
    members = _members(calendar, portfolios).select(
        "dt_ref", "ticker", F.lit(True).alias("_member"), F.col("weight_pct").cast("double").alias("weight_pct")
    )

    # Windows never span two currencies: a regime is a ticker's run of sessions in one MODREF.
    in_time = Window.partitionBy("ticker").orderBy("dt_ref")
    by_ticker = Window.partitionBy("ticker", "_regime").orderBy("dt_ref")
    prev_ok = F.datediff(F.col("dt_ref"), F.col("prev_dt")) <= LOOKBACK_DAYS
    previous_currency = F.lag("currency").over(in_time)
    base = (
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
        .join(F.broadcast(sessions), "dt_ref", "left")
        .join(F.broadcast(members), ["dt_ref", "ticker"], "left")
        .withColumn("prev_close", F.lag("close").over(by_ticker))
        .withColumn("prev_dt", F.lag("dt_ref").over(by_ticker))
        .withColumn("daily_return", F.when(prev_ok, F.col("close") / F.col("prev_close") - 1))
        .withColumn("log_return", F.when(prev_ok, F.log(F.col("close") / F.col("prev_close"))))
    )

    def last(n: int) -> Any:
        return by_ticker.rowsBetween(-(n - 1), 0)

    def on_closes(n: int, expr: Column) -> Column:
        return _full(last(n), n, "close", "dt_ref", expr)

    def on_returns(n: int, value: str, expr: Column) -> Column:
        return _full(last(n), n, value, "prev_dt", expr)

    def sharpe(n: int) -> Column:
        w = last(n)
        excess = F.avg("daily_return").over(w) - F.avg(F.col("cdi") / 100).over(w)
        value = excess / F.stddev_samp("daily_return").over(w) * ANNUALISE
        return F.when(F.count("cdi").over(w) == n, on_returns(n, "daily_return", value))

    pair = F.when(F.col("daily_return").isNotNull() & F.col("ibov_return").isNotNull(), F.lit(1))
    beta = F.covar_samp("daily_return", "ibov_return").over(last(63)) / F.var_samp(
        F.when(pair.isNotNull(), F.col("ibov_return"))
    ).over(last(63))

    return base.select(
        "dt_ref",
        "ticker",
        "close",
        "daily_return",
        "log_return",
        *[on_closes(n, F.avg("close").over(last(n))).alias(f"ma_{n}") for n in (5, 21, 63, 252)],
        on_closes(21, F.max("high").over(last(21))).alias("high_21"),
        on_closes(21, F.min("low").over(last(21))).alias("low_21"),
        on_closes(252, F.max("high").over(last(252))).alias("high_252"),
        on_closes(252, F.min("low").over(last(252))).alias("low_252"),
        on_returns(21, "log_return", F.stddev_samp("log_return").over(last(21)) * ANNUALISE).alias("vol_21"),
        on_closes(252, F.col("close") / F.max("close").over(last(252)) - 1).alias("drawdown_252"),
        "ibov_level",
        "ibov_return",
        F.when(F.count(pair).over(last(63)) == 63, on_returns(63, "daily_return", beta)).alias("beta_63"),
        sharpe(63).alias("sharpe_63"),
        sharpe(252).alias("sharpe_252"),
        F.coalesce(F.col("_member"), F.lit(False)).alias("in_ibov"),
        "weight_pct",
        "currency",
        "currency_changed",
        "distribution_changed",
    )


def _compounded(window: Any) -> Column:
    growth = F.aggregate(F.collect_list(1 + F.col("return_1d")).over(window), F.lit(1.0), lambda acc, x: acc * x)
    return growth - 1


def sector_performance(quotes: DataFrame, portfolios: DataFrame) -> DataFrame:
    """Per sector of the portfolio in force and market session (see the module docstring)."""
    members = _members(_calendar(quotes, portfolios), portfolios).filter(F.col("sector").isNotNull())
    closes = quotes.select("ticker", "dt_ref", F.col("close").cast(_PRICE).alias("close"), "currency")
    before = closes.select(
        "ticker",
        F.col("dt_ref").alias("prev_session"),
        F.col("close").alias("close_prev"),
        F.col("currency").alias("currency_prev"),
    )
    qty = F.col("theoretical_quantity").cast(_QTY)
    mixed = F.col("currency") != F.col("currency_prev")
    daily = (
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
    )
    by_sector = Window.partitionBy("sector").orderBy("dt_ref")

    def last(n: int) -> Any:
        return by_sector.rowsBetween(-(n - 1), 0)

    def on_returns(n: int, expr: Column) -> Column:
        return _full(last(n), n, "return_1d", "prev_session", expr)

    ytd = Window.partitionBy("sector", F.year("dt_ref")).orderBy("dt_ref").rowsBetween(Window.unboundedPreceding, 0)
    ytd_whole = F.sum(F.col("_mixed")).over(ytd) == 0  # no day of the year so far mixes two currencies
    return daily.select(
        "dt_ref",
        "sector",
        "constituents",
        "return_1d",
        on_returns(21, _compounded(last(21))).alias("return_1m"),
        on_returns(63, _compounded(last(63))).alias("return_3m"),
        F.when(ytd_whole, _compounded(ytd)).alias("return_ytd"),
        on_returns(21, F.stddev_samp("return_1d").over(last(21)) * ANNUALISE).alias("vol_21"),
    )


# ----------------------------------------------------------------------------------------------- io


def _root(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def _fs_path(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    jvm: Any = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path  # type: ignore[union-attr]


def _exists(spark: SparkSession, uri: str) -> bool:
    fs, path = _fs_path(spark, uri)
    return bool(fs.exists(path))


def _read_optional(spark: SparkSession, uri: str | None) -> DataFrame | None:
    """The Parquet at ``uri``, or None when the argument is empty or nothing is there."""
    if not uri or not _exists(spark, uri):
        return None
    try:
        return spark.read.parquet(uri)
    except AnalysisException:  # an empty directory: Spark cannot infer a schema
        return None


def _typed(frame: DataFrame, types: dict[str, str]) -> DataFrame:
    return frame.select(*[F.col(c).cast(types[c]).alias(c) if c in types else F.col(c) for c in frame.columns])


def _write(frame: DataFrame, uri: str, partition: str) -> None:
    (
        frame.repartition(partition)
        .write.mode("overwrite")
        .partitionBy(partition)
        .option("compression", "zstd")
        .parquet(uri)
    )


def _values(frame: DataFrame, column: str) -> list[str]:
    return sorted(str(r[0]) for r in frame.select(column).distinct().collect())


def _write_result(uri: str, result: dict[str, Any]) -> None:
    body = json.dumps(result, indent=2, sort_keys=True)
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        import boto3

        boto3.client("s3").put_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"), Body=body.encode())
        return
    path = Path(parsed.path if parsed.scheme == "file" else uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


def _write_curated(spark: SparkSession, args: dict[str, str], curated: str, result: dict[str, Any]) -> None:
    staged_quotes = _read_optional(spark, args.get("staged_quotes"))
    if staged_quotes is not None:
        quotes, dropped = dedupe_quotes(_typed(staged_quotes, QUOTE_TYPES))
        quotes = quotes.cache()
        result["quotes_rows"] = quotes.count()
        result["quotes_duplicates_dropped"] = dropped
        result["quotes_partitions"] = _values(quotes, "dt_ref")
        _write(quotes, curated + "b3_quotes/", "dt_ref")
        quotes.unpersist()

    staged_portfolio = _read_optional(spark, args.get("staged_portfolio"))
    if staged_portfolio is not None:
        portfolio = _typed(staged_portfolio, _ddl_types(PORTFOLIO_SCHEMA))
        result["portfolio_partitions"] = _values(portfolio, "dt_ref")
        _write(portfolio, curated + "b3_ibov_portfolio/", "dt_ref")

    staged_series = _read_optional(spark, args.get("staged_series"))
    if staged_series is not None:
        series = _typed(staged_series, _ddl_types(SERIES_SCHEMA)).select("series", "code", "date", "value")
        result["series"] = _values(series, "series")
        target = curated + "bcb_series/"
        existing = _read_optional(spark, target)
        merged = merge_series(_typed(existing, _ddl_types(SERIES_SCHEMA)) if existing is not None else None, series)
        # Materialise the merge away from the table before overwriting the partitions it was read from.
        temp = f"{curated}_tmp_bcb_series_{re.sub(r'[^A-Za-z0-9_-]', '_', args.get('run_id') or 'run')}/"
        _write(merged, temp, "series")
        _write(_typed(spark.read.parquet(temp), _ddl_types(SERIES_SCHEMA)), target, "series")
        fs, path = _fs_path(spark, temp)
        fs.delete(path, True)


def _ddl_types(ddl: str) -> dict[str, str]:
    pairs = (field.strip().split(" ", 1) for field in ddl.split(", "))
    return {name: kind for name, kind in pairs}


def _read_window(spark: SparkSession, curated: str, start: date, end: date) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Spot quotes, portfolios and cdi_daily points that the refined rows of [start, end] depend on."""
    quotes_from = start - timedelta(days=LOOKBACK_DAYS)
    quotes = _read_optional(spark, curated + "b3_quotes/")
    if quotes is None:
        quotes = spark.createDataFrame([], QUOTES_MIN_SCHEMA)
    else:
        quotes = (
            quotes.withColumn("dt_ref", F.col("dt_ref").cast("date"))
            .filter(F.col("dt_ref").between(F.lit(quotes_from), F.lit(end)))
            .filter(F.col("market_type") == SPOT_MARKET)
            .select("ticker", "dt_ref", "high", "low", "close", "currency", "distribution")
        )
    portfolios = _read_optional(spark, curated + "b3_ibov_portfolio/")
    if portfolios is None:
        portfolios = spark.createDataFrame([], PORTFOLIO_SCHEMA)
    else:
        portfolios = _typed(portfolios, _ddl_types(PORTFOLIO_SCHEMA)).filter(
            F.col("dt_ref").between(F.lit(start - timedelta(days=PORTFOLIO_LOOKBACK_DAYS)), F.lit(end))
        )
    series = _read_optional(spark, curated + "bcb_series/")
    if series is None:
        cdi = spark.createDataFrame([], CDI_SCHEMA)
    else:
        cdi = series.filter(
            (F.col("series") == "cdi_daily") & F.col("date").between(F.lit(quotes_from), F.lit(end))
        ).select("date", "value")
    return quotes, portfolios, cdi


def _write_refined(frame: DataFrame, uri: str, start: date, end: date) -> tuple[int, list[str]]:
    rows = frame.filter(F.col("dt_ref").between(F.lit(start), F.lit(end))).cache()
    count, partitions = rows.count(), _values(rows, "dt_ref")
    if count:
        _write(rows, uri, "dt_ref")
    rows.unpersist()
    return count, partitions


def run(spark: SparkSession, args: dict[str, str]) -> dict[str, Any]:
    """The job: curated writes, refined (re)computation of [start_date, end_date], result JSON."""
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    curated, refined = _root(args["curated_root"]), _root(args["refined_root"])
    result: dict[str, Any] = {
        "run_id": args.get("run_id", ""),
        "quotes_rows": 0,
        "quotes_duplicates_dropped": 0,
        "quotes_partitions": [],
        "portfolio_partitions": [],
        "series": [],
        "indicator_rows": 0,
        "indicator_partitions": [],
        "sector_rows": 0,
        "sector_partitions": [],
    }
    _write_curated(spark, args, curated, result)

    start_arg, end_arg = args.get("start_date", ""), args.get("end_date", "")
    if not start_arg and not end_arg and result["quotes_partitions"]:
        start_arg, end_arg = result["quotes_partitions"][0], result["quotes_partitions"][-1]
    if start_arg or end_arg:
        start = date.fromisoformat(start_arg or end_arg)
        end = date.fromisoformat(end_arg or start_arg)
        # Small inputs, each used several times by the plans below: read the files once.
        quotes, portfolios, cdi = (frame.cache() for frame in _read_window(spark, curated, start, end))
        result["indicator_rows"], result["indicator_partitions"] = _write_refined(
            stock_indicators(quotes, portfolios, cdi), refined + "stock_indicators/", start, end
        )
        result["sector_rows"], result["sector_partitions"] = _write_refined(
            sector_performance(quotes, portfolios), refined + "sector_performance/", start, end
        )
        for frame in (quotes, portfolios, cdi):
            frame.unpersist()

    if args.get("result_path"):
        _write_result(args["result_path"], result)
    return result


def main() -> None:
    import sys

    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    # Glue refuses empty argument values, so the workflow omits an empty one: read what is there.
    present = [name for name in ARGUMENTS if f"--{name}" in sys.argv]
    options = getResolvedOptions(sys.argv, ["JOB_NAME", *present])
    glue = GlueContext(SparkContext.getOrCreate())
    spark = glue.spark_session
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    job = Job(glue)
    job.init(options["JOB_NAME"], options)
    run(spark, {name: options.get(name, "") for name in ARGUMENTS})
    job.commit()


if __name__ == "__main__":
    main()
