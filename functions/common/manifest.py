"""The manifest the workflow steps pass to each other: small facts, never data.

Fetch builds it from the execution input; each later step reads it, adds what it did and
returns it. Step Functions carries it as the state output (well under the 256 KB limit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def today_in_sao_paulo() -> str:
    """Today's date in America/Sao_Paulo (the lake's business time zone) as ``YYYY-MM-DD``."""
    return datetime.now(SAO_PAULO).date().isoformat()


@dataclass
class Source:
    """One raw object this run processes."""

    uri: str
    name: str
    resource_id: str
    md5: str
    source_url: str = ""
    standard: str = ""
    kind: str = ""  # what the object is, for domains with several kinds of source
    encoding: str = ""  # the text encoding the source declares (CKAN resource field, HTTP charset), if any


class RowAccountingError(RuntimeError):
    """Rows in != rows curated + rows quarantined + duplicates dropped: rows went missing."""


@dataclass
class Counts:
    """Rows of a run and the accounting equation every domain keeps.

    The equation (:meth:`check`)::

        rows_in == rows_curated + rows_quarantined + rows_duplicates

    ``rows_valid`` = rows_curated + rows_duplicates (passed the checks); ``rows_empty`` counts blank
    lines, which are not rows; ``rows_written`` is the domain's own output figure (long values,
    book rows ...).
    """

    rows_in: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0
    rows_empty: int = 0
    rows_written: int = 0
    rows_curated: int = 0
    rows_duplicates: int = 0

    def line(self, duplicate_key: str = "") -> str:
        """``rows in 10 = 7 curated + 2 quarantined + 1 duplicates dropped (by <key>)``."""
        by = f" (by {duplicate_key})" if duplicate_key else ""
        return (
            f"rows in {self.rows_in} = {self.rows_curated} curated + {self.rows_quarantined} quarantined "
            f"+ {self.rows_duplicates} duplicates dropped{by}"
        )

    def check(self, what: str, duplicate_key: str = "") -> str:
        """The accounting line, or RowAccountingError when the sum does not hold."""
        total = self.rows_curated + self.rows_quarantined + self.rows_duplicates
        if total != self.rows_in:
            raise RowAccountingError(
                f"{what}: {self.rows_in} rows in, but {self.rows_curated} curated + {self.rows_quarantined} "
                f"quarantined + {self.rows_duplicates} duplicates = {total}: {self.rows_in - total:+d} rows "
                "unaccounted for"
            )
        return self.line(duplicate_key)


@dataclass
class Manifest:
    """What a run's steps pass to each other: sources, counts, partitions and messages, never data.

    ``partition`` is the run's partition (``{"dt": "YYYY-MM-DD"}``, ``{"year": ...}``, ...); ``staged``
    and ``quarantine`` are ``s3://`` URIs; ``job_args`` maps a Glue step to its ``--name`` arguments;
    ``warnings`` and ``notes`` end in the email; ``summary`` replaces it when there is nothing new.
    """

    run_id: str
    domain: str
    partition: dict[str, str]
    new_data: bool = False
    sources: list[Source] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    staged: list[str] = field(default_factory=list)
    quarantine: list[str] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    tables: list[str] = field(default_factory=list)
    partitions_written: list[str] = field(default_factory=list)
    job_args: dict[str, dict[str, str]] = field(default_factory=dict)  # Glue step -> its "--name" arguments
    columns: dict[str, list[str]] = field(default_factory=dict)  # source columns seen, per kind of file
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth telling, not wrong: a retried answer, encodings read
    summary: str = ""

    @property
    def partition_label(self) -> str:
        """The partition values joined by "/" (``"2024-05-17"``), as emails and names show them."""
        return "/".join(self.partition.values())

    def log_fields(self) -> dict[str, Any]:
        """What a step logs when it is done: counts and number of sources, never data."""
        return {"counts": asdict(self.counts), "sources": len(self.sources)}

    def to_dict(self) -> dict[str, Any]:
        """The manifest as the JSON-ready dict a step returns (with ``partition_label``)."""
        data = asdict(self)
        data["partition_label"] = self.partition_label
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """The manifest back from a step's input dict; keys it does not know (``partition_label``) are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["sources"] = [Source(**s) for s in known.get("sources", [])]
        known["counts"] = Counts(**known.get("counts", {}))
        return cls(**known)
