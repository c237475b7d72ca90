"""`finlake`: the operator CLI. Local mode runs the deployed workflows on the embedded AWS;
`--aws` points the same commands at the deployed stacks (the logic lives in `finlake.ops`)."""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from finlake.cost import cost
from finlake.local.workspace import Workspace
from stacks.specs import DOMAINS

if TYPE_CHECKING:
    from finlake.ops.discovery import Aws
    from finlake.ops.executions import Execution, StateEvent

AWS_TARGET = "finlake.aws_target"  # ctx.meta key: (profile, region) when --aws was given
AWS_SESSION = "finlake.aws"  # ctx.meta key: the connected `finlake.ops.discovery.Aws`


@click.group()
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    default=None,
    help="Workspace folder (default .finlake or $FINLAKE_HOME).",
)
@click.option(
    "--aws",
    "use_aws",
    is_flag=True,
    help="Act on the deployed stacks (FinlakePlatform, FinlakePipelines) instead of the embedded AWS.",
)
@click.option("--profile", default=None, help="AWS profile for --aws (default: the usual AWS environment).")
@click.option("--region", default=None, help="AWS region for --aws (default: the profile's or AWS_REGION).")
@click.pass_context
def main(ctx: click.Context, home: Path | None, use_aws: bool, profile: str | None, region: str | None) -> None:
    """finlake: financial data pipelines on AWS, runnable locally on an embedded AWS."""
    # moto logs every state failure it interprets at ERROR; the run report already says it once.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    if (profile or region) and not use_aws:
        raise click.UsageError("--profile and --region go with --aws")
    if use_aws:
        ctx.meta[AWS_TARGET] = (profile, region)
    ctx.obj = Workspace.open(home)


def aws_session(ctx: click.Context) -> Aws | None:
    """The deployment `--aws` points at (found once per invocation), or None in local mode."""
    if AWS_TARGET not in ctx.meta:
        return None
    if AWS_SESSION not in ctx.meta:
        from botocore.exceptions import BotoCoreError, ClientError

        from finlake.ops.discovery import DiscoveryError, connect

        profile, region = ctx.meta[AWS_TARGET]
        try:
            ctx.meta[AWS_SESSION] = connect(profile, region, sorted(DOMAINS))
        except (DiscoveryError, BotoCoreError, ClientError) as exc:
            raise click.ClickException(f"cannot find the deployment: {exc}") from exc
    session: Aws = ctx.meta[AWS_SESSION]
    return session


@main.command()
@click.argument("domain", required=False, type=click.Choice(sorted(DOMAINS)))
@click.option("--all", "run_all", is_flag=True, help="Run every domain's demo with the project's sample data.")
@click.option("--date", help="Partition date YYYY-MM-DD (default: today in America/Sao_Paulo).")
@click.option("--month", help="Partition month YYYY-MM (monthly domains).")
@click.option("--year", help="Backfill a whole year (domains with yearly files, e.g. stocks).")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Local file fed to the Fetch step instead of the internet (repeatable).",
)
@click.option("--force", is_flag=True, help="Reprocess sources even if they are unchanged since the last run.")
@click.option(
    "--source",
    type=click.Choice(["api", "mock"]),
    default=None,
    help="bank: fetch from the Nubank API through pynubank ('api') or its offline MockHttpClient ('mock').",
)
@click.pass_context
def run(
    ctx: click.Context,
    domain: str | None,
    run_all: bool,
    date: str | None,
    month: str | None,
    year: str | None,
    inputs: tuple[Path, ...],
    force: bool,
    source: str | None,
) -> None:
    """Run DOMAIN's workflow (or --all) on the embedded AWS and follow it state by state.
    With --aws: start it on the deployed state machine (or follow the execution of the same name)."""
    from finlake.local.runner import RunPlan, run_plans
    from finlake.local.sources import demo_plans

    if not domain and not run_all:
        raise click.UsageError("name a DOMAIN or pass --all")
    aws = aws_session(ctx)
    if aws is not None:
        if run_all or inputs:
            raise click.UsageError(
                "--all and --input are local-mode options; on AWS upload files to the raw bucket's "
                "inbox/<domain>/ (the S3 trigger starts cards and bank runs)"
            )
        _run_on_aws(aws, str(domain), date=date, month=month, year=year, force=force, source=source)
        return
    ws: Workspace = ctx.obj
    if run_all:
        plans = demo_plans(ws)
    else:
        if source and domain != "bank":
            raise click.UsageError("--source is for the bank domain")
        plans = [
            RunPlan(
                DOMAINS[str(domain)], date=date, month=month, year=year, inputs=list(inputs), force=force, source=source
            )
        ]
    results = run_plans(ws, plans, echo=click.echo)
    failed = [r for r in results if not r.succeeded]
    if run_all:
        _lake_report(ws)
    for result in failed:
        click.echo(f"FAILED {result.name}: {result.error}: {_readable_cause(result.cause)}", err=True)
    sys.exit(1 if failed else 0)


