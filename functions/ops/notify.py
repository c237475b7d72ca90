"""Readable failure emails: what failed, where, and why in one paragraph, never a stack trace.

Pure formatting, no boto3. Two callers (``functions/ops/handlers.py``):

- the ``NotifyFailure`` state of every workflow, with the error a ``Catch`` caught;
- the EventBridge rule on "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED),
  with the execution history: it covers what a ``Catch`` cannot see (the run's own timeout, a
  StopExecution) and stays silent when the history shows ``NotifyFailure`` already ran.

A Step Functions error's ``Cause`` is whatever the failing service put there: a Lambda function's
unhandled-error payload (``errorType``, ``errorMessage``, ``stackTrace``), a Glue job run
(``JobName``, ``JobRunState``, ``ErrorMessage``, ...), or plain text (``States.Timeout``,
``States.Runtime``). ``readable_cause`` turns each into one paragraph.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NOTIFY_STATE = "NotifyFailure"
# "<prefix>-" of the deployment's state machines (stacks/names.py), set by the stack on the notifier.
STATE_MACHINE_PREFIX = os.environ.get("STATE_MACHINE_PREFIX", "finlake-")
MAX_CAUSE_CHARS = 1000
HEADLINES = {
    "FAILED": "finlake run failed.",
    "TIMED_OUT": "finlake run timed out.",
    "ABORTED": "finlake run was stopped.",
}
# What to do next: only NotifyFailure's path sends the input to the dead-letter queue.
NEXT_STEPS = {
    "caught": "The original input is in the dead-letter queue; redrive it once the cause is fixed.",
    "uncaught": (
        "The workflow's failure states did not run, so nothing was sent to the dead-letter queue. "
        "Once the cause is fixed, start a new execution with the same input (see the console)."
    ),
}
DEFAULT_CAUSES = {
    "States.Timeout": "{state} did not finish within its time limit (TimeoutSeconds).",
    "States.HeartbeatTimeout": "{state} stopped sending heartbeats.",
}
# A status-change event for these carries no error of its own (a Catch never sees them).
STATUS_ERRORS = {
    "TIMED_OUT": (
        "States.Timeout",
        "The run did not finish within the state machine's time limit (TimeoutSeconds); "
        "Step Functions stopped it while {state} was running.",
    ),
    "ABORTED": ("ExecutionAborted", "The run was stopped (StopExecution) while {state} was running."),
}
# History events that carry a step's error, newest wins.
FAILURE_EVENT_SUFFIXES = ("Failed", "TimedOut", "Aborted")


@dataclass(frozen=True)
class Failure:
    """One failed, timed-out or stopped run, as the email reports it."""

    domain: str
    execution_name: str
    execution_arn: str
    failed_state: str
    error: str
    cause: str  # raw, as Step Functions reports it
    partition: str = ""
    status: str = "FAILED"  # FAILED | TIMED_OUT | ABORTED
    caught: bool = True  # the definition's Catch handled it (NotifyFailure -> dead-letter queue)


@dataclass(frozen=True)
class Email:
    subject: str
    message: str


def _one_paragraph(text: str) -> str:
    paragraph = re.sub(r"\s+", " ", text).strip()
    if len(paragraph) > MAX_CAUSE_CHARS:
        paragraph = paragraph[: MAX_CAUSE_CHARS - 1].rstrip() + "…"
    return paragraph


def _glue_cause(run: Mapping[str, Any]) -> str:
    job = run.get("JobName") or "(unnamed)"
    message = str(run.get("ErrorMessage") or "").strip()
    if message:
        return f"Glue job {job}: {message.splitlines()[0]}"
    state = str(run.get("JobRunState") or "FAILED")
    if state == "TIMEOUT":
        return f"Glue job {job} timed out after {run.get('Timeout', '?')} minutes."
    return f"Glue job {job} ended {state} without an error message."


def readable_cause(error: str, cause: str | None, state: str = "the step") -> str:
    """One paragraph that says why ``state`` failed, from the raw ``Cause``."""
    text = (cause or "").strip()
    payload: Any = None
    if text.startswith("{"):
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
    if isinstance(payload, dict):
        if "errorMessage" in payload or "errorType" in payload:  # a Lambda function's unhandled error
            text = str(payload.get("errorMessage") or payload.get("errorType") or "")
        elif "JobName" in payload or "JobRunState" in payload:  # a Glue job run (glue:startJobRun.sync)
            text = _glue_cause(payload)
        else:  # another service's JSON: its message if it has one, else the whole object
            message = payload.get("message") or payload.get("Message") or payload.get("ErrorMessage")
            text = str(message) if message else json.dumps(payload, sort_keys=True)
    if not text:
        text = DEFAULT_CAUSES.get(error, "No cause was reported.").format(state=state)
    return _one_paragraph(text)


def console_url(execution_arn: str) -> str:
    region = execution_arn.split(":")[3] if execution_arn.count(":") >= 3 else "us-east-1"
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def format_email(failure: Failure) -> Email:
    """Subject ``[finlake] <domain> FAILED at <state>`` (TIMED OUT / ABORTED for those statuses)."""
    verb = failure.status.replace("_", " ")
    subject = f"[finlake] {failure.domain} {verb} at {failure.failed_state}"
    lines = [
        HEADLINES.get(failure.status, HEADLINES["FAILED"]),
        "",
        f"Domain: {failure.domain}",
        *([f"Partition: {failure.partition}"] if failure.partition else []),
        f"Execution: {failure.execution_name}",
        f"Failed state: {failure.failed_state}",
        f"Error: {failure.error}",
        f"Cause: {readable_cause(failure.error, failure.cause, failure.failed_state)}",
        f"Console: {console_url(failure.execution_arn)}",
        "",
        NEXT_STEPS["caught" if failure.caught else "uncaught"],
    ]
    return Email(subject=subject[:100], message="\n".join(lines))  # SNS subjects stop at 100 characters


# -- the NotifyFailure state ----------------------------------------------------------------------


def partition_of(state_input: Mapping[str, Any]) -> str:
    """The manifest's ``partition_label`` once Fetch has built it, else the requested date or month."""
    for key in ("partition_label", "date", "month", "year"):
        value = state_input.get(key)
        if value:
            return str(value)
    return ""


