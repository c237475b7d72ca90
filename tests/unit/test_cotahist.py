"""B3 COTAHIST parser: the real fixture, whole-file errors, quarantine, ZIP naming, round trips."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finlake.samples.b3 import cotahist_zip
from functions.stocks import cotahist
from functions.stocks.cotahist import (
    FIELDS,
    NUMERIC_FIELDS,
    PRICE_FIELDS,
    QUOTES_SCHEMA,
    CotahistError,
    FileRejected,
    ParsedCotahist,
    TruncatedFile,
    format_header,
    format_record,
    format_trailer,
    parse_cotahist,
    unzip_cotahist,
)

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
DAILY = FIXTURES / "b3" / "COTAHIST_D25062021.TXT"
NAME = "COTAHIST_D25062021.TXT"


@pytest.fixture(scope="module")
def daily_bytes() -> bytes:
    if not DAILY.exists():
        pytest.skip(f"real B3 fixture not found at {DAILY} (expected ../shared/fixtures beside the checkout)")
    return DAILY.read_bytes()


@pytest.fixture(scope="module")
def daily(daily_bytes: bytes) -> ParsedCotahist:
    return parse_cotahist(daily_bytes, file_name=NAME)


def _row(parsed: ParsedCotahist, ticker: str, **where: object) -> dict[str, object]:
    table = parsed.table.filter(pc.equal(parsed.table["ticker"], ticker))
    rows = [r for r in table.to_pylist() if all(r[k] == v for k, v in where.items())]
    assert len(rows) == 1, rows
    return rows[0]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n")[:-1]


def _join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


def _with_total(lines: list[bytes]) -> list[bytes]:
    """Rewrite the trailer's TOTREG to the number of lines (after a test edited the body)."""
    return [*lines[:-1], format_trailer(len(lines), generated=date(2021, 6, 25))]


# --------------------------------------------------------------------------- real fixture


def test_real_daily_file_counts(daily: ParsedCotahist) -> None:
    assert daily.table.num_rows == 7518
    assert daily.quarantined == []
    assert daily.records_in == 7518
    assert daily.trailer_total == 7520
    assert daily.header_date == date(2021, 6, 25)
    assert daily.table.schema == QUOTES_SCHEMA
    assert pc.all(pc.equal(daily.table["dt_ref"], daily.table["dt_ref"][0])).as_py()
    assert daily.table["source_line"][0].as_py() == 2
    assert daily.table["source_line"][-1].as_py() == 7519


def test_real_first_record_a1ap34(daily: ParsedCotahist) -> None:
    # line 2:
    # 012021062502A1AP34      010ADVANCE AUTODRN ED       R$  0000000006228000000000634000000000062280000000006271
    # 00000000632400000000060280000000000000000000700000000000000005400000000000033864200000000000000000999912310000001
    # 0000000000000BRA1APBDR001107
    row = _row(daily, "A1AP34")
    assert row["dt_ref"] == date(2021, 6, 25)
    assert (row["bdi_code"], row["market_type"], row["currency"]) == ("02", "010", "R$")
    assert (row["short_name"], row["specification"], row["term_days"]) == ("ADVANCE AUTO", "DRN ED", None)
    assert row["open"] == Decimal("62.28")
    assert row["high"] == Decimal("63.40")
    assert row["low"] == Decimal("62.28")
    assert row["avg_price"] == Decimal("62.71")
    assert row["close"] == Decimal("63.24")
    assert row["best_bid"] == Decimal("60.28")
    assert row["best_ask"] == Decimal("0")
    assert (row["trades"], row["quantity"], row["volume"]) == (7, 54, Decimal("3386.42"))
    assert (row["expiration"], row["quote_factor"], row["isin"], row["distribution"]) == (
        None,
        1,
        "BRA1APBDR001",
        107,
    )


def test_real_lot_quoted_fnam11_is_per_share(daily: ParsedCotahist) -> None:
    # line 1045 (FATCOT 0001000: prices are per lot of 1,000 shares):
    # 012021062514FNAM11      010FINAM       CI *         R$  000000000002000000000000200000000000019000000000001900
    # 0000000001900000000000190000000000020000640000000000185240000000000000003621670000000000000099991231000100000000
    # 00000000BRFNAMCTF013002
    row = _row(daily, "FNAM11")
    assert row["source_line"] == 1045
    assert row["quote_factor"] == 1000
    assert row["open"] == Decimal("0.0002")  # 0.20 per 1,000 shares
    assert row["low"] == Decimal("0.00019")
    assert row["close"] == Decimal("0.00019")
    assert row["best_ask"] == Decimal("0.0002")
    assert (row["trades"], row["quantity"], row["volume"]) == (64, 18524000, Decimal("3621.67"))
    assert row["specification"] == "CI *"


