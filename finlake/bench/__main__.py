"""`make bench`: measure, with a baseline from the same run, and rewrite BENCHMARKS.md.

Each benchmark reports the median of several runs, the input size and the command. Baselines
are what a reasonable engineer would write instead (pandas for a CSV), measured on the same
input in the same process, so the ratio is meaningful on any machine.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

from finlake.bench.bndes import REPEATS
from finlake.bench.bndes import report as bench_bndes
from finlake.bench.cards import bench_cards
from finlake.bench.cotahist import bench_cotahist
from finlake.bench.demo import bench_demo
from finlake.bench.ops import report as bench_ops
from finlake.bench.stocks import bench_stocks_transform

ROOT = Path(__file__).resolve().parents[2]  # the checkout


def machine() -> str:
    """The measuring machine as BENCHMARKS.md names it: CPU model, core count, Python version and OS."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> None:
    """Run every section in order and rewrite BENCHMARKS.md (a quarter of an hour on 2 idle cores)."""
    argparse.ArgumentParser(
        prog="python -m finlake.bench",
        description="Run every benchmark section and rewrite BENCHMARKS.md (what `make bench` runs). One "
        "section alone: python -m finlake.bench.bndes | .cotahist [records] | .stocks [records] | "
        ".cards [--sizes N,M] | .ops (cold imports) | .demo [--repeats N] (make demo before/after issue 18).",
    ).parse_args(argv)
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m finlake.bench`); every figure below comes from the same run,",
        f"median of {REPEATS} repetitions unless stated. Machine: {machine()}.",
        "",
        *bench_bndes(),
    ]
    lines += [
        "",
        *bench_demo(),
        "",
        *bench_cotahist(),
        "",
        *bench_stocks_transform(),
        "",
        *bench_cards(),
        "",
        *bench_ops(),
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
