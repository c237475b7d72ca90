"""Render each domain's Step Functions definition (Amazon States Language) from its spec.

Every domain runs one skeleton, read top to bottom in the console::

    Fetch -> AnythingNew? -(no)-> NothingNew (Succeed)
                          -(yes)-> [NotifyStart] -> <the spec's other steps, in order> -> NotifySuccess
    each Task -(any error)-> <Task>Failed (Pass: $.failed_state) -> NotifyFailure -> SendToDeadLetterQueue -> Fail

The spec supplies only what differs: its ordered ``steps`` (a ``LambdaStep`` is a ``lambda:invoke``
Task whose output is the manifest, a ``GlueStep`` a ``glue:startJobRun.sync`` Task whose run summary
goes to ``$.<step>_run`` and leaves the manifest in place), each Task's ``TimeoutSeconds`` (the
step's ``task_timeout_s``), each state's Comment (the step's ``description``) and its ``Workflow``
(the definition's comments, the start email). The ``${...}`` placeholders are listed in
``stacks/specs.py``; CDK (``DefinitionSubstitutions``) and the embedded AWS fill them.

The rendering is committed under ``statemachines/`` (``make asl``; ``tests/unit/test_asl.py``
checks committed == rendered), so CDK, the embedded AWS and ``finlake cost`` read plain JSON files
and no CDK or Node is needed to run a workflow locally. Stdlib and ``stacks.specs`` only.

Usage: ``python -m stacks.asl`` writes every domain's file; ``--check`` only reports (exit 1)
the files that differ from their rendering. Both name a ``statemachines/*.asl.json`` no spec deploys
(``--check`` exits 1 for it); neither deletes one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from functions.common.contract import NOTIFIER_TIMEOUT_S
from stacks import specs as _specs
from stacks.specs import DOMAINS, LAMBDA_TASK_MARGIN_S, DomainSpec, GlueStep, LambdaStep

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
GLUE_START_JOB_RUN_SYNC = "arn:aws:states:::glue:startJobRun.sync"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
SQS_SEND_MESSAGE = "arn:aws:states:::sqs:sendMessage"

# The three retry policies. Each retries only errors that pass; the work's own failure goes to Catch.
# Lambda: the invoke call's passing service errors (Step Functions Developer Guide, "Handle Lambda service
# exceptions": the four 500s it lists, and TooManyRequestsException when Lambda throttles).
LAMBDA_RETRY: dict[str, Any] = {
    "ErrorEquals": [
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 2,
    "MaxAttempts": 3,
    "BackoffRate": 2,
    "MaxDelaySeconds": 30,
    "JitterStrategy": "FULL",
}
# Glue: StartJobRun's passing errors, under their modeled names and the integration's catch-all
# Glue.AWSGlueException (tests/unit/test_definition_contract.py, GLUE_ERRORS, says why each).
GLUE_RETRY: dict[str, Any] = {
    "ErrorEquals": [
        "Glue.AWSGlueException",
        "Glue.ConcurrentRunsExceededException",
        "Glue.ThrottlingException",
        "Glue.InternalServiceException",
        "Glue.OperationTimeoutException",
    ],
    "IntervalSeconds": 30,
    "MaxAttempts": 4,
    "BackoffRate": 2,
    "MaxDelaySeconds": 300,
    "JitterStrategy": "FULL",
}
# Notifications (SNS, the notifier, SQS): short idempotent-enough calls, any error retried.
NOTIFY_RETRY: dict[str, Any] = {
    "ErrorEquals": ["States.ALL"],
    "IntervalSeconds": 2,
    "MaxAttempts": 3,
    "BackoffRate": 2,
    "JitterStrategy": "FULL",
}
START_EMAIL_COMMENT = "Email that processing started, with what is processed."
NOTIFY_TIMEOUT_S = 30  # an SNS publish (NotifyStart, NotifySuccess) or an SQS send (SendToDeadLetterQueue)
# NotifyFailure invokes the notifier function: its timeout plus the margin of every Lambda Task.
NOTIFIER_TASK_TIMEOUT_S = NOTIFIER_TIMEOUT_S + LAMBDA_TASK_MARGIN_S

# The body of the start and success emails: the manifest's summary, the execution and its console link.
EMAIL_MESSAGE = (
    "States.Format('{}\n\nExecution: {}\nConsole: https://${Region}.console.aws.amazon.com/states/home"
    "?region=${Region}#/v2/executions/details/{}', $.summary, $$.Execution.Name, $$.Execution.Id)"
)


def _catch(marker: str, result_path: str = "$.error") -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": marker}]


def _lambda_task(step: LambdaStep, *, first: bool) -> dict[str, Any]:
    # The first step gets the execution input and the execution's name (the run's id in the lake);
    # the others get the manifest the step before returned.
    payload: dict[str, Any] = (
        {"Payload": {"input.$": "$", "execution_name.$": "$$.Execution.Name"}} if first else {"Payload.$": "$"}
    )
    return {
        "Type": "Task",
        "Comment": step.description,
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": f"${{{step.step}Function}}", **payload},
        "OutputPath": "$.Payload",
        "TimeoutSeconds": step.task_timeout_s,
        "Retry": [LAMBDA_RETRY],
        "Catch": _catch(f"{step.step}Failed"),
    }


def _glue_task(step: GlueStep) -> dict[str, Any]:
    # The job's arguments come from the manifest (job_args.<Step>); its run summary goes beside it.
    return {
        "Type": "Task",
        "Comment": step.description,
        "Resource": GLUE_START_JOB_RUN_SYNC,
        "Parameters": {"JobName": f"${{{step.step}Job}}", "Arguments.$": f"$.job_args.{step.step}"},
        "ResultSelector": {"job_run_id.$": "$.Id", "state.$": "$.JobRunState", "execution_time_s.$": "$.ExecutionTime"},
        "ResultPath": f"$.{step.step.lower()}_run",
        "TimeoutSeconds": step.task_timeout_s,
        "Retry": [GLUE_RETRY],
        "Catch": _catch(f"{step.step}Failed"),
    }


def _email_task(name: str, comment: str, verb: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": comment,
        "Resource": SNS_PUBLISH,
        "Parameters": {
            "TopicArn": "${NotificationTopic}",
            "Subject.$": f"States.Format('[finlake] {{}} {{}} {verb}', $.domain, $.partition_label)",
            "Message.$": EMAIL_MESSAGE,
        },
        "ResultPath": None,
        "TimeoutSeconds": NOTIFY_TIMEOUT_S,
        "Retry": [NOTIFY_RETRY],
        "Catch": _catch(f"{name}Failed"),
    }


def _failure_states(domain: str) -> dict[str, dict[str, Any]]:
    return {
        "NotifyFailure": {
            "Type": "Task",
            "Comment": (
                "Email the failure through the platform's notifier: domain, partition, execution, failed state, "
                "error, a one-paragraph cause (never a stack trace), console link."
            ),
            "Resource": LAMBDA_INVOKE,
            "Parameters": {
                "FunctionName": "${NotifyFunction}",
                "Payload": {
                    # the spec's name, not $$.Execution.Input.domain: an input without "domain" (the
                    # console's {"Comment": ...}) would make that path a States.Runtime error no Catch takes
                    "domain": domain,
                    "execution_name.$": "$$.Execution.Name",
                    "execution_arn.$": "$$.Execution.Id",
                    "failed_state.$": "$.failed_state",
                    "error.$": "$.error",
                    "state_input.$": "$",
                },
            },
            "ResultPath": None,
            "TimeoutSeconds": NOTIFIER_TASK_TIMEOUT_S,
            "Retry": [NOTIFY_RETRY],
            "Catch": _catch("SendToDeadLetterQueue", "$.notify_error"),
            "Next": "SendToDeadLetterQueue",
        },
        "SendToDeadLetterQueue": {
            "Type": "Task",
            "Comment": "Keep the original execution input so the run can be redriven.",
            "Resource": SQS_SEND_MESSAGE,
            "Parameters": {
                "QueueUrl": "${DeadLetterQueue}",
                "MessageBody": {
                    "execution_name.$": "$$.Execution.Name",
                    "execution_arn.$": "$$.Execution.Id",
                    "state_machine_arn.$": "$$.StateMachine.Id",
                    "failed_state.$": "$.failed_state",
                    "error.$": "$.error.Error",
                    "cause.$": "$.error.Cause",
                    "input.$": "$$.Execution.Input",
                },
            },
            "ResultPath": None,
            "TimeoutSeconds": NOTIFY_TIMEOUT_S,
            "Retry": [NOTIFY_RETRY],
            "Catch": _catch("Fail", "$.dlq_error"),
            "Next": "Fail",
        },
        "Fail": {
            "Type": "Fail",
            "Comment": "The run failed; see NotifyFailure.",
            "ErrorPath": "$.error.Error",
            "CausePath": "$.error.Cause",
        },
    }


def definition(spec: DomainSpec) -> dict[str, Any]:
    """The state machine of ``spec`` as a JSON-ready dict (states in reading order).

    Parameters
    ----------
    spec
        The domain. Its first step is Fetch: a ``LambdaStep`` that takes the execution input and
        returns a manifest with ``new_data`` (bool), ``domain``, ``partition_label`` and ``summary``.

    Returns
    -------
    dict
        The Amazon States Language definition with ``${...}`` placeholders (``spec.substitution_keys()``).

    Raises
    ------
    ValueError
        When the spec has no steps, its first step is not a Lambda step, or two steps share a name.
    """
    steps = spec.steps
    if not steps or not isinstance(steps[0], LambdaStep):
        raise ValueError(f"{spec.name}: the first step must be a LambdaStep (Fetch: it decides AnythingNew?)")
    names = [s.step for s in steps]
    if len(set(names)) != len(names) or {"NotifyStart", "NotifySuccess", "NotifyFailure"} & set(names):
        raise ValueError(f"{spec.name}: step names must be unique and not a notification state's: {names}")
    flow = spec.workflow
    fetch, rest = steps[0], steps[1:]

    # the main path: what runs after AnythingNew? says yes, in order, then the success email
    main: dict[str, dict[str, Any]] = {}
    if flow.notify_start:
        main["NotifyStart"] = _email_task("NotifyStart", START_EMAIL_COMMENT, "started")
    for step in rest:
        main[step.step] = _lambda_task(step, first=False) if isinstance(step, LambdaStep) else _glue_task(step)
    main["NotifySuccess"] = _email_task("NotifySuccess", flow.success_email, "succeeded")
    order = list(main)
    for name, after in itertools.pairwise(order):
        main[name]["Next"] = after
    main["NotifySuccess"]["End"] = True

    first = _lambda_task(fetch, first=True)
    first["Next"] = "AnythingNew?"
    states: dict[str, dict[str, Any]] = {
        fetch.step: first,
        "AnythingNew?": {
            "Type": "Choice",
            "Comment": flow.nothing_new,
            "Choices": [{"Variable": "$.new_data", "BooleanEquals": True, "Next": order[0]}],
            "Default": "NothingNew",
        },
        "NothingNew": {"Type": "Succeed", "Comment": flow.nothing_to_do},
        **main,
    }
    for task in [fetch.step, *order]:
        states[f"{task}Failed"] = {
            "Type": "Pass",
            "Comment": f"Record that {task} failed.",
            "Result": task,
            "ResultPath": "$.failed_state",
            "Next": "NotifyFailure",
        }
    states.update(_failure_states(spec.name))
    return {
        "Comment": f"finlake {spec.name}: {flow.comment or spec.description}",
        "StartAt": fetch.step,
        "TimeoutSeconds": spec.timeout_min * 60,
        "States": states,
    }


def render(spec: DomainSpec) -> str:
    """The text of ``spec``'s definition file: 2-space JSON, keys in reading order, a final newline."""
    return json.dumps(definition(spec), indent=2, ensure_ascii=False) + "\n"


