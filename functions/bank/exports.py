"""The Nubank app's exports: card statement CSV, NuConta statement CSV and OFX (both accounts).

A file is either read row by row or rejected whole (`FileRejected`): an unknown header means we do
not know what the columns are, so guessing would load wrong numbers. Inside a known file a bad row
is quarantined with its line and a precise reason, and the rest is loaded.

Decisions a reader may question:

- CSV records are physical lines (each parsed by the ``csv`` module, so quoted commas work). The
  app never writes a newline inside a field; a record split over lines is quarantined line by line
  instead of silently joined, and line numbers stay the ones an editor shows.
- The card CSV shows charges as positive numbers; we store money out as negative, as everywhere.
- Text encodings are decided by :func:`functions.common.text.decode` (BOM, valid UTF-8, a declared
  encoding, else charset-normalizer); a CSV line that cannot be decoded cleanly is quarantined.
- OFX goes through ``ofxtools``, which decodes by the header: OFX 1 ``CHARSET`` (``1252``,
  ``ISO-8859-1``, ``NONE`` = UTF-8 for ofxtools), OFX 2 always UTF-8. The header is honoured when the
  bytes agree and corrected when they contradict it (a valid UTF-8 body under ``CHARSET:1252`` would
  otherwise become mojibake): Nubank's OFX 1.02 header has no ``CHARSET`` line at all, which
  ofxtools 1.1.1 requires (csingley/ofxtools PR #129, never merged), so the decided one is written;
  an OFX 2 body that is not UTF-8 is transcoded to it. A UTF-8 BOM is dropped for the same reason.
  Nothing else is touched: missing SGML end tags are handled by ofxtools.
- Each OFX transaction is converted on its own, so one invalid transaction (say, no TRNAMT) is
  quarantined with its position; the rest of the file is then validated by ofxtools as a whole
  and a failure there rejects the file.
- A date-only DTPOSTED ("20240105") is taken as that local day. ofxtools reads it as midnight UTC,
  which in São Paulo is the evening before: converting it would move every such row a day back.
"""

from __future__ import annotations

import csv
import html
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ofxtools.models.base import Aggregate
from ofxtools.Parser import OFXTree

from functions.bank.model import (
    CENT,
    BadRow,
    FileRejected,
    Parsed,
    Txn,
    fold,
    infer_type,
    parse_amount,
    parse_installment,
)
from functions.common.text import UndecodableText, decode

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

CARD_HEADERS = (("date", "title", "amount"), ("date", "category", "title", "amount"))
NUCONTA_HEADER = ("data", "valor", "identificador", "descricao")  # folded: "Descrição" or "Descricao"
ACCEPTED = (
    "card CSV 'date,title,amount' or 'date,category,title,amount', "
    "NuConta CSV 'Data,Valor,Identificador,Descrição', or an OFX file"
)

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_BR_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
_OFX_START = (b"OFXHEADER", b"<?XML", b"<?OFX", b"<OFX>")


# --- detection -----------------------------------------------------------------------------------


def detect_kind(data: bytes, name: str) -> str:
    """Which export this is, from the content alone.

    Which export this is, from the content alone: the name is only quoted in messages, because
    people rename downloads and a ".csv" may hold anything.
    """
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        raise FileRejected(f"{name}: empty file; accepted: {ACCEPTED}")
    if head[:9].upper().startswith(_OFX_START):
        return "ofx"
    text, _, _ = _decode(data, name)
    header = _split_header(_first_line(text))
    if header in CARD_HEADERS:
        return "card_csv"
    if header == NUCONTA_HEADER:
        return "nuconta_csv"
    found = _first_line(text)[:120]
    raise FileRejected(f"{name}: unknown header {found!r}; accepted: {ACCEPTED}")


def parse_export(data: bytes, name: str) -> Parsed:
    """Parse one exported file by its kind (:func:`detect_kind`): card CSV, NuConta CSV or OFX.

    Returns
    -------
    Parsed
        The rows (amounts in BRL as ``Decimal``, money out negative), the quarantined rows with line and
        reason, rows in and the file's facts.

    Raises
    ------
    FileRejected
        When the file is not one of the known exports, or cannot be read as a whole.
    """
    parsers: dict[str, Callable[[bytes, str], Parsed]] = {
        "card_csv": parse_card_csv,
        "nuconta_csv": parse_nuconta_csv,
        "ofx": parse_ofx,
    }
    return parsers[detect_kind(data, name)](data, name)


