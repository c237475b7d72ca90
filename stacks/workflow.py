"""A domain's workflow constructs: the state machine with its log group, the schedule, the secrets.

Each of these resources has a fixed physical name (``Names``), and CloudFormation cannot replace a
named resource ("already exists"). Each therefore keeps the logical id it had before these
constructs existed: the named resource is its construct's ``Default`` child (a path component CDK
leaves out of logical ids), and the state machine's log group is created beside the construct, in
the pipeline's scope, as ``<id>Logs``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.common.contract import TIMEZONE
from stacks import nag
from stacks.specs import Secret

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"  # Scheduler context attribute, ISO 8601 UTC


def definition_keys(path: Path) -> set[str]:
    """The ``${Name}`` substitutions a definition file uses.

    Parameters
    ----------
    path : Path
        An ASL definition (``statemachines/<domain>.asl.json``).

    Returns
    -------
    set[str]
        The substitution names, e.g. ``{"FetchFunction", "NotificationTopic", "Region"}``.
    """
    return set(re.findall(r"\$\{(\w+)\}", path.read_text()))


class Workflow(Construct):
    """The domain's Standard state machine, from its ASL file, with an encrypted execution log.

    The role may invoke the domain's functions and the platform's notifier, publish to the topic,
    send to the dead-letter queue and run the domain's Glue jobs.

    Parameters
    ----------
    scope : Construct
        The domain's pipeline.
    construct_id : str
        ``"Workflow"``; the log group is ``<construct_id>Logs`` in ``scope``.
    name : str
        The state machine's name (``Names.state_machine``).
    log_group_name : str
        The log group's name (``Names.state_machine_logs``).
    definition : Path
        The ASL file.
    timeout_s : int
        The spec's run timeout in seconds, which must equal the file's top-level ``TimeoutSeconds``.
    functions : Mapping[str, lambda_.Function]
        The domain's step functions by step; ``${<Step>Function}`` in the file.
    jobs : Mapping[str, glue.CfnJob]
        The domain's Glue jobs by step; ``${<Step>Job}`` in the file.
    notifier : lambda_.IFunction
        The platform's notifier (``${NotifyFunction}``).
    topic : sns.ITopic
        The notification topic (``${NotificationTopic}``).
    dead_letter_queue : sqs.IQueue
        The dead-letter queue (``${DeadLetterQueue}``, its URL).
    log_retention : logs.RetentionDays
        How long the log group keeps events.
    log_key : kms.IKey
        The lake key: execution data (manifests, counts, month totals) is logged, so it is encrypted.

    Attributes
    ----------
    state_machine : sfn.StateMachine
        The state machine.
    log_group : logs.LogGroup
        Its execution log.

    Raises
    ------
    ValueError
        If the file uses a substitution nothing provides, or its ``TimeoutSeconds`` is not ``timeout_s``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        log_group_name: str,
        definition: Path,
        timeout_s: int,
        functions: Mapping[str, lambda_.Function],
        jobs: Mapping[str, glue.CfnJob],
        notifier: lambda_.IFunction,
        topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
        log_retention: logs.RetentionDays,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        subs = {f"{step}Function": fn.function_arn for step, fn in functions.items()}
        subs |= {f"{step}Job": job.ref for step, job in jobs.items()}
        subs |= {
            "NotifyFunction": notifier.function_arn,
            "NotificationTopic": topic.topic_arn,
            "DeadLetterQueue": dead_letter_queue.queue_url,
            "Region": stack.region,
        }
        missing = definition_keys(definition) - set(subs)
        if missing:
            raise ValueError(f"{definition.name} uses unknown substitutions {sorted(missing)}")
        # A file definition carries its own top-level TimeoutSeconds; it must match the spec.
        file_timeout_s = json.loads(definition.read_text()).get("TimeoutSeconds")
        if file_timeout_s != timeout_s:
            raise ValueError(f"{definition.name}: TimeoutSeconds {file_timeout_s} != spec timeout_min*60")
        self.log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            log_group_name=log_group_name,
            retention=log_retention,
            encryption_key=log_key,
        )
        machine = sfn.StateMachine(
            self,
            "Default",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(definition)),
            definition_substitutions=subs,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        self.state_machine = machine
        for function in functions.values():
            function.grant_invoke(machine)
        # NotifyFailure invokes the platform's notifier: that function's ARN only (no version wildcard).
        machine.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[notifier.function_arn])
        )
        topic.grant_publish(machine)  # NotifySuccess (and bank's NotifyStart)
        dead_letter_queue.grant_send_messages(machine)
        if jobs:
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                    resources=[
                        stack.format_arn(service="glue", resource="job", resource_name=job.ref) for job in jobs.values()
                    ],
                )
            )
        nag.state_machine_role(machine, functions.values())


