"""Readable failure emails: what failed, where, and why in one paragraph, never a stack trace.

Pure formatting, no boto3. Every failure path of the deployment ends in one of these emails, all in
one format (``format_email``: domain, partition, failed state, error, cause, console link, what to
do next). The callers (``functions/notifier/handlers.py``):

- the ``NotifyFailure`` state of every workflow, with the error a ``Catch`` caught
  (``failure_from_task``);
- the EventBridge rule on "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED),
  with the execution history: it covers what a ``Catch`` cannot see (the run's own timeout, a
  StopExecution) and stays silent when the history shows ``NotifyFailure`` emailed already
  (``failure_from_status_change``);
- the EventBridge rule on "Glue Job State Change" (FAILED, TIMEOUT, ERROR) of the finlake jobs,
  for runs no workflow started (``failure_from_glue_event``);
- Lambda's on-failure destination of the functions invoked asynchronously (the S3 triggers and the
  schedules' ScheduleStart), with the invocation record (``failure_from_invocation_record``).

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
from datetime import datetime
from typing import Any

NOTIFY_STATE = "NotifyFailure"
# "<prefix>-" of the deployment's state machines and Glue jobs (functions/common/contract.py), set by the stack
# on the notifier; the defaults are the default deployment's.
STATE_MACHINE_PREFIX = os.environ.get("STATE_MACHINE_PREFIX", "finlake-")
GLUE_JOB_PREFIX = os.environ.get("GLUE_JOB_PREFIX", "finlake-")
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
# Subject verbs: a Glue run ends TIMEOUT or ERROR where an execution ends TIMED_OUT.
VERBS = {"TIMED_OUT": "TIMED OUT", "TIMEOUT": "TIMED OUT"}


@dataclass(frozen=True)
class Failure:
    """One failed, timed-out or stopped run (or run start, or Glue job run), as the email reports it."""

    domain: str
    execution_name: str
    execution_arn: str
    failed_state: str
    error: str
    cause: str  # raw, as the failing service reports it
    partition: str = ""
    status: str = "FAILED"  # FAILED | TIMED_OUT | ABORTED (Glue: TIMEOUT, ERROR)
    caught: bool = True  # the definition's Catch handled it (NotifyFailure -> dead-letter queue)
    headline: str = ""  # overrides HEADLINES (a Glue job, a run that could not start)
    console: str = ""  # overrides the execution's console page
    details: tuple[tuple[str, str], ...] = ()  # further "Label: value" lines (Glue run, S3 object)
    next_step: str = ""  # overrides NEXT_STEPS


@dataclass(frozen=True)
class Email:
    """An SNS email: subject (at most 100 characters) and plain-text message."""

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
    """The Step Functions console page of an execution (its region from the ARN, else us-east-1)."""
    region = execution_arn.split(":")[3] if execution_arn.count(":") >= 3 else "us-east-1"
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def format_email(failure: Failure) -> Email:
    """Subject ``[finlake] <domain> FAILED at <state>`` (TIMED OUT / ABORTED for those statuses).

    The message is plain text, one ``Label: value`` per line: no JSON, no quoted lines, no stack
    trace; the cause is one paragraph of at most ``MAX_CAUSE_CHARS`` characters.
    """
    verb = VERBS.get(failure.status, failure.status.replace("_", " "))
    subject = _one_line(f"[finlake] {failure.domain} {verb} at {failure.failed_state}")
    lines = [
        failure.headline or HEADLINES.get(failure.status, HEADLINES["FAILED"]),
        "",
        f"Domain: {failure.domain}",
        *([f"Partition: {failure.partition}"] if failure.partition else []),
        *([f"Execution: {failure.execution_name}"] if failure.execution_name else []),
        *(f"{label}: {_one_line(value)}" for label, value in failure.details if value),
        f"Failed state: {failure.failed_state}",
        f"Error: {failure.error}",
        f"Cause: {readable_cause(failure.error, failure.cause, failure.failed_state)}",
        f"Console: {failure.console or console_url(failure.execution_arn)}",
        "",
        failure.next_step or NEXT_STEPS["caught" if failure.caught else "uncaught"],
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
    """What the execution history says about a failed run.

    What the execution history says: the last state entered, the last error, whether
    NotifyFailure sent its email (entered and succeeded, possibly after retries).
    """

    last_state: str
    error: str
    cause: str
    notified: bool


def read_history(events: Iterable[Mapping[str, Any]]) -> HistoryFacts:
    """Summarise an execution history (Step Functions GetExecutionHistory events, oldest first).

    ``notified`` is True only when NotifyFailure's last attempt succeeded: a NotifyFailure that
    failed for good (its Catch goes on to the dead-letter queue) leaves the email to the caller.
    """
    last_state, error, cause = "", "", ""
    notify_outcome = ""  # "" never entered | "pending" | "sent" | "failed"
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            last_state = event["stateEnteredEventDetails"]["name"]
            if last_state == NOTIFY_STATE:
                notify_outcome = "pending"
        elif kind.endswith(FAILURE_EVENT_SUFFIXES):
            details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, Mapping)), {})
            if last_state == NOTIFY_STATE and notify_outcome:
                notify_outcome = "failed"  # an attempt of NotifyFailure failed (a retry may still succeed)
            elif details.get("error") or details.get("cause"):
                error, cause = str(details.get("error") or ""), str(details.get("cause") or "")
        elif last_state == NOTIFY_STATE and notify_outcome:
            if kind.endswith("Succeeded"):
                notify_outcome = "sent"
            elif kind.endswith("StateExited") and notify_outcome == "pending":
                notify_outcome = "sent"  # a state without task events (a Pass in tests)
    return HistoryFacts(last_state=last_state, error=error, cause=cause, notified=notify_outcome == "sent")


def is_finlake_machine(state_machine_arn: str) -> bool:
    """True when the state machine's name starts with the deployment's ``STATE_MACHINE_PREFIX``."""
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


# -- the Glue job state-change event ----------------------------------------------------------------

GLUE_HEADLINES = {
    "FAILED": "finlake Glue job run failed.",
    "TIMEOUT": "finlake Glue job run timed out.",
    "ERROR": "finlake Glue job run ended in an error.",
}
GLUE_NEXT_STEP = (
    "No finlake workflow started this run, so nothing was sent to the dead-letter queue. "
    "Start the job again once the cause is fixed (see the console)."
)
WORKFLOW_RUN_ARGUMENT = "--run_id"  # every workflow's Fetch passes its execution name as --run_id


def is_finlake_job(job_name: str) -> bool:
    """Whether the job is one of this deployment's (``GLUE_JOB_PREFIX<domain>-<step>``)."""
    return job_name.startswith(GLUE_JOB_PREFIX)


