"""The lake's storage: one customer-managed KMS key and the S3 buckets of each zone."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.common.contract import Names

NONCURRENT_DAYS = 90
ABORT_UPLOADS = s3.LifecycleRule(
    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
)
EXPIRE_NONCURRENT = s3.LifecycleRule(
    id="expire-noncurrent", noncurrent_version_expiration=Duration.days(NONCURRENT_DAYS)
)


def bucket_name(scope: Construct, zone: str, names: Names) -> str:
    """Deterministic bucket names, so other stacks and people can name a zone without an export."""
    stack = Stack.of(scope)
    return names.bucket(zone, stack.account, stack.region)


class LakeStorage(Construct):
    """KMS key, raw/curated/refined zones, Athena results and the access-logs bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, names: Names) -> None:
        super().__init__(scope, construct_id)
        self.names = names
        self.key = kms.Key(
            self,
            "Key",
            alias=names.key_alias,
            description="finlake: lake buckets, Glue, Athena results, SNS and SQS",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self._allow_service_principals()

        self.logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=bucket_name(self, "access-logs", names),
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logging cannot write to SSE-KMS
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                ABORT_UPLOADS,
                EXPIRE_NONCURRENT,
                s3.LifecycleRule(id="expire-logs", expiration=Duration.days(365)),
            ],
        )

        self.raw_bucket = self._bucket(
            "raw",
            s3.LifecycleRule(
                id="tier-raw",
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.INTELLIGENT_TIERING, transition_after=Duration.days(30)
                    ),
                    s3.Transition(
                        storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                        transition_after=Duration.days(365),
                    ),
                ],
            ),
        )
        self.curated_bucket = self._bucket(
            "curated",
            s3.LifecycleRule(
                id="tier-curated",
                transitions=[
                    s3.Transition(storage_class=s3.StorageClass.INTELLIGENT_TIERING, transition_after=Duration.days(0))
                ],
            ),
        )
        self.refined_bucket = self._bucket("refined")
        self.results_bucket = self._bucket(
            "athena-results", s3.LifecycleRule(id="expire-results", expiration=Duration.days(30))
        )

    def _bucket(self, zone: str, *rules: s3.LifecycleRule) -> s3.Bucket:
        return s3.Bucket(
            self,
            zone.title().replace("-", ""),
            bucket_name=bucket_name(self, zone, self.names),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.logs_bucket,
            server_access_logs_prefix=f"{zone}/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[ABORT_UPLOADS, EXPIRE_NONCURRENT, *rules],
            event_bridge_enabled=zone == "raw",  # files dropped in the raw inbox start workflows
        )

    def _allow_service_principals(self) -> None:
        """Let CloudWatch, AWS Budgets and CloudWatch Logs use the key.

        CloudWatch alarms and AWS Budgets cost alerts publish to the encrypted SNS topic; CloudWatch Logs holds Glue's
        logs.
        """
        stack = Stack.of(self)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsToPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForGlueSecurityConfiguration",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
