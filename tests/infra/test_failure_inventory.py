"""Every failure path of the synthesized app ends in an email a person receives (failure_inventory.py).

The model is the templates themselves: policies, permissions, destinations and rules as deployed,
evaluated with the IAM rules in iam_model.py. moto enforces none of them, so only this test sees a
topic policy that shuts out CloudWatch, a key policy that shuts out Budgets, or a function whose
failed events go nowhere.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest

from finlake.cost import assets_loader
from stacks.specs import DOMAINS
from tests.infra.failure_inventory import Path, inventory
from tests.infra.iam_model import Deployment

pytestmark = pytest.mark.slow


def _paths(synthesized: Any, templates: dict[str, Any] | None = None) -> list[Path]:
    return inventory(Deployment(templates or synthesized.templates), assets_loader(synthesized.outdir))


def _broken(paths: list[Path]) -> list[str]:
    return [f"{p}\n    " + "\n    ".join(p.problems) for p in paths if p.problems]


def test_every_failure_path_reaches_a_person(synthesized) -> None:
    broken = _broken(_paths(synthesized))
    assert not broken, "failure paths that reach nobody:\n" + "\n".join(broken)


# The one problem of every path of a deployment without an email subscription (the smoke's).
UNSUBSCRIBED = "the topic has no email subscription"


def test_every_failure_path_reaches_a_person_under_another_prefix(prefixed) -> None:
    """The app as `make aws-smoke` deploys it (``finlake.prefix``): the alarms are named
    "smoketest1 ...", the machines and jobs "smoketest1-...", and every path still reaches the topic.
    The smoke subscribes no email (it reads the topic through a queue it subscribes at run time), so
    that one missing link is expected, and nothing else."""
    paths = _paths(prefixed)
    assert Counter(p.kind for p in paths) == _expected_kinds()
    broken = [f"{p}: {m}" for p in paths for m in p.problems if not m.endswith(UNSUBSCRIBED)]
    assert not broken, "failure paths that reach nobody:\n" + "\n".join(broken)
    route = next(p.route for p in paths if p.source == "smoketest1-stocks Transform States.ALL")
    assert "NotifierFunction" in " -> ".join(route)


def test_a_topic_policy_that_names_another_prefix_s_alarms_is_caught(prefixed) -> None:
    """The Allow for CloudWatch names the default deployment's alarms ("finlake *"), not this one's."""
    templates = copy.deepcopy(prefixed.templates)
    (policy,) = [
        r for r in templates["Smoketest1Platform"]["Resources"].values() if r["Type"] == "AWS::SNS::TopicPolicy"
    ]
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        arn_like = statement.get("Condition", {}).get("ArnLike", {})
        if "aws:SourceArn" in arn_like:
            arn_like["aws:SourceArn"] = json.loads(
                json.dumps(arn_like["aws:SourceArn"]).replace("smoketest1 *", "finlake *")
            )
    assert "finlake *" in json.dumps(policy)
    problems = [m for m in _problems(_paths(prefixed, templates), "alarm") if not m.endswith(UNSUBSCRIBED)]
    assert len(problems) == 2 and all("no resource policy" in m for m in problems), problems


def _expected_kinds() -> Counter[str]:
    """The count per kind, worked out from the specs by hand."""
    tasks_with_catch = 0
    for spec in DOMAINS.values():
        states = json.loads(spec.definition_path.read_text())["States"]
        tasks_with_catch += sum(len(s.get("Catch", [])) for s in states.values())
    triggers = sum(1 for spec in DOMAINS.values() if spec.trigger)
    glue_jobs = sum(len(spec.glue_jobs) for spec in DOMAINS.values())
    return Counter(
        {
            "step": tasks_with_catch,
            "execution": 3 * len(DOMAINS),  # FAILED, TIMED_OUT, ABORTED
            "async": len(DOMAINS) + triggers + 1,  # ScheduleStart, S3 triggers, the notifier itself
            "schedule": len(DOMAINS),
            "glue": 3 * glue_jobs,  # FAILED, TIMEOUT, ERROR
            "queue": 1,  # the dead-letter queue
            "alarm": 2,  # the dead-letter queue, the notifier's errors
            "budget": 2,  # 80% and 100%
        }
    )


def test_the_inventory_covers_every_source_of_failure(synthesized) -> None:
    """The count per kind, worked out from the specs by hand, so a source the walk skips shows up."""
    paths = _paths(synthesized)
    kinds = Counter(p.kind for p in paths)
    assert kinds == _expected_kinds()
    routes = {p.source: " -> ".join(p.route) for p in paths}
    assert "NotifierFunction" in routes["finlake-stocks Transform States.ALL"]
    assert "queue DeadLetterQueue" in routes["finlake-stocks NotifyFailure States.ALL"]
    assert "the execution fails" in routes["finlake-stocks SendToDeadLetterQueue States.ALL"]
    assert "cloudwatch.amazonaws.com publishes" in routes["finlake-bndes"]  # Scheduler -> DLQ -> alarm


# What only an alarm reports: the alarms, the dead-letter queue and what ends there (NotifyFailure's
# own failure, the notifier's failed events, schedules Scheduler could not deliver).
ALARMED = {"alarm", "queue", "step", "async", "schedule"}


def _without_statement(templates: dict[str, Any], sid: str) -> dict[str, Any]:
    changed = copy.deepcopy(templates)
    for template in changed.values():
        for resource in template["Resources"].values():
            for key in ("PolicyDocument", "KeyPolicy"):
                document = resource.get("Properties", {}).get(key)
                if document:
                    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]
    return changed


def _problems(paths: list[Path], kind: str) -> list[str]:
    return [problem for p in paths if p.kind == kind for problem in p.problems]


@pytest.mark.parametrize(
    ("sid", "kinds"),
    [
        ("AllowCloudWatchAlarmsToPublish", ALARMED),  # the topic policy (the defect of the original code)
        ("AllowCloudWatchAlarmsToPublishToEncryptedTopic", ALARMED),  # the key policy
        ("AllowBudgetsToPublish", {"budget"}),
        ("AllowBudgetsToPublishToEncryptedTopic", {"budget"}),
    ],
)
def test_a_missing_allow_in_the_topic_or_key_policy_is_caught(synthesized, sid: str, kinds: set[str]) -> None:
    paths = _paths(synthesized, _without_statement(synthesized.templates, sid))
    assert {p.kind for p in paths if p.problems} == kinds
    assert all("no key policy" in m or "no resource policy" in m for kind in kinds for m in _problems(paths, kind))


def test_an_alarm_the_topic_policy_does_not_name_is_caught(synthesized) -> None:
    templates = copy.deepcopy(synthesized.templates)
    for resource in templates["FinlakePlatform"]["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            del resource["Properties"]["AlarmName"]  # CloudFormation would generate "FinlakePlatform-..."
    assert len(_problems(_paths(synthesized, templates), "alarm")) == 2


def test_a_new_async_function_without_a_destination_is_caught(synthesized) -> None:
    templates = copy.deepcopy(synthesized.templates)
    resources = templates["FinlakePipelines"]["Resources"]
    (config,) = [
        k for k, r in resources.items() if r["Type"] == "AWS::Lambda::EventInvokeConfig" and "CardsTrigger" in k
    ]
    del resources[config]
    problems = _problems(_paths(synthesized, templates), "async")
    assert problems == ["on-failure destination: none: a failed event is dropped"]


def test_a_glue_job_no_rule_matches_is_caught(synthesized) -> None:
    templates = copy.deepcopy(synthesized.templates)
    job = next(r for r in templates["FinlakePipelines"]["Resources"].values() if r["Type"] == "AWS::Glue::Job")
    job["Properties"]["Name"] = "reports-nightly"
    problems = _problems(_paths(synthesized, templates), "glue")
    assert len(problems) == 3 and all("no enabled rule matches" in p for p in problems)


def test_a_notifier_that_may_not_use_the_key_is_caught(synthesized) -> None:
    templates = copy.deepcopy(synthesized.templates)
    for resource in templates["FinlakePlatform"]["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and "Notifier" in json.dumps(resource["Properties"]["Roles"]):
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if "kms:Decrypt" not in json.dumps(s)]
    paths = _paths(synthesized, templates)
    assert {p.kind for p in paths if p.problems} >= {"step", "execution", "glue", "async"}
    assert not _problems(paths, "alarm")  # CloudWatch publishes with its own grant


def test_every_service_principal_the_topic_and_key_trust_is_held_to_this_account(synthesized) -> None:
    """The confused-deputy guard: an Allow for an AWS service in the topic or key policy carries
    aws:SourceAccount (or an encryption-context condition), so another account's alarm, budget or
    log group cannot use them (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html)."""
    d = Deployment(synthesized.templates)
    (topic,) = d.of_type("AWS::SNS::Topic")
    statements = d.resource_statements("AWS::SNS::Topic", d.ref(topic))
    statements += d.key_statements(d.arn(next(iter(d.of_type("AWS::KMS::Key")))))
    services = [s for s in statements if s["Effect"] == "Allow" and "Service" in s.get("Principal", {})]
    assert {s["Principal"]["Service"] for s in services} >= {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    for statement in services:
        keys = {key for pairs in statement.get("Condition", {}).values() for key in pairs}
        assert keys & {"aws:SourceAccount", "aws:SourceArn", "kms:EncryptionContext:aws:logs:arn"}, statement
