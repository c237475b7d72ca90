"""Deterministic execution inputs and names: one name per domain, partition and input.

Used by the CLI and by the S3 trigger Lambda, so the same files get the same execution name
whichever way they arrive (Step Functions then refuses a second execution of that name).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from functions.common.manifest import SAO_PAULO

PERIODS = ("day", "month", "previous_month")
CONSOLE_COMMENT = "Comment"
"""The one key of an execution input no run reads and none refuses: the Step Functions console's
"Start execution" offers ``{"Comment": "Insert your JSON here"}``, which starts today's run."""


class RunRequestError(ValueError):
    """An execution input that is not a run request: a field of the wrong type or one no domain reads."""


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """What a workflow execution is asked to do: its input, typed.

    Built by `finlake run` (`finlake.ops.executions`, `finlake.local.runner`), the scheduled start
    (`functions.common.schedule`) and the S3 triggers (bank, cards); read by each domain's Fetch.
    `to_input` is the JSON the execution starts with, and what its deterministic name hashes
    (`execution_name`): an unset field is left out, so adding a field changes no existing name.

    Attributes
    ----------
    domain
        ``bndes``, ``stocks``, ``cards`` or ``bank``.
    trigger
        Who started it: ``cli``, ``schedule`` or ``s3`` (not part of the name).
    date, month, year
        The partition asked for: ``YYYY-MM-DD`` (Sao Paulo calendar day), ``YYYY-MM``, ``YYYY``
        (stocks: B3's yearly COTAHIST); None lets Fetch pick today's (America/Sao_Paulo).
    inputs
        ``s3://<raw>/...`` URIs of files fed by hand or dropped in an inbox, instead of the live source.
    inputs_md5
        Their MD5s (hex), so the name follows the files' content.
    force
        Process sources even when their MD5 is already in the domain's ingested ledger.
    source
        bank: ``api`` (pynubank) or ``mock`` (its offline MockHttpClient, local mode only).
    unplaced
        cards: the trigger found no month in the file's name (Fetch quarantines it).
    run_id
        The execution's name, which Fetch's event carries beside the input and every manifest
        keeps as ``run_id``; never part of the input.
    """

    domain: str = ""
    trigger: str = "cli"
    date: str | None = None
    month: str | None = None
    year: str | None = None
    inputs: tuple[str, ...] = ()
    inputs_md5: tuple[str, ...] = ()
    force: bool = False
    source: str | None = None
    unplaced: bool = False
    run_id: str = field(default="", compare=False)

    def to_input(self) -> dict[str, Any]:
        """The execution input: ``{"domain": ..., "trigger": ...}`` and each field that is set."""
        request: dict[str, Any] = {"domain": self.domain, "trigger": self.trigger}
        for name in ("date", "month", "year", "source"):
            if getattr(self, name):
                request[name] = getattr(self, name)
        for name in ("inputs", "inputs_md5"):
            if getattr(self, name):
                request[name] = list(getattr(self, name))
        for name in ("force", "unplaced"):
            if getattr(self, name):
                request[name] = True
        return request

    def name(self, partition: str) -> str:
        """The deterministic execution name of this request for ``partition`` (`execution_name`)."""
        return execution_name(self.domain, partition, self.to_input())

    @classmethod
    def from_input(cls, data: Mapping[str, Any] | None, *, run_id: str = "") -> RunRequest:
        """Parse an execution input (None, ``{}`` or only a ``Comment``: today's run of the live source).

        Raises
        ------
        RunRequestError
            A field no domain reads, or one of the wrong type (the message names it).
        """
        data = dict(data or {})
        data.pop(CONSOLE_COMMENT, None)  # Step Functions' own convention: the console's default input is one
        unknown = sorted(set(data) - set(_INPUT_FIELDS))
        if unknown:
            raise RunRequestError(f"execution input: unknown field(s) {', '.join(unknown)} (known: {_KNOWN})")
        values: dict[str, Any] = {}
        for name, value in data.items():
            kind = _INPUT_FIELDS[name]
            if kind is tuple:
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                    raise RunRequestError(f"execution input: {name} must be a list of strings, got {value!r}")
                values[name] = tuple(value)
            elif kind is bool:
                if not isinstance(value, bool):
                    raise RunRequestError(f"execution input: {name} must be true or false, got {value!r}")
                values[name] = value
            elif value is not None:
                if isinstance(value, int) and not isinstance(value, bool) and name == "year":
                    value = str(value)  # {"year": 2024} as an operator may type it
                if not isinstance(value, str):
                    raise RunRequestError(f"execution input: {name} must be a string, got {value!r}")
                values[name] = value
        return cls(**values, run_id=run_id)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RunRequest:
        """The request in Fetch's event.

        The request in Fetch's event, ``{"input": <execution input>, "execution_name": <name>}``
        (the Payload every definition's Fetch state passes).
        """
        return cls.from_input(event.get("input"), run_id=str(event.get("execution_name") or ""))


_INPUT_FIELDS: dict[str, type] = {
    "domain": str,
    "trigger": str,
    "date": str,
    "month": str,
    "year": str,
    "inputs": tuple,
    "inputs_md5": tuple,
    "force": bool,
    "source": str,
    "unplaced": bool,
}
_KNOWN = ", ".join(_INPUT_FIELDS)


def execution_name(domain: str, partition: str, request: Mapping[str, Any]) -> str:
    """``bndes-2026-11-22-1a2b3c4d``: the hash covers the input, so the same request gets the same name."""
    canonical = json.dumps({k: v for k, v in request.items() if k != "trigger"}, sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    name = f"{domain}-{partition}-{digest}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:80]


def default_partition(period: str, at: datetime | None = None) -> dict[str, str]:
    """The partition a run started at ``at`` (default now) is for, in Sao Paulo time.

    The partition a run started at ``at`` (default now) without ``--date``/``--month`` is for,
    in Sao Paulo time. Scheduled runs and `finlake run` both pin it in the execution input, so they
    get the same deterministic name, and a run retried after midnight stays on its partition.
    """
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
    """The month of ``day`` as ``YYYY-MM``."""
    return day.strftime("%Y-%m")
