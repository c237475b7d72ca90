"""Bank under faults and bad input, through the deployed definition on the embedded AWS.

The Nubank API is reached through pynubank with the live client the Lambda uses,
`functions.bank.nubank_http.RetryingHttpClient` (its session, PKCS#12 adapter with a generated
certificate, urllib3 retries; backoff shortened to 10 ms), whose `https://` requests are sent to a
local `http.server`. That server answers what pynubank's own `MockHttpClient` would, unless a
scripted fault for the login comes first.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import awswrangler
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12
from cryptography.x509.oid import NameOID
from pynubank import MockHttpClient
from requests import Response

from finlake.local import sources
from finlake.local.runtime import EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.query import run_query
from finlake.samples import bank as samples
from finlake.samples.bank import LOCAL_NUBANK_CPF
from functions.bank import handlers
from functions.bank.nubank_http import RetryingHttpClient
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
LOGIN = "/api/token"


class LocalNubank:
    """Nubank on 127.0.0.1: each request gets what pynubank's `MockHttpClient` answers for its
    original URL, except the logins, which first get the scripted ``faults`` (status, body)."""

    def __init__(self) -> None:
        self.mock = MockHttpClient()
        self.faults: list[tuple[int, str]] = []
        self.logins = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def fail_logins(self, status: int, times: int, body: str = "") -> None:
        self.faults = [(status, body)] * times

    def answer(self, method: str, url: str, body: bytes) -> tuple[int, bytes]:
        if url.endswith(LOGIN):
            self.logins += 1
            if self.faults:
                status, text = self.faults.pop(0)
                return status, text.encode()
        # pynubank builds GraphQL bodies as OrderedDicts and its mock matches them by str()
        result = self.mock.get(url) if method == "GET" else self.mock.post(url, OrderedDict(json.loads(body or b"{}")))
        return 200, json.dumps(result).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        nubank = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = nubank.answer(method, "https://" + self.path.lstrip("/"), body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_POST(self) -> None:
                self._reply("POST")

            def log_message(self, *args: object) -> None:
                pass

        return Handler


class ThroughLocalNubank(RetryingHttpClient):  # type: ignore[misc]
    """The live client, unchanged but for where its ``https://`` URLs go."""

    def __init__(self, nubank: LocalNubank) -> None:
        super().__init__(backoff=0.01)
        self.base = nubank.url

    def raw_get(self, url: str) -> Response:
        return super().raw_get(f"{self.base}/{url.removeprefix('https://')}")

    def raw_post(self, url: str, json: dict[str, Any]) -> Response:
        return super().raw_post(f"{self.base}/{url.removeprefix('https://')}", json)


def generated_p12() -> bytes:
    """A self-signed PKCS#12 with no password, as the Lambda's PKCS#12 adapter loads Nubank's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "finlake reliability test")])
    since = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(since)
        .not_valid_after(since + datetime.timedelta(days=36500))
        .sign(key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(b"finlake", key, certificate, None, NoEncryption())


@pytest.fixture
def nubank(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalNubank]:
    server = LocalNubank()
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    login = {
        "cpf": LOCAL_NUBANK_CPF,
        "password": "local-only",
        "certificate_p12_base64": base64.b64encode(generated_p12()).decode(),
    }
    local_secret = sources.local_secret

    def secret(ws: Workspace, domain: str, key: str) -> str:
        return json.dumps(login) if (domain, key) == ("bank", "nubank") else local_secret(ws, domain, key)

    monkeypatch.setattr(sources, "local_secret", secret)
    monkeypatch.setattr(handlers, "nubank_client", lambda source: ThroughLocalNubank(server))
    yield server
    server.server.shutdown()
    server.server.server_close()


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def run_files(aws: EmbeddedAws, paths: list[Path], name: str, **extra: object):
    request = {"domain": "bank", "month": "2024-09", "inputs": [aws.put_input("bank", p) for p in paths], **extra}
    return aws.run(BANK, request, name)


# -- 1. the source: 503s at login, a source down for good, a 200 that is not JSON ---------------------------


def test_503s_at_login_are_retried_by_the_client_and_the_run_succeeds_once(ws: Workspace, nubank: LocalNubank):
    nubank.fail_logins(503, times=2)

    with EmbeddedAws(ws) as aws:
        result = aws.run(BANK, API_REQUEST, "bank-api-503")
        attempts = task_attempts(aws, BANK, result.name, "Fetch")
        dead = aws.dead_letters()

    assert result.succeeded, result.cause
    assert nubank.logins == 3 and attempts == 1  # retried inside Fetch, not by the state machine
    assert dead == []
    assert [key.rsplit("/", 1)[0] for key in raw_bytes(ws)] == ["bank/nubank-api/2024-09"]  # one snapshot


def test_a_source_down_for_good_fails_every_run_after_bounded_retries(ws: Workspace, nubank: LocalNubank):
    nubank.fail_logins(502, times=10**6)

    with EmbeddedAws(ws) as aws:
        failed = aws.run(BANK, API_REQUEST, "bank-api-down")
        attempts = task_attempts(aws, BANK, failed.name, "Fetch")
        message, again = redrive(aws, BANK)
        dead = aws.dead_letters()

    assert [failed.status, again.status] == ["FAILED", "FAILED"]
    assert failed.error == "SourceUnavailable" and "HTTP 502" in failed.cause
    assert states(failed) == FAILED_AT_FETCH and attempts == 1
    assert [n["subject"] for n in failed.notifications] == ["[finlake] bank FAILED at Fetch"]
    assert message["input"] == API_REQUEST and message["failed_state"] == "Fetch"
    assert nubank.logins == 2 * 4  # 1 + 3 retries per run: no retry storm
    assert len(dead) == 2 and raw_bytes(ws) == {}


@pytest.mark.parametrize("body", ["<html><body>Manutenção</body></html>", ""], ids=["html", "empty"])
def test_an_html_or_empty_200_is_a_format_error(ws: Workspace, nubank: LocalNubank, body: str):
    nubank.fail_logins(200, times=1, body=body)

    with EmbeddedAws(ws) as aws:
        failed = aws.run(BANK, API_REQUEST, "bank-api-html")
        [dead] = aws.dead_letters()

    assert failed.status == "FAILED"
    assert failed.error == "SourceFormatError" and "not JSON" in failed.cause
    assert states(failed) == FAILED_AT_FETCH and dead["failed_state"] == "Fetch"
    assert nubank.logins == 1  # a 200 is not retried
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
    ("Nubank_2024-10-01.csv", b"\x81\x8d\x8f\x90\x9d" * 200, "not text in any of UTF-8"),
]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    REJECTED,
    ids=["card-extra-column", "nuconta-missing-column", "ofx-truncated", "card-not-text"],
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
    ws: Workspace, nubank: LocalNubank, monkeypatch: pytest.MonkeyPatch
):
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
