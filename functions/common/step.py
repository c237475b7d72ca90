"""The one runtime every workflow step's Lambda handler runs in.

A domain's handlers module is one line per step::

    fetch = step(pipeline.fetch, ckan=lambda: CkanClient(default_http(pipeline.DOMAIN)))
    validate = step(pipeline.validate)
    catalog = step(pipeline.catalog, glue=glue_client, record_run=True)

`step` wraps the step function ``fn(request_or_manifest, *, lake, **services) -> Manifest`` into a
Lambda handler ``(event, context) -> dict`` that, per invocation:

- reads the typed input from the event: a `RunRequest` for Fetch (the event is
  ``{"input": <execution input>, "execution_name": <name>}``, the Payload of every definition's
  Fetch state), else the previous step's `Manifest` (the event is the manifest dict);
- builds the lake (`Lake.from_env`) and each service from its zero-argument factory (the
  function's environment is read at invocation, not at import);
- logs with Powertools Logger (Lambda context, JSON, the execution name as correlation id:
  ``execution_name`` for Fetch, the manifest's ``run_id`` after it), traces with Tracer, and with
  ``record_run`` records the run's metrics (`functions.common.telemetry`) and flushes them (EMF);
- logs ``step done`` with the manifest's counts (never data) and returns ``manifest.to_dict()``.

The typed-input part is a Powertools ``lambda_handler_decorator`` middleware (`typed_step`); the
Logger, Tracer and Metrics decorators are stacked around it as the Powertools examples do
(``examples/middleware_factory/src/combining_powertools_utilities_function.py``). An exception
escapes unchanged: its class name is the error name the state machines' Catch and the failure
email report (``NubankLoginRejected``, ``RowAccountingError``...).

The service name is ``POWERTOOLS_SERVICE_NAME`` (``finlake-<domain>``, set by the stack); the metric
namespace is ``finlake`` (also ``POWERTOOLS_METRICS_NAMESPACE`` in the stack).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.contract import METRICS_NAMESPACE
from functions.common.lake import Lake, client
from functions.common.manifest import Manifest
from functions.common.naming import RunRequest
from functions.common.telemetry import record_run as record_run_metrics

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
StepInput = RunRequest | Manifest


def glue_client() -> Any:
    """The process's boto3 Glue client (the Catalog steps' service; `functions.common.lake.client`)."""
    return client("glue")


def input_type(fn: Callable[..., Manifest]) -> type[RunRequest] | type[Manifest]:
    """What ``fn`` takes: its first parameter's annotation, `RunRequest` (Fetch) or `Manifest`.

    Raises
    ------
    TypeError
        The first parameter is annotated with neither.
    """
    hints = typing.get_type_hints(fn)
    first = next(iter(hints), None)
    annotation = hints.get(first) if first and first != "return" else None
    if annotation is RunRequest or annotation is Manifest:
        return annotation
    raise TypeError(f"{fn.__qualname__}: a step takes a RunRequest or a Manifest first, not {annotation!r}")


def parse_input(event: dict[str, Any], takes: type[RunRequest] | type[Manifest]) -> StepInput:
    """The step's typed input from its event (see the module docstring for the two shapes).

    Raises
    ------
    functions.common.naming.RunRequestError
        Fetch's execution input is not a run request.
    """
    if takes is RunRequest:
        return RunRequest.from_event(event)
    return Manifest.from_dict(event)


@lambda_handler_decorator
def typed_step(
    handler: Callable[[StepInput, LambdaContext], Manifest],
    event: dict[str, Any],
    context: LambdaContext,
    takes: type[RunRequest] | type[Manifest] = Manifest,
    record_run: bool = False,
) -> dict[str, Any]:
    """Middleware: event -> typed input -> ``handler`` -> manifest dict, logging ``step done``."""
    manifest = handler(parse_input(event, takes), context)
    if record_run:
        record_run_metrics(metrics, manifest)
    logger.info("step done", extra=manifest.log_fields())
    return manifest.to_dict()


def step(fn: Callable[..., Manifest], /, *, record_run: bool = False, **services: Callable[[], Any]) -> LambdaHandler:
    """The Lambda handler of one workflow step.

    Parameters
    ----------
    fn
        ``fn(request_or_manifest, *, lake, **services) -> Manifest``: the step (pure of Lambda).
    record_run
        Record the run's counts as metrics and flush them (the Catalog step: once per run).
    services
        Keyword arguments of ``fn`` besides ``lake``, each as a factory called per invocation.

    Returns
    -------
    LambdaHandler
        ``handler(event, context) -> dict``, the manifest as the state's output.
    """
    takes = input_type(fn)

    def run(step_input: StepInput, context: LambdaContext) -> Manifest:
        return fn(step_input, lake=Lake.from_env(), **{name: make() for name, make in services.items()})

    run.__name__ = run.__qualname__ = getattr(fn, "__name__", "step")
    handler = typed_step(run, takes=takes, record_run=record_run)
    if record_run:
        handler = metrics.log_metrics(handler)
    handler = tracer.capture_lambda_handler(handler)
    correlation = "execution_name" if takes is RunRequest else "run_id"
    handler = logger.inject_lambda_context(handler, correlation_id_path=correlation)
    return typing.cast(LambdaHandler, handler)
