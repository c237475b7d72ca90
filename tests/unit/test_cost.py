"""`finlake cost`: exact arithmetic on a hand-written template, schedules, Glue billing, the real app."""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from finlake.cost import (
    CYCLE_MONTHS,
    GlueJob,
    Usage,
    cost,
    estimate,
    load_assumptions,
    load_prices,
    longest_success_path,
    read_deployment,
    runs_per_month,
    shortest_success_path,
    synthesize_deployment,
)
from finlake.cost.estimate import _run_glue
from stacks.specs import DOMAINS, ROOT

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

# -- A small template a person can follow -----------------------------------------------------------
#
# One workflow: Fetch (Lambda, 1024 MB) -> AnythingNew? -> Work (Glue, 3 x G.1X = 3 DPU) -> Notify (SNS)
# on the full path (4 transitions), Fetch -> AnythingNew? -> NothingNew on the short one (3).
# Schedules: the 1st and 15th of each month (2 runs, enabled) and a daily one that is disabled (0).
# An S3 trigger function (512 MB) also starts it. 1 KMS key, 1 secret (read by Fetch), 2 alarms
# (one of them on metric math over 2 metrics: 3 alarm metrics), 1 dashboard, 1 email subscription.

DEFINITION = {
    "StartAt": "Fetch",
    "States": {
        "Fetch": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${FetchFunction}", "Payload.$": "$"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
            "Next": "AnythingNew?",
        },
        "AnythingNew?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.new_data", "BooleanEquals": True, "Next": "Work"}],
            "Default": "NothingNew",
        },
        "NothingNew": {"Type": "Succeed"},
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Parameters": {"JobName": "${WorkJob}"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
            "Next": "Notify",
        },
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "${Topic}", "Message": "done"},
            "End": True,
        },
        "Failed": {"Type": "Fail"},
    },
}

TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": "finlake-demo",
                "Definition": DEFINITION,
                "DefinitionSubstitutions": {
                    "FetchFunction": {"Fn::GetAtt": ["FetchFn", "Arn"]},
                    "WorkJob": {"Ref": "WorkJob"},
                    "Topic": {"Ref": "Topic"},
                },
            },
        },
        "FetchFn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"MemorySize": 1024, "Environment": {"Variables": {"SECRET": "finlake/demo/token"}}},
        },
        "TriggerFn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"MemorySize": 512, "Environment": {"Variables": {"STATE_MACHINE_ARN": {"Ref": "Machine"}}}},
        },
        "FilesLanded": {
            "Type": "AWS::Events::Rule",
            "Properties": {"Targets": [{"Arn": {"Fn::GetAtt": ["TriggerFn", "Arn"]}, "Id": "t"}]},
        },
        "WorkJob": {
            "Type": "AWS::Glue::Job",
            "Properties": {"GlueVersion": "5.0", "WorkerType": "G.1X", "NumberOfWorkers": 3},
        },
        "Twice": {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "ScheduleExpression": "cron(0 7 1,15 * ? *)",
                "State": "ENABLED",
                "Target": {"Arn": {"Ref": "Machine"}},
            },
        },
        "DailyOff": {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "ScheduleExpression": "cron(0 8 * * ? *)",
                "State": "DISABLED",
                "Target": {"Arn": {"Ref": "Machine"}},
            },
        },
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Token": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "finlake/demo/token"}},
        "Failures": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors", "Period": 300}},
        "Ratio": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Metrics": [
                    {"Id": "a", "MetricStat": {"Period": 300}},
                    {"Id": "b", "MetricStat": {"Period": 300}},
                    {"Id": "r", "Expression": "a / b"},
                ]
            },
        },
        "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Email": {"Type": "AWS::SNS::Subscription", "Properties": {"Protocol": "email", "Endpoint": "a@example.com"}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
    }
}

