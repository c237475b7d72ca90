"""Cards domain, Glue 5.0 PySpark job (the workflow's Validate step): raw invoice/payment CSVs -> curated tables.

Reads the raw files named in ``invoice_files`` / ``payment_files`` (comma-separated URIs, OLDEST FIRST):

- ``tb_faturas_YYYYMM.csv``: ``id_cliente,id_fatura,dt_emissao_fatura,dt_vencimento_fatura,valor_fatura``
  optionally followed by ``,valor_pagamento_minimo``;
- ``tb_pagamentos_YYYYMM.csv``: ``id_pagamento,id_fatura,id_cliente,dt_pagamento,valor_pagamento``.

Comma-separated, no quoting, LF or CRLF; a file may hold many months. Empty lines are ignored (they are not
data rows). Each file is decoded with the encoding its Fetch decided (``invoice_encodings`` /
``payment_encodings``, aligned with the files; UTF-8 when absent; a BOM is dropped), line by line and strictly:
a line that is not valid in it is quarantined ("not valid <encoding> text"), never turned into mojibake.

Header drift (the contract of the files, docs/decisions/0013-card-files.md): columns are found by NAME, in any
order, and the publisher's known renames are mapped explicitly (:data:`RENAMES`: ``data_emissao`` ->
``dt_emissao_fatura``, ``data_vencimento`` -> ``dt_vencimento_fatura``, ``data_pagamento`` -> ``dt_pagamento``,
as in the later deliveries ``tb_faturas_YYYYMMDD_...``). Any other header (a missing, unknown or repeated
column) rejects the file whole (`HeaderMismatch`, naming the expected and the found columns) before anything is
written. Ids stay what the contract says, positive integers: a prefixed id (``FAT-101``) is quarantined with
its reason, not guessed into a number.

Row checks, in this order; the first failing one is the row's ``reason``: quotes in the line, field count,
ids (positive integers), dates (ISO yyyy-mm-dd, a real day), amounts (non-negative decimals with at most two
places), ``dt_vencimento_fatura >= dt_emissao_fatura``; for payments, then: the invoice exists (this batch's
valid invoices, else the curated ones) and belongs to the same client. Bad rows go to quarantine.

Duplicates (same ``id_fatura`` / ``id_pagamento``) among the VALID rows: the row of the newest file wins
(within a file, the last line). An invalid newer row therefore never hides an older valid one.

Writes (Parquet, zstd, Hive layout, partition column only in the path):

- ``<curated_root>cards_invoices/issue_month=YYYY-MM/`` and ``<curated_root>cards_payments/payment_month=YYYY-MM/``:
  only the partitions the input touches (its months, plus the partitions where an id of the input was stored
  before) are rewritten, as existing rows of those partitions minus the input ids, union the input rows. Everything
  is first materialised under ``<curated_root>_tmp_cards_curate_<run_id>/``, reconciled, then swapped in.
- ``<quarantine_root>invoices.jsonl`` and ``<quarantine_root>payments.jsonl``: JSON Lines (source, line, reason,
  raw) ordered by file and line; replaced on every run (removed when nothing is bad).
- The run's result as JSON at ``result_path`` (also returned by `run`).

Stored types: ids bigint, dates date, amounts decimal(18,2) (parsed from the text, never through double),
``minimo_estimado`` boolean, ``source_file`` string (the URI as given), ``source_line`` int (1-based, header = 1).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import glue_io
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

ARGUMENTS = (
    "run_id",
    "invoice_files",
    "payment_files",
    "invoice_encodings",
    "payment_encodings",
    "curated_root",
    "quarantine_root",
    "result_path",
)

INVOICE_HEADER = ("id_cliente", "id_fatura", "dt_emissao_fatura", "dt_vencimento_fatura", "valor_fatura")
MINIMUM = "valor_pagamento_minimo"
PAYMENT_HEADER = ("id_pagamento", "id_fatura", "id_cliente", "dt_pagamento", "valor_pagamento")
MINIMUM_RATE = Decimal("0.15")
# The publisher's known column renames (later deliveries), mapped to the contract's names. Nothing else is guessed.
RENAMES = {
    "data_emissao": "dt_emissao_fatura",
    "data_vencimento": "dt_vencimento_fatura",
    "data_pagamento": "dt_pagamento",
}

INVOICE_SCHEMA = (
    "id_cliente bigint, id_fatura bigint, dt_emissao_fatura date, dt_vencimento_fatura date, "
    "valor_fatura decimal(18,2), valor_pagamento_minimo decimal(18,2), minimo_estimado boolean, "
    "source_file string, source_line int, issue_month string"
)
PAYMENT_SCHEMA = (
    "id_pagamento bigint, id_fatura bigint, id_cliente bigint, dt_pagamento date, valor_pagamento decimal(18,2), "
    "source_file string, source_line int, payment_month string"
)
# One row per raw line: file_index (0 = oldest file), the URI, the 1-based line, the text as found, the expected
# field count, the line with its fields in the contract's order ("norm"), and why it could not be decoded (or null).
LINES_SCHEMA = (
    "file_index int, source_file string, source_line int, raw string, fields int, norm string, undecodable string"
)

_ID = r"^[1-9][0-9]{0,17}$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_AMOUNT = r"^[0-9]{1,16}(\.[0-9]{1,2})?$"
_NEGATIVE = r"^-[0-9]+(\.[0-9]+)?$"


class HeaderMismatch(ValueError):
    """A raw file's header is not the expected one: the whole file is rejected."""


