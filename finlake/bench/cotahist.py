r"""Benchmark of the B3 COTAHIST parser against the libraries a user would pick instead (``make bench``).

Every candidate reads the same generated yearly file (``finlake.samples.b3.cotahist_yearly``,
written to a temporary file) in the same run:

* ``scan``: the floor, ``path.read_bytes().count(b"\n")`` (read the file, count its lines);
* ``finlake``: ``parse_cotahist(path.read_bytes(), ...)``;
* ``b3cotahist`` 0.1.9 (polars engine): ``read_bytes`` (polars, then ``to_pandas``, its public
  API) and its polars stage alone (``_read_bytes``, the library's best case);
* ``b3fileparser`` 0.2.1, polars engine: ``B3Parser.create_parser("polars").read_b3_file(bytes)``;
* ``pandas.read_fwf`` with the 26 fields as strings.

Time: median of :data:`REPEATS` calls each in this process, each call starting from the path.
Memory: one call of each in a fresh process (``python -m finlake.bench.cotahist --peak NAME PATH``)
given the file's bytes already in memory (every candidate has a bytes entry point: the Lambda
gets the object from S3 as bytes); the figure is the peak resident set (``VmHWM``, reset through
``/proc/self/clear_refs`` just before the call) minus the resident set before it, so it counts
what NumPy, Arrow, polars' Rust allocator and Python allocate alike, and excludes the input.

Run alone with ``python -m finlake.bench.cotahist [records]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from finlake.bench.kit import median_seconds
from finlake.samples.b3 import cotahist_yearly
from functions.stocks.cotahist import FIELDS, parse_cotahist

REPEATS = 3
YEAR = 2024
SPEED_GOAL = 3.0  # at least this many times faster than the fastest library
MEMORY_GOAL = 2.0  # peak memory of one parse under this many times the file
# A past measurement, not this run's: the same command on the parser before issue 18 (a transpose
# of every 4k-row chunk and a digit-by-digit Horner loop), on the same 2-core machine under load.
BEFORE = (
    "Before issue 18 (parent commit ebe7578, same command, machine under load): finlake 1.714 s "
    "against 3.749 s for the fastest library (`b3cotahist._read_bytes`), 2.2x; peak 1.50x the file; "
    "the scan 1.053 s. A profile put 40% of the parse in transposing each chunk and 15% in the "
    "digit-by-digit loop, which reading eight digits at a time replaced."
)


@dataclass(frozen=True)
class Candidate:
    """One way to parse a COTAHIST file: ``parse`` takes the file's bytes and returns the rows it produced."""

    name: str
    does: str  # what the result holds and what is checked, for the table
    parse: Callable[[bytes], int]  # bytes of the file -> rows produced
    library: bool = True


def _read_fwf(data: bytes) -> int:
    colspecs = [(first - 1, last) for first, last in FIELDS.values()]
    frame = pd.read_fwf(io.BytesIO(data), colspecs=colspecs, encoding="latin-1", header=None, dtype=str)
    return len(frame)


def _b3cotahist(data: bytes) -> int:
    import b3cotahist

    return len(b3cotahist.read_bytes(io.BytesIO(data)))


def _b3cotahist_polars(data: bytes) -> int:
    import b3cotahist

    return len(b3cotahist._read_bytes(io.BytesIO(data)))


def _b3fileparser(data: bytes) -> int:
    from b3fileparser.b3parser import B3Parser

    return len(B3Parser.create_parser("polars").read_b3_file(data, file_type="bytes"))


def _finlake(data: bytes) -> int:
    parsed = parse_cotahist(data, file_name="COTAHIST.TXT")
    return parsed.table.num_rows + len(parsed.quarantined)


CANDIDATES = (
    Candidate(
        "scan (floor): read the bytes, count LF", "nothing: the lines of the file", lambda d: d.count(b"\n"), False
    ),
    Candidate(
        "finlake `parse_cotahist`",
        "exact decimal prices per share (FATCOT applied), dates, every field checked, bad rows "
        "quarantined with a reason, header and TOTREG checked",
        _finlake,
        False,
    ),
    Candidate(
        "`b3cotahist.read_bytes` (polars, then pandas)",
        "float64 prices per FATCOT (not per share), rounded to 4 places; dates; codes mapped to "
        "names row by row in Python; no field check; header and trailer dropped by position, TOTREG unread",
        _b3cotahist,
    ),
    Candidate(
        "`b3cotahist._read_bytes` (its polars stage only)", "the same, as a polars DataFrame", _b3cotahist_polars
    ),
    Candidate(
        '`b3fileparser` `B3Parser.create_parser("polars")`',
        "float32 prices per FATCOT (7 significant digits); dates; codes mapped to names row by row "
        "in Python; no field check; header and trailer dropped by position, TOTREG unread",
        _b3fileparser,
    ),
    Candidate(
        "`pandas.read_fwf` (26 fields as strings)",
        "strings only; header and trailer come out as rows",
        _read_fwf,
    ),
)


def _resident_kb() -> tuple[int, int]:
    status = Path("/proc/self/status").read_text()
    found = dict(re.findall(r"(VmRSS|VmHWM):\s+(\d+) kB", status))
    return int(found["VmRSS"]), int(found["VmHWM"])


