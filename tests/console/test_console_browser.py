"""`finlake console` in headless Chromium: the runs list, a run's state graph (its nodes read from
cytoscape.js itself, a state clicked on the canvas), a failed run's dead letter redriven from its
page, the SQL editor with its CSV download, and one dashboard per domain (the figures' traces read
from plotly.js). Every assertion is on what the browser rendered; no request leaves 127.0.0.1.
The tests share one workspace and run in file order (the redrive adds a run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from finlake.console.data import definition
from finlake.query import run_query, table_summaries
from tests.console.conftest import Browser, Lake

pytestmark = pytest.mark.slow

CY_NODES = """() => {
  const holder = Array.from(document.querySelectorAll('#graph, #graph *')).find(e => e._cyreg && e._cyreg.cy);
  const cy = holder._cyreg.cy;
  const box = holder.getBoundingClientRect();
  return cy.nodes().map(n => ({id: n.id(), classes: n.classes(), x: box.left + n.renderedPosition('x'),
                               y: box.top + n.renderedPosition('y')}));
}"""
PLOTS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => d._fullData.map(t => ({
  name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])})))"""


def graph(page: Any) -> dict[str, dict[str, Any]]:
    page.wait_for_function("() => Array.from(document.querySelectorAll('#graph, #graph *')).some(e => e._cyreg)")
    page.wait_for_timeout(500)  # the dagre layout places the nodes
    return {node["id"]: node for node in page.evaluate(CY_NODES)}


def status(node: dict[str, Any]) -> str:
    return next(c for c in node["classes"] if c in {"succeeded", "failed", "caught", "not-run", "running", "terminal"})


def plots(page: Any, count: int) -> list[list[dict[str, Any]]]:
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {count}")
    drawn: list[list[dict[str, Any]]] = page.evaluate(PLOTS)
    return drawn


def test_runs_list_shows_each_domains_executions(browser: Browser, console_url: str, lake: Lake):
    page = browser.page
    page.goto(console_url + "/runs")
    page.wait_for_selector("text=bndes (2)")
    for heading in ("bank (1)", "cards (1)", "stocks (1)"):
        assert page.locator(f"h2:text-is('{heading}')").count() == 1
    good = page.locator(f"a:text-is('{lake.good}')")
    row = page.locator("tr", has=page.locator(f"a:text-is('{lake.failed}')"))
    assert "FAILED" in row.inner_text() and "2026-11-23" in row.inner_text()
    good_row = page.locator("tr", has=good).inner_text()
    assert "SUCCEEDED" in good_row and "2026-11-20" in good_row and "80 / 80 / 0" in good_row
    browser.shot("runs")
    good.click()
    page.wait_for_selector(f"h1:has-text('{lake.good}')")
    assert browser.refused == []


def test_a_runs_graph_is_its_definition_colored_by_the_run(browser: Browser, console_url: str, lake: Lake):
    page = browser.page
    page.goto(f"{console_url}/runs/{lake.good}")
    nodes = graph(page)

    assert set(nodes) == set(definition("bndes")["States"]) | {"Start", "End"}
    ran = ["Fetch", "AnythingNew?", "Validate", "Transform", "Catalog", "NotifySuccess"]
    assert {name: status(nodes[name]) for name in ran} == dict.fromkeys(ran, "succeeded")
    assert {status(nodes[n]) for n in ("FetchFailed", "NotifyFailure", "Fail", "NothingNew")} == {"not-run"}
    assert "Subject: [finlake] bndes 2026-11-20 succeeded" in page.locator(".email").inner_text()

    page.mouse.click(nodes["Transform"]["x"], nodes["Transform"]["y"])
    page.wait_for_selector("#state-name:text-is('Transform')")
    assert page.locator("#state-input").inner_text().startswith("{")
    assert json.loads(page.locator("#state-input").inner_text())["run_id"] == lake.good
    assert "partitions_written" in page.locator("#state-output").inner_text()
    assert "succeeded" in page.locator("#state-detail").inner_text()
    browser.shot("run")
    assert browser.refused == []


