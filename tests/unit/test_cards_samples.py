"""Generated card files: determinism, headers, profiles, ids, payment months, injected anomalies, CLI."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pytest

from finlake.samples.cards import (
    INVOICE_COLUMNS,
    KINDS,
    MINIMUM_COLUMN,
    PAYMENT_COLUMNS,
    PROFILES,
    Truth,
    build,
    generate,
    generate_with_truth,
    invoice_file_name,
    main,
    month_range,
    payment_file_name,
)

CLIENTS, MONTHS = 2_000, 6
INVOICE_HEADER = ",".join((*INVOICE_COLUMNS, MINIMUM_COLUMN))
PAYMENT_HEADER = ",".join(PAYMENT_COLUMNS)


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, tuple[bytes, bytes]], Truth]:
    return generate_with_truth(CLIENTS, MONTHS)


@pytest.fixture(scope="module")
def clean() -> dict[str, tuple[bytes, bytes]]:
    return generate(CLIENTS, MONTHS, anomalies=False)


def _rows(body: bytes) -> list[list[str]]:
    return [line.split(",") for line in body.decode().splitlines()[1:]]


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value >= 0 and value == value.quantize(Decimal("0.01")) else None


def _well_formed(fields: list[str], columns: int, date_fields: tuple[int, ...], amount_fields: tuple[int, ...]) -> bool:
    """The project's curate rules in short: field count, positive integer ids, ISO dates, non-negative amounts."""
    if len(fields) != columns:
        return False
    try:
        for i in date_fields:
            if len(fields[i]) != 10:
                return False
            date.fromisoformat(fields[i])
    except ValueError:
        return False
    ids = [i for i in range(columns) if i not in date_fields + amount_fields]
    ids_ok = all(fields[i].isdigit() and int(fields[i]) > 0 for i in ids)
    return ids_ok and all(_amount(fields[i]) is not None for i in amount_fields)


def test_same_seed_same_bytes(generated: tuple[dict[str, tuple[bytes, bytes]], Truth]) -> None:
    files, _ = generated
    assert generate(CLIENTS, MONTHS) == files
    assert generate(CLIENTS, MONTHS, seed=8) != files


def test_months_and_headers(clean: dict[str, tuple[bytes, bytes]]) -> None:
    assert list(clean) == ["2024-04", "2024-05", "2024-06", "2024-07", "2024-08", "2024-09"]
    assert month_range("2024-02", 3) == ["2023-12", "2024-01", "2024-02"]
    for invoices, payments in clean.values():
        assert invoices.decode().splitlines()[0] == INVOICE_HEADER
        assert payments.decode().splitlines()[0] == PAYMENT_HEADER
        assert b"\r" not in invoices and b'"' not in invoices and invoices.endswith(b"\n")


def test_invoices_are_realistic(clean: dict[str, tuple[bytes, bytes]]) -> None:
    rows = [r for invoices, _ in clean.values() for r in _rows(invoices)]
    per_client_day: dict[str, set[int]] = {}
    amounts = []
    for client, _, issue, due, amount, minimum in rows:
        issued, due_date = date.fromisoformat(issue), date.fromisoformat(due)
        assert 5 <= (due_date - issued).days <= 15
        per_client_day.setdefault(client, set()).add(issued.day)
        value = Decimal(amount)
        assert value == value.quantize(Decimal("0.01")) and value > 0
        assert Decimal(minimum) == (value * Decimal("0.15")).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        amounts.append(float(value))
    assert all(len(days) == 1 and 1 <= next(iter(days)) <= 28 for days in per_client_day.values())
    assert 1_300 < float(np.median(amounts)) < 1_700
    months_per_client = Counter(r[0] for r in rows)
    assert max(months_per_client.values()) == MONTHS and min(months_per_client.values()) < MONTHS  # start / churn
    assert len(months_per_client) == CLIENTS


def test_every_profile_is_present() -> None:
    data = build(CLIENTS, MONTHS)
    assert set(np.unique(data.client_profile)) == set(range(len(PROFILES)))
    assert set(np.unique(data.inv_behaviour)) == set(range(len(PROFILES)))
    paid = np.bincount(data.pay_invoice - 1, weights=data.pay_cents, minlength=data.inv_id.size)
    count = np.bincount(data.pay_invoice - 1, minlength=data.inv_id.size)
    first = np.full(data.inv_id.size, np.datetime64("2100-01-01"), dtype="datetime64[D]")
    np.minimum.at(first, data.pay_invoice - 1, data.pay_date)
    last = np.full(data.inv_id.size, np.datetime64("1900-01-01"), dtype="datetime64[D]")
    np.maximum.at(last, data.pay_invoice - 1, data.pay_date)
    observed = {
        "paid in full on time": (paid == data.inv_cents) & (last <= data.inv_due) & (count == 1),
        "paid in full late": (paid == data.inv_cents) & (first > data.inv_due),
        "partial": (paid > 0) & (paid < data.inv_cents) & (paid >= data.inv_min_cents),
        "several partial payments": (paid < data.inv_cents) & (count >= 2),
        "below the minimum": (count > 0) & (paid < data.inv_min_cents),
        "early": (count > 0) & (first <= data.inv_issue + 1),
        "several payments, paid in full": (paid == data.inv_cents) & (count >= 2),
        "unpaid": count == 0,
        "overpaid": paid > data.inv_cents,
    }
    for name, mask in observed.items():
        assert mask.sum() >= 5, name
    assert observed["overpaid"].mean() < 0.03  # rare


