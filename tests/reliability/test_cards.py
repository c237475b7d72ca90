"""Cards under faults and bad input, through the deployed definition on the embedded AWS.

Cards has no HTTP source (files are dropped in the raw inbox), so the source scenarios are N/A.
Validate and Transform are Glue jobs on local Spark: one run here goes all the way, and it
carries three scenarios (an S3 fault at Fetch, the redrive of its dead letter with a file full of
bad rows, then the same files again).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finlake.local.runtime import BUCKETS, EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.naming import RunRequest
from finlake.query import run_query
from finlake.samples import cards
from functions.common.lake import Lake
from stacks.specs import CARDS
from tests.reliability.faults import (
    ACCESS_DENIED,
    Fault,
    client_error,
    raw_bytes,
    redrive,
    states,
    task_attempts,
)

pytestmark = pytest.mark.slow

MONTH = "2024-09"
INVOICES, PAYMENTS = cards.generate(20, 1, end_month=MONTH, anomalies=False)[MONTH]
FAILED_AT_VALIDATE = ["ValidateFailed", "NotifyFailure", "SendToDeadLetterQueue", "Fail"]


def files(tmp_path: Path, invoices: bytes, payments: bytes) -> list[Path]:
    paths = [tmp_path / "tb_faturas_202409.csv", tmp_path / "tb_pagamentos_202409.csv"]
    for path, data in zip(paths, (invoices, payments), strict=True):
        path.write_bytes(data)
    return paths


def run(aws: EmbeddedAws, paths: list[Path], name: str):
    request = RunRequest(domain="cards", month=MONTH, inputs=[aws.put_input("cards", p) for p in paths]).to_input()
    return aws.run(CARDS, request, name)


def bad_invoices() -> tuple[bytes, dict[int, str]]:
    """The invoice file re-saved on Windows (BOM, CRLF) with rows a person would get wrong; returns
    the bytes and the line -> reason expected in quarantine."""
    lines = INVOICES.decode().splitlines()
    lines[2] = lines[2] + ",9"  # an extra field
    lines[3] = ",".join(lines[3].split(",")[:-1])  # a missing field
    f = lines[4].split(",")
    lines[4] = ",".join([f[0], f[1], f[4], f[3], f[2], f[5]])  # an amount and a date swapped
    lines[5] = lines[5].replace(",", ",\u00a0", 1)  # a no-break space (cp1252 0xA0) in an id
    text = "\r\n".join(lines[:-1]) + "\r\n" + lines[-1][: len(lines[-1]) // 2]  # cut in the last line
    data = b"\xef\xbb\xbf" + text.encode("cp1252")
    expected = {
        3: "expected",
        4: "expected",
        5: "dt_emissao_fatura is not a valid yyyy-mm-dd date",
        6: "not valid utf_8 text: byte 0xa0",  # the BOM says UTF-8: the cp1252 byte is not decoded into mojibake
        len(lines): "expected",
    }
    return data, expected


def test_access_denied_then_redrive_quarantines_bad_rows_then_same_files_are_nothing_new(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    invoices, expected = bad_invoices()
    paths = files(tmp_path, invoices, PAYMENTS)
    fault = Fault(Lake.get, lambda: client_error(ACCESS_DENIED[0], "GetObject", ACCESS_DENIED[1]), times=None)

    with EmbeddedAws(ws) as aws:
        request = RunRequest(domain="cards", month=MONTH, inputs=[aws.put_input("cards", p) for p in paths]).to_input()
        monkeypatch.setattr(Lake, "get", fault)
        failed = aws.run(CARDS, request, "cards-access-denied")
        attempts = task_attempts(aws, CARDS, failed.name, "Fetch")
        monkeypatch.setattr(Lake, "get", fault.original)
        aws.save_workspace()
        raw_after_failure = raw_bytes(ws)
        message, recovered = redrive(aws, CARDS)
        again = aws.run(CARDS, request, "cards-same-files-again")

    assert failed.status == "FAILED" and failed.error == "ClientError" and "AccessDenied" in failed.cause
    assert states(failed).count("Fetch") == 1 and attempts == 1 and fault.raised == 1
    assert failed.notifications[-1]["subject"] == "[finlake] cards FAILED at Fetch"
    assert message["input"] == request
    assert raw_after_failure == {f"inbox/cards/{p.name}": p.read_bytes() for p in paths}

    assert recovered.succeeded, recovered.cause
    counts = recovered.output["counts"]
    rows_in = len(INVOICES.splitlines()) - 1 + len(PAYMENTS.splitlines()) - 1
    assert counts["rows_in"] == rows_in and counts["rows_quarantined"] >= len(expected)
    assert "(ok)" in recovered.notifications[-1]["message"]  # raw = curated + quarantined + duplicates
    quarantine = ws.s3_dir / BUCKETS["CURATED_BUCKET"] / f"quarantine/cards/{MONTH}/invoices.jsonl"
    bad = [json.loads(line) for line in quarantine.read_text().splitlines()]
    by_line = {b["line"]: b for b in bad}
    for line, reason in expected.items():
        assert reason in by_line[line]["reason"], by_line[line]
        assert by_line[line]["source"] == f"s3://{BUCKETS['RAW_BUCKET']}/inbox/cards/tb_faturas_202409.csv"

    assert states(again) == ["Fetch", "AnythingNew?", "NothingNew"]
    _, [(rows, distinct)] = run_query(
        ws, "SELECT count(*), count(DISTINCT id_fatura) FROM finlake_curated.cards_invoices"
    )
    assert rows == distinct == len(INVOICES.splitlines()) - 1 - len(expected)


@pytest.mark.parametrize(
    ("invoices", "payments", "file", "found"),
    [
        (INVOICES.replace(b"valor_pagamento_minimo", b"valor_pagamento_minimo,obs", 1), PAYMENTS, "tb_faturas", "obs"),
        (INVOICES, PAYMENTS.replace(b",", b";"), "tb_pagamentos", "id_pagamento;id_fatura"),
    ],
    ids=["invoices-extra-column", "payments-semicolons"],
)
def test_a_file_with_an_unexpected_header_or_encoding_is_rejected_naming_it(
    ws: Workspace, tmp_path: Path, invoices: bytes, payments: bytes, file: str, found: str
):
    with EmbeddedAws(ws) as aws:
        result = run(aws, files(tmp_path, invoices, payments), "cards-bad-header")
        [dead] = aws.dead_letters()

    assert result.status == "FAILED"
    assert states(result)[-4:] == FAILED_AT_VALIDATE and "Transform" not in states(result)
    assert "HeaderMismatch" in result.cause and f"{file}_202409.csv: header mismatch" in result.cause
    assert found in result.cause
    assert result.notifications[-1]["subject"] == "[finlake] cards FAILED at Validate"
    assert dead["failed_state"] == "Validate"
    assert not list((ws.s3_dir / BUCKETS["CURATED_BUCKET"]).glob("cards_*/**/*.parquet"))
    assert raw_bytes(ws)[f"inbox/cards/{file}_202409.csv"] in (invoices, payments)
