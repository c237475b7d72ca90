"""The catalog's column comments (functions/<domain>/tables.py) name real columns and cover the
columns the real-world inputs added: the instrument's key and currency of b3_quotes, the discontinuity
flags of stock_indicators."""

from __future__ import annotations

from functions.stocks.cotahist import QUOTES_SCHEMA
from functions.stocks.tables import TABLES

TABLE_COMMENTS = {table.name: dict(table.comments) for table in TABLES}

STOCK_INDICATORS = {  # glue/stocks_transform.py, indicators(): the refined table's columns
    "dt_ref", "ticker", "close", "daily_return", "log_return", "ma_5", "ma_21", "ma_63", "ma_252", "high_21",
    "low_21", "high_252", "low_252", "vol_21", "drawdown_252", "ibov_level", "ibov_return", "beta_63", "sharpe_63",
    "sharpe_252", "in_ibov", "weight_pct", "currency", "currency_changed", "distribution_changed",
}  # fmt: skip


def test_b3_quotes_comments_name_its_columns_and_cover_the_instrument_and_currency() -> None:
    comments = TABLE_COMMENTS["b3_quotes"]
    assert set(comments) <= set(QUOTES_SCHEMA.names)
    assert {"market_type", "term_days", "currency", "distribution"} <= set(comments)
    assert "PRAZOT" in comments["term_days"] and "MODREF" in comments["currency"]


def test_stock_indicators_comments_cover_the_currency_flags_and_prices_are_not_said_to_be_brl() -> None:
    comments = TABLE_COMMENTS["stock_indicators"]
    assert set(comments) <= STOCK_INDICATORS
    assert {"currency", "currency_changed", "distribution_changed"} <= set(comments)
    assert "row's currency" in comments["close"] and "row's currency" in comments["ma_5"]
