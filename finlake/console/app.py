"""`finlake console`: a local web app over the workspace, on Dash (Flask underneath).

Pages (one `dcc.Location` router):

- ``/`` and ``/runs``: every local execution per domain (status, start, duration, partition, rows);
- ``/runs/<execution>``: the state machine drawn from its definition with dash-cytoscape (dagre
  layout, as the Step Functions console's graph), each state colored by what happened in the run;
  a click on a state shows its input, output, duration and error; the email the run sent; for a
  failed run its dead-letter message and a Redrive button (`finlake.local.redrive.apply`);
- ``/lake``: databases, tables, columns with types and comments, partitions, row counts, and a
  SQL editor (`finlake.query.run_query`) with the result as a table and a CSV download;
- ``/dashboards/<domain>``: Plotly figures from `finlake.console.dashboards`.

Every asset (Dash's React bundles, plotly.js, cytoscape.js and its dagre layout) is served by
this server from the installed Python packages: ``serve_locally`` is on and nothing names a CDN,
so the console works offline (tests/console asserts that no request leaves 127.0.0.1).
"""

from __future__ import annotations

import json
import threading
from typing import Any, cast
from urllib.parse import unquote

import dash_cytoscape as cyto
from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.dash_table.DataTable import DataTable
from flask import Response, request

from finlake.console import dashboards
from finlake.console import data as console_data
from finlake.local.workspace import Workspace
from finlake.query import QueryError, athena_text, run_query, table_summaries, to_csv
from stacks.specs import DOMAINS

cyto.load_extra_layouts()  # the dagre layout, from dash-cytoscape's own extra bundle

STATUS_COLORS = {
    console_data.SUCCEEDED: "#2e7d32",
    console_data.FAILED: "#c62828",
    console_data.CAUGHT: "#ef6c00",
    console_data.RUNNING: "#1565c0",
    console_data.NOT_RUN: "#9e9e9e",
}
RUN_STATUS_COLORS = {"SUCCEEDED": "#2e7d32", "FAILED": "#c62828", "TIMED_OUT": "#c62828", "ABORTED": "#c62828"}
DEFAULT_SQL = """SELECT reference_date, accounting_standard, account, value
FROM finlake_curated.bndes_balance_sheet
WHERE account = 'ativo_total'
ORDER BY reference_date DESC
LIMIT 20"""
RESULT_ROWS = 1000  # rows shown in the editor's table; the CSV download has them all

GRAPH_STYLE: list[dict[str, Any]] = [
    {
        "selector": "node",
        "style": {
            "label": "data(label)",
            "shape": "round-rectangle",
            "width": "data(width)",
            "height": 28,
            "padding": "10px",
            "text-valign": "center",
            "font-size": 12,
            "color": "#fff",
            "border-width": 1,
            "border-color": "#555",
        },
    },
    *[{"selector": f".{status}", "style": {"background-color": color}} for status, color in STATUS_COLORS.items()],
    {
        "selector": ".terminal",
        "style": {"shape": "ellipse", "background-color": "#eceff1", "color": "#37474f", "width": 60},
    },
    {"selector": "node[type = 'Choice']", "style": {"shape": "diamond", "height": 44, "padding": "16px"}},
    {"selector": ".not-run", "style": {"color": "#fff", "opacity": 0.75}},
    {
        "selector": "edge",
        "style": {
            "curve-style": "bezier",
            "target-arrow-shape": "triangle",
            "width": 1.5,
            "line-color": "#b0bec5",
            "target-arrow-color": "#b0bec5",
        },
    },
    {"selector": ".catch", "style": {"line-style": "dashed"}},
    {"selector": ".taken", "style": {"line-color": "#37474f", "target-arrow-color": "#37474f", "width": 2.5}},
    {"selector": ":selected", "style": {"border-width": 4, "border-color": "#fdd835"}},
]

