"""Lambda handlers of the stocks workflow: one line per step on the step runtime (functions/common/step.py).

Secrets (the optional FRED and Alpha Vantage keys) come from Secrets Manager through Powertools
Parameters, cached five minutes; the environment holds only their names, and no value is logged.
"""

from __future__ import annotations

import os

from aws_lambda_powertools.utilities import parameters

from functions.common.http import default_http
from functions.common.step import glue_client, logger, step
from functions.stocks import global_sources, pipeline

__all__ = ["catalog", "fetch", "logger", "validate"]

SECRET_MAX_AGE_S = 300


def _read_secret(name: str) -> str:
    """A secret's value through Powertools Parameters (cached five minutes); never logged."""
    value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_S)
    return value if isinstance(value, str) else value.decode()


fetch = step(
    pipeline.fetch,
    http=lambda: default_http(pipeline.DOMAIN),
    global_sources=lambda: global_sources.from_environment(os.environ, _read_secret),
)
validate = step(pipeline.validate)
catalog = step(pipeline.catalog, glue=glue_client, record_run=True)
