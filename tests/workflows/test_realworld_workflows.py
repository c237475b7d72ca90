"""The real-world quirks of ../shared/fixtures/realworld/ through the deployed workflows on the embedded AWS,
where their right outcome is a workflow outcome: retried, warned and continued, failed naming the URL,
reported and quarantined (the parsers' side of each file is in tests/unit/test_realworld.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from finlake.local import runner
from finlake.local.runner import RunPlan, run_plans
from finlake.local.runtime import BUCKETS, EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.quarantine import read_quarantine
from finlake.query import run_query
from finlake.samples.market_http import SampleMarketHttp
from functions.common.http import HttpResponse, ReplayHttp, write_cassette_entry
from stacks.specs import BNDES, CARDS, STOCKS

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
REALWORLD = FIXTURES / "realworld"
RAW, CURATED = BUCKETS["RAW_BUCKET"], BUCKETS["CURATED_BUCKET"]
B3_2026 = "https://bvmf.bmfbovespa.com.br/InstDados/SerHist/COTAHIST_A2026.ZIP"

pytest.importorskip("pyspark")
if not REALWORLD.exists():  # pragma: no cover - CI has ../shared beside the checkout
    pytest.skip("../shared/fixtures/realworld is not beside the checkout", allow_module_level=True)


def quiet(*args: object, **kwargs: object) -> None:
    return None


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield Workspace.open(tmp_path / "ws")


def objects(ws: Workspace, bucket: str, prefix: str) -> list[str]:
    root = ws.s3_dir / bucket
    return sorted(p.relative_to(root).as_posix() for p in root.glob(f"{prefix}**/*") if p.is_file())


class RealWorldMarket(SampleMarketHttp):
    """The generated B3 and BCB sources, except what the real ones send now: the yearly 2026 ZIP as given
    (each answer in turn, the last one repeated), and SGS series 12 answering its XHTML error page."""

    def __init__(self, zips: list[bytes], sgs_meta: str | None) -> None:
        super().__init__(date(2026, 9, 18))
        self.zips = zips
        self.sgs_meta = sgs_meta
        self.error_pages = 1  # the sample's own one-off error page is replaced by the fixture's

    def get(self, url: str, *, timeout: float) -> HttpResponse:
        if url == B3_2026:
            self.requested.append(url)
            return HttpResponse(
                200, {"Content-Type": "application/zip"}, self.zips.pop(0) if self.zips[1:] else self.zips[0]
            )
        if self.sgs_meta and "bcdata.sgs.12/" in url:
            self.requested.append(url)
            meta = json.loads((REALWORLD / "bcb" / self.sgs_meta).read_text())
            return HttpResponse(meta["status"], meta["headers"], (REALWORLD / "bcb" / meta["file"]).read_bytes())
        return super().get(url, timeout=timeout)


def run_with(monkeypatch: pytest.MonkeyPatch, ws: Workspace, plan: RunPlan, transport: Any) -> Any:
    monkeypatch.setattr(runner, "sample_transport", lambda ws, domain, request: transport)
    [result] = run_plans(ws, [plan], echo=quiet)
    return result


def test_truncated_download_is_retried_and_an_sgs_error_page_only_warns(ws: Workspace, monkeypatch: pytest.MonkeyPatch):
    """COTAHIST_A2026: a cut download first (retried in Fetch), then the complete file, whose trailer counts the
    records only: 16 rows. SGS answers series 12 with its XHTML error page every time: the run warns and loads."""
    truncated = (REALWORLD / "b3" / "COTAHIST_A2026_truncated.ZIP").read_bytes()
    complete = (REALWORLD / "b3" / "COTAHIST_A2026.ZIP").read_bytes()
    transport = RealWorldMarket([truncated, complete], "sgs_12_requisicao_invalida_200.meta.json")

    result = run_with(monkeypatch, ws, RunPlan(STOCKS, year="2026"), transport)

    assert result.status == "SUCCEEDED", result.cause
    assert transport.requested.count(B3_2026) == 2
    assert sum("bcdata.sgs.12/" in url for url in transport.requested) == 3  # the window retried twice
    counts = result.output["counts"]
    assert (counts["rows_in"], counts["rows_curated"], counts["rows_quarantined"], counts["rows_duplicates"]) == (
        16,
        16,
        0,
        0,
    )
    warnings = result.output["warnings"]
    assert "COTAHIST_A2026.TXT: trailer TOTREG 16 counts the records only" in result.output["notes"]
    [sgs] = [w for w in warnings if w.startswith("BCB series cdi_daily not fetched")]
    assert "Requisição inválida!" in sgs and "bcdata.sgs.12/dados" in sgs
    assert objects(ws, RAW, "stocks/bcb/cdi_daily/") == []  # the error page is never stored as raw data
    assert objects(ws, RAW, "stocks/bcb/selic_daily/")  # the other series are
    [(zip_object,)] = [(o,) for o in objects(ws, RAW, "stocks/cotahist/")]
    assert (ws.s3_dir / RAW / zip_object).read_bytes() == complete
    _, rows = run_query(
        ws,
        "SELECT dt_ref, count(*), min(currency) FROM finlake_curated.b3_quotes GROUP BY dt_ref ORDER BY dt_ref",
    )
    assert [(str(d), n, c) for d, n, c in rows] == [(f"2026-09-{day}", 4, "R$") for day in (15, 16, 17, 18)]
    [email] = result.notifications
    assert "Quote records: rows in 16 = 16 curated + 0 quarantined + 0 duplicates dropped" in email["message"]
    assert "Warning: BCB series cdi_daily not fetched" in email["message"]


@pytest.mark.parametrize(
    "meta", ["sgs_12_requisicao_invalida_200.meta.json", "sgs_12_requisicao_invalida_200_texthtml.meta.json"]
)
def test_an_sgs_error_page_once_is_retried_and_the_series_loads(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, meta: str
) -> None:
    complete = (REALWORLD / "b3" / "COTAHIST_A2026.ZIP").read_bytes()

    class Once(RealWorldMarket):
        def get(self, url: str, *, timeout: float) -> HttpResponse:
            response = super().get(url, timeout=timeout)
            if "bcdata.sgs.12/" in url:
                self.sgs_meta = None  # the next request gets the data
            return response

    transport = Once([complete], meta)
    result = run_with(monkeypatch, ws, RunPlan(STOCKS, year="2026"), transport)

    assert result.status == "SUCCEEDED", result.cause
    assert not [w for w in result.output["warnings"] if "BCB" in w]
    [note] = [n for n in result.output["notes"] if n.startswith("BCB series cdi_daily")]
    assert "the answer came after a retry (1 time(s) after an error page (HTML: 'Requisição inválida!')" in note
    assert objects(ws, RAW, "stocks/bcb/cdi_daily/")
    _, [(points,)] = run_query(ws, "SELECT count(*) FROM finlake_curated.bcb_series WHERE series = 'cdi_daily'")
    assert points > 400


def test_a_download_cut_every_time_fails_naming_the_url_and_stores_nothing(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    truncated = (REALWORLD / "b3" / "COTAHIST_A2026_truncated.ZIP").read_bytes()
    transport = RealWorldMarket([truncated], None)

    result = run_with(monkeypatch, ws, RunPlan(STOCKS, year="2026"), transport)

    assert result.status == "FAILED"
    assert result.error == "IncompleteDownload"
    assert B3_2026 in result.cause and "incomplete download" in result.cause and "3 times" in result.cause
    assert transport.requested.count(B3_2026) == 3
    assert [s["state"] for s in result.states][:2] == ["Fetch", "FetchFailed"]
    assert objects(ws, RAW, "stocks/") == []
    [email] = result.notifications
    assert email["subject"] == "[finlake] stocks FAILED at Fetch" and B3_2026 in email["message"]


def test_a_truncated_zip_fed_by_hand_is_an_incomplete_download_not_a_bad_b3_file(ws: Workspace) -> None:
    [result] = run_plans(ws, [RunPlan(STOCKS, inputs=[REALWORLD / "b3" / "COTAHIST_A2026_truncated.ZIP"])], echo=quiet)

    assert result.status == "FAILED"
    assert result.error == "IncompleteDownload"
    assert "COTAHIST_A2026_truncated.ZIP" in result.cause and "download it again" in result.cause
    assert "CotahistError" not in result.cause and "FileRejected" not in result.cause
    assert objects(ws, CURATED, "quarantine/") == [] and objects(ws, CURATED, "b3_quotes/") == []


def test_the_real_plan_file_runs_locally_and_no_return_mixes_currencies(ws: Workspace) -> None:
    """The 1994 excerpt: the generated BCB answers cover 1994 (the SELIC target, which starts in 1999,
    answers "Value(s) not found"), MODREF is kept, and the return across CR$ -> R$ is NULL, not -63.56%."""
    [result] = run_plans(
        ws, [RunPlan(STOCKS, inputs=[REALWORLD / "b3" / "COTAHIST_A1994_excerpt_real_transition.TXT"])], echo=quiet
    )

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["counts"]["rows_in"] == result.output["counts"]["rows_curated"] == 6
    _, quotes = run_query(ws, "SELECT ticker, dt_ref, currency FROM finlake_curated.b3_quotes ORDER BY 2, 1")
    assert [(t, str(d), c) for t, d, c in quotes][-2:] == [("PETR4", "1994-07-04", "R$"), ("VALE5", "1994-07-04", "R$")]
    assert {c for _, _, c in quotes} == {"CR$", "R$"}
    _, rows = run_query(
        ws,
        "SELECT ticker, dt_ref, daily_return, currency, currency_changed FROM finlake_refined.stock_indicators "
        "ORDER BY ticker, dt_ref",
    )
    by_key = {(t, str(d)): (r, c, changed) for t, d, r, c, changed in rows}
    assert by_key[("PETR4", "1994-07-04")] == (None, "R$", True)
    assert by_key[("VALE5", "1994-07-04")] == (None, "R$", True)
    assert by_key[("PETR4", "1994-06-30")][0] == pytest.approx(274.40 / 271.50 - 1)
    assert all(r is None or r > -0.5 for r, _, _ in by_key.values())
    _, [(cdi,)] = run_query(ws, "SELECT count(*) FROM finlake_curated.bcb_series WHERE series = 'cdi_daily'")
    assert cdi > 250  # 1993-1994 points generated for the old file


def test_bndes_resource_declared_windows_1252_is_decoded_and_loaded(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The package_show answer declares the resource "encoding": "Windows-1252"; the CSV is cp1252."""
    cassette = tmp_path / "cassette"
    package = json.loads(
        (REALWORLD / "bndes" / "package_show_balanco-patrimonial_encoding_windows1252.json").read_bytes()
    )
    [resource] = package["result"]["resources"]
    write_cassette_entry(
        cassette,
        "https://dadosabertos.bndes.gov.br/api/3/action/package_show?id=balanco-patrimonial",
        json.dumps(package, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json;charset=utf-8"},
    )
    write_cassette_entry(
        cassette,
        resource["url"],
        (REALWORLD / "bndes" / "balanco-patrimonial-brgaap-2024.csv").read_bytes(),
        headers={"Content-Type": "text/csv"},
    )
    monkeypatch.setattr(runner, "sample_transport", lambda ws, domain, request: ReplayHttp(cassette))

    [result] = run_plans(ws, [RunPlan(BNDES, date="2025-03-11")], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    counts = result.output["counts"]
    assert (counts["rows_in"], counts["rows_curated"], counts["rows_quarantined"], counts["rows_duplicates"]) == (
        3,
        3,
        0,
        0,
    )
    assert result.output["sources"][0]["encoding"] == "Windows-1252"
    _, rows = run_query(
        ws,
        "SELECT account, account_label, value FROM finlake_curated.bndes_balance_sheet "
        "WHERE reference_date = DATE '2024-03-31' AND attributes LIKE '%Individual%' ORDER BY account",
    )
    values = {account: (label, float(value)) for account, label, value in rows}
    assert len(values) == 10
    assert values["aplicacoes_interfinanceiras_de_liquidez"] == ("Aplicações interfinanceiras de liquidez", 61345.00)
    assert values["ativo_total"] == ("Ativo total", 650175.11)
    assert values["provisao_para_risco_de_credito"] == ("Provisão para risco de crédito", -15330.00)


def test_an_inbox_card_file_no_month_can_take_is_reported_and_quarantined(ws: Workspace, tmp_path: Path) -> None:
    stray = tmp_path / "faturas setembro (1).csv"
    stray.write_text(
        "id_cliente,id_fatura,dt_emissao_fatura,dt_vencimento_fatura,valor_fatura\n1,1,2024-09-01,2024-09-06,1.00\n"
    )
    with EmbeddedAws(ws) as aws:
        said = aws.drop_file(CARDS, stray)
        [execution] = aws.executions(CARDS)
        finished = aws.wait(execution["executionArn"])
        emails = aws.drain_outbox()

    assert said["started"] is True and said["unplaced"] == "inbox/cards/faturas setembro (1).csv"
    assert finished["status"] == "FAILED"
    assert finished["error"] == "UnplacedFile"
    [email] = emails
    assert email["subject"] == "[finlake] cards FAILED at Fetch"
    assert "faturas setembro (1).csv" in email["message"] and "places it in no month" in email["message"]
    copy = "quarantine/cards/unplaced/faturas setembro (1).csv"
    assert objects(ws, CURATED, "quarantine/cards/") == [copy, copy + ".reason.json"]
    assert (ws.s3_dir / CURATED / copy).read_bytes() == stray.read_bytes()
    # `finlake quarantine cards` lists it: the raw file as its S3 URI, where the copy is, and why
    [(stored, [row])] = read_quarantine(ws, "cards")
    assert stored == f"s3://{CURATED}/{copy}.reason.json"
    assert (row.source, row.line, row.copy) == (f"s3://{RAW}/inbox/cards/{stray.name}", None, f"s3://{CURATED}/{copy}")
    assert row.where.endswith(f"(whole file not placed, copied to s3://{CURATED}/{copy})")
    assert "neither the name nor the header places it" in row.reason
    assert objects(ws, RAW, "inbox/cards/") == ["inbox/cards/faturas setembro (1).csv"]  # raw is never modified


def test_later_date_stamped_card_deliveries_are_placed_and_their_drift_handled(ws: Workspace) -> None:
    """tb_faturas_20241201_20241202000000.csv and its payments: placed in 2024-12 by name, the renamed columns
    mapped; their prefixed ids (FAT-101) are not the contract's integers, so every row is quarantined with the
    reason, and the email says so. Rows in = curated + quarantined + duplicates holds."""
    with EmbeddedAws(ws) as aws:
        waiting = aws.drop_file(CARDS, REALWORLD / "cards" / "tb_faturas_20241201_20241202000000.csv")
        started = aws.drop_file(CARDS, REALWORLD / "cards" / "tb_pagamentos_20241201_20241202000000.csv")
        [execution] = aws.executions(CARDS)
        finished = aws.wait(execution["executionArn"])
        emails = aws.drain_outbox()

    assert waiting == {"started": False, "month": "2024-12", "waiting_for": ["tb_pagamentos_202412.csv"]}
    assert started["started"] is True and started["execution"].startswith("cards-2024-12-")
    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    output = json.loads(finished["output"])
    counts = output["counts"]
    assert (counts["rows_in"], counts["rows_curated"], counts["rows_quarantined"], counts["rows_duplicates"]) == (
        7,
        0,
        7,
        0,
    )
    [email] = emails
    assert "Invoices: 4 rows in = 0 curated + 4 quarantined + 0 duplicates dropped (ok)" in email["message"]
    assert "known column renames mapped: data_emissao->dt_emissao_fatura" in email["message"]
    assert "every invoice row was quarantined" in email["message"]
    # One JSON Lines object per kind (the quarantine format of every domain): the file as its S3 URI, the line.
    source = f"s3://{RAW}/inbox/cards/tb_faturas_20241201_20241202000000.csv"
    bad = [json.loads(line) for line in (ws.s3_dir / CURATED / "quarantine/cards/2024-12/invoices.jsonl").open()]
    assert [(b["source"], b["line"], b["reason"]) for b in bad] == [
        (source, line, f"id_fatura is not a positive integer: 'FAT-{n}'")
        for line, n in ((2, 101), (3, 102), (4, 205), (5, 206))
    ]
    assert bad[0]["raw"] == "FAT-101,1,2024-10-01,2024-10-06,1671.07,250.66"
    paid = [json.loads(line) for line in (ws.s3_dir / CURATED / "quarantine/cards/2024-12/payments.jsonl").open()]
    assert [(b["line"], b["reason"]) for b in paid] == [
        (line, f"id_pagamento is not a positive integer: 'PAG-2024-{n}'") for line, n in ((2, 1), (3, 2), (4, 3))
    ]
