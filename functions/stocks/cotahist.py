"""Parse B3 COTAHIST files ("SeriesHistoricas" layout) into an exact, typed Arrow table.

Layout (B3 "SeriesHistoricas_Layout", revision 02): fixed-width records of 245 bytes, latin-1,
CRLF or LF line ends (the last line with or without one; trailing blank lines are ignored).

* header, type ``00``: ``COTAHIST.AAAA`` at 3-15, origin at 16-23 (``BOVESPA ``, not enforced),
  generation date ``YYYYMMDD`` at 24-31 (returned as ``header_date``);
* quotes, type ``01``: the fields listed in :data:`FIELDS` (1-based, inclusive);
* trailer, type ``99``: TOTREG at 32-42. The layout says it counts every line INCLUDING header and
  trailer, and the daily files do (the real 25/06/2021 file: 7,518 records, TOTREG 7,520); the
  yearly files B3 publishes now count the quote records only. Both are accepted
  (``trailer_convention`` "lines" or "records"); a count that matches neither rejects the file.

Exactness: nothing goes through a binary float. Prices (PREABE..PREOFV, PREEXE) carry two implied
decimals and are quoted per FATCOT shares (1 = per share, 1000 = per lot of 1,000); the table holds
them PER SHARE as ``decimal(22,8)``, computed as ``raw * 10**6 // FATCOT`` on integers. A record
whose division is not exact at 8 decimals is quarantined (it never happens with B3's factors,
which are powers of ten). VOLTOT is BRL with 2 decimals (``decimal(20,2)``), PTOEXE has 7 integer
and 6 decimal digits (``decimal(22,6)``). DATVEN ``99991231`` (no expiration) becomes null.

Speed: no Python loop over records. When every line has the same length (the normal case) the
records are read in place, as a strided view of the bytes with the line end as stride; otherwise
lines are split once and the 245-byte ones joined. Records go through in chunks of 16k rows.
Numbers are read eight digits at a time: each numeric field is covered by 64-bit words that a few
integer operations check (all digits?) and convert (see "vectorised fields" below); text fields
get a probe, eight bytes at a time, for anything outside printable ASCII, and only the rows it
flags (latin-1 letters, control bytes) get the exact byte-by-byte check. Dates are a table
lookup. Text fields are copied out of the chunk, transcoded latin-1 -> UTF-8 (only when a byte is
>= 0x80) and trimmed inside Arrow. Reasons are written only for the few bad rows, by the
record-by-record checks of :func:`_reason`. Written by hand on NumPy because no library reads
fixed-width records with a verdict per row: Arrow's string-to-number cast fails the whole column
on one bad value, polars' turns it into a null without a reason, and pandas.read_fwf is 40x
slower without any check
(BENCHMARKS.md measures b3cotahist, b3fileparser and read_fwf on the same file).

Errors: a file that cannot be trusted as a whole raises :class:`FileRejected` (empty, not text,
bad header, TOTREG mismatch, more than 1% bad records) or :class:`TruncatedFile` (no trailer,
as with the current year's file); a bad record goes to quarantine with its line number, a reason
and its raw text: wrong length, a type other than 01, a non-digit in a numeric field, an invalid
date, FATCOT 0, an inexact per-share price, or a control character in a text field (a stray CR,
LF or NUL, DEL, or a C1 byte 0x80-0x9F: not latin-1 text, so it is not decoded into mojibake).
Lines are counted by LF; on the fast path a stray LF inside a record cannot move the record grid,
so such a record is quarantined rather than split.

Kept invariant: ``records_in == table.num_rows + len(quarantined)``, where ``records_in``
counts the lines between header and trailer (all are expected to be type 01).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RECORD_LENGTH = 245
MAX_BAD_SHARE = 0.01
NO_EXPIRATION = 99991231
CHUNK_ROWS = 1 << 14

# name: (first, last) byte, 1-based inclusive, as in the B3 layout.
FIELDS: dict[str, tuple[int, int]] = {
    "TIPREG": (1, 2),
    "DATA": (3, 10),
    "CODBDI": (11, 12),
    "CODNEG": (13, 24),
    "TPMERC": (25, 27),
    "NOMRES": (28, 39),
    "ESPECI": (40, 49),
    "PRAZOT": (50, 52),
    "MODREF": (53, 56),
    "PREABE": (57, 69),
    "PREMAX": (70, 82),
    "PREMIN": (83, 95),
    "PREMED": (96, 108),
    "PREULT": (109, 121),
    "PREOFC": (122, 134),
    "PREOFV": (135, 147),
    "TOTNEG": (148, 152),
    "QUATOT": (153, 170),
    "VOLTOT": (171, 188),
    "PREEXE": (189, 201),
    "INDOPC": (202, 202),
    "DATVEN": (203, 210),
    "FATCOT": (211, 217),
    "PTOEXE": (218, 230),
    "CODISI": (231, 242),
    "DISMES": (243, 245),
}
PRICE_FIELDS = {
    "PREABE": "open",
    "PREMAX": "high",
    "PREMIN": "low",
    "PREMED": "avg_price",
    "PREULT": "close",
    "PREOFC": "best_bid",
    "PREOFV": "best_ask",
    "PREEXE": "strike",
}
NUMERIC_FIELDS = (
    "DATA",
    *PRICE_FIELDS,
    "TOTNEG",
    "QUATOT",
    "VOLTOT",
    "INDOPC",
    "DATVEN",
    "FATCOT",
    "PTOEXE",
    "DISMES",
)
PRICE_TYPE = pa.decimal128(22, 8)
VOLUME_TYPE = pa.decimal128(20, 2)
STRIKE_POINTS_TYPE = pa.decimal128(22, 6)

QUOTES_SCHEMA = pa.schema(
    [
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("dt_ref", pa.date32(), nullable=False),
        pa.field("bdi_code", pa.string(), nullable=False),
        pa.field("market_type", pa.string(), nullable=False),
        pa.field("short_name", pa.string(), nullable=False),
        pa.field("specification", pa.string(), nullable=False),
        pa.field("term_days", pa.string()),
        pa.field("currency", pa.string(), nullable=False),
        *(pa.field(name, PRICE_TYPE, nullable=False) for name in list(PRICE_FIELDS.values())[:7]),
        pa.field("trades", pa.int32(), nullable=False),
        pa.field("quantity", pa.int64(), nullable=False),
        pa.field("volume", VOLUME_TYPE, nullable=False),
        pa.field("strike", PRICE_TYPE, nullable=False),
        pa.field("option_correction", pa.int8(), nullable=False),
        pa.field("expiration", pa.date32()),
        pa.field("quote_factor", pa.int32(), nullable=False),
        pa.field("strike_points", STRIKE_POINTS_TYPE, nullable=False),
        pa.field("isin", pa.string(), nullable=False),
        pa.field("distribution", pa.int16(), nullable=False),
        pa.field("source_line", pa.int32(), nullable=False),
    ]
)

# (column, field, strip mode): "both" trims spaces on both sides, "right" only trailing, "" keeps.
_TEXT_COLUMNS = (
    ("ticker", "CODNEG", "both"),
    ("bdi_code", "CODBDI", ""),
    ("market_type", "TPMERC", ""),
    ("short_name", "NOMRES", "right"),
    ("specification", "ESPECI", "right"),
    ("term_days", "PRAZOT", "both"),
    ("currency", "MODREF", "both"),
    ("isin", "CODISI", "both"),
)


class CotahistError(ValueError):
    """Base class of every error this module raises on bad input."""


class TruncatedFile(CotahistError):
    """The file ends without a trailer (type 99): B3 publishes the current year like this."""


class FileRejected(CotahistError):
    """The whole file is unusable (empty, not text, bad header, TOTREG mismatch, too many bad records)."""


@dataclass(frozen=True)
class BadRecord:
    """A COTAHIST record set aside: its physical line number (from 1), why, and its text."""

    line: int
    reason: str
    raw: str


@dataclass
class ParsedCotahist:
    """A parsed COTAHIST file (B3 "Séries Históricas" layout, 245-byte records).

    ``table`` holds the kept quotes (prices decimal(22,8) per share, ``source_line`` the physical line);
    ``quarantined`` the bad records; ``header_date`` the file's generation date from the header;
    ``records_in`` the body records read; ``trailer_total`` the trailer's TOTREG and ``trailer_convention``
    whether it counted every line ("lines") or the records only ("records").
    """

    table: pa.Table
    quarantined: list[BadRecord]
    file_name: str
    header_date: date
    records_in: int
    trailer_total: int
    trailer_convention: str = "lines"  # TOTREG counts: "lines" (header and trailer too) or "records"


# --------------------------------------------------------------------------- line framing


@dataclass
class _Lines:
    """The framed lines of a COTAHIST file: header, trailer and where the body records lie.

    Body records: ``count`` rows of 245 bytes at ``offset + i * stride`` in ``buffer``, their
    physical line numbers, and the odd-length lines (kept aside as bytes).
    """

    header: bytes
    trailer: bytes
    total: int  # physical lines, header and trailer included
    buffer: bytes
    offset: int
    stride: int
    count: int
    line_numbers: np.ndarray
    odd: list[tuple[int, bytes]]

    @property
    def rows(self) -> np.ndarray:
        """The records as a read-only (count, 245) uint8 view of ``buffer`` (no copy)."""
        if not self.count:
            return np.empty((0, RECORD_LENGTH), dtype=np.uint8)
        base = np.frombuffer(self.buffer, dtype=np.uint8)[self.offset :]
        return np.lib.stride_tricks.as_strided(
            base, shape=(self.count, RECORD_LENGTH), strides=(self.stride, 1), writeable=False
        )

    def words(self) -> np.ndarray:
        """A read-only (count, 238) uint64 view: [i, j] is the little-endian word of record i's bytes j..j+7."""
        return np.ndarray(
            (self.count, RECORD_LENGTH - 7),
            dtype="<u8",
            buffer=self.buffer,
            offset=self.offset,
            strides=(self.stride, 1),
        )