def peak_of_one_call(name: str, path: Path) -> dict[str, int]:
    """In this process: bytes of ``path`` loaded, then the peak resident growth of one call (bytes)."""
    candidate = next(c for c in CANDIDATES if c.name == name)
    data = path.read_bytes()
    _import_library(candidate)
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
    before, _ = _resident_kb()
    rows = candidate.parse(data)
    _, peak = _resident_kb()
    return {"rows": rows, "peak_bytes": (peak - before) * 1024}


def _import_library(candidate: Candidate) -> None:
    """Import the candidate's modules before the measure, so import memory is not counted."""
    if candidate.parse in (_b3cotahist, _b3cotahist_polars):
        import b3cotahist  # noqa: F401
    elif candidate.parse is _b3fileparser:
        import b3fileparser.b3parser  # noqa: F401


def _peak_in_child(name: str, path: Path) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-m", "finlake.bench.cotahist", "--peak", name, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@dataclass(frozen=True)
class Measured:
    """One candidate's measurement: rows produced, wall time (s) and peak memory (bytes)."""

    candidate: Candidate
    rows: int
    seconds: float
    peak_bytes: int


def _measure(candidate: Candidate, path: Path) -> Measured:
    rows = candidate.parse(path.read_bytes())  # also the warm-up call
    seconds = median_seconds(lambda: candidate.parse(path.read_bytes()), REPEATS)
    return Measured(candidate, rows, seconds, _peak_in_child(candidate.name, path)["peak_bytes"])


def _verdict(ours: Measured, fastest: Measured, size: int) -> str:
    ratio = fastest.seconds / ours.seconds
    memory_ratio = ours.peak_bytes / size
    missed = [
        what
        for what, miss in (
            (f"speed {ratio:.1f}x the fastest library is below the {SPEED_GOAL:.0f}x goal", ratio < SPEED_GOAL),
            (
                f"peak memory {memory_ratio:.2f}x the file is not under the {MEMORY_GOAL:.0f}x goal",
                memory_ratio >= MEMORY_GOAL,
            ),
        )
        if miss
    ]
    if missed:
        return "GOAL NOT MET: " + "; ".join(missed) + "."
    return (
        f"Both goals are met: finlake is {ratio:.1f}x faster than the fastest library ({fastest.candidate.name}; "
        f"goal {SPEED_GOAL:.0f}x) with a peak of {memory_ratio:.2f}x the file (goal under {MEMORY_GOAL:.0f}x)."
    )


def bench_cotahist(records_target: int | None = None) -> list[str]:
    """Measure and return the Markdown section (see the module doc)."""
    content = cotahist_yearly(YEAR, records_target=records_target)
    name = f"COTAHIST_A{YEAR}.TXT"
    size = len(content)
    mb = size / 1e6
    records_in = parse_cotahist(content, file_name=name).records_in
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        del content
        results = [_measure(candidate, path) for candidate in CANDIDATES]
    ours = next(r for r in results if r.candidate.parse is _finlake)
    fastest = min((r for r in results if r.candidate.library), key=lambda r: r.seconds)
    table = [
        "| candidate | rows | seconds | MB/s | vs finlake | peak memory | peak / file | what it does |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        table.append(
            f"| {r.candidate.name} | {r.rows:,} | {r.seconds:.3f} | {mb / r.seconds:,.0f} "
            f"| {r.seconds / ours.seconds:.2f}x | {r.peak_bytes / 1e6:,.1f} MB | {r.peak_bytes / size:.2f}x "
            f"| {r.candidate.does} |"
        )
    verdict = _verdict(ours, fastest, size)
    return [
        "## B3 COTAHIST parser (`functions.stocks.cotahist.parse_cotahist`) against the libraries",
        "",
        f"Input: a generated yearly file `{name}` ({records_in:,} type-01 records between header and "
        f"trailer, {mb:,.1f} MB, CRLF), written to a temporary file; every candidate starts from its path. "
        f"Seconds: median of {REPEATS} calls each (after one warm-up call), same process, same run. "
        "Peak memory: one call in a fresh process with the bytes already loaded, peak resident set "
        "(`VmHWM`) minus the resident set before the call, so the input itself is not counted. "
        "Rows: what each produced (the scan counts lines; `read_fwf` keeps header and trailer as rows; "
        "finlake counts table rows plus quarantined records). Libraries: b3cotahist 0.1.9 and "
        "b3fileparser 0.2.1 on polars 1.44.2, installed without their pins (pandas < 3, pyarrow < 19, "
        "polars < 0.21), which conflict with this project's and with each other. "
        "Command: `make bench` (alone: `python -m finlake.bench.cotahist`). "
        f"Machine: {os.cpu_count()} cores, load average {load:.1f} (1 min) when the run began.",
        "",
        *table,
        "",
        verdict,
        "",
        BEFORE,
    ]


def main(argv: list[str] | None = None) -> None:
    """The ``python -m finlake.bench.cotahist [RECORDS]`` entry point: print the COTAHIST section.

    ``--peak NAME FILE`` instead prints, as JSON, one candidate's peak memory on FILE (run in a child process).
    """
    parser = argparse.ArgumentParser(prog="python -m finlake.bench.cotahist", description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", type=int, help="type-01 records to generate (default: a full year)")
    parser.add_argument("--peak", nargs=2, metavar=("NAME", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak:
        print(json.dumps(peak_of_one_call(args.peak[0], Path(args.peak[1]))))
        return
    print("\n".join(bench_cotahist(args.records)))


if __name__ == "__main__":
    main()
