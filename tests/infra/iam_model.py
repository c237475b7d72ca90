"""The synthesized templates as a small model of AWS: intrinsic functions resolved to concrete values,
and IAM policies evaluated for one request at a time.

Why by hand: the failure-inventory test (test_failure_inventory.py) must decide, from the templates,
whether a CloudWatch alarm, AWS Budgets, EventBridge or a role may publish to the encrypted topic.
That depends on resource-policy principals and ``Condition`` blocks (``aws:SourceAccount``,
``aws:SourceArn``, ``aws:SecureTransport``). moto's evaluator (moto/iam/access_control.py) only checks
``AWS: "*"`` principals and ``StringEquals``, and ignores every other condition operator (a silent
Allow); cfn-lint and cdk-nag do not evaluate policies. This module implements the part of the IAM
evaluation logic the templates use and refuses anything else (an unknown condition operator raises),
so a new kind of statement cannot pass unexamined.

AWS rules modelled (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

- an explicit Deny in any applicable policy wins;
- same account, SNS/SQS/Lambda: an Allow in the identity policy *or* in the resource policy;
- KMS: the key policy must allow the principal, or allow the account (``arn:aws:iam::<account>:root``),
  which lets identity policies grant it (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html);
- a service principal (cloudwatch.amazonaws.com, budgets.amazonaws.com) has no identity policy: the
  resource policy alone must allow it, and the key policy too when the topic is encrypted
  (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}

# Logical id -> (type, the property holding its physical name) of the resources the tests name.
NAME_PROPERTY = {
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Glue::Job": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Glue::SecurityConfiguration": "Name",
    "AWS::SecretsManager::Secret": "Name",
}


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    depends_on: tuple[str, ...] = ()


class Deployment:
    """Every stack's resources, with ``Ref``/``Fn::GetAtt``/``Fn::Join``/``Fn::Sub``/``Fn::ImportValue``/
    ``Fn::Select``/``Fn::Split`` resolved for account ``ACCOUNT`` in ``REGION``."""

    def __init__(self, templates: Mapping[str, Mapping[str, Any]]) -> None:
        self.templates = templates
        self.resources: dict[tuple[str, str], Resource] = {}
        for stack, template in templates.items():
            for lid, resource in template.get("Resources", {}).items():
                depends = resource.get("DependsOn", [])
                self.resources[(stack, lid)] = Resource(
                    stack,
                    lid,
                    resource["Type"],
                    resource.get("Properties", {}),
                    tuple([depends] if isinstance(depends, str) else depends),
                )
        self.exports: dict[str, tuple[str, Any]] = {
            output["Export"]["Name"]: (stack, output["Value"])
            for stack, template in templates.items()
            for output in template.get("Outputs", {}).values()
            if isinstance(output.get("Export", {}).get("Name"), str)
        }

    def of_type(self, cfn_type: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == cfn_type]

    def get(self, stack: str, logical_id: str) -> Resource:
        return self.resources[(stack, logical_id)]

    # -- names and ARNs -------------------------------------------------------------------------

    def name(self, resource: Resource) -> str:
        prop = NAME_PROPERTY.get(resource.type)
        if prop and prop in resource.properties:
            return str(self.resolve(resource.stack, resource.properties[prop]))
        # CloudFormation's generated name: "<stack>-<logical id>-<suffix>"
        return f"{resource.stack}-{resource.logical_id}-GENERATED"

    def arn(self, resource: Resource) -> str:
        name, kind = self.name(resource), resource.type
        arns = {
            "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{name}",
            "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}",
            "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
            "AWS::KMS::Key": f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{resource.logical_id}",
            "AWS::Events::Rule": f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{name}",
            "AWS::CloudWatch::Alarm": f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
            "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
            "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{name}",
            "AWS::Glue::Job": f"arn:{PARTITION}:glue:{REGION}:{ACCOUNT}:job/{name}",
            "AWS::Scheduler::Schedule": f"arn:{PARTITION}:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}",
            "AWS::SecretsManager::Secret": f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}",
        }
        return arns.get(kind, f"arn:{PARTITION}:unknown:{REGION}:{ACCOUNT}:{resource.logical_id}")

    def ref(self, resource: Resource) -> str:
        """What ``Ref`` returns for the resource (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/)."""
        if resource.type in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::SecretsManager::Secret"):
            return self.arn(resource)
        if resource.type == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.name(resource)}"
        if resource.type == "AWS::KMS::Key":
            return resource.logical_id
        if resource.type in NAME_PROPERTY:
            return self.name(resource)
        return resource.logical_id

    def attribute(self, resource: Resource, attribute: str) -> str:
        if attribute in ("Arn", "TopicArn"):
            return self.arn(resource)
        if attribute in ("QueueName", "TopicName", "Name"):
            return self.name(resource)
        if attribute == "QueueUrl":
            return self.ref(resource)
        return f"<{resource.logical_id}.{attribute}>"

    def by_arn(self, arn: str) -> Resource | None:
        return next((r for r in self.resources.values() if self.arn(r) == arn), None)

    def by_ref(self, cfn_type: str, value: str) -> Resource | None:
        """The resource of ``cfn_type`` whose Ref, name or ARN is ``value``."""
        return next(
            (r for r in self.of_type(cfn_type) if value in (self.ref(r), self.name(r), self.arn(r))),
            None,
        )

    # -- intrinsic functions ----------------------------------------------------------------------

    def resolve(self, stack: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(stack, v) for v in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) != 1:
            return {k: self.resolve(stack, v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return PSEUDO[arg] if arg in PSEUDO else self.ref(self.get(stack, arg))
        if key == "Fn::GetAtt":
            lid, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.attribute(self.get(stack, lid), attribute)
        if key == "Fn::Join":
            separator, parts = arg
            return str(separator).join(str(self.resolve(stack, p)) for p in self.resolve(stack, parts))
        if key == "Fn::Sub":
            return self._sub(stack, arg)
        if key == "Fn::ImportValue":
            export_stack, exported = self.exports[str(self.resolve(stack, arg))]
            return self.resolve(export_stack, exported)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(stack, items)[int(self.resolve(stack, index))]
        if key == "Fn::Split":
            separator, text = arg
            return str(self.resolve(stack, text)).split(separator)
        if key.startswith("Fn::"):
            raise NotImplementedError(f"intrinsic {key} is not modelled")
        return {key: self.resolve(stack, arg)}

    def _sub(self, stack: str, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            token = match[1]
            if token in variables:
                return str(self.resolve(stack, variables[token]))
            if token in PSEUDO:
                return str(PSEUDO[token])
            lid, _, attribute = token.partition(".")
            resource = self.get(stack, lid)
            return self.attribute(resource, attribute) if attribute else self.ref(resource)

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)

    # -- policies -------------------------------------------------------------------------------

    def identity_statements(self, role_arn: str) -> list[dict[str, Any]]:
        """The statements of the role's inline policies and of the AWS::IAM::Policy resources attached to it."""
        role = self.by_arn(role_arn)
        if role is None:
            return []
        statements = [
            s
            for policy in role.properties.get("Policies", [])
            for s in _listify(self.resolve(role.stack, policy["PolicyDocument"])["Statement"])
        ]
        for policy in self.of_type("AWS::IAM::Policy"):
            roles = self.resolve(policy.stack, policy.properties.get("Roles", []))
            if self.name(role) in roles:
                statements += _listify(self.resolve(policy.stack, policy.properties["PolicyDocument"])["Statement"])
        return statements

    def resource_statements(self, cfn_type: str, target_ref: str) -> list[dict[str, Any]]:
        """The statements of the resource policies (topic, queue policies) that name ``target_ref``."""
        kind, key = {
            "AWS::SNS::Topic": ("AWS::SNS::TopicPolicy", "Topics"),
            "AWS::SQS::Queue": ("AWS::SQS::QueuePolicy", "Queues"),
        }[cfn_type]
        return [
            s
            for policy in self.of_type(kind)
            if target_ref in self.resolve(policy.stack, policy.properties[key])
            for s in _listify(self.resolve(policy.stack, policy.properties["PolicyDocument"])["Statement"])
        ]

    def key_statements(self, key_arn: str) -> list[dict[str, Any]]:
        key = self.by_arn(key_arn)
        if key is None:
            raise AssertionError(f"no KMS key {key_arn} in the templates")
        return _listify(self.resolve(key.stack, key.properties["KeyPolicy"])["Statement"])

    def lambda_permissions(self, function_arn: str) -> list[Mapping[str, Any]]:
        function = self.by_arn(function_arn)
        names = {function_arn, self.name(function)} if function else {function_arn}
        return [
            self.resolve(p.stack, p.properties)
            for p in self.of_type("AWS::Lambda::Permission")
            if self.resolve(p.stack, p.properties["FunctionName"]) in names
        ]