def _content_end(data: bytes) -> int:
    end = len(data)
    while end and data[end - 1] in (10, 13):
        end -= 1
    return end


def _frame_regular(data: bytes, end: int) -> _Lines | None:
    """Zero-copy framing when all lines have 245 bytes and the same line end; None otherwise."""
    first_nl = data.find(b"\n", 0, min(end, RECORD_LENGTH + 2))
    if first_nl == RECORD_LENGTH:
        eol = b"\n"
    elif first_nl == RECORD_LENGTH + 1 and data[RECORD_LENGTH] == 13:
        eol = b"\r\n"
    else:
        return None
    stride = RECORD_LENGTH + len(eol)
    if (end + len(eol)) % stride:
        return None
    n = (end + len(eol)) // stride
    if n < 2:
        return None
    buf = np.frombuffer(data, dtype=np.uint8, count=end)
    ends = np.lib.stride_tricks.as_strided(
        buf[RECORD_LENGTH:], shape=(n - 1, len(eol)), strides=(stride, 1), writeable=False
    )
    if not (ends == np.frombuffer(eol, dtype=np.uint8)).all():
        return None
    last = (n - 1) * stride
    return _Lines(
        header=data[:RECORD_LENGTH],
        trailer=data[last : last + RECORD_LENGTH],
        total=n,
        buffer=data,
        offset=stride,
        stride=stride,
        count=n - 2,
        line_numbers=np.arange(2, n, dtype=np.int64),
        odd=[],
    )


