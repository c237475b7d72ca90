"""Local redrive: the workspace's dead-letter queue, rerun on the embedded AWS.

A failed local run's ``SendToDeadLetterQueue`` state puts its message on the embedded AWS's queue;
the session writes the queue to ``dead-letters.json`` as it ends and puts it back on the queue
when the next one starts (`finlake.local.runtime.EmbeddedAws`). `apply` hands that queue to
`finlake.ops.redrive.apply`, so the rules are the deployed ones: the failed runs are grouped by
base name, rerun one at a time, and a run's messages are deleted only after its rerun SUCCEEDED
(else released, and the rerun's own failure adds its own message).

How a run is rerun differs: an earlier session's executions are not in this session's Step
Functions, so RedriveExecution has nothing to continue. Every run is restarted from its stored
input under the first free ``<original>-r<N>`` (names taken by the workspace's run records count),
through `finlake.local.runner.run_request`, which prints, records and emails it as `finlake run`
does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from finlake.local.runner import Echo, run_request
from finlake.local.runtime import EmbeddedAws
from finlake.local.sources import local_function_env
from finlake.local.workspace import Workspace
from finlake.ops import redrive as dlq
from finlake.ops.executions import Execution, execution_arn, next_attempt
from stacks.specs import DOMAINS

LOCAL_RESTART = "local runs restart from the stored input (this session's Step Functions has no earlier execution)"


def failed_runs(ws: Workspace, domain: str | None = None, base: str | None = None) -> list[dlq.FailedRun]:
    """The failed runs waiting in ``ws``'s dead-letter queue, oldest first.

    Of ``domain``, or only the run ``base`` and its reruns; read from the workspace without starting the embedded AWS.
    """
    letters = [
        dlq.DeadLetter(
            message_id=str(index), receipt_handle="", sent=datetime.fromisoformat(item["sent"]), body=item["body"]
        )
        for index, item in enumerate(ws.dead_letters())
    ]
    return dlq.group(letters, domain, base)


def apply(
    ws: Workspace,
    domain: str | None = None,
    *,
    echo: Echo = print,
    debug: bool = False,
    on_start: Callable[[dlq.Rerun], None] | None = None,
    base: str | None = None,
) -> list[dlq.Rerun]:
    """Rerun every failed run of ``ws``'s queue with `finlake.ops.redrive.apply`'s rules.

    Only ``domain``'s runs; only ``base`` and its reruns when given, as the console's Redrive button does. Returns one
    `finlake.ops.redrive.Rerun` per failed run (empty when none waits).
    """
    waiting = failed_runs(ws, domain, base)
    if not waiting:
        return []
    specs = [DOMAINS[name] for name in sorted({run.latest.domain for run in waiting} & set(DOMAINS))]
    with EmbeddedAws(ws, function_env=local_function_env(ws, specs)) as aws:
        taken = {record["name"] for record in ws.runs()}

        def rerun(run: dlq.FailedRun) -> dlq.Rerun:
            result = dlq.Rerun(run, "restart", LOCAL_RESTART)
            if run.latest.domain not in DOMAINS:
                result.error = f"no state machine for {run.latest.domain!r}"
                return result
            spec = DOMAINS[run.latest.domain]
            state_machine = aws.deploy(spec)
            name = next_attempt(taken, run.base)
            taken.add(name)
            if on_start:
                on_start(result)
            ran = run_request(aws, ws, spec, run.first.input, name, echo=echo, debug=debug)
            result.execution = Execution(
                name=name,
                arn=execution_arn(state_machine, name),
                status=ran.status,
                started=ran.started,
                stopped=ran.stopped,
                output=ran.output,
                error=ran.error,
                cause=ran.cause,
                states=[item["state"] for item in ran.states],
            )
            return result

        sfn: Any = aws.client("stepfunctions")
        return dlq.apply(sfn, aws.client("sqs"), aws.dlq_url, domain=domain, rerun=rerun, wait_s=0, base=base)
