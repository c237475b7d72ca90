"""Fault injection for the reliability suite: a local HTTP source with scripted failures, S3 and
Glue errors at the boundaries the handlers use, and helpers to compare lakes and redrive runs."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.exceptions import ClientError

from finlake.local.runtime import BUCKETS, EmbeddedAws, RunResult
from finlake.local.workspace import Workspace
from functions.common.http import Http, HttpResponse, Urllib3Http
from stacks.specs import DomainSpec

LAKE_BUCKETS = (BUCKETS["CURATED_BUCKET"], BUCKETS["REFINED_BUCKET"])


# -- a real HTTP source on 127.0.0.1 ------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class SourceServer:
    """An ``http.server`` on 127.0.0.1 that answers ``GET /<host>/<path>`` with what ``backend``
    answers for ``https://<host>/<path>``, unless a scripted fault matches the URL first.

    ``fail(match, *answers)`` queues answers for the next requests whose original URL contains
    ``match``; ``down(match, answer)`` answers every such request so, for good."""

    def __init__(self, backend: Http) -> None:
        self.backend = backend
        self.queued: list[tuple[str, Answer]] = []
        self.sticky: list[tuple[str, Answer]] = []
        self.hits: list[tuple[str, int]] = []  # (original URL, status answered)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> SourceServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, match: str, *answers: Answer) -> None:
        self.queued += [(match, a) for a in answers]

    def down(self, match: str, answer: Answer) -> None:
        self.sticky.append((match, answer))

    def count(self, match: str, status: int | None = None) -> int:
        return sum(1 for url, s in self.hits if match in url and (status is None or s == status))

    def answer(self, url: str) -> Answer:
        with self._lock:
            for index, (match, answer) in enumerate(self.queued):
                if match in url:
                    del self.queued[index]
                    return answer
            for match, answer in self.sticky:
                if match in url:
                    return answer
        response = self.backend.get(url, timeout=30)
        return Answer(response.status, response.body, response.headers)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = "https://" + self.path.removeprefix("/")
                answer = server.answer(url)
                with server._lock:
                    server.hits.append((url, answer.status))
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


class LocalSourceHttp:
    """The real `Urllib3Http` (retries, backoff, Retry-After), pointed at a `SourceServer`: the
    fetchers' constant ``https://`` URLs are rewritten to ``http://127.0.0.1:<port>/<host>/...``."""

    def __init__(self, server: SourceServer, *, retries: int = 3, backoff: float = 0.01) -> None:
        self.server = server
        self.http = Urllib3Http(retries=retries, backoff=backoff, connect_timeout=2.0)

    def get(self, url: str, *, timeout: float) -> HttpResponse:
        return self.http.get(f"{self.server.base_url}/{url.split('://', 1)[1]}", timeout=min(timeout, 10.0))


# -- faults at the AWS boundaries ----------------------------------------------------------------------


def client_error(code: str, operation: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message or code}}, operation)


ACCESS_DENIED = ("AccessDenied", "Access Denied")
KMS_DISABLED = ("KMS.DisabledException", "arn:aws:kms:us-east-1:123456789012:key/finlake is disabled.")


class Fault:
    """Replaces a method with one that raises ``error`` for matching calls (``times`` times, or
    every time when ``times`` is None) after letting the first ``skip`` matching calls through, and
    counts how often it raised."""

    def __init__(
        self,
        original: Callable[..., Any],
        error: Callable[[], Exception],
        *,
        when: Callable[..., bool] = lambda *a, **k: True,
        times: int | None = None,
        skip: int = 0,
    ) -> None:
        self.original, self.error, self.when, self.times, self.skip = original, error, when, times, skip
        self.raised = 0
        self.matched = 0

    def __get__(self, obj: Any, objtype: Any = None) -> Any:  # as a method: bind the instance
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.when(*args, **kwargs):
            self.matched += 1
            if self.matched > self.skip and (self.times is None or self.raised < self.times):
                self.raised += 1
                raise self.error()
        return self.original(*args, **kwargs)


# -- runs and the lake ---------------------------------------------------------------------------------


def start(aws: EmbeddedAws, spec: DomainSpec, request: dict[str, Any], name: str) -> str:
    """Start an execution without waiting; returns its ARN."""
    sfn = aws.client("stepfunctions")
    return str(
        sfn.start_execution(stateMachineArn=aws.deploy(spec), name=name, input=json.dumps(request))["executionArn"]
    )


def redrive(aws: EmbeddedAws, spec: DomainSpec, suffix: str = "-redrive") -> tuple[dict[str, Any], RunResult]:
    """Start a new execution from the (only) dead-letter message's stored input, as an operator would."""
    [message] = aws.dead_letters()
    return message, aws.run(spec, message["input"], message["execution_name"][: 80 - len(suffix)] + suffix)


def task_attempts(aws: EmbeddedAws, spec: DomainSpec, name: str, state: str) -> int:
    """How many times a Task state scheduled its work (a retry would schedule it again)."""
    arn = aws.deploy(spec).replace(":stateMachine:", ":execution:") + f":{name}"
    events = aws._history(arn)
    scheduled = 0
    current = None
    for event in events:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] in ("TaskScheduled", "LambdaFunctionScheduled") and current == state:
            scheduled += 1
    return scheduled


def states(result: RunResult) -> list[str]:
    return [s["state"] for s in result.states]


def lake_bytes(ws: Workspace, *, skip: tuple[str, ...] = ("_runs/",)) -> dict[str, bytes]:
    """Every curated and refined object by bucket/key (run records aside)."""
    return {
        f"{bucket}/{key}": path.read_bytes()
        for bucket, key, path in ws.iter_objects()
        if bucket in LAKE_BUCKETS and not key.startswith(skip)
    }


def raw_bytes(ws: Workspace) -> dict[str, bytes]:
    return {key: path.read_bytes() for bucket, key, path in ws.iter_objects() if bucket == BUCKETS["RAW_BUCKET"]}


def catalog_partitions(ws: Workspace) -> dict[str, list[list[str]]]:
    """Every registered table -> its partition values, sorted (what a query can see)."""
    return {
        f"{database}.{table}": sorted(p["Values"] for p in entry["partitions"])
        for database, tables in ws.read_json("catalog.json", {}).items()
        for table, entry in tables.items()
    }


@contextmanager
def session(ws: Workspace, **kwargs: Any) -> Iterator[EmbeddedAws]:
    with EmbeddedAws(ws, **kwargs) as aws:
        yield aws
