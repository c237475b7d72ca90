"""The function each domain's EventBridge schedule invokes to start the workflow.

The function each domain's EventBridge schedule invokes to start the workflow under its
deterministic name (``finlake-<domain>-schedule``).

Scheduler's Step Functions target names every execution itself, so a scheduled run, a
`finlake run DOMAIN` and a backfill of the same partition would be three executions. This function
pins the partition the schedule fired for, from the time Scheduler puts in the event (a Scheduler
retry an hour later stays on that partition, also across midnight), builds the input
`finlake run DOMAIN --date/--month` builds, and starts it under the same name. When an execution
of that name exists (an operator ran the partition already, or this is a repeated delivery),
Step Functions refuses the duplicate and nothing else happens.

The event is the schedule's fixed input (stacks/domain_pipeline.py)::

    {"domain": "stocks", "period": "day", "scheduled_time": "<aws.scheduler.scheduled-time>"}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.naming import RunRequest, default_partition
from functions.common.workflow import start_named_execution

logger = Logger()
tracer = Tracer()

Starter = Callable[[str, dict[str, Any]], bool]


class ScheduleEventError(ValueError):
    """The schedule's input is not what the stack writes (a schedule edited by hand?)."""


def start_scheduled(event: dict[str, Any], *, start: Starter) -> dict[str, Any]:
    """Start the run a schedule fired for, under its deterministic name.

    Parameters
    ----------
    event
        The schedule's fixed input: ``domain``, ``period`` ("day", "month" or "previous_month") and
        ``scheduled_time`` (ISO 8601 with a time zone, as EventBridge Scheduler writes it; the partition
        is taken in America/Sao_Paulo).
    start
        Starts an execution ``(name, input) -> started?`` (:func:`~functions.common.workflow.start_named_execution`).

    Returns
    -------
    dict
        ``started``, ``execution`` (its name), ``partition``, ``scheduled_time`` and, when an execution of
        that name existed, ``reason``.

    Raises
    ------
    ScheduleEventError
        When the input lacks a field or ``scheduled_time`` is not an ISO 8601 time with a time zone.
    ValueError
        For an unknown ``period``.
    """
    domain, period, fired = event.get("domain"), event.get("period"), event.get("scheduled_time")
    if not domain or not period or not fired:
        raise ScheduleEventError(f"schedule input needs domain, period and scheduled_time; got {sorted(event)}")
    try:
        at = datetime.fromisoformat(str(fired).replace("Z", "+00:00"))
    except ValueError:
        raise ScheduleEventError(f"scheduled_time {fired!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ScheduleEventError(f"scheduled_time {fired!r} has no time zone")
    partition = default_partition(period, at)
    request = RunRequest(domain=domain, trigger="schedule", date=partition.get("date"), month=partition.get("month"))
    name = request.name(partition.get("date") or partition["month"])
    started = start(name, request.to_input())
    return {
        "started": started,
        "execution": name,
        "partition": partition,
        "scheduled_time": fired,
        **({} if started else {"reason": "an execution of this name exists already"}),
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry point: :func:`start_scheduled` with the real Step Functions starter; logs the result."""
    result = start_scheduled(event, start=start_named_execution)
    logger.set_correlation_id(result["execution"])  # the run this schedule stands for
    logger.info("scheduled start", extra=result)
    return result
