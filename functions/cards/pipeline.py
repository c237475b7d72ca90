"""The cards workflow steps run by Lambda: the S3 trigger, fetch and catalog.

Validate (`glue/cards_curate.py`) and Transform (`glue/cards_book.py`) are Glue jobs; Fetch
prepares their arguments in the manifest (``job_args``), Catalog registers what they wrote.

Files land in the raw bucket under ``inbox/cards/``, named by one of the conventions the
publisher uses (:func:`place`): the monthly ``tb_faturas_YYYYMM.csv`` / ``tb_pagamentos_YYYYMM.csv``,
or the date-stamped deliveries ``tb_fatura_YYYYMMDD_YYYYMMDDHHMMSS.csv`` /
``tb_faturas_...`` / ``tb_pagamentos_...`` (reference date, then generation time, as the public
sample in ../shared/fixtures/cards/ is named). The month is the reference date's. A file may hold
one month or many months of history.

No file in the inbox is ignored: one whose name places it in no month starts a run all the same
(the trigger), whose Fetch copies it to ``quarantine/cards/unplaced/`` with the reason and fails,
so the failure email names it. Its text encoding is decided in Fetch
(:func:`functions.common.text.decode`) and handed to the Validate job, which decodes every line
strictly with it (an undecodable line is quarantined with the reason).
"""

from __future__ import annotations

import json
import posixpath
import re
from datetime import date
from typing import Any

from functions.cards.tables import TABLES
from functions.common.catalog import register_written
from functions.common.lake import Lake, md5_hex, s3_uri
from functions.common.manifest import Manifest, Source, today_in_sao_paulo
from functions.common.naming import RunRequest, partition_for
from functions.common.text import UndecodableText, decode

DOMAIN = "cards"
INBOX = "inbox/cards/"
UNPLACED = "unplaced/"
# tb_faturas_202409.csv; tb_fatura_20240901_20240902000000.csv; tb_pagamentos_20241201_20241202000000.csv
CARD_FILE = re.compile(
    r"(?:^|/)tb_(?P<kind>faturas?|pagamentos?)_(?P<year>\d{4})(?P<month>0[1-9]|1[0-2])"
    r"(?:(?P<day>\d{2})_(?P<stamp>\d{14}))?\.csv$",
    re.IGNORECASE,
)
NAMING = (
    "tb_faturas_YYYYMM.csv, tb_pagamentos_YYYYMM.csv, or date-stamped tb_fatura_YYYYMMDD_YYYYMMDDHHMMSS.csv, "
    "tb_faturas_YYYYMMDD_YYYYMMDDHHMMSS.csv, tb_pagamentos_YYYYMMDD_YYYYMMDDHHMMSS.csv"
)
INVOICE_HEADER = "id_cliente,id_fatura,dt_emissao_fatura,dt_vencimento_fatura,valor_fatura"
PAYMENT_HEADER = "id_pagamento,id_fatura,id_cliente,dt_pagamento,valor_pagamento"
DUPLICATE_KEY = "id_fatura / id_pagamento; the newest file's row, then the last line, wins"
SECTIONS = {"cards_invoices": "invoices", "cards_payments": "payments", "cards_book": "book"}  # table -> result


class MissingFile(FileNotFoundError):
    """A month's invoice or payment file is not in the inbox."""


class InputError(ValueError):
    """A file is neither an invoice nor a payment file."""


class UnplacedFile(InputError):
    """A file in the inbox whose name places it in no month: reported, copied to quarantine."""


def monthly_names(month: str) -> list[str]:
    """The two file names a month needs: ``tb_faturas_YYYYMM.csv`` and ``tb_pagamentos_YYYYMM.csv``."""
    compact = month.replace("-", "")
    return [f"tb_faturas_{compact}.csv", f"tb_pagamentos_{compact}.csv"]


def place(name: str) -> tuple[str, str, str] | None:
    """Place a card file by its name: (kind, month, generation stamp), or None.

    (kind "invoices"/"payments", month "YYYY-MM", generation stamp or "") from a file name, or None
    when it follows none of the naming conventions (:data:`NAMING`).
    """
    match = CARD_FILE.search(name)
    if match is None:
        return None
    if match["day"] and not 1 <= int(match["day"]) <= 31:
        return None
    kind = "invoices" if match["kind"].lower().startswith("fatura") else "payments"
    return kind, f"{match['year']}-{match['month']}", match["stamp"] or ""


