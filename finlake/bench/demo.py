"""Benchmark of `make demo` before and after issue 18, with where the time goes per step.

`python -m finlake.bench.demo [--repeats N]` prints the section; `make bench` puts it in BENCHMARKS.md.

Both checkouts run ``finlake run --all`` (what `make demo` runs after its ``.venv`` check) on a fresh workspace, in
a process of their own, with this checkout's ``.venv``: ``before`` is commit `BEFORE` (main before issue 18's
speed work) checked out in a temporary folder with ``git worktree``, ``after`` this checkout as it is. The probe
(`finlake.bench.demo_probe`) splits each Glue step into Spark's start, the local runner's sync between moto and the
workspace folder, and the script's reads, computing actions, writes and driver work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the checkout
BEFORE = "ebc2889"  # main before issue 18's speed work
GOALS = {"demo": 120.0, "stocks daily": 15.0, "cards": 40.0}  # seconds, issue 18
PHASES = ("spark", "sync", "read", "compute", "write", "driver")


@contextmanager
def checkout(commit: str) -> Iterator[Path]:
    """``commit`` checked out (detached) in a temporary folder with ``git worktree``; removed after.

    Raises RuntimeError when the clone does not hold ``commit`` (a shallow clone: ``git fetch --unshallow``).
    """
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
    if found.returncode:
        raise RuntimeError(f"commit {commit} (this benchmark's before) is not in this clone: git fetch --unshallow")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=True)  # folders removed by hand
    with tempfile.TemporaryDirectory(prefix="finlake-bench-") as tmp:
        path = Path(tmp) / commit
        add = ["git", "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(path), commit]
        subprocess.run(add, check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)


def probe(tree: Path) -> dict[str, Any]:
    """Run the demo of the checkout ``tree`` on a fresh workspace; what `demo_probe` measured, ``wall_s`` the process's.

    Raises RuntimeError when the demo fails.
    """
    with tempfile.TemporaryDirectory(prefix="finlake-bench-demo-") as tmp:
        script = Path(tmp) / "demo_probe.py"
        shutil.copy(Path(__file__).with_name("demo_probe.py"), script)
        out, home = Path(tmp) / "out.json", Path(tmp) / "home"
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("FINLAKE_HOME", None)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(script), str(home), str(out)], cwd=tree, env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
        if done.returncode or not out.exists():
            raise RuntimeError(
                f"the demo of {tree} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        measured: dict[str, Any] = json.loads(out.read_text())
    measured["wall_s"] = wall
    return measured


def _stamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def labelled(measured: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs with a label and their Glue jobs attached.

    Labels: ``stocks backfill``, ``stocks daily``, ``<domain> #2``..., and a run of a side workspace by its
    folder (``bank (mock-bank)``), whatever the order the demo runs them in.
    """
    runs = measured["runs"]

    def name(run: dict[str, Any]) -> str:
        workspace = run.get("workspace", ".")
        return run["domain"] if workspace == "." else f"{run['domain']} ({Path(workspace).name})"

    per_name = Counter(name(run) for run in runs)
    seen: Counter[str] = Counter()
    for run in runs:
        each = name(run)
        seen[each] += 1
        if each == "stocks" and per_name[each] == 2:
            run["label"] = "stocks backfill" if seen[each] == 1 else "stocks daily"
        else:
            run["label"] = each if per_name[each] == 1 else f"{each} #{seen[each]}"
        first, last = _stamp(run["started"]), _stamp(run["stopped"])
        run["jobs"] = [job for job in measured["jobs"] if first <= job["started"] <= last]
    return runs


def phases(job: dict[str, Any]) -> dict[str, float]:
    """A Glue job's seconds by phase (`PHASES`): sync is the runner's time outside Spark's start and the script."""
    script = job.get("script_s", 0.0)
    inside = sum(job.get(f"{k}_s", 0.0) for k in ("read", "compute", "write"))
    return {
        "spark": job.get("spark_s", 0.0),
        "sync": job["total_s"] - job.get("spark_s", 0.0) - script,
        "read": job.get("read_s", 0.0),
        "compute": job.get("compute_s", 0.0),
        "write": job.get("write_s", 0.0),
        "driver": script - inside,
    }


