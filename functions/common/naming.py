"""Deterministic execution inputs and names: one name per domain, partition and input.

Used by the CLI and by the S3 trigger Lambda, so the same files get the same execution name
whichever way they arrive (Step Functions then refuses a second execution of that name)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


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