# Every figure below is chosen so the arithmetic ends in a few decimals.
ASSUMPTIONS: dict[str, Any] = {
    "domains": {"demo": {"scheduled_full_fraction": "0.5", "triggered_runs": 1, "trigger_invocations": 2}},
    "default_domain": {"scheduled_full_fraction": 1, "triggered_runs": 0, "trigger_invocations": 0},
    "lambda_seconds_default": 10,
    "lambda_seconds": {},
    "trigger_lambda_seconds": 1,
    "glue_minutes_default": 5,
    "glue_minutes": {"demo.Work": "0.5"},  # billed as 1 minute
    "lake_gb": 100,
    "athena_queries_per_month": 1000,
    "athena_gb_per_query": "0.001",  # below the 10 MB minimum
    "s3_put_per_lambda_step": 10,
    "s3_get_per_lambda_step": 100,
    "s3_put_per_glue_run": 100,
    "s3_get_per_glue_run": 1000,
    "s3_put_per_athena_query": 0,
    "s3_get_per_athena_query": 0,
    "kms_requests_per_step": 10,
    "secret_reads_per_invocation": 1,
    "log_kb_per_lambda_invocation": 1024,
    "log_kb_per_state_transition": 4,  # unused: the workflow does not log
    "log_mb_per_glue_run": 1024,
    "glue_log_retention_days": 30,
    "custom_metrics_per_full_run": 73,  # 2 full runs x 73 = 146 metric-hours = 0.2 metric-month
    "glue_metrics_per_job_run": 40,  # unused: the job has no --enable-metrics
    "glue_catalog_objects": 0,
    "glue_catalog_requests_per_full_run": 0,
    "glue_catalog_requests_per_athena_query": 0,
    "sqs_requests_per_month": 0,
}

SHIPPED = load_prices()
PRICES = {**SHIPPED, "regions": {"test": SHIPPED["regions"]["us-east-1"]}, "unverified": {}}
US = {k: Decimal(str(v)) for k, v in SHIPPED["regions"]["us-east-1"].items()}

# Runs: scheduled 2; full = 2 x 0.5 + 1 triggered = 2; short = 1. Lambda: Fetch 3 + trigger 2 = 5 invocations.
EXPECTED_QUANTITIES = {
    "sfn_transitions": Decimal(11),  # 2 x 4 + 1 x 3
    "lambda_requests": Decimal(5),
    "lambda_gbs_x86": Decimal(31),  # Fetch 3 x 1 GB x 10 s + trigger 2 x 0.5 GB x 1 s
    "lambda_gbs_arm": Decimal(0),
    "glue_dpu_hours": Decimal("0.1"),  # 2 runs x 3 DPU x 1 minute (the minimum) / 60
    "glue_catalog_objects": Decimal(0),
    "glue_catalog_requests": Decimal(0),
    "s3_storage": Decimal(100),
    "s3_put": Decimal(250),  # 5 x 10 + 2 x 100
    "s3_get": Decimal(2500),  # 5 x 100 + 2 x 1000
    "kms_keys": Decimal(1),
    "kms_requests": Decimal(70),  # (5 + 2) x 10
    "secrets": Decimal(1),
    "secrets_api": Decimal(3),  # Fetch's 3 invocations read 1 secret each
    "cw_alarms": Decimal(3),
    "cw_dashboards": Decimal(1),
    "cw_metrics": Decimal("0.2"),
    "logs_ingestion": Decimal("2.0048828125"),  # 5 x 1 MB of Lambda logs + 2 x 1 GB of Glue logs
    "logs_storage": Decimal("2.0048828125"),  # kept 30 days = 1 month
    "sns_publish": Decimal(2),
    "sns_email": Decimal(2),
    "sqs_requests": Decimal(0),
    "athena_scanned": Decimal("0.0095367431640625"),  # 1000 x 10 MB = 1000 x 10/1024/1024 TB
    "scheduler_invocations": Decimal(2),
    "xray_traces": Decimal(0),
}
EXPECTED_USD = {
    "sfn_transitions": Decimal("0.000275"),  # 11 / 1000 x 0.025
    "lambda_requests": Decimal("0.000001"),  # 5 / 1M x 0.20
    "lambda_gbs_x86": Decimal("0.0005166677"),  # 31 x 0.0000166667
    "glue_dpu_hours": Decimal("0.044"),  # 0.1 x 0.44
    "s3_storage": Decimal("2.3"),
    "s3_put": Decimal("0.00125"),
    "s3_get": Decimal("0.001"),
    "kms_keys": Decimal(1),
    "kms_requests": Decimal("0.00021"),
    "secrets": Decimal("0.4"),
    "secrets_api": Decimal("0.000015"),
    "cw_alarms": Decimal("0.3"),
    "cw_dashboards": Decimal(3),
    "cw_metrics": Decimal("0.06"),
    "logs_ingestion": Decimal("1.00244140625"),
    "logs_storage": Decimal("0.060146484375"),
    "sns_publish": Decimal("0.000001"),
    "sns_email": Decimal("0.00004"),
    "athena_scanned": Decimal("0.0476837158203125"),
    "scheduler_invocations": Decimal("0.000002"),
}


