"""glue/cards_curate.py on a local SparkSession: the real sample, every bad-row kind, reruns, merges, headers."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from finlake.local.glue import local_spark
from glue import cards_curate as job

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "cards"
INVOICES_SAMPLE = FIXTURES / "tb_fatura_20240901_20240902000000.csv"
PAYMENTS_SAMPLE = FIXTURES / "tb_pagamentos_20240901_20240902000000.csv"
INVOICE_HEADER = "id_cliente,id_fatura,dt_emissao_fatura,dt_vencimento_fatura,valor_fatura"
PAYMENT_HEADER = "id_pagamento,id_fatura,id_cliente,dt_pagamento,valor_pagamento"
SAMPLE_MONTHS = [f"2023-{m:02d}" for m in range(1, 13)] + [f"2024-{m:02d}" for m in range(1, 10)]


@pytest.fixture(scope="module")
def spark() -> Any:
    return local_spark()


def write(path: Path, text: str) -> str:
    path.write_bytes(text.encode("utf-8"))
    return path.as_uri()


def args(tmp: Path, invoices: list[str], payments: list[str], run_id: str = "r1") -> dict[str, str]:
    return {
        "run_id": run_id,
        "invoice_files": ",".join(invoices),
        "payment_files": ",".join(payments),
        "curated_root": (tmp / "curated").as_uri() + "/",
        "quarantine_root": (tmp / "quarantine" / "cards" / "202409").as_uri() + "/",
        "result_path": (tmp / "result.json").as_uri(),
    }


def rows(spark: Any, tmp: Path, table: str) -> list[dict[str, Any]]:
    """The curated table's rows, read back with pyarrow (independent of Spark, and fast)."""
    found = pq.read_table(tmp / "curated" / table, partitioning="hive").to_pylist()
    return sorted(found, key=lambda r: (r["source_file"], r["source_line"]))


def quarantine(tmp: Path, kind: str) -> list[dict[str, Any]]:
    """The rows of ``<quarantine_root><kind>.jsonl``, as the keys of every domain's quarantine."""
    path = tmp / "quarantine" / "cards" / "202409" / f"{kind}.jsonl"
    if not path.exists():
        return []
    found = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(set(row) == {"source", "line", "reason", "raw"} for row in found)
    return [{"source_file": r["source"], "source_line": r["line"], **r} for r in found]


def part_files(tmp: Path, table: str) -> dict[str, float]:
    root = tmp / "curated" / table
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.glob("*/*.parquet")}


@pytest.fixture(scope="module")
def sample(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[str]]:
    """The real sample, renamed as the raw zone names it, curated once into a fresh root."""
    tmp = tmp_path_factory.mktemp("sample")
    invoices, payments = tmp / "tb_faturas_202409.csv", tmp / "tb_pagamentos_202409.csv"
    shutil.copyfile(INVOICES_SAMPLE, invoices)
    shutil.copyfile(PAYMENTS_SAMPLE, payments)
    files = [invoices.as_uri(), payments.as_uri()]
    return tmp, job.run(spark, args(tmp, files[:1], files[1:])), files