def job_domain(job_name: str) -> str:
    """The domain of a finlake Glue job name.

    ``<prefix>-<domain>-<step>`` -> ``<domain>`` (functions/common/contract.py names the jobs; a prefix has no
    hyphen, a domain none either), "unknown" for another job.
    """
    parts = job_name.removeprefix(GLUE_JOB_PREFIX).split("-") if is_finlake_job(job_name) else []
    return parts[0] if len(parts) >= 2 else "unknown"


def glue_console_url(region: str, job_name: str, run_id: str) -> str:
    """The Glue Studio console page of a job run."""
    return f"https://{region}.console.aws.amazon.com/gluestudio/home?region={region}#/job/{job_name}/run/{run_id}"


def started_by_workflow(arguments: Mapping[str, Any]) -> str:
    """The execution that started a Glue run (its ``--run_id``), or "" for a run started by hand."""
    return str(arguments.get(WORKFLOW_RUN_ARGUMENT) or "")


def failure_from_glue_event(event: Mapping[str, Any], arguments: Mapping[str, Any]) -> Failure:
    """The failure a "Glue Job State Change" event describes.

    A "Glue Job State Change" event (detail: jobName, jobRunId, state, message) and the run's
    arguments (glue:GetJobRun), as one email.
    """
    detail = event.get("detail") or {}
    job, run = str(detail.get("jobName") or "(unnamed job)"), str(detail.get("jobRunId") or "")
    state = str(detail.get("state") or "FAILED")
    start, end = str(arguments.get("--start_date") or ""), str(arguments.get("--end_date") or "")
    partition = start if start == end or not end else f"{start} to {end}"
    message = str(detail.get("message") or "")
    if not message and state == "TIMEOUT":
        message = f"Glue job {job} did not finish within its timeout."
    return Failure(
        domain=job_domain(job),
        execution_name="",
        execution_arn="",
        failed_state=f"Glue job {job}",
        error=f"Glue.{state}",
        cause=message,
        partition=partition,
        status=state,
        caught=False,
        headline=GLUE_HEADLINES.get(state, GLUE_HEADLINES["FAILED"]),
        console=glue_console_url(str(event.get("region") or "us-east-1"), job, run),
        details=(("Job run", run),),
        next_step=GLUE_NEXT_STEP,
    )


