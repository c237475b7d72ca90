"""The reliability scenarios as data, and docs/reliability.md rendered from them.

    python -m tests.reliability.scenarios --write    # rewrite docs/reliability.md
    python -m tests.reliability.scenarios            # print it

`test_scenarios_doc.py` checks that the committed document equals the rendering and that every
scenario's test exists.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
T = "tests/reliability/"


@dataclass(frozen=True)
class Scenario:
    id: str
    domain: str
    scenario: str
    outcome: str
    test: str  # pytest node id (without parameters)


SCENARIOS = [
    # -- 1. sources --------------------------------------------------------------------------------------
    Scenario(
        "source-transient",
        "bndes",
        "CKAN answers 429 (Retry-After: 0) then 503 to package_show, 500 then 502 to a CSV",
        "Retried inside Fetch by Urllib3Http; SUCCEEDED; each resource stored in raw once; no dead letter",
        T + "test_bndes.py::test_429_and_5xx_are_retried_and_the_run_succeeds_once",
    ),
    Scenario(
        "source-transient",
        "stocks",
        "B3 answers 429 then 503 for the COTAHIST ZIP, 500 for the IBOV portfolio (after a KMS fault, below)",
        "Retried inside Fetch; the redriven run SUCCEEDED; 3 and 2 requests, one 200 each; the ZIP stored once",
        T + "test_stocks.py::test_kms_fault_then_retried_429_and_5xx_then_the_same_day_again",
    ),
    Scenario(
        "source-transient",
        "bank",
        "Nubank answers 503 twice to the pynubank login",
        "Retried inside Fetch by the live client (`RetryingHttpClient`: urllib3 retries behind pynubank); "
        "SUCCEEDED with Fetch entered once, 3 logins, one snapshot in raw, no dead letter",
        T + "test_bank.py::test_503s_at_login_are_retried_by_the_client_and_the_run_succeeds_once",
    ),
    Scenario("source-transient", "cards", "N/A: files dropped in the raw inbox, no HTTP source", "N/A", ""),
    Scenario(
        "source-down",
        "bndes",
        "CKAN answers 503 for good",
        "FAILED `SourceUnavailable` after 1 + 3 requests; Fetch entered and scheduled once; email "
        "`[finlake] bndes FAILED at Fetch`; dead letter with the input; raw empty",
        T + "test_bndes.py::test_a_source_down_for_good_fails_once_with_email_and_dead_letter",
    ),
    Scenario(
        "source-down",
        "stocks",
        "B3 answers 503 for good",
        "FAILED `SourceUnavailable` after 1 + 3 requests; Fetch scheduled once; email; dead letter; raw empty",
        T + "test_stocks.py::test_b3_down_for_good_fails_once_with_email_and_dead_letter",
    ),
    Scenario(
        "source-down",
        "bank",
        "Nubank answers 502 for good",
        "FAILED `SourceUnavailable` (HTTP 502) after 1 + 3 logins; Fetch entered once; email; dead letter "
        "with the input; its redrive fails the same way (no retry storm); raw empty",
        T + "test_bank.py::test_a_source_down_for_good_fails_every_run_after_bounded_retries",
    ),
    Scenario(
        "source-html-empty",
        "bndes",
        "HTML or empty 200 body for package_show or a CSV, every time",
        "recognised in Fetch, retried (3 requests), then FAILED `NotTheFile` (source unavailable) naming the URL; "
        "email; dead letter; raw empty",
        T + "test_bndes.py::test_an_html_or_empty_200_body_is_retried_then_unavailable_and_nothing_is_stored",
    ),
    Scenario(
        "source-html-empty",
        "bndes",
        "HTML 200 body for a CSV, once",
        "SUCCEEDED: the retry in Fetch gets the CSV; the page is never stored as raw data",
        T + "test_bndes.py::test_an_html_200_body_once_is_retried_and_the_run_succeeds",
    ),
    Scenario(
        "source-html-empty",
        "stocks",
        "HTML or empty 200 body instead of the COTAHIST ZIP, every time",
        "retried in Fetch (3 requests), then FAILED `NotTheFile` naming the ZIP's URL; dead letter; raw empty",
        T + "test_stocks.py::test_an_html_or_empty_200_instead_of_the_zip_is_retried_then_fails_naming_the_url",
    ),
    Scenario(
        "source-html-empty",
        "bank",
        "HTML or empty 200 body at the Nubank login",
        "FAILED `SourceFormatError` ('not JSON'); dead letter; raw empty (was `SourceUnavailable` 'offline?': fixed)",
        T + "test_bank.py::test_an_html_or_empty_200_is_a_format_error",
    ),
    # -- 2. crash between writing and registering ------------------------------------------------------------
    Scenario(
        "crash-before-register",
        "bndes",
        "Glue BatchCreatePartition fails once after Transform wrote a new partition",
        "FAILED at Catalog; the partition's file is in S3 but no query sees it; the dead letter's input "
        "redrives to SUCCEEDED; curated bytes and catalog partitions equal a clean run's",
        T + "test_bndes.py::test_a_crash_before_register_hides_the_partition_and_a_redrive_equals_a_clean_run",
    ),
    Scenario(
        "crash-before-register",
        "bank",
        "Glue BatchCreatePartition fails once after Transform wrote August",
        "FAILED at Catalog; queries see July only; the redrive gives curated and refined bytes and "
        "catalog partitions equal to a clean run's",
        T + "test_bank.py::test_a_crash_before_register_hides_the_partition_and_a_redrive_equals_a_clean_run",
    ),
    # -- 3. same input twice, concurrent runs ----------------------------------------------------------------
    Scenario(
        "same-input-twice",
        "bndes",
        "The same file twice, then forced",
        "The second run ends at NothingNew with the lake unchanged; the forced run adds no duplicate row",
        T + "test_bndes.py::test_the_same_file_twice_adds_nothing_and_a_forced_rerun_adds_no_duplicate",
    ),
    Scenario(
        "concurrent-runs",
        "bndes",
        "Two executions of the same partition and file started before either is waited for",
        "Both SUCCEEDED; no duplicate row; curated bytes and partitions equal a single clean run's",
        T + "test_bndes.py::test_two_runs_of_the_same_partition_at_once_leave_no_duplicate_rows",
    ),
    Scenario(
        "same-input-twice",
        "stocks",
        "The same trading day fetched again",
        "COTAHIST skipped (same MD5) but the day is reprocessed (the portfolio is never skipped); no duplicate quote",
        T + "test_stocks.py::test_kms_fault_then_retried_429_and_5xx_then_the_same_day_again",
    ),
    Scenario(
        "same-input-twice",
        "cards",
        "The same month's files again after the redriven run",
        "NothingNew; no duplicate `id_fatura`",
        T + "test_cards.py::test_access_denied_then_redrive_quarantines_bad_rows_then_same_files_are_nothing_new",
    ),
    Scenario(
        "concurrent-runs",
        "bank",
        "Two executions of the same exports started at once (one forced)",
        "Both SUCCEEDED; transactions == distinct transaction keys == the exports' entries",
        T + "test_bank.py::test_two_runs_of_the_same_exports_at_once_leave_no_duplicate_rows",
    ),
    # -- 4. bad files ----------------------------------------------------------------------------------------
    Scenario(
        "bad-encoding",
        "bndes",
        "`--input` CSV in latin-1 or cp1252 (BNDES publishes windows-1252 since February 2025)",
        "SUCCEEDED; decoded (charset-normalizer, nothing declared): the same curated bytes as its UTF-8 twin",
        T + "test_bndes.py::test_a_latin1_or_cp1252_file_loads_as_its_utf8_twin",
    ),
    Scenario(
        "bad-encoding",
        "bndes",
        "`--input` CSV that is not text in any encoding the sources use",
        "FAILED `FileRejected` at Validate naming the file and the first non-ASCII byte; "
        "rejection note in quarantine; raw untouched",
        T + "test_bndes.py::test_a_file_that_is_not_text_is_rejected_whole_naming_the_file",
    ),
    Scenario(
        "bom",
        "bndes",
        "`--input` CSV with a UTF-8 BOM",
        "Loads; curated bytes equal those of the same file without BOM",
        T + "test_bndes.py::test_a_bom_is_ignored_and_the_file_loads_as_without_it",
    ),
    Scenario(
        "truncated-swapped",
        "bndes",
        "20-row CSV cut in its last line, and text in a number column in one row",
        "SUCCEEDED; 2 rows quarantined with line (6, 21) and reason; 18 loaded",
        T + "test_bndes.py::test_truncated_and_swapped_rows_are_quarantined_with_line_and_reason",
    ),
    Scenario(
        "swapped-types",
        "bndes",
        "Swapped values in 1 of 4 rows (over the 10% limit)",
        "FAILED `FileRejected` naming the file and the first bad line",
        T + "test_bndes.py::test_swapped_types_in_over_10pct_of_rows_reject_the_file_with_the_first_bad_line",
    ),
    Scenario(
        "extra-missing-columns",
        "bndes",
        "A file with an extra column, one with a column missing",
        "Both load; warnings 'new columns' / 'missing columns' in the output and the email",
        T + "test_bndes.py::test_extra_and_missing_columns_load_with_a_warning",
    ),
    Scenario(
        "bad-file",
        "stocks",
        "COTAHIST with a BOM, cut mid-record, or re-encoded to UTF-8 in over 1% of records",
        "FAILED at Validate before Spark (`FileRejected` bad header / `TruncatedFile` / `FileRejected` over 1%), "
        "naming the file; copy and reason in quarantine; raw untouched; nothing in curated",
        T + "test_stocks.py::test_a_cotahist_with_a_bom_truncated_or_mostly_bad_is_rejected_before_spark",
    ),
    Scenario(
        "bad-records",
        "stocks",
        "COTAHIST with one record a byte too long, one a byte short, one with letters in PREABE, one with a "
        "C1 byte (0x85) in NOMRES",
        "SUCCEEDED; 4 records quarantined with file, line (2, 3, 4, 5) and reason, all listed by "
        "`finlake quarantine stocks`; the rest loaded",
        T + "test_stocks.py::test_a_few_bad_records_are_quarantined_with_line_and_reason_and_the_rest_loads",
    ),
    Scenario(
        "bad-rows",
        "cards",
        "Invoice file with BOM, CRLF, cp1252 byte, extra and missing field, swapped date/amount, cut last line",
        "SUCCEEDED; each bad row quarantined with file, line and reason; counts reconcile (ok)",
        T + "test_cards.py::test_access_denied_then_redrive_quarantines_bad_rows_then_same_files_are_nothing_new",
    ),
    Scenario(
        "bad-header",
        "cards",
        "Invoice file with an extra column; payment file ';'-separated",
        "FAILED `HeaderMismatch` at Validate naming the file; nothing in curated; dead letter",
        T + "test_cards.py::test_a_file_with_an_unexpected_header_or_encoding_is_rejected_naming_it",
    ),
    Scenario(
        "bad-rows",
        "bank",
        "Card CSV and OFX in cp1252, NuConta CSV and OFX with BOM, NuConta CSV cut mid-line, card CSV swapped fields",
        "SUCCEEDED; accents decoded (warning 'read as cp1252'); bad rows quarantined with line and reason",
        T + "test_bank.py::test_exports_in_cp1252_with_a_bom_or_bad_rows_load_or_quarantine_with_line_and_reason",
    ),
    Scenario(
        "bad-header",
        "bank",
        "Card CSV with an extra column or not text at all, NuConta CSV with a column missing, OFX truncated",
        "FAILED `SourceRejected` at Validate naming the file and the accepted headers; "
        "reason in quarantine; raw untouched",
        T + "test_bank.py::test_an_export_with_an_unknown_header_or_truncated_ofx_is_rejected_naming_the_file",
    ),
    # -- 5. S3 / KMS ---------------------------------------------------------------------------------------
    Scenario(
        "s3-kms",
        "bndes",
        "AccessDenied writing the curated table; KMS.DisabledException reading the raw input",
        "FAILED at Transform / Validate; the task scheduled once and the fault raised once; email; dead letter; "
        "raw untouched; the dead letter's input redrives to SUCCEEDED",
        T + "test_bndes.py::test_an_s3_or_kms_fault_fails_once_then_the_dead_letter_input_redrives",
    ),
    Scenario(
        "s3-kms",
        "stocks",
        "KMS.DisabledException writing the COTAHIST to raw",
        "FAILED at Fetch once; raw empty; the redrive succeeds",
        T + "test_stocks.py::test_kms_fault_then_retried_429_and_5xx_then_the_same_day_again",
    ),
    Scenario(
        "s3-kms",
        "cards",
        "AccessDenied reading the inbox files",
        "FAILED at Fetch once; raw untouched; the redrive succeeds",
        T + "test_cards.py::test_access_denied_then_redrive_quarantines_bad_rows_then_same_files_are_nothing_new",
    ),
    Scenario(
        "s3-kms",
        "bank",
        "AccessDenied writing the API snapshot to raw",
        "FAILED at Fetch once; raw empty; the redrive succeeds",
        T + "test_bank.py::test_access_denied_writing_raw_fails_once_and_the_dead_letter_input_redrives",
    ),
]

KNOWN_GAPS = [
    "**stocks**: a daily run of a day already loaded reprocesses it (the IBOV portfolio in force is fetched and "
    "never skipped), so it costs a Glue run. It is idempotent: no duplicate rows.",
    "**bndes, bank (CSV)**: a file cut exactly inside the last field of its last line loads the shortened value "
    "(e.g. `29.3` for `29.31`). These formats have no trailer or row count, so this cannot be told from a file "
    "that just lacks a final newline. A cut anywhere else is quarantined (missing fields).",
    "**bndes**: a column whose values are swapped with another's in every row becomes a text attribute and the "
    "other an account; columns are not typed from earlier runs, only their names are compared.",
    "**crash before register, stocks and cards**: not executed (each would take two more Glue runs). They share "
    "`functions.common.catalog.register`, which adds partitions only after Transform wrote them, and their "
    "Transform overwrites the partitions it touches.",
    "**concurrent runs, stocks and cards**: not executed on local Spark. Their Glue jobs have MaxConcurrentRuns 1, "
    "and the cards S3 trigger names executions by content, so Step Functions refuses a second run of the same files.",
]

INTRO = """# Reliability: faults and bad input

