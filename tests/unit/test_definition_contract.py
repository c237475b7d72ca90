"""Every domain's state machine follows the same skeleton, so no domain can drift from it."""

from __future__ import annotations

import json
import re

import pytest

from stacks.specs import DOMAINS, DomainSpec
from tests.asl import longest_path

MAIN_PATH = ["Fetch", "AnythingNew?", "Validate", "Transform", "Catalog", "NotifySuccess"]
EXTRA_STEPS = {"NotifyStart", "Publish"}  # bank: the start email, the optional Google Sheets sink
# Step Functions Developer Guide, "Handle Lambda service exceptions" (the invoke call's 500s and throttling).
LAMBDA_ERRORS = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
# What the optimized Glue integration may report when StartJobRun itself fails for a passing reason.
# Service errors reach a Task as "<Service>.<Exception>" (Step Functions, "Error handling"); the
# optimized integrations, built on the AWS SDK for Java, also report a Glue error that has no modeled
# exception class as "Glue.AWSGlueException" (its cause carries the Glue error code). StartJobRun's
# passing errors (Glue API reference): ConcurrentRunsExceededException (without job run queuing, or
# past the account quota), InternalServiceException, OperationTimeoutException, and throttling.
# Which of the two names a given failure carries cannot be checked offline: both are retried.
GLUE_ERRORS = {
    "Glue.AWSGlueException",
    "Glue.ConcurrentRunsExceededException",
    "Glue.ThrottlingException",
    "Glue.InternalServiceException",
    "Glue.OperationTimeoutException",
}
NOTIFY_PAYLOAD = {  # plus "domain": the spec's name, a literal (an input may lack "domain")
    "execution_name.$": "$$.Execution.Name",
    "execution_arn.$": "$$.Execution.Id",
    "failed_state.$": "$.failed_state",
    "error.$": "$.error",
    "state_input.$": "$",  # the manifest (its partition_label) or, when Fetch failed, the request
}

SPECS = pytest.mark.parametrize("spec", DOMAINS.values(), ids=list(DOMAINS))


def load(spec: DomainSpec) -> dict:
    return json.loads(spec.definition_path.read_text())


def tasks(definition: dict) -> dict[str, dict]:
    return {name: s for name, s in definition["States"].items() if s["Type"] == "Task"}


def follow_main_path(definition: dict) -> list[str]:
    states, name, path = definition["States"], definition["StartAt"], []
    while name:
        path.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            [choice] = state["Choices"]
            name = choice["Next"]
        else:
            name = state.get("Next")
    return path


@SPECS
def test_main_path_reads_fetch_to_notify_success(spec: DomainSpec):
    definition = load(spec)
    extra = [s for s in follow_main_path(definition) if s not in MAIN_PATH]
    main = [s for s in follow_main_path(definition) if s in MAIN_PATH]
    assert main == MAIN_PATH, f"{spec.name}: main path {main}"
    assert all(s.startswith(("Validate", "Transform", "Catalog")) or s in EXTRA_STEPS for s in extra), extra


@SPECS
def test_nothing_new_ends_successfully(spec: DomainSpec):
    states = load(spec)["States"]
    choice = states["AnythingNew?"]
    assert choice["Type"] == "Choice"
    assert states[choice["Default"]]["Type"] == "Succeed"


@SPECS
def test_every_task_has_timeout_retry_with_full_jitter_and_catch(spec: DomainSpec):
    definition = load(spec)
    for name, task in tasks(definition).items():
        assert task["TimeoutSeconds"] > 0, name
        assert task["Retry"], name
        assert all(r["JitterStrategy"] == "FULL" and r["BackoffRate"] >= 2 for r in task["Retry"]), name
        assert [c["ErrorEquals"] for c in task["Catch"]] == [["States.ALL"]], name
        resource = task["Resource"]
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        if resource.startswith("arn:aws:states:::lambda:invoke"):
            assert retried >= LAMBDA_ERRORS or "States.ALL" in retried, name
        if resource.startswith("arn:aws:states:::glue:startJobRun"):
            assert resource.endswith(".sync"), name
            assert retried >= GLUE_ERRORS, name
            assert task["Parameters"]["Arguments.$"] == f"$.job_args.{name}", name
            assert task["ResultPath"] == f"$.{name.lower()}_run", name  # the manifest passes through


