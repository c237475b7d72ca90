"""The bank workflow steps: trigger, fetch, validate, transform, catalog, publish.

Lake layout of the domain:

- raw:        exports as dropped, ``s3://<raw>/inbox/bank/<file>``; API snapshots
  ``s3://<raw>/bank/nubank-api/<YYYY-MM>/<md5>.json`` (fetch time as object metadata). Never rewritten.
- parsed:     ``s3://<curated>/_parsed/bank/<resource id>.parquet``: one source's valid rows,
  normalised and already scrubbed (no CPF, account numbers replaced by keyed hashes). One file per
  export path (a corrected re-upload replaces it) and per API snapshot.
- curated:    ``bank_transactions/month=YYYY-MM/data.parquet``
- refined:    ``bank_monthly_summary/month=YYYY-MM/data.parquet``,
  ``bank_installments/due_month=YYYY-MM/data.parquet``
- quarantine: ``s3://<curated>/quarantine/bank/<resource id>/bad-rows.jsonl`` (bad rows: line,
  reason, the scrubbed line); ``.../rejected.json`` for a rejected file (the reason and the raw URI:
  no copy, which would carry the file's personal data out of the raw zone).
- state:      ``_state/bank/ingested.json`` (export path or "nubank-api" -> MD5 processed).

Transform rebuilds every table from all parsed sources (a person's history is thousands of rows),
so dedup across overlapping exports and edited category rules apply to all of it; only partitions
whose bytes change are rewritten. See docs/decisions/0007-bank.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from functions.bank import summary
from functions.bank.exports import detect_kind, parse_export
from functions.bank.model import FileRejected, Parsed, content_key, fold
from functions.bank.nubank_api import parse_snapshot, snapshot_bytes
from functions.bank.privacy import keyed_hash, scrub
from functions.bank.tables import TABLES
from functions.common.catalog import location, register_written
from functions.common.lake import Lake, md5_hex, s3_uri
from functions.common.manifest import SAO_PAULO, Manifest, Source
from functions.common.naming import default_partition, execution_input, execution_name, month_of

DOMAIN = "bank"
DUPLICATE_KEY = "the source's transaction id, else date, description, amount and occurrence in the file"
INBOX = "inbox/bank/"
RULES_FILE = Path(__file__).with_name("categories.csv")
RULES_OVERRIDE_KEY = "config/bank/categories.csv"
SOURCE_PRIORITY = {"api": 0, "ofx": 1, "nuconta_csv": 2, "card_csv": 3}
MONEY = pa.decimal128(14, 2)

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
TRANSACTIONS_SCHEMA = pa.schema(
    [
        ("transaction_key", pa.string()),
        ("date", pa.date32()),
        ("account", pa.string()),
        ("account_ref", pa.string()),
        ("type", pa.string()),
        ("category", pa.string()),
        ("category_source", pa.string()),
        ("description", pa.string()),
        ("amount", MONEY),
        ("installment_number", pa.int32()),
        ("installment_count", pa.int32()),
        ("source", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int32()),
        ("transaction_id", pa.string()),
    ]
)


class SourceRejected(FileRejected):
    """An export was rejected; the message names the file and where its copy is."""


def _runs_uri(lake: Lake, run_id: str, step: str) -> str:
    return s3_uri(lake.curated_bucket, f"_runs/{DOMAIN}/{run_id}/{step}.json")


def _resource_id(uri: str) -> str:
    return "file-" + hashlib.sha256(uri.encode()).hexdigest()[:16]


def safe_name(name: str) -> str:
    """A file name fit for curated data: long digit runs that are not dates (account numbers in
    the app's NuConta export names) are masked."""

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
    """Start a run for a file dropped in the inbox. The name follows the content, so the same
    file uploaded twice starts one run; a different file (or a corrected one) starts another."""
    key = event.get("detail", {}).get("object", {}).get("key", "")
    if not key.startswith(INBOX) or key.endswith("/"):
        return {"started": False, "reason": f"{key!r} is not under {INBOX}"}
    # Every file starts a run, whatever its name: Validate reads the content, and rejects what is no
    # export with an email and a reason in quarantine, so nothing in the inbox is ignored silently.
    uri = s3_uri(lake.raw_bucket, key)
    month = default_partition("month")["month"]
    request = execution_input(DOMAIN, month=month, inputs=[uri], trigger="s3")
    request["inputs_md5"] = [md5_hex(lake.get(uri))]
    name = execution_name(DOMAIN, month, request)
    return {"started": bool(start(name, request)), "month": month, "execution": name}


# -- Fetch -----------------------------------------------------------------------------------------

SnapshotTaker = Callable[[str], dict[str, Any]]  # source ("api" or "mock") -> the API snapshot


def fetch(event: dict[str, Any], *, lake: Lake, take_snapshot: SnapshotTaker, now: datetime | None = None) -> Manifest:
    """List the dropped exports, or snapshot the Nubank API into the raw zone; skip what was
    already processed with the same content."""
    request = event.get("input") or {}
    manifest = Manifest(
        run_id=event["execution_name"],
        domain=DOMAIN,
        partition={"month": request.get("month") or default_partition("month", now)["month"]},
    )
    ingested = lake.read_state(DOMAIN, "ingested.json")
    if request.get("inputs"):
        candidates = []
        for uri in request["inputs"]:
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
        source = request.get("source", "api")
        data = snapshot_bytes(take_snapshot(source))
        md5 = md5_hex(data)
        uri = s3_uri(lake.raw_bucket, f"{DOMAIN}/nubank-{source}/{manifest.partition['month']}/{md5}.json")
        if not lake.exists(uri):
            fetched = (now or datetime.now(SAO_PAULO)).isoformat(timespec="seconds")
            lake.put(uri, data, metadata={"source": f"pynubank ({source})", "fetched-at": fetched, "md5": md5})
        candidates = [
            Source(
                uri=uri,
                name=f"nubank-{source}-{md5[:8]}.json",
                resource_id=f"api-{md5[:16]}",
                md5=md5,
                source_url=f"pynubank:{source}",
                kind="api",
            )
        ]
        ledger_key = {uri: f"nubank-{source}"}
    for source in candidates:
        if not request.get("force") and ingested.get(ledger_key[source.uri]) == source.md5:
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
    """One source's rows with their dedup keys. Occurrences count identical rows within the
    source: two equal purchases of one day are two rows, the same row in another export is one."""
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


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", write_statistics=True)
    return buffer.getvalue()


# -- Transform -------------------------------------------------------------------------------------


def load_rules(lake: Lake) -> list[tuple[str, str]]:
    """Keyword rules: the user's copy in the raw bucket if there is one, else the bundled file."""
    override = s3_uri(lake.raw_bucket, RULES_OVERRIDE_KEY)
    text = lake.get(override).decode("utf-8-sig") if lake.exists(override) else RULES_FILE.read_text("utf-8")
    return parse_rules(text)


def parse_rules(text: str) -> list[tuple[str, str]]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rules = []
    for number, row in enumerate(csv.reader(lines), start=1):
        if number == 1 and [c.strip().lower() for c in row] == ["keyword", "category"]:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ValueError(f"category rules: bad rule {','.join(row)!r} (expected keyword,category)")
        rules.append((fold(row[0]), row[1].strip().lower()))
    return rules


TYPE_CATEGORIES = {
    "bill_payment": "pagamento de fatura",
    "income": "renda",
    "transfer_in": "transferências",
    "transfer_out": "transferências",
    "fee": "tarifas e impostos",
    "interest": "juros",
}


def categorize(
    description: str, source_category: str | None, kind: str, rules: list[tuple[str, str]]
) -> tuple[str, str]:
    """(category, how it was decided). A keyword matches whole words of the folded description
    ("99" matches "99 Pop", not "Loja 1999"); a source's category is spelt as the rules spell it
    ("Eletronicos" -> "eletrônicos")."""
    if kind in ("bill_payment", "fee", "interest"):
        return TYPE_CATEGORIES[kind], "type"
    if source_category:
        spelling = {fold(category): category for _, category in rules}
        return spelling.get(fold(source_category), source_category), "source"
    folded = fold(description)
    for keyword, category in rules:
        if re.search(rf"(?<![a-z0-9]){re.escape(keyword)}(?![a-z0-9])", folded):
            return category, "rule"
    return TYPE_CATEGORIES.get(kind, "outros"), "type"


def load_parsed(lake: Lake) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Every parsed source's rows, in priority order (API, OFX, NuConta CSV, card CSV; then by
    file), and each source's facts."""
    rows: list[dict[str, Any]] = []
    facts = []
    for uri in sorted(lake.list_uris(s3_uri(lake.curated_bucket, f"_parsed/{DOMAIN}/"))):
        table = pq.read_table(io.BytesIO(lake.get(uri)))
        metadata = table.schema.metadata or {}
        facts.append(json.loads(metadata.get(b"facts", b"{}")) | {"raw_uri": metadata.get(b"raw_uri", b"").decode()})
        rows += [row | {"_parsed": uri} for row in table.to_pylist()]
    rows.sort(key=lambda r: (SOURCE_PRIORITY.get(r["source"], 9), r["source_file"], r["source_line"]))
    return rows, facts


