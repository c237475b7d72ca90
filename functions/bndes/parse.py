"""Parse and validate a BNDES balance-sheet CSV into the long (tidy) form.

The BNDES open-data portal publishes one CSV per year and accounting standard. The files are
*wide*: one reference-date column, zero or more text columns (``categoria`` ...) and one numeric
column per balance-sheet account. The column set differs between standards and years, so nothing
here hard-codes it:

* the date column is the first one whose normalised name starts with ``data``, ``dt`` or
  ``periodo``;
* a column is numeric (an account) when its non-empty values are pt-BR decimals. A minority of
  unparsable cells (fewer than half) does not turn an account into a text column: those rows are
  quarantined instead, so one typo cannot silently drop a whole account;
* every other column is a text attribute, carried on each long row as a JSON object.

Input format: UTF-8 (an optional BOM is ignored), ``;`` delimiter, decimal comma with ``.``
thousands separators, dates ``dd/mm/yyyy`` or ``yyyy-mm-dd`` (a trailing time is ignored).

Money: values are ``Decimal`` quantized to 0.01 with ROUND_HALF_UP (the stored type is
decimal(18,2)). Whole-file problems raise :class:`FileRejected`; row problems go to quarantine
with a reason that names the line, the column and the offending value.

Accounting rule kept by :func:`parse_balance_sheet`::

    rows_in == rows_valid + len(quarantined) + rows_empty

where ``rows_valid`` counts *source* rows that produced at least one long row, and ``rows_empty``
counts blank lines and rows without any account value.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from functions.common.http import looks_like_html, snippet
from functions.common.ptbr import normalize_column, parse_ptbr_date, parse_ptbr_decimal

DELIMITER = ";"
MAX_QUARANTINE_SHARE = 0.10
DATE_PREFIXES = ("data", "dt", "periodo")
CENT = Decimal("0.01")

_BOM = "\ufeff"


class FileRejected(ValueError):
    """The whole file is unusable (encoding, delimiter, header, too many bad rows)."""


@dataclass(frozen=True)
class BalanceRow:
    """One account value of one source row (long form)."""

    reference_date: date
    accounting_standard: str
    resource_name: str
    resource_id: str
    source_line: int
    account: str
    account_label: str
    value: Decimal
    attributes: str


@dataclass(frozen=True)
class QuarantinedRow:
    """A source row kept aside, with the reason and the raw line text."""

    source_line: int
    reason: str
    raw_line: str


@dataclass
class ParseResult:
    rows: list[BalanceRow]
    quarantined: list[QuarantinedRow]
    rows_in: int
    rows_valid: int
    rows_empty: int
    columns: list[str]
    date_column: str
    text_columns: list[str] = field(default_factory=list)
    account_columns: list[str] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- scalar parsers


# --------------------------------------------------------------------------- whole file


def _decode(content: bytes) -> str:
    if not content.strip(b"\xef\xbb\xbf \t\r\n"):
        raise FileRejected("file is empty: expected a ';'-delimited CSV with a header line")
    if looks_like_html(content):
        raise FileRejected(f"expected a ';'-delimited CSV, got an HTML page: {snippet(content)!r}")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = content[exc.start : exc.start + 1].hex()
        around = content[max(0, exc.start - 20) : exc.start + 20].decode("utf-8", "replace")
        raise FileRejected(
            f"file is not valid UTF-8: byte 0x{bad} at offset {exc.start} (near {around!r}); "
            "latin-1/cp1252 exports must be re-encoded to UTF-8"
        ) from exc
    return text.removeprefix(_BOM)


def _split_fields(line: str) -> list[str]:
    return next(csv.reader([line], delimiter=DELIMITER, quotechar='"'))


def _header(first_line: str) -> tuple[list[str], list[str]]:
    """Returns (labels, normalised names) or raises FileRejected."""
    labels = [label.strip() for label in _split_fields(first_line)] if first_line.strip() else []
    if len(labels) < 2:
        found = max((",", "\t", "|"), key=first_line.count)
        guess = f"'{found}'" if first_line.count(found) else "no delimiter"
        raise FileRejected(
            f"expected ';'-delimited CSV, found {guess} (the header has a single column: {snippet(first_line)!r})"
        )
    names = [normalize_column(label) or f"col_{i}" for i, label in enumerate(labels, start=1)]
    seen: dict[str, list[str]] = {}
    for name, label in zip(names, labels, strict=True):
        seen.setdefault(name, []).append(label)
    duplicates = {name: group for name, group in seen.items() if len(group) > 1}
    if duplicates:
        listed = "; ".join(f"{name!r} (from {', '.join(map(repr, group))})" for name, group in duplicates.items())
        raise FileRejected(f"duplicate column names after normalisation: {listed}")
    return labels, names


def _date_column(names: list[str]) -> int:
    for index, name in enumerate(names):
        if name.startswith(DATE_PREFIXES):
            return index
    raise FileRejected(
        f"no date column: expected a column named like 'data', 'data_base', 'dt_referencia' or 'periodo'; found {names}"
    )


def _is_number(text: str) -> bool:
    try:
        parse_ptbr_decimal(text)
    except ValueError:
        return False
    return True


def _account_columns(records: list[list[str]], names: list[str], date_index: int) -> list[int]:
    """Indexes of numeric columns: at least half of the non-empty values parse (all-empty counts)."""
    accounts = []
    for index in range(len(names)):
        if index == date_index:
            continue
        values = [record[index].strip() for record in records]
        values = [value for value in values if value]
        good = sum(1 for value in values if _is_number(value))
        if 2 * good >= len(values):
            accounts.append(index)
    return accounts


@dataclass
class _Line:
    number: int
    raw: str
    fields: list[str]


def _read_lines(text: str) -> tuple[str, list[_Line | QuarantinedRow | None]]:
    """Split into the header and, per data line, a _Line, a quarantine entry or None (blank)."""
    physical = text.split("\n")
    if physical and physical[-1] == "":
        physical.pop()  # the final newline does not open another line
    physical = [line.removesuffix("\r") for line in physical]
    out: list[_Line | QuarantinedRow | None] = []
    for number, raw in enumerate(physical[1:], start=2):
        if not raw.strip():
            out.append(None)
            continue
        try:
            out.append(_Line(number, raw, _split_fields(raw)))
        except csv.Error as exc:
            out.append(QuarantinedRow(number, f"line {number}: malformed CSV ({exc})", raw))
    return physical[0], out


def _fit_width(line: _Line, width: int) -> QuarantinedRow | None:
    """Drop trailing empty extra fields (a trailing ';'); quarantine other width mismatches."""
    while len(line.fields) > width and not line.fields[-1].strip():
        line.fields.pop()
    if len(line.fields) != width:
        reason = f"line {line.number}: expected {width} fields, found {len(line.fields)}"
        return QuarantinedRow(line.number, reason, line.raw)
    return None


@dataclass
class _Layout:
    labels: list[str]
    names: list[str]
    date_index: int
    accounts: list[int]
    texts: list[int]


def _row_output(line: _Line, layout: _Layout, meta: tuple[str, str, str]) -> list[BalanceRow] | QuarantinedRow:
    standard, resource_name, resource_id = meta
    problems = []
    date_name = layout.names[layout.date_index]
    date_text = line.fields[layout.date_index].strip()
    reference: date | None = None
    if not date_text:
        problems.append(f"column '{date_name}' is empty (expected a date)")
    else:
        try:
            reference = parse_ptbr_date(date_text)
        except ValueError:
            problems.append(
                f"column '{date_name}' value {date_text!r} is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"
            )
    values: list[tuple[int, Decimal]] = []
    for index in layout.accounts:
        cell = line.fields[index].strip()
        if not cell:
            continue
        try:
            values.append((index, parse_ptbr_decimal(cell).quantize(CENT, rounding=ROUND_HALF_UP)))
        except ValueError:
            problems.append(f"column '{layout.names[index]}' value {cell!r} is not a pt-BR number")
    if problems or reference is None:
        return QuarantinedRow(line.number, f"line {line.number}: " + "; ".join(problems), line.raw)
    attributes = json.dumps(
        {layout.names[i]: line.fields[i].strip() for i in layout.texts},
        sort_keys=True,
        ensure_ascii=False,
    )
    return [
        BalanceRow(
            reference_date=reference,
            accounting_standard=standard,
            resource_name=resource_name,
            resource_id=resource_id,
            source_line=line.number,
            account=layout.names[index],
            account_label=layout.labels[index],
            value=value,
            attributes=attributes,
        )
        for index, value in values
    ]


def parse_balance_sheet(
    content: bytes,
    *,
    resource_name: str,
    resource_id: str,
    standard: str,
    expected_columns: list[str] | None = None,
) -> ParseResult:
    """Parse one wide BNDES balance-sheet CSV into long rows plus quarantine (see module doc)."""
    text = _decode(content)
    header_line, lines = _read_lines(text)
    labels, names = _header(header_line)
    date_index = _date_column(names)

    quarantined: list[QuarantinedRow] = []
    rows_empty = 0
    usable: list[_Line] = []
    for entry in lines:
        if entry is None:
            rows_empty += 1
        elif isinstance(entry, QuarantinedRow):
            quarantined.append(entry)
        elif all(not value.strip() for value in entry.fields):
            rows_empty += 1  # a line of bare delimiters
        elif (problem := _fit_width(entry, len(names))) is not None:
            quarantined.append(problem)
        else:
            usable.append(entry)

    accounts = _account_columns([line.fields for line in usable], names, date_index)
    if not accounts:
        raise FileRejected(f"no numeric account columns: no column besides the date holds pt-BR numbers ({names})")
    texts = [i for i in range(len(names)) if i != date_index and i not in accounts]
    layout = _Layout(labels, names, date_index, accounts, texts)

    rows: list[BalanceRow] = []
    rows_valid = 0
    for line in usable:
        output = _row_output(line, layout, (standard, resource_name, resource_id))
        if isinstance(output, QuarantinedRow):
            quarantined.append(output)
        elif output:
            rows.extend(output)
            rows_valid += 1
        else:
            rows_empty += 1  # a date but no account value: a placeholder row

    rows_in = len(lines)
    non_empty = rows_in - rows_empty
    if non_empty and len(quarantined) > MAX_QUARANTINE_SHARE * non_empty:
        first = min(quarantined, key=lambda q: q.source_line)
        raise FileRejected(
            f"{len(quarantined)} of {non_empty} data rows quarantined (more than "
            f"{MAX_QUARANTINE_SHARE:.0%}); first: {first.reason}"
        )

    expected = [normalize_column(name) for name in expected_columns] if expected_columns is not None else None
    rows.sort(key=lambda row: (row.reference_date, row.source_line, row.account))
    quarantined.sort(key=lambda q: q.source_line)
    return ParseResult(
        rows=rows,
        quarantined=quarantined,
        rows_in=rows_in,
        rows_valid=rows_valid,
        rows_empty=rows_empty,
        columns=names,
        date_column=names[date_index],
        text_columns=[names[i] for i in texts],
        account_columns=[names[i] for i in accounts],
        new_columns=[name for name in names if name not in expected] if expected is not None else [],
        missing_columns=[name for name in expected if name not in names] if expected is not None else [],
    )
