"""Athena SQL over the local lake: DuckDB views named after the Glue catalog's tables.

A query is Athena engine v3 (Trino) SQL, translated to DuckDB's dialect by `finlake.athena_sql`
(sqlglot, with the fixes listed there). SQL that is not Athena's but that DuckDB runs as it is
(``SELECT * EXCLUDE (x)``, ``FROM t SELECT ...``) still runs: when the translation fails, the
original text is given to DuckDB, and only if DuckDB refuses it too is the translation's message
shown (docs/decisions/0016-athena-sql-locally.md). The session time zone is UTC, as Athena's.

Only the partitions registered in the catalog are visible, as in Athena: a file written to S3
but not (yet) registered is not read. Athena's catalog statements are answered from the catalog
itself, as Athena answers them (DuckDB's own ``SHOW TABLES`` would list its ``main`` schema):

- ``SHOW DATABASES`` / ``SHOW SCHEMAS``;
- ``SHOW TABLES [IN|FROM db] [LIKE 'pattern']`` (``*`` as wildcard, as in Athena);
- ``DESCRIBE [db.]table``: column, type and comment (partition keys last, marked);
- ``SHOW COLUMNS {IN|FROM} [db.]table [{IN|FROM} db]``: the column names (``field``);
- ``SHOW PARTITIONS [db.]table``: the registered partitions as ``key=value`` (``partition``).

``SHOW CREATE TABLE`` is refused in one line (the DDL is CDK's; DESCRIBE gives its columns).

They are recognised by a regular expression: the statement forms are fixed and few, so a SQL
parser would add a dependency for nothing.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from finlake.athena_sql import AthenaRefuses, TranslationError, check_read_only, glue_schema, translate
from finlake.local.workspace import Workspace

_SHOW_DATABASES = re.compile(r"\s*SHOW\s+(DATABASES|SCHEMAS)\s*;?\s*", re.IGNORECASE)
_SHOW_TABLES = re.compile(
    r"\s*SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+`?\"?(?P<db>\w+)`?\"?)?(?:\s+(?:LIKE\s+)?'(?P<like>[^']*)')?\s*;?\s*",
    re.IGNORECASE,
)
_DESCRIBE = re.compile(
    r"\s*(?:DESCRIBE|DESC)\s+(?:TABLE\s+)?`?\"?(?:(?P<db>\w+)`?\"?\.`?\"?)?(?P<table>\w+)`?\"?\s*;?\s*",
    re.IGNORECASE,
)
_NAME = r"`?\"?(?:(?P<db>\w+)`?\"?\.`?\"?)?(?P<table>\w+)`?\"?"
_SHOW_COLUMNS = re.compile(
    rf"\s*SHOW\s+COLUMNS\s+(?:IN|FROM)\s+{_NAME}(?:\s+(?:IN|FROM)\s+`?\"?(?P<db2>\w+)`?\"?)?\s*;?\s*", re.IGNORECASE
)
_SHOW_PARTITIONS = re.compile(rf"\s*SHOW\s+PARTITIONS\s+(?:FROM\s+|IN\s+)?{_NAME}\s*;?\s*", re.IGNORECASE)
_SHOW_CREATE = re.compile(r"\s*SHOW\s+CREATE\s+(TABLE|VIEW)\b.*", re.IGNORECASE | re.DOTALL)


class QueryError(Exception):
    """A query that cannot run, said in one line (with the next step when there is one)."""


@dataclass(frozen=True)
class TableSummary:
    """One catalog table as ``finlake query`` lists it: rows and partitions in the local lake, its location.

    ``last_run`` is ``"<execution> (<started>)"`` of the newest successful run that wrote it, or "".
    """

    database: str
    name: str
    rows: int
    partitions: int
    location: str
    last_run: str  # "<execution> (<started>)" of the newest successful run that wrote it, or ""


_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "date": "DATE",
}


@cache
def _duckdb_functions() -> frozenset[str]:
    """DuckDB's function names (the same in every connection of this process: no extension is loaded)."""
    with duckdb.connect() as con:
        return frozenset(
            name for (name,) in con.execute("SELECT DISTINCT function_name FROM duckdb_functions()").fetchall()
        )


def _local_path(ws: Workspace, location: str) -> str:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return str(ws.object_path(bucket, key))


