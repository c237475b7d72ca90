"""The moto adapters of the local runtime, in one place, pinned to moto 5.2.5.

moto executes the Step Functions definition for real, but three things stop it from running
this project's workflows as AWS would:

1. **Lambda** (`LambdaFunction.invoke`): moto runs function code only inside Docker, and no Docker
   engine runs here. The adapter imports the function's handler (its ``Handler`` setting, e.g.
   ``functions.bndes.handlers.fetch``) and calls it in process, with the function's environment
   variables and a Lambda-like context. An exception becomes the payload the Lambda service
   returns for an unhandled error (``errorType``, ``errorMessage``, ``stackTrace``) with the
   ``FunctionError`` header, so Step Functions sees ``Error = errorType`` as in AWS.
2. **Glue** (``arn:aws:states:::glue:startJobRun.sync``): moto's callback wrapper calls
   ``interrupt_all()`` on a callback endpoint that is ``None`` for .sync-only services
   (``'NoneType' object has no attribute 'interrupt_all'``), and moto's Glue backend never runs
   the script. The adapter guards that call and lets the local runtime run the job's script on a
   local SparkSession when the job run starts, recording SUCCEEDED or FAILED with the error.
3. **Fail with ErrorPath** (``"ErrorPath": "$.error.Error"``): when the caught error is a
   ``States.*`` name (e.g. ``States.TaskFailed`` from a Glue job run), moto's Fail state refuses to
   build it as a *custom* error name and the execution dies with a ValueError. AWS re-raises the
   name as is; the adapter lets the Fail state carry it.

Six more only save time or memory, and change nothing finlake reads:

4. **ASL parsing**: moto lexes and parses a definition with ANTLR when the state machine is created
   (to validate it) and again for every execution, about 0.15 s each in Python. The parse tree of a
   definition's text is kept (`_asl_tree`, read-only once built); moto's own preprocessor still
   builds fresh evaluation components from it for every execution: each execution gets its own.
   A definition with syntax errors is parsed again each time and refused as before.
5. **Task clients**: moto builds a new boto3 client for every Task state it runs (Lambda, Glue,
   SNS, SQS), about 40 ms each. One client per region and service is kept, with moto's own settings
   (credentials ``ak``/``sk``, no retries); boto3's clients are thread-safe and route through moto's
   interceptor whenever a mock is active, as any client does.
6. **SNS signing key**: moto makes a 2048-bit RSA key for each subscription (about 40 ms), to sign
   the messages it delivers; one key serves the process, as one certificate signs a region's
   messages on AWS.
7. **botocore's data**: every boto3 or botocore session loads the JSON service models it needs from
   disk (each client of a new session: 40-170 ms), and this process makes many sessions: moto's
   Task clients, each Lambda handler's, awswrangler's, each Glue script's. One data loader per
   data path serves them all (`_data_loader`), so a model is read about once per process (two
   threads asking for the same model at once may both read it). botocore's only changes to data it
   loaded (merging a model's ``sdk-extras``, naming a partition) give the same result however often
   they run, and one session's clients share that data already. boto3 adds its own folder to a
   session's loader each time: the shared loader's search path keeps it once. Models added to a
   data path (``~/.aws/models``) after the process first used it are not seen until it restarts.
8. **S3's URL table**: moto reloads its module ``moto.s3.urls`` (``importlib.reload``: the module run
   again, through the import system's path search) twice for every S3 request it answers, to see a
   change of ``MOTO_S3_CUSTOM_ENDPOINTS``. It is reloaded only when that variable changed
   (`_s3_url_module`). In a py-spy sample of a whole suite run those reloads were 1.8 % of the
   Python samples.
9. **Requests in a reference cycle**: moto answers each call with a werkzeug request
   (`moto.core.request.Request`), and werkzeug stores every request in its own WSGI environ
   (``environ["werkzeug.request"]``, its ``populate_request`` switch, "useful when debugging").
   That cycle keeps the request and its body alive until CPython's cyclic collector runs, which
   a local run asks for rarely (`finlake.local.collect_less_often`): 600 puts of 1 MiB peaked at
   1,418 MB RSS. moto's requests are built without it (nothing in moto reads that key; Flask
   breaks the same cycle at the end of each of its requests), so reference counting frees each
   request when moto has answered it, whoever made the call once `install()` has run (the
   embedded AWS, a handler, a Glue script's boto3). It relies on werkzeug's constructor
   (``populate_request``, pinned with the console's Werkzeug in requirements.txt).

`install()` applies them once; it refuses any other moto version, so an upgrade is a deliberate
change that re-checks these adapters.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import moto

MOTO_VERSION = "5.2.5"

GlueRunner = Callable[[str, dict[str, str]], None]
"""Runs a Glue job locally: (job name, run arguments) -> None, raising on failure."""

_glue_runner: GlueRunner | None = None
_env_lock = threading.RLock()
_installed = False


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str = ""
    log_stream_name: str = ""
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left in the invocation: always 300,000 locally (no deadline is enforced)."""
        return 300_000


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """Set a function's environment variables for the duration of one invocation."""
    with _env_lock:
        saved = {key: os.environ.get(key) for key in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def resolve_handler(handler: str) -> Callable[[Any, Any], Any]:
    """The function a Lambda ``handler`` string (``package.module.function``) names, imported."""
    module_name, _, attr = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]


