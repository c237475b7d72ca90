"""The example domain's spec: what `stacks.asl` renders, `stacks.app.build_app` deploys and
`finlake.local` runs. Not in `stacks.specs.DOMAINS`: the tests add it themselves."""

from __future__ import annotations

from stacks.specs import Access, DomainSpec, LambdaStep, Workflow
from tests.example_domain import tables

EXAMPLE = DomainSpec(
    name="example",
    description="Daily reference rates from one CSV endpoint (a test-only example domain)",
    partition="date",
    schedule="cron(0 10 ? * MON-FRI *)",  # opt-in: off unless cdk.json's finlake.schedules.example enables it
    steps=(
        LambdaStep(
            step="Fetch",
            handler="tests.example_domain.handlers.fetch",
            access=Access(raw="rw", curated="r"),
            timeout_s=60,
            description="Download the rates file into the raw zone, as received, unless it was processed already.",
        ),
        LambdaStep(
            step="Transform",
            handler="tests.example_domain.handlers.transform",
            access=Access(raw="r", curated="rw"),
            memory_mb=1024,
            timeout_s=300,
            description="Parse the rates; write one curated Parquet partition per day; quarantine bad rows.",
        ),
        LambdaStep(
            step="Catalog",
            handler="tests.example_domain.handlers.catalog",
            access=Access(curated="rw", catalog=True),
            description="Register the table and its partitions in the Glue Data Catalog; summarise the run.",
        ),
    ),
    workflow=Workflow(nothing_new="An unchanged rates file ends the run successfully."),
    timeout_min=20,
    tables=tables.TABLES,
)
