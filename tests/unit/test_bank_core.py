"""Bank domain: money and type rules, personal-data scrubbing, pynubank snapshots, dedup, summaries."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from pynubank import MockHttpClient
from pynubank.exception import NuRequestException

from functions.bank import summary
from functions.bank.categories import categorize, parse_rules
from functions.bank.model import content_key, infer_type, parse_amount, parse_installment, strip_installment
from functions.bank.nubank_api import (
    Credentials,
    CredentialsError,
    NubankLoginRejected,
    parse_snapshot,
    snapshot_bytes,
    take_snapshot,
)
from functions.bank.pipeline import safe_name
from functions.bank.privacy import cpf_is_valid, find_cpfs, keyed_hash, scrub
from functions.bank.transform import deduplicate
from functions.common.http import SourceUnavailable
from functions.common.ptbr import format_ptbr

CREDENTIALS = Credentials.from_secret(
    {"cpf": "529.982.247-25", "password": "pw", "certificate_p12_base64": base64.b64encode(b"p12").decode()}
)


# -- amounts, installments, types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45.90", "45.90"),
        ("-45.9", "-45.90"),
        ("1234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("-1.234,56", "-1234.56"),
        ("R$ 1.234,56", "1234.56"),
        ("-R$ 12,30", "-12.30"),
        ("(12,30)", "-12.30"),
        ("1,234,567.89", "1234567.89"),
        ("7", "7.00"),
    ],
)
def test_amounts_are_exact(text: str, expected: str):
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["1.234", "12,345", "1.23.4", "1,234,56", "", "abc", "--3", "1.2345,00"])
def test_ambiguous_or_malformed_amounts_are_rejected(text: str):
    with pytest.raises(ValueError):
        parse_amount(text)


@given(st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2))
def test_a_ptbr_formatted_amount_parses_back(value: Decimal):
    assert parse_amount(format_ptbr(value)) == value


def test_installments_in_descriptions():
    assert parse_installment("Loja Eletro - Parcela 3/10") == (3, 10)
    assert parse_installment("PARCELA 1/2 Magalu") == (1, 2)
    assert parse_installment("Parcela 11/10") is None
    assert parse_installment("Netflix") is None
    assert strip_installment("Loja Eletro - Parcela 3/10") == "Loja Eletro"


@pytest.mark.parametrize(
    ("account", "description", "amount", "count", "expected"),
    [
        ("card", "Padaria São João", "-12.50", None, "purchase"),
        ("card", "Loja Eletro - Parcela 3/10", "-99.90", 10, "installment"),
        ("card", "Pagamento recebido", "500.00", None, "bill_payment"),
        ("card", "Estorno de compra", "30.00", None, "refund"),
        ("card", "IOF de compra internacional", "-1.23", None, "fee"),
        ("card", "Juros de dívida encerrada", "-10.00", None, "interest"),
        ("nuconta", "Transferência recebida pelo Pix - MARIA", "100.00", None, "transfer_in"),
        ("nuconta", "Transferência enviada pelo Pix - JOÃO", "-100.00", None, "transfer_out"),
        ("nuconta", "Pagamento da fatura", "-500.00", None, "bill_payment"),
        ("nuconta", "Salário ACME LTDA", "5000.00", None, "income"),
        ("nuconta", "Rendimento líquido", "3.21", None, "interest"),
        ("nuconta", "Compra no débito - Mercado", "-40.00", None, "purchase"),
    ],
)
def test_types(account: str, description: str, amount: str, count: int | None, expected: str):
    assert infer_type(account, description, Decimal(amount), count) == expected


def test_content_keys_ignore_case_and_accents_but_not_the_occurrence():
    day = date(2024, 9, 3)
    assert content_key("card", day, "Açaí da Praça", Decimal("-12.00"), 0) == content_key(
        "card", day, "ACAI  DA PRACA", Decimal("-12.00"), 0
    )
    assert content_key("card", day, "Açaí", Decimal("-12.00"), 0) != content_key(
        "card", day, "Açaí", Decimal("-12.00"), 1
    )


# -- personal data ---------------------------------------------------------------------------------


def test_cpf_check_digits():
    assert cpf_is_valid("52998224725")
    assert not cpf_is_valid("52998224724")
    assert not cpf_is_valid("11111111111")


def test_scrub_removes_cpfs_accounts_and_cards_but_keeps_the_rest():
    text = (
        "Transferência enviada pelo Pix - MARIA DA SILVA - 529.982.247-25 - •••.982.247-•• - "
        "Agência: 0001 Conta: 1234567-8 - ref 52998224725 - cartão 4111 1111 1111 1111 - tel 11987654321"
    )
    clean = scrub(text)
    assert find_cpfs(clean) == []
    assert "MARIA DA SILVA" in clean and "tel 11987654321" in clean
    assert "1234567-8" not in clean and "4111" not in clean and "982.247" not in clean


def test_keyed_hash_is_keyed():
    assert keyed_hash("12345-6", b"k1") == keyed_hash("12345-6", b"k1")
    assert keyed_hash("12345-6", b"k1") != keyed_hash("12345-6", b"k2")
    assert "12345" not in keyed_hash("12345-6", b"k1")
    with pytest.raises(ValueError):
        keyed_hash("x", b"")


def test_file_names_lose_account_numbers_but_keep_dates():
    assert safe_name("NU_91234567_01SET2024_30SET2024.csv") == "NU_********_01SET2024_30SET2024.csv"
    assert safe_name("Nubank_20240901.csv") == "Nubank_20240901.csv"


# -- pynubank --------------------------------------------------------------------------------------


def test_credentials_come_from_the_secret_and_never_show():
    assert CREDENTIALS.cpf == "52998224725"
    assert "52998224725" not in repr(CREDENTIALS)
    with pytest.raises(CredentialsError, match="lacks password, certificate_p12_base64") as info:
        Credentials.from_secret({"cpf": "52998224725"})
    assert "52998224725" not in str(info.value)


def test_the_mock_api_snapshot_parses_with_cents_reais_and_sao_paulo_dates():
    data = snapshot_bytes(take_snapshot(MockHttpClient(), CREDENTIALS))
    assert data == snapshot_bytes(take_snapshot(MockHttpClient(), CREDENTIALS))  # canonical: same data, same MD5
    parsed = parse_snapshot(data, "snapshot.json")
    by_description = {(r.description, r.date): r for r in parsed.rows}
    netflix = by_description[("Netflix.Com", date(2021, 4, 21))]
    assert netflix.amount == Decimal("-32.90")  # 3290 cents, a charge
    assert netflix.source_category == "serviços" and netflix.type == "purchase"
    # 2021-04-09T00:09:57Z is still 8 April in São Paulo
    assert by_description[("You Need A Budget", date(2021, 4, 8))].amount == Decimal("-308.77")
    payment = next(r for r in parsed.rows if r.type == "bill_payment")
    assert payment.amount == Decimal("63.78")
    transfers = sorted(r.amount for r in parsed.rows if r.account == "nuconta")
    assert transfers == [Decimal("-1300.00"), Decimal("-400.00")]  # "R$ 1.300,00" parsed exactly, each page once
    assert parsed.facts["credit_limit"] == "150.00" and parsed.facts["account_balance"] == "127.33"


class RejectingClient(MockHttpClient):
    def __init__(self, status: int):
        super().__init__()
        self.status = status

    def post(self, url: str, json: dict) -> dict:
        if url.endswith("/api/token"):
            response = requests.Response()
            response.status_code = self.status
            response.url = url
            raise NuRequestException(response)
        return super().post(url, json)


def test_a_rejected_login_is_a_clear_error_that_names_no_secret():
    with pytest.raises(NubankLoginRejected, match=r"^Nubank rejected the login: HTTP 403") as info:
        take_snapshot(RejectingClient(403), CREDENTIALS)
    assert "52998224725" not in str(info.value) and "529.982.247-25" not in str(info.value)
    assert "inbox/bank/" in str(info.value)


def test_a_server_error_at_login_is_unavailable_not_rejected():
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        take_snapshot(RejectingClient(503), CREDENTIALS)


# -- dedup, categories, summaries ------------------------------------------------------------------


def row(key: str, content: str, has_id: bool, source: str = "card_csv") -> dict:
    return {"key": key, "content_key": content, "has_id": has_id, "source": source}


def test_dedup_by_id_then_by_content_and_an_export_row_matching_an_api_row_is_one():
    rows = [
        row("id|card|t1|1|0", "c1", True, "api"),
        row("id|card|t1|1|0", "c1", True, "ofx"),  # the same id in another source
        row("content|c1", "c1", False),  # the export of the API's t1
        row("content|c2|0", "c2|0", False),
        row("content|c2|0", "c2|0", False),  # the same line in an overlapping export
        row("content|c2|1", "c2|1", False),  # a second identical purchase that day: kept
    ]
    kept = deduplicate(rows)
    assert [r["key"] for r in kept] == ["id|card|t1|1|0", "content|c2|0", "content|c2|1"]
    assert kept[0]["source"] == "api"


def test_categories_source_first_then_rules_then_type():
    rules = parse_rules("# comment\nkeyword,category\nifood,restaurante\nuber,transporte\n")
    assert categorize("IFOOD *Pizza", None, "purchase", rules) == ("restaurante", "rule")
    assert categorize("IFOOD *Pizza", "lazer", "purchase", rules) == ("lazer", "source")
    assert categorize("Pagamento da fatura", None, "bill_payment", rules) == ("pagamento de fatura", "type")
    assert categorize("Pix - MARIA", None, "transfer_out", rules) == ("transferências", "type")
    assert categorize("Loja desconhecida", None, "purchase", rules) == ("outros", "type")
    with pytest.raises(ValueError, match="bad rule"):
        parse_rules("keyword,category\nsem categoria\n")


def txn(day: str, amount: str, kind: str, category: str, account: str = "card", **extra) -> dict:
    return {
        "date": date.fromisoformat(day),
        "amount": Decimal(amount),
        "type": kind,
        "category": category,
        "account": account,
        "description": extra.pop("description", category),
        "installment_number": extra.pop("number", None),
        "installment_count": extra.pop("count", None),
    }


def test_monthly_summary_by_hand():
    transactions = [
        txn("2024-06-10", "-100.00", "purchase", "restaurante"),
        txn("2024-07-10", "-200.00", "purchase", "restaurante"),
        txn("2024-08-10", "-300.00", "purchase", "restaurante"),
        txn("2024-09-02", "-400.00", "purchase", "restaurante"),
        txn("2024-09-03", "50.00", "refund", "restaurante"),
        txn("2024-09-05", "-1000.00", "bill_payment", "pagamento de fatura", "nuconta"),  # neither
        txn("2024-09-05", "5000.00", "income", "renda", "nuconta"),
        txn("2024-09-06", "-150.00", "transfer_out", "transferências", "nuconta"),
    ]
    rows = {
        (r["month"], r["category"]): r
        for r in summary.monthly_summary(transactions, credit_limits={"2024-07": Decimal("1000")})
    }
    september = rows[("2024-09", "restaurante")]
    assert september["spend"] == Decimal("350.00")  # 400 - 50 refunded
    assert september["spend_prev_month"] == Decimal("300.00")
    assert september["spend_avg_3m"] == Decimal("200.00")  # (300 + 200 + 100) / 3
    assert september["spend_vs_prev_pct"] == Decimal("16.67")
    assert september["spend_vs_avg_3m_pct"] == Decimal("75.00")
    total = rows[("2024-09", "_all")]
    assert (total["spend"], total["income"], total["net"]) == (
        Decimal("500.00"),
        Decimal("5000.00"),
        Decimal("4500.00"),
    )
    assert total["card_spend"] == Decimal("350.00") and total["card_limit_used_pct"] == Decimal("35.00")
    assert rows[("2024-06", "_all")]["spend_prev_month"] is None  # no data before June
    assert rows[("2024-06", "_all")]["credit_limit"] is None  # the first snapshot is of July
    assert rows[("2024-08", "_all")]["spend_avg_3m"] is None  # only two months before August


def test_future_installments_after_the_last_month_with_card_data():
    transactions = [
        txn("2024-08-10", "-100.00", "installment", "casa", description="Loja Eletro - Parcela 2/4", number=2, count=4),
        txn("2024-09-10", "-100.00", "installment", "casa", description="Loja Eletro - Parcela 3/4", number=3, count=4),
        txn("2024-09-12", "-50.00", "installment", "lazer", description="Show - Parcela 1/2", number=1, count=2),
    ]
    rows = summary.future_installments(transactions)
    assert [(r["due_month"], r["description"], r["installment_number"], r["amount"]) for r in rows] == [
        ("2024-10", "Loja Eletro", 4, Decimal("100.00")),
        ("2024-10", "Show", 2, Decimal("50.00")),
    ]
    assert rows[0]["purchase_month"] == "2024-07" and rows[0]["as_of_month"] == "2024-09"


def test_headline_lines_read_like_the_app():
    transactions = [
        txn("2024-08-10", "-100.00", "purchase", "restaurante"),
        txn("2024-09-02", "-1234.56", "purchase", "restaurante"),
        txn("2024-09-05", "5000.00", "income", "renda", "nuconta"),
    ]
    head = summary.headline(transactions, [], "2024-09", {"2024-08": Decimal("5000.00"), "2024-10": Decimal("1.00")})
    lines = summary.headline_lines(head)
    assert lines[0] == "Month 2024-09: spent R$ 1.234,56, income R$ 5.000,00, net R$ 3.765,44 (2 transactions)"
    assert "Top categories: restaurante R$ 1.234,56" in lines
    assert "Card: R$ 1.234,56 of the R$ 5.000,00 limit (24,7%)" in lines


def test_keywords_match_whole_words_and_source_categories_take_the_rules_spelling():
    rules = parse_rules("keyword,category\n99,transporte\neletro,eletrônicos\n")
    assert categorize("99 Pop", None, "purchase", rules) == ("transporte", "rule")
    assert categorize("Loja 1999", None, "purchase", rules) == ("outros", "type")
    assert categorize("Loja Eletro - Parcela 9/10", None, "installment", rules) == ("eletrônicos", "rule")
    assert categorize("Mercadopago", "Eletronicos", "purchase", rules) == ("eletrônicos", "source")


def test_the_bundled_rules_parse():
    from functions.bank.categories import RULES_FILE

    rules = parse_rules(RULES_FILE.read_text("utf-8"))
    assert len(rules) > 50
    assert categorize("IFOOD *Restaurante Sabor", None, "purchase", rules) == ("restaurante", "rule")
    assert categorize("Mercado Livre", None, "purchase", rules) == ("compras", "rule")
    assert categorize("Mercado do Bairro", None, "purchase", rules) == ("supermercado", "rule")