class ReconciliationError(RuntimeError):
    """Raw data rows != curated rows written + quarantined + duplicates dropped."""


# --------------------------------------------------------------------------------------------- pure


@dataclass(frozen=True)
class Layout:
    """Where the contract's columns are in one file.

    Where the contract's columns are in one file: ``positions[i]`` is the source field of the contract's
    i-th column (expected ones, then the optional one if present); ``fields`` the file's field count.
    """

    fields: int
    positions: tuple[int, ...]
    renamed: tuple[str, ...] = ()

    @property
    def identity(self) -> bool:
        """True when the file's fields are already in the contract's order (no reordering needed)."""
        return self.positions == tuple(range(self.fields))


def header_layout(source: str, line: str | None, expected: tuple[str, ...], optional: str | None = None) -> Layout:
    """The file's :class:`Layout`, or `HeaderMismatch` naming the file, the expected and the found columns."""
    found = (line or "").lstrip("\ufeff").rstrip("\r")
    columns = tuple(found.split(",")) if found else ()
    mapped = tuple(RENAMES.get(column.strip().lower(), column.strip().lower()) for column in columns)
    wanted = (*expected, optional) if optional is not None and optional in mapped else expected
    if len(set(mapped)) == len(mapped) and set(mapped) == set(wanted):
        renamed = tuple(f"{c}->{RENAMES[c.strip().lower()]}" for c in columns if c.strip().lower() in RENAMES)
        return Layout(len(columns), tuple(mapped.index(name) for name in wanted), renamed)
    listed = ",".join(expected) + (f"[,{optional}]" if optional else "")
    raise HeaderMismatch(
        f"{source}: header mismatch: expected {listed!r} (in any order; known renames: "
        f"{', '.join(f'{k}->{v}' for k, v in RENAMES.items())}), found {','.join(columns)!r}"
    )


def check_header(source: str, line: str | None, expected: tuple[str, ...], optional: str | None = None) -> int:
    """The number of fields of the file's rows, or `HeaderMismatch` (see :func:`header_layout`)."""
    return header_layout(source, line, expected, optional).fields


def _quoted(text: Column) -> Column:
    return F.concat(F.lit("'"), F.coalesce(text, F.lit("")), F.lit("'"))


def _field(name: str, kind: str, text: Column) -> tuple[Column, list[Column]]:
    """(typed value or null, checks: each null when fine, else the reason) for one text field."""
    if kind == "id":
        ok = text.rlike(_ID)
        return F.when(ok, text.cast("bigint")), [
            F.when(~ok, F.concat(F.lit(f"{name} is not a positive integer: "), _quoted(text)))
        ]
    if kind == "date":
        value = F.when(text.rlike(_DATE), F.expr("try_cast(_text AS date)"))
        return value, [
            F.when(value.isNull(), F.concat(F.lit(f"{name} is not a valid yyyy-mm-dd date: "), _quoted(text)))
        ]
    ok = text.rlike(_AMOUNT)
    return F.when(ok, text.cast("decimal(18,2)")), [
        F.when(text.rlike(_NEGATIVE), F.concat(F.lit(f"{name} is negative: "), _quoted(text))),
        F.when(~ok, F.concat(F.lit(f"{name} is not a decimal number with at most 2 places: "), _quoted(text))),
    ]


