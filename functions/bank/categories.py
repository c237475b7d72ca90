"""Categories of bank transactions: the keyword rules and the order in which a category is decided.

The rules are ``keyword,category`` lines (``functions/bank/categories.csv``, or the person's own copy
at ``s3://<raw>/config/bank/categories.csv``, which wins). Keywords are matched on the folded
description (lower case, no accents: `functions.bank.model.fold`).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from functions.bank.model import fold
from functions.common.lake import Lake, s3_uri

RULES_FILE = Path(__file__).with_name("categories.csv")
RULES_OVERRIDE_KEY = "config/bank/categories.csv"


def load_rules(lake: Lake) -> list[tuple[str, str]]:
    """Keyword rules: the user's copy in the raw bucket if there is one, else the bundled file."""
    override = s3_uri(lake.raw_bucket, RULES_OVERRIDE_KEY)
    text = lake.get(override).decode("utf-8-sig") if lake.exists(override) else RULES_FILE.read_text("utf-8")
    return parse_rules(text)


def parse_rules(text: str) -> list[tuple[str, str]]:
    """The (folded keyword, lower-case category) rules of a ``keyword,category`` CSV text.

    Blank lines and ``#`` comments are skipped, and so is a ``keyword,category`` header.

    Raises
    ------
    ValueError
        For a row that is not exactly a non-empty keyword and a non-empty category.
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rules = []
    for number, row in enumerate(csv.reader(lines), start=1):
        if number == 1 and [c.strip().lower() for c in row] == ["keyword", "category"]:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ValueError(f"category rules: bad rule {','.join(row)!r} (expected keyword,category)")
        rules.append((fold(row[0]), row[1].strip().lower()))
    return rules


TYPE_CATEGORIES = {
    "bill_payment": "pagamento de fatura",
    "income": "renda",
    "transfer_in": "transferências",
    "transfer_out": "transferências",
    "fee": "tarifas e impostos",
    "interest": "juros",
}


def categorize(
    description: str, source_category: str | None, kind: str, rules: list[tuple[str, str]]
) -> tuple[str, str]:
    """(category, how it was decided).

    A keyword matches whole words of the folded description ("99" matches "99 Pop", not "Loja
    1999"); a source's category is spelt as the rules spell it ("Eletronicos" -> "eletrônicos").
    """
    if kind in ("bill_payment", "fee", "interest"):
        return TYPE_CATEGORIES[kind], "type"
    if source_category:
        spelling = {fold(category): category for _, category in rules}
        return spelling.get(fold(source_category), source_category), "source"
    folded = fold(description)
    for keyword, category in rules:
        if re.search(rf"(?<![a-z0-9]){re.escape(keyword)}(?![a-z0-9])", folded):
            return category, "rule"
    return TYPE_CATEGORIES.get(kind, "outros"), "type"