# -- evaluation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who makes the request: an AWS service (``service``) or an IAM role of the account (``role_arn``)."""

    service: str = ""
    role_arn: str = ""

    def __str__(self) -> str:
        return self.service or self.role_arn


@dataclass(frozen=True)
class Request:
    principal: Principal
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)

    def value(self, key: str) -> str | None:
        return next((v for k, v in self.context.items() if k.lower() == key.lower()), None)


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts is matched separately (the last keeps its colons)."""
    p, v = pattern.split(":", 5), value.split(":", 5)
    return len(p) == len(v) == 6 and all(_glob(a, b) for a, b in zip(p, v, strict=True))


OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringLike": _glob,
    "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
    "ArnEquals": lambda expected, actual: expected == actual,
    "ArnLike": _arn_like,
    "Bool": lambda expected, actual: expected.lower() == actual.lower(),
}
NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, expected: Any, request: Request) -> bool:
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    actual = request.value(key)
    values = [str(v).lower() if isinstance(v, bool) else str(v) for v in _listify(expected)]
    if operator in NEGATED:
        if actual is None:
            return True
        return not any(OPERATORS[NEGATED[operator]](v, actual) for v in values)
    if operator not in OPERATORS:
        raise NotImplementedError(f"condition operator {operator} is not modelled (key {key})")
    if actual is None:
        return if_exists
    return any(OPERATORS[operator](v, actual) for v in values)


def _conditions_hold(statement: Mapping[str, Any], request: Request) -> bool:
    return all(
        _condition_holds(operator, key, expected, request)
        for operator, pairs in statement.get("Condition", {}).items()
        for key, expected in pairs.items()
    )


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(a, action, case=False) for a in _listify(statement["NotAction"]))
    return any(_glob(a, action, case=False) for a in _listify(statement.get("Action", [])))


def _resource_matches(statement: Mapping[str, Any], resource: str, *, resource_policy: bool) -> bool:
    if "NotResource" in statement:
        return not any(_glob(r, resource) for r in _listify(statement["NotResource"]))
    if "Resource" not in statement:
        return resource_policy  # a resource policy without Resource is about its own resource
    return any(_glob(str(r), resource) for r in _listify(statement["Resource"]))


def _principal_match(statement: Mapping[str, Any], principal: Principal) -> str:
    """ "direct" when the statement names the principal (or everyone), "account" when it names the
    principal's account (delegation to identity policies), "" otherwise."""
    named = statement.get("Principal")
    if named == "*":
        return "direct"
    if not isinstance(named, Mapping):
        return ""
    services = [str(s) for s in _listify(named.get("Service", []))]
    if principal.service and principal.service in services:
        return "direct"
    aws = [str(a) for a in _listify(named.get("AWS", []))]
    if "*" in aws or (principal.role_arn and principal.role_arn in aws):
        return "direct"
    if principal.role_arn and any(a in (ACCOUNT, f"arn:{PARTITION}:iam::{ACCOUNT}:root") for a in aws):
        return "account"
    return ""


