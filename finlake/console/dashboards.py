"""The dashboards: one per domain, drawn with Plotly from the lake's tables.

Every figure comes from one query through `finlake.query.run_query` (the project's SQL entry
point, the one `finlake query` and the SQL editor use). The queries are plain SELECTs with
WHERE and ORDER BY, the same text in Athena's dialect and DuckDB's; what little is computed on
top (sums per month, rates) is done in pandas here, in the open. A panel whose table is not in
the catalog yet says which run writes it instead of failing.

Units are the tables' own (their column comments): BRL for bank amounts, millions of reais for
BNDES values, fractions for stock returns and drawdowns (shown as percentages), percent (0-100)
for the card book's ``pct_`` variables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from finlake.console.data import has_table
from finlake.local.workspace import Workspace
from finlake.query import run_query

TEMPLATE = "plotly_white"


@dataclass
class Panel:
    """A titled figure, a table of rows (``table``: columns, records), or a note when there is no data."""

    title: str
    figure: go.Figure | None = None
    table: tuple[list[str], list[dict[str | float | int, str]]] | None = None
    note: str = ""


@dataclass
class Dashboard:
    """One domain's dashboard: its panels and the optional picker (ticker, account or variable) they were drawn for."""

    domain: str
    title: str
    panels: list[Panel] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)  # the ticker / account / variable picker's options
    chosen: str = ""
    choice_label: str = ""


def frame(ws: Workspace, sql: str) -> pd.DataFrame:
    """The query's rows as a DataFrame, numeric columns as floats for plotting.

    Numeric columns include exact decimals and columns that are all NULL (e.g. a 63-session mean after a few sessions).
    """
    columns, rows = run_query(ws, sql)
    df = pd.DataFrame.from_records(rows, columns=columns)
    for column in df.columns:
        values = df[column].dropna()
        if values.map(lambda v: isinstance(v, Decimal | int | float) and not isinstance(v, bool)).all():
            df[column] = pd.to_numeric(df[column].map(lambda v: None if v is None else float(v)), errors="coerce")
    return df


def missing(table: str, run: str) -> Panel:
    """The panel shown for a table the lake does not hold yet, naming the ``finlake run`` that writes it."""
    return Panel(table, note=f"no table {table} yet: `finlake run {run}` writes it")


def _layout(figure: go.Figure, **kwargs: Any) -> go.Figure:
    figure.update_layout(template=TEMPLATE, margin={"l": 50, "r": 20, "t": 50, "b": 40}, height=360, **kwargs)
    return figure


# -- stocks --------------------------------------------------------------------------------------

INDICATORS = "finlake_refined.stock_indicators"
SECTORS = "finlake_refined.sector_performance"
RISK_TABLES = ("finlake_refined.risk_metrics", "finlake_refined.trading_signals")


def stocks(ws: Workspace, ticker: str | None = None) -> Dashboard:
    """The stocks dashboard: prices with moving averages and drawdown, sector returns, risk and signals.

    A ticker's close with its 21- and 63-session moving averages and its 252-session drawdown; each sector's
    year-to-date return over time; the newest partition of the risk and signal tables when they exist.
    """
    board = Dashboard("stocks", "Stocks: B3 quotes and indicators", choice_label="Ticker")
    if not has_table(ws, INDICATORS):
        board.panels.append(missing(INDICATORS, "stocks"))
    else:
        tickers = frame(ws, f"SELECT DISTINCT ticker FROM {INDICATORS} ORDER BY ticker")["ticker"].tolist()
        board.choices = tickers
        board.chosen = ticker if ticker and ticker in tickers else (str(tickers[0]) if tickers else "")
        df = frame(
            ws,
            f"SELECT dt_ref, close, ma_21, ma_63, drawdown_252 FROM {INDICATORS} "
            f"WHERE ticker = '{board.chosen.replace(chr(39), '')}' ORDER BY dt_ref",
        )
        prices = px.line(
            df, x="dt_ref", y=["close", "ma_21", "ma_63"], labels={"value": "BRL per share", "dt_ref": "session"}
        )
        board.panels.append(Panel(f"{board.chosen}: close and moving averages (21, 63 sessions)", _layout(prices)))
        drawdown = px.area(  # NULL until the ticker has 252 sessions: those are left out, not drawn as 0
            df.dropna(subset=["drawdown_252"]).assign(drawdown_pct=lambda d: d["drawdown_252"] * 100),
            x="dt_ref",
            y="drawdown_pct",
            labels={"drawdown_pct": "drawdown, %", "dt_ref": "session"},
        )
        drawdown.update_traces(line_color="#c0392b")
        board.panels.append(Panel(f"{board.chosen}: drawdown from the 252-session high", _layout(drawdown)))
    if not has_table(ws, SECTORS):
        board.panels.append(missing(SECTORS, "stocks"))
    else:
        df = frame(ws, f"SELECT dt_ref, sector, return_ytd FROM {SECTORS} ORDER BY dt_ref, sector")
        figure = px.line(
            df.assign(return_ytd_pct=df["return_ytd"] * 100),
            x="dt_ref",
            y="return_ytd_pct",
            color="sector",
            labels={"return_ytd_pct": "return since January, %", "dt_ref": "session"},
        )
        board.panels.append(Panel("Sector performance: year-to-date return", _layout(figure)))
    for table in RISK_TABLES:
        if has_table(ws, table):
            board.panels.append(newest_partition(ws, table))
    return board


