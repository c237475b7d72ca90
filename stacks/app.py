"""Build the CDK app from ``cdk.json`` context. ``app.py`` and the infra tests both call this."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.pipelines_stack import PipelinesStack
from stacks.platform_stack import PlatformStack
from stacks.settings import CONTEXT_KEY, Settings
from stacks.specs import DOMAINS, ROOT, DomainSpec


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    domains: Mapping[str, DomainSpec] = DOMAINS,
    outdir: str | None = None,
    cdk_context: Mapping[str, Any] | None = None,
) -> App:
    """The app with ``cdk.json`` context, its ``finlake`` settings overridden key by key by ``context``
    and other CDK context keys by ``cdk_context`` (e.g. ``{"aws:cdk:bundling-stacks": []}``)."""
    merged = {**cdk_json_context(), **(cdk_context or {})}
    merged[CONTEXT_KEY] = {**merged.get(CONTEXT_KEY, {}), **(context or {})}
    app = App(context=merged, outdir=outdir)
    settings = Settings.from_context(app.node.try_get_context(CONTEXT_KEY))
    platform = PlatformStack(app, "FinlakePlatform", settings=settings, description="finlake shared platform")
    PipelinesStack(
        app,
        "FinlakePipelines",
        platform=platform,
        settings=settings,
        domains=domains,
        description="finlake domain pipelines",
    )
    Tags.of(app).add("project", "finlake")
    # cdk-nag runs at every synth: an unacknowledged finding fails `make synth` and the tests.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
