"""The BNDES domain's Glue table (standard library only: the stack reads it too)."""

from __future__ import annotations

from functions.common.tables import Table

COLUMNS = {
    "accounting_standard": "string",
    "resource_name": "string",
    "resource_id": "string",
    "source_line": "int",
    "account": "string",
    "account_label": "string",
    "value": "decimal(20,2)",
    "attributes": "string",
}
COMMENTS = {
    "accounting_standard": "BRGAAP, IFRS or PRUDENCIAL (Conglomerado Prudencial)",
    "resource_name": "CKAN resource (or input file) the row comes from",
    "resource_id": "CKAN resource id (file-<name> for files fed by hand)",
    "source_line": "line of the source CSV (header = 1)",
    "account": "balance-sheet line: the source column name in snake_case",
    "account_label": "the source column header as published",
    "value": "amount in millions of reais (R$ milhões, as the CKAN resources describe it), exact decimal",
    "attributes": "JSON of the source row's text columns",
}

BALANCE_SHEET = Table(
    name="bndes_balance_sheet",
    zone="curated",
    partition=("reference_date", "date"),
    description="BNDES balance sheets (BRGAAP, IFRS, Prudential Conglomerate), long form, one row per "
    "account and reference date",
    columns=COLUMNS,
    comments=COMMENTS,
)
TABLES = (BALANCE_SHEET,)