def test_sample_reconciles_and_is_typed(spark: Any, sample: tuple[Path, dict[str, Any], list[str]]) -> None:
    tmp, result, _ = sample
    # The sample is clean: no bad row, no duplicated id, every payment's invoice and client match.
    assert result["invoices"] == {
        "rows_in": 15553,
        "valid": 15553,
        "quarantined": 0,
        "duplicates": 0,
        "written": 15553,
        "partitions": SAMPLE_MONTHS,
    }
    assert result["payments"] == {
        "rows_in": 7709,
        "valid": 7709,
        "quarantined": 0,
        "duplicates": 0,
        "written": 7709,
        "partitions": SAMPLE_MONTHS,
    }
    assert result["months"] == SAMPLE_MONTHS
    assert result["quarantine"] == []
    assert json.loads((tmp / "result.json").read_text()) == result
    assert sorted(p.name for p in (tmp / "curated").iterdir()) == ["cards_invoices", "cards_payments"]

    invoices = spark.read.parquet((tmp / "curated" / "cards_invoices").as_uri())
    assert [(f.name, f.dataType.simpleString()) for f in invoices.schema.fields] == [
        ("id_cliente", "bigint"),
        ("id_fatura", "bigint"),
        ("dt_emissao_fatura", "date"),
        ("dt_vencimento_fatura", "date"),
        ("valor_fatura", "decimal(18,2)"),
        ("valor_pagamento_minimo", "decimal(18,2)"),
        ("minimo_estimado", "boolean"),
        ("source_file", "string"),
        ("source_line", "int"),
        ("issue_month", "string"),
    ]
    payments = spark.read.parquet((tmp / "curated" / "cards_payments").as_uri())
    assert [(f.name, f.dataType.simpleString()) for f in payments.schema.fields] == [
        ("id_pagamento", "bigint"),
        ("id_fatura", "bigint"),
        ("id_cliente", "bigint"),
        ("dt_pagamento", "date"),
        ("valor_pagamento", "decimal(18,2)"),
        ("source_file", "string"),
        ("source_line", "int"),
        ("payment_month", "string"),
    ]
    assert invoices.filter("not minimo_estimado").count() == 0
    # Line 26 of the file: 2,25,2024-09-01,2024-09-06,1882.13 -> minimum 0.15 x 1882.13 = 282.3195 -> 282.32
    row = invoices.filter("id_fatura = 25").collect()[0]
    assert (row.id_cliente, str(row.dt_emissao_fatura), row.valor_fatura) == (2, "2024-09-01", Decimal("1882.13"))
    assert (row.valor_pagamento_minimo, row.source_line, row.issue_month) == (Decimal("282.32"), 26, "2024-09")
    assert row.source_file.endswith("tb_faturas_202409.csv")
    assert invoices.filter("issue_month = '2024-09'").count() == 502


def test_rerun_leaves_the_same_rows_and_a_new_month_only_touches_its_partitions(
    spark: Any, sample: tuple[Path, dict[str, Any], list[str]], tmp_path: Path
) -> None:
    source, first, files = sample
    shutil.copytree(source / "curated", tmp_path / "curated")
    before_invoices, before_payments = rows(spark, tmp_path, "cards_invoices"), rows(spark, tmp_path, "cards_payments")

    again = job.run(spark, args(tmp_path, files[:1], files[1:], run_id="r2"))
    assert {k: again[k] for k in ("invoices", "payments", "months")} == {
        k: first[k] for k in ("invoices", "payments", "months")
    }
    assert rows(spark, tmp_path, "cards_invoices") == before_invoices
    assert rows(spark, tmp_path, "cards_payments") == before_payments

    # October: two new invoices, a correction of invoice 25 (issued 2024-09) and a payment of a new invoice.
    untouched_invoices, untouched_payments = (
        part_files(tmp_path, "cards_invoices"),
        part_files(tmp_path, "cards_payments"),
    )
    invoices = write(
        tmp_path / "tb_faturas_202410.csv",
        f"{INVOICE_HEADER}\n1,20001,2024-10-01,2024-10-06,100.00\n2,20002,2024-10-01,2024-10-06,200.00\n"
        "2,25,2024-09-01,2024-09-06,1900.00\n",
    )
    payments = write(tmp_path / "tb_pagamentos_202410.csv", f"{PAYMENT_HEADER}\n9001,20001,1,2024-10-03,100.00\n")
    result = job.run(spark, args(tmp_path, [invoices], [payments], run_id="r3"))
    assert result["invoices"]["partitions"] == ["2024-09", "2024-10"]
    assert result["payments"]["partitions"] == ["2024-10"]
    assert result["months"] == ["2024-09", "2024-10"]

    after = part_files(tmp_path, "cards_invoices")
    for name, mtime in untouched_invoices.items():
        if not name.startswith("issue_month=2024-09/"):
            assert after[name] == mtime, name
    after_payments = part_files(tmp_path, "cards_payments")
    assert all(after_payments[name] == mtime for name, mtime in untouched_payments.items())

    current = rows(spark, tmp_path, "cards_invoices")
    assert len(current) == 15553 + 2
    in_september = [r for r in current if r["issue_month"] == "2024-09"]
    assert len(in_september) == 502
    corrected = [r for r in current if r["id_fatura"] == 25]
    assert [(r["valor_fatura"], r["source_line"]) for r in corrected] == [(Decimal("1900.00"), 4)]
    assert corrected[0]["source_file"].endswith("tb_faturas_202410.csv")
    assert len(rows(spark, tmp_path, "cards_payments")) == 7709 + 1


