"""BNDES under faults and bad input, through the deployed definition on the embedded AWS.

The CKAN fetcher's base URL is a constant (``functions.bndes.ckan.DEFAULT_BASE_URL``), so the live
`Urllib3Http` is pointed at a local ``http.server`` through the transport seam
(``use_transport("bndes", LocalSourceHttp(...))``, which rewrites ``https://host/path`` to
``http://127.0.0.1:<port>/host/path``). The server answers from the bundled CKAN cassette unless a
scripted fault matches first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import awswrangler
import pytest

from finlake.local.runtime import BUCKETS, EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.naming import RunRequest, execution_name
from finlake.query import run_query
from finlake.samples.bndes import sample_csv, workspace_cassette, write_bndes_cassette
from functions.common.http import ReplayHttp, use_transport
from functions.common.lake import Lake
from stacks.specs import BNDES
from tests.reliability.faults import (
    ACCESS_DENIED,
    KMS_DISABLED,
    Answer,
    Fault,
    LocalSourceHttp,
    SourceServer,
    catalog_partitions,
    client_error,
    lake_bytes,
    raw_bytes,
    redrive,
    start,
    states,
    task_attempts,
)

pytestmark = pytest.mark.slow

DATE = "2026-11-22"
PACKAGE = "package_show?id=balanco-patrimonial"
FAILED_AT_FETCH = ["Fetch", "FetchFailed", "NotifyFailure", "SendToDeadLetterQueue", "Fail"]
TABLE = "finlake_curated.bndes_balance_sheet"


def run(aws: EmbeddedAws, suffix: str = "", **kwargs):
    request = RunRequest(domain="bndes", date=DATE, **kwargs).to_input()
    return aws.run(BNDES, request, execution_name("bndes", DATE, request) + suffix)


def with_cassette(ws: Workspace) -> EmbeddedAws:
    """The embedded AWS with bndes's Fetch replaying the workspace's cassette (the handlers' cassette hook)."""
    return EmbeddedAws(ws, function_env={"bndes.Fetch": {"FINLAKE_HTTP_CASSETTE": str(workspace_cassette(ws))}})


@pytest.fixture
def source(tmp_path: Path) -> Iterator[SourceServer]:
    """The CKAN portal on 127.0.0.1, fetched by the real Urllib3Http (3 retries, 10 ms backoff)."""
    with SourceServer(ReplayHttp(write_bndes_cassette(tmp_path / "cassette"))) as server:
        use_transport("bndes", LocalSourceHttp(server))
        try:
            yield server
        finally:
            use_transport("bndes", None)


def ifrs_years(first: int = 2020, last: int = 2024) -> list[str]:
    """One IFRS file of several years (4 quarter rows each): header + 20 rows for five years."""
    files = [sample_csv("IFRS", year, encoding="utf-8").decode().splitlines() for year in range(first, last + 1)]
    return files[0] + [line for f in files[1:] for line in f[1:]]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- 1. the source: transient errors, down for good, HTML or empty bodies --------------------------------


def test_429_and_5xx_are_retried_and_the_run_succeeds_once(source: SourceServer, ws: Workspace):
    source.fail(PACKAGE, Answer(429, b"slow down", {"Retry-After": "0"}), Answer(503, b"maintenance"))
    source.fail(".csv", Answer(500, b"oops"), Answer(502, b"bad gateway"))

    with EmbeddedAws(ws) as aws:
        result = run(aws)
        dead = aws.dead_letters()

    assert result.status == "SUCCEEDED", result.cause
    assert source.count(PACKAGE) == 3 and source.count(PACKAGE, 200) == 1  # 429, 503, then the answer
    assert source.count(".csv", 200) == 15 and source.count(".csv") == 17  # the first CSV: 500, 502, 200
    assert len(raw_bytes(ws)) == 15  # each resource stored once, as received
    assert result.notifications[0]["subject"] == f"[finlake] bndes {DATE} succeeded"
    assert dead == []


def test_a_source_down_for_good_fails_once_with_email_and_dead_letter(source: SourceServer, ws: Workspace):
    source.down(PACKAGE, Answer(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}))

    with EmbeddedAws(ws) as aws:
        result = run(aws)
        [dead] = aws.dead_letters()
        attempts = task_attempts(aws, BNDES, result.name, "Fetch")

    assert result.status == "FAILED"
    assert result.error == "SourceUnavailable"
    assert "HTTP 503" in result.cause and "after 3 retries" in result.cause
    assert source.count(PACKAGE) == 4  # 1 + 3 retries inside Fetch, bounded
    assert states(result) == FAILED_AT_FETCH and attempts == 1  # Step Functions does not retry it
    assert [n["subject"] for n in result.notifications] == ["[finlake] bndes FAILED at Fetch"]
    assert dead["input"] == result.input and dead["failed_state"] == "Fetch"
    assert raw_bytes(ws) == {}


