"""cdk-nag (AwsSolutions) and cfn-lint over every synthesized stack."""

from __future__ import annotations

import pytest
from aws_cdk import Stack, Validations
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

pytestmark = pytest.mark.slow

APPS = ["synthesized", "variant"]
REGIONS = ["sa-east-1", "us-east-1"]


def _stacks(app) -> list[Stack]:
    return [child for child in app.node.children if isinstance(child, Stack)]


@pytest.mark.parametrize("which", APPS)
def test_no_unacknowledged_aws_solutions_findings(which: str, request: pytest.FixtureRequest) -> None:
    app = request.getfixturevalue(which).app
    stacks = _stacks(app)
    assert len(stacks) == 2
    findings = [
        f"{violation.severity} {violation.rule_name} {resource.construct_path}"
        for stack in stacks
        for violation in AwsSolutionsChecks().validate_scope(stack).violations
        for resource in violation.violating_resources
    ]
    assert findings == []


@pytest.mark.parametrize("which", APPS)
def test_every_acknowledgement_has_a_specific_reason(which: str, request: pytest.FixtureRequest) -> None:
    app = request.getfixturevalue(which).app
    acknowledged: dict[str, str] = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                acknowledged |= {f"{construct.node.path} {rule}": reason for rule, reason in entry.data.items()}
    assert acknowledged, "expected the documented IAM5/SQS3 acknowledgements"
    short = {rule: reason for rule, reason in acknowledged.items() if len(reason.strip()) <= 20}
    assert short == {}
    assert all("AwsSolutions-" in rule for rule in acknowledged)


@pytest.mark.parametrize("which", APPS)
def test_cfn_lint_finds_no_errors(which: str, request: pytest.FixtureRequest) -> None:
    synthesized = request.getfixturevalue(which)
    templates = sorted(synthesized.outdir.glob("*.template.json"))
    assert len(templates) == 2
    errors = [
        f"{path.name}: {match.rule.id} {match.message} ({match.path})"
        for path in templates
        for match in lint_file(path, config=ManualArgs(regions=REGIONS))
        if match.rule.id.startswith("E")
    ]
    assert errors == []
