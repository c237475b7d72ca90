"""Lambda handlers of the cards workflow and the S3 trigger that starts it.

Lambda handlers of the cards workflow (one line per step on functions/common/step.py), and the
S3 trigger that starts it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.cards import pipeline
from functions.common.lake import Lake
from functions.common.step import glue_client, logger, step, tracer
from functions.common.workflow import start_named_execution

__all__ = ["catalog", "fetch", "logger", "trigger"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def trigger(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """S3 "Object Created" (EventBridge) -> start the month's run once both files are in the inbox."""
    result = pipeline.trigger(event, lake=Lake.from_env(), start=start_named_execution)
    logger.set_correlation_id(result.get("execution"))  # the run this file starts, if any
    logger.info("cards trigger", extra=result)
    return result


fetch = step(pipeline.fetch)
catalog = step(pipeline.catalog, glue=glue_client, record_run=True)
