"""Every log line a run writes is one JSON object carrying the execution name as correlation id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from finlake.local.runner import RunPlan, run_plans
from finlake.local.runtime import EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.samples import bank as bank_samples
from functions.bank import handlers as bank_handlers
from functions.bndes import handlers as bndes_handlers
from stacks.specs import BANK, BNDES

pytestmark = pytest.mark.slow


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The handlers' log lines as CloudWatch would get them (Powertools JSON, INFO and up)."""
    stream = io.StringIO()
    attached = []
    for logger in (bndes_handlers.logger, bank_handlers.logger):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logger.registered_formatter)
        logger.addHandler(handler)
        attached.append((logger, handler, logger.log_level))
        logger.setLevel("INFO")
    try:
        yield stream
    finally:
        for logger, handler, level in attached:
            logger.removeHandler(handler)
            logger.setLevel(level)


def records(stream: io.StringIO) -> list[dict]:
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line parses: structured, one object per line


def test_every_step_log_line_is_json_with_the_execution_name(tmp_path: Path, log_lines: io.StringIO):
    ws = Workspace.open(tmp_path / "ws")
    [result] = run_plans(ws, [RunPlan(BNDES)], echo=lambda *a, **k: None)

    assert result.succeeded, result.cause
    logged = records(log_lines)
    assert {r["function_name"] for r in logged} >= {"finlake-bndes-fetch", "finlake-bndes-catalog"}
    assert {r["correlation_id"] for r in logged} == {result.name}
    assert all({"level", "timestamp", "message", "function_request_id"} <= set(r) for r in logged)


def test_the_s3_trigger_logs_the_execution_it_starts(tmp_path: Path, log_lines: io.StringIO):
    export = tmp_path / "Nubank_2024-08-01.csv"
    export.write_bytes(bank_samples.card_csv("2024-07", "2024-07"))
    with EmbeddedAws(Workspace.open(tmp_path / "ws")) as aws:
        started = aws.drop_file(BANK, export)
        [execution] = aws.executions(BANK)
        aws.wait(execution["executionArn"])

    logged = records(log_lines)
    assert {r["correlation_id"] for r in logged} == {started["execution"]}
    assert any(r["message"] == "bank trigger" for r in logged)
    assert export.name not in log_lines.getvalue()  # file names may carry account numbers
