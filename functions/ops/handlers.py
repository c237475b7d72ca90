"""The platform's notifier function (``finlake-notify``): readable failure emails to the topic.

One function, one entry point (``handler``), two kinds of event:

- the ``NotifyFailure`` state of every workflow invokes it with the caught error
  (``notify_failure``);
- the EventBridge rule on "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED of
  the finlake state machines) delivers the event (``execution_status_change``): it reads the
  execution history and emails only when ``NotifyFailure`` did not already run.

The topic comes from ``TOPIC_ARN``; the execution name is the logs' correlation id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ops import notify

STATUS_CHANGE = "Step Functions Execution Status Change"

logger = Logger()
tracer = Tracer()


class Executions(Protocol):
    """Step Functions, as the status-change handler reads it."""

    def history(self, execution_arn: str) -> list[dict[str, Any]]: ...

    def input(self, execution_arn: str) -> str: ...


class Publisher(Protocol):
    def publish(self, email: notify.Email) -> str: ...


@dataclass
class StepFunctionsExecutions:
    client: Any

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for page in self.client.get_paginator("get_execution_history").paginate(
            executionArn=execution_arn, includeExecutionData=False
        ):
            events.extend(page["events"])
        return events

    def input(self, execution_arn: str) -> str:
        return str(self.client.describe_execution(executionArn=execution_arn).get("input") or "{}")


@dataclass
class TopicPublisher:
    client: Any
    topic_arn: str

    def publish(self, email: notify.Email) -> str:
        response = self.client.publish(TopicArn=self.topic_arn, Subject=email.subject, Message=email.message)
        return str(response["MessageId"])


def _publisher() -> TopicPublisher:
    return TopicPublisher(boto3.client("sns"), os.environ["TOPIC_ARN"])


def handle_task(payload: dict[str, Any], publisher: Publisher) -> dict[str, Any]:
    email = notify.format_email(notify.failure_from_task(payload))
    message_id = publisher.publish(email)
    logger.info("failure email sent", extra={"subject": email.subject, "message_id": message_id})
    return {"sent": True, "subject": email.subject, "message_id": message_id}


def handle_status_change(event: dict[str, Any], executions: Executions, publisher: Publisher) -> dict[str, Any]:
    detail = event.get("detail") or {}
    arn = str(detail.get("executionArn") or "")
    if not notify.is_finlake_machine(str(detail.get("stateMachineArn") or "")):
        logger.warning("not a finlake state machine", extra={"execution_arn": arn})
        return {"sent": False, "reason": "not a finlake state machine"}
    facts = notify.read_history(executions.history(arn))
    included = (detail.get("inputDetails") or {}).get("included", "input" in detail)
    execution_input = str(detail.get("input") or "") if included else executions.input(arn)
    failure = notify.failure_from_status_change(detail, facts, execution_input)
    if failure is None:
        logger.info("NotifyFailure already emailed this run", extra={"status": detail.get("status")})
        return {"sent": False, "reason": "NotifyFailure already ran"}
    email = notify.format_email(failure)
    message_id = publisher.publish(email)
    logger.info("status-change email sent", extra={"subject": email.subject, "message_id": message_id})
    return {"sent": True, "subject": email.subject, "message_id": message_id}


def notify_failure(event: dict[str, Any]) -> dict[str, Any]:
    return handle_task(event, _publisher())


def execution_status_change(event: dict[str, Any]) -> dict[str, Any]:
    executions = StepFunctionsExecutions(boto3.client("stepfunctions"))
    return handle_status_change(event, executions, _publisher())


@logger.inject_lambda_context(correlation_id_path="execution_name || detail.name")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == STATUS_CHANGE:
        return execution_status_change(event)
    return notify_failure(event)
