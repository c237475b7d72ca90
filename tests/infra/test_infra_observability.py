"""Observability: the failure notifier, its status-change rule, Glue failure rules, alarms, dashboards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.common.contract import DEFAULT_NAMES
from functions.common.telemetry import RUN_METRICS
from stacks import observability
from stacks.specs import DOMAINS
from tests.infra.conftest import VARIANT_DOMAINS

pytestmark = pytest.mark.slow

PLATFORM = "FinlakePlatform"
PIPELINES = "FinlakePipelines"


def _render(value: Any) -> str:
    """A template value as text: an ``Fn::Join`` joined, references written as ``<Ref:Id>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<Ref:{value['Ref']}>"
    return "<" + json.dumps(value, sort_keys=True).replace('"', "'") + ">"  # e.g. an Fn::GetAtt, no quotes


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def _notifier(s) -> tuple[str, dict]:
    [(logical_id, function)] = [
        (k, f)
        for k, f in s.resources(PLATFORM, "AWS::Lambda::Function").items()
        if f["Properties"].get("FunctionName") == "finlake-notify"
    ]
    return logical_id, function


def _role_statements(s, stack: str, role_prefix: str) -> list[dict]:
    (policy,) = [
        p
        for p in s.resources(stack, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"][0]["Ref"].startswith(role_prefix)
    ]
    statements: list[dict] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_one_notifier_function_at_platform_level(synthesized) -> None:
    _, function = _notifier(synthesized)
    props = function["Properties"]
    assert props["Handler"] == "functions.notifier.handlers.handler"
    assert props["Runtime"] == "python3.14"
    assert props["TracingConfig"] == {"Mode": "Active"}
    # Powertools, then tzdata: a ScheduleStart failure's email computes the Sao Paulo partition
    assert len(props["Layers"]) == 2 and "FinlakeCommonLayer" in json.dumps(props["Layers"][1])
    env = props["Environment"]["Variables"]
    assert set(env) == {
        "TOPIC_ARN",
        "DEAD_LETTER_QUEUE_URL",
        "POWERTOOLS_SERVICE_NAME",
        "STATE_MACHINE_PREFIX",
        "GLUE_JOB_PREFIX",
    }
    assert env["POWERTOOLS_SERVICE_NAME"] == "finlake-notify"
    # functions/notifier/notify.py: which runs and Glue jobs are this deployment's
    assert env["STATE_MACHINE_PREFIX"] == "finlake-" and env["GLUE_JOB_PREFIX"] == "finlake-"
    (topic_id,) = synthesized.resources(PLATFORM, "AWS::SNS::Topic")
    (queue_id,) = synthesized.resources(PLATFORM, "AWS::SQS::Queue")
    assert env["TOPIC_ARN"] == {"Ref": topic_id}
    assert env["DEAD_LETTER_QUEUE_URL"] == {"Ref": queue_id}
    functions = synthesized.resources(PIPELINES, "AWS::Lambda::Function").values()
    assert not any(f["Properties"]["Handler"].startswith("functions.notifier.") for f in functions)  # not per domain


def test_notifier_may_publish_read_finlake_executions_and_job_runs_and_keep_records_only(synthesized) -> None:
    statements = _role_statements(synthesized, PLATFORM, "NotifierRole")
    (topic_id,) = synthesized.resources(PLATFORM, "AWS::SNS::Topic")
    (publish,) = [s for s in statements if "sns:Publish" in _actions(s)]
    assert _actions(publish) == ["sns:Publish"] and publish["Resource"] == {"Ref": topic_id}
    (states,) = [s for s in statements if any(a.startswith("states:") for a in _actions(s))]
    assert sorted(_actions(states)) == ["states:DescribeExecution", "states:GetExecutionHistory"]
    assert _render(states["Resource"]).endswith(":states:<Ref:AWS::Region>:<Ref:AWS::AccountId>:execution:finlake-*:*")
    (glue,) = [s for s in statements if any(a.startswith("glue:") for a in _actions(s))]
    assert _actions(glue) == ["glue:GetJobRun"]
    assert _render(glue["Resource"]).endswith(":glue:<Ref:AWS::Region>:<Ref:AWS::AccountId>:job/finlake-*")
    allowed = (
        "logs:",
        "xray:",
        "kms:",
        "sqs:",
        "sns:Publish",
        "states:GetExecutionHistory",
        "states:Describe",
        "glue:GetJobRun",
    )
    assert all(a.startswith(allowed) for s in statements for a in _actions(s))
    assert not any(s["Resource"] == "*" for s in statements if not _actions(s)[0].startswith("xray:"))


def test_status_changes_of_finlake_machines_go_to_the_notifier(synthesized) -> None:
    notifier_id, _ = _notifier(synthesized)
    (rule,) = _rules(synthesized, "aws.states")
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    (prefix,) = pattern["detail"]["stateMachineArn"]
    assert _render(prefix["prefix"]).endswith(":stateMachine:finlake-")
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [notifier_id, "Arn"]}
    permissions = synthesized.resources(PLATFORM, "AWS::Lambda::Permission").values()
    assert any(
        p["Properties"]["Principal"] == "events.amazonaws.com"
        and p["Properties"]["FunctionName"] == {"Fn::GetAtt": [notifier_id, "Arn"]}
        for p in permissions
    )
    configs = synthesized.resources(PLATFORM, "AWS::Lambda::EventInvokeConfig").values()
    assert any("OnFailure" in c["Properties"].get("DestinationConfig", {}) for c in configs)  # -> the DLQ