def month_files(lake: Lake, month: str) -> dict[str, list[str]]:
    """The inbox's files of ``month`` by kind, whatever their naming convention."""
    found: dict[str, list[str]] = {"invoices": [], "payments": []}
    prefix = s3_uri(lake.raw_bucket, INBOX)
    for uri in lake.list_uris(prefix):
        placed = place(posixpath.basename(uri))
        if placed and placed[1] == month and "/" not in uri[len(prefix) :]:
            found[placed[0]].append(uri)
    return found


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
    if not key.startswith(INBOX) or key.endswith("/"):
        return {"started": False, "reason": f"{key!r} is not under {INBOX}"}
    placed = place(posixpath.basename(key))
    if placed is None:  # never ignored: a run reports it and quarantines a copy
        uri = s3_uri(lake.raw_bucket, key)
        month = partition_for("previous_month", date.fromisoformat(today_in_sao_paulo()))["month"]
        request = RunRequest(
            domain=DOMAIN, trigger="s3", month=month, inputs=(uri,), inputs_md5=(md5_hex(lake.get(uri)),), unplaced=True
        )
        name = request.name(month)
        return {"started": bool(start(name, request.to_input())), "unplaced": key, "execution": name}
    month = placed[1]
    files = month_files(lake, month)
    waiting = [name for kind, name in zip(files, monthly_names(month), strict=True) if not files[kind]]
    if waiting:
        return {"started": False, "month": month, "waiting_for": waiting}
    uris = sorted(files["invoices"] + files["payments"], key=lambda uri: _order(posixpath.basename(uri)))
    md5s = tuple(md5_hex(lake.get(uri)) for uri in uris)
    request = RunRequest(domain=DOMAIN, trigger="s3", month=month, inputs=tuple(uris), inputs_md5=md5s)
    name = request.name(month)
    started = start(name, request.to_input())
    return {"started": bool(started), "month": month, "execution": name}


# -- Fetch -----------------------------------------------------------------------------------------