INVOICES_OLD = f"""{INVOICE_HEADER}
1,10,2024-01-01,2024-01-06,100.00
1,11,2024-01-01,2024-01-06,200.00
"""
# The newer file: BOM, CRLF, and one row of every kind (line numbers in the comments of the test).
INVOICES_NEW = "\ufeff" + "\r\n".join(
    [
        INVOICE_HEADER,
        "1,10,2024-01-01,2024-01-10,150.00",  # 2 valid; replaces line 2 of the older file
        "2,12,2024-02-30,2024-03-06,10.00",  # 3 impossible date
        "2,13,2024-02-01,2024-02-06,-5.00",  # 4 negative
        "2,14,2024-02-01,2024-02-06,5.123",  # 5 three decimals
        "2,15,2024-02-01,2024-02-06",  # 6 four fields
        "2,16,2024-02-10,2024-02-06,5.00",  # 7 due before issue
        '"2",17,2024-02-01,2024-02-06,5.00',  # 8 quotes
        "0,18,2024-02-01,2024-02-06,5.00",  # 9 id not positive
        "2,19,2024-02-01,2024-02-06,50.00",  # 10 valid
        "2,19,2024-02-01,2024-02-06,55.00",  # 11 valid; same id, same file: the last line wins
        "",
        "",
    ]
)
PAYMENTS = "\n".join(
    [
        PAYMENT_HEADER,
        "1,10,1,2024-01-08,150.00",  # 2 valid
        "2,99,1,2024-01-08,1.00",  # 3 unknown invoice
        "3,19,1,2024-02-05,55.00",  # 4 invoice 19 belongs to client 2
        "4,12,2,2024-02-05,1.00",  # 5 invoice 12 was quarantined: unknown
        "5,11,1,2024-01-05,200.00",  # 6 valid
        "5,11,1,2024-01-05,199.00",  # 7 valid; duplicate id 5, last line wins
        "6,11,1,2024-1-05,1.00",  # 8 not ISO
    ]
)


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[str]]:
    raw = tmp_path_factory.mktemp("raw")
    old = write(raw / "tb_faturas_202401.csv", INVOICES_OLD)
    new = write(raw / "tb_faturas_202402.csv", INVOICES_NEW)
    return [old, new], [write(raw / "tb_pagamentos_202402.csv", PAYMENTS)]


