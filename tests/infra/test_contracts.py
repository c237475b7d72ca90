"""Deploy-time and run-time contracts of the synthesized app that emulators, CDK assertions, cdk-nag
and cfn-lint do not model: step timeouts against what they wait for, Glue concurrency, managed layers
per region, what a failed first create leaves behind, encrypted execution logs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from functions.common.contract import DEFAULT_NAMES
from stacks.layers import managed_layers
from stacks.specs import DOMAINS, GLUE_RUNS_AHEAD, GLUE_TASK_MARGIN_S, LAMBDA_TASK_MARGIN_S
from tests.asl import longest_path
from tests.infra.conftest import PIPELINES, PLATFORM
from tests.unit.test_definition_contract import GLUE_ERRORS

pytestmark = pytest.mark.slow


def deployed_definitions(outdir: Path, template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """State machine name -> its definition as deployed: the definition asset CDK uploads
    (``DefinitionS3Location``) with its ``DefinitionSubstitutions`` applied, each reference to a
    resource replaced by that resource's logical id."""
    assets = json.loads((outdir / f"{PIPELINES}.assets.json").read_text())["files"]
    out = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        props = resource["Properties"]
        asset = assets[props["DefinitionS3Location"]["Key"].removesuffix(".json")]["source"]["path"]
        text = (outdir / asset).read_text()
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                value = value["Fn::GetAtt"][0]
            elif isinstance(value, dict) and "Ref" in value:
                value = value["Ref"]
            elif not isinstance(value, str):
                value = "resolved-at-deploy"
            text = text.replace("${" + key + "}", value)
        out[props["StateMachineName"]] = json.loads(text)
    return out


@pytest.fixture(scope="module")
def pipelines(synthesized) -> dict[str, Any]:
    return synthesized.templates[PIPELINES]


@pytest.fixture(scope="module")
def definitions(synthesized, pipelines) -> dict[str, dict[str, Any]]:
    return deployed_definitions(synthesized.outdir, pipelines)


def test_every_task_outlasts_the_work_it_waits_for(synthesized, pipelines, definitions) -> None:
    """A Task that gives up before its Lambda or Glue run ends fails the execution (failure email,
    dead-letter message) while the work goes on writing the lake; Step Functions does not stop a
    Lambda invocation at the Task's timeout (Step Functions Developer Guide, "Task": TimeoutSeconds;
    Lambda "Configure function timeout"). Read from the deployed definitions and resources: a
    Lambda Task waits at least the function's Timeout + LAMBDA_TASK_MARGIN_S; a Glue Task the job's
    Timeout (minutes) for itself and each queued run ahead of it + GLUE_TASK_MARGIN_S."""
    resources = pipelines["Resources"]
    [notifier] = [
        function
        for function in synthesized.resources(PLATFORM, "AWS::Lambda::Function").values()
        if function["Properties"].get("FunctionName") == DEFAULT_NAMES.notifier
    ]
    checked = 0
    for machine, definition in definitions.items():
        for name, state in definition["States"].items():
            if state["Type"] != "Task":
                continue
            params = state.get("Parameters", {})
            target = resources.get(params.get("FunctionName", "")) or resources.get(params.get("JobName", ""))
            if target is None and state["Resource"].startswith("arn:aws:states:::lambda:invoke"):
                target = notifier  # the platform's function (another stack's), NotifyFailure's
            if target is None:
                continue  # SNS and SQS: short calls with their own timeouts
            if target["Type"] == "AWS::Lambda::Function":
                needed = target["Properties"]["Timeout"] + LAMBDA_TASK_MARGIN_S
            else:
                needed = (GLUE_RUNS_AHEAD + 1) * target["Properties"]["Timeout"] * 60 + GLUE_TASK_MARGIN_S
            assert state["TimeoutSeconds"] >= needed, f"{machine} {name}: {state['TimeoutSeconds']} s < {needed} s"
            checked += 1
    assert checked == sum(len(s.lambdas) + len(s.glue_jobs) + 1 for s in DOMAINS.values())  # + NotifyFailure


