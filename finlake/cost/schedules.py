"""Schedules: an EventBridge Scheduler expression (``rate(...)`` or ``cron(...)``, UTC) -> runs per month."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from finlake.cost.units import CYCLE_END, CYCLE_MONTHS, CYCLE_START, MONTH_MINUTES

_MONTH_NAMES = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_RATE_MINUTES = {"minute": 1, "hour": 60, "day": 1440}


def _value(token: str, names: Mapping[str, int]) -> int:
    return names[token.upper()] if token.upper() in names else int(token)


def cron_field(spec: str, low: int, high: int, names: Mapping[str, int] | None = None) -> set[int]:
    """The values an AWS cron field matches: ``*``, ``?``, lists, ranges, steps and names."""
    names = names or {}
    values: set[int] = set()
    for part in spec.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            first, last = low, high
        elif "-" in body:
            first, last = (_value(t, names) for t in body.split("-", 1))
        else:
            first = _value(body, names)
            last = high if step_text else first
        if not low <= first <= last <= high:
            raise ValueError(f"cron field {spec!r}: {part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return values


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # AWS cron: 1 = SUN ... 7 = SAT


def _nearest_weekday(day: date, target: int) -> date:
    last = calendar.monthrange(day.year, day.month)[1]
    wanted = date(day.year, day.month, min(target, last))
    if wanted.weekday() == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return wanted - timedelta(days=1) if wanted.day > 1 else wanted + timedelta(days=2)
    if wanted.weekday() == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return wanted + timedelta(days=1) if wanted.day < last else wanted - timedelta(days=2)
    return wanted


def _dom_matcher(spec: str) -> Callable[[date], bool]:
    if spec == "L":
        return lambda d: (d + timedelta(days=1)).month != d.month
    if spec.endswith("W"):
        target = int(spec[:-1])
        return lambda d: d == _nearest_weekday(d, target)
    days = cron_field(spec, 1, 31)
    return lambda d: d.day in days


def _dow_matcher(spec: str) -> Callable[[date], bool]:
    if "#" in spec:
        weekday, nth = (int(t) if t.isdigit() else _DAY_NAMES[t.upper()] for t in spec.split("#"))
        return lambda d: _aws_weekday(d) == weekday and (d.day - 1) // 7 + 1 == nth
    if spec.endswith("L") and len(spec) > 1:
        weekday = _value(spec[:-1], _DAY_NAMES)
        return lambda d: _aws_weekday(d) == weekday and (d + timedelta(days=7)).month != d.month
    weekdays = cron_field("7" if spec == "L" else spec, 1, 7, _DAY_NAMES)
    return lambda d: _aws_weekday(d) in weekdays


def cron_runs_per_month(expression: str) -> Decimal:
    """Average runs a month of an EventBridge ``cron(min hour day-of-month month day-of-week year)``.

    Counts the matching days over a 28-year cycle (so a weekday cron gives 7305/336 = 21.74 and a
    daily one 30.4375), times the matching minutes and hours of a day. Time zones and daylight
    saving change when a run happens, not how many there are.
    """
    fields = expression.strip()[len("cron(") : -1].split()
    if len(fields) != 6:
        raise ValueError(f"{expression!r}: a cron expression has 6 fields")
    minutes, hours, dom, months, dow, years = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    if years not in ("*", "?") and date.today().year not in cron_field(years, 1970, 2199):
        return Decimal(0)
    per_day = len(cron_field(minutes, 0, 59)) * len(cron_field(hours, 0, 23))
    month_set = cron_field(months, 1, 12, _MONTH_NAMES)
    matches = _dow_matcher(dow) if dom == "?" else _dom_matcher(dom)
    days = 0
    day = CYCLE_START
    while day <= CYCLE_END:
        days += day.month in month_set and matches(day)
        day += timedelta(days=1)
    return Decimal(days * per_day) / CYCLE_MONTHS


def runs_per_month(expression: str, *, enabled: bool = True) -> Decimal:
    """Runs a month of a Scheduler expression: ``cron(...)``, ``rate(...)``; ``at(...)`` runs once, not monthly."""
    if not enabled:
        return Decimal(0)
    text = expression.strip()
    if text.startswith("cron("):
        return cron_runs_per_month(text)
    if match := _RATE.match(text):
        unit = match[2].rstrip("s")
        return MONTH_MINUTES / (int(match[1]) * _RATE_MINUTES[unit])
    if text.startswith("at("):
        return Decimal(0)
    raise ValueError(f"unsupported schedule expression {expression!r}")
