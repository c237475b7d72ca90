"""The bank workflow steps: trigger, fetch, validate, catalog, publish.

Transform is `functions.bank.transform`, the category rules `functions.bank.categories`, where each
object lives `functions.bank.layout`. See docs/decisions/0007-bank.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from functions.bank import summary
from functions.bank.exports import detect_kind, parse_export
from functions.bank.layout import DOMAIN, DUPLICATE_KEY, INBOX, MONEY, parquet_bytes, runs_uri
from functions.bank.model import FileRejected, Parsed, content_key
from functions.bank.nubank_api import parse_snapshot, snapshot_bytes
from functions.bank.privacy import keyed_hash, scrub
from functions.bank.tables import TABLES
from functions.bank.transform import TRANSACTIONS_SCHEMA, partition_files
from functions.common.catalog import location, register_written
from functions.common.lake import Lake, md5_hex, s3_uri
from functions.common.manifest import SAO_PAULO, Manifest, Source
from functions.common.naming import RunRequest, default_partition

PARSED_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("content_key", pa.string()),
        ("has_id", pa.bool_()),
        ("source", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int32()),
        ("account", pa.string()),
        ("account_ref", pa.string()),
        ("transaction_id", pa.string()),
        ("date", pa.date32()),
        ("description", pa.string()),
        ("amount", MONEY),
        ("source_category", pa.string()),
        ("type", pa.string()),
        ("installment_number", pa.int32()),
        ("installment_count", pa.int32()),
    ]
)


class SourceRejected(FileRejected):
    """An export was rejected; the message names the file and where its copy is."""


def _resource_id(uri: str) -> str:
    return "file-" + hashlib.sha256(uri.encode()).hexdigest()[:16]


def safe_name(name: str) -> str:
    """A file name fit for curated data (account numbers masked).

    A file name fit for curated data: long digit runs that are not dates (account numbers in
    the app's NuConta export names) are masked.
    """

    def mask(match: re.Match[str]) -> str:
        digits = match.group()
        if len(digits) == 8:
            try:
                datetime.strptime(digits, "%Y%m%d")
                return digits
            except ValueError:
                pass
        return "*" * len(digits)

    return re.sub(r"\d{5,}", mask, name)


# -- Trigger (S3 "Object Created" through EventBridge) ----------------------------------------------


def trigger(event: dict[str, Any], *, lake: Lake, start: Callable[[str, dict[str, Any]], bool]) -> dict[str, Any]:
    """Start a run for a file dropped in the inbox.

    The name follows the content, so the same file uploaded twice starts one run; a different file
    (or a corrected one) starts another.
    """
    key = event.get("detail", {}).get("object", {}).get("key", "")
    if not key.startswith(INBOX) or key.endswith("/"):
        return {"started": False, "reason": f"{key!r} is not under {INBOX}"}
    # Every file starts a run, whatever its name: Validate reads the content, and rejects what is no
    # export with an email and a reason in quarantine, so nothing in the inbox is ignored silently.
    uri = s3_uri(lake.raw_bucket, key)
    month = default_partition("month")["month"]
    request = RunRequest(domain=DOMAIN, trigger="s3", month=month, inputs=(uri,), inputs_md5=(md5_hex(lake.get(uri)),))
    name = request.name(month)
    return {"started": bool(start(name, request.to_input())), "month": month, "execution": name}


# -- Fetch -----------------------------------------------------------------------------------------

SnapshotTaker = Callable[[str], dict[str, Any]]  # source ("api" or "mock") -> the API snapshot


def fetch(request: RunRequest, *, lake: Lake, take_snapshot: SnapshotTaker, now: datetime | None = None) -> Manifest:
    """The bank Fetch step: list the dropped exports, or snapshot the Nubank API.

    List the dropped exports, or snapshot the Nubank API into the raw zone; skip what was
    already processed with the same content.
    """
    manifest = Manifest(
        run_id=request.run_id,
        domain=DOMAIN,
        partition={"month": request.month or default_partition("month", now)["month"]},
    )
    ingested = lake.read_state(DOMAIN, "ingested.json")
    if request.inputs:
        candidates = []
        for uri in request.inputs:
            name = posixpath.basename(uri)
            candidates.append(
                Source(
                    uri=uri,
                    name=name,
                    resource_id=_resource_id(uri),
                    md5=md5_hex(lake.get(uri)),
                    source_url=uri,
                    kind="export",
                )
            )
        ledger_key = {s.uri: s.uri for s in candidates}
    else:
        origin = request.source or "api"
        data = snapshot_bytes(take_snapshot(origin))
        md5 = md5_hex(data)
        uri = s3_uri(lake.raw_bucket, f"{DOMAIN}/nubank-{origin}/{manifest.partition['month']}/{md5}.json")
        if not lake.exists(uri):
            fetched = (now or datetime.now(SAO_PAULO)).isoformat(timespec="seconds")
            lake.put(uri, data, metadata={"source": f"pynubank ({origin})", "fetched-at": fetched, "md5": md5})
        candidates = [
            Source(
                uri=uri,
                name=f"nubank-{origin}-{md5[:8]}.json",
                resource_id=f"api-{md5[:16]}",
                md5=md5,
                source_url=f"pynubank:{origin}",
                kind="api",
            )
        ]
        ledger_key = {uri: f"nubank-{origin}"}
    for source in candidates:
        if not request.force and ingested.get(ledger_key[source.uri]) == source.md5:
            manifest.skipped.append(source.name)
        else:
            source.standard = ledger_key[source.uri]  # the ledger entry Catalog records on success
            manifest.sources.append(source)
    manifest.new_data = bool(manifest.sources)
    if manifest.new_data:
        manifest.summary = "Processing: " + ", ".join(
            f"{s.name} ({'Nubank API snapshot' if s.kind == 'api' else 'app export'})" for s in manifest.sources
        )
    else:
        manifest.summary = f"Bank: nothing new ({', '.join(manifest.skipped)} already processed with the same content)."
    return manifest


# -- Validate --------------------------------------------------------------------------------------


def validate(manifest: Manifest, *, lake: Lake, hmac_key: bytes) -> Manifest:
    """Parse each source exactly, scrub personal data, key every row; quarantine bad rows."""
    for source in manifest.sources:
        data = lake.get(source.uri)
        try:
            parsed = parse_snapshot(data, source.name) if source.kind == "api" else _parse_export(data, source.name)
        except FileRejected as exc:
            # The raw file stays where it is (raw is never modified); the quarantine only says why,
            # since a copy would carry the file's personal data out of the raw zone.
            reason = s3_uri(lake.curated_bucket, f"quarantine/{DOMAIN}/{source.resource_id}/rejected.json")
            lake.put(reason, json.dumps({"source": source.uri, "reason": scrub(str(exc))}, ensure_ascii=False).encode())
            manifest.quarantine.append(reason)
            raise SourceRejected(f"{source.name} rejected: {exc} (raw file kept at {source.uri})") from None
        source.kind = parsed.kind
        if parsed.kind == "api":
            parsed.facts["as_of_month"] = manifest.partition["month"]  # the month the snapshot was taken
        table = parsed_table(parsed, safe_name(source.name), hmac_key)
        table = table.replace_schema_metadata(
            {"facts": json.dumps(parsed.facts, sort_keys=True), "raw_uri": source.uri}
        )
        uri = s3_uri(lake.curated_bucket, f"_parsed/{DOMAIN}/{source.resource_id}.parquet")
        lake.put(uri, parquet_bytes(table))
        manifest.staged.append(uri)
        if parsed.quarantined:
            lines = [
                json.dumps(
                    {"source": source.uri, "line": b.line, "reason": scrub(b.reason), "raw": scrub(b.raw)},
                    ensure_ascii=False,
                )
                for b in parsed.quarantined
            ]
            quarantine = s3_uri(lake.curated_bucket, f"quarantine/{DOMAIN}/{source.resource_id}/bad-rows.jsonl")
            lake.put(quarantine, ("\n".join(lines) + "\n").encode())
            manifest.quarantine.append(quarantine)
        counts = manifest.counts
        counts.rows_in += parsed.rows_in
        counts.rows_valid += len(parsed.rows)
        counts.rows_quarantined += len(parsed.quarantined)
        if parsed.facts.get("encoding", "utf-8") != "utf-8":
            manifest.warnings.append(f"{source.name}: read as {parsed.facts['encoding']} (not UTF-8)")
    return manifest


def _parse_export(data: bytes, name: str) -> Parsed:
    detect_kind(data, name)  # raises FileRejected with the accepted headers
    return parse_export(data, name)


def parsed_table(parsed: Parsed, source_file: str, hmac_key: bytes) -> pa.Table:
    """One source's rows with their dedup keys.

    Occurrences count identical rows within the source: two equal purchases of one day are two rows,
    the same row in another export is one.
    """
    seen_ids: dict[tuple[str, ...], int] = defaultdict(int)
    seen_content: dict[str, int] = defaultdict(int)
    columns: dict[str, list[Any]] = {name: [] for name in PARSED_SCHEMA.names}
    for row in parsed.rows:
        description = scrub(row.description)
        base = content_key(row.account, row.date, description, row.amount, 0)[:-2]
        occurrence = seen_content[base]
        seen_content[base] += 1
        content = f"{base}|{occurrence}"
        if row.transaction_id:
            id_key = (row.account, row.transaction_id, str(row.installment_number or 1))
            key = "id|" + "|".join(id_key) + f"|{seen_ids[id_key]}"
            seen_ids[id_key] += 1
        else:
            key = "content|" + content
        values = {
            "key": key,
            "content_key": content,
            "has_id": bool(row.transaction_id),
            "source": row.source,
            "source_file": source_file,
            "source_line": row.line,
            "account": row.account,
            "account_ref": keyed_hash(row.account_id, hmac_key) if row.account_id else None,
            "transaction_id": row.transaction_id,
            "date": row.date,
            "description": description,
            "amount": row.amount,
            "source_category": row.source_category,
            "type": row.type,
            "installment_number": row.installment_number,
            "installment_count": row.installment_count,
        }
        for name, value in values.items():
            columns[name].append(value)
    return pa.table(columns, schema=PARSED_SCHEMA)


# -- Catalog ---------------------------------------------------------------------------------------


def glue_types(schema: pa.Schema) -> dict[str, str]:
    """Glue column types (string, date, int, bigint, boolean, decimal(p,s)) of an Arrow schema."""
    names = {pa.string(): "string", pa.date32(): "date", pa.int32(): "int", pa.int64(): "bigint", pa.bool_(): "boolean"}
    return {
        f.name: f"decimal({f.type.precision},{f.type.scale})" if pa.types.is_decimal(f.type) else names[f.type]
        for f in schema
    }


def catalog(manifest: Manifest, *, lake: Lake, glue: Any) -> Manifest:
    """The bank Catalog step: register the three tables and write the run's summary.

    Register the three tables and their partitions, forget removed ones, record the ingested
    sources and write the summary with the month's headline numbers.
    """
    result = json.loads(lake.get(runs_uri(lake, manifest.run_id, "transform")))
    schemas = {
        "bank_transactions": TRANSACTIONS_SCHEMA,
        "bank_monthly_summary": summary.SUMMARY_SCHEMA,
        "bank_installments": summary.INSTALLMENTS_SCHEMA,
    }
    columns = {name: glue_types(schema) for name, schema in schemas.items()}
    written = result["partitions"]
    for registered in register_written(glue, TABLES, lake=lake, written=written, columns=columns):
        manifest.tables.append(registered.qualified)
    for table in TABLES:
        removed = result["removed"][table.name]
        if removed:
            database, _ = location(table, lake)
            glue.batch_delete_partition(
                DatabaseName=database, TableName=table.name, PartitionsToDelete=[{"Values": [v]} for v in removed]
            )
    ingested = lake.read_state(DOMAIN, "ingested.json")
    ingested |= {s.standard: s.md5 for s in manifest.sources}
    lake.write_state(DOMAIN, "ingested.json", ingested)
    manifest.summary = summarize(manifest, result)
    return manifest


def summarize(manifest: Manifest, result: dict[str, Any]) -> str:
    """The run's email body: sources, row accounting, transactions and the month's headline numbers.

    Raises
    ------
    RowAccountingError
        When rows in != curated + quarantined + duplicates.
    """
    c = manifest.counts
    lines = [
        f"Bank, run {manifest.run_id}",
        "Sources: " + ", ".join(s.name for s in manifest.sources),
        f"Rows: {c.check('bank', DUPLICATE_KEY)}",
        f"Transactions in the lake: {result['transactions']} "
        f"({result['duplicates']} duplicates across sources and exports dropped)",
        "",
        *summary.headline_lines(result["headline"]),
        "",
        f"Partitions rewritten: {', '.join(manifest.partitions_written) or 'none (same content)'}",
        f"Tables: {', '.join(manifest.tables)}",
    ]
    if manifest.quarantine:
        lines.append("Quarantine: " + ", ".join(manifest.quarantine))
    lines += [f"Warning: {w}" for w in manifest.warnings]
    return "\n".join(lines)


# -- Publish (optional Google Sheets sink) ---------------------------------------------------------


def publish(
    manifest: Manifest, *, lake: Lake, sheet: dict[str, str] | None, service_account: Callable[[], dict[str, Any]]
) -> Manifest:
    """Push the monthly summary to the configured Google Sheet; nothing when the sink is off."""
    if not sheet:
        return manifest
    from functions.bank.sheets import publish_summary

    rows = []
    for month, uri in sorted(partition_files(lake, s3_uri(lake.refined_bucket, "bank_monthly_summary/")).items()):
        rows += [{"month": month, **r} for r in pq.read_table(io.BytesIO(lake.get(uri))).to_pylist()]
    columns = ["month", *summary.SUMMARY_SCHEMA.names]
    done = publish_summary(
        rows,
        columns,
        spreadsheet_id=sheet["spreadsheet_id"],
        worksheet=sheet["worksheet"],
        service_account_info=service_account(),
    )
    manifest.summary += f"\nGoogle Sheet: {done['rows']} summary rows written to {done['worksheet']!r}"
    return manifest
