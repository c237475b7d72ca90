"""The CLI's front door: refusals before anything starts, one-line answers, and the commands that
show what runs did (tables, runs, email, quarantine, query). The README's own commands run in
tests/test_readme.py; these are the cases it does not show."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from finlake.arguments import check_local_samples, check_run_options, parse_date, parse_month, parse_year
from finlake.cli import main
from finlake.local.sources import demo_plans, local_plan, mock_workspace
from finlake.local.workspace import Workspace
from stacks.specs import DOMAINS

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 29)


def finlake(home: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--home", str(home), *args], input=stdin, prog_name="finlake")
    return result.exit_code, result.stdout, result.stderr


REFUSED = [
    ("run", "bndes", "--date", "2024-02-30"),
    ("run", "bndes", "--month", "2024-13"),
    ("run", "cards", "--month", "2024-13"),
    ("run", "cards", "--month", "2024-00"),
    ("run", "bndes", "--date", "2026/11/20"),
    ("run", "bndes", "--date", "20261120"),
    ("run", "bndes", "--date", "2099-01-02"),
    ("run", "cards", "--date", "2024-09-01"),
    ("run", "bndes", "--month", "2024-09"),
    ("run", "bndes", "--year", "2024"),
    ("run", "stocks", "--year", "2030"),
    ("run", "stocks", "--year", "24"),
    ("run", "stocks", "--year", "2024", "--date", "2024-01-02"),
    ("run", "stocks", "--year", "2010"),  # real, but outside the local B3 samples (2019-2026)
    ("run", "stocks", "--date", "2010-03-01"),
    ("backfill", "stocks", "--from", "2018-12-03", "--to", "2019-01-04"),
    ("run", "bndes", "--source", "mock"),
    ("run", "--all", "bndes"),
    ("run", "--all", "--force"),
    ("run",),
    ("--aws", "run", "bndes", "--date", "2024-02-30"),
    ("--aws", "run", "cards", "--month", "2024-13"),
    ("--aws", "run", "stocks", "--year", "2030"),
    ("--aws", "run", "--all"),
    ("backfill", "cards", "--from", "2024-13", "--to", "2024-14"),
    ("backfill", "bndes", "--from", "2024/01/01", "--to", "2024-01-05"),
    ("backfill", "bndes", "--from", "2024-01-05", "--to", "2024-01-01"),
    ("backfill", "bndes", "--from", "2024-01-01", "--to", "2099-01-05"),
    ("backfill", "bndes", "--from", "2024-01-06", "--to", "2024-01-07"),
    ("backfill", "bndes", "--from", "2024-01-01", "--to", "2024-01-05", "--parallel", "2"),
    ("--aws", "backfill", "bank", "--from", "2024-02-30", "--to", "2024-03-01"),
    ("generate", "cards", "--months", "0", "--out", "x"),
    ("generate", "cards", "--clients", "-1", "--out", "x"),
    ("generate", "bank", "--end-month", "2024/09", "--out", "x"),
    ("generate", "bank", "--months", "1", "--out", "x"),
    ("generate", "cards", "--out"),
    ("cost", "--lake-gb", "-5"),
    ("cost", "--queries-per-month", "-1"),
    ("cost", "--gb-per-query", "abc"),
    ("cost", "--cdk-out", "no-such-folder"),
    ("runs", "--limit", "0"),
    ("query",),
]


@pytest.mark.parametrize("args", REFUSED, ids=[" ".join(a) for a in REFUSED])
def test_impossible_input_is_refused_in_one_line_and_starts_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, out, err = finlake(tmp_path / "ws", *args)

    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("Error: "), err
    assert "Traceback" not in out + err
    s3 = tmp_path / "ws" / "s3"
    assert not list((tmp_path / "ws" / "runs").glob("*.json"))
    assert not s3.exists() or not any(s3.iterdir())
    assert "cannot find the deployment" not in err  # --aws: refused before looking for AWS


def test_the_messages_name_the_date_asked_and_the_right_form() -> None:
    with pytest.raises(click.UsageError, match=r"--date 2026/11/20: give a date as YYYY-MM-DD \(e.g. 2026-11-20\)"):
        parse_date("2026/11/20", today=TODAY)
    with pytest.raises(click.UsageError, match=r"\(e.g. 2026-11-20\)"):
        parse_date("20/11/2026", today=TODAY)
    with pytest.raises(click.UsageError, match=r"--date 2026-11-30 is in the future \(today is 2026-11-29"):
        parse_date("2026-11-30", today=TODAY)
    with pytest.raises(click.UsageError, match="no such day"):
        parse_date("2024-02-30", today=TODAY)
    assert parse_date("2024-02-29", today=TODAY) == "2024-02-29"
    with pytest.raises(click.UsageError, match="there is no month 13"):
        parse_month("2024-13", today=TODAY)
    with pytest.raises(click.UsageError, match=r"2026-12 is in the future \(this month is 2026-11"):
        parse_month("2026-12", today=TODAY)
    assert parse_month("2026-11", today=TODAY) == "2026-11"
    with pytest.raises(click.UsageError, match=r"no B3 yearly file for 2030, it is after this year \(2026\)"):
        parse_year("2030", today=TODAY)
    with pytest.raises(click.UsageError, match="start in 1986"):
        parse_year("1985", today=TODAY)
    assert check_run_options(DOMAINS["stocks"], year="1994", today=TODAY) == (None, None, "1994")


def test_local_stocks_runs_are_refused_outside_the_generated_b3_calendar_not_with_a_file() -> None:
    """B3's samples cover 2019-2026 (a 2010 run used to end in ZeroDivisionError or a ValueError in
    Fetch); the generated BCB answers cover any date, so an old file given with --input runs."""
    stocks = DOMAINS["stocks"]
    with pytest.raises(click.UsageError, match=r"--year 2010: local mode generates B3's answers for 2019-2026 only"):
        check_local_samples(stocks, year="2010", today=TODAY)
    with pytest.raises(click.UsageError, match=r"--date 1994-07-04: .* `--date YYYY-MM-DD --input FILE`"):
        check_local_samples(stocks, day="1994-07-04", today=TODAY)
    with pytest.raises(click.UsageError, match=r"today \(2027-01-04\)"):
        check_local_samples(stocks, today=date(2027, 1, 4))
    for ok in ({"year": "2019"}, {"day": "2026-11-27"}, {}):
        check_local_samples(stocks, **ok, today=TODAY)
    check_local_samples(DOMAINS["bndes"], day="1994-07-04", today=TODAY)  # the cassette answers for any day


def test_an_old_year_is_not_refused_on_aws_where_b3_has_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from finlake import cli as cli_module

    def no_deployment(ctx: click.Context) -> None:  # what follows the argument checks (no AWS here)
        raise click.ClickException("looked for the deployment")

    monkeypatch.setattr(cli_module, "aws_session", no_deployment)
    code, _, err = finlake(tmp_path / "ws", "--aws", "run", "stocks", "--year", "1994")
    assert (code, err) == (1, "Error: looked for the deployment\n")


def test_every_generate_and_its_help_answer_without_a_trace(tmp_path: Path) -> None:
    for args in (["generate", "--help"], ["generate", "cards", "--help"], ["generate", "bank", "--help"]):
        code, out, err = finlake(tmp_path, *args)
        assert code == 0 and "Usage:" in out and not err, (args, out, err)
    code, out, _ = finlake(tmp_path, "generate", "bank", "--months", "2", "--out", str(tmp_path / "bank"))
    assert code == 0 and "wrote" in out and sorted(p.suffix for p in (tmp_path / "bank").iterdir())


def test_unknown_or_negative_assumptions_are_refused(tmp_path: Path) -> None:
    file = tmp_path / "a.json"
    for content, message in (
        ({"lake_gbb": 10}, "unknown key lake_gbb"),
        ({"domains": {"bnds": {"triggered_runs": 1}}}, "unknown key domains.bnds"),
        ({"domains": {"bank": {"triggered_runs": -2}}}, "domains.bank.triggered_runs must be a number >= 0"),
        ({"glue_minutes": {"stocks.Fetch": 3}}, "unknown key glue_minutes.stocks.Fetch"),
        ([1, 2], "must hold a JSON object"),
    ):
        file.write_text(json.dumps(content))
        code, _, err = finlake(tmp_path, "cost", "--assumptions", str(file))
        assert code == 2 and message in err, err


@pytest.fixture(scope="module")
def bndes_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("bndes") / "ws"
    code, out, err = finlake(home, "run", "bndes", "--date", "2026-11-20")
    assert code == 0, out + err
    return home


def test_query_reads_sql_from_a_file_or_stdin_and_shows_the_catalog(bndes_home: Path, tmp_path: Path) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text("SELECT count(*) AS n FROM finlake_curated.bndes_balance_sheet")
    code, from_file, _ = finlake(bndes_home, "query", "--file", str(sql), "--format", "csv")
    assert code == 0 and from_file.splitlines() == ["n", "1140"]
    code, from_stdin, _ = finlake(bndes_home, "query", "-", "--format", "csv", stdin=sql.read_text())
    assert (code, from_stdin) == (0, from_file)

    code, out, _ = finlake(bndes_home, "query", "SHOW TABLES", "--format", "csv")
    assert out.splitlines() == ["tab_name", "finlake_curated.bndes_balance_sheet"]
    code, out, _ = finlake(bndes_home, "query", "show tables in finlake_curated", "--format", "json")
    assert json.loads(out) == [{"tab_name": "bndes_balance_sheet"}]
    code, out, _ = finlake(bndes_home, "query", "DESCRIBE finlake_curated.bndes_balance_sheet", "--format", "json")
    described = {row["col_name"]: row for row in json.loads(out)}
    assert described["value"]["data_type"] == "decimal(20,2)" and "millions" in described["value"]["comment"]
    assert described["reference_date"]["comment"].startswith("partition key")

    code, _, err = finlake(bndes_home, "query", "SELECT * FROM finlake_curated.nope")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "`finlake tables`" in err


def test_a_query_before_any_run_says_to_run_a_domain(tmp_path: Path) -> None:
    code, _, err = finlake(tmp_path, "query", "SELECT * FROM finlake_curated.bndes_balance_sheet")
    assert code == 1 and "run a domain first" in err and len(err.strip().splitlines()) == 1
    code, out, _ = finlake(tmp_path, "tables")
    assert code == 0 and "no tables yet" in out


def test_tables_lists_rows_partitions_location_and_last_run(bndes_home: Path) -> None:
    _, out, _ = finlake(bndes_home, "tables")
    [run_record] = Workspace.open(bndes_home).runs("bndes")
    assert out.strip() == (
        "finlake_curated.bndes_balance_sheet: 1140 rows in 20 partitions at s3://finlake-curated/bndes_balance_sheet/;"
        f" last run {run_record['name']} ({run_record['started'][:19]})"
    )


def _record(ws: Workspace, name: str, started: str, **fields: object) -> None:
    base = {
        "name": name,
        "domain": name.split("-")[0],
        "status": "SUCCEEDED",
        "started": started,
        "duration_s": 1.0,
        "states": [],
        "output": None,
        "notifications": [],
    }
    ws.save_run({**base, **fields})


def test_runs_say_the_outcome_kind_with_the_readable_cause_and_limit_locally(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    lambda_error = json.dumps(
        {"errorMessage": "cards 2024-09: tb_pagamentos_202409.csv not found", "stackTrace": ["x"]}
    )
    counts = {"rows_in": 5, "rows_valid": 4, "rows_curated": 3, "rows_quarantined": 1, "rows_duplicates": 1}
    _record(ws, "cards-2024-08-aaaa", "2026-11-01T10:00:00", output={"new_data": True, "counts": counts})
    _record(ws, "cards-2024-09-bbbb", "2026-11-02T10:00:00", output={"new_data": False})
    _record(
        ws,
        "cards-2024-09-cccc",
        "2026-11-03T10:00:00",
        status="FAILED",
        failed_state="Fetch",
        error="MissingFile",
        cause=lambda_error,
        notifications=[{"subject": "[finlake] cards FAILED at Fetch", "message": "Failed state: Fetch"}],
    )

    code, out, _ = finlake(tmp_path, "runs")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].endswith("cards-2024-08-aaaa  loaded: rows in 5 = 3 curated + 1 quarantined + 1 duplicates dropped")
    assert lines[1].endswith("cards-2024-09-bbbb  nothing new")
    assert lines[2].endswith(
        "cards-2024-09-cccc  failed at Fetch: MissingFile: cards 2024-09: tb_pagamentos_202409.csv not found"
    )
    assert "stackTrace" not in out and "{" not in out
    code, out, _ = finlake(tmp_path, "runs", "--limit", "1")
    assert [line.split()[-1] for line in out.splitlines()] == ["found"]

    code, out, _ = finlake(tmp_path, "email", "cards-2024-09-cccc")
    assert out == "Subject: [finlake] cards FAILED at Fetch\n\nFailed state: Fetch\n"
    code, out, _ = finlake(tmp_path, "email", "cards")
    assert out.startswith("Subject: [finlake] cards FAILED")
    code, _, err = finlake(tmp_path, "email", "stocks")
    assert code == 1 and "`finlake runs`" in err


def test_quarantine_shows_file_line_and_reason_of_every_domain(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    rows = ws.object_path("finlake-curated", "quarantine/cards/2024-09/invoices.jsonl")
    rows.parent.mkdir(parents=True)
    rows.write_text(
        "".join(
            json.dumps({"source": "s3://finlake-raw/inbox/cards/f.csv", "line": n, "reason": f"bad {n}", "raw": "x"})
            + "\n"
            for n in (3, 7, 9)
        )
    )
    rejected = ws.object_path("finlake-curated", "quarantine/bndes/dt=2026-11-20/r1.rejected.json")
    rejected.parent.mkdir(parents=True)
    rejected.write_text(json.dumps({"source": "s3://finlake-raw/bndes/r1.csv", "file": "r1.csv", "reason": "HTML"}))

    _, out, _ = finlake(tmp_path, "quarantine", "--limit", "2")
    assert out.splitlines() == [
        "s3://finlake-curated/quarantine/bndes/dt=2026-11-20/r1.rejected.json (1 row)",
        "  s3://finlake-raw/bndes/r1.csv (whole file rejected): HTML",
        "s3://finlake-curated/quarantine/cards/2024-09/invoices.jsonl (3 rows)",
        "  s3://finlake-raw/inbox/cards/f.csv line 3: bad 3",
        "  s3://finlake-raw/inbox/cards/f.csv line 7: bad 7",
        "  ... and 1 more (--limit)",
    ]
    _, out, _ = finlake(tmp_path, "quarantine", "stocks")
    assert out == "nothing in quarantine for stocks\n"


def test_quarantine_reads_whole_file_notes_and_rows_whose_raw_text_holds_line_separators(tmp_path: Path) -> None:
    """A card file no month takes: its copy (whatever its name) is not rows, its .reason.json is. A COTAHIST
    record with a C1 byte, read as latin-1, holds U+0085, which JSON leaves as it is: still one row."""
    ws = Workspace.open(tmp_path)
    unplaced = ws.object_path("finlake-curated", "quarantine/cards/unplaced/faturas.json")
    unplaced.parent.mkdir(parents=True)
    unplaced.write_text("id_cliente,id_fatura\n1,2\n")  # the copy of the raw file, not JSON
    copy = "s3://finlake-curated/quarantine/cards/unplaced/faturas.json"
    reason = {"source": "s3://finlake-raw/inbox/cards/faturas.json", "copy": copy, "reason": "no month"}
    unplaced.with_name("faturas.json.reason.json").write_text(json.dumps(reason))
    stocks = ws.object_path("finlake-curated", "quarantine/stocks/2025-03-12/COTAHIST_D12032025.TXT.jsonl")
    stocks.parent.mkdir(parents=True)
    source = "s3://finlake-raw/inbox/stocks/COTAHIST_D12032025.TXT"
    bad = {"source": source, "line": 5, "reason": "C1", "raw": "AB\x85C"}
    stocks.write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")

    code, out, _ = finlake(tmp_path, "quarantine")
    assert code == 0
    assert out.splitlines() == [
        "s3://finlake-curated/quarantine/cards/unplaced/faturas.json.reason.json (1 row)",
        f"  s3://finlake-raw/inbox/cards/faturas.json (whole file not placed, copied to {copy}): no month",
        "s3://finlake-curated/quarantine/stocks/2025-03-12/COTAHIST_D12032025.TXT.jsonl (1 row)",
        "  s3://finlake-raw/inbox/stocks/COTAHIST_D12032025.TXT line 5: C1",
    ]


def test_a_failed_run_ends_in_one_readable_line_with_the_next_step(tmp_path: Path) -> None:
    invoices = tmp_path / "tb_faturas_202409.csv"
    invoices.write_text(
        "id_cliente,id_fatura,dt_emissao_fatura,dt_vencimento_fatura,valor_fatura\n1,2,2024-09-01,2024-09-10,5.00\n"
    )
    code, out, err = finlake(tmp_path / "ws", "run", "cards", "--month", "2024-09", "--input", str(invoices))

    assert code == 1
    [bang] = [line for line in out.splitlines() if line.lstrip().startswith("!!")]
    assert bang.strip().startswith("!! MissingFile: cards 2024-09: need an invoice file and a payment file")
    assert "{" not in bang and "stackTrace" not in out + err
    failed, hint = err.strip().splitlines()
    assert failed.startswith("FAILED cards-2024-09-") and " at Fetch: MissingFile: cards 2024-09: need an" in failed
    assert hint.startswith("   next: give the month's files with `finlake run cards --month YYYY-MM --input FILE")

    code, out, err = finlake(tmp_path / "ws", "--debug", "run", "cards", "--month", "2024-09", "--input", str(invoices))
    assert '"errorMessage"' in out  # --debug shows the raw payload


def test_bare_local_runs_need_no_network_and_keep_the_bank_mock_apart(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    bank = local_plan(ws, DOMAINS["bank"])
    assert (bank.source, bank.workspace) == ("mock", mock_workspace(ws)) and "MockHttpClient" in bank.note
    api = local_plan(ws, DOMAINS["bank"], source="api")
    assert api.workspace is None and "over the network" in api.note
    exports = local_plan(ws, DOMAINS["bank"], month="2024-09", inputs=[tmp_path])
    assert exports.workspace is None and exports.source is None
    cards = local_plan(ws, DOMAINS["cards"], month="2024-08")
    inbox = ws.object_path("finlake-raw", "inbox/cards/")
    assert sorted(p.name for p in inbox.iterdir()) == ["tb_faturas_202408.csv", "tb_pagamentos_202408.csv"]
    assert "generated samples" in cards.note and cards.inputs == []
    # the demo: every plan reads files or a bundled sample source, and the bank mock goes apart
    for plan in demo_plans(ws):
        assert plan.source != "api"
        if plan.source == "mock":
            assert plan.workspace == mock_workspace(ws)


@pytest.mark.slow
def test_cost_never_prints_nodes_banner() -> None:
    """jsii prints Node's end-of-life banner (as Python byte strings) unless JSII_SILENCE_* are set:
    the CLI sets them itself, so the command is quiet outside `make` too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_")}
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "finlake"), "cost", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "node" not in done.stderr.lower() and "b'" not in done.stderr, done.stderr
    assert json.loads(done.stdout)["region"] == "us-east-1"