def _parse(lines: DataFrame, columns: list[tuple[str, str]], gate: dict[str, Column] | None = None) -> DataFrame:
    """``lines`` (LINES_SCHEMA) with one typed column per field and ``reason`` (the first failed check, or null).

    ``gate`` maps a field name to the condition under which it is present (an optional column).
    """
    gate = gate or {}
    split = lines.withColumn("_fields", F.split("norm", ",", -1))
    checks = [
        F.col("undecodable"),
        F.when(F.col("raw").contains('"'), F.lit("quotes are not allowed")),
        F.when(
            F.size("_fields") != F.col("fields"),
            F.format_string("expected %d fields, found %d", F.col("fields"), F.size("_fields")),
        ),
    ]
    for index, (name, kind) in enumerate(columns):
        # try_cast needs a column name: each field is checked on a projection where it is called `_text`.
        value, field_checks = _field(name, kind, F.col("_text"))
        present = gate.get(name)
        if present is not None:
            value = F.when(present, value)
            field_checks = [F.when(present, check) for check in field_checks]
        split = (
            split.withColumn("_text", F.get(F.col("_fields"), index))
            .withColumn(name, value)
            .withColumn(f"_reason_{index}", F.coalesce(*field_checks))
            .drop("_text")
        )
        checks.append(F.col(f"_reason_{index}"))
    drops = [f"_reason_{i}" for i in range(len(columns))]
    return split.withColumn("reason", F.coalesce(*checks)).drop("_fields", "norm", "undecodable", *drops)


def validate_invoices(lines: DataFrame) -> DataFrame:
    """Raw invoice lines -> typed invoice columns (INVOICE_SCHEMA, issue_month included) + file_index, raw, reason."""
    has_minimum = F.col("fields") == len(INVOICE_HEADER) + 1
    columns = [
        ("id_cliente", "id"),
        ("id_fatura", "id"),
        ("dt_emissao_fatura", "date"),
        ("dt_vencimento_fatura", "date"),
        ("valor_fatura", "amount"),
        (MINIMUM, "amount"),
    ]
    parsed = _parse(lines, columns, gate={MINIMUM: has_minimum})
    order = F.when(
        F.col("dt_vencimento_fatura") < F.col("dt_emissao_fatura"),
        F.format_string(
            "dt_vencimento_fatura %s is before dt_emissao_fatura %s",
            F.col("dt_vencimento_fatura").cast("string"),
            F.col("dt_emissao_fatura").cast("string"),
        ),
    )
    # round() on a decimal is HALF_UP; 0.15 x decimal(18,2) is exact before rounding.
    estimate = F.round(F.lit(MINIMUM_RATE).cast("decimal(3,2)") * F.col("valor_fatura"), 2).cast("decimal(18,2)")
    return parsed.select(
        "id_cliente",
        "id_fatura",
        "dt_emissao_fatura",
        "dt_vencimento_fatura",
        "valor_fatura",
        F.when(has_minimum, F.col(MINIMUM)).otherwise(estimate).alias(MINIMUM),
        (~has_minimum).alias("minimo_estimado"),
        "source_file",
        "source_line",
        F.date_format("dt_emissao_fatura", "yyyy-MM").alias("issue_month"),
        "file_index",
        "raw",
        F.coalesce(F.col("reason"), order).alias("reason"),
    )


