"""The cards workflow steps run by Lambda: the S3 trigger, fetch and catalog.

Validate (`glue/cards_curate.py`) and Transform (`glue/cards_book.py`) are Glue jobs; Fetch
prepares their arguments in the manifest (``job_args``), Catalog registers what they wrote.

Monthly files land in the raw bucket under ``inbox/cards/``: ``tb_faturas_YYYYMM.csv`` and
``tb_pagamentos_YYYYMM.csv``. A file may hold one month or many months of history.
"""

from __future__ import annotations

import json
import posixpath
import re
from datetime import date
from typing import Any

from functions.common.catalog import register
from functions.common.lake import Lake, md5_hex, s3_uri
from functions.common.manifest import Manifest, Source, today_in_sao_paulo
from functions.common.naming import execution_input, execution_name, partition_for

DOMAIN = "cards"
INBOX = "inbox/cards/"
MONTHLY_FILE = re.compile(r"tb_(faturas|pagamentos)_(\d{4})(\d{2})\.csv$", re.IGNORECASE)
INVOICE_HEADER = "id_cliente,id_fatura,dt_emissao_fatura,dt_vencimento_fatura,valor_fatura"
PAYMENT_HEADER = "id_pagamento,id_fatura,id_cliente,dt_pagamento,valor_pagamento"
TABLES = {  # table -> (zone, partition key, result section)
    "cards_invoices": ("curated", "issue_month", "invoices"),
    "cards_payments": ("curated", "payment_month", "payments"),
    "cards_book": ("refined", "ref", "book"),
}


class MissingFile(FileNotFoundError):
    """A month's invoice or payment file is not in the inbox."""


class InputError(ValueError):
    """A file is neither an invoice nor a payment file."""


def monthly_names(month: str) -> list[str]:
    compact = month.replace("-", "")
    return [f"tb_faturas_{compact}.csv", f"tb_pagamentos_{compact}.csv"]


def _runs_uri(lake: Lake, run_id: str, step: str) -> str:
    return s3_uri(lake.curated_bucket, f"_runs/{DOMAIN}/{run_id}/{step}.json")


# -- Trigger (S3 "Object Created" through EventBridge) ----------------------------------------------


def trigger(event: dict[str, Any], *, lake: Lake, start: Any) -> dict[str, Any]:
    """Start the month's run once both of its files are in the inbox.

    The execution name follows the files' content, so a re-upload of identical files asks for the
    same name and Step Functions refuses it; a corrected file gives a new name and a new run.
    ``start(name, request)`` returns False when the execution already exists.
    """
    detail = event.get("detail", {})
    key = detail.get("object", {}).get("key", "")
    match = MONTHLY_FILE.search(key)
    if not key.startswith(INBOX) or not match:
        return {"started": False, "reason": f"{key!r} is not a monthly cards file"}
    month = f"{match[2]}-{match[3]}"
    uris = [s3_uri(lake.raw_bucket, INBOX + name) for name in monthly_names(month)]
    waiting = [posixpath.basename(uri) for uri in uris if not lake.exists(uri)]
    if waiting:
        return {"started": False, "month": month, "waiting_for": waiting}
    request = execution_input(DOMAIN, month=month, inputs=uris, trigger="s3")
    request["inputs_md5"] = [md5_hex(lake.get(uri)) for uri in uris]
    name = execution_name(DOMAIN, month, request)
    started = start(name, request)
    return {"started": bool(started), "month": month, "execution": name}


# -- Fetch -----------------------------------------------------------------------------------------


def fetch(event: dict[str, Any], *, lake: Lake, today: date | None = None) -> Manifest:
    """List the month's files (both must be there), skip content already processed, and prepare
    the arguments of the two Glue steps."""
    request = event.get("input") or {}
    today = today or date.fromisoformat(today_in_sao_paulo())
    month = request.get("month") or partition_for("previous_month", today)["month"]
    manifest = Manifest(run_id=event["execution_name"], domain=DOMAIN, partition={"month": month})
    uris = request.get("inputs") or [s3_uri(lake.raw_bucket, INBOX + name) for name in monthly_names(month)]
    missing = [posixpath.basename(u) for u in uris if not lake.exists(u)]
    if missing:
        raise MissingFile(
            f"cards {month}: {', '.join(missing)} not found in s3://{lake.raw_bucket}/{INBOX} "
            f"(a month needs both {' and '.join(monthly_names(month))})"
        )
    sources = [_source(lake, uri) for uri in uris]
    kinds = {s.kind for s in sources}
    if kinds != {"invoices", "payments"}:
        raise MissingFile(f"cards {month}: need an invoice file and a payment file, got only {sorted(kinds)}")
    ingested = lake.read_state(DOMAIN, "ingested.json")
    if not request.get("force") and all(ingested.get(s.uri) == s.md5 for s in sources):
        manifest.skipped = [s.name for s in sources]
        manifest.summary = f"cards {month}: these files were already processed with the same content"
        return manifest
    manifest.sources = sorted(sources, key=_file_order)
    manifest.new_data = True
    files = {kind: ",".join(s.uri for s in manifest.sources if s.kind == kind) for kind in kinds}
    curate_result = _runs_uri(lake, manifest.run_id, "curate")
    manifest.job_args = {
        "Validate": {
            "--run_id": manifest.run_id,
            "--invoice_files": files["invoices"],
            "--payment_files": files["payments"],
            "--curated_root": s3_uri(lake.curated_bucket, ""),
            "--quarantine_root": s3_uri(lake.curated_bucket, f"quarantine/{DOMAIN}/{month}/"),
            "--result_path": curate_result,
        },
        "Transform": {
            "--run_id": manifest.run_id,
            "--refs_from": curate_result,
            "--curated_root": s3_uri(lake.curated_bucket, ""),
            "--refined_root": s3_uri(lake.refined_bucket, ""),
            "--result_path": _runs_uri(lake, manifest.run_id, "book"),
        },
    }
    return manifest