def newest_partition(ws: Workspace, table: str) -> Panel:
    """The rows of a table's newest partition (first 200), as a table panel."""
    from finlake.console.data import catalog_tables

    info = next(t for t in catalog_tables(ws) if f"{t.database}.{t.name}" == table)
    sql = f"SELECT * FROM {table}"
    if info.partition_keys and info.partitions:
        key = info.partition_keys[0]
        newest = info.partitions[0].split("/")[0]
        kind = next(c[1] for c in info.columns if c[0] == key)
        literal = f"DATE '{newest}'" if kind == "date" else f"'{newest}'"
        sql += f" WHERE {key} = {literal}"
    df = frame(ws, sql + " LIMIT 200")
    title = f"{table}" + (f" ({info.partitions[0]})" if info.partitions else "")
    return Panel(title, table=(list(df.columns), table_cells(df)))


def table_cells(df: pd.DataFrame, decimals: int = 4) -> list[dict[Any, str]]:
    """A panel table's rows as text: doubles rounded to ``decimals`` places, NULL (None, NaN) empty.

    ``astype(str)`` alone showed binary floats' artefacts (``18.147000000000001``) and ``nan``/``None``.
    """
    shown = df.round(decimals).astype(object).where(df.notna(), "")
    return cast(list[dict[Any, str]], shown.astype(str).to_dict("records"))


# -- bank ----------------------------------------------------------------------------------------

SUMMARY = "finlake_refined.bank_monthly_summary"
INSTALLMENTS = "finlake_refined.bank_installments"


def bank(ws: Workspace) -> Dashboard:
    """The bank dashboard: spend, income, card limit and installments due, per month (all BRL).

    Spend by category per month, income against spend, card spend against the credit limit, and the installments still
    to be charged per month due.
    """
    board = Dashboard("bank", "Bank: Nubank card and NuConta")
    if not has_table(ws, SUMMARY):
        board.panels.append(missing(SUMMARY, "bank --input FILE"))
        return board
    df = frame(
        ws, f"SELECT month, category, spend, income, card_spend, credit_limit FROM {SUMMARY} ORDER BY month, category"
    )
    per_category = df[df["category"] != "_all"]
    figure = px.bar(per_category, x="month", y="spend", color="category", labels={"spend": "spend, BRL"})
    board.panels.append(Panel("Spend by category per month", _layout(figure, barmode="stack", xaxis_type="category")))
    months = df[df["category"] == "_all"]
    figure = go.Figure(
        [
            go.Bar(x=months["month"], y=months["income"], name="income", marker_color="#27ae60"),
            go.Bar(x=months["month"], y=months["spend"], name="spend", marker_color="#c0392b"),
        ]
    )
    board.panels.append(Panel("Income vs spend (BRL)", _layout(figure, barmode="group", xaxis_type="category")))
    figure = go.Figure(
        [
            go.Bar(x=months["month"], y=months["card_spend"], name="card spend", marker_color="#8e44ad"),
            go.Scatter(
                x=months["month"],
                y=months["credit_limit"],
                name="credit limit",
                mode="lines+markers",
                line_color="#34495e",
            ),
        ]
    )
    if months["credit_limit"].isna().all():
        title = "Card use against the limit (BRL; no limit known: the app's exports carry none, the API snapshot does)"
    else:
        title = "Card use against the limit (BRL)"
    board.panels.append(Panel(title, _layout(figure, xaxis_type="category")))
    if not has_table(ws, INSTALLMENTS):
        board.panels.append(missing(INSTALLMENTS, "bank --input FILE"))
    else:
        due = frame(ws, f"SELECT due_month, description, amount FROM {INSTALLMENTS} ORDER BY due_month")
        due = due.assign(to_pay=due["amount"].abs())  # stored positive (what will be charged)
        figure = px.bar(due, x="due_month", y="to_pay", color="description", labels={"to_pay": "to be charged, BRL"})
        board.panels.append(
            Panel("Future installments per month due", _layout(figure, barmode="stack", xaxis_type="category"))
        )
    return board


# -- cards ---------------------------------------------------------------------------------------