@SPECS
def test_failures_go_through_notify_failure_and_the_dead_letter_queue_to_fail(spec: DomainSpec):
    states = load(spec)["States"]
    for name, task in tasks({"States": states}).items():
        if name in {"NotifyFailure", "SendToDeadLetterQueue"}:
            continue
        marker = states[task["Catch"][0]["Next"]]
        assert marker["Type"] == "Pass" and marker["Result"] == name and marker["ResultPath"] == "$.failed_state"
        assert marker["Next"] == "NotifyFailure"
    notify = states["NotifyFailure"]
    # The platform's notifier writes the email (functions/notifier/notify.py, tests/unit/test_notify.py).
    assert notify["Resource"] == "arn:aws:states:::lambda:invoke"
    assert notify["Parameters"]["FunctionName"] == "${NotifyFunction}"
    assert notify["Parameters"]["Payload"] == {"domain": spec.name, **NOTIFY_PAYLOAD}
    assert notify["ResultPath"] is None  # the dead-letter step still sees $.error and $.failed_state
    assert [r["ErrorEquals"] for r in notify["Retry"]] == [["States.ALL"]]
    assert notify["Next"] == notify["Catch"][0]["Next"] == "SendToDeadLetterQueue"
    dlq = states["SendToDeadLetterQueue"]
    assert dlq["Resource"] == "arn:aws:states:::sqs:sendMessage"
    body = dlq["Parameters"]["MessageBody"]
    assert body["input.$"] == "$$.Execution.Input"
    assert (body["error.$"], body["cause.$"]) == ("$.error.Error", "$.error.Cause")  # raw, for the operator
    assert states[dlq["Next"]]["Type"] == "Fail"


@SPECS
def test_substitutions_match_the_spec(spec: DomainSpec):
    text = spec.definition_path.read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used == set(spec.substitution_keys())
    for task in tasks(load(spec)).values():
        target = task["Parameters"].get("FunctionName") or task["Parameters"].get("JobName")
        if target:
            assert re.fullmatch(r"\$\{\w+(Function|Job)\}", target)


@SPECS
def test_state_machine_timeout_matches_the_spec(spec: DomainSpec):
    assert load(spec)["TimeoutSeconds"] == spec.timeout_min * 60


@SPECS
def test_each_step_waits_what_the_spec_says_its_work_may_take(spec: DomainSpec):
    """The Task timeouts are the spec's (LambdaStep/GlueStep.task_timeout_s), not copies that drift:
    a Lambda step waits the function's timeout plus a margin, a Glue step its job's timeout for each
    run it may queue behind and for itself, plus a margin. Emulators do not enforce TimeoutSeconds, so
    a short one only shows on AWS, as a failed run while the function goes on writing the lake."""
    states = load(spec)["States"]
    for step in (*spec.lambdas, *spec.glue_jobs):
        assert states[step.step]["TimeoutSeconds"] == step.task_timeout_s, f"{spec.name} {step.step}"


@SPECS
def test_the_run_may_last_longer_than_its_slowest_path(spec: DomainSpec):
    """The state machine's own timeout is above the worst case of its slowest path (every Task at its
    timeout, every retry taken; tests/asl.py), else a slow but healthy run ends TIMED_OUT without
    the failure email and dead-letter message its NotifyFailure path would send."""
    seconds, path = longest_path(load(spec))
    assert load(spec)["TimeoutSeconds"] > seconds, f"{spec.name}: {seconds:.0f} s through {' > '.join(path)}"


@SPECS
def test_steps_pass_the_manifest_not_data(spec: DomainSpec):
    for name, task in tasks(load(spec)).items():
        if "lambda:invoke" in task["Resource"] and name != "NotifyFailure":
            assert task["OutputPath"] == "$.Payload", name
