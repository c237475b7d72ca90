"""Athena SQL runs locally: a corpus of Athena engine v3 (Trino) queries over small tables of the
demo's own schemas, each with the answer Athena gives.

The tables are registered the way the pipelines register them: the stocks and bank catalog specs
(`functions.stocks.tables.TABLES`, `functions.bank.pipeline.TRANSACTIONS_SCHEMA`) through
`functions.common.catalog.register` (awswrangler) on the embedded AWS, Parquet objects under
``<table>/<key>=<value>/``; the workspace is then read by `finlake.query.run_query` exactly as
``finlake query`` reads it. The data is a handful of rows a person can check by hand:

stock_indicators (dt_ref, ticker -> close), 2024-01-02, 03, 04, 05, 08 (weekdays):
    PETR4  37.00  37.50  36.80  37.20  38.00
    VALE3  77.00  76.00  75.50  76.50  74.00
    ITUB4  33.00  33.30  33.10  33.60  34.00
b3_quotes (2024-01-02): PETR4, VALE3, BOVA11 (spot, TPMERC 010) and the PETR4 call PETRA380 (070).
bank_transactions: four in 2024-01, two in 2024-02 (money out negative).

Expected values follow Trino's documented semantics (docs.trino.io, Functions and operators);
where sqlglot's plain translation gives another answer the test says so (`finlake.athena_sql`).
"""

from __future__ import annotations

import io
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from finlake.athena_sql import TranslationError, check_read_only, translate
from finlake.cli import main
from finlake.local.runtime import BUCKETS, DATABASES, embedded_aws
from finlake.local.workspace import Workspace
from finlake.query import QueryError, athena_text, connect, run_query
from functions.bank.pipeline import glue_types
from functions.bank.tables import TRANSACTIONS
from functions.bank.transform import TRANSACTIONS_SCHEMA
from functions.common.catalog import register
from functions.common.lake import Lake
from functions.stocks.tables import TABLES

STOCK_TABLES = {table.name: table for table in TABLES}

SESSIONS = [date(2024, 1, d) for d in (2, 3, 4, 5, 8)]
CLOSES = {
    "PETR4": [37.00, 37.50, 36.80, 37.20, 38.00],
    "VALE3": [77.00, 76.00, 75.50, 76.50, 74.00],
    "ITUB4": [33.00, 33.30, 33.10, 33.60, 34.00],
}
WEIGHTS = {"PETR4": 8.5, "VALE3": 12.1, "ITUB4": 6.9}

_ARROW = {
    "string": pa.string(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "date": pa.date32(),
}


def _arrow_type(glue_type: str) -> pa.DataType:
    if glue_type.startswith("decimal("):
        precision, scale = glue_type[8:-1].split(",")
        return pa.decimal128(int(precision), int(scale))
    return _ARROW[glue_type]


def _parquet(columns: dict[str, str], rows: list[dict[str, Any]]) -> bytes:
    schema = pa.schema([(name, _arrow_type(kind)) for name, kind in columns.items()])
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows], schema=schema), buffer)
    return buffer.getvalue()


def _indicator_rows() -> dict[str, list[dict[str, Any]]]:
    by_day: dict[str, list[dict[str, Any]]] = {}
    for ticker, closes in CLOSES.items():
        for i, (day, close) in enumerate(zip(SESSIONS, closes, strict=True)):
            by_day.setdefault(day.isoformat(), []).append(
                {
                    "ticker": ticker,
                    "close": close,
                    "daily_return": round(close / closes[i - 1] - 1, 6) if i else None,
                    "ma_5": round(sum(closes) / 5, 6) if i == 4 else None,
                    "in_ibov": True,
                    "weight_pct": WEIGHTS[ticker],
                }
            )
    return by_day


def _quote_rows() -> dict[str, list[dict[str, Any]]]:
    spot = {"bdi_code": "02", "market_type": "010", "currency": "R$", "quote_factor": 1}
    return {
        "2024-01-02": [
            {**spot, "ticker": "PETR4", "isin": "BRPETRACNPR6", "short_name": "PETROBRAS", "close": Decimal("37.00")},
            {**spot, "ticker": "VALE3", "isin": "BRVALEACNOR0", "short_name": "VALE", "close": Decimal("77.00")},
            {**spot, "ticker": "BOVA11", "isin": "BRBOVACTF003", "short_name": "ISHARES BOVA", "bdi_code": "14"},
            {
                "ticker": "PETRA380",
                "isin": "BRPETRACNPR6",
                "short_name": "PETR",
                "bdi_code": "78",
                "market_type": "070",
                "close": Decimal("0.52"),
                "strike": Decimal("38.00"),
                "expiration": date(2024, 1, 19),
            },
        ]
    }


def _transaction(day: str, kind: str, category: str, description: str, amount: str, **extra: Any) -> dict[str, Any]:
    account = "nuconta" if kind in ("income", "transfer_out") else "card"
    return {
        "transaction_key": f"k-{day}-{description}",
        "date": date.fromisoformat(day),
        "account": account,
        "type": kind,
        "category": category,
        "category_source": "rule",
        "description": description,
        "amount": Decimal(amount),
        "source": "card_csv" if account == "card" else "nuconta_csv",
        **extra,
    }


