"""Observability: the platform's failure notifier, its rules and alarms, and the optional dashboard.

Every way a run or a component can fail reaches a person through the notification topic
(``tests/infra/test_failure_inventory.py`` proves it from the synthesized templates):

- ``Notifier`` (platform stack): the ``<prefix>-notify`` function (``functions/notifier``). Every
  workflow's ``NotifyFailure`` state invokes it; two EventBridge rules (free: AWS service events)
  send it the FAILED, TIMED_OUT and ABORTED status changes of the finlake state machines (a
  ``Catch`` never sees a run's own timeout or a StopExecution) and the FAILED, TIMEOUT and ERROR
  state changes of the finlake Glue jobs; Lambda sends it the invocation record of a starter
  (S3 trigger, ScheduleStart) whose asynchronous invocation failed for good. All of them end in
  one readable email.
- Alarms only where no event exists, only a metric sees it: messages in the dead-letter queue
  (failed runs, and schedules Scheduler could not deliver) and the notifier's own errors. Their
  names start with ``Names.alarm_prefix`` (``<prefix> ``), which the topic policy's
  ``aws:SourceArn`` condition names.
- ``PlatformDashboard`` (pipelines stack, context ``dashboard``: off by default, 3 USD a month):
  one dashboard with a section per domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jsii
from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.common.contract import (
    DEFAULT_NAMES,
    METRICS_NAMESPACE,
    NOTIFIER_ALARM,
    NOTIFIER_HANDLER,
    NOTIFIER_TIMEOUT_S,
    RUN_METRICS,
    Names,
)
from stacks import nag

# Every name (the notifier, the state machines' and Glue jobs' prefixes, the alarms) comes from the
# deployment's Names (functions/common/contract.py, settings.names).
STATUS_CHANGE = "Step Functions Execution Status Change"
UNHANDLED_STATUSES = ["FAILED", "TIMED_OUT", "ABORTED"]
GLUE_STATE_CHANGE = "Glue Job State Change"
GLUE_FAILED_STATES = ["FAILED", "TIMEOUT", "ERROR"]
# A starter's event still failing (or throttled) after this long goes to the notifier.
STARTER_MAX_EVENT_AGE = Duration.hours(1)
# Glue job metrics (--enable-metrics): namespace "Glue", per job, aggregated over runs with JobRunId=ALL.
GLUE_NAMESPACE = "Glue"
GLUE_ELAPSED = "glue.driver.aggregate.elapsedTime"  # milliseconds


def alarm_to_topic(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    description: str,
    metric: cw.IMetric,
    topic: sns.ITopic,
    names: Names = DEFAULT_NAMES,
) -> cw.Alarm:
    """An alarm at the first datapoint >= 1 in a 5-minute period, to the topic; missing data is OK.

    ``name`` starts with ``names.alarm_prefix`` (the topic policy lets only those alarms publish)
    and reads as the email subject (CloudWatch's is 'ALARM: "<name>" in <Region>', and SNS cuts
    subjects at 100 characters); ``description`` (the email's "Alarm Description") says what
    happened and what to do.
    """
    prefix = names.alarm_prefix
    if not name.startswith(prefix) or len(f'ALARM: "{name}" in South America (Sao Paulo)') > 100:
        raise ValueError(f"alarm name {name!r}: start with {prefix!r} and keep the subject under 100 characters")
    alarm = cw.Alarm(
        scope,
        construct_id,
        alarm_name=name,
        alarm_description=description,
        metric=metric,
        threshold=1,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return alarm


@jsii.implements(lambda_.IDestination)
class NotifierDestination:
    """The notifier as a function's on-failure destination.

    Like ``destinations.LambdaDestination``, but the function's role may invoke the notifier's unqualified ARN only
    (``grant_invoke`` would add its versions, ``<arn>:*``). Lambda sends the invocation record with the execution role's
    permissions: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
    """

    def __init__(self, notifier: lambda_.IFunction) -> None:
        self.notifier = notifier

    def bind(
        self, _scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        """Let ``fn``'s role invoke the notifier's unqualified ARN, and make that ARN ``fn``'s on-failure destination.

        Called by CDK when the destination is attached; ``type`` is ignored.
        """
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.notifier.function_arn])
        )
        return lambda_.DestinationConfig(destination=self.notifier.function_arn)


class Notifier(Construct):
    """The ``<prefix>-notify`` function, the two EventBridge rules that invoke it and its own alarm."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
        runtime: lambda_.Runtime,
        code: lambda_.Code,
        layers: Sequence[lambda_.ILayerVersion],
        log_retention: logs.RetentionDays,
        log_key: kms.IKey,
        names: Names,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        machines, jobs = names.state_machine_prefix, names.glue_job_prefix
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="finlake notifier: readable failure emails",
        )
        log_group = logs.LogGroup(self, "Logs", retention=log_retention, encryption_key=log_key)
        log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=names.notifier,
            description="finlake: readable failure emails (workflows, Glue jobs, run starts)",
            runtime=runtime,
            handler=NOTIFIER_HANDLER,
            code=code,
            memory_size=256,
            timeout=Duration.seconds(NOTIFIER_TIMEOUT_S),
            tracing=lambda_.Tracing.ACTIVE,
            layers=list(layers),
            environment={
                "TOPIC_ARN": topic.topic_arn,
                "DEAD_LETTER_QUEUE_URL": dead_letter_queue.queue_url,
                "POWERTOOLS_SERVICE_NAME": names.notifier,
                # functions/notifier/notify.py: which runs and Glue jobs are this deployment's
                "STATE_MACHINE_PREFIX": machines,
                "GLUE_JOB_PREFIX": jobs,
            },
            log_group=log_group,
            role=self.role,
        )
        topic.grant_publish(self.role)  # sns:Publish, and kms:GenerateDataKey*/Decrypt on the topic's key
        dead_letter_queue.grant_send_messages(self.role)  # keeps a starter's invocation record
        # The execution history of the deployment's state machines only ("<prefix>-<domain>:<execution>").
        self.executions_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{machines}*:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:GetExecutionHistory", "states:DescribeExecution"],
                resources=[self.executions_arn],
            )
        )
        # A Glue run's arguments tell whether a workflow started it (its own email covers it).
        self.jobs_arn = stack.format_arn(service="glue", resource="job", resource_name=f"{jobs}*")
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["glue:GetJobRun"], resources=[self.jobs_arn]))
        self.rule = self._rule(
            "ExecutionStatusChange",
            "finlake: a workflow run FAILED, TIMED_OUT or was ABORTED -> readable email",
            source="aws.states",
            detail_type=STATUS_CHANGE,
            detail={
                "status": UNHANDLED_STATUSES,
                "stateMachineArn": [
                    {
                        "prefix": stack.format_arn(
                            service="states",
                            resource="stateMachine",
                            resource_name=machines,
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                ],
            },
        )
        self.glue_rule = self._rule(
            "GlueJobStateChange",
            "finlake: a Glue job run FAILED, timed out or ended in ERROR -> readable email",
            source="aws.glue",
            detail_type=GLUE_STATE_CHANGE,
            detail={"jobName": [{"prefix": jobs}], "state": GLUE_FAILED_STATES},
        )
        # An event the notifier could not handle after Lambda's own retries lands in the DLQ.
        self.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(dead_letter_queue), retry_attempts=2
        )
        nag.lambda_role(self.role)
        nag.notifier_role(self.role, names)
        # If the notifier itself breaks, this alarm still reaches the topic (CloudWatch publishes it).
        self.alarm = alarm_to_topic(
            self,
            "Errors",
            name=names.alarm(NOTIFIER_ALARM),
            description=(
                f"The {names.notifier} function raised errors, so readable failure emails may not have been sent. "
                "Read its log group (the function's Monitor tab), then `finlake --aws runs` for failed runs "
                "and `finlake --aws redrive` for the dead-letter queue."
            ),
            metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            topic=topic,
            names=names,
        )

    def _rule(
        self, construct_id: str, description: str, *, source: str, detail_type: str, detail: dict[str, object]
    ) -> events.Rule:
        rule = events.Rule(
            self,
            construct_id,
            description=description,
            event_pattern=events.EventPattern(source=[source], detail_type=[detail_type], detail=detail),
        )
        rule.add_target(targets.LambdaFunction(self.function, retry_attempts=2))
        return rule


@dataclass(frozen=True)
class DomainSection:
    """What one domain's section of the dashboard shows."""

    domain: str
    description: str
    state_machine: sfn.StateMachine
    functions: Mapping[str, lambda_.IFunction]  # step -> function, the starters included
    glue_jobs: Sequence[str] = ()


class PlatformDashboard(Construct):
    """The ``<prefix>`` CloudWatch dashboard (``finlake`` by default).

    The dead-letter queue, then one section per domain (runs, durations, the Catalog step's row counts, Lambda errors
    and durations per step, Glue job durations). Deployed only with the ``dashboard`` context setting (3 USD a month).
    """

    PERIOD = Duration.hours(1)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        sections: Sequence[DomainSection],
        dead_letter_queue: sqs.IQueue,
        names: Names = DEFAULT_NAMES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.names = names
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=names.dashboard)
        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown=f"# {names.prefix}\nFailures email the topic; this dashboard shows the trends.",
                width=16,
                height=3,
            ),
            cw.GraphWidget(
                title="Dead-letter queue (failed runs)",
                left=[
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=Duration.minutes(5), statistic="Maximum", label="messages"
                    )
                ],
                width=8,
                height=3,
            ),
        )
        for section in sections:
            self._section(section)

    def _section(self, section: DomainSection) -> None:
        period, machine, domain = self.PERIOD, section.state_machine, section.domain
        self.dashboard.add_widgets(
            cw.TextWidget(markdown=f"## {domain}\n{section.description}", width=24, height=2),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title=f"{domain}: executions",
                left=[
                    machine.metric_started(period=period, label="started"),
                    machine.metric_succeeded(period=period, label="succeeded"),
                    machine.metric_failed(period=period, label="failed"),
                    machine.metric_timed_out(period=period, label="timed out"),
                    machine.metric_aborted(period=period, label="aborted"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title=f"{domain}: execution duration (ms)",
                left=[
                    machine.metric_time(period=period, statistic="p50", label="p50"),
                    machine.metric_time(period=period, statistic="Maximum", label="max"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title=f"{domain}: rows per run (Catalog step)",
                left=[
                    cw.Metric(
                        namespace=METRICS_NAMESPACE,
                        metric_name=name,
                        dimensions_map={"service": self.names.service(domain)},
                        statistic="Sum",
                        period=period,
                        label=name,
                    )
                    for name in RUN_METRICS
                ],
                width=8,
            ),
        )
        steps = dict(section.functions)
        row: list[cw.IWidget] = [
            cw.GraphWidget(
                title=f"{domain}: Lambda errors per step",
                left=[fn.metric_errors(period=period, label=step) for step, fn in steps.items()],
                width=8,
            ),
            cw.GraphWidget(
                title=f"{domain}: Lambda duration per step, max (ms)",
                left=[fn.metric_duration(period=period, statistic="Maximum", label=step) for step, fn in steps.items()],
                width=8,
            ),
        ]
        if section.glue_jobs:
            row.append(
                cw.GraphWidget(
                    title=f"{domain}: Glue job duration, max (ms)",
                    left=[
                        cw.Metric(
                            namespace=GLUE_NAMESPACE,
                            metric_name=GLUE_ELAPSED,
                            dimensions_map={"JobName": job, "JobRunId": "ALL", "Type": "count"},
                            statistic="Maximum",
                            period=period,
                            label=job,
                        )
                        for job in section.glue_jobs
                    ],
                    width=8,
                )
            )
        self.dashboard.add_widgets(*row)
