"""`finlake cost`: estimate the deployment's monthly AWS bill from the synthesized templates.

What is deployed comes from the CloudFormation templates (synthesized in this process with asset
bundling skipped, or read from a ``cdk.out`` folder): state machines and the states an execution
passes through, Lambda memory, Glue workers, KMS keys, secrets, alarms, dashboards, log groups,
SNS subscriptions and the EventBridge Scheduler expressions with their state. How often and how
long things run is data in ``cost_assumptions.json``; prices are data in ``prices.json``, dated.
The arithmetic is Decimal throughout so a test can check it to the last digit.
"""

from __future__ import annotations

import calendar
import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

HERE = Path(__file__).parent
PRICES_PATH = HERE / "prices.json"
ASSUMPTIONS_PATH = HERE / "cost_assumptions.json"
REGIONS = ("us-east-1", "sa-east-1")

# A 28-year Gregorian cycle without a skipped leap year: weekdays and leap days repeat exactly,
# so counting matching days over it gives the long-run average per month.
CYCLE_START, CYCLE_END = date(2001, 1, 1), date(2028, 12, 31)
CYCLE_MONTHS = 28 * 12
MONTH_MINUTES = Decimal("365.25") / 12 * 1440
HOURS_PER_MONTH = Decimal(730)
KB_PER_GB = Decimal(1024 * 1024)
GB_PER_TB = Decimal(1024)
ATHENA_MIN_GB_PER_QUERY = Decimal(10) / 1024
DPU_PER_WORKER = {
    "G.025X": Decimal("0.25"),
    "Standard": Decimal(1),
    "G.1X": Decimal(1),
    "G.2X": Decimal(2),
    "G.4X": Decimal(4),
    "G.8X": Decimal(8),
    "G.12X": Decimal(12),
    "G.16X": Decimal(16),
    "Z.2X": Decimal(2),
    "R.1X": Decimal(1),
    "R.2X": Decimal(2),
    "R.4X": Decimal(4),
    "R.8X": Decimal(8),
}
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


