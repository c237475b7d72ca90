"""Fetch BNDES balance sheets from the CKAN action API of dadosabertos.bndes.gov.br.

HTTP sits behind the small :class:`Http` protocol so the same :class:`CkanClient` runs against
the live portal (:class:`Urllib3Http`), a recorded cassette (:class:`ReplayHttp`, used by the
local mode and the tests) or a fake.

Cassette format (a directory)::

    index.json            {"<url>": {"status": 200, "headers": {...}, "file": "relative/path"}}
    relative/path         the response body, byte for byte

URLs are matched exactly, so they must be built the way :class:`CkanClient` builds them
(``CkanClient.action_url``). ``finlake.samples.bndes`` writes such a cassette.

Errors: :class:`SourceUnavailable` (network, timeouts, 429/5xx after retries, unrecorded URL in
offline mode; and an HTTP 200 that is not the file, such as an error page, a JSON error object or
``success: false``, after :func:`~functions.common.http.get_file`'s retries) is worth retrying
later; :class:`SourceFormatError` (invalid JSON, a non-CSV resource) is not.

Encodings: a resource's ``encoding`` field (BNDES declares ``Windows-1252`` on the CSVs it
publishes since February 2025) is kept on :class:`Resource` and, with the download's HTTP charset,
handed to the parser as the declared encoding (``functions.bndes.pipeline``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlencode, urlsplit

from functions.common.http import (
    Http,
    HttpResponse,
    SourceError,
    SourceFormatError,
    get_file,
    snippet,
)
from functions.common.ptbr import normalize_column
from functions.common.text import UndecodableText, charset_of, decode

DEFAULT_BASE_URL = "https://dadosabertos.bndes.gov.br"
DEFAULT_PACKAGE_ID = "balanco-patrimonial"
_NOT_CSV_MAGIC = {
    b"PK\x03\x04": "a ZIP/XLSX archive",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an XLS file",
}


# --------------------------------------------------------------------------- CKAN model


def classify_standard(name: str) -> str:
    """``"Balanço Patrimonial - Conglomerado Prudencial"`` -> ``"PRUDENCIAL"``; also BRGAAP, IFRS, UNKNOWN."""
    words = normalize_column(name)
    compact = words.replace("_", "")
    if "prudencial" in compact:
        return "PRUDENCIAL"
    if "ifrs" in compact:
        return "IFRS"
    if "brgaap" in compact:
        return "BRGAAP"
    return "UNKNOWN"


def extract_year(name: str, url: str = "") -> int | None:
    """The 4-digit year (19xx/20xx) in the resource name, else in the URL's file name."""
    for text in (name, PurePosixPath(urlsplit(url).path).name):
        match = re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)", text)
        if match:
            return int(match.group(1))
    return None


@dataclass(frozen=True)
class Resource:
    """A CKAN resource of the balance-sheet package, as ``package_show`` lists it.

    ``md5`` is CKAN's ``hash`` field, ``last_modified`` its ``last_modified`` (else ``metadata_modified``,
    as CKAN writes it), ``encoding`` its declared charset; ``standard`` (the accounting
    standard) and ``year`` are derived from the name and URL.
    """

    id: str
    name: str
    url: str
    format: str
    md5: str | None = None
    last_modified: str | None = None
    datastore_active: bool = False
    encoding: str | None = None  # CKAN's resource "encoding" field, e.g. "Windows-1252"
    standard: str = field(init=False)
    year: int | None = field(init=False)

    def __post_init__(self) -> None:
        """Derive ``standard`` and ``year`` from the name (and URL)."""
        object.__setattr__(self, "standard", classify_standard(self.name))
        object.__setattr__(self, "year", extract_year(self.name, self.url))

    @classmethod
    def from_ckan(cls, data: Mapping[str, Any]) -> Resource:
        """A resource from one item of CKAN's ``resources`` list (KeyError without an ``id``)."""
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or ""),
            url=str(data.get("url") or ""),
            format=str(data.get("format") or ""),
            md5=data.get("hash") or None,
            last_modified=data.get("last_modified") or data.get("metadata_modified") or None,
            datastore_active=bool(data.get("datastore_active", False)),
            encoding=str(data["encoding"]).strip() or None if data.get("encoding") else None,
        )

    @property
    def is_csv(self) -> bool:
        """True when the declared format is CSV, or, with no format declared, when the URL path ends in ``.csv``."""
        declared = self.format.strip().lower()
        if declared:
            return declared in {"csv", "text/csv"}
        return urlsplit(self.url).path.lower().endswith(".csv")


