"""Lambda handlers of the example domain: one line per step on the step runtime (functions/common/step.py)."""

from __future__ import annotations

from functions.common.http import default_http
from functions.common.step import glue_client, step
from tests.example_domain import pipeline

fetch = step(pipeline.fetch, http=lambda: default_http(pipeline.DOMAIN))
transform = step(pipeline.transform)
catalog = step(pipeline.catalog, glue=glue_client, record_run=True)
