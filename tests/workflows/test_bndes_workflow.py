"""The deployed BNDES definition, executed by moto's ASL interpreter with this project's handlers."""

from __future__ import annotations

import io
import json
import threading
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finlake.local import runtime
from finlake.local.runner import RunPlan, run_plans
from finlake.local.runtime import BUCKETS, EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.naming import RunRequest, execution_name
from finlake.query import run_query
from finlake.samples.bndes import sample_csv, write_bndes_cassette
from stacks.specs import BNDES
from tests.bndes_outage import maintenance_page

pytestmark = pytest.mark.slow

CURATED = BUCKETS["CURATED_BUCKET"]


def start(aws: EmbeddedAws, date: str = "2026-11-22", suffix: str = "", **kwargs):
    request = RunRequest(domain="bndes", date=date, **kwargs).to_input()
    return aws.run(BNDES, request, execution_name("bndes", date, request) + suffix)


def lake_snapshot(aws: EmbeddedAws, bucket: str, prefix: str) -> dict[str, bytes]:
    s3 = aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def partitions(aws: EmbeddedAws) -> list[str]:
    pages = aws.client("glue").get_partitions(DatabaseName="finlake_curated", TableName="bndes_balance_sheet")
    return sorted(p["Values"][0] for p in pages["Partitions"])


def test_success_path_writes_table_registers_partitions_and_notifies(aws: EmbeddedAws, workspace: Workspace):
    result = start(aws)

    assert result.status == "SUCCEEDED", result.cause
    assert [s["state"] for s in result.states] == [
        "Fetch",
        "AnythingNew?",
        "Validate",
        "Transform",
        "Catalog",
        "NotifySuccess",
    ]
    # 5 years x (BRGAAP, IFRS, Prudential) resources; 4 quarter ends per year
    assert result.output["counts"]["rows_quarantined"] == 0
    assert len(result.output["sources"]) == 15
    # the generated cassette publishes the 2024 and 2025 files in windows-1252 (2025's declared in CKAN), as BNDES does
    assert result.output["notes"] == ["Read as: UTF-8 9, windows-1252 (declared) 3, windows-1252 (detected) 3"]
    assert partitions(aws)[:2] == ["2021-03-31", "2021-06-30"]
    assert len(partitions(aws)) == 20
    table = aws.client("glue").get_table(DatabaseName="finlake_curated", Name="bndes_balance_sheet")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{CURATED}/bndes_balance_sheet/"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["reference_date"]

    [email] = result.notifications
    assert email["subject"] == "[finlake] bndes 2026-11-22 succeeded"
    assert "Sources processed: 15" in email["message"]
    assert "0 quarantined" in email["message"]
    assert result.name in email["message"]

    # A value a person can check: the first data line of the BRGAAP 2023 file, Ativo total.
    csv_line = sample_csv("BRGAAP", 2023, encoding="utf-8").decode().splitlines()[1].split(";")
    aws.save_workspace()
    _, rows = run_query(
        workspace,
        "SELECT value FROM finlake_curated.bndes_balance_sheet WHERE reference_date = DATE '2023-03-31' "
        f"AND accounting_standard = 'BRGAAP' AND account = 'ativo_total' AND attributes LIKE '%{csv_line[1]}%'",
    )
    assert rows == [(Decimal(csv_line[9].replace(".", "").replace(",", ".")),)]


def test_totals_balance_in_the_curated_table(aws: EmbeddedAws, workspace: Workspace):
    assert start(aws).succeeded
    aws.save_workspace()
    _, rows = run_query(
        workspace,
        """SELECT reference_date, resource_id, source_line,
                  sum(value) FILTER (WHERE account = 'ativo_total') AS assets,
                  sum(value) FILTER (WHERE account = 'passivo_total') AS liabilities
           FROM finlake_curated.bndes_balance_sheet GROUP BY ALL HAVING assets <> liabilities""",
    )
    assert rows == []


def test_failing_fetch_notifies_and_dead_letters_the_original_input(tmp_path: Path, workspace: Workspace):
    broken = write_bndes_cassette(tmp_path / "cassette")
    maintenance_page(broken)
    with EmbeddedAws(workspace, function_env={"bndes.Fetch": {"FINLAKE_HTTP_CASSETTE": str(broken)}}) as aws:
        request = RunRequest(domain="bndes", date="2026-11-22").to_input()
        result = aws.run(BNDES, request, "bndes-2026-11-22-failing")
        dead = aws.dead_letters()
        raw = lake_snapshot(aws, BUCKETS["RAW_BUCKET"], "")

    assert result.status == "FAILED"
    assert result.error == "NotTheFile"  # the maintenance page, retried in Fetch, then the source is unavailable
    assert [s["state"] for s in result.states] == [
        "Fetch",
        "FetchFailed",
        "NotifyFailure",
        "SendToDeadLetterQueue",
        "Fail",
    ]
    [email] = result.notifications
    assert email["subject"] == "[finlake] bndes FAILED at Fetch"
    for text in (
        "Domain: bndes",
        "Execution: bndes-2026-11-22-failing",
        "Failed state: Fetch",
        "Error: NotTheFile",
        "Partition: 2026-11-22",
        "Cause: https://dadosabertos.bndes.gov.br/api/3/action/package_show?id=balanco-patrimonial answered HTTP 200 "
        "with an error page (HTML)",
        "Manutencao programada",
        "Console: https://us-east-1.console.aws.amazon.com/states/",
    ):
        assert text in email["message"]
    assert "stackTrace" not in email["message"] and 'File "' not in email["message"]  # no stack trace
    [message] = dead
    assert message["input"] == request
    assert message["failed_state"] == "Fetch"
    assert message["execution_name"] == "bndes-2026-11-22-failing"
    assert raw == {}


