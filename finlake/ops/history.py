"""Recent executions of a domain's state machine, with the rows they report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class RunSummary:
    """One execution in `recent_runs`: status, times (timezone-aware), output counts, a failure's error and cause."""

    name: str
    status: str
    started: datetime
    stopped: datetime | None
    counts: dict[str, Any]
    output: dict[str, Any] | None = None  # SUCCEEDED: the execution's output
    error: str | None = None  # FAILED, TIMED_OUT, ABORTED: the execution's error and cause
    cause: str | None = None

    @property
    def seconds(self) -> float | None:
        """How long it ran, in seconds; None while it runs."""
        return (self.stopped - self.started).total_seconds() if self.stopped else None


def recent_runs(sfn: Any, state_machine_arn: str, limit: int = 10) -> list[RunSummary]:
    """The newest ``limit`` executions, newest first.

    Counts come from each execution's output (``counts``), a failure's error and cause from its description: a finished
    one costs one DescribeExecution.
    """
    page = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=limit)
    items = sorted(page["executions"], key=lambda e: e["startDate"], reverse=True)[:limit]
    summaries = []
    for item in items:
        counts: dict[str, Any] = {}
        parsed: Any = None
        description: dict[str, Any] = {}
        if item["status"] != "RUNNING":
            description = sfn.describe_execution(executionArn=item["executionArn"])
        if item["status"] == "SUCCEEDED":
            output = description.get("output")
            parsed = json.loads(output) if output else {}
            counts = (parsed.get("counts") if isinstance(parsed, dict) else None) or {}
        summaries.append(
            RunSummary(
                item["name"],
                item["status"],
                item["startDate"],
                item.get("stopDate"),
                counts,
                parsed if isinstance(parsed, dict) else None,
                description.get("error"),
                description.get("cause"),
            )
        )
    return summaries