PAGE_STYLE = {"fontFamily": "system-ui, sans-serif", "margin": "0 24px 40px", "color": "#263238"}
NAV_LINK = {"marginRight": "18px", "color": "#0d47a1", "textDecoration": "none", "fontWeight": 600}
PRE_STYLE = {
    "background": "#f5f5f5",
    "padding": "10px",
    "whiteSpace": "pre-wrap",
    "wordBreak": "break-word",
    "maxHeight": "320px",
    "overflow": "auto",
    "fontSize": "12px",
}


LOCAL_HOSTS = ("127.0.0.1", "localhost")


def create_app(ws: Workspace, port: int | None = None) -> Dash:
    """The console's Dash app over ``ws`` (its Flask server is ``app.server``).

    It answers only requests whose ``Host`` is 127.0.0.1 or localhost (at ``port`` when given):
    anything else gets 403, so a page whose DNS name is rebound to 127.0.0.1 cannot drive it.
    """
    app = Dash(
        __name__,
        title="finlake console",
        serve_locally=True,
        suppress_callback_exceptions=True,
        update_title="",  # no "Updating..." title while a callback runs
    )
    app.server.before_request(lambda: _refuse_foreign_host(port))
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            html.Div(
                [
                    html.Span("finlake", style={"fontWeight": 800, "fontSize": "20px", "marginRight": "28px"}),
                    dcc.Link("Runs", href="/runs", style=NAV_LINK),
                    dcc.Link("Lake", href="/lake", style=NAV_LINK),
                    html.Span("Dashboards:", style={"marginRight": "10px", "color": "#546e7a"}),
                    *[
                        dcc.Link(name, href=f"/dashboards/{name}", style=NAV_LINK)
                        for name in ("stocks", "bank", "cards", "bndes")
                    ],
                    html.Span(str(ws.root), style={"float": "right", "color": "#90a4ae", "fontSize": "12px"}),
                ],
                style={"padding": "14px 0", "borderBottom": "1px solid #cfd8dc", "marginBottom": "16px"},
            ),
            html.Div(id="page"),
        ],
        style=PAGE_STYLE,
    )
    _callbacks(app, ws)
    return app


def _callbacks(app: Dash, ws: Workspace) -> None:
    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def route(pathname: str | None) -> Any:
        path = unquote(pathname or "/").rstrip("/") or "/"
        if path in {"/", "/runs"}:
            return runs_page(ws)
        if path.startswith("/runs/"):
            return run_page(ws, path.removeprefix("/runs/"))
        if path == "/lake":
            return lake_page(ws)
        if path.startswith("/dashboards/"):
            return dashboard_page(ws, path.removeprefix("/dashboards/"))
        return html.P(f"no page {path}")

    _run_callbacks(app, ws)
    _lake_callbacks(app, ws)

    @app.callback(
        Output("dashboard-panels", "children"),
        Input("dashboard-choice", "value"),
        State("url", "pathname"),
        prevent_initial_call=True,
    )
    def choose(value: str, pathname: str) -> Any:
        domain = unquote(pathname).rstrip("/").rsplit("/", 1)[-1]
        return panels(_board(ws, domain, value).panels)


def _run_callbacks(app: Dash, ws: Workspace) -> None:
    redrive_lock = threading.Lock()

    @app.callback(
        Output("state-detail", "children"),
        Input("graph", "tapNodeData"),
        State("run-name", "data"),
        prevent_initial_call=True,
    )
    def show_state(node: dict[str, Any] | None, name: str) -> Any:
        found = console_data.find_run(ws, name)
        if not node or not found:
            return no_update
        return state_panel(console_data.state_detail(found[1]["domain"], found[1], node["id"]))

    @app.callback(
        Output("redrive-output", "children"),
        Input("redrive", "n_clicks"),
        State("run-name", "data"),
        prevent_initial_call=True,
    )
    def redrive(_: int, name: str) -> Any:
        if not redrive_lock.acquire(blocking=False):
            return "a redrive is already running"
        try:
            return redrive_run(ws, name)
        finally:
            redrive_lock.release()


