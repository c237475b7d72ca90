"""FRED (Federal Reserve Bank of St. Louis) series observations: US macro context of the stocks domain.

API: ``https://api.stlouisfed.org/fred/series/observations?series_id=DFF&api_key=<32 lower-case
alphanumerics>&file_type=json&observation_start=YYYY-MM-DD&observation_end=YYYY-MM-DD`` answers
HTTP 200 with a JSON object::

    {"realtime_start": "2024-05-01", "realtime_end": "2024-05-01", "observation_start": "2024-01-01",
     "observation_end": "2024-05-01", "units": "lin", "output_type": 1, "file_type": "json",
     "order_by": "observation_date", "sort_order": "asc", "count": 2, "offset": 0, "limit": 100000,
     "observations": [{"realtime_start": "2024-05-01", "realtime_end": "2024-05-01",
                       "date": "2024-01-01", "value": "."}, ...]}

``value`` is a decimal string (dot separator) or ``"."``: FRED's mark for a date without a value
(e.g. VIXCLS and DGS10 on US holidays). It is a null, not an error. Values are stored as
decimal(20,8) like the BCB series.

Errors, as FRED sends them (fred.stlouisfed.org/docs/api/fred/errors.html): an HTTP 4xx with a JSON
object ``{"error_code": 400, "error_message": "Bad Request.  The value for variable api_key is not
registered.  ..."}`` (invalid key, unknown series, bad dates) and HTTP 429 ``Too Many Requests.
Exceeded Rate Limit`` (120 requests per minute per key). A 4xx is :class:`FredError` (the request
or the key is wrong: retrying does not help); 429/5xx are retried by the transport with backoff and
then :class:`~functions.common.http.SourceUnavailable`. The stocks run warns and goes on either way.

The API key only travels in the query string (FRED has no header for it), so every URL that can
reach a message, a manifest or object metadata goes through :func:`redact` first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from functions.common.http import Http, HttpResponse, SourceError, SourceFormatError, get_file, redact, snippet

SOURCE = "fred"
FRED_URL = (
    "https://api.stlouisfed.org/fred/series/observations?series_id={series}&api_key={key}&file_type=json"
    "&observation_start={start:%Y-%m-%d}&observation_end={end:%Y-%m-%d}"
)
MISSING = "."  # FRED's value for a date without an observation
VALUE_PLACES = 8

# The default series and what they are (units as FRED publishes them).
SERIES_INFO: dict[str, str] = {
    "DFF": "Federal Funds Effective Rate, percent per year, daily (7 days a week)",
    "CPIAUCSL": "Consumer Price Index for All Urban Consumers, index 1982-1984=100, monthly, seasonally adjusted",
    "VIXCLS": "CBOE Volatility Index (VIX) close, index points, daily (US trading days)",
    "DGS10": "10-Year Treasury constant maturity yield, percent per year, daily (US business days)",
}
DEFAULT_SERIES = tuple(SERIES_INFO)
_SERIES_ID = re.compile(r"[A-Z0-9_]{1,40}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# macro_series: the rows of every non-BCB macro source (source, series, date, value).
MACRO_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("series", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("value", pa.decimal128(20, VALUE_PLACES), nullable=True),
    ]
)


class FredError(SourceFormatError):
    """FRED answered, but with an error object (invalid key, unknown series) or not with observations."""


class InvalidKey(FredError):
    """FRED refused the key itself (missing, malformed or not registered): every other series would be refused too."""


@dataclass(frozen=True)
class Observation:
    """One FRED observation: series id, day, and its exact value (None where FRED writes ".")."""

    series: str
    date: date
    value: Decimal | None  # None: FRED's "." (no value that day)


def check_series(series: str) -> str:
    """Return ``series`` when it looks like a FRED series id (upper-case letters, digits, _).

    Raises
    ------
    ValueError
        When it does not (it is put in a URL).
    """
    if not _SERIES_ID.fullmatch(series):
        raise ValueError(f"not a FRED series id: {series!r} (upper-case letters, digits, _)")
    return series


def fred_url(series: str, start: date, end: date, api_key: str) -> str:
    """The observations URL for ``series`` between ``start`` and ``end`` (inclusive).

    Contains the key: pass it through :func:`redact` before it goes anywhere but the transport.
    """
    return FRED_URL.format(series=check_series(series), key=api_key, start=start, end=end)


def error_message(body: bytes) -> str | None:
    """FRED's ``error_message`` (with its ``error_code``) when ``body`` is FRED's JSON error object, else None."""
    try:
        payload = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict) or "error_message" not in payload:
        return None
    return f"{payload.get('error_code', '?')}: {' '.join(str(payload['error_message']).split())}"


def _value(text: Any, where: str) -> Decimal | None:
    if text == MISSING:
        return None
    if not isinstance(text, str):
        raise FredError(f"{where}: expected 'value' as a decimal string or '.', got {text!r}")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise FredError(f"{where}: expected 'value' as a decimal string or '.', got {text!r}") from None
    if not value.is_finite() or -value.as_tuple().exponent > VALUE_PLACES:  # type: ignore[operator]
        raise FredError(f"{where}: 'value' {text!r} does not fit decimal(20,{VALUE_PLACES})")
    return value


def _date(text: Any, where: str) -> date:
    if isinstance(text, str) and _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise FredError(f"{where}: expected 'date' as YYYY-MM-DD, got {text!r}")


def parse_observations(body: bytes, series: str, *, where: str = "FRED response") -> list[Observation]:
    """The observations of one FRED answer, in the order received (``"."`` -> value None).

    Raises FredError for FRED's error object (naming its message), invalid JSON, or an object without
    an ``observations`` list or with a bad date or value (naming the index).
    """
    if (message := error_message(body)) is not None:
        raise FredError(f"{where}: FRED answered an error: {message}")
    try:
        payload = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FredError(
            f"{where}: expected FRED's JSON observations, got invalid JSON ({exc}): {snippet(body)!r}"
        ) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("observations"), list):
        raise FredError(f"{where}: expected a JSON object with an 'observations' list, got {snippet(body)!r}")
    result = []
    for index, item in enumerate(payload["observations"]):
        at = f"{where}, observation {index}"
        if not isinstance(item, dict):
            raise FredError(f"{at}: expected an object with 'date' and 'value', got {snippet(json.dumps(item))!r}")
        result.append(Observation(series, _date(item.get("date"), at), _value(item.get("value"), at)))
    return result


def format_observations(observations: Iterable[Observation], start: date, end: date, *, today: date) -> bytes:
    """The inverse of :func:`parse_observations`: FRED's JSON answer for these observations."""
    items = [
        {
            "realtime_start": f"{today:%Y-%m-%d}",
            "realtime_end": f"{today:%Y-%m-%d}",
            "date": f"{o.date:%Y-%m-%d}",
            "value": MISSING if o.value is None else format(o.value, "f"),
        }
        for o in observations
    ]
    payload = {
        "realtime_start": f"{today:%Y-%m-%d}",
        "realtime_end": f"{today:%Y-%m-%d}",
        "observation_start": f"{start:%Y-%m-%d}",
        "observation_end": f"{end:%Y-%m-%d}",
        "units": "lin",
        "output_type": 1,
        "file_type": "json",
        "order_by": "observation_date",
        "sort_order": "asc",
        "count": len(items),
        "offset": 0,
        "limit": 100000,
        "observations": items,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def error_body(code: int, message: str) -> bytes:
    """FRED's error object, as it answers it with HTTP ``code``."""
    return json.dumps({"error_code": code, "error_message": message}).encode()


class FredClient:
    """Fetches FRED series through an injected :class:`Http`; the key never leaves this object unredacted."""

    def __init__(self, http: Http, api_key: str, *, timeout: float = 30.0) -> None:
        self.http = http
        self._key = api_key
        self.timeout = timeout

    def url(self, series: str, start: date, end: date) -> str:
        """The URL as it may be shown and stored: the key replaced by ``***``."""
        return redact(fred_url(series, start, end, self._key))

    def get(self, series: str, start: date, end: date) -> HttpResponse:
        """FRED's answer for the window (HTTP 200, observations).

        FredError for FRED's 4xx error object; SourceUnavailable when it cannot be reached or keeps
        answering 429/5xx or an error page. Messages name the redacted URL.
        """
        url = fred_url(series, start, end, self._key)
        try:
            response = get_file(
                self.http,
                url,
                timeout=self.timeout,
                expect="json-object",
                accept=frozenset({200, 400, 404}),
                error=FredError,
            )
        except SourceError as exc:  # messages name the URL: the key must not travel with them
            raise type(exc)(redact(str(exc))) from None
        if response.status != 200:
            message = error_message(response.body) or snippet(response.body)
            # FRED's message names the api_key variable only when the key is what it refuses (the redacted
            # URL in every message names it too, so the message, not the text of the exception, decides).
            refused = InvalidKey if "api_key" in message else FredError
            raise refused(
                f"{self.url(series, start, end)}: FRED refused the request (HTTP {response.status}) {message}"
            )
        return response


def observations_table(observations: Iterable[Observation]) -> pa.Table:
    """The observations as an Arrow table (source "fred", series, date, value), the ``macro_series`` layout."""
    rows = list(observations)
    return pa.table(
        {
            "source": [SOURCE] * len(rows),
            "series": [o.series for o in rows],
            "date": [o.date for o in rows],
            "value": [o.value for o in rows],
        },
        schema=MACRO_SCHEMA,
    )