def _transaction_rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "2024-01": [
            _transaction("2024-01-05", "purchase", "food", "IFOOD *RESTAURANTE", "-45.90"),
            _transaction(
                "2024-01-10",
                "installment",
                "shopping",
                "MAGAZINE LUIZA",
                "-199.90",
                installment_number=2,
                installment_count=10,
            ),
            _transaction("2024-01-15", "income", "income", "SALARIO ACME LTDA", "5000.00"),
            _transaction("2024-01-31", "transfer_out", "transfer", "PIX ENVIADO FULANO", "-300.00"),
        ],
        "2024-02": [
            _transaction("2024-02-01", "purchase", "transport", "UBER *TRIP", "-23.50"),
            _transaction("2024-02-29", "purchase", "food", "IFOOD *MERCADO", "-120.10"),
        ],
    }


def _databases() -> dict[str, str]:
    return {"curated_database": DATABASES["CURATED_DATABASE"], "refined_database": DATABASES["REFINED_DATABASE"]}


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace whose catalog holds stock_indicators, b3_quotes and bank_transactions."""
    ws = Workspace.open(tmp_path_factory.mktemp("athena") / "ws")
    tables = [
        (STOCK_TABLES["stock_indicators"], dict(STOCK_TABLES["stock_indicators"].columns), _indicator_rows()),
        (STOCK_TABLES["b3_quotes"], dict(STOCK_TABLES["b3_quotes"].columns), _quote_rows()),
        (TRANSACTIONS, glue_types(TRANSACTIONS_SCHEMA), _transaction_rows()),
    ]
    local = Lake(BUCKETS["RAW_BUCKET"], BUCKETS["CURATED_BUCKET"], BUCKETS["REFINED_BUCKET"], **_databases())
    with embedded_aws(ws) as aws:
        s3, glue = aws.client("s3"), aws.client("glue")
        for table, columns, partitions in tables:
            bucket = BUCKETS[f"{table.zone.upper()}_BUCKET"]
            for value, rows in partitions.items():
                key = f"{table.name}/{table.key}={value}/part-0.parquet"
                s3.put_object(Bucket=bucket, Key=key, Body=_parquet(columns, rows))
            register(glue, table, lake=local, values=list(partitions), columns=columns)
    return ws


SI = "finlake_refined.stock_indicators"
B3 = "finlake_curated.b3_quotes"
BANK = "finlake_curated.bank_transactions"
D = date.fromisoformat

# (id, Athena SQL, expected rows). Each expectation is Trino's answer; comments give the reason.
CORPUS: list[tuple[str, str, list[tuple[Any, ...]]]] = [
    # -- the five examples of issue 17 --------------------------------------------------------
    (
        "issue-date_format",
        f"SELECT date_format(dt_ref, '%Y-%m') AS month, count(*) AS sessions FROM {SI} "
        "WHERE ticker = 'PETR4' GROUP BY 1",
        [("2024-01", 5)],
    ),
    (
        # Athena: the element at sorted position floor(0.5 * 5) = 2 (0-based): the median.
        "issue-approx_percentile",
        f"SELECT ticker, approx_percentile(close, 0.5) FROM {SI} GROUP BY ticker ORDER BY ticker",
        [("ITUB4", 33.3), ("PETR4", 37.2), ("VALE3", 76.0)],
    ),
    (
        "issue-date_add-current_date",
        "SELECT date_add('day', -7, current_date) = current_date - INTERVAL '7' DAY, "
        "date_diff('day', date_add('day', -7, current_date), current_date)",
        [(True, 7)],
    ),
    (
        "issue-regexp_like",
        f"SELECT DISTINCT ticker FROM {B3} WHERE regexp_like(ticker, '^PETR') ORDER BY 1",
        [("PETR4",), ("PETRA380",)],
    ),
    (
        # A timestamp with time zone is an instant: 13:05 at -03:00 is 16:05 UTC.
        "issue-from_iso8601_timestamp",
        "SELECT from_iso8601_timestamp('2024-01-02T13:05:00-03:00'), from_iso8601_date('2024-01-02')",
        [(datetime(2024, 1, 2, 16, 5, tzinfo=UTC), D("2024-01-02"))],
    ),
    (
        # Trino keeps decimals decimal (DecimalOperators): a / b has scale max(a_scale, b_scale),
        # rounded half up, an integer being decimal(10,0) and 1.0 decimal(2,1); avg(decimal(14,2))
        # is decimal(14,2); 100.0 * sum(amount) has scale 3. DuckDB alone answers doubles
        # (avg 1113.55 but 718.4333333333333, 1484.7333333333333, 0.3333333333333333).
        "decimal-division-and-avg-stay-decimal",
        f"SELECT month, avg(amount), sum(amount) / 3, 100.0 * sum(amount) / sum(sum(amount)) OVER (), "
        f"1.0 / 3, CAST(10 AS decimal(5,0)) / 3 FROM {BANK} GROUP BY month ORDER BY month",
        [
            ("2024-01", Decimal("1113.55"), Decimal("1484.73"), Decimal("103.331"), Decimal("0.3"), Decimal("3")),
            ("2024-02", Decimal("-71.80"), Decimal("-47.87"), Decimal("-3.331"), Decimal("0.3"), Decimal("3")),
        ],
    ),
    (
        "decimal-avg-in-a-window",
        f"SELECT DISTINCT avg(amount) OVER (), avg(amount) OVER (PARTITION BY month) FROM {BANK} ORDER BY 2",
        [(Decimal("718.43"), Decimal("-71.80")), (Decimal("718.43"), Decimal("1113.55"))],
    ),
    (
        # Trino's timestamp with time zone keeps its zone: 22:00 at -03:00 (a São Paulo evening)
        # is 2024-01-01 22:00 to date, hour, date_format and CAST AS timestamp (DuckDB alone: the
        # UTC instant, 2024-01-02 01:00); compared or shown it is still the instant.
        "from_iso8601_timestamp-keeps-its-offset",
        "SELECT CAST(from_iso8601_timestamp('2024-01-01T22:00:00-03:00') AS date), "
        "date_format(from_iso8601_timestamp('2024-01-01T22:00:00-03:00'), '%Y-%m-%d %H:%i'), "
        "hour(from_iso8601_timestamp('2024-01-01T22:00:00-03:00')), "
        "CAST(from_iso8601_timestamp('2024-01-01T22:00:00.5+05:30') AS timestamp), "
        "day(from_iso8601_timestamp('2024-01-01')), "
        "from_iso8601_timestamp('2024-01-01T22:00:00-03:00') = from_iso8601_timestamp('2024-01-02T01:00:00Z')",
        [(D("2024-01-01"), "2024-01-01 22:00", 22, datetime(2024, 1, 1, 22, 0, 0, 500000), 1, True)],
    ),
    # -- date and time functions ----------------------------------------------------------------
    (
        "year-month-day_of_week",
        f"SELECT year(dt_ref), month(dt_ref), day(dt_ref), day_of_week(dt_ref), day_of_year(dt_ref), "
        f"quarter(dt_ref) FROM {SI} WHERE ticker = 'PETR4' AND dt_ref = DATE '2024-01-08'",
        [(2024, 1, 8, 1, 8, 1)],  # day_of_week: ISO, Monday = 1
    ),
    (
        # date_trunc keeps a DATE a DATE (DuckDB alone: a TIMESTAMP).
        "date_trunc-month-of-a-date",
        f"SELECT date_trunc('month', dt_ref), count(*) FROM {SI} GROUP BY 1",
        [(D("2024-01-01"), 15)],
    ),
    (
        "date_trunc-week-and-hour",
        "SELECT date_trunc('week', DATE '2024-01-05'), date_trunc('hour', TIMESTAMP '2024-01-05 10:42:00')",
        [(D("2024-01-01"), datetime(2024, 1, 5, 10, 0))],
    ),
    (
        "date_diff-days",
        f"SELECT ticker, date_diff('day', min(dt_ref), max(dt_ref)) FROM {SI} GROUP BY ticker ORDER BY ticker",
        [("ITUB4", 6), ("PETR4", 6), ("VALE3", 6)],
    ),
    (
        # Complete units, as Joda-Time counts them (DuckDB's date_diff counts boundaries: 1, 1, 1).
        "date_diff-complete-months-and-years",
        "SELECT date_diff('month', DATE '2024-01-15', DATE '2024-02-14'), "
        "date_diff('month', DATE '2024-01-31', DATE '2024-02-29'), "
        "date_diff('year', DATE '2023-03-01', DATE '2024-02-29')",
        [(0, 1, 0)],
    ),
    (
        "date_diff-timestamps",
        "SELECT date_diff('hour', TIMESTAMP '2024-01-01 12:00:00', TIMESTAMP '2024-01-02 11:30:00'), "
        "date_diff('day', TIMESTAMP '2024-01-01 12:00:00', TIMESTAMP '2024-01-02 11:00:00'), "
        "date_diff('day', DATE '2024-01-08', DATE '2024-01-02')",
        [(23, 0, -6)],
    ),
    (
        "date_add-units",
        "SELECT date_add('month', 1, DATE '2024-01-31'), date_add('week', 1, DATE '2024-01-02'), "
        "date_add('hour', 2, TIMESTAMP '2024-01-31 23:00:00')",
        [(D("2024-02-29"), D("2024-01-09"), datetime(2024, 2, 1, 1, 0))],
    ),
    (
        # The column's type comes from the Glue catalog: dt_ref is a DATE, so the results are dates.
        "interval-on-a-date-column",
        f"SELECT max(dt_ref) - INTERVAL '7' DAY, max(dt_ref) + INTERVAL '1' MONTH FROM {SI}",
        [(D("2024-01-01"), D("2024-02-08"))],
    ),
    (
        "date_parse",
        "SELECT date_parse('02/01/2024 10:30', '%d/%m/%Y %H:%i'), date_parse('2/1/2024', '%e/%c/%Y')",
        [(datetime(2024, 1, 2, 10, 30), datetime(2024, 1, 2, 0, 0))],
    ),
    (
        # MySQL-style specifiers: %i minutes, %s seconds, %W weekday, %M month name, %e/%c unpadded.
        "date_format-specifiers",
        "SELECT date_format(TIMESTAMP '2024-03-05 14:07:09', '%d/%m/%Y %H:%i:%s %W %M %e %c %j %p %h %T')",
        [("05/03/2024 14:07:09 Tuesday March 5 3 065 PM 02 14:07:09",)],
    ),
    (
        # %x-%v: the ISO week's year and week; 2024-12-30 is the Monday of 2025's week 1.
        "date_format-iso-week",
        "SELECT date_format(DATE '2024-12-30', '%x-%v'), week_of_year(DATE '2024-12-30'), "
        "year_of_week(DATE '2024-12-30')",
        [("2025-01", 1, 2025)],
    ),
    (
        "last_day_of_month",
        f"SELECT DISTINCT last_day_of_month(date) FROM {BANK} ORDER BY 1",
        [(D("2024-01-31"),), (D("2024-02-29"),)],
    ),
    (
        "date-literals",
        f"SELECT DATE '2024-01-02', DATE('2024-01-02'), CAST('2024-01-02' AS DATE), "
        f"(SELECT count(*) FROM {SI} WHERE dt_ref = DATE('2024-01-02'))",
        [(D("2024-01-02"), D("2024-01-02"), D("2024-01-02"), 3)],
    ),
    (
        "unixtime",
        "SELECT to_unixtime(TIMESTAMP '2024-01-02 00:00:00'), from_unixtime(1704153600)",
        [(1704153600.0, datetime(2024, 1, 2, 0, 0, tzinfo=UTC))],
    ),
    (
        # 02:30 UTC is 23:30 of the day before in São Paulo (Trino reads a plain timestamp in the
        # session zone, UTC in Athena; DuckDB alone would read it as São Paulo's wall clock).
        "at-time-zone",
        "SELECT CAST(TIMESTAMP '2024-01-02 02:30:00' AT TIME ZONE 'America/Sao_Paulo' AS DATE), "
        "CAST(from_iso8601_timestamp('2024-01-02T12:00:00Z') AT TIME ZONE 'America/Sao_Paulo' AS TIMESTAMP)",
        [(D("2024-01-01"), datetime(2024, 1, 2, 9, 0))],
    ),
    (
        "sequence-of-dates",
        "SELECT sequence(DATE '2024-01-01', DATE '2024-01-03'), "
        "sequence(DATE '2024-01-31', DATE '2024-03-31', INTERVAL '1' MONTH)",
        [([D("2024-01-01"), D("2024-01-02"), D("2024-01-03")], [D("2024-01-31"), D("2024-02-29"), D("2024-03-31")])],
    ),
    # -- regular expressions ---------------------------------------------------------------------
    (
        "regexp_extract-whole-match",
        f"SELECT ticker, regexp_extract(ticker, '\\d+$') FROM {B3} WHERE market_type = '010' ORDER BY ticker",
        [("BOVA11", "11"), ("PETR4", "4"), ("VALE3", "3")],
    ),
    (
        "regexp_extract-group",
        f"SELECT regexp_extract(isin, '^BR([A-Z]{{4}})', 1) FROM {B3} WHERE ticker = 'VALE3'",
        [("VALE",)],
    ),
    (
        # No match is NULL in Trino (DuckDB alone: '').
        "regexp_extract-no-match-is-null",
        "SELECT regexp_extract('PETR4', 'X+'), regexp_extract('PETR4', '(X)?\\d', 1) IS NULL",
        [(None, True)],
    ),
    (
        # Java's $1 in the replacement; every match is replaced.
        "regexp_replace-groups",
        f"SELECT regexp_replace(description, '\\*(\\w+)', '($1)') FROM {BANK} WHERE category = 'food' ORDER BY date",
        [("IFOOD (RESTAURANTE)",), ("IFOOD (MERCADO)",)],
    ),
    (
        "regexp_extract_all-and-like",
        f"SELECT regexp_extract_all('2024-01-02', '\\d+'), "
        f"(SELECT count(*) FROM {BANK} WHERE regexp_like(lower(description), 'ifood|uber'))",
        [(["2024", "01", "02"], 3)],
    ),
    # -- approximate aggregates --------------------------------------------------------------------
    (
        "approx_distinct",
        f"SELECT approx_distinct(ticker), approx_distinct(dt_ref, 0.0040625) FROM {SI}",
        [(3, 5)],
    ),
    (
        # Positions floor(0.25 * 5) = 1 and floor(0.75 * 5) = 3 of 36.8, 37.0, 37.2, 37.5, 38.0
        # (DuckDB's t-digest alone interpolates: 36.95 and 37.625).
        "approx_percentile-array",
        f"SELECT approx_percentile(close, ARRAY[0.25, 0.75]) FROM {SI} WHERE ticker = 'PETR4'",
        [([37.0, 37.5],)],
    ),
    (
        # Even count: floor(0.5 * 4) = 2 -> the third value (DuckDB alone: 2).
        "approx_percentile-even-count",
        "SELECT approx_percentile(x, 0.5) FROM (VALUES 1, 2, 3, 4, NULL) AS t(x)",
        [(3,)],
    ),
    # -- casts -----------------------------------------------------------------------------------
    (
        "try_cast",
        "SELECT try_cast('12' AS integer), try_cast('1x' AS integer), try_cast('2024-02-30' AS date), "
        "try_cast('37.5' AS double)",
        [(12, None, None, 37.5)],
    ),
    (
        # Integer division truncates toward zero.
        "integer-division",
        f"SELECT 7 / 2, -7 / 2, 7 / 2.0, count(*) / 2 FROM {SI}",
        [(3, -3, Decimal("3.5"), 7)],
    ),
    (
        "decimal-money",
        f"SELECT month, sum(amount) FROM {BANK} GROUP BY month ORDER BY month",
        [("2024-01", Decimal("4454.20")), ("2024-02", Decimal("-143.60"))],
    ),
    # -- arrays and UNNEST -----------------------------------------------------------------------
    (
        "unnest-cross-join",
        f"SELECT ticker, t.n FROM {B3} CROSS JOIN UNNEST(ARRAY[1, 2]) AS t(n) WHERE ticker = 'VALE3' ORDER BY t.n",
        [("VALE3", 1), ("VALE3", 2)],
    ),
    (
        "unnest-with-ordinality",
        "SELECT word, pos FROM UNNEST(split('PETR4,VALE3,ITUB4', ',')) WITH ORDINALITY AS t(word, pos) ORDER BY pos",
        [("PETR4", 1), ("VALE3", 2), ("ITUB4", 3)],
    ),
    (
        "array-functions",
        "SELECT cardinality(ARRAY[3, 1, 2]), array_sort(ARRAY[3, 1, 2]), contains(ARRAY['a', 'b'], 'b'), "
        "element_at(ARRAY[10, 20, 30], -1), array_join(ARRAY['a', 'b'], '-'), ARRAY[10, 20, 30][2]",
        [(3, [1, 2, 3], True, 30, "a-b", 20)],
    ),
    (
        "array_agg-and-lambdas",
        f"SELECT array_agg(ticker ORDER BY ticker), transform(ARRAY[1, 2], x -> x * 10), "
        f"filter(ARRAY[1, 2, 3], x -> x > 1) FROM {SI} WHERE dt_ref = DATE '2024-01-02'",
        [(["ITUB4", "PETR4", "VALE3"], [10, 20], [2, 3])],
    ),
    (
        # reduce's output function is applied to the reduced value.
        "reduce",
        "SELECT reduce(ARRAY[1, 2, 3], 0, (s, x) -> s + x, s -> s), "
        "reduce(ARRAY[1, 2, 3], 0, (s, x) -> s + x, s -> s * 10)",
        [(6, 60)],
    ),
    # -- maps ------------------------------------------------------------------------------------
    (
        "map-constructor-and-access",
        "SELECT element_at(MAP(ARRAY['PETR4', 'VALE3'], ARRAY[37.0, 77.0]), 'VALE3'), "
        "cardinality(MAP(ARRAY['a', 'b'], ARRAY[1, 2])), map_keys(MAP(ARRAY['a'], ARRAY[1])), "
        "MAP(ARRAY['a'], ARRAY[1])['a']",
        [(Decimal("77.0"), 2, ["a"], 1)],
    ),
    (
        "map_agg",
        f"SELECT map_agg(ticker, weight_pct) FROM {SI} WHERE dt_ref = DATE '2024-01-08'",
        [({"PETR4": 8.5, "VALE3": 12.1, "ITUB4": 6.9},)],
    ),
    (
        "histogram",
        f"SELECT histogram(category) FROM {BANK}",
        [({"food": 2, "shopping": 1, "income": 1, "transfer": 1, "transport": 1},)],
    ),
    # -- window functions ------------------------------------------------------------------------
    (
        "window-lag-and-moving-average",
        f"SELECT dt_ref, close - lag(close) OVER (ORDER BY dt_ref), "
        f"avg(close) OVER (ORDER BY dt_ref ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) "
        f"FROM {SI} WHERE ticker = 'ITUB4' AND dt_ref >= DATE '2024-01-04' ORDER BY dt_ref",
        [(D("2024-01-04"), None, 33.1), (D("2024-01-05"), 0.5, 33.35), (D("2024-01-08"), 0.4, 33.566667)],
    ),
    (
        "window-rank-per-day",
        f"SELECT ticker, rank() OVER (PARTITION BY dt_ref ORDER BY daily_return DESC) AS r FROM {SI} "
        "WHERE dt_ref = DATE '2024-01-08' ORDER BY r",
        [("PETR4", 1), ("ITUB4", 2), ("VALE3", 3)],
    ),
    (
        "window-running-total",
        f"SELECT date, sum(amount) OVER (PARTITION BY month ORDER BY date) FROM {BANK} WHERE month = '2024-02' "
        "ORDER BY date",
        [(D("2024-02-01"), Decimal("-23.50")), (D("2024-02-29"), Decimal("-143.60"))],
    ),
    # -- WITH, quoted identifiers, names -----------------------------------------------------------
    (
        "with-clauses",
        f"WITH last AS (SELECT max(dt_ref) AS d FROM {SI}), "
        f"closes AS (SELECT ticker, close FROM {SI} JOIN last ON dt_ref = last.d) "
        "SELECT ticker FROM closes WHERE close > 35 ORDER BY close DESC",
        [("VALE3",), ("PETR4",)],
    ),
    (
        "quoted-identifiers",
        'SELECT "ticker", "close" AS "Close (R$)" FROM "finlake_refined"."stock_indicators" '
        "WHERE \"dt_ref\" = DATE '2024-01-03' AND \"ticker\" = 'VALE3'",
        [("VALE3", 76.0)],
    ),
    (
        "strings-and-conditionals",
        f"SELECT upper(substr(description, 1, 5)), length(description), if(amount < 0, 'out', 'in'), "
        f"coalesce(installment_number, 0), format('%s/%d', type, 10) FROM {BANK} WHERE date = DATE '2024-01-15'",
        [("SALAR", 17, "in", 0, "income/10")],
    ),
    (
        "count_if-max_by-arbitrary",
        f"SELECT count_if(amount < 0), max_by(description, amount), min_by(description, amount) FROM {BANK}",
        [(5, "SALARIO ACME LTDA", "PIX ENVIADO FULANO")],
    ),
    (
        "union-and-in-subquery",
        f"SELECT ticker FROM {B3} WHERE ticker IN (SELECT ticker FROM {SI}) UNION SELECT 'ITUB4' ORDER BY 1",
        [("ITUB4",), ("PETR4",), ("VALE3",)],
    ),
    # -- conversions where DuckDB alone is more lenient than Trino (docs/decisions/0016) --------
    (
        # VarcharOperators: Integer.parseInt etc. of the trimmed text; '1.5', '1e3' and '1_000' are
        # not integers (try_cast: NULL), ' 12 ' is (Trino 457+). DuckDB alone: 2, 1000, 1000.
        "try_cast-varchar-to-integer-as-trino",
        "SELECT CAST(' 12 ' AS integer), try_cast('1.5' AS integer), try_cast('1e3' AS bigint), "
        "try_cast('1_000' AS integer), try_cast('+7' AS smallint), try_cast('99999999999' AS integer), "
        f"(SELECT count(try_cast(ticker AS integer)) FROM {SI})",
        [(12, None, None, None, 7, None, 0)],
    ),
    (
        # JsonExtract's ScalarValueJsonExtractor: an array, an object, JSON null or text that is
        # not JSON give NULL (DuckDB alone: '[1,2]', '{"c":1}', and an error on 'not json').
        "json_extract_scalar-of-array-or-object-is-null",
        "SELECT json_extract_scalar(j, '$.a'), json_extract_scalar(j, '$.b'), json_extract_scalar(j, '$.d'), "
        "json_extract_scalar(j, '$.e'), json_extract_scalar(j, '$.a[1]'), json_extract_scalar(j, '$.n'), "
        "json_extract_scalar('not json', '$.a') "
        """FROM (VALUES '{"a": [1, 2], "b": {"c": 1}, "d": "x y", "e": 10, "n": null}') AS t (j)""",
        [(None, None, "x y", "10", "2", None, None)],
    ),
    (
        # DoubleOperators.divide is Java's double division: Infinity, -Infinity, NaN.
        "double-division-by-zero-is-infinity-or-nan",
        f"SELECT close / 0, -close / 0e0, is_nan(0e0 / 0), 5e0 % 0 IS NOT NULL FROM {SI} "
        "WHERE ticker = 'PETR4' AND dt_ref = DATE '2024-01-02'",
        [(float("inf"), float("-inf"), True, True)],
    ),
]


@pytest.mark.parametrize(("sql", "expected"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_athena_query_gives_athenas_answer(lake: Workspace, sql: str, expected: list[tuple[Any, ...]]) -> None:
    _, rows = run_query(lake, sql)

    assert [tuple(_rounded(v) for v in row) for row in rows] == expected


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40


def test_unnamed_columns_are_named_as_athena_names_them(lake: Workspace) -> None:
    columns, _ = run_query(lake, f"SELECT ticker, count(*), max(close) AS top FROM {SI} GROUP BY ticker")
    assert columns == ["ticker", "_col1", "top"]


UNTRANSLATABLE = [
    ("SELECT format_datetime(TIMESTAMP '2024-01-02 10:00:00', 'yyyy-MM')", "format_datetime()"),
    ("SELECT to_iso8601(DATE '2024-01-02')", "to_iso8601()"),
    ("SELECT parse_datetime('2024-01-02', 'yyyy-MM-dd')", "parse_datetime()"),
    (f"SELECT approx_percentile(close, 2, 0.5) FROM {SI}", "approx_percentile(x, w, percentage) with a weight"),
    ("SELECT date_format(DATE '2024-01-02', '%D')", "the specifier %D"),
    ("SELECT regexp_replace('ab', '(?<x>a)', '${x}')", "named groups"),
    ("SELECT 1; SELECT 2", "one statement per query"),
    ("SELECT 1.0 / 0", "Division by zero"),  # Trino fails; DuckDB alone answers inf
    # Errors Athena itself raises, raised here too (DuckDB alone runs each of them):
    ("SELECT CAST('1.5' AS integer)", "Cannot cast '1.5' to INT"),  # DuckDB alone: 2
    ("SELECT CAST('1e3' AS bigint)", "Cannot cast '1e3' to BIGINT"),  # DuckDB alone: 1000
    (f"SELECT count(*) / 0 FROM {SI}", "Division by zero"),  # integer division (DuckDB: inf to BIGINT)
    (f"SELECT count(*) FROM {SI} WHERE dt_ref = '2024-01-02'", "Cannot apply operator to date and varchar"),
    (f"SELECT count(*) FROM {SI} WHERE dt_ref BETWEEN '2024-01-02' AND '2024-01-03'", "date and varchar"),
    (f"SELECT count(*) FROM {SI} WHERE dt_ref IN ('2024-01-02')", "date and varchar"),
    (f"SELECT ticker FROM {B3} WHERE close > '30'", "Cannot apply operator to decimal(22, 8) and varchar"),
    ("SELECT ticker FROM WHERE", "not Athena SQL, line 1, column 24"),
]


@pytest.mark.parametrize(("sql", "named"), UNTRANSLATABLE, ids=[u[1] for u in UNTRANSLATABLE])
def test_a_query_that_cannot_be_translated_fails_in_one_line_naming_it(lake: Workspace, sql: str, named: str) -> None:
    with pytest.raises(QueryError) as raised:
        run_query(lake, sql)
    message = str(raised.value)
    assert named in message and "\n" not in message, message


def test_duckdb_sql_that_is_not_athena_sql_still_runs(lake: Workspace) -> None:
    columns, rows = run_query(lake, f"FROM {SI} SELECT * EXCLUDE (close) WHERE ticker = 'PETR4' LIMIT 1")
    assert "close" not in columns and rows
    assert run_query(lake, "SELECT strftime(DATE '2024-01-02', '%d/%m')")[1] == [("02/01",)]
    assert run_query(lake, "SELECT [1, 2][1], 5 // 2")[1] == [(1, 2)]


def test_translation_is_plain_duckdb_sql_without_a_catalog() -> None:
    assert translate("SELECT date_diff('month', a, b) FROM t") == "SELECT DATE_SUB('month', a, b) AS _col0 FROM t"
    with pytest.raises(TranslationError, match="one statement"):
        translate("")


def test_the_cli_query_takes_athena_sql(lake: Workspace) -> None:
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(lake.root),
            "query",
            f"SELECT date_format(dt_ref, '%d/%m') AS day FROM {SI} WHERE regexp_like(ticker, '^VALE') ORDER BY dt_ref",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b"day\n02/01\n03/01\n04/01\n05/01\n08/01\n"


def test_csv_has_lf_line_ends_and_quotes_as_needed(lake: Workspace, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--home", str(lake.root), "query", "SELECT 'a,b' AS x, 'say \"hi\"' AS y, NULL AS z", "--format", "csv"],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b'x,y,z\n"a,b","say ""hi""",\n'


