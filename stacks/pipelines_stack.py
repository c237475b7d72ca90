"""All domain pipelines, one ``DomainPipeline`` per spec, in one deploy unit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from stacks.domain_pipeline import DomainPipeline
from stacks.observability import PlatformDashboard
from stacks.platform_stack import PlatformStack
from stacks.settings import Settings
from stacks.specs import DOMAINS, DomainSpec


class PipelinesStack(Stack):
    """The deploy unit of the workflows: one `DomainPipeline` per domain, and the optional dashboard.

    Parameters
    ----------
    platform
        The shared platform (lake buckets, key, catalog, topic, dead-letter queue, notifier) the pipelines use.
    settings
        The deployment's settings (``cdk.json`` context); ``settings.dashboard`` adds the CloudWatch dashboard.
    domains
        Domain name -> spec (default: every domain of ``stacks/specs.py``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: PlatformStack,
        settings: Settings,
        domains: Mapping[str, DomainSpec] = DOMAINS,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.pipelines = {
            name: DomainPipeline(self, name.capitalize(), spec=spec, platform=platform, settings=settings)
            for name, spec in domains.items()
        }
        # One dashboard for every domain, only on request: 3 USD a month is most of a small bill.
        self.dashboard = (
            PlatformDashboard(
                self,
                "Dashboard",
                sections=[p.dashboard_section for p in self.pipelines.values()],
                dead_letter_queue=platform.dead_letter_queue,
                names=settings.names,
            )
            if settings.dashboard
            else None
        )