class Schedule(Construct):
    """The EventBridge Scheduler schedule that invokes the domain's ``ScheduleStart`` function.

    The schedule passes the time it fired; the function starts the workflow under the partition's
    deterministic name (``functions/common/schedule.py``: Scheduler's own Step Functions target
    cannot name executions). Undeliverable invocations go to the dead-letter queue after three
    retries within an hour.

    Parameters
    ----------
    scope : Construct
        The domain's pipeline.
    construct_id : str
        ``"Schedule"``. The ``CfnSchedule`` is the ``Default`` child, so it keeps the logical id
        ``<Domain>Schedule``; its role reads ``<Domain>ScheduleRole`` plus a hash.
    name : str
        The schedule's name (``Names.schedule``).
    domain : str
        The domain's name, passed in the input.
    period : str
        The spec's period (``"daily"``, ``"monthly"``), passed in the input.
    machine_name : str
        The state machine's name, for the role's description.
    expression : str
        The schedule expression (``cron(...)`` or ``rate(...)``), evaluated in ``TIMEZONE``.
    enabled : bool
        Whether the schedule is ``ENABLED`` (else ``DISABLED``).
    starter : lambda_.IFunction
        The ``ScheduleStart`` function; the role may invoke it unqualified, nothing else.
    dead_letter_queue : sqs.IQueue
        Where Scheduler sends an invocation it could not deliver.

    Attributes
    ----------
    role : iam.Role
        The role Scheduler assumes (only from this account).
    schedule : scheduler.CfnSchedule
        The schedule.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        domain: str,
        period: str,
        machine_name: str,
        expression: str,
        enabled: bool,
        starter: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"EventBridge Scheduler: invoke {machine_name}'s ScheduleStart",
        )
        # the unqualified function only (grant_invoke would add its versions, "<arn>:*")
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[starter.function_arn])
        )
        dead_letter_queue.grant_send_messages(self.role)
        nag.schedule_role(self.role)
        schedule_input = {"domain": domain, "period": period, "scheduled_time": SCHEDULED_TIME}
        self.schedule = scheduler.CfnSchedule(
            self,
            "Default",
            name=name,
            description=f"Start the finlake {domain} workflow",
            schedule_expression=expression,
            schedule_expression_timezone=TIMEZONE,
            state="ENABLED" if enabled else "DISABLED",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=starter.function_arn,
                role_arn=self.role.role_arn,
                input=json.dumps(schedule_input),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=3, maximum_event_age_in_seconds=3600
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=dead_letter_queue.queue_arn),
            ),
        )


class DomainSecret(Construct):
    """One secret of a domain, KMS-encrypted with the lake key and retained on delete.

    A generated secret (a keyed-hash key) gets 64 random characters at deploy; any other is deployed
    with a JSON placeholder that the operator replaces with ``put-secret-value``, so a function
    reading it early reports missing fields rather than a parse error.

    Parameters
    ----------
    scope : Construct
        The domain's pipeline.
    construct_id : str
        ``"<Key>Secret"`` (``"NubankSecret"``). The Secrets Manager secret is the ``Default`` child,
        so it keeps that logical id plus the hash of the same path.
    domain : str
        The domain's name, for the description.
    secret : Secret
        The spec's declaration: key, description, whether it is generated.
    name : str
        The secret's name (``Names.secret``).
    key : kms.IKey
        The lake key.

    Attributes
    ----------
    secret : secretsmanager.Secret
        The secret.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, domain: str, secret: Secret, name: str, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        if secret.generated:
            description = f"finlake {domain}: {secret.description}. Generated at deploy; never set by hand."
            generator = secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True)
        else:
            description = (
                f"finlake {domain}: {secret.description}. Deployed with a placeholder; set it with "
                f"aws secretsmanager put-secret-value --secret-id {name} --secret-string file://{secret.key}.json"
            )
            generator = secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"placeholder": "set the real value with put-secret-value"}),
                generate_string_key="placeholder_token",
                exclude_punctuation=True,
            )
        self.secret = secretsmanager.Secret(
            self,
            "Default",
            secret_name=name,
            description=description,
            encryption_key=key,
            generate_secret_string=generator,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # on this construct, so the acknowledgement keeps the path it had (``<domain>/<Key>Secret``)
        nag.secret_without_rotation(self, name, secret.description, generated=secret.generated)
