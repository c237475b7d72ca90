"""A second deployment in the same account and region shares no name with the default one.

`make aws-smoke` (finlake/smoke.py) deploys with its own prefix next to a possible production
deployment; CloudFormation fails a create whose fixed name exists (a bucket, a secret, a state
machine, a Glue job or database, a schedule, the workgroup, the KMS alias, the budget, a
dashboard...). Here the app is synthesized with exactly the ``-c`` options the smoke passes to
the CDK CLI (strings, as the CLI hands them over; the dashboard switched on besides), and every
fixed name is checked for the prefix, and the smoke's teardown for every resource CloudFormation
keeps. That every failure path still reaches a person under the prefix (the alarms' names against
the topic policy, the notifier's rules against the jobs and machines) is
tests/infra/test_failure_inventory.py's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from finlake.smoke import RETAINED_TYPES, DryRunCalls, Smoke, sample_runs
from functions.common.contract import DEAD_LETTER_ALARM, NOTIFIER_ALARM, Names
from tests.infra.conftest import PREFIX, Synthesized

REGION = "sa-east-1"
# Properties that name a resource (top level, or the nested ones below). A reference (Ref/GetAtt
# only, no literal part) points at another resource and is not checked.
NESTED_NAMES = {("DatabaseInput", "Name"), ("Budget", "BudgetName")}
# "...Name" properties that name no resource of their own: an inline policy's name (unique on its
# role only), the topic's display name (the emails' sender), an alarm's metric.
SCOPED_NAMES = {"PolicyName", "DisplayName", "MetricName"}
DEFAULT_NAME = re.compile(r"finlake[-_/]")  # "finlake-...", "finlake_curated", "finlake/bank/..."


@pytest.fixture(scope="module")
def templates(prefixed: Synthesized) -> dict[str, dict[str, Any]]:
    """The templates of the app synthesized with the smoke's ``-c`` options (conftest ``prefixed``)."""
    return dict(prefixed.templates)


def render(value: Any) -> str:
    """A name as CloudFormation would build it, with the account and region as placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if value == {"Ref": "AWS::AccountId"}:
        return "<account>"
    if value == {"Ref": "AWS::Region"}:
        return REGION
    return ""  # a reference to another resource


def literal_names(templates: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, str]]:
    for template in templates.values():
        for logical_id, resource in template["Resources"].items():
            properties = resource.get("Properties", {})
            candidates = [(k, v) for k, v in properties.items() if k == "Name" or k.endswith("Name")]
            candidates += [(f"{a}.{b}", properties[a][b]) for a, b in NESTED_NAMES if b in properties.get(a, {})]
            for key, value in candidates:
                name = render(value)
                if name and not name.startswith("<"):
                    yield f"{resource['Type']} {logical_id}", key, name


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def test_the_stacks_are_named_after_the_prefix(templates) -> None:
    assert set(templates) == {"Smoketest1Platform", "Smoketest1Pipelines"}


def test_every_fixed_name_carries_the_prefix(templates) -> None:
    names = list(literal_names(templates))
    assert len(names) >= 20  # buckets, alias, databases, workgroup, jobs, machines, schedules, secrets...
    wrong = [(where, key, name) for where, key, name in names if PREFIX not in name and key not in SCOPED_NAMES]
    assert not wrong, wrong


def test_no_default_name_is_left_anywhere_in_the_templates(templates) -> None:
    """Environment variables, Glue arguments, IAM resources, event patterns, messages: a leftover
    "finlake-..." would point the smoke's functions at the default deployment."""
    leaks = [
        (logical_id, text[:120])
        for template in templates.values()
        for logical_id, resource in template["Resources"].items()
        for text in strings(resource.get("Properties", {}))
        if DEFAULT_NAME.search(text)
    ]
    assert not leaks, leaks


def _resources(templates: dict[str, dict[str, Any]], cfn_type: str) -> list[dict[str, Any]]:
    return [r["Properties"] for t in templates.values() for r in t["Resources"].values() if r["Type"] == cfn_type]


