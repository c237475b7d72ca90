"""Start an execution with the deterministic name local runs use, or attach to the one that has it.

Then follow it state by state from its history (what the Step Functions console shows).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from finlake.naming import RunRequest, execution_name, pinned
from functions.common.manifest import today_in_sao_paulo
from stacks.specs import DomainSpec

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
_RERUN = re.compile(r"-r(\d+)$")


@dataclass(frozen=True)
class Request:
    """What to run: the same fields as `finlake.local.runner.RunPlan` without local files.

    So the execution input, and therefore its name, is the one a local run of the same request gets.
    """

    spec: DomainSpec
    date: str | None = None
    month: str | None = None
    year: str | None = None
    force: bool = False
    source: str | None = None

    def __post_init__(self) -> None:
        """Pin the run's date or month as a local run does (`finlake.naming.pinned`)."""
        date, month = pinned(self.spec, self.date, self.month, self.year)
        object.__setattr__(self, "date", date)
        object.__setattr__(self, "month", month)

    def partition(self) -> str:
        """The partition the run is for: a month domain's month, else the date, year or month.

        Default: today's date in São Paulo.
        """
        if self.spec.partition == "month" and self.month:
            return self.month
        return self.date or self.year or self.month or today_in_sao_paulo()

    def input(self) -> dict[str, Any]:
        """The execution input: the `RunRequest` of this request as a dict."""
        return RunRequest(
            domain=self.spec.name,
            date=self.date,
            month=self.month,
            year=self.year,
            force=self.force,
            source=self.source,
        ).to_input()

    def name(self) -> str:
        """The deterministic execution name (`execution_name` of the domain, partition and input)."""
        return execution_name(self.spec.name, self.partition(), self.input())


@dataclass
class StateEvent:
    """A state entered or exited, or a failure, read from an execution's history (``at``: the event's time)."""

    kind: str  # "entered" | "exited" | "failed"
    state: str
    at: datetime
    detail: str = ""


@dataclass
class Execution:
    """A finished (or timed-out-while-following) execution, as `finlake` reports it."""

    name: str
    arn: str
    status: str
    started: datetime
    stopped: datetime | None
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    attached: bool = False  # the name existed already: this reports that execution
    states: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Whether the status is SUCCEEDED."""
        return self.status == "SUCCEEDED"

    @property
    def seconds(self) -> float:
        """How long it ran, in seconds (0 when it has not stopped)."""
        return ((self.stopped or self.started) - self.started).total_seconds()

    @classmethod
    def from_description(cls, description: dict[str, Any], **kwargs: Any) -> Execution:
        """The execution of a DescribeExecution answer (output parsed from JSON); ``kwargs`` set the other fields."""
        output = description.get("output")
        return cls(
            name=description["name"],
            arn=description["executionArn"],
            status=description["status"],
            started=description["startDate"],
            stopped=description.get("stopDate"),
            output=json.loads(output) if output else None,
            error=description.get("error"),
            cause=description.get("cause"),
            **kwargs,
        )


def execution_arn(state_machine_arn: str, name: str) -> str:
    """``arn:...:stateMachine:finlake-bndes`` + name -> ``arn:...:execution:finlake-bndes:<name>``."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def base_name(name: str) -> str:
    """The deterministic name a rerun ``<name>-r<N>`` stands for."""
    return _RERUN.sub("", name)


def rerun_name(name: str, attempt: int) -> str:
    """The name of rerun ``attempt`` of ``name``: ``<base name>-r<attempt>``, cut to Step Functions' 80 characters."""
    suffix = f"-r{attempt}"
    return base_name(name)[: 80 - len(suffix)] + suffix


def list_executions(sfn: Any, state_machine_arn: str) -> Iterator[dict[str, Any]]:
    """Every execution of the state machine, as ListExecutions pages them (newest first)."""
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        yield from page["executions"]


def succeeded(runs: Iterable[dict[str, Any]]) -> dict[str, str]:
    """``{deterministic name: the name that SUCCEEDED}`` over executions or local run records.

    Records are ``{"name", "status"}``: a partition is done when its run or any rerun ``<name>-r<N>`` of it SUCCEEDED.
    The one rule of `backfill`, with --aws and without.
    """
    done: dict[str, str] = {}
    for run in runs:
        if run.get("status") == "SUCCEEDED":
            done.setdefault(base_name(run["name"]), run["name"])
    return done


def next_attempt(names: set[str], name: str) -> str:
    """``name`` itself if unused, else the first unused ``<name>-r<N>``.

    Step Functions keeps a name taken for 90 days, so a failed run is rerun under a new one.
    """
    if name not in names:
        return name
    attempt = 1
    while rerun_name(name, attempt) in names:
        attempt += 1
    return rerun_name(name, attempt)


