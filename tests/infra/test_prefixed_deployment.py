"""A second deployment in the same account and region shares no name with the default one.

`make aws-smoke` (finlake/smoke.py) deploys with its own prefix next to a possible production
deployment; CloudFormation fails a create whose fixed name exists (a bucket, a secret, a state
machine, a Glue job or database, a schedule, the workgroup, the KMS alias, the budget, a
dashboard...). Here the app is synthesized with exactly the ``-c`` options the smoke passes to
the CDK CLI (strings, as the CLI hands them over), and every fixed name is checked for the prefix,
and the smoke's teardown for every resource CloudFormation keeps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from finlake.smoke import RETAINED_TYPES, DryRunCalls, Smoke, deploy_context, sample_runs
from stacks.app import build_app
from stacks.names import Names
from tests.infra.conftest import NO_BUNDLING

PREFIX = "smoketest1"
REGION = "sa-east-1"
# Properties that name a resource (top level, or the nested ones below). A reference (Ref/GetAtt
# only, no literal part) points at another resource and is not checked.
NESTED_NAMES = {("DatabaseInput", "Name"), ("Budget", "BudgetName")}
# "...Name" properties that name no resource of their own: an inline policy's name (unique on its
# role only), the topic's display name (the emails' sender), an alarm's metric.
SCOPED_NAMES = {"PolicyName", "DisplayName", "MetricName"}
DEFAULT_NAME = re.compile(r"finlake[-_/]")  # "finlake-...", "finlake_curated", "finlake/bank/..."


@pytest.fixture(scope="module")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("cdk-prefixed")
    assembly = build_app(outdir=str(outdir), cdk_context={**NO_BUNDLING, **deploy_context(PREFIX)}).synth()
    return {s.stack_name: json.loads(Path(s.template_full_path).read_text()) for s in assembly.stacks}


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


def test_the_stacks_are_named_after_the_prefix(prefixed) -> None:
    assert set(prefixed) == {"Smoketest1Platform", "Smoketest1Pipelines"}


def test_every_fixed_name_carries_the_prefix(prefixed) -> None:
    names = list(literal_names(prefixed))
    assert len(names) >= 20  # buckets, alias, databases, workgroup, jobs, machines, schedules, secrets...
    wrong = [(where, key, name) for where, key, name in names if PREFIX not in name and key not in SCOPED_NAMES]
    assert not wrong, wrong


def test_no_default_name_is_left_anywhere_in_the_templates(prefixed) -> None:
    """Environment variables, Glue arguments, IAM resources, event patterns, messages: a leftover
    "finlake-..." would point the smoke's functions at the default deployment."""
    leaks = [
        (logical_id, text[:120])
        for template in prefixed.values()
        for logical_id, resource in template["Resources"].items()
        for text in strings(resource.get("Properties", {}))
        if DEFAULT_NAME.search(text)
    ]
    assert not leaks, leaks


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


def test_the_smoke_teardown_deletes_every_resource_cloudformation_keeps(prefixed) -> None:
    """Each retained resource is of a type the teardown deletes (it lists them from the stacks),
    and each one with a fixed name is also deleted by name (when its stack is already gone)."""
    calls = DryRunCalls(echo=lambda line: None)
    Smoke(calls=calls, names=Names(PREFIX), region=REGION, echo=lambda line: None).run(sample_runs())
    teardown = calls.plan[calls.plan.index(next(p for p in calls.plan if p.startswith("sns Unsubscribe"))) :]
    kept = [
        (resource["Type"], resource.get("Properties", {}))
        for template in prefixed.values()
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
