"""Registering a domain's tables and partitions in the Glue Data Catalog (no crawlers), for every domain.

Each domain declares its tables once (``functions/<domain>/tables.py``, `functions.common.tables.Table`);
its Catalog step hands them here with the partition values its run wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.common.lake import Lake, s3_uri, session
from functions.common.tables import Table


@dataclass(frozen=True)
class Registered:
    """A table the Catalog step registered: its database and the partition values it added or kept, sorted."""

    table: Table
    database: str
    values: list[str]

    @property
    def qualified(self) -> str:
        """``<database>.<table>``."""
        return f"{self.database}.{self.table.name}"

    @property
    def partitions(self) -> list[str]:
        """``<table>/<key>=<value>`` of each value (the manifest's ``partitions_written``)."""
        return [f"{self.table.name}/{self.table.key}={v}" for v in self.values]


def location(table: Table, lake: Lake) -> tuple[str, str]:
    """(Glue database, ``s3://<zone bucket>/<table>/``) of ``table`` in ``lake``."""
    if table.zone == "curated":
        return lake.curated_database, s3_uri(lake.curated_bucket, f"{table.name}/")
    return lake.refined_database, s3_uri(lake.refined_bucket, f"{table.name}/")


def register(
    glue: Any, table: Table, *, lake: Lake, values: Iterable[str], columns: Mapping[str, str] | None = None
) -> Registered:
    """Create or update ``table`` (Parquet, zstd) and add the partitions in ``values`` not registered yet.

    Parameters
    ----------
    glue
        A boto3 Glue client (the partitions already registered are read with it).
    table
        The table's declaration.
    lake
        Buckets and databases of the deployment.
    values
        Partition values the run wrote, e.g. ``["2024-01-02"]``; a partition is added only after its
        files are written, so a query never sees a partial one.
    columns
        Column -> Glue type; default: ``table.columns``, else the types of the first written
        partition's first Parquet file.

    Returns
    -------
    Registered
        The database and the partition values, sorted and unique.

    Raises
    ------
    ValueError
        When the columns are neither given, declared nor readable from a written file.
    """
    import awswrangler as wr  # heavy import (pandas, pyarrow), only where the catalog is written

    database, path = location(table, lake)
    wanted = sorted(set(values))
    columns = dict(columns or table.columns) or _parquet_columns(lake, path, table.key, wanted)
    wr.catalog.create_parquet_table(
        database=database,
        table=table.name,
        path=path,
        columns_types=columns,
        partitions_types={table.key: table.partition[1]},
        compression="zstd",
        description=table.description,
        columns_comments=table.comments_for(columns) or None,
        mode="update",  # type: ignore[arg-type]  # accepted by awswrangler 3.17, missing from its hint; keeps partitions
        boto3_session=session(),
    )
    existing = _registered(glue, database, table.name, wanted)
    missing = {f"{path}{table.key}={value}/": [value] for value in wanted if value not in existing}
    if missing:
        wr.catalog.add_parquet_partitions(
            database=database,
            table=table.name,
            partitions_values=missing,
            compression="zstd",
            boto3_session=session(),
        )
    return Registered(table=table, database=database, values=wanted)


def register_written(
    glue: Any,
    tables: Iterable[Table],
    *,
    lake: Lake,
    written: Mapping[str, Sequence[str]],
    columns: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Registered]:
    """Register each table the run wrote partitions of.

    `register` each table of ``tables`` the run wrote partitions of (``written``: table name -> values);
    a table without written partitions is left as it is. ``columns``: table name -> Glue types, for
    tables that declare none.
    """
    return [
        register(glue, table, lake=lake, values=written[table.name], columns=(columns or {}).get(table.name))
        for table in tables
        if written.get(table.name)
    ]


BATCH_GET_PARTITION_MAX = 1000  # partitions a BatchGetPartition call may ask for (the Glue API's limit)
UNPROCESSED_RETRIES = 5


def _registered(glue: Any, database: str, table: str, values: Sequence[str]) -> set[str]:
    """The values of ``values`` registered as partitions of ``database.table``.

    Asks for those partitions only (BatchGetPartition, 1,000 a call), so a daily run's Catalog step costs the
    same on a table of ten years as on one of a week; keys Glue returns unprocessed are asked again.

    Raises
    ------
    RuntimeError
        When Glue still returns keys unprocessed after ``UNPROCESSED_RETRIES`` more calls.
    """
    found: set[str] = set()
    for start in range(0, len(values), BATCH_GET_PARTITION_MAX):
        keys = [{"Values": [value]} for value in values[start : start + BATCH_GET_PARTITION_MAX]]
        for _ in range(1 + UNPROCESSED_RETRIES):
            answer = glue.batch_get_partition(DatabaseName=database, TableName=table, PartitionsToGet=keys)
            found.update(p["Values"][0] for p in answer.get("Partitions", []))
            keys = answer.get("UnprocessedKeys") or []
            if not keys:
                break
        else:
            raise RuntimeError(f"{database}.{table}: Glue left {len(keys)} partition(s) unprocessed after retries")
    return found


def _parquet_columns(lake: Lake, path: str, key: str, values: Sequence[str]) -> dict[str, str]:
    import awswrangler as wr

    sample = [u for u in lake.list_uris(f"{path}{key}={values[0]}/") if u.endswith(".parquet")] if values else []
    if not sample:
        raise ValueError(f"{path}: no columns declared and no Parquet file written to read them from")
    columns, _ = wr.s3.read_parquet_metadata(path=sample[:1], boto3_session=session())
    return dict(columns)
