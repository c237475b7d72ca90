"""`finlake`: the operator CLI.

Local mode runs the deployed workflows on the embedded AWS; `--aws` points the same commands at the deployed stacks (the
logic lives in `finlake.ops`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from finlake.arguments import (
    check_distinct_inputs,
    check_local_samples,
    check_range,
    check_run_options,
)
from finlake.cost import cost
from finlake.local import collect_less_often
from finlake.local.workspace import Workspace
from stacks.specs import DOMAINS

if TYPE_CHECKING:
    from finlake.ops.discovery import Aws
    from finlake.ops.executions import Execution, StateEvent

AWS_TARGET = "finlake.aws_target"  # ctx.meta key: (profile, region) when --aws was given
AWS_SESSION = "finlake.aws"  # ctx.meta key: the connected `finlake.ops.discovery.Aws`
DEBUG = "finlake.debug"  # ctx.meta key: --debug (stack traces and raw error payloads)
# jsii (the CDK's bridge to Node, loaded by `finlake cost`) prints Node's end-of-life banner otherwise
JSII_QUIET = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1"}


class FinlakeGroup(click.Group):
    """The ``finlake`` command group, whose errors are one line on stderr.

    Every refusal is one line on stderr with exit code 2 (click's usage block is left out: the line names the ``--help``
    to read), every other error one line with exit code 1; `--debug` lets an unexpected error's trace through.
    """

    def main(  # type: ignore[override]
        self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None, **extra: Any
    ) -> Any:
        """Run the CLI without click's standalone mode, printing each error as one line and exiting.

        Exits 2 (the usage error's code) with the ``--help`` to read on a usage error, the exception's code on another
        click error, and 1 on Ctrl-C (``Aborted!``).
        """
        extra.pop("standalone_mode", None)
        try:
            return super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = f" (`{exc.ctx.command_path} --help`)" if exc.ctx else ""
            click.echo(f"Error: {exc.format_message()}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)

    def invoke(self, ctx: click.Context) -> Any:
        """Invoke the command; an unexpected exception becomes a one-line `click.ClickException` (exit 1).

        With ``--debug`` or ``FINLAKE_DEBUG`` set, the exception propagates with its trace.
        """
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get(DEBUG) or os.environ.get("FINLAKE_DEBUG"):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise click.ClickException(
                f"{type(exc).__name__}: {message} (`finlake --debug ...` shows the trace)"
            ) from None


def debug_on(ctx: click.Context) -> bool:
    """Whether ``--debug`` was given or ``FINLAKE_DEBUG`` is set."""
    return bool(ctx.meta.get(DEBUG) or os.environ.get("FINLAKE_DEBUG"))


@click.group(cls=FinlakeGroup)
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
@click.option("--debug", is_flag=True, help="Show stack traces and the raw error payloads of failed steps.")
@click.pass_context
def main(
    ctx: click.Context, home: Path | None, use_aws: bool, profile: str | None, region: str | None, debug: bool
) -> None:
    """finlake: financial data pipelines on AWS, runnable locally on an embedded AWS."""
    # moto logs every state failure it interprets at ERROR; the run report already says it once.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    collect_less_often()
    for key, value in JSII_QUIET.items():
        os.environ.setdefault(key, value)
    ctx.meta[DEBUG] = debug
    if (profile or region) and not use_aws:
        raise click.UsageError("--profile and --region go with --aws")
    if use_aws:
        ctx.meta[AWS_TARGET] = (profile, region)
    if home is not None and home.exists() and not home.is_dir():
        raise click.UsageError(f"--home {home} is a file: give a folder (it is created if missing)")
    try:
        ctx.obj = Workspace.open(home)
    except OSError as exc:
        where = f"--home {home}" if home is not None else f"the workspace {exc.filename} ($FINLAKE_HOME or .finlake)"
        raise click.UsageError(f"{where}: cannot make the workspace there ({exc.strerror})") from None


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
@click.option("--date", help="Partition date YYYY-MM-DD, date domains (default: today in America/Sao_Paulo).")
@click.option("--month", help="Partition month YYYY-MM, month domains (cards: the previous month; bank: this one).")
@click.option("--year", help="stocks: load B3's yearly COTAHIST file of this year (1986 on).")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Local file fed to the Fetch step instead of the source (repeatable).",
)
@click.option("--force", is_flag=True, help="Reprocess sources even if they are unchanged since the last run.")
@click.option(
    "--source",
    type=click.Choice(["api", "mock"]),
    default=None,
    help="bank: pynubank's offline MockHttpClient ('mock', the local default, in its own workspace) or the "
    "real Nubank API over the network ('api').",
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

    With --aws: start it on the deployed state machine (or follow the execution of the same name).
    """
    from finlake.local.runner import run_plans
    from finlake.local.sources import demo_plans, local_plan

    if run_all:
        if domain or date or month or year or inputs or force or source:
            raise click.UsageError("--all runs the demo with the sample data: give it alone")
    elif not domain:
        raise click.UsageError("name a DOMAIN or pass --all")
    else:
        date, month, year = check_run_options(
            DOMAINS[domain], date=date, month=month, year=year, inputs=bool(inputs), source=source
        )
        check_distinct_inputs(inputs)
    if AWS_TARGET in ctx.meta and (run_all or inputs):
        raise click.UsageError(
            "--all and --input are local-mode options; on AWS upload files to the raw bucket's "
            "inbox/<domain>/ (the S3 trigger starts cards and bank runs)"
        )
    if AWS_TARGET not in ctx.meta and domain and not inputs:
        check_local_samples(DOMAINS[domain], day=date, year=year)
    aws = aws_session(ctx)
    if aws is not None:
        _run_on_aws(aws, str(domain), date=date, month=month, year=year, force=force, source=source)
        return
    ws: Workspace = ctx.obj
    if run_all:
        plans = demo_plans(ws)
    else:
        spec = DOMAINS[str(domain)]
        plans = [
            local_plan(ws, spec, date=date, month=month, year=year, inputs=list(inputs), force=force, source=source)
        ]
    results = run_plans(ws, plans, echo=click.echo, debug=debug_on(ctx))
    if run_all:
        _lake_report(ws)
    failed = [r for r in results if not r.succeeded]
    for result in failed:
        _echo_failure(result, debug_on(ctx))
    sys.exit(1 if failed else 0)


def _echo_failure(result: Any, debug: bool) -> None:
    """``FAILED <execution> at <state>: <Error>: <readable cause>`` and the next step, on stderr."""
    from functions.notifier.notify import readable_cause

    cause = result.cause if debug else readable_cause(result.error or "", result.cause, result.failed_state or "")
    where = f" at {result.failed_state}" if result.failed_state else ""
    click.echo(f"FAILED {result.name}{where}: {result.error}: {cause}", err=True)
    click.echo(f"   next: {next_step(result.domain, result.name, result.error or '', result.cause or '')}", err=True)


# A failed file: refused whole, nothing from it reached curated (the error names of the parsers and jobs).
REFUSED_FILE = (
    "HeaderMismatch",  # cards: header drift the contract does not map (Glue)
    "FileRejected",  # bndes/stocks/bank: bad delimiter, HTML, TOTREG matching neither convention, too many bad rows
    "TruncatedFile",  # stocks: COTAHIST without its trailer
    "SourceRejected",  # bank: not an export
    "UndecodableText",  # not text in any encoding the source may use
    "InputError",  # cards/stocks: a file the run cannot use
)


def next_step(domain: str, name: str, error: str, cause: str) -> str:
    """The obvious next step after a failed local run (what its email cannot know: the CLI).

    ``error`` is the Step Functions error (a Lambda's exception name, ``States.TaskFailed`` for a Glue job, whose
    exception name is then in ``cause``).
    """
    found = f"{error} {cause}"

    def named(*names: str) -> bool:
        return any(n in found for n in names)

    if named("MissingFile"):
        return (
            f"give the month's files with `finlake run {domain} --month YYYY-MM --input FILE ...` "
            "(`finlake generate cards --out DIR` writes sample files)"
        )
    if named("UnplacedFile"):
        return "rename the file to an accepted name and give it again with --input; `finlake quarantine cards` lists it"
    if named("NubankLoginRejected"):
        return "load the app's exports instead: `finlake run bank --input FILE ...` (CSV or OFX from the Nubank app)"
    if named("RowAccountingError", "ReconciliationError"):
        return (
            "rows in != curated + quarantined + duplicates: rows went unaccounted for, a finlake fault rather than "
            f"the file's; report it with the run's states (`finlake runs {domain}`) and `finlake --debug`"
        )
    if named(*REFUSED_FILE):
        return (
            "the file was refused whole and nothing from it reached curated: the cause says why "
            f"(`finlake quarantine {domain}` lists rejected files); fix it and give it again with --input FILE"
        )
    if domain == "bank" and named("SourceUnavailable", "NetworkBlocked"):
        return "the source could not be reached: local runs read the bundled samples unless --source api is given"
    if named("NotTheFile", "IncompleteDownload", "SourceUnavailable", "NetworkBlocked"):
        return (
            "the source sent no usable file, even after retries (an error page, a cut download): run again "
            f"later, or give the file itself with `finlake run {domain} --input FILE`"
        )
    return (
        f"its states: `finlake runs {domain}`; its email again: `finlake email {name}`; "
        "once the cause is fixed, `finlake redrive --apply` reruns it"
    )


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
        failed = [s.removesuffix("Failed") for s in execution.states if s.endswith("Failed") and s != "NotifyFailure"]
        where = f" at {failed[0]}" if failed else ""
        click.echo(f"FAILED {execution.name}{where}: {execution.error}: {_readable_cause(execution.cause)}", err=True)
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
    from finlake.local.sources import mock_workspace

    click.echo("\nWhat is in the lake:")
    _echo_tables(ws, indent="  ")
    click.echo(f"  local copy of the buckets: {ws.s3_dir}")
    mock = mock_workspace(ws)
    if mock.runs():
        click.echo(f"  the bank mock's invented data is apart, in {mock.root}: `finlake --home {mock.root} tables`")
    click.echo('Query it:  .venv/bin/finlake query "SELECT * FROM finlake_curated.bndes_balance_sheet LIMIT 5"')


def _echo_tables(ws: Workspace, indent: str = "") -> int:
    from finlake.query import table_summaries

    summaries = table_summaries(ws)
    for t in summaries:
        last = f"; last run {t.last_run}" if t.last_run else ""
        click.echo(f"{indent}{t.database}.{t.name}: {t.rows} rows in {t.partitions} partitions at {t.location}{last}")
    return len(summaries)


@main.command()
@click.pass_obj
def tables(ws: Workspace) -> None:
    """List the lake's tables: rows, partitions, location and the last run that wrote each."""
    if not _echo_tables(ws):
        click.echo("no tables yet: run a domain first, e.g. `finlake run bndes`")


@main.command()
@click.argument("domain", required=False, type=click.Choice(sorted(DOMAINS)))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Rows shown per file.")
@click.pass_obj
def quarantine(ws: Workspace, domain: str | None, limit: int) -> None:
    """Show quarantined rows and rejected files: the source file as its S3 URI, the line, the reason."""
    from finlake.quarantine import read_quarantine

    entries = read_quarantine(ws, domain)
    if not entries:
        click.echo("nothing in quarantine" + (f" for {domain}" if domain else ""))
        return
    for stored, rows in entries:
        click.echo(f"{stored} ({len(rows)} {'row' if len(rows) == 1 else 'rows'})")
        for row in rows[:limit]:
            click.echo(f"  {row.where}: {row.reason}")
        if len(rows) > limit:
            click.echo(f"  ... and {len(rows) - limit} more (--limit)")


@main.group()
def generate() -> None:
    """Write generated sample files (the ones `make demo` loads) into a folder."""


def _add_generators() -> None:
    """One `finlake generate <domain>` per domain whose sample adapter has a generator."""
    from finlake.samples.registry import adapters

    for each in adapters():
        command = each.generate_command()
        if command is not None:
            generate.add_command(command)


_add_generators()


@main.command()
@click.argument("sql", required=False)
@click.option(
    "--file",
    "-f",
    "sql_file",
    type=click.File("r"),
    default=None,
    help="Read the SQL from this file ('-': standard input).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.pass_obj
def query(ws: Workspace, sql: str | None, sql_file: Any, fmt: str) -> None:
    """Run Athena SQL (engine v3, Trino) over the catalog's tables on DuckDB (translated by sqlglot).

    Tables are named as on Athena, e.g. finlake_curated.bndes_balance_sheet. SQL is the argument, or '-' / --file for a
    file or standard input. SHOW TABLES [IN db] and DESCRIBE db.table answer from the catalog, with each column's
    comment.
    """
    from finlake.query import QueryError, run_query, to_csv

    if sql is not None and sql_file is not None:
        raise click.UsageError("give the SQL as the argument or with --file FILE, not both")
    if sql is None and sql_file is None:
        raise click.UsageError("give the SQL as the argument, or --file FILE ('-' or SQL '-' reads standard input)")
    if sql == "-":
        sql = sys.stdin.read()
    text = sql_file.read() if sql_file is not None else str(sql)
    if not text.strip().strip(";").strip():
        raise click.UsageError('the SQL is empty: give one statement, e.g. "SHOW TABLES"')
    try:
        columns, rows = run_query(ws, text)
    except QueryError as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=1))
    elif fmt == "csv":
        click.echo(to_csv(columns, rows), nl=False)
    else:
        click.echo(_table(columns, rows))


