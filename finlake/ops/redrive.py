"""The dead-letter queue: list the failed runs it holds, and rerun them.

Each message is what a definition's ``SendToDeadLetterQueue`` state sends: the execution's name
and ARN, the state machine, the failed state, the error and cause, and the original input.

How a failed run is restarted (`choose`):

- ``redrive``: Step Functions `RedriveExecution` (same execution, continues from the unsuccessful
  step) when the execution is FAILED / TIMED_OUT / ABORTED, stopped within the last 14 days, says
  ``redriveStatus: REDRIVABLE``, and did not end in a ``Fail`` state. The last condition matters
  here: every finlake definition catches a step's error and goes NotifyFailure ->
  SendToDeadLetterQueue -> Fail, so the only unsuccessful step of such an execution is ``Fail``
  itself; a redrive would continue from there and fail again at once (and send another message).
- ``restart``: otherwise, a new execution of the stored input named ``<original>-r<N>`` (the first
  N not taken). The steps are idempotent (a rerun writes the same bytes), so restarting from Fetch
  is safe, just slower.

The message is deleted only once the rerun SUCCEEDED. If it fails, the message is made visible
again (and the rerun's own failure leaves its own message, which `list` groups with the original).
moto 5.2.5 has no RedriveExecution (and no ``redriveStatus``), so on moto every message takes the
``restart`` path; tests exercise the ``redrive`` path with a botocore Stubber.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from finlake.ops.executions import (
    TERMINAL,
    Execution,
    StateEvent,
    base_name,
    describe,
    follow,
    history,
    next_attempt_name,
    start_or_attach,
)

REDRIVE_WINDOW = timedelta(days=14)
# The time a message was first sent, when it is not this queue's SentTimestamp: the embedded AWS puts
# a workspace's dead letters back on a new session's queue with it (finlake.local.runtime).
SENT_ATTRIBUTE = "finlake-sent"


@dataclass
class DeadLetter:
    """One dead-letter message: the body a definition's ``SendToDeadLetterQueue`` state sent, and when.

    ``sent`` is timezone-aware; ``receipt_handle`` lets the message be released or deleted.
    """

    message_id: str
    receipt_handle: str
    sent: datetime
    body: dict[str, Any]

    @property
    def execution_name(self) -> str:
        """The failed execution's name ("" when the body does not say)."""
        return str(self.body.get("execution_name", ""))

    @property
    def execution_arn(self) -> str:
        """The failed execution's ARN ("" when the body does not say)."""
        return str(self.body.get("execution_arn", ""))

    @property
    def state_machine_arn(self) -> str:
        """The ARN of the state machine that ran it ("" when the body does not say)."""
        return str(self.body.get("state_machine_arn", ""))

    @property
    def input(self) -> dict[str, Any]:
        """The failed execution's input (a RunRequest dict), parsed when the body holds it as JSON text."""
        value = self.body.get("input") or {}
        return json.loads(value) if isinstance(value, str) else dict(value)

    @property
    def domain(self) -> str:
        """The run's domain: the input's, else the execution name's first part."""
        return str(self.input.get("domain") or self.execution_name.split("-")[0])

    def age(self, now: datetime) -> timedelta:
        """How long the message has waited at ``now`` (timezone-aware)."""
        return now - self.sent


@dataclass
class FailedRun:
    """The dead letters of one run: the original failure and those of its reruns (``-r<N>``)."""

    base: str
    letters: list[DeadLetter] = field(default_factory=list)

    @property
    def first(self) -> DeadLetter:
        """The oldest letter: the original failure."""
        return min(self.letters, key=lambda d: d.sent)

    @property
    def latest(self) -> DeadLetter:
        """The newest letter: the last rerun's failure, or the original."""
        return max(self.letters, key=lambda d: d.sent)


def receive_all(sqs: Any, queue_url: str, *, visibility_s: int, wait_s: int = 1) -> list[DeadLetter]:
    """Every message of the queue, hidden for ``visibility_s`` (release them with `release`)."""
    letters: dict[str, DeadLetter] = {}
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility_s,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["SentTimestamp"],
            MessageAttributeNames=[SENT_ATTRIBUTE],
        ).get("Messages", [])
        if not messages:
            return sorted(letters.values(), key=lambda d: d.sent)
        for message in messages:
            sent_ms = int(message.get("Attributes", {}).get("SentTimestamp", "0"))
            first_sent = message.get("MessageAttributes", {}).get(SENT_ATTRIBUTE, {}).get("StringValue")
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = {"execution_name": "(not a finlake message)", "cause": message["Body"]}
            letters[message["MessageId"]] = DeadLetter(
                message_id=message["MessageId"],
                receipt_handle=message["ReceiptHandle"],
                sent=datetime.fromisoformat(first_sent) if first_sent else datetime.fromtimestamp(sent_ms / 1000, UTC),
                body=body if isinstance(body, dict) else {"cause": str(body)},
            )


def release(sqs: Any, queue_url: str, letters: list[DeadLetter]) -> None:
    """Make ``letters`` visible on the queue again at once (visibility timeout 0)."""
    for letter in letters:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0)