@pytest.fixture(scope="module")
def small(
    spark: Any, small_files: tuple[list[str], list[str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str], dict[str, Any]]:
    """The small files curated once into a fresh root: (folder, arguments, result)."""
    tmp = tmp_path_factory.mktemp("small")
    arguments = args(tmp, *small_files)
    return tmp, arguments, job.run(spark, arguments)


def test_every_bad_row_kind_is_quarantined_with_its_line(
    spark: Any, small: tuple[Path, dict[str, str], dict[str, Any]]
) -> None:
    tmp, arguments, result = small
    # invoices: 2 + 10 data rows (the empty lines are not rows) = 3 written + 7 quarantined + 2 duplicates
    assert result["invoices"] == {
        "rows_in": 12,
        "valid": 5,
        "quarantined": 7,
        "duplicates": 2,
        "written": 3,
        "partitions": ["2024-01", "2024-02"],
    }
    # payments: 7 rows = 2 written + 4 quarantined + 1 duplicate
    assert result["payments"] == {
        "rows_in": 7,
        "valid": 3,
        "quarantined": 4,
        "duplicates": 1,
        "written": 2,
        "partitions": ["2024-01"],
    }
    assert result["months"] == ["2024-01", "2024-02"]
    new, payments = arguments["invoice_files"].split(",")[1], arguments["payment_files"]
    q = arguments["quarantine_root"]
    assert result["quarantine"] == [q + "invoices.jsonl", q + "payments.jsonl"]

    assert [(r["source_file"], r["source_line"], r["reason"]) for r in quarantine(tmp, "invoices")] == [
        (new, 3, "dt_emissao_fatura is not a valid yyyy-mm-dd date: '2024-02-30'"),
        (new, 4, "valor_fatura is negative: '-5.00'"),
        (new, 5, "valor_fatura is not a decimal number with at most 2 places: '5.123'"),
        (new, 6, "expected 5 fields, found 4"),
        (new, 7, "dt_vencimento_fatura 2024-02-06 is before dt_emissao_fatura 2024-02-10"),
        (new, 8, "quotes are not allowed"),
        (new, 9, "id_cliente is not a positive integer: '0'"),
    ]
    assert quarantine(tmp, "invoices")[3]["raw"] == "2,15,2024-02-01,2024-02-06"
    assert [(r["source_file"], r["source_line"], r["reason"]) for r in quarantine(tmp, "payments")] == [
        (payments, 3, "unknown invoice 99"),
        (payments, 4, "id_cliente 1 differs from invoice 19 client 2"),
        (payments, 5, "unknown invoice 12"),
        (payments, 8, "dt_pagamento is not a valid yyyy-mm-dd date: '2024-1-05'"),
    ]

    invoices = {r["id_fatura"]: r for r in rows(spark, tmp, "cards_invoices")}
    assert sorted(invoices) == [10, 11, 19]
    assert (invoices[10]["valor_fatura"], invoices[10]["source_file"], invoices[10]["source_line"]) == (
        Decimal("150.00"),
        new,
        2,
    )
    assert str(invoices[10]["dt_vencimento_fatura"]) == "2024-01-10"
    assert (invoices[19]["valor_fatura"], invoices[19]["source_line"]) == (Decimal("55.00"), 11)
    # estimated minimum: 0.15 x 55.00 = 8.25
    assert (invoices[19]["valor_pagamento_minimo"], invoices[19]["minimo_estimado"]) == (Decimal("8.25"), True)
    paid = {r["id_pagamento"]: r for r in rows(spark, tmp, "cards_payments")}
    assert sorted(paid) == [1, 5]
    assert (paid[5]["valor_pagamento"], paid[5]["source_line"], paid[5]["payment_month"]) == (
        Decimal("199.00"),
        7,
        "2024-01",
    )

    # A rerun writes the same curated rows and the same quarantine; nothing is left in the temp prefix.
    first_quarantine = quarantine(tmp, "invoices") + quarantine(tmp, "payments")
    before = rows(spark, tmp, "cards_invoices"), rows(spark, tmp, "cards_payments")
    assert job.run(spark, arguments) == result
    assert (rows(spark, tmp, "cards_invoices"), rows(spark, tmp, "cards_payments")) == before
    assert quarantine(tmp, "invoices") + quarantine(tmp, "payments") == first_quarantine
    assert sorted(p.name for p in (tmp / "curated").iterdir()) == ["cards_invoices", "cards_payments"]


def test_minimum_payment_column_is_used(spark: Any, tmp_path: Path) -> None:
    with_minimum = write(
        tmp_path / "tb_faturas_202405.csv",
        f"{INVOICE_HEADER},valor_pagamento_minimo\n7,70,2024-05-01,2024-05-06,1000.00,50.00\n"
        "7,71,2024-05-01,2024-05-06,1000.00,5.123\n",
    )
    without = write(tmp_path / "tb_faturas_202406.csv", f"{INVOICE_HEADER}\n7,72,2024-06-01,2024-06-06,10.30\n")
    result = job.run(spark, args(tmp_path, [with_minimum, without], []))
    assert (result["invoices"]["written"], result["invoices"]["quarantined"]) == (2, 1)
    assert quarantine(tmp_path, "invoices")[0]["reason"] == (
        "valor_pagamento_minimo is not a decimal number with at most 2 places: '5.123'"
    )
    got = {
        r["id_fatura"]: (r["valor_pagamento_minimo"], r["minimo_estimado"])
        for r in rows(spark, tmp_path, "cards_invoices")
    }
    # 0.15 x 10.30 = 1.545 -> 1.55 (HALF_UP; HALF_EVEN would give 1.54)
    assert got == {70: (Decimal("50.00"), False), 72: (Decimal("1.55"), True)}


def test_header_mismatch_rejects_the_file_before_writing(spark: Any, tmp_path: Path) -> None:
    good = write(tmp_path / "tb_faturas_202401.csv", INVOICES_OLD)
    bad = write(
        tmp_path / "tb_pagamentos_202401.csv", "id_pagamento;id_fatura;id_cliente;dt_pagamento;valor\n1;1;1;x;1\n"
    )
    with pytest.raises(job.HeaderMismatch) as raised:
        job.run(spark, args(tmp_path, [good], [bad]))
    message = str(raised.value)
    assert "tb_pagamentos_202401.csv" in message
    assert PAYMENT_HEADER in message and "id_pagamento;id_fatura" in message
    assert not (tmp_path / "curated").exists() and not (tmp_path / "quarantine").exists()

    extra = write(tmp_path / "tb_faturas_202402.csv", f"{INVOICE_HEADER},valor_pagamento_minimo,x\n")
    with pytest.raises(job.HeaderMismatch, match=r"tb_faturas_202402\.csv"):
        job.run(spark, args(tmp_path, [good, extra], []))
    assert not (tmp_path / "curated").exists()


HEADER_CASES = [
    ("utf_8", b"\xef\xbb\xbf" + INVOICE_HEADER.encode() + b"\r\n1,2,x\n"),  # BOM, CRLF
    ("utf_8", ("id_cliente,dt_emissão" * 40).encode() + b"\n1\n"),  # a first line longer than many chunks
    ("utf_8", b"id_cliente,\xe9,valor\n1\n"),  # not valid UTF-8: replaced, as when decoding the whole file
    ("cp1252", "id_cliente,emissão,valor\n1\n".encode("cp1252")),
    ("utf_16", (INVOICE_HEADER + "\r\n1,2\r\n").encode("utf_16")),  # BOM + 2-byte units split across chunks
    ("utf_16", (INVOICE_HEADER + "\n1").encode("utf_16") + b"\x00"),  # an odd trailing byte
    ("utf_8", INVOICE_HEADER.encode()),  # no newline at all
    ("utf_8", b"\n1,2\n"),  # an empty first line
    ("utf_8", b""),  # an empty file
]


@pytest.mark.parametrize("chunk", [3, 65536])
def test_header_is_read_on_the_driver_as_decoding_the_whole_file(spark: Any, tmp_path: Path, chunk: int) -> None:
    """The header read in chunks, without a Spark job, is the first line of the whole file decoded "replace"."""
    tracker = spark.sparkContext.statusTracker()
    spark.sparkContext.setJobGroup("cards-header-test", "headers")
    try:
        for number, (encoding, data) in enumerate(HEADER_CASES):
            path = tmp_path / f"tb_faturas_{number}.csv"
            path.write_bytes(data)
            whole = data.decode(encoding, "replace").split("\n", 1)[0] if data else None
            assert job.glue_io.first_line(spark, path.as_uri(), encoding, chunk) == whole, (encoding, data[:40])
            expected = None if whole is None else whole.rstrip("\r").lstrip("\ufeff")
            assert job._first_line(spark, path.as_uri(), encoding) == expected
        assert tracker.getJobIdsForGroup("cards-header-test") == []
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)