def redrive_run(ws: Workspace, name: str) -> Any:
    """Rerun the failed run ``name`` from its dead letter (`finlake.local.redrive.apply`, only this run).

    The page shows what it printed, the outcome, and a link to the rerun's page.
    """
    from finlake.local import redrive as local_dlq

    found = console_data.find_run(ws, name)
    if not found:
        return f"no run {name}"
    home, record = found
    lines: list[str] = []
    reruns = local_dlq.apply(
        home, record["domain"], base=name, echo=lambda *a, **_: lines.append(" ".join(map(str, a)))
    )
    outcome = []
    for r in reruns:
        ex = r.execution
        if r.succeeded and ex:
            outcome.append(f"OK {ex.name}: SUCCEEDED; message deleted")
        else:
            outcome.append(f"FAILED {ex.name if ex else r.run.base}: {ex.status if ex else r.error}; message kept")
    # a full page load: dash-cytoscape keeps the old nodes' classes when only the elements change
    links = [html.A(f"see {r.execution.name}", href=f"/runs/{r.execution.name}") for r in reruns if r.execution]
    text = "\n".join([*lines, "", *(outcome or ["no dead-letter message for this run any more"])])
    return [html.Pre(text, style=PRE_STYLE, id="redrive-log"), *links]


def _lake_callbacks(app: Dash, ws: Workspace) -> None:
    @app.callback(
        Output("sql-result", "columns"),
        Output("sql-result", "data"),
        Output("sql-message", "children"),
        Input("run-sql", "n_clicks"),
        State("sql", "value"),
        prevent_initial_call=True,
    )
    def run_sql(_: int, sql: str) -> Any:
        try:
            columns, rows = run_query(ws, sql or "")
        except QueryError as exc:
            return [], [], html.Div(str(exc), className="sql-error", style={"color": "#c62828"})
        ids = [f"c{i}" for i in range(len(columns))]
        shown = [{i: _cell(v) for i, v in zip(ids, row, strict=True)} for row in rows[:RESULT_ROWS]]
        more = f" (first {RESULT_ROWS} shown; the CSV has them all)" if len(rows) > RESULT_ROWS else ""
        return (
            [{"name": c, "id": i} for c, i in zip(columns, ids, strict=True)],
            shown,
            html.Div(f"{len(rows)} rows{more}", className="sql-count"),
        )

    @app.callback(
        Output("csv", "data"),
        Input("download-csv", "n_clicks"),
        State("sql", "value"),
        prevent_initial_call=True,
    )
    def download(_: int, sql: str) -> Any:
        try:
            columns, rows = run_query(ws, sql or "")
        except QueryError:
            return no_update
        return {"content": to_csv(columns, rows), "filename": "query.csv", "type": "text/csv"}


def _cell(value: Any) -> Any:
    """A grid cell: numbers stay numbers (the grid sorts them), the rest as Athena writes it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None if value is None else athena_text(value)


# -- pages -------------------------------------------------------------------------------------


def runs_page(ws: Workspace) -> Any:
    """The runs page: one table per domain of the workspace's executions (times in UTC), or a hint if none."""
    rows = console_data.run_rows(ws)
    if not rows:
        return html.P("no runs yet: try `finlake run bndes` (or `make demo`)")
    sections: list[Any] = [html.H1("Runs")]
    for domain in sorted({r.domain for r in rows}):
        mine = [r for r in rows if r.domain == domain]
        sections += [
            html.H2(f"{domain} ({len(mine)})"),
            DataTable(
                id=f"runs-{domain}",
                columns=[
                    {"name": "execution", "id": "name", "presentation": "markdown"},
                    {"name": "status", "id": "status"},
                    {"name": "started (UTC)", "id": "started"},
                    {"name": "duration (s)", "id": "duration"},
                    {"name": "partition", "id": "partition"},
                    {"name": "rows in / valid / quarantined", "id": "rows"},
                ],
                data=[
                    {
                        "name": f"[{r.name}](/runs/{r.name})",
                        "status": r.status,
                        "started": r.started[:19].replace("T", " "),
                        "duration": f"{r.duration_s:.1f}",
                        "partition": r.partition,
                        "rows": r.rows,
                    }
                    for r in mine
                ],
                markdown_options={"link_target": "_self"},
                sort_action="native",
                page_size=15,
                style_cell={"textAlign": "left", "fontSize": "13px", "padding": "4px 8px"},
                style_data_conditional=[
                    {"if": {"filter_query": f'{{status}} = "{status}"', "column_id": "status"}, "color": color}
                    for status, color in RUN_STATUS_COLORS.items()
                ],
            ),
        ]
    return html.Div(sections)