def validate_payments(lines: DataFrame, invoice_clients: DataFrame) -> DataFrame:
    """Raw payment lines -> typed payment columns (PAYMENT_SCHEMA) + file_index, raw, reason.

    ``invoice_clients`` (id_fatura, id_cliente), one row per known invoice: the batch's and the curated ones.
    """
    columns = [
        ("id_pagamento", "id"),
        ("id_fatura", "id"),
        ("id_cliente", "id"),
        ("dt_pagamento", "date"),
        ("valor_pagamento", "amount"),
    ]
    parsed = _parse(lines, columns)
    known = invoice_clients.select("id_fatura", F.col("id_cliente").alias("_invoice_client"))
    joined = parsed.join(known, "id_fatura", "left")
    reference = F.coalesce(
        F.col("reason"),
        F.when(F.col("_invoice_client").isNull(), F.format_string("unknown invoice %d", F.col("id_fatura"))),
        F.when(
            F.col("_invoice_client") != F.col("id_cliente"),
            F.format_string(
                "id_cliente %d differs from invoice %d client %d",
                F.col("id_cliente"),
                F.col("id_fatura"),
                F.col("_invoice_client"),
            ),
        ),
    )
    return joined.select(
        "id_pagamento",
        "id_fatura",
        "id_cliente",
        "dt_pagamento",
        "valor_pagamento",
        "source_file",
        "source_line",
        F.date_format("dt_pagamento", "yyyy-MM").alias("payment_month"),
        "file_index",
        "raw",
        reference.alias("reason"),
    )


def dedupe(valid: DataFrame, key: str) -> DataFrame:
    """One row per ``key``: the newest file's (highest file_index), then the last line."""
    newest = Window.partitionBy(key).orderBy(F.col("file_index").desc(), F.col("source_line").desc())
    return valid.withColumn("_rank", F.row_number().over(newest)).filter("_rank = 1").drop("_rank")


def merge(existing: DataFrame | None, incoming: DataFrame, key: str, partition: str, columns: list[str]) -> DataFrame:
    """The rows of the partitions ``incoming`` rewrites.

    The rows of the partitions ``incoming`` rewrites: existing rows of those partitions whose ``key`` is not in
    ``incoming``, union ``incoming``; ``_new`` tells them apart. ``existing`` holds the touched partitions only.
    """
    new = incoming.select(*columns, F.lit(True).alias("_new"))
    if existing is None:
        return new
    kept = existing.join(incoming.select(key), key, "left_anti").select(*columns, F.lit(False).alias("_new"))
    return new.unionByName(kept)


# ----------------------------------------------------------------------------------------------- io


def _first_line(spark: SparkSession, uri: str, encoding: str = "utf_8") -> str | None:
    """The header, decoded with the file's encoding (a UTF-16 file's too); None for an empty file.

    Read on the driver up to the first line's end (`glue_io.first_line`), not by a Spark job per file.
    """
    line = glue_io.first_line(spark, uri, encoding or "utf_8")
    return None if line is None else line.rstrip("\r").lstrip("\ufeff")


Line = tuple[int, str, int, str, int, str, str | None]


def _numbering(index: int, uri: str, layout: Layout, encoding: str) -> Callable[[tuple[str, bytes]], list[Line]]:
    """A function that numbers, decodes and splits one file's lines.

    One file's lines, numbered from 1, decoded strictly with ``encoding`` (a BOM dropped; lines are split on
    LF bytes, so one bad byte spoils only its line; UTF-16/32 are decoded whole), with their fields put in the
    contract's order ("norm"). Self-contained: Spark pickles it by value into the workers (the local runner
    loads this script under a module name the workers cannot import).
    """
    identity, width, positions = layout.identity, layout.fields, layout.positions

    def lines(pair: tuple[str, bytes]) -> list[Line]:
        data = pair[1]
        decoded: list[tuple[str, str | None]] = []
        if encoding.startswith(("utf_16", "utf_32")):
            decoded = [(line.rstrip("\r"), None) for line in data.decode(encoding).split("\n")]
        else:
            for number, raw in enumerate(data.split(b"\n")):
                if number == 0:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                try:
                    decoded.append((raw.decode(encoding).rstrip("\r"), None))
                except UnicodeDecodeError as exc:
                    why = f"not valid {encoding} text: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
                    decoded.append((raw.decode(encoding, "backslashreplace").rstrip("\r"), why))
        if decoded and decoded[-1][0] == "":
            decoded.pop()  # the final newline does not open another line
        out = []
        for number, (text, undecodable) in enumerate(decoded, start=1):
            norm = text
            if not identity:
                fields = text.split(",")
                if len(fields) == width:
                    norm = ",".join(fields[i] for i in positions)
            out.append((index, uri, number, text, len(positions), norm, undecodable))
        return out

    return lines


