"""`finlake`: the operator CLI. Local mode runs the deployed workflows on the embedded AWS."""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from finlake.local.workspace import Workspace
from stacks.specs import DOMAINS


@click.group()
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    default=None,
    help="Workspace folder (default .finlake or $FINLAKE_HOME).",
)
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """finlake: financial data pipelines on AWS, runnable locally on an embedded AWS."""
    # moto logs every state failure it interprets at ERROR; the run report already says it once.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    ctx.obj = Workspace.open(home)


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
@click.pass_obj
def run(
    ws: Workspace,
    domain: str | None,
    run_all: bool,
    date: str | None,
    month: str | None,
    year: str | None,
    inputs: tuple[Path, ...],
    force: bool,
    source: str | None,
) -> None:
    """Run DOMAIN's workflow (or --all) on the embedded AWS and follow it state by state."""
    from finlake.local.runner import RunPlan, run_plans
    from finlake.local.sources import demo_plans

    if not domain and not run_all:
        raise click.UsageError("name a DOMAIN or pass --all")
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
    """A Lambda error's cause is its JSON error payload, a Glue task's the job run: show the message."""
    try:
        payload = json.loads(cause or "")
    except ValueError:
        return cause or ""
    if not isinstance(payload, dict):
        return str(cause)
    if "ErrorMessage" in payload:  # a Glue job run: its name and the first line of its error
        return f"Glue job {payload.get('JobName')}: {str(payload['ErrorMessage']).splitlines()[0]}"
    return str(payload.get("errorMessage", cause))


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
@click.pass_obj
def runs(ws: Workspace, domain: str | None, states: bool | None) -> None:
    """List past local executions (newest last), with their state history."""
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
