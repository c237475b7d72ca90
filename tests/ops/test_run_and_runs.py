"""`finlake --aws run` / `runs` / `backfill` against the deployed stacks (moto)."""

from __future__ import annotations

import json

import pytest

from finlake.local.runner import RunPlan
from finlake.local.runtime import EmbeddedAws
from finlake.ops.backfill import backfill_aws, partitions
from finlake.ops.discovery import Aws
from finlake.ops.executions import Request, execution_arn, follow
from functions.common import schedule
from stacks.specs import BNDES, CARDS, STOCKS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "fields",
    [
        {"date": "2026-11-23"},
        {"date": "2026-11-23", "force": True},
        {"month": "2024-10"},
        {"year": "2024"},
        {"month": "2024-09", "source": "mock"},
    ],
)
def test_the_execution_name_is_the_one_a_local_run_of_the_same_request_gets(fields):
    spec = CARDS if "month" in fields else BNDES
    plan = RunPlan(spec, **fields)
    assert Request(spec, **fields).input() == plan.request([])
    assert Request(spec, **fields).partition() == plan.partition()


def test_run_starts_the_deterministic_execution_follows_it_and_prints_counts(deployed: EmbeddedAws, ops: Aws, cli):
    name = Request(BNDES, date="2026-11-23").name()

    result = cli("run", "bndes", "--date", "2026-11-23")

    assert result.exit_code == 0, result.output
    assert f"execution {name}" in result.output
    for state in ("Fetch", "Validate", "Transform", "Catalog", "NotifySuccess"):
        assert f"-> {state}" in result.output and f"<- {state}" in result.output
    assert "SUCCEEDED in" in result.output
    assert "rows in " in result.output and "curated + 0 quarantined + 0 duplicates dropped" in result.output
    [execution] = deployed.executions(BNDES)
    assert execution["name"] == name
    assert json.loads(
        deployed.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"]
    ) == {"domain": "bndes", "trigger": "cli", "date": "2026-11-23"}

    again = cli("run", "bndes", "--date", "2026-11-23")  # the same name: reported, not started twice

    assert again.exit_code == 0, again.output
    assert "already started at" in again.output and "SUCCEEDED" in again.output
    assert len(deployed.executions(BNDES)) == 1

    listing = cli("runs", "bndes")
    assert listing.exit_code == 0, listing.output
    [line] = [x for x in listing.output.splitlines() if name in x]
    assert "SUCCEEDED" in line and "loaded: rows in " in line
    assert "curated + 0 quarantined + 0 duplicates dropped" in line  # the four numbers of the row accounting
    everything = cli("runs")
    assert everything.exit_code == 0, everything.output
    assert "stocks: not deployed (no output StocksStateMachineArn in FinlakePipelines)" in everything.output
    assert "cards:\n  no executions" in everything.output


def test_the_scheduled_run_and_finlake_run_of_its_day_are_one_execution(
    deployed: EmbeddedAws, cli, monkeypatch, lambda_context
):
    """The schedule's ScheduleStart function (the real handler, on the embedded AWS) names the run as
    `finlake run --date` does, so the operator attaches to it instead of starting a second one."""
    monkeypatch.setenv("STATE_MACHINE_ARN", deployed.state_machines["bndes"])
    fired = {"domain": "bndes", "period": "day", "scheduled_time": "2026-11-23T10:00:00Z"}  # 07:00 in Sao Paulo
    name = Request(BNDES, date="2026-11-23").name()

    started = schedule.handler(fired, lambda_context)
    result = cli("run", "bndes", "--date", "2026-11-23")
    redelivered = schedule.handler(fired, lambda_context)

    assert started["started"] is True and started["execution"] == name
    assert result.exit_code == 0, result.output
    assert f"execution {name}" in result.output and "already started at" in result.output
    assert "SUCCEEDED" in result.output
    assert redelivered["started"] is False
    [execution] = deployed.executions(BNDES)
    assert execution["name"] == name
    assert json.loads(
        deployed.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"]
    ) == {"domain": "bndes", "trigger": "schedule", "date": "2026-11-23"}


