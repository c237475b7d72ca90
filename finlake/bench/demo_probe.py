"""Run ``finlake run --all`` and record where the time goes: the probe of `finlake.bench.demo`.

Started by `finlake.bench.demo` as a script, with the working directory and ``PYTHONPATH`` of the checkout
being measured (this file is copied next to nothing else, so it imports that checkout's ``finlake``), as
``python demo_probe.py HOME OUT.json``. It instruments only public, stable seams, so the same probe
measures an older checkout:

- ``finlake.local.glue.LocalGlueRunner.__call__``: one record per Glue job run (job name, start time, total);
- ``finlake.local.glue.local_spark``: the first call, when the JVM and the SparkSession start (``spark``);
- ``finlake.local.glue.load_script``: the script's ``run(spark, args)`` (``script``), so the rest of a job's
  time is the runner's own work (copying objects between moto and the workspace folder: ``sync``);
- PySpark's public API, while a script runs: reader calls (``read``: listing, schema inference), actions
  (``compute``: count, collect, first... and iterating ``toLocalIterator``) and writer calls (``write``,
  which includes computing a frame that was not cached). Nested calls count once, for the outermost.
  The script's remaining time is ``driver`` (building plans, Hadoop file-system calls, the result JSON).

Every state's duration comes from the run records `finlake` writes (``<HOME>/runs/*.json``).

OUT.json: ``{"wall_s": float, "exit": int, "jobs": [{"job", "started", "total_s", "spark_s", "script_s",
"read_s", "compute_s", "write_s"}], "runs": [{"name", "domain", "status", "duration_s", "started", "stopped",
"states": [[name, seconds], ...]}]}``; times are wall seconds, ``started`` a Unix time.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

READS = ("parquet", "json", "csv", "text", "orc", "load", "table")
WRITES = ("parquet", "json", "csv", "text", "orc", "save", "insertInto", "saveAsTable")
ACTIONS = ("count", "collect", "first", "take", "head", "tail", "toPandas", "show", "foreach", "isEmpty")


class Clock:
    """Seconds per category while a Glue script runs; nested calls count for the outermost only.

    A script may run Spark calls on several threads at once (``glue_io.concurrently``). Each instant is then charged to
    one category only, the first of :data:`PRIORITY` that some thread is in, so the categories never add up to more
    than the script's wall time and the rest of it is the driver's.
    """

    PRIORITY = ("write", "compute", "read")

    def __init__(self, now: Callable[[], float] = time.perf_counter) -> None:
        self.now = now
        self.active = False
        self.seconds: dict[str, float] = {}
        self._thread = threading.local()  # .depth: timed calls under way on this thread
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()  # outermost timed calls under way, per category, on every thread
        self._since = 0.0

    def _charge(self) -> None:
        """Charge the time since the last change to the category that held it (under the lock)."""
        now = self.now()
        held = next((c for c in self.PRIORITY if self._running[c]), None)
        if held is not None:
            self.seconds[held] = self.seconds.get(held, 0.0) + now - self._since
        self._since = now

    def timed(self, category: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with its wall time charged to ``category`` when it is the outermost timed call of its thread."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._thread, "depth", 0)
            if not self.active or depth:
                return fn(*args, **kwargs)
            self._thread.depth = 1
            with self._lock:
                self._charge()
                self._running[category] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self._charge()
                    self._running[category] -= 1
                self._thread.depth = 0

        return wrapper

    def iterated(self, fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """``toLocalIterator``: the time spent pulling each row counts as compute."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
            rows = fn(*args, **kwargs)
            pull = self.timed("compute", lambda: next(rows, _END))
            while (row := pull()) is not _END:
                yield row

        return wrapper


_END = object()


def install(clock: Clock, jobs: list[dict[str, Any]]) -> None:
    """Wrap PySpark's reader, writer and actions, and the local Glue runner (see the module docstring)."""
    _wrap_pyspark(clock)
    _wrap_runner(clock, jobs)


