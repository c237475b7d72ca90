"""pynubank's ``HttpClient`` with timeouts and retries of transient failures.

pynubank calls ``requests_pkcs12.get/post``, which build a new session per request with no retry
and no timeout: one 503 from Nubank failed the whole run, and a hung connection held the Lambda
until its timeout. This client keeps pynubank's headers, certificate and error handling
(``NuRequestException`` for a non-200) and sends each request through a session whose adapter
(``Pkcs12Adapter`` with the certificate, else requests' own) retries with the policy the other
sources use (``functions.common.http.retry_policy``):

- 429, 500, 502, 503 and 504 answers and connection or read errors, up to ``retries`` times, with
  exponential backoff (0, 2, 4 s by default) and ``Retry-After`` honoured;
- POSTs too: the login is the request most likely to meet a 5xx, and repeating it is harmless;
- when the retries run out, the last answer is returned, so pynubank raises its
  ``NuRequestException`` with the real status (``take_snapshot`` reports it as SourceUnavailable).
"""

from __future__ import annotations

from typing import Any

from pynubank.utils.http import HttpClient
from requests import Response, Session
from requests.adapters import HTTPAdapter
from requests_pkcs12 import Pkcs12Adapter

from functions.common.http import retry_policy


class RetryingHttpClient(HttpClient):  # type: ignore[misc]  # pynubank has no type hints (Any)
    """The pynubank ``HttpClient`` with retries and a timeout.

    urllib3 retries of 429/5xx answers and connection errors (POST included: the login), and a
    timeout of ``timeout_s`` seconds per request.
    """

    def __init__(self, *, retries: int = 3, backoff: float = 1.0, timeout_s: float = 30.0) -> None:
        super().__init__()
        self.retry = retry_policy(retries, backoff, methods=None)  # POST too: the login
        self.timeout_s = timeout_s

    def _session(self) -> Session:
        adapter: HTTPAdapter
        if self._cert:
            adapter = Pkcs12Adapter(pkcs12_data=self._cert, pkcs12_password="", max_retries=self.retry)
        else:
            adapter = HTTPAdapter(max_retries=self.retry)
        session = Session()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def raw_get(self, url: str) -> Response:
        """GET ``url`` with the client's headers (and certificate, once set); the ``requests`` response."""
        with self._session() as session:
            return session.get(url, headers=self._headers, timeout=self.timeout_s)

    def raw_post(self, url: str, json: dict[str, Any]) -> Response:
        """POST ``json`` to ``url`` with the client's headers (and certificate); the ``requests`` response."""
        with self._session() as session:
            return session.post(url, json=json, headers=self._headers, timeout=self.timeout_s)

    def post(self, url: str, json: dict[str, Any]) -> dict[str, Any]:
        """POST ``json`` to ``url``; the answer's JSON through pynubank's response handling (which raises on errors)."""
        response: dict[str, Any] = self._handle_response(self.raw_post(url, json))
        return response