def _frame_split(data: bytes, end: int) -> _Lines:
    """General framing: split on LF, drop a CR before it, join the 245-byte body lines."""
    lines = data[:end].split(b"\n")
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    body = lines[1:-1]
    good = [i for i, line in enumerate(body) if len(line) == RECORD_LENGTH]
    odd = [(i + 2, line) for i, line in enumerate(body) if len(line) != RECORD_LENGTH]
    return _Lines(
        header=lines[0],
        trailer=lines[-1] if len(lines) > 1 else b"",
        total=len(lines),
        buffer=b"".join(body[i] for i in good),
        offset=0,
        stride=RECORD_LENGTH,
        count=len(good),
        line_numbers=np.asarray(good, dtype=np.int64) + 2,
        odd=odd,
    )


# --------------------------------------------------------------------------- vectorised fields
#
# Numbers are read eight digits at a time ("SWAR": SIMD within a register). Each numeric field is
# covered by 64-bit little-endian words that end on its last byte (a 13-digit price: a word of 8
# digits and one of 5 whose first 3 bytes belong to the field before and are masked out). For a
# word v of ASCII digits d0..d7 (d0 most significant, in the lowest byte):
#   x = v - 0x3030..30                       each byte is its digit 0..9
#   x is all digits  <=>  (x | (x + 0x7676..76)) & 0x8080..80 == 0
#   x = (x * (1 + (10 << 8))) >> 8 & 0x00FF00FF00FF00FF       pairs   d0*10 + d1 ...
#   x = (x * (1 + (100 << 16))) >> 16 & 0x0000FFFF0000FFFF    quads   ...
#   x = (x * (1 + (10000 << 32))) >> 32                       the 8-digit value
# (the products overflow into higher lanes only, which the masks drop). The masked-out bytes are
# subtracted 0 rather than '0', so they never borrow. The check is exact: the lowest bad byte of
# a word either borrows (becomes >= 0x80) or is 0x0A..0xCF after the subtraction, and nothing
# carries into it from the valid bytes below. A digit-by-digit loop in NumPy would cost ~200
# vector operations per record: it was the parser's hot spot (see BENCHMARKS.md).

_U = np.uint64
_ASCII_ZEROS = 0x3030303030303030


