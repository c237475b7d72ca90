"""`finlake redrive` without --aws: the workspace keeps the dead-letter queue of local runs between
sessions, and `--apply` reruns them on the embedded AWS through the real state machines, with the
deployed rules (finlake/ops/redrive.py): rerun named `<original>-r<N>`, message deleted only after
the rerun SUCCEEDED. BNDES stands in (seconds per run): its Fetch reads the workspace's cassette,
broken by a maintenance page and then restored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from finlake.cli import main
from finlake.local import redrive as local_dlq
from finlake.local.workspace import Workspace
from finlake.ops.executions import Request
from finlake.samples.bndes import write_bndes_cassette
from stacks.specs import BNDES
from tests.bndes_outage import break_the_source

pytestmark = pytest.mark.slow

DAY = "2026-11-23"


def finlake(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(main, ["--home", str(ws.root), *args], catch_exceptions=False)


def test_a_failed_local_run_is_kept_listed_rerun_and_deleted_only_after_success(tmp_path: Path):
    ws = Workspace.open(tmp_path / "ws")
    break_the_source(ws)
    name = Request(BNDES, date=DAY).name()

    failed = finlake(ws, "run", "bndes", "--date", DAY)

    assert failed.exit_code == 1 and "NotTheFile" in failed.output
    [kept] = json.loads((ws.root / "dead-letters.json").read_text())  # outlives the session
    assert kept["body"]["execution_name"] == name and kept["body"]["failed_state"] == "Fetch"
    assert kept["body"]["input"]["date"] == DAY  # the original input, as the definition sends it

    listing = finlake(ws, "redrive")

    assert listing.exit_code == 0, listing.output
    assert f"{name}  bndes  failed at Fetch" in listing.output and "NotTheFile" in listing.output
    assert "1 failed runs: `finlake redrive --apply` reruns them" in listing.output

    still = finlake(ws, "redrive", "--apply")  # not fixed yet: the rerun fails, both messages kept

    assert still.exit_code == 1
    assert "restart: local runs restart from the stored input" in still.output
    assert f"FAILED {name}-r1: FAILED: NotTheFile" in still.output and "message kept" in still.output
    [run] = local_dlq.failed_runs(ws)
    assert sorted(letter.execution_name for letter in run.letters) == [name, f"{name}-r1"]
    assert run.first.sent < run.latest.sent  # the first failure keeps the time it was sent
    assert "(2 failed attempts)" in finlake(ws, "redrive").output

    write_bndes_cassette(ws.samples_dir / "bndes-ckan")  # the source is back
    fixed = finlake(ws, "redrive", "--apply", "--domain", "bndes")

    assert fixed.exit_code == 0, fixed.output
    assert f"OK {name}-r2: SUCCEEDED; message deleted" in fixed.output
    assert "-> Transform" in fixed.output and "<- Catalog" in fixed.output
    assert ws.dead_letters() == []
    assert finlake(ws, "redrive").output.startswith("the dead-letter queue is empty")
    statuses = {r["name"]: r["status"] for r in ws.runs("bndes")}
    assert statuses == {name: "FAILED", f"{name}-r1": "FAILED", f"{name}-r2": "SUCCEEDED"}
    rows = finlake(ws, "query", "--format", "csv", "SELECT count(*) AS n FROM finlake_curated.bndes_balance_sheet")
    assert int(rows.output.splitlines()[1]) > 0

    backfill = finlake(ws, "backfill", "bndes", "--from", DAY, "--to", DAY)  # -r2 did the day: done

    assert backfill.exit_code == 0, backfill.output
    assert f"{DAY}: skipped, {name}-r2 already SUCCEEDED" in backfill.output
    assert len(ws.runs("bndes")) == 3


def test_a_partition_run_again_locally_takes_the_next_free_name(tmp_path: Path):
    """Without a redrive, a backfill (or a second `finlake run`) of a day whose run failed runs it
    under ``<name>-r1``, as AWS would: every record keeps its own name, and so its own link."""
    ws = Workspace.open(tmp_path / "ws")
    break_the_source(ws)
    name = Request(BNDES, date=DAY).name()
    assert finlake(ws, "run", "bndes", "--date", DAY).exit_code == 1
    write_bndes_cassette(ws.samples_dir / "bndes-ckan")

    backfill = finlake(ws, "backfill", "bndes", "--from", DAY, "--to", DAY)
    again = finlake(ws, "backfill", "bndes", "--from", DAY, "--to", DAY)

    assert backfill.exit_code == 0, backfill.output
    assert f"execution {name}-r1" in backfill.output
    assert f"{DAY}: skipped, {name}-r1 already SUCCEEDED" in again.output
    assert sorted((r["name"], r["status"]) for r in ws.runs("bndes")) == [
        (name, "FAILED"),
        (f"{name}-r1", "SUCCEEDED"),
    ]
    listing = finlake(ws, "runs", "bndes").output
    assert len([line for line in listing.splitlines() if f"{name} " in line or line.endswith(name)]) == 1


def test_apply_for_another_domain_leaves_the_message(tmp_path: Path):
    ws = Workspace.open(tmp_path / "ws")
    break_the_source(ws)
    assert finlake(ws, "run", "bndes", "--date", DAY).exit_code == 1

    result = finlake(ws, "redrive", "--apply", "--domain", "cards")

    assert result.exit_code == 0
    assert "the dead-letter queue is empty for cards" in result.output
    assert len(ws.dead_letters()) == 1
    assert len(local_dlq.failed_runs(ws, "bndes")) == 1