def _readable_cause(cause: str | None) -> str:
    from finlake.ops.executions import readable_cause

    return readable_cause(cause)


def _run_on_aws(aws: Aws, domain: str, **request: Any) -> None:
    from finlake.ops.executions import Request
    from finlake.ops.executions import run as run_execution

    spec = DOMAINS[domain]
    planned = Request(spec, **request)
    name = planned.name()
    click.echo(f"\n== {spec.name}: {spec.description}")
    click.echo(f"   execution {name}")
    execution = run_execution(
        aws.sfn, _state_machine(aws, domain), name, planned.input(), on_event=_printer(), poll_s=aws.poll_s
    )
    _report_execution(aws, execution)
    if not execution.succeeded:
        click.echo(f"FAILED {execution.name}: {execution.error}: {_readable_cause(execution.cause)}", err=True)
        if execution.attached:
            click.echo("   this execution already existed: `finlake --aws redrive --apply` reruns it", err=True)
    sys.exit(0 if execution.succeeded else 1)


def _state_machine(aws: Aws, domain: str) -> str:
    from finlake.ops.discovery import DiscoveryError

    try:
        return aws.deployment.state_machine(domain)
    except DiscoveryError as exc:
        raise click.ClickException(str(exc)) from exc


def _printer() -> Any:
    """Entered/exited lines with durations, failures with the readable cause (as local runs print)."""
    entered: dict[str, Any] = {}
    shown: dict[str, str] = {}

    def on_event(event: StateEvent) -> None:
        if event.kind == "entered":
            entered[event.state] = event.at
            click.echo(f"   -> {event.state}")
        elif event.kind == "exited":
            took = (event.at - entered.get(event.state, event.at)).total_seconds()
            click.echo(f"   <- {event.state}  {took:.2f} s")
        elif event.kind == "failed":
            error, _, cause = event.detail.partition(": ")
            line = f"   !! {error}: {_readable_cause(cause)[:300]}"
            if line != shown.get("failure"):  # the execution's failure usually repeats the task's
                click.echo(line)
            shown["failure"] = line

    return on_event


def _report_execution(aws: Aws, execution: Execution) -> None:
    from finlake.ops.executions import console_url, counts_text

    if execution.attached:
        click.echo(f"   (already started at {execution.started:%Y-%m-%d %H:%M:%S}: reported, not started again)")
    click.echo(f"   {execution.status} in {execution.seconds:.1f} s")
    output = execution.output or {}
    if counts_text(output):
        click.echo(
            f"   {counts_text(output)}; partitions written {len(output.get('partitions_written', []))}; "
            f"tables {', '.join(output.get('tables', []))}"
        )
    click.echo(f"   {console_url(aws.deployment.region, execution.arn)}")


def _lake_report(ws: Workspace) -> None:
    from finlake.query import run_query

    click.echo("\nWhat is in the lake:")
    for database, tables in sorted(ws.read_json("catalog.json", {}).items()):
        for name, entry in sorted(tables.items()):
            _, rows = run_query(ws, f'SELECT count(*) FROM "{database}"."{name}"')
            location = entry["table"]["StorageDescriptor"]["Location"]
            click.echo(f"  {database}.{name}: {rows[0][0]} rows in {len(entry['partitions'])} partitions at {location}")
    click.echo(f"  local copy of the buckets: {ws.s3_dir}")
    click.echo('Query it:  .venv/bin/finlake query "SELECT * FROM finlake_curated.bndes_balance_sheet LIMIT 5"')


@main.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("domain", type=click.Choice(["bank", "cards"]))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def generate(domain: str, args: tuple[str, ...]) -> None:
    """Write generated sample files, e.g. `finlake generate cards --clients 1000 --months 12 --out DIR`
    or `finlake generate bank --end-month 2024-09 --months 3 --out DIR` (`--help` after the domain)."""
    from finlake.samples import bank, cards

    sys.exit({"bank": bank.main, "cards": cards.main}[domain](list(args)))


@main.command()
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.pass_obj
def query(ws: Workspace, sql: str, fmt: str) -> None:
    """Run Athena-style SQL (DuckDB) over the catalog's tables, e.g. finlake_curated.bndes_balance_sheet."""
    from finlake.query import run_query

    try:
        columns, rows = run_query(ws, sql)
    except Exception as exc:  # DuckDB's errors are already clear; show them without a traceback
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=1))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        click.echo(_table(columns, rows))


def _table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, f"({len(rows)} rows)"])


