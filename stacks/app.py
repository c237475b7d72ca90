"""Build the CDK app from ``cdk.json`` context. ``app.py`` and the infra tests both call this.

The ``finlake`` settings are ``cdk.json``'s ``finlake`` block deep-merged with what the CDK CLI
passes: ``-c 'finlake={...}'`` (JSON: the CLI hands every ``-c`` value to the app as a string, and it
replaces cdk.json's whole ``finlake`` value) and flat keys such as
``-c finlake.notification_emails=a@b.com,c@d.com`` or ``-c finlake.schedules.bank.enabled=true``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import (
    App,
    Aspects,
    CfnDeletionPolicy,
    CfnResource,
    IAspect,
    RemovalPolicy,
    Tags,
    Validations,
)
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from stacks.pipelines_stack import PipelinesStack
from stacks.platform_stack import PlatformStack
from stacks.settings import CONTEXT_KEY, Settings
from stacks.specs import DOMAINS, ROOT, DomainSpec


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` block of the project's ``cdk.json``, as a dict.

    Raises
    ------
    FileNotFoundError
        When ``cdk.json`` is not at the project root.
    KeyError
        When it has no ``context`` key.
    """
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


class ContextError(ValueError):
    """A ``finlake`` context value from the CLI that cannot be read."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, mappings key by key, everything else replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _flat_value(text: Any, current: Any) -> Any:
    """A ``-c finlake.a.b=text`` value: JSON when it parses, else the string.

    JSON such as ``true``, ``90``, ``["a@b.com"]``; a comma-separated string where the setting is a list.
    """
    value = text
    if isinstance(text, str):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
    if isinstance(current, list) and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def finlake_context(all_context: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The ``finlake`` settings, merged from cdk.json's defaults and the app's context.

    ``defaults`` (cdk.json's block), then the ``finlake`` value the app was given (a mapping, or the JSON string of ``-c
    finlake={...}``), then each flat ``finlake.<path>`` key.
    """
    settings = dict(defaults)
    given = all_context.get(CONTEXT_KEY)
    if isinstance(given, str):
        try:
            given = json.loads(given)
        except json.JSONDecodeError as exc:
            raise ContextError(f"-c {CONTEXT_KEY}=... must be a JSON object: {exc}") from None
    if given is not None and not isinstance(given, Mapping):
        raise ContextError(f"-c {CONTEXT_KEY}=... must be a JSON object, not {type(given).__name__}")
    settings = deep_merge(settings, given or {})
    prefix = f"{CONTEXT_KEY}."
    for key in sorted(k for k in all_context if k.startswith(prefix)):
        path = key[len(prefix) :].split(".")
        node = settings
        for part in path[:-1]:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, Mapping) else {}
            node = node[part]
        node[path[-1]] = _flat_value(all_context[key], node.get(path[-1]))
    return settings


@jsii.implements(IAspect)
class RetainExceptOnCreate:
    """Remove retained resources when the stack's first create fails (``RetainExceptOnCreate``).

    Every resource CloudFormation would keep (``DeletionPolicy: Retain``: buckets, the key, secrets, log groups, the
    dead-letter queue) is kept on update and delete but removed when the stack's first create fails, so a retry of a
    failed first deploy does not stop at "already exists" on a fixed name (CloudFormation User Guide, DeletionPolicy
    attribute).
    """

    def visit(self, node: IConstruct) -> None:
        """Give ``node`` ``RETAIN_ON_UPDATE_OR_DELETE`` when it is a CfnResource with ``DeletionPolicy: Retain``."""
        if isinstance(node, CfnResource) and node.cfn_options.deletion_policy == CfnDeletionPolicy.RETAIN:
            node.apply_removal_policy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    domains: Mapping[str, DomainSpec] = DOMAINS,
    outdir: str | None = None,
    cdk_context: Mapping[str, Any] | None = None,
) -> App:
    """The app with ``cdk.json`` context and the CLI's (``finlake_context``).

    Its ``finlake`` settings are then overridden key by key by ``context``, and other CDK context keys by
    ``cdk_context`` (e.g. ``{"aws:cdk:bundling-stacks": []}``).
    """
    defaults = cdk_json_context()
    app = App(context={**defaults, **(cdk_context or {})}, outdir=outdir)
    settings_context = finlake_context(app.node.get_all_context(), defaults.get(CONTEXT_KEY, {}))
    settings = Settings.from_context({**settings_context, **(context or {})})
    settings.check_schedules(domains)
    # Construct ids stay fixed; the stack names follow the prefix (FinlakePlatform for "finlake").
    platform = PlatformStack(
        app,
        "FinlakePlatform",
        stack_name=settings.names.stack("Platform"),
        settings=settings,
        description="finlake shared platform",
    )
    PipelinesStack(
        app,
        "FinlakePipelines",
        stack_name=settings.names.stack("Pipelines"),
        platform=platform,
        settings=settings,
        domains=domains,
        description="finlake domain pipelines",
    )
    Tags.of(app).add("project", "finlake")
    Aspects.of(app).add(RetainExceptOnCreate())
    # cdk-nag runs at every synth: an unacknowledged finding fails `make synth` and the tests.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
