"""Personal data (LGPD): what never leaves the raw zone in plain text.

- CPFs (formatted, bare 11 digits with valid check digits, or the app's masked form
  "•••.123.456-••"), bank account and agency numbers and card numbers in free text are replaced
  by a marker before a description is stored (`scrub`).
- An identifier that must be kept to join rows (an account id) is stored as a keyed hash
  (HMAC-SHA256 with a key held in Secrets Manager), never a plain hash: CPFs and account numbers
  are short enough that a plain hash is reversed by enumeration.

`find_cpfs` is also what the tests use to scan every written object and log line.
"""

from __future__ import annotations

import hashlib
import hmac
import re

CPF_MARK = "[CPF]"
ACCOUNT_MARK = "[CONTA]"
CARD_MARK = "[CARTAO]"

_FORMATTED_CPF = re.compile(r"(?<!\d)\d{3}\.\d{3}\.\d{3}-\d{2}(?!\d)")
_BARE_DIGITS = re.compile(r"(?<![\d.\-/])\d{11}(?![\d.\-/])")
_MASKED_CPF = re.compile(r"[•*xX]{3}\.\d{3}\.\d{3}-[•*xX]{2}")
_ACCOUNT = re.compile(
    r"\b(ag[eê]ncia|ag\.?|conta(?:\s+corrente)?|c/c|cc)(\s*[:nº°#]*\s*)\d[\d.\-]{2,}\d\b", re.IGNORECASE
)
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def cpf_is_valid(digits: str) -> bool:
    """The CPF check digits (and not eleven equal digits)."""
    if len(digits) != 11 or not digits.isdigit() or digits == digits[0] * 11:
        return False
    for size in (9, 10):
        total = sum(int(d) * weight for d, weight in zip(digits[:size], range(size + 1, 1, -1), strict=True))
        check = (total * 10) % 11 % 10
        if check != int(digits[size]):
            return False
    return True


def find_cpfs(text: str) -> list[str]:
    """Valid CPFs in ``text``, formatted ("123.456.789-09") or bare ("12345678909")."""
    found = [m.group() for m in _FORMATTED_CPF.finditer(text) if cpf_is_valid(re.sub(r"\D", "", m.group()))]
    found += [m.group() for m in _BARE_DIGITS.finditer(text) if cpf_is_valid(m.group())]
    return found


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def scrub(text: str) -> str:
    """``text`` without CPFs, account or agency numbers, or card numbers."""
    text = _MASKED_CPF.sub(CPF_MARK, text)
    text = _FORMATTED_CPF.sub(CPF_MARK, text)  # formatted: a CPF even if the check digits are off
    text = _BARE_DIGITS.sub(lambda m: CPF_MARK if cpf_is_valid(m.group()) else m.group(), text)
    text = _CARD.sub(lambda m: CARD_MARK if _luhn_ok(re.sub(r"\D", "", m.group())) else m.group(), text)
    return _ACCOUNT.sub(lambda m: f"{m[1]}{m[2]}{ACCOUNT_MARK}", text)


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 of ``value`` (hex, 32 characters): stable per key, not reversible without it."""
    if not key:
        raise ValueError("keyed_hash needs a non-empty key")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]
