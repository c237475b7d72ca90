"""Readable failure emails (functions/notifier): one format for every failure path (a caught step error,
an execution that failed, timed out or was stopped, a Glue job run, a run that could not start), and
the handlers on moto."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.notifier import handlers, notify
from tests.conftest import load_event

EXECUTION_ARN = "arn:aws:states:sa-east-1:123456789012:execution:finlake-bank:bank-2024-10-1a2b3c4d"
CONSOLE = (
    "Console: https://sa-east-1.console.aws.amazon.com/states/home?region=sa-east-1"
    f"#/v2/executions/details/{EXECUTION_ARN}"
)
# What Step Functions puts in Cause when a Lambda function raises (the function's error payload).
LAMBDA_CAUSE = json.dumps(
    {
        "errorType": "NubankLoginRejected",
        "errorMessage": "Nubank rejected the login: HTTP 403",
        "stackTrace": [
            '  File "/var/task/functions/bank/handlers.py", line 41, in fetch\n    return _done(fetch(event))\n',
            '  File "/var/task/functions/bank/nubank_api.py", line 88, in login\n    raise NubankLoginRejected(...)\n',
        ],
    }
)
# What Step Functions puts in Cause when a glue:startJobRun.sync run fails (the job run).
GLUE_CAUSE = json.dumps(
    {
        "AllocatedCapacity": 2,
        "Arguments": {"--DOMAIN": "stocks", "--run_id": "stocks-2025-03-12-9f8e7d6c"},
        "Attempt": 0,
        "CompletedOn": 1741816023000,
        "ErrorMessage": (
            "AnalysisException: [PATH_NOT_FOUND] Path does not exist: "
            "s3://finlake-curated-123456789012-sa-east-1/staging/stocks/2025-03-12/quotes.\n"
            "  at org.apache.spark.sql.errors.QueryCompilationErrors$.dataPathNotExistError"
        ),
        "ExecutionTime": 75,
        "GlueVersion": "5.0",
        "Id": "jr_0a1b2c3d4e5f",
        "JobName": "finlake-stocks-transform",
        "JobRunState": "FAILED",
        "NumberOfWorkers": 2,
        "WorkerType": "G.1X",
    }
)


def task_payload(error: str, cause: str, *, failed_state: str = "Fetch", state_input: Any = None) -> dict[str, Any]:
    """The Payload of the NotifyFailure state, as Step Functions builds it."""
    return {
        "domain": "bank",
        "execution_name": "bank-2024-10-1a2b3c4d",
        "execution_arn": EXECUTION_ARN,
        "failed_state": failed_state,
        "error": {"Error": error, "Cause": cause},
        "state_input": state_input if state_input is not None else {"domain": "bank", "month": "2024-10"},
    }


def email_for(payload: dict[str, Any]) -> notify.Email:
    return assert_readable(notify.format_email(notify.failure_from_task(payload)))


LABELS = ("Domain: ", "Failed state: ", "Error: ", "Cause: ", "Console: https://")


def assert_readable(email: notify.Email | dict[str, str]) -> notify.Email:
    """What a person reads: a one-line subject, then "Label: value" lines; no JSON blob, no quoted
    line (SNS shows an EventBridge multi-line input that way), no stack trace."""
    subject, message = (email.subject, email.message) if isinstance(email, notify.Email) else email.values()
    assert subject.startswith("[finlake] ") and "\n" not in subject and len(subject) <= 100, subject
    lines = message.splitlines()
    assert lines[0].startswith("finlake ") and lines[0].endswith("."), lines[0]
    for label in LABELS:
        assert sum(line.startswith(label) for line in lines) == 1, (label, message)
    for line in lines:
        assert not (line.startswith('"') and line.endswith('"')), f"quoted line: {line}"
        assert '{"' not in line and '":' not in line and "[{" not in line, f"JSON in: {line}"
        assert "stackTrace" not in line and "Traceback" not in line and 'File "' not in line, line
        assert len(line) <= 2 * notify.MAX_CAUSE_CHARS
    assert lines[-1] and lines[-2] == "", "the last paragraph says what to do next"
    return email if isinstance(email, notify.Email) else notify.Email(subject, message)


def test_a_lambda_error_becomes_its_message_without_the_stack_trace():
    email = email_for(task_payload("NubankLoginRejected", LAMBDA_CAUSE))

    assert email.subject == "[finlake] bank FAILED at Fetch"
    assert email.message.splitlines() == [
        "finlake run failed.",
        "",
        "Domain: bank",
        "Partition: 2024-10",
        "Execution: bank-2024-10-1a2b3c4d",
        "Failed state: Fetch",
        "Error: NubankLoginRejected",
        "Cause: Nubank rejected the login: HTTP 403",
        CONSOLE,
        "",
        "The original input is in the dead-letter queue; redrive it once the cause is fixed.",
    ]
    assert "stackTrace" not in email.message and "handlers.py" not in email.message


def test_a_glue_job_run_becomes_the_job_name_and_the_first_line_of_its_error():
    manifest = {"run_id": "stocks-2025-03-12-9f8e7d6c", "partition_label": "2025-03-12", "sources": []}
    payload = task_payload("States.TaskFailed", GLUE_CAUSE, failed_state="Transform", state_input=manifest)
    payload["domain"] = "stocks"
    email = email_for(payload)

    assert email.subject == "[finlake] stocks FAILED at Transform"
    assert (
        "Cause: Glue job finlake-stocks-transform: AnalysisException: [PATH_NOT_FOUND] Path does not exist: "
        "s3://finlake-curated-123456789012-sa-east-1/staging/stocks/2025-03-12/quotes.\n"
    ) in email.message
    assert "Partition: 2025-03-12" in email.message  # the manifest's label, once Fetch has built it
    assert "QueryCompilationErrors" not in email.message and "AllocatedCapacity" not in email.message


def test_a_glue_timeout_without_a_message_says_so():
    run = {"JobName": "finlake-cards-transform", "JobRunState": "TIMEOUT", "Timeout": 45}
    assert notify.readable_cause("States.TaskFailed", json.dumps(run)) == (
        "Glue job finlake-cards-transform timed out after 45 minutes."
    )


def test_a_state_timeout_without_a_cause_names_the_state():
    email = email_for(task_payload("States.Timeout", "", failed_state="Validate"))
    assert "Error: States.Timeout" in email.message
    assert "Cause: Validate did not finish within its time limit (TimeoutSeconds)." in email.message


def test_a_plain_text_cause_is_kept_as_one_paragraph():
    cause = "An error occurred while executing the state 'Catalog'.\n  The JSONPath '$.counts' could not be found."
    assert notify.readable_cause("States.Runtime", cause) == (
        "An error occurred while executing the state 'Catalog'. The JSONPath '$.counts' could not be found."
    )
    assert notify.readable_cause("States.Runtime", "{not json") == "{not json"
    assert notify.readable_cause("Oops", None) == "No cause was reported."


def test_a_huge_cause_is_cut_to_a_readable_length():
    cause = json.dumps({"errorType": "ValueError", "errorMessage": "bad row " * 500})
    text = notify.readable_cause("ValueError", cause)
    assert len(text) == notify.MAX_CAUSE_CHARS and text.endswith("…")


def test_no_partition_line_when_the_run_never_named_one():
    email = email_for(task_payload("NubankLoginRejected", LAMBDA_CAUSE, state_input={"domain": "bank"}))
    assert "Partition:" not in email.message
    for label in ("Domain: ", "Execution: ", "Failed state: ", "Error: ", "Cause: ", "Console: "):
        assert label in email.message


# -- the status-change handler, on moto Step Functions + SNS -> SQS -----------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in {
        "AWS_DEFAULT_REGION": "sa-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="finlake-notifications")["TopicArn"]
        outbox = sqs.create_queue(QueueName="outbox")["QueueUrl"]
        outbox_arn = sqs.get_queue_attributes(QueueUrl=outbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=outbox_arn)
        monkeypatch.setenv("TOPIC_ARN", topic)
        role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        yield {
            "sfn": boto3.client("stepfunctions"),
            "sns": sns,
            "sqs": sqs,
            "topic": topic,
            "outbox": outbox,
            "role": role,
        }


def emails(aws: dict[str, Any]) -> list[dict[str, str]]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["outbox"], MaxNumberOfMessages=10).get("Messages", [])
    return [
        {"subject": json.loads(m["Body"])["Subject"], "message": json.loads(m["Body"])["Message"]} for m in messages
    ]


def entered(sfn: Any, execution: str, state: str) -> bool:
    events = sfn.get_execution_history(executionArn=execution)["events"]
    return any(e.get("stateEnteredEventDetails", {}).get("name") == state for e in events)


def run(aws: dict[str, Any], name: str, definition: dict[str, Any], request: dict[str, Any], *, stop: bool = False):
    """Run ``definition`` as state machine ``name`` on moto; return the status-change event EventBridge sends."""
    sfn = aws["sfn"]
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=aws["role"])
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], name=f"{request['domain']}-run", input=json.dumps(request)
    )["executionArn"]
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        if stop and entered(sfn, execution, "Transform"):  # stop it while Transform runs
            sfn.stop_execution(executionArn=execution)
            stop = False
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2025-03-12T21:05:09Z",
        "region": "sa-east-1",
        "resources": [execution],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": machine["stateMachineArn"],
            "name": described["name"],
            "status": described["status"],
            "startDate": 1741813509000,
            "stopDate": 1741813529000,
            "input": described["input"],
            "inputDetails": {"included": True},
            "output": None,
            "error": described.get("error"),
            "cause": described.get("cause"),
        },
    }


def status_change(aws: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    executions = handlers.StepFunctionsExecutions(aws["sfn"])
    return handlers.handle_status_change(event, executions, handlers.TopicPublisher(aws["sns"], aws["topic"]))


CAUGHT = {  # the skeleton of every finlake definition's failure path
    "StartAt": "Fetch",
    "States": {
        "Fetch": {"Type": "Pass", "Next": "FetchFailed"},
        "FetchFailed": {"Type": "Pass", "Result": "Fetch", "ResultPath": "$.failed_state", "Next": "NotifyFailure"},
        "NotifyFailure": {"Type": "Pass", "ResultPath": None, "Next": "Fail"},
        "Fail": {"Type": "Fail", "Error": "NubankLoginRejected", "Cause": LAMBDA_CAUSE},
    },
}
SLOW_TRANSFORM = {
    "StartAt": "Fetch",
    "TimeoutSeconds": 1,
    "States": {
        "Fetch": {"Type": "Pass", "Next": "Transform"},
        "Transform": {"Type": "Wait", "Seconds": 30, "End": True},
    },
}


def test_a_failure_notify_failure_already_emailed_sends_nothing(aws):
    event = run(aws, "finlake-bank", CAUGHT, {"domain": "bank", "month": "2024-10"})
    assert event["detail"]["status"] == "FAILED"

    assert status_change(aws, event) == {"sent": False, "reason": "NotifyFailure already ran"}
    assert emails(aws) == []


def test_a_run_that_timed_out_gets_a_readable_email(aws):
    event = run(aws, "finlake-stocks", SLOW_TRANSFORM, {"domain": "stocks", "date": "2025-03-12"})
    assert event["detail"]["status"] == "TIMED_OUT"

    result = status_change(aws, event)

    [email] = emails(aws)
    assert_readable(email)
    assert result["sent"] is True and email["subject"] == result["subject"] == "[finlake] stocks TIMED OUT at Transform"
    lines = email["message"].splitlines()
    assert lines[0] == "finlake run timed out."
    assert "Domain: stocks" in lines and "Partition: 2025-03-12" in lines and "Execution: stocks-run" in lines
    assert "Failed state: Transform" in lines and "Error: States.Timeout" in lines
    assert (
        "Cause: The run did not finish within the state machine's time limit (TimeoutSeconds); "
        "Step Functions stopped it while Transform was running."
    ) in lines
    assert "dead-letter queue" in lines[-1] and "did not run" in lines[-1]


def test_a_stopped_run_gets_a_readable_email_through_the_lambda_entry_point(aws, lambda_context):
    definition = {**SLOW_TRANSFORM, "TimeoutSeconds": 60}
    event = run(aws, "finlake-cards", definition, {"domain": "cards", "month": "2024-09"}, stop=True)
    assert event["detail"]["status"] == "ABORTED"

    result = handlers.handler(event, lambda_context)

    [email] = emails(aws)
    assert_readable(email)
    assert result["sent"] is True and email["subject"] == "[finlake] cards ABORTED at Transform"
    assert "Error: ExecutionAborted" in email["message"]
    assert "Cause: The run was stopped (StopExecution) while Transform was running." in email["message"]


def test_other_state_machines_are_ignored(aws):
    event = run(aws, "someone-else", CAUGHT, {"domain": "bank"})
    assert status_change(aws, event) == {"sent": False, "reason": "not a finlake state machine"}
    assert emails(aws) == []


def test_the_lambda_entry_point_formats_the_notify_failure_payload(aws, lambda_context):
    result = handlers.handler(task_payload("NubankLoginRejected", LAMBDA_CAUSE), lambda_context)

    [email] = emails(aws)
    assert_readable(email)
    assert result["sent"] is True and email["subject"] == "[finlake] bank FAILED at Fetch"
    assert "Cause: Nubank rejected the login: HTTP 403" in email["message"]
    assert "stackTrace" not in email["message"]


def test_history_facts_take_the_last_state_and_error():
    events = [
        {"type": "ExecutionStarted", "executionStartedEventDetails": {"input": "{}"}},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Validate"}},
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "States.TaskFailed", "cause": GLUE_CAUSE}},
        {"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "States.Runtime", "cause": "bad path"}},
    ]
    facts = notify.read_history(events)
    assert facts == notify.HistoryFacts(last_state="Validate", error="States.Runtime", cause="bad path", notified=False)


def test_an_uncaught_failure_gets_a_readable_email(aws):
    """A definition error no Catch handles (here: Fail outside the failure path) ends the run FAILED."""
    definition = {
        "StartAt": "Fetch",
        "States": {"Fetch": {"Type": "Fail", "Error": "SourceUnavailable", "Cause": "bad path"}},
    }
    event = run(aws, "finlake-bndes", definition, {"domain": "bndes", "date": "2025-03-12"})

    assert status_change(aws, event)["sent"] is True
    [email] = emails(aws)
    assert_readable(email)
    assert email["subject"] == "[finlake] bndes FAILED at Fetch" and "Cause: bad path" in email["message"]


# -- NotifyFailure itself failing ---------------------------------------------------------------------


def _notify_events(*outcomes: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Fetch"}},
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "SourceUnavailable", "cause": "HTTP 503"}},
        {"type": "PassStateEntered", "stateEnteredEventDetails": {"name": "FetchFailed"}},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "NotifyFailure"}},
    ]
    for outcome in outcomes:
        events.append({"type": "TaskScheduled", "taskScheduledEventDetails": {}})
        if outcome == "ok":
            events.append({"type": "TaskSucceeded", "taskSucceededEventDetails": {"output": "{}"}})
        else:
            events.append({"type": "TaskFailed", "taskFailedEventDetails": {"error": "KMS.AccessDenied", "cause": "x"}})
    events.append({"type": "TaskStateExited", "stateExitedEventDetails": {"name": "NotifyFailure"}})
    events.append({"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "SendToDeadLetterQueue"}})
    return events


def test_a_notify_failure_that_failed_for_good_leaves_the_email_to_the_status_change_rule():
    facts = notify.read_history(_notify_events("failed", "failed", "failed", "failed"))
    assert facts.notified is False
    assert (facts.error, facts.cause) == ("SourceUnavailable", "HTTP 503")  # the step's error, not NotifyFailure's
    failure = notify.failure_from_status_change(
        {
            "status": "FAILED",
            "name": "bndes-run",
            "stateMachineArn": "arn:aws:states:sa-east-1:1:stateMachine:finlake-bndes",
        },
        facts,
        '{"domain": "bndes", "date": "2025-03-12"}',
    )
    assert failure is not None
    email = assert_readable(notify.format_email(failure))
    assert "Error: SourceUnavailable" in email.message


def test_a_notify_failure_that_succeeded_on_a_retry_has_emailed():
    assert notify.read_history(_notify_events("failed", "ok")).notified is True
    assert notify.read_history(_notify_events("ok")).notified is True


# -- Glue job runs ------------------------------------------------------------------------------------


GLUE_EVENT = load_event("glue_job_state_change_failed.json")


@pytest.fixture
def glue(aws: dict[str, Any]) -> dict[str, Any]:
    client = boto3.client("glue")
    client.create_job(
        Name="finlake-stocks-transform", Role=aws["role"], Command={"Name": "glueetl", "ScriptLocation": "s3://a/b.py"}
    )
    return {**aws, "glue": client}


def _glue_event(glue: dict[str, Any], arguments: dict[str, str]) -> dict[str, Any]:
    run_id = glue["glue"].start_job_run(JobName="finlake-stocks-transform", Arguments=arguments)["JobRunId"]
    return {**GLUE_EVENT, "detail": {**GLUE_EVENT["detail"], "jobRunId": run_id}}


def glue_event(glue: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    publisher = handlers.TopicPublisher(glue["sns"], glue["topic"])
    return handlers.handle_glue_event(event, handlers.GlueJobRuns(glue["glue"]), publisher)


def test_a_glue_run_started_by_hand_gets_a_readable_email(glue):
    event = _glue_event(glue, {"--start_date": "2025-03-10", "--end_date": "2025-03-12"})

    result = glue_event(glue, event)

    [email] = emails(glue)
    assert_readable(email)
    assert result["sent"] is True and email["subject"] == "[finlake] stocks FAILED at Glue job finlake-stocks-transform"
    lines = email["message"].splitlines()
    assert lines[0] == "finlake Glue job run failed."
    assert "Partition: 2025-03-10 to 2025-03-12" in lines
    assert f"Job run: {event['detail']['jobRunId']}" in lines
    assert "Cause: AnalysisException: [PATH_NOT_FOUND] Path does not exist: " in email["message"]
    assert (
        "Console: https://sa-east-1.console.aws.amazon.com/gluestudio/home?region=sa-east-1"
        f"#/job/finlake-stocks-transform/run/{event['detail']['jobRunId']}"
    ) in lines


def test_a_glue_run_a_workflow_started_is_left_to_the_workflows_email(glue):
    event = _glue_event(glue, {"--run_id": "stocks-2025-03-12-9f8e7d6c"})
    assert glue_event(glue, event) == {"sent": False, "reason": "started by execution stocks-2025-03-12-9f8e7d6c"}
    assert emails(glue) == []


def test_a_glue_run_whose_arguments_cannot_be_read_still_emails(glue):
    event = {**GLUE_EVENT, "detail": {**GLUE_EVENT["detail"], "state": "TIMEOUT", "message": ""}}  # no such run

    assert glue_event(glue, event)["sent"] is True

    [email] = emails(glue)
    assert_readable(email)
    assert email["subject"] == "[finlake] stocks TIMED OUT at Glue job finlake-stocks-transform"
    assert "Cause: Glue job finlake-stocks-transform did not finish within its timeout." in email["message"]


def test_other_glue_jobs_are_ignored_through_the_lambda_entry_point(glue, lambda_context):
    event = {**GLUE_EVENT, "detail": {**GLUE_EVENT["detail"], "jobName": "someone-elses-job"}}
    assert handlers.handler(event, lambda_context) == {"sent": False, "reason": "not a finlake Glue job"}


@pytest.fixture
def other_prefix(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The notifier of a deployment under another prefix: the environment its stack sets
    (stacks/observability.py), read when the module loads."""
    monkeypatch.setenv("STATE_MACHINE_PREFIX", "smoketest1-")
    monkeypatch.setenv("GLUE_JOB_PREFIX", "smoketest1-")
    importlib.reload(notify)
    yield
    monkeypatch.delenv("STATE_MACHINE_PREFIX")
    monkeypatch.delenv("GLUE_JOB_PREFIX")
    importlib.reload(notify)


