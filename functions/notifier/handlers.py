"""The platform's notifier function (``<prefix>-notify``): readable failure emails to the topic.

One function, one entry point (``handler``), four kinds of event, one email format
(``functions/notifier/notify.py``):

- the ``NotifyFailure`` state of every workflow invokes it with the caught error
  (``notify_failure``);
- the EventBridge rule on "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED of
  the finlake state machines) delivers the event (``execution_status_change``): it reads the
  execution history and emails only when ``NotifyFailure`` did not already email;
- the EventBridge rule on "Glue Job State Change" (FAILED, TIMEOUT, ERROR of the finlake jobs)
  delivers the event (``glue_job_state_change``): it emails only for runs no workflow started (a
  workflow's run carries ``--run_id`` and the workflow's own Catch emails);
- Lambda delivers the invocation record of a starter (S3 trigger, ScheduleStart) whose asynchronous
  invocation failed for good (its on-failure destination, ``invocation_failed``): it emails, then
  puts the record on the dead-letter queue, where it used to go directly.

The topic comes from ``TOPIC_ARN``, the queue from ``DEAD_LETTER_QUEUE_URL``, which state machines
and Glue jobs are the deployment's from ``STATE_MACHINE_PREFIX`` and ``GLUE_JOB_PREFIX``
(``<prefix>-``, functions/common/contract.py); the execution name is the logs' correlation id.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.notifier import notify

STATUS_CHANGE = "Step Functions Execution Status Change"
GLUE_STATE_CHANGE = "Glue Job State Change"

logger = Logger()
tracer = Tracer()


class Executions(Protocol):
    """Step Functions, as the status-change handler reads it."""

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every event of the execution's history (without input/output data)."""
        ...

    def input(self, execution_arn: str) -> str:
        """The execution's input as a JSON string."""
        ...


class Publisher(Protocol):
    """The topic, as the handlers publish to it."""

    def publish(self, email: notify.Email) -> str:
        """Publish ``email``; return the SNS message id."""
        ...


class JobRuns(Protocol):
    """Glue, as the Glue-event handler reads it."""

    def arguments(self, job_name: str, run_id: str) -> dict[str, str]:
        """The arguments of Glue job run ``run_id`` of ``job_name``."""
        ...


class DeadLetters(Protocol):
    """The dead-letter queue, as the invocation-record handler writes to it."""

    def send(self, body: str) -> str:
        """Send ``body``; return the SQS message id."""
        ...


@dataclass
class StepFunctionsExecutions:
    """:class:`Executions` over a boto3 Step Functions client."""

    client: Any

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every event of the execution's history, all pages, without input/output data."""
        events: list[dict[str, Any]] = []
        for page in self.client.get_paginator("get_execution_history").paginate(
            executionArn=execution_arn, includeExecutionData=False
        ):
            events.extend(page["events"])
        return events

    def input(self, execution_arn: str) -> str:
        """The execution's input (DescribeExecution), ``"{}"`` when it has none."""
        return str(self.client.describe_execution(executionArn=execution_arn).get("input") or "{}")


@dataclass
class TopicPublisher:
    """:class:`Publisher` over a boto3 SNS client and the topic's ARN."""

    client: Any
    topic_arn: str

    def publish(self, email: notify.Email) -> str:
        """Publish ``email`` to the topic; return the SNS message id."""
        response = self.client.publish(TopicArn=self.topic_arn, Subject=email.subject, Message=email.message)
        return str(response["MessageId"])


@dataclass
class GlueJobRuns:
    """:class:`JobRuns` over a boto3 Glue client."""

    client: Any

    def arguments(self, job_name: str, run_id: str) -> dict[str, str]:
        """The run's ``Arguments`` (glue:GetJobRun), ``{}`` when it has none."""
        run = self.client.get_job_run(JobName=job_name, RunId=run_id, PredecessorsIncluded=False)["JobRun"]
        return dict(run.get("Arguments") or {})


