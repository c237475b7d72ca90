"""Templates -> what is deployed.

State machines, functions, Glue jobs, schedules and platform resources read from synthesized CloudFormation templates
(or a ``cdk.out`` folder).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from finlake.cost.paths import longest_success_path, shortest_success_path
from finlake.cost.schedules import runs_per_month
from finlake.cost.units import DPU_PER_WORKER, NO_BUNDLING, D


@dataclass(frozen=True)
class Step:
    """A state on an execution path and what it bills: ``lambda``, ``glue``, ``sns`` or ``other``."""

    name: str
    kind: str
    target: str | None = None  # logical id of the function or job


@dataclass(frozen=True)
class Workflow:
    """A state machine of the templates: its domain, its full and short successful paths, tracing and full logging."""

    logical_id: str
    domain: str
    full_path: tuple[Step, ...]
    short_path: tuple[Step, ...]
    traced: bool
    logs_all: bool


@dataclass(frozen=True)
class Function:
    """A Lambda function of the templates: memory (MB), arm64 or not, X-Ray tracing, how many secrets it names."""

    logical_id: str
    memory_mb: int
    arm: bool
    traced: bool
    secrets: int  # secrets its environment names


@dataclass(frozen=True)
class GlueJob:
    """A Glue job of the templates: its DPUs, the minimum billed minutes of a run, whether job metrics are on."""

    logical_id: str
    dpus: Decimal
    min_minutes: Decimal
    metrics: bool


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule of the templates: its expression, whether enabled, and what it starts."""

    logical_id: str
    expression: str
    enabled: bool
    target: str | None  # logical id of the state machine it starts
    starter: str | None = None  # the function the schedule invokes to start it (ScheduleStart)

    @property
    def runs_per_month(self) -> Decimal:
        """How many times a month the schedule fires (0 when disabled)."""
        return runs_per_month(self.expression, enabled=self.enabled)


@dataclass
class Deployment:
    """What the templates deploy, as the estimate counts it: workflows, functions, Glue jobs, schedules, triggers."""

    workflows: list[Workflow] = field(default_factory=list)
    functions: dict[str, Function] = field(default_factory=dict)
    glue_jobs: dict[str, GlueJob] = field(default_factory=dict)
    schedules: list[Schedule] = field(default_factory=list)
    triggers: dict[str, str] = field(default_factory=dict)  # trigger function -> state machine
    counts: Counter[str] = field(default_factory=Counter)
    alarm_metrics: int = 0
    email_subscriptions: int = 0
    log_retention_days: int | None = None


