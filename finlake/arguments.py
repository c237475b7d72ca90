"""What the CLI accepts, checked before anything starts (docs/decisions/0015-front-door.md).

Dates are ISO only (``YYYY-MM-DD``), months ``YYYY-MM``, years ``YYYY``: a partition has one
spelling, so the execution name it gets is the same whoever asks (``2026/11/20`` or ``20261120``
are refused with the ISO form to type instead, never normalised silently). A day or month after
today in America/Sao_Paulo is refused with the date asked. Each domain takes only the options it
uses: ``--date`` for the date domains, ``--month`` for the month domains, ``--year`` for stocks,
``--source`` for bank. Every refusal is a `click.UsageError` (exit code 2, one line, nothing started).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click

from functions.common.manifest import today_in_sao_paulo
from stacks.specs import DomainSpec

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
YEAR = re.compile(r"[0-9]{4}")
FIRST_COTAHIST_YEAR = 1986  # B3's historical series (COTAHIST_Ayyyy) starts in 1986
YEARLY_FILE_DOMAINS = ("stocks",)
SOURCE_DOMAINS = ("bank",)


def _today(today: date | None) -> date:
    return today or date.fromisoformat(today_in_sao_paulo())


def parse_date(text: str, option: str = "--date", *, today: date | None = None) -> str:
    """``YYYY-MM-DD`` of a real day not after ``today`` (default: today in America/Sao_Paulo)."""
    if not ISO_DATE.fullmatch(text):
        hint = _iso_hint(text)
        raise click.UsageError(f"{option} {text}: give a date as YYYY-MM-DD{hint}")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise click.UsageError(f"{option} {text}: there is no such day") from None
    if day > _today(today):
        raise click.UsageError(f"{option} {text} is in the future (today is {_today(today)} in America/Sao_Paulo)")
    return text


def parse_month(text: str, option: str = "--month", *, today: date | None = None) -> str:
    """``YYYY-MM`` of a real month not after the current one."""
    if not ISO_MONTH.fullmatch(text):
        hint = _iso_hint(text, month=True)
        raise click.UsageError(f"{option} {text}: give a month as YYYY-MM{hint}")
    year, month = int(text[:4]), int(text[5:])
    if not 1 <= month <= 12 or year < 1:
        raise click.UsageError(f"{option} {text}: there is no month {text[5:]} (01 to 12)")
    current = _today(today)
    if (year, month) > (current.year, current.month):
        raise click.UsageError(f"{option} {text} is in the future (this month is {current:%Y-%m} in America/Sao_Paulo)")
    return text


def parse_year(text: str, *, today: date | None = None) -> str:
    """``YYYY`` of a year B3 publishes a yearly COTAHIST file for: 1986 up to this year."""
    if not YEAR.fullmatch(text):
        raise click.UsageError(f"--year {text}: give a year as YYYY")
    year, current = int(text), _today(today).year
    if year > current:
        raise click.UsageError(f"--year {text}: no B3 yearly file for {text}, it is after this year ({current})")
    if year < FIRST_COTAHIST_YEAR:
        raise click.UsageError(f"--year {text}: B3's yearly files start in {FIRST_COTAHIST_YEAR}")
    return text


def _iso_hint(text: str, *, month: bool = False) -> str:
    """`` (e.g. 2026-11-20)`` when the text is the same day or month written another way."""
    parts = re.split(r"[/._ -]", text.strip())
    if len(parts) == (2 if month else 3) and all(p.isdigit() for p in parts):
        if len(parts[-1]) == 4:  # DD/MM/YYYY or MM/YYYY: the Brazilian order
            parts = parts[::-1]
        if len(parts[0]) == 4:
            return " (e.g. " + "-".join([parts[0], *(p.zfill(2) for p in parts[1:])]) + ")"
    return ""


def check_run_options(
    spec: DomainSpec,
    *,
    date: str | None = None,
    month: str | None = None,
    year: str | None = None,
    inputs: bool = False,
    source: str | None = None,
    today: date | None = None,
) -> tuple[str | None, str | None, str | None]:
    """Refuse the options ``spec`` does not use; return ``(date, month, year)`` checked."""
    if date is not None and spec.partition != "date":
        raise click.UsageError(f"--date is for the date domains; {spec.name} is partitioned by month: use --month")
    if month is not None and spec.partition != "month":
        raise click.UsageError(f"--month is for the month domains; {spec.name} is partitioned by day: use --date")
    if year is not None and spec.name not in YEARLY_FILE_DOMAINS:
        raise click.UsageError(f"--year is for {', '.join(YEARLY_FILE_DOMAINS)} (B3's yearly file), not {spec.name}")
    if source is not None and spec.name not in SOURCE_DOMAINS:
        raise click.UsageError(f"--source is for {', '.join(SOURCE_DOMAINS)}, not {spec.name}")
    if year is not None and (date is not None or inputs):
        raise click.UsageError("--year runs B3's yearly file: give it without --date or --input")
    if source is not None and inputs:
        raise click.UsageError("--source picks the Nubank API or its mock; exports given with --input need neither")
    return (
        parse_date(date, today=today) if date is not None else None,
        parse_month(month, today=today) if month is not None else None,
        parse_year(year, today=today) if year is not None else None,
    )


def check_distinct_inputs(inputs: Sequence[Path]) -> None:
    """Refuse a file given twice with ``--input`` (the same file once its path is resolved).

    ``a.csv``, ``./a.csv`` and a symlink to it are one file: a run counts every input's rows, so the same file twice
    would be read twice. The same content under two names is a real second file and runs (its rows count as duplicates).
    """
    seen: dict[Path, Path] = {}
    for given in inputs:
        resolved = given.resolve()
        if resolved in seen:
            raise click.UsageError(f"--input {given} is given twice (as {seen[resolved]} too): give each file once")
        seen[resolved] = given


def check_local_samples(
    spec: DomainSpec, *, day: str | None = None, year: str | None = None, today: date | None = None
) -> None:
    """Refuse a date or year the generated offline answers do not cover, before anything starts.

    A local run without ``--input`` reads the answers the domain's sample adapter generates; when they cover only some
    years (``offline_years``: stocks' B3 trading calendar, 2019-2026) a day or year outside them is refused with the way
    to load a real file of that time instead (the generated BCB answers cover any date, so ``--date D --input FILE``
    runs for any D).

    Raises
    ------
    click.UsageError
        The asked year (or today's, in São Paulo) is outside the generated span.
    finlake.samples.registry.MissingAdapter
        The domain has no local-mode adapter.
    """
    from finlake.samples.registry import adapter

    sample = adapter(spec.name)
    if sample.offline_years is None:
        return
    first, last = sample.offline_years

    asked = f"--year {year}" if year else f"--date {day}" if day else f"today ({_today(today)})"
    asked_year = int(year) if year else (date.fromisoformat(day) if day else _today(today)).year
    if not first <= asked_year <= last:
        source = sample.offline_source
        raise click.UsageError(
            f"{asked}: local mode generates {source}'s answers for {first}-{last} only (it never fetches "
            f"{source}); give {source}'s file with `--date YYYY-MM-DD --input FILE`, or run on AWS with --aws"
        )


def check_range(spec: DomainSpec, start: str, end: str, *, today: date | None = None) -> tuple[str, str]:
    """``--from``/``--to`` of a backfill, in the domain's partition format, not in the future."""
    parse = parse_month if spec.partition == "month" else parse_date
    first, last = parse(start, "--from", today=today), parse(end, "--to", today=today)
    if first > last:
        raise click.UsageError(f"--from {start} is after --to {end}")
    return first, last