def test_real_option_petrg233(daily: ParsedCotahist) -> None:
    # a call on PETR4, fields of its raw line:
    # 01 20210625 78 "PETRG233    " 070 "PETRE       " "PN      N2" 000 "R$  "
    # PREABE 0000000000430 PREMAX 0000000000436 PREMIN 0000000000377 PREMED 0000000000394
    # PREULT 0000000000382 PREOFC 0000000000363 PREOFV 0000000000000 TOTNEG 00014
    # QUATOT 000000000000067700 VOLTOT 000000000026714500 PREEXE 0000000002546 INDOPC 0
    # DATVEN 20210716 FATCOT 0000001 PTOEXE 0000000000000 CODISI BRPETRACNPR6 DISMES 197
    row = _row(daily, "PETRG233")
    assert (row["bdi_code"], row["market_type"], row["term_days"]) == ("78", "070", "000")
    assert (row["short_name"], row["specification"]) == ("PETRE", "PN      N2")
    assert row["open"] == Decimal("4.30")
    assert row["high"] == Decimal("4.36")
    assert row["low"] == Decimal("3.77")
    assert row["avg_price"] == Decimal("3.94")
    assert row["close"] == Decimal("3.82")
    assert row["best_bid"] == Decimal("3.63")
    assert row["best_ask"] == Decimal("0")
    assert row["strike"] == Decimal("25.46")
    assert row["expiration"] == date(2021, 7, 16)
    assert (row["trades"], row["quantity"], row["volume"]) == (14, 67700, Decimal("267145.00"))
    assert (row["isin"], row["distribution"]) == ("BRPETRACNPR6", 197)


def test_lf_line_ends_and_missing_final_newline_parse_the_same(daily_bytes: bytes, daily: ParsedCotahist) -> None:
    lf = daily_bytes.replace(b"\r\n", b"\n")
    for variant in (lf, lf[:-1], daily_bytes[:-2]):
        assert parse_cotahist(variant, file_name=NAME).table.equals(daily.table)


def test_irregular_lines_use_the_split_path_and_agree(daily_bytes: bytes, daily: ParsedCotahist) -> None:
    mixed = daily_bytes.replace(b"\r\n", b"\n", 100)  # some LF, most CRLF: no fixed stride
    assert parse_cotahist(mixed, file_name=NAME).table.equals(daily.table)


# --------------------------------------------------------------------------- whole-file errors


def test_missing_trailer_is_a_truncated_file(daily_bytes: bytes) -> None:
    lines = _lines(daily_bytes)
    with pytest.raises(TruncatedFile, match=r"COTAHIST_A2024\.TXT is truncated: no trailer \(type 99\) after 7,518"):
        parse_cotahist(_join(lines[:-1]), file_name="COTAHIST_A2024.TXT")
    cut = _join(lines[:-1])[:-100]  # cut in the middle of a record
    with pytest.raises(TruncatedFile, match="7,518 records"):
        parse_cotahist(cut, file_name="COTAHIST_A2024.TXT")


@pytest.mark.parametrize("totreg", [7521, 7519, 7517, 0])
def test_a_totreg_matching_neither_convention_is_rejected(daily_bytes: bytes, totreg: int) -> None:
    lines = _lines(daily_bytes)
    lines[-1] = format_trailer(totreg, generated=date(2021, 6, 25))
    with pytest.raises(
        FileRejected, match=rf"TOTREG mismatch: trailer says {totreg:,}, found 7,520 lines .*, 7,518 records without"
    ):
        parse_cotahist(_join(lines), file_name=NAME)


