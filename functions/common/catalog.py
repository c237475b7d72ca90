"""Registering tables and partitions in the Glue Data Catalog (no crawlers), for every domain."""

from __future__ import annotations

from typing import Any


def register(
    glue: Any,
    *,
    database: str,
    table: str,
    path: str,
    columns: dict[str, str],
    partition: tuple[str, str],
    values: list[str],
    description: str = "",
    comments: dict[str, str] | None = None,
) -> list[str]:
    """Create or update a Parquet table partitioned by one key, and add the partitions in ``values``
    that are not registered yet; returns the partition values, sorted. Without ``comments``, the
    columns get those of `functions.common.column_comments` (units included). A partition is added only
    after its files are written, so a query never sees a partial one."""
    import awswrangler as wr  # heavy import (pandas, pyarrow), only where the catalog is written

    from functions.common.column_comments import TABLE_COMMENTS

    key, key_type = partition
    if comments is None:  # the shared comments (units) of the tables whose step gives none
        comments = {k: v for k, v in TABLE_COMMENTS.get(table, {}).items() if k in columns or k == key} or None
    wr.catalog.create_parquet_table(
        database=database,
        table=table,
        path=path,
        columns_types=columns,
        partitions_types={key: key_type},
        compression="zstd",
        description=description,
        columns_comments=comments,
        mode="update",  # type: ignore[arg-type]  # accepted by awswrangler 3.17, missing from its hint; keeps partitions
    )
    existing = {
        tuple(p["Values"])
        for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
        for p in page["Partitions"]
    }
    wanted = sorted(set(values))
    missing = {f"{path}{key}={value}/": [value] for value in wanted if (value,) not in existing}
    if missing:
        wr.catalog.add_parquet_partitions(database=database, table=table, partitions_values=missing, compression="zstd")
    return wanted