def failure_from_task(payload: Mapping[str, Any]) -> Failure:
    """The NotifyFailure state's Payload (see statemachines/*.asl.json)."""
    error = payload.get("error") or {}
    state_input = payload.get("state_input") or {}
    return Failure(
        domain=str(payload.get("domain") or "unknown"),
        execution_name=str(payload.get("execution_name") or ""),
        execution_arn=str(payload.get("execution_arn") or ""),
        failed_state=str(payload.get("failed_state") or "unknown"),
        error=str(error.get("Error") or "Unknown"),
        cause=str(error.get("Cause") or ""),
        partition=partition_of(state_input) if isinstance(state_input, Mapping) else "",
    )


# -- the execution status-change event --------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFacts:
    """What the execution history says: the last state entered, the last error, whether
    NotifyFailure ran."""

    last_state: str
    error: str
    cause: str
    notified: bool


def read_history(events: Iterable[Mapping[str, Any]]) -> HistoryFacts:
    last_state, error, cause, notified = "", "", "", False
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            last_state = event["stateEnteredEventDetails"]["name"]
            notified = notified or last_state == NOTIFY_STATE
        elif kind.endswith(FAILURE_EVENT_SUFFIXES):
            details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, Mapping)), {})
            if details.get("error") or details.get("cause"):
                error, cause = str(details.get("error") or ""), str(details.get("cause") or "")
    return HistoryFacts(last_state=last_state, error=error, cause=cause, notified=notified)


def is_finlake_machine(state_machine_arn: str) -> bool:
    return state_machine_arn.rsplit(":", 1)[-1].startswith(STATE_MACHINE_PREFIX)


def failure_from_status_change(detail: Mapping[str, Any], facts: HistoryFacts, execution_input: str) -> Failure | None:
    """The email for a FAILED/TIMED_OUT/ABORTED event, or None when NotifyFailure already sent one."""
    if facts.notified:
        return None
    status = str(detail.get("status") or "FAILED")
    try:
        request = json.loads(execution_input or "{}")
    except ValueError:
        request = {}
    request = request if isinstance(request, dict) else {}
    machine = str(detail.get("stateMachineArn") or "").rsplit(":", 1)[-1]
    state = facts.last_state or "(no state)"
    if status in STATUS_ERRORS:  # an earlier, retried step error in the history is not why it stopped
        default_error, default_cause = STATUS_ERRORS[status]
        error = str(detail.get("error") or default_error)
        cause = str(detail.get("cause") or default_cause.format(state=state))
    else:
        error = str(detail.get("error") or facts.error or "Unknown")
        cause = str(detail.get("cause") or facts.cause or "")
    return Failure(
        domain=str(request.get("domain") or machine.removeprefix(STATE_MACHINE_PREFIX)),
        execution_name=str(detail.get("name") or ""),
        execution_arn=str(detail.get("executionArn") or ""),
        failed_state=state,
        error=error,
        cause=cause,
        partition=partition_of(request),
        status=status,
        caught=False,
    )
