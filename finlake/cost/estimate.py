"""The estimate: monthly quantities from the deployment and the assumptions, priced for one region."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import click

from finlake.cost.assumptions import load_assumptions, load_prices
from finlake.cost.templates import Deployment, Function, GlueJob, Step, Workflow
from finlake.cost.units import ATHENA_MIN_GB_PER_QUERY, GB_PER_TB, HOURS_PER_MONTH, KB_PER_GB, D


@dataclass(frozen=True)
class LineItem:
    """One line of the monthly bill: ``quantity`` of ``unit`` a month, of which ``free`` is in the free tier.

    Priced at ``unit_price`` USD per ``per`` units (e.g. per 1,000,000 requests), from the AWS pricing ``page``.
    """

    key: str
    service: str
    item: str
    quantity: Decimal
    unit: str
    free: Decimal
    unit_price: Decimal
    per: Decimal
    page: str = ""  # the AWS pricing page the unit price comes from

    @property
    def billable(self) -> Decimal:
        """The quantity above the free tier (never negative)."""
        return max(Decimal(0), self.quantity - self.free)

    @property
    def usd(self) -> Decimal:
        """The line's cost, USD a month: ``billable / per * unit_price``."""
        return self.billable / self.per * self.unit_price


@dataclass(frozen=True)
class WorkflowRuns:
    """One domain's executions a month: scheduled, then split into full (new data) and short (nothing new) runs.

    ``transitions_full`` and ``transitions_short`` are the billed state transitions of one run of each path.
    """

    domain: str
    scheduled_runs: Decimal
    full_runs: Decimal
    short_runs: Decimal
    transitions_full: int
    transitions_short: int


@dataclass
class Estimate:
    """A monthly cost estimate: its priced lines (USD), each domain's runs, what was deployed, assumptions and notes."""

    region: str
    prices_valid_as_of: str
    free_tier: bool
    lines: list[LineItem]
    workflows: list[WorkflowRuns]
    deployment: dict[str, Any]
    assumptions: dict[str, Any]
    notes: list[str]

    @property
    def total(self) -> Decimal:
        """The month's total, USD: the sum of the lines."""
        return sum((line.usd for line in self.lines), Decimal(0))

    def line(self, key: str) -> LineItem:
        """The line of price key ``key``; StopIteration when there is none."""
        return next(line for line in self.lines if line.key == key)


class Usage(dict[str, Decimal]):
    """Monthly quantities by price key (and a few intermediate totals: log KB, metric-hours)."""

    def add(self, key: str, amount: Decimal) -> None:
        """Add ``amount`` to ``key``'s quantity (from 0)."""
        self[key] = self.get(key, Decimal(0)) + amount


def _domain(assumptions: Mapping[str, Any], domain: str) -> dict[str, Decimal]:
    spec = {**assumptions["default_domain"], **assumptions["domains"].get(domain, {})}
    return {k: D(v) for k, v in spec.items()}


def _lambda_seconds(a: Mapping[str, Any], domain: str, step: str) -> Decimal:
    return D(a["lambda_seconds"].get(f"{domain}.{step}", a["lambda_seconds_default"]))


def _glue_minutes(a: Mapping[str, Any], domain: str, step: str) -> Decimal:
    return D(a["glue_minutes"].get(f"{domain}.{step}", a["glue_minutes_default"]))


def _invoke_lambda(usage: Usage, a: Mapping[str, Any], fn: Function, runs: Decimal, seconds: Decimal) -> None:
    usage.add("lambda_requests", runs)
    usage.add("lambda_gbs_arm" if fn.arm else "lambda_gbs_x86", runs * D(fn.memory_mb) / 1024 * seconds)
    usage.add("s3_put", runs * D(a["s3_put_per_lambda_step"]))
    usage.add("s3_get", runs * D(a["s3_get_per_lambda_step"]))
    usage.add("kms_requests", runs * D(a["kms_requests_per_step"]))
    usage.add("secrets_api", runs * fn.secrets * D(a["secret_reads_per_invocation"]))
    usage.add("log_kb", runs * D(a["log_kb_per_lambda_invocation"]))


