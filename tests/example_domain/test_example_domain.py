"""The proof that the platform is generic: a domain the platform does not know, defined only in this
folder, gets its definition from ``stacks/asl.py``, synthesizes with the real stacks (cdk-nag clean)
and runs to success on the embedded AWS through that definition, writing a table the catalog lists.

What this does not prove: that the example's functions would import their handlers on AWS. The
Lambda code asset is ``functions/`` only (``stacks.platform_stack.LAMBDA_CODE_EXCLUDE``), so a real
domain keeps its handlers in ``functions/<domain>/`` (docs/adding-a-domain.md); this one lives under
``tests/`` and its templates are checked for everything but packaging.
"""

from __future__ import annotations

import dataclasses
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from finlake.local.plan import RunPlan
from finlake.local.runner import run_plans
from finlake.local.workspace import Workspace
from finlake.query import run_query
from finlake.samples import registry
from stacks import asl
from stacks.specs import DOMAINS, STATEMACHINES_DIR, DomainSpec
from tests.example_domain.spec import EXAMPLE

pytestmark = pytest.mark.slow

# the state names the generated skeleton gives this spec, in the definition's (reading) order
STATES = [
    "Fetch",
    "AnythingNew?",
    "NothingNew",
    "Transform",
    "Catalog",
    "NotifySuccess",
    "FetchFailed",
    "TransformFailed",
    "CatalogFailed",
    "NotifySuccessFailed",
    "NotifyFailure",
    "SendToDeadLetterQueue",
    "Fail",
]


