"""Deterministic FRED answers for local mode and tests, in FRED's documented JSON (never the network).

Invented but plausible paths, each starting at :data:`EPOCH` and depending only on the seed, so any
window agrees with any other:

* ``DFF`` (percent per year, 2 decimals), every calendar day: 5.33, moving by 0.25 now and then.
* ``CPIAUCSL`` (index, 3 decimals), dated the first of each month: ~0.25% a month.
* ``VIXCLS`` (index points, 2 decimals) and ``DGS10`` (percent per year, 2 decimals), weekdays; on the
  US market holidays of :data:`US_HOLIDAYS` they carry FRED's ``"."`` (no value), as the real series do.

:func:`fred_answer` is what the API answers for a URL's parameters: the observations, or its HTTP 400
error object for a key that is not the registered one (:data:`LOCAL_KEY` in local mode) or for an
unknown series. :func:`rate_limited` is its HTTP 429 answer.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from functions.stocks.fred import SERIES_INFO, Observation, error_body, format_observations

EPOCH = date(2015, 1, 1)
LOCAL_KEY = "0123456789abcdef0123456789abcdef"  # 32 lower-case alphanumerics, as FRED's keys are
INVALID_KEY = (
    "Bad Request.  The value for variable api_key is not registered.  Read "
    "https://fred.stlouisfed.org/docs/api/api_key.html for more information."
)
NOT_A_KEY = "Bad Request.  The value for variable api_key is not a 32 character alpha-numeric lower-case string."
NO_SERIES = "Bad Request.  The series does not exist."
RATE_LIMIT = "Too Many Requests.  Exceeded Rate Limit"


def us_holidays(year: int) -> set[date]:
    """Fixed-date US market holidays that FRED's daily market series mark with ".".

    New Year, Juneteenth (from 2022), Independence Day, Christmas, when they fall on a weekday.
    """
    days = {date(year, 1, 1), date(year, 7, 4), date(year, 12, 25)} | ({date(year, 6, 19)} if year >= 2022 else set())
    return {d for d in days if d.weekday() < 5}


@lru_cache(maxsize=16)
def _path(series: str, seed: int, end: date) -> tuple[tuple[date, Decimal | None], ...]:
    rng = random.Random(f"finlake-fred:{seed}:{series}")
    points: list[tuple[date, Decimal | None]] = []
    day, level = EPOCH, {"DFF": 5.33, "CPIAUCSL": 240.0, "VIXCLS": 15.0, "DGS10": 4.2}.get(series, 100.0)
    while day <= end:
        if series == "DFF":
            if rng.random() < 0.01:
                level = min(max(level + rng.choice((-0.25, 0.25)), 0.08), 6.0)
            points.append((day, Decimal(f"{level:.2f}")))
        elif series == "CPIAUCSL":
            if day.day == 1:
                level *= 1 + rng.gauss(0.0025, 0.002)
                points.append((day, Decimal(f"{level:.3f}")))
        elif day.weekday() < 5:
            if series == "VIXCLS":
                level = min(max(level * math.exp(rng.gauss(0, 0.06)) + 0.05 * (16 - level), 9.0), 80.0)
            else:
                level = min(max(level + rng.gauss(0, 0.05), 0.5), 8.0)
            holiday = day in us_holidays(day.year)
            points.append((day, None if holiday else Decimal(f"{level:.2f}")))
        day += timedelta(days=1)
    return tuple(points)


def observations(series: str, start: date, end: date, *, seed: int = 7) -> list[Observation]:
    """The observations of ``series`` dated in ``[start, end]``."""
    if series not in SERIES_INFO:
        raise ValueError(f"no sample FRED series {series!r}; known: {sorted(SERIES_INFO)}")
    return [Observation(series, d, v) for d, v in _path(series, seed, end) if start <= d <= end]


def fred_answer(
    series: str, start: date, end: date, api_key: str, *, today: date, seed: int = 7, registered: str = LOCAL_KEY
) -> tuple[int, bytes]:
    """(HTTP status, body) FRED answers: the observations, or HTTP 400 with its error object."""
    if len(api_key) != 32 or not api_key.isalnum() or api_key.lower() != api_key:
        return 400, error_body(400, NOT_A_KEY)
    if api_key != registered:
        return 400, error_body(400, INVALID_KEY)
    if series not in SERIES_INFO:
        return 400, error_body(400, NO_SERIES)
    return 200, format_observations(observations(series, start, end, seed=seed), start, end, today=today)


def rate_limited() -> tuple[int, bytes]:
    """FRED's answer past 120 requests a minute."""
    return 429, error_body(429, RATE_LIMIT)