def test_every_run_may_outlast_its_slowest_path(definitions) -> None:
    """The execution's TimeoutSeconds is above its slowest path (tests/asl.py), else a slow healthy
    run ends TIMED_OUT, skipping its NotifyFailure and dead-letter states."""
    for machine, definition in definitions.items():
        seconds, path = longest_path(definition)
        assert definition["TimeoutSeconds"] > seconds, f"{machine}: {seconds:.0f} s via {' > '.join(path)}"


def test_overlapping_glue_runs_queue_and_retry_every_passing_start_error(variant) -> None:
    """Runs of one Glue job beyond MaxConcurrentRuns wait (WAITING) instead of failing with
    ConcurrentRunsExceededException when job run queuing is on (AWS Glue Developer Guide, "AWS Glue
    job run statuses"; CloudFormation AWS::Glue::Job JobRunQueuingEnabled). Continuous logging is a
    Glue 4.0-and-earlier option (5.0 logs in real time) and the scripts use no Data Catalog table, so
    neither --enable-continuous-cloudwatch-log nor --enable-glue-datacatalog is set."""
    jobs = variant.resources(PIPELINES, "AWS::Glue::Job").values()
    assert jobs
    for job in jobs:
        props = job["Properties"]
        assert props["JobRunQueuingEnabled"] is True
        assert props["ExecutionProperty"]["MaxConcurrentRuns"] == 1
        assert props["GlueVersion"] == "5.0"
        assert not {"--enable-continuous-cloudwatch-log", "--enable-glue-datacatalog"} & set(props["DefaultArguments"])
    for definition in deployed_definitions(variant.outdir, variant.templates[PIPELINES]).values():
        for name, state in definition["States"].items():
            if state.get("Resource", "").startswith("arn:aws:states:::glue:"):
                retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
                assert retried >= GLUE_ERRORS, name


def test_glue_job_roles_get_no_catalog_access(variant) -> None:
    """Without --enable-glue-datacatalog the scripts never call the Data Catalog: no glue:* grant."""
    for policy in variant.resources(PIPELINES, "AWS::IAM::Policy").values():
        if "JobRole" not in policy["Properties"]["Roles"][0]["Ref"]:
            continue
        actions = json.dumps([s["Action"] for s in policy["Properties"]["PolicyDocument"]["Statement"]])
        assert "glue:" not in actions


def _resolve(value: Any, mappings: dict[str, Any], region: str) -> Any:
    """What CloudFormation makes of a layer entry in ``region``: Fn::FindInMap on AWS::Region evaluated."""
    if isinstance(value, dict) and "Fn::FindInMap" in value:
        name, key, attribute = value["Fn::FindInMap"]
        key = region if key == {"Ref": "AWS::Region"} else key
        return mappings[name][key][attribute]
    return value


@pytest.mark.parametrize(
    "region, pandas_arn",
    [
        ("us-east-1", "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python314:9"),
        ("sa-east-1", "arn:aws:lambda:sa-east-1:336392948345:layer:AWSSDKPandas-Python314:9"),
    ],
)
def test_managed_layers_resolve_to_the_published_version_in_each_region(
    pipelines, region: str, pandas_arn: str
) -> None:
    """Layer versions are per-region counters, and the AWS SDK for pandas account is not the same in
    every region. The deployed template maps AWS::Region to the documented ARN of the 3.17.0 layer
    (aws-sdk-pandas docs/source/layers.rst, "Version 3.17.0", Python 3.14 x86_64), and names
    Powertools by its SSM public parameter for 3.37.0, which CloudFormation resolves in the deploying
    region (Powertools docs, "Using SSM Parameter Store"). The old template pinned ``:6`` everywhere."""
    ssm = "{{resolve:ssm:/aws/service/powertools/python/x86_64/python3.14/3.37.0}}"
    assert managed_layers()["powertools"].ssm_parameter in ssm
    assert managed_layers()["pandas"].arn_for(region) == pandas_arn
    for function in pipelines["Resources"].values():
        if function["Type"] != "AWS::Lambda::Function":
            continue
        layers = [_resolve(item, pipelines.get("Mappings", {}), region) for item in function["Properties"]["Layers"]]
        assert ssm in layers
        if function["Properties"]["Handler"] != "functions.common.schedule.handler":
            assert layers[0] == pandas_arn