def test_totreg_counting_records_only_is_accepted(daily_bytes: bytes) -> None:
    lines = _lines(daily_bytes)
    assert parse_cotahist(_join(lines), file_name=NAME).trailer_convention == "lines"
    lines[-1] = format_trailer(7518, generated=date(2021, 6, 25))
    parsed = parse_cotahist(_join(lines), file_name=NAME)
    assert (parsed.trailer_convention, parsed.trailer_total, parsed.table.num_rows) == ("records", 7518, 7518)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\r\n\r\n", "is empty"),
        (b"PK\x03\x04rest", "is a ZIP archive"),
        (b"00COTAHIST.2021\x00\x00", "not latin-1 text"),
        (b"<html><body>error</body></html>\r\n", "bad header"),
    ],
)
def test_unusable_files_are_rejected(content: bytes, message: str) -> None:
    with pytest.raises(FileRejected, match=message):
        parse_cotahist(content, file_name=NAME)


def test_bad_header_is_rejected(daily_bytes: bytes) -> None:
    lines = _lines(daily_bytes)
    lines[0] = b"00COTAHIST.2021BOVESPA 20211345".ljust(245)
    with pytest.raises(FileRejected, match="bad header"):
        parse_cotahist(_join(lines), file_name=NAME)


# --------------------------------------------------------------------------- quarantine


def _corrupt(line: bytes, first: int, text: bytes) -> bytes:
    return line[: first - 1] + text + line[first - 1 + len(text) :]


def test_bad_records_are_quarantined_with_line_numbers(daily_bytes: bytes) -> None:
    lines = _lines(daily_bytes)
    lines[16] = lines[16][:240]  # line 17: short
    lines[29] = _corrupt(lines[29], 109, b"00000000A1234")  # line 30: PREULT
    lines[99] = b"05" + lines[99][2:]  # line 100: unknown type
    parsed = parse_cotahist(_join(lines), file_name=NAME)
    assert [(b.line, b.reason) for b in parsed.quarantined] == [
        (17, "line 17: length 240, expected 245"),
        (30, "line 30: PREULT '00000000A1234' is not numeric"),
        (100, "line 100: unknown record type '05'"),
    ]
    assert parsed.quarantined[1].raw == lines[29].decode("latin-1")
    assert parsed.records_in == 7518 == parsed.table.num_rows + 3
    assert 30 not in parsed.table["source_line"].to_pylist()


def test_bad_records_on_the_fast_path(daily_bytes: bytes) -> None:
    lines = _lines(daily_bytes)
    lines[1] = _corrupt(lines[1], 3, b"20210231")  # line 2: DATA
    lines[2] = _corrupt(lines[2], 211, b"0000000")  # line 3: FATCOT
    lines[3] = _corrupt(lines[3], 28, b"AB\nCD")  # line 4: a stray LF inside NOMRES
    lines[4] = _corrupt(lines[4], 203, b"20211301")  # line 5: DATVEN
    parsed = parse_cotahist(_join(lines), file_name=NAME)
    assert [b.reason for b in parsed.quarantined] == [
        "line 2: DATA '20210231' is not a valid date",
        "line 3: FATCOT is 0",
        "line 4: NOMRES 'AB\\nCDR DANIE' contains a control character",
        "line 5: DATVEN '20211301' is not a valid date",
    ]
    assert parsed.table.num_rows == 7514


def test_inexact_per_share_price_is_quarantined(daily_bytes: bytes) -> None:
    lines = _lines(daily_bytes)
    lines[1] = _corrupt(lines[1], 211, b"0000003")  # FATCOT 3: 62.28 / 3 = 20.76 is exact, 63.40 / 3 is not
    parsed = parse_cotahist(_join(lines), file_name=NAME)
    assert parsed.quarantined[0].reason == "line 2: PREMAX 0000000006340 / FATCOT 3 is not exact at 8 decimals"


def test_more_than_one_percent_bad_rejects_the_file(daily_bytes: bytes) -> None:
    lines = _lines(daily_bytes)
    for i in range(10, 10 + 76):  # 76 of 7,518 > 1%
        lines[i] = _corrupt(lines[i], 57, b"X")
    with pytest.raises(FileRejected, match=r"76 of 7,518 records are bad .*first: line 11: PREABE 'X"):
        parse_cotahist(_join(lines), file_name=NAME)
    lines = _lines(daily_bytes)
    for i in range(10, 10 + 75):  # 75 of 7,518 <= 1%: kept, quarantined
        lines[i] = _corrupt(lines[i], 57, b"X")
    assert len(parse_cotahist(_join(lines), file_name=NAME).quarantined) == 75


# --------------------------------------------------------------------------- ZIP