def _table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    from finlake.query import athena_text

    cells = [[str(c) for c in columns]] + [[athena_text(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, f"({len(rows)} rows)"])


@main.command()
@click.argument("domain", required=False, type=click.Choice(sorted(DOMAINS)))
@click.option("--states/--no-states", default=None, help="Show each run's state history (default with DOMAIN).")
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(min=1), help="Newest executions shown per domain."
)
@click.pass_context
def runs(ctx: click.Context, domain: str | None, states: bool | None, limit: int) -> None:
    """List past local executions (newest last) with their outcome.

    The outcome is loaded (rows), nothing new, or failed (state, error, cause). With --aws: the deployed state machines'
    newest (newest first).
    """
    aws = aws_session(ctx)
    if aws is not None:
        _aws_runs(aws, domain, limit)
        return
    ws: Workspace = ctx.obj
    records = _all_runs(ws, domain)
    if not records:
        click.echo("no runs yet: try `finlake run bndes` (or `finlake run --all`)")
        return
    by_domain: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_domain.setdefault(record.get("domain", "?"), []).append(record)
    shown = [r for group in by_domain.values() for r in group[-limit:]]
    show_states = bool(domain) if states is None else states
    for record in sorted(shown, key=lambda r: r.get("started", "")):
        click.echo(
            f"{record['started'][:19]}  {record['status']:<9} {record['duration_s']:>7.2f} s  {record['name']}  "
            f"{outcome(record)}{record.get('_where', '')}"
        )
        if show_states:
            for item in record["states"]:
                click.echo(f"    {item['state']:<24} {item.get('duration_s', 0):>7.3f} s")


