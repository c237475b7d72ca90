"""Running domains on the embedded AWS and printing what happens, as `finlake run` shows it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from finlake.local.runtime import EmbeddedAws, RunResult, StateEvent
from finlake.local.sources import local_function_env
from finlake.local.workspace import Workspace
from finlake.naming import execution_input, execution_name
from functions.common.manifest import today_in_sao_paulo
from stacks.specs import DomainSpec

Echo = Callable[..., None]


def plan(
    spec: DomainSpec,
    *,
    date: str | None,
    month: str | None,
    inputs: list[str],
    input_md5: list[str],
    force: bool,
) -> tuple[dict[str, Any], str]:
    """The execution input and its deterministic name for one run."""
    partition = (month if spec.partition == "month" else date) or date or month or today_in_sao_paulo()
    request = execution_input(spec.name, date=date, month=month, inputs=inputs, force=force)
    if input_md5:
        request["inputs_md5"] = input_md5
    return request, execution_name(spec.name, partition, request)


def run_domains(
    ws: Workspace,
    specs: list[DomainSpec],
    *,
    date: str | None = None,
    month: str | None = None,
    inputs: list[Path] | None = None,
    force: bool = False,
    echo: Echo = print,
) -> list[RunResult]:
    results = []
    with EmbeddedAws(ws, function_env=local_function_env(ws, specs)) as aws:
        for spec in specs:
            uris = [aws.put_input(spec.name, path) for path in inputs or []]
            digests = [hashlib.md5(p.read_bytes(), usedforsecurity=False).hexdigest() for p in inputs or []]
            request, name = plan(spec, date=date, month=month, inputs=uris, input_md5=digests, force=force)
            echo(f"\n== {spec.name}: {spec.description}")
            echo(f"   execution {name}")
            result = aws.run(spec, request, name, on_event=_printer(echo))
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
            f"   rows in {c['rows_in']}, valid {c['rows_valid']}, quarantined {c['rows_quarantined']}; "
            f"partitions written {len(output.get('partitions_written', []))}; "
            f"tables {', '.join(output.get('tables', []))}"
        )
    if not result.notifications and output.get("summary"):
        echo("   " + output["summary"].replace("\n", "\n   "))
    for note in result.notifications:
        echo(f"   email: {note['subject']}")
        echo("   | " + note["message"].replace("\n", "\n   | "))