def generated(specs: Iterable[DomainSpec] = DOMAINS.values()) -> list[DomainSpec]:
    """The specs whose definition is rendered (not a hand-written ``definition_file``)."""
    return [spec for spec in specs if not spec.definition_file]


def write(specs: Iterable[DomainSpec] = DOMAINS.values(), *, check: bool = False) -> list[Path]:
    """Write each generated spec's definition to ``spec.definition_path``.

    Returns the paths whose committed text differed from the rendering (with ``check``, they are
    only reported, not written).
    """
    changed = []
    for spec in generated(specs):
        text = render(spec)
        path = spec.definition_path
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            changed.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    return changed


def orphans(specs: Iterable[DomainSpec] = DOMAINS.values()) -> list[Path]:
    """The ``statemachines/*.asl.json`` files no spec deploys (a domain renamed or removed), sorted."""
    deployed = {spec.definition_path for spec in specs}
    return sorted(path for path in _specs.STATEMACHINES_DIR.glob("*.asl.json") if path not in deployed)


def main(argv: list[str] | None = None) -> int:
    """Render (or, with ``--check``, compare) every generated definition; the ``python -m stacks.asl`` entry point.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 1 when ``--check`` found a committed definition that differs from its rendering or a
        ``statemachines/*.asl.json`` no spec of ``DOMAINS`` deploys (reported, never deleted), else 0.
    """
    parser = argparse.ArgumentParser(prog="python -m stacks.asl", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a committed definition differs or has no spec"
    )
    args = parser.parse_args(argv)
    changed = write(check=args.check)
    for path in changed:
        print(f"{'differs' if args.check else 'wrote'} {_shown(path)}")
    stale = orphans()
    for path in stale:
        print(f"{_shown(path)}: no spec in DOMAINS renders it (a renamed or removed domain?): delete it")
    return 1 if args.check and (changed or stale) else 0


def _shown(path: Path) -> str:
    return str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)


if __name__ == "__main__":
    sys.exit(main())