BOOK = "finlake_refined.cards_book"


def cards(ws: Workspace, variable: str | None = None) -> Dashboard:
    """The cards dashboard: a book variable's distribution, and on-time and delinquency rates.

    One book variable's distribution per reference month (box plot over clients), and the on-time and delinquency rates
    of the month's due invoices over time: on-time = invoices paid in full by their due date / due invoices; delinquency
    = due invoices paid late or not yet / due invoices (window u1m, from ``pct_faturas_em_dia_u1m``,
    ``qtd_faturas_em_atraso_u1m`` and ``qtd_faturas_vencidas_u1m``).
    """
    board = Dashboard("cards", "Cards: the 48-variable customer book", choice_label="Book variable")
    if not has_table(ws, BOOK):
        board.panels.append(missing(BOOK, "cards"))
        return board
    from finlake.console.data import catalog_tables

    info = next(t for t in catalog_tables(ws) if f"{t.database}.{t.name}" == BOOK)
    numeric = [c[0] for c in info.columns if c[1] in {"int", "bigint", "double"} or c[1].startswith("decimal")]
    board.choices = [c for c in numeric if c != "id_cliente"]
    board.chosen = variable if variable in board.choices else "vl_fatura_total_u1m"
    if board.chosen not in board.choices and board.choices:
        board.chosen = board.choices[0]
    df = frame(ws, f"SELECT ref, {board.chosen} FROM {BOOK} ORDER BY ref")
    figure = px.box(df, x="ref", y=board.chosen, points=False, labels={"ref": "reference month"})
    board.panels.append(Panel(f"{board.chosen} per reference month", _layout(figure, xaxis_type="category")))
    rates = frame(
        ws,
        f"SELECT ref, qtd_faturas_vencidas_u1m, pct_faturas_em_dia_u1m, qtd_faturas_em_atraso_u1m FROM {BOOK} "
        "WHERE qtd_faturas_vencidas_u1m > 0 ORDER BY ref",
    )
    rates = rates.assign(on_time=rates["pct_faturas_em_dia_u1m"] / 100 * rates["qtd_faturas_vencidas_u1m"])
    by_month = rates.groupby("ref", as_index=False)[
        ["qtd_faturas_vencidas_u1m", "on_time", "qtd_faturas_em_atraso_u1m"]
    ].sum()
    by_month["on-time rate, %"] = 100 * by_month["on_time"] / by_month["qtd_faturas_vencidas_u1m"]
    by_month["delinquency rate, %"] = 100 * by_month["qtd_faturas_em_atraso_u1m"] / by_month["qtd_faturas_vencidas_u1m"]
    figure = px.line(
        by_month,
        x="ref",
        y=["on-time rate, %", "delinquency rate, %"],
        markers=True,
        labels={"value": "% of the month's due invoices", "ref": "reference month"},
    )
    board.panels.append(
        Panel("On-time and delinquency rates (invoices due in the month)", _layout(figure, xaxis_type="category"))
    )
    return board


# -- bndes ---------------------------------------------------------------------------------------

BALANCE = "finlake_curated.bndes_balance_sheet"


def bndes(ws: Workspace, account: str | None = None) -> Dashboard:
    """The BNDES dashboard: one balance-sheet account over time, in millions of reais.

    One line per accounting standard (BRGAAP individual and consolidated, IFRS, PRUDENCIAL).
    """
    board = Dashboard("bndes", "BNDES: balance sheets", choice_label="Account")
    if not has_table(ws, BALANCE):
        board.panels.append(missing(BALANCE, "bndes"))
        return board
    board.choices = frame(ws, f"SELECT DISTINCT account FROM {BALANCE} ORDER BY account")["account"].tolist()
    board.chosen = account if account in board.choices else ("ativo_total" if "ativo_total" in board.choices else "")
    if not board.chosen and board.choices:
        board.chosen = board.choices[0]
    df = frame(
        ws,
        f"SELECT reference_date, accounting_standard, value, attributes FROM {BALANCE} "
        f"WHERE account = '{board.chosen.replace(chr(39), '')}' ORDER BY reference_date",
    )
    # BRGAAP is published twice per date, "Individual" and "Consolidado" (the row's categoria): two lines
    category = df["attributes"].map(lambda text: json.loads(text or "{}").get("categoria", ""))
    df["series"] = (df["accounting_standard"] + " " + category).str.strip()
    figure = px.line(
        df,
        x="reference_date",
        y="value",
        color="series",
        markers=True,
        labels={"value": "R$ millions", "reference_date": "reference date"},
    )
    board.panels.append(Panel(f"{board.chosen} per accounting standard", _layout(figure)))
    return board


BUILDERS: dict[str, Callable[..., Dashboard]] = {"stocks": stocks, "bank": bank, "cards": cards, "bndes": bndes}