def invoke_in_process(handler: str, event: Any, env: dict[str, str], context: LocalLambdaContext) -> Any:
    """Call a handler as the Lambda service would; raises what the handler raises."""
    with _environment(env):
        return resolve_handler(handler)(event, context)


def _lambda_invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> bytes:
    event = json.loads(body) if body else {}
    context = LocalLambdaContext(
        function_name=self.function_name,
        memory_limit_in_mb=int(self.memory_size or 128),
        invoked_function_arn=self.function_arn,
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{self.function_name}",
    )
    try:
        result = invoke_in_process(self.handler, event, dict(self.environment_vars or {}), context)
        payload = json.dumps(result, default=str)
    except Exception as exc:
        response_headers["x-amz-function-error"] = "Unhandled"
        payload = json.dumps(
            {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-5:],
            }
        )
    return payload.encode("utf-8")


def _start_job_run(self: Any, *args: Any, **kwargs: Any) -> str:
    """Start a Glue job run as moto's FakeJob.start_job_run does, then run its script locally and record the outcome."""
    run_id: str = _original_start_job_run(self, *args, **kwargs)
    job_run = self.get_job_run(run_id)
    state, message = "SUCCEEDED", None
    if _glue_runner is None:
        state, message = "FAILED", "no local Glue runner is installed"
    else:
        try:
            _glue_runner(self.name, dict(job_run.arguments or {}))
        except Exception as exc:
            state, message = "FAILED", f"{type(exc).__name__}: {exc}"
    job_run._transitions = [(state, state)]
    job_run.status = state
    job_run.error_message = message
    return run_id


def _job_run_as_dict(self: Any) -> dict[str, Any]:
    data: dict[str, Any] = _original_job_run_as_dict(self)
    if getattr(self, "error_message", None):
        data["ErrorMessage"] = self.error_message
    return data


def _guarded_eval_integration_pattern(
    self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: Any, state_credentials: Any
) -> None:
    """The .sync integration pattern of moto's StateTaskServiceCallback._eval_integration_pattern, without a callback.

    Identical to moto 5.2.5 for the .sync pattern, minus the ``callback_endpoint.interrupt_all()``
    call on a ``None`` endpoint. Tasks that have a callback endpoint (waitForTaskToken) keep moto's
    own implementation.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )

    if (
        ResourceCondition.WaitForTaskToken in self._supported_integration_patterns
        or self.resource.condition != ResourceCondition.Sync
    ):
        return _original_eval_integration_pattern(  # type: ignore[no-any-return]
            self, env, resource_runtime_part, normalised_parameters, state_credentials
        )
    task_output = env.stack.pop()
    self.timeout.eval(env=env)
    timeout_seconds = env.stack.pop()
    env.stack.append(task_output)
    sync_resolver = self._build_sync_resolver(
        env=env,
        resource_runtime_part=resource_runtime_part,
        normalised_parameters=normalised_parameters,
        state_credentials=state_credentials,
    )
    outcome = self._eval_sync(
        env=env,
        timeout_seconds=timeout_seconds,
        callback_endpoint=None,
        heartbeat_endpoint=None,
        sync_resolver=sync_resolver,
    )
    if isinstance(outcome, Exception):
        raise outcome
    env.stack.append(outcome)


def _fail_error_name(error_value: str | None) -> Any:
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName

    if error_value and error_value.startswith("States."):

        class _ReraisedStatesError(ErrorName):
            pass

        return _ReraisedStatesError(error_name=error_value)
    return CustomErrorName(error_value)


@functools.lru_cache(maxsize=64)
def _asl_tree(definition: str) -> Any:
    """The ANTLR parse tree of a definition's text, from moto's own ``AmazonStateLanguageParser.parse``.

    Raises moto's ``ASLParserException`` (not cached) on syntax errors.
    """
    return _original_asl_parse(definition)[1]


def _asl_parse(definition: str) -> tuple[Any, Any]:
    """``AmazonStateLanguageParser.parse``: fresh evaluation components from the kept parse tree."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    tree = _asl_tree(definition)
    return Preprocessor().visit(tree), tree