@dataclass(frozen=True)
class Package:
    """A CKAN package (dataset): its id, name, title, resources and ``metadata_modified``."""

    id: str
    name: str
    title: str
    resources: tuple[Resource, ...]
    metadata_modified: str | None = None


# --------------------------------------------------------------------------- client


class CkanClient:
    """The CKAN action API of a portal (default dadosabertos.bndes.gov.br) through an injected :class:`Http`."""

    def __init__(self, http: Http, base_url: str = DEFAULT_BASE_URL, *, timeout: float = 30.0) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def action_url(self, action: str, **params: str | int) -> str:
        """``action_url("package_show", id="x")`` -> ``<base>/api/3/action/package_show?id=x``."""
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base_url}/api/3/action/{action}{query}"

    def package_show(self, package_id: str = DEFAULT_PACKAGE_ID) -> Package:
        """The package ``package_id`` (default: the BNDES balance sheets) with its resources.

        Raises
        ------
        SourceFormatError
            When the answer is not a package with a list of resources that have an ``id``.
        SourceUnavailable
            When the portal cannot be reached (after the transport's retries).
        """
        url = self.action_url("package_show", id=package_id)
        result = self._action(url)
        if not isinstance(result, dict) or not isinstance(result.get("resources"), list):
            raise SourceFormatError(
                f"expected a CKAN package with a 'resources' list from {url}, got {snippet(json.dumps(result))!r}"
            )
        try:
            resources = tuple(Resource.from_ckan(item) for item in result["resources"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise SourceFormatError(f"expected CKAN resources with an 'id' from {url}, got {exc!r}") from exc
        return Package(
            id=str(result.get("id", "")),
            name=str(result.get("name", package_id)),
            title=str(result.get("title", "")),
            resources=resources,
            metadata_modified=result.get("metadata_modified"),
        )

    def download(self, resource: Resource) -> bytes:
        """The CSV bytes of a resource; rejects non-CSV resources.

        An error page, a JSON error or an empty body is retried, then SourceUnavailable (see
        :func:`~functions.common.http.get_file`).
        """
        return self.download_response(resource).body

    def download_response(self, resource: Resource) -> HttpResponse:
        """:meth:`download` with the answer's headers (its Content-Type charset)."""
        if not resource.is_csv:
            raise SourceFormatError(
                f"expected a CSV resource, got format {resource.format!r} for {resource.name!r} at {resource.url}"
            )
        response = get_file(self.http, resource.url, timeout=self.timeout, expect="text", error=SourceError)
        body = response.body
        for magic, what in _NOT_CSV_MAGIC.items():
            if body.startswith(magic):
                raise SourceFormatError(f"expected CSV from {resource.url}, got {what}: {snippet(body)!r}")
        return response

    def datastore_search(self, resource_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        """All records of a DataStore resource, paging with ``limit``/``offset`` until ``total``."""
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        records: list[dict[str, Any]] = []
        while True:
            url = self.action_url("datastore_search", resource_id=resource_id, limit=limit, offset=len(records))
            result = self._action(url)
            page = result.get("records") if isinstance(result, dict) else None
            if not isinstance(page, list):
                raise SourceFormatError(f"expected a 'records' list from {url}, got {snippet(json.dumps(result))!r}")
            records.extend(page)
            total = result.get("total")
            if total is None:
                if len(page) < limit:
                    return records
            elif len(records) >= int(total):
                return records
            elif not page:
                raise SourceFormatError(
                    f"expected {total} records from datastore_search, got an empty page at offset "
                    f"{len(records)} ({url})"
                )

    # ----------------------------------------------------------------------- internals

    def _action(self, url: str) -> Any:
        """The ``result`` of a CKAN action envelope, after checking everything around it."""
        response = get_file(self.http, url, timeout=self.timeout, expect="json", error=SourceError)
        body = response.body
        expected = f"expected a CKAN JSON envelope from {url}"
        try:
            text = decode(body, declared=charset_of(response.header("content-type")), where=url).text
            envelope = json.loads(text)
        except (UndecodableText, json.JSONDecodeError) as exc:
            raise SourceFormatError(f"{expected}, got invalid JSON ({exc}): {snippet(body)!r}") from exc
        if not isinstance(envelope, dict) or "success" not in envelope:
            raise SourceFormatError(f"{expected}, got JSON without 'success': {snippet(body)!r}")
        if envelope["success"] is not True:
            error = envelope.get("error")
            detail = json.dumps(error, ensure_ascii=False) if error is not None else snippet(body)
            raise SourceFormatError(f"{expected} with success=true, got success=false: {snippet(detail)}")
        if "result" not in envelope:
            raise SourceFormatError(f"{expected} with a 'result', got {snippet(body)!r}")
        return envelope["result"]