@pytest.mark.parametrize(
    ("match", "answer", "expected"),
    [
        (PACKAGE, Answer(200, b"<!DOCTYPE html><html>Login</html>", {"Content-Type": "text/html"}), "an error page"),
        (PACKAGE, Answer(200, b"", {"Content-Type": "application/json"}), "an empty body"),
        (".csv", Answer(200, b"<html><body>Erro</body></html>", {"Content-Type": "text/csv"}), "an error page"),
        (".csv", Answer(200, b"\r\n", {"Content-Type": "text/csv"}), "an empty body"),
    ],
    ids=["html-package", "empty-package", "html-csv", "empty-csv"],
)
def test_an_html_or_empty_200_body_is_retried_then_unavailable_and_nothing_is_stored(
    source: SourceServer, ws: Workspace, match: str, answer: Answer, expected: str
):
    source.down(match, answer)

    with EmbeddedAws(ws) as aws:
        result = run(aws)
        dead = aws.dead_letters()

    assert result.status == "FAILED"
    assert result.error == "NotTheFile"
    assert expected in result.cause and "3 times" in result.cause and "dadosabertos.bndes.gov.br" in result.cause
    assert source.count(match) == 3  # recognised in Fetch and retried, bounded
    assert states(result) == FAILED_AT_FETCH
    assert [d["failed_state"] for d in dead] == ["Fetch"]
    assert raw_bytes(ws) == {}


def test_an_html_200_body_once_is_retried_and_the_run_succeeds(source: SourceServer, ws: Workspace):
    source.fail(".csv", Answer(200, b"<html><body>Erro</body></html>", {"Content-Type": "text/csv"}))

    with EmbeddedAws(ws) as aws:
        result = run(aws)

    assert result.status == "SUCCEEDED", result.cause
    assert source.count(".csv") == 15 + 1  # every resource once, the one that got the page twice
    assert not any(b"<html>" in body for body in raw_bytes(ws).values())


# -- 2. a crash between writing the data and registering its partitions ----------------------------------