def D(value: Any) -> Decimal:
    """A Decimal from a number or string, exact for what JSON or the user wrote."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


# -- Schedules: expression -> runs per month --------------------------------------------------------

_MONTH_NAMES = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_RATE_MINUTES = {"minute": 1, "hour": 60, "day": 1440}


def _value(token: str, names: Mapping[str, int]) -> int:
    return names[token.upper()] if token.upper() in names else int(token)


def cron_field(spec: str, low: int, high: int, names: Mapping[str, int] | None = None) -> set[int]:
    """The values an AWS cron field matches: ``*``, ``?``, lists, ranges, steps and names."""
    names = names or {}
    values: set[int] = set()
    for part in spec.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            first, last = low, high
        elif "-" in body:
            first, last = (_value(t, names) for t in body.split("-", 1))
        else:
            first = _value(body, names)
            last = high if step_text else first
        if not low <= first <= last <= high:
            raise ValueError(f"cron field {spec!r}: {part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return values


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # AWS cron: 1 = SUN ... 7 = SAT


def _nearest_weekday(day: date, target: int) -> date:
    last = calendar.monthrange(day.year, day.month)[1]
    wanted = date(day.year, day.month, min(target, last))
    if wanted.weekday() == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return wanted - timedelta(days=1) if wanted.day > 1 else wanted + timedelta(days=2)
    if wanted.weekday() == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return wanted + timedelta(days=1) if wanted.day < last else wanted - timedelta(days=2)
    return wanted


def _dom_matcher(spec: str) -> Callable[[date], bool]:
    if spec == "L":
        return lambda d: (d + timedelta(days=1)).month != d.month
    if spec.endswith("W"):
        target = int(spec[:-1])
        return lambda d: d == _nearest_weekday(d, target)
    days = cron_field(spec, 1, 31)
    return lambda d: d.day in days


def _dow_matcher(spec: str) -> Callable[[date], bool]:
    if "#" in spec:
        weekday, nth = (int(t) if t.isdigit() else _DAY_NAMES[t.upper()] for t in spec.split("#"))
        return lambda d: _aws_weekday(d) == weekday and (d.day - 1) // 7 + 1 == nth
    if spec.endswith("L") and len(spec) > 1:
        weekday = _value(spec[:-1], _DAY_NAMES)
        return lambda d: _aws_weekday(d) == weekday and (d + timedelta(days=7)).month != d.month
    weekdays = cron_field("7" if spec == "L" else spec, 1, 7, _DAY_NAMES)
    return lambda d: _aws_weekday(d) in weekdays


def cron_runs_per_month(expression: str) -> Decimal:
    """Average runs a month of an EventBridge ``cron(min hour day-of-month month day-of-week year)``.

    Counts the matching days over a 28-year cycle (so a weekday cron gives 7305/336 = 21.74 and a
    daily one 30.4375), times the matching minutes and hours of a day. Time zones and daylight
    saving change when a run happens, not how many there are.
    """
    fields = expression.strip()[len("cron(") : -1].split()
    if len(fields) != 6:
        raise ValueError(f"{expression!r}: a cron expression has 6 fields")
    minutes, hours, dom, months, dow, years = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    if years not in ("*", "?") and date.today().year not in cron_field(years, 1970, 2199):
        return Decimal(0)
    per_day = len(cron_field(minutes, 0, 59)) * len(cron_field(hours, 0, 23))
    month_set = cron_field(months, 1, 12, _MONTH_NAMES)
    matches = _dow_matcher(dow) if dom == "?" else _dom_matcher(dom)
    days = 0
    day = CYCLE_START
    while day <= CYCLE_END:
        days += day.month in month_set and matches(day)
        day += timedelta(days=1)
    return Decimal(days * per_day) / CYCLE_MONTHS


def runs_per_month(expression: str, *, enabled: bool = True) -> Decimal:
    """Runs a month of a Scheduler expression: ``cron(...)``, ``rate(...)``; ``at(...)`` runs once, not monthly."""
    if not enabled:
        return Decimal(0)
    text = expression.strip()
    if text.startswith("cron("):
        return cron_runs_per_month(text)
    if match := _RATE.match(text):
        unit = match[2].rstrip("s")
        return MONTH_MINUTES / (int(match[1]) * _RATE_MINUTES[unit])
    if text.startswith("at("):
        return Decimal(0)
    raise ValueError(f"unsupported schedule expression {expression!r}")


# -- State machine definitions: the states a successful execution passes through ----------------------


def _expand(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A state, followed by the states its Parallel branches or its Map iteration (counted once) pass through."""
    inner: list[Mapping[str, Any]] = []
    for branch in state.get("Branches", []):
        inner += longest_success_path(branch)
    processor = state.get("ItemProcessor") or state.get("Iterator")
    if processor:
        inner += longest_success_path(processor)
    return [state, *inner]


def _paths(states: Mapping[str, Any], name: str, seen: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    state = states[name]
    path = (*seen, name)
    kind = state["Type"]
    if kind == "Fail":
        return
    if kind == "Succeed" or state.get("End"):
        yield path
        return
    targets = [c["Next"] for c in state.get("Choices", [])] if kind == "Choice" else [state["Next"]]
    if kind == "Choice" and "Default" in state:
        targets.append(state["Default"])
    for target in dict.fromkeys(targets):
        if target not in path:  # a loop is walked once
            yield from _paths(states, target, path)


def success_paths(definition: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Every path from StartAt to a successful end, following Next and Choice (never Catch)."""
    return list(_paths(definition["States"], definition["StartAt"], ()))


def longest_success_path(definition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    path = max(success_paths(definition), key=len)
    return [s for name in path for s in _expand({**definition["States"][name], "Name": name})]


def shortest_success_path(definition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    path = min(success_paths(definition), key=len)
    return [s for name in path for s in _expand({**definition["States"][name], "Name": name})]


# -- Templates -> what is deployed ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A state on an execution path and what it bills: ``lambda``, ``glue``, ``sns`` or ``other``."""

    name: str
    kind: str
    target: str | None = None  # logical id of the function or job


@dataclass(frozen=True)
class Workflow:
    logical_id: str
    domain: str
    full_path: tuple[Step, ...]
    short_path: tuple[Step, ...]
    traced: bool
    logs_all: bool


@dataclass(frozen=True)
class Function:
    logical_id: str
    memory_mb: int
    arm: bool
    traced: bool
    secrets: int  # secrets its environment names


@dataclass(frozen=True)
class GlueJob:
    logical_id: str
    dpus: Decimal
    min_minutes: Decimal
    metrics: bool


@dataclass(frozen=True)
class Schedule:
    logical_id: str
    expression: str
    enabled: bool
    target: str | None  # logical id of the state machine it starts
    starter: str | None = None  # the function the schedule invokes to start it (ScheduleStart)

    @property
    def runs_per_month(self) -> Decimal:
        return runs_per_month(self.expression, enabled=self.enabled)


@dataclass
class Deployment:
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
        """The state machine a function starts: the one its environment names (the S3 triggers,
        the schedules' ScheduleStart functions)."""
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


# -- Prices and assumptions --------------------------------------------------------------------------


def _load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(), parse_float=Decimal)
    return data


def load_prices(path: Path = PRICES_PATH) -> dict[str, Any]:
    return _load_json(path)


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(merged.get(key), dict) else value
        )
    return merged


