"""The run's custom metrics (CloudWatch embedded metric format, through Powertools Metrics).

Each domain's Catalog step, the last data step of every run, records the run's counts once, so a
dashboard sums them without double counting. Namespace ``finlake`` (``POWERTOOLS_METRICS_NAMESPACE``),
dimension ``service`` = ``finlake-<domain>`` (``POWERTOOLS_SERVICE_NAME``, set by the stack).
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.common.contract import RUN_METRICS
from functions.common.manifest import Manifest


def record_run(metrics: Metrics, manifest: Manifest) -> None:
    """Add the run's counts (:data:`~functions.common.contract.RUN_METRICS`, unit Count) to ``metrics``.

    The values are, in order, rows in, rows valid, rows quarantined, rows written and the number of
    sources; Powertools flushes them when the handler returns.
    """
    counts = manifest.counts
    values = (counts.rows_in, counts.rows_valid, counts.rows_quarantined, counts.rows_written, len(manifest.sources))
    for name, value in zip(RUN_METRICS, values, strict=True):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