def _read_lines(
    spark: SparkSession, uris: list[str], layouts: list[Layout], encodings: list[str] | None = None
) -> DataFrame:
    """The data lines (header and empty lines excluded) of ``uris`` with their exact 1-based line numbers.

    Each file is read whole as bytes (``binaryFiles``: Spark's text readers decode as UTF-8 in the JVM and
    replace what does not fit, silently) and decoded here, line by line, with the encoding Fetch decided.
    All the files are read by one ``binaryFiles``, which packs them into about as many partitions as the
    cluster has cores: a Python task per few files, not one per file (each costs a Python worker round trip).
    Each record is numbered by the file it comes from, found by the path Hadoop lists for it; a file named
    twice is numbered once per position.
    """
    sc = spark.sparkContext
    encodings = encodings or ["utf_8"] * len(uris)
    numberings: dict[str, list[Callable[[tuple[str, bytes]], list[Line]]]] = {}
    for index, (uri, layout, encoding) in enumerate(zip(uris, layouts, encodings, strict=True)):
        number = _numbering(index, uri, layout, encoding or "utf_8")
        numberings.setdefault(glue_io.listed_path(spark, uri), []).append(number)
    if not numberings:
        return spark.createDataFrame([], LINES_SCHEMA)

    def numbered(pair: tuple[str, bytes]) -> list[Line]:
        if pair[0] not in numberings:
            raise RuntimeError(f"binaryFiles read {pair[0]!r}, not one of {sorted(numberings)}")
        return [line for number in numberings[pair[0]] for line in number(pair)]

    files = sc.binaryFiles(",".join(numberings)).flatMap(numbered)
    lines = spark.createDataFrame(files, LINES_SCHEMA)
    return lines.filter((F.col("source_line") > 1) & (F.col("raw") != ""))


def _encodings(value: str | None, files: list[str]) -> list[str]:
    """One codec per file (Fetch's decisions, comma-separated); UTF-8 when the argument is absent."""
    found = [part.strip() for part in (value or "").split(",")]
    return found if len(found) == len(files) and all(found) else ["utf_8"] * len(files)


def _columns(schema: str) -> list[str]:
    return [part.strip().split(" ", 1)[0] for part in schema.split(", ")]


class _Kind:
    """What differs between invoices and payments."""

    def __init__(self, name: str, table: str, schema: str, key: str, partition: str):
        self.name, self.table, self.schema, self.key, self.partition = name, table, schema, key, partition
        self.columns = _columns(schema)


INVOICES = _Kind("invoices", "cards_invoices", INVOICE_SCHEMA, "id_fatura", "issue_month")
PAYMENTS = _Kind("payments", "cards_payments", PAYMENT_SCHEMA, "id_pagamento", "payment_month")


@dataclass
class _Staged:
    """One kind's run, materialised under the temp prefix: checked rows, merged partitions, their tallies."""

    checked: DataFrame
    merged: DataFrame
    partitions: list[str]  # rewritten: the input's months and those where an input id was stored before
    present: list[str] = field(default_factory=list)  # partitions that hold rows after the merge
    months: list[str] = field(default_factory=list)  # partitions of the input rows
    counts: dict[str, int] = field(default_factory=dict)


def _materialise(spark: SparkSession, frame: DataFrame, uri: str) -> DataFrame:
    """Write ``frame`` as Parquet at ``uri`` and read it back with its schema (no schema-inference job)."""
    frame.write.mode("overwrite").parquet(uri)
    schema = StructType([StructField(f.name, f.dataType, True, f.metadata) for f in frame.schema.fields])
    return spark.read.schema(schema).parquet(uri)