@pytest.mark.parametrize("member", ["COTAHIST.A1999", "COTAHIST_A2001", "COTAHIST_A2002.TXT", "COTAHIST_D25062021.TXT"])
def test_unzip_finds_the_member_whatever_its_name(member: str) -> None:
    content = _sample_file(3)
    name, data = unzip_cotahist(cotahist_zip("COTAHIST.ZIP", content, member))
    assert (name, data) == (member, content)


def test_unzip_errors() -> None:
    with pytest.raises(CotahistError, match="not a ZIP archive"):
        unzip_cotahist(b"00COTAHIST.2021")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("LEIAME.txt", "x")
    with pytest.raises(CotahistError, match="no COTAHIST member"):
        unzip_cotahist(buffer.getvalue())
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("COTAHIST_A2001.TXT", "a")
        archive.writestr("COTAHIST_A2002.TXT", "b")
    with pytest.raises(CotahistError, match="2 COTAHIST members"):
        unzip_cotahist(buffer.getvalue())


# --------------------------------------------------------------------------- properties


def _sample_file(n: int, day: date = date(2024, 3, 1)) -> bytes:
    records = [
        format_record({"ticker": f"TST{i}", "dt_ref": day, "close": Decimal(i) / 100, "quantity": i}) for i in range(n)
    ]
    return _join([format_header(day), *records, format_trailer(n + 2, generated=day)])


_TEXT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ÇÃÉÍÓÚâêô&/.-*", min_size=0, max_size=12)


def _clean(width: int) -> st.SearchStrategy[str]:
    return _TEXT.map(lambda s: s[:width].strip())


@st.composite
def quote_rows(draw: st.DrawFn) -> dict[str, object]:
    factor = draw(st.sampled_from([1, 1000]))

    def price() -> Decimal:
        return Decimal(draw(st.integers(0, 10**13 - 1))) / 100 / factor

    return {
        "ticker": draw(st.from_regex(r"[A-Z0-9]{1,12}", fullmatch=True)),
        "dt_ref": draw(st.dates(date(1986, 1, 1), date(2030, 12, 31))),
        "bdi_code": draw(st.sampled_from(["02", "96", "78", "82", "14"])),
        "market_type": draw(st.sampled_from(["010", "020", "070", "080"])),
        "short_name": draw(_clean(12)),
        "specification": draw(_clean(10)),
        "term_days": draw(st.one_of(st.none(), st.from_regex(r"[0-9]{3}", fullmatch=True))),
        "currency": "R$",
        "open": price(),
        "high": price(),
        "low": price(),
        "avg_price": price(),
        "close": price(),
        "best_bid": price(),
        "best_ask": price(),
        "trades": draw(st.integers(0, 99_999)),
        "quantity": draw(st.integers(0, 10**18 - 1)),
        "volume": Decimal(draw(st.integers(0, 10**18 - 1))) / 100,
        "strike": price(),
        "option_correction": draw(st.integers(0, 9)),
        "expiration": draw(st.one_of(st.none(), st.dates(date(1986, 1, 1), date(2099, 12, 31)))),
        "quote_factor": factor,
        "strike_points": Decimal(draw(st.integers(0, 10**13 - 1))) / 10**6,
        "isin": draw(st.from_regex(r"BR[A-Z0-9]{10}", fullmatch=True)),
        "distribution": draw(st.integers(0, 999)),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(quote_rows(), min_size=1, max_size=8), st.booleans())
def test_format_then_parse_round_trips(rows: list[dict[str, object]], crlf: bool) -> None:
    day = date(2024, 5, 2)
    eol = b"\r\n" if crlf else b"\n"
    lines = [format_header(day), *(format_record(r) for r in rows), format_trailer(len(rows) + 2, generated=day)]
    parsed = parse_cotahist(eol.join(lines), file_name="COTAHIST_A2024.TXT")
    assert parsed.quarantined == []
    got = parsed.table.to_pylist()
    for i, (row, out) in enumerate(zip(rows, got, strict=True)):
        assert out.pop("source_line") == i + 2
        assert out == row


def _check_invariant(data: bytes) -> None:
    try:
        parsed = parse_cotahist(data, file_name="fuzz.txt")
    except CotahistError:
        return
    assert parsed.records_in == parsed.table.num_rows + len(parsed.quarantined)
    assert all(not b.reason.endswith("invalid record") for b in parsed.quarantined)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=800))
