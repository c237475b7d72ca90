"""The deployed bank definition on the embedded AWS: pynubank's mock API, file drops, privacy."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from finlake.local.runner import RunPlan, run_plans
from finlake.local.runtime import BUCKETS, EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.query import run_query
from finlake.samples import bank as samples
from finlake.samples.bank import LOCAL_NUBANK_CPF
from functions.bank import handlers
from functions.bank.privacy import find_cpfs
from stacks.specs import BANK
from tests.unit.test_bank_core import RejectingClient

MAIN_PATH = [
    "Fetch",
    "AnythingNew?",
    "NotifyStart",
    "Validate",
    "Transform",
    "Catalog",
    "Publish",
    "NotifySuccess",
]


def quiet(*args: object, **kwargs: object) -> None:
    return None


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def lake_bytes(ws: Workspace) -> dict[str, bytes]:
    """Every curated and refined object (run records aside), by key."""
    return {
        f"{bucket}/{key}": path.read_bytes()
        for bucket, key, path in ws.iter_objects()
        if bucket in (BUCKETS["CURATED_BUCKET"], BUCKETS["REFINED_BUCKET"]) and not key.startswith("_runs/")
    }


def test_the_mock_api_runs_end_to_end_with_start_and_end_emails(ws: Workspace):
    [result] = run_plans(ws, [RunPlan(BANK, month="2024-09", source="mock")], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    assert [s["state"] for s in result.states] == MAIN_PATH
    start, end = result.notifications
    assert start["subject"] == "[finlake] bank 2024-09 started"
    assert "nubank-mock-" in start["message"] and "Nubank API snapshot" in start["message"]
    assert end["subject"] == "[finlake] bank 2024-09 succeeded"
    assert "Month 2022-06: spent R$ 1.700,00" in end["message"]  # the mock's two NuConta transfers
    assert "limit" not in end["message"]  # the snapshot (2024-09) tells the limit from then on, not in 2022
    _, [(limit, used)] = run_query(
        ws,
        "SELECT credit_limit, card_spend FROM finlake_refined.bank_monthly_summary "
        "WHERE month = '2021-04' AND category = '_all'",
    )
    assert (limit, str(used)) == (None, "401.02")  # 32.90 + 27.90 + 308.77 + 31.45
    _, rows = run_query(
        ws, "SELECT account, count(*), sum(amount) FROM finlake_curated.bank_transactions GROUP BY 1 ORDER BY 1"
    )
    # card: 5 purchases, 1 payment, and 2 line items of the (one, deduplicated) bill; nuconta: 2 transfers
    assert [(a, n, str(total)) for a, n, total in rows] == [("card", 8, "-448.94"), ("nuconta", 2, "-1700.00")]


def test_an_unchanged_api_snapshot_ends_at_nothing_new_without_email(ws: Workspace):
    run_plans(ws, [RunPlan(BANK, month="2024-09", source="mock")], echo=quiet)
    before = lake_bytes(ws)
    [again] = run_plans(ws, [RunPlan(BANK, month="2024-10", source="mock")], echo=quiet)

    assert again.status == "SUCCEEDED"
    assert [s["state"] for s in again.states] == ["Fetch", "AnythingNew?", "NothingNew"]
    assert again.notifications == []
    assert lake_bytes(ws) == before


def test_a_rejected_login_fails_once_with_a_clear_email_and_a_dead_letter(ws: Workspace, monkeypatch):
    monkeypatch.setattr(handlers, "nubank_client", lambda source: RejectingClient(403))

    with EmbeddedAws(ws) as aws:
        result = aws.run(BANK, {"domain": "bank", "source": "api"}, "bank-login-rejected")
        [dead_letter] = aws.dead_letters()

    assert result.status == "FAILED"
    assert result.error == "NubankLoginRejected"
    assert [s["state"] for s in result.states] == [
        "Fetch",
        "FetchFailed",
        "NotifyFailure",
        "SendToDeadLetterQueue",
        "Fail",
    ]  # entered once: a rejected login is not retried
    [email] = result.notifications
    assert email["subject"] == "[finlake] bank FAILED at Fetch"
    # the notifier's readable cause: the exception's message, not the Lambda error payload
    assert "Cause: Nubank rejected the login: HTTP 403" in email["message"]
    assert "stackTrace" not in email["message"] and "Traceback" not in email["message"]
    assert "errorType" not in email["message"]
    assert dead_letter["input"] == {"domain": "bank", "source": "api"}
    assert not list((ws.s3_dir / BUCKETS["RAW_BUCKET"]).rglob("*.json"))  # nothing fetched, nothing written


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every line the bank handlers log, formatted as in CloudWatch (Powertools JSON), at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(handlers.logger.registered_formatter)
    level = handlers.logger.log_level
    handlers.logger.addHandler(handler)
    handlers.logger.setLevel("DEBUG")
    try:
        yield stream
    finally:
        handlers.logger.setLevel(level)
        handlers.logger.removeHandler(handler)


def test_no_valid_cpf_in_any_written_object_email_execution_output_or_log_line(
    ws: Workspace, tmp_path: Path, log_lines: io.StringIO, caplog: pytest.LogCaptureFixture
):
    """The demo's sources hold CPFs (the Nubank login in the secret, a Pix description in the
    exports); none may reach curated or refined data, quarantine, emails, step outputs or logs."""
    files = samples.write(tmp_path / "in", samples.demo_files("2024-09", 3))
    raw_cpfs = {c for p in files for c in find_cpfs(p.read_bytes().decode("utf-8", "replace"))}
    assert raw_cpfs, "the samples should hold a CPF for this test to mean anything"

    results = run_plans(
        ws,
        [RunPlan(BANK, month="2024-09", source="mock"), RunPlan(BANK, month="2024-09", inputs=files)],
        echo=quiet,
    )
    logs = log_lines.getvalue() + caplog.text

    assert [r.status for r in results] == ["SUCCEEDED", "SUCCEEDED"], [r.cause for r in results]
    leaks = {key: find_cpfs(data.decode("utf-8", "replace")) for key, data in lake_bytes(ws).items()}
    assert {k: v for k, v in leaks.items() if v} == {}
    records = json.dumps([r.record() for r in results], ensure_ascii=False)
    assert find_cpfs(records) == []
    assert logs.count('"message":"step done"') == 10  # five steps of two runs: the logs were captured
    assert find_cpfs(logs) == []
    assert LOCAL_NUBANK_CPF not in logs


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_a_dropped_export_starts_a_run_once_per_content_and_overlaps_add_no_duplicates(ws: Workspace, tmp_path: Path):
    first = write(tmp_path / "a", "NU_extrato_01JUL2024_15SET2024.csv", samples.nuconta_csv("2024-07", "2024-09-15"))
    second = write(tmp_path / "b", "NU_extrato_01SET2024_30SET2024.csv", samples.nuconta_csv("2024-09-01", "2024-09"))
    expected = len(samples.entries("nuconta", "2024-07", "2024-09"))
    with EmbeddedAws(ws) as aws:
        started = aws.drop_file(BANK, first)
        [execution] = aws.executions(BANK)
        finished = aws.wait(execution["executionArn"])
        again = aws.drop_file(BANK, first)  # the same file uploaded again
        overlapping = aws.drop_file(BANK, second)
        for item in aws.executions(BANK):
            aws.wait(item["executionArn"])
        statuses = sorted(e["status"] for e in aws.executions(BANK))

    assert started["started"] is True and started["execution"].startswith("bank-")
    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    assert again == {**started, "started": False}
    assert overlapping["started"] is True
    assert statuses == ["SUCCEEDED", "SUCCEEDED"]
    _, [(count, distinct)] = run_query(
        ws, "SELECT count(*), count(DISTINCT transaction_id) FROM finlake_curated.bank_transactions"
    )
    assert count == distinct == expected  # the half month in both exports is there once


def test_identical_purchases_of_one_day_survive_and_an_overlapping_card_export_adds_none(ws: Workspace, tmp_path: Path):
    july = write(tmp_path, "Nubank_2024-08-01.csv", samples.card_csv("2024-07", "2024-07"))
    july_to_august = write(tmp_path, "Nubank_2024-09-01.csv", samples.card_csv("2024-07", "2024-08"))
    run_plans(ws, [RunPlan(BANK, month="2024-08", inputs=[july])], echo=quiet)
    _, [(after_july,)] = run_query(ws, "SELECT count(*) FROM finlake_curated.bank_transactions")
    [result] = run_plans(ws, [RunPlan(BANK, month="2024-08", inputs=[july_to_august])], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    assert after_july == len(samples.entries("card", "2024-07", "2024-07"))
    _, [(total,)] = run_query(ws, "SELECT count(*) FROM finlake_curated.bank_transactions")
    assert total == len(samples.entries("card", "2024-07", "2024-08"))
    _, twins = run_query(
        ws,
        "SELECT date, description, amount, count(*) FROM finlake_curated.bank_transactions "
        "GROUP BY ALL HAVING count(*) > 1",
    )
    assert twins and all(n == 2 for *_, n in twins)  # the two real coffees of one day, in each month


def test_a_forced_rerun_of_the_same_exports_leaves_the_lake_byte_for_byte_the_same(ws: Workspace, tmp_path: Path):
    files = samples.write(tmp_path / "in", samples.demo_files("2024-09", 3))
    run_plans(ws, [RunPlan(BANK, month="2024-09", inputs=files)], echo=quiet)
    before = lake_bytes(ws)
    [again] = run_plans(ws, [RunPlan(BANK, month="2024-09", inputs=files, force=True)], echo=quiet)

    assert again.status == "SUCCEEDED", again.cause
    assert "Partitions rewritten: none (same content)" in again.notifications[-1]["message"]
    assert lake_bytes(ws) == before


def test_an_unknown_export_is_rejected_with_a_clear_message_and_nothing_is_lost(ws: Workspace, tmp_path: Path):
    good = write(tmp_path, "Nubank_2024-08-01.csv", samples.card_csv("2024-07", "2024-07"))
    run_plans(ws, [RunPlan(BANK, month="2024-08", inputs=[good])], echo=quiet)
    before = lake_bytes(ws)
    odd = write(tmp_path, "extrato.csv", "Data;Histórico;Valor\n01/09/2024;Pix 529.982.247-25;-10,00\n".encode())
    [result] = run_plans(ws, [RunPlan(BANK, month="2024-09", inputs=[odd])], echo=quiet)

    assert result.status == "FAILED"
    assert result.error == "SourceRejected"
    assert "extrato.csv rejected" in result.cause and "date,title,amount" in result.cause
    assert (ws.s3_dir / BUCKETS["RAW_BUCKET"] / "inbox/bank/extrato.csv").read_bytes() == odd.read_bytes()
    after = lake_bytes(ws)
    [reason_key] = set(after) - set(before)
    assert reason_key.endswith("/rejected.json") and "/quarantine/bank/" in reason_key
    assert find_cpfs(after[reason_key].decode()) == []
    assert {k: v for k, v in after.items() if k != reason_key} == before


def test_bad_rows_go_to_quarantine_with_line_and_reason(ws: Workspace, tmp_path: Path):
    export = write(
        tmp_path,
        "NU_extrato_01SET2024_30SET2024.csv",
        samples.nuconta_csv("2024-09", "2024-09", malformed=samples.MALFORMED),
    )
    [result] = run_plans(ws, [RunPlan(BANK, month="2024-09", inputs=[export])], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    counts = result.output["counts"]
    assert counts["rows_quarantined"] == len(samples.MALFORMED)
    assert counts["rows_in"] == counts["rows_valid"] + counts["rows_quarantined"]
    [quarantine] = result.output["quarantine"]
    key = quarantine.removeprefix("s3://")
    lines = [json.loads(x) for x in (ws.s3_dir / key).read_text().splitlines()]
    assert all(item["line"] > 1 and item["reason"] for item in lines)
    assert any("1.234" in item["reason"] for item in lines)


def test_every_row_is_accounted_for_with_overlaps_twins_and_bad_rows(ws: Workspace, tmp_path: Path):
    """NuConta July..15 September, then 1..30 September with 4 malformed rows: the second run's rows in =
    its new transactions + its bad rows + the half month the first export already brought (by id)."""
    first = write(tmp_path / "a", "NU_extrato_01JUL2024_15SET2024.csv", samples.nuconta_csv("2024-07", "2024-09-15"))
    second = write(
        tmp_path / "b",
        "NU_extrato_01SET2024_30SET2024.csv",
        samples.nuconta_csv("2024-09-01", "2024-09", malformed=samples.MALFORMED),
    )
    [one] = run_plans(ws, [RunPlan(BANK, month="2024-09", inputs=[first])], echo=quiet)
    [two] = run_plans(ws, [RunPlan(BANK, month="2024-09", inputs=[second])], echo=quiet)

    assert one.status == two.status == "SUCCEEDED", two.cause
    september, overlap = (
        samples.entries("nuconta", "2024-09-01", "2024-09"),
        samples.entries("nuconta", "2024-09-01", "2024-09-15"),
    )
    counts = two.output["counts"]
    assert (counts["rows_in"], counts["rows_curated"], counts["rows_quarantined"], counts["rows_duplicates"]) == (
        len(september) + len(samples.MALFORMED),
        len(september) - len(overlap),
        len(samples.MALFORMED),
        len(overlap),
    )
    message = two.notifications[-1]["message"]
    assert f"Rows: rows in {counts['rows_in']} = {counts['rows_curated']} curated + 4 quarantined" in message
    first_counts = one.output["counts"]
    assert (
        first_counts["rows_in"]
        == first_counts["rows_curated"]
        == len(samples.entries("nuconta", "2024-07", "2024-09-15"))
    )
