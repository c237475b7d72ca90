"""The stocks email's line of headline risk, from the Glue job's result."""

from __future__ import annotations

from functions.stocks.pipeline import headline_risk
from functions.stocks.tables import TABLES as STOCK_TABLES

TABLES = {table.name: {"columns": table.columns, "comments": table.comments} for table in STOCK_TABLES}


def test_the_headline_names_the_riskiest_sector_and_the_biggest_mover():
    headline = {
        "worst_sector_var": {"dt_ref": "2026-11-27", "sector": "Petróleo", "var_95": 0.03127},
        "biggest_mover": {"dt_ref": "2026-11-27", "ticker": "PRIO3", "daily_return": -0.0712},
    }
    assert headline_risk(headline) == [
        "Risk on 2026-11-27: worst sector VaR 95% (1 day) Petróleo 3.13%; biggest mover PRIO3 -7.12%"
    ]


def test_without_a_full_window_only_the_mover_is_said_and_nothing_without_either():
    mover = {
        "biggest_mover": {"dt_ref": "2024-02-29", "ticker": "VALE3", "daily_return": 0.0251},
        "worst_sector_var": {"dt_ref": "2024-02-29"},
    }
    assert headline_risk(mover) == ["Risk on 2024-02-29: biggest mover VALE3 +2.51%"]
    assert headline_risk({}) == []


def test_every_analytics_column_has_a_comment_with_its_unit():
    for table in ("risk_metrics", "trading_signals", "correlations", "sector_performance"):
        spec = TABLES[table]
        assert set(spec["comments"]) <= set(spec["columns"]), table
    for table in ("risk_metrics", "trading_signals", "correlations"):
        assert set(TABLES[table]["comments"]) == set(TABLES[table]["columns"]), table
    ratios = {"beta_252", "sharpe_252", "sortino_252", "correlation_ibov_63", "correlation_ibov_252", "level", "name"}
    ratios.add("benchmark")  # a name, not a number
    for column, comment in TABLES["risk_metrics"]["comments"].items():
        if column not in ratios:
            assert comment.startswith("fraction"), column