def test_backfill_skips_a_partition_already_done_and_runs_the_weekdays(deployed: EmbeddedAws, ops: Aws, cli):
    assert cli("run", "bndes", "--date", "2026-11-23").exit_code == 0  # a Monday, done before the backfill

    result = cli("backfill", "bndes", "--from", "2026-11-20", "--to", "2026-11-24", "--parallel", "2")

    assert result.exit_code == 0, result.output
    assert "3 weekdays" in result.output  # Fri 20, Mon 23, Tue 24; the weekend is not run
    assert f"2026-11-23: skipped, {Request(BNDES, date='2026-11-23').name()} already SUCCEEDED" in result.output
    assert "2026-11-20: SUCCEEDED" in result.output and "2026-11-24: SUCCEEDED" in result.output
    names = sorted(e["name"] for e in deployed.executions(BNDES))
    assert names == sorted(Request(BNDES, date=d).name() for d in ("2026-11-20", "2026-11-23", "2026-11-24"))

    outcomes = backfill_aws(
        ops.sfn,
        ops.deployment.state_machine("bndes"),
        BNDES,
        partitions(BNDES, "2026-11-20", "2026-11-24"),
        poll_s=0.05,
    )
    assert [o.status for o in outcomes] == ["SKIPPED"] * 3


def test_a_failed_month_makes_backfill_exit_non_zero_and_name_it(deployed: EmbeddedAws, cli):
    result = cli("backfill", "cards", "--from", "2024-12", "--to", "2024-12")

    assert result.exit_code == 1
    name = Request(CARDS, month="2024-12").name()
    assert f"FAILED {name}: FAILED: MissingFile" in result.output
    assert "1 partitions, 1 failed" in result.output


def test_partitions_of_a_range():
    assert partitions(BNDES, "2026-11-20", "2026-11-24") == ["2026-11-20", "2026-11-23", "2026-11-24"]
    assert partitions(CARDS, "2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert partitions(STOCKS, "2026-11-21", "2026-11-22") == []  # a weekend
    with pytest.raises(ValueError, match="partitioned by month"):
        partitions(CARDS, "2024-11-01", "2024-12-01")
    with pytest.raises(ValueError, match="after"):
        partitions(BNDES, "2026-11-24", "2026-11-20")


def test_execution_arn_follows_the_state_machine_arn():
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:finlake-bndes"
    assert execution_arn(arn, "bndes-x") == "arn:aws:states:us-east-1:123456789012:execution:finlake-bndes:bndes-x"


def test_local_backfill_runs_in_sequence_and_skips_what_the_workspace_says_succeeded(cli):
    first = cli("backfill", "bndes", "--from", "2026-11-21", "--to", "2026-11-23", aws=False)

    assert first.exit_code == 0, first.output
    assert "1 weekdays" in first.output  # Saturday and Sunday are not run
    assert "execution " + Request(BNDES, date="2026-11-23").name() in first.output

    again = cli("backfill", "bndes", "--from", "2026-11-23", "--to", "2026-11-23", aws=False)

    assert again.exit_code == 0, again.output
    assert "2026-11-23: skipped" in again.output and "execution " not in again.output


def test_backfill_counts_a_partition_done_when_a_rerun_of_it_succeeded(deployed: EmbeddedAws, ops: Aws):
    """The local rule (tests/ops/test_local_redrive.py): a redrive's ``<name>-r<N>`` that SUCCEEDED
    makes the partition done; backfill neither starts it again nor reuses the name."""
    name = Request(BNDES, date="2026-11-23").name()
    sfn, machine = ops.sfn, ops.deployment.state_machine("bndes")
    started = sfn.start_execution(
        stateMachineArn=machine, name=f"{name}-r2", input=json.dumps(Request(BNDES, date="2026-11-23").input())
    )
    assert follow(sfn, started["executionArn"], poll_s=0.05).status == "SUCCEEDED"

    [outcome] = backfill_aws(sfn, machine, BNDES, ["2026-11-23"], poll_s=0.05)

    assert (outcome.status, outcome.name) == ("SKIPPED", f"{name}-r2")
    assert [e["name"] for e in deployed.executions(BNDES)] == [f"{name}-r2"]
