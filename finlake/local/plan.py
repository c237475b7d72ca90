"""`RunPlan`: one execution to start on the embedded AWS (what `finlake run` was asked, or one step of the demo).

A leaf of `finlake.local`: the domains' sample adapters (`finlake.samples.registry`) build plans and
the runner (`finlake.local.runner`) runs them, so neither imports the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finlake.local.workspace import Workspace
from finlake.naming import RunRequest, pinned
from functions.common.manifest import today_in_sao_paulo
from stacks.specs import DomainSpec


@dataclass
class RunPlan:
    """One execution to start: what `finlake run` was asked, or one step of the demo."""

    spec: DomainSpec
    date: str | None = None
    month: str | None = None
    year: str | None = None
    inputs: list[Path] = field(default_factory=list)
    force: bool = False
    source: str | None = None  # bank: "api" or "mock" (pynubank's MockHttpClient)
    workspace: Workspace | None = None  # another workspace than the command's (the bank mock's own)
    note: str = ""  # printed under the run's header: where its data comes from

    def __post_init__(self) -> None:
        """Without input files, pin the run's date or month as the CLI does (`finlake.naming.pinned`)."""
        if not self.inputs:  # files say what they are for (the S3 triggers' rule)
            self.date, self.month = pinned(self.spec, self.date, self.month, self.year)

    def partition(self) -> str:
        """The run's partition: ``YYYY-MM`` (month domains) or ``YYYY-MM-DD``, by default today in São Paulo."""
        if self.spec.partition == "month" and self.month:
            return self.month
        return self.date or self.year or self.month or today_in_sao_paulo()

    def request(self, input_uris: list[str]) -> dict[str, Any]:
        """The execution input (a RunRequest dict) naming ``input_uris``.

        ``input_uris`` are the ``s3://`` URIs of the uploaded inputs; the MD5 of each input file is added so the
        execution name follows the content.
        """
        return RunRequest(
            domain=self.spec.name,
            date=self.date,
            month=self.month,
            year=self.year,
            inputs=tuple(input_uris),
            # the name follows the content, not just the file names
            inputs_md5=tuple(hashlib.md5(p.read_bytes(), usedforsecurity=False).hexdigest() for p in self.inputs),
            force=self.force,
            source=self.source,
        ).to_input()
