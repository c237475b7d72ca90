"""Running domains on the embedded AWS and printing what happens, as `finlake run` shows it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from finlake.local.glue import SPARK_LOG
from finlake.local.plan import RunPlan
from finlake.local.progress import StepProgress
from finlake.local.runtime import EmbeddedAws, RunResult, StateEvent
from finlake.local.sources import local_function_env, sample_transport
from finlake.local.workspace import Workspace
from finlake.naming import execution_name
from finlake.ops.executions import next_attempt
from functions.common.http import use_transport
from stacks.specs import DomainSpec

Echo = Callable[..., None]


def run_plans(ws: Workspace, plans: list[RunPlan], *, echo: Echo = print, debug: bool = False) -> list[RunResult]:
    """Run ``plans`` in order, one embedded AWS per workspace.

    Each plan runs in its workspace (``plan.workspace`` or ``ws``); each state is printed as it is entered and left,
    then the counts and the email.
    """
    results = []
    for target, group in itertools.groupby(plans, key=lambda plan: plan.workspace or ws):
        batch = list(group)
        specs = list({plan.spec.name: plan.spec for plan in batch}.values())
        with EmbeddedAws(target, function_env=local_function_env(target, specs)) as aws:
            for plan in batch:
                results.append(_run_one(aws, target, plan, echo, debug))
    return results


def _run_one(aws: EmbeddedAws, ws: Workspace, plan: RunPlan, echo: Echo, debug: bool) -> RunResult:
    request = plan.request([aws.put_input(plan.spec.name, path) for path in plan.inputs])
    # A name the workspace's records already hold gets the first free ``-r<N>``, as on AWS (Step
    # Functions keeps a name for 90 days): `finlake runs` and the console never show one name twice.
    taken = {record["name"] for record in ws.runs()}
    name = next_attempt(taken, execution_name(plan.spec.name, plan.partition(), request))
    return run_request(aws, ws, plan.spec, request, name, echo=echo, debug=debug, note=plan.note)


def run_request(
    aws: EmbeddedAws,
    ws: Workspace,
    spec: DomainSpec,
    request: dict[str, Any],
    name: str,
    *,
    echo: Echo = print,
    debug: bool = False,
    note: str = "",
) -> RunResult:
    """Start execution ``name`` of ``request`` on ``aws`` and print it state by state.

    Its record (and Spark's log of it) is saved in ``ws``; a redrive reruns a dead letter's stored input through here.
    """
    echo(f"\n== {spec.name}: {spec.description}")
    echo(f"   execution {name}")
    if note:
        echo(f"   {note}")
    spark_log = ws.root / SPARK_LOG
    log_start = spark_log.stat().st_size if spark_log.exists() else 0
    use_transport(spec.name, sample_transport(ws, spec.name, request))
    progress = StepProgress(echo)
    try:
        result = aws.run(spec, request, name, on_event=_printer(echo, progress, debug))
    finally:
        progress.stop()
        use_transport(spec.name, None)
    record = result.record()
    log = _save_run_log(ws, name, spark_log, log_start)
    if log:
        record["log"] = str(log)
    ws.save_run(record)
    _report(result, echo)
    if log:
        echo(f"   Spark's log of this run: {log}")
    return result


def _save_run_log(ws: Workspace, name: str, spark_log: Path, start: int) -> Path | None:
    """Copy what Spark logged during the run into ``logs/<execution>.log``; None if nothing."""
    if not spark_log.exists() or spark_log.stat().st_size <= start:
        return None
    with spark_log.open("rb") as log:
        log.seek(start)
        text = log.read()
    path = ws.root / "logs" / f"{name}.log"
    path.write_bytes(text)
    return path


def _printer(echo: Echo, progress: StepProgress, debug: bool = False) -> Callable[[StateEvent], None]:
    entered: dict[str, Any] = {}
    shown: set[str] = set()

    def on_event(event: StateEvent) -> None:
        if event.kind == "entered":
            entered[event.state] = event.at
            echo(f"   -> {event.state}")
            progress.start(event.state)
        elif event.kind == "exited":
            progress.stop()
            took = (event.at - entered.get(event.state, event.at)).total_seconds()
            echo(f"   <- {event.state}  {took:.2f} s")
        elif event.kind == "failed":
            line = f"   !! {event.detail}" if debug else f"   !! {failure_line(event.detail)}"
            if line not in shown:  # the execution's failure repeats the task's
                echo(line)
            shown.add(line)

    return on_event


def failure_line(detail: str) -> str:
    """``Error: cause`` as one readable line.

    The error name and the message, never a JSON payload or a stack trace (`finlake --debug` prints those).
    """
    from functions.notifier.notify import readable_cause

    error, _, cause = detail.partition(": ")
    return f"{error}: {readable_cause(error, cause if cause != 'None' else '')}"


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
