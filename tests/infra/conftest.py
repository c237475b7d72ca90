"""Synthesize the real app once per session (plus one variant) and hand out templates."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from aws_cdk import App
from aws_cdk.assertions import Template

from stacks.app import build_app
from stacks.specs import BANK, BNDES, ROOT, GlueStep

PLATFORM = "FinlakePlatform"
PIPELINES = "FinlakePipelines"

# CDK's switch for "bundle the assets of no stack": the dependency layers are synthesized from their
# source folder without running pip, so the tests never reach the network.
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}

# A second deployment's prefix (tests/infra/test_prefixed_deployment.py, the failure inventory).
PREFIX = "smoketest1"

# A variant with other context values and a throwaway Glue step, to test those code paths.
VARIANT_CONTEXT = {
    "notification_emails": ["ops@example.com", "analyst@example.com"],
    "schedules": {"bndes": {"enabled": False, "expression": "cron(30 6 ? * MON *)"}},
    "athena_bytes_scanned_cutoff": 1073741824,
    "log_retention_days": 30,
    "google_sheets": {"enabled": True, "spreadsheet_id": "abc123"},
    "dashboard": True,
}
VARIANT_GLUE_STEP = GlueStep(
    step="Indicators", script="glue/__init__.py", workers=3, worker_type="G.2X", timeout_min=45
)
# bank: to synthesize its optional Google Sheets sink, switched on in VARIANT_CONTEXT.
VARIANT_DOMAINS = {"bndes": dataclasses.replace(BNDES, steps=(*BNDES.steps, VARIANT_GLUE_STEP)), "bank": BANK}


@dataclass(frozen=True)
class Synthesized:
    app: App
    outdir: Path
    templates: Mapping[str, dict[str, Any]]

    def template(self, stack: str) -> Template:
        return Template.from_json(self.templates[stack])

    def resources(self, stack: str, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == cfn_type}


def _synth(outdir: Path, cdk_context: Mapping[str, Any] | None = None, **kwargs: Any) -> Synthesized:
    app = build_app(outdir=str(outdir), cdk_context={**NO_BUNDLING, **(cdk_context or {})}, **kwargs)
    assembly = app.synth()
    templates = {s.stack_name: json.loads(Path(s.template_full_path).read_text()) for s in assembly.stacks}
    return Synthesized(app=app, outdir=outdir, templates=templates)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app exactly as `make synth` builds it (cdk.json context, real specs)."""
    return _synth(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return _synth(tmp_path_factory.mktemp("cdk-variant"), context=VARIANT_CONTEXT, domains=VARIANT_DOMAINS)


@pytest.fixture(scope="session")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app under ``PREFIX`` with exactly the ``-c`` options `make aws-smoke` passes to the CDK CLI
    (strings, as the CLI hands them over), plus the dashboard the smoke leaves off, so that its name
    and metrics are checked for the prefix too."""
    from finlake.smoke import deploy_context

    context = {**deploy_context(PREFIX), "finlake.dashboard": "true"}
    return _synth(tmp_path_factory.mktemp("cdk-prefixed"), cdk_context=context)


@pytest.fixture(scope="session")
def cdk_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]["finlake"]
    return context
