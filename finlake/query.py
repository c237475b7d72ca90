"""Athena-style SQL over the local lake: DuckDB views named after the Glue catalog's tables.

Only the partitions registered in the catalog are visible, as in Athena: a file written to S3
but not (yet) registered is not read.
"""

from __future__ import annotations

from typing import Any

import duckdb

from finlake.local.workspace import Workspace

_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "date": "DATE",
}


def _local_path(ws: Workspace, location: str) -> str:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return str(ws.object_path(bucket, key))


def connect(ws: Workspace) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for database, tables in ws.read_json("catalog.json", {}).items():
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
        for name, entry in tables.items():
            con.execute(f'CREATE OR REPLACE VIEW "{database}"."{name}" AS {_select(ws, entry)}')
    return con


def _select(ws: Workspace, entry: dict[str, Any]) -> str:
    table = entry["table"]
    keys = table.get("PartitionKeys", [])
    if keys:
        locations = [p["StorageDescriptor"]["Location"] for p in entry["partitions"]]
    else:
        locations = [table["StorageDescriptor"]["Location"]]
    files = [f"{_local_path(ws, loc).rstrip('/')}/*.parquet" for loc in locations]
    columns = [c["Name"] for c in table["StorageDescriptor"]["Columns"]] + [k["Name"] for k in keys]
    if not files:
        typed = ", ".join(
            f'NULL::{_sql_type(c["Type"])} AS "{c["Name"]}"' for c in table["StorageDescriptor"]["Columns"] + keys
        )
        return f"SELECT {typed} WHERE false"
    hive_types = ", ".join(f"'{k['Name']}': {_sql_type(k['Type'])}" for k in keys)
    listing = ", ".join(f"'{f}'" for f in files)
    options = f", hive_partitioning = true, hive_types = {{{hive_types}}}" if keys else ""
    projection = ", ".join(f'"{c}"' for c in columns)
    return f"SELECT {projection} FROM read_parquet([{listing}]{options})"


def _sql_type(glue_type: str) -> str:
    return _DUCKDB_TYPES.get(glue_type, glue_type.upper())


def run_query(ws: Workspace, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    con = connect(ws)
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description or []]
    return columns, cursor.fetchall()
