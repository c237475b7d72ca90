"""Lambda handlers of the bank workflow and the S3 trigger that starts it.

Secrets come from Secrets Manager through Powertools Parameters (cached for five minutes); the
environment only holds their names. Nothing here logs a value read from a secret or a source.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.bank import pipeline
from functions.bank.nubank_api import Credentials, take_snapshot
from functions.common.lake import Lake
from functions.common.manifest import Manifest
from functions.common.telemetry import record_run
from functions.common.workflow import start_named_execution

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="finlake")  # also POWERTOOLS_METRICS_NAMESPACE in the stack
SECRET_MAX_AGE_S = 300


def _secret(env_name: str) -> str:
    value = parameters.get_secret(os.environ[env_name], max_age=SECRET_MAX_AGE_S)
    return value if isinstance(value, str) else value.decode()


def _done(manifest: Manifest) -> dict[str, Any]:
    logger.info("step done", extra=manifest.log_fields())
    return manifest.to_dict()


def nubank_client(source: str) -> Any:
    """pynubank's HTTP client with retries and timeouts (functions/bank/nubank_http.py), or its
    offline mock (local mode only: it serves invented data)."""
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


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def trigger(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = pipeline.trigger(event, lake=Lake.from_env(), start=start_named_execution)
    logger.set_correlation_id(result.get("execution"))  # the run this file starts, if any
    logger.info("bank trigger", extra={k: v for k, v in result.items() if k != "reason"})
    return result


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler
def fetch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _done(pipeline.fetch(event, lake=Lake.from_env(), take_snapshot=_snapshot))


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
def validate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    key = _secret("BANK_HMAC_SECRET").encode()
    return _done(pipeline.validate(Manifest.from_dict(event), lake=Lake.from_env(), hmac_key=key))


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
def transform(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _done(pipeline.transform(Manifest.from_dict(event), lake=Lake.from_env()))


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def catalog(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    manifest = pipeline.catalog(Manifest.from_dict(event), lake=Lake.from_env(), glue=boto3.client("glue"))
    record_run(metrics, manifest)
    return _done(manifest)


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
def publish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    spreadsheet = os.environ.get("SHEETS_SPREADSHEET_ID", "")
    sheet = {"spreadsheet_id": spreadsheet, "worksheet": os.environ.get("SHEETS_WORKSHEET", "bank_monthly_summary")}
    manifest = pipeline.publish(
        Manifest.from_dict(event),
        lake=Lake.from_env(),
        sheet=sheet if spreadsheet else None,
        service_account=lambda: dict(json.loads(_secret("GOOGLE_SHEETS_SECRET"))),
    )
    return _done(manifest)