def _median_runs(samples: list[dict[str, Any]]) -> tuple[float, dict[str, dict[str, Any]]]:
    """The median demo wall time, and per run label the median seconds of the run, its states and its jobs' phases."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for sample in samples:
        for run in labelled(sample):
            by_label.setdefault(run["label"], []).append(run)
    table = {}
    for label, runs in by_label.items():
        states: dict[str, list[float]] = {}
        for run in runs:
            for name, seconds in run["states"]:
                states.setdefault(name, []).append(seconds)
        jobs = []
        for index in range(len(runs[0]["jobs"])):
            each = [phases(run["jobs"][index]) for run in runs if len(run["jobs"]) > index]
            jobs.append({k: statistics.median(p[k] for p in each) for k in PHASES})
        table[label] = {
            "seconds": statistics.median(r["duration_s"] for r in runs),
            "states": {name: statistics.median(v) for name, v in states.items()},
            "jobs": jobs,
            "job_names": [job["job"] for job in runs[0]["jobs"]],
            "status": runs[0]["status"],
        }
    return statistics.median(s["wall_s"] for s in samples), table


def bench_demo(repeats: int = 1) -> list[str]:
    """The BENCHMARKS.md section: the demo before (`BEFORE`) and after, run by run, step by step, phase by phase."""
    samples: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    load = os.getloadavg()[0]
    with checkout(BEFORE) as before:
        for _ in range(repeats):  # interleaved, so both meet the same machine
            samples["before"].append(probe(before))
            samples["after"].append(probe(ROOT))
    return render(samples, repeats, load)


def render(samples: dict[str, list[dict[str, Any]]], repeats: int, load: float) -> list[str]:
    """The section's Markdown lines from the probes' measures (``samples["before"]``, ``["after"]``)."""
    (wall_b, runs_b), (wall_a, runs_a) = _median_runs(samples["before"]), _median_runs(samples["after"])
    lines = [
        "## `make demo`, before and after issue 18, and where the time goes",
        "",
        "Input: the demo's generated samples (bndes: the CKAN cassette; stocks: two years of COTAHIST with",
        "60,000 spot records a year, then one daily file; cards: a month of invoices and payments; bank: the",
        "app exports and pynubank's mock). Command: `python -m finlake.bench.demo` (in `make bench`). Each side",
        "runs `finlake run --all` on a fresh workspace in a process of its own with this `.venv`; before is commit",
        f"`{BEFORE}` (main before the speed work) checked out with `git worktree`, after is this checkout; {repeats}",
        f"run(s) each, interleaved, medians. Load average (1 min) when the section began: {load:.1f}.",
        "",
        "| what | before (s) | after (s) | after / before | goal |",
        "|---|---:|---:|---:|---|",
        f"| whole demo (process wall time) | {wall_b:.1f} | {wall_a:.1f} | {wall_a / wall_b:.2f}x |"
        f" < {GOALS['demo']:.0f} s: {'met' if wall_a < GOALS['demo'] else 'not met'} |",
    ]
    for label, after in runs_a.items():
        before_s = runs_b.get(label, {}).get("seconds")
        goal = GOALS.get(label)
        goal_text = f"< {goal:.0f} s: {'met' if after['seconds'] < goal else 'not met'}" if goal else ""
        ratio = f"{after['seconds'] / before_s:.2f}x" if before_s else "-"
        lines.append(
            f"| {label} run ({after['status']}) | {before_s if before_s is not None else float('nan'):.1f} |"
            f" {after['seconds']:.1f} | {ratio} | {goal_text} |"
        )
    lines += [
        "",
        "Each run's steps (seconds, before -> after; steps under 0.5 s both times left out):",
        "",
        "| run | steps |",
        "|---|---|",
    ]
    for label, after in runs_a.items():
        before_states = runs_b.get(label, {}).get("states", {})
        steps = [
            f"{name} {before_states.get(name, 0.0):.1f} -> {seconds:.1f}"
            for name, seconds in after["states"].items()
            if max(seconds, before_states.get(name, 0.0)) >= 0.5
        ]
        lines.append(f"| {label} | {'; '.join(steps)} |")
    lines += [
        "",
        "Each Glue step by phase (seconds): Spark's start (the first job of the process starts the JVM), the local",
        "runner's sync (copying objects between moto and the workspace folder that Spark reads as `s3://`), then",
        "the script's reader calls (listing, schema), actions (count, collect... computing what they need), writer",
        "calls (which also compute what was not cached) and driver work (building plans, file-system calls).",
        "",
        "| run | job | side | total | " + " | ".join(PHASES) + " |",
        "|---|---|---|---:|" + "---:|" * len(PHASES),
    ]
    for label, after in runs_a.items():
        earlier = runs_b.get(label, {"jobs": [], "job_names": []})
        for index, name in enumerate(after["job_names"]):
            for side, jobs in (("before", earlier["jobs"]), ("after", after["jobs"])):
                if index < len(jobs):
                    p = jobs[index]
                    cells = " | ".join(f"{p[k]:.1f}" for k in PHASES)
                    lines.append(f"| {label} | {name} | {side} | {sum(p.values()):.1f} | {cells} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Print the section (``--repeats N``: runs per side, interleaved)."""
    parser = argparse.ArgumentParser(prog="python -m finlake.bench.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    print("\n".join(bench_demo(parser.parse_args(argv).repeats)))


if __name__ == "__main__":
    main()