def _estimate(**kwargs: Any) -> Any:
    return estimate(
        read_deployment({"Demo": TEMPLATE}), region="test", prices=PRICES, assumptions=ASSUMPTIONS, **kwargs
    )


def test_the_shipped_us_east_1_prices_are_the_ones_the_hand_computation_uses() -> None:
    assert US["sfn_transitions"] == Decimal("0.025")
    assert US["lambda_gbs_x86"] == Decimal("0.0000166667")
    assert US["glue_dpu_hours"] == Decimal("0.44")
    assert US["s3_storage"] == Decimal("0.023")
    assert US["cw_dashboards"] == Decimal(3)
    assert US["logs_ingestion"] == Decimal("0.50")


def test_small_template_quantities_are_exact() -> None:
    est = _estimate()
    assert {line.key: line.quantity for line in est.lines} == EXPECTED_QUANTITIES
    (runs,) = est.workflows
    assert (runs.domain, runs.scheduled_runs, runs.full_runs, runs.short_runs) == ("demo", 2, 2, 1)
    assert (runs.transitions_full, runs.transitions_short) == (4, 3)


def test_small_template_dollars_are_exact() -> None:
    est = _estimate()
    usd = {line.key: line.usd for line in est.lines if line.usd}
    assert usd == EXPECTED_USD
    assert est.total == sum(EXPECTED_USD.values()) == Decimal("8.2175822741453125")


def test_free_tier_subtracts_the_always_free_allowances() -> None:
    est = _estimate(free_tier=True)
    # 1 dashboard of 3 free, 3 alarms of 10, 5 GB of logs ingestion, 0.2 of 10 metrics: all free
    for key in ("cw_dashboards", "cw_alarms", "logs_ingestion", "cw_metrics", "sfn_transitions", "lambda_gbs_x86"):
        assert est.line(key).usd == 0
    assert est.line("s3_storage").usd == Decimal("2.3")  # S3 has no always-free allowance
    assert est.total == Decimal("2.3") + 1 + Decimal("0.4") + Decimal("0.044") + Decimal("0.00125") + Decimal(
        "0.001"
    ) + Decimal("0.000015") + Decimal("0.060146484375") + Decimal("0.0476837158203125")


# -- Schedules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 7 ? * MON-FRI *)", Decimal(7305) / CYCLE_MONTHS),  # 5 weekdays in 1461 weeks / 336 months
        ("cron(0 21 ? * 2-6 *)", Decimal(7305) / CYCLE_MONTHS),  # the same days by number
        ("cron(0 8 * * ? *)", Decimal("30.4375")),  # daily: 365.25 / 12
        ("cron(0 9 5 * ? *)", Decimal(1)),  # monthly, the 5th
        ("cron(0 9 31 * ? *)", Decimal(7) / 12),  # only 7 months have a 31st
        ("cron(0 9 L * ? *)", Decimal(1)),  # the last day of each month
        ("cron(0 9 ? * 6#3 *)", Decimal(1)),  # the third Friday
        ("cron(0 9 1 1,7 ? *)", Decimal(2) / 12),  # twice a year
        ("cron(0/15 * * * ? *)", Decimal("30.4375") * 96),  # every 15 minutes
        ("cron(0 7,19 ? * SAT,SUN *)", Decimal(2922) / CYCLE_MONTHS * 2),  # weekends, twice a day
        ("rate(1 hour)", Decimal("730.5")),
        ("rate(2 days)", Decimal("15.21875")),
        ("at(2026-01-01T00:00:00)", Decimal(0)),
    ],
)
def test_runs_per_month(expression: str, expected: Decimal) -> None:
    assert runs_per_month(expression) == expected


def test_a_weekday_cron_is_about_21_7_runs_and_a_disabled_schedule_none() -> None:
    assert round(runs_per_month("cron(0 7 ? * MON-FRI *)"), 2) == Decimal("21.74")
    assert runs_per_month("cron(0 7 ? * MON-FRI *)", enabled=False) == 0


@pytest.mark.parametrize("expression", ["cron(0 7 * * MON *)", "cron(0 7 ? * MON)", "cron(0 25 * * ? *)", "daily"])
def test_bad_schedules_are_refused(expression: str) -> None:
    with pytest.raises((ValueError, KeyError)):
        runs_per_month(expression)


