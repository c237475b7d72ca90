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
offline mode) is worth retrying later; :class:`SourceFormatError` (HTML instead of data, empty
body, invalid JSON...) is not.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3
from urllib3.util import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BOM = "\ufeff"


def looks_like_html(body: bytes, content_type: str | None = None) -> bool:
    """True for an HTML page (an error or login page served instead of data)."""
    if content_type and "text/html" in content_type.lower():
        return True
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n\x0b\x0c").lower()
    return head.startswith((b"<html", b"<!doctype"))


def snippet(body: bytes | str, limit: int = 80) -> str:
    """The first ``limit`` characters of a body, on one line, for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.lstrip(_BOM).split())
    return text if len(text) <= limit else text[:limit] + "..."


class SourceError(Exception):
    """Base class for every problem with a data source."""


class SourceUnavailable(SourceError):
    """The source cannot be reached now (network, timeout, 429/5xx after retries, offline)."""


class SourceFormatError(SourceError):
    """The source answered, but not with what was expected."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class Http(Protocol):
    def get(self, url: str, *, timeout: float) -> HttpResponse: ...


# --------------------------------------------------------------------------- transports


def retry_policy(retries: int, backoff: float, *, methods: frozenset[str] | None) -> Retry:
    """urllib3 retries of 429/5xx answers and connection errors, ``retries`` at most, exponential
    backoff, Retry-After honoured; when they run out the last answer is returned, not raised.
    ``methods``: the verbs retried (None: every verb, POST included)."""
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


def get_ok(http: Http, url: str, *, timeout: float, error: type[SourceError] = SourceError) -> HttpResponse:
    """GET that accepts only a 2xx answer: 429/5xx (after the transport's retries) is
    SourceUnavailable (try later), any other status is ``error`` (the source's own format error)."""
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
    """The transport a domain's Fetch uses: an installed override, a cassette
    (``FINLAKE_HTTP_CASSETTE``, offline), or the live network."""
    if domain in _overrides:
        return _overrides[domain]
    cassette = os.environ.get("FINLAKE_HTTP_CASSETTE")
    return ReplayHttp(Path(cassette)) if cassette else Urllib3Http()
