"""Lambda handlers of the bank workflow and the S3 trigger that starts it.

Secrets come from Secrets Manager through Powertools Parameters (cached for five minutes); the
environment only holds their names. Nothing here logs a value read from a secret or a source.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.bank import pipeline
from functions.bank import transform as bank_transform
from functions.bank.nubank_api import Credentials, take_snapshot
from functions.common.lake import Lake
from functions.common.step import glue_client, logger, step, tracer
from functions.common.workflow import start_named_execution

__all__ = ["catalog", "fetch", "logger", "nubank_client", "publish", "transform", "trigger", "validate"]

SECRET_MAX_AGE_S = 300


def _secret(env_name: str) -> str:
    value = parameters.get_secret(os.environ[env_name], max_age=SECRET_MAX_AGE_S)
    return value if isinstance(value, str) else value.decode()


def nubank_client(source: str) -> Any:
    """The pynubank HTTP client, or its offline mock in local mode.

    The pynubank HTTP client with retries and timeouts (functions/bank/nubank_http.py), or its
    offline mock (local mode only: it serves invented data).
    """
    if source == "mock":
        if os.environ.get("FINLAKE_LOCAL") != "true":
            raise ValueError("source 'mock' (pynubank's MockHttpClient) only runs in local mode")
        from pynubank import MockHttpClient

        return MockHttpClient()
    if source != "api":
        raise ValueError(f"unknown bank source {source!r} (expected 'api' or 'mock')")
    from functions.bank.nubank_http import RetryingHttpClient

    return RetryingHttpClient()


def _snapshot(source: str) -> dict[str, Any]:
    credentials = Credentials.from_secret(json.loads(_secret("NUBANK_SECRET")))
    return take_snapshot(nubank_client(source), credentials)


def _sheet() -> dict[str, str] | None:
    """The Google Sheets sink from the environment; None when no spreadsheet is configured (off)."""
    spreadsheet = os.environ.get("SHEETS_SPREADSHEET_ID", "")
    worksheet = os.environ.get("SHEETS_WORKSHEET", "bank_monthly_summary")
    return {"spreadsheet_id": spreadsheet, "worksheet": worksheet} if spreadsheet else None


def _service_account() -> dict[str, Any]:
    return dict(json.loads(_secret("GOOGLE_SHEETS_SECRET")))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def trigger(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """S3 "Object Created" (EventBridge) -> start a run for the dropped file."""
    result = pipeline.trigger(event, lake=Lake.from_env(), start=start_named_execution)
    logger.set_correlation_id(result.get("execution"))  # the run this file starts, if any
    logger.info("bank trigger", extra={k: v for k, v in result.items() if k != "reason"})
    return result


fetch = step(pipeline.fetch, take_snapshot=lambda: _snapshot)
validate = step(pipeline.validate, hmac_key=lambda: _secret("BANK_HMAC_SECRET").encode())
transform = step(bank_transform.transform)
catalog = step(pipeline.catalog, glue=glue_client, record_run=True)
publish = step(pipeline.publish, sheet=_sheet, service_account=lambda: _service_account)
