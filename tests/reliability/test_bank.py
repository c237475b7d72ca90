"""Bank under faults and bad input, through the deployed definition on the embedded AWS.

The Nubank API is reached through pynubank; its client is chosen by
``functions.bank.handlers.nubank_client(source)``, monkeypatched here with pynubank's own
`MockHttpClient` made to fail the way pynubank's `HttpClient` does (`NuRequestException` for a
non-200 status, `requests`' `JSONDecodeError` for a 200 that is not JSON).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import awswrangler
import pytest
import requests
from pynubank import MockHttpClient, NuRequestException

from finlake.local.runtime import EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.query import run_query
from finlake.samples import bank as samples
from functions.bank import handlers
from functions.common.lake import Lake
from stacks.specs import BANK
from tests.reliability.faults import (
    ACCESS_DENIED,
    Fault,
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

FAILED_AT_FETCH = ["Fetch", "FetchFailed", "NotifyFailure", "SendToDeadLetterQueue", "Fail"]
API_REQUEST = {"domain": "bank", "source": "api", "month": "2024-09"}


class FlakyNubank(MockHttpClient):
    """pynubank's mock, whose login answers ``status`` (or a non-JSON 200) the first ``failures`` times."""

    logins = 0

    def __init__(self, failures: int, status: int = 503, body: str = "") -> None:
        super().__init__()
        self.failures, self.status, self.body = failures, status, body

    def post(self, url: str, json: dict) -> dict:
        if url.endswith("/api/token"):
            FlakyNubank.logins += 1
            if FlakyNubank.logins <= self.failures:
                if self.status == 200:  # what HttpClient's response.json() raises on HTML or an empty body
                    raise requests.exceptions.JSONDecodeError("Expecting value", self.body, 0)
                response = requests.Response()
                response.status_code, response.url = self.status, url
                raise NuRequestException(response)
        return super().post(url, json)


@pytest.fixture
def nubank(monkeypatch: pytest.MonkeyPatch):
    def install(failures: int, status: int = 503, body: str = "") -> None:
        FlakyNubank.logins = 0
        monkeypatch.setattr(handlers, "nubank_client", lambda source: FlakyNubank(failures, status, body))

    return install


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def run_files(aws: EmbeddedAws, paths: list[Path], name: str, **extra: object):
    request = {"domain": "bank", "month": "2024-09", "inputs": [aws.put_input("bank", p) for p in paths], **extra}
    return aws.run(BANK, request, name)


# -- 1. the source: a 503 at login, a 200 that is not JSON ------------------------------------------------


def test_a_503_at_login_fails_the_run_once_and_the_dead_letter_input_redrives(ws: Workspace, nubank):
    """pynubank does not retry and neither does the definition (SourceUnavailable is not in Fetch's
    Retry): a transient 503 costs one failed run, an email and a dead letter; a redrive succeeds."""
    nubank(failures=1)

    with EmbeddedAws(ws) as aws:
        failed = aws.run(BANK, API_REQUEST, "bank-api-503")
        attempts = task_attempts(aws, BANK, failed.name, "Fetch")
        aws.save_workspace()
        raw_after_failure = raw_bytes(ws)
        message, recovered = redrive(aws, BANK)

    assert failed.status == "FAILED"
    assert failed.error == "SourceUnavailable" and "HTTP 503" in failed.cause
    assert states(failed) == FAILED_AT_FETCH and attempts == 1
    assert [n["subject"] for n in failed.notifications] == ["[finlake] bank FAILED at Fetch"]
    assert message["input"] == API_REQUEST and message["failed_state"] == "Fetch"
    assert raw_after_failure == {}
    assert recovered.succeeded, recovered.cause
    assert FlakyNubank.logins == 2


def test_a_source_down_for_good_fails_every_run_without_retrying(ws: Workspace, nubank):
    nubank(failures=10**6, status=502)

    with EmbeddedAws(ws) as aws:
        failed = aws.run(BANK, API_REQUEST, "bank-api-down")
        _, again = redrive(aws, BANK)
        dead = aws.dead_letters()

    assert [failed.status, again.status] == ["FAILED", "FAILED"]
    assert failed.error == "SourceUnavailable" and "HTTP 502" in failed.cause
    assert FlakyNubank.logins == 2  # one login per run: no retry storm
    assert len(dead) == 2 and raw_bytes(ws) == {}


@pytest.mark.parametrize("body", ["<html><body>Manutenção</body></html>", ""], ids=["html", "empty"])
def test_an_html_or_empty_200_is_a_format_error(ws: Workspace, nubank, body: str):
    nubank(failures=1, status=200, body=body)

    with EmbeddedAws(ws) as aws:
        failed = aws.run(BANK, API_REQUEST, "bank-api-html")
        [dead] = aws.dead_letters()

    assert failed.status == "FAILED"
    assert failed.error == "SourceFormatError" and "not JSON" in failed.cause
    assert states(failed) == FAILED_AT_FETCH and dead["failed_state"] == "Fetch"
    assert raw_bytes(ws) == {}


