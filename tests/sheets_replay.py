"""Replay of recorded HTTP interactions for `requests`, used by the Google Sheets sink tests.

A cassette (tests/data/sheets/*.json) is an ordered list of interactions::

    {"request": {"method": "GET", "url": "<regex>", "body_contains": ["...", ...]},
     "response": {"status": 200, "headers": {...}, "body": {...} or "text"}}

``url`` is a regular expression matched against the whole request URL, query string included
(``re.fullmatch``). ``body_contains`` (optional) lists substrings the request body must hold.
Interactions are served strictly in order; a request that is not the next expected one, or one
past the end, is recorded as unexpected and fails with AssertionError. `ReplayAdapter.check`
also fails when some interactions were never requested, so a fixture calls it at teardown (the
failure is recorded even where a library swallows the exception).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

CASSETTES = Path(__file__).resolve().parent / "data" / "sheets"


@dataclass
class Seen:
    """One request the adapter received."""

    method: str
    url: str
    headers: CaseInsensitiveDict[str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def load_cassette(name: str) -> list[dict[str, Any]]:
    return json.loads((CASSETTES / name).read_text())


class ReplayAdapter(BaseAdapter):
    def __init__(self, interactions: list[dict[str, Any]]) -> None:
        super().__init__()
        self.pending = list(interactions)
        self.seen: list[Seen] = []
        self.unexpected: list[str] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, **kwargs: Any):  # type: ignore[override]
        body = request.body or b""
        seen = Seen(
            method=request.method or "",
            url=request.url or "",
            headers=CaseInsensitiveDict(request.headers),
            body=body.decode() if isinstance(body, bytes) else body,
        )
        self.seen.append(seen)
        problem = self._mismatch(seen)
        if problem:
            self.unexpected.append(problem)
            raise AssertionError(problem)
        return self._response(self.pending.pop(0)["response"], request)

    def _mismatch(self, seen: Seen) -> str | None:
        if not self.pending:
            return f"unexpected request (cassette exhausted): {seen.method} {seen.url}"
        expected = self.pending[0]["request"]
        if seen.method != expected["method"] or not re.fullmatch(expected["url"], seen.url):
            return f"unexpected request: {seen.method} {seen.url}; expected {expected['method']} {expected['url']}"
        missing = [part for part in expected.get("body_contains", []) if part not in seen.body]
        if missing:
            return f"request body of {seen.method} {seen.url} lacks {missing}"
        return None

    @staticmethod
    def _response(recorded: dict[str, Any], request: requests.PreparedRequest) -> requests.Response:
        response = requests.Response()
        response.status_code = recorded["status"]
        response.headers = CaseInsensitiveDict(recorded.get("headers", {}))
        body = recorded.get("body", "")
        response._content = (body if isinstance(body, str) else json.dumps(body)).encode()
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        response.reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(
            response.status_code, ""
        )
        return response

    def check(self) -> None:
        """Fail on any unexpected request and on interactions that were never requested."""
        assert not self.unexpected, self.unexpected
        assert not self.pending, f"{len(self.pending)} recorded interactions never requested: " + ", ".join(
            f"{i['request']['method']} {i['request']['url']}" for i in self.pending
        )

    def close(self) -> None:
        pass

    def __deepcopy__(self, memo: dict[int, Any]) -> ReplayAdapter:
        # google-auth may deep-copy the transport for a background lookup: keep one recorder.
        return self


def replay_session(cassette: str) -> tuple[requests.Session, ReplayAdapter]:
    """A `requests.Session` whose every http(s) request is served by the named cassette."""
    adapter = ReplayAdapter(load_cassette(cassette))
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session, adapter
