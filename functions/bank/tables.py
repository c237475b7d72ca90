"""The bank domain's Glue tables (standard library only: the stack reads it too).

The columns come from the step's Arrow schemas at catalog time (functions/bank/pipeline.py
TRANSACTIONS_SCHEMA, functions/bank/summary.py): the Parquet is written from those schemas.
"""

from __future__ import annotations

from functions.common.tables import Table

TRANSACTIONS = Table(
    name="bank_transactions",
    zone="curated",
    partition=("month", "string"),
    description="Nubank card and NuConta transactions, deduplicated across sources",
    comments={
        "transaction_key": "dedup key (hash of the source id, or of date, description, amount and occurrence)",
        "date": "transaction date, America/Sao_Paulo",
        "account": "card or nuconta",
        "account_ref": "keyed hash (HMAC-SHA256) of the account identifier; never the number itself",
        "type": "purchase, installment, refund, bill_payment, income, transfer_in, transfer_out, fee, interest",
        "category": "the source's category, else the first matching keyword rule, else by type",
        "category_source": "source, rule or type",
        "description": "as in the source, with CPFs, account and card numbers replaced by markers",
        "amount": "BRL, exact; money out of the person's pocket is negative",
        "installment_number": "n of 'Parcela n/N'",
        "installment_count": "N of 'Parcela n/N'",
        "source": "api (pynubank), card_csv, nuconta_csv or ofx",
        "source_file": "the export file (or API snapshot) the row comes from",
        "source_line": "line (CSV) or position (OFX, API) in the source",
        "transaction_id": "the source's transaction id (Nubank UUID, OFX FITID), if any",
    },
)
MONTHLY_SUMMARY = Table(
    name="bank_monthly_summary",
    zone="refined",
    partition=("month", "string"),
    description="Spend, income and net per month and category ('_all': the month)",
    comments={
        "spend": "money out in the month, BRL (positive)",
        "income": "money in, BRL",
        "net": "income - spend, BRL",
        "spend_prev_month": "the previous month's spend, BRL",
        "spend_avg_3m": "mean spend of the 3 previous months, BRL",
        "spend_vs_prev_pct": "percent change against the previous month",
        "spend_vs_avg_3m_pct": "percent change against the 3-month mean",
        "card_spend": "credit-card spend, BRL",
        "credit_limit": "the card's credit limit, BRL",
        "card_limit_used_pct": "card_spend / credit_limit, percent",
    },
)
INSTALLMENTS = Table(
    name="bank_installments",
    zone="refined",
    partition=("due_month", "string"),
    description="Installments still to be charged, per month due",
    comments={"amount": "the installment's amount, BRL (negative: money out)"},
)
TABLES = (TRANSACTIONS, MONTHLY_SUMMARY, INSTALLMENTS)