def test_a_crash_before_register_hides_the_partition_and_a_redrive_equals_a_clean_run(
    ws: Workspace, clean_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    lines = (
        sample_csv("IFRS", 2026, encoding="utf-8").decode().splitlines()[:2]
    )  # header + the 31/03/2026 row: a new partition
    extra = write(tmp_path, "balanco-ifrs-2026-parcial.csv", ("\n".join(lines) + "\n").encode())
    crash = Fault(
        awswrangler.catalog.add_parquet_partitions,
        lambda: client_error("InternalServiceException", "BatchCreatePartition"),
        times=1,
    )

    base = write(tmp_path, "balanco-ifrs-2020-2024.csv", ("\n".join(ifrs_years()) + "\n").encode())
    with EmbeddedAws(ws) as aws:
        assert run(aws, inputs=[aws.put_input("bndes", base)]).succeeded  # 20 partitions registered
        monkeypatch.setattr(awswrangler.catalog, "add_parquet_partitions", crash)
        failed = run(aws, inputs=[aws.put_input("bndes", extra)])
        aws.save_workspace()
        _, [(visible, partial)] = run_query(
            ws, f"SELECT count(*), count(*) FILTER (WHERE reference_date = DATE '2026-03-31') FROM {TABLE}"
        )
        written = (ws.s3_dir / BUCKETS["CURATED_BUCKET"] / "bndes_balance_sheet/reference_date=2026-03-31").exists()
        message, recovered = redrive(aws, BNDES)
    monkeypatch.undo()

    with EmbeddedAws(clean_ws) as aws:
        assert run(aws, inputs=[aws.put_input("bndes", base)]).succeeded
        assert run(aws, inputs=[aws.put_input("bndes", extra)]).succeeded

    assert failed.status == "FAILED" and states(failed)[-4:] == [
        "CatalogFailed",
        "NotifyFailure",
        "SendToDeadLetterQueue",
        "Fail",
    ]
    assert failed.notifications[-1]["subject"] == "[finlake] bndes FAILED at Catalog"
    assert message["failed_state"] == "Catalog" and message["error"] == "ClientError"
    assert written and partial == 0 and visible > 0  # the file is in S3, but no query sees it
    assert recovered.succeeded, recovered.cause
    assert lake_bytes(ws) == lake_bytes(clean_ws)
    assert catalog_partitions(ws) == catalog_partitions(clean_ws)
    assert ["2026-03-31"] in catalog_partitions(ws)[TABLE]


# -- 3. the same input twice, and two runs of one partition at once --------------------------------------


def test_two_runs_of_the_same_partition_at_once_leave_no_duplicate_rows(
    ws: Workspace, clean_ws: Workspace, tmp_path: Path
):
    path = write(tmp_path, "balanco-ifrs-2020-2024.csv", ("\n".join(ifrs_years()) + "\n").encode())
    with EmbeddedAws(ws) as aws:
        request = RunRequest(domain="bndes", date=DATE, inputs=[aws.put_input("bndes", path)]).to_input()
        first = start(aws, BNDES, request, "bndes-concurrent-a")
        second = start(aws, BNDES, request, "bndes-concurrent-b")  # started before the first is waited for
        outcomes = [aws.wait(first)["status"], aws.wait(second)["status"]]
    with EmbeddedAws(clean_ws) as aws:
        assert run(aws, inputs=[aws.put_input("bndes", path)]).succeeded

    assert outcomes == ["SUCCEEDED", "SUCCEEDED"]
    _, [(rows, distinct)] = run_query(
        ws,
        f"SELECT count(*), count(DISTINCT (reference_date, resource_id, source_line, account)) FROM {TABLE}",
    )
    assert rows == distinct
    assert lake_bytes(ws) == lake_bytes(clean_ws)
    assert catalog_partitions(ws) == catalog_partitions(clean_ws)


def test_the_same_file_twice_adds_nothing_and_a_forced_rerun_adds_no_duplicate(ws: Workspace, tmp_path: Path):
    path = write(tmp_path, "balanco-ifrs-2020-2024.csv", ("\n".join(ifrs_years()) + "\n").encode())
    with EmbeddedAws(ws) as aws:
        uri = aws.put_input("bndes", path)
        first = run(aws, inputs=[uri])
        aws.save_workspace()
        after_first = lake_bytes(ws)
        again = run(aws, inputs=[uri], suffix="-again")
        forced = run(aws, inputs=[uri], force=True)

    assert [first.status, again.status, forced.status] == ["SUCCEEDED"] * 3
    assert states(again) == ["Fetch", "AnythingNew?", "NothingNew"]
    assert lake_bytes(ws) == after_first
    _, [(rows, distinct)] = run_query(
        ws, f"SELECT count(*), count(DISTINCT (reference_date, resource_id, source_line, account)) FROM {TABLE}"
    )
    assert rows == distinct == first.output["counts"]["rows_written"]


# -- 4. bad files fed with --input ------------------------------------------------------------------------


def _rejected(tmp_path: Path, ws: Workspace, name: str, data: bytes, reason: str) -> None:
    path = write(tmp_path, name, data)
    with EmbeddedAws(ws) as aws:
        result = run(aws, inputs=[aws.put_input("bndes", path)])
        dead = aws.dead_letters()

    assert result.status == "FAILED"
    assert result.error == "FileRejected"
    assert name in result.cause and reason in result.cause
    assert [d["failed_state"] for d in dead] == ["Validate"]
    assert result.notifications[-1]["subject"] == "[finlake] bndes FAILED at Validate"
    assert raw_bytes(ws) == {f"inbox/bndes/{name}": data}  # raw untouched
    curated = lake_bytes(ws)
    [(key, body)] = curated.items()  # nothing but the rejection note
    assert key.endswith(".rejected.json") and reason in json.loads(body)["reason"]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_latin1_or_cp1252_file_loads_as_its_utf8_twin(
    ws: Workspace, clean_ws: Workspace, tmp_path: Path, encoding: str
):
    """BNDES publishes windows-1252 since February 2025: decoded (detected, nothing declared), not rejected."""
    text = "\n".join(ifrs_years()) + "\n"
    with EmbeddedAws(ws) as aws:
        legacy = run(aws, inputs=[aws.put_input("bndes", write(tmp_path, "ifrs.csv", text.encode(encoding)))])
    (tmp_path / "utf8").mkdir()
    with EmbeddedAws(clean_ws) as aws:
        utf8 = run(aws, inputs=[aws.put_input("bndes", write(tmp_path / "utf8", "ifrs.csv", text.encode()))])

    assert legacy.succeeded and utf8.succeeded, legacy.cause
    assert legacy.output["counts"] == utf8.output["counts"]
    assert legacy.output["counts"]["rows_in"] == legacy.output["counts"]["rows_curated"] == 20
    # the same curated bytes (accented labels included); only the ingested MD5 differs
    assert lake_bytes(ws, skip=("_runs/", "_state/")) == lake_bytes(clean_ws, skip=("_runs/", "_state/"))


def test_a_file_that_is_not_text_is_rejected_whole_naming_the_file(ws: Workspace, tmp_path: Path):
    data = ("\n".join(ifrs_years()[:1]) + "\n").encode() + bytes(range(0x80, 0x100)) * 8
    _rejected(tmp_path, ws, "balanco-ifrs-binary.csv", data, "not text in any of UTF-8")


def test_swapped_types_in_over_10pct_of_rows_reject_the_file_with_the_first_bad_line(ws: Workspace, tmp_path: Path):
    lines = sample_csv("IFRS", 2023, encoding="utf-8").decode().splitlines()  # header + 4 quarters
    fields = lines[2].split(";")
    lines[2] = ";".join([fields[0], fields[2], fields[1], *fields[3:]])  # 1 bad row of 4: over the 10% limit
    _rejected(tmp_path, ws, "balanco-ifrs-2023.csv", ("\n".join(lines) + "\n").encode(), "line 3: column")


def test_a_bom_is_ignored_and_the_file_loads_as_without_it(ws: Workspace, clean_ws: Workspace, tmp_path: Path):
    text = ("\n".join(ifrs_years()) + "\n").encode()
    with EmbeddedAws(ws) as aws:
        with_bom = run(aws, inputs=[aws.put_input("bndes", write(tmp_path, "ifrs.csv", b"\xef\xbb\xbf" + text))])
    (tmp_path / "plain").mkdir()
    with EmbeddedAws(clean_ws) as aws:
        plain = run(aws, inputs=[aws.put_input("bndes", write(tmp_path / "plain", "ifrs.csv", text))])

    assert with_bom.succeeded and plain.succeeded
    assert with_bom.output["counts"] == plain.output["counts"]
    assert with_bom.output["counts"]["rows_quarantined"] == 0
    # the same curated bytes; only the ingested MD5 differs (the BOM is part of the file)
    assert lake_bytes(ws, skip=("_runs/", "_state/")) == lake_bytes(clean_ws, skip=("_runs/", "_state/"))


def test_truncated_and_swapped_rows_are_quarantined_with_line_and_reason(ws: Workspace, tmp_path: Path):
    lines = ifrs_years()
    fields = lines[5].split(";")
    lines[5] = ";".join([fields[0], fields[2], fields[1], *fields[3:]])  # text where a number goes
    lines[-1] = lines[-1][: len(lines[-1]) // 2]  # the download stopped in the middle of the last line
    path = write(tmp_path, "balanco-ifrs-cortado.csv", "\n".join(lines).encode())

    with EmbeddedAws(ws) as aws:
        result = run(aws, inputs=[aws.put_input("bndes", path)])

    assert result.succeeded, result.cause
    counts = result.output["counts"]
    assert (counts["rows_in"], counts["rows_valid"], counts["rows_quarantined"]) == (20, 18, 2)
    [uri] = result.output["quarantine"]
    bad = [json.loads(x) for x in lake_bytes(ws)[uri.removeprefix("s3://")].decode().splitlines()]
    assert [b["line"] for b in bad] == [6, 21]
    assert "is not a pt-BR number" in bad[0]["reason"] and "expected 17 fields" in bad[1]["reason"]
    assert (
        "1 quarantined" not in result.notifications[-1]["message"]
        and "2 quarantined" in (result.notifications[-1]["message"])
    )


def test_extra_and_missing_columns_load_with_a_warning(ws: Workspace, tmp_path: Path):
    lines = sample_csv("IFRS", 2026, encoding="utf-8").decode().splitlines()[:2]
    extra = [lines[0] + ";Coluna nova", lines[1] + ";1,00"]
    missing = [";".join(x.split(";")[:-1]) for x in lines]
    base = write(tmp_path, "balanco-ifrs-2020-2024.csv", ("\n".join(ifrs_years()) + "\n").encode())
    with EmbeddedAws(ws) as aws:
        assert run(aws, inputs=[aws.put_input("bndes", base)]).succeeded  # records the IFRS columns
        more = run(
            aws, inputs=[aws.put_input("bndes", write(tmp_path, "ifrs-2026-extra.csv", "\n".join(extra).encode()))]
        )
        fewer = run(
            aws, inputs=[aws.put_input("bndes", write(tmp_path, "ifrs-2026-less.csv", "\n".join(missing).encode()))]
        )

    assert more.succeeded and fewer.succeeded
    assert any("new columns ['coluna_nova']" in w for w in more.output["warnings"])
    assert any("missing columns" in w for w in fewer.output["warnings"])
    assert "Warning: ifrs-2026-extra.csv: new columns" in more.notifications[-1]["message"]


# -- 5. S3 access denied, KMS key disabled ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "code", "state", "bucket"),
    [("put", ACCESS_DENIED, "Transform", "finlake-curated"), ("get", KMS_DISABLED, "Validate", "finlake-raw")],
    ids=["s3-access-denied-writing-curated", "kms-disabled-reading-raw"],
)
def test_an_s3_or_kms_fault_fails_once_then_the_dead_letter_input_redrives(
    ws: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    code: tuple[str, str],
    state: str,
    bucket: str,
):
    operation = {"put": "PutObject", "get": "GetObject"}[method]
    # Transform's writes to the curated table are denied; or, the raw input is read once by Fetch
    # (its MD5) and then, the key disabled, by Validate.
    fault = Fault(
        getattr(Lake, method),
        lambda: client_error(code[0], operation, code[1]),
        when=lambda lake, uri, *a, **k: uri.startswith(
            f"s3://{bucket}/{'bndes_balance_sheet/' if method == 'put' else ''}"
        ),
        skip=0 if method == "put" else 1,
    )
    path = write(tmp_path, "balanco-ifrs-2020-2024.csv", ("\n".join(ifrs_years()) + "\n").encode())

    with EmbeddedAws(ws) as aws:
        request = {"inputs": [aws.put_input("bndes", path)]}
        monkeypatch.setattr(Lake, method, fault)
        failed = run(aws, **request)
        attempts = task_attempts(aws, BNDES, failed.name, state)
        aws.save_workspace()
        raw_after_failure, curated_after_failure = raw_bytes(ws), lake_bytes(ws)
        monkeypatch.setattr(Lake, method, fault.original)  # the operator fixes the bucket policy / the key
        message, recovered = redrive(aws, BNDES)

    assert failed.status == "FAILED"
    assert failed.error == "ClientError" and code[0] in failed.cause
    assert states(failed).count(state) == 1 and attempts == 1 and fault.raised == 1  # no retry storm
    assert failed.notifications[-1]["subject"] == f"[finlake] bndes FAILED at {state}"
    assert message["failed_state"] == state and message["input"] == failed.input
    assert raw_after_failure == {"inbox/bndes/balanco-ifrs-2020-2024.csv": path.read_bytes()}  # raw untouched
    assert not any("bndes_balance_sheet/" in key for key in curated_after_failure)
    assert recovered.succeeded, recovered.cause
