"""Observability: the platform's failure notifier and one CloudWatch dashboard per domain.

- ``Notifier`` (platform stack): the ``finlake-notify`` function (``functions/ops``) that every
  workflow's ``NotifyFailure`` state invokes, and the EventBridge rule that sends it the FAILED,
  TIMED_OUT and ABORTED status changes of the finlake state machines (a ``Catch`` never sees a
  run's own timeout or a StopExecution). Both paths publish one readable email to the topic.
- ``DomainDashboard`` (pipelines stack): runs, durations, the Catalog step's row counts, Lambda
  errors and durations per step, Glue job durations and the dead-letter queue, for one domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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

from stacks import nag
from stacks.names import DEFAULT_NAMES, Names

NOTIFIER_NAME = DEFAULT_NAMES.notifier
NOTIFIER_HANDLER = "functions.ops.handlers.handler"
STATE_MACHINE_PREFIX = DEFAULT_NAMES.state_machine_prefix  # every domain's state machine is "<prefix>-<domain>"
STATUS_CHANGE = "Step Functions Execution Status Change"
UNHANDLED_STATUSES = ["FAILED", "TIMED_OUT", "ABORTED"]
# The run counts the Catalog step records (functions/common/telemetry.py RUN_METRICS).
RUN_METRICS = ("RowsIn", "RowsValid", "RowsQuarantined", "RowsWritten", "SourcesProcessed")
METRICS_NAMESPACE = "finlake"
# Glue job metrics (--enable-metrics): namespace "Glue", per job, aggregated over runs with JobRunId=ALL.
GLUE_NAMESPACE = "Glue"
GLUE_ELAPSED = "glue.driver.aggregate.elapsedTime"  # milliseconds


class Notifier(Construct):
    """The ``finlake-notify`` function and the status-change rule that invokes it."""

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
        machines = names.state_machine_prefix
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
            description="finlake: readable failure emails (NotifyFailure states and execution status changes)",
            runtime=runtime,
            handler=NOTIFIER_HANDLER,
            code=code,
            memory_size=256,
            timeout=Duration.seconds(30),
            tracing=lambda_.Tracing.ACTIVE,
            layers=list(layers),
            environment={
                "TOPIC_ARN": topic.topic_arn,
                "POWERTOOLS_SERVICE_NAME": names.notifier,
                "STATE_MACHINE_PREFIX": machines,  # functions/ops/notify.py: which runs are finlake's
            },
            log_group=log_group,
            role=self.role,
        )
        topic.grant_publish(self.role)
        # The execution history of the finlake state machines only ("<prefix>-<domain>:<execution>").
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
        self.rule = events.Rule(
            self,
            "ExecutionStatusChange",
            description="finlake: a workflow run FAILED, TIMED_OUT or was ABORTED -> readable email",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=[STATUS_CHANGE],
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
            ),
        )
        self.rule.add_target(targets.LambdaFunction(self.function, retry_attempts=2))
        # An event the notifier could not handle after Lambda's own retries lands in the DLQ.
        self.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(dead_letter_queue), retry_attempts=2
        )
        nag.lambda_role(self.role)
        nag.notifier_role(self.role, names)
        # If the notifier itself breaks, the alarm still reaches the topic (CloudWatch publishes it).
        alarm = cw.Alarm(
            self,
            "Errors",
            alarm_description="finlake notifier: failure emails could not be sent",
            metric=self.function.metric_errors(period=Duration.minutes(5)),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(topic))


class DomainDashboard(Construct):
    """The ``finlake-<domain>`` CloudWatch dashboard."""

    PERIOD = Duration.hours(1)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain: str,
        description: str,
        state_machine: sfn.StateMachine,
        functions: Mapping[str, lambda_.IFunction],
        glue_jobs: Sequence[str] = (),
        dead_letter_queue: sqs.IQueue,
        names: Names,
    ) -> None:
        super().__init__(scope, construct_id)
        period = self.PERIOD
        service = names.service(domain)
        machine = state_machine
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=names.dashboard(domain))
        self.dashboard.add_widgets(
            cw.TextWidget(markdown=f"# finlake {domain}\n{description}", width=24, height=2),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Executions",
                left=[
                    machine.metric_started(period=period, label="started"),
                    machine.metric_succeeded(period=period, label="succeeded"),
                    machine.metric_failed(period=period, label="failed"),
                    machine.metric_timed_out(period=period, label="timed out"),
                    machine.metric_aborted(period=period, label="aborted"),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Execution duration (ms)",
                left=[
                    machine.metric_time(period=period, statistic="p50", label="p50"),
                    machine.metric_time(period=period, statistic="Maximum", label="max"),
                ],
                width=12,
            ),
        )
        self.run_metrics = [
            cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": service},
                statistic="Sum",
                period=period,
                label=name,
            )
            for name in RUN_METRICS
        ]
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Rows per run (Catalog step)", left=self.run_metrics[:4], width=12),
            cw.SingleValueWidget(
                title="Last 24 h: rows and sources",
                metrics=[
                    cw.Metric(
                        namespace=m.namespace,
                        metric_name=m.metric_name,
                        dimensions_map={"service": service},
                        statistic="Sum",
                        period=Duration.days(1),
                        label=m.metric_name,
                    )
                    for m in self.run_metrics
                ],
                width=12,
            ),
        )
        steps = dict(functions)
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Lambda errors per step",
                left=[fn.metric_errors(period=period, label=step) for step, fn in steps.items()],
                width=8,
            ),
            cw.GraphWidget(
                title="Lambda duration per step, max (ms)",
                left=[fn.metric_duration(period=period, statistic="Maximum", label=step) for step, fn in steps.items()],
                width=8,
            ),
            cw.GraphWidget(
                title="Dead-letter queue (all domains)",
                left=[
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=Duration.minutes(5), statistic="Maximum", label="messages"
                    )
                ],
                width=8,
            ),
        )
        if glue_jobs:
            self.dashboard.add_widgets(
                cw.GraphWidget(
                    title="Glue job duration, max (ms)",
                    left=[
                        cw.Metric(
                            namespace=GLUE_NAMESPACE,
                            metric_name=GLUE_ELAPSED,
                            dimensions_map={"JobName": job, "JobRunId": "ALL", "Type": "count"},
                            statistic="Maximum",
                            period=period,
                            label=job,
                        )
                        for job in glue_jobs
                    ],
                    width=24,
                ),
            )
