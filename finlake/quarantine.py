r"""What the local lake holds in quarantine, for `finlake quarantine [DOMAIN]`.

Every domain writes its quarantine under ``s3://<curated>/quarantine/<domain>/`` in one format,
JSON Lines, one object per bad row: ``{"source": <S3 URI of the file>, "line": <1-based line or
position>, "reason": ..., "raw": <the line as read>}`` (bndes, stocks and bank from their Lambda
steps, cards from its Glue job). A file rejected whole leaves a ``*.rejected.json`` (or
``rejected.json``) beside them: one JSON object with the same ``source`` and ``reason`` and no line;
a card file no month can take is copied to ``quarantine/cards/unplaced/`` with a ``*.reason.json``
of the same shape. Other objects there (the copies of rejected or unplaced raw files) are not rows
and are not listed, whatever their name.

Lines are split on ``\n`` only: a row's ``raw`` may hold characters that `str.splitlines` also
breaks on (a COTAHIST record's C1 byte 0x85, read as latin-1, is U+0085 NEXT LINE), which JSON
leaves as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from finlake.local.workspace import Workspace

CURATED_BUCKET = "finlake-curated"  # finlake.local.runtime.BUCKETS["CURATED_BUCKET"]


@dataclass(frozen=True)
class QuarantinedRow:
    """One quarantined row, or a whole quarantined file (``line`` None), with the reason it was set aside.

    ``source`` is the input file's S3 URI, ``raw`` the row's text as read, ``copy`` a whole file's copy in quarantine.
    """

    source: str  # the file, as its S3 URI
    line: int | None  # None: the whole file was rejected
    reason: str
    raw: str = ""
    copy: str = ""  # a whole file's copy in quarantine (stocks' rejected files, cards' unplaced ones)
    whole: str = "rejected"  # what befell a whole file: "rejected", or "not placed" (a card file no month takes)

    @property
    def where(self) -> str:
        """Where the row came from: ``<source> line <n>``, or the source with what befell the whole file."""
        if self.line is not None:
            return f"{self.source} line {self.line}"
        return f"{self.source} (whole file {self.whole}" + (f", copied to {self.copy})" if self.copy else ")")


def read_quarantine(ws: Workspace, domain: str | None = None) -> list[tuple[str, list[QuarantinedRow]]]:
    """``[(S3 URI of the quarantine object, its rows)]`` in key order, for one domain or all."""
    root = ws.object_path(CURATED_BUCKET, "quarantine/" + (f"{domain}/" if domain else ""))
    if not root.exists():
        return []
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rows = _rows(path)
        if rows:
            key = path.relative_to(ws.object_path(CURATED_BUCKET, "")).as_posix()
            found.append((f"s3://{CURATED_BUCKET}/{key}", rows))
    return found


WHOLE_FILE = (".rejected.json", ".reason.json")  # and "rejected.json" (bank): one object, no line


def _rows(path: Path) -> list[QuarantinedRow]:
    whole = "not placed" if path.name.endswith(".reason.json") else "rejected"
    if path.suffix == ".jsonl":
        texts = path.read_text(encoding="utf-8").split("\n")
    elif path.name == "rejected.json" or path.name.endswith(WHOLE_FILE):
        texts = [path.read_text(encoding="utf-8")]
    else:
        return []
    rows = []
    for text in texts:
        if not text.strip():
            continue
        item = json.loads(text)
        line = item.get("line")
        rows.append(
            QuarantinedRow(
                source=str(item.get("source") or item.get("file") or "?"),
                line=int(line) if line is not None else None,
                reason=str(item.get("reason", "")),
                raw=str(item.get("raw", "")),
                copy=str(item.get("copy", "")),
                whole=whole,
            )
        )
    return rows