def next_attempt_name(sfn: Any, state_machine_arn: str, name: str) -> str:
    """`next_attempt` over the state machine's existing execution names."""
    return next_attempt({e["name"] for e in list_executions(sfn, state_machine_arn)}, name)


def describe(sfn: Any, arn: str) -> dict[str, Any] | None:
    """DescribeExecution of ``arn``, or None when the execution does not exist.

    Raises
    ------
    botocore.exceptions.ClientError
        On any other Step Functions error.
    """
    try:
        return dict(sfn.describe_execution(executionArn=arn))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"ExecutionDoesNotExist", "ResourceNotFound"}:
            return None
        raise


def start_or_attach(sfn: Any, state_machine_arn: str, name: str, request: dict[str, Any]) -> tuple[str, bool]:
    """Start ``name``; if Step Functions already has an execution of that name, return it instead.

    Returns (execution ARN, whether it already existed).
    """
    arn = execution_arn(state_machine_arn, name)
    if describe(sfn, arn) is not None:
        return arn, True
    try:
        started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(request))
    except ClientError as exc:  # started by someone else between the two calls
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return arn, True
        raise
    return str(started["executionArn"]), False


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """Every event of the execution's history, oldest first (GetExecutionHistory, all pages)."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def state_event(event: dict[str, Any]) -> StateEvent | None:
    """The `StateEvent` of a history event: a state entered or exited, a task or execution failure; None otherwise."""
    kind = event["type"]
    if kind.endswith("StateEntered"):
        return StateEvent("entered", event["stateEnteredEventDetails"]["name"], event["timestamp"])
    if kind.endswith("StateExited"):
        return StateEvent("exited", event["stateExitedEventDetails"]["name"], event["timestamp"])
    if kind in {"TaskFailed", "LambdaFunctionFailed", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}:
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        return StateEvent("failed", "", event["timestamp"], f"{details.get('error')}: {details.get('cause')}")
    return None


def follow(
    sfn: Any,
    arn: str,
    *,
    on_event: Callable[[StateEvent], None] | None = None,
    poll_s: float = 2.0,
    timeout_s: float = 4 * 3600,
    attached: bool = False,
) -> Execution:
    """Poll the execution until it ends, passing each new state event to ``on_event`` once."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    states: list[str] = []
    while True:
        description = sfn.describe_execution(executionArn=arn)
        for event in history(sfn, arn):
            if event["id"] in seen:
                continue
            seen.add(event["id"])
            item = state_event(event)
            if item is None:
                continue
            if item.kind == "entered":
                states.append(item.state)
            if on_event:
                on_event(item)
        if description["status"] in TERMINAL:
            return Execution.from_description(description, attached=attached, states=states)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{description['name']} still {description['status']} after {timeout_s:.0f} s")
        time.sleep(poll_s)


def run(
    sfn: Any,
    state_machine_arn: str,
    name: str,
    request: dict[str, Any],
    *,
    on_event: Callable[[StateEvent], None] | None = None,
    poll_s: float = 2.0,
) -> Execution:
    """Start execution ``name`` of ``request`` (or attach to the one of that name) and follow it to its end.

    ``on_event`` is called with each state event as it is read, polling every ``poll_s`` seconds; returns `follow`'s
    `Execution`.
    """
    arn, attached = start_or_attach(sfn, state_machine_arn, name, request)
    return follow(sfn, arn, on_event=on_event, poll_s=poll_s, attached=attached)


def readable_cause(cause: str | None) -> str:
    """A Lambda error's cause is its JSON error payload, a Glue task's the job run: show the message."""
    try:
        payload = json.loads(cause or "")
    except ValueError:
        return cause or ""
    if not isinstance(payload, dict):
        return str(cause)
    if "ErrorMessage" in payload:  # a Glue job run: its name and the first line of its error
        return f"Glue job {payload.get('JobName')}: {str(payload['ErrorMessage']).splitlines()[0]}"
    return str(payload.get("errorMessage", cause))


def console_url(region: str, arn: str) -> str:
    """The Step Functions console's page of execution ``arn``."""
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{arn}"


def counts_text(output: dict[str, Any] | None) -> str:
    """``rows in N = curated + quarantined + duplicates dropped`` of an output's ``counts``; "" when it has none."""
    counts = (output or {}).get("counts") or {}
    if not counts:
        return ""
    return (
        f"rows in {counts.get('rows_in', 0)} = {counts.get('rows_curated', 0)} curated + "
        f"{counts.get('rows_quarantined', 0)} quarantined + {counts.get('rows_duplicates', 0)} duplicates dropped"
    )
