"""HTTP for the live fetchers, behind a small protocol so tests and local mode never touch the network.

Transports:

- :class:`Urllib3Http`: the live one, with retries on 429/5xx (honouring Retry-After) and
  exponential backoff; network errors become :class:`SourceUnavailable` naming the URL.
- :class:`ReplayHttp`: recorded responses from a cassette directory::

      index.json            {"<url>": {"status": 200, "headers": {...}, "file": "relative/path"}}
      relative/path         the response body, byte for byte

- anything with ``get(url, *, timeout) -> HttpResponse``: e.g. the generated sample sources of the
  local mode (``finlake.samples``), installed with :func:`use_transport`.

Errors: :class:`SourceUnavailable` (network, timeouts, 429/5xx after retries, unrecorded URL in
offline mode) is worth retrying later; :class:`SourceFormatError` (a file that is not what the
source documents) is not.

What arrives is not always the file (:func:`get_file`): an HTTP 200 can carry an error page (HTML,
or XHTML behind an XML prolog, as BCB's SGS sends), a JSON error object, the file wrapped in
base64, or a download cut short (a streaming ZIP without its central directory). Fetch recognises
each (:func:`body_problem`), retries the GET a few times as a transient source problem
(:class:`NotTheFile`), then gives up with :class:`SourceUnavailable` naming the URL; a base64
body that decodes to the expected file is unwrapped. Such a body is never stored as raw data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import os
import re
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3
from urllib3.util import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BOM = "\ufeff"


_PROLOG = re.compile(rb"^(?:\s*<\?xml[^>]*\?>|\s*<!--.*?-->)*\s*", re.DOTALL)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_BASE64 = re.compile(rb"^[A-Za-z0-9+/\r\n]+={0,2}\s*$")


def looks_like_html(body: bytes, content_type: str | None = None) -> bool:
    """True for an HTML or XHTML page served instead of data.

    True for an HTML or XHTML page (an error or login page served instead of data), also behind
    an XML prolog (``<?xml version="1.0" encoding="pt-br"?><!DOCTYPE html ...>``) or comments.
    """
    head = _PROLOG.sub(b"", body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n\x0b\x0c"), count=1).lower()
    if head.startswith((b"<html", b"<!doctype html", b"<!doctype")):
        return True
    # The label alone does not decide (a JSON list served as text/html is the data): markup under it does.
    labelled = bool(content_type) and any(k in str(content_type).lower() for k in ("text/html", "application/xhtml"))
    return labelled and head.startswith(b"<")


def page_title(body: bytes) -> str:
    """The ``<title>`` of an HTML page, for error messages ("Requisição inválida!"), or ""."""
    match = _TITLE.search(body[:4096])
    if not match:
        return ""
    return " ".join(match[1].decode("utf-8", "replace").split())


def json_error(body: bytes) -> str | None:
    """The message of a JSON error object, or None when the body is not one.

    The message of a JSON error object (``{"error": ...}``, ``{"erro": ...}``, CKAN's
    ``{"success": false, ...}``), or None when the body is not one.
    """
    if not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return None
    try:
        payload = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    if payload.get("success") is False:
        return "success=false: " + snippet(json.dumps(payload.get("error"), ensure_ascii=False), 160)
    for key in ("error", "erro", "errors"):
        if payload.get(key):
            detail = payload[key]
            return snippet(detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False), 160)
    return None


def zip_problem(body: bytes) -> str | None:
    """Why ``body`` is not a complete ZIP archive, or None.

    A streaming ZIP cut short keeps its local header and part of the deflate stream but has no
    central directory.
    """
    if not body.startswith(b"PK\x03\x04"):
        return None if body.startswith(b"PK\x05\x06") else "not a ZIP archive"
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        return f"incomplete download: a ZIP without its central directory ({len(body):,} bytes; {exc})"
    return None


def snippet(body: bytes | str, limit: int = 80) -> str:
    """The first ``limit`` characters of a body, on one line, for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.lstrip(_BOM).split())
    return text if len(text) <= limit else text[:limit] + "..."