def _all_runs(ws: Workspace, domain: str | None = None) -> list[dict[str, Any]]:
    """The workspace's run records, and those of the domains' own workspaces (the bank mock's), oldest first."""
    from finlake.local.sources import side_workspaces

    records = ws.runs(domain)
    for owner, other in side_workspaces(ws, domain):
        if other.runs_dir.exists():
            records += [{**r, "_where": f"  [{owner} mock: --home {other.root}]"} for r in other.runs(owner)]
    return sorted(records, key=lambda r: r.get("started", ""))


def outcome(record: dict[str, Any]) -> str:
    """One line of a run's outcome, as `finlake history` prints it.

    ``loaded: rows in 80 = 80 curated + 0 quarantined + 0 duplicates dropped`` (the row accounting every domain keeps),
    ``nothing new`` or ``failed at Fetch: Error: cause``.
    """
    from finlake.ops.executions import counts_text
    from functions.notifier.notify import readable_cause

    output = record.get("output") or {}
    if record.get("status") != "SUCCEEDED":
        state = record.get("failed_state")
        error = record.get("error") or record.get("status")
        where = f" at {state}" if state else ""
        return f"failed{where}: {error}: {readable_cause(str(error), record.get('cause'), state or 'the step')}"
    if not output.get("new_data", True):
        return "nothing new"
    counts = counts_text(output)
    return f"loaded: {counts}" if counts else "loaded"