def deduplicate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """By id where there is one, else by content key; a row without id that matches a row with an
    id (an export of what the API also gave) is the same transaction. First (highest priority) wins."""
    kept: dict[str, dict[str, Any]] = {}
    for row in rows:
        kept.setdefault(row["key"], row)
    with_id = {r["content_key"] for r in kept.values() if r["has_id"]}
    return [r for r in kept.values() if r["has_id"] or r["content_key"] not in with_id]


def transform(manifest: Manifest, *, lake: Lake) -> Manifest:
    """Rebuild transactions, the monthly summary and future installments from every parsed source;
    write the partitions whose content changed and remove the ones that no longer exist."""
    rows, facts = load_parsed(lake)
    unique = deduplicate(rows)
    rules = load_rules(lake)
    transactions = []
    for row in unique:
        category, how = categorize(row["description"], row["source_category"], row["type"], rules)
        transactions.append(
            {
                "transaction_key": hashlib.sha256(row["key"].encode()).hexdigest()[:32],
                "date": row["date"],
                "account": row["account"],
                "account_ref": row["account_ref"],
                "type": row["type"],
                "category": category,
                "category_source": how,
                "description": row["description"],
                "amount": row["amount"],
                "installment_number": row["installment_number"],
                "installment_count": row["installment_count"],
                "source": row["source"],
                "source_file": row["source_file"],
                "source_line": row["source_line"],
                "transaction_id": row["transaction_id"],
            }
        )
    transactions.sort(key=lambda t: (t["date"], t["account"], t["transaction_key"]))
    credit_limits = {f["as_of_month"]: Decimal(f["credit_limit"]) for f in facts if f.get("credit_limit")}
    months = summary.monthly_summary(transactions, credit_limits=credit_limits)
    installments = summary.future_installments(transactions)
    staged_keys = {
        r["key"]
        for uri in manifest.staged
        for r in pq.read_table(io.BytesIO(lake.get(uri)), columns=["key"]).to_pylist()
    }
    # This run's rows: each is in the lake as its transaction's row, or dropped as a duplicate of one by the
    # key (its id key, or its content key when it has no id); anything else is a row lost, and fails the run.
    kept = {id(row) for row in unique}
    kept_keys = {row["key"] for row in unique}
    kept_content = {row["content_key"] for row in unique if row["has_id"]}
    run_rows = [row for row in rows if row["_parsed"] in manifest.staged]
    counts = manifest.counts
    counts.rows_curated = sum(1 for row in run_rows if id(row) in kept)
    counts.rows_duplicates = sum(
        1
        for row in run_rows
        if id(row) not in kept
        and (row["key"] in kept_keys or (not row["has_id"] and row["content_key"] in kept_content))
    )
    counts.check("bank", DUPLICATE_KEY)
    # The month the email is about: the latest month of this run's own rows.
    focus = max((month_of(r["date"]) for r in unique if r["key"] in staged_keys), default=manifest.partition["month"])
    head = summary.headline(transactions, installments, focus, credit_limits)
    written = {
        "bank_transactions": _write_partitions(
            lake,
            lake.curated_bucket,
            "bank_transactions",
            "month",
            _by(transactions, lambda t: month_of(t["date"])),
            TRANSACTIONS_SCHEMA,
        ),
        "bank_monthly_summary": _write_partitions(
            lake,
            lake.refined_bucket,
            "bank_monthly_summary",
            "month",
            _by(months, lambda m: m.pop("month")),
            summary.SUMMARY_SCHEMA,
        ),
        "bank_installments": _write_partitions(
            lake,
            lake.refined_bucket,
            "bank_installments",
            "due_month",
            _by(installments, lambda i: i.pop("due_month")),
            summary.INSTALLMENTS_SCHEMA,
        ),
    }
    result = {
        "written": {t: w["changed"] for t, w in written.items()},
        "partitions": {t: w["present"] for t, w in written.items()},
        "removed": {t: w["removed"] for t, w in written.items()},
        "rows_total": len(rows),
        "duplicates": len(rows) - len(unique),
        "transactions": len(transactions),
        "focus_month": focus,
        "headline": head,
    }
    lake.put(_runs_uri(lake, manifest.run_id, "transform"), json.dumps(result, default=str, sort_keys=True).encode())
    manifest.partitions_written = [f"{t}/{p}" for t, w in written.items() for p in w["changed"]]
    manifest.counts.rows_written = len(transactions)
    return manifest


