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

Input formats (both published by the BNDES portal; docs/decisions/0011-text-encodings.md):

* the default CSV ("Baixar"): ``;`` delimiter, decimal comma with ``.`` thousands separators
  (``612.345,67``), dates ``dd/mm/yyyy``. Since February 2025 BNDES publishes it in windows-1252;
* "Outros formatos" (the CKAN DataStore dump): ``,`` delimiter, a DOT decimal and no thousands
  separator (``612345.67``), ISO dates (``2024-03-31T00:00:00``), UTF-8 with a BOM and a leading
  ``_id`` column (the DataStore's row number, dropped: it is not an account).

The delimiter is sniffed from the header (``csv.Sniffer``, ``;`` or ``,``) and decides the number
format: a ``;`` file is read as pt-BR, a ``,`` file as dot-decimal, so ``612345.67`` is never read
as pt-BR thousands. The text encoding is decided by :func:`functions.common.text.decode` (BOM,
valid UTF-8, the declared encoding, else charset-normalizer); a line that cannot be decoded
cleanly is quarantined with the reason, a file that is not text at all is rejected.

Money: values are ``Decimal`` quantized to 0.01 with ROUND_HALF_UP (the stored type is
decimal(20,2)). Whole-file problems raise :class:`FileRejected`; row problems go to quarantine
with a reason that names the line, the column and the offending value.

Rows (non-blank data lines) are accounted for by :func:`parse_balance_sheet`::

    rows_in == rows_valid + len(quarantined) + rows_duplicates

where ``rows_valid`` counts *source* rows that produced long rows, and ``rows_duplicates`` the
rows dropped as duplicates by the key (reference date, text attributes) with the same values as
an earlier line. Two lines with that key and different values contradict each other: both are
quarantined. A row with a date but no account value is quarantined too ("no account value").
Blank lines and lines of bare delimiters are not rows (``rows_empty`` counts them).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from functions.common.http import looks_like_html, snippet
from functions.common.ptbr import normalize_column, parse_ptbr_date, parse_ptbr_decimal
from functions.common.text import UndecodableText, decode

DELIMITERS = ";,"
MAX_QUARANTINE_SHARE = 0.10
DATE_PREFIXES = ("data", "dt", "periodo")
DATASTORE_ID = "_id"  # the CKAN DataStore's row number in "Outros formatos": not an account
CENT = Decimal("0.01")
NO_VALUE = "no account value"
_DOT_DECIMAL_RE = re.compile(r"^[+-]?[0-9]+(?:\.[0-9]+)?$")


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
    """One BNDES CSV parsed: long rows (reference date, attributes, account, value), the quarantined rows.

    ``rows_in`` counts the non-blank data lines, ``rows_valid`` those that produced long rows,
    ``rows_duplicates`` those dropped as duplicates and ``rows_empty`` the blank ones (the module doc's
    accounting). ``columns`` is the header as read (without CKAN's ``_id``), ``date_column`` the
    reference-date column, ``text_columns`` the attribute columns, ``account_columns`` the value
    columns; ``new_columns``/``missing_columns`` compare the header with the expected columns.
    ``delimiter``, ``number_format`` and ``encoding`` are what the file was read with.
    """

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
    rows_duplicates: int = 0
    delimiter: str = ";"
    number_format: str = "pt-BR"  # or "dot-decimal"
    encoding: str = "UTF-8"
    encoding_note: str = ""


# --------------------------------------------------------------------------- scalar parsers


def parse_dot_decimal(text: str) -> Decimal:
    """``"612345.67"`` or ``"-15330.00"`` (no thousands separator) -> Decimal; ValueError otherwise."""
    stripped = text.strip()
    if not _DOT_DECIMAL_RE.match(stripped):
        raise ValueError(f"not a dot-decimal number: {text!r}")
    value = Decimal(stripped)
    return value if value != 0 else abs(value)


_NUMBER_PARSERS = {"pt-BR": parse_ptbr_decimal, "dot-decimal": parse_dot_decimal}


# --------------------------------------------------------------------------- whole file


def _decode(content: bytes, declared: str | None) -> tuple[str, str, str, dict[int, str]]:
    """(text, encoding label, note, {line: reason} of undecodable lines) or FileRejected."""
    if not content.strip(b"\xef\xbb\xbf \t\r\n"):
        raise FileRejected("file is empty: expected a ';'- or ','-delimited CSV with a header line")
    if looks_like_html(content):
        raise FileRejected(f"expected a CSV, got an HTML page: {snippet(content)!r}")
    try:
        decoded = decode(content, declared=declared, where="file")
    except UndecodableText as exc:
        raise FileRejected(str(exc)) from exc
    return decoded.text, decoded.label, decoded.note, dict(decoded.bad_lines)


def _sniff_delimiter(first_line: str) -> str:
    try:
        return csv.Sniffer().sniff(first_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = max(("\t", "|"), key=first_line.count)
        guess = f"'{found}'" if first_line.count(found) else "no delimiter"
        raise FileRejected(
            f"expected a ';'- or ','-delimited CSV, found {guess} "
            f"(the header has a single column: {snippet(first_line)!r})"
        ) from None


def _split_fields(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter, quotechar='"', strict=True))


def _header(first_line: str, delimiter: str) -> tuple[list[str], list[str]]:
    """Returns (labels, normalised names) or raises FileRejected."""
    labels = [label.strip() for label in _split_fields(first_line, delimiter)] if first_line.strip() else []
    if len(labels) < 2:
        raise FileRejected(f"expected a delimited CSV header, found a single column: {snippet(first_line)!r}")
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


def _account_columns(records: list[list[str]], names: list[str], skip: set[int], number_format: str) -> list[int]:
    """Indexes of numeric columns: at least half of the non-empty values parse (all-empty counts)."""
    parse_number = _NUMBER_PARSERS[number_format]
    accounts = []
    for index in range(len(names)):
        if index in skip:
            continue
        values = [value for value in (record[index].strip() for record in records) if value]
        good = 0
        for value in values:
            try:
                parse_number(value)
            except ValueError:
                continue
            good += 1
        if 2 * good >= len(values):
            accounts.append(index)
    return accounts


@dataclass
class _Line:
    number: int
    raw: str
    fields: list[str]


def _read_lines(
    text: str, delimiter: str, undecodable: dict[int, str]
) -> tuple[str, list[_Line | QuarantinedRow | None]]:
    """Split into the header and, per data line, a _Line, a quarantine entry or None (blank)."""
    physical = text.split("\n")
    if physical and physical[-1] == "":
        physical.pop()  # the final newline does not open another line
    physical = [line.removesuffix("\r") for line in physical]
    out: list[_Line | QuarantinedRow | None] = []
    for number, raw in enumerate(physical[1:], start=2):
        if not raw.strip():
            out.append(None)
        elif number in undecodable:
            out.append(QuarantinedRow(number, f"line {number}: {undecodable[number]}", raw))
        else:
            try:
                out.append(_Line(number, raw, _split_fields(raw, delimiter)))
            except csv.Error as exc:
                out.append(QuarantinedRow(number, f"line {number}: malformed CSV ({exc})", raw))
    return physical[0].removeprefix("\ufeff"), out


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
    number_format: str


def _row_output(line: _Line, layout: _Layout, meta: tuple[str, str, str]) -> list[BalanceRow] | QuarantinedRow:
    standard, resource_name, resource_id = meta
    parse_number = _NUMBER_PARSERS[layout.number_format]
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
            values.append((index, parse_number(cell).quantize(CENT, rounding=ROUND_HALF_UP)))
        except ValueError:
            problems.append(f"column '{layout.names[index]}' value {cell!r} is not a {layout.number_format} number")
    if problems or reference is None:
        return QuarantinedRow(line.number, f"line {line.number}: " + "; ".join(problems), line.raw)
    if not values:
        return QuarantinedRow(line.number, f"line {line.number}: {NO_VALUE} (only the date and text columns)", line.raw)
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


def _deduplicate(outputs: list[list[BalanceRow]]) -> tuple[list[list[BalanceRow]], int, list[QuarantinedRow]]:
    """Drop exact duplicate rows and quarantine conflicting ones.

    Rows keyed by (reference date, attributes): a later row with the same values is a duplicate
    (dropped, counted); rows with the same key and different values are all quarantined.
    """
    groups: dict[tuple[date, str], list[list[BalanceRow]]] = {}
    for output in outputs:
        groups.setdefault((output[0].reference_date, output[0].attributes), []).append(output)
    kept: list[list[BalanceRow]] = []
    duplicates = 0
    conflicts: list[QuarantinedRow] = []
    for group in groups.values():
        contents = {tuple((r.account, r.value) for r in output) for output in group}
        if len(contents) == 1:
            kept.append(group[0])
            duplicates += len(group) - 1
            continue
        lines = [output[0].source_line for output in group]
        for output in group:
            others = ", ".join(str(n) for n in lines if n != output[0].source_line)
            reason = (
                f"line {output[0].source_line}: same reference date and attributes as line(s) {others} "
                "with different values"
            )
            conflicts.append(QuarantinedRow(output[0].source_line, reason, ""))
    return kept, duplicates, conflicts


def parse_balance_sheet(
    content: bytes,
    *,
    resource_name: str,
    resource_id: str,
    standard: str,
    expected_columns: list[str] | None = None,
    declared_encoding: str | None = None,
) -> ParseResult:
    """Parse one wide BNDES balance-sheet CSV into long rows plus quarantine (see module doc).

    ``declared_encoding``: what the source says (the CKAN resource's ``encoding``, the HTTP charset).
    """
    text, encoding, note, undecodable = _decode(content, declared_encoding)
    first_line = text.split("\n", 1)[0].removesuffix("\r").removeprefix("\ufeff")
    delimiter = _sniff_delimiter(first_line)
    number_format = "pt-BR" if delimiter == ";" else "dot-decimal"
    header_line, lines = _read_lines(text, delimiter, undecodable)
    labels, names = _header(header_line, delimiter)
    date_index = _date_column(names)
    skip = {date_index} | {i for i, label in enumerate(labels) if label == DATASTORE_ID}

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

    accounts = _account_columns([line.fields for line in usable], names, skip, number_format)
    if not accounts:
        how = (
            "a ';'-delimited file is read with a decimal comma"
            if delimiter == ";"
            else ("a ','-delimited file is read with a dot decimal, as the portal's 'Outros formatos'")
        )
        raise FileRejected(
            f"no numeric account columns: no column besides the date holds {number_format} numbers ({how}; {names})"
        )
    texts = [i for i in range(len(names)) if i not in skip and i not in accounts]
    layout = _Layout(labels, names, date_index, accounts, texts, number_format)

    outputs: list[list[BalanceRow]] = []
    for line in usable:
        output = _row_output(line, layout, (standard, resource_name, resource_id))
        if isinstance(output, QuarantinedRow):
            quarantined.append(output)
        else:
            outputs.append(output)
    raw_by_line = {line.number: line.raw for line in usable}
    kept, duplicates, conflicts = _deduplicate(outputs)
    quarantined += [QuarantinedRow(c.source_line, c.reason, raw_by_line[c.source_line]) for c in conflicts]

    rows_in = len(lines) - rows_empty
    bad = [q for q in quarantined if NO_VALUE not in q.reason]
    if rows_in and len(bad) > MAX_QUARANTINE_SHARE * rows_in:
        first = min(bad, key=lambda q: q.source_line)
        raise FileRejected(
            f"{len(bad)} of {rows_in} data rows quarantined (more than "
            f"{MAX_QUARANTINE_SHARE:.0%}); first: {first.reason}"
        )

    expected = [normalize_column(name) for name in expected_columns] if expected_columns is not None else None
    data_names = [name for i, name in enumerate(names) if labels[i] != DATASTORE_ID]
    rows = sorted(
        (row for output in kept for row in output), key=lambda row: (row.reference_date, row.source_line, row.account)
    )
    quarantined.sort(key=lambda q: q.source_line)
    return ParseResult(
        rows=rows,
        quarantined=quarantined,
        rows_in=rows_in,
        rows_valid=len(kept),
        rows_empty=rows_empty,
        columns=data_names,
        date_column=names[date_index],
        text_columns=[names[i] for i in texts],
        account_columns=[names[i] for i in accounts],
        new_columns=[name for name in data_names if name not in expected] if expected is not None else [],
        missing_columns=[name for name in expected if name not in data_names] if expected is not None else [],
        rows_duplicates=duplicates,
        delimiter=delimiter,
        number_format=number_format,
        encoding=encoding,
        encoding_note=note,
    )
