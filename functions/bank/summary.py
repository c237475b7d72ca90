"""The refined bank tables and the email's headline numbers, from curated transactions.

Definitions (the numbers a person checks against the app):

- spend: money out for consumption: purchases, installments, fees, negative interest and transfers
  out, less refunds. Bill payments are neither spend nor income (the card's purchases are already
  counted when made; counting the payment too would count them twice).
- income: income, transfers in and positive interest (NuConta yield).
- net = income - spend. Comparisons: the previous calendar month, and the mean of the three
  previous months (empty until three previous months are in the data).
- card usage: the month's card spend against the credit limit of the latest API snapshot taken in
  or before that month (a snapshot says nothing of earlier limits; the app exports carry none).
- future installments: for each installment purchase ("Parcela k/N"), the installments after the
  latest one seen, one per month, that fall after the last month with card data.

Amounts are exact decimals; percentages are rounded half up to two places.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from functions.bank.model import fold, strip_installment
from functions.common.ptbr import format_ptbr

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
ALL = "_all"
MONEY = pa.decimal128(14, 2)
PCT = pa.decimal128(9, 2)
SPEND_TYPES = {"purchase", "installment", "fee", "transfer_out", "refund"}
INCOME_TYPES = {"income", "transfer_in"}

SUMMARY_SCHEMA = pa.schema(
    [
        ("category", pa.string()),
        ("spend", MONEY),
        ("income", MONEY),
        ("net", MONEY),
        ("transactions", pa.int32()),
        ("spend_prev_month", MONEY),
        ("spend_avg_3m", MONEY),
        ("spend_vs_prev_pct", PCT),
        ("spend_vs_avg_3m_pct", PCT),
        ("card_spend", MONEY),
        ("credit_limit", MONEY),
        ("card_limit_used_pct", PCT),
    ]
)
INSTALLMENTS_SCHEMA = pa.schema(
    [
        ("description", pa.string()),
        ("category", pa.string()),
        ("installment_number", pa.int32()),
        ("installment_count", pa.int32()),
        ("amount", MONEY),
        ("purchase_month", pa.string()),
        ("as_of_month", pa.string()),
    ]
)


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def _shift(month: str, by: int) -> str:
    year, number = int(month[:4]), int(month[5:7]) - 1 + by
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def _pct(part: Decimal, whole: Decimal | None) -> Decimal | None:
    if whole is None or whole == 0:
        return None
    return (part * 100 / whole).quantize(CENT, rounding=ROUND_HALF_UP)


def spend_and_income(txn: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(spend, income) of one transaction in BRL, both >= 0: by its type, interest by its sign."""
    amount, kind = txn["amount"], txn["type"]
    if kind in SPEND_TYPES or (kind == "interest" and amount < 0):
        return -amount, ZERO
    if kind in INCOME_TYPES or (kind == "interest" and amount > 0):
        return ZERO, amount
    return ZERO, ZERO


def limit_in(month: str, credit_limits: dict[str, Decimal]) -> Decimal | None:
    """The credit limit known in ``month``: the latest snapshot's (by snapshot month) up to it."""
    known = [m for m in credit_limits if m <= month]
    return credit_limits[max(known)] if known else None


def monthly_summary(transactions: list[dict[str, Any]], *, credit_limits: dict[str, Decimal]) -> list[dict[str, Any]]:
    """One row per month and category, plus one per month with category '_all'.

    ``credit_limits`` maps the month of each API snapshot to the limit it gave.
    """
    totals: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [ZERO, ZERO, 0])
    card: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for txn in transactions:
        month = _month(txn["date"])
        spend, income = spend_and_income(txn)
        for category in (txn["category"], ALL):
            entry = totals[(month, category)]
            entry[0] += spend
            entry[1] += income
            entry[2] += 1
        if txn["account"] == "card":
            card[month] += spend
    months = sorted({m for m, _ in totals})
    first = months[0] if months else ""
    rows = []
    for (month, category), (spend, income, count) in sorted(totals.items()):

        def spent(m: str, category: str = category) -> Decimal:
            return totals[(m, category)][0] if (m, category) in totals else ZERO

        prev = spent(_shift(month, -1)) if _shift(month, -1) >= first else None
        window = [_shift(month, -k) for k in (1, 2, 3)]
        credit_limit = limit_in(month, credit_limits)
        avg = (sum((spent(m) for m in window), ZERO) / 3).quantize(CENT, ROUND_HALF_UP) if window[-1] >= first else None
        rows.append(
            {
                "month": month,
                "category": category,
                "spend": spend,
                "income": income,
                "net": income - spend,
                "transactions": count,
                "spend_prev_month": prev,
                "spend_avg_3m": avg,
                "spend_vs_prev_pct": _pct(spend - prev, prev) if prev is not None else None,
                "spend_vs_avg_3m_pct": _pct(spend - avg, avg) if avg is not None else None,
                "card_spend": card[month],
                "credit_limit": credit_limit,
                "card_limit_used_pct": _pct(card[month], credit_limit),
            }
        )
    return rows