def test_raw_files_are_read_in_few_tasks_and_a_file_named_twice_counts_twice(spark: Any, tmp_path: Path) -> None:
    """One binaryFiles for all the files: about one partition per core, not one per file; each position numbered."""
    uris = [
        write(
            tmp_path / f"tb_faturas_2024{m:02d}.csv",
            f"{INVOICE_HEADER}\n{m},{m}0,2024-{m:02d}-01,2024-{m:02d}-10,1\n\n",
        )
        for m in range(1, 9)
    ]
    named = [*uris, uris[0]]  # the oldest file again, newest position
    layouts = [job.header_layout(uri, job._first_line(spark, uri), job.INVOICE_HEADER, job.MINIMUM) for uri in named]
    lines = job._read_lines(spark, named, layouts)
    assert lines.rdd.getNumPartitions() <= spark.sparkContext.defaultParallelism
    got = sorted((r["file_index"], r["source_file"], r["source_line"], r["raw"]) for r in lines.collect())
    expected = [
        (i, uri, 2, f"{m},{m}0,2024-{m:02d}-01,2024-{m:02d}-10,1")
        for i, (uri, m) in enumerate(zip(uris, range(1, 9), strict=True))
    ]
    assert got == [*expected, (8, uris[0], 2, "1,10,2024-01-01,2024-01-10,1")]


