"""Shared fixtures: a fake Lambda context, sample events, paths to ../shared/fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finlake.local.moto_patches import LocalLambdaContext

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"


@pytest.fixture
def lambda_context() -> LocalLambdaContext:
    return LocalLambdaContext(
        function_name="finlake-test",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:finlake-test",
        aws_request_id="00000000-0000-0000-0000-000000000000",
    )


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(autouse=True)
def no_retry_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetch retries a body that is not the file after pauses of seconds: none in tests."""
    from functions.common import http

    monkeypatch.setattr(http, "RETRY_PAUSES_S", (0.0, 0.0))