def _field_words(field: str) -> list[tuple[int, int]]:
    """(0-based start byte, digits) of the words covering ``field``, least significant first."""
    first, last = FIELDS[field]
    length = last - first + 1
    return [(last - 8 * (j + 1), min(8, length - 8 * j)) for j in range((length + 7) // 8)]


_NUMBER_WORDS: dict[str, list[int]] = {}  # field -> indexes into _WORD_STARTS, least significant first
_WORD_STARTS: list[int] = []
_WORD_SUBTRAHEND: list[int] = []
_WORD_KEEP: list[int] = []
for _name in NUMERIC_FIELDS:
    _NUMBER_WORDS[_name] = []
    for _start, _digits in _field_words(_name):
        _keep = ((1 << (8 * _digits)) - 1) << (8 * (8 - _digits))  # the field's bytes are the high ones
        _NUMBER_WORDS[_name].append(len(_WORD_STARTS))
        _WORD_STARTS.append(_start)
        _WORD_SUBTRAHEND.append(_ASCII_ZEROS & _keep)
        _WORD_KEEP.append(_keep)
_STARTS = np.array(_WORD_STARTS, dtype=np.intp)
_SUBTRAHEND = np.array(_WORD_SUBTRAHEND, dtype=np.uint64)
_KEEP = np.array(_WORD_KEEP, dtype=np.uint64)
_NOT_DIGIT_PROBE = (_U(0x7676767676767676), _U(0x8080808080808080))
_SWAR_STEPS = (
    (_U(1 + (10 << 8)), _U(8), _U(0x00FF00FF00FF00FF)),
    (_U(1 + (100 << 16)), _U(16), _U(0x0000FFFF0000FFFF)),
    (_U(1 + (10000 << 32)), _U(32), _U(0xFFFFFFFF)),
)
# Text checked for control characters: bytes 11-56 (CODBDI..MODREF) and 231-242 (CODISI). The
# fast check looks at 8 bytes at a time whether all are printable ASCII (0x20-0x7E):
#   some byte < 0x20   <=>  (w - 0x2020..20) & ~w & 0x8080..80 != 0
#   some byte > 0x7E   <=>  ((w + 0x0101..01) | w) & 0x8080..80 != 0
# (exact as a yes/no per word: a borrow or carry only starts at a byte that is itself flagged).
# Only the rows it flags, those with latin-1 letters or worse, get the exact byte-by-byte check.
_TEXT_SPANS = ((FIELDS["CODBDI"][0], FIELDS["MODREF"][1]), FIELDS["CODISI"])
_TEXT_STARTS = np.array(
    sorted({start for first, last in _TEXT_SPANS for start in [*range(first - 1, last - 8, 8), last - 8]}),
    dtype=np.intp,
)
_PRINTABLE_PROBE = (_U(0x2020202020202020), _U(0x0101010101010101), _U(0x8080808080808080))
_CONTROL_BYTE = np.zeros(256, dtype=bool)  # C0 controls, DEL and C1 (0x80-0x9F): not latin-1 text
_CONTROL_BYTE[:32] = True
_CONTROL_BYTE[0x7F:0xA0] = True


def _control_rows(rows: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Mask of the rows with a control character in a text field (see above)."""
    w = words[:, _TEXT_STARTS]
    low, one, high = _PRINTABLE_PROBE
    probe = w - low
    probe &= ~w
    probe |= w
    probe |= w + one
    probe &= high
    flagged = np.flatnonzero(np.bitwise_or.reduce(probe, axis=1))
    bad = np.zeros(len(rows), dtype=bool)
    for first, last in _TEXT_SPANS:
        bad[flagged] |= _CONTROL_BYTE[rows[flagged, first - 1 : last]].any(axis=1)
    return bad


def _swar_numbers(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gathered (k, w) words of digits -> (their 8-digit values, rows with a non-digit), in place."""
    x = words
    x -= _SUBTRAHEND
    x &= _KEEP
    probe = x + _NOT_DIGIT_PROBE[0]
    probe |= x
    probe &= _NOT_DIGIT_PROBE[1]
    bad = np.bitwise_or.reduce(probe, axis=1) != 0
    for factor, shift, mask in _SWAR_STEPS:
        x *= factor
        x >>= shift
        x &= mask
    return x, bad


def _field_value(values: np.ndarray, field: str) -> np.ndarray:
    """uint64 value of ``field`` from the per-word values of :func:`_swar_numbers`."""
    indexes = _NUMBER_WORDS[field]
    number = values[:, indexes[0]].copy()
    for power, index in enumerate(indexes[1:], start=1):
        number += values[:, index] * _U(10 ** (8 * power))
    return number


def _civil_days(ymd: np.ndarray) -> np.ndarray:
    """YYYYMMDD integers of valid dates -> days since 1970-01-01 (used to build the lookup tables)."""
    y, m, d = ymd // 10000, ymd // 100 % 100, ymd % 100
    yy = y - (m <= 2)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_YEARS = np.arange(10_000, dtype=np.int64)
_LEAP = ((_YEARS % 4 == 0) & ((_YEARS % 100 != 0) | (_YEARS % 400 == 0))).astype(np.int64)
_YEAR_START = _civil_days(np.maximum(_YEARS, 1) * 10000 + 101)  # days of 1 January (year 0 unused)
_MONTH_DAYS = np.array(
    [[0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]],
    dtype=np.int64,
)
_MONTH_START = np.concatenate([[[0], [0]], np.cumsum(_MONTH_DAYS, axis=1)[:, :-1]], axis=1)[:, :13]


def _dates(ymd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YYYYMMDD values (uint64, any value) -> (days since 1970-01-01, valid, is 99991231)."""
    ymd = np.minimum(ymd, _U(99_999_999)).astype(np.int64)
    year, month_day = np.divmod(ymd, 10_000)
    month, day = np.divmod(month_day, 100)
    m = np.minimum(month, 12)
    leap = _LEAP[year]
    valid = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= _MONTH_DAYS[leap, m])
    days = _YEAR_START[year] + _MONTH_START[leap, m] + day - 1
    return days, valid, ymd == NO_EXPIRATION


def _per_share(raw: np.ndarray, factor: np.ndarray, unit: bool) -> tuple[np.ndarray, np.ndarray]:
    """Raw price (2 decimals, per FATCOT shares) -> (unscaled decimal(.,8) per share, inexact mask)."""
    scaled = raw * _POW10_U64
    inexact = np.zeros(len(raw), dtype=bool)
    if unit:
        return scaled, inexact
    lots = np.flatnonzero(factor != 1)  # few rows: divide only those
    safe = np.maximum(factor[lots], _U(1))
    inexact[lots] = (scaled[lots] % safe) != 0
    scaled[lots] //= safe
    return scaled, inexact


_POW10_U64 = _U(10**6)
_DECIMAL_COLUMNS = {
    **dict.fromkeys(PRICE_FIELDS.values(), PRICE_TYPE),
    "volume": VOLUME_TYPE,
    "strike_points": STRIKE_POINTS_TYPE,
}
_INT_COLUMNS: dict[str, tuple[str, type]] = {  # column: (field, stored type)
    "trades": ("TOTNEG", np.int32),
    "quantity": ("QUATOT", np.int64),
    "option_correction": ("INDOPC", np.int8),
    "quote_factor": ("FATCOT", np.int32),
    "distribution": ("DISMES", np.int16),
}


def _allocate(n: int) -> dict[str, np.ndarray]:
    """Empty output buffers for ``n`` parsed rows.

    Output buffers for n rows, filled chunk by chunk: decimals as (n, 2) little-endian words
    (high word 0: every value is non-negative), integers and days in their final types, text
    fields as (n, width) bytes.
    """
    store: dict[str, np.ndarray] = {name: np.zeros((n, 2), dtype=np.uint64) for name in _DECIMAL_COLUMNS}
    store |= {name: np.empty(n, dtype=dtype) for name, (_, dtype) in _INT_COLUMNS.items()}
    store |= {name: np.empty(n, dtype=np.int32) for name in ("dt_ref", "expiration")}
    store["no_expiration"] = np.empty(n, dtype=np.bool_)
    for _, field, _ in _TEXT_COLUMNS:
        first, last = FIELDS[field]
        store[field] = np.empty((n, last - first + 1), dtype=np.uint8)
    return store


def _parse_chunk(lines: _Lines, start: int, stop: int, store: dict[str, np.ndarray]) -> np.ndarray:
    """Convert body rows start..stop into ``store[start:stop]`` and return their bad-row mask, all vectorised."""
    rows = lines.rows[start:stop]
    words = lines.words()[start:stop]
    bad = words[:, 0] & _U(0xFFFF) != _U(0x3130)  # TIPREG "01"
    bad |= _control_rows(rows, words)  # a stray CR/LF/NUL, DEL or C1 in a text field
    values, not_digits = _swar_numbers(words[:, _STARTS])
    bad |= not_digits
    raw = {name: _field_value(values, name) for name in NUMERIC_FIELDS}
    days, valid, _ = _dates(raw["DATA"])
    store["dt_ref"][start:stop] = days
    bad |= ~valid
    days, valid, no_exp = _dates(raw["DATVEN"])
    store["expiration"][start:stop] = days
    store["no_expiration"][start:stop] = no_exp
    bad |= ~(valid | no_exp)
    factor = raw["FATCOT"]
    bad |= factor == 0
    unit = bool((factor == 1).all())
    for field, column in PRICE_FIELDS.items():
        store[column][start:stop, 0], inexact = _per_share(raw[field], factor, unit)
        bad |= inexact
    for column, field in (("volume", "VOLTOT"), ("strike_points", "PTOEXE")):
        store[column][start:stop, 0] = raw[field]
    for column, (field, _) in _INT_COLUMNS.items():
        store[column][start:stop] = raw[field]
    for _, field, _ in _TEXT_COLUMNS:  # copied while the chunk is in cache
        first, last = FIELDS[field]
        store[field][start:stop] = rows[:, first - 1 : last]
    return bad


def _decimal_array(words: np.ndarray, type_: pa.DataType) -> pa.Array:
    """(n, 2) uint64 little-endian words -> decimal128 array (zero copy)."""
    return pa.Array.from_buffers(type_, len(words), [None, pa.py_buffer(np.ascontiguousarray(words))])


def _date_array(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(days.astype(np.int32, copy=False), type=pa.int32(), mask=null).view(pa.date32())


def _latin1_strings(block: np.ndarray) -> pa.StringArray:
    """A (k, w) matrix of latin-1 bytes -> one UTF-8 string per row (bytes >= 0x80 become 2 bytes)."""
    k, width = block.shape
    flat = np.ascontiguousarray(block).reshape(-1)
    if not len(flat) or flat.max() < 0x80:
        offsets = np.arange(0, (k + 1) * width, width, dtype=np.int32)
        return pa.StringArray.from_buffers(k, pa.py_buffer(offsets), pa.py_buffer(flat))
    high = flat >= 0x80
    extra = high.astype(np.int64)
    position = np.arange(len(flat), dtype=np.int64) + np.cumsum(extra) - extra
    out = np.empty(len(flat) + int(extra.sum()), dtype=np.uint8)
    out[position] = np.where(high, 0xC0 | (flat >> 6), flat)
    out[position[high] + 1] = 0x80 | (flat[high] & 0x3F)
    lengths = width + extra.reshape(k, width).sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.StringArray.from_buffers(k, pa.py_buffer(offsets), pa.py_buffer(out))


def _text_column(block: np.ndarray, strip: str, blank_is_null: bool) -> pa.Array:
    strings = _latin1_strings(block)
    if strip == "both":
        strings = pc.utf8_trim(strings, characters=" ")
    elif strip == "right":
        strings = pc.utf8_rtrim(strings, characters=" ")
    if blank_is_null:  # the validity bitmap from the bytes: far cheaper than a string comparison
        leading = np.zeros(strings.offset, dtype=bool)  # 0 in practice: the bitmap starts where the offsets do
        valid = np.packbits(np.concatenate([leading, (block != 32).any(axis=1)]), bitorder="little")
        _, offsets, data = strings.buffers()
        strings = pa.Array.from_buffers(
            pa.string(), len(strings), [pa.py_buffer(valid), offsets, data], offset=strings.offset
        )
    return strings


# --------------------------------------------------------------------------- reasons (bad rows only)


def _field_text(raw: bytes, name: str) -> str:
    first, last = FIELDS[name]
    return raw[first - 1 : last].decode("latin-1")


def _valid_ymd(text: str) -> bool:
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return True


def _shape_reason(raw: bytes, line: int) -> str | None:
    if len(raw) != RECORD_LENGTH:
        return f"line {line}: length {len(raw)}, expected {RECORD_LENGTH}"
    kind = _field_text(raw, "TIPREG")
    if kind in ("00", "99"):
        return f"line {line}: record type '{kind}' ({'header' if kind == '00' else 'trailer'}) inside the file"
    if kind != "01":
        return f"line {line}: unknown record type '{kind}'"
    for name in NUMERIC_FIELDS:
        text = _field_text(raw, name)
        if not (text.isascii() and text.isdigit()):
            return f"line {line}: {name} '{text}' is not numeric"
    for name in ("CODBDI", "CODNEG", "TPMERC", "NOMRES", "ESPECI", "PRAZOT", "MODREF", "CODISI"):
        text = _field_text(raw, name)
        if any(ch < " " for ch in text):
            return f"line {line}: {name} {text!r} contains a control character"
        if c1 := next((ch for ch in text if "\x7f" <= ch < "\xa0"), None):
            return f"line {line}: {name} holds byte 0x{ord(c1):02x}, a control character in latin-1: not text"
    return None


def _value_reason(raw: bytes, line: int) -> str | None:
    for name in ("DATA", "DATVEN"):
        text = _field_text(raw, name)
        if not (name == "DATVEN" and int(text) == NO_EXPIRATION) and not _valid_ymd(text):
            return f"line {line}: {name} '{text}' is not a valid date"
    factor = int(_field_text(raw, "FATCOT"))
    if factor == 0:
        return f"line {line}: FATCOT is 0"
    for name in PRICE_FIELDS:
        text = _field_text(raw, name)
        if int(text) * 10**6 % factor:
            return f"line {line}: {name} {text} / FATCOT {factor} is not exact at 8 decimals"
    return None


def _reason(raw: bytes, line: int) -> str:
    """Why one body line was quarantined; mirrors the vectorised checks of :func:`_parse_chunk`."""
    reason = _shape_reason(raw, line) or _value_reason(raw, line)
    return reason or f"line {line}: invalid record"  # pragma: no cover - the checks mirror _parse_chunk


# --------------------------------------------------------------------------- whole file


def _check_header(header: bytes, file_name: str) -> date:
    text = header.decode("latin-1")
    if len(text) >= 31 and text.startswith("00COTAHIST.") and text[11:15].isdigit():
        stamp = text[23:31]
        if stamp.isascii() and stamp.isdigit() and _valid_ymd(stamp):
            return date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))
    raise FileRejected(
        f"{file_name}: bad header: expected '00COTAHIST.<year>BOVESPA <yyyymmdd>' on line 1, found {text[:31]!r}"
    )


def _check_trailer(lines: _Lines, file_name: str) -> tuple[int, str]:
    trailer = lines.trailer
    if lines.total < 2 or not trailer.startswith(b"99"):
        read = max(lines.total - 1, 0)
        raise TruncatedFile(f"{file_name} is truncated: no trailer (type 99) after {read:,} records")
    totreg = trailer[31:42].decode("latin-1")
    if not (len(totreg) == 11 and totreg.isascii() and totreg.isdigit()):
        raise FileRejected(f"{file_name}: trailer TOTREG (bytes 32-42) {totreg!r} is not numeric")
    expected = int(totreg)
    if expected == lines.total:
        return expected, "lines"
    if expected == lines.total - 2:
        return expected, "records"
    raise FileRejected(
        f"{file_name}: TOTREG mismatch: trailer says {expected:,}, found {lines.total:,} lines with header and "
        f"trailer, {lines.total - 2:,} records without"
    )


def _check_text(data: bytes, end: int, file_name: str) -> None:
    if end == 0:
        raise FileRejected(f"{file_name} is empty: expected a COTAHIST text file")
    if data.startswith(b"PK\x03\x04"):
        raise FileRejected(f"{file_name} is a ZIP archive, not COTAHIST text: unzip it first (unzip_cotahist)")
    if data.startswith(b"\x1f\x8b") or data.find(b"\x00", 0, end) >= 0:
        raise FileRejected(f"{file_name} is not latin-1 text (binary content: gzip or NUL bytes)")


def _assemble(lines: _Lines, store: dict[str, np.ndarray], keep: np.ndarray | None) -> pa.Table:
    """The output table of the kept rows (all when ``keep`` is None) from the buffers of :func:`_allocate`.

    Each buffer is filtered and released in turn, so a file with bad rows never holds two copies of
    everything.
    """

    def kept(array: np.ndarray) -> np.ndarray:
        return array if keep is None else array[keep]

    columns: dict[str, pa.Array] = {}
    for column, field, strip in _TEXT_COLUMNS:
        columns[column] = _text_column(kept(store.pop(field)), strip, blank_is_null=column == "term_days")
    for column, type_ in _DECIMAL_COLUMNS.items():
        columns[column] = _decimal_array(kept(store.pop(column)), type_)
    for column in _INT_COLUMNS:
        columns[column] = pa.array(kept(store.pop(column)))
    columns["dt_ref"] = _date_array(kept(store.pop("dt_ref")))
    columns["expiration"] = _date_array(kept(store.pop("expiration")), kept(store.pop("no_expiration")))
    columns["source_line"] = pa.array(kept(lines.line_numbers).astype(np.int32))
    return pa.Table.from_arrays([columns[f.name] for f in QUOTES_SCHEMA], schema=QUOTES_SCHEMA)


def parse_cotahist(data: bytes, *, file_name: str) -> ParsedCotahist:
    """Parse one COTAHIST file (see the module doc for the rules and the errors)."""
    end = _content_end(data)
    _check_text(data, end, file_name)
    lines = _frame_regular(data, end) or _frame_split(data, end)
    header_date = _check_header(lines.header, file_name)
    trailer_total, convention = _check_trailer(lines, file_name)

    bad_mask = np.zeros(lines.count, dtype=bool)
    store = _allocate(lines.count)
    for start in range(0, lines.count, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, lines.count)
        bad_mask[start:stop] = _parse_chunk(lines, start, stop, store)
    bad_index = np.flatnonzero(bad_mask)

    records_in = lines.total - 2
    bad_count = len(bad_index) + len(lines.odd)
    rows = lines.rows
    candidates = [(int(lines.line_numbers[i]), int(i)) for i in bad_index[:1]]
    if bad_count > MAX_BAD_SHARE * records_in:
        first = min([*candidates, *((line, -1) for line, _ in lines.odd[:1])])
        raw = bytes(rows[first[1]]) if first[1] >= 0 else lines.odd[0][1]
        raise FileRejected(
            f"{file_name}: {bad_count:,} of {records_in:,} records are bad (more than {MAX_BAD_SHARE:.0%}); "
            f"first: {_reason(raw, first[0])}"
        )
    quarantined = [BadRecord(line, _reason(raw, line), raw.decode("latin-1")) for line, raw in lines.odd]
    for i in bad_index:
        raw = bytes(rows[i])
        line = int(lines.line_numbers[i])
        quarantined.append(BadRecord(line, _reason(raw, line), raw.decode("latin-1")))
    quarantined.sort(key=lambda bad: bad.line)

    table = _assemble(lines, store, ~bad_mask if len(bad_index) else None)
    return ParsedCotahist(
        table=table,
        quarantined=quarantined,
        file_name=file_name,
        header_date=header_date,
        records_in=records_in,
        trailer_total=trailer_total,
        trailer_convention=convention,
    )


# --------------------------------------------------------------------------- ZIP


def unzip_cotahist(data: bytes) -> tuple[str, bytes]:
    """(member name, bytes) of the single COTAHIST member of a B3 ZIP, whatever its naming."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CotahistError(f"not a ZIP archive ({exc}): expected B3's COTAHIST_*.ZIP download") from exc
    with archive:
        names = [
            info.filename
            for info in archive.infolist()
            if not info.is_dir() and PurePosixPath(info.filename).name.upper().startswith("COTAHIST")
        ]
        if len(names) != 1:
            listed = ", ".join(archive.namelist()) or "nothing"
            what = "no COTAHIST member" if not names else f"{len(names)} COTAHIST members"
            raise CotahistError(f"expected exactly one COTAHIST member in the ZIP, found {what} ({listed})")
        try:
            return names[0], archive.read(names[0])
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
            raise CotahistError(f"cannot read {names[0]} from the ZIP: {exc}") from exc


# --------------------------------------------------------------------------- formatting (the inverse)


def _alpha(value: str | None, width: int, name: str) -> str:
    text = value or ""
    if len(text) > width:
        raise ValueError(f"{name} {text!r} is longer than {width} characters")
    return text.ljust(width)


def _number(value: int, width: int, name: str) -> str:
    if value < 0 or value >= 10**width:
        raise ValueError(f"{name} {value} does not fit {width} digits")
    return f"{value:0{width}d}"


def _scaled(value: Any, places: int, name: str) -> int:
    amount = Decimal(value).scaleb(places)
    if amount != amount.to_integral_value():
        raise ValueError(f"{name} {value} has more than {places} decimals")
    return int(amount)


def _ymd(value: date | None) -> int:
    return NO_EXPIRATION if value is None else value.year * 10000 + value.month * 100 + value.day


def format_record(row: dict[str, Any]) -> bytes:
    """One 245-byte type-01 record (no line end) from a dict keyed like :data:`QUOTES_SCHEMA`.

    ``ticker`` and ``dt_ref`` are required; prices are per share (``Decimal``), turned back into
    the per-FATCOT integer of the file. Defaults: BDI ``02``, market ``010``, currency ``R$``,
    prices and counts 0, no expiration, quote factor 1, distribution 100.
    """
    factor = int(row.get("quote_factor", 1))
    parts = [
        "01",
        _number(_ymd(row["dt_ref"]), 8, "dt_ref"),
        _alpha(row.get("bdi_code", "02"), 2, "bdi_code"),
        _alpha(row["ticker"], 12, "ticker"),
        _alpha(row.get("market_type", "010"), 3, "market_type"),
        _alpha(row.get("short_name"), 12, "short_name"),
        _alpha(row.get("specification"), 10, "specification"),
        _alpha(row.get("term_days"), 3, "term_days"),
        _alpha(row.get("currency", "R$"), 4, "currency"),
    ]
    for column in list(PRICE_FIELDS.values())[:7]:
        parts.append(_number(_scaled(Decimal(row.get(column, 0)) * factor, 2, column), 13, column))
    parts += [
        _number(int(row.get("trades", 0)), 5, "trades"),
        _number(int(row.get("quantity", 0)), 18, "quantity"),
        _number(_scaled(row.get("volume", 0), 2, "volume"), 18, "volume"),
        _number(_scaled(Decimal(row.get("strike", 0)) * factor, 2, "strike"), 13, "strike"),
        _number(int(row.get("option_correction", 0)), 1, "option_correction"),
        _number(_ymd(row.get("expiration")), 8, "expiration"),
        _number(factor, 7, "quote_factor"),
        _number(_scaled(row.get("strike_points", 0), 6, "strike_points"), 13, "strike_points"),
        _alpha(row.get("isin"), 12, "isin"),
        _number(int(row.get("distribution", 100)), 3, "distribution"),
    ]
    record = "".join(parts).encode("latin-1")
    assert len(record) == RECORD_LENGTH
    return record


def format_header(generated: date, *, year: int | None = None, origin: str = "BOVESPA") -> bytes:
    """The type-00 header line (245 bytes, no line end)."""
    text = f"00COTAHIST.{year or generated.year:04d}{origin:<8}{_ymd(generated):08d}"
    return text.ljust(RECORD_LENGTH).encode("latin-1")


def format_trailer(total: int, *, generated: date | None = None, year: int | None = None) -> bytes:
    """A COTAHIST type-99 trailer line (245 latin-1 bytes, no line break).

    The type-99 trailer with TOTREG ``total`` (every line including header and trailer, as the
    layout says, or the records only, as B3's yearly files do now).
    """
    stamp = generated or date(1970, 1, 1)
    text = f"99COTAHIST.{year or stamp.year:04d}BOVESPA {_ymd(stamp):08d}{_number(total, 11, 'total')}"
    return text.ljust(RECORD_LENGTH).encode("latin-1")