WRITES_AND_FILE_READS = [
    ("COPY (SELECT 1) TO '{out}'", "COPY"),
    ("ATTACH '{out}.db'", "ATTACH"),
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("SET enable_external_access = true", "SET"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("CREATE TABLE finlake_x AS SELECT 1", "CREATE"),
    (f"INSERT INTO {SI} SELECT * FROM {SI}", "INSERT"),
    (f"DROP VIEW {SI}", "DROP"),
    ("SELECT 1 INTO finlake_x", "SELECT ... INTO"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv()"),
    ("SELECT * FROM read_parquet('{out}/*.parquet')", "read_parquet()"),
    ("SELECT * FROM read_json_auto('/etc/hostname')", "read_json_auto()"),
    ("SELECT * FROM glob('/etc/*')", "glob()"),
    ("SELECT content FROM read_text('/etc/passwd')", "read_text()"),
    ("SELECT * FROM '/etc/passwd'", "table /etc/passwd"),
    (f"SELECT * FROM {SI} CROSS JOIN read_csv('/etc/passwd')", "read_csv()"),
    (f"WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM {SI}, x", "read_csv()"),
]


@pytest.mark.parametrize(("sql", "named"), WRITES_AND_FILE_READS, ids=[w[1] for w in WRITES_AND_FILE_READS])
def test_a_query_only_reads_the_catalog(lake: Workspace, tmp_path: Path, sql: str, named: str) -> None:
    """`finlake query` and the console's SQL editor run one read statement over the catalog's
    tables: DuckDB's writes, settings, extensions and file readers are refused by name, and
    nothing is written."""
    out = tmp_path / "out.csv"
    with pytest.raises(QueryError) as raised:
        run_query(lake, sql.format(out=out))
    message = str(raised.value)
    assert named in message and "\n" not in message, message
    assert not list(tmp_path.iterdir())
    assert run_query(lake, f"SELECT count(*) FROM {SI}")[1] == [(15,)]  # the view is still there


def test_the_connection_cannot_reach_files_outside_the_lake(lake: Workspace, tmp_path: Path) -> None:
    """Defence in depth: the connection `finlake query` uses reads the lake's views but refuses
    files elsewhere, writes and setting changes, even for SQL that skips `check_read_only`."""
    con = connect(lake)
    assert con.execute(f"SELECT count(*) FROM {SI}").fetchall() == [(15,)]
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
        f"ATTACH '{tmp_path / 'x.db'}'",
        "SET enable_external_access = true",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(sql)
    assert not list(tmp_path.iterdir())


def test_check_read_only_names_the_tables_a_statement_reads() -> None:
    sql = f"WITH q AS (SELECT * FROM {B3}) SELECT * FROM q JOIN {SI} USING (ticker) WHERE ticker IN (SELECT 'X')"
    assert check_read_only(sql, ["finlake_curated", "finlake_refined"]) == {
        ("finlake_curated", "b3_quotes"),
        ("finlake_refined", "stock_indicators"),
    }
    duckdb_only = f"FROM {BANK.upper()} SELECT * EXCLUDE (amount)"  # DuckDB's grammar only; names in lower case
    assert check_read_only(duckdb_only, ["finlake_curated"]) == {("finlake_curated", "bank_transactions")}


def test_a_query_makes_only_the_views_it_reads(lake: Workspace, tmp_path: Path) -> None:
    """A view lists its table's files when it is made: a query makes the views it names, so a table it does not
    read costs nothing and cannot fail it (here a file that is not Parquet); information_schema sees every table."""
    copy = Workspace.open(shutil.copytree(lake.root, tmp_path / "ws"))
    bank = next((copy.s3_dir / BUCKETS["CURATED_BUCKET"] / "bank_transactions").rglob("*.parquet"))
    bank.write_bytes(b"not parquet")
    assert run_query(copy, f"SELECT count(*) FROM {SI}")[1] == [(15,)]
    with pytest.raises(QueryError) as raised:
        run_query(copy, f"SELECT count(*) FROM {BANK}")
    assert str(bank) in str(raised.value) and "\n" not in str(raised.value), raised.value  # one line naming the file
    listed = "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
    assert run_query(lake, listed)[1] == [tuple(name.split(".")) for name in sorted((B3, BANK, SI))]


def test_the_cli_refuses_a_write_in_one_line(lake: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    result = CliRunner().invoke(main, ["--home", str(lake.root), "query", f"COPY (SELECT 1) TO '{out}'"])
    assert result.exit_code != 0 and not out.exists()
    assert len(result.output.strip().splitlines()) == 1 and "COPY" in result.output, result.output


RENDERED_AS_ATHENA = [  # (SELECT expression, as Athena's console and CSV write it)
    ("true", "true"),
    ("1 = 2", "false"),
    ("CAST(-120.41 AS decimal(10,2))", "-120.41"),
    ("CAST(1.5 AS decimal(10,2))", "1.50"),
    ("ARRAY[CAST(-120.41 AS decimal(10,2)), CAST(-18.51 AS decimal(10,2))]", "[-120.41, -18.51]"),
    ("ARRAY['a', 'b']", "[a, b]"),
    ("ARRAY[true, NULL]", "[true, null]"),
    ("MAP(ARRAY['k', 'q'], ARRAY[1, 2])", "{k=1, q=2}"),
    ("CAST(ROW(1, 'x') AS ROW(a integer, b varchar))", "{a=1, b=x}"),
    ("TIMESTAMP '2024-01-01 10:00:00.123'", "2024-01-01 10:00:00.123"),
    ("TIMESTAMP '2024-01-01 10:00:00'", "2024-01-01 10:00:00.000"),
    ("DATE '2024-01-31'", "2024-01-31"),
    ("1e0 / 0", "Infinity"),  # Java's Double.toString, as Trino writes a double
    ("-1e0 / 0", "-Infinity"),
    ("0e0 / 0", "NaN"),
]


@pytest.mark.parametrize(("expression", "expected"), RENDERED_AS_ATHENA)
def test_query_renders_values_as_athena_in_the_table_and_in_csv(lake: Workspace, expression: str, expected: str):
    def query(*options: str) -> str:
        result = CliRunner().invoke(main, ["--home", str(lake.root), "query", f"SELECT {expression} AS v", *options])
        assert result.exit_code == 0, result.output
        return result.output

    assert query("--format", "csv").splitlines()[1].strip('"') == expected
    assert query().splitlines()[2] == expected


def test_null_is_an_empty_field_in_csv_and_in_the_table(lake: Workspace):
    csv_out = CliRunner().invoke(
        main, ["--home", str(lake.root), "query", "SELECT NULL AS a, 1 AS b", "--format", "csv"]
    )
    assert csv_out.stdout_bytes == b"a,b\n,1\n"
    assert athena_text(None) == ""


def test_a_timestamp_with_time_zone_keeps_its_zone_and_varbinary_is_hex():
    assert athena_text(datetime(2024, 1, 1, 13, 0, 0, 5000, tzinfo=UTC)) == "2024-01-01 13:00:00.005 UTC"
    assert athena_text(b"He") == "48 65"
