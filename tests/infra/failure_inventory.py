"""Every way the deployment can fail, read from the synthesized templates, and the way each one
reaches a person: a publish to the notification topic that the topic policy *and* the key policy
allow for the principal that publishes.

The failure sources (``inventory``), each found generically so a new one is checked without a
change here:

- ``step``: an error or timeout a state's ``Catch`` handles, in every state machine definition;
- ``execution``: an execution that ends FAILED, TIMED_OUT or ABORTED (no ``Catch`` sees the run's own
  timeout or a StopExecution);
- ``async``: a function invoked asynchronously (an EventBridge rule's or a schedule's target, or an
  on-failure destination) whose event fails for good;
- ``schedule``: EventBridge Scheduler cannot invoke its target;
- ``glue``: a Glue job run ends FAILED, TIMEOUT or ERROR;
- ``queue``: a message lands in a queue that holds failures (the dead-letter queue);
- ``alarm``: a CloudWatch alarm changes to ALARM;
- ``budget``: a budget threshold is crossed.

A route is a chain of hops (invoke, send, publish), each checked with ``iam_model.allowed``. The
hops follow AWS's documented behaviour:

- a Catch goes to the next Task of the definition (through Pass states); the state machine's role
  invokes it (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html);
- "Step Functions Execution Status Change" and "Glue Job State Change" events are delivered by
  EventBridge to a Lambda target through the function's resource policy (an AWS::Lambda::Permission
  for events.amazonaws.com) (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html);
- an asynchronous invocation that fails for good goes to the function's on-failure destination
  with the function's execution role (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html);
- Scheduler sends an undeliverable event to the schedule's dead-letter queue with the schedule's
  execution role (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html);
- a CloudWatch alarm publishes as cloudwatch.amazonaws.com with ``aws:SourceArn`` = the alarm's ARN;
  a topic policy without an Allow for it means "CloudWatch Alarms does not have authorization to
  access the SNS topic" (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger);
- AWS Budgets publishes as budgets.amazonaws.com with ``aws:SourceArn`` = the budget's ARN
  (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html);
- publishing to an SSE-KMS topic needs kms:GenerateDataKey and kms:Decrypt on its key, for an AWS
  service in the key policy itself, and sending to an SSE-KMS queue the same on the queue's key
  (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html,
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.infra.iam_model import (
    ACCOUNT,
    PARTITION,
    REGION,
    Deployment,
    Principal,
    Request,
    Resource,
    allowed,
    pattern_matches,
)

STATUS_CHANGE = "Step Functions Execution Status Change"
GLUE_STATE_CHANGE = "Glue Job State Change"
EXECUTION_END_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
GLUE_END_STATES = ("FAILED", "TIMEOUT", "ERROR")
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SQS_SEND = "arn:aws:states:::sqs:sendMessage"
TLS = {"aws:SecureTransport": "true"}

DefinitionLoader = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass
class Path:
    """One failure source and what stops it from reaching a person (``problems`` empty: it does)."""

    kind: str
    source: str
    route: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def hop(self, step: str, problem: str = "") -> bool:
        self.route.append(step)
        if problem:
            self.problems.append(f"{step}: {problem}")
        return not problem

    def __str__(self) -> str:
        return f"[{self.kind}] {self.source}: " + " -> ".join(self.route)


class Inventory:
    def __init__(self, deployment: Deployment, load_definition: DefinitionLoader) -> None:
        self.d = deployment
        self.load_definition = load_definition
        self.paths: list[Path] = []
        self._queues_seen: set[str] = set()

    # -- reaching the topic ---------------------------------------------------------------------------

    def topic(self, value: str) -> Resource | None:
        return self.d.by_ref("AWS::SNS::Topic", value)

    def publish(self, path: Path, principal: Principal, topic_ref: str, source_arn: str = "") -> None:
        """The final hop: ``principal`` publishes to the topic; topic policy and key policy must allow it."""
        topic = self.topic(topic_ref)
        if topic is None:
            path.hop(f"publish to {topic_ref}", "not a topic of the deployment")
            return
        d, topic_arn = self.d, self.d.arn(topic)
        subscribers = [
            s
            for s in d.of_type("AWS::SNS::Subscription")
            if d.resolve(s.stack, s.properties["TopicArn"]) == topic_arn and s.properties.get("Protocol") == "email"
        ]
        context = {**TLS, **({"aws:SourceAccount": ACCOUNT, "aws:SourceArn": source_arn} if source_arn else {})}
        problem = allowed(
            d,
            Request(principal, "sns:Publish", topic_arn, context),
            resource_policy=d.resource_statements("AWS::SNS::Topic", topic_arn),
        )
        if not problem and not subscribers:
            problem = "the topic has no email subscription"
        if not problem and "KmsMasterKeyId" in topic.properties:
            problem = self._use_key(
                principal,
                str(d.resolve(topic.stack, topic.properties["KmsMasterKeyId"])),
                {**context, "kms:ViaService": f"sns.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT},
            )
        path.hop(f"{principal} publishes to {topic.logical_id}", problem)

    def _use_key(self, principal: Principal, key: str, context: Mapping[str, str]) -> str:
        d = self.d
        key_resource = d.by_arn(key) or d.by_ref("AWS::KMS::Key", key)
        if key_resource is None:
            return f"key {key} is not in the templates (an AWS managed key cannot let a service publish)"
        key_arn = d.arn(key_resource)
        statements = d.key_statements(key_arn)
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            problem = allowed(d, Request(principal, action, key_arn, context), resource_policy=statements, kms=True)
            if problem:
                return problem
        return ""

    def publisher_function(self, path: Path, function_arn: str) -> None:
        """A function that emails: its TOPIC_ARN names the topic and its role may publish there."""
        d = self.d
        function = d.by_arn(function_arn)
        if function is None or function.type != "AWS::Lambda::Function":
            path.hop(f"function {function_arn}", "not a function of the deployment")
            return
        env = d.resolve(function.stack, function.properties.get("Environment", {})).get("Variables", {})
        role_arn = str(d.resolve(function.stack, function.properties["Role"]))
        if not path.hop(f"{function.logical_id} formats the email", "" if env.get("TOPIC_ARN") else "no TOPIC_ARN"):
            return
        self.publish(path, Principal(role_arn=role_arn), env["TOPIC_ARN"])

    def invoke(self, path: Path, role_arn: str, function_arn: str, what: str) -> bool:
        problem = allowed(
            self.d,
            Request(Principal(role_arn=role_arn), "lambda:InvokeFunction", function_arn, TLS),
            resource_policy=[],
        )
        return path.hop(f"{what} invokes {function_arn.rsplit(':', 1)[-1]}", problem)

    def events_invoke(self, path: Path, rule: Resource, function_arn: str) -> bool:
        """EventBridge invokes a Lambda target through the function's resource policy."""
        rule_arn = self.d.arn(rule)
        ok = [
            p
            for p in self.d.lambda_permissions(function_arn)
            if p.get("Principal") == "events.amazonaws.com"
            and p.get("Action") == "lambda:InvokeFunction"
            and p.get("SourceArn") == rule_arn  # without it, any account's rule could invoke it
        ]
        return path.hop(
            f"rule {rule.logical_id} invokes {function_arn.rsplit(':', 1)[-1]}",
            "" if ok else "no AWS::Lambda::Permission (with this rule as SourceArn) lets this rule invoke the function",
        )

    def send_to_queue(self, path: Path, role_arn: str, queue_arn: str, what: str) -> None:
        """A role sends to a queue (sqs:SendMessage and the queue's key), then the queue must be watched."""
        d = self.d
        queue = d.by_arn(queue_arn)
        if queue is None:
            path.hop(f"{what} sends to {queue_arn}", "not a queue of the deployment")
            return
        principal = Principal(role_arn=role_arn)
        problem = allowed(
            d,
            Request(principal, "sqs:SendMessage", queue_arn, TLS),
            resource_policy=d.resource_statements("AWS::SQS::Queue", d.ref(queue)),
        )
        if not problem and "KmsMasterKeyId" in queue.properties:
            problem = self._use_key(
                principal,
                str(d.resolve(queue.stack, queue.properties["KmsMasterKeyId"])),
                {**TLS, "kms:ViaService": f"sqs.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT},
            )
        if path.hop(f"{what} sends to queue {queue.logical_id}", problem):
            self.queue_watched(path, queue)

    def queue_watched(self, path: Path, queue: Resource) -> None:
        """A message in the queue raises an alarm whose action reaches the topic."""
        self._queues_seen.add(queue.logical_id)
        d, name = self.d, self.d.name(queue)
        watching = [
            a
            for a in d.of_type("AWS::CloudWatch::Alarm")
            if a.properties.get("Namespace") == "AWS/SQS"
            and a.properties.get("MetricName") in ("ApproximateNumberOfMessagesVisible", "NumberOfMessagesSent")
            and any(dim.get("Value") == name for dim in d.resolve(a.stack, a.properties.get("Dimensions", [])))
            and _fires_on_one(a.properties)
        ]
        if not path.hop(f"queue {queue.logical_id} is watched", "" if watching else "no alarm fires on 1 message"):
            return
        self.alarm_route(path, watching[0])

    def alarm_route(self, path: Path, alarm: Resource) -> None:
        d = self.d
        actions = [str(a) for a in d.resolve(alarm.stack, alarm.properties.get("AlarmActions", []))]
        topics = [a for a in actions if self.topic(a)]
        if not path.hop(f"alarm {d.name(alarm)!r}", "" if topics else "no alarm action is the topic"):
            return
        self.publish(path, Principal(service="cloudwatch.amazonaws.com"), topics[0], d.arn(alarm))

    # -- the failure sources --------------------------------------------------------------------------

    def run(self) -> list[Path]:
        for machine in self.d.of_type("AWS::StepFunctions::StateMachine"):
            self.state_machine(machine)
        for function in self.async_functions():
            self.async_failure(function)
        for schedule in self.d.of_type("AWS::Scheduler::Schedule"):
            self.schedule(schedule)
        for job in self.d.of_type("AWS::Glue::Job"):
            for state in GLUE_END_STATES:
                self.glue_job(job, state)
        for alarm in self.d.of_type("AWS::CloudWatch::Alarm"):
            path = self._path("alarm", self.d.name(alarm))
            self.alarm_route(path, alarm)
        for budget in self.d.of_type("AWS::Budgets::Budget"):
            self.budget(budget)
        for queue in self.d.of_type("AWS::SQS::Queue"):
            if queue.logical_id in self._queues_seen:
                self.queue_watched(self._path("queue", queue.logical_id), queue)
        return self.paths

    def _path(self, kind: str, source: str) -> Path:
        path = Path(kind, source)
        self.paths.append(path)
        return path

    def state_machine(self, machine: Resource) -> None:
        d = self.d
        props = machine.properties
        definition = (
            self.load_definition(d.resolve(machine.stack, props["DefinitionS3Location"]))
            if ("DefinitionS3Location" in props)
            else json.loads(d.resolve(machine.stack, props["DefinitionString"]))
        )
        substitutions = d.resolve(machine.stack, props.get("DefinitionSubstitutions", {}))
        role_arn = str(d.resolve(machine.stack, props["RoleArn"]))
        name = d.name(machine)
        states = definition["States"]
        for state_name, state in states.items():
            for catcher in state.get("Catch", []):
                path = self._path("step", f"{name} {state_name} {'/'.join(catcher['ErrorEquals'])}")
                self.caught(path, states, catcher["Next"], substitutions, role_arn)
        for status in EXECUTION_END_STATUSES:
            self.execution_end(self._path("execution", f"{name} {status}"), machine, status)

    def caught(self, path: Path, states: Mapping[str, Any], name: str, subs: Mapping[str, Any], role_arn: str) -> None:
        """Follow a Catch to the first Task: an invoke of a publishing function, or a send to a
        watched queue; a Fail state instead ends the execution (the ``execution`` paths)."""
        seen: list[str] = []
        while states[name]["Type"] == "Pass" and name not in seen:
            seen.append(name)
            name = states[name]["Next"]
        state = states[name]
        path.hop(" -> ".join([*seen, name]))
        if state["Type"] == "Fail":
            path.hop("the execution fails (see its FAILED path)")
            return
        resource = state.get("Resource", "")
        params = {k.removesuffix(".$"): v for k, v in (state.get("Parameters") or state.get("Arguments") or {}).items()}
        target = _substitute(
            str(params.get("FunctionName" if resource.startswith(LAMBDA_INVOKE) else "QueueUrl", "")), subs
        )
        if resource.startswith(LAMBDA_INVOKE) and target:
            if self.invoke(path, role_arn, target, "the state machine"):
                self.publisher_function(path, target)
        elif resource.startswith(SQS_SEND) and target:
            queue = self.d.by_ref("AWS::SQS::Queue", target)
            self.send_to_queue(path, role_arn, self.d.arn(queue) if queue else target, "the state machine")
        else:
            path.hop(f"{name} ({resource})", "a caught error goes to a state that does not notify")

    def rules(self, source: str, detail_type: str) -> list[Resource]:
        return [
            r
            for r in self.d.of_type("AWS::Events::Rule")
            if r.properties.get("State", "ENABLED") == "ENABLED"
            and pattern_matches(r.properties.get("EventPattern", {}).get("source"), source)
            and pattern_matches(r.properties.get("EventPattern", {}).get("detail-type"), detail_type)
        ]

    def rule_to_publisher(self, path: Path, rules: list[Resource], needs: tuple[str, str] | None) -> None:
        """The first matching rule's Lambda target is invoked by EventBridge and emails;
        ``needs``: an (action, resource) the function must be allowed to read first."""
        if not path.hop("an EventBridge rule matches", "" if rules else "no enabled rule matches this event"):
            return
        rule = rules[0]
        targets = self.d.resolve(rule.stack, rule.properties.get("Targets", []))
        arns = [str(t["Arn"]) for t in targets]
        functions = [a for a in arns if ":function:" in a]
        topic_target = next((t for t in targets if self.topic(str(t["Arn"]))), None)
        if not functions and topic_target:
            self.rule_to_topic(path, rule, topic_target)
            return
        if not path.hop(f"rule {rule.logical_id} targets", "" if functions else f"no Lambda target ({arns})"):
            return
        if not self.events_invoke(path, rule, functions[0]):
            return
        if needs:
            function = self.d.by_arn(functions[0])
            role_arn = str(self.d.resolve(function.stack, function.properties["Role"])) if function else ""
            problem = allowed(
                self.d, Request(Principal(role_arn=role_arn), needs[0], needs[1], TLS), resource_policy=[]
            )
            if not path.hop(f"it may {needs[0]}", problem):
                return
        self.publisher_function(path, functions[0])

    def rule_to_topic(self, path: Path, rule: Resource, target: Mapping[str, Any]) -> None:
        """EventBridge publishes to an SNS target itself: with the target's role when it has one,
        else as events.amazonaws.com (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions).
        An input transformer's text must be readable: ``from_multiline_text`` quotes every line."""
        template = str(target.get("InputTransformer", {}).get("InputTemplate", ""))
        quoted = [line for line in template.splitlines() if line.startswith('"') and line.endswith('"')]
        if not path.hop(f"rule {rule.logical_id} emails the event", f"quoted lines: {quoted[:2]}" if quoted else ""):
            return
        if "RoleArn" in target:
            self.publish(path, Principal(role_arn=str(target["RoleArn"])), str(target["Arn"]))
        else:
            self.publish(path, Principal(service="events.amazonaws.com"), str(target["Arn"]), self.d.arn(rule))

    def execution_end(self, path: Path, machine: Resource, status: str) -> None:
        arn, name = self.d.arn(machine), self.d.name(machine)
        rules = [
            r
            for r in self.rules("aws.states", STATUS_CHANGE)
            if pattern_matches(self.detail(r).get("status"), status)
            and pattern_matches(self.detail(r).get("stateMachineArn"), arn)
        ]
        execution = f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:execution:{name}:any-run"
        self.rule_to_publisher(path, rules, ("states:GetExecutionHistory", execution))

    def detail(self, rule: Resource) -> Mapping[str, Any]:
        detail: Mapping[str, Any] = self.d.resolve(rule.stack, rule.properties["EventPattern"].get("detail", {}))
        return detail

    def glue_job(self, job: Resource, state: str) -> None:
        name = self.d.name(job)
        rules = [
            r
            for r in self.rules("aws.glue", GLUE_STATE_CHANGE)
            if pattern_matches(self.detail(r).get("state"), state)
            and pattern_matches(self.detail(r).get("jobName"), name)
        ]
        self.rule_to_publisher(self._path("glue", f"{name} {state}"), rules, ("glue:GetJobRun", self.d.arn(job)))

    def async_functions(self) -> list[Resource]:
        """Functions invoked asynchronously: EventBridge rule and Scheduler targets, on-failure destinations."""
        d = self.d
        arns = {
            str(d.resolve(r.stack, t["Arn"]))
            for r in d.of_type("AWS::Events::Rule")
            for t in r.properties.get("Targets", [])
        }
        arns |= {str(d.resolve(s.stack, s.properties["Target"]["Arn"])) for s in d.of_type("AWS::Scheduler::Schedule")}
        arns |= {
            str(d.resolve(c.stack, c.properties["DestinationConfig"]["OnFailure"]["Destination"]))
            for c in d.of_type("AWS::Lambda::EventInvokeConfig")
            if "OnFailure" in c.properties.get("DestinationConfig", {})
        }
        return sorted(
            (f for a in arns if (f := d.by_arn(a)) and f.type == "AWS::Lambda::Function"), key=lambda f: f.logical_id
        )

    def async_failure(self, function: Resource) -> None:
        d = self.d
        path = self._path("async", function.logical_id)
        configs = [
            c
            for c in d.of_type("AWS::Lambda::EventInvokeConfig")
            if d.resolve(c.stack, c.properties["FunctionName"]) in (d.name(function), d.arn(function))
        ]
        destination = next(
            (
                str(d.resolve(c.stack, c.properties["DestinationConfig"]["OnFailure"]["Destination"]))
                for c in configs
                if "OnFailure" in c.properties.get("DestinationConfig", {})
            ),
            "",
        )
        if not path.hop("on-failure destination", "" if destination else "none: a failed event is dropped"):
            return
        role_arn = str(d.resolve(function.stack, function.properties["Role"]))
        if ":function:" in destination:
            if destination == d.arn(function):
                path.hop("destination", "the function is its own destination")
            elif self.invoke(path, role_arn, destination, function.logical_id):
                self.publisher_function(path, destination)
        elif ":sqs:" in destination:
            self.send_to_queue(path, role_arn, destination, function.logical_id)
        else:
            path.hop(f"destination {destination}", "neither a notifying function nor a watched queue")

    def schedule(self, schedule: Resource) -> None:
        d = self.d
        target = d.resolve(schedule.stack, schedule.properties["Target"])
        path = self._path("schedule", d.name(schedule))
        queue_arn = str(target.get("DeadLetterConfig", {}).get("Arn", ""))
        if path.hop("dead-letter queue", "" if queue_arn else "none: an undeliverable event is dropped"):
            self.send_to_queue(path, str(target["RoleArn"]), queue_arn, "Scheduler")

    def budget(self, budget: Resource) -> None:
        d = self.d
        name = str(d.resolve(budget.stack, budget.properties["Budget"]["BudgetName"]))
        budget_arn = f"arn:{PARTITION}:budgets::{ACCOUNT}:budget/{name}"
        for notification in d.resolve(budget.stack, budget.properties.get("NotificationsWithSubscribers", [])):
            n = notification["Notification"]
            path = self._path("budget", f"{name} {n['NotificationType']} {n['Threshold']}%")
            topics = [s["Address"] for s in notification["Subscribers"] if s["SubscriptionType"] == "SNS"]
            if not path.hop("SNS subscriber", "" if topics else "no SNS subscriber"):
                continue
            policies = [
                p.logical_id
                for p in d.of_type("AWS::SNS::TopicPolicy")
                if p.stack == budget.stack and topics[0] in d.resolve(p.stack, p.properties["Topics"])
            ]
            waits = all(p in budget.depends_on for p in policies)
            path.hop("created after the topic policy", "" if waits else f"no DependsOn {policies}")
            self.publish(path, Principal(service="budgets.amazonaws.com"), topics[0], budget_arn)


def _fires_on_one(props: Mapping[str, Any]) -> bool:
    threshold, operator = float(props.get("Threshold", 0)), props.get("ComparisonOperator")
    return (operator == "GreaterThanOrEqualToThreshold" and threshold <= 1) or (
        operator == "GreaterThanThreshold" and threshold < 1
    )


def _substitute(value: str, substitutions: Mapping[str, Any]) -> str:
    for key, resolved in substitutions.items():
        value = value.replace(f"${{{key}}}", str(resolved))
    return value


def inventory(deployment: Deployment, load_definition: DefinitionLoader) -> list[Path]:
    return Inventory(deployment, load_definition).run()