@pytest.mark.parametrize(
    ("domain", "error", "cause", "hint"),
    [
        # the real-world inputs' failures (issue 13), as the steps raise them
        ("cards", "UnplacedFile", "junk.csv: in the cards inbox, but the name places it in no month", "accepted name"),
        ("stocks", "FileRejected", "COTAHIST_D12032025.TXT: TOTREG mismatch: trailer says 7", "refused whole"),
        ("stocks", "TruncatedFile", "COTAHIST_A2026.TXT has no trailer", "refused whole"),
        ("bndes", "FileRejected", "r1.csv rejected: not text in any of UTF-8, windows-1252", "refused whole"),
        ("cards", "States.TaskFailed", "Glue job finlake-cards-validate: HeaderMismatch: tb_faturas", "refused whole"),
        ("bndes", "RowAccountingError", "BNDES: 43 rows in, but 37 curated + 4 quarantined", "unaccounted for"),
        ("cards", "States.TaskFailed", "Glue job finlake-cards-validate: ReconciliationError: invoices", "unaccounted"),
        ("stocks", "NotTheFile", "https://bvmf.bmfbovespa.com.br/...ZIP: an HTML page, 3 times", "--input FILE"),
        ("stocks", "IncompleteDownload", "COTAHIST_A2026.ZIP: a ZIP without its central directory", "--input FILE"),
        ("bndes", "SourceUnavailable", "dadosabertos.bndes.gov.br: HTTP 503, 3 times", "run again later"),
        ("bank", "NetworkBlocked", "network blocked", "--source api"),
        ("bank", "NubankLoginRejected", "HTTP 403", "app's exports"),
        ("bndes", "States.Timeout", "", "finlake runs bndes"),
    ],
)
def test_the_next_step_names_what_to_do_for_each_failure_kind(domain: str, error: str, cause: str, hint: str) -> None:
    from finlake.cli import next_step

    assert hint in next_step(domain, f"{domain}-x", error, cause)


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_the_same_input_file_twice_is_refused_before_the_run(tmp_path: Path, domain: str) -> None:
    """`run bank --input X --input X` read X twice and failed at Transform with RowAccountingError
    ("a finlake fault"), an email and a dead letter; the repeated file (also as ./X or through a
    symlink) is now refused at the front door, for every domain."""
    export = tmp_path / "Nubank_2024-08-01.csv"
    export.write_text("date,title,amount\n2024-08-01,x,1.00\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(export)
    for again in (str(export), str(link)):
        code, out, err = finlake(tmp_path / "ws", "run", domain, "--input", str(export), "--input", again)
        assert code == 2, (out, err)
        assert len(err.strip().splitlines()) == 1 and "given twice" in err, err
        assert not list((tmp_path / "ws" / "runs").glob("*.json"))


def test_an_empty_query_or_sql_given_twice_is_a_usage_error(tmp_path: Path) -> None:
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("SELECT 1\n", encoding="utf-8")
    for args in (("query", ""), ("query", " ; "), ("query", "SELECT 1", "--file", str(sql_file))):
        code, out, err = finlake(tmp_path / "ws", *args)
        assert code == 2 and len(err.strip().splitlines()) == 1, (args, out, err)
    assert "not both" in finlake(tmp_path / "ws", "query", "SELECT 1", "--file", str(sql_file))[2]


def test_a_home_that_cannot_be_a_workspace_is_a_usage_error(tmp_path: Path) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("x", encoding="utf-8")
    for home in (a_file, a_file / "below"):
        result = CliRunner().invoke(main, ["--home", str(home), "tables"], prog_name="finlake")
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and "--home" in result.stderr, result.stderr
        assert "Traceback" not in result.output


def test_show_columns_and_partitions_answer_from_the_catalog(bndes_home: Path) -> None:
    code, out, err = finlake(
        bndes_home, "query", "SHOW PARTITIONS finlake_curated.bndes_balance_sheet", "--format", "csv"
    )
    assert code == 0 and not err, err
    lines = out.splitlines()
    assert lines[0] == "partition" and len(lines) == 21 and all(re.fullmatch(r"\w+=[\w-]+", x) for x in lines[1:])
    code, out, _ = finlake(
        bndes_home, "query", "SHOW COLUMNS IN bndes_balance_sheet IN finlake_curated", "--format", "csv"
    )
    assert code == 0 and out.splitlines()[0] == "field" and "value" in out.splitlines()
    code, out, err = finlake(bndes_home, "query", "SHOW CREATE TABLE finlake_curated.bndes_balance_sheet")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "DESCRIBE" in err, err
    code, out, err = finlake(bndes_home, "query", "SHOW FUNCTIONS")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "SHOW" in err, err