def _decode(data: bytes, name: str) -> tuple[str, str, dict[int, str]]:
    """The text, its encoding ("utf-8", "cp1252" ...) and the lines that cannot be decoded cleanly."""
    try:
        decoded = decode(data, where=name)
    except UndecodableText as exc:
        raise FileRejected(str(exc)) from exc
    encoding = "utf-8" if decoded.encoding == "utf_8" else decoded.encoding
    return decoded.text.removeprefix("\ufeff"), encoding, dict(decoded.bad_lines)


def _first_line(text: str) -> str:
    return next((line.strip() for line in _lines(text) if line.strip()), "")


def _lines(text: str) -> list[str]:
    return [line.removesuffix("\r") for line in text.split("\n")]


def _split_header(line: str) -> tuple[str, ...]:
    try:
        fields = next(csv.reader([line], strict=True), [])
    except csv.Error:
        return ()
    return tuple(fold(field) for field in fields)


# --- CSV -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    line: int
    raw: str
    fields: list[str]


class _RowError(ValueError):
    """A row's problem, worded for the quarantine."""


def _records(data: bytes, name: str) -> tuple[tuple[str, ...], list[_Record], list[BadRow], str]:
    """The folded header, the data records, the lines that are not even CSV, and the encoding."""
    text, encoding, undecodable = _decode(data, name)
    header: tuple[str, ...] | None = None
    records: list[_Record] = []
    bad: list[BadRow] = []
    for number, raw in enumerate(_lines(text), start=1):
        if not raw.strip():
            continue
        if number in undecodable and header is not None:
            bad.append(BadRow(number, undecodable[number], raw))
            continue
        if header is None:
            header = _split_header(raw)
            continue
        try:
            fields = next(csv.reader([raw], strict=True))
        except csv.Error as exc:
            bad.append(BadRow(number, f"not a CSV record ({exc}): unclosed quote or truncated line", raw))
            continue
        records.append(_Record(number, raw, fields))
    return header or (), records, bad, encoding


