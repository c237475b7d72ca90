"""Cards domain, Glue 5.0 PySpark job (the workflow's Transform step): the 48-variable invoice book.

Implements /shared/specs/cards_book.md (the contract) for each reference month R of ``refs``:

- reads the curated invoices with ``issue_month`` in [R-11, R] and the curated payments with ``payment_month`` in
  [R-11, R] (partition pruning), keeping payments with ``dt_pagamento <= as_of`` (the last day of R) of those
  invoices;
- per invoice (`invoice_facts`): ``pago``, ``pago_ate_vencimento``, ``quitacao`` (first payment date at which the
  running sum, ordered by dt_pagamento then id_pagamento, reaches valor_fatura - 0.01), ``vencida``, ``em_dia``,
  ``dias_atraso`` and ``abaixo_minimo`` (both null unless vencida);
- per client with at least one invoice in u12m (`book`): 12 variables x 4 windows (u1m, u3m, u6m, u12m), an
  invoice being in uNm when its issue month is in [R-(N-1), R].

All the refs are computed in one plan (`invoice_facts_many`, `book_many`): a small frame of the refs is joined to
the invoices on the issue month (an invoice appears once per ref whose 12-month window holds it, at most 12 times),
the payments are joined per (ref, invoice) and the running sum is partitioned by (ref, id_fatura); one groupBy
(ref, id_cliente) then gives the 48 variables of every ref.

Writes ``<refined_root>cards_book/ref=YYYY-MM/`` (Parquet, zstd; dynamic partition overwrite of the refs computed;
a ref with no rows has its partition removed) and the result JSON at ``result_path``.

Stored types: ``id_cliente`` bigint; counts (qtd_*) int; money totals and max (vl_fatura_total, vl_fatura_max,
vl_pago_total) decimal(18,2), exact sums of the curated decimals; means (vl_fatura_medio, dias_atraso_medio) and
percentages (pct_*) double, computed in double from the exact sums and counts; dias_atraso_max int; ``ref`` string.
Empty window: counts and totals 0, means / max / percentages null (a percentage is also null on a zero denominator).
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

import glue_io
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

ARGUMENTS = ("run_id", "refs", "refs_from", "curated_root", "refined_root", "result_path")
WINDOWS = (1, 3, 6, 12)
MONEY = "decimal(18,2)"
TOLERANCE = "0.01"  # quitacao: the running sum reaches valor_fatura - 0.01

INVOICE_SCHEMA = (
    "id_cliente bigint, id_fatura bigint, dt_emissao_fatura date, dt_vencimento_fatura date, "
    "valor_fatura decimal(18,2), valor_pagamento_minimo decimal(18,2), minimo_estimado boolean, "
    "source_file string, source_line int, issue_month string"
)
PAYMENT_SCHEMA = (
    "id_pagamento bigint, id_fatura bigint, id_cliente bigint, dt_pagamento date, valor_pagamento decimal(18,2), "
    "source_file string, source_line int, payment_month string"
)
VARIABLES = (
    "qtd_faturas",
    "vl_fatura_total",
    "vl_fatura_medio",
    "vl_fatura_max",
    "vl_pago_total",
    "pct_valor_pago",
    "qtd_faturas_vencidas",
    "pct_faturas_em_dia",
    "pct_faturas_abaixo_minimo",
    "qtd_faturas_em_atraso",
    "dias_atraso_medio",
    "dias_atraso_max",
)
INVOICE_COLUMNS = (
    "id_cliente",
    "id_fatura",
    "dt_emissao_fatura",
    "dt_vencimento_fatura",
    "valor_fatura",
    "valor_pagamento_minimo",
)
COLUMNS = ("id_cliente", *(f"{v}_u{n}m" for n in WINDOWS for v in VARIABLES))


# --------------------------------------------------------------------------------------------- pure


def parse_ref(ref: str) -> tuple[int, int]:
    """``"2024-05"`` -> ``(2024, 5)``.

    Raises
    ------
    ValueError
        When ``ref`` is not a reference month ``YYYY-MM``.
    """
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", ref):
        raise ValueError(f"reference month must be YYYY-MM, got {ref!r}")
    return int(ref[:4]), int(ref[5:])


def as_of(ref: str) -> date:
    """The last day of the reference month."""
    year, month = parse_ref(ref)
    return date(year, month, calendar.monthrange(year, month)[1])


def shift(ref: str, months: int) -> str:
    """``ref`` plus ``months`` (negative to go back), as 'YYYY-MM'."""
    year, month = parse_ref(ref)
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_back(ref: str, n: int) -> list[str]:
    """[R-(n-1), ..., R]."""
    return [shift(ref, -k) for k in range(n - 1, -1, -1)]


def _month_index(column: Column) -> Column:
    """Year * 12 + month of a date (consecutive months differ by 1)."""
    return F.year(column) * 12 + F.month(column)


def _ref_index(ref: str) -> int:
    year, month = parse_ref(ref)
    return year * 12 + month


def refs_frame(spark: SparkSession, refs: list[str]) -> DataFrame:
    """One row per reference month with its as-of day and month-index window.

    One row per reference month: ``ref``, ``_as_of`` (its last day), ``_first`` and ``_last`` (the month indexes
    of R-11 and R, see `_month_index`).
    """
    rows = [(ref, as_of(ref), _ref_index(ref) - 11, _ref_index(ref)) for ref in refs]
    return spark.createDataFrame(rows, "ref string, _as_of date, _first int, _last int")


def _facts(inv: DataFrame, payments: DataFrame) -> DataFrame:
    """The per-invoice facts of every (ref, invoice) of ``inv``.

    The per-invoice facts of every (ref, invoice) of ``inv``: the invoice columns + ref, _as_of, _first (payments
    dated before the month index ``_first`` or after ``_as_of`` do not exist for that ref).
    """
    keys = ["ref", "id_fatura"]
    paid = (
        payments.select(
            "id_pagamento", "id_fatura", "dt_pagamento", F.col("valor_pagamento").cast(MONEY).alias("_valor")
        )
        .join(inv.select(*keys, "valor_fatura", "dt_vencimento_fatura", "_as_of", "_first"), "id_fatura")
        .filter((F.col("dt_pagamento") <= F.col("_as_of")) & (_month_index(F.col("dt_pagamento")) >= F.col("_first")))
    )
    running = Window.partitionBy(*keys).orderBy("dt_pagamento", "id_pagamento")
    reached = F.sum("_valor").over(running.rowsBetween(Window.unboundedPreceding, 0)) >= (
        F.col("valor_fatura") - F.lit(TOLERANCE).cast(MONEY)
    )
    per_invoice = (
        paid.withColumn("_reached", reached)
        .groupBy(*keys)
        .agg(
            F.sum("_valor").alias("pago"),
            F.sum(F.when(F.col("dt_pagamento") <= F.col("dt_vencimento_fatura"), F.col("_valor"))).alias("_ate"),
            F.min(F.when(F.col("_reached"), F.col("dt_pagamento"))).alias("quitacao"),
        )
    )
    facts = inv.join(per_invoice, keys, "left")
    cutoff = F.col("_as_of")
    vencida = F.col("dt_vencimento_fatura") <= cutoff
    late = F.datediff(F.coalesce(F.col("quitacao"), cutoff), F.col("dt_vencimento_fatura"))
    return facts.select(
        "ref",
        *INVOICE_COLUMNS,
        F.coalesce(F.col("pago"), F.lit(0)).cast(MONEY).alias("pago"),
        F.coalesce(F.col("_ate"), F.lit(0)).cast(MONEY).alias("pago_ate_vencimento"),
        "quitacao",
        vencida.alias("vencida"),
        (F.col("quitacao").isNotNull() & (F.col("quitacao") <= F.col("dt_vencimento_fatura"))).alias("em_dia"),
        F.when(vencida, F.greatest(F.lit(0), late)).cast("int").alias("dias_atraso"),
        F.when(vencida, F.coalesce(F.col("_ate"), F.lit(0)) < F.col("valor_pagamento_minimo")).alias("abaixo_minimo"),
    )


def _invoice_columns(invoices: DataFrame) -> DataFrame:
    return invoices.select(
        "id_cliente",
        "id_fatura",
        "dt_emissao_fatura",
        "dt_vencimento_fatura",
        F.col("valor_fatura").cast(MONEY).alias("valor_fatura"),
        F.col("valor_pagamento_minimo").cast(MONEY).alias("valor_pagamento_minimo"),
    )


def invoice_facts_many(invoices: DataFrame, payments: DataFrame, refs: DataFrame) -> DataFrame:
    """The per-invoice facts of all the reference months of ``refs`` in one plan.

    The per-invoice facts of all the reference months of ``refs`` (a `refs_frame`) in one plan: one row per
    (ref, invoice issued in [R-11, R]): ``ref`` + the columns of `invoice_facts` at the ref's ``as_of``, each
    invoice counting only its payments dated in [R-11, as_of] (the payment partitions the job reads for R).
    """
    issued = _month_index(F.col("dt_emissao_fatura"))
    inv = _invoice_columns(invoices).join(
        F.broadcast(refs), (issued >= F.col("_first")) & (issued <= F.col("_last")), "inner"
    )
    return _facts(inv, payments)


def invoice_facts(invoices: DataFrame, payments: DataFrame, as_of: date) -> DataFrame:
    """The contract's per-invoice facts at ``as_of`` (/work/shared/specs/cards_book.md).

    One row per invoice: the invoice columns + pago, pago_ate_vencimento, quitacao, vencida, em_dia,
    dias_atraso, abaixo_minimo (the contract's per-invoice facts at ``as_of``).

    ``invoices``: id_cliente, id_fatura, dt_emissao_fatura, dt_vencimento_fatura, valor_fatura,
    valor_pagamento_minimo (decimals). ``payments``: id_pagamento, id_fatura, dt_pagamento, valor_pagamento.
    Payments after ``as_of`` or of invoices not in ``invoices`` are ignored.
    """
    inv = _invoice_columns(invoices).select(
        "*", F.lit("").alias("ref"), F.lit(as_of).alias("_as_of"), F.lit(0).alias("_first")
    )
    return _facts(inv, payments).drop("ref")


def _window_columns(n: int, age: Column) -> list[Column]:
    inside = (age >= 0) & (age <= n - 1)
    due = inside & F.col("vencida")

    def count(condition: Column) -> Column:
        return F.count(F.when(condition, F.lit(1))).cast("int")

    def total(value: str, condition: Column = inside) -> Column:
        return F.coalesce(F.sum(F.when(condition, F.col(value))), F.lit(0)).cast(MONEY)

    def pct(numerator: Column, denominator: Column) -> Column:
        return F.when(denominator != 0, F.lit(100.0) * numerator.cast("double") / denominator.cast("double"))

    invoices, faturado, pago, vencidas = count(inside), total("valor_fatura"), total("pago"), count(due)
    suffix = f"_u{n}m"
    return [
        invoices.alias("qtd_faturas" + suffix),
        faturado.alias("vl_fatura_total" + suffix),
        F.when(invoices > 0, faturado.cast("double") / invoices).alias("vl_fatura_medio" + suffix),
        F.max(F.when(inside, F.col("valor_fatura"))).cast(MONEY).alias("vl_fatura_max" + suffix),
        pago.alias("vl_pago_total" + suffix),
        pct(pago, faturado).alias("pct_valor_pago" + suffix),
        vencidas.alias("qtd_faturas_vencidas" + suffix),
        pct(count(due & F.col("em_dia")), vencidas).alias("pct_faturas_em_dia" + suffix),
        pct(count(due & F.col("abaixo_minimo")), vencidas).alias("pct_faturas_abaixo_minimo" + suffix),
        count(due & (F.col("dias_atraso") > 0)).alias("qtd_faturas_em_atraso" + suffix),
        F.avg(F.when(due, F.col("dias_atraso").cast("double"))).alias("dias_atraso_medio" + suffix),
        F.max(F.when(due, F.col("dias_atraso"))).cast("int").alias("dias_atraso_max" + suffix),
    ]


def book_many(facts: DataFrame) -> DataFrame:
    """One row per (ref, client with an invoice issued in [R-11, R]): id_cliente, the 48 variables, ref.

    ``facts``: per-invoice facts (`invoice_facts_many`) with their ``ref`` ('YYYY-MM').
    """
    reference = F.substring("ref", 1, 4).cast("int") * 12 + F.substring("ref", 6, 2).cast("int")
    age = F.col("_age")  # 0 = issued in R
    in_year = facts.withColumn("_age", reference - _month_index(F.col("dt_emissao_fatura"))).filter(
        (age >= 0) & (age <= 11)
    )
    aggregates = [column for n in WINDOWS for column in _window_columns(n, age)]
    return in_year.groupBy("ref", "id_cliente").agg(*aggregates).select(*COLUMNS, "ref")


def book(facts: DataFrame, ref: str) -> DataFrame:
    """One row per client with an invoice issued in [R-11, R]: id_cliente, the 48 variables, ref."""
    parse_ref(ref)
    return book_many(facts.withColumn("ref", F.lit(ref)))


# ----------------------------------------------------------------------------------------------- io


def refs_touched(curate_result: dict[str, Any]) -> list[str]:
    """The reference months a curate run changes.

    The reference months a curate run changes: the months of the invoices and of the payments it wrote
    (a payment in month M changes the book of M even when its invoice is older).
    """
    months = set(curate_result["invoices"]["partitions"]) | set(curate_result["payments"]["partitions"])
    return sorted(months)


def _read(spark: SparkSession, uri: str, schema: str, partition: str, months: list[str]) -> DataFrame:
    """The table's rows in the ``months`` partitions (pruned), or an empty frame when the table does not exist."""
    if not glue_io.exists(spark, uri):
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).parquet(uri).filter(F.col(partition).isin(months))


