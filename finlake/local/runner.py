"""Running domains on the embedded AWS and printing what happens, as `finlake run` shows it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finlake.local.runtime import EmbeddedAws, RunResult, StateEvent
from finlake.local.sources import local_function_env, sample_transport
from finlake.local.workspace import Workspace
from finlake.naming import execution_input, execution_name, pinned
from functions.common.http import use_transport
from functions.common.manifest import today_in_sao_paulo
from stacks.specs import DomainSpec

Echo = Callable[..., None]


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

    def __post_init__(self) -> None:
        if not self.inputs:  # files say what they are for (the S3 triggers' rule)
            self.date, self.month = pinned(self.spec, self.date, self.month, self.year)

    def partition(self) -> str:
        if self.spec.partition == "month" and self.month:
            return self.month
        return self.date or self.year or self.month or today_in_sao_paulo()

    def request(self, input_uris: list[str]) -> dict[str, Any]:
        request = execution_input(self.spec.name, date=self.date, month=self.month, inputs=input_uris, force=self.force)
        if self.year:
            request["year"] = self.year
        if self.source:
            request["source"] = self.source
        if self.inputs:  # the name follows the content, not just the file names
            request["inputs_md5"] = [
                hashlib.md5(p.read_bytes(), usedforsecurity=False).hexdigest() for p in self.inputs
            ]
        return request


def run_plans(ws: Workspace, plans: list[RunPlan], *, echo: Echo = print) -> list[RunResult]:
    results = []
    specs = list({plan.spec.name: plan.spec for plan in plans}.values())
    with EmbeddedAws(ws, function_env=local_function_env(ws, specs)) as aws:
        for plan in plans:
            request = plan.request([aws.put_input(plan.spec.name, path) for path in plan.inputs])
            name = execution_name(plan.spec.name, plan.partition(), request)
            echo(f"\n== {plan.spec.name}: {plan.spec.description}")
            echo(f"   execution {name}")
            use_transport(plan.spec.name, sample_transport(plan.spec.name, request))
            try:
                result = aws.run(plan.spec, request, name, on_event=_printer(echo))
            finally:
                use_transport(plan.spec.name, None)
            ws.save_run(result.record())
            _report(result, echo)
            results.append(result)
    return results


def _printer(echo: Echo) -> Callable[[StateEvent], None]:
    entered: dict[str, Any] = {}

    def on_event(event: StateEvent) -> None:
        if event.kind == "entered":
            entered[event.state] = event.at
            echo(f"   -> {event.state}")
        elif event.kind == "exited":
            took = (event.at - entered.get(event.state, event.at)).total_seconds()
            echo(f"   <- {event.state}  {took:.2f} s")
        elif event.kind == "failed":
            echo(f"   !! {event.detail[:300]}")

    return on_event


def _report(result: RunResult, echo: Echo) -> None:
    seconds = (result.stopped - result.started).total_seconds()
    echo(f"   {result.status} in {seconds:.1f} s")
    output = result.output or {}
    if output.get("new_data") and output.get("counts"):
        c = output["counts"]
        echo(
            f"   rows in {c['rows_in']} = {c.get('rows_curated', 0)} curated + {c['rows_quarantined']} quarantined "
            f"+ {c.get('rows_duplicates', 0)} duplicates dropped; "
            f"partitions written {len(output.get('partitions_written', []))}; "
            f"tables {', '.join(output.get('tables', []))}"
        )
    if not result.notifications and output.get("summary"):
        echo("   " + output["summary"].replace("\n", "\n   "))
    for note in result.notifications:
        echo(f"   email: {note['subject']}")
        echo("   | " + note["message"].replace("\n", "\n   | "))