Generated from `tests/reliability/scenarios.py` by `python -m tests.reliability.scenarios --write`;
do not edit by hand.

Every scenario below runs a domain's real state machine (`statemachines/<domain>.asl.json`) on the
embedded AWS, with the real handlers and Glue scripts, and asserts the outcome. Run the suite with:

```bash
.venv/bin/pytest -q tests/reliability        # about 3 minutes on 2 cores (175 s measured), half of it local Spark
```

How faults are injected:

- **HTTP sources** (bndes, stocks): the live `Urllib3Http` (real retries, backoff 10 ms, Retry-After
  honoured) talks to an `http.server` on 127.0.0.1 through the transport seam `use_transport(domain, ...)`,
  which rewrites the fetchers' constant `https://` URLs to the local server. The server answers from the
  project's own generated sources, unless a scripted fault (429, 5xx, HTML, empty body) matches first.
- **Nubank**: `functions.bank.handlers.nubank_client` returns the live `RetryingHttpClient` (real session,
  PKCS#12 adapter with a generated certificate, urllib3 retries, backoff 10 ms) with its `https://` URLs
  sent to an `http.server` on 127.0.0.1, which answers what pynubank's `MockHttpClient` would unless a
  scripted login fault (5xx, HTML, empty body) comes first.
- **S3 / KMS**: `functions.common.lake.Lake.put` or `get` raises botocore's `ClientError` (`AccessDenied`,
  `KMS.DisabledException`) for the chosen bucket. **Glue**: `awswrangler.catalog.add_parquet_partitions` raises
  `InternalServiceException` once.