@main.command()
@click.argument("run_name", required=False, metavar="[EXECUTION|DOMAIN]")
@click.pass_obj
def email(ws: Workspace, run_name: str | None) -> None:
    """Show again the email a local run sent: the newest run's, a domain's newest, or an execution's."""
    records = _all_runs(ws)
    if run_name in DOMAINS:
        records = [r for r in records if r.get("domain") == run_name]
    elif run_name:
        records = [r for r in records if r["name"] == run_name or r["name"].startswith(run_name)]
    if not records:
        raise click.ClickException(f"no local run {run_name or ''} found: `finlake runs` lists them".replace("  ", " "))
    record = records[-1]
    notes = record.get("notifications") or []
    if not notes:
        click.echo(f"{record['name']} sent no email ({outcome(record)})")
    for note in notes:
        click.echo(f"Subject: {note['subject']}\n\n{note['message']}")


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
            record = {"status": item.status, "output": item.output, "error": item.error, "cause": item.cause}
            done = f"  {outcome(record)}" if item.status != "RUNNING" else ""
            click.echo(f"  {item.started:%Y-%m-%d %H:%M:%S}  {item.status:<9} {took}  {item.name}{done}")


@main.command()
@click.argument("domain", type=click.Choice(sorted(DOMAINS)))
@click.option("--from", "start", required=True, help="First partition: YYYY-MM-DD (date domains) or YYYY-MM.")
@click.option("--to", "end", required=True, help="Last partition, included.")
@click.option("--parallel", default=None, type=click.IntRange(1, 32), help="--aws: executions at once (default 4).")
@click.option("--force", is_flag=True, help="Reprocess sources even if unchanged (a different execution name).")
@click.pass_context
def backfill(ctx: click.Context, domain: str, start: str, end: str, parallel: int | None, force: bool) -> None:
    """One execution per partition from --from to --to.

    Every weekday (Monday to Friday) for date domains (bndes, stocks), every month for month domains (cards, bank).
    Partitions whose deterministic execution already SUCCEEDED are skipped. Locally they run one after the other on the
    embedded AWS, on the same offline sources as `finlake run DOMAIN`; with --aws at most --parallel at a time (see
    finlake/ops/backfill.py).
    """
    from finlake.ops.backfill import RangeError, partitions

    spec = DOMAINS[domain]
    start, end = check_range(spec, start, end)
    if parallel is not None and AWS_TARGET not in ctx.meta:
        raise click.UsageError("--parallel goes with --aws: local partitions run one after the other")
    if AWS_TARGET not in ctx.meta and spec.partition == "date":
        check_local_samples(spec, day=start)
        check_local_samples(spec, day=end)
    try:
        parts = partitions(spec, start, end)
    except RangeError as exc:
        raise click.UsageError(str(exc)) from exc
    if not parts:
        raise click.UsageError(f"no weekday from {start} to {end}: nothing to run")
    unit = "months" if spec.partition == "month" else "weekdays (Saturdays and Sundays are not run)"
    aws = aws_session(ctx)
    click.echo(f"backfill {domain}: {len(parts)} {unit} from {parts[0]} to {parts[-1]}")
    if aws:
        failed = _backfill_aws(aws, spec, parts, parallel or 4, force)
    else:
        failed = _backfill_local(ctx.obj, spec, parts, force, debug_on(ctx))
    for name, status, why in failed:
        click.echo(f"FAILED {name}: {status}: {why}", err=True)
    click.echo(f"{len(parts)} partitions, {len(failed)} failed")
    sys.exit(1 if failed else 0)


