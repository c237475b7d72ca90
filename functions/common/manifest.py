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


@dataclass
class Counts:
    rows_in: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0
    rows_empty: int = 0
    rows_written: int = 0


@dataclass
class Manifest:
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
    summary: str = ""

    @property
    def partition_label(self) -> str:
        return "/".join(self.partition.values())

    def log_fields(self) -> dict[str, Any]:
        """What a step logs when it is done: counts and number of sources, never data."""
        return {"counts": asdict(self.counts), "sources": len(self.sources)}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["partition_label"] = self.partition_label
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["sources"] = [Source(**s) for s in known.get("sources", [])]
        known["counts"] = Counts(**known.get("counts", {}))
        return cls(**known)
