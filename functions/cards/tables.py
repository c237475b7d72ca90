"""The cards domain's Glue tables (standard library only: the stack reads it too).

The columns are not declared: the Catalog step takes them from the Parquet the Glue jobs wrote
(glue/cards_curate.py, glue/cards_book.py); the comments apply to the columns found there.
"""

from __future__ import annotations

from functions.common.tables import Table

INVOICES = Table(
    name="cards_invoices",
    zone="curated",
    partition=("issue_month", "string"),
    description="",
    comments={
        "valor_fatura": "invoice amount, BRL, exact (decimal(18,2))",
        "valor_pagamento_minimo": "minimum payment, BRL, exact; estimated as 15% when the file has none",
        "minimo_estimado": "true when valor_pagamento_minimo was estimated",
        "source_file": "the raw file, as its S3 URI",
        "source_line": "line of the raw file (header = 1)",
    },
)
PAYMENTS = Table(
    name="cards_payments",
    zone="curated",
    partition=("payment_month", "string"),
    description="",
    comments={
        "valor_pagamento": "payment amount, BRL, exact (decimal(18,2))",
        "source_file": "the raw file, as its S3 URI",
        "source_line": "line of the raw file (header = 1)",
    },
)
BOOK = Table(name="cards_book", zone="refined", partition=("ref", "string"), description="")
TABLES = (INVOICES, PAYMENTS, BOOK)
