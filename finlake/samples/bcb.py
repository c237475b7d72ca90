"""Deterministic, realistic Banco Central SGS answers and a cassette of them, for the local mode and tests.

The numbers are invented (plausible for today, not for 1990s hyperinflation); same arguments, same
bytes. Every series is one path that starts at :data:`EPOCH` and depends only on the seed, so any
window of it (and the windows the client requests) agree with each other. Each series answers from
the day the real one starts (:data:`FIRST_DAY`: SELIC target 1999-03-05, CDI 1986-03-06 ...), so an
old COTAHIST file can be tried locally; a window before that gets SGS's own "no value" answer
(:func:`sgs_answer`: HTTP 404, ``{"erro": {"statusCode": 404, "detail": "Value(s) not found"}}``).
:func:`sgs_error_page` is the XHTML error page SGS sometimes answers with HTTP 200.

* ``selic_target`` (432, % a.a., 2 decimals): starts at 12.00 and moves by 0.25 or 0.50 at a
  "Copom meeting" every :data:`MEETING_EVERY` business days, kept within 10-15%.
* ``selic_daily`` (11, % a.d.): ``((1 + target/100) ** (1/252) - 1) * 100`` rounded half-up to 6
  decimals; ``cdi_daily`` (12) the same with a target 0.10 p.p. a.a. lower.
* ``ipca_monthly`` (433, % a.m., 2 decimals): 0.00-1.00, dated on the first day of each month.
* ``usd_brl`` (1, PTAX venda, 4 decimals): a mean-reverting random walk around 5.0.

Daily series have one point per business day. Business days are weekdays (Monday-Friday):
``finlake.samples.b3`` had no ``trading_days`` helper when this was written, so B3 holidays are not
skipped.

Answers are the SGS JSON (``[{"data":"02/01/2024","valor":"11.65"},...]``, a dot decimal
separator), an empty list ``[]`` when the window has no point. :func:`write_bcb_cassette` records
one answer per series and request window at the exact URLs ``SgsClient`` asks for
(``functions.stocks.bcb.request_windows`` / ``sgs_url``).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache
from pathlib import Path

from functions.common.http import write_cassette_entry
from functions.stocks.bcb import SERIES, request_windows, series_info, sgs_url

EPOCH = date(1980, 1, 1)
FIRST_DAY = {  # the first value of each real series
    "selic_target": date(1999, 3, 5),
    "selic_daily": date(1986, 6, 4),
    "cdi_daily": date(1986, 3, 6),
    "ipca_monthly": date(1980, 1, 1),
    "usd_brl": date(1984, 11, 28),
}
NO_VALUE = b'{"erro":{"statusCode":404,"detail":"Value(s) not found"}}'
MEETING_EVERY = 30
SELIC_START = Decimal("12.00")
SELIC_BOUNDS = (Decimal("10.00"), Decimal("15.00"))
CDI_SPREAD = Decimal("0.10")  # CDI target is 0.10 p.p. a.a. below the SELIC target
DAYS_PER_YEAR = 252
USD_START = 5.0
_MOVES = (Decimal("-0.50"), Decimal("-0.25"), Decimal("0.25"), Decimal("0.50"))
_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def business_days(start: date, end: date) -> Iterator[date]:
    """Weekdays from ``start`` to ``end``, inclusive."""
    day = start
    while day <= end:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def daily_rate(annual_pct: Decimal) -> Decimal:
    """``13.65`` (% a.a.) -> ``Decimal("0.050788")`` (% a.d., 252 business days, 6 decimals)."""
    with localcontext() as ctx:
        ctx.prec = 34
        factor = (1 + annual_pct / 100) ** (Decimal(1) / DAYS_PER_YEAR)
        return ((factor - 1) * 100).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def _rng(seed: int, name: str) -> random.Random:
    return random.Random(f"finlake-bcb:{seed}:{name}")


def _selic_target_path(seed: int, end: date) -> dict[date, Decimal]:
    rng = _rng(seed, "selic_target")
    low, high = SELIC_BOUNDS
    target = SELIC_START
    path: dict[date, Decimal] = {}
    for index, day in enumerate(business_days(EPOCH, end)):
        if index and index % MEETING_EVERY == 0 and rng.random() < 0.7:
            move = rng.choice(_MOVES)
            if not low <= target + move <= high:
                move = -move
            target += move
        path[day] = target
    return path


def _usd_path(seed: int, end: date) -> dict[date, Decimal]:
    rng = _rng(seed, "usd_brl")
    rate = USD_START
    path: dict[date, Decimal] = {}
    for day in business_days(EPOCH, end):
        rate = rate * math.exp(rng.gauss(0.0, 0.007)) + 0.01 * (USD_START - rate)
        rate = min(max(rate, 3.8), 6.5)
        path[day] = Decimal(f"{rate:.4f}")
    return path


def _ipca_path(seed: int, end: date) -> dict[date, Decimal]:
    rng = _rng(seed, "ipca_monthly")
    value = 0.45
    path: dict[date, Decimal] = {}
    month = EPOCH.replace(day=1)
    while month <= end:
        value = min(max(0.45 + 0.5 * (value - 0.45) + rng.gauss(0.0, 0.2), 0.0), 1.0)
        path[month] = Decimal(f"{value:.2f}")
        month = (month + timedelta(days=32)).replace(day=1)
    return path


@lru_cache(maxsize=32)
def _path(name: str, seed: int, end: date) -> dict[date, Decimal]:
    if name == "selic_target":
        return _selic_target_path(seed, end)
    if name in ("selic_daily", "cdi_daily"):
        spread = CDI_SPREAD if name == "cdi_daily" else Decimal(0)
        rates = {target: daily_rate(target - spread) for target in set(_path("selic_target", seed, end).values())}
        return {day: rates[target] for day, target in _path("selic_target", seed, end).items()}
    if name == "ipca_monthly":
        return _ipca_path(seed, end)
    if name == "usd_brl":
        return _usd_path(seed, end)
    raise ValueError(f"unknown SGS series {name!r}; expected one of {sorted(SERIES)}")  # pragma: no cover


def sgs_points(name: str, start: date, end: date, *, seed: int = 7) -> list[tuple[date, Decimal]]:
    """The ``(date, value)`` points of one series in ``[start, end]`` (none before the series starts)."""
    series_info(name)  # rejects unknown names
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    first = max(start, FIRST_DAY[name])
    if first > end:
        return []
    return [(day, value) for day, value in _path(name, seed, end).items() if first <= day <= end]


def sgs_answer(name: str, start: date, end: date, *, seed: int = 7) -> tuple[int, bytes]:
    """(HTTP status, body) SGS answers for the window.

    The points, or 404 "Value(s) not found" when the window ends before the series starts.
    """
    if end < FIRST_DAY[name]:
        return 404, NO_VALUE
    return 200, sgs_json(name, start, end, seed=seed)


def sgs_error_page() -> bytes:
    """The XHTML error page SGS answers with HTTP 200 now and then (gone on retry), behind an XML prolog."""
    return (
        '<?xml version="1.0" encoding="pt-br"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" lang="pt-br"><head><title>Requisição inválida!</title></head>'
        "<body><h1>Requisição inválida!</h1><p>Tente novamente mais tarde.</p></body></html>\n"
    ).encode()


def sgs_json(name: str, start: date, end: date, *, seed: int = 7) -> bytes:
    """The SGS answer for ``name`` between ``start`` and ``end`` (inclusive), as bytes."""
    items = [
        {"data": f"{day:%d/%m/%Y}", "valor": format(value, "f")}
        for day, value in sgs_points(name, start, end, seed=seed)
    ]
    return json.dumps(items, separators=(",", ":")).encode("utf-8")


def write_bcb_cassette(out_dir: Path, start: date, end: date, *, seed: int = 7) -> Path:
    """Record every series' answers for ``[start, end]`` into the cassette at ``out_dir``; returns it."""
    out_dir = Path(out_dir)
    for name, code in SERIES.items():
        for window_start, window_end in request_windows(name, start, end):
            write_cassette_entry(
                out_dir,
                sgs_url(code, window_start, window_end),
                sgs_json(name, window_start, window_end, seed=seed),
                headers=_HEADERS,
                file=f"bcb/{name}/{window_start:%Y%m%d}-{window_end:%Y%m%d}.json",
            )
    return out_dir