def test_every_notify_failure_invokes_the_notifier_and_nothing_wider(synthesized) -> None:
    for name, spec in DOMAINS.items():
        machine = next(
            m
            for m in synthesized.resources(PIPELINES, "AWS::StepFunctions::StateMachine").values()
            if m["Properties"]["StateMachineName"] == f"finlake-{name}"
        )
        notify = machine["Properties"]["DefinitionSubstitutions"]["NotifyFunction"]
        assert "NotifierFunction" in json.dumps(notify) and "Fn::ImportValue" in notify
        statements = _role_statements(synthesized, PIPELINES, f"{name.title()}WorkflowRole")
        invoke = [s for s in statements if s["Resource"] == notify]
        assert [_actions(s) for s in invoke] == [["lambda:InvokeFunction"]], spec.name


def _rules(s, source: str) -> list[dict]:
    return [
        r["Properties"]
        for stack in (PLATFORM, PIPELINES)
        for r in s.resources(stack, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"].get("source") == [source]
    ]


def test_glue_job_failures_of_every_finlake_job_go_to_the_notifier(synthesized) -> None:
    """One rule for every finlake-* job (a new job is covered), into the readable-email notifier: no
    input transformer whose every line SNS would show in quotes (RuleTargetInput.from_multiline_text)."""
    notifier_id, _ = _notifier(synthesized)
    (rule,) = _rules(synthesized, "aws.glue")
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Glue Job State Change"]
    assert pattern["detail"]["state"] == ["FAILED", "TIMEOUT", "ERROR"]
    assert pattern["detail"]["jobName"] == [{"prefix": "finlake-"}]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [notifier_id, "Arn"]}
    assert "InputTransformer" not in target and "Input" not in target  # the event itself
    jobs = {j["Properties"]["Name"] for j in synthesized.resources(PIPELINES, "AWS::Glue::Job").values()}
    assert jobs and all(job.startswith("finlake-") for job in jobs)


