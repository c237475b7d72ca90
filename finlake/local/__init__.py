"""Local mode: the deployed definitions, handlers and Glue scripts run on an embedded AWS (moto, local Spark)."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 10, 10)
"""CPython's collection thresholds for a process that runs local workflows: (generation 0, 1, 2)."""


def collect_less_often() -> None:
    """Run CPython's cyclic garbage collector less often in this process (`gc.set_threshold`).

    A local run allocates container objects by the million: moto's requests and answers, botocore's
    dicts, PySpark's plans. With CPython's defaults (700, 10, 10) a young collection runs every 700 net
    allocations and each tenth of the tenth is a full collection of the process's half a million objects
    (0.3-0.4 s each, once the test modules are loaded). A young generation of 50,000 objects keeps what
    is freed by reference counting (nearly everything) out of the collector: the bndes and catalog test
    files spent 7-8 s in the collector with the defaults and 3 s with these, measured with `gc.callbacks`.
    Objects in reference cycles are freed later, not never. Called by the CLI and by the test suite.
    """
    gc.set_threshold(*GC_THRESHOLDS)
