"""Benchmarks of what an operator pays: handler cold starts and whole local runs of every domain.

- Cold start: each Lambda handler module imported in a fresh Python process (median of
  `IMPORT_REPEATS`), with the process's peak resident memory after the import, against the
  function's configured memory. Baseline: a process that imports only boto3, which every handler
  pays anyway.
- End to end: each domain's workflow on the embedded AWS on a fresh workspace (median of
  `RUN_REPEATS` after a warm-up), split, from the same runs' state histories, into the time inside
  the steps (the work a deployed run also does) and the rest (moto, the local runtime, setting up
  the workspace), so the figure says what the embedded AWS itself costs.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from finlake.local.runner import RunPlan, run_plans
from finlake.local.workspace import Workspace
from stacks.specs import DOMAINS

IMPORT_REPEATS = 5
RUN_REPEATS = 3
# VmHWM (Linux), not ru_maxrss: the latter keeps the high-water mark of the parent image across
# fork+exec, so every child would report the benchmark process's own size.
_PROBE = """
import sys, time
start = time.perf_counter()
__import__(sys.argv[1])
elapsed = time.perf_counter() - start
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(elapsed, int(hwm.split()[1]) / 1024)
"""


def _import_once(module: str) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _PROBE, module], capture_output=True, text=True, check=True).stdout
    seconds, peak_mb = out.split()
    return float(seconds), float(peak_mb)


def cold_imports() -> list[dict[str, Any]]:
    """[{module, memory_mb (configured), import_s, peak_mb}] for every handler module, and boto3."""
    modules = {"boto3": 0}
    for spec in DOMAINS.values():
        module = spec.lambdas[0].handler.rsplit(".", 1)[0]
        modules[module] = max(step.memory_mb for step in spec.lambdas)
    rows = []
    for module, memory in modules.items():
        samples = [_import_once(module) for _ in range(IMPORT_REPEATS)]
        rows.append(
            {
                "module": module,
                "memory_mb": memory,
                "import_s": statistics.median(s[0] for s in samples),
                "peak_mb": max(s[1] for s in samples),
            }
        )
    return rows


def _median_run(make_plans: Callable[[Workspace], list[RunPlan]], repeats: int) -> tuple[float, float, dict[str, Any]]:
    """(median whole time, median time inside the states, the last output)."""
    times, in_states, output = [], [], {}
    for index in range(repeats + 1):  # the first is a warm-up (imports, Spark's JVM)
        with tempfile.TemporaryDirectory() as home:
            ws = Workspace.open(Path(home))
            plans = make_plans(ws)
            start = time.perf_counter()
            results = run_plans(ws, plans, echo=lambda *a, **k: None)
            elapsed = time.perf_counter() - start
        failed = [r for r in results if not r.succeeded]
        if failed:
            raise RuntimeError(f"benchmark run failed: {failed[0].name}: {failed[0].cause}")
        if index:
            times.append(elapsed)
            in_states.append(sum(s.get("duration_s", 0) for r in results for s in r.states))
        output = results[-1].output or {}
    return statistics.median(times), statistics.median(in_states), output


def end_to_end(repeats: int = RUN_REPEATS) -> list[dict[str, Any]]:
    """Each domain's local run on a fresh workspace, small but complete inputs."""
    from finlake.samples.registry import adapters

    rows = []
    for each in adapters():
        domain, what = each.domain, each.bench_input
        seconds, in_states, output = _median_run(each.bench_plans, repeats)
        rows.append(
            {
                "domain": domain,
                "input": what,
                "seconds": seconds,
                "in_states": in_states,
                "rows_in": output["counts"]["rows_in"],
            }
        )
    return rows


def report() -> list[str]:
    """The BENCHMARKS.md section on handler cold imports and whole local runs, as Markdown lines.

    Imports each handler module in fresh processes (against boto3 alone) and runs every domain on the embedded AWS.
    """
    imports = cold_imports()
    boto3_row = imports[0]
    lines = [
        "## Lambda handlers: cold import and memory",
        "",
        f"Each handler module imported in a fresh `python` process, median of {IMPORT_REPEATS}; peak RSS is the",
        "process's maximum resident memory after the import (`VmHWM`), the floor of every invocation.",
        "Baseline: a process importing only boto3.",
        "",
        "| module | import (s) | vs boto3 alone | peak RSS (MB) | configured memory (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in imports:
        ratio = row["import_s"] / boto3_row["import_s"]
        memory = str(row["memory_mb"]) if row["memory_mb"] else "-"
        lines.append(f"| `{row['module']}` | {row['import_s']:.3f} | {ratio:.1f}x | {row['peak_mb']:.0f} | {memory} |")
    runs = end_to_end()
    lines += [
        "",
        "## End to end, local: every domain's workflow on the embedded AWS",
        "",
        f"A fresh workspace per run, median of {RUN_REPEATS} after a warm-up run. Includes creating the",
        "resources on moto, the state machine, every handler, the Glue scripts on local Spark (stocks,",
        "cards) and the workspace writes.",
        "",
        "| domain | input | rows in | whole run (s) | inside the states (s) | local runtime around them (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['domain']} | {r['input']} | {r['rows_in']:,} | {r['seconds']:.1f} | {r['in_states']:.1f} "
        f"| {r['seconds'] - r['in_states']:.1f} |"
        for r in runs
    ]
    lines += [
        "",
        "These measure the local runtime for a developer, not AWS: on AWS, Glue adds its start-up",
        "(tens of seconds) and Lambda its cold starts (the import times above).",
    ]
    return lines


if __name__ == "__main__":
    print(json.dumps({"imports": cold_imports()}, indent=1))