def test_reconciliation_error_stops_before_curated(
    spark: Any, small_files: tuple[list[str], list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp, arguments = tmp_path, args(tmp_path, *small_files)
    monkeypatch.setattr(job, "dedupe", lambda valid, key: valid.limit(1))  # loses rows on purpose
    with pytest.raises(job.ReconciliationError, match=r"invoices: 12 raw rows != 1 written \+ 7 quarantined \+ 2"):
        job.run(spark, arguments)
    assert not (tmp / "curated" / "cards_invoices").exists()
    assert not (tmp / "quarantine").exists()


def test_payments_only_run_uses_curated_invoices_and_moves_ids(
    spark: Any, small: tuple[Path, dict[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    tmp = tmp_path
    shutil.copytree(small[0] / "curated", tmp / "curated")
    shutil.copytree(small[0] / "quarantine", tmp / "quarantine")  # holds invoices/ and payments/
    arguments = args(tmp, [], [])
    # A later payments-only file: payment 20 of invoice 19 (curated by the first run), an unknown invoice, and
    # payments 1 and 5 (the only rows of payment_month=2024-01) dated again in February.
    later = write(
        tmp / "tb_pagamentos_202403.csv",
        f"{PAYMENT_HEADER}\n20,19,2,2024-03-01,55.00\n21,77,2,2024-03-01,1\n"
        "1,10,1,2024-02-08,150.00\n5,11,1,2024-02-05,199.00\n",
    )
    result = job.run(spark, {**arguments, "invoice_files": "", "payment_files": later})
    assert result["invoices"] == {
        "rows_in": 0,
        "valid": 0,
        "quarantined": 0,
        "duplicates": 0,
        "written": 0,
        "partitions": [],
    }
    assert (result["payments"]["written"], result["payments"]["quarantined"]) == (3, 1)
    assert result["payments"]["partitions"] == ["2024-01", "2024-02", "2024-03"]
    assert [r["reason"] for r in quarantine(tmp, "payments")] == ["unknown invoice 77"]
    assert result["quarantine"] == [arguments["quarantine_root"] + "payments.jsonl"]
    assert not (tmp / "quarantine" / "cards" / "202409" / "invoices").exists()  # replaced: nothing bad this time
    assert not (tmp / "curated" / "cards_payments" / "payment_month=2024-01").exists()
    found = {
        r["id_pagamento"]: (str(r["dt_pagamento"]), r["payment_month"]) for r in rows(spark, tmp, "cards_payments")
    }
    assert found == {1: ("2024-02-08", "2024-02"), 5: ("2024-02-05", "2024-02"), 20: ("2024-03-01", "2024-03")}


# --------------------------------------------------------------------------- real-world deliveries

REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "realworld" / "cards"
LATER_INVOICES = REALWORLD / "tb_faturas_20241201_20241202000000.csv"
LATER_PAYMENTS = REALWORLD / "tb_pagamentos_20241201_20241202000000.csv"


def test_later_delivery_renames_are_mapped_and_prefixed_ids_quarantined(spark: Any, tmp_path: Path) -> None:
    """The later deliveries rename columns (data_emissao ...), reorder them and prefix ids (FAT-101): the renames
    are mapped by name, and the prefixed ids, which the contract does not have, are quarantined with the reason."""
    files = [LATER_INVOICES.as_uri(), LATER_PAYMENTS.as_uri()]
    result = job.run(spark, args(tmp_path, files[:1], files[1:]))
    assert result["renamed_columns"] == [
        "data_emissao->dt_emissao_fatura",
        "data_pagamento->dt_pagamento",
        "data_vencimento->dt_vencimento_fatura",
    ]
    assert {k: result["invoices"][k] for k in ("rows_in", "written", "quarantined", "duplicates")} == {
        "rows_in": 4,
        "written": 0,
        "quarantined": 4,
        "duplicates": 0,
    }
    assert (result["payments"]["rows_in"], result["payments"]["quarantined"]) == (3, 3)
    reasons = [(r["source_line"], r["reason"], r["raw"]) for r in quarantine(tmp_path, "invoices")]
    assert reasons[0] == (
        2,
        "id_fatura is not a positive integer: 'FAT-101'",
        "FAT-101,1,2024-10-01,2024-10-06,1671.07,250.66",
    )
    assert next(r["reason"] for r in quarantine(tmp_path, "payments")) == (
        "id_pagamento is not a positive integer: 'PAG-2024-1'"
    )


def test_renamed_and_reordered_columns_load_the_right_values(spark: Any, tmp_path: Path) -> None:
    # The same later delivery with the contract's integer ids: only the header drift is left.
    invoices = write(tmp_path / LATER_INVOICES.name, LATER_INVOICES.read_text().replace("FAT-", ""))
    payments = write(
        tmp_path / LATER_PAYMENTS.name,
        LATER_PAYMENTS.read_text().replace("PAG-2024-", "").replace("FAT-", ""),
    )
    # ... and one line of the invoices in windows-1252 where the file is UTF-8: quarantined, not mojibake
    with open(tmp_path / LATER_INVOICES.name, "ab") as handle:
        handle.write("300,3,2024-12-01,2024-12-06,10.00,1.50 (ref. São)\n".encode("cp1252"))
    result = job.run(spark, {**args(tmp_path, [invoices], [payments]), "invoice_encodings": "utf_8"})
    # invoices: 5 in = 4 curated + 1 quarantined; payments: 3 in = 3 curated
    assert (result["invoices"]["rows_in"], result["invoices"]["written"], result["invoices"]["quarantined"]) == (
        5,
        4,
        1,
    )
    assert (result["payments"]["written"], result["payments"]["quarantined"]) == (3, 0)
    [bad] = quarantine(tmp_path, "invoices")
    assert (bad["source_line"], bad["reason"]) == (6, "not valid utf_8 text: byte 0xe3 at column 47")
    invoice = {r["id_fatura"]: r for r in rows(spark, tmp_path, "cards_invoices")}[101]
    assert (invoice["id_cliente"], str(invoice["dt_emissao_fatura"]), str(invoice["dt_vencimento_fatura"])) == (
        1,
        "2024-10-01",
        "2024-10-06",
    )
    assert (invoice["valor_fatura"], invoice["valor_pagamento_minimo"], invoice["minimo_estimado"]) == (
        Decimal("1671.07"),
        Decimal("250.66"),
        False,
    )
    paid = {r["id_pagamento"]: r for r in rows(spark, tmp_path, "cards_payments")}
    assert (paid[2]["id_fatura"], str(paid[2]["dt_pagamento"]), paid[2]["valor_pagamento"]) == (
        102,
        "2024-11-09",
        Decimal("567.60"),
    )


def test_unknown_header_drift_is_rejected_naming_expected_and_found(spark: Any, tmp_path: Path) -> None:
    drifted = write(tmp_path / "tb_faturas_202412.csv", "id_fatura,cliente,data_emissao,vencimento,valor\n1,1,x,y,z\n")
    with pytest.raises(job.HeaderMismatch) as raised:
        job.run(spark, args(tmp_path, [drifted], []))
    message = str(raised.value)
    assert (
        "expected 'id_cliente,id_fatura,dt_emissao_fatura,dt_vencimento_fatura,valor_fatura[,valor_pagamento_minimo]'"
        in (message)
    )
    assert "found 'id_fatura,cliente,data_emissao,vencimento,valor'" in message
    assert "data_emissao->dt_emissao_fatura" in message


def test_write_partitioned_sorts_each_partition_file_by_sort_by(spark: Any, tmp_path: Path) -> None:
    """Spark's planned write re-sorts rows by the partition column; the requested order must survive it."""
    import glue_io

    rows = [(f"2024-0{1 + i % 3}", (i * 7919) % 1000) for i in range(300)]
    frame = spark.createDataFrame(rows, "ref string, id_cliente int")
    glue_io.write_partitioned(frame, str(tmp_path / "t"), "ref", sort_by="id_cliente")
    for folder in sorted((tmp_path / "t").glob("ref=*")):
        [file] = folder.glob("*.parquet")
        ids = pq.read_table(file).column("id_cliente").to_pylist()
        assert ids == sorted(ids) and len(ids) == 100, folder.name