def run_page(ws: Workspace, name: str) -> Any:
    """The page of run ``name``: its facts, its state graph (click a state for its detail) and the email it sent.

    A run whose dead-letter message waits also shows the message and a Redrive button.
    """
    found = console_data.find_run(ws, name)
    if not found:
        return html.P(f"no run {name}: the runs page lists them")
    home, record = found
    domain = record["domain"]
    color = RUN_STATUS_COLORS.get(record["status"], "#1565c0")
    facts = [
        ("domain", domain),
        ("partition", console_data.partition_of(record)),
        ("started (UTC)", record["started"][:19].replace("T", " ")),
        ("duration", f"{record.get('duration_s', 0):.1f} s"),
        ("rows in / valid / quarantined", console_data.rows_of(record) or "-"),
    ]
    if record.get("error"):
        facts.append(("error", f"{record['error']} at {record.get('failed_state') or '?'}"))
    children: list[Any] = [
        dcc.Store(id="run-name", data=name),
        html.H1([name, html.Span(record["status"], id="run-status", style={"color": color, "marginLeft": "16px"})]),
        html.Table(
            [html.Tr([html.Th(k, style={"textAlign": "left", "paddingRight": "16px"}), html.Td(v)]) for k, v in facts]
        ),
        html.Div(
            [
                html.Div(
                    [
                        cyto.Cytoscape(
                            id="graph",
                            elements=console_data.graph_elements(domain, record),
                            layout={"name": "dagre", "rankDir": "TB", "nodeSep": 30, "rankSep": 40},
                            stylesheet=GRAPH_STYLE,
                            style={"width": "100%", "height": "720px", "border": "1px solid #cfd8dc"},
                            userZoomingEnabled=True,
                            autoungrabify=True,
                        ),
                        legend(),
                    ],
                    style={"flex": "3"},
                ),
                html.Div(
                    html.P("Click a state to see its input, output, duration and error."),
                    id="state-detail",
                    style={"flex": "2", "paddingLeft": "16px"},
                ),
            ],
            style={"display": "flex", "marginTop": "12px"},
        ),
    ]
    letter = console_data.dead_letter(home, name) if record["status"] != "SUCCEEDED" else None
    if letter:
        from functions.notifier.notify import readable_cause

        body = letter["body"]
        children += [
            html.H2("Dead-letter message"),
            html.P(
                [
                    html.B(f"{body.get('error')} at {body.get('failed_state')}"),
                    f": {readable_cause(str(body.get('error')), body.get('cause'), str(body.get('failed_state')))}",
                ]
            ),
            html.P(f"sent {letter['sent'][:19].replace('T', ' ')} UTC; waiting on the queue to be redriven"),
            html.Pre(json.dumps(letter["body"], indent=2, ensure_ascii=False), id="dead-letter", style=PRE_STYLE),
            html.Button("Redrive", id="redrive", n_clicks=0, style={"fontSize": "15px", "padding": "6px 18px"}),
            html.Span(
                " reruns the stored input as <execution>-r<N>; the message is deleted only if it succeeds",
                style={"color": "#546e7a"},
            ),
            dcc.Loading(html.Div(id="redrive-output")),
        ]
    notes = record.get("notifications") or []
    children.append(html.H2("Email sent by the run"))
    if not notes:
        children.append(html.P("none"))
    for note in notes:
        children.append(
            html.Pre(f"Subject: {note['subject']}\n\n{note['message']}", className="email", style=PRE_STYLE)
        )
    return html.Div(children)