def test_another_deployment_s_notifier_takes_only_its_own_jobs_and_runs(other_prefix):
    assert notify.is_finlake_job("smoketest1-stocks-transform") and not notify.is_finlake_job(
        "finlake-stocks-transform"
    )
    assert notify.job_domain("smoketest1-stocks-transform") == "stocks"
    assert notify.job_domain("finlake-stocks-transform") == "unknown"
    assert notify.is_finlake_machine("arn:aws:states:sa-east-1:1:stateMachine:smoketest1-bndes")
    assert not notify.is_finlake_machine("arn:aws:states:sa-east-1:1:stateMachine:finlake-bndes")
    ignored = handlers.handle_glue_event(GLUE_EVENT, runs=None, publisher=None)
    assert ignored == {"sent": False, "reason": "not a finlake Glue job"}  # the default deployment's job


# -- runs that could not start (Lambda's invocation record) -----------------------------------------


@pytest.fixture
def dead_letters(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    queue = aws["sqs"].create_queue(QueueName="finlake-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", queue)
    return {**aws, "dlq": queue}


def _dead_letters(aws: dict[str, Any]) -> list[Any]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_scheduled_start_that_failed_emails_then_keeps_the_record(dead_letters, lambda_context):
    record = load_event("lambda_record_schedule_start.json")

    result = handlers.handler(record, lambda_context)

    [email] = emails(dead_letters)
    assert_readable(email)
    assert result["sent"] is True and email["subject"] == "[finlake] stocks FAILED at ScheduleStart"
    lines = email["message"].splitlines()
    assert lines[0] == "finlake run could not start."
    assert "Partition: 2025-03-12" in lines  # 00:00 UTC on the 13th is the evening of the 12th in Sao Paulo
    assert "Scheduled for: 2025-03-13T00:00:00Z" in lines and "Attempts: 3" in lines
    assert "Error: AccessDeniedException" in lines
    assert "Function: FinlakePipelines-StocksScheduleStartFunction00A-Ab12Cd34Ef56" in lines
    assert lines[-1].endswith("finlake --aws run stocks --date 2025-03-12")
    assert _dead_letters(dead_letters) == [record]  # unchanged, where it used to go directly


def test_an_s3_trigger_that_could_not_even_import_gets_a_readable_email(dead_letters, lambda_context):
    record = load_event("lambda_record_s3_trigger.json")

    handlers.handler(record, lambda_context)

    [email] = emails(dead_letters)
    assert_readable(email)
    assert email["subject"] == "[finlake] bank FAILED at Trigger"
    assert "Uploaded file: s3://finlake-raw-123456789012-sa-east-1/inbox/bank/nubank-2024-09.csv" in email["message"]
    assert "Cause: Unable to import module 'functions.bank.handlers': No module named 'ofxtools'" in email["message"]
    assert _dead_letters(dead_letters) == [record]


def test_a_start_throttled_past_its_maximum_age_says_so():
    record = {**load_event("lambda_record_schedule_start.json"), "responsePayload": None}
    record["requestContext"] = {**record["requestContext"], "condition": "EventAgeExceeded"}
    email = assert_readable(notify.format_email(notify.failure_from_invocation_record(record)))
    assert "Error: EventAgeExceeded" in email.message
    assert "Cause: the event waited longer than its maximum age" in email.message