Templates = Mapping[str, Mapping[str, Any]]
DefinitionLoader = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def _ref(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points at."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


def _substituted(value: Any, substitutions: Mapping[str, Any]) -> str | None:
    if isinstance(value, str) and (m := re.fullmatch(r"\$\{(\w+)\}", value)):
        return _ref(substitutions.get(m[1]))
    return _ref(value)


def _step(state: Mapping[str, Any], substitutions: Mapping[str, Any]) -> Step:
    name = str(state["Name"])
    if state["Type"] != "Task":
        return Step(name, "other")
    resource = str(state.get("Resource", ""))
    params = state.get("Parameters") or state.get("Arguments") or {}
    if resource.startswith("arn:aws:states:::lambda:invoke"):
        return Step(name, "lambda", _substituted(params.get("FunctionName"), substitutions))
    if resource.startswith("arn:aws:states:::glue:startJobRun"):
        return Step(name, "glue", _substituted(params.get("JobName"), substitutions))
    if resource.startswith("arn:aws:states:::sns:publish"):
        return Step(name, "sns")
    if not resource.startswith("arn:aws:states:::"):  # a bare function ARN
        return Step(name, "lambda", _substituted(resource, substitutions))
    return Step(name, "other")


def _render(value: Any) -> str:
    """A DefinitionString as text: ``Fn::Join`` and ``Fn::Sub`` pieces that are not text become a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(p if isinstance(p, str) else "x" for p in parts)
    if isinstance(value, Mapping) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    raise ValueError(f"cannot read the state machine definition {value!r}")


def assets_loader(cdk_out: Path) -> DefinitionLoader:
    """Reads a ``DefinitionS3Location`` from the file asset the cloud assembly holds for it."""
    sources: dict[str, Path] = {}
    for manifest in cdk_out.glob("*.assets.json"):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            for dest in asset.get("destinations", {}).values():
                sources[dest["objectKey"]] = cdk_out / asset["source"]["path"]

    def load(location: Mapping[str, Any]) -> Mapping[str, Any]:
        definition: Mapping[str, Any] = json.loads(sources[str(location["Key"])].read_text())
        return definition

    return load


def _definition(props: Mapping[str, Any], loader: DefinitionLoader | None) -> Mapping[str, Any]:
    if "Definition" in props:
        definition: Mapping[str, Any] = props["Definition"]
        return definition
    if "DefinitionString" in props:
        loaded: Mapping[str, Any] = json.loads(_render(props["DefinitionString"]))
        return loaded
    if "DefinitionS3Location" in props and loader is not None:
        return loader(props["DefinitionS3Location"])
    raise ValueError("a state machine definition in S3 needs the cloud assembly (--cdk-out)")


def _workflow(logical_id: str, props: Mapping[str, Any], loader: DefinitionLoader | None) -> Workflow:
    definition = _definition(props, loader)
    subs = props.get("DefinitionSubstitutions", {})
    name = props.get("StateMachineName")
    domain = name.removeprefix("finlake-") if isinstance(name, str) else logical_id
    return Workflow(
        logical_id=logical_id,
        domain=domain,
        full_path=tuple(_step(s, subs) for s in longest_success_path(definition)),
        short_path=tuple(_step(s, subs) for s in shortest_success_path(definition)),
        traced=bool(props.get("TracingConfiguration", {}).get("Enabled")),
        logs_all=props.get("LoggingConfiguration", {}).get("Level", "OFF") != "OFF",
    )


def _function(logical_id: str, props: Mapping[str, Any], secret_ids: Mapping[str, str]) -> Function:
    env = props.get("Environment", {}).get("Variables", {})
    secrets = sum(
        1 for v in env.values() if (v in secret_ids.values() if isinstance(v, str) else _ref(v) in secret_ids)
    )
    return Function(
        logical_id=logical_id,
        memory_mb=int(props.get("MemorySize", 128)),
        arm="arm64" in props.get("Architectures", []),
        traced=props.get("TracingConfig", {}).get("Mode") == "Active",
        secrets=secrets,
    )


def _glue_job(logical_id: str, props: Mapping[str, Any]) -> GlueJob:
    if "WorkerType" in props:
        dpus = D(props.get("NumberOfWorkers", 2)) * DPU_PER_WORKER[props["WorkerType"]]
    else:
        dpus = D(props.get("MaxCapacity", 10))
    version = D(props.get("GlueVersion", "0.9"))
    return GlueJob(
        logical_id=logical_id,
        dpus=dpus,
        min_minutes=Decimal(1) if version >= 2 else Decimal(10),
        metrics=str(props.get("DefaultArguments", {}).get("--enable-metrics", "false")).lower() == "true",
    )


def _alarm_metrics(props: Mapping[str, Any]) -> int:
    metrics = props.get("Metrics")
    return sum(1 for m in metrics if "MetricStat" in m) if metrics else 1


def read_deployment(templates: Templates, loader: DefinitionLoader | None = None) -> Deployment:
    """What the templates deploy, as far as the bill is concerned."""
    resources = {lid: r for t in templates.values() for lid, r in t.get("Resources", {}).items()}
    by_type: dict[str, dict[str, Mapping[str, Any]]] = {}
    for lid, resource in resources.items():
        by_type.setdefault(resource["Type"], {})[lid] = resource.get("Properties", {})
    dep = Deployment(counts=Counter({t: len(r) for t, r in by_type.items()}))
    secret_ids = {lid: str(p.get("Name", lid)) for lid, p in by_type.get("AWS::SecretsManager::Secret", {}).items()}
    for lid, props in by_type.get("AWS::Lambda::Function", {}).items():
        dep.functions[lid] = _function(lid, props, secret_ids)
    for lid, props in by_type.get("AWS::Glue::Job", {}).items():
        dep.glue_jobs[lid] = _glue_job(lid, props)
    for lid, props in by_type.get("AWS::StepFunctions::StateMachine", {}).items():
        dep.workflows.append(_workflow(lid, props, loader))
    functions = by_type.get("AWS::Lambda::Function", {})
    machines = by_type.get("AWS::StepFunctions::StateMachine", {})

    def machine_started_by(fn: str | None) -> str | None:
        """The state machine a function starts: the one its environment names.

        Such functions are the S3 triggers and the schedules' ScheduleStart functions.
        """
        env = functions.get(fn or "", {}).get("Environment", {}).get("Variables", {})
        return next((_ref(v) for v in env.values() if _ref(v) in machines), None)

    for lid, props in by_type.get("AWS::Scheduler::Schedule", {}).items():
        target = _ref(props.get("Target", {}).get("Arn"))
        starter = target if target in functions else None
        dep.schedules.append(
            Schedule(
                lid,
                props["ScheduleExpression"],
                props.get("State", "ENABLED") == "ENABLED",
                machine_started_by(starter) if starter else target,
                starter,
            )
        )
    for props in by_type.get("AWS::Events::Rule", {}).values():
        for target in props.get("Targets", []):
            fn = _ref(target.get("Arn"))
            machine = machine_started_by(fn)
            if fn and machine:
                dep.triggers[fn] = machine
    dep.alarm_metrics = sum(_alarm_metrics(p) for p in by_type.get("AWS::CloudWatch::Alarm", {}).values())
    subscriptions = by_type.get("AWS::SNS::Subscription", {}).values()
    dep.email_subscriptions = sum(1 for p in subscriptions if p.get("Protocol") in ("email", "email-json"))
    retention = Counter(
        p["RetentionInDays"] for p in by_type.get("AWS::Logs::LogGroup", {}).values() if "RetentionInDays" in p
    )
    dep.log_retention_days = retention.most_common(1)[0][0] if retention else None
    return dep


def read_cdk_out(cdk_out: Path) -> tuple[dict[str, dict[str, Any]], DefinitionLoader]:
    """The stack templates of a cloud assembly folder and a reader for its definition assets."""
    templates = {
        p.name.removesuffix(".template.json"): json.loads(p.read_text()) for p in cdk_out.glob("*.template.json")
    }
    if not templates:
        raise click.ClickException(f"no *.template.json in {cdk_out}: run `make synth` first")
    return templates, assets_loader(cdk_out)


def synthesize_deployment() -> Deployment:
    """Synthesize the real app in this process, asset bundling skipped (offline, ~20 s)."""
    from stacks.app import build_app  # imported here: loading aws_cdk takes seconds

    with tempfile.TemporaryDirectory(prefix="finlake-cost-") as outdir:
        build_app(outdir=outdir, cdk_context=NO_BUNDLING).synth()
        templates, loader = read_cdk_out(Path(outdir))
        return read_deployment(templates, loader)
