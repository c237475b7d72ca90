"""A test-only fifth domain, ``example``: the proof that the platform is generic (issue 15).

Everything a domain writes, and nothing more, lives here; no platform file names it:

- ``tables.py``: its one Glue table (`functions.common.tables.Table`).
- ``pipeline.py``: the steps, pure of Lambda (Fetch, Transform, Catalog).
- ``handlers.py``: one line per step on the step runtime (`functions.common.step.step`).
- ``spec.py``: the `stacks.specs.DomainSpec` (``EXAMPLE``).
- ``samples.py``: the local-mode adapter (`finlake.samples.registry.SampleAdapter`) with an
  offline transport that answers the source's URL.

``test_example_domain.py`` renders its definition with ``stacks/asl.py`` into a temporary folder,
synthesizes the real app with it added (cdk-nag clean) and runs it to success on the embedded AWS.
The source is invented (``rates.example.invalid``): daily reference rates, one CSV.
"""