def fetch(request: RunRequest, *, lake: Lake, today: date | None = None) -> Manifest:
    """The cards Fetch step: the month's invoice and payment files, and the Glue steps' arguments.

    List the month's files (both must be there), skip content already processed, and prepare
    the arguments of the two Glue steps.

    Parameters
    ----------
    request
        The execution input: ``month`` ("YYYY-MM"; default the previous month in America/Sao_Paulo)
        or ``inputs`` (the S3 URIs the inbox trigger saw; ``unplaced`` when no month was found in
        their names); ``force`` reprocesses files already ingested with the same content.
    lake
        The lake; the files are read from the raw bucket's cards inbox, named as :data:`NAMING`
        says (``tb_faturas_YYYYMM.csv``, ``tb_pagamentos_YYYYMM.csv``: /work/shared/specs/cards_book.md).
    today
        The day the default month is derived from (default: today in America/Sao_Paulo).

    Returns
    -------
    Manifest
        The sources (each with its decided text encoding) and the ``Validate``/``Transform`` job
        arguments; ``new_data`` False with a ``summary`` when every file was already processed.

    Raises
    ------
    MissingFile
        When the month lacks its invoice or its payment file.
    UnplacedFile
        When a file is placed neither by its name nor by its header (it is copied to
        ``quarantine/cards/unplaced/`` first).
    InputError
        When a file's text cannot be decoded cleanly.
    """
    today = today or date.fromisoformat(today_in_sao_paulo())
    month = request.month or partition_for("previous_month", today)["month"]
    manifest = Manifest(run_id=request.run_id, domain=DOMAIN, partition={"month": month})
    if request.inputs:
        uris = list(request.inputs)
        if request.unplaced:  # the trigger found no month in the name
            _quarantine_unplaced(lake, uris)
    else:
        files = month_files(lake, month)
        uris = files["invoices"] + files["payments"]
        missing = [name for kind, name in zip(files, monthly_names(month), strict=True) if not files[kind]]
        if missing:
            raise MissingFile(
                f"cards {month}: {', '.join(missing)} not found in s3://{lake.raw_bucket}/{INBOX} "
                f"(a month needs an invoice and a payment file, named {NAMING})"
            )
    sources = [source for uri in uris if (source := _source(lake, uri)) is not None]
    _quarantine_unplaced(lake, [uri for uri in uris if uri not in {s.uri for s in sources}])
    kinds = {s.kind for s in sources}
    if kinds != {"invoices", "payments"}:
        raise MissingFile(f"cards {month}: need an invoice file and a payment file, got only {sorted(kinds)}")
    ingested = lake.read_state(DOMAIN, "ingested.json")
    if not request.force and all(ingested.get(s.uri) == s.md5 for s in sources):
        manifest.skipped = [s.name for s in sources]
        manifest.summary = f"cards {month}: these files were already processed with the same content"
        return manifest
    manifest.sources = sorted(sources, key=_file_order)
    manifest.new_data = True
    joined = {kind: ",".join(s.uri for s in manifest.sources if s.kind == kind) for kind in kinds}
    encodings = {kind: ",".join(s.encoding for s in manifest.sources if s.kind == kind) for kind in kinds}
    curate_result = _runs_uri(lake, manifest.run_id, "curate")
    manifest.job_args = {
        "Validate": {
            "--run_id": manifest.run_id,
            "--invoice_files": joined["invoices"],
            "--payment_files": joined["payments"],
            "--invoice_encodings": encodings["invoices"],
            "--payment_encodings": encodings["payments"],
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


def _quarantine_unplaced(lake: Lake, uris: list[str]) -> None:
    """Copy files no month places to quarantine, then fail naming them.

    Copy each file (the raw object stays: raw is never modified) and its reason to
    ``quarantine/cards/unplaced/``, then fail naming them: the run's failure email reports them.
    """
    if not uris:
        return
    copies = []
    for uri in uris:
        name = posixpath.basename(uri)
        copy = s3_uri(lake.curated_bucket, f"quarantine/{DOMAIN}/{UNPLACED}{name}")
        lake.copy(uri, copy)
        reason = f"{name}: neither the name nor the header places it (accepted names: {NAMING})"
        lake.put(copy + ".reason.json", json.dumps({"source": uri, "copy": copy, "reason": reason}).encode())
        copies.append(copy)
    names = ", ".join(posixpath.basename(u) for u in uris)
    raise UnplacedFile(
        f"{names}: in the cards inbox, but the name places it in no month (accepted: {NAMING}) "
        f"and the run cannot use it; copied to {', '.join(copies)}; rename it and drop it again"
    )


def _source(lake: Lake, uri: str) -> Source | None:
    """The file as a source of this run, or None when nothing places it.

    The file as a source of this run (kind by name, else by header; encoding decided), or None
    when neither places it.
    """
    data = lake.get(uri)
    name = posixpath.basename(uri)
    try:
        decoded = decode(data, where=name)
    except UndecodableText as exc:
        raise InputError(str(exc)) from exc
    header = decoded.text[:400].lstrip("\ufeff").splitlines()[0].strip().lower() if decoded.text.strip() else ""
    placed = place(name)
    if placed is not None:
        kind = placed[0]  # the curate job checks the header (and maps the known renames)
    elif header.startswith(INVOICE_HEADER):
        kind = "invoices"
    elif header == PAYMENT_HEADER:
        kind = "payments"
    else:
        return None
    return Source(
        uri=uri, name=name, resource_id=name, md5=md5_hex(data), source_url=uri, kind=kind, encoding=decoded.encoding
    )


def _order(name: str) -> tuple[str, str, str]:
    placed = place(name)
    return (placed[1], placed[2], name) if placed else ("", "", name)


def _file_order(source: Source) -> tuple[str, str, str]:
    """Oldest first (month, then generation stamp), so that a later file wins on a duplicate id."""
    return _order(source.name)


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
    written = {table: sections[section]["partitions"] for table, section in SECTIONS.items()}
    for registered in register_written(glue, TABLES, lake=lake, written=written):
        manifest.tables.append(registered.qualified)
        manifest.partitions_written += registered.partitions
    invoices, payments = sections["invoices"], sections["payments"]
    counts = manifest.counts
    counts.rows_in = invoices["rows_in"] + payments["rows_in"]
    counts.rows_valid = invoices["valid"] + payments["valid"]
    counts.rows_quarantined = invoices["quarantined"] + payments["quarantined"]
    counts.rows_curated = invoices["written"] + payments["written"]
    counts.rows_duplicates = invoices["duplicates"] + payments["duplicates"]
    counts.check("cards", DUPLICATE_KEY)
    if results["curate"].get("renamed_columns"):
        manifest.warnings.append("known column renames mapped: " + ", ".join(results["curate"]["renamed_columns"]))
    for kind in ("invoices", "payments"):
        if sections[kind]["rows_in"] and sections[kind]["rows_in"] == sections[kind]["quarantined"]:
            manifest.warnings.append(f"every {kind[:-1]} row was quarantined: see the quarantine for the reasons")
    counts.rows_written = sum(results["book"].get("rows", {}).values())
    root = manifest.job_args["Validate"]["--quarantine_root"]
    manifest.quarantine = [f"{root}{kind}.jsonl" for kind in ("invoices", "payments") if sections[kind]["quarantined"]]
    ingested = lake.read_state(DOMAIN, "ingested.json")
    ingested |= {s.uri: s.md5 for s in manifest.sources}
    lake.write_state(DOMAIN, "ingested.json", ingested)
    manifest.summary = summarize(manifest, results)
    return manifest


def reconciliation(kind: str, section: dict[str, int]) -> str:
    """One line of the email: a file kind's rows in = curated + quarantined + duplicates, "ok" or "MISMATCH"."""
    total = section["written"] + section["quarantined"] + section["duplicates"]
    status = "ok" if total == section["rows_in"] else "MISMATCH"
    return (
        f"{kind}: {section['rows_in']} rows in = {section['written']} curated + {section['quarantined']} "
        f"quarantined + {section['duplicates']} duplicates dropped ({status})"
    )


def summarize(manifest: Manifest, results: dict[str, Any]) -> str:
    """The run's email body from the curate and book results (files, reconciliations, book rows, tables)."""
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