def _stage(spark: SparkSession, kind: _Kind, checked: DataFrame, table: str, temp: str) -> _Staged:
    """Materialise the checked rows and the merged partitions under ``temp``."""
    checked = _materialise(spark, checked, f"{temp}{kind.name}_checked/")
    winners = dedupe(checked.filter(F.col("reason").isNull()), kind.key)
    existing = glue_io.read_table(spark, table, kind.schema)
    touched = winners.select(kind.partition)
    if existing is not None:
        touched = touched.unionByName(
            existing.join(winners.select(kind.key), kind.key, "left_semi").select(kind.partition)
        )
    partitions = glue_io.distinct_values(touched, kind.partition, drop_null=True)
    if existing is not None:
        existing = existing.filter(F.col(kind.partition).isin(partitions))
    merged = merge(existing, winners, kind.key, kind.partition, kind.columns)
    return _Staged(checked, _materialise(spark, merged, f"{temp}{kind.name}_merged/"), partitions)


def _reconcile(kind: _Kind, lines: DataFrame, staged: _Staged) -> None:
    """Fill ``staged.counts`` (and the partition lists); `ReconciliationError` when rows went missing."""
    valid = F.col("reason").isNull()
    tally = staged.checked.agg(
        F.count(F.when(valid, F.lit(1))).alias("valid"),
        F.count(F.when(~valid, F.lit(1))).alias("quarantined"),
        F.countDistinct(F.when(valid, F.col(kind.key))).alias("distinct"),
    ).collect()[0]
    merged = staged.merged.agg(
        F.count(F.when(F.col("_new"), F.lit(1))).alias("written"),
        F.collect_set(kind.partition).alias("present"),
        F.collect_set(F.when(F.col("_new"), F.col(kind.partition))).alias("months"),
    ).collect()[0]
    staged.present, staged.months = sorted(merged["present"]), sorted(merged["months"])
    counts = staged.counts = {
        "rows_in": lines.count(),
        "valid": int(tally["valid"]),
        "quarantined": int(tally["quarantined"]),
        "duplicates": int(tally["valid"]) - int(tally["distinct"]),
        "written": int(merged["written"]),
    }
    if counts["rows_in"] != counts["written"] + counts["quarantined"] + counts["duplicates"]:
        raise ReconciliationError(
            f"{kind.name}: {counts['rows_in']} raw rows != {counts['written']} written + "
            f"{counts['quarantined']} quarantined + {counts['duplicates']} duplicates"
        )


def _write_quarantine(spark: SparkSession, staged: _Staged, uri: str) -> bool:
    """Write the bad rows as one JSON Lines quarantine object; False when there are none.

    The bad rows as JSON Lines in the one object ``uri``, ordered by file and line: per row
    ``{"source": <file URI>, "line": <1-based line>, "reason": ..., "raw": <the line>}``, the
    quarantine format of every domain (`finlake quarantine` reads it). Removed when there are none.
    """
    if not staged.counts["quarantined"]:
        glue_io.delete(spark, uri)
        return False
    bad = staged.checked.filter(F.col("reason").isNotNull()).select(
        F.col("source_file").alias("source"), F.col("source_line").alias("line"), "reason", "raw"
    )
    glue_io.write_json_lines(spark, bad.orderBy("source", "line"), uri)
    return True


def _swap(spark: SparkSession, kind: _Kind, staged: _Staged, table: str) -> None:
    """Rewrite the touched partitions of ``table`` from the materialised merge; drop those left empty."""
    if not staged.partitions:
        return
    rows = staged.merged.select(*kind.columns)
    glue_io.write_partitioned(rows, table, kind.partition, sort_by=kind.key)
    for emptied in sorted(set(staged.partitions) - set(staged.present)):
        glue_io.delete(spark, f"{table}{kind.partition}={emptied}/")