def test_rerun_of_the_same_input_leaves_the_lake_byte_for_byte_the_same(aws: EmbeddedAws):
    assert start(aws, force=True).succeeded
    first = lake_snapshot(aws, CURATED, "bndes_balance_sheet/")
    first_partitions = partitions(aws)

    second = start(aws, force=True, suffix="-rerun")

    assert second.succeeded
    assert lake_snapshot(aws, CURATED, "bndes_balance_sheet/") == first
    assert partitions(aws) == first_partitions
    rows = sum(pq.read_table(io.BytesIO(body)).num_rows for body in first.values())
    assert rows == second.output["counts"]["rows_written"]
    assert lake_snapshot(aws, CURATED, "_staging/") == {}


def test_unchanged_sources_end_the_run_through_nothing_new(aws: EmbeddedAws):
    assert start(aws).succeeded
    before = lake_snapshot(aws, CURATED, "bndes_balance_sheet/")

    again = start(aws, date="2026-11-23")

    assert again.succeeded
    assert [s["state"] for s in again.states] == ["Fetch", "AnythingNew?", "NothingNew"]
    assert again.notifications == []
    assert len(again.output["skipped"]) == 15
    assert lake_snapshot(aws, CURATED, "bndes_balance_sheet/") == before


def test_input_file_with_bad_rows_quarantines_them_with_the_reason(tmp_path: Path, aws: EmbeddedAws):
    # five years of IFRS quarters in one file (20 data rows), one with a bad number
    files = [sample_csv("IFRS", year, encoding="utf-8").decode().splitlines() for year in range(2020, 2025)]
    lines = files[0] + [line for f in files[1:] for line in f[1:]]
    fields = lines[2].split(";")
    fields[3] = "abc"
    lines[2] = ";".join(fields)
    path = tmp_path / "balanco-ifrs-2024-corrigido.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    uri = aws.put_input("bndes", path)

    result = start(aws, inputs=[uri])

    assert result.succeeded, result.cause
    counts = result.output["counts"]
    assert counts["rows_in"] == len(lines) - 1
    assert counts["rows_quarantined"] == 1
    assert counts["rows_valid"] == len(lines) - 2
    [quarantine_uri] = result.output["quarantine"]
    key = quarantine_uri.split("/", 3)[3]
    [record] = [json.loads(x) for x in lake_snapshot(aws, CURATED, key)[key].decode().splitlines()]
    assert record["line"] == 3
    assert "abc" in record["reason"]
    assert record["source"] == uri
    assert "1 quarantined" in result.notifications[0]["message"]


def test_rejected_file_fails_the_run_and_keeps_raw_and_curated_untouched(tmp_path: Path, aws: EmbeddedAws):
    path = tmp_path / "balanco-brgaap-2024.csv"
    path.write_text("data\tconta\tvalor\n31/12/2024\tativo\t1\n", encoding="utf-8")  # tabs: not ; nor ,
    uri = aws.put_input("bndes", path)

    result = start(aws, inputs=[uri])

    assert result.status == "FAILED"
    assert result.error == "FileRejected"
    assert "delimit" in result.cause
    assert lake_snapshot(aws, CURATED, "bndes_balance_sheet/") == {}
    assert lake_snapshot(aws, BUCKETS["RAW_BUCKET"], "inbox/bndes/") == {
        "inbox/bndes/balanco-brgaap-2024.csv": path.read_bytes()
    }
    rejected = lake_snapshot(aws, CURATED, "quarantine/bndes/")
    assert len(rejected) == 1
    assert "delimit" in json.loads(next(iter(rejected.values())))["reason"]
    assert aws.dead_letters()[0]["failed_state"] == "Validate"


def test_a_later_run_adds_partitions_and_keeps_the_registered_ones(tmp_path: Path, aws: EmbeddedAws):
    assert start(aws).succeeded
    before = partitions(aws)
    lines = sample_csv("IFRS", 2026, encoding="utf-8").decode().splitlines()[:2]  # header + the 31/03/2026 row
    path = tmp_path / "balanco-ifrs-2026-parcial.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = start(aws, date="2026-11-23", inputs=[aws.put_input("bndes", path)])

    assert result.succeeded, result.cause
    assert partitions(aws) == sorted([*before, "2026-03-31"])