def run(spark: SparkSession, args: dict[str, str]) -> dict[str, Any]:
    """The job: the cards book of every reference month a curate run touched.

    Facts and book of all the refs in one plan from the curated tables; one partition write;
    result JSON.

    Parameters
    ----------
    spark
        The session (Glue's, or a local one in tests and local mode).
    args
        The job arguments of :data:`ARGUMENTS` without their ``--``: ``refs`` (comma-separated
        reference months "YYYY-MM") or ``refs_from`` (the curate job's result JSON, whose written
        months decide them: :func:`refs_touched`), ``curated_root``/``refined_root`` lake prefixes and
        ``result_path`` where the result JSON goes.

    Returns
    -------
    dict
        ``{"run_id", "refs", "rows": {ref: book rows}}``; each ref's partition ``cards_book/ref=<ref>/``
        of the refined zone is rewritten (money decimal(18,2)), or removed when it has no row.

    Raises
    ------
    ValueError
        For a reference month that is not YYYY-MM.
    """
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    curated, refined = glue_io.root(args["curated_root"]), glue_io.root(args["refined_root"])
    refs = sorted({part.strip() for part in (args.get("refs") or "").split(",") if part.strip()})
    if not refs and args.get("refs_from"):  # the workflow: the months the curate step just wrote
        refs = refs_touched(glue_io.read_json(args["refs_from"]))
    for ref in refs:
        parse_ref(ref)
    table = refined + "cards_book/"
    rows: dict[str, int] = {}
    if refs:
        needed = sorted({month for ref in refs for month in months_back(ref, 12)})
        invoices = _read(spark, curated + "cards_invoices/", INVOICE_SCHEMA, "issue_month", needed).cache()
        payments = _read(spark, curated + "cards_payments/", PAYMENT_SCHEMA, "payment_month", needed).cache()
        facts = invoice_facts_many(invoices, payments, refs_frame(spark, refs))
        result_rows = book_many(facts)
        result_rows = result_rows.cache()
        counts = {r["ref"]: int(r["n"]) for r in result_rows.groupBy("ref").agg(F.count("*").alias("n")).collect()}
        rows = {ref: counts.get(ref, 0) for ref in refs}
        if any(rows.values()):
            glue_io.write_partitioned(result_rows, table, "ref", sort_by="id_cliente")
        for ref in refs:
            if not rows[ref]:
                glue_io.delete(spark, f"{table}ref={ref}/")
        for frame in (invoices, payments, result_rows):
            frame.unpersist()

    result: dict[str, Any] = {"run_id": args.get("run_id", ""), "refs": refs, "rows": rows}
    if args.get("result_path"):
        glue_io.write_result(args["result_path"], result)
    return result


def main() -> None:
    """The job on Glue (`glue_io.run_job`)."""
    glue_io.run_job(run, ARGUMENTS)


if __name__ == "__main__":
    main()