def load_assumptions(path: Path = ASSUMPTIONS_PATH, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The usage assumptions, with ``overrides`` merged in key by key (nested dicts too)."""
    return _merge(_load_json(path), overrides or {})


# -- The estimate ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineItem:
    key: str
    service: str
    item: str
    quantity: Decimal
    unit: str
    free: Decimal
    unit_price: Decimal
    per: Decimal
    page: str = ""  # the AWS pricing page the unit price comes from

    @property
    def billable(self) -> Decimal:
        return max(Decimal(0), self.quantity - self.free)

    @property
    def usd(self) -> Decimal:
        return self.billable / self.per * self.unit_price


@dataclass(frozen=True)
class WorkflowRuns:
    domain: str
    scheduled_runs: Decimal
    full_runs: Decimal
    short_runs: Decimal
    transitions_full: int
    transitions_short: int


@dataclass
class Estimate:
    region: str
    prices_valid_as_of: str
    free_tier: bool
    lines: list[LineItem]
    workflows: list[WorkflowRuns]
    deployment: dict[str, Any]
    assumptions: dict[str, Any]
    notes: list[str]

    @property
    def total(self) -> Decimal:
        return sum((line.usd for line in self.lines), Decimal(0))

    def line(self, key: str) -> LineItem:
        return next(line for line in self.lines if line.key == key)


class Usage(dict[str, Decimal]):
    """Monthly quantities by price key (and a few intermediate totals: log KB, metric-hours)."""

    def add(self, key: str, amount: Decimal) -> None:
        self[key] = self.get(key, Decimal(0)) + amount


def _domain(assumptions: Mapping[str, Any], domain: str) -> dict[str, Decimal]:
    spec = {**assumptions["default_domain"], **assumptions["domains"].get(domain, {})}
    return {k: D(v) for k, v in spec.items()}


def _lambda_seconds(a: Mapping[str, Any], domain: str, step: str) -> Decimal:
    return D(a["lambda_seconds"].get(f"{domain}.{step}", a["lambda_seconds_default"]))


def _glue_minutes(a: Mapping[str, Any], domain: str, step: str) -> Decimal:
    return D(a["glue_minutes"].get(f"{domain}.{step}", a["glue_minutes_default"]))


def _invoke_lambda(usage: Usage, a: Mapping[str, Any], fn: Function, runs: Decimal, seconds: Decimal) -> None:
    usage.add("lambda_requests", runs)
    usage.add("lambda_gbs_arm" if fn.arm else "lambda_gbs_x86", runs * D(fn.memory_mb) / 1024 * seconds)
    usage.add("s3_put", runs * D(a["s3_put_per_lambda_step"]))
    usage.add("s3_get", runs * D(a["s3_get_per_lambda_step"]))
    usage.add("kms_requests", runs * D(a["kms_requests_per_step"]))
    usage.add("secrets_api", runs * fn.secrets * D(a["secret_reads_per_invocation"]))
    usage.add("log_kb", runs * D(a["log_kb_per_lambda_invocation"]))


def _run_glue(usage: Usage, a: Mapping[str, Any], job: GlueJob, runs: Decimal, minutes: Decimal) -> None:
    billed = max(minutes, job.min_minutes)
    usage.add("glue_dpu_hours", runs * job.dpus * billed / 60)
    usage.add("s3_put", runs * D(a["s3_put_per_glue_run"]))
    usage.add("s3_get", runs * D(a["s3_get_per_glue_run"]))
    usage.add("kms_requests", runs * D(a["kms_requests_per_step"]))
    usage.add("glue_log_mb", runs * D(a["log_mb_per_glue_run"]))
    if job.metrics:
        hours = max(math.ceil(minutes / 60), 1)  # each started hour of the run
        usage.add("metric_hours", runs * D(a["glue_metrics_per_job_run"]) * hours)


def _walk(
    usage: Usage, a: Mapping[str, Any], dep: Deployment, wf: Workflow, path: Sequence[Step], runs: Decimal
) -> None:
    usage.add("sfn_transitions", runs * len(path))
    if wf.logs_all:
        usage.add("log_kb", runs * len(path) * D(a["log_kb_per_state_transition"]))
    for step in path:
        if step.kind == "lambda" and step.target in dep.functions:
            _invoke_lambda(usage, a, dep.functions[step.target], runs, _lambda_seconds(a, wf.domain, step.name))
        elif step.kind == "glue" and step.target in dep.glue_jobs:
            _run_glue(usage, a, dep.glue_jobs[step.target], runs, _glue_minutes(a, wf.domain, step.name))
        elif step.kind == "sns":
            usage.add("sns_publish", runs)
            usage.add("sns_email", runs * dep.email_subscriptions)


def _workflow_usage(usage: Usage, a: Mapping[str, Any], dep: Deployment, wf: Workflow) -> WorkflowRuns:
    spec = _domain(a, wf.domain)
    scheduled = sum((s.runs_per_month for s in dep.schedules if s.target == wf.logical_id), Decimal(0))
    full = scheduled * spec["scheduled_full_fraction"] + spec["triggered_runs"]
    short = scheduled - scheduled * spec["scheduled_full_fraction"]
    _walk(usage, a, dep, wf, wf.full_path, full)
    _walk(usage, a, dep, wf, wf.short_path, short)
    usage.add("scheduler_invocations", scheduled)
    usage.add("xray_traces", (full + short) if wf.traced else Decimal(0))
    usage.add("metric_hours", full * D(a["custom_metrics_per_full_run"]))
    usage.add("glue_catalog_requests", full * D(a["glue_catalog_requests_per_full_run"]))
    starts = [
        (dep.functions[fn], D(spec["trigger_invocations"])) for fn, m in dep.triggers.items() if m == wf.logical_id
    ]
    starts += [
        (dep.functions[s.starter], s.runs_per_month) for s in dep.schedules if s.starter and s.target == wf.logical_id
    ]
    for fn, invocations in starts:
        _invoke_lambda(usage, a, fn, invocations, D(a["trigger_lambda_seconds"]))
        usage.add("xray_traces", invocations if fn.traced else Decimal(0))
    return WorkflowRuns(wf.domain, scheduled, full, short, len(wf.full_path), len(wf.short_path))


def _platform_usage(usage: Usage, a: Mapping[str, Any], dep: Deployment) -> None:
    queries = D(a["athena_queries_per_month"])
    usage.add("athena_scanned", queries * max(D(a["athena_gb_per_query"]), ATHENA_MIN_GB_PER_QUERY) / GB_PER_TB)
    usage.add("s3_put", queries * D(a["s3_put_per_athena_query"]))
    usage.add("s3_get", queries * D(a["s3_get_per_athena_query"]))
    usage.add("glue_catalog_requests", queries * D(a["glue_catalog_requests_per_athena_query"]))
    usage.add("glue_catalog_objects", D(a["glue_catalog_objects"]))
    usage.add("s3_storage", D(a["lake_gb"]))
    usage.add("sqs_requests", D(a["sqs_requests_per_month"]) if dep.counts["AWS::SQS::Queue"] else Decimal(0))
    usage.add("kms_keys", D(dep.counts["AWS::KMS::Key"]))
    usage.add("secrets", D(dep.counts["AWS::SecretsManager::Secret"]))
    usage.add("cw_alarms", D(dep.alarm_metrics))
    usage.add("cw_dashboards", D(dep.counts["AWS::CloudWatch::Dashboard"]))
    usage.add("cw_metrics", usage.get("metric_hours", Decimal(0)) / HOURS_PER_MONTH)
    ingested = usage.get("log_kb", Decimal(0)) / KB_PER_GB
    glue_logs = usage.get("glue_log_mb", Decimal(0)) / 1024
    usage.add("logs_ingestion", ingested + glue_logs)
    retention = D(dep.log_retention_days or 365)
    stored = ingested * retention / 30 + glue_logs * D(a["glue_log_retention_days"]) / 30
    usage.add("logs_storage", stored)


def estimate(
    dep: Deployment,
    *,
    region: str = "us-east-1",
    prices: Mapping[str, Any] | None = None,
    assumptions: Mapping[str, Any] | None = None,
    free_tier: bool = False,
) -> Estimate:
    """Monthly quantities from the deployment and the assumptions, priced for ``region``."""
    prices = prices if prices is not None else load_prices()
    a = assumptions if assumptions is not None else load_assumptions()
    if region not in prices["regions"]:
        raise click.BadParameter(f"no prices for {region}; known: {', '.join(prices['regions'])}")
    usage = Usage()
    runs = [_workflow_usage(usage, a, dep, wf) for wf in sorted(dep.workflows, key=lambda w: w.domain)]
    _platform_usage(usage, a, dep)
    table = prices["regions"][region]
    lines = [
        LineItem(
            key=key,
            service=meta["service"],
            item=meta["item"],
            quantity=usage.get(key, Decimal(0)),
            unit=meta["unit"],
            free=D(meta.get("free", 0)) if free_tier else Decimal(0),
            unit_price=D(table[key]),
            per=D(meta["per"]),
            page=str(meta.get("page", "")),
        )
        for key, meta in prices["items"].items()
    ]
    unverified = prices.get("unverified", {}).get(region)
    notes = [
        f"Prices as of {prices['valid_as_of']}, written without network access: check them on the AWS pricing pages.",
        "Always-free allowances subtracted."
        if free_tier
        else "Free tier not applied (--free-tier subtracts the always-free allowances).",
        f"Least certain {region} prices: {', '.join(unverified)}." if unverified else "",
        str(a.get("notes", {}).get("not_billed", "")),
    ]
    return Estimate(
        region=region,
        prices_valid_as_of=str(prices["valid_as_of"]),
        free_tier=free_tier,
        lines=lines,
        workflows=runs,
        deployment=_deployment_summary(dep),
        assumptions={k: v for k, v in a.items() if k != "notes"},
        notes=[n for n in notes if n],
    )


def _deployment_summary(dep: Deployment) -> dict[str, Any]:
    interesting = (
        "AWS::StepFunctions::StateMachine",
        "AWS::Lambda::Function",
        "AWS::Glue::Job",
        "AWS::KMS::Key",
        "AWS::SecretsManager::Secret",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
        "AWS::Athena::WorkGroup",
        "AWS::Scheduler::Schedule",
    )
    return {
        "resources": {t: dep.counts[t] for t in interesting},
        "schedules": [
            {"target": s.target, "expression": s.expression, "enabled": s.enabled, "runs_per_month": s.runs_per_month}
            for s in dep.schedules
        ],
        "glue_jobs": {lid: {"dpus": j.dpus, "min_minutes": j.min_minutes} for lid, j in dep.glue_jobs.items()},
        "email_subscriptions": dep.email_subscriptions,
        "log_retention_days": dep.log_retention_days,
    }


# -- Output ------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_json(est: Estimate) -> dict[str, Any]:
    lines = [
        {
            **asdict(line),
            "quantity": round(line.quantity, 6),
            "billable": round(line.billable, 6),
            "usd": round(line.usd, 4),
        }
        for line in est.lines
    ]
    return _plain(
        {
            "region": est.region,
            "prices_valid_as_of": est.prices_valid_as_of,
            "prices_must_be_checked": True,
            "free_tier": est.free_tier,
            "total_usd": round(est.total, 2),
            "lines": lines,
            "workflows": [asdict(w) for w in est.workflows],
            "deployment": est.deployment,
            "assumptions": est.assumptions,
            "notes": est.notes,
        }
    )


def _number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.1f}"


def _per(per: Decimal, unit: str) -> str:
    return f"{unit}" if per == 1 else f"{per:,.0f} {unit}"


def render_table(est: Estimate) -> str:
    header = ("service", "item", "quantity", "unit price", "USD/month")
    rows = [
        (
            line.service,
            line.item,
            f"{_number(line.quantity)} {line.unit}" + (f" ({_number(line.free)} free)" if line.free else ""),
            f"${line.unit_price} / {_per(line.per, line.unit)}",
            f"{line.usd:,.2f}",
        )
        for line in est.lines
    ]
    rows.append(("", "TOTAL", "", "", f"{est.total:,.2f}"))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = [f"finlake monthly cost estimate, {est.region}, prices as of {est.prices_valid_as_of} (CHECK THEM)", ""]
    for i, row in enumerate([header, *rows]):
        cells = [c.rjust(w) if j >= 2 else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
        if i == 0 or i == len(rows) - 1:
            out.append("  ".join("-" * w for w in widths))
    out += ["", "Runs a month (scheduled -> full + short path; transitions per full / short run):"]
    out += [
        f"  {w.domain}: scheduled {_number(w.scheduled_runs)}, full {_number(w.full_runs)}, "
        f"short {_number(w.short_runs)}; {w.transitions_full} / {w.transitions_short} transitions"
        for w in est.workflows
    ]
    a = est.assumptions
    out += [
        "",
        f"Assumptions: lake {a['lake_gb']} GB; Athena {a['athena_queries_per_month']} queries x "
        f"{a['athena_gb_per_query']} GB; Lambda {a['lambda_seconds_default']} s per step unless set; "
        f"Glue minutes {json.dumps(_plain(a['glue_minutes']))} (default {a['glue_minutes_default']}); "
        "see finlake/cost_assumptions.json.",
        *est.notes,
    ]
    return "\n".join(out)


@click.command()
@click.option("--region", type=click.Choice(REGIONS), default="us-east-1", show_default=True)
@click.option(
    "--cdk-out",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Read this cloud assembly (e.g. cdk.out) instead of synthesizing the app (~20 s, offline).",
)
@click.option("--lake-gb", type=float, default=None, help="GB stored in S3 Standard (default from the assumptions).")
@click.option("--queries-per-month", type=int, default=None, help="Athena queries a month.")
@click.option("--gb-per-query", type=float, default=None, help="GB each Athena query scans.")
@click.option("--free-tier", is_flag=True, help="Subtract the always-free monthly allowances.")
@click.option(
    "--assumptions",
    "assumptions_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='JSON merged over finlake/cost_assumptions.json (e.g. {"domains": {"bank": {"triggered_runs": 8}}}).',
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Price table to use instead of finlake/prices.json.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def cost(
    region: str,
    cdk_out: Path | None,
    lake_gb: float | None,
    queries_per_month: int | None,
    gb_per_query: float | None,
    free_tier: bool,
    assumptions_file: Path | None,
    prices_file: Path | None,
    fmt: str,
) -> None:
    """Estimate the monthly AWS bill of the deployment from its templates, schedules and a dated price table.

    The prices were written without network access: check them on the AWS pricing pages.
    """
    overrides: dict[str, Any] = _load_json(assumptions_file) if assumptions_file else {}
    for key, value in (
        ("lake_gb", lake_gb),
        ("athena_queries_per_month", queries_per_month),
        ("athena_gb_per_query", gb_per_query),
    ):
        if value is not None:
            overrides[key] = D(value)
    if cdk_out is not None:
        templates, loader = read_cdk_out(cdk_out)
        dep = read_deployment(templates, loader)
    else:
        dep = synthesize_deployment()
    est = estimate(
        dep,
        region=region,
        prices=load_prices(prices_file or PRICES_PATH),
        assumptions=load_assumptions(overrides=overrides),
        free_tier=free_tier,
    )
    click.echo(json.dumps(to_json(est), indent=2) if fmt == "json" else render_table(est))


if __name__ == "__main__":
    import os

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    cost()
