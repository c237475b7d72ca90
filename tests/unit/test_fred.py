"""FRED: the parser on FRED's documented answers ("." values, error objects), the client's errors
(never showing the key), the generated sample answers and the run's configuration of the source."""

from __future__ import annotations

import json
import logging
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finlake.samples import fred as sample
from finlake.samples.market_http import SampleMarketHttp
from functions.common.http import HttpResponse, SourceUnavailable, redact
from functions.stocks.fred import (
    FredClient,
    FredError,
    InvalidKey,
    Observation,
    format_observations,
    observations_table,
    parse_observations,
)
from functions.stocks.global_sources import DEFAULT_WATCHLIST, from_environment
from tests.http_fakes import FakeHttp

KEY = "abcdefghij0123456789abcdefghij01"

# FRED's answer as its documentation shows it (fred/series_observations.html, file_type=json), trimmed.
DOCUMENTED = b"""{
  "realtime_start": "2013-08-14", "realtime_end": "2013-08-14",
  "observation_start": "1776-07-04", "observation_end": "9999-12-31",
  "units": "lin", "output_type": 1, "file_type": "json", "order_by": "observation_date",
  "sort_order": "asc", "count": 84, "offset": 0, "limit": 100000,
  "observations": [
    {"realtime_start": "2013-08-14", "realtime_end": "2013-08-14", "date": "1929-01-01", "value": "1065.9"},
    {"realtime_start": "2013-08-14", "realtime_end": "2013-08-14", "date": "1930-01-01", "value": "975.5"},
    {"realtime_start": "2013-08-14", "realtime_end": "2013-08-14", "date": "1931-01-01", "value": "."}
  ]
}"""
INVALID_KEY = (
    b'{"error_code":400,"error_message":"Bad Request.  The value for variable api_key is not registered.  '
    b'Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."}'
)


def answer(body: bytes, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/json; charset=UTF-8"}, body)


def test_the_documented_answer_parses_with_a_dot_as_a_null():
    assert parse_observations(DOCUMENTED, "GNPCA") == [
        Observation("GNPCA", date(1929, 1, 1), Decimal("1065.9")),
        Observation("GNPCA", date(1930, 1, 1), Decimal("975.5")),
        Observation("GNPCA", date(1931, 1, 1), None),
    ]
    table = observations_table(parse_observations(DOCUMENTED, "GNPCA"))
    assert table.column("value").to_pylist() == [Decimal("1065.9"), Decimal("975.5"), None]
    assert set(table.column("source").to_pylist()) == {"fred"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (INVALID_KEY, "api_key is not registered"),
        (b'{"error_code":400,"error_message":"Bad Request.  The series does not exist."}', "series does not exist"),
        (b"<html><body>Service Unavailable</body></html>", "invalid JSON"),
        (b'{"observations": "none"}', "'observations' list"),
        (b'{"observations": [{"date": "2024-13-01", "value": "1"}]}', "observation 0: expected 'date'"),
        (b'{"observations": [{"date": "2024-01-01", "value": "n/a"}]}', "observation 0: expected 'value'"),
        (b'{"observations": [{"date": "2024-01-01", "value": "1.123456789"}]}', "does not fit"),
    ],
)
def test_what_is_not_observations_is_a_fred_error_naming_why(body: bytes, message: str):
    with pytest.raises(FredError, match=message):
        parse_observations(body, "DFF")


values = st.one_of(st.none(), st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False))


@given(st.lists(st.tuples(st.dates(date(1950, 1, 1), date(2030, 1, 1)), values), max_size=20))
def test_parse_inverts_format(points):
    observations = [Observation("DGS10", day, value) for day, value in points]
    body = format_observations(observations, date(1950, 1, 1), date(2030, 1, 1), today=date(2026, 1, 1))
    assert parse_observations(body, "DGS10") == observations


def test_an_invalid_key_is_refused_and_no_message_shows_it():
    http = FakeHttp(answer(INVALID_KEY, 400))
    with pytest.raises(InvalidKey) as caught:
        FredClient(http, KEY).get("DFF", date(2024, 1, 1), date(2024, 1, 31))
    assert "api_key is not registered" in str(caught.value)
    assert KEY not in str(caught.value) and "api_key=***" in str(caught.value)
    assert f"api_key={KEY}" in http.urls[0]  # the transport, and only it, sees the key


def test_the_rate_limit_answer_is_unavailable_not_stored_and_redacted():
    http = FakeHttp(answer(sample.rate_limited()[1], 429))
    with pytest.raises(SourceUnavailable) as caught:
        FredClient(http, KEY).get("VIXCLS", date(2024, 1, 1), date(2024, 1, 31))
    assert "429" in str(caught.value) and KEY not in str(caught.value)