def _backfill_local(ws: Workspace, spec: Any, parts: list[str], force: bool, debug: bool) -> list[tuple[str, str, str]]:
    from finlake.local.runner import run_plans
    from finlake.local.sources import local_plan
    from finlake.naming import execution_name
    from functions.notifier.notify import readable_cause

    plans = []
    for part in parts:
        monthly = spec.partition == "month"
        plan = local_plan(ws, spec, date=None if monthly else part, month=part if monthly else None, force=force)
        name = execution_name(spec.name, plan.partition(), plan.request([]))
        done = done_in(plan.workspace or ws, spec.name)
        if name in done:
            click.echo(f"   {part}: skipped, {done[name]} already SUCCEEDED")
        else:
            plans.append(plan)
    results = run_plans(ws, plans, echo=click.echo, debug=debug) if plans else []
    return [
        (r.name, f"{r.status} at {r.failed_state}", f"{r.error}: {readable_cause(r.error or '', r.cause)}")
        for r in results
        if not r.succeeded
    ]


def done_in(ws: Workspace, domain: str) -> dict[str, str]:
    """``{deterministic name: the name that SUCCEEDED}`` of ``domain``'s local runs in ``ws`` (`done_locally`)."""
    from finlake.ops.backfill import done_locally

    return done_locally(ws.runs(domain))


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
    """List the failed runs waiting in the dead-letter queue.

    The queue is the workspace's (local runs, and the bank mock's), or with --aws the deployed one. With --apply, rerun
    each one and delete its message only once the rerun SUCCEEDED: on AWS RedriveExecution when Step Functions can
    continue it, else a new execution of the stored input named <original>-r<N> (always, locally); see
    finlake/ops/redrive.py and finlake/local/redrive.py for which and why.
    """
    from finlake.ops import redrive as dlq

    aws = aws_session(ctx)
    if aws is None:
        _redrive_local(ctx.obj, do_apply, domain, debug_on(ctx))
        return
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
    _echo_reruns(reruns, domain)