def test_a_stack_pinned_to_a_region_gets_the_literal_arn_and_an_unknown_region_fails() -> None:
    from aws_cdk import App, Environment, Stack

    from stacks.layers import managed_layer_arn

    app = App()
    layer = managed_layers()["pandas"]
    assert managed_layer_arn(Stack(app, "SaoPaulo", env=Environment(region="sa-east-1")), layer) == layer.arn_for(
        "sa-east-1"
    )
    with pytest.raises(ValueError, match="no documented layer in mars-north-1"):
        managed_layer_arn(Stack(app, "Mars", env=Environment(region="mars-north-1")), layer)


def test_an_environment_agnostic_stack_maps_every_documented_region(pipelines) -> None:
    """ap-east-1 publishes the layer from another account: a {region} template would miss it."""
    mapping = pipelines["Mappings"]["PandasLayerArns"]
    assert len(mapping) == len(managed_layers()["pandas"].arns)
    assert mapping["ap-east-1"]["arn"].startswith("arn:aws:lambda:ap-east-1:839552336658:")


def test_nothing_retained_blocks_the_retry_of_a_failed_first_create(synthesized) -> None:
    """CloudFormation keeps Retain resources even when the stack's first create fails, so the retry
    stops at "already exists" on every fixed name (finlake-raw-<account>-<region>, finlake/bank/...,
    /aws/vendedlogs/states/finlake-<domain>). RetainExceptOnCreate keeps them on update and delete
    only (CloudFormation User Guide, "DeletionPolicy attribute")."""
    kept = 0
    for stack, template in synthesized.templates.items():
        for logical_id, resource in template["Resources"].items():
            assert resource.get("DeletionPolicy") != "Retain", f"{stack} {logical_id} ({resource['Type']})"
            if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
                kept += 1
                assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
    types = {
        r["Type"]
        for t in synthesized.templates.values()
        for r in t["Resources"].values()
        if r.get("DeletionPolicy") == "RetainExceptOnCreate"
    }
    assert {"AWS::S3::Bucket", "AWS::SecretsManager::Secret", "AWS::Logs::LogGroup", "AWS::KMS::Key"} <= types
    assert kept >= 10


def test_execution_data_is_logged_only_to_log_groups_encrypted_with_the_lake_key(synthesized, pipelines) -> None:
    """The workflows log execution data (manifests, the bank's month totals and summaries): every
    log group of the pipelines is KMS-encrypted with the lake key, which lets CloudWatch Logs use it
    for this account's log groups (stacks/storage.py; CloudWatch Logs User Guide, "Encrypt log data
    in CloudWatch Logs using AWS KMS")."""
    key_export = re.compile(r"Key")
    groups = {k: r for k, r in pipelines["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert groups
    for logical_id, group in groups.items():
        kms = json.dumps(group["Properties"].get("KmsKeyId"))
        assert "ImportValue" in kms and key_export.search(kms), f"{logical_id} is not encrypted with the lake key"
    key_policy = json.dumps(next(iter(synthesized.resources(PLATFORM, "AWS::KMS::Key").values()))["Properties"])
    assert "logs.${AWS::Region}.amazonaws.com" in key_policy or "logs." in key_policy
    for machine in synthesized.resources(PIPELINES, "AWS::StepFunctions::StateMachine").values():
        logging = machine["Properties"]["LoggingConfiguration"]
        if logging.get("IncludeExecutionData"):
            group = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
            assert "KmsKeyId" in groups[group]["Properties"]
