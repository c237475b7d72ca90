"""`make aws-smoke`: deploy finlake into the caller's AWS account under a throwaway prefix, and check it.

It runs every domain once, checks that a person would hear about it, and deletes everything it made.

What it proves, on real AWS, that no offline test can (the emulator enforces no resource or key
policy, no packaging, no task timeout; see docs/decisions/0009-deploy-contracts.md):

- ``cdk deploy`` of both stacks succeeds from a clean start (layers resolve in the region, every
  name is free, the policies are accepted), under the prefix ``finlakesmoke<6 hex>``
  (``finlake.prefix``, ``functions/common/contract.py``), so it never touches the default ``finlake`` deployment;
- each domain runs to ``SUCCEEDED`` with its bundled sample input (``finlake.samples``): stocks and
  bndes started with files uploaded to the raw inbox, cards and bank started by their S3 triggers
  (the files uploaded to ``inbox/cards/``, ``inbox/bank/``). stocks' Fetch also reads the BCB SGS
  series from the Banco Central (the real publisher);
- each success publishes its email to the topic (``[finlake] <domain> <partition> succeeded``);
- a forced failure (cards asked for a month without files) ends ``FAILED`` with the readable
  failure email and a message in the dead-letter queue, and the dead-letter queue's alarm
  (``<prefix> dead-letter queue holds failed runs``) reaches the topic: the topic policy lets
  CloudWatch alarms named ``<prefix> *`` publish, and the key policy lets CloudWatch use the key;
- no run failed to start: a trigger that could not start its run sends its invocation record to
  the notifier, which emails ``[finlake] <domain> FAILED at Trigger`` (then keeps the record in the
  dead-letter queue); such an email fails its own row, which says why the run never appeared;
- the teardown leaves nothing: both stacks deleted, then what CloudFormation keeps (buckets emptied
  of every version and deleted, secrets deleted without recovery, log groups, the dead-letter queue,
  the KMS key scheduled for deletion after the 7-day minimum), also when a step fails or is
  interrupted. The CDK bootstrap stack and its asset bucket are shared with every CDK app of the
  account and stay.

The emails are read from a temporary SQS queue subscribed to the topic (an email subscription
would need a person to confirm it). The result is a pass/fail table; the exit status is 1 when a
row failed.

``--dry-run`` makes no call: it prints, in order, every AWS call the smoke would make (service,
operation, key parameters; values known only at run time in ``<angle brackets>``), each polling
loop once with what it waits for, and the CDK CLI command. Usage::

    python -m finlake.smoke [--dry-run] [--region sa-east-1] [--profile NAME] [--prefix finlakesmoke1a2b3c]

Needs: credentials allowed to deploy CDK apps (the account bootstrapped with ``cdk bootstrap``),
Node.js for the pinned CDK CLI (``npx``), and PyPI for the bank layer's pip build. It costs a few
cents (Glue: three short job runs) and takes about 30 to 45 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from functions.common.contract import DEAD_LETTER_ALARM, Names
from functions.common.manifest import today_in_sao_paulo
from functions.common.naming import RunRequest, default_partition, execution_name
from stacks.specs import DOMAINS, ROOT

CDK_CLI = "aws-cdk@2.1148.1"  # the Makefile's CDK_CLI
RETAINED_TYPES = (
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::KMS::Key",
)
ZONES = ("raw", "curated", "refined", "athena-results", "access-logs")  # access-logs last: the others log into it
KEY_DELETION_DAYS = 7  # the minimum KMS waiting period
FORCED_FAILURE_MONTH = "2000-01"  # cards has no files for it: Fetch raises MissingFile
RUN_TIMEOUT_S = 60 * 60  # every run, Glue jobs included
NOTIFICATION_TIMEOUT_S = 20 * 60  # after the runs: the alarm evaluates 5-minute periods
STACK_TIMEOUT_S = 60 * 60
BRIEF_CHARS = 400  # a parameter's value in the dry-run plan is cut there
STARTERS = ("Trigger", "ScheduleStart")  # the failed state of a start failure email (functions/notifier/notify.py)


class SmokeError(RuntimeError):
    """A step of the smoke test failed; the message says which and why."""


# -- the calls -----------------------------------------------------------------------------------


class Calls(Protocol):
    """How the smoke reaches AWS: live (boto3, the CDK CLI) or printed (``--dry-run``)."""

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """One API call (``operation`` as in the API reference, e.g. "DescribeStacks")."""
        ...

    def poll(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        until: str,
        done: Callable[[dict[str, Any] | None], bool],
        every_s: float,
        timeout_s: float,
        pending_errors: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        """Repeat the call until ``done(response)``.

        An error named in ``pending_errors`` is a ``None`` response (not there yet). Raises SmokeError after
        ``timeout_s``.
        """
        ...

    def cdk(self, argv: Sequence[str], *, what: str) -> None:
        """Run the CDK CLI (raises SmokeError when it fails)."""
        ...


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class LiveCalls:
    """boto3 clients of one session, and the CDK CLI in a subprocess."""

    def __init__(self, profile: str | None, region: str, echo: Callable[[str], None] = print) -> None:
        import boto3
        from botocore import xform_name

        self._session = boto3.Session(profile_name=profile, region_name=region)
        self._clients: dict[str, Any] = {}
        self._xform = xform_name
        self.profile, self.region, self.echo = profile, region, echo

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Call boto3 ``operation`` (the API name, e.g. ``DescribeStacks``) of ``service``; its response."""
        response: dict[str, Any] = getattr(self._client(service), self._xform(operation))(**params)
        return response

    def poll(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        until: str,
        done: Callable[[dict[str, Any] | None], bool],
        every_s: float,
        timeout_s: float,
        pending_errors: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        """Repeat ``operation`` every ``every_s`` seconds until ``done(response)``; the last response.

        An error whose code is in ``pending_errors`` counts as a ``None`` response (not there yet).

        Raises
        ------
        SmokeError
            When ``done`` is still false after ``timeout_s`` seconds.
        """
        self.echo(f"   waiting (up to {timeout_s / 60:.0f} min): {until}")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                response: dict[str, Any] | None = self.call(service, operation, **params)
            except Exception as exc:
                if _error_code(exc) not in pending_errors:
                    raise
                response = None
            if done(response):
                return response
            if time.monotonic() > deadline:
                raise SmokeError(f"timed out after {timeout_s:.0f} s waiting for {until}")
            time.sleep(every_s)

    def cdk(self, argv: Sequence[str], *, what: str) -> None:
        """Run the CDK CLI (``argv``) from the project root in the session's region.

        Raises
        ------
        SmokeError
            When it exits non-zero.
        """
        env = {**os.environ, "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        self.echo(f"   {what}: {shlex.join(argv)}")
        result = subprocess.run(list(argv), cwd=ROOT, env=env, check=False)
        if result.returncode != 0:
            raise SmokeError(f"{what} failed (exit {result.returncode})")


class DryRunCalls:
    """Prints each call instead of making it, and answers with placeholders the next steps can use."""

    def __init__(self, echo: Callable[[str], None] = print) -> None:
        self.echo = echo
        self.plan: list[str] = []

    def _print(self, line: str) -> None:
        self.plan.append(line)
        self.echo(f"{len(self.plan):4d}. {line}")

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Print the call; a placeholder response."""
        self._print(f"{service} {operation} {_brief(params)}".rstrip())
        return _placeholder_response(service, operation, params)

    def poll(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        until: str,
        done: Callable[[dict[str, Any] | None], bool],
        every_s: float,
        timeout_s: float,
        pending_errors: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        """Print the call with its polling; a placeholder response at once."""
        self._print(
            f"{service} {operation} {_brief(params)} -- repeated every {every_s:g} s, "
            f"at most {timeout_s / 60:.0f} min, until {until}"
        )
        return _placeholder_response(service, operation, dict(params))

    def cdk(self, argv: Sequence[str], *, what: str) -> None:
        """Print the CDK command."""
        self._print(f"cdk {what} (CloudFormation change sets of both stacks, via the CDK CLI): {shlex.join(argv)}")


def _brief(params: Mapping[str, Any]) -> str:
    """``Key=value`` pairs, long values (bodies, policies, inputs) shortened."""
    parts = []
    for key, value in params.items():
        if isinstance(value, bytes):
            text = f"<{len(value)} bytes>"
        elif isinstance(value, str):
            text = value if len(value) <= BRIEF_CHARS else value[: BRIEF_CHARS - 3] + "..."
        else:
            text = json.dumps(value, default=str)
            text = text if len(text) <= BRIEF_CHARS else text[: BRIEF_CHARS - 3] + "..."
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _placeholder_response(service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """What a dry run pretends AWS answered: placeholders, never invented values."""
    if (service, operation) == ("sts", "GetCallerIdentity"):
        return {"Account": "<account>"}
    if (service, operation) == ("cloudformation", "DescribeStacks"):
        stack = str(params.get("StackName"))
        keys = [
            "RawBucketName",
            "NotificationTopicArn",
            "DeadLetterQueueUrl",
            *(f"{d.title()}StateMachineArn" for d in DOMAINS),
        ]
        return {
            "Stacks": [
                {
                    "StackName": stack,
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": f"<{stack} output {k}>"} for k in keys],
                }
            ]
        }
    if (service, operation) == ("cloudformation", "ListStackResources"):
        stack = str(params.get("StackName"))
        return {
            "StackResourceSummaries": [
                {"ResourceType": cfn_type, "PhysicalResourceId": f"<each {cfn_type} listed for {stack}, if any>"}
                for cfn_type in RETAINED_TYPES
            ]
        }
    if (service, operation) == ("glue", "GetJobRuns"):
        return {"JobRuns": [{"LogGroupName": f"<log group of {params.get('JobName')}'s runs>"}]}
    if (service, operation) == ("logs", "DescribeLogGroups"):
        prefix = params.get("logGroupNamePrefix")
        return {"logGroups": [{"logGroupName": f"<each log group named {prefix}*>"}]}
    if (service, operation) == ("sqs", "CreateQueue"):
        return {"QueueUrl": f"<queue url of {params.get('QueueName')}>"}
    if (service, operation) == ("sqs", "GetQueueAttributes"):
        return {"Attributes": {"QueueArn": "<smoke queue arn>", "ApproximateNumberOfMessages": "1"}}
    if (service, operation) == ("sns", "Subscribe"):
        return {"SubscriptionArn": "<subscription arn>"}
    if (service, operation) == ("s3", "ListObjectVersions"):
        return {"Versions": [{"Key": "<each key>", "VersionId": "<each version>"}], "IsTruncated": False}
    return {}


# -- the inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleRun:
    """One domain's smoke run: the files it uploads to the inbox and how the run starts."""

    domain: str
    files: dict[str, bytes]  # file name -> content, uploaded to inbox/<domain>/
    triggered: bool  # started by the domain's S3 trigger (else the smoke starts it)
    date: str | None = None
    month: str | None = None

    def request(self, raw_bucket: str) -> dict[str, Any]:
        """The execution input (as `finlake run` and the triggers build it)."""
        uris = [f"s3://{raw_bucket}/{self.key(name)}" for name in sorted(self.files)]
        return RunRequest(
            domain=self.domain,
            trigger="s3" if self.triggered else "cli",
            date=self.date,
            month=self.month,
            inputs=tuple(uris),
            inputs_md5=tuple(
                hashlib.md5(self.files[name], usedforsecurity=False).hexdigest() for name in sorted(self.files)
            ),
        ).to_input()

    def execution_name(self, raw_bucket: str) -> str:
        """The name the run gets: the triggers name executions by the same rule."""
        return execution_name(self.domain, str(self.date or self.month), self.request(raw_bucket))

    def key(self, name: str) -> str:
        """The raw-bucket key of inbox file ``name``: ``inbox/<domain>/<name>``."""
        return f"inbox/{self.domain}/{name}"


def sample_runs(today: date | None = None) -> list[SampleRun]:
    """Small inputs from the project's sample generators, one run per domain (stocks, bndes, cards, bank)."""
    from finlake.samples import b3, bank, cards
    from finlake.samples.bndes import write_bndes_cassette

    today = today or date.fromisoformat(today_in_sao_paulo())
    session = max(b3.trading_days(today - timedelta(days=10), today - timedelta(days=1)))
    portfolio_day = max(
        d for d in (*b3.recomposition_days(session.year - 1), *b3.recomposition_days(session.year)) if d <= session
    )
    cotahist = f"COTAHIST_D{session:%d%m%Y}"
    stocks = {
        f"{cotahist}.ZIP": b3.cotahist_zip(cotahist, b3.cotahist_daily(session), f"{cotahist}.TXT"),
        f"IBOV-portfolio-{portfolio_day}.json": b3.ibov_portfolio_json(portfolio_day),
    }
    with tempfile.TemporaryDirectory(prefix="finlake-smoke-") as folder:
        cassette = write_bndes_cassette(Path(folder), years=range(today.year - 2, today.year - 1))
        bndes = {path.name: path.read_bytes() for path in sorted((cassette / "resources").glob("*.csv"))}
    card_month = "2024-09"
    invoices, payments = cards.generate(200, 1, end_month=card_month)[card_month]
    bank_month = default_partition("month")["month"]  # the bank trigger files an export under this month
    nuconta_month = "2024-09"
    first, last = date(2024, 9, 1), date(2024, 9, 30)
    return [
        SampleRun("stocks", stocks, triggered=False, date=session.isoformat()),
        SampleRun("bndes", bndes, triggered=False, date=today.isoformat()),
        SampleRun(
            "cards",
            {cards.invoice_file_name(card_month): invoices, cards.payment_file_name(card_month): payments},
            triggered=True,
            month=card_month,
        ),
        SampleRun(
            "bank",
            {bank.nuconta_file_name(first, last): bank.nuconta_csv(nuconta_month, nuconta_month)},
            triggered=True,
            month=bank_month,
        ),
    ]


# -- the smoke test ------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the smoke's report: a check, and whether it passed (None: not reached), with its detail."""

    check: str
    ok: bool | None = None  # None: not reached
    detail: str = ""


@dataclass
class Deployment:
    """What the smoke reads from the stacks' outputs."""

    raw_bucket: str
    topic_arn: str
    dead_letter_queue_url: str
    state_machines: dict[str, str]


@dataclass
class Smoke:
    """The smoke test of one throwaway deployment: deploy, run every domain and a failure, check emails, tear down.

    ``calls`` reaches AWS (or prints, ``--dry-run``); ``names`` carries the deployment's prefix; ``rows`` is the
    report, one `Row` per check.
    """

    calls: Calls
    names: Names
    region: str
    profile: str | None = None
    echo: Callable[[str], None] = print
    python: str = field(default_factory=lambda: sys.executable)
    rows: dict[str, Row] = field(default_factory=dict)
    account: str = ""
    queue_url: str = ""
    subscription_arn: str = ""
    executions: dict[str, str] = field(default_factory=dict)  # check -> execution ARN

    # -- the whole run ---------------------------------------------------------------------------

    def run(self, runs: Sequence[SampleRun]) -> bool:
        """Deploy, run, wait, report; always tear down. True when every row passed."""
        for check in self.checks(runs):
            self.rows[check] = Row(check)
        try:
            self._preflight()
            deployment = self._deploy()
            self._subscribe(deployment)
            self._start(deployment, runs)
            self._wait_for_runs(deployment, runs)
            self._wait_for_notifications(deployment, runs)
        except Exception as exc:  # every failure still ends in the teardown and the table
            self._fail_first_open(exc)
        finally:
            self._teardown()
        self._print_table()
        return all(row.ok for row in self.rows.values())

    @staticmethod
    def checks(runs: Sequence[SampleRun]) -> list[str]:
        """The report's checks, in order, for ``runs``."""
        return [
            "account bootstrapped for CDK",
            "deploy both stacks",
            "subscribe a queue to the topic",
            *(f"{run.domain} run SUCCEEDED" for run in runs),
            "forced failure run FAILED",
            "forced failure in the dead-letter queue",
            *(f"{run.domain} success email" for run in runs),
            "forced failure email",
            "dead-letter queue alarm notification",
            "no run failed to start",
            "teardown: nothing left",
        ]

    def _pass(self, check: str, detail: str = "") -> None:
        self.rows[check] = Row(check, True, detail)

    def _fail(self, check: str, detail: str) -> None:
        self.rows[check] = Row(check, False, detail)

    def _fail_first_open(self, exc: Exception) -> None:
        open_rows = [row for row in self.rows.values() if row.ok is None and not row.check.startswith("teardown")]
        if open_rows:
            self._fail(open_rows[0].check, f"{type(exc).__name__}: {exc}")

    # -- steps ------------------------------------------------------------------------------------

    def _preflight(self) -> None:
        self.account = str(self.calls.call("sts", "GetCallerIdentity")["Account"])
        try:
            self.calls.call("cloudformation", "DescribeStacks", StackName="CDKToolkit")
        except Exception as exc:
            if _error_code(exc) == "ValidationError":
                raise SmokeError(
                    f"no CDKToolkit stack in {self.region}: run `npx {CDK_CLI} bootstrap aws://{self.account}/{self.region}`"
                ) from None
            raise
        self._pass("account bootstrapped for CDK", f"account {self.account}, {self.region}")

    def deploy_argv(self) -> list[str]:
        """The ``cdk deploy --all`` command line of the smoke's deployment (`deploy_context`, the profile if given)."""
        argv = ["npx", "--yes", CDK_CLI, "deploy", "--app", f"{self.python} app.py", "--all"]
        argv += ["--require-approval", "never"]
        for key, value in deploy_context(self.names.prefix).items():
            argv += ["-c", f"{key}={value}"]
        if self.profile:
            argv += ["--profile", self.profile]
        return argv

    def _deploy(self) -> Deployment:
        self.calls.cdk(self.deploy_argv(), what="deploy")
        platform = self._outputs(self.names.stack("Platform"))
        pipelines = self._outputs(self.names.stack("Pipelines"))
        deployment = Deployment(
            raw_bucket=platform["RawBucketName"],
            topic_arn=platform["NotificationTopicArn"],
            dead_letter_queue_url=platform["DeadLetterQueueUrl"],
            state_machines={d: pipelines[f"{d.title()}StateMachineArn"] for d in DOMAINS},
        )
        self._pass("deploy both stacks", f"{self.names.stack('Platform')}, {self.names.stack('Pipelines')}")
        return deployment

    def _outputs(self, stack: str) -> dict[str, str]:
        stacks = self.calls.call("cloudformation", "DescribeStacks", StackName=stack)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def _subscribe(self, deployment: Deployment) -> None:
        """A queue that only the topic may send to, subscribed with the SNS envelope (Subject kept)."""
        name = f"{self.names.prefix}-smoke-notifications"
        self.queue_url = self.calls.call(
            "sqs", "CreateQueue", QueueName=name, Attributes={"SqsManagedSseEnabled": "true"}
        )["QueueUrl"]
        queue_arn = self.calls.call("sqs", "GetQueueAttributes", QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TopicSends",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": deployment.topic_arn}},
                }
            ],
        }
        self.calls.call(
            "sqs",
            "SetQueueAttributes",
            QueueUrl=self.queue_url,
            Attributes={"Policy": json.dumps(policy, separators=(",", ":"))},
        )
        self.subscription_arn = self.calls.call(
            "sns",
            "Subscribe",
            TopicArn=deployment.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self._pass("subscribe a queue to the topic", name)

    def _start(self, deployment: Deployment, runs: Sequence[SampleRun]) -> None:
        for run in runs:
            for name in sorted(run.files):
                self.calls.call(
                    "s3", "PutObject", Bucket=deployment.raw_bucket, Key=run.key(name), Body=run.files[name]
                )
            machine = deployment.state_machines[run.domain]
            execution = run.execution_name(deployment.raw_bucket)
            self.executions[f"{run.domain} run SUCCEEDED"] = _execution_arn(machine, execution)
            if not run.triggered:
                self.calls.call(
                    "stepfunctions",
                    "StartExecution",
                    stateMachineArn=machine,
                    name=execution,
                    input=json.dumps(run.request(deployment.raw_bucket)),
                )
        request = RunRequest(domain="cards", month=FORCED_FAILURE_MONTH).to_input()
        name = f"smoke-forced-failure-{self.names.prefix}"
        machine = deployment.state_machines["cards"]
        self.calls.call(
            "stepfunctions", "StartExecution", stateMachineArn=machine, name=name, input=json.dumps(request)
        )
        self.executions["forced failure run FAILED"] = _execution_arn(machine, name)

    def _wait_for_runs(self, deployment: Deployment, runs: Sequence[SampleRun]) -> None:
        expected = {
            **{f"{run.domain} run SUCCEEDED": "SUCCEEDED" for run in runs},
            "forced failure run FAILED": "FAILED",
        }
        deadline = time.monotonic() + RUN_TIMEOUT_S
        for check, status in expected.items():
            arn = self.executions[check]
            started_by = (
                "its S3 trigger" if any(r.triggered and check.startswith(r.domain) for r in runs) else "the smoke"
            )
            try:
                response = self.calls.poll(
                    "stepfunctions",
                    "DescribeExecution",
                    {"executionArn": arn},
                    until=f"execution {arn.rsplit(':', 1)[-1]} (started by {started_by}) has ended",
                    done=lambda r: r is not None and r.get("status") not in (None, "RUNNING", "PENDING_REDRIVE"),
                    every_s=20,
                    timeout_s=max(60.0, deadline - time.monotonic()),
                    pending_errors=("ExecutionDoesNotExist",),
                )
            except SmokeError as exc:
                self._fail(check, str(exc))
                continue
            got = (response or {}).get("status", status)  # a dry run answers nothing
            if got == status:
                self._pass(check, arn.rsplit(":", 1)[-1])
            else:
                self._fail(
                    check, f"{got}: {(response or {}).get('error', '')} {(response or {}).get('cause', '')[:300]}"
                )
        attributes = self.calls.call(
            "sqs",
            "GetQueueAttributes",
            QueueUrl=deployment.dead_letter_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        waiting = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )
        if waiting:
            self._pass("forced failure in the dead-letter queue", f"{waiting} message(s)")
        else:
            self._fail("forced failure in the dead-letter queue", "the dead-letter queue is empty")

    def _wait_for_notifications(self, deployment: Deployment, runs: Sequence[SampleRun]) -> None:
        inbox = Inbox(
            domains=[run.domain for run in runs],
            forced_failure=self.executions["forced failure run FAILED"].rsplit(":", 1)[-1],
            alarm_name=self.names.alarm(DEAD_LETTER_ALARM),
        )

        def done(response: dict[str, Any] | None) -> bool:
            messages = (response or {}).get("Messages", [])
            inbox.add(messages)
            if messages:
                self.calls.call(
                    "sqs",
                    "DeleteMessageBatch",
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
            return inbox.complete()

        with contextlib.suppress(SmokeError):  # the rows say what did not arrive
            self.calls.poll(
                "sqs",
                "ReceiveMessage",
                {"QueueUrl": self.queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 20},
                until=f"{inbox.describe()} (each batch received is deleted: sqs DeleteMessageBatch)",
                done=done,
                every_s=0,
                timeout_s=NOTIFICATION_TIMEOUT_S,
            )
        dry = isinstance(self.calls, DryRunCalls)
        for check, subject in inbox.results().items():
            if subject or dry:
                self._pass(check, subject or "(dry run)")
            else:
                self._fail(check, "no such message reached the topic")
        if inbox.start_failures:
            self._fail("no run failed to start", "; ".join(inbox.start_failures))
        else:
            self._pass("no run failed to start", "(dry run)" if dry else "no start failure email")

    # -- teardown ---------------------------------------------------------------------------------

    def _teardown(self) -> None:
        """Delete what the smoke made, whatever state it is in; each failure is noted, the rest goes on."""
        self.echo("== teardown")
        problems: list[str] = []
        for what, action, missing in self._teardown_steps(problems):
            try:
                action()
            except Exception as exc:
                if _error_code(exc) not in missing:
                    problems.append(f"{what}: {type(exc).__name__}: {exc}")
        if problems:
            self._fail("teardown: nothing left", "; ".join(problems))
        else:
            self._pass("teardown: nothing left", f"KMS key deletion scheduled in {KEY_DELETION_DAYS} days")

    def _teardown_steps(self, problems: list[str]) -> Iterator[tuple[str, Callable[[], Any], tuple[str, ...]]]:
        """(what, action, error codes that mean "already gone"), in order.

        A generator: the retained resources are listed before the stacks go, and deleted after.
        """
        call = self.calls.call
        if self.subscription_arn:
            yield "unsubscribe", partial(call, "sns", "Unsubscribe", SubscriptionArn=self.subscription_arn), ()
        if self.queue_url:
            yield "smoke queue", partial(call, "sqs", "DeleteQueue", QueueUrl=self.queue_url), ()
        retained: dict[str, set[str]] = {t: set() for t in RETAINED_TYPES}
        stacks = [self.names.stack("Pipelines"), self.names.stack("Platform")]  # dependants first
        for stack in stacks:
            yield f"resources of {stack}", partial(self._collect_retained, stack, retained), ("ValidationError",)
        for spec in DOMAINS.values():
            for job in spec.glue_jobs:
                yield f"{job.step} job logs", partial(self._collect_job_logs, spec.name, job.step, retained), ()
        for stack in stacks:
            yield f"delete {stack}", partial(self._delete_stack, stack), ()
        account = self.account or "<account>"
        buckets = retained["AWS::S3::Bucket"] | {self.names.bucket(zone, account, self.region) for zone in ZONES}
        for bucket in sorted(buckets, key=_zone_order):
            yield f"bucket {bucket}", partial(self._delete_bucket, bucket), ("NoSuchBucket",)
        names = {self.names.secret(spec.name, s.key) for spec in DOMAINS.values() for s in spec.secrets}
        for secret in sorted(retained["AWS::SecretsManager::Secret"] | names):
            delete = partial(call, "secretsmanager", "DeleteSecret", SecretId=secret, ForceDeleteWithoutRecovery=True)
            yield f"secret {secret}", delete, ("ResourceNotFoundException",)
        groups = retained["AWS::Logs::LogGroup"] | {self.names.state_machine_logs(d) for d in DOMAINS}
        for group in sorted(groups):
            delete = partial(call, "logs", "DeleteLogGroup", logGroupName=group)
            yield f"log group {group}", delete, ("ResourceNotFoundException",)
        for queue in sorted(retained["AWS::SQS::Queue"]):
            delete = partial(call, "sqs", "DeleteQueue", QueueUrl=queue)
            yield f"queue {queue}", delete, ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
        for key in sorted(retained["AWS::KMS::Key"]):
            delete = partial(call, "kms", "ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=KEY_DELETION_DAYS)
            yield f"key {key}", delete, ("NotFoundException", "KMSInvalidStateException")

    def _collect_retained(self, stack: str, retained: dict[str, set[str]]) -> None:
        token: str | None = None
        while True:
            page = self.calls.call(
                "cloudformation", "ListStackResources", StackName=stack, **({"NextToken": token} if token else {})
            )
            for resource in page.get("StackResourceSummaries", []):
                physical = resource.get("PhysicalResourceId")
                if resource.get("ResourceType") in retained and physical:
                    retained[resource["ResourceType"]].add(physical)
            token = page.get("NextToken")
            if not token:
                return

    def _collect_job_logs(self, domain: str, step: str, retained: dict[str, set[str]]) -> None:
        """The Glue log groups of this deployment's job runs.

        Glue writes each run's logs to groups named after the security configuration (``JobRun.LogGroupName``, then
        ``/output`` and ``/error``). Only groups that carry this deployment's prefix are taken: a shared
        ``/aws-glue/jobs`` group holds other jobs' logs too.
        """
        runs = self.calls.call("glue", "GetJobRuns", JobName=self.names.glue_job(domain, step)).get("JobRuns", [])
        for base in {r["LogGroupName"] for r in runs if r.get("LogGroupName")}:
            found = self.calls.call("logs", "DescribeLogGroups", logGroupNamePrefix=base).get("logGroups", [])
            retained["AWS::Logs::LogGroup"] |= {
                g["logGroupName"] for g in found if self.names.prefix in g["logGroupName"]
            }

    def _delete_stack(self, stack: str) -> None:
        try:
            self.calls.call("cloudformation", "DescribeStacks", StackName=stack)
        except Exception as exc:
            if _error_code(exc) == "ValidationError":  # never created, or gone
                return
            raise
        self.calls.call("cloudformation", "DeleteStack", StackName=stack)

        def gone(response: dict[str, Any] | None) -> bool:
            if response is None:
                return True
            status = response["Stacks"][0]["StackStatus"]
            if status == "DELETE_FAILED":
                raise SmokeError(f"{stack}: DELETE_FAILED ({response['Stacks'][0].get('StackStatusReason', '')})")
            return bool(status == "DELETE_COMPLETE")

        self.calls.poll(
            "cloudformation",
            "DescribeStacks",
            {"StackName": stack},
            until=f"stack {stack} is deleted",
            done=gone,
            every_s=15,
            timeout_s=STACK_TIMEOUT_S,
            pending_errors=("ValidationError",),
        )

    def _delete_bucket(self, bucket: str) -> None:
        """Delete every object version and delete marker, then the bucket.

        The bucket is versioned, and S3 deletes no non-empty bucket.
        """
        while True:
            page = self.calls.call("s3", "ListObjectVersions", Bucket=bucket, MaxKeys=1000)
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if objects:
                self.calls.call("s3", "DeleteObjects", Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            if not page.get("IsTruncated"):
                break
        self.calls.call("s3", "DeleteBucket", Bucket=bucket)

    # -- report ------------------------------------------------------------------------------------

    def _print_table(self) -> None:
        width = max(len(row.check) for row in self.rows.values())
        self.echo("")
        self.echo(f"{'check':<{width}}  result  detail")
        planned = isinstance(self.calls, DryRunCalls)
        for row in self.rows.values():
            result = "plan" if planned else {True: "PASS", False: "FAIL", None: "-"}[row.ok]
            self.echo(f"{row.check:<{width}}  {result:<6}  {row.detail}")


def _execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


def _zone_order(bucket: str) -> tuple[int, str]:
    return (1 if "-access-logs-" in bucket else 0, bucket)


@dataclass
class Inbox:
    """The notifications read from the smoke queue (SNS envelopes), matched to what is awaited."""

    domains: list[str]
    forced_failure: str  # execution name
    alarm_name: str  # the dead-letter queue's alarm, Names.alarm(DEAD_LETTER_ALARM)
    subjects: dict[str, str] = field(default_factory=dict)  # check -> subject of the message that met it
    # Subjects of the notifier's emails for a starter that could not start a run (S3 trigger,
    # ScheduleStart): functions/notifier/notify.py failure_from_invocation_record.
    start_failures: list[str] = field(default_factory=list)

    def checks(self) -> list[str]:
        """The notifications awaited: a success email per domain, the forced failure's email, the dead-letter alarm."""
        return [
            *(f"{d} success email" for d in self.domains),
            "forced failure email",
            "dead-letter queue alarm notification",
        ]

    def describe(self) -> str:
        """What is awaited, in words, for the wait's message."""
        return (
            f"the topic has sent: a success email for each of {', '.join(self.domains)}; the failure email of "
            f"{self.forced_failure}; the ALARM of {self.alarm_name!r}"
        )

    def add(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Match SQS ``messages`` (SNS envelopes as JSON bodies) to the awaited checks; other bodies are skipped."""
        for message in messages:
            try:
                envelope = json.loads(message.get("Body", "{}"))
            except ValueError:
                continue
            for check in self._matches(str(envelope.get("Subject") or ""), str(envelope.get("Message") or "")):
                self.subjects.setdefault(check, str(envelope.get("Subject") or ""))

    def _matches(self, subject: str, body: str) -> Iterator[str]:
        for domain in self.domains:
            if subject.startswith(f"[finlake] {domain} ") and subject.endswith(" succeeded"):
                yield f"{domain} success email"
            if subject in (f"[finlake] {domain} FAILED at {starter}" for starter in STARTERS):
                self.start_failures.append(subject)
        if self.forced_failure in body and not subject.endswith(" succeeded"):
            yield "forced failure email"
        # CloudWatch's subject is 'ALARM: "<alarm name>" in <Region>' (cut at 100 characters); the
        # JSON message names the alarm in full.
        if subject.startswith(f'ALARM: "{self.alarm_name}'):
            try:
                alarm = json.loads(body)
            except ValueError:
                return
            named = isinstance(alarm, dict) and alarm.get("AlarmName") == self.alarm_name
            if named and alarm.get("NewStateValue") == "ALARM":
                yield "dead-letter queue alarm notification"

    def complete(self) -> bool:
        """Whether every awaited notification has arrived."""
        return all(check in self.subjects for check in self.checks())

    def results(self) -> dict[str, str]:
        """Check -> the subject of the message that met it ("" when none did)."""
        return {check: self.subjects.get(check, "") for check in self.checks()}


def deploy_context(prefix: str) -> dict[str, str]:
    """The ``-c`` options of the smoke's deploy.

    Its own prefix, no email subscription (the smoke reads the topic through its queue), no schedule firing during the
    run.
    """
    context = {"finlake.prefix": prefix, "finlake.notification_emails": "[]"}
    context |= {f"finlake.schedules.{domain}.enabled": "false" for domain in DOMAINS}
    return context


def default_prefix() -> str:
    """A fresh deployment prefix: ``finlakesmoke`` and 6 random hex digits."""
    return f"finlakesmoke{secrets.token_hex(3)}"


def main(argv: list[str] | None = None, *, echo: Callable[[str], None] = print) -> int:
    """The ``python -m finlake.smoke`` (``make aws-smoke``) entry point.

    Returns
    -------
    int
        The exit code: 0 when every check passed, else 1 (argparse exits 2 when no region is given).
    """
    parser = argparse.ArgumentParser(prog="python -m finlake.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print every AWS call it would make, make none")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--profile", default=os.environ.get("AWS_PROFILE"))
    parser.add_argument("--prefix", default=None, help="the deployment's name prefix (default: finlakesmoke<6 hex>)")
    args = parser.parse_args(argv)
    region = args.region or ("us-east-1" if args.dry_run else None)
    if not region:
        parser.error("no AWS region: pass --region or set AWS_REGION")
    names = Names(args.prefix or default_prefix())
    calls: Calls = DryRunCalls(echo) if args.dry_run else LiveCalls(args.profile, region, echo)
    mode = "dry run: no call is made" if args.dry_run else "live"
    stacks = f"{names.stack('Platform')} and {names.stack('Pipelines')}"
    echo(f"finlake aws-smoke ({mode}): prefix {names.prefix}, region {region}, stacks {stacks}")
    smoke = Smoke(calls=calls, names=names, region=region, profile=args.profile, echo=echo)
    ok = smoke.run(sample_runs())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
