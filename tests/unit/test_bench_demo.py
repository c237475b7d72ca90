"""The demo benchmark's bookkeeping: run labels, jobs attached to their runs, phases that add up, nested calls once."""

from __future__ import annotations

import threading

from finlake.bench.demo import PHASES, labelled, phases, render
from finlake.bench.demo_probe import Clock


def _run(domain: str, started: str, stopped: str) -> dict:
    return {"name": domain, "domain": domain, "status": "SUCCEEDED", "duration_s": 1.0, "states": [],
            "started": started, "stopped": stopped}  # fmt: skip


def test_runs_are_labelled_and_get_the_jobs_that_started_within_them() -> None:
    measured = {
        "runs": [
            _run("stocks", "2026-11-30T00:00:00+00:00", "2026-11-30T00:01:00+00:00"),
            _run("stocks", "2026-11-30T00:01:00.5+00:00", "2026-11-30T00:02:00+00:00"),
            _run("bank", "2026-11-30T00:03:00+00:00", "2026-11-30T00:03:01+00:00"),
            {**_run("bank", "2026-11-30T00:04:00+00:00", "2026-11-30T00:04:01+00:00"), "workspace": "mock-bank"},
        ],
        "jobs": [
            {"job": "finlake-stocks-transform", "started": 1795996810.0, "total_s": 50.0},  # 00:00:10
            {"job": "finlake-stocks-transform", "started": 1795996870.0, "total_s": 20.0},  # 00:01:10
        ],
    }
    runs = labelled(measured)
    # a side workspace's run is named by its folder, so before and after match whatever order they ran in
    assert [r["label"] for r in runs] == ["stocks backfill", "stocks daily", "bank", "bank (mock-bank)"]
    assert [len(r["jobs"]) for r in runs] == [1, 1, 0, 0]
    assert runs[1]["jobs"][0]["total_s"] == 20.0


def test_phases_add_up_to_the_job_total() -> None:
    job = {"total_s": 30.0, "spark_s": 5.0, "script_s": 20.0, "read_s": 2.0, "compute_s": 10.0, "write_s": 6.0}
    split = phases(job)
    assert set(split) == set(PHASES)
    assert split["sync"] == 5.0 and split["driver"] == 2.0
    assert abs(sum(split.values()) - job["total_s"]) < 1e-9


def test_nested_timed_calls_count_once_for_the_outermost() -> None:
    ticks = iter(range(100))
    clock = Clock(now=lambda: float(next(ticks)))  # each reading of the clock is one second later
    inner = clock.timed("compute", lambda: None)
    outer = clock.timed("write", lambda: inner())

    clock.active = True
    outer()  # reads 0 and 1: write 1 s; the nested compute is not timed
    inner()  # reads 2 and 3: compute 1 s
    clock.active = False
    inner()  # outside a script: not timed
    assert clock.seconds == {"write": 1.0, "compute": 1.0}


def test_calls_on_several_threads_charge_each_instant_to_one_category() -> None:
    now = [0.0]
    clock = Clock(now=lambda: now[0])
    entered, release = threading.Event(), threading.Event()

    def computing() -> None:
        entered.set()
        release.wait()

    def writing() -> None:
        now[0] = 2.0

    compute, write = clock.timed("compute", computing), clock.timed("write", writing)
    clock.active = True
    thread = threading.Thread(target=compute)
    thread.start()  # compute from 0
    entered.wait()
    now[0] = 1.0
    write()  # write from 1 to 2, while compute goes on: that second is the write's
    now[0] = 3.0
    release.set()
    thread.join()  # compute ends at 3
    assert clock.seconds == {"compute": 2.0, "write": 1.0}


def test_the_section_names_each_goal_and_whether_it_is_met() -> None:
    def sample(daily_s: float) -> dict:
        runs = [
            {**_run("stocks", "2026-11-30T00:00:00+00:00", "2026-11-30T00:01:00+00:00"), "duration_s": 60.0},
            {**_run("stocks", "2026-11-30T00:02:00+00:00", "2026-11-30T00:03:00+00:00"), "duration_s": daily_s},
        ]
        runs[1]["states"] = [["Transform", daily_s - 1.0], ["Catalog", 1.0]]
        job = {"job": "finlake-stocks-transform", "started": 1795996930.0, "total_s": daily_s - 1.0, "spark_s": 0.0,
               "script_s": daily_s - 3.0, "compute_s": daily_s - 5.0}  # fmt: skip
        return {"wall_s": 100.0 + daily_s, "runs": runs, "jobs": [job]}

    lines = render({"before": [sample(48.0)], "after": [sample(12.0)]}, 1, 0.5)
    text = "\n".join(lines)
    assert "| stocks daily run (SUCCEEDED) | 48.0 | 12.0 | 0.25x | < 15 s: met |" in text
    assert "| whole demo (process wall time) | 148.0 | 112.0 | 0.76x | < 120 s: met |" in text
    assert "| stocks daily | Transform 47.0 -> 11.0; Catalog 1.0 -> 1.0 |" in text
    assert "| stocks daily | finlake-stocks-transform | after | 11.0 | 0.0 | 2.0 | 0.0 | 7.0 | 0.0 | 2.0 |" in text