def evaluate(statements: list[Mapping[str, Any]], request: Request, *, resource_policy: bool) -> tuple[str, str]:
    """("Deny" | "Allow" | "", how): the outcome of these statements alone. For a resource policy,
    ``how`` is "direct" or "account" (an Allow that names the principal's account only)."""
    outcome, how = "", ""
    for statement in statements:
        if not _action_matches(statement, request.action):
            continue
        if not _resource_matches(statement, request.resource, resource_policy=resource_policy):
            continue
        match = _principal_match(statement, request.principal) if resource_policy else "direct"
        if not match or not _conditions_hold(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny", match
        if statement.get("Effect") == "Allow" and how != "direct":
            outcome, how = "Allow", match
    return outcome, how


def allowed(
    deployment: Deployment, request: Request, *, resource_policy: list[Mapping[str, Any]], kms: bool = False
) -> str:
    """ "" when AWS would allow the request, else why not. ``kms``: the resource policy is a key policy."""
    identity: list[Mapping[str, Any]] = (
        deployment.identity_statements(request.principal.role_arn) if request.principal.role_arn else []
    )
    by_resource, how = evaluate(resource_policy, request, resource_policy=True)
    by_identity, _ = evaluate(identity, request, resource_policy=False)
    if "Deny" in (by_resource, by_identity):
        return f"{request.principal} is explicitly denied {request.action} on {request.resource}"
    if by_resource == "Allow" and how == "direct":
        return ""
    if request.principal.role_arn and by_identity == "Allow" and (not kms or by_resource == "Allow"):
        return ""  # same account: the identity policy suffices, for KMS once the key policy delegates
    if not request.principal.role_arn:
        return f"no {'key' if kms else 'resource'} policy statement allows {request.principal} {request.action}"
    where = "the key policy does not delegate to IAM and " if kms and by_resource != "Allow" else ""
    return f"{where}no policy allows {request.principal} {request.action} on {request.resource}"


def pattern_matches(values: Any, actual: str) -> bool:
    """An EventBridge event-pattern field: a list of exact strings and ``{"prefix": ...}`` matchers."""
    for value in _listify(values):
        if isinstance(value, Mapping) and "prefix" in value and actual.startswith(str(value["prefix"])):
            return True
        if isinstance(value, str) and value == actual:
            return True
    return False
