"""Worst-case durations through an Amazon States Language definition, for the timeout contracts.

Step Functions does not stop a Task at the work's own limit: a Task waits ``TimeoutSeconds`` (or a
year when it is absent), and each retrier may run the Task again after its backoff. What a retry
adds depends on what it retries (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html):

- ``States.ALL``, ``States.Timeout`` or ``States.TaskFailed`` also match a Task that ran to its
  timeout or failed at the end of its work, so each retry may last a whole ``TimeoutSeconds``;
- named service errors (``Lambda.ServiceException``, ``Glue.ConcurrentRunsExceededException``...)
  are raised by the call that starts the work, so their retries add only the backoff.

The backoff of attempt k (0-based) is ``IntervalSeconds * BackoffRate**k``, capped by
``MaxDelaySeconds``; ``JitterStrategy: FULL`` only shortens it. Emulators (moto) enforce none of
this, hence the contract tests over the definitions.
"""

from __future__ import annotations

from typing import Any

WHOLE_ATTEMPT_ERRORS = {"States.ALL", "States.Timeout", "States.TaskFailed"}
NO_TIMEOUT_S = 99_999_999  # a Task without TimeoutSeconds waits this long (the service's default)


def backoff_s(retrier: dict[str, Any]) -> float:
    """Seconds a retrier waits in total before its ``MaxAttempts`` retries (defaults 1 s, 3, 2.0)."""
    interval = retrier.get("IntervalSeconds", 1)
    rate = retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds")
    waits = [interval * rate**k for k in range(retrier.get("MaxAttempts", 3))]
    return sum(min(w, cap) if cap else w for w in waits)


def worst_state_s(state: dict[str, Any]) -> float:
    """The longest a state may take before it moves on (to Next, or to a Catch)."""
    if state["Type"] == "Wait":
        return float(state.get("Seconds", 0))
    if state["Type"] != "Task":
        return 0.0
    timeout = float(state.get("TimeoutSeconds", NO_TIMEOUT_S))
    total = timeout
    for retrier in state.get("Retry", []):
        total += backoff_s(retrier)
        if WHOLE_ATTEMPT_ERRORS & set(retrier["ErrorEquals"]):
            total += retrier.get("MaxAttempts", 3) * timeout
    return total


def successors(state: dict[str, Any]) -> list[str]:
    names = [state["Next"]] if "Next" in state else []
    names += [choice["Next"] for choice in state.get("Choices", [])]
    names += [state["Default"]] if "Default" in state else []
    names += [catch["Next"] for catch in state.get("Catch", [])]
    return names


def longest_path(definition: dict[str, Any]) -> tuple[float, list[str]]:
    """The slowest way from ``StartAt`` to an end (seconds and the states on it); ValueError on a loop."""
    states = definition["States"]
    memo: dict[str, tuple[float, list[str]]] = {}

    def visit(name: str, trail: tuple[str, ...]) -> tuple[float, list[str]]:
        if name in trail:
            raise ValueError(f"loop through {name}: the longest path is unbounded")
        if name not in memo:
            tails = [visit(n, (*trail, name)) for n in successors(states[name])]
            seconds, path = max(tails, default=(0.0, []), key=lambda tail: tail[0])
            memo[name] = (worst_state_s(states[name]) + seconds, [name, *path])
        return memo[name]

    return visit(definition["StartAt"], ())
