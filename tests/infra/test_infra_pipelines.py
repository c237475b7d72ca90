"""The domain pipelines: functions, Glue jobs, state machines, schedules, alarms and their IAM."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stacks.app import build_app
from stacks.specs import DOMAINS, DomainSpec, LambdaStep
from tests.infra.conftest import VARIANT_CONTEXT, VARIANT_DOMAINS

pytestmark = pytest.mark.slow

PIPELINES = "FinlakePipelines"
EXPECTED_ENV = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "DOMAIN",
    "RAW_BUCKET",
    "CURATED_BUCKET",
    "REFINED_BUCKET",
    "CURATED_DATABASE",
    "REFINED_DATABASE",
    "ATHENA_WORKGROUP",
}
SECRET_LIKE = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|CREDENTIAL|PRIVATE", re.IGNORECASE)


def spec_of(step: LambdaStep) -> DomainSpec:
    (spec,) = [spec for spec in DOMAINS.values() if step in spec.lambdas]
    return spec


def _secret_env(handler: str) -> dict[str, str]:
    """``<KEY>_SECRET`` -> secret name, for the secrets the step of ``handler`` lists (default context)."""
    for spec in DOMAINS.values():
        for step in spec.lambdas:
            if step.handler == handler:
                return {
                    s.env_var: spec.secret_name(s.key)
                    for s in spec.secrets
                    if s.key in step.secrets and not s.optional_setting
                }
    return {}


SCHEDULE_START = "functions.common.schedule.handler"


def _functions(s) -> dict[str, dict]:
    """Lambda functions by handler (the steps and the S3 triggers; not the schedules' starters)."""
    functions = s.resources(PIPELINES, "AWS::Lambda::Function").values()
    return {f["Properties"]["Handler"]: f for f in functions if f["Properties"]["Handler"] != SCHEDULE_START}


def _schedule_starts(s) -> dict[str, tuple[str, dict]]:
    """Each domain's ScheduleStart function (logical id, resource) by domain."""
    return {
        f["Properties"]["Environment"]["Variables"]["DOMAIN"]: (lid, f)
        for lid, f in s.resources(PIPELINES, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == SCHEDULE_START
    }


def _statements(s, role_prefix: str) -> list[dict]:
    """Statements of the default policy of the role whose logical id starts with ``role_prefix``."""
    (policy,) = [
        p
        for p in s.resources(PIPELINES, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"][0]["Ref"].startswith(role_prefix)
    ]
    statements: list[dict] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_one_function_per_lambda_step_with_the_spec_settings(synthesized, cdk_context) -> None:
    functions = _functions(synthesized)
    steps = [step for spec in DOMAINS.values() for step in spec.lambdas]
    triggers = {spec.trigger.handler for spec in DOMAINS.values() if spec.trigger}
    assert set(functions) == {step.handler for step in steps} | triggers
    log_groups = synthesized.resources(PIPELINES, "AWS::Logs::LogGroup")
    for step in steps:
        props = functions[step.handler]["Properties"]
        assert props["Runtime"] == "python3.14"
        assert props["MemorySize"] == step.memory_mb
        assert props["Timeout"] == step.timeout_s
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert len(props["Layers"]) == 3 + bool(spec_of(step).requirements)  # managed, common, the domain's own
        log_group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert log_group["Properties"]["RetentionInDays"] == cdk_context["log_retention_days"] == 90


def test_layers_are_the_managed_layers_then_the_common_layer(synthesized) -> None:
    layers = next(iter(_functions(synthesized).values()))["Properties"]["Layers"]
    rendered = [json.dumps(layer) for layer in layers]
    assert rendered[0] == json.dumps({"Fn::FindInMap": ["PandasLayerArns", {"Ref": "AWS::Region"}, "arn"]})
    assert "/aws/service/powertools/python/x86_64/python3.14/3.37.0" in rendered[1]
    assert "FinlakeCommonLayer" in rendered[2]


def test_function_environment_is_the_documented_set_and_has_no_secrets(synthesized) -> None:
    for handler, function in _functions(synthesized).items():
        env = function["Properties"]["Environment"]["Variables"]
        extra = {"STATE_MACHINE_ARN"} if handler.endswith(".trigger") else set()
        secrets = _secret_env(handler)
        assert set(env) == EXPECTED_ENV | extra | set(secrets), handler
        assert {name: env[name] for name in secrets} == secrets  # names such as finlake/bank/nubank
        domain = handler.split(".")[1]
        assert env["POWERTOOLS_SERVICE_NAME"] == f"finlake-{domain}"
        assert env["DOMAIN"] == domain
        assert env["CURATED_DATABASE"] == "finlake_curated"
        assert env["ATHENA_WORKGROUP"] == "finlake"
        for name, value in env.items():
            assert name in secrets or not SECRET_LIKE.search(name), name
            assert not re.search(r"AKIA[0-9A-Z]{16}", json.dumps(value)), name


def test_lambda_code_asset_holds_only_the_functions_package(synthesized) -> None:
    function = next(iter(_functions(synthesized).values()))
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset_dir = synthesized.outdir / f"asset.{asset_hash}"
    assert sorted(p.name for p in asset_dir.iterdir()) == ["functions"]
    assert not list(asset_dir.rglob("__pycache__"))
    assert (asset_dir / "functions" / "__init__.py").exists()


def _zone_actions(statements: list[dict], zone: str) -> set[str]:
    return {a for s in statements if f"finlake-{zone}-" in json.dumps(s["Resource"]) for a in _actions(s)}


def test_fetch_reads_and_puts_raw_reads_curated_and_touches_nothing_else(synthesized) -> None:
    statements = _statements(synthesized, "BndesFetchRole")
    assert {"s3:PutObject", "s3:GetObject*"} <= _zone_actions(statements, "raw")
    assert "s3:PutObject" not in _zone_actions(statements, "curated")
    assert _zone_actions(statements, "refined") == set()
    assert "glue:" not in json.dumps(statements)


def test_no_role_may_delete_raw_objects(synthesized) -> None:
    for policy in synthesized.resources(PIPELINES, "AWS::IAM::Policy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert not any(a.startswith("s3:Delete") for a in _zone_actions(statements, "raw")), policy


def test_catalog_permissions_are_scoped_to_the_two_databases_and_the_domains_tables(synthesized) -> None:
    (statement,) = [s for s in _statements(synthesized, "BndesCatalogRole") if "glue:GetTable" in _actions(s)]
    rendered = [json.dumps(r) for r in statement["Resource"]]
    assert len(rendered) == 4  # catalog, 2 databases, the one table bndes declares (functions/bndes/tables.py)
    assert any(":catalog" in r for r in rendered)
    for database in ("finlake_curated", "finlake_refined"):
        assert any(f":database/{database}" in r for r in rendered)
        assert not any(f":table/{database}/*" in r for r in rendered)
    assert any(":table/finlake_curated/bndes_balance_sheet" in r for r in rendered)
    assert "glue:DeleteDatabase" not in _actions(statement)


def test_each_catalog_role_may_touch_only_its_domains_tables(synthesized) -> None:
    for spec in DOMAINS.values():
        (statement,) = [
            s for s in _statements(synthesized, f"{spec.name.title()}CatalogRole") if "glue:GetTable" in _actions(s)
        ]
        tables = {
            json.dumps(r).split(":table/")[1].rstrip('"]}') for r in statement["Resource"] if ":table/" in json.dumps(r)
        }
        assert tables == {name.replace(".", "/") for name in spec.table_names}, spec.name


def _machines(s) -> dict[str, dict]:
    return {
        m["Properties"]["StateMachineName"]: m
        for m in s.resources(PIPELINES, "AWS::StepFunctions::StateMachine").values()
    }


def test_state_machines_log_everything_and_trace(synthesized, cdk_context) -> None:
    machines = _machines(synthesized)
    assert set(machines) == {f"finlake-{name}" for name in DOMAINS}
    log_groups = synthesized.resources(PIPELINES, "AWS::Logs::LogGroup")
    for name, spec in DOMAINS.items():
        props = machines[f"finlake-{name}"]["Properties"]
        assert props["StateMachineType"] == "STANDARD"
        assert props["TracingConfiguration"] == {"Enabled": True}
        logging = props["LoggingConfiguration"]
        assert logging["Level"] == "ALL"
        assert logging["IncludeExecutionData"] is True
        log_group_id = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        assert log_groups[log_group_id]["Properties"]["RetentionInDays"] == cdk_context["log_retention_days"]
        assert set(props["DefinitionSubstitutions"]) == set(spec.substitution_keys())
        assert props["DefinitionSubstitutions"]["Region"] == {"Ref": "AWS::Region"}
        definition = json.loads(Path(spec.definition_path).read_text())
        assert definition["TimeoutSeconds"] == spec.timeout_min * 60


def test_state_machine_role_invokes_only_its_own_functions(synthesized) -> None:
    statements = _statements(synthesized, "BndesWorkflowRole")
    invoke = [s for s in statements if "lambda:InvokeFunction" in _actions(s)]
    targets = {r["Fn::GetAtt"][0] for s in invoke for r in s["Resource"] if "Fn::GetAtt" in r}
    # logical ids are "<Domain><Step>Function<hash>"
    assert sorted(re.sub(r"[0-9A-F]{8}$", "", t) for t in targets) == sorted(
        f"Bndes{step.step}Function" for step in DOMAINS["bndes"].lambdas
    )
    actions = {a for s in statements for a in _actions(s)}
    assert {"sns:Publish", "sqs:SendMessage"} <= actions
    assert not any(a.startswith("glue:") for a in actions)  # bndes has no Glue job


def _schedules(s) -> dict[str, dict]:
    return {x["Properties"]["Name"]: x for x in s.resources(PIPELINES, "AWS::Scheduler::Schedule").values()}


def test_a_domain_absent_from_the_schedule_settings_is_deployed_unscheduled(variant) -> None:
    """Schedules are opt-in: the variant's context names bndes (off) and not bank, so both schedules
    exist DISABLED (bank's was ENABLED by omission before); a setting naming no deployed domain
    fails the synth, naming it."""
    assert set(VARIANT_CONTEXT["schedules"]) == {"bndes"} and set(VARIANT_DOMAINS) == {"bndes", "bank"}
    schedules = _schedules(variant)
    assert {name: s["Properties"]["State"] for name, s in schedules.items()} == {
        "finlake-bndes": "DISABLED",
        "finlake-bank": "DISABLED",
    }
    with pytest.raises(ValueError, match="schedules names no deployed domain: stocks"):
        build_app(context={"schedules": {"stocks": {"enabled": True}}}, domains=VARIANT_DOMAINS)


def test_schedules_run_in_sao_paulo_time_from_the_spec(synthesized, cdk_context) -> None:
    schedules = _schedules(synthesized)
    starts = _schedule_starts(synthesized)
    assert set(schedules) == {f"finlake-{name}" for name in DOMAINS} and set(starts) == set(DOMAINS)
    for name, spec in DOMAINS.items():
        props = schedules[f"finlake-{name}"]["Properties"]
        assert props["ScheduleExpressionTimezone"] == "America/Sao_Paulo"
        assert props["ScheduleExpression"] == spec.schedule
        enabled = cdk_context["schedules"].get(name, {}).get("enabled", False)  # opt-in: absent is off
        assert props["State"] == ("ENABLED" if enabled else "DISABLED")
        target = props["Target"]
        # Scheduler invokes the domain's ScheduleStart with the time it fired, which names the run
        assert target["Arn"] == {"Fn::GetAtt": [starts[name][0], "Arn"]}
        assert json.loads(target["Input"]) == {
            "domain": name,
            "period": spec.period,
            "scheduled_time": "<aws.scheduler.scheduled-time>",
        }
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
        assert "DeadLetterConfig" in target
    assert DOMAINS["cards"].period == "previous_month"  # the 5th's fallback run is for the month before


def test_schedule_start_may_only_start_its_own_state_machine(synthesized) -> None:
    lid, function = _schedule_starts(synthesized)["bndes"]
    props = function["Properties"]
    env = props["Environment"]["Variables"]
    assert set(env) == {"POWERTOOLS_SERVICE_NAME", "DOMAIN", "STATE_MACHINE_ARN"}
    assert env["STATE_MACHINE_ARN"] == {"Ref": next(iter(_machine_ids(synthesized)))}
    assert len(props["Layers"]) == 2 and "powertools" in json.dumps(props["Layers"][0])
    assert "FinlakeCommonLayer" in json.dumps(props["Layers"][1])  # tzdata for ZoneInfo
    assert props["TracingConfig"] == {"Mode": "Active"}
    statements = _statements(synthesized, "BndesScheduleStartRole")
    (start,) = [s for s in statements if "states:StartExecution" in _actions(s)]
    assert _actions(start) == ["states:StartExecution"]
    assert start["Resource"] == {"Ref": next(iter(_machine_ids(synthesized)))}
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in _actions(s)]
    assert "NotifierFunction" in json.dumps(invoke["Resource"]) and ":*" not in json.dumps(invoke["Resource"])
    others = {a for s in statements if s not in (start, invoke) for a in _actions(s)}
    assert all(a.startswith(("logs:", "xray:")) for a in others)  # its own logs and traces
    (config,) = [
        c["Properties"]
        for c in synthesized.resources(PIPELINES, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": lid}
    ]
    # a start that keeps failing (or is throttled for an hour) goes to the notifier: email, then the DLQ
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == invoke["Resource"]
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 3600)


def test_schedule_role_may_only_invoke_its_schedule_start(synthesized) -> None:
    lid, _ = _schedule_starts(synthesized)["bndes"]
    statements = _statements(synthesized, "BndesScheduleRole")
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in _actions(s)]
    assert _actions(invoke) == ["lambda:InvokeFunction"]
    assert invoke["Resource"] == {"Fn::GetAtt": [lid, "Arn"]}  # the function, unqualified
    other = {a for s in statements if s is not invoke for a in _actions(s)}
    assert all(a.startswith(("sqs:", "kms:")) for a in other)  # the dead-letter queue only
    assert not any("states:" in json.dumps(s) for s in statements)


def _machine_ids(s) -> list[str]:
    return list(s.resources(PIPELINES, "AWS::StepFunctions::StateMachine"))


def test_the_pipelines_have_no_alarms_and_no_dashboard_by_default(synthesized) -> None:
    """Failures reach the notifier by events (test_failure_inventory.py); alarms cost 0.10 USD a metric."""
    assert not synthesized.resources(PIPELINES, "AWS::CloudWatch::Alarm")
    assert not synthesized.resources(PIPELINES, "AWS::CloudWatch::Dashboard")


def test_glue_step_becomes_a_glue_5_job_with_the_security_configuration(variant) -> None:
    (job,) = variant.resources(PIPELINES, "AWS::Glue::Job").values()
    props = job["Properties"]
    assert props["Name"] == "finlake-bndes-indicators"
    assert props["GlueVersion"] == "5.0"
    assert props["Command"]["Name"] == "glueetl"
    assert props["WorkerType"] == "G.2X"
    assert props["NumberOfWorkers"] == 3
    assert props["Timeout"] == 45
    assert "Fn::ImportValue" in props["SecurityConfiguration"]
    args = props["DefaultArguments"]
    assert args["--enable-metrics"] == "true"
    assert props["JobRunQueuingEnabled"] is True
    assert {"--RAW_BUCKET", "--CURATED_BUCKET", "--REFINED_BUCKET", "--CURATED_DATABASE"} <= set(args)
    assert "cdk-hnb659fds-assets" in json.dumps(props["Command"]["ScriptLocation"])
    machine = _machines(variant)["finlake-bndes"]
    assert "IndicatorsJob" in machine["Properties"]["DefinitionSubstitutions"]


def test_state_machine_may_run_only_its_glue_jobs(variant) -> None:
    statements = _statements(variant, "BndesWorkflowRole")
    (glue,) = [s for s in statements if "glue:StartJobRun" in _actions(s)]
    assert _actions(glue) == ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
    (job_id,) = variant.resources(PIPELINES, "AWS::Glue::Job")
    assert f'{{"Ref": "{job_id}"}}' in json.dumps(glue["Resource"])


def _trigger_rules(s) -> dict[str, dict]:
    """The "Object Created" rules by the key prefix they match."""
    rules = [
        r["Properties"]["EventPattern"]
        for r in s.resources(PIPELINES, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == ["Object Created"]
    ]
    return {pattern["detail"]["object"]["key"][0]["prefix"]: pattern for pattern in rules}


def test_one_trigger_rule_per_domain_with_a_trigger(synthesized) -> None:
    assert set(_trigger_rules(synthesized)) == {spec.trigger.prefix for spec in DOMAINS.values() if spec.trigger}


def test_files_landing_in_the_inbox_trigger_the_cards_workflow(synthesized) -> None:
    pattern = _trigger_rules(synthesized)["inbox/cards/"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": "inbox/cards/"}]}
    assert "finlake-raw-" in json.dumps(pattern["detail"]["bucket"])
    trigger = _functions(synthesized)["functions.cards.handlers.trigger"]
    assert "STATE_MACHINE_ARN" in trigger["Properties"]["Environment"]["Variables"]
    statements = _statements(synthesized, "CardsTriggerRole")
    assert any("states:StartExecution" in _actions(s) for s in statements)
    assert not any("s3:PutObject" in _actions(s) for s in statements)
    configs = synthesized.resources(PIPELINES, "AWS::Lambda::EventInvokeConfig")
    assert any("OnFailure" in c["Properties"].get("DestinationConfig", {}) for c in configs.values())