def rendered(spec: DomainSpec, folder: Path) -> DomainSpec:
    """``spec`` reading the definition `stacks.asl` renders for it into ``folder`` (as `make asl`
    does into ``statemachines/`` for the deployed domains)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.name}.asl.json"
    path.write_text(asl.render(spec))
    return dataclasses.replace(spec, definition_file=str(path))


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DomainSpec:
    """The example spec on its rendered definition, its local adapter listed in the registry."""
    monkeypatch.setitem(registry.MODULES, EXAMPLE.name, "tests.example_domain.samples")
    return rendered(EXAMPLE, tmp_path / "statemachines")


def test_definition_is_the_generated_skeleton(example: DomainSpec) -> None:
    definition = json.loads(example.definition_path.read_text())

    assert definition == asl.definition(EXAMPLE)
    assert list(definition["States"]) == STATES
    assert definition["TimeoutSeconds"] == 20 * 60
    assert definition["States"]["Transform"]["TimeoutSeconds"] == 300 + 30  # the function's timeout + margin
    assert definition["States"]["Catalog"]["Next"] == "NotifySuccess"
    assert not (STATEMACHINES_DIR / "example.asl.json").exists()  # nothing written beside the deployed domains'


# -- CDK -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real app (`stacks.app.build_app`, cdk.json context) with the example domain added."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    from stacks.app import build_app

    spec = rendered(EXAMPLE, tmp_path_factory.mktemp("asl"))
    outdir = tmp_path_factory.mktemp("cdk-example")
    app = build_app(
        outdir=str(outdir), cdk_context={"aws:cdk:bundling-stacks": []}, domains={**DOMAINS, spec.name: spec}
    )
    assembly = app.synth()
    templates = {s.stack_name: json.loads(Path(s.template_full_path).read_text()) for s in assembly.stacks}
    return app, templates, outdir, spec


def _resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def test_synthesizes_with_no_unacknowledged_aws_solutions_finding(synthesized: Any) -> None:
    from aws_cdk import Stack
    from cdk_nag import AwsSolutionsChecks

    app = synthesized[0]
    stacks = [child for child in app.node.children if isinstance(child, Stack)]
    findings = [
        f"{violation.severity} {violation.rule_name} {resource.construct_path}"
        for stack in stacks
        for violation in AwsSolutionsChecks().validate_scope(stack).violations
        for resource in violation.violating_resources
    ]
    assert findings == []
    assert app.node.try_find_child("FinlakePipelines").node.try_find_child("Example") is not None


def test_synthesized_pipeline_is_the_spec(synthesized: Any) -> None:
    _, templates, outdir, spec = synthesized
    pipelines = templates["FinlakePipelines"]
    handlers = sorted(
        props["Properties"]["Handler"]
        for key, props in _resources(pipelines, "AWS::Lambda::Function").items()
        if key.startswith("Example")
    )
    assert handlers == sorted(
        [*(s.handler for s in EXAMPLE.lambdas), "functions.common.schedule.handler"]  # + the scheduled start
    )
    [machine] = [
        m["Properties"]
        for m in _resources(pipelines, "AWS::StepFunctions::StateMachine").values()
        if m["Properties"]["StateMachineName"] == "finlake-example"
    ]
    assert set(machine["DefinitionSubstitutions"]) == {
        "FetchFunction",
        "TransformFunction",
        "CatalogFunction",
        "NotifyFunction",
        "NotificationTopic",
        "DeadLetterQueue",
        "Region",
    }
    # the definition CDK stages for upload is the file stacks/asl.py rendered, byte for byte
    staged = outdir / f"asset.{machine['DefinitionS3Location']['Key']}"
    assert staged.read_bytes() == spec.definition_path.read_bytes()
    # opt-in schedules: a domain cdk.json does not name is deployed unscheduled
    [schedule] = [
        s["Properties"]
        for s in _resources(pipelines, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Name"] == "finlake-example"
    ]
    assert schedule["State"] == "DISABLED"
    # the Catalog role may touch the example's own table, no other domain's
    catalog_policies = json.dumps(
        [
            p["Properties"]["PolicyDocument"]
            for key, p in _resources(pipelines, "AWS::IAM::Policy").items()
            if key.startswith("ExampleCatalogRole")
        ]
    )
    assert "finlake_curated/example_rates" in catalog_policies
    assert "bndes_balance_sheet" not in catalog_policies
    assert "ExampleStateMachineArn" in pipelines["Outputs"]  # the key `finlake --aws` reads


# -- the embedded AWS --------------------------------------------------------------------------------


def test_runs_to_success_on_the_embedded_aws_and_the_catalog_lists_its_table(
    example: DomainSpec, tmp_path: Path
) -> None:
    ws = Workspace.open(tmp_path / "ws")
    printed: list[str] = []

    [result] = run_plans(ws, [RunPlan(example, date="2024-01-08")], echo=printed.append)

    assert result.status == "SUCCEEDED", result.cause
    assert [s["state"] for s in result.states] == ["Fetch", "AnythingNew?", "Transform", "Catalog", "NotifySuccess"]
    assert result.output["counts"]["rows_in"] == 5
    assert result.output["counts"]["rows_curated"] == 4
    assert result.output["counts"]["rows_quarantined"] == 1
    assert result.output["tables"] == ["finlake_curated.example_rates"]
    [email] = result.notifications
    assert email["subject"] == "[finlake] example 2024-01-08 succeeded"
    assert "rows in 5 = 4 curated + 1 quarantined" in email["message"]

    catalog = ws.read_json("catalog.json", {})
    table = catalog["finlake_curated"]["example_rates"]
    assert [k["Name"] for k in table["table"]["PartitionKeys"]] == ["reference_date"]
    assert sorted(p["Values"][0] for p in table["partitions"]) == ["2024-01-02", "2024-01-03"]
    _, rows = run_query(
        ws,
        "SELECT currency, rate FROM finlake_curated.example_rates WHERE reference_date = DATE '2024-01-03' "
        "ORDER BY currency",
    )
    assert rows == [("EUR", Decimal("5.376800")), ("USD", Decimal("4.919800"))]
    [quarantined] = [path for bucket, key, path in ws.iter_objects() if key.startswith("quarantine/example/")]
    assert json.loads(quarantined.read_text())["reason"] == "not a pt-BR number: 'n/d'"

    # the same file again: nothing new, and the lake is as it was
    lake = {(bucket, key): path.read_bytes() for bucket, key, path in ws.iter_objects() if "_state" not in key}
    [again] = run_plans(ws, [RunPlan(example, date="2024-01-09")], echo=printed.append)
    assert again.status == "SUCCEEDED", again.cause
    assert [s["state"] for s in again.states] == ["Fetch", "AnythingNew?", "NothingNew"]
    assert {(b, k): p.read_bytes() for b, k, p in ws.iter_objects() if "_state" not in k} == lake
