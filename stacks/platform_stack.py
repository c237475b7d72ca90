"""The shared platform.

Storage, Glue catalog, Athena workgroup, alerts topic, dead-letter queue and the failure notifier.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.common.contract import DEAD_LETTER_ALARM, DEFAULT_NAMES
from stacks import nag
from stacks.layers import RUNTIME, common_layer, managed_layer
from stacks.observability import Notifier, alarm_to_topic
from stacks.settings import Settings
from stacks.specs import ROOT
from stacks.storage import LakeStorage

# The default deployment's names (the local runtime uses them); a stack takes its own from settings.names.
CURATED_DATABASE = DEFAULT_NAMES.database("curated")
REFINED_DATABASE = DEFAULT_NAMES.database("refined")
WORKGROUP = DEFAULT_NAMES.workgroup
GLUE_SECURITY_CONFIGURATION = DEFAULT_NAMES.glue_security_configuration

# RUNTIME (stacks/layers.py) is shared by every finlake function (the domain steps and the platform's
# notifier): the newest Python runtime cdk-nag's AwsSolutions-L1 accepts; both managed layers are published for it.
# The asset is the project root with only the `functions` package in it, so handlers are
# importable as `functions.<domain>.handlers.<step>`.
# ("*" does not match dotfiles, hence ".*" and "**/.*".)
LAMBDA_CODE_EXCLUDE = ["*", ".*", "!functions", "!functions/**", "**/.*", "**/__pycache__", "**/*.pyc"]

RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    """CloudWatch Logs retention for ``days``.

    Raises
    ------
    ValueError
        When ``days`` is not one of the retention periods CloudWatch Logs offers.
    """
    if days not in RETENTION:
        raise ValueError(f"log_retention_days must be one of {sorted(RETENTION)}, not {days}")
    return RETENTION[days]


class PlatformStack(Stack):
    """Everything the domain pipelines share. Each resource is exposed as an attribute."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.names = names = settings.names
        self.storage = LakeStorage(self, "Storage", names=names)
        self.key = self.storage.key
        self.raw_bucket = self.storage.raw_bucket
        self.curated_bucket = self.storage.curated_bucket
        self.refined_bucket = self.storage.refined_bucket
        self.results_bucket = self.storage.results_bucket
        self.logs_bucket = self.storage.logs_bucket

        self.curated_database = self._database("CuratedDatabase", "curated", self.curated_bucket)
        self.refined_database = self._database("RefinedDatabase", "refined", self.refined_bucket)
        self.glue_security_configuration = self._glue_security_configuration()
        self.workgroup = self._workgroup(settings.athena_bytes_scanned_cutoff)

        self.topic = sns.Topic(
            self,
            "Notifications",
            display_name="finlake",
            master_key=self.key,
            enforce_ssl=True,
        )
        for email in settings.notification_emails:
            self.topic.add_subscription(subs.EmailSubscription(email))
        # enforce_ssl writes a topic policy, which replaces SNS's default one: every AWS service that
        # publishes needs its own Allow (the key policy allows the same principals, stacks/storage.py).
        self.topic_policy = self._allow_alarms_and_budgets_to_publish()
        self.budget = self._budget(settings.monthly_budget_usd)
        nag.bucket_notifications_handler(self)

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            data_key_reuse=Duration.hours(1),
            retention_period=Duration.days(14),
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        nag.dead_letter_queue(self.dead_letter_queue)
        self.notifier = self._notifier(settings)
        self._outputs()
        # Only a metric sees a message arrive: failed runs (SendToDeadLetterQueue), starters' records
        # (via the notifier), schedules Scheduler could not deliver, the notifier's own failures.
        self.dead_letter_alarm = alarm_to_topic(
            self,
            "DeadLetterQueueNotEmpty",
            name=names.alarm(DEAD_LETTER_ALARM),
            description=(
                "A finlake run, run start or scheduled start failed and its input waits in the dead-letter queue "
                "(14 days). The readable failure email says why, unless the scheduler itself could not start "
                "the run. List and rerun them with `finlake --aws redrive` (add --apply to rerun)."
            ),
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            topic=self.topic,
            names=names,
        )

    def _notifier(self, settings: Settings) -> Notifier:
        return Notifier(
            self,
            "Notifier",
            topic=self.topic,
            dead_letter_queue=self.dead_letter_queue,
            runtime=RUNTIME,
            code=lambda_.Code.from_asset(str(ROOT), exclude=LAMBDA_CODE_EXCLUDE),
            # tzdata (the common layer): a ScheduleStart failure's email names the Sao Paulo partition
            layers=[managed_layer(self, "powertools"), common_layer(self)],
            log_retention=retention(settings.log_retention_days),
            log_key=self.key,
            names=self.names,
        )

    def _allow_alarms_and_budgets_to_publish(self) -> sns.TopicPolicy:
        """The topic policy's Allow statements for the services that publish to the topic.

        - CloudWatch alarms (``cloudwatch.amazonaws.com``), only alarms of this account and region
          named ``<prefix> *`` (``Names.alarm_prefix``). Without it an alarm changes state and sends
          nothing ("CloudWatch Alarms does not have authorization to access the SNS topic":
          https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger).
        - AWS Budgets (``budgets.amazonaws.com``), only budgets of this account
          (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html).
        """
        alarms = self.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{self.names.alarm_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        statements = {
            "AllowCloudWatchAlarmsToPublish": ("cloudwatch.amazonaws.com", alarms),
            "AllowBudgetsToPublish": ("budgets.amazonaws.com", f"arn:{self.partition}:budgets::{self.account}:*"),
        }
        for sid, (service, source_arn) in statements.items():
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": self.account},
                        "ArnLike": {"aws:SourceArn": source_arn},
                    },
                )
            )
        policy = self.topic.node.find_child("Policy")
        assert isinstance(policy, sns.TopicPolicy)
        return policy

    def _budget(self, monthly_usd: int) -> budgets.CfnBudget:
        """A monthly cost budget with alerts at 80% and 100% of actual spend, to the topic.

        Budgets are global to the account, so the name carries the region: the platform deployed in
        two regions of one account makes two budgets, not a name clash. AWS Budgets checks that it
        may publish when the notification is created, so the budget waits for the topic policy.
        """
        budget = budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=self.names.budget(self.region),
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        comparison_operator="GREATER_THAN",
                        notification_type="ACTUAL",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[
                        budgets.CfnBudget.SubscriberProperty(address=self.topic.topic_arn, subscription_type="SNS")
                    ],
                )
                for threshold in (80, 100)
            ],
        )
        budget.node.add_dependency(self.topic_policy)
        return budget

    def _outputs(self) -> None:
        """What `finlake --aws` reads to find the deployment (keys are stable: see finlake/ops)."""
        for key, value in {
            "RawBucketName": self.raw_bucket.bucket_name,
            "CuratedBucketName": self.curated_bucket.bucket_name,
            "RefinedBucketName": self.refined_bucket.bucket_name,
            "NotificationTopicArn": self.topic.topic_arn,
            "DeadLetterQueueUrl": self.dead_letter_queue.queue_url,
            "AthenaWorkgroup": self.names.workgroup,
            "NotifyFunctionName": self.notifier.function.function_name,
        }.items():
            CfnOutput(self, key, key=key, value=value)

    def _database(self, construct_id: str, zone: str, bucket: s3.IBucket) -> glue.CfnDatabase:
        name = self.names.database(zone)
        return glue.CfnDatabase(
            self,
            construct_id,
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=name,
                description=f"finlake {zone} zone",
                location_uri=f"s3://{bucket.bucket_name}/",
            ),
        )

    def _glue_security_configuration(self) -> glue.CfnSecurityConfiguration:
        key_arn = self.key.key_arn
        return glue.CfnSecurityConfiguration(
            self,
            "GlueSecurityConfiguration",
            name=self.names.glue_security_configuration,
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=key_arn
                ),
            ),
        )

    def _workgroup(self, bytes_scanned_cutoff: int) -> athena.CfnWorkGroup:
        return athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=self.names.workgroup,
            description="finlake queries; settings enforced on every client",
            state="ENABLED",
            recursive_delete_option=False,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results_bucket.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.key.key_arn
                    ),
                ),
            ),
        )