class _TaskClients:
    """Stands for the ``boto3`` module in moto's ``boto_client_for``: one client per region and service."""

    def __init__(self) -> None:
        import boto3

        self._session = boto3.Session()  # its own: boto3's default session is moto's to reset
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, str | None], Any] = {}

    def client(self, service_name: str, region_name: str, **kwargs: Any) -> Any:
        key = (service_name, region_name, kwargs.get("endpoint_url"))
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(service_name, region_name=region_name, **kwargs)
            return self._clients[key]


@functools.cache
def _sns_signing_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _SearchPath(list[str]):
    """A loader's search path that adds a folder once (boto3 appends its own for every session)."""

    def append(self, path: str) -> None:
        with _loaders_lock:
            if path not in self:
                super().append(path)


def _data_loader(search_path_string: str | None = None) -> Any:
    """The ``create_loader`` of botocore's sessions: one loader per data path for the process (item 7)."""
    with _loaders_lock:
        if search_path_string not in _loaders:
            loader = _original_create_loader(search_path_string)
            loader._search_paths = _SearchPath(loader.search_paths)
            _loaders[search_path_string] = loader
        return _loaders[search_path_string]


_loaders: dict[str | None, Any] = {}
_loaders_lock = threading.Lock()


def _s3_url_module(self: Any) -> Any:
    """``S3Backend._url_module``: moto.s3.urls, reloaded only when ``MOTO_S3_CUSTOM_ENDPOINTS`` changed (item 8)."""
    global _s3_urls_endpoints
    import moto.s3.urls as urls

    endpoints = os.environ.get("MOTO_S3_CUSTOM_ENDPOINTS")
    if endpoints != _s3_urls_endpoints:
        importlib.reload(urls)
        _s3_urls_endpoints = endpoints
    return urls


_s3_urls_endpoints: str | None = "(not read yet)"


def _request_init(self: Any, environ: Any, populate_request: bool = True, shallow: bool = False) -> None:
    """``moto.core.request.Request.__init__`` without werkzeug's ``environ["werkzeug.request"]`` (item 9)."""
    _original_request_init(self, environ, populate_request=False, shallow=shallow)


def set_glue_runner(runner: GlueRunner | None) -> None:
    """Set the runner moto's patched ``StartJobRun`` calls for a Glue job (None: no local Glue)."""
    global _glue_runner
    _glue_runner = runner


def install() -> None:
    """Apply the adapters (idempotent)."""
    global _installed, _original_start_job_run, _original_job_run_as_dict
    global _original_eval_integration_pattern, _original_asl_parse, _original_create_loader, _original_request_init
    if _installed:
        return
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"finlake's local runtime adapters are written for moto {MOTO_VERSION}, found {moto.__version__}; "
            "re-check finlake/local/moto_patches.py before upgrading"
        )
    from moto.awslambda.models import LambdaFunction
    from moto.glue.models import FakeJob, FakeJobRun
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback_module,
    )

    LambdaFunction.invoke = _lambda_invoke  # type: ignore[method-assign]
    _original_start_job_run = FakeJob.start_job_run
    FakeJob.start_job_run = _start_job_run  # type: ignore[method-assign]
    _original_job_run_as_dict = FakeJobRun.as_dict
    FakeJobRun.as_dict = _job_run_as_dict  # type: ignore[method-assign]
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail

    state_fail.CustomErrorName = _fail_error_name  # type: ignore[assignment,misc]
    service = callback_module.StateTaskServiceCallback
    _original_eval_integration_pattern = service._eval_integration_pattern
    service._eval_integration_pattern = _guarded_eval_integration_pattern  # type: ignore[method-assign]
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import boto_client

    _original_asl_parse = AmazonStateLanguageParser.parse
    AmazonStateLanguageParser.parse = staticmethod(_asl_parse)  # type: ignore[method-assign]
    boto_client.boto3 = _TaskClients()  # type: ignore[assignment]
    from moto.sns.models import Subscription

    Subscription.private_key = lambda self: _sns_signing_key()  # type: ignore[method-assign,assignment]
    import botocore.session

    _original_create_loader = botocore.session.create_loader
    botocore.session.create_loader = _data_loader
    from moto.s3.models import S3Backend

    S3Backend._url_module = property(_s3_url_module)  # type: ignore[method-assign,assignment]
    from moto.core.request import Request

    _original_request_init = Request.__init__
    Request.__init__ = _request_init  # type: ignore[method-assign]
    _installed = True


_original_start_job_run: Any = None
_original_job_run_as_dict: Any = None
_original_eval_integration_pattern: Any = None
_original_asl_parse: Any = None
_original_create_loader: Any = None
_original_request_init: Any = None
