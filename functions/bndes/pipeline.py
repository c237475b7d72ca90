"""The BNDES workflow steps: fetch, validate, transform, catalog.

Each step takes the manifest and a `Lake` (S3 access) and returns the manifest; the handlers
in `handlers.py` only wire them to Lambda. Parsing rules live in `parse.py`, the CKAN client in
`ckan.py`.

Lake layout of the domain:

- raw:      ``s3://<raw>/bndes/balanco-patrimonial/<resource id>/<md5>.csv`` (as received,
  with source URL, resource id, MD5 and fetch time as object metadata; never rewritten);
  files fed with ``--input`` stay where they were uploaded (``inbox/bndes/``).
- staging:  ``s3://<curated>/_staging/bndes/<run id>/<resource id>.parquet`` (validated rows,
  removed by Transform).
- curated:  ``s3://<curated>/bndes_balance_sheet/reference_date=YYYY-MM-DD/data.parquet``, one
  file per partition, rows sorted, so a rerun writes the same bytes.
- quarantine: ``s3://<curated>/quarantine/bndes/dt=<run date>/<resource id>.jsonl``.
- state:    ``s3://<curated>/_state/bndes/ingested.json`` (resource id -> MD5 processed) and
  ``columns.json`` (columns seen per accounting standard), written when a run succeeds.
"""

from __future__ import annotations

import io
import json
import posixpath
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from functions.bndes.ckan import CkanClient, classify_standard
from functions.bndes.parse import FileRejected, ParseResult, parse_balance_sheet
from functions.bndes.tables import BALANCE_SHEET
from functions.common.catalog import register
from functions.common.lake import Lake, md5_hex, s3_uri
from functions.common.manifest import Manifest, Source, today_in_sao_paulo
from functions.common.naming import RunRequest
from functions.common.ptbr import normalize_column
from functions.common.text import charset_of

DOMAIN = "bndes"
PACKAGE_ID = "balanco-patrimonial"
DUPLICATE_KEY = "reference date and text attributes, same values, within a file"
TABLE = BALANCE_SHEET.name
PARTITION_KEY = BALANCE_SHEET.key

# Stored types (decided once for the table; see docs/decisions/0003-money-and-types.md).
SCHEMA = pa.schema(
    [
        ("reference_date", pa.date32()),
        ("accounting_standard", pa.string()),
        ("resource_name", pa.string()),
        ("resource_id", pa.string()),
        ("source_line", pa.int32()),
        ("account", pa.string()),
        ("account_label", pa.string()),
        ("value", pa.decimal128(20, 2)),
        ("attributes", pa.string()),
    ]
)
DATA_SCHEMA = pa.schema([f for f in SCHEMA if f.name != PARTITION_KEY])


def table_prefix(lake: Lake) -> str:
    """``s3://<curated>/<balance-sheet table>/``, where the curated table's partitions live."""
    return s3_uri(lake.curated_bucket, f"{TABLE}/")


# -- Fetch -----------------------------------------------------------------------------------------


def fetch(request: RunRequest, *, lake: Lake, ckan: CkanClient, now: datetime | None = None) -> Manifest:
    """Store new or changed sources in the raw zone and list them in a new manifest."""
    manifest = Manifest(run_id=request.run_id, domain=DOMAIN, partition={"dt": request.date or today_in_sao_paulo()})
    force = request.force
    ingested = lake.read_state(DOMAIN, "ingested.json")
    fetched_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    if request.inputs:
        candidates = [_input_source(lake, uri) for uri in request.inputs]
    else:
        candidates = _ckan_sources(ckan, lake, ingested, force, fetched_at, manifest)
    for source in candidates:
        if not force and ingested.get(source.resource_id) == source.md5:
            manifest.skipped.append(source.name)
        else:
            manifest.sources.append(source)
    manifest.new_data = bool(manifest.sources)
    if not manifest.new_data:
        manifest.summary = f"BNDES: nothing new ({len(manifest.skipped)} resources unchanged since the last run)."
    return manifest


def _input_source(lake: Lake, uri: str) -> Source:
    name = posixpath.basename(uri)
    data = lake.get(uri)
    return Source(
        uri=uri,
        name=name,
        resource_id=f"file-{normalize_column(posixpath.splitext(name)[0])}",
        md5=md5_hex(data),
        source_url=uri,
        standard=classify_standard(name),
    )


