"""The schedules' start function: the partition the schedule fired for, and the name `finlake run` gives it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from finlake.local.runner import RunPlan
from finlake.ops.executions import Request
from functions.common.naming import default_partition, partition_for
from functions.common.schedule import ScheduleEventError, start_scheduled
from stacks.specs import BANK, BNDES, CARDS, DOMAINS, STOCKS


class Starts:
    """Step Functions as the function sees it: refuses a second execution of a name."""

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}

    def __call__(self, name: str, request: dict[str, Any]) -> bool:
        if name in self.started:
            return False
        self.started[name] = request
        return True


def _event(domain: str, fired: str) -> dict[str, str]:
    return {"domain": domain, "period": DOMAINS[domain].period, "scheduled_time": fired}


@pytest.mark.parametrize(
    ("spec", "fired", "fields"),
    [
        # stocks fires at 21:00 in Sao Paulo (00:00 UTC the next day): still the Sao Paulo day
        (STOCKS, "2026-11-24T00:00:00Z", {"date": "2026-11-23"}),
        (BNDES, "2026-11-23T10:00:00Z", {"date": "2026-11-23"}),
        # cards' fallback on the 5th is for the month before, also across a year
        (CARDS, "2027-01-05T12:00:00Z", {"month": "2026-12"}),
        (BANK, "2026-12-01T02:00:00Z", {"month": "2026-11"}),  # 23:00 on Nov 30 in Sao Paulo
    ],
)
def test_a_scheduled_start_is_the_execution_finlake_run_of_that_partition_would_be(spec, fired, fields) -> None:
    starts = Starts()

    result = start_scheduled(_event(spec.name, fired), start=starts)

    assert result["started"] is True and result["partition"] == fields
    assert result["execution"] == Request(spec, **fields).name() == next(iter(starts.started))
    assert starts.started[result["execution"]] == {"domain": spec.name, "trigger": "schedule", **fields}


def test_a_repeated_delivery_or_a_partition_already_run_starts_nothing() -> None:
    starts = Starts()
    first = start_scheduled(_event("bndes", "2026-11-23T10:00:00Z"), start=starts)
    retried = start_scheduled(_event("bndes", "2026-11-23T10:00:00Z"), start=starts)  # Scheduler's retry
    assert first["started"] and not retried["started"]
    assert retried["reason"] == "an execution of this name exists already"
    assert retried["execution"] == first["execution"] and len(starts.started) == 1


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"domain": "bndes", "period": "day"}, "needs domain, period and scheduled_time"),
        ({"domain": "bndes", "period": "day", "scheduled_time": "monday"}, "not an ISO 8601 time"),
        ({"domain": "bndes", "period": "day", "scheduled_time": "2026-11-23T10:00:00"}, "no time zone"),
        ({"domain": "bndes", "period": "week", "scheduled_time": "2026-11-23T10:00:00Z"}, "unknown period 'week'"),
    ],
)
def test_an_edited_schedule_input_is_refused_by_name(event, message) -> None:
    with pytest.raises((ScheduleEventError, ValueError), match=message):
        start_scheduled(event, start=Starts())


def test_a_bare_finlake_run_pins_the_partition_a_schedule_would_run_now() -> None:
    now = default_partition("day")
    assert Request(BNDES).input() == {"domain": "bndes", "trigger": "cli", **now}
    assert Request(BNDES).name() == Request(BNDES, date=now["date"]).name()
    assert Request(CARDS).month == default_partition("previous_month")["month"] == RunPlan(CARDS).month
    assert Request(BANK).month == default_partition("month")["month"]
    assert Request(STOCKS, year="2024").input() == {"domain": "stocks", "trigger": "cli", "year": "2024"}


def test_partition_for_each_period() -> None:
    day = datetime(2026, 3, 1, tzinfo=UTC).date()
    assert partition_for("day", day) == {"date": "2026-03-01"}
    assert partition_for("month", day) == {"month": "2026-03"}
    assert partition_for("previous_month", day) == {"month": "2026-02"}
