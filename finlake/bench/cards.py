"""Benchmark of the cards book (``glue/cards_book.py``) on local Spark, with a DuckDB baseline (part of ``make bench``).

For each size (clients), `finlake.samples.cards.build` generates ``months`` months of clean data (no
anomalies), written straight to the curated layout the book reads (Parquet, zstd, Hive partitions
``cards_invoices/issue_month=YYYY-MM/`` and ``cards_payments/payment_month=YYYY-MM/``) with pyarrow: the
curate job is not part of the figure. Then, in the same process:

- ours: ``cards_book.run(local_spark(), args)`` for R = the last month (so the ``u12m`` window covers all
  the invoices), after one warm-up run on a small data set; median of 3 runs up to 100,000 clients and a
  single run above (stated in the table). A run that takes longer than `SPARK_TIMEOUT_S` is cancelled
  and reported as such.
- baseline: the same 48 variables in one DuckDB SQL query (`BOOK_SQL`, written from the contract in
  ``shared/specs/cards_book.md``, independently of the Spark job) on the same Parquet files, median of 3.
  On the smallest size the two outputs are compared value by value (1e-6 relative, nulls equal) and
  the benchmark fails if they differ.

Run alone with ``python -m finlake.bench.cards [--sizes 10000,100000] [--months 12]``.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from finlake.samples.cards import CardsData, build, decimal_array, invoice_file_name, payment_file_name
from glue.cards_book import VARIABLES, WINDOWS

ROOT = Path(__file__).resolve().parents[2]  # the checkout
BOOK_SCRIPT = ROOT / "glue" / "cards_book.py"
SIZES = (10_000, 100_000, 1_000_000)
REPEAT_UP_TO = 100_000  # clients; bigger sizes are timed once
REPEATS = 3
SPARK_TIMEOUT_S = 15 * 60
BOOK_COLUMNS = tuple(f"{v}_u{n}m" for n in WINDOWS for v in VARIABLES)
RTOL = 1e-6


# --- curated input ---------------------------------------------------------------------------------


def write_curated(data: CardsData, curated: Path) -> dict[str, int]:
    """Write the curated invoice and payment tables of ``data`` under ``curated``; rows and bytes written."""
    written = {"invoices": 0, "payments": 0, "bytes": 0}
    for m, month in enumerate(data.months):
        inv, pay = data.invoice_slice(m), data.payment_slice(m)
        n_inv, n_pay = inv.stop - inv.start, pay.stop - pay.start
        invoices = pa.table(
            {
                "id_cliente": pa.array(data.inv_client[inv]),
                "id_fatura": pa.array(data.inv_id[inv]),
                "dt_emissao_fatura": pa.array(data.inv_issue[inv]),
                "dt_vencimento_fatura": pa.array(data.inv_due[inv]),
                "valor_fatura": decimal_array(data.inv_cents[inv]),
                "valor_pagamento_minimo": decimal_array(data.inv_min_cents[inv]),
                "minimo_estimado": pa.array(np.zeros(n_inv, dtype=bool)),
                "source_file": pa.array([invoice_file_name(month)] * n_inv, pa.string()),
                "source_line": pa.array(np.arange(2, n_inv + 2, dtype=np.int32)),
            }
        )
        payments = pa.table(
            {
                "id_pagamento": pa.array(data.pay_id[pay]),
                "id_fatura": pa.array(data.pay_invoice[pay]),
                "id_cliente": pa.array(data.pay_client[pay]),
                "dt_pagamento": pa.array(data.pay_date[pay]),
                "valor_pagamento": decimal_array(data.pay_cents[pay]),
                "source_file": pa.array([payment_file_name(month)] * n_pay, pa.string()),
                "source_line": pa.array(np.arange(2, n_pay + 2, dtype=np.int32)),
            }
        )
        for table, folder in (
            (invoices, f"cards_invoices/issue_month={month}"),
            (payments, f"cards_payments/payment_month={month}"),
        ):
            path = curated / folder / "part-00000.zstd.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path, compression="zstd")
            written["bytes"] += path.stat().st_size
        written["invoices"] += n_inv
        written["payments"] += n_pay
    return written


# --- DuckDB baseline ---------------------------------------------------------------------------------


def _aggregates() -> str:
    """The 48 variables from the per-(client, bucket) partial aggregates of ``buckets`` (see `BOOK_SQL`)."""
    parts = []
    for n in WINDOWS:
        w = f"FILTER (WHERE bucket <= {n})"
        parts += [
            f"coalesce(sum(n) {w}, 0) AS qtd_faturas_u{n}m",
            f"coalesce(sum(faturado) {w}, 0) AS vl_fatura_total_u{n}m",
            f"sum(faturado) {w} / sum(n) {w} AS vl_fatura_medio_u{n}m",
            f"max(maior) {w} AS vl_fatura_max_u{n}m",
            f"coalesce(sum(pago) {w}, 0) AS vl_pago_total_u{n}m",
            f"100 * sum(pago) {w} / nullif(sum(faturado) {w}, 0) AS pct_valor_pago_u{n}m",
            f"coalesce(sum(vencidas) {w}, 0) AS qtd_faturas_vencidas_u{n}m",
            f"100.0 * sum(em_dia) {w} / nullif(sum(vencidas) {w}, 0) AS pct_faturas_em_dia_u{n}m",
            f"100.0 * sum(abaixo_minimo) {w} / nullif(sum(vencidas) {w}, 0) AS pct_faturas_abaixo_minimo_u{n}m",
            f"coalesce(sum(em_atraso) {w}, 0) AS qtd_faturas_em_atraso_u{n}m",
            f"sum(dias) {w} / nullif(sum(vencidas) {w}, 0) AS dias_atraso_medio_u{n}m",
            f"max(dias_max) {w} AS dias_atraso_max_u{n}m",
        ]
    return ",\n    ".join(parts)


# Per invoice facts, then partial aggregates per client and age bucket (issued in R; R-1..R-2; R-3..R-5;
# R-6..R-11): the windows are nested, so window uNm is the buckets <= N. Aggregating 48 FILTERed
# expressions straight over the invoices is the obvious query but about 5x slower in DuckDB at 10M invoices.
BOOK_SQL = f"""
WITH inv AS (
  SELECT id_cliente, id_fatura, dt_vencimento_fatura AS due, valor_fatura AS valor, valor_pagamento_minimo AS minimo,
         $ref_index - (year(dt_emissao_fatura) * 12 + month(dt_emissao_fatura) - 1) AS age
  FROM read_parquet($invoices, hive_partitioning = true)
  WHERE issue_month BETWEEN $first_month AND $ref AND dt_emissao_fatura <= $as_of
), pay AS (
  SELECT p.id_fatura, p.dt_pagamento, p.valor_pagamento,
         sum(p.valor_pagamento) OVER (
           PARTITION BY p.id_fatura ORDER BY p.dt_pagamento, p.id_pagamento
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS acumulado
  FROM read_parquet($payments, hive_partitioning = true) p SEMI JOIN inv USING (id_fatura)
  WHERE p.dt_pagamento <= $as_of
), facts AS (
  SELECT i.id_fatura, i.id_cliente, i.age, i.valor, i.due, i.minimo,
         coalesce(sum(p.valor_pagamento), 0) AS pago,
         coalesce(sum(p.valor_pagamento) FILTER (WHERE p.dt_pagamento <= i.due), 0) AS pago_ate_vencimento,
         min(p.dt_pagamento) FILTER (WHERE p.acumulado >= i.valor - 0.01) AS quitacao
  FROM inv i LEFT JOIN pay p USING (id_fatura)
  GROUP BY i.id_fatura, i.id_cliente, i.age, i.valor, i.due, i.minimo
), flags AS (
  SELECT id_cliente, age, valor, pago,
         due <= $as_of AS vencida,
         coalesce(quitacao <= due, false) AS em_dia,
         CASE WHEN due <= $as_of THEN greatest(0, date_diff('day', due, coalesce(quitacao, $as_of))) END AS dias_atraso,
         due <= $as_of AND pago_ate_vencimento < minimo AS abaixo_minimo
  FROM facts
), buckets AS (
  SELECT id_cliente,
         CASE WHEN age < 1 THEN 1 WHEN age < 3 THEN 3 WHEN age < 6 THEN 6 ELSE 12 END AS bucket,
         count(*) AS n, sum(valor) AS faturado, max(valor) AS maior, sum(pago) AS pago,
         count(*) FILTER (WHERE vencida) AS vencidas,
         count(*) FILTER (WHERE vencida AND em_dia) AS em_dia,
         count(*) FILTER (WHERE abaixo_minimo) AS abaixo_minimo,
         count(*) FILTER (WHERE dias_atraso > 0) AS em_atraso,
         sum(dias_atraso) AS dias,
         max(dias_atraso) AS dias_max
  FROM flags
  GROUP BY ALL
)
SELECT id_cliente, $ref AS ref,
    {_aggregates()}
FROM buckets
GROUP BY id_cliente
ORDER BY id_cliente
"""


def _month_bounds(ref: str) -> tuple[str, str, int]:
    """(first month of u12m, as_of date, month index year*12+month-1 of ``ref``)."""
    r = np.datetime64(ref, "M")
    as_of = (r + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    year, month = (int(x) for x in ref.split("-"))
    return str(r - 11), str(as_of), year * 12 + month - 1


def duckdb_book(curated: Path, ref: str) -> pd.DataFrame:
    """The book for ``ref`` computed by `BOOK_SQL` on the curated Parquet under ``curated``."""
    first, as_of, index = _month_bounds(ref)
    params = {
        "invoices": str(curated / "cards_invoices" / "*" / "*.parquet"),
        "payments": str(curated / "cards_payments" / "*" / "*.parquet"),
        "first_month": first,
        "ref": ref,
        "as_of": as_of,
        "ref_index": index,
    }
    sql = BOOK_SQL.replace("$as_of", "CAST($as_of AS DATE)")
    with duckdb.connect() as con:
        con.execute("SET threads = 2")
        return con.execute(sql, params).df()


# --- comparison ---------------------------------------------------------------------------------------


def compare_books(spark_book: pd.DataFrame, baseline: pd.DataFrame) -> list[str]:
    """Differences between two books (same clients, every variable within `RTOL`, nulls equal); [] if none."""
    problems = []
    left = spark_book.set_index("id_cliente").sort_index()
    right = baseline.set_index("id_cliente").sort_index()
    if not left.index.equals(right.index):
        problems.append(f"clients differ: {len(left)} rows vs {len(right)} rows")
        common = left.index.intersection(right.index)
        left, right = left.loc[common], right.loc[common]
    for column in BOOK_COLUMNS:
        if column not in left.columns:
            problems.append(f"{column}: missing from the Spark book")
            continue
        a = pd.to_numeric(left[column], errors="coerce").astype("float64").to_numpy()
        b = pd.to_numeric(right[column], errors="coerce").astype("float64").to_numpy()
        same = (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=RTOL, atol=0.0)
        if not same.all():
            bad = np.flatnonzero(~same)
            client = left.index[bad[0]]
            problems.append(f"{column}: {bad.size} values differ, e.g. client {client}: {a[bad[0]]} vs {b[bad[0]]}")
    return problems


# --- Spark --------------------------------------------------------------------------------------------


def _load_book_module() -> Any:
    from finlake.local.glue import load_script

    return load_script(str(BOOK_SCRIPT))


def read_spark_book(refined: Path, ref: str) -> pd.DataFrame:
    """The book rows of ``ref`` written under ``refined`` (whatever the file layout below ``cards_book``)."""
    files = [p for p in (refined / "cards_book").rglob("*.parquet") if p.stat().st_size > 0]
    if not files:
        raise FileNotFoundError(f"no Parquet written under {refined / 'cards_book'}")
    with duckdb.connect() as con:
        frame = con.execute(
            "SELECT * FROM read_parquet($files, hive_partitioning = true, union_by_name = true)",
            {"files": [str(p) for p in files]},
        ).df()
    if "ref" in frame.columns:
        frame = frame[frame["ref"].astype(str) == ref]
    return frame.reset_index(drop=True)


class SparkTimeout(RuntimeError):
    """The cards book job (``cards_book.run``) on local Spark did not finish in time; its Spark jobs were cancelled."""

    pass


def _run_book(book: Any, work: Path, tag: str, ref: str, timeout_s: float) -> tuple[float, Path]:
    """Seconds of one ``cards_book.run`` and the refined folder it wrote; cancels Spark after ``timeout_s``."""
    from finlake.local.glue import local_spark

    spark = local_spark()
    refined = work / f"refined_{tag}"
    shutil.rmtree(refined, ignore_errors=True)
    args = {
        "run_id": f"bench-{tag}",
        "refs": ref,
        "curated_root": (work / "curated").as_uri() + "/",
        "refined_root": refined.as_uri() + "/",
        "result_path": (work / f"result_{tag}.json").as_uri(),
    }
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            book.run(spark, args)
        except BaseException as exc:  # reported in the caller's thread
            outcome["error"] = exc

    start = time.perf_counter()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    seconds = time.perf_counter() - start
    if thread.is_alive():
        spark.sparkContext.cancelAllJobs()
        thread.join(120)
        raise SparkTimeout(f"cards_book.run did not finish in {timeout_s:.0f} s; cancelled")
    if "error" in outcome:
        raise outcome["error"]
    return seconds, refined


def _median(fn: Callable[[], float], repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


# --- the benchmark -----------------------------------------------------------------------------------------


def _measure(book: Any, clients: int, months: int, work: Path, check: bool) -> dict[str, Any]:
    data = build(clients, months)
    ref = data.months[-1]
    sizes = write_curated(data, work / "curated")
    del data
    repeats = REPEATS if clients <= REPEAT_UP_TO else 1
    row: dict[str, Any] = {"clients": clients, "repeats": repeats, **sizes}
    baseline_frame = duckdb_book(work / "curated", ref)

    def baseline_once() -> float:
        start = time.perf_counter()
        duckdb_book(work / "curated", ref)
        return time.perf_counter() - start

    row["duckdb_s"] = _median(baseline_once, REPEATS)
    row["book_rows"] = len(baseline_frame)
    try:
        times = []
        refined = work
        for i in range(repeats):
            seconds, refined = _run_book(book, work, f"{clients}_{i}", ref, SPARK_TIMEOUT_S)
            times.append(seconds)
        row["spark_s"] = statistics.median(times)
        spark_frame = read_spark_book(refined, ref)
        row["spark_book_rows"] = len(spark_frame)
        if check:
            problems = compare_books(spark_frame, baseline_frame)
            if problems:
                raise AssertionError("Spark and DuckDB books differ:\n" + "\n".join(problems[:20]))
            row["checked"] = True
    except SparkTimeout as exc:
        row["spark_error"] = str(exc)
    except Exception as exc:  # e.g. a Java OutOfMemoryError at the biggest size: report it, do not hide it
        if check:
            raise
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        row["spark_error"] = f"failed with {type(exc).__name__}: {first_line}"
    return row


def _fmt_s(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.2f}" if key in row else "—"


def _ratio(rows: list[dict[str, Any]], key: str) -> list[str]:
    out = []
    for small, big in itertools.pairwise(rows):
        if key in small and key in big:
            out.append(
                f"{big['clients'] // 1000:,}k/{small['clients'] // 1000:,}k: "
                f"{big[key] / small[key]:.1f}x time for {big['invoices'] / small['invoices']:.1f}x invoices"
            )
    return out


def bench_cards(sizes: tuple[int, ...] = SIZES, months: int = 12) -> list[str]:
    """Measure and return the Markdown section (see the module doc)."""
    lines = [
        "## Cards book (`glue/cards_book.py`)",
        "",
        f"Input: `finlake.samples.cards` data, {months} months, no anomalies, written straight to the curated",
        "layout (Parquet, zstd, one file per month partition) with pyarrow; the curate job is not timed. Ours:",
        "`cards_book.run` on the local SparkSession (`finlake.local.glue.local_spark`, one task per core, 2 GB driver)",
        f"for R = the last month (all {months} months are in `u12m`), after one warm-up run; median of {REPEATS}",
        f"runs up to {REPEAT_UP_TO:,} clients, one run above (column `runs`). Baseline: the same 48 variables",
        f"in one DuckDB SQL query (2 threads) on the same files, median of {REPEATS}. On the smallest size the",
        f"two books are compared value by value ({RTOL:g} relative, nulls equal). Command: `make bench`",
        "(alone: `python -m finlake.bench.cards --sizes 10000,100000`). The Spark time includes writing the",
        "refined partition and the result JSON; the DuckDB time ends with the book as a pandas DataFrame",
        "(nothing written). Rates are invoices read and book rows (clients) produced per second.",
        "",
    ]
    if not BOOK_SCRIPT.exists():
        return [*lines, f"NOT MEASURED: {BOOK_SCRIPT.relative_to(ROOT)} does not exist.", ""]
    book = _load_book_module()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="finlake-bench-cards-") as tmp:
        warm = Path(tmp) / "warm"
        data = build(200, months)
        write_curated(data, warm / "curated")
        _run_book(book, warm, "warm", data.months[-1], SPARK_TIMEOUT_S)
        for index, clients in enumerate(sizes):
            work = Path(tmp) / f"n{clients}"
            rows.append(_measure(book, clients, months, work, check=index == 0))
            shutil.rmtree(work, ignore_errors=True)
    lines += [
        "| clients | invoices | payments | Parquet | runs | Spark (s) | invoices/s | book rows/s "
        "| DuckDB (s) | DuckDB invoices/s | Spark / DuckDB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        spark = r.get("spark_s")
        per_s = f"{r['invoices'] / spark:,.0f} | {r['book_rows'] / spark:,.0f}" if spark else "— | —"
        vs = f"{spark / r['duckdb_s']:.1f}x" if spark else "—"
        lines.append(
            f"| {r['clients']:,} | {r['invoices']:,} | {r['payments']:,} | {r['bytes'] / 1e6:,.1f} MB | {r['repeats']} "
            f"| {_fmt_s(r, 'spark_s')} | {per_s} | {r['duckdb_s']:.2f} | {r['invoices'] / r['duckdb_s']:,.0f} | {vs} |"
        )
    lines.append("")
    checked = [r for r in rows if r.get("checked")]
    if checked:
        lines.append(
            f"Spark and DuckDB books are equal on {checked[0]['clients']:,} clients ({checked[0]['book_rows']:,} rows, "
            f"{len(BOOK_COLUMNS)} variables)."
        )
    for r in rows:
        if "spark_error" in r:
            lines.append(f"Spark at {r['clients']:,} clients: {r['spark_error']}.")
    growth = _ratio(rows, "spark_s")
    if growth:
        lines.append("Growth, Spark: " + "; ".join(growth) + ".")
    growth = _ratio(rows, "duckdb_s")
    if growth:
        lines.append("Growth, DuckDB: " + "; ".join(growth) + ".")
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> None:
    """The ``python -m finlake.bench.cards`` entry point: the cards section for ``--sizes`` clients, ``--months``."""
    parser = argparse.ArgumentParser(prog="python -m finlake.bench.cards")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="clients, comma-separated")
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(",") if s)
    print("\n".join(bench_cards(sizes, args.months)))


if __name__ == "__main__":
    main()
