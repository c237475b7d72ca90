"""Bytes to text for every source: which encoding, decided once, the same way everywhere.

The decision (docs/decisions/0011-text-encodings.md), in this order:

1. A byte-order mark (UTF-8, UTF-16, UTF-32) decides, and is dropped.
2. Bytes that are valid UTF-8 are UTF-8, whatever the label says: a body that is valid UTF-8
   under a ``windows-1252`` label is UTF-8 (the label is stale; the other way round, cp1252 text
   with accents is almost never valid UTF-8).
3. A declared encoding (CKAN resource ``encoding``, HTTP ``Content-Type`` charset, the OFX header)
   is honoured when the bytes decode cleanly with it. ``latin-1``/``iso-8859-1``/``ascii`` labels
   are read as windows-1252, as the WHATWG Encoding Standard (and every browser) does.
4. Otherwise `charset-normalizer <https://charset-normalizer.readthedocs.io>`_ detects it, among
   the encodings Brazilian publishers use (:data:`CANDIDATES`): left free, it reads a short pt-BR
   cp1252 text as cp1006 or big5.
5. Nothing fits: :class:`UndecodableText`, with the reason. Never a silent replacement character.

Line by line, a text read with a single-byte encoding is checked for lines that are in fact UTF-8
(a file concatenated from two exports) and for C1 control characters: such a line cannot be
decoded cleanly, and is returned in :attr:`Decoded.bad_lines` for the caller to quarantine.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

# Python codec names, tried by the detector: UTF first, then the Windows and ISO Western encodings.
CANDIDATES = ("utf_8", "utf_16", "utf_32", "cp1252", "latin_1")
MAX_CHAOS = 0.2  # charset-normalizer's "mess" ratio above which a decoding is refused (its default)
_BOMS: tuple[tuple[bytes, str], ...] = (  # UTF-32 before UTF-16: its little-endian BOM starts like UTF-16's
    (codecs.BOM_UTF32_LE, "utf_32"),
    (codecs.BOM_UTF32_BE, "utf_32"),
    (codecs.BOM_UTF8, "utf_8_sig"),
    (codecs.BOM_UTF16_LE, "utf_16"),
    (codecs.BOM_UTF16_BE, "utf_16"),
)
_WHATWG_WINDOWS_1252 = {"latin_1", "iso8859_1", "ascii", "cp1252"}
_C1 = re.compile("[\u0080-\u009f]")
_SINGLE_BYTE = {"cp1252", "latin_1", "iso8859_15"}


class UndecodableText(ValueError):
    """The bytes are not text in any encoding the sources use (or a declared one that fits)."""


@dataclass(frozen=True)
class Decoded:
    """A decoded text and how its encoding was decided.

    ``encoding``: the Python codec name (``utf_8``, ``cp1252`` ...); ``decided_by``: ``bom``,
    ``utf-8``, ``declared`` or ``detected``; ``note``: set when the bytes contradicted a declaration;
    ``bad_lines``: (1-based line number, reason) of lines that cannot be decoded cleanly.
    """

    text: str
    encoding: str
    decided_by: str
    declared: str | None = None
    note: str = ""
    bad_lines: list[tuple[int, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The encoding as people name it: ``UTF-8``, ``windows-1252``, ``ISO-8859-1`` ..."""
        return LABELS.get(self.encoding, self.encoding)


LABELS = {
    "utf_8": "UTF-8",
    "utf_8_sig": "UTF-8",
    "utf_16": "UTF-16",
    "utf_32": "UTF-32",
    "cp1252": "windows-1252",
    "latin_1": "ISO-8859-1",
    "iso8859_15": "ISO-8859-15",
    "ascii": "US-ASCII",
}


