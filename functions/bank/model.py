"""The bank domain's common shape: one `Txn` per money movement, whatever the source.

Every source (pynubank responses, the app's card and NuConta CSV exports, OFX statements) is
parsed into `Txn` rows with exact amounts (``Decimal``, two places, money out negative) and local
dates (America/Sao_Paulo). Sources differ; the rules below are shared:

- `parse_amount`: the number formats the exports use ("45.90", "-1.234,56", "R$ 1.234,56").
- `infer_type`: purchase, installment, refund, bill_payment, income, transfer_in, transfer_out,
  fee, interest, from the account, the description and the sign.
- `parse_installment`: "Parcela 3/10" in a description.
- `content_key`: the dedup key of a row without a transaction id.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
ACCOUNTS = ("card", "nuconta")
TYPES = (
    "purchase",
    "installment",
    "refund",
    "bill_payment",
    "income",
    "transfer_in",
    "transfer_out",
    "fee",
    "interest",
)
SOURCES = ("api", "card_csv", "nuconta_csv", "ofx")  # also the dedup priority when one id is in several


class FileRejected(ValueError):
    """A whole file is unusable (unknown header, unreadable format): nothing of it is loaded."""


@dataclass
class Txn:
    """One transaction as a source gives it, normalised (before privacy, dedup and categories)."""

    source: str  # one of SOURCES
    account: str  # "card" or "nuconta"
    date: date  # local date, America/Sao_Paulo
    description: str
    amount: Decimal  # signed, two places: money out of the person's pocket is negative
    line: int  # line (CSV), position (OFX, API) in the source, 1-based
    transaction_id: str | None = None  # the source's id (API, OFX FITID, NuConta "Identificador")
    account_id: str | None = None  # raw account identifier; replaced by a keyed hash before storage
    source_category: str | None = None  # the category the source gives, if any
    type: str | None = None  # set by the parser when the source's structure says it
    installment_number: int | None = None
    installment_count: int | None = None


@dataclass
class BadRow:
    """A quarantined row: its line in the file (from 1), the reason and its text."""

    line: int
    reason: str
    raw: str


@dataclass
class Parsed:
    """What a parser returns for one source object."""

    kind: str  # one of SOURCES
    rows: list[Txn]
    quarantined: list[BadRow]
    rows_in: int
    facts: dict[str, str]  # source-level facts, e.g. {"credit_limit": "150.00"}


_AMOUNT_RE = re.compile(r"^(?P<sign>[+-])?(?:R\$)?\s*(?P<sign2>[+-])?(?P<num>[\d.,]+)$")


def parse_amount(text: str) -> Decimal:
    """An export's amount, exactly: "45.90", "-45.9", "1234.56", "1.234,56", "-R$ 1.234,56", "(12,30)".

    The last separator followed by one or two digits is the decimal separator; the other is the
    thousands separator and must group digits by three. "1.234" (three digits after a lone
    separator) is ambiguous and rejected, as is anything else that is not a plain amount.
    """
    stripped = text.strip().replace("\u00a0", "").replace(" ", "")
    negative = False
    if stripped.startswith("(") and stripped.endswith(")"):
        negative, stripped = True, stripped[1:-1]
    match = _AMOUNT_RE.match(stripped)
    if not match or (match["sign"] and match["sign2"]):
        raise ValueError(f"not an amount: {text!r}")
    negative ^= "-" in (match["sign"] or "", match["sign2"] or "")
    number = match["num"]
    last = max(number.rfind("."), number.rfind(","))
    if last == -1:
        integer, fraction = number, ""
    else:
        integer, fraction = number[:last], number[last + 1 :]
        if not 1 <= len(fraction) <= 2 or not fraction.isdigit():
            raise ValueError(f"ambiguous or malformed amount: {text!r} (expected two decimal places)")
        thousands = "," if number[last] == "." else "."
        if number[last] in integer:
            raise ValueError(f"malformed amount: {text!r}")
        if thousands in integer:
            groups = integer.split(thousands)
            if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
                raise ValueError(f"malformed thousands grouping: {text!r}")
            integer = "".join(groups)
    if not integer.isdigit():
        raise ValueError(f"not an amount: {text!r}")
    try:
        value = Decimal(f"{integer}.{fraction or '0'}").quantize(CENT)
    except InvalidOperation as exc:  # pragma: no cover - digits only by now
        raise ValueError(f"not an amount: {text!r}") from exc
    return -value if negative and value else value


def cents(value: int) -> Decimal:
    """Integer cents (the card API's unit) -> reais."""
    return (Decimal(value) / 100).quantize(CENT)


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: the form rules and keys compare."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


_INSTALLMENT_RE = re.compile(r"\bparcela\s+(\d{1,2})\s*/\s*(\d{1,2})\b", re.IGNORECASE)


def parse_installment(description: str) -> tuple[int, int] | None:
    """The installment (number, of) a description names, e.g. "Loja X - Parcela 3/10" -> (3, 10); else None."""
    match = _INSTALLMENT_RE.search(description)
    if not match:
        return None
    number, count = int(match[1]), int(match[2])
    if not 1 <= number <= count:
        return None
    return number, count


def strip_installment(description: str) -> str:
    """The purchase a description's installment belongs to: "Loja X - Parcela 3/10" -> "Loja X"."""
    return re.sub(r"\s*[-–]?\s*\bparcela\s+\d{1,2}\s*/\s*\d{1,2}\b", "", description, flags=re.IGNORECASE).strip()


# (account, folded keyword, type) in order: the first keyword found in the description decides.
_TYPE_RULES: tuple[tuple[str, str, str], ...] = (
    ("card", "pagamento recebido", "bill_payment"),
    ("card", "pagamento em ", "bill_payment"),
    ("card", "estorno", "refund"),
    ("card", "credito de ", "refund"),
    ("card", "reembolso", "refund"),
    ("card", "iof", "fee"),
    ("card", "anuidade", "fee"),
    ("card", "tarifa", "fee"),
    ("card", "multa", "fee"),
    ("card", "juros", "interest"),
    ("card", "encargos", "interest"),
    ("nuconta", "pagamento de fatura", "bill_payment"),
    ("nuconta", "pagamento da fatura", "bill_payment"),
    ("nuconta", "rendimento", "interest"),
    ("nuconta", "juros", "interest"),
    ("nuconta", "iof", "fee"),
    ("nuconta", "tarifa", "fee"),
    ("nuconta", "salario", "income"),
    ("nuconta", "proventos", "income"),
    ("nuconta", "deposito", "income"),
    ("nuconta", "reembolso", "refund"),
    ("nuconta", "estorno", "refund"),
    ("nuconta", "transferencia recebida", "transfer_in"),
    ("nuconta", "transferencia enviada", "transfer_out"),
    ("nuconta", "transferencia agendada", "transfer_out"),
    ("nuconta", "compra no debito", "purchase"),
    ("nuconta", "pagamento de boleto", "purchase"),
)


def infer_type(account: str, description: str, amount: Decimal, installment_count: int | None = None) -> str:
    """The transaction type from the account, the description and the sign (money out < 0)."""
    folded = fold(description)
    for rule_account, keyword, kind in _TYPE_RULES:
        if rule_account == account and keyword in folded:
            return kind
    if account == "card":
        if amount > 0:
            return "refund"  # a credit on the card that is not a bill payment
        return "installment" if (installment_count or 1) > 1 else "purchase"
    return "transfer_in" if amount > 0 else "transfer_out"


def content_key(account: str, day: date, description: str, amount: Decimal, occurrence: int) -> str:
    """The dedup key of a row without an id.

    The dedup key of a row without an id: two identical rows of one day in one file are two
    real purchases (occurrence 0 and 1); the same row in an overlapping export is the same one.
    """
    return f"{account}|{day.isoformat()}|{fold(description)}|{amount}|{occurrence}"