def test_a_failed_run_shows_its_dead_letter_and_redrive_reruns_it(browser: Browser, console_url: str, lake: Lake):
    page = browser.page
    page.goto(f"{console_url}/runs/{lake.failed}")
    nodes = graph(page)

    assert status(nodes["Fetch"]) == "caught"
    assert {status(nodes[n]) for n in ("FetchFailed", "NotifyFailure", "SendToDeadLetterQueue")} == {"succeeded"}
    assert status(nodes["Fail"]) == "failed" and status(nodes["Validate"]) == "not-run"
    letter = json.loads(page.locator("#dead-letter").inner_text())
    assert letter["execution_name"] == lake.failed and letter["failed_state"] == "Fetch"
    assert letter["error"] == "NotTheFile" and letter["input"]["date"] == "2026-11-23"
    assert "failed" in page.locator(".email").inner_text()
    page.mouse.click(nodes["Fetch"]["x"], nodes["Fetch"]["y"])
    page.wait_for_selector("#state-name:text-is('Fetch')")
    error = page.locator("#state-error").inner_text()
    assert (
        error.startswith("NotTheFile: https://dadosabertos.bndes.gov.br/api/3/action/package_show")
        and "error page (HTML)" in error
        and "Traceback" not in error
    )
    browser.shot("run-failed")

    page.click("#redrive")
    log = page.wait_for_selector("#redrive-log", timeout=180_000).inner_text()

    assert f"OK {lake.failed}-r1: SUCCEEDED; message deleted" in log
    assert lake.ws.dead_letters() == []
    page.click(f"a:text-is('see {lake.failed}-r1')")
    page.wait_for_selector(f"h1:has-text('{lake.failed}-r1')")
    rerun = graph(page)
    [record] = [r for r in lake.ws.runs("bndes") if r["name"] == f"{lake.failed}-r1"]
    assert record["status"] == "SUCCEEDED"  # the same data as the 2026-11-20 run: it ends at NothingNew
    assert {n for n, node in rerun.items() if status(node) == "succeeded"} == {s["state"] for s in record["states"]}
    assert status(rerun["Fetch"]) == "succeeded" and status(rerun["FetchFailed"]) == "not-run"
    assert page.locator("#dead-letter").count() == 0
    assert browser.refused == []


def test_the_lake_lists_tables_and_the_sql_editor_runs_and_downloads(browser: Browser, console_url: str, lake: Lake):
    page = browser.page
    page.goto(f"{console_url}/lake")
    page.wait_for_selector("#sql")
    for summary in table_summaries(lake.ws):
        row = page.locator(f"#tables-{summary.database} tr", has_text=summary.location)
        assert row.locator("td").nth(1).inner_text() == str(summary.rows)
    sql = (
        "SELECT reference_date, accounting_standard, value FROM finlake_curated.bndes_balance_sheet "
        "WHERE account = 'ativo_total' ORDER BY reference_date DESC, value DESC LIMIT 4"
    )
    _, expected = run_query(lake.ws, sql)
    page.fill("#sql", sql)
    page.click("#run-sql")
    page.wait_for_selector(".sql-count:text-is('4 rows')")
    cells = page.locator("#sql-result td").all_inner_texts()
    assert [cells[i : i + 3] for i in range(0, 12, 3)] == [[str(v) for v in row] for row in expected]
    browser.shot("lake")

    with page.expect_download() as download:
        page.click("#download-csv")
    content = Path(download.value.path()).read_bytes().decode()
    assert "\r" not in content
    assert content.splitlines()[0] == "reference_date,accounting_standard,value"
    assert content.splitlines()[1:] == [",".join(str(v) for v in row) for row in expected]

    page.fill("#sql", "SELECT * FROM finlake_curated.no_such_table")
    page.click("#run-sql")
    assert "does not exist" in page.wait_for_selector(".sql-error").inner_text()
    assert browser.refused == []


