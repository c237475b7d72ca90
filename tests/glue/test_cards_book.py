"""glue/cards_book.py on a local SparkSession: the contract's worked example, values by hand, an independent
pandas implementation on every client of the real sample, and edge cases on a small hand-made data set."""

from __future__ import annotations

import calendar
import json
import math
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from finlake.local.glue import local_spark
from glue import cards_book as job
from glue import cards_curate

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "cards"
INVOICES_SAMPLE = FIXTURES / "tb_fatura_20240901_20240902000000.csv"
PAYMENTS_SAMPLE = FIXTURES / "tb_pagamentos_20240901_20240902000000.csv"
REFS = ("2023-06", "2024-01", "2024-09")
REL, ABS = 1e-6, 0.01


@pytest.fixture(scope="module")
def spark() -> Any:
    return local_spark()


@pytest.fixture(scope="module")
def sample_book(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], pd.DataFrame]:
    """The real sample curated by cards_curate, then the book job for REFS; the refined table as pandas."""
    tmp = tmp_path_factory.mktemp("book")
    shutil.copyfile(INVOICES_SAMPLE, tmp / "tb_faturas_202409.csv")
    shutil.copyfile(PAYMENTS_SAMPLE, tmp / "tb_pagamentos_202409.csv")
    curated = (tmp / "curated").as_uri() + "/"
    cards_curate.run(
        spark,
        {
            "run_id": "c1",
            "invoice_files": (tmp / "tb_faturas_202409.csv").as_uri(),
            "payment_files": (tmp / "tb_pagamentos_202409.csv").as_uri(),
            "curated_root": curated,
            "quarantine_root": (tmp / "quarantine").as_uri() + "/",
            "result_path": "",
        },
    )
    args = {
        "run_id": "b1",
        "refs": ",".join(REFS),
        "curated_root": curated,
        "refined_root": (tmp / "refined").as_uri() + "/",
        "result_path": (tmp / "book.json").as_uri(),
    }
    result = job.run(spark, args)
    table = spark.read.parquet((tmp / "refined" / "cards_book").as_uri())
    schema = [(f.name, f.dataType.simpleString()) for f in table.schema.fields]
    frame = table.toPandas()
    frame.attrs["schema"] = schema
    return tmp, result, frame


def client_row(frame: pd.DataFrame, ref: str, client: int) -> dict[str, Any]:
    found = frame[(frame["ref"] == ref) & (frame["id_cliente"] == client)]
    assert len(found) == 1
    return found.iloc[0].to_dict()


