"""One domain's pipeline: its Lambda functions and Glue jobs, the state machine, schedule and trigger.

Every domain is the same construct fed a different ``DomainSpec``; nothing here names a domain. The
parts are small constructs (``stacks/steps.py``: a Lambda step, a Glue job, the grants on the lake;
``stacks/workflow.py``: the state machine, the schedule, the secrets); this module composes them.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from functions.common.contract import (
    LAKE_ZONES,
    LakeLocation,
    function_environment,
    schedule_start_environment,
)
from stacks.layers import common_layer, managed_layer, pip_layer
from stacks.observability import STARTER_MAX_EVENT_AGE, DomainSection, NotifierDestination
from stacks.platform_stack import LAMBDA_CODE_EXCLUDE, PlatformStack, retention
from stacks.settings import Settings
from stacks.specs import ROOT, Access, DomainSpec, LambdaStep
from stacks.steps import GlueJob, LakeAccess, StepFunction
from stacks.storage import bucket_name
from stacks.workflow import DomainSecret, Schedule, Workflow


class DomainPipeline(Construct):
    """Functions, jobs, workflow, schedule and trigger of one domain.

    Parameters
    ----------
    scope : Construct
        The pipelines stack.
    construct_id : str
        The domain's name capitalised (``"Bndes"``): the first part of every logical id.
    spec : DomainSpec
        The domain: its steps in order, secrets, tables, trigger, schedule and definition file.
    platform : PlatformStack
        The platform: lake key, notifier, topic, dead-letter queue, Glue security configuration.
    settings : Settings
        The deployment's settings (names, log retention, schedules, optional sinks).
    project_root : Path, optional
        The checkout the code, scripts and requirements are read from; the repository by default.

    Attributes
    ----------
    functions : dict[str, lambda_.Function]
        The step functions by step (``"Fetch"``).
    jobs : dict[str, glue.CfnJob]
        The Glue jobs by step.
    secrets : dict[str, secretsmanager.Secret]
        The deployed secrets by key (an optional one only when its setting is on).
    state_machine : sfn.StateMachine
        The workflow.
    schedule_start : lambda_.Function
        The function the schedule invokes to start a run.
    schedule : scheduler.CfnSchedule
        The schedule.
    trigger : lambda_.Function or None
        The S3 trigger's function, if the spec has a trigger.
    dashboard_section : DomainSection
        What the optional dashboard shows of this domain.

    Raises
    ------
    ValueError
        If the requirements file is missing, a step lists an undeclared secret, a step has catalog
        access without tables, or the definition file does not fit the spec (``Workflow``).
    """

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
        self.lake_access = LakeAccess(domain=spec.name, buckets=self.buckets, names=self.names, tables=spec.tables)

        code = lambda_.Code.from_asset(str(project_root), exclude=LAMBDA_CODE_EXCLUDE)
        # Layers in Lambda's merge order (stacks/layers.py); the domain's own layer holds only what the
        # runtime and the earlier layers do not (tests/infra/test_lambda_packaging.py).
        self.powertools = managed_layer(self, "powertools")
        self.common = common_layer(self)
        self.layers: list[lambda_.ILayerVersion] = [managed_layer(self, "pandas"), self.powertools, self.common]
        self.secrets = self._secrets()
        self.dependencies = self._dependencies_layer() if spec.requirements else None
        self.step_layers = [*self.layers, self.dependencies] if self.dependencies else list(self.layers)
        self.functions = {step.step: self._function(step, code) for step in spec.lambdas}
        self.jobs = {
            job.step: GlueJob(
                self,
                f"{job.step}Job",
                step=job,
                domain=spec.name,
                job_name=self.names.glue_job(spec.name, job.step),
                project_root=project_root,
                lake=self.lake_access,
                location=self.lake,
                key=platform.key,
                security_configuration=platform.glue_security_configuration.ref,
            ).job
            for job in spec.glue_jobs
        }
        self.state_machine = Workflow(
            self,
            "Workflow",
            name=self.names.state_machine(spec.name),
            log_group_name=self.names.state_machine_logs(spec.name),
            definition=spec.definition_path,
            timeout_s=spec.timeout_min * 60,
            functions=self.functions,
            jobs=self.jobs,
            notifier=platform.notifier.function,
            topic=platform.topic,
            dead_letter_queue=platform.dead_letter_queue,
            log_retention=self.log_retention,
            log_key=self.secrets_key,
        ).state_machine
        self.schedule_start = self._schedule_start(code)
        setting = settings.schedule_for(spec)
        self.schedule = Schedule(
            self,
            "Schedule",
            name=self.names.schedule(spec.name),
            domain=spec.name,
            period=spec.period,
            machine_name=self.names.state_machine(spec.name),
            expression=setting.expression or spec.schedule,
            enabled=setting.enabled,
            starter=self.schedule_start,
            dead_letter_queue=platform.dead_letter_queue,
        ).schedule
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
            glue_jobs=[self.names.glue_job(spec.name, job.step) for job in spec.glue_jobs],
        )
        # Stable keys that `finlake --aws` reads (e.g. "BndesStateMachineArn"); see finlake/ops.
        CfnOutput(
            self,
            "StateMachineArn",
            key=f"{spec.name.title()}StateMachineArn",
            value=self.state_machine.state_machine_arn,
        )

    @property
    def lake(self) -> LakeLocation:
        """The lake as the functions and jobs see it: the zones' bucket names (tokens) and the databases."""
        return self.names.lake({zone: self.buckets[zone].bucket_name for zone in LAKE_ZONES})

    @property
    def environment(self) -> dict[str, str]:
        """The environment every step function and the S3 trigger get (``functions/common/contract.py``)."""
        return function_environment(self.names, self.spec.name, self.lake)

    def _dependencies_layer(self) -> lambda_.LayerVersion:
        """``spec.requirements`` (the whole pinned closure) installed by pip on the synthesizing machine."""
        requirements = self.project_root / self.spec.requirements
        if not requirements.is_file():
            raise ValueError(f"{self.spec.name}: requirements file {self.spec.requirements} does not exist")
        return pip_layer(self, "DependenciesLayer", requirements, f"finlake {self.spec.name}: {self.spec.requirements}")

    # -- secrets -----------------------------------------------------------------------------------

    def _secrets(self) -> dict[str, secretsmanager.Secret]:
        """Build the domain's secrets, by key; an optional one only when its setting is on.

        Values never reach the environment: functions get the secret's name.
        """
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
            secret.key: DomainSecret(
                self,
                f"{secret.key.title().replace('_', '')}Secret",
                domain=self.spec.name,
                secret=secret,
                name=self.names.secret(self.spec.name, secret.key),
                key=self.secrets_key,
            ).secret
            for secret in self.spec.secrets
            if not secret.optional_setting or self.settings.optional_enabled(secret.optional_setting)
        }

    def _secret_environment(self, step: LambdaStep) -> dict[str, str]:
        """``<KEY>_SECRET`` (the name) of each secret the step reads, plus its optional setting's values."""
        read = [s for s in self.spec.secrets if s.key in step.secrets and s.key in self.secrets]
        environment = function_environment(self.names, self.spec.name, self.lake, {s.env_var: s.key for s in read})
        for secret in read:
            if secret.optional_setting:
                environment |= self.settings.optional_environment(secret.optional_setting)
        return environment

    def _grant_secrets(self, role: iam.IRole, step: LambdaStep) -> None:
        """Grant read access to the secrets the step lists.

        Decrypt with the lake key only through Secrets Manager (``secret.grant_read`` cannot add
        that for a key of another stack).
        """
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

    # -- functions ---------------------------------------------------------------------------------

    def _function(self, step: LambdaStep, code: lambda_.Code) -> lambda_.Function:
        """A Lambda step: its function with the domain's layers, its access to the lake and secrets."""
        built = StepFunction(
            self,
            step.step,
            role_description=f"finlake {self.spec.name} {step.step} function",
            description=step.description or f"finlake {self.spec.name} {step.step}",
            handler=step.handler,
            code=code,
            memory_mb=step.memory_mb,
            timeout_s=step.timeout_s,
            layers=self.step_layers,
            environment=self._secret_environment(step),
            log_retention=self.log_retention,
            log_key=self.secrets_key,
        )
        self.lake_access.grant(built.role, step.access)
        self._grant_secrets(built.role, step)
        return built.function

    def _schedule_start(self, code: lambda_.Code) -> lambda_.Function:
        """The function the schedule invokes: it starts the run under the partition's deterministic name."""
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
        ).function

    def _trigger(self, code: lambda_.Code) -> lambda_.Function:
        """Build the S3 trigger: a function that starts the workflow when a partition is complete.

        Files landing under the trigger's prefix of the raw bucket (S3 -> EventBridge) invoke it.
        """
        trigger = self.spec.trigger
        assert trigger is not None
        built = self._starter(
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
        self.lake_access.grant(built.role, Access(raw="r"))
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
        rule.add_target(targets.LambdaFunction(built.function, retry_attempts=3))
        return built.function

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
    ) -> StepFunction:
        """Build a function that starts the workflow (the S3 trigger, the scheduled start).

        Its own role and log group, ``states:StartExecution`` on this machine only. Both are invoked
        asynchronously: an event still failing after Lambda's two retries, or throttled for
        ``STARTER_MAX_EVENT_AGE``, goes to the platform's notifier (on-failure destination, granted
        on this function's role so the platform stack does not depend on this one), which emails and
        keeps it in the DLQ.
        """
        built = StepFunction(
            self,
            name,
            role_description=f"finlake {self.spec.name} {what}",
            description=description,
            handler=handler,
            code=code,
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            layers=layers,
            environment={**environment, "STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
            log_retention=self.log_retention,
            log_key=self.secrets_key,
        )
        self.state_machine.grant_start_execution(built.role)
        built.function.configure_async_invoke(
            on_failure=NotifierDestination(self.platform.notifier.function),
            retry_attempts=2,
            max_event_age=STARTER_MAX_EVENT_AGE,
        )
        return built