def future_installments(transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Installments still to come, one row per purchase and month due."""
    card_months = [_month(t["date"]) for t in transactions if t["account"] == "card"]
    if not card_months:
        return []
    as_of = max(card_months)
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for txn in transactions:
        count, number = txn["installment_count"], txn["installment_number"]
        if not count or count < 2 or not number:
            continue
        series = (txn["account"], fold(strip_installment(txn["description"])), count, txn["amount"])
        seen = latest.get(series)
        if seen is None or number > seen["installment_number"]:
            latest[series] = txn
    rows = []
    for txn in latest.values():
        number, count, month = txn["installment_number"], txn["installment_count"], _month(txn["date"])
        for future in range(number + 1, count + 1):
            due = _shift(month, future - number)
            if due > as_of:
                rows.append(
                    {
                        "due_month": due,
                        "description": strip_installment(txn["description"]),
                        "category": txn["category"],
                        "installment_number": future,
                        "installment_count": count,
                        "amount": -txn["amount"],
                        "purchase_month": _shift(month, 1 - number),
                        "as_of_month": as_of,
                    }
                )
    return sorted(rows, key=lambda r: (r["due_month"], r["description"], r["installment_number"]))


def headline(
    transactions: list[dict[str, Any]],
    installments: list[dict[str, Any]],
    month: str,
    credit_limits: dict[str, Decimal],
) -> dict[str, Any]:
    """The month's numbers for the end-of-run email."""
    rows = [r for r in monthly_summary(transactions, credit_limits=credit_limits) if r["month"] == month]
    credit_limit = limit_in(month, credit_limits)
    total = next((r for r in rows if r["category"] == ALL), None)
    top = sorted(
        (r for r in rows if r["category"] != ALL and r["spend"] > 0), key=lambda r: (-r["spend"], r["category"])
    )
    return {
        "month": month,
        "spend": total["spend"] if total else ZERO,
        "income": total["income"] if total else ZERO,
        "net": total["net"] if total else ZERO,
        "transactions": total["transactions"] if total else 0,
        "spend_vs_prev_pct": total["spend_vs_prev_pct"] if total else None,
        "spend_vs_avg_3m_pct": total["spend_vs_avg_3m_pct"] if total else None,
        "card_spend": total["card_spend"] if total else ZERO,
        "credit_limit": credit_limit,
        "card_limit_used_pct": total["card_limit_used_pct"] if total else None,
        "top_categories": [[r["category"], r["spend"]] for r in top[:3]],
        "installments_total": sum((i["amount"] for i in installments), ZERO),
        "installments_months": len({i["due_month"] for i in installments}),
    }


def _brl(value: Any) -> str:
    return f"R$ {format_ptbr(Decimal(str(value)))}"


def _signed_pct(value: Any) -> str:
    number = Decimal(str(value))
    return f"{'+' if number > 0 else ''}{format_ptbr(number, 1)}%"


def headline_lines(h: dict[str, Any]) -> list[str]:
    """The headline as email lines, in Brazilian formats."""
    lines = [
        f"Month {h['month']}: spent {_brl(h['spend'])}, income {_brl(h['income'])}, net {_brl(h['net'])} "
        f"({h['transactions']} transactions)"
    ]
    comparisons = []
    if h.get("spend_vs_prev_pct") is not None:
        comparisons.append(f"{_signed_pct(h['spend_vs_prev_pct'])} vs the previous month")
    if h.get("spend_vs_avg_3m_pct") is not None:
        comparisons.append(f"{_signed_pct(h['spend_vs_avg_3m_pct'])} vs the 3-month average")
    if comparisons:
        lines.append("Spend: " + ", ".join(comparisons))
    if h["top_categories"]:
        lines.append("Top categories: " + "; ".join(f"{c} {_brl(v)}" for c, v in h["top_categories"]))
    if h.get("credit_limit") is not None:
        lines.append(
            f"Card: {_brl(h['card_spend'])} of the {_brl(h['credit_limit'])} limit"
            + (f" ({format_ptbr(Decimal(str(h['card_limit_used_pct'])), 1)}%)" if h.get("card_limit_used_pct") else "")
        )
    if h["installments_months"]:
        months = h["installments_months"]
        lines.append(f"Future installments: {_brl(h['installments_total'])} over {months} month{'s' * (months > 1)}")
    return lines