def _ckan_sources(
    ckan: CkanClient, lake: Lake, ingested: dict[str, Any], force: bool, fetched_at: str, manifest: Manifest
) -> list[Source]:
    package = ckan.package_show(PACKAGE_ID)
    sources = []
    for resource in package.resources:
        if not resource.is_csv:
            manifest.warnings.append(f"resource {resource.name!r} is {resource.format or '?'}, not CSV: skipped")
            continue
        if not force and resource.md5 and ingested.get(resource.id) == resource.md5:
            manifest.skipped.append(resource.name)  # unchanged per CKAN's hash: not even downloaded
            continue
        response = ckan.download_response(resource)
        data = response.body
        declared = resource.encoding or charset_of(response.header("content-type")) or ""
        md5 = md5_hex(data)
        if resource.md5 and resource.md5 != md5:
            manifest.warnings.append(f"{resource.name}: CKAN hash {resource.md5} != downloaded MD5 {md5}")
        uri = s3_uri(lake.raw_bucket, f"{DOMAIN}/{PACKAGE_ID}/{resource.id}/{md5}.csv")
        if not lake.exists(uri):  # raw objects are written once, never replaced
            lake.put(
                uri,
                data,
                metadata={
                    "source-url": resource.url,
                    "resource-id": resource.id,
                    "resource-name": resource.name.encode("ascii", "replace").decode(),
                    "md5": md5,
                    "ckan-hash": resource.md5 or "",
                    "declared-encoding": declared,
                    "fetched-at": fetched_at,
                },
            )
        sources.append(
            Source(
                uri=uri,
                name=resource.name,
                resource_id=resource.id,
                md5=md5,
                source_url=resource.url,
                standard=resource.standard,
                encoding=declared,
            )
        )
    return sources


# -- Validate --------------------------------------------------------------------------------------


def validate(manifest: Manifest, *, lake: Lake) -> Manifest:
    """Parse every source; stage valid rows as Parquet, quarantine bad rows with the reason."""
    known_columns = lake.read_state(DOMAIN, "columns.json")
    dt = manifest.partition["dt"]
    read_as: dict[str, int] = defaultdict(int)
    for source in manifest.sources:
        content = lake.get(source.uri)
        try:
            result = parse_balance_sheet(
                content,
                resource_name=source.name,
                resource_id=source.resource_id,
                standard=source.standard,
                expected_columns=known_columns.get(source.standard),
                declared_encoding=source.encoding or None,
            )
        except FileRejected as exc:
            _quarantine_file(lake, manifest, source, str(exc))
            raise FileRejected(f"{source.name} ({source.uri}) rejected: {exc}") from exc
        _stage(lake, manifest, source, result)
        manifest.columns[source.standard] = result.columns
        if result.quarantined:
            uri = s3_uri(lake.curated_bucket, f"quarantine/{DOMAIN}/dt={dt}/{source.resource_id}.jsonl")
            lines = [
                json.dumps(
                    {"source": source.uri, "line": q.source_line, "reason": q.reason, "raw": q.raw_line},
                    ensure_ascii=False,
                )
                for q in result.quarantined
            ]
            lake.put(uri, ("\n".join(lines) + "\n").encode())
            manifest.quarantine.append(uri)
        counts = manifest.counts
        counts.rows_in += result.rows_in
        counts.rows_valid += result.rows_valid
        counts.rows_quarantined += len(result.quarantined)
        counts.rows_empty += result.rows_empty
        counts.rows_duplicates += result.rows_duplicates
        counts.rows_curated += result.rows_valid
        how = "declared" if source.encoding else "detected"
        read_as[f"{result.encoding} ({how})" if result.encoding != "UTF-8" else "UTF-8"] += 1
        if result.encoding_note:
            manifest.warnings.append(f"{source.name}: {result.encoding_note}")
        if result.number_format != "pt-BR":
            manifest.warnings.append(
                f"{source.name}: read as {result.encoding}, '{result.delimiter}'-delimited with a "
                f"{result.number_format} number format"
            )
        if result.new_columns:
            manifest.warnings.append(f"{source.name}: new columns {result.new_columns} (carried through)")
        if result.missing_columns:
            manifest.warnings.append(f"{source.name}: missing columns {result.missing_columns}")
    manifest.counts.check("BNDES", DUPLICATE_KEY)
    if read_as:
        manifest.notes.append("Read as: " + ", ".join(f"{label} {n}" for label, n in sorted(read_as.items())))
    return manifest