def codec_name(label: str | None) -> str | None:
    """Python's codec name for a declared charset label, or None.

    ``"Windows-1252"`` -> ``"cp1252"``; ``"ISO-8859-1"`` -> ``"cp1252"`` (WHATWG); None when
    empty or unknown (an unknown label is ignored, not trusted).
    """
    if not label or not label.strip():
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name.replace("-", "_")
    except LookupError:
        return None
    name = {"iso8859_1": "latin_1", "utf_8_sig": "utf_8"}.get(name, name)
    return "cp1252" if name in _WHATWG_WINDOWS_1252 else name


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, e.g. ``application/json;charset=UTF-8``."""
    match = re.search(r"charset\s*=\s*\"?([A-Za-z0-9._:-]+)", content_type or "", re.IGNORECASE)
    return match[1] if match else None


def decode(data: bytes, *, declared: str | None = None, where: str = "the file") -> Decoded:
    """Decode ``data`` by the rules of the module doc; UndecodableText names ``where`` and why."""
    by_bom = _by_bom(data, declared, where)
    if by_bom is not None:
        return by_bom
    wanted = codec_name(declared)
    note = ""
    if declared and wanted is None:
        note = f"declared encoding {declared!r} is unknown: ignored"
    try:
        text = data.decode("utf_8")
    except UnicodeDecodeError:
        pass
    else:
        if wanted not in (None, "utf_8", "ascii") and not data.isascii():
            note = f"declared {declared}, but the bytes are valid UTF-8: read as UTF-8"
        return Decoded(text, "utf_8", "utf-8", declared, note)
    if wanted is not None and wanted != "utf_8":
        try:
            text = data.decode(wanted)
        except UnicodeDecodeError as exc:
            note = f"declared {declared}, but byte 0x{data[exc.start]:02x} at offset {exc.start} is not {declared}"
        else:
            return _checked(Decoded(text, wanted, "declared", declared, note), data)
    elif wanted == "utf_8":
        note = f"declared {declared}, but the bytes are not valid UTF-8"
    return _checked(_detect(data, where, declared, note), data)


def _by_bom(data: bytes, declared: str | None, where: str) -> Decoded | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name.replace("_sig", "")
            note = ""
            if codec_name(declared) not in (None, encoding):
                note = f"declared {declared}, but the bytes start with a {LABELS[encoding]} byte-order mark"
            try:
                return Decoded(data.decode(name), encoding, "bom", declared, note)
            except UnicodeDecodeError as exc:
                if encoding != "utf_8":
                    raise UndecodableText(f"{where}: starts with a {LABELS[encoding]} BOM but is not: {exc}") from exc
            # UTF-8 by its BOM, with lines that are not: those lines are the caller's to quarantine
            bad = []
            for number, raw in enumerate(data.split(b"\n"), start=1):
                try:
                    raw.decode("utf_8_sig" if number == 1 else "utf_8")
                except UnicodeDecodeError as exc:
                    bad.append((number, f"byte 0x{raw[exc.start]:02x} is not UTF-8 (the file starts with its BOM)"))
            return Decoded(data.decode(name, "replace"), encoding, "bom", declared, note, bad)
    return None


def _detect(data: bytes, where: str, declared: str | None, note: str) -> Decoded:
    from charset_normalizer import from_bytes  # imported when needed: most sources are UTF-8 or declared

    best = from_bytes(data, cp_isolation=list(CANDIDATES), threshold=MAX_CHAOS).best()
    if best is None:
        offset = next((i for i, byte in enumerate(data) if byte >= 0x80), 0)
        raise UndecodableText(
            f"{where}: not text in any of UTF-8, UTF-16, windows-1252 or ISO-8859-1 (first non-ASCII byte "
            f"0x{data[offset]:02x} at offset {offset})" + (f"; {note}" if note else "")
        )
    return Decoded(str(best), best.encoding, "detected", declared, note)


def _checked(decoded: Decoded, data: bytes) -> Decoded:
    """Lines of a single-byte decoding that are really UTF-8, or hold C1 control characters."""
    if decoded.encoding not in _SINGLE_BYTE:
        return decoded
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.isascii():
            continue
        try:
            raw.decode("utf_8")
        except UnicodeDecodeError:
            line = raw.decode(decoded.encoding)
            if match := _C1.search(line):
                bad.append((number, f"byte 0x{ord(match[0]):02x} is a control character, not {decoded.label} text"))
        else:
            bad.append((number, f"line is UTF-8 inside a {decoded.label} file (mixed encodings)"))
    if not bad:
        return decoded
    return Decoded(decoded.text, decoded.encoding, decoded.decided_by, decoded.declared, decoded.note, bad)