def _run_glue(usage: Usage, a: Mapping[str, Any], job: GlueJob, runs: Decimal, minutes: Decimal) -> None:
    billed = max(minutes, job.min_minutes)
    usage.add("glue_dpu_hours", runs * job.dpus * billed / 60)
    usage.add("s3_put", runs * D(a["s3_put_per_glue_run"]))
    usage.add("s3_get", runs * D(a["s3_get_per_glue_run"]))
    usage.add("kms_requests", runs * D(a["kms_requests_per_step"]))
    usage.add("glue_log_mb", runs * D(a["log_mb_per_glue_run"]))
    if job.metrics:
        hours = max(math.ceil(minutes / 60), 1)  # each started hour of the run
        usage.add("metric_hours", runs * D(a["glue_metrics_per_job_run"]) * hours)


def _walk(
    usage: Usage, a: Mapping[str, Any], dep: Deployment, wf: Workflow, path: Sequence[Step], runs: Decimal
) -> None:
    usage.add("sfn_transitions", runs * len(path))
    if wf.logs_all:
        usage.add("log_kb", runs * len(path) * D(a["log_kb_per_state_transition"]))
    for step in path:
        if step.kind == "lambda" and step.target in dep.functions:
            _invoke_lambda(usage, a, dep.functions[step.target], runs, _lambda_seconds(a, wf.domain, step.name))
        elif step.kind == "glue" and step.target in dep.glue_jobs:
            _run_glue(usage, a, dep.glue_jobs[step.target], runs, _glue_minutes(a, wf.domain, step.name))
        elif step.kind == "sns":
            usage.add("sns_publish", runs)
            usage.add("sns_email", runs * dep.email_subscriptions)


def _workflow_usage(usage: Usage, a: Mapping[str, Any], dep: Deployment, wf: Workflow) -> WorkflowRuns:
    spec = _domain(a, wf.domain)
    scheduled = sum((s.runs_per_month for s in dep.schedules if s.target == wf.logical_id), Decimal(0))
    full = scheduled * spec["scheduled_full_fraction"] + spec["triggered_runs"]
    short = scheduled - scheduled * spec["scheduled_full_fraction"]
    _walk(usage, a, dep, wf, wf.full_path, full)
    _walk(usage, a, dep, wf, wf.short_path, short)
    usage.add("scheduler_invocations", scheduled)
    usage.add("xray_traces", (full + short) if wf.traced else Decimal(0))
    usage.add("metric_hours", full * D(a["custom_metrics_per_full_run"]))
    usage.add("glue_catalog_requests", full * D(a["glue_catalog_requests_per_full_run"]))
    starts = [
        (dep.functions[fn], D(spec["trigger_invocations"])) for fn, m in dep.triggers.items() if m == wf.logical_id
    ]
    starts += [
        (dep.functions[s.starter], s.runs_per_month) for s in dep.schedules if s.starter and s.target == wf.logical_id
    ]
    for fn, invocations in starts:
        _invoke_lambda(usage, a, fn, invocations, D(a["trigger_lambda_seconds"]))
        usage.add("xray_traces", invocations if fn.traced else Decimal(0))
    return WorkflowRuns(wf.domain, scheduled, full, short, len(wf.full_path), len(wf.short_path))