def _wrap_pyspark(clock: Clock) -> None:
    from pyspark.sql import DataFrame, DataFrameReader, DataFrameWriter

    for name in READS:
        if hasattr(DataFrameReader, name):
            setattr(DataFrameReader, name, clock.timed("read", getattr(DataFrameReader, name)))
    for name in WRITES:
        if hasattr(DataFrameWriter, name):
            setattr(DataFrameWriter, name, clock.timed("write", getattr(DataFrameWriter, name)))
    for name in ACTIONS:
        if hasattr(DataFrame, name):
            setattr(DataFrame, name, clock.timed("compute", getattr(DataFrame, name)))
    DataFrame.toLocalIterator = clock.iterated(DataFrame.toLocalIterator)  # type: ignore[method-assign]


def _wrap_runner(clock: Clock, jobs: list[dict[str, Any]]) -> None:
    import finlake.local.glue as local_glue

    current: dict[str, Any] = {}
    spark_start = local_glue.local_spark

    def local_spark(*args: Any, **kwargs: Any) -> Any:
        cold = getattr(local_glue, "_spark", None) is None
        started = time.perf_counter()
        try:
            return spark_start(*args, **kwargs)
        finally:
            if cold and current:
                current["spark_s"] = time.perf_counter() - started

    load = local_glue.load_script

    def load_script(location: str) -> Any:
        module = load(location)
        run = module.run
        if getattr(run, "_probed", False):
            return module

        def probed(spark: Any, args: dict[str, str]) -> Any:
            clock.seconds, clock.active = {}, True
            started = time.perf_counter()
            try:
                return run(spark, args)
            finally:
                clock.active = False
                if current:
                    current["script_s"] = time.perf_counter() - started
                    current.update({f"{k}_s": v for k, v in clock.seconds.items()})

        probed._probed = True  # type: ignore[attr-defined]
        setattr(module, "run", probed)  # noqa: B010 (a module attribute mypy does not know)
        return module

    runner_call = local_glue.LocalGlueRunner.__call__

    def call(self: Any, job_name: str, arguments: dict[str, str]) -> None:
        current.clear()
        current.update(job=job_name, started=time.time(), spark_s=0.0)
        started = time.perf_counter()
        try:
            runner_call(self, job_name, arguments)
        finally:
            current["total_s"] = time.perf_counter() - started
            jobs.append(dict(current))
            current.clear()

    local_glue.local_spark = local_spark  # type: ignore[assignment]
    local_glue.load_script = load_script  # type: ignore[assignment]
    local_glue.LocalGlueRunner.__call__ = call  # type: ignore[method-assign]


def runs(home: Path) -> list[dict[str, Any]]:
    """The run records of ``home`` and its side workspaces (bank's mock), in start order, with state durations."""
    found = []
    for path in sorted(home.rglob("runs/*.json")):
        record = json.loads(path.read_text())
        found.append(
            {
                "name": record["name"],
                "domain": record["domain"],
                "status": record["status"],
                "duration_s": record["duration_s"],
                "started": record["started"],
                "stopped": record["stopped"],
                "states": [[s["state"], s["duration_s"]] for s in record.get("states", [])],
                "workspace": path.parent.parent.relative_to(home).as_posix(),  # "." or a side one: "mock-bank"
            }
        )
    return sorted(found, key=lambda r: r["started"])


def main(argv: list[str]) -> int:
    """``HOME OUT.json``: run the demo into the fresh workspace HOME and write what was measured to OUT.json."""
    home, out = Path(argv[0]), Path(argv[1])
    started = time.perf_counter()
    clock, jobs = Clock(), []  # type: ignore[var-annotated]
    install(clock, jobs)
    from finlake.cli import main as cli

    try:
        cli.main(["--home", str(home), "run", "--all"], prog_name="finlake", standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out.write_text(
        json.dumps({"wall_s": time.perf_counter() - started, "exit": code, "jobs": jobs, "runs": runs(home)}, indent=1)
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