def _by(items: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


def partition_files(lake: Lake, prefix: str) -> dict[str, str]:
    """A table's partition value -> its data file, for ``<prefix><key>=<value>/data.parquet``."""
    return {
        uri[len(prefix) :].split("/")[0].split("=", 1)[1]: uri
        for uri in lake.list_uris(prefix)
        if uri.endswith("/data.parquet")
    }


def _write_partitions(
    lake: Lake, bucket: str, table: str, key: str, groups: dict[str, list[dict[str, Any]]], schema: pa.Schema
) -> dict[str, list[str]]:
    prefix = s3_uri(bucket, f"{table}/")
    existing = partition_files(lake, prefix)
    changed = []
    for value in sorted(groups):
        uri = f"{prefix}{key}={value}/data.parquet"
        data = parquet_bytes(pa.Table.from_pylist(groups[value], schema=schema))
        if value not in existing or lake.get(uri) != data:
            lake.put(uri, data)
            changed.append(value)
    removed = sorted(set(existing) - set(groups))
    lake.delete([existing[v] for v in removed])
    return {"present": sorted(groups), "changed": changed, "removed": removed}


# -- Catalog ---------------------------------------------------------------------------------------


def glue_types(schema: pa.Schema) -> dict[str, str]:
    names = {pa.string(): "string", pa.date32(): "date", pa.int32(): "int", pa.int64(): "bigint", pa.bool_(): "boolean"}
    return {
        f.name: f"decimal({f.type.precision},{f.type.scale})" if pa.types.is_decimal(f.type) else names[f.type]
        for f in schema
    }


def catalog(manifest: Manifest, *, lake: Lake, glue: Any) -> Manifest:
    """Register the three tables and their partitions, forget removed ones, record the ingested
    sources and write the summary with the month's headline numbers."""
    result = json.loads(lake.get(_runs_uri(lake, manifest.run_id, "transform")))
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