What "nothing lost, nothing duplicated" means here, concretely:

- **Nothing lost**: raw objects are never modified or removed by a failed run (asserted byte for byte). A
  failed run leaves a dead-letter message holding the execution's original input. Starting a new execution
  with that input, once the fault is gone, succeeds.
- **Recovered equals clean**: after a crash between writing data and registering it, the redriven run leaves
  the curated and refined objects byte for byte, and the Glue catalog's partitions, equal to a clean run in
  another workspace.
- **No partial partition is visible**: a query (`finlake.query.run_query`, which like Athena reads only
  registered partitions) does not see a partition whose files were written but never registered.
- **Nothing duplicated**: after the same input twice, or two executions of one partition at once, the row
  count equals the count of distinct keys (bndes: date, resource, line, account; stocks: ticker and day;
  cards: `id_fatura`; bank: `transaction_key`).
- **No retry storm**: a failing task is entered once and its work scheduled once. The fault is raised
  once, and the failure email (`[finlake] <domain> FAILED at <State>`) and the dead letter are sent once.
"""


def render() -> str:
    lines = [INTRO, "## Scenarios", "", "| Scenario | Domain | Expected outcome | Test |", "|---|---|---|---|"]
    for s in SCENARIOS:
        test = f"`{s.test.removeprefix(T)}`" if s.test else "N/A"
        lines.append(f"| {s.scenario} | {s.domain} | {s.outcome} | {test} |")
    lines += ["", "Test paths are relative to `tests/reliability/`.", "", "## Known gaps", ""]
    lines += [f"- {gap}" for gap in KNOWN_GAPS]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    if "--write" in argv:
        DOC.write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())


if __name__ == "__main__":
    main(sys.argv[1:])
