"""Lambda handlers of the cards workflow, and the S3 trigger that starts it."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.cards import pipeline
from functions.common.lake import Lake
from functions.common.manifest import Manifest

logger = Logger()
tracer = Tracer()


def _done(manifest: Manifest) -> dict[str, Any]:
    logger.info("step done", extra=manifest.log_fields())
    return manifest.to_dict()


def _start(name: str, request: dict[str, Any]) -> bool:
    """Start the cards state machine; False when an execution of that name already exists."""
    sfn = boto3.client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=os.environ["STATE_MACHINE_ARN"], name=name, input=json.dumps(request))
    except sfn.exceptions.ExecutionAlreadyExists:
        return False
    return True


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def trigger(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = pipeline.trigger(event, lake=Lake.from_env(), start=_start)
    logger.info("cards trigger", extra=result)
    return result


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler
def fetch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _done(pipeline.fetch(event, lake=Lake.from_env()))


@logger.inject_lambda_context(correlation_id_path="run_id")
@tracer.capture_lambda_handler
def catalog(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    manifest = pipeline.catalog(Manifest.from_dict(event), lake=Lake.from_env(), glue=boto3.client("glue"))
    return _done(manifest)