def test_every_source_row_is_accounted_for_and_a_lost_row_fails_the_run(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Five years with two categories per date (multi-row), a repeated row (a duplicate by the documented key),
    two rows contradicting each other, a bad number and a placeholder: the equation and the values."""
    years = [sample_csv("BRGAAP", year, encoding="utf-8").decode().splitlines() for year in range(2019, 2024)]
    header, rows = years[0][0], [row for lines in years for row in lines[1:]]  # 40 rows
    accounts = len(header.split(";")) - 2
    fields = rows[3].split(";")
    rows[3] = ";".join([*fields[:3], "abc", *fields[4:]])  # a bad number
    conflicting = ";".join([*rows[2].split(";")[:2], "1,00", *rows[2].split(";")[3:]])
    placeholder = "31/03/2030;Individual" + ";" * (len(fields) - 2)
    path = tmp_path / "balanco-brgaap-2019-2023.csv"
    path.write_text("\n".join([header, *rows, rows[0], conflicting, placeholder]) + "\n")

    [result] = run_plans(workspace, [RunPlan(BNDES, date="2026-11-23", inputs=[path])], echo=_quiet)

    assert result.status == "SUCCEEDED", result.cause
    counts = result.output["counts"]
    # 43 rows in = 38 curated + 4 quarantined (1 bad, 2 contradicting, 1 placeholder) + 1 duplicate
    assert (counts["rows_in"], counts["rows_curated"], counts["rows_quarantined"], counts["rows_duplicates"]) == (
        43,
        38,
        4,
        1,
    )
    assert (
        "Source rows: rows in 43 = 38 curated + 4 quarantined + 1 duplicates dropped"
        in (result.notifications[-1]["message"])
    )
    _, [(values, categories)] = run_query(
        workspace,
        "SELECT count(*), count(DISTINCT attributes) FROM finlake_curated.bndes_balance_sheet "
        "WHERE reference_date = DATE '2019-03-31'",
    )
    assert (values, categories) == (2 * accounts, 2)  # Individual and Consolidado; the repeat added nothing

    import functions.bndes.parse as parse

    real = parse._deduplicate
    monkeypatch.setattr(parse, "_deduplicate", lambda outputs: (lambda k, d, c: (k[1:], d, c))(*real(outputs)))
    [lost] = run_plans(workspace, [RunPlan(BNDES, date="2026-11-24", inputs=[path], force=True)], echo=_quiet)
    assert lost.status == "FAILED" and lost.error == "RowAccountingError"
    assert "BNDES: 43 rows in, but 37 curated + 4 quarantined + 1 duplicates = 42" in lost.cause


def _quiet(*args: object, **kwargs: object) -> None:
    return None


def test_a_run_past_its_timeout_is_stopped_and_its_progress_so_far_still_reported(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch
):
    """`EmbeddedAws.run` reads the history for progress only every HISTORY_POLL_S: a run that times out (its
    Fetch held until then) still hands the states it reached to the callback before the error."""
    import functions.bndes.handlers as handlers

    reached, release = threading.Event(), threading.Event()
    original = handlers.fetch

    def held(event: dict, context: object) -> dict:
        reached.set()
        release.wait(60)
        return original(event, context)

    monkeypatch.setattr(handlers, "fetch", held)
    request = RunRequest(domain="bndes", date="2026-11-22").to_input()
    name = execution_name("bndes", "2026-11-22", request)
    seen: list[str] = []
    try:
        with pytest.raises(TimeoutError, match=f"execution {name} did not finish in 5 s"):
            aws.run(BNDES, request, name, on_event=lambda e: seen.append(f"{e.kind} {e.state}"), timeout_s=5)
    finally:
        release.set()
    assert reached.is_set() and seen[:1] == ["entered Fetch"], seen


def test_progress_reads_the_history_only_when_moto_holds_events_it_has_not_answered_with(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch
):
    """Polled on every status check here (HISTORY_POLL_S 0), GetExecutionHistory is still called only when the
    execution has new events, and the callback sees every state the finished run records, in order."""
    monkeypatch.setattr(runtime, "HISTORY_POLL_S", 0.0)
    reads: list[int | None] = []
    history = aws._history

    def counted(arn: str) -> list[dict]:
        events = history(arn)
        reads.append(len(events))
        return events

    monkeypatch.setattr(aws, "_history", counted)
    request = RunRequest(domain="bndes", date="2026-11-21").to_input()
    name = execution_name("bndes", "2026-11-21", request)
    seen: list[str] = []
    result = aws.run(BNDES, request, name, on_event=lambda e: seen.append(f"{e.kind} {e.state}"))

    assert result.status == "SUCCEEDED", result.cause
    assert [line.split(" ", 1)[1] for line in seen if line.startswith("entered")] == [s["state"] for s in result.states]
    arn = next(e["executionArn"] for e in aws.executions(BNDES) if e["name"] == name)
    assert runtime._event_count(arn) == reads[-1] == len(history(arn))
    assert len(reads) <= len(set(reads)) + 1  # at most the final read repeats a count already read