@dataclass
class QueueDeadLetters:
    """:class:`DeadLetters` over a boto3 SQS client and the queue's URL."""

    client: Any
    queue_url: str

    def send(self, body: str) -> str:
        """Send ``body`` to the queue; return the SQS message id."""
        return str(self.client.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"])


def _publisher() -> TopicPublisher:
    return TopicPublisher(boto3.client("sns"), os.environ["TOPIC_ARN"])


def handle_task(payload: dict[str, Any], publisher: Publisher) -> dict[str, Any]:
    """Email the failure the NotifyFailure state reports.

    Parameters
    ----------
    payload
        The state's Payload: ``domain``, ``execution_name``, ``execution_arn``, ``failed_state``,
        ``error`` (``{"Error", "Cause"}``) and ``state_input``.
    publisher
        Where the email goes.

    Returns
    -------
    dict
        ``{"sent": True, "subject": ..., "message_id": ...}``; a publish error propagates (the state retries).
    """
    email = notify.format_email(notify.failure_from_task(payload))
    message_id = publisher.publish(email)
    logger.info("failure email sent", extra={"subject": email.subject, "message_id": message_id})
    return {"sent": True, "subject": email.subject, "message_id": message_id}


def handle_status_change(event: dict[str, Any], executions: Executions, publisher: Publisher) -> dict[str, Any]:
    """Email a failed, timed-out or aborted finlake execution unless NotifyFailure already did.

    ``event`` is EventBridge's "Step Functions Execution Status Change"; the execution's history and, when
    the event left it out, its input are read through ``executions``. Returns ``{"sent": bool, ...}``
    with the subject and message id, or the ``reason`` nothing was sent (another state machine,
    NotifyFailure already ran).
    """
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


def handle_glue_event(event: dict[str, Any], runs: JobRuns, publisher: Publisher) -> dict[str, Any]:
    """Email a failed finlake Glue job run that no workflow started.

    ``event`` is EventBridge's "Glue Job State Change"; the run's arguments are read through ``runs`` (an
    error there still sends the email, without them). Returns ``{"sent": bool, ...}`` with the subject
    and message id, or the ``reason`` nothing was sent (another job, a run a workflow started).
    """
    detail = event.get("detail") or {}
    job, run = str(detail.get("jobName") or ""), str(detail.get("jobRunId") or "")
    if not notify.is_finlake_job(job):
        logger.warning("not a finlake Glue job", extra={"job": job})
        return {"sent": False, "reason": "not a finlake Glue job"}
    try:
        arguments = runs.arguments(job, run)
    except Exception:  # the failure still gets its email, without the run's arguments
        logger.exception("could not read the Glue job run", extra={"job": job, "run": run})
        arguments = {}
    execution = notify.started_by_workflow(arguments)
    if execution:
        logger.info("the workflow's own failure email covers this run", extra={"execution": execution})
        return {"sent": False, "reason": f"started by execution {execution}"}
    email = notify.format_email(notify.failure_from_glue_event(event, arguments))
    message_id = publisher.publish(email)
    logger.info("Glue failure email sent", extra={"subject": email.subject, "message_id": message_id})
    return {"sent": True, "subject": email.subject, "message_id": message_id}


def handle_invocation_record(record: dict[str, Any], publisher: Publisher, dead_letters: DeadLetters) -> dict[str, Any]:
    """Email a starter's failed invocation, then put its record on the dead-letter queue.

    Email first (a person learns of it even if the queue is unreachable), then keep the record
    on the dead-letter queue. A failure here makes Lambda retry the notifier, then put the
    notifier's own record on the queue: nothing is lost, an email may come twice.
    """
    email = notify.format_email(notify.failure_from_invocation_record(record))
    message_id = publisher.publish(email)
    dead_letter_id = dead_letters.send(json.dumps(record))
    logger.info(
        "start failure email sent",
        extra={"subject": email.subject, "message_id": message_id, "dead_letter_id": dead_letter_id},
    )
    return {"sent": True, "subject": email.subject, "message_id": message_id, "dead_letter_id": dead_letter_id}


def notify_failure(event: dict[str, Any]) -> dict[str, Any]:
    """:func:`handle_task` on the topic of ``TOPIC_ARN``."""
    return handle_task(event, _publisher())


def execution_status_change(event: dict[str, Any]) -> dict[str, Any]:
    """:func:`handle_status_change` on the real Step Functions and the topic of ``TOPIC_ARN``."""
    executions = StepFunctionsExecutions(boto3.client("stepfunctions"))
    return handle_status_change(event, executions, _publisher())


def glue_job_state_change(event: dict[str, Any]) -> dict[str, Any]:
    """:func:`handle_glue_event` on the real Glue and the topic of ``TOPIC_ARN``."""
    return handle_glue_event(event, GlueJobRuns(boto3.client("glue")), _publisher())


def invocation_failed(record: dict[str, Any]) -> dict[str, Any]:
    """:func:`handle_invocation_record` on the topic of ``TOPIC_ARN`` and the queue of ``DEAD_LETTER_QUEUE_URL``."""
    dead_letters = QueueDeadLetters(boto3.client("sqs"), os.environ["DEAD_LETTER_QUEUE_URL"])
    return handle_invocation_record(record, _publisher(), dead_letters)


@logger.inject_lambda_context(correlation_id_path="execution_name || detail.name || detail.jobRunId")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry point: dispatch on the event's kind (see the module doc) and return what was sent."""
    kind = event.get("detail-type")
    if kind == STATUS_CHANGE:
        return execution_status_change(event)
    if kind == GLUE_STATE_CHANGE:
        return glue_job_state_change(event)
    if notify.is_invocation_record(event):
        return invocation_failed(event)
    return notify_failure(event)
