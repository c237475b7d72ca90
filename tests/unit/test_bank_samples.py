"""Generated Nubank exports: determinism, every demo file parses, overlaps overlap, the CPF is valid."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from finlake.samples.bank import (
    MALFORMED,
    bill,
    card_csv,
    card_entries,
    demo_files,
    main,
    nuconta_csv,
    nuconta_entries,
    ofx,
)
from functions.bank.exports import parse_card_csv, parse_export, parse_nuconta_csv
from functions.bank.model import Parsed
from functions.bank.privacy import CPF_MARK, cpf_is_valid, find_cpfs, scrub

CARD_NEW, CARD_OLD = "Nubank_2024-10-01.csv", "Nubank_2024-08-01.csv"
NU_FIRST, NU_SECOND = "NU_extrato_01JUL2024_15SET2024.csv", "NU_extrato_01SET2024_30SET2024.csv"
OFX_NU, OFX_CARD = "Nubank_conta_2024-09.ofx", "Nubank_cartao_2024-09.ofx"


@pytest.fixture(scope="module")
def demo() -> dict[str, bytes]:
    return demo_files("2024-09", 3)


@pytest.fixture(scope="module")
def parsed(demo: dict[str, bytes]) -> dict[str, Parsed]:
    return {name: parse_export(body, name) for name, body in demo.items()}


def test_same_arguments_same_bytes(demo: dict[str, bytes]) -> None:
    assert demo_files("2024-09", 3) == demo
    assert demo_files("2024-09", 3, seed=8) != demo
    assert card_csv("2024-07", "2024-09") == card_csv("2024-07", "2024-09")


def test_demo_file_names(demo: dict[str, bytes]) -> None:
    assert sorted(demo) == sorted([CARD_NEW, CARD_OLD, NU_FIRST, NU_SECOND, OFX_NU, OFX_CARD])
    with pytest.raises(ValueError, match="at least two months"):
        demo_files("2024-09", 1)


def test_every_demo_file_parses_with_the_expected_counts(demo: dict[str, bytes], parsed: dict[str, Parsed]) -> None:
    kinds = {name: p.kind for name, p in parsed.items()}
    assert kinds == {
        CARD_NEW: "card_csv",
        CARD_OLD: "card_csv",
        NU_FIRST: "nuconta_csv",
        NU_SECOND: "nuconta_csv",
        OFX_NU: "ofx",
        OFX_CARD: "ofx",
    }
    expected_rows = {
        CARD_NEW: sum(len(card_entries(m)) for m in ("2024-07", "2024-08", "2024-09")),
        CARD_OLD: sum(len(card_entries(m)) for m in ("2024-06", "2024-07")),
        NU_FIRST: sum(len(nuconta_entries(m)) for m in ("2024-07", "2024-08"))
        + sum(1 for e in nuconta_entries("2024-09") if e.day.day <= 15),
        NU_SECOND: len(nuconta_entries("2024-09")),
        OFX_NU: len(nuconta_entries("2024-09")),
        OFX_CARD: len(card_entries("2024-09")),
    }
    for name, p in parsed.items():
        assert len(p.rows) == expected_rows[name], name
        assert p.rows_in == len(p.rows) + len(p.quarantined)
        data_lines = sum(1 for line in demo[name].decode().splitlines()[1:] if line.strip())
        if name.endswith(".csv"):
            assert p.rows_in == data_lines
    # exactly one malformed row in the whole demo: the second NuConta export's ambiguous amount
    bad = {name: [(b.raw.split(",")[1], b.reason.split(":")[0]) for b in p.quarantined] for name, p in parsed.items()}
    assert bad == {name: [] for name in parsed} | {NU_SECOND: [("1.234", "amount '1.234' rejected")]}


def test_every_type_shows_up(parsed: dict[str, Parsed]) -> None:
    card = Counter(r.type for r in parsed[CARD_NEW].rows)
    nuconta = Counter(r.type for r in parsed[NU_FIRST].rows)
    assert set(card) == {"purchase", "installment", "refund", "bill_payment", "fee"}
    assert set(nuconta) >= {"income", "bill_payment", "transfer_in", "transfer_out", "purchase", "interest", "refund"}


def test_card_csv_has_big_amounts_refunds_accents_and_identical_twins(parsed: dict[str, Parsed]) -> None:
    rows = parsed[CARD_NEW].rows
    assert any(r.amount <= Decimal("-1000") for r in rows)  # charges are money out
    assert any(r.description.startswith("Estorno") and r.amount > 0 for r in rows)
    assert {"Padaria São João", "Açaí da Praça", "Supermercado Pão de Açúcar"} <= {r.description for r in rows}
    same_day = Counter((r.date, r.description, r.amount) for r in rows)
    assert any(count >= 2 for count in same_day.values())


def test_bill_payment_matches_on_both_accounts(parsed: dict[str, Parsed]) -> None:
    august_bill = bill("2024-08")
    card_payment = [r for r in parsed[OFX_CARD].rows if r.type == "bill_payment"]
    nu_payment = [r for r in parsed[OFX_NU].rows if r.type == "bill_payment"]
    assert [r.amount for r in card_payment] == [august_bill]
    assert [r.amount for r in nu_payment] == [-august_bill]


def test_nuconta_exports_overlap_verbatim(demo: dict[str, bytes], parsed: dict[str, Parsed]) -> None:
    first = demo[NU_FIRST].decode().splitlines()
    second = demo[NU_SECOND].decode().splitlines()
    shared = [line for line in second[1:] if line in first[1:]]
    september_first_half = [e for e in nuconta_entries("2024-09") if e.day.day <= 15]
    assert len(shared) == len(september_first_half) >= 5
    ids_first = {r.transaction_id for r in parsed[NU_FIRST].rows}
    ids_second = {r.transaction_id for r in parsed[NU_SECOND].rows}
    assert ids_first & ids_second == {e.fitid for e in september_first_half}


def test_ofx_overlaps_the_csvs(parsed: dict[str, Parsed]) -> None:
    ofx_ids = {r.transaction_id: r for r in parsed[OFX_NU].rows}
    csv_rows = {r.transaction_id: r for r in parsed[NU_SECOND].rows}
    assert ofx_ids.keys() == csv_rows.keys()
    for fitid, row in csv_rows.items():
        assert (ofx_ids[fitid].date, ofx_ids[fitid].amount, ofx_ids[fitid].description) == (
            row.date,
            row.amount,
            row.description,
        )
    # the card CSV has no ids: the card OFX's rows are the same (date, title, amount) multiset
    september = Counter((r.date, r.description, r.amount) for r in parsed[CARD_NEW].rows if r.date.month == 9)
    assert Counter((r.date, r.description, r.amount) for r in parsed[OFX_CARD].rows) == september
    assert all(r.account_id for r in parsed[OFX_NU].rows + parsed[OFX_CARD].rows)


def test_older_card_export_overlaps_the_current_one(parsed: dict[str, Parsed]) -> None:
    def july(name: str) -> Counter[tuple[object, ...]]:
        return Counter((r.date, r.description, r.amount) for r in parsed[name].rows if r.date.month == 7)

    assert july(CARD_OLD) == july(CARD_NEW) and sum(july(CARD_NEW).values()) > 20
    assert all(r.source_category or r.type == "bill_payment" for r in parsed[CARD_OLD].rows)


def test_pix_descriptions_carry_a_valid_cpf_and_a_masked_one(parsed: dict[str, Parsed]) -> None:
    maria = [r.description for r in parsed[NU_SECOND].rows if "MARIA DA SILVA" in r.description]
    (description,) = maria
    (cpf,) = find_cpfs(description)
    assert re.fullmatch(r"\d{3}\.\d{3}\.\d{3}-\d{2}", cpf)
    assert cpf_is_valid(re.sub(r"\D", "", cpf))
    joao = next(r.description for r in parsed[NU_SECOND].rows if "JOÃO PEREIRA" in r.description)
    assert re.search(r"•••\.\d{3}\.\d{3}-••", joao)
    assert CPF_MARK in scrub(description) and not find_cpfs(scrub(description))
    assert CPF_MARK in scrub(joao)


def test_ptbr_decimal_variant() -> None:
    body = card_csv("2024-09", "2024-09", decimal=",")
    assert b'"1.249,90"' in body
    dot = parse_card_csv(card_csv("2024-09", "2024-09"), "a.csv")
    comma = parse_card_csv(body, "b.csv")
    assert [(r.date, r.description, r.amount) for r in comma.rows] == [
        (r.date, r.description, r.amount) for r in dot.rows
    ]


@pytest.mark.parametrize("old_format", [False, True])
def test_malformed_rows_are_quarantined(old_format: bool) -> None:
    clean = parse_card_csv(card_csv("2024-09", "2024-09", old_format=old_format), "a.csv")
    dirty = parse_card_csv(card_csv("2024-09", "2024-09", old_format=old_format, malformed=MALFORMED), "b.csv")
    assert len(dirty.rows) == len(clean.rows) and dirty.rows_in == clean.rows_in + 4
    reasons = [b.reason for b in dirty.quarantined]
    assert reasons[0].startswith("expected ") and "got " in reasons[0]
    assert reasons[1].startswith("date '2024-02-30' is not a real day")
    assert reasons[2].startswith("amount '1.234' rejected")
    assert reasons[3] == "empty title"
    nu = parse_nuconta_csv(nuconta_csv("2024-09", "2024-09", malformed=MALFORMED), "c.csv")
    assert [b.reason.split(" ")[0] for b in nu.quarantined] == ["expected", "date", "amount", "empty"]
    with pytest.raises(ValueError, match="unknown malformed"):
        card_csv("2024-09", "2024-09", malformed=["nope"])


def test_ofx_rejects_unknown_account() -> None:
    with pytest.raises(ValueError, match="nuconta"):
        ofx("savings", "2024-09", "2024-09")


def test_main_writes_the_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--end-month", "2024-09", "--months", "3", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(demo_files("2024-09", 3))
    out = capsys.readouterr().out
    assert out.count("wrote ") == 6 and OFX_CARD in out
