"""How a domain declares its Glue tables: one `Table` each, in ``functions/<domain>/tables.py``.

The domain's Catalog step registers them (``functions/common/catalog.py``) and the stack reads them
(``DomainSpec.tables``: the Catalog role may touch these tables only). Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ZONES = ("curated", "refined")


@dataclass(frozen=True)
class Table:
    """One Glue table of the lake: Parquet (zstd) under ``s3://<zone bucket>/<name>/``, one partition key.

    Attributes
    ----------
    name
        Table name, also its folder in the zone's bucket, e.g. ``"b3_quotes"``.
    zone
        ``"curated"`` or ``"refined"``: the bucket and Glue database (``<prefix>_<zone>``) it lives in.
    partition
        (key, Glue type), e.g. ``("dt_ref", "date")``: the folder ``<key>=<value>/`` of each partition.
    description
        What a row is, shown by Athena and ``finlake query`` (``DESCRIBE``).
    columns
        Column -> Glue type; empty when the Catalog step takes them from the written Parquet or a schema.
    comments
        Column -> comment with its unit (BRL unless the row says otherwise; fractions are ratios, 0.01 = 1%).

    Raises
    ------
    ValueError
        For a zone other than curated or refined.
    """

    name: str
    zone: str
    partition: tuple[str, str]
    description: str
    columns: Mapping[str, str] = field(default_factory=dict)
    comments: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the zone (ValueError when it is not curated or refined)."""
        if self.zone not in ZONES:
            raise ValueError(f"table {self.name}: zone {self.zone!r} is not one of {ZONES}")

    @property
    def key(self) -> str:
        """The partition key, e.g. ``"dt_ref"``."""
        return self.partition[0]

    def comments_for(self, columns: Mapping[str, str]) -> dict[str, str]:
        """The comments of the columns present in ``columns`` and of the partition key."""
        return {k: v for k, v in self.comments.items() if k in columns or k == self.key}

    def qualified(self, database_prefix: str) -> str:
        """``<database>.<table>``, e.g. ``finlake_curated.b3_quotes`` for the prefix ``finlake``."""
        return f"{database_prefix}_{self.zone}.{self.name}"