def group(letters: list[DeadLetter], domain: str | None = None, base: str | None = None) -> list[FailedRun]:
    """The letters as failed runs (a run and its ``-r<N>`` reruns are one), oldest first.

    Only ``domain``'s, or only the run named ``base`` (or a rerun of it), when given.
    """
    runs: dict[str, FailedRun] = {}
    for letter in letters:
        if domain and letter.domain != domain:
            continue
        if base and base_name(letter.execution_name) != base_name(base):
            continue
        base_ = base_name(letter.execution_name)
        runs.setdefault(base_, FailedRun(base_)).letters.append(letter)
    return sorted(runs.values(), key=lambda r: r.first.sent)


def list_failed_runs(sqs: Any, queue_url: str, domain: str | None = None, *, wait_s: int = 1) -> list[FailedRun]:
    """Peek at the queue: read every message, then make them all visible again."""
    letters = receive_all(sqs, queue_url, visibility_s=60, wait_s=wait_s)
    try:
        return group(letters, domain)
    finally:
        release(sqs, queue_url, letters)


def choose(description: dict[str, Any] | None, events: list[dict[str, Any]], now: datetime) -> tuple[str, str]:
    """("redrive" | "restart", why)."""
    if description is None:
        return "restart", "the execution is no longer in Step Functions"
    if description["status"] not in TERMINAL - {"SUCCEEDED"}:
        return "restart", f"the execution is {description['status']}"
    stopped = description.get("stopDate")
    if stopped is None or now - stopped > REDRIVE_WINDOW:
        return "restart", "it stopped more than 14 days ago"
    if description.get("redriveStatus") != "REDRIVABLE":
        reason = description.get("redriveStatusReason") or "no redriveStatus"
        return "restart", f"not redrivable ({reason})"
    entered = [e for e in events if e["type"].endswith("StateEntered")]
    if entered and entered[-1]["type"] == "FailStateEntered":
        return "restart", "it ended in its Fail state (a caught error): a redrive would only rerun Fail"
    return "redrive", "redrivable, stopped within 14 days"


@dataclass
class Rerun:
    """What became of one failed run: rerun ``how`` (``redrive`` or ``restart``) and ``why``, its execution or error."""

    run: FailedRun
    how: str  # "redrive" | "restart"
    why: str
    execution: Execution | None = None
    error: str = ""

    @property
    def succeeded(self) -> bool:
        """Whether the rerun's execution SUCCEEDED."""
        return self.execution is not None and self.execution.succeeded


def apply(
    sfn: Any,
    sqs: Any,
    queue_url: str,
    *,
    domain: str | None = None,
    state_machines: dict[str, str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_start: Callable[[Rerun], None] | None = None,
    on_event: Callable[[StateEvent], None] | None = None,
    poll_s: float = 5.0,
    visibility_s: int = 6 * 3600,
    wait_s: int = 1,
    rerun: Callable[[FailedRun], Rerun] | None = None,
    base: str | None = None,
) -> list[Rerun]:
    """Rerun every failed run on the queue (of ``domain``), one at a time, waiting for each.

    Messages stay hidden while their rerun runs; deleted after success, released after failure (or when the rerun
    raised: then the error propagates). Messages of other domains are released at once, and so are those of other runs
    than ``base`` when it is given. ``rerun`` replaces how one run is rerun (the embedded AWS reruns locally, see
    finlake/local/redrive.py); the queue's rules stay these.
    """
    letters = receive_all(sqs, queue_url, visibility_s=visibility_s, wait_s=wait_s)
    mine = group(letters, domain, base)
    kept = {letter.message_id for run in mine for letter in run.letters}
    release(sqs, queue_url, [letter for letter in letters if letter.message_id not in kept])
    results = []
    for index, run in enumerate(mine):
        try:
            if rerun is not None:
                result = rerun(run)
            else:
                result = _rerun(sfn, run, state_machines or {}, now(), on_start, on_event, poll_s)
        except BaseException:
            release(sqs, queue_url, [letter for waiting in mine[index:] for letter in waiting.letters])
            raise
        if result.succeeded:
            for letter in run.letters:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=letter.receipt_handle)
        else:
            release(sqs, queue_url, run.letters)
        results.append(result)
    return results


def _rerun(
    sfn: Any,
    run: FailedRun,
    state_machines: dict[str, str],
    now: datetime,
    on_start: Callable[[Rerun], None] | None,
    on_event: Callable[[StateEvent], None] | None,
    poll_s: float,
) -> Rerun:
    latest = run.latest  # the newest attempt: redrive that one, or restart after it
    state_machine = latest.state_machine_arn or state_machines.get(latest.domain, "")
    if not state_machine:
        return Rerun(run, "restart", "", error=f"no state machine for {latest.domain}")
    description = describe(sfn, latest.execution_arn) if latest.execution_arn else None
    events = history(sfn, latest.execution_arn) if description else []
    how, why = choose(description, events, now)
    rerun = Rerun(run, how, why)
    if on_start:
        on_start(rerun)
    if how == "redrive":
        sfn.redrive_execution(executionArn=latest.execution_arn)
        arn, attached = latest.execution_arn, False
    else:
        name = next_attempt_name(sfn, state_machine, run.base)
        arn, attached = start_or_attach(sfn, state_machine, name, run.first.input)
    rerun.execution = follow(sfn, arn, on_event=on_event, poll_s=poll_s, attached=attached)
    return rerun