def test_alarms_the_notifier_and_the_dashboard_follow_the_prefix(templates) -> None:
    """The names a "finlake[-_/]" search cannot see (an alarm is named "<prefix> ...", with a space),
    and the prefixes the notifier matches runs and Glue jobs by."""
    names = Names(PREFIX)
    alarms = {a["AlarmName"] for a in _resources(templates, "AWS::CloudWatch::Alarm")}
    assert alarms == {names.alarm(DEAD_LETTER_ALARM), names.alarm(NOTIFIER_ALARM)}
    assert all(a.startswith("smoketest1 ") for a in alarms)
    (policy,) = _resources(templates, "AWS::SNS::TopicPolicy")
    statements = policy["PolicyDocument"]["Statement"]
    (cloudwatch,) = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert render(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(":alarm:smoketest1 *")
    (notifier,) = [f for f in _resources(templates, "AWS::Lambda::Function") if f.get("FunctionName") == names.notifier]
    env = notifier["Environment"]["Variables"]
    assert env["STATE_MACHINE_PREFIX"] == env["GLUE_JOB_PREFIX"] == "smoketest1-"
    assert env["POWERTOOLS_SERVICE_NAME"] == "smoketest1-notify"
    (glue_rule,) = [
        r for r in _resources(templates, "AWS::Events::Rule") if r["EventPattern"]["source"] == ["aws.glue"]
    ]
    assert glue_rule["EventPattern"]["detail"]["jobName"] == [{"prefix": "smoketest1-"}]
    (dashboard,) = _resources(templates, "AWS::CloudWatch::Dashboard")
    assert dashboard["DashboardName"] == "smoketest1"
    (budget,) = _resources(templates, "AWS::Budgets::Budget")
    assert render(budget["Budget"]["BudgetName"]) == f"smoketest1-monthly-{REGION}"


def test_the_default_deployment_keeps_its_names(synthesized) -> None:
    names = {name for _, _, name in literal_names(synthesized.templates)}
    assert {
        "alias/finlake",
        "finlake_curated",
        "finlake_refined",
        "finlake",
        "finlake-notify",
        "finlake-stocks",
        "finlake-stocks-transform",
        "finlake/bank/nubank",
        "finlake-raw-<account>-sa-east-1",
        "/aws/vendedlogs/states/finlake-bank",
    } <= names
    assert set(synthesized.templates) == {"FinlakePlatform", "FinlakePipelines"}


def test_the_smoke_teardown_deletes_every_resource_cloudformation_keeps(templates) -> None:
    """Each retained resource is of a type the teardown deletes (it lists them from the stacks),
    and each one with a fixed name is also deleted by name (when its stack is already gone)."""
    calls = DryRunCalls(echo=lambda line: None)
    Smoke(calls=calls, names=Names(PREFIX), region=REGION, echo=lambda line: None).run(sample_runs())
    teardown = calls.plan[calls.plan.index(next(p for p in calls.plan if p.startswith("sns Unsubscribe"))) :]
    kept = [
        (resource["Type"], resource.get("Properties", {}))
        for template in templates.values()
        for resource in template["Resources"].values()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
    ]
    assert {cfn_type for cfn_type, _ in kept} <= set(RETAINED_TYPES)
    name_keys = {
        "AWS::S3::Bucket": "BucketName",
        "AWS::SecretsManager::Secret": "Name",
        "AWS::Logs::LogGroup": "LogGroupName",
    }
    named = {render(props[name_keys[t]]) for t, props in kept if name_keys.get(t) in props}
    assert len(named) >= 5 + 2 + 4  # buckets, the bank secrets, the state machines' log groups
    deleted = " ".join(teardown)
    missing = sorted(name for name in named if f"={name} " not in deleted + " " and not deleted.endswith(f"={name}"))
    assert not missing, missing
