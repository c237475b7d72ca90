"""cdk-nag (AwsSolutions) acknowledgements, each with the reason it is acceptable here.

cdk-nag 3 reads CDK's native ``Validations.of(scope).acknowledge(...)``. Each finding is acknowledged
by its full id (``AwsSolutions-IAM5[Resource::...]``) on the narrowest construct that carries it, so
a new wildcard anywhere else still fails the infra tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Acknowledgment, DefaultStackSynthesizer, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

from functions.common.contract import Names

MIN_REASON = 20
IAM5 = "AwsSolutions-IAM5"
S3_READ_ACTIONS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
KMS_ACTIONS = ("kms:GenerateDataKey*", "kms:ReEncrypt*")


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge cdk-nag ``rule`` on ``scope`` with ``reason``.

    Raises
    ------
    ValueError
        When ``reason`` is shorter than ``MIN_REASON`` characters (an acknowledgement needs a specific reason).
    """
    if len(reason) < MIN_REASON:
        raise ValueError(f"acknowledgement of {rule} needs a specific reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def _iam5(scope: IConstruct, findings: Iterable[str], reason: str) -> None:
    for finding in findings:
        acknowledge(scope, f"{IAM5}[{finding}]", reason)


def _kms(scope: IConstruct) -> None:
    _iam5(
        scope,
        (f"Action::{a}" for a in KMS_ACTIONS),
        "CDK grants on the finlake KMS key use the kms:GenerateDataKey*/kms:ReEncrypt* action families; "
        "the resource is the single customer-managed lake key, not '*'.",
    )


# -- platform ---------------------------------------------------------------------------------------


def dead_letter_queue(queue: IConstruct) -> None:
    """Acknowledge AwsSolutions-SQS3 on the dead-letter queue: it is the DLQ itself and has no consumer."""
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter queue of the workflows and schedules (failed-run inputs "
        "for redrive); it has no consumer that could fail, so it needs no DLQ of its own.",
    )


def notifier_role(role: IConstruct, names: Names) -> None:
    """The platform's notifier (functions/notifier).

    It reads the history of the deployment's executions and the arguments of its Glue job runs.
    """
    machines = names.state_machine_prefix
    jobs = names.glue_job_prefix
    _iam5(
        role,
        [f"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{machines}*:*"],
        f"states:GetExecutionHistory/DescribeExecution on the executions of the {machines}<domain> state "
        "machines only: execution names are chosen at run time, and the platform stack is deployed "
        "before the pipelines, so it cannot name their state machines.",
    )
    _iam5(
        role,
        [f"Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:job/{jobs}*"],
        f"glue:GetJobRun on the {jobs}<domain>-<step> Glue jobs only: the platform stack is deployed "
        "before the pipelines that define the jobs, so it cannot name them one by one.",
    )
    _kms(role)  # publishes to the encrypted topic, sends records to the encrypted DLQ


# -- domain pipelines ---------------------------------------------------------------------------------


def zone_grants(role: IConstruct, zones: Mapping[str, str], names: Names) -> None:
    """Wildcards produced by ``bucket.grant_read``/``grant_read_write`` on the lake zones."""
    granted = {zone: mode for zone, mode in zones.items() if mode}
    if not granted:
        return
    _iam5(
        role,
        (f"Action::{a}" for a in S3_READ_ACTIONS),
        "Action families from bucket.grant_read (GetObject*, GetBucket*, List*), limited to the finlake "
        "zone buckets this step needs.",
    )
    for zone in granted:
        _iam5(
            role,
            [f"Resource::arn:<AWS::Partition>:s3:::{names.bucket(zone, '<AWS::AccountId>', '<AWS::Region>')}/*"],
            f"Objects of the {zone} zone bucket: keys are partitioned by domain and date and written at "
            "run time, so they cannot be listed at deploy time.",
        )
    if any("w" in mode for mode in granted.values()):
        _iam5(
            role,
            ["Action::s3:Abort*"],
            "Action family from bucket.grant_put/grant_read_write (AbortMultipartUpload): a step aborts "
            "its own failed multipart uploads, only in the zone buckets it writes.",
        )
        _kms(role)
    if any("d" in mode for mode in granted.values()):
        _iam5(
            role,
            ["Action::s3:DeleteObject*"],
            "Action family from bucket.grant_read_write (DeleteObject*): this step rewrites the curated or "
            "refined partitions it touches and removes its staging files; never granted on the raw zone.",
        )


def lambda_role(role: IConstruct) -> None:
    """Acknowledge the ``*`` resource of a Lambda execution role: X-Ray tracing has no resource-level permissions."""
    _iam5(
        role,
        ["Resource::*"],
        "X-Ray active tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) does not support "
        "resource-level permissions.",
    )


def glue_role(role: IConstruct) -> None:
    """Acknowledge the wildcards of a Glue job role, each with its reason.

    The CDK assets bucket's objects (the job script), ``cloudwatch:PutMetricData`` (no resource-level permissions),
    the ``/aws-glue/*`` log groups (named at run time) and the KMS action families.
    """
    stack = Stack.of(role)
    qualifier = stack.synthesizer.bootstrap_qualifier or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    _iam5(
        role,
        [f"Resource::arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*"],
        "Read access to the job script, a CDK file asset in the bootstrap assets bucket (asset.grant_read).",
    )
    _iam5(
        role,
        ["Resource::*"],
        "cloudwatch:PutMetricData has no resource-level permissions; it is restricted to the Glue namespace "
        "by a condition.",
    )
    _iam5(
        role,
        ["Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/*"],
        "Glue writes continuous logs to /aws-glue/ log groups named after the security configuration "
        "and run ids, which are only known at run time.",
    )
    _kms(role)


def glue_job(job: IConstruct) -> None:
    """Acknowledge AwsSolutions-GL1 and GL3 on a Glue job: its security configuration is the platform's."""
    reason = (
        "The job uses the platform's Glue security configuration (CloudWatch SSE-KMS, job "
        "bookmarks CSE-KMS, S3 SSE-KMS); the rule only looks for it in the job's own stack."
    )
    acknowledge(job, "AwsSolutions-GL1", reason)
    acknowledge(job, "AwsSolutions-GL3", reason)


def state_machine_role(machine: IConstruct, functions: Iterable[lambda_.Function]) -> None:
    """Acknowledge the wildcards of a state machine's role.

    Logging and X-Ray (no resource-level permissions), ``<function ARN>:*`` of each of ``functions`` (what
    ``grant_invoke`` writes) and the KMS action families.
    """
    _iam5(
        machine,
        ["Resource::*"],
        "Step Functions logging to CloudWatch Logs (logs:CreateLogDelivery and related) and X-Ray tracing "
        "do not support resource-level permissions.",
    )
    for function in functions:
        logical_id = Stack.of(function).get_logical_id(function.node.default_child)  # type: ignore[arg-type]
        _iam5(
            machine,
            [f"Resource::<{logical_id}.Arn>:*"],
            "function.grant_invoke also covers the versions and aliases (<arn>:*) of this domain's own "
            "function, nothing else.",
        )
    _kms(machine)


def schedule_role(role: IConstruct) -> None:
    """Acknowledge the KMS action families on a schedule's role."""
    _kms(role)


def bucket_notifications_handler(stack: Stack) -> None:
    """CDK's own custom resource that switches on EventBridge notifications for the raw bucket."""
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            acknowledge(
                child,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "CDK's BucketNotificationsHandler (it enables EventBridge notifications on the raw bucket at "
                "deploy time) uses the AWS managed basic execution role for its own logs; CDK offers no way "
                "to replace that role.",
            )


def secret_without_rotation(secret: IConstruct, name: str, description: str, *, generated: bool) -> None:
    """AwsSolutions-SMG4: a domain secret has no rotation Lambda, for a reason that depends on its kind."""
    if generated:
        reason = (
            f"{name} ({description}) is a key CloudFormation generated once. Data already written depends on "
            "it (keyed hashes are compared across runs), so rotating it means re-keying that data: a "
            "deliberate operation done by hand, never on a schedule."
        )
    else:
        reason = (
            f"{name} ({description}) holds a credential issued and rotated by its owner outside AWS; no "
            "rotation Lambda can obtain a new one. The operator puts each new value with put-secret-value."
        )
    acknowledge(secret, "AwsSolutions-SMG4", reason)