# -- 2. a crash between writing the tables and registering their partitions ------------------------------


def test_a_crash_before_register_hides_the_partition_and_a_redrive_equals_a_clean_run(
    ws: Workspace, clean_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    july = write(tmp_path, "Nubank_2024-08-01.csv", samples.card_csv("2024-07", "2024-07"))
    august = write(tmp_path, "NU_extrato_01AGO2024_31AGO2024.csv", samples.nuconta_csv("2024-08", "2024-08"))
    crash = Fault(
        awswrangler.catalog.add_parquet_partitions,
        lambda: client_error("InternalServiceException", "BatchCreatePartition"),
        times=1,
    )

    with EmbeddedAws(ws) as aws:
        assert run_files(aws, [july], "bank-july").succeeded
        monkeypatch.setattr(awswrangler.catalog, "add_parquet_partitions", crash)
        failed = run_files(aws, [august], "bank-august")
        aws.save_workspace()
        _, months = run_query(ws, "SELECT DISTINCT month FROM finlake_curated.bank_transactions ORDER BY 1")
        message, recovered = redrive(aws, BANK)
    monkeypatch.undo()
    with EmbeddedAws(clean_ws) as aws:
        assert run_files(aws, [july], "bank-july").succeeded
        assert run_files(aws, [august], "bank-august").succeeded

    assert failed.status == "FAILED" and message["failed_state"] == "Catalog"
    assert failed.notifications[-1]["subject"] == "[finlake] bank FAILED at Catalog"
    assert months == [("2024-07",)]  # August's files are written, but no query sees them
    assert recovered.succeeded, recovered.cause
    assert lake_bytes(ws) == lake_bytes(clean_ws)
    assert catalog_partitions(ws) == catalog_partitions(clean_ws)


# -- 3. two runs of the same exports at once -------------------------------------------------------------


def test_two_runs_of_the_same_exports_at_once_leave_no_duplicate_rows(ws: Workspace, tmp_path: Path):
    files = [
        write(tmp_path, "Nubank_2024-09-01.csv", samples.card_csv("2024-08", "2024-08")),
        write(tmp_path, "NU_extrato_01AGO2024_31AGO2024.csv", samples.nuconta_csv("2024-08", "2024-08")),
    ]
    expected = len(samples.entries("card", "2024-08", "2024-08")) + len(
        samples.entries("nuconta", "2024-08", "2024-08")
    )
    with EmbeddedAws(ws) as aws:
        request = {"domain": "bank", "month": "2024-09", "inputs": [aws.put_input("bank", p) for p in files]}
        arns = [start(aws, BANK, request, "bank-same-a"), start(aws, BANK, {**request, "force": True}, "bank-same-b")]
        outcomes = [aws.wait(arn)["status"] for arn in arns]

    assert outcomes == ["SUCCEEDED", "SUCCEEDED"]
    _, [(count, distinct)] = run_query(
        ws, "SELECT count(*), count(DISTINCT transaction_key) FROM finlake_curated.bank_transactions"
    )
    assert count == distinct == expected


# -- 4. bad exports ----------------------------------------------------------------------------------------

CARD = samples.card_csv("2024-09", "2024-09")
NUCONTA = samples.nuconta_csv("2024-09", "2024-09")
OFX = samples.ofx("nuconta", "2024-09", "2024-09")


def _lines(data: bytes) -> list[str]:
    return data.decode().split("\n")


def _swap_first_and_last(data: bytes, line: int) -> bytes:
    lines = _lines(data)
    fields = lines[line - 1].split(",")
    fields[0], fields[-1] = fields[-1], fields[0]
    lines[line - 1] = ",".join(fields)
    return "\n".join(lines).encode()


def _cut_mid_line(data: bytes) -> bytes:
    text = data.decode().rstrip("\n")
    return text[: text.rindex("\n") + 12].encode()  # the last line stops after its date


LOADED = [  # (file, content, rows expected in, quarantined, warning)
    ("Nubank_2024-10-01.csv", CARD.decode().encode("cp1252"), 34, 0, "read as cp1252"),
    ("NU_extrato_01SET2024_30SET2024.csv", b"\xef\xbb\xbf" + NUCONTA, 11, 0, None),
    ("NU_extrato_01SET2024_30SET2024.csv", _cut_mid_line(NUCONTA), 11, 1, None),
    ("Nubank_2024-10-01.csv", _swap_first_and_last(CARD, 3), 34, 1, None),
    ("NU_20240901.ofx", OFX.decode().encode("cp1252"), 11, 0, None),
    ("NU_20240901.ofx", b"\xef\xbb\xbf" + OFX, 11, 0, None),
]


@pytest.mark.parametrize(
    ("name", "data", "rows_in", "quarantined", "warning"),
    LOADED,
    ids=["card-cp1252", "nuconta-bom", "nuconta-truncated", "card-swapped-types", "ofx-cp1252", "ofx-bom"],
)
def test_exports_in_cp1252_with_a_bom_or_bad_rows_load_or_quarantine_with_line_and_reason(
    ws: Workspace, tmp_path: Path, name: str, data: bytes, rows_in: int, quarantined: int, warning: str | None
):
    path = write(tmp_path, name, data)
    with EmbeddedAws(ws) as aws:
        result = run_files(aws, [path], "bank-bad-input")

    assert result.succeeded, result.cause
    counts = result.output["counts"]
    assert (counts["rows_in"], counts["rows_quarantined"]) == (rows_in, quarantined)
    assert counts["rows_in"] == counts["rows_valid"] + counts["rows_quarantined"]
    if warning:
        assert any(warning in w for w in result.output["warnings"])
    if quarantined:
        [uri] = result.output["quarantine"]
        [bad] = [json.loads(x) for x in lake_bytes(ws)[uri.removeprefix("s3://")].decode().splitlines()]
        assert bad["line"] > 1 and bad["reason"]
    _, descriptions = run_query(ws, "SELECT description FROM finlake_curated.bank_transactions")
    mangled = [d for (d,) in descriptions if "\ufffd" in d or re.search("[ÃÂ][\u0080-\u00bf]", d)]
    assert mangled == []  # accents decoded, not replaced nor read as UTF-8 bytes in latin-1


REJECTED = [
    ("Nubank_2024-10-01.csv", "\n".join(x + ",obs" if x else x for x in _lines(CARD)).encode(), "unknown header"),
    ("NU_extrato.csv", "\n".join(",".join(x.split(",")[:3]) for x in _lines(NUCONTA)).encode(), "unknown header"),
    ("NU_20240901.ofx", OFX[: len(OFX) // 2], "invalid OFX"),
    ("Nubank_2024-10-01.csv", "\ufeff".encode("utf-16-le") + CARD.decode().encode("utf-16-le"), "unknown header"),
]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    REJECTED,
    ids=["card-extra-column", "nuconta-missing-column", "ofx-truncated", "card-utf16"],
)
def test_an_export_with_an_unknown_header_or_truncated_ofx_is_rejected_naming_the_file(
    ws: Workspace, tmp_path: Path, name: str, data: bytes, reason: str
):
    path = write(tmp_path, name, data)
    with EmbeddedAws(ws) as aws:
        result = run_files(aws, [path], "bank-rejected")
        [dead] = aws.dead_letters()

    assert result.status == "FAILED" and result.error == "SourceRejected"
    assert f"{name} rejected" in result.cause and reason in result.cause
    assert result.notifications[-1]["subject"] == "[finlake] bank FAILED at Validate"
    assert dead["failed_state"] == "Validate"
    assert raw_bytes(ws) == {f"inbox/bank/{name}": data}
    [(key, body)] = lake_bytes(ws).items()
    assert key.endswith("/rejected.json") and reason in json.loads(body)["reason"]


# -- 5. S3 access denied writing the raw snapshot ----------------------------------------------------------


def test_access_denied_writing_raw_fails_once_and_the_dead_letter_input_redrives(
    ws: Workspace, nubank, monkeypatch: pytest.MonkeyPatch
):
    nubank(failures=0)
    fault = Fault(Lake.put, lambda: client_error(*ACCESS_DENIED[:1], "PutObject", ACCESS_DENIED[1]))

    with EmbeddedAws(ws) as aws:
        monkeypatch.setattr(Lake, "put", fault)
        failed = aws.run(BANK, API_REQUEST, "bank-access-denied")
        attempts = task_attempts(aws, BANK, failed.name, "Fetch")
        aws.save_workspace()
        raw_after_failure = raw_bytes(ws)
        monkeypatch.setattr(Lake, "put", fault.original)
        message, recovered = redrive(aws, BANK)

    assert failed.status == "FAILED" and failed.error == "ClientError" and "AccessDenied" in failed.cause
    assert states(failed) == FAILED_AT_FETCH and attempts == 1 and fault.raised == 1
    assert failed.notifications[-1]["subject"] == "[finlake] bank FAILED at Fetch"
    assert message["input"] == API_REQUEST
    assert raw_after_failure == {}
    assert recovered.succeeded, recovered.cause