def legend() -> Any:
    """The state graph's colour legend, one badge per state status."""
    return html.Div(
        [
            html.Span(
                status,
                style={
                    "background": color,
                    "color": "#fff",
                    "padding": "2px 8px",
                    "marginRight": "6px",
                    "borderRadius": "4px",
                },
            )
            for status, color in STATUS_COLORS.items()
        ],
        style={"marginTop": "6px", "fontSize": "12px"},
    )


def state_panel(detail: dict[str, Any]) -> Any:
    """One state's detail panel (`finlake.console.data.state_detail`): type, status, duration, error, input, output."""
    duration = detail.get("duration_s")
    children: list[Any] = [
        html.H3(detail["state"], id="state-name"),
        html.P(
            [
                f"{detail['type']} state, ",
                html.B(detail["status"] or "-", style={"color": STATUS_COLORS.get(detail["status"], "#263238")}),
                f", {duration:.3f} s" if duration is not None else "",
            ]
        ),
    ]
    if detail.get("comment"):
        children.append(html.P(detail["comment"], style={"color": "#546e7a"}))
    if detail.get("error"):
        from functions.notifier.notify import readable_cause

        readable = readable_cause(detail["error"], detail.get("cause"), detail["state"])
        children += [
            html.H4("Error"),
            html.P([html.B(detail["error"]), f": {readable}"], id="state-error"),
            html.Details([html.Summary("raw cause"), html.Pre(detail.get("cause") or "", style=PRE_STYLE)]),
        ]
    for part in ("input", "output"):
        children += [
            html.H4(part.capitalize()),
            html.Pre(detail.get(part) or "(not recorded)", id=f"state-{part}", style=PRE_STYLE),
        ]
    return children


def lake_page(ws: Workspace) -> Any:
    """The lake page: the catalog's tables per database with rows, partitions and last run, then the SQL editor."""
    tables = console_data.catalog_tables(ws)
    summaries = {f"{s.database}.{s.name}": s for s in table_summaries(ws)}
    children: list[Any] = [html.H1("Lake")]
    if not tables:
        children.append(html.P("no tables yet: run a domain first, e.g. `finlake run bndes`"))
    for database in sorted({t.database for t in tables}):
        mine = [t for t in tables if t.database == database]
        children += [
            html.H2(database),
            DataTable(
                id=f"tables-{database}",
                columns=[{"name": c, "id": c} for c in ("table", "rows", "partitions", "location", "last run")],
                data=[
                    {
                        "table": t.name,
                        "rows": summaries[f"{database}.{t.name}"].rows,
                        "partitions": len(t.partitions),
                        "location": t.location,
                        "last run": summaries[f"{database}.{t.name}"].last_run,
                    }
                    for t in mine
                ],
                style_cell={"textAlign": "left", "fontSize": "13px", "padding": "4px 8px"},
            ),
            *[table_details(t) for t in mine],
        ]
    children += [
        html.H2("SQL", id="sql-editor"),
        html.P("Athena-style SQL over the catalog's tables (finlake query); SHOW TABLES and DESCRIBE too."),
        dcc.Textarea(
            id="sql", value=DEFAULT_SQL, style={"width": "100%", "height": "140px", "fontFamily": "monospace"}
        ),
        html.Div(
            [
                html.Button("Run", id="run-sql", n_clicks=0, style={"marginRight": "10px", "padding": "5px 18px"}),
                html.Button("Download CSV", id="download-csv", n_clicks=0, style={"padding": "5px 12px"}),
                dcc.Download(id="csv"),
            ],
            style={"margin": "8px 0"},
        ),
        dcc.Loading(
            [
                html.Div(id="sql-message", style={"margin": "6px 0"}),
                DataTable(
                    id="sql-result",
                    columns=[],
                    data=[],
                    page_size=20,
                    sort_action="native",
                    style_table={"overflowX": "auto"},
                    style_cell={"textAlign": "left", "fontSize": "13px", "padding": "4px 8px"},
                ),
            ]
        ),
    ]
    return html.Div(children)


