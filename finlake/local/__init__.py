"""Local mode: the deployed definitions, handlers and Glue scripts run on an embedded AWS (moto, local Spark)."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 10, 10)
"""CPython's collection thresholds for a process that runs local workflows (generations 0, 1, 2; CPython 3.11-3.13)."""


def collect_less_often() -> None:
    """Run CPython's cyclic garbage collector less often in this process (`gc.set_threshold`).

    A local run allocates container objects by the million (moto's requests and answers, botocore's dicts, PySpark's
    plans), nearly all freed by reference counting. With CPython's defaults (700, 10, 10) a young collection runs every
    700 net allocations, and after ten middle ones a full collection runs whenever the objects waiting for it are more
    than a quarter of the long-lived ones: in a test worker, about a million objects, about 1 s each. With these
    thresholds a suite run's two workers spent 57 s in the collector instead of 90 s, 8 full collections instead of 69
    (measured with `gc.callbacks`).

    The cost is memory: what lives in reference cycles waits longer to be freed. moto's requests, bodies included, lived
    in one (werkzeug's); `finlake.local.moto_patches` (item 9, installed by the embedded AWS) builds them without it,
    so they are freed at once.
    From CPython 3.14 the collector is incremental and the second and third numbers mean something else: re-measure
    before relying on them there. Called by the CLI and by the test suite.
    """
    gc.set_threshold(*GC_THRESHOLDS)
