"""The example domain's steps: fetch, transform, catalog (each ``(input, *, lake, ...) -> Manifest``).

Source: ``SOURCE_URL``, a ``;``-separated CSV ``date;currency;rate`` with pt-BR values
(``08/01/2024;USD;4,9123``), UTF-8. Lake layout:

- raw:        ``s3://<raw>/example/daily/<md5>.csv``, as received, never rewritten.
- curated:    ``s3://<curated>/example_rates/reference_date=YYYY-MM-DD/data.parquet``, rows sorted,
  so a rerun writes the same bytes.
- quarantine: ``s3://<curated>/quarantine/example/<md5>.jsonl``, one bad row a line with its reason.
- state:      ``s3://<curated>/_state/example/ingested.json`` (MD5 of the file last processed).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from functions.common.catalog import register_written
from functions.common.http import Http, SourceFormatError, get_ok
from functions.common.lake import Lake, md5_hex, s3_uri
from functions.common.manifest import Manifest, Source, today_in_sao_paulo
from functions.common.naming import RunRequest
from functions.common.ptbr import parse_ptbr_date, parse_ptbr_decimal
from functions.common.text import charset_of, decode
from tests.example_domain.tables import RATES, TABLES

DOMAIN = "example"
SOURCE_URL = "https://rates.example.invalid/daily.csv"
RESOURCE = "daily"
SCHEMA = pa.schema([("currency", pa.string()), ("rate", pa.decimal128(18, 6)), ("source_line", pa.int32())])


def fetch(request: RunRequest, *, lake: Lake, http: Http) -> Manifest:
    """Download the rates file into the raw zone unless its MD5 was processed already."""
    manifest = Manifest(run_id=request.run_id, domain=DOMAIN, partition={"dt": request.date or today_in_sao_paulo()})
    response = get_ok(http, SOURCE_URL, timeout=30, error=SourceFormatError)
    md5 = md5_hex(response.body)
    if not request.force and lake.read_state(DOMAIN, "ingested.json").get(RESOURCE) == md5:
        manifest.skipped.append(f"{RESOURCE}.csv")
        manifest.summary = "example: nothing new (the rates file is unchanged)."
        return manifest
    uri = s3_uri(lake.raw_bucket, f"{DOMAIN}/{RESOURCE}/{md5}.csv")
    if not lake.exists(uri):  # raw objects are never rewritten
        lake.put(uri, response.body, metadata={"source_url": SOURCE_URL, "md5": md5})
    encoding = charset_of(response.header("Content-Type")) or ""
    manifest.sources.append(
        Source(uri=uri, name=f"{RESOURCE}.csv", resource_id=RESOURCE, md5=md5, source_url=SOURCE_URL, encoding=encoding)
    )
    manifest.new_data = True
    return manifest


def _row(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    day = parse_ptbr_date(record.get("date") or "")
    currency = (record.get("currency") or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"not a currency code: {record.get('currency')!r}")
    rate = parse_ptbr_decimal(record.get("rate") or "")
    if rate <= 0:
        raise ValueError(f"rate must be positive: {record.get('rate')!r}")
    return day.isoformat(), {"currency": currency, "rate": rate.quantize(Decimal("0.000001"))}


def transform(manifest: Manifest, *, lake: Lake) -> Manifest:
    """Parse each source; write curated partitions of the days it has; quarantine bad rows with the reason."""
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for source in manifest.sources:
        text = decode(lake.get(source.uri), declared=source.encoding or None, where=source.name).text
        bad = []
        for line, record in enumerate(csv.DictReader(io.StringIO(text), delimiter=";"), start=2):
            manifest.counts.rows_in += 1
            try:
                day, row = _row(record)
            except ValueError as exc:
                bad.append({"line": line, "reason": str(exc), "row": record})
                continue
            by_day[day].append({**row, "source_line": line})
        if bad:
            uri = s3_uri(lake.curated_bucket, f"quarantine/{DOMAIN}/{source.md5}.jsonl")
            lake.put(uri, "".join(json.dumps(b, ensure_ascii=False) + "\n" for b in bad).encode())
            manifest.quarantine.append(uri)
            manifest.counts.rows_quarantined += len(bad)
    for day, rows in sorted(by_day.items()):
        table = pa.Table.from_pylist(sorted(rows, key=lambda r: r["currency"]), schema=SCHEMA)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        lake.put(s3_uri(lake.curated_bucket, f"{RATES.name}/{RATES.key}={day}/data.parquet"), buffer.getvalue())
        manifest.counts.rows_curated += len(rows)
    manifest.counts.rows_valid = manifest.counts.rows_curated
    manifest.counts.rows_written = manifest.counts.rows_curated
    manifest.counts.check("example rates")
    manifest.partitions_written = sorted(by_day)
    return manifest


def catalog(manifest: Manifest, *, lake: Lake, glue: Any) -> Manifest:
    """Register the table and the partitions written; remember the file's MD5; summarise the run."""
    registered = register_written(glue, TABLES, lake=lake, written={RATES.name: manifest.partitions_written})
    manifest.tables = [r.qualified for r in registered]
    manifest.partitions_written = [p for r in registered for p in r.partitions]
    ingested = lake.read_state(DOMAIN, "ingested.json")
    lake.write_state(DOMAIN, "ingested.json", {**ingested, **{s.resource_id: s.md5 for s in manifest.sources}})
    manifest.summary = (
        f"example: {manifest.counts.line()}; partitions written {len(manifest.partitions_written)}; "
        f"tables {', '.join(manifest.tables)}"
    )
    return manifest