# -- Glue billing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "min_minutes", "dpu_hours"),
    [
        ("0.5", 1, Decimal("0.1")),  # Glue 5.0: 30 s is billed as 1 minute; 6 DPU x 1/60 h
        ("1", 1, Decimal("0.1")),
        ("3", 1, Decimal("0.3")),  # per second above the minimum
        ("0.5", 10, Decimal(1)),  # Glue 0.9/1.0: 10-minute minimum
    ],
)
def test_glue_bills_the_minimum_per_run(minutes: str, min_minutes: int, dpu_hours: Decimal) -> None:
    usage = Usage()
    job = GlueJob("Job", dpus=Decimal(6), min_minutes=Decimal(min_minutes), metrics=False)
    _run_glue(usage, ASSUMPTIONS, job, Decimal(1), Decimal(minutes))
    assert usage["glue_dpu_hours"] == dpu_hours


def test_worker_types_become_dpus_and_old_glue_has_a_10_minute_minimum() -> None:
    template = {
        "Resources": {
            "Big": {
                "Type": "AWS::Glue::Job",
                "Properties": {"GlueVersion": "4.0", "WorkerType": "G.2X", "NumberOfWorkers": 5},
            },
            "Old": {"Type": "AWS::Glue::Job", "Properties": {"GlueVersion": "1.0", "MaxCapacity": 10}},
        }
    }
    jobs = read_deployment({"T": template}).glue_jobs
    assert (jobs["Big"].dpus, jobs["Big"].min_minutes) == (10, 1)
    assert (jobs["Old"].dpus, jobs["Old"].min_minutes) == (10, 10)


# -- The project's own definitions and data ---------------------------------------------------------


# States on the longest success path of each deployed domain's definition, counted by hand.
FULL_PATH_STATES = {"bndes": 6, "stocks": 6, "cards": 6, "bank": 8}


def test_every_deployed_domain_has_its_figures_here_and_its_own_cost_assumptions() -> None:
    """A new domain must say how often it does work (cost_assumptions.json) instead of silently
    costing as ``default_domain``, and get its success path counted here."""
    assert set(FULL_PATH_STATES) == set(DOMAINS)
    assert set(load_assumptions()["domains"]) == set(DOMAINS)


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_success_paths_of_the_real_definitions(domain: str) -> None:
    full = FULL_PATH_STATES[domain]
    definition = json.loads((ROOT / "statemachines" / f"{domain}.asl.json").read_text())
    longest = [s["Name"] for s in longest_success_path(definition)]
    assert len(longest) == full
    assert longest[0] == "Fetch" and longest[-1] == "NotifySuccess"
    assert [s["Name"] for s in shortest_success_path(definition)] == ["Fetch", "AnythingNew?", "NothingNew"]


def test_parallel_branches_count_their_states() -> None:
    branch = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}}
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [branch, branch], "End": True}}}
    assert len(longest_success_path(definition)) == 5


def test_prices_cover_every_item_in_both_regions_with_a_date_and_sources() -> None:
    assert SHIPPED["valid_as_of"] and "check" in SHIPPED["status"].lower()
    for region in ("us-east-1", "sa-east-1"):
        assert set(SHIPPED["regions"][region]) == set(SHIPPED["items"])
    services = {item["service"] for item in SHIPPED["items"].values()}
    assert all(SHIPPED["sources"][key].startswith("https://aws.amazon.com/") for key in SHIPPED["sources"])
    for key, item in SHIPPED["items"].items():  # each figure names the pricing page it comes from
        assert item["page"] in SHIPPED["sources"].values() and item["page"].endswith("/pricing/"), key
    assert {"Step Functions", "Lambda", "Glue", "S3", "KMS", "Secrets Manager", "CloudWatch"} <= services
    assert {"SNS", "SQS", "Athena", "EventBridge Scheduler"} <= services


def test_the_custom_metrics_assumption_matches_what_the_handlers_publish() -> None:
    from functions.common.telemetry import RUN_METRICS

    assert load_assumptions()["custom_metrics_per_full_run"] == len(RUN_METRICS)