def test_only_cotahist_errors_escape_on_random_bytes(data: bytes) -> None:
    _check_invariant(data)


_VALID = _sample_file(200)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), max_size=6), st.booleans())
def test_mutated_files_keep_the_invariant(edits: list[tuple[int, int]], truncate: bool) -> None:
    data = bytearray(_VALID)
    for position, value in edits:
        data[position] = value
    _check_invariant(bytes(data[: len(data) // 2] if truncate else data))


# --------------------------------------------------------------------------- fast path == reference


def _reference_parse(data: bytes) -> tuple[list[dict[str, object]], list[int]] | None:
    """A straightforward record-by-record parse, the oracle of the vectorised one: (rows, bad line
    numbers), or None when the whole file is to be rejected. Lines split on LF, one CR dropped."""
    if b"\x00" in data:
        return None
    lines = data.rstrip(b"\r\n").split(b"\n")
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    rows, bad = [], []
    for number, raw in enumerate(lines[1:-1], start=2):
        row = _reference_record(raw.decode("latin-1"))
        if row is None:
            bad.append(number)
        else:
            rows.append({**row, "source_line": number})
    return rows, bad


def _reference_record(text: str) -> dict[str, object] | None:
    if len(text) != 245 or text[:2] != "01":
        return None
    fields = {name: text[first - 1 : last] for name, (first, last) in FIELDS.items()}
    if not all(fields[name].isascii() and fields[name].isdigit() for name in NUMERIC_FIELDS):
        return None
    texts = ("CODBDI", "CODNEG", "TPMERC", "NOMRES", "ESPECI", "PRAZOT", "MODREF", "CODISI")
    if any(ch < " " or "\x7f" <= ch < "\xa0" for name in texts for ch in fields[name]):
        return None

    def day(value: str) -> date | None:
        try:
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            return None

    factor = int(fields["FATCOT"])
    prices = {column: Decimal(int(fields[name])) / 100 for name, column in PRICE_FIELDS.items()}
    expiration = None if fields["DATVEN"] == "99991231" else day(fields["DATVEN"])
    if day(fields["DATA"]) is None or (expiration is None and fields["DATVEN"] != "99991231") or factor == 0:
        return None
    if any((price * 10**8) % factor for price in prices.values()):
        return None
    return {
        "ticker": fields["CODNEG"].strip(" "),
        "dt_ref": day(fields["DATA"]),
        "bdi_code": fields["CODBDI"],
        "market_type": fields["TPMERC"],
        "short_name": fields["NOMRES"].rstrip(" "),
        "specification": fields["ESPECI"].rstrip(" "),
        "term_days": fields["PRAZOT"].strip(" ") or None,
        "currency": fields["MODREF"].strip(" "),
        **{column: price / factor for column, price in prices.items()},
        "trades": int(fields["TOTNEG"]),
        "quantity": int(fields["QUATOT"]),
        "volume": Decimal(int(fields["VOLTOT"])) / 100,
        "option_correction": int(fields["INDOPC"]),
        "expiration": expiration,
        "quote_factor": factor,
        "strike_points": Decimal(int(fields["PTOEXE"])) / 10**6,
        "isin": fields["CODISI"].strip(" "),
        "distribution": int(fields["DISMES"]),
    }


# Bytes a mutation writes: digits and the bytes either side of them, letters, blanks, latin-1
# letters, and every kind of control character the parser quarantines (C0, CR, DEL, C1) with the
# printable bytes next to them; not LF, which moves line boundaries.
_BYTES = st.sampled_from(b"09/:A $\t\r\x00\x01\x1f\x7e\x7f\x80\x85\x9f\xa0\xc7\xff")
_POSITIONS = st.sampled_from(list(FIELDS.values())).flatmap(lambda span: st.integers(span[0] - 1, span[1] - 1))
_FIELD_EDITS = st.sampled_from(
    [
        (3, b"20240230"),  # DATA: 30 February
        (3, b"00000101"),  # DATA: year 0
        (203, b"99991231"),  # DATVEN: no expiration
        (203, b"20241301"),  # DATVEN: month 13
        (203, b"20240229"),  # DATVEN: a leap day
        (211, b"0000000"),  # FATCOT 0
        (211, b"0000003"),  # FATCOT 3: inexact for most prices
        (211, b"0001000"),  # FATCOT 1000
        (1, b"00"),
        (1, b"99"),
        (1, b"05"),
        (53, b"US$ "),  # MODREF
        (57, b"9999999999999"),  # PREABE at its maximum
        (153, b"999999999999999999"),  # QUATOT at its maximum
    ]
)
_MUTATION = st.one_of(
    st.tuples(st.just("byte"), _POSITIONS, _BYTES),
    st.tuples(st.just("byte"), _POSITIONS, _BYTES),
    st.tuples(st.just("field"), _FIELD_EDITS, st.none()),
    st.tuples(st.just("length"), st.sampled_from([-1, -40, 1, 3]), st.none()),
)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _mutate(record: bytes, mutation: tuple[str, object, object]) -> bytes:
    kind, what, value = mutation
    if kind == "byte":
        assert isinstance(what, int) and isinstance(value, int)
        return record[:what] + bytes([value]) + record[what + 1 :]
    if kind == "field":
        assert isinstance(what, tuple)
        first, text = what
        return _corrupt(record, first, text)
    assert isinstance(what, int)
    return record[:what] if what < 0 else record + b"0" * what


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(quote_rows(), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), _MUTATION), max_size=10),
    st.booleans(),
    st.booleans(),
    st.sampled_from([1, 2, 5, 1 << 14]),
)
def test_fast_path_agrees_with_a_reference_parse(
    rows: list[dict[str, object]],
    mutations: list[tuple[int, tuple[str, object, object]]],
    crlf: bool,
    ascii_only: bool,
    chunk: int,
) -> None:
    """Generated records, some made malformed, through the vectorised parser (in chunks of
    ``chunk`` rows, the bad-share limit lifted) and through :func:`_reference_parse`: same rows,
    same values, same quarantined lines. ASCII-only files matter: a latin-1 letter sends its row
    to the exact byte-by-byte check, which would hide a fault of the fast one."""
    day = date(2024, 5, 2)
    if ascii_only:
        rows = [{k: _ascii(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]
    records = [format_record(r) for r in rows]
    for index, mutation in mutations:
        records[index % len(records)] = _mutate(records[index % len(records)], mutation)
    eol = b"\r\n" if crlf else b"\n"
    data = eol.join([format_header(day), *records, format_trailer(len(records) + 2, generated=day)]) + eol
    expected = _reference_parse(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cotahist, "MAX_BAD_SHARE", 1.0)
        patch.setattr(cotahist, "CHUNK_ROWS", chunk)
        if expected is None:
            with pytest.raises(FileRejected):
                parse_cotahist(data, file_name="COTAHIST_A2024.TXT")
            return
        parsed = parse_cotahist(data, file_name="COTAHIST_A2024.TXT")
    want_rows, want_bad = expected
    assert [b.line for b in parsed.quarantined] == want_bad
    assert parsed.table.to_pylist() == want_rows
    assert parsed.records_in == len(records) == parsed.table.num_rows + len(parsed.quarantined)


def test_every_byte_in_every_field_agrees_with_the_reference() -> None:
    """Exhaustive over bytes: every byte value but LF and NUL (which the file-level checks own)
    at the first, middle and last position of every field of an ASCII record; the fast checks
    (eight bytes at a time) must quarantine exactly the records the reference does."""
    day = date(2024, 5, 2)
    base = format_record(
        {"ticker": "PETR4", "dt_ref": day, "short_name": "PETROBRAS", "close": Decimal("12.34"), "quote_factor": 1}
    )
    records = []
    for first, last in FIELDS.values():
        for position in sorted({first - 1, (first + last) // 2 - 1, last - 1}):
            for value in range(256):
                if value not in (0x00, 0x0A):
                    records.append(base[:position] + bytes([value]) + base[position + 1 :])
    data = b"\r\n".join([format_header(day), *records, format_trailer(len(records) + 2, generated=day)])
    expected = _reference_parse(data)
    assert expected is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cotahist, "MAX_BAD_SHARE", 1.0)
        parsed = parse_cotahist(data, file_name="COTAHIST_A2024.TXT")
    want_rows, want_bad = expected
    assert [b.line for b in parsed.quarantined] == want_bad
    assert parsed.table.to_pylist() == want_rows
    assert len(want_bad) > len(records) // 2  # most edits break the record
