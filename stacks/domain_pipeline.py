"""One domain's pipeline: its Lambda functions and Glue jobs, the state machine, schedule and alarms.

Every domain is the same construct fed a different ``DomainSpec``; nothing here names a domain.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.common.contract import (
    GLUE_COMMAND,
    GLUE_VERSION,
    LAKE_ZONES,
    TIMEZONE,
    LakeLocation,
    function_environment,
    glue_job_arguments,
    schedule_start_environment,
)
from stacks import nag
from stacks.layers import common_layer, managed_layer, pip_layer
from stacks.observability import STARTER_MAX_EVENT_AGE, DomainSection, NotifierDestination
from stacks.platform_stack import (
    LAMBDA_CODE_EXCLUDE,
    RUNTIME,
    PlatformStack,
    retention,
)
from stacks.settings import Settings
from stacks.specs import ROOT, Access, DomainSpec, GlueStep, LambdaStep, Secret
from stacks.storage import bucket_name

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"  # Scheduler context attribute, ISO 8601 UTC

CATALOG_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
    "glue:CreatePartition",
    "glue:BatchCreatePartition",
    "glue:UpdatePartition",
    "glue:BatchUpdatePartition",
    "glue:DeletePartition",
    "glue:BatchDeletePartition",
]


def definition_keys(path: Path) -> set[str]:
    """The ``${Name}`` substitutions a definition file uses."""
    return set(re.findall(r"\$\{(\w+)\}", path.read_text()))


class DomainPipeline(Construct):
    """Functions, jobs, workflow, schedule and alarms of one domain."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: DomainSpec,
        platform: PlatformStack,
        settings: Settings,
        project_root: Path = ROOT,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.platform = platform
        self.settings = settings
        self.names = settings.names
        self.databases = (self.names.database("curated"), self.names.database("refined"))
        self.project_root = project_root
        self.log_retention = retention(settings.log_retention_days)
        # Zones by their deterministic names (no cross-stack exports, stable IAM resources).
        self.buckets = {
            zone: s3.Bucket.from_bucket_attributes(
                self,
                f"{zone.title().replace('-', '')}Bucket",
                bucket_name=bucket_name(self, zone, self.names),
                encryption_key=platform.key,
            )
            for zone in ("raw", "curated", "refined", "athena-results")
        }

        code = lambda_.Code.from_asset(str(project_root), exclude=LAMBDA_CODE_EXCLUDE)
        # Layers in Lambda's merge order (stacks/layers.py); the domain's own layer holds only what the
        # runtime and the earlier layers do not (tests/infra/test_lambda_packaging.py).
        self.powertools = managed_layer(self, "powertools")
        self.common = common_layer(self)
        self.layers: list[lambda_.ILayerVersion] = [managed_layer(self, "pandas"), self.powertools, self.common]
        self.secrets = self._secrets()
        self.dependencies = self._dependencies_layer() if spec.requirements else None
        self.step_layers = [*self.layers, self.dependencies] if self.dependencies else list(self.layers)
        self.functions = {step.step: self._function(step, code, self.step_layers) for step in spec.lambdas}
        self.jobs = {job.step: self._glue_job(job) for job in spec.glue_jobs}
        self.state_machine = self._state_machine()
        self.schedule_start = self._schedule_start(code)
        self.schedule = self._schedule(self.schedule_start)
        self.trigger = self._trigger(code) if spec.trigger else None
        # No alarms here: a failed step, run or Glue job reaches the platform's notifier through the
        # definition's Catch and the EventBridge rules, a failed start through its on-failure
        # destination (stacks/observability.py).
        self.dashboard_section = DomainSection(
            domain=spec.name,
            description=spec.description,
            state_machine=self.state_machine,
            functions={
                **self.functions,
                "ScheduleStart": self.schedule_start,
                **({"Trigger": self.trigger} if self.trigger else {}),
            },
            glue_jobs=[self._job_name(job) for job in spec.glue_jobs],
        )
        # Stable keys that `finlake --aws` reads (e.g. "BndesStateMachineArn"); see finlake/ops.
        CfnOutput(
            self,
            "StateMachineArn",
            key=f"{spec.name.title()}StateMachineArn",
            value=self.state_machine.state_machine_arn,
        )

    # -- dependencies layer ------------------------------------------------------------------------

    def _dependencies_layer(self) -> lambda_.LayerVersion:
        """``spec.requirements`` (the whole pinned closure) installed by pip on the synthesizing machine."""
        requirements = self.project_root / self.spec.requirements
        if not requirements.is_file():
            raise ValueError(f"{self.spec.name}: requirements file {self.spec.requirements} does not exist")
        return pip_layer(self, "DependenciesLayer", requirements, f"finlake {self.spec.name}: {self.spec.requirements}")

    # -- secrets -----------------------------------------------------------------------------------

    def _secrets(self) -> dict[str, secretsmanager.Secret]:
        """The domain's secrets, KMS-encrypted with the lake key; an optional one only when its
        setting is on. Values never reach the environment: functions get the secret's name."""
        declared = {secret.key for secret in self.spec.secrets}
        for step in self.spec.lambdas:
            unknown = set(step.secrets) - declared
            if unknown:
                raise ValueError(f"{self.spec.name} {step.step} lists undeclared secrets {sorted(unknown)}")
        # The lake key by reference: a grant on the platform's own Key object would put this stack's
        # roles into the key policy (a cycle between the stacks). Decrypt is granted on the roles instead.
        # It also encrypts the log groups: the key policy lets CloudWatch Logs use it for this account's
        # log groups (stacks/storage.py), so nothing needs granting to the writers.
        self.secrets_key = kms.Key.from_key_arn(self, "SecretsKey", self.platform.key.key_arn)
        return {
            secret.key: self._secret(secret)
            for secret in self.spec.secrets
            if not secret.optional_setting or self.settings.optional_enabled(secret.optional_setting)
        }

    def _secret(self, secret: Secret) -> secretsmanager.Secret:
        name = self.names.secret(self.spec.name, secret.key)
        if secret.generated:
            description = f"finlake {self.spec.name}: {secret.description}. Generated at deploy; never set by hand."
            generator = secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True)
        else:
            description = (
                f"finlake {self.spec.name}: {secret.description}. Deployed with a placeholder; set it with "
                f"aws secretsmanager put-secret-value --secret-id {name} --secret-string file://{secret.key}.json"
            )
            # A JSON placeholder, so a function reading it before the operator sets it reports missing fields.
            generator = secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"placeholder": "set the real value with put-secret-value"}),
                generate_string_key="placeholder_token",
                exclude_punctuation=True,
            )
        construct = secretsmanager.Secret(
            self,
            f"{secret.key.title().replace('_', '')}Secret",
            secret_name=name,
            description=description,
            encryption_key=self.secrets_key,
            generate_secret_string=generator,
            removal_policy=RemovalPolicy.RETAIN,
        )
        nag.secret_without_rotation(construct, name, secret.description, generated=secret.generated)
        return construct

    def _secret_environment(self, step: LambdaStep) -> dict[str, str]:
        """``<KEY>_SECRET`` (the name) of each secret the step reads, plus its optional setting's values."""
        read = [s for s in self.spec.secrets if s.key in step.secrets and s.key in self.secrets]
        environment = function_environment(self.names, self.spec.name, self.lake, {s.env_var: s.key for s in read})
        for secret in read:
            if secret.optional_setting:
                environment |= self.settings.optional_environment(secret.optional_setting)
        return environment

    def _grant_secrets(self, role: iam.IRole, step: LambdaStep) -> None:
        """Read access to the secrets the step lists, and decrypt with the lake key only through
        Secrets Manager (``secret.grant_read`` cannot add that for a key of another stack)."""
        readable = [self.secrets[key] for key in step.secrets if key in self.secrets]
        for secret in readable:
            secret.grant_read(role)
        if readable:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[self.platform.key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com"}
                    },
                )
            )

    # -- steps -----------------------------------------------------------------------------------

    @property
    def lake(self) -> LakeLocation:
        """The lake as the functions and jobs see it: the zones' bucket names (tokens) and the databases."""
        return self.names.lake({zone: self.buckets[zone].bucket_name for zone in LAKE_ZONES})

    @property
    def environment(self) -> dict[str, str]:
        """The environment every step function and the S3 trigger get (``functions/common/contract.py``)."""
        return function_environment(self.names, self.spec.name, self.lake)

    def _function(self, step: LambdaStep, code: lambda_.Code, layers: list[lambda_.ILayerVersion]) -> lambda_.Function:
        role = iam.Role(
            self,
            f"{step.step}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"finlake {self.spec.name} {step.step} function",
        )
        log_group = logs.LogGroup(
            self, f"{step.step}Logs", retention=self.log_retention, encryption_key=self.secrets_key
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            f"{step.step}Function",
            description=step.description or f"finlake {self.spec.name} {step.step}",
            runtime=RUNTIME,
            handler=step.handler,
            code=code,
            memory_size=step.memory_mb,
            timeout=Duration.seconds(step.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            layers=layers,
            environment=self._secret_environment(step),
            log_group=log_group,
            role=role,
        )
        self._grant(role, step.access)
        self._grant_secrets(role, step)
        nag.lambda_role(role)
        return function

    def _glue_job(self, job: GlueStep) -> glue.CfnJob:
        stack = Stack.of(self)
        script = s3_assets.Asset(self, f"{job.step}Script", path=str(self.project_root / job.script))
        # glue/lib/ zipped: Glue puts the zip on sys.path, so the script's `import glue_io` finds the module at its root
        library = s3_assets.Asset(
            self, f"{job.step}Library", path=str(self.project_root / "glue/lib"), exclude=["__pycache__", "*.pyc"]
        )
        role = iam.Role(
            self,
            f"{job.step}JobRole",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"finlake {self.spec.name} {job.step} Glue job",
        )
        script.grant_read(role)
        library.grant_read(role)
        self._grant(role, job.access)
        self.platform.key.grant_encrypt_decrypt(role)  # security configuration: S3, logs, bookmarks
        glue_logs = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws-glue/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[glue_logs],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
            )
        )
        p = self.platform
        cfn_job = glue.CfnJob(
            self,
            f"{job.step}Job",
            name=self._job_name(job),
            description=job.description or f"finlake {self.spec.name} {job.step}",
            role=role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name=GLUE_COMMAND, python_version="3", script_location=script.s3_object_url
            ),
            glue_version=GLUE_VERSION,
            worker_type=job.worker_type,
            number_of_workers=job.workers,
            timeout=job.timeout_min,
            max_retries=0,
            # An overlapping run (a schedule during a backfill, two operators) waits in Glue's queue
            # instead of failing with ConcurrentRunsExceededException; the task timeout covers the
            # wait (stacks/specs.py GLUE_RUNS_AHEAD).
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=job.max_concurrent_runs),
            job_run_queuing_enabled=True,
            security_configuration=p.glue_security_configuration.ref,
            default_arguments=glue_job_arguments(self.spec.name, self.lake, library.s3_object_url),
        )
        nag.glue_role(role)
        nag.glue_job(cfn_job)
        return cfn_job

    def _job_name(self, job: GlueStep) -> str:
        return self.names.glue_job(self.spec.name, job.step)

    def _grant(self, role: iam.IRole, access: Access) -> None:
        zones = {"raw": access.raw, "curated": access.curated, "refined": access.refined}
        for zone, mode in zones.items():
            bucket = self.buckets[zone]
            if mode == "rwd":
                bucket.grant_read_write(role)
                continue
            if "r" in mode:
                bucket.grant_read(role)
            if "w" in mode:
                bucket.grant_put(role)
        if access.catalog:
            role.add_to_principal_policy(self._catalog_statement())
        if access.athena:
            zones["athena-results"] = "rwd"
            self.buckets["athena-results"].grant_read_write(role)
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[
                        "athena:StartQueryExecution",
                        "athena:GetQueryExecution",
                        "athena:GetQueryResults",
                        "athena:StopQueryExecution",
                        "athena:GetWorkGroup",
                    ],
                    resources=[
                        Stack.of(self).format_arn(
                            service="athena", resource="workgroup", resource_name=self.names.workgroup
                        )
                    ],
                )
            )
        nag.zone_grants(role, zones, self.names)

    def _catalog_statement(self) -> iam.PolicyStatement:
        """Glue Data Catalog access scoped to the lake's two databases and the domain's own tables
        (``spec.tables``, declared in ``functions/<domain>/tables.py``)."""
        if not self.spec.tables:
            raise ValueError(f"{self.spec.name}: a step has catalog access but the spec declares no tables")
        stack = Stack.of(self)
        resources = [stack.format_arn(service="glue", resource="catalog")]
        resources += [stack.format_arn(service="glue", resource="database", resource_name=d) for d in self.databases]
        resources += [
            stack.format_arn(service="glue", resource="table", resource_name=f"{self.names.database(t.zone)}/{t.name}")
            for t in self.spec.tables
        ]
        return iam.PolicyStatement(actions=CATALOG_ACTIONS, resources=resources)

    # -- workflow --------------------------------------------------------------------------------

    def _substitutions(self) -> dict[str, str]:
        p = self.platform
        subs = {f"{name}Function": fn.function_arn for name, fn in self.functions.items()}
        subs |= {f"{name}Job": job.ref for name, job in self.jobs.items()}
        subs |= {
            "NotifyFunction": p.notifier.function.function_arn,
            "NotificationTopic": p.topic.topic_arn,
            "DeadLetterQueue": p.dead_letter_queue.queue_url,
            "Region": Stack.of(self).region,
        }
        path = self.spec.definition_path
        missing = definition_keys(path) - set(subs)
        if missing:
            raise ValueError(f"{path.name} uses unknown substitutions {sorted(missing)}")
        # A file definition carries its own top-level TimeoutSeconds; it must match the spec.
        timeout_s = json.loads(path.read_text()).get("TimeoutSeconds")
        if timeout_s != self.spec.timeout_min * 60:
            raise ValueError(f"{path.name}: TimeoutSeconds {timeout_s} != spec timeout_min*60")
        return subs

    def _state_machine(self) -> sfn.StateMachine:
        name = self.names.state_machine(self.spec.name)
        # Execution data (manifests, counts, the bank's month totals) is logged: encrypted with the lake key.
        log_group = logs.LogGroup(
            self,
            "WorkflowLogs",
            log_group_name=self.names.state_machine_logs(self.spec.name),
            retention=self.log_retention,
            encryption_key=self.secrets_key,
        )
        machine = sfn.StateMachine(
            self,
            "Workflow",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(self.spec.definition_path)),
            definition_substitutions=self._substitutions(),
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        for function in self.functions.values():
            function.grant_invoke(machine)
        # NotifyFailure invokes the platform's notifier: that function's ARN only (no version wildcard).
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.platform.notifier.function.function_arn]
            )
        )
        self.platform.topic.grant_publish(machine)  # NotifySuccess (and bank's NotifyStart)
        self.platform.dead_letter_queue.grant_send_messages(machine)
        if self.jobs:
            stack = Stack.of(self)
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                    resources=[
                        stack.format_arn(service="glue", resource="job", resource_name=job.ref)
                        for job in self.jobs.values()
                    ],
                )
            )
        nag.state_machine_role(machine, self.functions.values())
        return machine

    def _schedule(self, starter: lambda_.Function) -> scheduler.CfnSchedule:
        """EventBridge Scheduler invokes the domain's ``ScheduleStart`` function with the time it
        fired; the function starts the workflow under the partition's deterministic name (see
        functions/common/schedule.py: Scheduler's own Step Functions target cannot name executions)."""
        stack = Stack.of(self)
        setting = self.settings.schedule_for(self.spec)
        role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"EventBridge Scheduler: invoke {self.names.state_machine(self.spec.name)}'s ScheduleStart",
        )
        # the unqualified function only (grant_invoke would add its versions, "<arn>:*")
        role.add_to_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[starter.function_arn]))
        self.platform.dead_letter_queue.grant_send_messages(role)
        nag.schedule_role(role)
        schedule_input = {"domain": self.spec.name, "period": self.spec.period, "scheduled_time": SCHEDULED_TIME}
        return scheduler.CfnSchedule(
            self,
            "Schedule",
            name=self.names.schedule(self.spec.name),
            description=f"Start the finlake {self.spec.name} workflow",
            schedule_expression=setting.expression or self.spec.schedule,
            schedule_expression_timezone=TIMEZONE,
            state="ENABLED" if setting.enabled else "DISABLED",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=starter.function_arn,
                role_arn=role.role_arn,
                input=json.dumps(schedule_input),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=3, maximum_event_age_in_seconds=3600
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=self.platform.dead_letter_queue.queue_arn
                ),
            ),
        )

    def _schedule_start(self, code: lambda_.Code) -> lambda_.Function:
        return self._starter(
            "ScheduleStart",
            what="the scheduled start",
            description=f"finlake {self.spec.name}: start the scheduled run under its deterministic name",
            handler="functions.common.schedule.handler",
            code=code,
            memory_mb=256,
            timeout_s=30,
            layers=[self.powertools, self.common],  # boto3, the logger and tzdata only
            environment=schedule_start_environment(self.names, self.spec.name),
        )

    def _trigger(self, code: lambda_.Code) -> lambda_.Function:
        """Files landing under the trigger's prefix of the raw bucket (S3 -> EventBridge) invoke a
        function that starts the workflow when a partition is complete."""
        trigger = self.spec.trigger
        assert trigger is not None
        function = self._starter(
            "Trigger",
            what="the S3 trigger",
            description=f"finlake {self.spec.name}: start the workflow when files land in {trigger.prefix}",
            handler=trigger.handler,
            code=code,
            memory_mb=trigger.memory_mb,
            timeout_s=trigger.timeout_s,
            layers=self.step_layers,  # the trigger imports the domain's handlers module, as the steps do
            environment=self.environment,
        )
        assert function.role is not None
        self._grant(function.role, Access(raw="r"))
        rule = events.Rule(
            self,
            "FilesLanded",
            description=f"finlake {self.spec.name}: objects created under {trigger.prefix} in the raw bucket",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.buckets["raw"].bucket_name]},
                    "object": {"key": [{"prefix": trigger.prefix}]},
                },
            ),
        )
        rule.add_target(targets.LambdaFunction(function, retry_attempts=3))
        return function

    def _starter(
        self,
        name: str,
        *,
        what: str,
        description: str,
        handler: str,
        code: lambda_.Code,
        memory_mb: int,
        timeout_s: int,
        layers: list[lambda_.ILayerVersion],
        environment: dict[str, str],
    ) -> lambda_.Function:
        """A function that starts the workflow (the S3 trigger, the scheduled start): its own role and
        log group, ``states:StartExecution`` on this machine only. Both are invoked asynchronously:
        an event still failing after Lambda's two retries, or throttled for ``STARTER_MAX_EVENT_AGE``,
        goes to the platform's notifier (on-failure destination, granted on this function's role so
        the platform stack does not depend on this one), which emails and keeps it in the DLQ."""
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"finlake {self.spec.name} {what}",
        )
        log_group = logs.LogGroup(self, f"{name}Logs", retention=self.log_retention, encryption_key=self.secrets_key)
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            f"{name}Function",
            description=description,
            runtime=RUNTIME,
            handler=handler,
            code=code,
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            layers=layers,
            environment={**environment, "STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
            log_group=log_group,
            role=role,
        )
        self.state_machine.grant_start_execution(role)
        nag.lambda_role(role)
        function.configure_async_invoke(
            on_failure=NotifierDestination(self.platform.notifier.function),
            retry_attempts=2,
            max_event_age=STARTER_MAX_EVENT_AGE,
        )
        return function
