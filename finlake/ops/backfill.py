"""Backfill: one execution per partition of a range, skipping partitions already done.

On AWS the executions run with bounded parallelism from this process (a thread per running
execution, `parallel` at most, default 4), not as a Distributed Map in a parent state machine:

- each partition keeps its deterministic execution name, so a backfill, a scheduled run and a
  `finlake run` of the same partition are the same execution (Step Functions refuses a second one),
  and the skip check is a lookup by name. A Distributed Map child of a STANDARD parent gets a
  generated name, and EXPRESS children cannot run these hour-long Glue workflows;
- there is no second state machine to deploy, grant and keep in step with four definitions;
- failures stay per partition, each with its own failure email and dead-letter message, which
  `finlake redrive` already knows how to rerun;
- the bound protects what the partitions share: the sources are public services that rate-limit,
  and a domain with Glue jobs runs at most ``DomainSpec.parallel_runs`` at a time (MaxConcurrentRuns
  of its jobs, 1): the jobs queue overlapping runs, and a step's timeout covers waiting behind one
  run only (stacks/specs.py GLUE_RUNS_AHEAD), so a backfill must not stack more behind it. A
  backfill is an operator's one-off; it does not need to survive the laptop closing (rerunning it
  skips what finished).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from finlake.ops.executions import (
    Execution,
    Request,
    base_name,
    follow,
    list_executions,
    next_attempt,
    start_or_attach,
    succeeded,
)
from stacks.specs import DomainSpec


class RangeError(ValueError):
    """The --from/--to range does not fit the domain's partition."""


def partitions(spec: DomainSpec, start: str, end: str) -> list[str]:
    """Weekdays (Mon-Fri) from ``start`` to ``end`` inclusive for date domains, months for month domains."""
    if spec.partition == "month":
        first, last = _month(start), _month(end)
        if first > last:
            raise RangeError(f"--from {start} is after --to {end}")
        months = []
        year, month = first
        while (year, month) <= last:
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months
    day, stop = _day(start), _day(end)
    if day > stop:
        raise RangeError(f"--from {start} is after --to {end}")
    days = []
    while day <= stop:
        if day.weekday() < 5:
            days.append(day.isoformat())
        day += timedelta(days=1)
    return days


def _month(text: str) -> tuple[int, int]:
    try:
        year, month = (int(part) for part in text.split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise RangeError(f"{text!r}: this domain is partitioned by month, give YYYY-MM") from None
    return year, month


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RangeError(f"{text!r}: this domain is partitioned by date, give YYYY-MM-DD") from None


def bounded_parallelism(spec: DomainSpec, parallel: int) -> int:
    """``parallel``, capped at the runs the domain's Glue jobs take at once (no cap without Glue)."""
    return max(1, min(parallel, spec.parallel_runs or parallel))


def request_for(spec: DomainSpec, partition: str, force: bool = False) -> Request:
    """The request for one ``partition`` of ``spec`` (YYYY-MM for a month domain, else YYYY-MM-DD)."""
    if spec.partition == "month":
        return Request(spec, month=partition, force=force)
    return Request(spec, date=partition, force=force)


@dataclass
class Outcome:
    """One partition of a backfill: its execution name and status (SKIPPED when it had already SUCCEEDED)."""

    partition: str
    name: str
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED | SKIPPED
    execution: Execution | None = None

    @property
    def failed(self) -> bool:
        """Whether the partition's run failed (any status but SUCCEEDED or SKIPPED)."""
        return self.status not in {"SUCCEEDED", "SKIPPED"}


def backfill_aws(
    sfn: Any,
    state_machine_arn: str,
    spec: DomainSpec,
    parts: list[str],
    *,
    parallel: int = 4,
    force: bool = False,
    poll_s: float = 5.0,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Start the partitions not already SUCCEEDED (under their name or a rerun of it).

    At most ``parallel`` at a time (capped at ``spec.parallel_runs`` for a domain with Glue jobs); a RUNNING one is
    followed rather than started twice.
    """
    parallel = bounded_parallelism(spec, parallel)
    by_base: dict[str, list[dict[str, Any]]] = {}
    names: set[str] = set()
    executions = list(list_executions(sfn, state_machine_arn))
    for item in executions:
        names.add(item["name"])
        by_base.setdefault(base_name(item["name"]), []).append(item)
    done = succeeded(executions)

    def one(partition: str) -> Outcome:
        name = request_for(spec, partition, force).name()
        previous = by_base.get(name, [])
        if name in done:
            return Outcome(partition, done[name], "SKIPPED")
        running = next((e for e in previous if e["status"] == "RUNNING"), None)
        if running:
            execution = follow(sfn, running["executionArn"], poll_s=poll_s, attached=True)
        else:
            attempt = next_attempt(names, name)
            arn, attached = start_or_attach(
                sfn, state_machine_arn, attempt, request_for(spec, partition, force).input()
            )
            execution = follow(sfn, arn, poll_s=poll_s, attached=attached)
        return Outcome(partition, execution.name, execution.status, execution)

    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(one, p) for p in parts]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
    order = {p: i for i, p in enumerate(parts)}
    return sorted(outcomes, key=lambda o: order[o.partition])


def done_locally(records: list[dict[str, Any]]) -> dict[str, str]:
    """``{deterministic name: the name that SUCCEEDED}`` of the local runs (the workspace's run records).

    By the rule of `backfill_aws` (`finlake.ops.executions.succeeded`).
    """
    return succeeded(records)
