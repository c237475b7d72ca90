"""Lambda handlers of the stocks workflow: parse the event, call the step, return the manifest."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.http import default_http
from functions.common.lake import Lake
from functions.common.manifest import Manifest
from functions.common.telemetry import record_run
from functions.stocks import global_sources, pipeline

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="finlake")  # also POWERTOOLS_METRICS_NAMESPACE in the stack
SECRET_MAX_AGE_S = 300


def _read_secret(name: str) -> str:
    """A secret's value through Powertools Parameters (cached five minutes); never logged."""
    value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_S)
    return value if isinstance(value, str) else value.decode()


def _done(manifest: Manifest) -> dict[str, Any]:
    logger.info("step done", extra=manifest.log_fields())
    return manifest.to_dict()


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler
def fetch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sources = global_sources.from_environment(os.environ, _read_secret)
    return _done(
        pipeline.fetch(event, lake=Lake.from_env(), http=default_http(pipeline.DOMAIN), global_sources=sources)
    )


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
def validate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _done(pipeline.validate(Manifest.from_dict(event), lake=Lake.from_env()))


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def catalog(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    manifest = pipeline.catalog(Manifest.from_dict(event), lake=Lake.from_env(), glue=boto3.client("glue"))
    record_run(metrics, manifest)
    return _done(manifest)
