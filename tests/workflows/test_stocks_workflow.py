"""The deployed stocks definition on the embedded AWS: Lambda steps in process, the Glue job on local Spark."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities import parameters

from finlake.local.runner import RunPlan, run_plans
from finlake.local.runtime import BUCKETS
from finlake.local.workspace import Workspace
from finlake.query import run_query
from finlake.samples import b3
from stacks.specs import STOCKS

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
CURATED = BUCKETS["CURATED_BUCKET"]


def quiet(*args: object, **kwargs: object) -> None:
    return None


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield Workspace.open(tmp_path / "ws")


def objects(ws: Workspace, bucket: str, prefix: str) -> list[str]:
    root = ws.s3_dir / bucket
    return sorted(p.relative_to(root).as_posix() for p in root.glob(f"{prefix}**/*") if p.is_file())


def test_a_trading_day_loads_quotes_and_computes_indicators(ws: Workspace):
    [result] = run_plans(ws, [RunPlan(STOCKS, date="2025-03-12")], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    assert [s["state"] for s in result.states] == [
        "Fetch",
        "AnythingNew?",
        "Validate",
        "Transform",
        "Catalog",
        "NotifySuccess",
    ]
    assert result.output["counts"]["rows_quarantined"] == 0
    assert result.output["counts"]["rows_in"] == result.output["counts"]["rows_valid"] > 1000
    _, [(quotes,)] = run_query(ws, "SELECT count(*) FROM finlake_curated.b3_quotes WHERE dt_ref = DATE '2025-03-12'")
    assert quotes == result.output["counts"]["rows_valid"]
    _, rows = run_query(
        ws, "SELECT ticker, close, daily_return, ma_5 FROM finlake_refined.stock_indicators WHERE ticker = 'PETR4'"
    )
    assert len(rows) == 1 and rows[0][1] > 0 and rows[0][3] is None  # one session: no 5-session average yet
    [email] = result.notifications
    assert email["subject"] == "[finlake] stocks 2025-03-12 succeeded"
    assert "COTAHIST: COTAHIST_D12032025.ZIP" in email["message"]
    assert objects(ws, CURATED, "_staging/") == []


@pytest.mark.parametrize("day", ["2025-12-25", "2025-03-04", "2025-03-15"], ids=["christmas", "carnival", "saturday"])
def test_no_session_ends_successfully_without_a_failure_email(ws: Workspace, day: str):
    [result] = run_plans(ws, [RunPlan(STOCKS, date=day)], echo=quiet)

    assert result.status == "SUCCEEDED"
    assert [s["state"] for s in result.states] == ["Fetch", "AnythingNew?", "NothingNew"]
    assert result.notifications == []
    assert "no COTAHIST" in result.output["summary"]


def test_a_truncated_file_fails_clearly_and_writes_nothing_to_curated(ws: Workspace, tmp_path: Path):
    content = b3.cotahist_daily(date(2025, 3, 12))
    truncated = tmp_path / "COTAHIST_D12032025.TXT"
    truncated.write_bytes(content[: content.rindex(b"99COTAHIST")])
    records = content.count(b"\n") - 2

    [result] = run_plans(ws, [RunPlan(STOCKS, date="2025-03-12", inputs=[truncated])], echo=quiet)

    assert result.status == "FAILED"
    assert result.error == "TruncatedFile"
    assert "COTAHIST_D12032025.TXT" in result.cause and f"{records:,}" in result.cause
    assert [s["state"] for s in result.states][-4:] == [
        "ValidateFailed",
        "NotifyFailure",
        "SendToDeadLetterQueue",
        "Fail",
    ]
    assert objects(ws, CURATED, "b3_quotes/") == []
    copy, rejected = objects(ws, CURATED, "quarantine/stocks/")
    assert copy.endswith("/COTAHIST_D12032025.TXT") and rejected == copy + ".rejected.json"
    assert (ws.s3_dir / CURATED / copy).read_bytes() == truncated.read_bytes()
    assert "truncated" in json.loads((ws.s3_dir / CURATED / rejected).read_text())["reason"]
    assert objects(ws, BUCKETS["RAW_BUCKET"], "inbox/stocks/") == ["inbox/stocks/COTAHIST_D12032025.TXT"]
    [email] = result.notifications
    assert email["subject"] == "[finlake] stocks FAILED at Validate"
    assert "Failed state: Validate" in email["message"] and "Error: TruncatedFile" in email["message"]
    assert "Cause: " in email["message"] and "COTAHIST_D12032025.TXT" in email["message"]
    assert "stackTrace" not in email["message"]


@pytest.mark.skipif(not FIXTURES.exists(), reason="../shared/fixtures is not beside the checkout")
def test_the_real_b3_daily_file_and_portfolio_load_as_is(ws: Workspace):
    inputs = [FIXTURES / "b3" / "COTAHIST_D25062021.TXT", FIXTURES / "b3" / "IBOVDia_03-10-25.csv"]

    [result] = run_plans(ws, [RunPlan(STOCKS, date="2021-06-25", inputs=inputs)], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    counts = result.output["counts"]
    # every record is an instrument of its own: 7,518 in = 7,518 curated + 0 quarantined + 0 duplicates
    assert (counts["rows_in"], counts["rows_curated"], counts["rows_quarantined"], counts["rows_duplicates"]) == (
        7518,
        7518,
        0,
        0,
    )
    _, [(curated,)] = run_query(ws, "SELECT count(*) FROM finlake_curated.b3_quotes WHERE dt_ref = DATE '2021-06-25'")
    assert curated == 7518
    # 133 forward tickers (TPMERC 030) trade at several terms the same day: one row per term, none lost
    _, terms = run_query(
        ws,
        "SELECT term_days, close FROM finlake_curated.b3_quotes WHERE ticker = 'AERI3T' ORDER BY term_days",
    )
    assert [t for t, _ in terms] == ["031", "045", "060", "090", "180"]
    _, [(forwards,)] = run_query(
        ws, "SELECT count(*) FROM finlake_curated.b3_quotes WHERE market_type = '030' AND dt_ref = DATE '2021-06-25'"
    )
    assert forwards == 653
    _, rows = run_query(
        ws,
        "SELECT open, high, low, close, trades FROM finlake_curated.b3_quotes "
        "WHERE ticker = 'A1AP34' AND dt_ref = DATE '2021-06-25'",
    )
    # from the raw line: PREABE 0000000006228, PREMAX ...6340, PREMIN ...6228, PREULT ...6324, TOTNEG 00007
    assert [tuple(float(v) for v in rows[0])] == [(62.28, 63.40, 62.28, 63.24, 7.0)]
    _, [(constituents,)] = run_query(
        ws, "SELECT count(*) FROM finlake_curated.b3_ibov_portfolio WHERE dt_ref = DATE '2025-10-03'"
    )
    assert constituents == 82


def test_the_seed_users_athena_query_runs_as_is_after_a_backfill(ws: Workspace, tmp_path: Path):
    path = tmp_path / "COTAHIST_A2024.ZIP"
    content = b3.cotahist_yearly(2024, records_target=15_000, until=date(2024, 2, 29))
    path.write_bytes(b3.cotahist_zip(path.name, content, "COTAHIST_A2024.TXT"))
    # the IBOV portfolios in force, as the demo's backfill has them (finlake.samples.stocks.stocks_demo):
    # without one there are no sectors, and the sector queries of the README return nothing
    inputs = [path]
    for day in b3.recomposition_days(2024):
        if day <= date(2024, 2, 29):
            portfolio = tmp_path / f"IBOV-portfolio-{day}.json"
            portfolio.write_bytes(b3.ibov_portfolio_json(day))
            inputs.append(portfolio)

    [result] = run_plans(ws, [RunPlan(STOCKS, date="2024-02-29", inputs=inputs)], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    columns, rows = run_query(
        ws,
        "SELECT * FROM finlake_refined.stock_indicators WHERE ticker = 'PETR4' "
        "AND dt_ref BETWEEN DATE '2024-01-01' AND DATE '2024-01-31'",
    )
    assert len(rows) == len(b3.trading_days(date(2024, 1, 1), date(2024, 1, 31)))
    record = dict(zip(columns, rows[-1], strict=True))
    assert record["ma_5"] is not None and record["ma_21"] is not None and record["ma_63"] is None
    # the README's query of each analytics table runs as is and returns rows
    for query in readme_queries()[1:]:
        columns, rows = run_query(ws, query)
        assert rows, query
    _, [(ends,)] = run_query(ws, "SELECT count(DISTINCT dt_ref) FROM finlake_refined.correlations")
    assert ends == 1  # January's last session; February's is written when March's first session is loaded
    # The US watchlist's risk against SPY: a backfill asks for Alpha Vantage's full history.
    _, etf = run_query(
        ws,
        "SELECT name, benchmark, beta_252, correlation_ibov_252, sharpe_252 FROM finlake_refined.risk_metrics "
        "WHERE level = 'etf' AND dt_ref = DATE '2024-02-29' ORDER BY name",
    )
    assert [row[0] for row in etf] == [
        "SPY",
        "XLB",
        "XLC",
        "XLE",
        "XLF",
        "XLI",
        "XLK",
        "XLP",
        "XLRE",
        "XLU",
        "XLV",
        "XLY",
    ]
    assert {row[1] for row in etf} == {"SPY"} and all(row[3] is not None and row[4] is not None for row in etf)
    assert etf[0][2] == pytest.approx(1.0) and etf[0][3] == pytest.approx(1.0)  # SPY against itself
    [email] = result.notifications
    assert "Risk on 2024-02-29: worst sector VaR 95% (1 day)" not in email["message"]  # no 252-session window yet
    assert "Risk on 2024-02-29: biggest mover " in email["message"]


def readme_queries() -> list[str]:
    """The SQL blocks of the README's stocks section, query by query (the PETR4 example first)."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = text.index("### What the stocks domain does")
    section = text[start : text.index("\n### ", start + 4)]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    return [q.strip() for block in blocks for q in block.split("\n\n") if q.strip()]


