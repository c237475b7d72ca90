"""Deterministic execution inputs and names: one name per domain, partition and input.

Used by the CLI and by the S3 trigger Lambda, so the same files get the same execution name
whichever way they arrive (Step Functions then refuses a second execution of that name)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta
from typing import Any

from functions.common.manifest import SAO_PAULO

PERIODS = ("day", "month", "previous_month")


def execution_input(
    domain: str,
    *,
    date: str | None = None,
    month: str | None = None,
    inputs: list[str] | None = None,
    force: bool = False,
    trigger: str = "cli",
) -> dict[str, Any]:
    request: dict[str, Any] = {"domain": domain, "trigger": trigger}
    if date:
        request["date"] = date
    if month:
        request["month"] = month
    if inputs:
        request["inputs"] = list(inputs)
    if force:
        request["force"] = True
    return request


def execution_name(domain: str, partition: str, request: dict[str, Any]) -> str:
    """``bndes-2026-11-22-1a2b3c4d``: the hash covers the input, so the same request gets the same name."""
    canonical = json.dumps({k: v for k, v in request.items() if k != "trigger"}, sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    name = f"{domain}-{partition}-{digest}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:80]


def default_partition(period: str, at: datetime | None = None) -> dict[str, str]:
    """The partition a run started at ``at`` (default now) without ``--date``/``--month`` is for,
    in Sao Paulo time. Scheduled runs and `finlake run` both pin it in the execution input, so they
    get the same deterministic name, and a run retried after midnight stays on its partition."""
    return partition_for(period, (at.astimezone(SAO_PAULO) if at else datetime.now(SAO_PAULO)).date())


def partition_for(period: str, day: date) -> dict[str, str]:
    """``{"date": day}`` for the ``day``; ``{"month": ...}`` for its ``month`` or the ``previous_month``."""
    if period == "day":
        return {"date": day.isoformat()}
    if period == "month":
        return {"month": month_of(day)}
    if period == "previous_month":
        return {"month": month_of(day.replace(day=1) - timedelta(days=1))}
    raise ValueError(f"unknown period {period!r}: expected one of {', '.join(PERIODS)}")


def month_of(day: date) -> str:
    return day.strftime("%Y-%m")