def test_urllib3_retry_warnings_are_logged_without_the_key(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        logging.getLogger("urllib3.connectionpool").warning(
            "Retrying (%r) after connection broken by '%r': %s", "Retry(total=4)", "timeout", f"/fred?api_key={KEY}&x=1"
        )
    assert KEY not in caplog.text and "api_key=***&x=1" in caplog.text
    assert redact(f"?function=X&apikey={KEY}") == "?function=X&apikey=***"


def test_the_sample_transport_answers_in_freds_format_with_holidays_and_errors():
    http = SampleMarketHttp(date(2025, 1, 10))
    client = FredClient(http, sample.LOCAL_KEY)
    vix = parse_observations(client.get("VIXCLS", date(2024, 12, 20), date(2025, 1, 10)).body, "VIXCLS")
    assert [o.date for o in vix if o.value is None] == [date(2024, 12, 25), date(2025, 1, 1)]  # "." on holidays
    assert all(o.date.weekday() < 5 for o in vix)
    cpi = parse_observations(client.get("CPIAUCSL", date(2024, 10, 15), date(2025, 1, 10)).body, "CPIAUCSL")
    assert [o.date for o in cpi] == [date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1)]
    dff = parse_observations(client.get("DFF", date(2025, 1, 4), date(2025, 1, 5)).body, "DFF")
    assert [o.date for o in dff] == [date(2025, 1, 4), date(2025, 1, 5)]  # every calendar day
    with pytest.raises(FredError, match="api_key is not registered"):
        FredClient(http, "f" * 32).get("DFF", date(2025, 1, 1), date(2025, 1, 2))
    with pytest.raises(FredError, match="not a 32 character"):
        FredClient(http, "SHORT").get("DFF", date(2025, 1, 1), date(2025, 1, 2))
    with pytest.raises(FredError, match="series does not exist"):
        FredClient(http, sample.LOCAL_KEY).get("NOPE", date(2025, 1, 1), date(2025, 1, 2))
    # same window, same bytes
    again = FredClient(SampleMarketHttp(date(2025, 1, 10)), sample.LOCAL_KEY)
    assert (
        again.get("DGS10", date(2024, 1, 1), date(2024, 3, 1)).body
        == client.get("DGS10", date(2024, 1, 1), date(2024, 3, 1)).body
    )


def test_each_source_is_off_unless_its_key_secret_is_named_and_holds_a_key():
    secrets = {
        "finlake/stocks/fred": json.dumps({"api_key": KEY}),
        "finlake/stocks/alpha_vantage": '{"placeholder": "x"}',
    }
    off = from_environment({}, secrets.__getitem__)
    assert off.fred_key is None and off.alpha_vantage_key is None and off.problems == ()
    on = from_environment(
        {
            "FRED_SECRET": "finlake/stocks/fred",
            "FRED_SERIES": "dff, DGS10",
            "ALPHA_VANTAGE_SECRET": "finlake/stocks/alpha_vantage",
        },
        secrets.__getitem__,
    )
    assert on.fred_key == KEY and on.fred_series == ("DFF", "DGS10")
    assert on.alpha_vantage_key is None and "holds no api_key" in on.problems[0]  # the deploy placeholder
    assert on.watchlist == DEFAULT_WATCHLIST and on.symbols == DEFAULT_WATCHLIST
    assert KEY not in repr(on)
    missing = from_environment({"FRED_SECRET": "finlake/stocks/other"}, secrets.__getitem__)
    assert missing.fred_key is None and "cannot be read (KeyError)" in missing.problems[0]


def test_a_series_fred_does_not_know_is_not_taken_for_an_invalid_key():
    """Every message names the redacted URL (``api_key=***``): only FRED's own error text may say the key is bad,
    else one unknown series stopped the run from asking for the others."""
    from functions.common.manifest import Manifest
    from functions.stocks.global_sources import GlobalSources
    from functions.stocks.pipeline import _fred_sources

    no_series = answer(b'{"error_code":400,"error_message":"Bad Request.  The series does not exist."}', 400)
    http = FakeHttp(no_series, no_series)
    manifest = Manifest(run_id="stocks-2024-01-31-x", domain="stocks", partition={"dt": "2024-01-31"})
    sources = GlobalSources(fred_key=KEY, fred_series=("NOSUCH", "DFF"))
    found = _fred_sources(None, FredClient(http, KEY), sources, date(2024, 1, 1), date(2024, 1, 31), "t", manifest)  # type: ignore[arg-type]
    assert found == [] and len(http.urls) == 2  # both series asked for
    assert [w.split(" not fetched")[0] for w in manifest.warnings] == ["FRED series NOSUCH", "FRED series DFF"]
