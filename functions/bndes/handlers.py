"""Lambda handlers of the BNDES workflow: one line per step on the step runtime (functions/common/step.py)."""

from __future__ import annotations

from functions.bndes import pipeline
from functions.bndes.ckan import CkanClient
from functions.common.http import default_http
from functions.common.step import glue_client, logger, step

__all__ = ["catalog", "fetch", "logger", "transform", "validate"]

fetch = step(pipeline.fetch, ckan=lambda: CkanClient(default_http(pipeline.DOMAIN)))
validate = step(pipeline.validate)
transform = step(pipeline.transform)
catalog = step(pipeline.catalog, glue=glue_client, record_run=True)