# -- Lambda's invocation record (on-failure destination of the starters) ------------------------------

STARTER_HEADLINE = "finlake run could not start."
STARTER_NEXT_STEPS = {
    "ScheduleStart": "The invocation record is in the dead-letter queue. Once the cause is fixed, start the "
    "run by hand: finlake --aws run {domain}{partition_option}",
    "Trigger": "The invocation record is in the dead-letter queue. Once the cause is fixed, upload the "
    "file again or start the run by hand: finlake --aws run {domain}",
}
RECORD_CONDITIONS = {
    "RetriesExhausted": "the function failed on every attempt",
    "EventAgeExceeded": "the event waited longer than its maximum age (the function was throttled or failing)",
}


def is_invocation_record(event: Mapping[str, Any]) -> bool:
    """Lambda's record of a failed asynchronous invocation (what an on-failure destination gets)."""
    return isinstance(event.get("requestContext"), Mapping) and "requestPayload" in event


def lambda_console_url(function_arn: str) -> str:
    """The Lambda console's monitor tab of a function (region and name from the ARN, else us-east-1)."""
    parts = function_arn.split(":")
    region = parts[3] if len(parts) > 6 else "us-east-1"
    name = parts[6] if len(parts) > 6 else function_arn
    return f"https://{region}.console.aws.amazon.com/lambda/home?region={region}#/functions/{name}?tab=monitor"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _starter_facts(request: Mapping[str, Any]) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    """(domain, failed state, partition, details) from the event the starter was given."""
    if "scheduled_time" in request:  # the schedule's input (stacks/domain_pipeline.py)
        domain, period = str(request.get("domain") or "unknown"), str(request.get("period") or "")
        scheduled = str(request.get("scheduled_time") or "")
        return domain, "ScheduleStart", scheduled_partition(period, scheduled), (("Scheduled for", scheduled),)
    detail = _mapping(request.get("detail"))
    key = str(_mapping(detail.get("object")).get("key") or "")
    bucket = str(_mapping(detail.get("bucket")).get("name") or "")
    parts = key.split("/")
    domain = parts[1] if len(parts) > 2 and parts[0] == "inbox" else "unknown"
    return domain, "Trigger", "", (("Uploaded file", f"s3://{bucket}/{key}" if key else ""),)


def scheduled_partition(period: str, scheduled_time: str) -> str:
    """The partition ScheduleStart would have started, or "".

    The partition ScheduleStart would have started (functions/common/schedule.py), or "" when the
    input cannot say. Imported here, not at module level: it needs the Sao Paulo time zone data, and
    the notifier must still email when that is what failed.
    """
    try:
        from functions.common.naming import default_partition

        at = datetime.fromisoformat(scheduled_time.replace("Z", "+00:00"))
        return "/".join(default_partition(period, at).values()) if at.tzinfo else ""
    except Exception:  # any reason not to know the partition leaves the line out
        return ""


def _partition_option(partition: str) -> str:
    if len(partition) == len("2025-03-12"):
        return f" --date {partition}"
    return f" --month {partition}" if partition else ""


def failure_from_invocation_record(record: Mapping[str, Any]) -> Failure:
    """The failure a starter's Lambda on-failure record describes.

    The record Lambda sends to the on-failure destination of a starter (S3 trigger or scheduled
    start) once its retries are used up or the event got too old.
    """
    context = record.get("requestContext") or {}
    request = _mapping(record.get("requestPayload"))
    response = _mapping(record.get("responsePayload"))
    function_arn = str(context.get("functionArn") or "")
    condition = str(context.get("condition") or "RetriesExhausted")
    domain, state, partition, details = _starter_facts(request)
    error = str(response.get("errorType") or condition)
    cause = str(response.get("errorMessage") or RECORD_CONDITIONS.get(condition, condition))
    attempts = context.get("approximateInvokeCount")
    return Failure(
        domain=domain,
        execution_name="",
        execution_arn="",
        failed_state=state,
        error=error,
        cause=cause,
        partition=partition,
        caught=False,
        headline=STARTER_HEADLINE,
        console=lambda_console_url(function_arn),
        details=(
            *details,
            ("Function", function_arn.split(":")[6] if function_arn.count(":") >= 6 else function_arn),
            ("Attempts", str(attempts) if attempts else ""),
        ),
        next_step=STARTER_NEXT_STEPS.get(state, STARTER_NEXT_STEPS["Trigger"]).format(
            domain=domain, partition_option=_partition_option(partition)
        ),
    )
