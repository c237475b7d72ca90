"""The bank Transform step: every parsed source -> transactions, summary and installments.

The bank Transform step: every parsed source -> transactions, the monthly summary and future
installments, each partition rewritten only when its bytes change.

Transform rebuilds every table from all parsed sources (a person's history is thousands of rows),
so dedup across overlapping exports and edited category rules apply to all of it. See
docs/decisions/0007-bank.md and the layout in `functions.bank.layout`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from functions.bank import summary
from functions.bank.categories import categorize, load_rules
from functions.bank.layout import DUPLICATE_KEY, MONEY, parquet_bytes, parsed_prefix, runs_uri
from functions.common.lake import Lake, s3_uri
from functions.common.manifest import Manifest
from functions.common.naming import month_of

SOURCE_PRIORITY = {"api": 0, "ofx": 1, "nuconta_csv": 2, "card_csv": 3}

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


def load_parsed(lake: Lake) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Every parsed source's rows in priority order, and each source's facts.

    Every parsed source's rows, in priority order (API, OFX, NuConta CSV, card CSV; then by
    file), and each source's facts.
    """
    rows: list[dict[str, Any]] = []
    facts = []
    for uri in sorted(lake.list_uris(parsed_prefix(lake))):
        table = pq.read_table(io.BytesIO(lake.get(uri)))
        metadata = table.schema.metadata or {}
        facts.append(json.loads(metadata.get(b"facts", b"{}")) | {"raw_uri": metadata.get(b"raw_uri", b"").decode()})
        rows += [row | {"_parsed": uri} for row in table.to_pylist()]
    rows.sort(key=lambda r: (SOURCE_PRIORITY.get(r["source"], 9), r["source_file"], r["source_line"]))
    return rows, facts


def deduplicate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows without duplicates, the first (highest priority) kept.

    By id where there is one, else by content key; a row without id that matches a row with an
    id (an export of what the API also gave) is the same transaction. First (highest priority) wins.
    """
    kept: dict[str, dict[str, Any]] = {}
    for row in rows:
        kept.setdefault(row["key"], row)
    with_id = {r["content_key"] for r in kept.values() if r["has_id"]}
    return [r for r in kept.values() if r["has_id"] or r["content_key"] not in with_id]


def transform(manifest: Manifest, *, lake: Lake) -> Manifest:
    """Rebuild the bank tables from every parsed source.

    Rebuild transactions, the monthly summary and future installments from every parsed source;
    write the partitions whose content changed and remove the ones that no longer exist.
    """
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
        "bank_transactions": write_partitions(
            lake,
            lake.curated_bucket,
            "bank_transactions",
            "month",
            _by(transactions, lambda t: month_of(t["date"])),
            TRANSACTIONS_SCHEMA,
        ),
        "bank_monthly_summary": write_partitions(
            lake,
            lake.refined_bucket,
            "bank_monthly_summary",
            "month",
            _by(months, lambda m: m.pop("month")),
            summary.SUMMARY_SCHEMA,
        ),
        "bank_installments": write_partitions(
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
    lake.put(runs_uri(lake, manifest.run_id, "transform"), json.dumps(result, default=str, sort_keys=True).encode())
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


def write_partitions(
    lake: Lake, bucket: str, table: str, key: str, groups: dict[str, list[dict[str, Any]]], schema: pa.Schema
) -> dict[str, list[str]]:
    """Write each group as ``<table>/<key>=<value>/data.parquet`` when its bytes changed.

    Partitions no group has any more are deleted.

    Returns ``{"present": [...], "changed": [...], "removed": [...]}`` (partition values).
    """
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
