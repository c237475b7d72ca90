"""Output: the estimate as JSON or a table, and the `finlake cost` command with its ``--assumptions`` checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from finlake.cost.assumptions import load_assumptions, load_json, load_prices
from finlake.cost.estimate import Estimate, estimate
from finlake.cost.templates import Deployment, read_cdk_out, read_deployment, synthesize_deployment
from finlake.cost.units import PRICES_PATH, REGIONS, D


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_json(est: Estimate) -> dict[str, Any]:
    """The estimate as plain JSON data (``finlake cost --json``): lines rounded (quantity 6, USD 4 places), total."""
    lines = [
        {
            **asdict(line),
            "quantity": round(line.quantity, 6),
            "billable": round(line.billable, 6),
            "usd": round(line.usd, 4),
        }
        for line in est.lines
    ]
    return _plain(
        {
            "region": est.region,
            "prices_valid_as_of": est.prices_valid_as_of,
            "prices_must_be_checked": True,
            "free_tier": est.free_tier,
            "total_usd": round(est.total, 2),
            "lines": lines,
            "workflows": [asdict(w) for w in est.workflows],
            "deployment": est.deployment,
            "assumptions": est.assumptions,
            "notes": est.notes,
        }
    )


def _number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.1f}"


def _per(per: Decimal, unit: str) -> str:
    return f"{unit}" if per == 1 else f"{per:,.0f} {unit}"


def render_table(est: Estimate) -> str:
    """The estimate as the text table ``finlake cost`` prints: lines, total, runs a month and the assumptions used."""
    header = ("service", "item", "quantity", "unit price", "USD/month")
    rows = [
        (
            line.service,
            line.item,
            f"{_number(line.quantity)} {line.unit}" + (f" ({_number(line.free)} free)" if line.free else ""),
            f"${line.unit_price} / {_per(line.per, line.unit)}",
            f"{line.usd:,.2f}",
        )
        for line in est.lines
    ]
    rows.append(("", "TOTAL", "", "", f"{est.total:,.2f}"))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = [f"finlake monthly cost estimate, {est.region}, prices as of {est.prices_valid_as_of} (CHECK THEM)", ""]
    for i, row in enumerate([header, *rows]):
        cells = [c.rjust(w) if j >= 2 else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
        if i == 0 or i == len(rows) - 1:
            out.append("  ".join("-" * w for w in widths))
    out += ["", "Runs a month (scheduled -> full + short path; transitions per full / short run):"]
    out += [
        f"  {w.domain}: scheduled {_number(w.scheduled_runs)}, full {_number(w.full_runs)}, "
        f"short {_number(w.short_runs)}; {w.transitions_full} / {w.transitions_short} transitions"
        for w in est.workflows
    ]
    a = est.assumptions
    out += [
        "",
        f"Assumptions: lake {a['lake_gb']} GB; Athena {a['athena_queries_per_month']} queries x "
        f"{a['athena_gb_per_query']} GB; Lambda {a['lambda_seconds_default']} s per step unless set; "
        f"Glue minutes {json.dumps(_plain(a['glue_minutes']))} (default {a['glue_minutes_default']}); "
        "see finlake/cost_assumptions.json.",
        *est.notes,
    ]
    return "\n".join(out)


@click.command()
@click.option("--region", type=click.Choice(REGIONS), default="us-east-1", show_default=True)
@click.option(
    "--cdk-out",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Read this cloud assembly (e.g. cdk.out) instead of synthesizing the app (~20 s, offline).",
)
@click.option(
    "--lake-gb",
    type=click.FloatRange(min=0),
    default=None,
    help="GB stored in S3 Standard (default from the assumptions).",
)
@click.option("--queries-per-month", type=click.IntRange(min=0), default=None, help="Athena queries a month.")
@click.option("--gb-per-query", type=click.FloatRange(min=0), default=None, help="GB each Athena query scans.")
@click.option("--free-tier", is_flag=True, help="Subtract the always-free monthly allowances.")
@click.option(
    "--assumptions",
    "assumptions_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='JSON merged over finlake/cost_assumptions.json (e.g. {"domains": {"bank": {"triggered_runs": 8}}}).',
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Price table to use instead of finlake/prices.json.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def cost(
    region: str,
    cdk_out: Path | None,
    lake_gb: float | None,
    queries_per_month: int | None,
    gb_per_query: float | None,
    free_tier: bool,
    assumptions_file: Path | None,
    prices_file: Path | None,
    fmt: str,
) -> None:
    """Estimate the monthly AWS bill of the deployment from its templates, schedules and a dated price table.

    The prices were written without network access: check them on the AWS pricing pages.
    """
    dep: Deployment | None = None
    if cdk_out is not None:
        templates, loader = read_cdk_out(cdk_out)
        dep = read_deployment(templates, loader)
    domains = {wf.domain for wf in dep.workflows} if dep is not None else None
    overrides: dict[str, Any] = _assumption_overrides(assumptions_file, domains) if assumptions_file else {}
    for key, value in (
        ("lake_gb", lake_gb),
        ("athena_queries_per_month", queries_per_month),
        ("athena_gb_per_query", gb_per_query),
    ):
        if value is not None:
            overrides[key] = D(value)
    if dep is None:
        dep = synthesize_deployment()
    est = estimate(
        dep,
        region=region,
        prices=load_prices(prices_file or PRICES_PATH),
        assumptions=load_assumptions(overrides=overrides),
        free_tier=free_tier,
    )
    click.echo(json.dumps(to_json(est), indent=2) if fmt == "json" else render_table(est))


def _assumption_overrides(path: Path, domains: set[str] | None = None) -> dict[str, Any]:
    """The ``--assumptions`` file, checked against the known assumptions.

    Refused (exit 2) unless it is a JSON object whose every key is one of cost_assumptions.json (per-step keys
    ``<domain>.<Step>``) with a number >= 0. ``domains``: the deployment's (default: the app's specs).
    """
    try:
        overrides = load_json(path)
    except ValueError as exc:
        raise click.BadParameter(f"{path} is not JSON: {exc}", param_hint="--assumptions") from None
    if not isinstance(overrides, dict):
        raise click.BadParameter(f"{path} must hold a JSON object", param_hint="--assumptions")
    problems = assumption_problems(overrides, load_assumptions(), domains=domains)
    if problems:
        raise click.BadParameter(f"{path}: {'; '.join(problems)}", param_hint="--assumptions")
    return overrides


def assumption_problems(
    overrides: Mapping[str, Any], base: Mapping[str, Any], where: str = "", *, domains: set[str] | None = None
) -> list[str]:
    """What is wrong with ``overrides`` against the known assumptions ``base`` (empty: nothing).

    ``domains``: the deployment's domains (default: the app's specs, whose steps are then checked too).
    """
    problems = []
    for key, value in overrides.items():
        name = f"{where}{key}"
        if where == "" and key in ("domains", "lambda_seconds", "glue_minutes"):
            problems += _keyed_problems(key, value, base, domains)
        elif key not in base:
            problems.append(f"unknown key {name} (see finlake/cost_assumptions.json)")
        elif key == "notes":
            continue
        elif isinstance(base[key], Mapping):
            if isinstance(value, Mapping):
                problems += assumption_problems(value, base[key], f"{name}.")
            else:
                problems.append(f"{name} must be an object")
        else:
            problems += _number_problem(name, value)
    return problems


def _keyed_problems(key: str, value: Any, base: Mapping[str, Any], domains: set[str] | None) -> list[str]:
    """``domains.<domain>`` or ``lambda_seconds`` / ``glue_minutes`` ``.<domain>.<Step>`` overrides."""
    from stacks.specs import DOMAINS

    if not isinstance(value, Mapping):
        return [f"{key} must be an object"]
    if key == "domains":
        known = domains if domains is not None else set(DOMAINS)
    elif domains is None:  # the app's own steps
        jobs = {"lambda_seconds": "lambdas", "glue_minutes": "glue_jobs"}[key]
        known = {f"{d.name}.{s.step}" for d in DOMAINS.values() for s in getattr(d, jobs)}
    else:  # another cloud assembly: its step names are not known here
        known = set(value)
    problems = []
    for sub, item in value.items():
        if sub not in known:
            problems.append(f"unknown key {key}.{sub} (known: {', '.join(sorted(known))})")
        elif key == "domains":
            problems += assumption_problems(item, base["default_domain"], f"{key}.{sub}.")
        else:
            problems += _number_problem(f"{key}.{sub}", item)
    return problems


def _number_problem(name: str, value: Any) -> list[str]:
    """A number >= 0 (a JSON number, or a string holding one: the file's numbers are read as Decimal)."""
    try:
        number = None if isinstance(value, bool) else Decimal(str(value))
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite() or number < 0:
        return [f"{name} must be a number >= 0, not {json.dumps(value, default=str)}"]
    return []