def assert_values(row: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        got = row[name]
        if value is None:
            assert got is None or (isinstance(got, float) and math.isnan(got)), name
        elif isinstance(value, float):
            assert got == pytest.approx(value, rel=REL, abs=1e-9), name
        else:
            assert got == value, name


def window(n: int, values: list[Any], more: list[Any] | None = None) -> dict[str, Any]:
    """The expected variables of window uNm, in the contract's order."""
    return {f"{name}_u{n}m": value for name, value in zip(job.VARIABLES, values + (more or []), strict=True)}


# ------------------------------------------------------------------------------ the real sample, by hand


def test_job_result_and_schema(sample_book: tuple[Path, dict[str, Any], pd.DataFrame]) -> None:
    tmp, result, frame = sample_book
    # 1,000 clients, each with an invoice in every 12-month window ending in REFS (checked by pandas below too)
    assert result == {"run_id": "b1", "refs": list(REFS), "rows": dict.fromkeys(REFS, 1000)}
    assert json.loads((tmp / "book.json").read_text()) == result
    assert sorted(p.name for p in (tmp / "refined" / "cards_book").iterdir() if p.is_dir()) == [
        f"ref={r}" for r in REFS
    ]
    schema = frame.attrs["schema"]
    assert schema[0] == ("id_cliente", "bigint") and schema[-1] == ("ref", "string")
    assert [name for name, _ in schema[1:-1]] == [f"{v}_u{n}m" for n in (1, 3, 6, 12) for v in job.VARIABLES]
    kinds = {
        "qtd_faturas": "int",
        "vl_fatura_total": "decimal(18,2)",
        "vl_fatura_medio": "double",
        "vl_fatura_max": "decimal(18,2)",
        "vl_pago_total": "decimal(18,2)",
        "pct_valor_pago": "double",
        "qtd_faturas_vencidas": "int",
        "pct_faturas_em_dia": "double",
        "pct_faturas_abaixo_minimo": "double",
        "qtd_faturas_em_atraso": "int",
        "dias_atraso_medio": "double",
        "dias_atraso_max": "int",
    }
    assert all(kind == kinds[name.rsplit("_u", 1)[0]] for name, kind in schema[1:-1])


def test_contract_worked_example(sample_book: tuple[Path, dict[str, Any], pd.DataFrame]) -> None:
    # Client 2, invoice 25: issued 2024-09-01, due 2024-09-06, 1,882.13 (estimated minimum 282.32);
    # payment 9 of 1,882.13 on 2024-09-20 -> paid in full 14 days late, nothing by the due date.
    row = client_row(sample_book[2], "2024-09", 2)
    assert_values(
        row,
        window(
            1,
            [1, Decimal("1882.13"), 1882.13, Decimal("1882.13"), Decimal("1882.13"), 100.0, 1, 0.0, 100.0, 1, 14.0, 14],
        ),
    )


def test_by_hand_client_2_in_2024_09(sample_book: tuple[Path, dict[str, Any], pd.DataFrame]) -> None:
    # as_of 2024-09-30. Client 2's invoices issued 2023-10..2024-09 (u12m):
    #   21 2023-10-01 due 2023-10-06   2,170.08  no payment     late 2024-09-30 - 2023-10-06 = 360 days
    #   22 2023-11-01 due 2023-11-06   3,346.01  no payment     late 2024-09-30 - 2023-11-06 = 329 days
    #   23 2024-04-01 due 2024-04-06   4,964.46  no payment     late 24+31+30+31+31+30 = 177 days
    #   24 2024-07-01 due 2024-07-06     550.87  paid 2024-07-16 in full: 10 days late
    #   25 2024-09-01 due 2024-09-06   1,882.13  paid 2024-09-20 in full: 14 days late
    # Nothing was paid by a due date: every invoice is below its minimum; none on time.
    row = client_row(sample_book[2], "2024-09", 2)
    # u3m (2024-07..09): 24, 25: total 2,433.00, all paid -> 100 %; late mean (10+14)/2 = 12
    assert_values(
        row,
        window(
            3,
            [2, Decimal("2433.00"), 1216.5, Decimal("1882.13"), Decimal("2433.00"), 100.0, 2, 0.0, 100.0, 2, 12.0, 14],
        ),
    )
    # u6m (2024-04..09): 23, 24, 25: total 7,397.46, paid 2,433.00 -> 32.8899... %; late (177+10+14)/3 = 67
    assert_values(
        row,
        window(
            6,
            [3, Decimal("7397.46"), 7397.46 / 3, Decimal("4964.46"), Decimal("2433.00"), 100 * 2433.00 / 7397.46],
            [3, 0.0, 100.0, 3, 67.0, 177],
        ),
    )
    # u12m: + 21, 22: total 12,913.55, paid 2,433.00; late (360+329+177+10+14)/5 = 178
    assert_values(
        row,
        window(
            12,
            [5, Decimal("12913.55"), 12913.55 / 5, Decimal("4964.46"), Decimal("2433.00"), 100 * 2433.00 / 12913.55],
            [5, 0.0, 100.0, 5, 178.0, 360],
        ),
    )


def test_by_hand_client_1_in_2023_06_and_2024_01(sample_book: tuple[Path, dict[str, Any], pd.DataFrame]) -> None:
    # R = 2023-06, as_of 2023-06-30. Client 1's invoices 1..6 (issued 2023-01..06, due on the 6th):
    #   1  1,671.07  no payment            late 2023-06-30 - 2023-01-06 = 175, below minimum
    #   2  3,784.01  paid 2023-02-11        late 5, below minimum (nothing by the due date)
    #   3  3,265.83  paid 2023-03-05        on time, late 0, not below minimum
    #   4  2,443.49  no payment            late 2023-06-30 - 2023-04-06 = 85, below minimum
    #   5  2,804.65  paid 2023-05-15        late 9, below minimum
    #   6  2,525.89  paid 2023-06-20        late 14, below minimum
    row = client_row(sample_book[2], "2023-06", 1)
    assert_values(
        row,
        window(
            1,
            [1, Decimal("2525.89"), 2525.89, Decimal("2525.89"), Decimal("2525.89"), 100.0, 1, 0.0, 100.0, 1, 14.0, 14],
        ),
    )
    # u3m: 4, 5, 6: total 7,774.03, paid 5,330.54; late (85+9+14)/3 = 36
    assert_values(
        row,
        window(
            3,
            [3, Decimal("7774.03"), 7774.03 / 3, Decimal("2804.65"), Decimal("5330.54"), 100 * 5330.54 / 7774.03],
            [3, 0.0, 100.0, 3, 36.0, 85],
        ),
    )
    # u6m = u12m (no invoice before 2023-01): total 16,494.94, paid 12,380.38; on time 1/6; below minimum 5/6;
    # late in 5 of 6, mean (175+5+0+85+9+14)/6 = 48
    six = [6, Decimal("16494.94"), 16494.94 / 6, Decimal("3784.01"), Decimal("12380.38"), 100 * 12380.38 / 16494.94]
    six += [6, 100 / 6, 500 / 6, 5, 48.0, 175]
    assert_values(row, window(6, six) | window(12, six))

    # R = 2024-01, as_of 2024-01-31. u1m = u3m (2023-11..2024-01): invoice 11, 3,836.72, due 2024-01-06, unpaid:
    # late 25, below minimum. u6m (2023-08..2024-01): + 8 (1,544.80, unpaid, late 2024-01-31 - 2023-08-06 = 178),
    # 9 (4,912.10, unpaid, late 147), 10 (4,983.78, paid 2023-10-11, late 5).
    row = client_row(sample_book[2], "2024-01", 1)
    one = [1, Decimal("3836.72"), 3836.72, Decimal("3836.72"), Decimal("0.00"), 0.0, 1, 0.0, 100.0, 1, 25.0, 25]
    assert_values(row, window(1, one) | window(3, one))
    assert_values(
        row,
        window(
            6,
            [4, Decimal("15277.40"), 15277.40 / 4, Decimal("4983.78"), Decimal("4983.78"), 100 * 4983.78 / 15277.40],
            [4, 0.0, 100.0, 4, (178 + 147 + 5 + 25) / 4, 178],
        ),
    )


def test_by_hand_empty_windows_client_3_in_2024_01(sample_book: tuple[Path, dict[str, Any], pd.DataFrame]) -> None:
    # Client 3 has no invoice issued 2023-11..2024-01: u1m and u3m are empty (counts and totals 0, the rest null).
    # u6m (2023-08..2024-01): 33 (4,369.84), 34 (1,596.95), 35 (74.85), due 2023-08-06 / 09-06 / 10-06, all unpaid:
    # late 178, 147, 117 (2024-01-31 - 2023-10-06) -> mean 442/3.
    row = client_row(sample_book[2], "2024-01", 3)
    empty = [0, Decimal("0.00"), None, None, Decimal("0.00"), None, 0, None, None, 0, None, None]
    assert_values(row, window(1, empty) | window(3, empty))
    assert_values(
        row,
        window(
            6,
            [3, Decimal("6041.64"), 6041.64 / 3, Decimal("4369.84"), Decimal("0.00"), 0.0, 3, 0.0, 100.0, 3],
            [442 / 3, 178],
        ),
    )


# ------------------------------------------------------------------------- an independent implementation


def cents(text: str) -> int:
    units, _, fraction = text.partition(".")
    return int(units) * 100 + int((fraction + "00")[:2])


def pandas_book(invoices: pd.DataFrame, payments: pd.DataFrame, ref: str) -> pd.DataFrame:
    """The contract, written again with pandas and integer cents, from the raw CSV text."""
    year, month = int(ref[:4]), int(ref[5:])
    as_of = pd.Timestamp(date(year, month, calendar.monthrange(year, month)[1]))
    inv = invoices.copy()
    inv["age"] = year * 12 + month - (inv["issue"].dt.year * 12 + inv["issue"].dt.month)
    inv = inv[(inv["age"] >= 0) & (inv["age"] <= 11)]
    pay = payments[(payments["paid_on"] <= as_of) & payments["id_fatura"].isin(inv["id_fatura"])]
    pay = pay.merge(inv[["id_fatura", "value", "due"]], on="id_fatura").sort_values(
        ["id_fatura", "paid_on", "id_pagamento"]
    )
    pay["running"] = pay.groupby("id_fatura")["amount"].cumsum()
    quitacao = pay[pay["running"] >= pay["value"] - 1].groupby("id_fatura")["paid_on"].min()
    pago = pay.groupby("id_fatura")["amount"].sum()
    by_due = pay[pay["paid_on"] <= pay["due"]].groupby("id_fatura")["amount"].sum()
    inv = inv.set_index("id_fatura")
    inv["pago"] = pago.reindex(inv.index).fillna(0).astype("int64")
    inv["by_due"] = by_due.reindex(inv.index).fillna(0).astype("int64")
    inv["quitacao"] = quitacao.reindex(inv.index)
    inv["vencida"] = inv["due"] <= as_of
    inv["em_dia"] = inv["quitacao"].notna() & (inv["quitacao"] <= inv["due"])
    end = inv["quitacao"].fillna(as_of)
    inv["atraso"] = (end - inv["due"]).dt.days.clip(lower=0)
    inv["abaixo"] = inv["by_due"] < inv["minimum"]

    out = pd.DataFrame(index=sorted(inv["id_cliente"].unique()))
    for n in (1, 3, 6, 12):
        w = inv[inv["age"] <= n - 1]
        due = w[w["vencida"]]
        g, gd = w.groupby("id_cliente"), due.groupby("id_cliente")
        count = g.size().reindex(out.index).fillna(0)
        total = g["value"].sum().reindex(out.index).fillna(0) / 100
        paid = g["pago"].sum().reindex(out.index).fillna(0) / 100
        vencidas = gd.size().reindex(out.index).fillna(0)
        s = f"_u{n}m"
        out["qtd_faturas" + s] = count
        out["vl_fatura_total" + s] = total
        out["vl_fatura_medio" + s] = (total / count).where(count > 0)
        out["vl_fatura_max" + s] = g["value"].max().reindex(out.index) / 100
        out["vl_pago_total" + s] = paid
        out["pct_valor_pago" + s] = (100 * paid / total).where(total != 0)
        out["qtd_faturas_vencidas" + s] = vencidas
        on_time = gd["em_dia"].sum().reindex(out.index).fillna(0)
        below = gd["abaixo"].sum().reindex(out.index).fillna(0)
        out["pct_faturas_em_dia" + s] = (100 * on_time / vencidas).where(vencidas > 0)
        out["pct_faturas_abaixo_minimo" + s] = (100 * below / vencidas).where(vencidas > 0)
        out["qtd_faturas_em_atraso" + s] = (
            (due["atraso"] > 0).groupby(due["id_cliente"]).sum().reindex(out.index).fillna(0)
        )
        out["dias_atraso_medio" + s] = gd["atraso"].mean().reindex(out.index)
        out["dias_atraso_max" + s] = gd["atraso"].max().reindex(out.index)
    return out


def test_matches_pandas_on_every_client(sample_book: tuple[Path, dict[str, Any], pd.DataFrame]) -> None:
    raw_inv = pd.read_csv(INVOICES_SAMPLE, dtype=str)
    raw_pay = pd.read_csv(PAYMENTS_SAMPLE, dtype=str)
    invoices = pd.DataFrame(
        {
            "id_cliente": raw_inv["id_cliente"].astype("int64"),
            "id_fatura": raw_inv["id_fatura"].astype("int64"),
            "issue": pd.to_datetime(raw_inv["dt_emissao_fatura"]),
            "due": pd.to_datetime(raw_inv["dt_vencimento_fatura"]),
            "value": raw_inv["valor_fatura"].map(cents),
        }
    )
    # The estimated minimum in cents: round(0.15 x value, 2) HALF_UP = floor((15 x cents + 50) / 100)
    invoices["minimum"] = (invoices["value"] * 15 + 50) // 100
    payments = pd.DataFrame(
        {
            "id_pagamento": raw_pay["id_pagamento"].astype("int64"),
            "id_fatura": raw_pay["id_fatura"].astype("int64"),
            "paid_on": pd.to_datetime(raw_pay["dt_pagamento"]),
            "amount": raw_pay["valor_pagamento"].map(cents),
        }
    )
    frame = sample_book[2]
    compared = 0
    for ref in REFS:
        expected = pandas_book(invoices, payments, ref)
        got = frame[frame["ref"] == ref].set_index("id_cliente").sort_index()
        assert list(got.index) == list(expected.index), ref
        for column in expected.columns:
            mine = got[column].map(lambda v: None if v is None else float(v)).astype("float64")
            theirs = expected[column].astype("float64")
            assert (mine.isna() == theirs.isna()).all(), (ref, column)
            both = mine.notna()
            close = (mine[both] - theirs[both]).abs() <= (REL * theirs[both].abs()).clip(lower=ABS)
            assert close.all(), (ref, column, mine[both][~close].head(), theirs[both][~close].head())
            compared += int(both.sum())
    assert compared > 100_000


# --------------------------------------------------------------------------------- a small hand-made data set

INVOICES = [
    # id_cliente, id_fatura, issued, due, valor_fatura, valor_pagamento_minimo
    (10, 100, "2024-03-01", "2024-03-10", "100.00", "15.00"),  # three partial payments, quitted late
    (10, 101, "2024-02-01", "2024-02-10", "50.00", "7.50"),  # overpaid on the due date
    (10, 102, "2024-01-01", "2024-01-10", "80.00", "12.00"),  # never paid
    (10, 103, "2024-03-15", "2024-04-10", "200.00", "30.00"),  # paid after as_of (2024-03-31), not due yet
    (10, 104, "2023-03-01", "2023-03-10", "999.00", "1.00"),  # 12 months before R: outside u12m
    (10, 105, "2023-04-01", "2023-04-10", "10.00", "1.50"),  # 11 months before R: in u12m only
    (10, 107, "2024-03-01", "2024-03-10", "100.00", "15.00"),  # partial, below the minimum
    (11, 110, "2023-06-01", "2023-06-10", "300.00", "45.00"),  # the client's only invoice in u12m
    (12, 120, "2024-04-01", "2024-04-06", "10.00", "1.50"),  # issued after R: client 12 has no row
    (14, 140, "2024-03-01", "2024-03-10", "0.00", "0.00"),  # a zero invoice: no percentage of value paid
]
PAYMENTS = [
    # id_pagamento, id_fatura, paid, valor_pagamento
    (1001, 100, "2024-03-05", "40.00"),
    (1002, 100, "2024-03-08", "30.00"),
    (1003, 100, "2024-03-20", "29.99"),  # running sum 99.99 = 100.00 - 0.01: quitacao 2024-03-20
    (1004, 101, "2024-02-10", "60.00"),
    (1005, 103, "2024-04-05", "200.00"),
    (1006, 105, "2023-04-10", "10.00"),
    (1007, 107, "2024-03-09", "10.00"),
    (1008, 999, "2024-03-09", "10.00"),  # an invoice not in the window: ignored
]


@pytest.fixture(scope="module")
def hand(spark: Any) -> tuple[Any, Any]:
    invoices = spark.createDataFrame(
        [(c, f, date.fromisoformat(i), date.fromisoformat(d), Decimal(v), Decimal(m)) for c, f, i, d, v, m in INVOICES],
        "id_cliente bigint, id_fatura bigint, dt_emissao_fatura date, dt_vencimento_fatura date, "
        "valor_fatura decimal(18,2), valor_pagamento_minimo decimal(18,2)",
    )
    payments = spark.createDataFrame(
        [(p, f, date.fromisoformat(d), Decimal(v)) for p, f, d, v in PAYMENTS],
        "id_pagamento bigint, id_fatura bigint, dt_pagamento date, valor_pagamento decimal(18,2)",
    )
    return invoices, payments


def test_invoice_facts_by_hand(hand: tuple[Any, Any]) -> None:
    invoices, payments = hand
    facts = {r.id_fatura: r for r in job.invoice_facts(invoices, payments, date(2024, 3, 31)).collect()}
    got = {
        k: (r.pago, r.pago_ate_vencimento, r.quitacao, r.vencida, r.em_dia, r.dias_atraso, r.abaixo_minimo)
        for k, r in facts.items()
    }
    d = date.fromisoformat
    assert got[100] == (Decimal("99.99"), Decimal("70.00"), d("2024-03-20"), True, False, 10, False)
    assert got[101] == (Decimal("60.00"), Decimal("60.00"), d("2024-02-10"), True, True, 0, False)
    assert got[102] == (Decimal("0.00"), Decimal("0.00"), None, True, False, 81, True)  # 21 + 29 + 31 days
    assert got[103] == (Decimal("0.00"), Decimal("0.00"), None, False, False, None, None)
    assert got[107] == (Decimal("10.00"), Decimal("10.00"), None, True, False, 21, True)
    assert got[140] == (Decimal("0.00"), Decimal("0.00"), None, True, False, 21, False)
    # A month later the payment of invoice 103 exists: paid before its due date.
    later = {r.id_fatura: r for r in job.invoice_facts(invoices, payments, date(2024, 4, 30)).collect()}
    row = later[103]
    assert (row.pago, row.quitacao, row.vencida, row.em_dia, row.dias_atraso, row.abaixo_minimo) == (
        Decimal("200.00"),
        d("2024-04-05"),
        True,
        True,
        0,
        False,
    )


def test_book_by_hand(hand: tuple[Any, Any]) -> None:
    invoices, payments = hand
    result = job.book(job.invoice_facts(invoices, payments, date(2024, 3, 31)), "2024-03")
    rows = {r.id_cliente: r.asDict() for r in result.collect()}
    assert sorted(rows) == [10, 11, 14]  # 12: only an invoice after R
    assert all(r["ref"] == "2024-03" for r in rows.values())
    # Client 10, u1m: 100, 103, 107: total 400.00, paid 99.99 + 0 + 10.00 = 109.99 (the April payment of 103 is
    # ignored); due: 100 (late 10), 107 (late 21, below minimum)
    assert_values(
        rows[10],
        window(
            1,
            [3, Decimal("400.00"), 400 / 3, Decimal("200.00"), Decimal("109.99"), 100 * 109.99 / 400],
            [2, 0.0, 50.0, 2, 15.5, 21],
        ),
    )
    # u3m = u6m: + 101 (overpaid 60.00 on time), 102 (unpaid, late 81, below minimum): total 530.00, paid 169.99;
    # due 4: on time 1 -> 25 %, below minimum 2 -> 50 %, late 3, mean (10 + 21 + 0 + 81) / 4 = 28
    three = [5, Decimal("530.00"), 106.0, Decimal("200.00"), Decimal("169.99"), 100 * 169.99 / 530]
    three += [4, 25.0, 50.0, 3, 28.0, 81]
    assert_values(rows[10], window(3, three) | window(6, three))
    # u12m: + 105 (10.00 paid on its due date; 104 is 12 months back, outside): total 540.00, paid 179.99;
    # due 5: on time 2 -> 40 %, below minimum 2 -> 40 %, late mean 112 / 5 = 22.4
    assert_values(
        rows[10],
        window(
            12,
            [6, Decimal("540.00"), 90.0, Decimal("200.00"), Decimal("179.99"), 100 * 179.99 / 540],
            [5, 40.0, 40.0, 3, 22.4, 81],
        ),
    )
    # Client 11: empty u1m, u3m, u6m (0 for counts and totals, null otherwise); u12m: one unpaid invoice due
    # 2023-06-10, late 20 + 31 + 31 + 30 + 31 + 30 + 31 + 31 + 29 + 31 = 295 days.
    empty = [0, Decimal("0.00"), None, None, Decimal("0.00"), None, 0, None, None, 0, None, None]
    assert_values(rows[11], window(1, empty) | window(3, empty) | window(6, empty))
    assert_values(
        rows[11],
        window(
            12, [1, Decimal("300.00"), 300.0, Decimal("300.00"), Decimal("0.00"), 0.0, 1, 0.0, 100.0, 1, 295.0, 295]
        ),
    )
    # Client 14: a zero invoice: no percentage of value paid (total 0); unpaid so never quitted: late 21 days.
    assert_values(rows[14], {"vl_fatura_total_u1m": Decimal("0.00"), "pct_valor_pago_u1m": None})
    assert_values(rows[14], {"pct_faturas_abaixo_minimo_u1m": 0.0, "dias_atraso_max_u1m": 21})


def test_refs_helpers_and_a_ref_without_rows(
    spark: Any, sample_book: tuple[Path, dict[str, Any], pd.DataFrame], tmp_path: Path
) -> None:
    assert job.months_back("2024-02", 3) == ["2023-12", "2024-01", "2024-02"]
    assert job.as_of("2024-02") == date(2024, 2, 29)
    with pytest.raises(ValueError, match="YYYY-MM"):
        job.parse_ref("2024-13")
    tmp = sample_book[0]
    refined = tmp_path / "refined"
    shutil.copytree(tmp / "refined", refined)
    # 2020-01: nothing issued in 2019-02..2020-01 -> no rows and no partition; the other refs are untouched.
    result = job.run(
        spark,
        {
            "run_id": "b2",
            "refs": "2020-01",
            "curated_root": (tmp / "curated").as_uri(),
            "refined_root": refined.as_uri(),
            "result_path": "",
        },
    )
    assert result == {"run_id": "b2", "refs": ["2020-01"], "rows": {"2020-01": 0}}
    assert sorted(p.name for p in (refined / "cards_book").iterdir() if p.is_dir()) == [f"ref={r}" for r in REFS]
