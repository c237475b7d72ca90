"""The example domain's Glue table (standard library only: the stack reads it too)."""

from __future__ import annotations

from functions.common.tables import Table

RATES = Table(
    name="example_rates",
    zone="curated",
    partition=("reference_date", "date"),
    description="Example domain (test only): one reference rate per currency and day",
    columns={"currency": "string", "rate": "decimal(18,6)", "source_line": "int"},
    comments={
        "reference_date": "the day the rate is for (America/Sao_Paulo calendar)",
        "currency": "ISO 4217 code, e.g. USD",
        "rate": "BRL per one unit of the currency, exact decimal",
        "source_line": "line of the source CSV (header = 1)",
    },
)
TABLES = (RATES,)