def test_every_quote_record_is_accounted_for_with_duplicates_bad_records_and_forward_terms(
    ws: Workspace, tmp_path: Path
):
    from decimal import Decimal

    from functions.stocks.cotahist import format_header, format_record, format_trailer

    day = date(2025, 3, 12)
    records = b3.cotahist_daily(day).split(b"\r\n")[1:-2]  # the quote records of the generated day
    bad = records[5][:56] + b"ABCDEFGHIJKLM" + records[5][69:]  # letters in PREABE
    forwards = [
        format_record(
            {"ticker": "PETR4T", "dt_ref": day, "market_type": "030", "term_days": term, "close": Decimal(price)}
        )
        for term, price in (("030", "37.10"), ("060", "37.55"))
    ]
    body = [*records[:5], bad, *records[6:], records[0], *forwards]  # records[0] twice: a duplicate instrument
    content = b"\r\n".join([format_header(day), *body, format_trailer(len(body) + 2, generated=day)]) + b"\r\n"
    path = tmp_path / "COTAHIST_D12032025.TXT"
    path.write_bytes(content)

    [result] = run_plans(ws, [RunPlan(STOCKS, date="2025-03-12", inputs=[path])], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    counts = result.output["counts"]
    assert (counts["rows_in"], counts["rows_curated"], counts["rows_quarantined"], counts["rows_duplicates"]) == (
        len(body),
        len(body) - 2,
        1,
        1,
    )
    assert (
        f"Quote records: rows in {len(body)} = {len(body) - 2} curated + 1 quarantined + 1 duplicates dropped"
        in (result.notifications[-1]["message"])
    )
    _, rows = run_query(ws, "SELECT term_days, close FROM finlake_curated.b3_quotes WHERE ticker = 'PETR4T' ORDER BY 1")
    assert [(t, float(c)) for t, c in rows] == [("030", 37.10), ("060", 37.55)]


def test_fred_and_alpha_vantage_load_and_refused_keys_only_warn(ws: Workspace, monkeypatch: pytest.MonkeyPatch):
    [result] = run_plans(ws, [RunPlan(STOCKS, date="2025-03-12")], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    _, rows = run_query(
        ws,
        "SELECT series, count(*), count(value), max(date) FROM finlake_curated.macro_series "
        "WHERE source = 'fred' GROUP BY series ORDER BY series",
    )
    by_series = {series: (n, valued, last) for series, n, valued, last in rows}
    assert sorted(by_series) == ["CPIAUCSL", "DFF", "DGS10", "VIXCLS"]
    assert by_series["DFF"][2] == date(2025, 3, 12) and by_series["CPIAUCSL"][2] == date(2025, 3, 1)
    vix_total, vix_valued, _ = by_series["VIXCLS"]
    assert vix_total - vix_valued == 4  # "." on 2024-06-19, 2024-07-04, 2024-12-25, 2025-01-01: stored as NULL
    [email] = result.notifications
    assert "Global macro series: CPIAUCSL, DFF, DGS10, VIXCLS" in email["message"]
    assert len(objects(ws, BUCKETS["RAW_BUCKET"], "stocks/fred/")) == 4
    # Alpha Vantage: a daily run asks for the compact answer (the last 100 sessions) of the 12 symbols; its
    # first answer is the burst rate-limit note, retried after the backoff and never stored.
    _, [(symbols, bars, last)] = run_query(
        ws, "SELECT count(DISTINCT symbol), count(*), max(date) FROM finlake_curated.global_quotes"
    )
    assert (symbols, bars, last) == (12, 1200, date(2025, 3, 12))
    assert "Global quotes: SPY, XLB, XLC, XLE, XLF, XLI, XLK, XLP, XLRE, XLU, XLV, XLY" in email["message"]
    assert "Note: Alpha Vantage XLB: rate-limited 1 time(s), answered after backoff" in email["message"]
    raw = objects(ws, BUCKETS["RAW_BUCKET"], "stocks/alpha_vantage/")
    assert len(raw) == 12 and all("/TIME_SERIES_DAILY_ADJUSTED-compact/dt=2025-03-12/" in key for key in raw)
    from finlake.samples import alpha_vantage as av_sample
    from finlake.samples import fred as sample

    stored = [p.read_bytes() for p in (ws.s3_dir / BUCKETS["RAW_BUCKET"]).rglob("*") if p.is_file()]
    assert not any(sample.LOCAL_KEY.encode() in b or av_sample.LOCAL_KEY.encode() in b for b in stored)
    assert not any(b"Thank you for using Alpha Vantage" in b for b in stored)  # the note is not raw data

    # Keys the sources do not know: one warning each, nothing fetched from them, the quotes still load.
    monkeypatch.setattr(sample, "LOCAL_KEY", "f" * 32)  # what the local secrets hold from now on
    monkeypatch.setattr(av_sample, "LOCAL_KEY", "NOTAKEY000000000")
    parameters.clear_caches()  # Fetch caches secrets for five minutes, as in Lambda
    other = Workspace.open(ws.root.parent / "ws-refused")
    [refused] = run_plans(other, [RunPlan(STOCKS, date="2025-03-13")], echo=quiet)
    assert refused.status == "SUCCEEDED", refused.cause
    [warning] = [w for w in refused.output["warnings"] if "FRED" in w]
    assert "FRED series DFF not fetched" in warning and "api_key is not registered" in warning
    assert "f" * 32 not in json.dumps(refused.output) and "api_key=***" in warning
    assert objects(other, BUCKETS["RAW_BUCKET"], "stocks/fred/") == []
    [av_warning] = [w for w in refused.output["warnings"] if "Alpha Vantage" in w]
    assert "Alpha Vantage XLB not fetched" in av_warning and "apikey is invalid or missing" in av_warning
    assert "apikey=***" in av_warning and "NOTAKEY" not in json.dumps(refused.output)
    assert objects(other, BUCKETS["RAW_BUCKET"], "stocks/alpha_vantage/") == []
