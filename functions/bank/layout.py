"""Where the bank domain keeps its objects in the lake, and the Parquet it writes there.

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
- runs:       ``s3://<curated>/_runs/bank/<run id>/<step>.json``: what a step hands the next one.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from functions.common.lake import Lake, s3_uri

DOMAIN = "bank"
DUPLICATE_KEY = "the source's transaction id, else date, description, amount and occurrence in the file"
INBOX = "inbox/bank/"
MONEY = pa.decimal128(14, 2)


def runs_uri(lake: Lake, run_id: str, step: str) -> str:
    """``s3://<curated>/_runs/bank/<run_id>/<step>.json``: a step's result for the steps after it."""
    return s3_uri(lake.curated_bucket, f"_runs/{DOMAIN}/{run_id}/{step}.json")


def parsed_prefix(lake: Lake) -> str:
    """``s3://<curated>/_parsed/bank/``: every source's parsed rows, one Parquet object per source."""
    return s3_uri(lake.curated_bucket, f"_parsed/{DOMAIN}/")


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as one Parquet file (zstd, with statistics), as bytes to put in the lake."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", write_statistics=True)
    return buffer.getvalue()