def _redrive_local(ws: Workspace, do_apply: bool, domain: str | None, debug: bool) -> None:
    from finlake.local import redrive as local_dlq
    from finlake.local.sources import side_workspaces

    homes, where = [ws], {ws.root: ""}
    for owner, other in side_workspaces(ws, domain):
        if other.root.exists():
            homes.append(other)
            where[other.root] = f"  [{owner} mock: --home {other.root}]"
    if not do_apply:
        waiting = [(home, run_) for home in homes for run_ in local_dlq.failed_runs(home, domain)]
        if not waiting:
            click.echo("the dead-letter queue is empty" + (f" for {domain}" if domain else ""))
        for home, run_ in waiting:
            _echo_failed_run(run_, where[home.root])
        if waiting:
            click.echo(f"{len(waiting)} failed runs: `finlake redrive --apply` reruns them")
        return
    reruns = []
    for home in homes:

        def started(rerun: Any, tag: str = where[home.root]) -> None:
            _echo_failed_run(rerun.run, tag)
            click.echo(f"   {rerun.how}: {rerun.why}")

        reruns += local_dlq.apply(home, domain, echo=click.echo, debug=debug, on_start=started)
    _echo_reruns(reruns, domain)


def _echo_reruns(reruns: list[Any], domain: str | None) -> None:
    """``OK <rerun>: SUCCEEDED; message deleted`` / ``FAILED ...; message kept``; exit 1 if any failed."""
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


def _echo_failed_run(run_: Any, where: str = "") -> None:
    from datetime import UTC, datetime

    letter = run_.latest
    age = datetime.now(UTC) - letter.sent
    hours = age.total_seconds() / 3600
    attempts = f" ({len(run_.letters)} failed attempts)" if len(run_.letters) > 1 else ""
    click.echo(
        f"{letter.execution_name}  {letter.domain}  failed at {letter.body.get('failed_state', '?')}  "
        f"{hours:.1f} h ago{attempts}{where}"
    )
    click.echo(f"   {letter.body.get('error')}: {_readable_cause(letter.body.get('cause'))[:300]}")


@main.command()
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1024, 65535), help="Port on 127.0.0.1.")
@click.pass_obj
def console(ws: Workspace, port: int) -> None:
    """Serve the local web console on http://127.0.0.1:PORT.

    It shows runs with their state graphs, the lake and a SQL editor, one dashboard per domain (finlake/console/).
    Ctrl-C stops it.
    """
    from finlake.console.app import serve

    click.echo(f"finlake console over {ws.root}: http://127.0.0.1:{port}/ (Ctrl-C stops it)")
    serve(ws, port=port)


main.add_command(cost)
