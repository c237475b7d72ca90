"""`make aws-smoke` cannot run here (no AWS): its --dry-run plan, its teardown on failure and its
reading of the notifications are tested instead (finlake/smoke.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError

from finlake.smoke import DryRunCalls, Inbox, Smoke, SmokeError, main, sample_runs
from functions.common.contract import DEAD_LETTER_ALARM, NOTIFIER_ALARM, Names
from functions.notifier.notify import Failure, failure_from_invocation_record, format_email
from stacks.specs import DOMAINS, ROOT

EVENTS = ROOT / "tests" / "events"

PREFIX = "smoketest1"


@pytest.fixture(scope="module")
def plan() -> list[str]:
    lines: list[str] = []
    assert main(["--dry-run", "--prefix", PREFIX, "--region", "sa-east-1"], echo=lines.append) == 0
    return [re.sub(r"^\s*\d+\. ", "", line) for line in lines if re.match(r"^\s*\d+\. ", line)]


def index(plan: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(plan) if re.search(pattern, line)]
    assert found, f"no step matches {pattern!r}"
    return found[0]


def test_the_plan_deploys_the_prefixed_stacks_with_the_pinned_cli(plan) -> None:
    deploy = plan[index(plan, r"^cdk deploy")]
    assert "aws-cdk@2.1148.1 deploy" in deploy and "--all" in deploy and "--require-approval never" in deploy
    assert f"-c finlake.prefix={PREFIX}" in deploy and "'finlake.notification_emails=[]'" in deploy
    assert all(f"-c finlake.schedules.{d}.enabled=false" in deploy for d in DOMAINS)
    assert index(plan, r"^sts GetCallerIdentity") < index(plan, r"StackName=CDKToolkit") < index(plan, r"^cdk deploy")


def test_the_plan_runs_every_domain_once_and_a_forced_failure(plan) -> None:
    raw = "Bucket=<Smoketest1Platform output RawBucketName>"
    for domain in ("cards", "bank"):  # the S3 triggers start these
        assert index(plan, rf"^s3 PutObject {re.escape(raw)} Key=inbox/{domain}/")
        assert not any(f"output {domain.title()}StateMachineArn> name={domain}-" in line for line in plan)
    for domain in ("stocks", "bndes"):
        upload = index(plan, rf"^s3 PutObject {re.escape(raw)} Key=inbox/{domain}/")
        start = index(plan, rf"^stepfunctions StartExecution .*{domain.title()}StateMachineArn> name={domain}-")
        assert upload < start and '"inputs": ["s3://' in plan[start]
    forced = index(plan, r"StartExecution .*CardsStateMachineArn> name=smoke-forced-failure-")
    assert '"month": "2000-01"' in plan[forced]
    for domain in DOMAINS:
        assert index(
            plan, rf"^stepfunctions DescribeExecution executionArn=.*{domain.title()}StateMachineArn>:{domain}-.*until"
        )
    assert index(plan, r"DescribeExecution .*smoke-forced-failure-.*until")
    assert index(plan, r"^sqs GetQueueAttributes QueueUrl=<Smoketest1Platform output DeadLetterQueueUrl>")


def test_the_plan_subscribes_a_queue_and_waits_for_every_email_and_the_alarm(plan) -> None:
    create = index(plan, r"^sqs CreateQueue QueueName=smoketest1-smoke-notifications")
    policy = index(plan, r"^sqs SetQueueAttributes .*aws:SourceArn")
    subscribe = index(plan, r"^sns Subscribe TopicArn=<Smoketest1Platform output NotificationTopicArn> Protocol=sqs")
    first_run = index(plan, r"^s3 PutObject")
    wait = plan[index(plan, r"^sqs ReceiveMessage .* until ")]
    assert create < policy < subscribe < first_run
    assert "success email for each of stocks, bndes, cards, bank" in wait
    assert "the failure email of smoke-forced-failure-smoketest1" in wait
    assert "the ALARM of 'smoketest1 dead-letter queue holds failed runs'" in wait


def test_the_plan_tears_down_everything_it_made(plan) -> None:
    start = index(plan, r"^sns Unsubscribe")
    assert start > index(plan, r"^sqs ReceiveMessage")
    teardown = plan[start:]
    stacks = [i for i, line in enumerate(teardown) if line.startswith("cloudformation DeleteStack")]
    assert [teardown[i].split("=")[1] for i in stacks] == ["Smoketest1Pipelines", "Smoketest1Platform"]
    listed = [i for i, line in enumerate(teardown) if line.startswith("cloudformation ListStackResources")]
    assert len(listed) == 2 and max(listed) < min(stacks)  # retained resources are listed before the stacks go
    buckets = [line for line in teardown if line.startswith("s3 DeleteBucket Bucket=smoketest1-")]
    zones = ["athena-results", "curated", "raw", "refined", "access-logs"]
    assert [b.split("=")[1] for b in buckets] == [f"smoketest1-{z}-<account>-sa-east-1" for z in zones]
    assert index(teardown, r"^s3 DeleteObjects Bucket=smoketest1-raw-.*VersionId") < index(
        teardown, r"^s3 DeleteBucket Bucket=smoketest1-raw-"
    )
    for secret in ("smoketest1/bank/nubank", "smoketest1/bank/bank_hmac"):
        assert index(teardown, rf"^secretsmanager DeleteSecret SecretId={secret} ForceDeleteWithoutRecovery=true")
    assert index(teardown, r"^logs DeleteLogGroup logGroupName=/aws/vendedlogs/states/smoketest1-stocks")
    assert index(teardown, r"^glue GetJobRuns JobName=smoketest1-cards-transform")
    assert index(teardown, r"^sqs DeleteQueue QueueUrl=<queue url of smoketest1-smoke-notifications>")
    assert index(teardown, r"^sqs DeleteQueue QueueUrl=<each AWS::SQS::Queue listed for Smoketest1Platform")
    assert re.search(r"PendingWindowInDays=7$", teardown[-1]) and teardown[-1].startswith("kms ScheduleKeyDeletion")


class FailingCalls(DryRunCalls):
    """The dry run's answers, with one call that fails the way AWS or the CDK CLI would."""

    def __init__(self, fail: Callable[[str, str], BaseException | None]) -> None:
        super().__init__(echo=lambda line: None)
        self.fail = fail

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        error = self.fail(service, operation)
        if error:
            self.plan.append(f"{service} {operation} (failed)")
            raise error
        return super().call(service, operation, **params)

    def poll(self, service: str, operation: str, params: Mapping[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        error = self.fail(service, f"poll {operation}")
        if error:
            raise error
        return super().poll(service, operation, params, **kwargs)

    def cdk(self, argv: Sequence[str], *, what: str) -> None:
        error = self.fail("cdk", what)
        if error:
            raise error
        super().cdk(argv, what=what)


def aws_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


def run_smoke(calls: DryRunCalls) -> tuple[bool, Smoke]:
    smoke = Smoke(calls=calls, names=Names(PREFIX), region="sa-east-1", echo=lambda line: None)
    return smoke.run(sample_runs()), smoke


def test_a_failed_deploy_still_tears_everything_down_and_fails_the_smoke() -> None:
    calls = FailingCalls(lambda service, op: SmokeError("deploy failed (exit 1)") if service == "cdk" else None)
    ok, smoke = run_smoke(calls)
    assert not ok
    assert smoke.rows["deploy both stacks"].ok is False and "exit 1" in smoke.rows["deploy both stacks"].detail
    assert smoke.rows["stocks run SUCCEEDED"].ok is None  # never reached
    assert not any(line.startswith("stepfunctions StartExecution") for line in calls.plan)
    assert [line for line in calls.plan if line.startswith("cloudformation DeleteStack")] == [
        "cloudformation DeleteStack StackName=Smoketest1Pipelines",
        "cloudformation DeleteStack StackName=Smoketest1Platform",
    ]
    assert sum(line.startswith("s3 DeleteBucket") for line in calls.plan) >= 5
    assert smoke.rows["teardown: nothing left"].ok is True


def test_an_interrupted_smoke_tears_down_before_it_stops() -> None:
    calls = FailingCalls(lambda service, op: KeyboardInterrupt() if op == "poll DescribeExecution" else None)
    with pytest.raises(KeyboardInterrupt):
        run_smoke(calls)
    assert any(line.startswith("kms ScheduleKeyDeletion") for line in calls.plan)


def test_a_teardown_step_that_fails_is_reported_and_the_others_still_run() -> None:
    calls = FailingCalls(lambda service, op: aws_error("AccessDenied", op) if op == "DeleteSecret" else None)
    ok, smoke = run_smoke(calls)
    assert not ok
    row = smoke.rows["teardown: nothing left"]
    assert row.ok is False and "smoketest1/bank/nubank" in row.detail
    assert calls.plan[-1].startswith("kms ScheduleKeyDeletion")


def test_a_secret_already_gone_is_no_teardown_failure() -> None:
    fail = FailingCalls(
        lambda service, op: aws_error("ResourceNotFoundException", op) if op == "DeleteSecret" else None
    )
    _, smoke = run_smoke(fail)
    assert smoke.rows["teardown: nothing left"].ok is True


# -- reading the notifications ---------------------------------------------------------------------


def sqs_message(subject: str, message: str) -> dict[str, str]:
    """An SQS message of a raw-delivery-off SNS subscription: the SNS envelope in the body."""
    envelope = {"Type": "Notification", "TopicArn": "arn:aws:sns:sa-east-1:123456789012:t", "Subject": subject}
    return {"Body": json.dumps({**envelope, "Message": message}), "ReceiptHandle": "r"}


def success_subject(domain: str, partition: str) -> str:
    """The NotifySuccess state's Subject, from the deployed definition itself."""
    definition = json.loads((ROOT / "statemachines" / f"{domain}.asl.json").read_text())
    template = definition["States"]["NotifySuccess"]["Parameters"]["Subject.$"]
    pattern = re.fullmatch(r"States\.Format\('(.*)', \$\.domain, \$\.partition_label\)", template)
    assert pattern, template
    return pattern[1].replace("{}", domain, 1).replace("{}", partition, 1)


def alarm_notification(name: str, queue: str = "Dlq-123", state: str = "ALARM") -> tuple[str, str]:
    """What CloudWatch publishes for an alarm on an SQS metric (subject and JSON message), as in
    the CloudWatch User Guide's "Alarm events and Amazon SNS" example; ``name`` is the alarm's name
    (stacks/platform_stack.py names it ``Names.alarm(DEAD_LETTER_ALARM)``)."""
    message = {
        "AlarmName": name,
        "AlarmDescription": "A finlake run failed and its input is waiting in the dead-letter queue.",
        "AWSAccountId": "123456789012",
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] was greater than the threshold (0.0).",
        "StateChangeTime": "2026-11-29T12:00:00.000+0000",
        "Region": "South America (Sao Paulo)",
        "OldStateValue": "OK",
        "Trigger": {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "StatisticType": "Statistic",
            "Statistic": "MAXIMUM",
            "Dimensions": [{"value": queue, "name": "QueueName"}],
            "Period": 300,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0.0,
        },
    }
    return f'{state}: "{message["AlarmName"]}" in South America (Sao Paulo)', json.dumps(message)


def test_the_inbox_recognizes_each_email_the_deployment_sends() -> None:
    names = Names(PREFIX)
    inbox = Inbox(
        domains=list(DOMAINS), forced_failure="smoke-forced-failure-x", alarm_name=names.alarm(DEAD_LETTER_ALARM)
    )
    failure = format_email(
        Failure(
            domain="cards",
            execution_name="smoke-forced-failure-x",
            execution_arn="arn:aws:states:sa-east-1:123456789012:execution:x-cards:smoke-forced-failure-x",
            failed_state="Fetch",
            error="MissingFile",
            cause="cards 2000-01: tb_faturas_200001.csv not found",
            partition="2000-01",
            status="FAILED",
            caught=True,
        )
    )
    messages = [sqs_message(success_subject(d, "2026-11-27"), "summary") for d in DOMAINS]
    messages.append(sqs_message("[finlake] bank 2026-11 started", "Execution: bank-2026-11-1"))
    messages.append(sqs_message(failure.subject, failure.message))
    inbox.add(messages)
    assert not inbox.complete()  # the alarm has not come yet
    inbox.add([sqs_message(*alarm_notification(names.alarm(NOTIFIER_ALARM)))])  # the other alarm
    inbox.add([sqs_message(*alarm_notification(Names().alarm(DEAD_LETTER_ALARM)))])  # the default deployment's
    inbox.add([sqs_message(*alarm_notification(names.alarm(DEAD_LETTER_ALARM), state="OK"))])
    assert not inbox.complete()
    inbox.add([sqs_message(*alarm_notification(names.alarm(DEAD_LETTER_ALARM)))])
    assert inbox.complete()
    assert inbox.results()["forced failure email"] == "[finlake] cards FAILED at Fetch"
    assert inbox.results()["dead-letter queue alarm notification"] == (
        'ALARM: "smoketest1 dead-letter queue holds failed runs" in South America (Sao Paulo)'
    )
    assert inbox.start_failures == []


def test_a_trigger_that_could_not_start_its_run_is_a_failed_row() -> None:
    """A starter's failure reaches the notifier (its on-failure destination), which emails before it
    keeps the record in the dead-letter queue: the smoke names that email instead of only waiting in
    vain for the run."""
    record = json.loads((EVENTS / "lambda_record_s3_trigger.json").read_text())
    email = format_email(failure_from_invocation_record(record))
    inbox = Inbox(domains=list(DOMAINS), forced_failure="smoke-forced-failure-x", alarm_name="x dead-letter")
    inbox.add([sqs_message(email.subject, email.message)])
    assert inbox.start_failures == ["[finlake] bank FAILED at Trigger"]
    assert not any(inbox.results().values())  # neither the forced failure's email nor a success


def test_the_smoke_has_a_row_for_runs_that_could_not_start() -> None:
    ok, smoke = run_smoke(DryRunCalls(echo=lambda line: None))
    assert ok and smoke.rows["no run failed to start"].ok is True
    assert list(smoke.rows).index("no run failed to start") == len(smoke.rows) - 2  # before the teardown


def test_the_sample_inputs_are_what_each_domain_reads() -> None:
    from functions.stocks.pipeline import classify_input

    runs = {run.domain: run for run in sample_runs()}
    assert set(runs) == set(DOMAINS)
    assert sorted(classify_input(n, b) for n, b in runs["stocks"].files.items()) == ["cotahist", "portfolio_json"]
    assert runs["bndes"].files and all(name.endswith(".csv") for name in runs["bndes"].files)
    assert runs["cards"].triggered and runs["bank"].triggered and not runs["stocks"].triggered
    for run in runs.values():
        name = run.execution_name("smoketest1-raw-123456789012-sa-east-1")
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)