def test_cli_reads_a_cloud_assembly_folder(tmp_path: Path) -> None:
    (tmp_path / "Demo.template.json").write_text(json.dumps(TEMPLATE))
    (tmp_path / "a.json").write_text(json.dumps({"domains": {"demo": ASSUMPTIONS["domains"]["demo"]}}))
    runner = CliRunner()
    result = runner.invoke(cost, ["--cdk-out", str(tmp_path), "--format", "json", "--lake-gb", "200"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["prices_must_be_checked"] is True and data["region"] == "us-east-1"
    assert {line["key"] for line in data["lines"]} == set(SHIPPED["items"])
    storage = next(line for line in data["lines"] if line["key"] == "s3_storage")
    assert (storage["quantity"], storage["usd"]) == (200, 4.6)
    table = runner.invoke(
        cost, ["--cdk-out", str(tmp_path), "--region", "sa-east-1", "--assumptions", str(tmp_path / "a.json")]
    )
    assert table.exit_code == 0, table.output
    assert (
        "TOTAL" in table.output
        and "CHECK THEM" in table.output
        and "demo: scheduled 2, full 2, short 1" in table.output
    )


# -- The real app -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> Any:
    return synthesize_deployment()


@pytest.mark.slow
def test_the_real_app_produces_every_line_item_and_a_sane_total(real: Any) -> None:
    est = estimate(real, region="us-east-1")
    assert [line.key for line in est.lines] == list(SHIPPED["items"])
    assert {w.domain for w in est.workflows} == set(DOMAINS)
    runs = {w.domain: w for w in est.workflows}
    assert runs["bndes"].scheduled_runs == runs["stocks"].scheduled_runs == Decimal(7305) / CYCLE_MONTHS
    assert runs["cards"].scheduled_runs == 1
    assert runs["bank"].scheduled_runs == 0  # the API schedule is deployed DISABLED
    for key in (
        "sfn_transitions",
        "lambda_requests",
        "lambda_gbs_x86",
        "glue_dpu_hours",
        "s3_storage",
        "s3_put",
        "kms_keys",
        "secrets",
        "cw_alarms",
        "cw_metrics",
        "logs_ingestion",
        "sns_email",
        "athena_scanned",
        "scheduler_invocations",
        "xray_traces",
    ):
        assert est.line(key).quantity > 0, key
    assert est.line("kms_keys").quantity == 1
    assert est.line("secrets").quantity >= 2
    budget = json.loads((ROOT / "cdk.json").read_text())["context"]["finlake"]["monthly_budget_usd"]
    assert Decimal(2) < est.total < budget
    sa = estimate(real, region="sa-east-1")
    assert est.total < sa.total < 2 * est.total


GOAL_USD = Decimal("5.00")  # issue 12: the default deployment, us-east-1, without the free tier
README_ROW = re.compile(
    r"^\| (us-east-1|sa-east-1) \| (not applied|`--free-tier`) \| \**([0-9.]+)\** \|$", re.MULTILINE
)


@pytest.mark.slow
def test_the_default_deployment_costs_under_5_usd_a_month_with_the_same_data_work(real: Any) -> None:
    est = estimate(real, region="us-east-1")
    assert est.total < GOAL_USD
    # Monitoring is two alarm metrics (the dead-letter queue, the notifier's errors) and no dashboard:
    # failures reach the notifier through free EventBridge rules and Lambda destinations.
    assert (est.line("cw_alarms").quantity, est.line("cw_dashboards").quantity) == (2, 0)
    # The data work is unchanged: every run, Glue job, query and GB still priced.
    runs = {w.domain: (w.full_runs, w.transitions_full) for w in est.workflows}
    assert runs["stocks"] == (Decimal(7305) / CYCLE_MONTHS, 6) and runs["bank"] == (4, 8)
    assert est.line("glue_dpu_hours").quantity > 1 and est.line("s3_storage").quantity == 10


@pytest.mark.slow
def test_the_readme_cost_table_is_what_finlake_cost_prints(real: Any) -> None:
    """Loosely (5 cents): the README figures come from `finlake cost` with the shipped price table."""
    rows = README_ROW.findall((ROOT / "README.md").read_text())
    assert {(region, free) for region, free, _ in rows} == {
        ("us-east-1", "not applied"),
        ("sa-east-1", "not applied"),
        ("us-east-1", "`--free-tier`"),
    }
    for region, free, figure in rows:
        est = estimate(real, region=region, free_tier=free != "not applied")
        assert abs(est.total - Decimal(figure)) <= Decimal("0.05"), (region, free, round(est.total, 2))
        assert est.total < GOAL_USD