@main.command()
@click.argument("domain", required=False)
@click.option("--states/--no-states", default=None, help="Show each run's state history (default with DOMAIN).")
@click.option("--limit", default=10, show_default=True, help="--aws: executions shown per domain.")
@click.pass_context
def runs(ctx: click.Context, domain: str | None, states: bool | None, limit: int) -> None:
    """List past local executions (newest last), with their state history.
    With --aws: the newest executions of each deployed state machine (newest first)."""
    aws = aws_session(ctx)
    if aws is not None:
        _aws_runs(aws, domain, limit)
        return
    ws: Workspace = ctx.obj
    records = ws.runs(domain)
    if not records:
        click.echo("no runs yet: try `finlake run --all`")
        return
    show_states = bool(domain) if states is None else states
    for record in records:
        counts = ((record.get("output") or {}).get("counts")) or {}
        click.echo(
            f"{record['started'][:19]}  {record['status']:<9} {record['duration_s']:>7.2f} s  {record['name']}"
            + (
                f"  rows in/valid/quarantined {counts.get('rows_in', 0)}/{counts.get('rows_valid', 0)}/"
                f"{counts.get('rows_quarantined', 0)}"
                if counts
                else ""
            )
        )
        if show_states:
            for item in record["states"]:
                click.echo(f"    {item['state']:<24} {item.get('duration_s', 0):>7.3f} s")
            if record.get("error"):
                click.echo(f"    error: {record['error']}: {record.get('cause')}")


def _aws_runs(aws: Aws, domain: str | None, limit: int) -> None:
    from finlake.ops.discovery import PIPELINES_STACK, state_machine_output
    from finlake.ops.history import recent_runs

    if domain and domain not in DOMAINS:
        raise click.UsageError(f"unknown domain {domain!r} (one of {', '.join(sorted(DOMAINS))})")
    for name in [domain] if domain else sorted(DOMAINS):
        if not domain and name not in aws.deployment.state_machines:
            click.echo(f"{name}: not deployed (no output {state_machine_output(name)} in {PIPELINES_STACK})")
            continue
        click.echo(f"{name}:")
        summaries = recent_runs(aws.sfn, _state_machine(aws, str(name)), limit)
        if not summaries:
            click.echo("  no executions")
        for item in summaries:
            took = f"{item.seconds:>8.1f} s" if item.seconds is not None else "     ... "
            rows = (
                f"  rows in/valid/quarantined {item.counts.get('rows_in', 0)}/{item.counts.get('rows_valid', 0)}/"
                f"{item.counts.get('rows_quarantined', 0)}"
                if item.counts
                else ""
            )
            click.echo(f"  {item.started:%Y-%m-%d %H:%M:%S}  {item.status:<9} {took}  {item.name}{rows}")


@main.command()
@click.argument("domain", type=click.Choice(sorted(DOMAINS)))
@click.option("--from", "start", required=True, help="First partition: YYYY-MM-DD (date domains) or YYYY-MM.")
@click.option("--to", "end", required=True, help="Last partition, included.")
@click.option("--parallel", default=4, show_default=True, type=click.IntRange(1, 32), help="--aws: executions at once.")
@click.option("--force", is_flag=True, help="Reprocess sources even if unchanged (a different execution name).")
@click.pass_context
def backfill(ctx: click.Context, domain: str, start: str, end: str, parallel: int, force: bool) -> None:
    """One execution per partition from --from to --to: every weekday (Monday to Friday) for date
    domains (bndes, stocks), every month for month domains (cards, bank). Partitions whose
    deterministic execution already SUCCEEDED are skipped. Locally they run one after the other on
    the embedded AWS; with --aws at most --parallel at a time (see finlake/ops/backfill.py)."""
    from finlake.ops.backfill import RangeError, partitions

    spec = DOMAINS[domain]
    try:
        parts = partitions(spec, start, end)
    except RangeError as exc:
        raise click.UsageError(str(exc)) from exc
    unit = "months" if spec.partition == "month" else "weekdays (Saturdays and Sundays are not run)"
    click.echo(f"backfill {domain}: {len(parts)} {unit} from {parts[0] if parts else start} to {end}")
    aws = aws_session(ctx)
    failed = _backfill_aws(aws, spec, parts, parallel, force) if aws else _backfill_local(ctx.obj, spec, parts, force)
    for name, status, why in failed:
        click.echo(f"FAILED {name}: {status}: {why}", err=True)
    click.echo(f"{len(parts)} partitions, {len(failed)} failed")
    sys.exit(1 if failed else 0)


