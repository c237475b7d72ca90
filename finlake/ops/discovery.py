"""Find the deployment from the CloudFormation outputs of `FinlakePlatform` and `FinlakePipelines`.

The output keys are set in stacks/platform_stack.py (`_outputs`) and stacks/domain_pipeline.py
(`<Domain>StateMachineArn`); they are the contract between the stacks and this CLI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

PLATFORM_STACK = "FinlakePlatform"
PIPELINES_STACK = "FinlakePipelines"
PLATFORM_OUTPUTS = (
    "RawBucketName",
    "CuratedBucketName",
    "RefinedBucketName",
    "NotificationTopicArn",
    "DeadLetterQueueUrl",
    "AthenaWorkgroup",
)


class DiscoveryError(Exception):
    """The deployment could not be found: the message names the stack or output that is missing."""


def state_machine_output(domain: str) -> str:
    """``bndes`` -> ``BndesStateMachineArn`` (as stacks/domain_pipeline.py names it)."""
    return f"{domain.title()}StateMachineArn"


@dataclass(frozen=True)
class Deployment:
    """What the deployed stacks' outputs name: buckets, topic, dead-letter queue, Athena workgroup, state machines."""

    region: str
    raw_bucket: str
    curated_bucket: str
    refined_bucket: str
    topic_arn: str
    dead_letter_queue_url: str
    athena_workgroup: str
    state_machines: dict[str, str] = field(default_factory=dict)  # domain -> ARN (outputs present)

    def state_machine(self, domain: str) -> str:
        """The ARN of ``domain``'s state machine.

        Raises
        ------
        DiscoveryError
            When the pipelines stack has no output for it (the domain is not deployed by this version of the app).
        """
        if domain not in self.state_machines:
            raise DiscoveryError(
                f"stack {PIPELINES_STACK} has no output {state_machine_output(domain)}: "
                f"deploy the {domain} pipeline with this version of the app (cdk deploy --all)"
            )
        return self.state_machines[domain]

    def domain_of(self, state_machine_arn: str) -> str | None:
        """The domain whose state machine has ARN ``state_machine_arn``, or None."""
        return next((d for d, arn in self.state_machines.items() if arn == state_machine_arn), None)


def stack_outputs(cloudformation: Any, stack: str, region: str) -> dict[str, str]:
    """The outputs (key -> value) of CloudFormation stack ``stack``.

    Raises
    ------
    DiscoveryError
        When the stack does not exist in ``region``.
    botocore.exceptions.ClientError
        On any other CloudFormation error.
    """
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationError":  # "Stack ... does not exist"
            raise DiscoveryError(
                f"stack {stack} not found in {region}: deploy it (cdk deploy --all) or pick the "
                "account and region with --profile/--region"
            ) from exc
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def discover(cloudformation: Any, region: str, domains: list[str]) -> Deployment:
    """Read both stacks' outputs.

    A missing platform output is an error at once; a missing state machine output only when that domain is used
    (`Deployment.state_machine`).
    """
    platform = stack_outputs(cloudformation, PLATFORM_STACK, region)
    missing = [key for key in PLATFORM_OUTPUTS if key not in platform]
    if missing:
        raise DiscoveryError(
            f"stack {PLATFORM_STACK} has no output {', '.join(missing)}: redeploy it with this version of the app"
        )
    pipelines = stack_outputs(cloudformation, PIPELINES_STACK, region)
    return Deployment(
        region=region,
        raw_bucket=platform["RawBucketName"],
        curated_bucket=platform["CuratedBucketName"],
        refined_bucket=platform["RefinedBucketName"],
        topic_arn=platform["NotificationTopicArn"],
        dead_letter_queue_url=platform["DeadLetterQueueUrl"],
        athena_workgroup=platform["AthenaWorkgroup"],
        state_machines={d: pipelines[state_machine_output(d)] for d in domains if state_machine_output(d) in pipelines},
    )


@dataclass
class Aws:
    """The clients `finlake --aws` uses, and the deployment they found."""

    deployment: Deployment
    sfn: Any
    sqs: Any
    poll_s: float = 2.0  # between DescribeExecution calls while following an execution
    sqs_wait_s: int = 1  # long polling when reading the dead-letter queue


def connect(profile: str | None, region: str | None, domains: list[str]) -> Aws:
    """A boto3 session from the profile and region (or the usual environment), and the deployment."""
    import boto3

    session = boto3.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise DiscoveryError("no AWS region: pass --region or set AWS_REGION / the profile's region")
    cloudformation = session.client("cloudformation")
    deployment = discover(cloudformation, session.region_name, domains)
    return Aws(
        deployment=deployment,
        sfn=session.client("stepfunctions"),
        sqs=session.client("sqs"),
        poll_s=float(os.environ.get("FINLAKE_AWS_POLL_S", "2")),  # tests on moto poll faster
    )
