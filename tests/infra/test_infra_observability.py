"""Observability: the failure notifier, its status-change rule, Glue failure rules, alarms, dashboards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.common.telemetry import RUN_METRICS
from stacks import observability
from stacks.specs import DOMAINS

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
    assert props["Handler"] == "functions.ops.handlers.handler"
    assert props["Runtime"] == "python3.14"
    assert props["TracingConfig"] == {"Mode": "Active"}
    env = props["Environment"]["Variables"]
    assert set(env) == {"TOPIC_ARN", "POWERTOOLS_SERVICE_NAME", "STATE_MACHINE_PREFIX"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "finlake-notify"
    assert env["STATE_MACHINE_PREFIX"] == "finlake-"  # functions/ops/notify.py: which runs are finlake's
    (topic_id,) = synthesized.resources(PLATFORM, "AWS::SNS::Topic")
    assert env["TOPIC_ARN"] == {"Ref": topic_id}
    functions = synthesized.resources(PIPELINES, "AWS::Lambda::Function").values()
    assert not any(f["Properties"]["Handler"].startswith("functions.ops.") for f in functions)  # not per domain


def test_notifier_may_publish_to_the_topic_and_read_finlake_executions_only(synthesized) -> None:
    statements = _role_statements(synthesized, PLATFORM, "NotifierRole")
    (topic_id,) = synthesized.resources(PLATFORM, "AWS::SNS::Topic")
    (publish,) = [s for s in statements if "sns:Publish" in _actions(s)]
    assert _actions(publish) == ["sns:Publish"] and publish["Resource"] == {"Ref": topic_id}
    (states,) = [s for s in statements if any(a.startswith("states:") for a in _actions(s))]
    assert sorted(_actions(states)) == ["states:DescribeExecution", "states:GetExecutionHistory"]
    assert _render(states["Resource"]).endswith(":states:<Ref:AWS::Region>:<Ref:AWS::AccountId>:execution:finlake-*:*")
    allowed = ("logs:", "xray:", "kms:", "sqs:", "sns:Publish", "states:GetExecutionHistory", "states:Describe")
    assert all(a.startswith(allowed) for s in statements for a in _actions(s))
    assert not any(s["Resource"] == "*" for s in statements if not _actions(s)[0].startswith("xray:"))


def test_status_changes_of_finlake_machines_go_to_the_notifier(synthesized) -> None:
    notifier_id, _ = _notifier(synthesized)
    rules = [
        r["Properties"]
        for r in synthesized.resources(PLATFORM, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"].get("source") == ["aws.states"]
    ]
    (rule,) = rules
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


def _alarms_by_domain(s) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for alarm in s.resources(PIPELINES, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        domain = props["AlarmDescription"].removeprefix("finlake ").split(":")[0]
        found.setdefault(domain, []).append(props["MetricName"])
    return found


def test_every_domain_has_the_full_alarm_set_on_the_topic(synthesized) -> None:
    alarms = _alarms_by_domain(synthesized)
    assert set(alarms) == set(DOMAINS)
    for name, spec in DOMAINS.items():
        functions = len(spec.lambdas) + bool(spec.trigger) + 1  # steps, S3 trigger, the scheduled start
        expected = ["ExecutionsAborted", "ExecutionsFailed", "ExecutionsTimedOut"] + ["Errors", "Throttles"] * functions
        assert sorted(alarms[name]) == sorted(expected), name
    platform_alarms = {
        a["Properties"]["MetricName"] for a in synthesized.resources(PLATFORM, "AWS::CloudWatch::Alarm").values()
    }
    assert platform_alarms == {"ApproximateNumberOfMessagesVisible", "Errors"}  # the DLQ, the notifier
    for stack in (PLATFORM, PIPELINES):
        for alarm in synthesized.resources(stack, "AWS::CloudWatch::Alarm").values():
            (action,) = alarm["Properties"]["AlarmActions"]
            assert "Notifications" in json.dumps(action)


def _glue_rules(s) -> dict[str, dict]:
    return {
        r["Properties"]["Description"].split(":")[0].removeprefix("finlake "): r["Properties"]
        for r in s.resources(PIPELINES, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"].get("source") == ["aws.glue"]
    }


def test_glue_job_failures_email_the_topic_with_a_readable_message(synthesized) -> None:
    rules = _glue_rules(synthesized)
    assert set(rules) == {name for name, spec in DOMAINS.items() if spec.glue_jobs}
    for name, rule in rules.items():
        pattern = rule["EventPattern"]
        assert pattern["detail-type"] == ["Glue Job State Change"]
        assert pattern["detail"]["state"] == ["FAILED", "TIMEOUT", "ERROR"]
        assert pattern["detail"]["jobName"] == [f"finlake-{name}-{g.step.lower()}" for g in DOMAINS[name].glue_jobs]
        (target,) = rule["Targets"]
        assert "Notifications" in json.dumps(target["Arn"])
        assert "RoleArn" in target  # a role of its own, not an open topic policy
        transformer = target["InputTransformer"]
        assert transformer["InputPathsMap"]["detail-jobName"] == "$.detail.jobName"
        template = _render(transformer["InputTemplate"])
        for text in ("Domain: " + name, "Job: <detail-jobName>", "Cause: <detail-message>", "Console: https://"):
            assert text in template
    # a job name the rule names is a job of the stack
    jobs = {j["Properties"]["Name"] for j in synthesized.resources(PIPELINES, "AWS::Glue::Job").values()}
    assert {n for r in rules.values() for n in r["EventPattern"]["detail"]["jobName"]} == jobs


def test_the_notifier_and_rules_leave_the_topic_policy_closed(synthesized) -> None:
    for policy in synthesized.resources(PLATFORM, "AWS::SNS::TopicPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                assert "Condition" in statement, statement  # every service publisher is account-scoped


def _dashboards(s) -> dict[str, str]:
    return {
        d["Properties"]["DashboardName"]: _render(d["Properties"]["DashboardBody"])
        for d in s.resources(PIPELINES, "AWS::CloudWatch::Dashboard").values()
    }


def _metrics(body: str) -> list[list[Any]]:
    return [m for widget in json.loads(body)["widgets"] for m in widget.get("properties", {}).get("metrics", [])]


def test_one_dashboard_per_domain_with_runs_rows_steps_and_the_dlq(synthesized) -> None:
    dashboards = _dashboards(synthesized)
    assert set(dashboards) == {f"finlake-{name}" for name in DOMAINS}
    for name, spec in DOMAINS.items():
        metrics = _metrics(dashboards[f"finlake-{name}"])
        names = {(m[0], m[1]) for m in metrics}
        for execution in ("Started", "Succeeded", "Failed", "TimedOut", "Aborted"):
            assert ("AWS/States", f"Executions{execution}") in names, name
        stats = {m[-1]["stat"] for m in metrics if m[1] == "ExecutionTime"}
        assert stats == {"p50", "Maximum"}
        custom = [m for m in metrics if m[0] == "finlake"]
        assert {m[1] for m in custom} == set(RUN_METRICS)
        assert all(m[2:4] == ["service", f"finlake-{name}"] and m[4]["stat"] == "Sum" for m in custom)
        labels = {m[-1]["label"] for m in metrics if m[0] == "AWS/Lambda" and m[1] == "Errors"}
        starters = {"ScheduleStart"} | ({"Trigger"} if spec.trigger else set())
        assert labels == {s.step for s in spec.lambdas} | starters
        assert {m[-1]["label"] for m in metrics if m[1] == "Duration"} == labels
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in names
        glue = [m for m in metrics if m[0] == "Glue"]
        assert [m[3] for m in glue] == [f"finlake-{name}-{g.step.lower()}" for g in spec.glue_jobs]
        assert all(
            m[1] == "glue.driver.aggregate.elapsedTime" and m[4:8] == ["JobRunId", "ALL", "Type", "count"] for m in glue
        )


def test_dashboard_metric_names_are_the_ones_the_catalog_steps_emit() -> None:
    assert observability.RUN_METRICS == RUN_METRICS