def table_details(t: console_data.TableInfo) -> Any:
    """A table's collapsible detail: its description, columns (name, type, comment) and first 40 partitions."""
    shown = t.partitions[:40]
    more = f" ... and {len(t.partitions) - len(shown)} more" if len(t.partitions) > len(shown) else ""
    return html.Details(
        [
            html.Summary(f"{t.database}.{t.name}: columns and partitions"),
            html.P(t.description) if t.description else None,
            DataTable(
                columns=[{"name": c, "id": c} for c in ("column", "type", "comment")],
                data=[{"column": n, "type": k, "comment": c} for n, k, c in t.columns],
                style_cell={"textAlign": "left", "fontSize": "12px", "padding": "2px 8px", "whiteSpace": "normal"},
            ),
            html.P(
                f"partitions ({'/'.join(t.partition_keys)}): " + (", ".join(shown) + more if shown else "none"),
                style={"fontSize": "12px"},
            )
            if t.partition_keys
            else html.P("not partitioned", style={"fontSize": "12px"}),
        ],
        style={"margin": "6px 0"},
    )


def _board(ws: Workspace, domain: str, choice: str | None = None) -> dashboards.Dashboard:
    build = dashboards.BUILDERS[domain]
    if domain == "bank":
        return build(ws)
    return build(ws, choice)


def dashboard_page(ws: Workspace, domain: str) -> Any:
    """The dashboard page of ``domain`` (`finlake.console.dashboards`), with its picker when it has one."""
    if domain not in dashboards.BUILDERS:
        return html.P(f"no dashboard {domain}: one per domain ({', '.join(sorted(DOMAINS))})")
    board = _board(ws, domain)
    children: list[Any] = [html.H1(board.title)]
    if board.choices:
        children.append(
            html.Div(
                [
                    html.Label(board.choice_label, style={"marginRight": "8px"}),
                    dcc.Dropdown(
                        id="dashboard-choice",
                        options=board.choices,
                        value=board.chosen,
                        clearable=False,
                        style={"width": "360px", "display": "inline-block", "verticalAlign": "middle"},
                    ),
                ]
            )
        )
    children.append(html.Div(panels(board.panels), id="dashboard-panels"))
    return html.Div(children)


def panels(items: list[dashboards.Panel]) -> list[Any]:
    """Dash components for dashboard panels: a figure, a table, or the panel's note when it has no data."""
    out: list[Any] = []
    for panel in items:
        body: Any
        if panel.figure is not None:
            body = dcc.Graph(figure=panel.figure, config={"displaylogo": False})
        elif panel.table is not None:
            columns, records = panel.table
            body = DataTable(
                columns=[{"name": c, "id": c} for c in columns],
                data=cast(Any, records),  # DataTable's stub wants Sequence[dict[..., SupportsFloat | ...]]
                page_size=10,
                style_table={"overflowX": "auto"},
                style_cell={"fontSize": "12px"},
            )
        else:
            body = html.P(panel.note, className="no-data", style={"color": "#546e7a"})
        out.append(html.Div([html.H3(panel.title), body], className="panel"))
    return out


def _refuse_foreign_host(port: int | None) -> Any:
    """403 unless the request names this console itself (the DNS-rebinding guard)."""
    host, _, given_port = request.host.rpartition(":") if ":" in request.host else (request.host, "", "")
    if host.lower() not in LOCAL_HOSTS or (port is not None and given_port != str(port)):
        return Response("finlake console answers http://127.0.0.1 only\n", status=403, mimetype="text/plain")
    return None


def serve(ws: Workspace, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Serve the console until interrupted (Flask's threaded server, through Dash)."""
    create_app(ws, port).run(host=host, port=port, debug=False)
