"""Alpha Vantage: the parser on its documented answers, its HTTP 200 refusals (invalid key, premium
endpoint, the rate-limit notes) and the client's pacing and backoff, never showing the key."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finlake.samples import alpha_vantage as sample
from finlake.samples.market_http import SampleMarketHttp
from functions.common.http import HttpResponse
from functions.stocks.alpha_vantage import (
    AlphaVantageClient,
    AlphaVantageError,
    DailyBar,
    InvalidKey,
    PremiumEndpoint,
    RateLimited,
    format_daily,
    parse_daily,
    quotes_table,
    refusal,
)
from tests.http_fakes import FakeHttp

KEY = "ABCDEF0123456789"
ADJUSTED = "TIME_SERIES_DAILY_ADJUSTED"

# The shape of Alpha Vantage's documented answer (alphavantage.co/documentation/#dailyadj), trimmed.
DOCUMENTED = b"""{
    "Meta Data": {
        "1. Information": "Daily Time Series with Splits and Dividend Events",
        "2. Symbol": "IBM",
        "3. Last Refreshed": "2024-05-10",
        "4. Output Size": "Compact",
        "5. Time Zone": "US/Eastern"
    },
    "Time Series (Daily)": {
        "2024-05-10": {
            "1. open": "167.1300", "2. high": "168.0700", "3. low": "166.3200", "4. close": "167.1500",
            "5. adjusted close": "167.1500", "6. volume": "2255336", "7. dividend amount": "0.0000",
            "8. split coefficient": "1.0"
        },
        "2024-05-09": {
            "1. open": "167.5000", "2. high": "167.6000", "3. low": "165.8800", "4. close": "166.2700",
            "5. adjusted close": "164.6100", "6. volume": "4266615", "7. dividend amount": "1.6700",
            "8. split coefficient": "1.0"
        }
    }
}"""
DAILY = b"""{
    "Meta Data": {"1. Information": "Daily Prices (open, high, low, close) and Volumes", "2. Symbol": "IBM",
                  "3. Last Refreshed": "2024-05-10", "4. Output Size": "Compact", "5. Time Zone": "US/Eastern"},
    "Time Series (Daily)": {"2024-05-10": {"1. open": "167.1300", "2. high": "168.0700", "3. low": "166.3200",
                                           "4. close": "167.1500", "5. volume": "2255336"}}
}"""


def answers(*bodies: bytes) -> FakeHttp:
    """HTTP 200 JSON answers, in order (Alpha Vantage answers its refusals with a 200)."""
    return FakeHttp(*(HttpResponse(200, {"Content-Type": "application/json"}, b) for b in bodies))


def body(answer: dict[str, str]) -> bytes:
    return sample.refusal(answer)[1]


def test_the_documented_adjusted_answer_parses_oldest_first():
    bars = parse_daily(DOCUMENTED, "IBM")
    assert bars == [
        DailyBar(
            "IBM",
            date(2024, 5, 9),
            Decimal("167.5000"),
            Decimal("167.6000"),
            Decimal("165.8800"),
            Decimal("166.2700"),
            Decimal("164.6100"),
            4266615,
            Decimal("1.6700"),
            Decimal("1.0"),
        ),
        DailyBar(
            "IBM",
            date(2024, 5, 10),
            Decimal("167.1300"),
            Decimal("168.0700"),
            Decimal("166.3200"),
            Decimal("167.1500"),
            Decimal("167.1500"),
            2255336,
            Decimal("0.0000"),
            Decimal("1.0"),
        ),
    ]
    table = quotes_table(bars, ADJUSTED)
    assert table.column("function").to_pylist() == [ADJUSTED] * 2


def test_the_free_daily_answer_has_no_adjusted_fields():
    [bar] = parse_daily(DAILY, "IBM")
    assert bar.close == Decimal("167.1500") and bar.volume == 2255336
    assert bar.adjusted_close is None and bar.dividend_amount is None and bar.split_coefficient is None


@pytest.mark.parametrize(
    ("answer", "kind", "daily"),
    [
        (sample.INVALID_KEY, InvalidKey, None),
        (sample.INVALID_CALL, AlphaVantageError, None),
        (sample.PREMIUM, PremiumEndpoint, None),
        (sample.BURST_LIMIT, RateLimited, False),
        (sample.MINUTE_LIMIT, RateLimited, False),
        (sample.DAILY_LIMIT, RateLimited, True),
    ],
)
def test_each_refusal_is_recognised_and_never_parses_as_data(answer, kind, daily):
    error = refusal(body(answer))
    assert type(error) is kind
    if daily is not None:
        assert error.daily is daily
    with pytest.raises(kind):
        parse_daily(body(answer), "XLK")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "invalid JSON"),
        (b'{"Meta Data": {"2. Symbol": "XLK"}}', "'Time Series"),
        (b'{"Meta Data": {"2. Symbol": "XLF"}, "Time Series (Daily)": {}}', "asked for XLK, the answer is for XLF"),
        (
            b'{"Meta Data": {"2. Symbol": "XLK"}, "Time Series (Daily)": {"2024-02-30": {}}}',
            "not a calendar date",
        ),
        (
            b'{"Meta Data": {"2. Symbol": "XLK"}, "Time Series (Daily)": {"2024-02-01": {"1. open": "x"}}}',
            "expected '1. open'",
        ),
    ],
)
def test_what_is_not_the_series_is_an_error_naming_why(payload: bytes, message: str):
    with pytest.raises(AlphaVantageError, match=message):
        parse_daily(payload, "XLK")


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**5), places=4, allow_nan=False)


@given(
    st.dictionaries(
        st.dates(date(2000, 1, 1), date(2030, 1, 1)), st.tuples(prices, prices, st.integers(0, 10**9)), max_size=15
    )
)
def test_parse_inverts_format(rows):
    bars = [
        DailyBar("XLK", day, p, p, q, q, q, volume, Decimal("0.0000"), Decimal("1.0"))
        for day, (p, q, volume) in sorted(rows.items())
    ]
    assert parse_daily(format_daily(bars, "XLK", size="full"), "XLK") == bars


def test_a_rate_limit_note_is_retried_after_backoff_and_requests_are_paced():
    sleeps: list[float] = []
    _, good = sample.av_answer(ADJUSTED, "XLK", "compact", sample.LOCAL_KEY, as_of=date(2025, 3, 12))
    http = answers(body(sample.BURST_LIMIT), body(sample.MINUTE_LIMIT), good, good)
    client = AlphaVantageClient(http, KEY, function=ADJUSTED, pause_s=12, sleep=sleeps.append)
    response, bars, limited = client.get("XLK", "compact")
    assert limited == 2 and len(bars) == 100 and response.body == good
    assert sleeps == [24, 12, 48, 12]  # backoff 12 x 2^n after each note, 12 s between requests
    client.get("XLK", "compact")
    assert sleeps[-1] == 12 and len(http.urls) == 4


def test_the_daily_limit_and_an_exhausted_backoff_are_unavailable_with_the_key_redacted():
    client = AlphaVantageClient(
        answers(body(sample.DAILY_LIMIT)), KEY, function=ADJUSTED, pause_s=1, sleep=lambda s: None
    )
    with pytest.raises(RateLimited, match="25 requests per day") as caught:
        client.get("XLK", "compact")
    assert caught.value.daily and client.requests == 1  # no retry: it would spend quota for nothing
    assert KEY not in str(caught.value) and "apikey=***" in str(caught.value)
    notes = answers(*[body(sample.BURST_LIMIT)] * 3)
    client = AlphaVantageClient(notes, KEY, function=ADJUSTED, pause_s=1, sleep=lambda s: None)
    with pytest.raises(RateLimited, match="more sparingly"):
        client.get("XLK", "compact")
    assert len(notes.urls) == 3 and all(f"apikey={KEY}" in url for url in notes.urls)


def test_invalid_key_and_premium_endpoint_name_the_fix():
    client = AlphaVantageClient(answers(body(sample.INVALID_KEY)), KEY, function=ADJUSTED, pause_s=0)
    with pytest.raises(InvalidKey, match="apikey is invalid or missing") as caught:
        client.get("XLK", "compact")
    assert KEY not in str(caught.value)
    client = AlphaVantageClient(answers(body(sample.PREMIUM)), KEY, function=ADJUSTED, pause_s=0)
    with pytest.raises(PremiumEndpoint, match="TIME_SERIES_DAILY"):
        client.get("XLK", "compact")


def test_the_sample_transport_serves_both_functions_and_the_free_keys_refusal():
    http = SampleMarketHttp(date(2025, 3, 12))
    http.rate_limited = 1  # skip the demo's first-request note
    client = AlphaVantageClient(http, sample.LOCAL_KEY, function=ADJUSTED, pause_s=0)
    _, compact, _ = client.get("SPY", "compact")
    _, full, _ = client.get("SPY", "full")
    assert len(compact) == 100 and compact == full[-100:] and full[0].date == date(2019, 1, 2)
    assert compact[-1].date == date(2025, 3, 12)
    _, daily, _ = AlphaVantageClient(http, sample.FREE_KEY, function="TIME_SERIES_DAILY", pause_s=0).get(
        "XLE", "compact"
    )
    assert daily[-1].adjusted_close is None
    with pytest.raises(PremiumEndpoint):
        AlphaVantageClient(http, sample.FREE_KEY, function=ADJUSTED, pause_s=0).get("XLE", "compact")
    with pytest.raises(InvalidKey):
        AlphaVantageClient(http, "WRONG", function=ADJUSTED, pause_s=0).get("XLE", "compact")


def test_the_sample_back_adjusts_as_alpha_vantage_does():
    """A later dividend rewrites the earlier adjusted closes; close, dividend and split do not change."""
    before = {bar.date: bar for bar in sample.bars("XLF", date(2024, 12, 19))}
    after = {bar.date: bar for bar in sample.bars("XLF", date(2024, 12, 20))}  # XLF goes ex on 2024-12-20
    assert after[date(2024, 12, 20)].dividend_amount > 0
    day = date(2024, 12, 2)
    assert after[day].close == before[day].close and after[day].adjusted_close < before[day].adjusted_close
    ex, previous = after[date(2024, 12, 20)], after[date(2024, 12, 19)]
    total = (ex.close + ex.dividend_amount) / previous.close - 1
    adjusted = ex.adjusted_close / previous.adjusted_close - 1
    assert abs(total - adjusted) < Decimal("0.0001")  # within one answer, both give the total return