_API_KEY = re.compile(r"(api_?key=)[^&\s'\"]+", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask API keys in a URL or message.

    ``text`` with the value of every ``api_key=`` / ``apikey=`` query parameter replaced by ``***``
    (FRED and Alpha Vantage take their keys only in the query string).
    """
    return _API_KEY.sub(r"\1***", text)


class RedactKeys(logging.Filter):
    """Rewrites a log record's message through :func:`redact`: urllib3 logs the URL of a retried request."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message in place; always keep the record."""
        message = record.getMessage()
        if _API_KEY.search(message):
            record.msg, record.args = redact(message), None
        return True


for _name in ("urllib3", "urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager"):
    logging.getLogger(_name).addFilter(RedactKeys())


class SourceError(Exception):
    """Base class for every problem with a data source."""


class SourceUnavailable(SourceError):
    """The source cannot be reached now (network, timeout, 429/5xx after retries, offline)."""


class SourceFormatError(SourceError):
    """The source answered, but not with what was expected."""


class NotTheFile(SourceUnavailable):
    """HTTP 200, but the body is not the file: an error page, a JSON error object, a truncated download.

    Transient: the GET is retried, and then the source counts as unavailable.
    """


class IncompleteDownload(NotTheFile):
    """A ZIP cut short (no central directory): download it again."""


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP answer: status code, headers (as received; see :meth:`header`) and the body's bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class Http(Protocol):
    """The transport protocol: a GET of ``url`` with a read timeout in seconds.

    Implementations raise :class:`SourceUnavailable` when the source cannot be reached.
    """

    def get(self, url: str, *, timeout: float) -> HttpResponse:
        """The answer to a GET of ``url`` (any status); ``timeout`` in seconds."""
        ...


# --------------------------------------------------------------------------- transports


def retry_policy(retries: int, backoff: float, *, methods: frozenset[str] | None) -> Retry:
    """The urllib3 retry policy of the live transports.

    urllib3 retries of 429/5xx answers and connection errors, ``retries`` at most, exponential
    backoff, Retry-After honoured; when they run out the last answer is returned, not raised.
    ``methods``: the verbs retried (None: every verb, POST included).
    """
    return Retry(
        total=retries,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        respect_retry_after_header=True,
        allowed_methods=methods,
        raise_on_status=False,
    )


class Urllib3Http:
    """Live HTTP with retries on 429/5xx (honouring Retry-After) and exponential backoff."""

    def __init__(self, retries: int = 5, backoff: float = 1.0, *, connect_timeout: float = 10.0) -> None:
        self.retry = retry_policy(retries, backoff, methods=frozenset({"GET"}))
        self.connect_timeout = connect_timeout
        self._pool = urllib3.PoolManager(retries=self.retry, headers={"User-Agent": "finlake/0.1"})

    def get(self, url: str, *, timeout: float) -> HttpResponse:
        """GET ``url`` on the network; ``timeout`` is the read timeout in seconds.

        Raises
        ------
        SourceUnavailable
            When the URL cannot be reached after the retries, or still answers 429/5xx.
        """
        timeouts = urllib3.Timeout(connect=min(self.connect_timeout, timeout), read=timeout)
        try:
            response = self._pool.request("GET", url, timeout=timeouts)
        except urllib3.exceptions.MaxRetryError as exc:
            raise SourceUnavailable(
                f"cannot reach {url} after {self.retry.total} retries (offline?): {exc.reason}"
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise SourceUnavailable(f"cannot reach {url} (offline?): {exc}") from exc
        if response.status in RETRY_STATUSES:
            raise SourceUnavailable(
                f"{url} still answers HTTP {response.status} after {self.retry.total} retries: "
                f"{snippet(response.data)!r}"
            )
        return HttpResponse(response.status, dict(response.headers.items()), response.data)


class ReplayHttp:
    """Serves responses recorded in a cassette directory (see module doc); never the network."""

    def __init__(self, cassette_dir: Path) -> None:
        self.cassette_dir = Path(cassette_dir)
        index_path = self.cassette_dir / "index.json"
        try:
            self._index: dict[str, dict[str, Any]] = json.loads(index_path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise SourceUnavailable(f"no cassette index at {index_path} (offline mode)") from exc

    def get(self, url: str, *, timeout: float) -> HttpResponse:
        """The recorded answer for ``url``; ``timeout`` is ignored.

        Raises
        ------
        SourceUnavailable
            When the cassette has no entry for ``url`` or the entry points outside the cassette.
        """
        entry = self._index.get(url)
        if entry is None:
            raise SourceUnavailable(f"no recorded response for {url} (offline mode)")
        root = self.cassette_dir.resolve()
        body_path = (root / entry["file"]).resolve()
        if not body_path.is_relative_to(root):
            raise SourceUnavailable(f"cassette entry for {url} points outside {root}: {entry['file']!r}")
        return HttpResponse(int(entry.get("status", 200)), dict(entry.get("headers", {})), body_path.read_bytes())


def write_cassette_entry(
    cassette_dir: Path,
    url: str,
    body: bytes,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    file: str | None = None,
) -> Path:
    """Record one response into a cassette (creating or updating ``index.json``); returns the body path."""
    cassette_dir = Path(cassette_dir)
    if file is None:
        name = PurePosixPath(urlsplit(url).path).name or "index"
        digest = hashlib.sha1(url.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
        file = f"responses/{digest}-{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}"
    if headers is None:
        content_type = "text/csv; charset=utf-8" if url.lower().endswith(".csv") else "application/json"
        headers = {"Content-Type": content_type}
    body_path = cassette_dir / file
    body_path.parent.mkdir(parents=True, exist_ok=True)
    body_path.write_bytes(body)
    index_path = cassette_dir / "index.json"
    index = json.loads(index_path.read_text("utf-8")) if index_path.exists() else {}
    index[url] = {"status": status, "headers": dict(headers), "file": file}
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    return body_path


# --------------------------------------------------------------------------- what arrives is not the file

RETRY_PAUSES_S = (1.0, 3.0)  # pauses between the attempts of get_file: three attempts in all


def body_problem(body: bytes, content_type: str | None, expect: str) -> str | None:
    """Why ``body`` is not the ``expect`` file ("zip", "json" or "text"), or None.

    The bytes decide, not the Content-Type (SGS serves its error page as application/json, and a
    server may label data text/html).

    Recognised: an empty body, an HTML/XHTML page (its title quoted), a JSON error object, a ZIP
    that is not complete; for "zip", anything that is not a ZIP; for "json", a body that does not
    start like JSON.
    """
    if not body.strip(b"\xef\xbb\xbf \t\r\n"):
        return "an empty body"
    if looks_like_html(body):  # the bytes decide: a JSON list served as text/html is the data
        title = page_title(body)
        return f"an error page (HTML{': ' + repr(title) if title else ''}): {snippet(body)!r}"
    if (error := json_error(body)) is not None and expect != "json-object":
        return f"a JSON error object: {error}"
    if expect == "zip":
        return zip_problem(body)
    if expect.startswith("json") and not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"[", b"{")):
        return f"not JSON: {snippet(body)!r}"
    return None


def unwrap_base64(body: bytes, content_type: str | None, expect: str) -> bytes | None:
    """The file inside a base64-wrapped body, or None.

    The file inside a base64-wrapped body (also a JSON string of it, as B3's download endpoints
    answer), when what it decodes to is the expected file; else None.
    """
    stripped = body.strip().strip(b'"')
    if len(stripped) < 8 or not _BASE64.match(stripped):
        return None
    try:
        decoded = base64.b64decode(b"".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if expect == "text" and (b"\x00" in decoded or b"\n" not in decoded.strip(b"\r\n")):
        return None
    return decoded if body_problem(decoded, None, expect) is None else None


def get_file(
    http: Http,
    url: str,
    *,
    timeout: float,
    expect: str,
    accept: frozenset[int] = frozenset({200}),
    error: type[SourceError] = SourceFormatError,
    fine: Callable[[bytes], bool] | None = None,
    pauses: tuple[float, ...] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> HttpResponse:
    """GET ``url`` and make sure the body is the file (see :func:`body_problem`).

    ``expect``: "zip", "json", "json-object" (a JSON object whose own error keys are for the
    caller, e.g. CKAN's envelope) or "text". A status in ``accept`` other than 200 (e.g. 404 for
    "no file that day") is returned as is; 429/5xx after the transport's retries raise
    SourceUnavailable, other statuses ``error``. A body that is not the file is retried after each
    of ``pauses``; then SourceUnavailable names the URL and the problem. A base64 body of the file
    is unwrapped (``X-Finlake-Unwrapped: base64`` is added to the headers); an answer that came after
    retries carries ``X-Finlake-Retried`` (how many, and what came before), for the run's email. ``fine(body)`` True: an
    answer the source documents that would otherwise look like an error (SGS's "no value").
    """
    pauses = RETRY_PAUSES_S if pauses is None else pauses
    sleep = sleep or time.sleep
    problem = ""
    for attempt in range(len(pauses) + 1):
        if attempt:
            sleep(pauses[attempt - 1])
        response = http.get(url, timeout=timeout)
        if response.status in RETRY_STATUSES:
            raise SourceUnavailable(f"{url} answered HTTP {response.status}: {snippet(response.body)!r}")
        if response.status != 200 and response.status in accept:
            return response
        if not 200 <= response.status < 300:
            raise error(f"expected HTTP 200 from {url}, got {response.status}: {snippet(response.body)!r}")
        content_type = response.header("content-type")
        if fine is not None and fine(response.body):
            return response
        found = body_problem(response.body, content_type, expect)
        unwrapped = unwrap_base64(response.body, content_type, expect)
        retried = {"X-Finlake-Retried": f"{attempt} time(s) after {problem}"} if attempt else {}
        if found is None and unwrapped is None:
            return (
                HttpResponse(response.status, {**response.headers, **retried}, response.body) if retried else response
            )
        if unwrapped is not None:
            headers = {**response.headers, **retried, "X-Finlake-Unwrapped": "base64"}
            return HttpResponse(response.status, headers, unwrapped)
        problem = found or ""
    attempts = len(pauses) + 1
    kind = IncompleteDownload if problem.startswith("incomplete download") else NotTheFile
    raise kind(
        f"{url} answered HTTP 200 with {problem}, {attempts} times: not the file; the source is treated as unavailable"
    )


def get_ok(http: Http, url: str, *, timeout: float, error: type[SourceError] = SourceError) -> HttpResponse:
    """GET that accepts only a 2xx answer.

    GET that accepts only a 2xx answer: 429/5xx (after the transport's retries) is
    SourceUnavailable (try later), any other status is ``error`` (the source's own format error).
    """
    response = http.get(url, timeout=timeout)
    if response.status in RETRY_STATUSES:
        raise SourceUnavailable(f"{url} answered HTTP {response.status}: {snippet(response.body)!r}")
    if not 200 <= response.status < 300:
        raise error(f"expected HTTP 200 from {url}, got {response.status}: {snippet(response.body)!r}")
    return response


_overrides: dict[str, Http] = {}


def use_transport(domain: str, http: Http | None) -> None:
    """Route one domain's fetchers to ``http`` (local mode and tests); ``None`` restores the default."""
    if http is None:
        _overrides.pop(domain, None)
    else:
        _overrides[domain] = http


def default_http(domain: str) -> Http:
    """The transport a domain's Fetch uses.

    The transport a domain's Fetch uses: an installed override, a cassette
    (``FINLAKE_HTTP_CASSETTE``, offline), or the live network.
    """
    if domain in _overrides:
        return _overrides[domain]
    cassette = os.environ.get("FINLAKE_HTTP_CASSETTE")
    return ReplayHttp(Path(cassette)) if cassette else Urllib3Http()
