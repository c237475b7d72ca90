"""The deployed stacks, as far as `finlake --aws` can tell: the embedded AWS (the real definitions,
handlers in process) plus the two CloudFormation stacks holding only the outputs that point at it."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from finlake.cli import main
from finlake.local.runtime import BUCKETS, REGION, EmbeddedAws
from finlake.local.sources import local_function_env, sample_transport
from finlake.local.workspace import Workspace
from finlake.ops.discovery import PIPELINES_STACK, PLATFORM_STACK, Aws, discover, state_machine_output
from functions.common.http import use_transport
from stacks.specs import BNDES, CARDS, DOMAINS

DEPLOYED = (BNDES, CARDS)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


@pytest.fixture
def embedded(workspace: Workspace) -> Iterator[EmbeddedAws]:
    use_transport("bndes", sample_transport(workspace, "bndes", {}))  # the CKAN cassette (the runner does this per run)
    try:
        with EmbeddedAws(workspace, function_env=local_function_env(workspace, list(DEPLOYED))) as session:
            for spec in DEPLOYED:
                session.deploy(spec)
            yield session
    finally:
        use_transport("bndes", None)


def platform_outputs(aws: EmbeddedAws) -> dict[str, str]:
    return {
        "RawBucketName": BUCKETS["RAW_BUCKET"],
        "CuratedBucketName": BUCKETS["CURATED_BUCKET"],
        "RefinedBucketName": BUCKETS["REFINED_BUCKET"],
        "NotificationTopicArn": aws.topic_arn,
        "DeadLetterQueueUrl": aws.dlq_url,
        "AthenaWorkgroup": "finlake",
    }


def create_stack(aws: EmbeddedAws, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    with warnings.catch_warnings():  # moto says it does not model WaitConditionHandle: nothing to model
        warnings.simplefilter("ignore", UserWarning)
        aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def deployed(embedded: EmbeddedAws) -> EmbeddedAws:
    create_stack(embedded, PLATFORM_STACK, platform_outputs(embedded))
    create_stack(
        embedded,
        PIPELINES_STACK,
        {state_machine_output(spec.name): embedded.state_machines[spec.name] for spec in DEPLOYED},
    )
    return embedded


@pytest.fixture
def ops(deployed: EmbeddedAws) -> Aws:
    """What `finlake --aws` connects to, with fast polling."""
    deployment = discover(deployed.client("cloudformation"), REGION, sorted(DOMAINS))
    return Aws(deployment, deployed.client("stepfunctions"), deployed.client("sqs"), poll_s=0.05, sqs_wait_s=0)


@pytest.fixture
def cli(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`finlake --aws ARGS` in this process (inside the embedded AWS's mock); returns the click Result."""
    monkeypatch.setenv("FINLAKE_AWS_POLL_S", "0.05")

    def invoke(*args: str, aws: bool = True) -> Result:
        prefix = ["--home", str(workspace.root), *(["--aws"] if aws else [])]
        return CliRunner().invoke(main, [*prefix, *args], catch_exceptions=False)

    return invoke