def test_stocks_dashboard(browser: Browser, console_url: str, lake: Lake):
    page = browser.page
    page.goto(f"{console_url}/dashboards/stocks")
    prices, drawdown, sectors = plots(page, 3)

    ticker = page.locator("h3").first.inner_text().split(":")[0]
    _, rows = run_query(
        lake.ws,
        f"SELECT close, drawdown_252 FROM finlake_refined.stock_indicators WHERE ticker = '{ticker}' ORDER BY dt_ref",
    )
    assert [t["name"] for t in prices] == ["close", "ma_21", "ma_63"]
    assert prices[0]["y"] == pytest.approx([c for c, _ in rows])
    assert len(rows) > 252  # so that drawdown_252 has values
    drawn = [y for y in drawdown[0]["y"] if y == y]  # NaN: fewer than 252 sessions before
    assert drawn == pytest.approx([100 * d for _, d in rows if d is not None])
    assert drawn and min(drawn) < 0 and max(drawn) <= 0
    _, sector_names = run_query(lake.ws, "SELECT DISTINCT sector FROM finlake_refined.sector_performance")
    assert {t["name"] for t in sectors} == {s for (s,) in sector_names}
    text = page.locator("#dashboard-panels").inner_text()
    for table in ("finlake_refined.risk_metrics", "finlake_refined.trading_signals"):  # their newest partition
        assert table in text
    assert "var_95" in text and "rsi_14" in text
    browser.shot("dashboard-stocks")
    assert browser.refused == []


def test_bank_dashboard(browser: Browser, console_url: str, lake: Lake):
    page = browser.page
    page.goto(f"{console_url}/dashboards/bank")
    by_category, income_spend, card, installments = plots(page, 4)

    _, months = run_query(
        lake.ws,
        "SELECT month, income, spend, card_spend FROM finlake_refined.bank_monthly_summary "
        "WHERE category = '_all' ORDER BY month",
    )
    assert [t["name"] for t in income_spend] == ["income", "spend"]
    assert income_spend[0]["x"] == [m for m, *_ in months]
    assert income_spend[1]["y"] == pytest.approx([float(s) for _, _, s, _ in months])
    assert card[0]["y"] == pytest.approx([float(c) for *_, c in months])
    assert {t["name"] for t in by_category} and "_all" not in {t["name"] for t in by_category}
    assert installments and all(y > 0 for t in installments for y in t["y"])
    browser.shot("dashboard-bank")
    assert browser.refused == []


def test_cards_dashboard(browser: Browser, console_url: str, lake: Lake):
    page = browser.page
    page.goto(f"{console_url}/dashboards/cards")
    distribution, rates = plots(page, 2)

    assert sorted(set(distribution[0]["x"])) == ["2024-07", "2024-08", "2024-09"]
    assert [t["name"] for t in rates] == ["on-time rate, %", "delinquency rate, %"]
    assert all(0 <= y <= 100 for t in rates for y in t["y"])
    browser.shot("dashboard-cards")
    assert browser.refused == []


def test_bndes_dashboard_and_its_account_picker(browser: Browser, console_url: str, lake: Lake):
    page = browser.page
    page.goto(f"{console_url}/dashboards/bndes")
    [lines] = plots(page, 1)

    _, dates = run_query(
        lake.ws,
        "SELECT DISTINCT reference_date FROM finlake_curated.bndes_balance_sheet "
        "WHERE account = 'ativo_total' AND accounting_standard = 'IFRS'",
    )
    names = {t["name"] for t in lines}
    assert "IFRS Consolidado" in names and {"BRGAAP Individual", "BRGAAP Consolidado"} <= names
    ifrs = next(t for t in lines if t["name"] == "IFRS Consolidado")
    assert len(ifrs["x"]) == len(dates)
    browser.shot("dashboard-bndes")

    page.click("#dashboard-choice")
    page.fill("input.dash-dropdown-search", "passivo_total")
    page.click("[role=option]:has(input[value='passivo_total'])")
    page.wait_for_selector("h3:text-is('passivo_total per accounting standard')")
    [after] = plots(page, 1)
    _, values = run_query(
        lake.ws,
        "SELECT value FROM finlake_curated.bndes_balance_sheet "
        "WHERE account = 'passivo_total' AND accounting_standard = 'IFRS' ORDER BY reference_date",
    )
    assert next(t for t in after if t["name"] == "IFRS Consolidado")["y"] == pytest.approx(
        [float(v) for (v,) in values]
    )
    assert browser.refused == []
