"""The deployed cards definition on the embedded AWS: two Glue jobs on local Spark, the S3 trigger."""

from __future__ import annotations

from pathlib import Path

import pytest

from finlake.local.runner import RunPlan, run_plans
from finlake.local.runtime import BUCKETS, EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.query import run_query
from finlake.samples import cards
from stacks.specs import CARDS

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "cards"


def quiet(*args: object, **kwargs: object) -> None:
    return None


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


@pytest.mark.skipif(not FIXTURES.exists(), reason="../shared/fixtures is not beside the checkout")
def test_the_real_sample_reconciles_and_gives_the_contract_worked_example(ws: Workspace):
    # the public sample as published: date-stamped names (tb_fatura_YYYYMMDD_YYYYMMDDHHMMSS.csv)
    invoices = FIXTURES / "tb_fatura_20240901_20240902000000.csv"
    payments = FIXTURES / "tb_pagamentos_20240901_20240902000000.csv"

    [result] = run_plans(ws, [RunPlan(CARDS, month="2024-09", inputs=[invoices, payments])], echo=quiet)

    assert result.status == "SUCCEEDED", result.cause
    assert [s["state"] for s in result.states] == [
        "Fetch",
        "AnythingNew?",
        "Validate",
        "Transform",
        "Catalog",
        "NotifySuccess",
    ]
    counts = result.output["counts"]
    assert counts["rows_in"] == counts["rows_curated"] == 15_553 + 7_709
    assert counts["rows_in"] == counts["rows_curated"] + counts["rows_quarantined"] + counts["rows_duplicates"]
    assert counts["rows_duplicates"] == _duplicates(result) == 0
    message = result.notifications[0]["message"]
    assert "Invoices: 15553 rows in" in message and "(ok)" in message
    columns, rows = run_query(ws, "SELECT * FROM finlake_refined.cards_book WHERE ref = '2024-09' AND id_cliente = 2")
    client_2 = dict(zip(columns, rows[0], strict=True))
    assert client_2["qtd_faturas_u1m"] == 1
    assert float(client_2["pct_valor_pago_u1m"]) == pytest.approx(100)
    assert float(client_2["pct_faturas_em_dia_u1m"]) == 0
    assert float(client_2["pct_faturas_abaixo_minimo_u1m"]) == pytest.approx(100)
    assert float(client_2["dias_atraso_medio_u1m"]) == pytest.approx(14)
    assert len(columns) == 48 + 2  # id_cliente, the 48 variables, ref


def _duplicates(result) -> int:
    text = result.notifications[0]["message"]
    return sum(
        int(line.split(" quarantined + ")[1].split(" ")[0])
        for line in text.splitlines()
        if " duplicates dropped" in line
    )


def test_the_s3_trigger_starts_a_month_once_both_files_are_there_and_once_per_content(tmp_path: Path, ws: Workspace):
    files = cards.write(tmp_path / "in", cards.generate(40, 1, end_month="2024-09", anomalies=False))
    invoices = next(p for p in files if p.name.startswith("tb_faturas"))
    payments = next(p for p in files if p.name.startswith("tb_pagamentos"))
    with EmbeddedAws(ws) as aws:
        waiting = aws.drop_file(CARDS, invoices)
        started = aws.drop_file(CARDS, payments)
        [execution] = aws.executions(CARDS)
        finished = aws.wait(execution["executionArn"])
        again = aws.drop_file(CARDS, payments)  # identical re-upload
        corrected = tmp_path / invoices.name
        corrected.write_bytes(invoices.read_bytes() + invoices.read_bytes().splitlines(keepends=True)[1])
        restarted = aws.drop_file(CARDS, corrected)
        executions = aws.executions(CARDS)
        for item in executions:
            aws.wait(item["executionArn"])

    assert waiting == {"started": False, "month": "2024-09", "waiting_for": ["tb_pagamentos_202409.csv"]}
    assert started["started"] is True and started["execution"].startswith("cards-2024-09-")
    assert finished["status"] == "SUCCEEDED", finished.get("cause")
    assert again == {**started, "started": False}
    assert restarted["started"] is True and restarted["execution"] != started["execution"]
    assert len(executions) == 2


def test_a_file_with_the_wrong_header_is_rejected_whole(ws: Workspace, tmp_path: Path):
    invoices = tmp_path / "tb_faturas_202409.csv"
    payments = tmp_path / "tb_pagamentos_202409.csv"
    invoices.write_text("id_cliente,id_fatura,emissao,vencimento,valor\n1,1,2024-09-01,2024-09-06,10.00\n")
    payments.write_text("id_pagamento,id_fatura,id_cliente,dt_pagamento,valor_pagamento\n1,1,1,2024-09-05,10.00\n")

    [result] = run_plans(ws, [RunPlan(CARDS, month="2024-09", inputs=[invoices, payments])], echo=quiet)

    assert result.status == "FAILED"
    assert [s["state"] for s in result.states][-4:] == [
        "ValidateFailed",
        "NotifyFailure",
        "SendToDeadLetterQueue",
        "Fail",
    ]
    assert "HeaderMismatch" in result.cause and "tb_faturas_202409.csv" in result.cause
    [email] = result.notifications  # a Glue job run's cause: the job and its error's first line
    assert email["subject"] == "[finlake] cards FAILED at Validate"
    assert "Cause: Glue job finlake-cards-validate: HeaderMismatch" in email["message"]
    assert "JobRunState" not in email["message"]
    assert not list((ws.s3_dir / BUCKETS["CURATED_BUCKET"]).glob("cards_invoices/**/*.parquet"))


def test_a_missing_file_fails_fetch_with_an_email_naming_it(ws: Workspace, tmp_path: Path):
    files = cards.write(tmp_path / "in", cards.generate(10, 1, end_month="2024-10", anomalies=False))
    with EmbeddedAws(ws) as aws:
        aws.drop_file(CARDS, next(p for p in files if p.name.startswith("tb_faturas")))
    [result] = run_plans(ws, [RunPlan(CARDS, month="2024-10")], echo=quiet)

    assert result.status == "FAILED"
    assert result.error == "MissingFile"
    [email] = result.notifications
    assert email["subject"] == "[finlake] cards FAILED at Fetch"
    assert "Partition: 2024-10" in email["message"] and "tb_pagamentos_202410.csv" in email["message"]
