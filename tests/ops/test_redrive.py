"""`finlake --aws redrive`: the dead-letter queue listed, failed runs rerun, messages deleted only
after a rerun succeeded. moto 5.2.5 has no RedriveExecution, so the deployed path here is the
restart (`<name>-r<N>`); the RedriveExecution path is tested with a botocore Stubber below.
The cards domain fails fast at Fetch (a month with a missing file); its success path needs local
Spark, so the rerun-to-success test uses BNDES."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from finlake.local.runtime import BUCKETS, EmbeddedAws
from finlake.local.workspace import Workspace
from finlake.ops import redrive as dlq
from finlake.ops.discovery import Aws
from finlake.ops.executions import Request
from finlake.samples import cards
from finlake.samples.bndes import write_bndes_cassette
from stacks.specs import BNDES, CARDS
from tests.bndes_outage import maintenance_page

pytestmark = pytest.mark.slow

MONTH = "2024-10"


def upload(aws: EmbeddedAws, path: Path) -> None:
    """Put a file in the cards inbox without the S3 trigger (it would start its own run)."""
    aws.client("s3").put_object(Bucket=BUCKETS["RAW_BUCKET"], Key=f"inbox/cards/{path.name}", Body=path.read_bytes())


def test_a_failed_month_is_listed_and_a_rerun_that_fails_again_keeps_its_message(
    deployed: EmbeddedAws, ops: Aws, cli, tmp_path: Path
):
    files = cards.write(tmp_path / "in", cards.generate(10, 1, end_month=MONTH, anomalies=False))
    upload(deployed, next(p for p in files if p.name.startswith("tb_faturas")))  # no payments file
    name = Request(CARDS, month=MONTH).name()

    failed = cli("run", "cards", "--month", MONTH)

    assert failed.exit_code == 1
    assert "!! MissingFile" in failed.output and "tb_pagamentos_202410.csv" in failed.output

    listing = cli("redrive")

    assert listing.exit_code == 0, listing.output
    assert f"{name}  cards  failed at Fetch" in listing.output
    assert "MissingFile" in listing.output and "tb_pagamentos_202410.csv" in listing.output
    assert len(deployed.dead_letters()) == 1  # listing does not consume

    still = cli("redrive", "--apply")  # the file is still missing: the rerun fails too

    assert still.exit_code == 1
    assert "restart: not redrivable" in still.output  # moto reports no redriveStatus
    assert f"FAILED {name}-r1: FAILED: MissingFile" in still.output and "message kept" in still.output
    [run] = dlq.list_failed_runs(ops.sqs, ops.deployment.dead_letter_queue_url, wait_s=0)
    assert run.base == name
    assert sorted(d.execution_name for d in run.letters) == [name, f"{name}-r1"]  # grouped as one run
    assert "(2 failed attempts)" in cli("redrive").output


def test_a_fixed_cause_is_rerun_to_success_and_only_then_its_messages_are_deleted(
    deployed: EmbeddedAws, workspace: Workspace, cli
):
    """BNDES stands in for the success path: a cards success runs two Glue jobs on local Spark
    (minutes on a busy machine); a BNDES run takes seconds. Its Fetch reads the workspace's
    cassette, broken here by a maintenance page and then restored."""
    cassette = workspace.samples_dir / "bndes-ckan"
    maintenance_page(cassette)
    name = Request(BNDES, date="2026-11-23").name()
    failed = cli("run", "bndes", "--date", "2026-11-23")
    assert failed.exit_code == 1 and "NotTheFile" in failed.output  # the page, retried in Fetch, then unavailable
    assert cli("redrive", "--apply").exit_code == 1  # not fixed yet: -r1 fails, messages kept
    assert len(deployed.dead_letters()) == 2

    write_bndes_cassette(cassette)  # the source is back
    fixed = cli("redrive", "--apply", "--domain", "bndes")

    assert fixed.exit_code == 0, fixed.output
    assert f"OK {name}-r2: SUCCEEDED; message deleted" in fixed.output
    assert "-> Transform" in fixed.output and "<- Catalog" in fixed.output
    assert deployed.dead_letters() == []
    statuses = {e["name"]: e["status"] for e in deployed.executions(BNDES)}
    assert statuses == {name: "FAILED", f"{name}-r1": "FAILED", f"{name}-r2": "SUCCEEDED"}
    assert cli("redrive").output.startswith("the dead-letter queue is empty")


def test_apply_leaves_other_domains_messages_alone(deployed: EmbeddedAws, ops: Aws, cli):
    assert cli("run", "cards", "--month", "2024-11").exit_code == 1

    result = cli("redrive", "--apply", "--domain", "bndes")

    assert result.exit_code == 0
    assert "the dead-letter queue is empty for bndes" in result.output
    assert len(deployed.dead_letters()) == 1


# -- the RedriveExecution path, at the boto3 boundary ------------------------------------------

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:finlake-cards"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:finlake-cards:cards-2024-10-1a2b3c4d"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def description(status: str, stopped: datetime | None, **extra: object) -> dict:
    item = {
        "executionArn": EXECUTION,
        "stateMachineArn": SM,
        "name": "cards-2024-10-1a2b3c4d",
        "status": status,
        "startDate": NOW - timedelta(hours=2),
        **extra,
    }
    if stopped:
        item["stopDate"] = stopped
    return item


def event(n: int, kind: str, **details: object) -> dict:
    return {"id": n, "timestamp": NOW - timedelta(hours=1), "type": kind, **details}


UNCAUGHT = [  # the Transform task failed and nothing caught it: a redrive continues at Transform
    event(1, "ExecutionStarted"),
    event(2, "TaskStateEntered", stateEnteredEventDetails={"name": "Transform"}),
    event(
        3,
        "TaskFailed",
        taskFailedEventDetails={
            "resourceType": "glue",
            "resource": "startJobRun.sync",
            "error": "Glue.ConcurrentRunsExceededException",
            "cause": "x",
        },
    ),
    event(4, "ExecutionFailed", executionFailedEventDetails={"error": "Glue.ConcurrentRunsExceededException"}),
]
CAUGHT = [  # how every finlake definition fails: Catch -> NotifyFailure -> DLQ -> Fail
    event(1, "ExecutionStarted"),
    event(2, "TaskStateEntered", stateEnteredEventDetails={"name": "Fetch"}),
    event(3, "TaskStateEntered", stateEnteredEventDetails={"name": "SendToDeadLetterQueue"}),
    event(4, "FailStateEntered", stateEnteredEventDetails={"name": "Fail"}),
    event(5, "ExecutionFailed", executionFailedEventDetails={"error": "MissingFile"}),
]


def test_choose_redrives_only_what_step_functions_can_continue():
    recent = NOW - timedelta(hours=1)
    redrivable = description("FAILED", recent, redriveStatus="REDRIVABLE")

    assert dlq.choose(redrivable, UNCAUGHT, NOW)[0] == "redrive"
    assert dlq.choose(redrivable, CAUGHT, NOW) == (
        "restart",
        "it ended in its Fail state (a caught error): a redrive would only rerun Fail",
    )
    old = description("FAILED", NOW - timedelta(days=15), redriveStatus="REDRIVABLE")
    assert dlq.choose(old, UNCAUGHT, NOW) == ("restart", "it stopped more than 14 days ago")
    moto_like = description("FAILED", recent)  # moto 5.2.5 reports no redriveStatus
    assert dlq.choose(moto_like, UNCAUGHT, NOW)[0] == "restart"
    assert dlq.choose(None, [], NOW)[0] == "restart"


@mock_aws
def test_apply_redrives_a_redrivable_execution_and_deletes_its_message_after_success():
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="finlake-failed-runs")["QueueUrl"]
    body = {
        "execution_name": "cards-2024-10-1a2b3c4d",
        "execution_arn": EXECUTION,
        "state_machine_arn": SM,
        "failed_state": "Transform",
        "error": "Glue.ConcurrentRunsExceededException",
        "cause": "x",
        "input": {"domain": "cards", "trigger": "cli", "month": "2024-10"},
    }
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    stub = Stubber(sfn)
    stub.add_response(
        "describe_execution",
        description("FAILED", NOW - timedelta(hours=1), redriveStatus="REDRIVABLE"),
        {"executionArn": EXECUTION},
    )
    stub.add_response("get_execution_history", {"events": UNCAUGHT}, {"executionArn": EXECUTION, "maxResults": 1000})
    stub.add_response("redrive_execution", {"redriveDate": NOW}, {"executionArn": EXECUTION})
    succeeded = description("SUCCEEDED", NOW, output=json.dumps({"counts": {"rows_in": 3}}))
    stub.add_response("describe_execution", succeeded, {"executionArn": EXECUTION})
    stub.add_response("get_execution_history", {"events": UNCAUGHT}, {"executionArn": EXECUTION, "maxResults": 1000})

    with stub:
        [rerun] = dlq.apply(sfn, sqs, queue, now=lambda: NOW, poll_s=0, wait_s=0)

    stub.assert_no_pending_responses()
    assert rerun.how == "redrive" and rerun.succeeded
    assert rerun.execution is not None and rerun.execution.arn == EXECUTION
    assert sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0).get("Messages", []) == []
