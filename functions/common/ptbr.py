"""Brazilian (pt-BR) formats shared by every source: numbers, dates, column names.

Exact by construction: numbers become ``Decimal``, never binary floats.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_SWAP_SEPARATORS = str.maketrans(",.", ".,")
_DECIMAL_RE = re.compile(r"^(?P<sign>[+-])?(?P<int>\d{1,3}(?:\.\d{3})+|\d+)(?:,(?P<frac>\d+))?$")
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_BR_RE = re.compile(rf"^(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}})/(?P<y>\d{{4}}){_TIME}$")
_DATE_ISO_RE = re.compile(rf"^(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}}){_TIME}$")


def normalize_column(name: str) -> str:
    """``"Operações de crédito (R$ mi)"`` -> ``"operacoes_de_credito_r_mi"``; may return ``""``."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_only = ascii_only.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "_", ascii_only).strip("_")


def parse_ptbr_decimal(text: str) -> Decimal:
    """Parse a pt-BR number: ``"1.234.567,89"``, ``"-1.234,5"``, ``"(1.234,50)"`` (negative), ``"12"``.

    Raises ValueError on anything else (including ``""``, ``"1,234.5"`` and ``"1234.5"``).
    """
    stripped = text.strip().replace("\u00a0", "")
    negative = False
    body = stripped
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1].strip()
        if body[:1] in ("+", "-"):
            raise ValueError(f"not a pt-BR number: {text!r}")
    match = _DECIMAL_RE.match(body)
    if match is None:
        raise ValueError(f"not a pt-BR number: {text!r}")
    digits = match["int"].replace(".", "")
    if match["frac"]:
        digits += "." + match["frac"]
    try:
        value = Decimal(digits)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only digits
        raise ValueError(f"not a pt-BR number: {text!r}") from exc
    if negative or match["sign"] == "-":
        value = -value
    return value if value != 0 else abs(value)


def format_ptbr(value: Decimal, places: int = 2) -> str:
    """The inverse of :func:`parse_ptbr_decimal`: ``Decimal("-1234.5")`` -> ``"-1.234,50"``."""
    quantized = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    english = f"{abs(quantized):,.{places}f}"
    ptbr = english.translate(_SWAP_SEPARATORS)
    return f"-{ptbr}" if quantized < 0 else ptbr


def parse_ptbr_date(text: str) -> date:
    """``"31/03/2024"``, ``"2024-03-31"`` or ``"31/03/2024 00:00:00"`` -> ``date(2024, 3, 31)``."""
    stripped = text.strip()
    match = _DATE_BR_RE.match(stripped) or _DATE_ISO_RE.match(stripped)
    if match is None:
        raise ValueError(f"not a date (expected dd/mm/yyyy or yyyy-mm-dd): {text!r}")
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError as exc:
        raise ValueError(f"not a valid calendar date: {text!r} ({exc})") from exc