def test_ids_unique_and_payments_in_their_month(clean: dict[str, tuple[bytes, bytes]]) -> None:
    invoice_ids: list[int] = []
    invoice_client: dict[int, str] = {}
    payment_ids: list[int] = []
    for month, (invoices, payments) in clean.items():
        for r in _rows(invoices):
            invoice_ids.append(int(r[1]))
            invoice_client[int(r[1])] = r[0]
            assert r[2][:7] == month  # an invoice file holds the invoices issued that month
        for r in _rows(payments):
            payment_ids.append(int(r[0]))
            assert r[3][:7] == month
            assert invoice_client[int(r[1])] == r[2]  # a known invoice of the same client, issued before
    assert len(set(invoice_ids)) == len(invoice_ids) and invoice_ids == sorted(invoice_ids)
    assert len(set(payment_ids)) == len(payment_ids) and payment_ids == sorted(payment_ids)
    assert invoice_ids[0] == 1 and payment_ids[0] == 1


def _observed_anomalies(files: dict[str, tuple[bytes, bytes]]) -> dict[str, Counter[str]]:
    """Find the anomalies by reading the files: malformed lines by parsing, the rest by ids and contents."""
    found: dict[str, Counter[str]] = {}
    all_invoices = {int(r[1]) for inv, _ in files.values() for r in _rows(inv) if _well_formed(r, 6, (2, 3), (4, 5))}
    earlier: dict[int, str] = {}
    for month, (invoices, payments) in files.items():
        for name, body, columns, dates, amounts, key in (
            (invoice_file_name(month), invoices, 6, (2, 3), (4, 5), 1),
            (payment_file_name(month), payments, 5, (3,), (4,), 0),
        ):
            counts: Counter[str] = Counter()
            lines = body.decode().splitlines()[1:]
            seen_lines: set[str] = set()
            for line in lines:
                fields = line.split(",")
                if not _well_formed(fields, columns, dates, amounts):
                    counts["malformed"] += 1
                elif line in seen_lines:
                    counts["duplicate"] += 1
                elif key == 1 and int(fields[1]) in earlier and earlier[int(fields[1])] != line:
                    counts["correction"] += 1
                elif key == 0 and int(fields[1]) not in all_invoices:
                    counts["unknown_invoice"] += 1
                seen_lines.add(line)
            if key == 1:
                earlier.update({int(line.split(",")[1]): line for line in lines if line.count(",") == 5})
            found[name] = counts
    return found


def test_truth_matches_the_files(generated: tuple[dict[str, tuple[bytes, bytes]], Truth]) -> None:
    files, truth = generated
    observed = _observed_anomalies(files)
    assert set(observed) == set(truth.data_lines)
    for name, counts in observed.items():
        expected = truth.counts(name)
        assert counts["malformed"] == truth.malformed(name) > 0, name
        for kind in ("duplicate", "correction", "unknown_invoice"):
            assert counts[kind] == expected[kind], (name, kind)
        assert truth.data_lines[name] == truth.valid_lines[name] + sum(expected.values())
    by_kind = Counter(i.kind for i in truth.injected)
    assert set(by_kind) == set(KINDS)
    assert by_kind["correction"] == MONTHS - 1  # none in the first month's file


Generated = tuple[dict[str, tuple[bytes, bytes]], Truth]


def test_truth_line_numbers_point_at_the_injected_lines(generated: Generated) -> None:
    files, truth = generated
    texts = {}
    for month, (invoices, payments) in files.items():
        texts[invoice_file_name(month)] = invoices.decode().splitlines()
        texts[payment_file_name(month)] = payments.decode().splitlines()
    for item in truth.injected:
        line = texts[item.file][item.line - 1]
        assert str(item.id) in line.split(","), item
        if item.kind == "negative_amount":
            assert ",-" in line
        if item.kind == "missing_field":
            assert line.count(",") == texts[item.file][0].count(",") - 1


def test_anomalies_are_rare_at_scale() -> None:
    _, truth = generate_with_truth(20_000, 2)
    lines = sum(truth.data_lines.values())
    assert len(truth.injected) / lines < 0.001


def test_without_anomalies_the_valid_rows_are_the_same(
    generated: tuple[dict[str, tuple[bytes, bytes]], Truth], clean: dict[str, tuple[bytes, bytes]]
) -> None:
    files, _ = generated
    for month, (invoices, payments) in clean.items():
        dirty_inv, dirty_pay = files[month]
        assert set(invoices.splitlines()) <= set(dirty_inv.splitlines())
        assert set(payments.splitlines()) <= set(dirty_pay.splitlines())


def test_minimum_column_can_be_absent() -> None:
    files = generate(300, 2, minimum_column=False)
    for invoices, _ in files.values():
        lines = invoices.decode().splitlines()
        assert lines[0] == ",".join(INVOICE_COLUMNS)
        assert all(line.count(",") <= 4 for line in lines)


def test_main_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cards"
    assert main(["--clients", "50", "--months", "3", "--end-month", "2024-02", "--out", str(out), "--no-minimum"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "tb_faturas_202312.csv",
        "tb_faturas_202401.csv",
        "tb_faturas_202402.csv",
        "tb_pagamentos_202312.csv",
        "tb_pagamentos_202401.csv",
        "tb_pagamentos_202402.csv",
    ]
    assert (out / "tb_faturas_202402.csv").read_bytes() == generate(50, 3, end_month="2024-02", minimum_column=False)[
        "2024-02"
    ][0]
    assert "wrote 6 files" in capsys.readouterr().out
