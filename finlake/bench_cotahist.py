"""Benchmark of the B3 COTAHIST parser against ``pandas.read_fwf`` (part of ``make bench``).

Both read the same generated yearly file (``finlake.samples.b3.cotahist_yearly``) in the same
process; the figure is the median of 3 runs. The baseline is only ``read_fwf`` with every type-01
column as a string: it does none of our work (no numbers, no per-share prices, no validation), so
the ratio understates the real gap. Peak memory of ``parse_cotahist`` is the ``tracemalloc`` peak
of one extra run (the input bytes are allocated before tracing starts) plus what Arrow's memory
pool still holds for the result (the trimmed strings), which ``tracemalloc`` does not see.

Run alone with ``python -m finlake.bench_cotahist [records]``.
"""

from __future__ import annotations

import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from finlake.benchkit import median_seconds
from finlake.samples.b3 import cotahist_yearly
from functions.stocks.cotahist import FIELDS, parse_cotahist

REPEATS = 3
YEAR = 2024
SPEED_GOAL = 10.0
MEMORY_GOAL = 3.0


def _median_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    return median_seconds(fn, repeats)


def _peak_bytes(fn: Callable[[], object]) -> tuple[int, int]:
    """(tracemalloc peak, Arrow pool bytes still held by the result) of one call."""
    arrow_before = pa.total_allocated_bytes()
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    arrow = pa.total_allocated_bytes() - arrow_before
    del result
    return peak, arrow


def bench_cotahist(records_target: int | None = None) -> list[str]:
    """Measure and return the Markdown section (see the module doc)."""
    content = cotahist_yearly(YEAR, records_target=records_target)
    name = f"COTAHIST_A{YEAR}.TXT"
    colspecs = [(first - 1, last) for first, last in FIELDS.values()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        parsed = parse_cotahist(content, file_name=name)
        ours = _median_seconds(lambda: parse_cotahist(path.read_bytes(), file_name=name))
        baseline = _median_seconds(
            lambda: pd.read_fwf(path, colspecs=colspecs, encoding="latin-1", header=None, dtype=str)
        )
        data = path.read_bytes()
        traced, arrow = _peak_bytes(lambda: parse_cotahist(data, file_name=name))
    size = len(content)
    mb = size / 1e6
    ratio = baseline / ours
    peak = traced + arrow
    memory_ratio = peak / size
    speed_ok = ratio >= SPEED_GOAL
    memory_ok = memory_ratio <= MEMORY_GOAL
    verdict = (
        f"Both goals are met (at least {SPEED_GOAL:.0f}x faster, peak under {MEMORY_GOAL:.0f}x the file)."
        if speed_ok and memory_ok
        else "GOAL NOT MET: "
        + "; ".join(
            what
            for what, missed in (
                (f"speed {ratio:.1f}x is below the {SPEED_GOAL:.0f}x goal", not speed_ok),
                (f"peak memory {memory_ratio:.2f}x the file is above the {MEMORY_GOAL:.0f}x goal", not memory_ok),
            )
            if missed
        )
        + "."
    )
    return [
        "## B3 COTAHIST parser (`functions.stocks.cotahist.parse_cotahist`)",
        "",
        f"Input: a generated yearly file `{name}` ({parsed.records_in:,} type-01 records, {mb:,.1f} MB, CRLF), "
        "written to a temporary file. Ours reads the bytes and returns the typed Arrow table (exact "
        "decimals per share, dates, validation and quarantine); the baseline is only "
        '`pandas.read_fwf(path, colspecs=<26 fields>, encoding="latin-1", header=None, dtype=str)`. '
        f"Median of {REPEATS} runs each, same process; peak memory is the `tracemalloc` peak of one "
        "`parse_cotahist` call, plus the Arrow pool memory the result holds. Command: `make bench`.",
        "",
        "| what | seconds | MB/s |",
        "|---|---:|---:|",
        f"| ours: `parse_cotahist` | {ours:.3f} | {mb / ours:,.1f} |",
        f"| baseline: `pandas.read_fwf` | {baseline:.3f} | {mb / baseline:,.1f} |",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| speed ratio (baseline / ours) | {ratio:.1f}x |",
        f"| `tracemalloc` peak of `parse_cotahist` (NumPy and Python) | {traced / 1e6:,.1f} MB |",
        f"| plus Arrow pool memory held by the result (not seen by `tracemalloc`) | {arrow / 1e6:,.1f} MB |",
        f"| peak memory, conservative sum | {peak / 1e6:,.1f} MB |",
        f"| file size | {mb:,.1f} MB |",
        f"| peak / file size | {memory_ratio:.2f}x |",
        "",
        verdict,
    ]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    target = int(args[0]) if args else None
    print("\n".join(bench_cotahist(target)))


if __name__ == "__main__":
    main()
