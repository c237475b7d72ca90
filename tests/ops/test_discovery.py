"""Finding the deployment from CloudFormation outputs, and the errors when something is missing."""

from __future__ import annotations

import pytest

from finlake.local.runtime import REGION, EmbeddedAws
from finlake.ops.discovery import PIPELINES_STACK, PLATFORM_STACK, DiscoveryError, discover
from stacks.specs import DOMAINS

from .conftest import create_stack, platform_outputs

pytestmark = pytest.mark.slow


def test_discovery_reads_both_stacks(deployed: EmbeddedAws):
    deployment = discover(deployed.client("cloudformation"), REGION, sorted(DOMAINS))

    assert deployment.dead_letter_queue_url == deployed.dlq_url
    assert deployment.topic_arn == deployed.topic_arn
    assert deployment.raw_bucket == "finlake-raw"
    assert deployment.state_machine("bndes") == deployed.state_machines["bndes"]
    with pytest.raises(DiscoveryError, match=f"stack {PIPELINES_STACK} has no output StocksStateMachineArn"):
        deployment.state_machine("stocks")


def test_no_platform_stack_is_named(embedded: EmbeddedAws, cli):
    result = cli("runs")

    assert result.exit_code == 1
    assert f"stack {PLATFORM_STACK} not found in {REGION}" in result.output


def test_a_missing_output_is_named(embedded: EmbeddedAws, cli):
    outputs = platform_outputs(embedded)
    del outputs["DeadLetterQueueUrl"]
    create_stack(embedded, PLATFORM_STACK, outputs)

    result = cli("redrive")

    assert result.exit_code == 1
    assert f"stack {PLATFORM_STACK} has no output DeadLetterQueueUrl" in result.output


def test_no_pipelines_stack_is_named(embedded: EmbeddedAws, cli):
    create_stack(embedded, PLATFORM_STACK, platform_outputs(embedded))

    result = cli("run", "bndes", "--date", "2026-11-23")

    assert result.exit_code == 1
    assert f"stack {PIPELINES_STACK} not found" in result.output


def test_a_domain_without_its_state_machine_output_is_named(deployed: EmbeddedAws, cli):
    result = cli("run", "stocks", "--date", "2026-11-23")

    assert result.exit_code == 1
    assert f"stack {PIPELINES_STACK} has no output StocksStateMachineArn" in result.output


def test_profile_and_region_need_aws(cli):
    result = cli("--region", "sa-east-1", "runs", aws=False)

    assert result.exit_code == 2
    assert "--profile and --region go with --aws" in result.output
