"""Lambda handlers of the cards workflow, and the S3 trigger that starts it."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.cards import pipeline
from functions.common.lake import Lake
from functions.common.manifest import Manifest
from functions.common.telemetry import record_run
from functions.common.workflow import start_named_execution

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="finlake")  # also POWERTOOLS_METRICS_NAMESPACE in the stack


def _done(manifest: Manifest) -> dict[str, Any]:
    logger.info("step done", extra=manifest.log_fields())
    return manifest.to_dict()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def trigger(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = pipeline.trigger(event, lake=Lake.from_env(), start=start_named_execution)
    logger.set_correlation_id(result.get("execution"))  # the run this file starts, if any
    logger.info("cards trigger", extra=result)
    return result


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler
def fetch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _done(pipeline.fetch(event, lake=Lake.from_env()))


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def catalog(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    manifest = pipeline.catalog(Manifest.from_dict(event), lake=Lake.from_env(), glue=boto3.client("glue"))
    record_run(metrics, manifest)
    return _done(manifest)