def run(spark: SparkSession, args: dict[str, str]) -> dict[str, Any]:
    """The job: header checks, row checks, dedup, staged merge, reconciliation, quarantine, curated swap, result.

    Parameters
    ----------
    spark
        The session (Glue's, or a local one in tests and local mode).
    args
        The job arguments of :data:`ARGUMENTS` without their ``--``: ``invoice_files``/``payment_files``
        (comma-separated URIs of the month's raw CSV files, /work/shared/specs/cards_book.md),
        ``invoice_encodings``/``payment_encodings`` (the text encoding Fetch decided for each),
        ``curated_root``, ``quarantine_root`` and ``result_path``.

    Returns
    -------
    dict
        ``run_id``, ``renamed_columns``, per kind (``invoices``, ``payments``) the row counts and the
        partitions rewritten, ``months`` (the issue months of the input invoices) and the
        ``quarantine`` objects written; also written to ``result_path``.

    Raises
    ------
    HeaderMismatch
        When a file's header is not the contract's (nothing is written).
    ReconciliationError
        When rows in != curated + quarantined + duplicates for a kind (nothing is swapped in).
    """
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    curated, quarantine = glue_io.root(args["curated_root"]), glue_io.root(args["quarantine_root"])
    invoice_files, payment_files = glue_io.uris(args.get("invoice_files")), glue_io.uris(args.get("payment_files"))
    invoice_encodings = _encodings(args.get("invoice_encodings"), invoice_files)
    payment_encodings = _encodings(args.get("payment_encodings"), payment_files)
    # Whole-file rejection first: nothing is written when one header is wrong.
    invoice_layouts = [
        header_layout(uri, _first_line(spark, uri, enc), INVOICE_HEADER, MINIMUM)
        for uri, enc in zip(invoice_files, invoice_encodings, strict=True)
    ]
    payment_layouts = [
        header_layout(uri, _first_line(spark, uri, enc), PAYMENT_HEADER)
        for uri, enc in zip(payment_files, payment_encodings, strict=True)
    ]

    run_tag = re.sub(r"[^A-Za-z0-9_-]", "_", args.get("run_id") or "run")
    temp = f"{curated}_tmp_cards_curate_{run_tag}/"
    glue_io.delete(spark, temp)
    invoice_table, payment_table = curated + INVOICES.table + "/", curated + PAYMENTS.table + "/"

    # Cached: the lines are checked once and counted again by the reconciliation; without the cache the count
    # would read and decode every file a second time.
    invoice_lines = _read_lines(spark, invoice_files, invoice_layouts, invoice_encodings).cache()
    invoices = _stage(spark, INVOICES, validate_invoices(invoice_lines), invoice_table, temp)
    # The invoices a payment may refer to: this batch's winners, else the curated ones (read before the swap).
    batch = invoices.merged.filter("_new").select("id_fatura", "id_cliente")
    known = batch
    existing_invoices = glue_io.read_table(spark, invoice_table, INVOICE_SCHEMA)
    if existing_invoices is not None:
        curated_ids = existing_invoices.select("id_fatura", "id_cliente").join(batch, "id_fatura", "left_anti")
        known = batch.unionByName(curated_ids)
    payment_lines = _read_lines(spark, payment_files, payment_layouts, payment_encodings).cache()
    payments = _stage(spark, PAYMENTS, validate_payments(payment_lines, known), payment_table, temp)

    try:
        _reconcile(INVOICES, invoice_lines, invoices)
        _reconcile(PAYMENTS, payment_lines, payments)
    except ReconciliationError:
        glue_io.delete(spark, temp)
        raise
    finally:
        invoice_lines.unpersist()
        payment_lines.unpersist()

    written = []
    for kind, staged in ((INVOICES, invoices), (PAYMENTS, payments)):
        uri = f"{quarantine}{kind.name}.jsonl"
        if _write_quarantine(spark, staged, uri):
            written.append(uri)
    _swap(spark, INVOICES, invoices, invoice_table)
    _swap(spark, PAYMENTS, payments, payment_table)
    glue_io.delete(spark, temp)

    renamed = sorted({r for layout in (*invoice_layouts, *payment_layouts) for r in layout.renamed})
    result: dict[str, Any] = {
        "run_id": args.get("run_id", ""),
        "renamed_columns": renamed,
        "invoices": {**invoices.counts, "partitions": invoices.partitions},
        "payments": {**payments.counts, "partitions": payments.partitions},
        "months": invoices.months,
        "quarantine": written,
    }
    if args.get("result_path"):
        glue_io.write_result(args["result_path"], result)
    return result


def main() -> None:
    """The job on Glue (`glue_io.run_job`)."""
    glue_io.run_job(run, ARGUMENTS)


if __name__ == "__main__":
    main()