def _backfill_local(ws: Workspace, spec: Any, parts: list[str], force: bool) -> list[tuple[str, str, str]]:
    from finlake.local.runner import RunPlan, run_plans
    from finlake.naming import execution_name
    from finlake.ops.backfill import done_locally

    done = done_locally(ws.runs(spec.name))
    plans = []
    for part in parts:
        monthly = spec.partition == "month"
        plan = RunPlan(spec, date=None if monthly else part, month=part if monthly else None, force=force)
        name = execution_name(spec.name, plan.partition(), plan.request([]))
        if name in done:
            click.echo(f"   {part}: skipped, {name} already SUCCEEDED")
        else:
            plans.append(plan)
    results = run_plans(ws, plans, echo=click.echo) if plans else []
    return [(r.name, r.status, f"{r.error}: {_readable_cause(r.cause)}") for r in results if not r.succeeded]


def _backfill_aws(aws: Aws, spec: Any, parts: list[str], parallel: int, force: bool) -> list[tuple[str, str, str]]:
    from finlake.ops.backfill import Outcome, backfill_aws

    def report(outcome: Outcome) -> None:
        if outcome.status == "SKIPPED":
            click.echo(f"   {outcome.partition}: skipped, {outcome.name} already SUCCEEDED")
            return
        execution = outcome.execution
        seconds = f" in {execution.seconds:.1f} s" if execution else ""
        counts = _counts(execution.output if execution else None)
        click.echo(f"   {outcome.partition}: {outcome.status}{seconds}  {outcome.name}{counts}")

    outcomes = backfill_aws(
        aws.sfn,
        _state_machine(aws, spec.name),
        spec,
        parts,
        parallel=parallel,
        force=force,
        poll_s=aws.poll_s,
        on_outcome=report,
    )
    return [
        (o.name, o.status, f"{o.execution.error}: {_readable_cause(o.execution.cause)}" if o.execution else "")
        for o in outcomes
        if o.failed
    ]


def _counts(output: dict[str, Any] | None) -> str:
    from finlake.ops.executions import counts_text

    text = counts_text(output)
    return f"  ({text})" if text else ""


@main.command()
@click.option("--apply", "do_apply", is_flag=True, help="Rerun each failed run; delete its message once it succeeds.")
@click.option("--domain", type=click.Choice(sorted(DOMAINS)), default=None, help="Only this domain's failed runs.")
@click.pass_context
def redrive(ctx: click.Context, do_apply: bool, domain: str | None) -> None:
    """List the failed runs waiting in the dead-letter queue (needs --aws). With --apply, rerun
    each one: RedriveExecution when Step Functions can continue it, else a new execution of the
    stored input named <original>-r<N>; see finlake/ops/redrive.py for which and why."""
    from finlake.ops import redrive as dlq

    aws = aws_session(ctx)
    if aws is None:
        raise click.UsageError(
            "redrive needs --aws: local runs leave no queue behind (each run starts a fresh embedded AWS)"
        )
    queue = aws.deployment.dead_letter_queue_url
    if not do_apply:
        failed_runs = dlq.list_failed_runs(aws.sqs, queue, domain, wait_s=aws.sqs_wait_s)
        if not failed_runs:
            click.echo("the dead-letter queue is empty" + (f" for {domain}" if domain else ""))
        for run_ in failed_runs:
            _echo_failed_run(run_)
        if failed_runs:
            click.echo(f"{len(failed_runs)} failed runs: `finlake --aws redrive --apply` reruns them")
        return

    def started(rerun: dlq.Rerun) -> None:
        _echo_failed_run(rerun.run)
        click.echo(f"   {rerun.how}: {rerun.why}")

    reruns = dlq.apply(
        aws.sfn,
        aws.sqs,
        queue,
        domain=domain,
        state_machines=aws.deployment.state_machines,
        on_start=started,
        on_event=_printer(),
        poll_s=aws.poll_s,
        wait_s=aws.sqs_wait_s,
    )
    if not reruns:
        click.echo("the dead-letter queue is empty" + (f" for {domain}" if domain else ""))
    failed = [r for r in reruns if not r.succeeded]
    for rerun in reruns:
        if rerun.succeeded and rerun.execution:
            click.echo(f"OK {rerun.execution.name}: SUCCEEDED; message deleted")
    for rerun in failed:
        ex = rerun.execution
        why = f"{ex.status}: {ex.error}: {_readable_cause(ex.cause)}" if ex else rerun.error
        click.echo(f"FAILED {ex.name if ex else rerun.run.base}: {why}; message kept", err=True)
    sys.exit(1 if failed else 0)


def _echo_failed_run(run_: Any) -> None:
    from datetime import UTC, datetime

    letter = run_.latest
    age = datetime.now(UTC) - letter.sent
    hours = age.total_seconds() / 3600
    attempts = f" ({len(run_.letters)} failed attempts)" if len(run_.letters) > 1 else ""
    click.echo(
        f"{letter.execution_name}  {letter.domain}  failed at {letter.body.get('failed_state', '?')}  "
        f"{hours:.1f} h ago{attempts}"
    )
    click.echo(f"   {letter.body.get('error')}: {_readable_cause(letter.body.get('cause'))[:300]}")


main.add_command(cost)