def _source(lake: Lake, uri: str) -> Source:
    data = lake.get(uri)
    header = data[:200].decode("utf-8", "replace").lstrip("\ufeff").splitlines()[0].strip().lower()
    name = posixpath.basename(uri)
    if header.startswith(INVOICE_HEADER):
        kind = "invoices"
    elif header == PAYMENT_HEADER:
        kind = "payments"
    elif match := MONTHLY_FILE.search(name):
        kind = "invoices" if match[1].lower() == "faturas" else "payments"  # the curate job reports the header
    else:
        raise InputError(f"{name}: header {header!r} is neither {INVOICE_HEADER!r} nor {PAYMENT_HEADER!r}")
    return Source(uri=uri, name=name, resource_id=name, md5=md5_hex(data), source_url=uri, kind=kind)


def _file_order(source: Source) -> tuple[str, str]:
    """Oldest first, so that a later month's file wins on a duplicate id."""
    match = MONTHLY_FILE.search(source.name)
    return (f"{match[2]}{match[3]}" if match else "", source.name)


# -- Catalog ---------------------------------------------------------------------------------------


def catalog(manifest: Manifest, *, lake: Lake, glue: Any) -> Manifest:
    """Register the tables and the partitions the two jobs wrote; reconcile; record the files."""
    results = {
        "curate": json.loads(lake.get(_runs_uri(lake, manifest.run_id, "curate"))),
        "book": json.loads(lake.get(_runs_uri(lake, manifest.run_id, "book"))),
    }
    sections = {
        "invoices": results["curate"]["invoices"],
        "payments": results["curate"]["payments"],
        "book": {"partitions": results["book"]["refs"]},
    }
    for table, (zone, key, section) in TABLES.items():
        database = lake.curated_database if zone == "curated" else lake.refined_database
        bucket = lake.curated_bucket if zone == "curated" else lake.refined_bucket
        path = s3_uri(bucket, f"{table}/")
        values = sorted(set(sections[section]["partitions"]))
        if not values:
            continue
        import awswrangler as wr  # heavy import, only where the catalog is written

        sample = [u for u in lake.list_uris(f"{path}{key}={values[0]}/") if u.endswith(".parquet")]
        columns, _ = wr.s3.read_parquet_metadata(path=sample[:1])
        register(
            glue, database=database, table=table, path=path, columns=columns, partition=(key, "string"), values=values
        )
        manifest.tables.append(f"{database}.{table}")
        manifest.partitions_written += [f"{table}/{key}={v}" for v in values]
    invoices, payments = sections["invoices"], sections["payments"]
    counts = manifest.counts
    counts.rows_in = invoices["rows_in"] + payments["rows_in"]
    counts.rows_valid = invoices["valid"] + payments["valid"]
    counts.rows_quarantined = invoices["quarantined"] + payments["quarantined"]
    counts.rows_written = sum(results["book"].get("rows", {}).values())
    root = manifest.job_args["Validate"]["--quarantine_root"]
    manifest.quarantine = [f"{root}{kind}.jsonl" for kind in ("invoices", "payments") if sections[kind]["quarantined"]]
    ingested = lake.read_state(DOMAIN, "ingested.json")
    ingested |= {s.uri: s.md5 for s in manifest.sources}
    lake.write_state(DOMAIN, "ingested.json", ingested)
    manifest.summary = summarize(manifest, results)
    return manifest


def reconciliation(kind: str, section: dict[str, int]) -> str:
    total = section["written"] + section["quarantined"] + section["duplicates"]
    status = "ok" if total == section["rows_in"] else "MISMATCH"
    return (
        f"{kind}: {section['rows_in']} rows in = {section['written']} curated + {section['quarantined']} "
        f"quarantined + {section['duplicates']} duplicates dropped ({status})"
    )


def summarize(manifest: Manifest, results: dict[str, Any]) -> str:
    book = results["book"]
    refs = sorted(book.get("refs", []))
    lines = [
        f"Cards, run {manifest.run_id}",
        "Files: " + ", ".join(s.name for s in manifest.sources),
        reconciliation("Invoices", results["curate"]["invoices"]),
        reconciliation("Payments", results["curate"]["payments"]),
        f"Book: {sum(book.get('rows', {}).values())} client rows over {len(refs)} reference months"
        + (f" ({refs[0]} .. {refs[-1]})" if refs else ""),
        f"Tables: {', '.join(manifest.tables)}",
    ]
    if manifest.quarantine:
        lines.append("Quarantine: " + ", ".join(manifest.quarantine))
    lines += [f"Warning: {w}" for w in manifest.warnings]
    return "\n".join(lines)