def test_the_topic_policy_lets_finlake_alarms_and_budgets_publish_and_nothing_else(synthesized) -> None:
    (policy,) = synthesized.resources(PLATFORM, "AWS::SNS::TopicPolicy").values()
    allows = {
        s["Principal"]["Service"]: s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    }
    assert set(allows) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    for service, source_arn in {
        "cloudwatch.amazonaws.com": ":cloudwatch:<Ref:AWS::Region>:<Ref:AWS::AccountId>:alarm:finlake *",
        "budgets.amazonaws.com": ":budgets::<Ref:AWS::AccountId>:*",
    }.items():
        conditions = allows[service]["Condition"]
        assert _actions(allows[service]) == ["sns:Publish"]
        assert conditions["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert _render(conditions["ArnLike"]["aws:SourceArn"]).endswith(source_arn), service


def test_only_two_alarms_each_with_a_readable_subject(synthesized) -> None:
    """CloudWatch's email subject is 'ALARM: "<name>" in <Region>'; SNS cuts subjects at 100 characters."""
    assert not synthesized.resources(PIPELINES, "AWS::CloudWatch::Alarm")
    alarms = [a["Properties"] for a in synthesized.resources(PLATFORM, "AWS::CloudWatch::Alarm").values()]
    assert {a["MetricName"] for a in alarms} == {"ApproximateNumberOfMessagesVisible", "Errors"}  # DLQ, notifier
    for alarm in alarms:
        subject = f'ALARM: "{alarm["AlarmName"]}" in South America (Sao Paulo)'
        assert alarm["AlarmName"].startswith(DEFAULT_NAMES.alarm_prefix) and len(subject) <= 100, subject
        assert "finlake --aws" in alarm["AlarmDescription"]  # what to do next
        (action,) = alarm["AlarmActions"]
        assert "Notifications" in json.dumps(action)


def test_alarm_names_are_checked_when_built() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_cloudwatch as cw
    from aws_cdk import aws_sns as sns

    stack = Stack(App(), "Check")
    metric = cw.Metric(namespace="N", metric_name="M")
    topic = sns.Topic(stack, "T")
    for name in ("DeadLetters", DEFAULT_NAMES.alarm_prefix + "x" * 80):
        with pytest.raises(ValueError, match="alarm name"):
            observability.alarm_to_topic(stack, name[:10], name=name, description="d", metric=metric, topic=topic)


def _dashboards(s) -> dict[str, str]:
    return {
        d["Properties"]["DashboardName"]: _render(d["Properties"]["DashboardBody"])
        for d in s.resources(PIPELINES, "AWS::CloudWatch::Dashboard").values()
    }


def _metrics(body: str) -> list[list[Any]]:
    return [m for widget in json.loads(body)["widgets"] for m in widget.get("properties", {}).get("metrics", [])]


def test_no_dashboard_by_default_and_one_with_a_section_per_domain_on_request(synthesized, variant) -> None:
    assert _dashboards(synthesized) == {}  # 3 USD a month: off unless the context asks for it
    dashboards = _dashboards(variant)  # "dashboard": true
    assert set(dashboards) == {"finlake"}
    body = dashboards["finlake"]
    metrics = _metrics(body)
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in {(m[0], m[1]) for m in metrics}
    for name, spec in VARIANT_DOMAINS.items():
        assert f"## {name}" in body
        custom = [m for m in metrics if m[0] == "finlake" and m[2:4] == ["service", f"finlake-{name}"]]
        assert {m[1] for m in custom} == set(RUN_METRICS) and all(m[4]["stat"] == "Sum" for m in custom)
        glue = [m for m in metrics if m[0] == "Glue" and m[3].startswith(f"finlake-{name}-")]
        assert [m[3] for m in glue] == [f"finlake-{name}-{g.step.lower()}" for g in spec.glue_jobs]
    executions = [m for m in metrics if m[0] == "AWS/States" and m[1] == "ExecutionsFailed"]
    assert len(executions) == len(VARIANT_DOMAINS)
    labels = {m[-1]["label"] for m in metrics if m[0] == "AWS/Lambda" and m[1] == "Errors"}
    assert labels == {s.step for spec in VARIANT_DOMAINS.values() for s in spec.lambdas} | {"ScheduleStart", "Trigger"}