def connect(ws: Workspace, tables: Collection[tuple[str, str]] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a schema per catalog database and a view per table, reading only the lake's folders.

    ``tables``: the ``(database, table)`` views to make, lower case (None: every table). A view lists its
    partitions' files when it is made, thousands on a stocks lake: a query makes only the views it reads.

    Defence in depth behind `check_read_only`: once the views exist, external access is switched
    off except for the lake's own folder (``allowed_directories``), extensions are neither
    installed nor loaded, and the configuration is locked, so a statement that slipped past the
    check still cannot read /etc/passwd, write a file, ATTACH a database or change these settings.
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # Athena's session time zone
    wanted = None if tables is None else {(db.lower(), name.lower()) for db, name in tables}
    for database, entries in ws.read_json("catalog.json", {}).items():
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
        for name, entry in entries.items():
            if wanted is None or (database.lower(), name.lower()) in wanted:
                con.execute(f'CREATE OR REPLACE VIEW "{database}"."{name}" AS {_select(ws, entry)}')
    con.execute("SET allowed_directories = $1", [[str(ws.s3_dir) + "/"]])
    for setting in ("enable_external_access", "autoinstall_known_extensions", "autoload_known_extensions"):
        con.execute(f"SET {setting} = false")
    con.execute("SET lock_configuration = true")
    return con


def _select(ws: Workspace, entry: dict[str, Any]) -> str:
    table = entry["table"]
    keys = table.get("PartitionKeys", [])
    if keys:
        locations = [p["StorageDescriptor"]["Location"] for p in entry["partitions"]]
    else:
        locations = [table["StorageDescriptor"]["Location"]]
    # A registered partition without files reads as empty in Athena; DuckDB would fail on its glob.
    files = [f"{path}/*.parquet" for loc in locations if _has_parquet(path := _local_path(ws, loc).rstrip("/"))]
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


def _has_parquet(folder: str) -> bool:
    return any(Path(folder).glob("*.parquet"))


def _sql_type(glue_type: str) -> str:
    return _DUCKDB_TYPES.get(glue_type, glue_type.upper())


def run_query(ws: Workspace, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``(columns, rows)`` of one Athena SQL statement over the workspace's catalog.

    ``columns`` are the result's names (an unnamed expression is ``_col<position>``, as in
    Athena); ``rows`` are tuples of Python values (``date``, ``datetime`` in UTC for timestamps with
    time zone, ``Decimal``, lists for arrays, dicts for maps). Raises `QueryError` with a one-line
    message: a construct with no DuckDB translation (named), a missing table, a DuckDB error.
    """
    catalog: dict[str, dict[str, Any]] = ws.read_json("catalog.json", {})
    answer = _catalog_statement(catalog, sql)
    if answer is not None:
        return answer
    try:
        tables = check_read_only(sql, catalog)
    except TranslationError as exc:
        raise QueryError(_with_hint(str(exc), catalog, sql)) from None
    # information_schema lists the views that exist: all of them, as Athena's lists every table
    try:
        con = connect(ws, None if any(db == "information_schema" for db, _ in tables) else tables)
    except duckdb.Error as exc:  # a table's files that DuckDB cannot read (a file that is not Parquet)
        raise QueryError(str(exc).strip().splitlines()[0]) from None
    try:
        text = translate(sql, schema=glue_schema(catalog), functions=_duckdb_functions())
    except AthenaRefuses as exc:  # Athena's own type error: DuckDB's dialect would run it anyway
        raise QueryError(str(exc)) from None
    except TranslationError as exc:
        try:  # DuckDB's own dialect, as before the translation existed; one statement, as in Athena
            if len(con.extract_statements(sql)) != 1:
                raise QueryError(str(exc))
            cursor = con.execute(sql)
        except duckdb.Error:
            raise QueryError(str(exc)) from None
        return [d[0] for d in cursor.description or []], cursor.fetchall()
    try:
        cursor = con.execute(text)
    except duckdb.Error as exc:
        raise QueryError(_with_hint(str(exc).strip().splitlines()[0], catalog, sql)) from None
    columns = [d[0] for d in cursor.description or []]
    return columns, cursor.fetchall()


def athena_text(value: Any) -> str:
    """One result value as Athena's console and its CSV result files write it (Trino's rendering).

    NULL empty (``null`` inside an array or map), ``true``/``false``, decimals with their scale and no exponent
    (``-120.41``, ``1.50``), doubles ``Infinity``/``-Infinity``/``NaN``, arrays ``[a, b]``, maps and rows ``{k=v,
    k2=v2}`` (strings unquoted), timestamps with milliseconds (``2024-01-01 10:00:00.123``; with their zone, ``UTC`` or
    ``-03:00``, for timestamp with time zone), varbinary as spaced hex (``48 65``). Written by hand: neither DuckDB nor
    pyarrow render values the Trino way. Used by `finlake query` and the console's SQL grid and CSV.
    """
    return "" if value is None else _text(value)


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_text(k)}={_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        offset = value.utcoffset()
        if offset is None:
            return text
        if offset == timedelta(0):
            return f"{text} UTC"
        minutes = int(offset.total_seconds()) // 60
        return f"{text} {'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if isinstance(value, time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex(" ")
    return _double(value) if isinstance(value, float) else str(value)


def _double(value: float) -> str:
    if math.isfinite(value):
        return str(value)
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")  # Java's Double.toString


def _with_hint(message: str, catalog: dict[str, dict[str, Any]], sql: str) -> str:
    if not any(catalog.values()) and re.search(r"finlake_\w+", sql):
        return message + " (the lake has no tables yet: run a domain first, e.g. `finlake run bndes`)"
    if "does not exist" in message and "(" not in message:
        return message + " (`finlake tables` lists the tables)"
    return message


def _catalog_statement(catalog: dict[str, dict[str, Any]], sql: str) -> tuple[list[str], list[tuple[Any, ...]]] | None:
    """The answer to SHOW DATABASES / SHOW TABLES / DESCRIBE from the catalog; None for other SQL."""
    if _SHOW_DATABASES.fullmatch(sql):
        return ["database_name"], [(name,) for name in sorted(catalog)]
    if match := _SHOW_TABLES.fullmatch(sql):
        databases = [match["db"]] if match["db"] else sorted(catalog)
        if match["db"] and match["db"] not in catalog:
            raise QueryError(f"database {match['db']} does not exist (SHOW DATABASES lists them)")
        pattern = (match["like"] or "*").replace("|", "*")
        rows: list[tuple[Any, ...]] = [
            (f"{db}.{name}" if not match["db"] else name,)
            for db in databases
            for name in sorted(catalog.get(db, {}))
            if fnmatch.fnmatch(name, pattern)
        ]
        return ["tab_name"], rows
    if match := _DESCRIBE.fullmatch(sql):
        table = _table_entry(catalog, match["db"], match["table"])["table"]
        columns = table["StorageDescriptor"]["Columns"]
        keys = table.get("PartitionKeys", [])
        described: list[tuple[Any, ...]] = [(c["Name"], c["Type"], c.get("Comment", "")) for c in columns]
        for key in keys:
            comment = "partition key" + (f": {key['Comment']}" if key.get("Comment") else "")
            described.append((key["Name"], key["Type"], comment))
        return ["col_name", "data_type", "comment"], described
    if match := _SHOW_COLUMNS.fullmatch(sql):
        table = _table_entry(catalog, match["db2"] or match["db"], match["table"])["table"]
        fields = table["StorageDescriptor"]["Columns"] + table.get("PartitionKeys", [])
        return ["field"], [(c["Name"],) for c in fields]
    if match := _SHOW_PARTITIONS.fullmatch(sql):
        entry = _table_entry(catalog, match["db"], match["table"])
        keys = [k["Name"] for k in entry["table"].get("PartitionKeys", [])]
        if not keys:
            raise QueryError(f"table {match['table']} is not partitioned")
        names = sorted(
            "/".join(f"{k}={v}" for k, v in zip(keys, p["Values"], strict=True)) for p in entry["partitions"]
        )
        return ["partition"], [(name,) for name in names]
    if _SHOW_CREATE.fullmatch(sql):
        raise QueryError(
            "SHOW CREATE TABLE is not answered locally (the tables are CDK's): DESCRIBE db.table gives the columns"
        )
    return None


def _table_entry(catalog: dict[str, dict[str, Any]], database: str | None, name: str) -> dict[str, Any]:
    """The catalog entry of ``[database.]name``; `QueryError` naming it when there is none."""
    found = [
        tables[name] for db, tables in sorted(catalog.items()) if name in tables and (not database or db == database)
    ]
    if not found:
        shown = f"{database}.{name}" if database else name
        raise QueryError(f"table {shown} does not exist (`finlake tables` lists the tables)")
    return found[0]


def table_summaries(ws: Workspace) -> list[TableSummary]:
    """Every catalog table: rows (registered partitions only), partitions, S3 location, last run."""
    catalog: dict[str, dict[str, Any]] = ws.read_json("catalog.json", {})
    if not any(catalog.values()):
        return []
    con = connect(ws)
    last: dict[str, str] = {}
    for record in ws.runs():
        output = record.get("output") or {}
        if record.get("status") == "SUCCEEDED" and output.get("new_data", True):
            for table in output.get("tables", []):
                last[table] = f"{record['name']} ({record['started'][:19]})"
    summaries = []
    for database, tables in sorted(catalog.items()):
        for name, entry in sorted(tables.items()):
            # a relation on the view by its name: no SQL text is built from the catalog's names
            [(rows,)] = con.table(f"{database}.{name}").aggregate("count(*)").fetchall()
            summaries.append(
                TableSummary(
                    database,
                    name,
                    int(rows),
                    len(entry["partitions"]),
                    entry["table"]["StorageDescriptor"]["Location"],
                    last.get(f"{database}.{name}", ""),
                )
            )
    return summaries


def to_csv(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """The rows as CSV text with LF line ends, as Athena's result files.

    The csv module's default is CRLF; RFC 4180 quoting, header first, each value as `athena_text` renders it (NULL an
    empty field). `finlake query --format csv` and the console's download both write this.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([athena_text(v) for v in row] for row in rows)
    return out.getvalue()
