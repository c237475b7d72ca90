"""Execution naming, re-exported from the handlers, with the default partition of a CLI run.

Execution naming lives with the handlers (the S3 trigger and the scheduled start name executions too): re-exported here,
with the default a CLI run without --date/--month gets.
"""

from __future__ import annotations

from datetime import datetime

from functions.common.naming import RunRequest, default_partition, execution_name
from stacks.specs import DomainSpec

__all__ = ["RunRequest", "execution_name", "pinned"]


def pinned(
    spec: DomainSpec, date: str | None, month: str | None, year: str | None, *, at: datetime | None = None
) -> tuple[str | None, str | None]:
    """``(date, month)`` of a run: as asked, else the partition a scheduled run started now is for.

    With nothing asked, `finlake run DOMAIN` and the schedule share one execution name.
    """
    if date or month or year:
        return date, month
    default = default_partition(spec.period, at)
    return default.get("date"), default.get("month")