def _quarantine_file(lake: Lake, manifest: Manifest, source: Source, reason: str) -> None:
    dt = manifest.partition["dt"]
    uri = s3_uri(lake.curated_bucket, f"quarantine/{DOMAIN}/dt={dt}/{source.resource_id}.rejected.json")
    lake.put(uri, json.dumps({"source": source.uri, "file": source.name, "reason": reason}).encode())
    manifest.quarantine.append(uri)


def _stage(lake: Lake, manifest: Manifest, source: Source, result: ParseResult) -> None:
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for row in result.rows:
        for name in SCHEMA.names:
            columns[name].append(getattr(row, name))
    table = pa.table(columns, schema=SCHEMA)
    uri = s3_uri(lake.curated_bucket, f"_staging/{DOMAIN}/{manifest.run_id}/{source.resource_id}.parquet")
    lake.put(uri, _parquet_bytes(table))
    manifest.staged.append(uri)


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", write_statistics=True)
    return buffer.getvalue()


# -- Transform -------------------------------------------------------------------------------------


def transform(manifest: Manifest, *, lake: Lake) -> Manifest:
    """Merge the staged rows into the curated partitions they touch, replacing the same resources."""
    staged = [pq.read_table(io.BytesIO(lake.get(uri)), schema=SCHEMA) for uri in manifest.staged]
    new_rows = pa.concat_tables(staged) if staged else SCHEMA.empty_table()
    replaced = pa.array(sorted({s.resource_id for s in manifest.sources}), pa.string())
    by_date: dict[str, list[int]] = defaultdict(list)
    for index, value in enumerate(new_rows.column(PARTITION_KEY).to_pylist()):
        by_date[value.isoformat()].append(index)
    written = 0
    for day in sorted(by_date):
        uri = s3_uri(lake.curated_bucket, f"{TABLE}/{PARTITION_KEY}={day}/data.parquet")
        incoming = new_rows.take(by_date[day]).drop_columns([PARTITION_KEY])
        parts = [incoming]
        if lake.exists(uri):
            existing = pq.read_table(io.BytesIO(lake.get(uri)), schema=DATA_SCHEMA)
            parts.insert(0, existing.filter(pc.invert(pc.is_in(existing["resource_id"], replaced))))
        merged = pa.concat_tables(parts).sort_by(
            [
                ("accounting_standard", "ascending"),
                ("resource_id", "ascending"),
                ("source_line", "ascending"),
                ("account", "ascending"),
            ]
        )
        lake.put(uri, _parquet_bytes(merged))
        written += incoming.num_rows
    manifest.partitions_written = sorted(by_date)
    manifest.counts.rows_written = written
    manifest.tables = [f"{lake.curated_database}.{TABLE}"]
    lake.delete(manifest.staged)
    manifest.staged = []
    return manifest


# -- Catalog ---------------------------------------------------------------------------------------


def catalog(manifest: Manifest, *, lake: Lake, glue: Any) -> Manifest:
    """Register the table and the partitions written; record what was ingested; write the summary."""
    register(glue, BALANCE_SHEET, lake=lake, values=manifest.partitions_written)
    ingested = lake.read_state(DOMAIN, "ingested.json")
    columns = lake.read_state(DOMAIN, "columns.json")
    for source in manifest.sources:
        ingested[source.resource_id] = source.md5
    lake.write_state(DOMAIN, "ingested.json", ingested)
    lake.write_state(DOMAIN, "columns.json", columns | manifest.columns)
    manifest.summary = summarize(manifest)
    return manifest


def summarize(manifest: Manifest) -> str:
    """The run's email body: sources, row accounting, values and partitions written, tables, notes.

    Raises
    ------
    RowAccountingError
        When rows in != curated + quarantined + duplicates.
    """
    c = manifest.counts
    dates = manifest.partitions_written
    span = f"{dates[0]} .. {dates[-1]}" if dates else "none"
    lines = [
        f"BNDES balance sheet, run {manifest.run_id}",
        f"Sources processed: {len(manifest.sources)} (unchanged, skipped: {len(manifest.skipped)})",
        f"Source rows: {c.check('BNDES', DUPLICATE_KEY)}; blank lines skipped: {c.rows_empty}",
        f"Values written: {c.rows_written} in {len(dates)} partitions ({span})",
        f"Tables: {', '.join(manifest.tables)}",
    ]
    if manifest.quarantine:
        lines.append("Quarantine: " + ", ".join(manifest.quarantine))
    lines += [f"Note: {n}" for n in manifest.notes]
    lines += [f"Warning: {w}" for w in manifest.warnings]
    return "\n".join(lines)