def _platform_usage(usage: Usage, a: Mapping[str, Any], dep: Deployment) -> None:
    queries = D(a["athena_queries_per_month"])
    usage.add("athena_scanned", queries * max(D(a["athena_gb_per_query"]), ATHENA_MIN_GB_PER_QUERY) / GB_PER_TB)
    usage.add("s3_put", queries * D(a["s3_put_per_athena_query"]))
    usage.add("s3_get", queries * D(a["s3_get_per_athena_query"]))
    usage.add("glue_catalog_requests", queries * D(a["glue_catalog_requests_per_athena_query"]))
    usage.add("glue_catalog_objects", D(a["glue_catalog_objects"]))
    usage.add("s3_storage", D(a["lake_gb"]))
    usage.add("sqs_requests", D(a["sqs_requests_per_month"]) if dep.counts["AWS::SQS::Queue"] else Decimal(0))
    usage.add("kms_keys", D(dep.counts["AWS::KMS::Key"]))
    usage.add("secrets", D(dep.counts["AWS::SecretsManager::Secret"]))
    usage.add("cw_alarms", D(dep.alarm_metrics))
    usage.add("cw_dashboards", D(dep.counts["AWS::CloudWatch::Dashboard"]))
    usage.add("cw_metrics", usage.get("metric_hours", Decimal(0)) / HOURS_PER_MONTH)
    ingested = usage.get("log_kb", Decimal(0)) / KB_PER_GB
    glue_logs = usage.get("glue_log_mb", Decimal(0)) / 1024
    usage.add("logs_ingestion", ingested + glue_logs)
    retention = D(dep.log_retention_days or 365)
    stored = ingested * retention / 30 + glue_logs * D(a["glue_log_retention_days"]) / 30
    usage.add("logs_storage", stored)


def estimate(
    dep: Deployment,
    *,
    region: str = "us-east-1",
    prices: Mapping[str, Any] | None = None,
    assumptions: Mapping[str, Any] | None = None,
    free_tier: bool = False,
) -> Estimate:
    """Monthly quantities from the deployment and the assumptions, priced for ``region``."""
    prices = prices if prices is not None else load_prices()
    a = assumptions if assumptions is not None else load_assumptions()
    if region not in prices["regions"]:
        raise click.BadParameter(f"no prices for {region}; known: {', '.join(prices['regions'])}")
    usage = Usage()
    runs = [_workflow_usage(usage, a, dep, wf) for wf in sorted(dep.workflows, key=lambda w: w.domain)]
    _platform_usage(usage, a, dep)
    table = prices["regions"][region]
    lines = [
        LineItem(
            key=key,
            service=meta["service"],
            item=meta["item"],
            quantity=usage.get(key, Decimal(0)),
            unit=meta["unit"],
            free=D(meta.get("free", 0)) if free_tier else Decimal(0),
            unit_price=D(table[key]),
            per=D(meta["per"]),
            page=str(meta.get("page", "")),
        )
        for key, meta in prices["items"].items()
    ]
    unverified = prices.get("unverified", {}).get(region)
    notes = [
        f"Prices as of {prices['valid_as_of']}, written without network access: check them on the AWS pricing pages.",
        "Always-free allowances subtracted."
        if free_tier
        else "Free tier not applied (--free-tier subtracts the always-free allowances).",
        f"Least certain {region} prices: {', '.join(unverified)}." if unverified else "",
        str(a.get("notes", {}).get("not_billed", "")),
    ]
    return Estimate(
        region=region,
        prices_valid_as_of=str(prices["valid_as_of"]),
        free_tier=free_tier,
        lines=lines,
        workflows=runs,
        deployment=_deployment_summary(dep),
        assumptions={k: v for k, v in a.items() if k != "notes"},
        notes=[n for n in notes if n],
    )


def _deployment_summary(dep: Deployment) -> dict[str, Any]:
    interesting = (
        "AWS::StepFunctions::StateMachine",
        "AWS::Lambda::Function",
        "AWS::Glue::Job",
        "AWS::KMS::Key",
        "AWS::SecretsManager::Secret",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
        "AWS::Athena::WorkGroup",
        "AWS::Scheduler::Schedule",
    )
    return {
        "resources": {t: dep.counts[t] for t in interesting},
        "schedules": [
            {"target": s.target, "expression": s.expression, "enabled": s.enabled, "runs_per_month": s.runs_per_month}
            for s in dep.schedules
        ],
        "glue_jobs": {lid: {"dpus": j.dpus, "min_minutes": j.min_minutes} for lid, j in dep.glue_jobs.items()},
        "email_subscriptions": dep.email_subscriptions,
        "log_retention_days": dep.log_retention_days,
    }