def _parse_date(text: str) -> date:
    text = text.strip()
    try:
        if match := _ISO_DATE.fullmatch(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _BR_DATE.fullmatch(text):
            return date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError as exc:
        raise _RowError(f"date {text!r} is not a real day ({exc})") from exc
    raise _RowError(f"date {text!r} is not YYYY-MM-DD or dd/mm/yyyy")


def _parse_amount(text: str) -> Decimal:
    if not text.strip():
        raise _RowError("empty amount")
    try:
        return parse_amount(text)
    except ValueError as exc:
        raise _RowError(f"amount {text!r} rejected: {exc}") from exc


def _description(text: str, column: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise _RowError(f"empty {column}")
    return text


def _parse_rows(
    data: bytes, name: str, kind: str, headers: tuple[tuple[str, ...], ...], row: Callable[[dict[str, str], int], Txn]
) -> Parsed:
    header, records, bad, encoding = _records(data, name)
    if header not in headers:
        raise FileRejected(f"{name}: header {header!r} is not a {kind} header; accepted: {ACCEPTED}")
    rows_in = len(records) + len(bad)  # every non-blank line after the header
    rows: list[Txn] = []
    for record in records:
        try:
            if len(record.fields) != len(header):
                raise _RowError(f"expected {len(header)} fields ({','.join(header)}), got {len(record.fields)}")
            rows.append(row(dict(zip(header, record.fields, strict=True)), record.line))
        except _RowError as exc:
            bad.append(BadRow(record.line, str(exc), record.raw))
    bad.sort(key=lambda b: b.line)
    return Parsed(kind, rows, bad, rows_in, {"encoding": encoding, "columns": ",".join(header)})


def _card_row(fields: dict[str, str], line: int) -> Txn:
    day = _parse_date(fields["date"])
    charge = _parse_amount(fields["amount"])
    title = _description(fields["title"], "title")
    amount = -charge if charge else charge  # the export shows charges positive; money out is negative here
    installment = parse_installment(title)
    count = installment[1] if installment else None
    category = (fields.get("category") or "").strip().lower() or None
    return Txn(
        source="card_csv",
        account="card",
        date=day,
        description=title,
        amount=amount,
        line=line,
        source_category=category,
        type=infer_type("card", title, amount, count),
        installment_number=installment[0] if installment else None,
        installment_count=count,
    )


def _nuconta_row(fields: dict[str, str], line: int) -> Txn:
    day = _parse_date(fields["data"])
    amount = _parse_amount(fields["valor"])
    description = _description(fields["descricao"], "description")
    installment = parse_installment(description)
    return Txn(
        source="nuconta_csv",
        account="nuconta",
        date=day,
        description=description,
        amount=amount,
        line=line,
        transaction_id=fields["identificador"].strip() or None,
        type=infer_type("nuconta", description, amount, installment[1] if installment else None),
        installment_number=installment[0] if installment else None,
        installment_count=installment[1] if installment else None,
    )


def parse_card_csv(data: bytes, name: str) -> Parsed:
    """Parse a Nubank card statement CSV (charges become negative amounts); see :func:`parse_export`."""
    return _parse_rows(data, name, "card_csv", CARD_HEADERS, _card_row)


def parse_nuconta_csv(data: bytes, name: str) -> Parsed:
    """Parse a NuConta (account) statement CSV; see :func:`parse_export`."""
    return _parse_rows(data, name, "nuconta_csv", (NUCONTA_HEADER,), _nuconta_row)


# --- OFX -----------------------------------------------------------------------------------------

_STATEMENTS = {"STMTRS": ("nuconta", "BANKACCTFROM"), "CCSTMTRS": ("card", "CCACCTFROM")}
_V1_ENCODING_LINE = re.compile(rb"(ENCODING:[^\r\n]*\r?\n)")


_V1_CHARSET_LINE = re.compile(rb"CHARSET:[ \t]*([^\r\n]*)")
_OFX_CHARSETS = {"utf_8": b"NONE", "cp1252": b"1252", "latin_1": b"ISO-8859-1"}  # what ofxtools 1.1.1 maps
_XML_ENCODING = re.compile(rb"(<\?xml[^>]*encoding=)([\"'])([\w.-]+)\2")


def _normalise_ofx(data: bytes, name: str = "the OFX file") -> bytes:
    """Fix only what ofxtools 1.1.1 cannot take in an OFX file.

    Only what ofxtools 1.1.1 cannot take: a BOM, an OFX 1 header without CHARSET or whose CHARSET the
    bytes contradict, and an OFX 2 body that is not UTF-8 (see the module doc).
    """
    data = data.removeprefix(b"\xef\xbb\xbf")
    head, _, _ = data.partition(b"<")
    if b"OFXHEADER:" in head:
        declared = _V1_CHARSET_LINE.search(head)
        label = declared[1].decode("ascii", "replace").strip() if declared else ""
        label = {"NONE": "", "1252": "windows-1252"}.get(label.upper(), label)
        try:
            found = decode(data, declared=label or None, where=name)
        except UndecodableText as exc:
            raise FileRejected(str(exc)) from exc
        charset = _OFX_CHARSETS.get(found.encoding)
        if charset is None:  # e.g. UTF-16: re-encode as UTF-8, which CHARSET:NONE means to ofxtools
            data, charset = found.text.encode("utf-8"), b"NONE"
        if declared:
            return _V1_CHARSET_LINE.sub(b"CHARSET:" + charset, data, count=1)
        return _V1_ENCODING_LINE.sub(lambda m: m[1] + b"CHARSET:" + charset + b"\n", data, count=1)
    prolog = _XML_ENCODING.search(data[:200])
    try:
        found = decode(data, declared=prolog[3].decode("ascii") if prolog else None, where=name)
    except UndecodableText as exc:
        raise FileRejected(str(exc)) from exc
    if found.encoding != "utf_8":
        data = _XML_ENCODING.sub(rb"\1\2UTF-8\2", found.text.encode("utf-8"), count=1)
    return data


def _ofx_tree(data: bytes, name: str) -> OFXTree:
    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(_normalise_ofx(data, name)))
    except Exception as exc:  # ofxtools raises SyntaxError, ValueError, UnicodeError... for bad input
        raise FileRejected(f"{name}: not a readable OFX file: {type(exc).__name__}: {exc}") from exc
    return tree


def _local_day(trn: Any, raw_posted: str) -> date:
    if re.fullmatch(r"\d{8}", raw_posted.strip()):
        return date(int(raw_posted[:4]), int(raw_posted[4:6]), int(raw_posted[6:8]))
    local: date = trn.dtposted.astimezone(SAO_PAULO).date()
    return local


def _ofx_txn(element: ET.Element, account: str, position: int) -> Txn:
    try:
        trn: Any = Aggregate.from_etree(element)
    except Exception as exc:  # the library's validation errors are of several types
        raise _RowError(f"invalid STMTTRN: {exc}") from exc
    amount = Decimal(trn.trnamt)
    if amount != amount.quantize(CENT):
        raise _RowError(f"TRNAMT {amount} has more than two decimal places")
    description = html.unescape(" ".join((trn.memo or trn.name or "").split()))
    if not description:
        raise _RowError("no MEMO or NAME")
    installment = parse_installment(description)
    count = installment[1] if installment else None
    amount = amount.quantize(CENT)
    return Txn(
        source="ofx",
        account=account,
        date=_local_day(trn, element.findtext("DTPOSTED") or ""),
        description=description,
        amount=amount,
        line=position,
        transaction_id=trn.fitid,
        type=infer_type(account, description, amount, count),
        installment_number=installment[0] if installment else None,
        installment_count=count,
    )


def _account_id(statement: ET.Element, tag: str) -> str | None:
    parts = [statement.findtext(f"{tag}/{field}") for field in ("BANKID", "BRANCHID", "ACCTID")]
    joined = "/".join(part.strip() for part in parts if part and part.strip())
    return joined or None


def _statement(statement: ET.Element, first_position: int) -> tuple[list[Txn], list[BadRow]]:
    """The transactions of one statement; invalid ones are quarantined and cut from the tree."""
    account, acct_tag = _STATEMENTS[statement.tag]
    account_id = _account_id(statement, acct_tag)
    tranlist = statement.find("BANKTRANLIST")
    if tranlist is None:
        return [], []
    rows: list[Txn] = []
    bad: list[BadRow] = []
    for position, element in enumerate(tranlist.findall("STMTTRN"), start=first_position):
        try:
            txn = _ofx_txn(element, account, position)
        except _RowError as exc:
            bad.append(BadRow(position, str(exc), ET.tostring(element, encoding="unicode")))
            tranlist.remove(element)  # so that the whole-file validation sees only valid transactions
            continue
        txn.account_id = account_id
        rows.append(txn)
    return rows, bad


def parse_ofx(data: bytes, name: str) -> Parsed:
    """Parse a Nubank OFX file (bank STMTRS and/or credit-card CCSTMTRS statements) through ofxtools.

    The ledger balance becomes the fact ``ledger_balance``; a bad transaction is quarantined.

    Raises
    ------
    FileRejected
        When the file has no statement or is not OFX ofxtools can read.
    """
    tree = _ofx_tree(data, name)
    root = tree.getroot()
    statements = [] if root is None else [el for el in root.iter() if el.tag in _STATEMENTS]
    if not statements:
        raise FileRejected(f"{name}: OFX without a bank (STMTRS) or credit-card (CCSTMTRS) statement")
    rows: list[Txn] = []
    bad: list[BadRow] = []
    facts: dict[str, str] = {}
    for statement in statements:
        balance = (statement.findtext("LEDGERBAL/BALAMT") or "").strip()
        if balance:
            facts["ledger_balance"] = balance
        found, quarantined = _statement(statement, len(rows) + len(bad) + 1)
        rows += found
        bad += quarantined
    try:
        tree.convert()  # the rest of the file (sign-on, account, balances) as ofxtools validates it
    except Exception as exc:
        raise FileRejected(f"{name}: invalid OFX: {type(exc).__name__}: {exc}") from exc
    return Parsed("ofx", rows, bad, len(rows) + len(bad), facts)
