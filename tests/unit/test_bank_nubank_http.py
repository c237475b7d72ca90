"""The live Nubank client's retries, against a local HTTP server answering as a struggling Nubank."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pynubank import NuRequestException

from functions.bank import handlers
from functions.bank.nubank_http import RetryingHttpClient


class Nubank:
    """Answers each path with the scripted statuses in turn (then 200 with ``{"ok": path}``) and
    counts the requests."""

    def __init__(self) -> None:
        self.script: dict[str, list[int]] = {}
        self.seen: list[tuple[str, str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        nubank = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                nubank.seen.append((method, self.path, body))
                statuses = nubank.script.get(self.path, [])
                status = statuses.pop(0) if statuses else 200
                payload = json.dumps({"ok": self.path} if status == 200 else {"error": status}).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def nubank() -> Iterator[Nubank]:
    server = Nubank()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_503_then_429_at_login_is_retried_and_the_post_repeated_with_its_body(nubank: Nubank) -> None:
    nubank.script["/api/token"] = [503, 429]
    client = RetryingHttpClient(backoff=0.01)

    answer = client.post(nubank.url + "/api/token", json={"login": "x"})

    assert answer == {"ok": "/api/token"}
    assert nubank.seen == [("POST", "/api/token", '{"login": "x"}')] * 3
    assert client.get_header("User-Agent").startswith("pynubank")  # pynubank's headers are kept


def test_a_get_retried_past_two_5xx_succeeds(nubank: Nubank) -> None:
    nubank.script["/api/feed"] = [500, 502]
    assert RetryingHttpClient(backoff=0.01).get(nubank.url + "/api/feed") == {"ok": "/api/feed"}
    assert len(nubank.seen) == 3


def test_when_retries_run_out_pynubank_sees_the_last_status(nubank: Nubank) -> None:
    nubank.script["/api/token"] = [503] * 10

    with pytest.raises(NuRequestException) as raised:
        RetryingHttpClient(retries=2, backoff=0.01).post(nubank.url + "/api/token", json={})

    assert raised.value.status_code == 503
    assert len(nubank.seen) == 3  # the first try and two retries: no storm


def test_a_401_is_not_retried(nubank: Nubank) -> None:
    nubank.script["/api/token"] = [401]
    with pytest.raises(NuRequestException) as raised:
        RetryingHttpClient(backoff=0.01).post(nubank.url + "/api/token", json={})
    assert raised.value.status_code == 401 and len(nubank.seen) == 1


def test_the_bank_handlers_use_the_retrying_client_for_the_api() -> None:
    assert isinstance(handlers.nubank_client("api"), RetryingHttpClient)
