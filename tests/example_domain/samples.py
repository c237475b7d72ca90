"""The example domain's local-mode adapter: an offline transport answering the source's URL.

Listed in `finlake.samples.registry.MODULES` by the tests (a real domain lists itself there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finlake.local.workspace import Workspace
from finlake.samples.registry import SampleAdapter
from functions.common.http import HttpResponse, SourceUnavailable
from stacks.specs import DomainSpec
from tests.example_domain.pipeline import SOURCE_URL
from tests.example_domain.spec import EXAMPLE

# Two days of two currencies and one row whose rate is not a number (it goes to quarantine).
SAMPLE_CSV = (
    b"date;currency;rate\n"
    b"02/01/2024;USD;4,8526\n"
    b"02/01/2024;EUR;5,3190\n"
    b"03/01/2024;USD;4,9198\n"
    b"03/01/2024;EUR;5,3768\n"
    b"03/01/2024;GBP;n/d\n"
)


class OfflineRates:
    """An `functions.common.http.Http` that answers ``SOURCE_URL`` with ``body`` and nothing else."""

    def __init__(self, body: bytes = SAMPLE_CSV) -> None:
        self.body = body

    def get(self, url: str, *, timeout: float) -> HttpResponse:
        if url != SOURCE_URL:
            raise SourceUnavailable(f"no sample answer for {url} (offline mode)")
        return HttpResponse(200, {"Content-Type": "text/csv; charset=utf-8"}, self.body)


class ExampleAdapter(SampleAdapter):
    domain = "example"
    bench_input = "two days of two currencies (5 rows, 1 quarantined)"

    @property
    def spec(self) -> DomainSpec:
        return EXAMPLE

    def transport(self, ws: Workspace, request: Mapping[str, Any]) -> OfflineRates:
        return OfflineRates()


ADAPTER = ExampleAdapter()
