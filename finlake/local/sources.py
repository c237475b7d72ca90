"""Local mode's sample sources, domain by domain, through each domain's adapter (`finlake.samples.registry`).

Generated or recorded by the project, never the network: each domain's ``finlake/samples/<domain>.py``
says what its fetchers read (a transport the runner installs for the run), its secrets' values,
what a `finlake run DOMAIN` and the demo run. These functions ask the adapter of the domain
at hand; a domain without one raises `finlake.samples.registry.MissingAdapter`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from finlake.local.plan import RunPlan
from finlake.local.workspace import Workspace
from finlake.samples.registry import adapter, adapters
from functions.common.http import Http
from stacks.specs import DomainSpec


def base_env(domain: str) -> dict[str, dict[str, str]]:
    """Environment every embedded AWS gives a domain's functions, whoever starts it: ``{Step: {name: value}}``."""
    return {step: dict(env) for step, env in adapter(domain).base_env.items()}


def local_optional(domain: str) -> frozenset[str]:
    """The optional secrets (``Secret.optional_setting``) created for ``domain`` on the embedded AWS."""
    return adapter(domain).optional_secrets


def local_secret(ws: Workspace, domain: str, key: str) -> str:
    """The value a domain's secret holds on the embedded AWS.

    The adapter's (invented API keys, an invented Nubank login), else a random value made once per workspace (so keyed
    hashes, e.g. the HMAC key, stay stable between runs) and kept in ``local-secrets.json``.
    """
    fixed = adapter(domain).secret(ws, key)
    if fixed is not None:
        return fixed
    stored: dict[str, str] = ws.read_json("local-secrets.json", {})
    name = f"{domain}/{key}"
    if name not in stored:
        stored[name] = secrets.token_urlsafe(48)
        ws.write_json("local-secrets.json", stored)
    return stored[name]


def local_function_env(ws: Workspace, specs: list[DomainSpec]) -> dict[str, dict[str, str]]:
    """Extra environment per ``"<domain>.<Step>"`` function so that a run reads the samples."""
    return {f"{spec.name}.{step}": env for spec in specs for step, env in adapter(spec.name).sources_env(ws).items()}


def sample_transport(ws: Workspace, domain: str, request: Mapping[str, Any]) -> Http | None:
    """The `Http` a domain's fetchers read in local mode for ``request`` (None: no HTTP source)."""
    return adapter(domain).transport(ws, request)


def local_plan(
    ws: Workspace,
    spec: DomainSpec,
    *,
    date: str | None = None,
    month: str | None = None,
    year: str | None = None,
    inputs: list[Path] | None = None,
    force: bool = False,
    source: str | None = None,
) -> RunPlan:
    """What a local `finlake run DOMAIN` (or one partition of `backfill`) runs: the domain adapter's `plan`.

    Offline unless ``source == "api"`` (bank).
    """
    return adapter(spec.name).plan(
        ws, spec, date=date, month=month, year=year, inputs=list(inputs or []), force=force, source=source
    )


def demo_plans(ws: Workspace) -> list[RunPlan]:
    """What `finlake run --all` runs, domain by domain in `stacks.specs.DOMAINS` order, on the samples."""
    return [plan for each in adapters() for plan in each.demo_plans(ws)]


def side_workspaces(ws: Workspace, domain: str | None = None) -> list[tuple[str, Workspace]]:
    """``(domain, workspace)`` of the other workspaces whose runs belong to ``ws`` (bank's mock).

    For every domain, or ``domain`` only.
    """
    return [
        (each.domain, other)
        for each in adapters()
        if domain in (None, each.domain)
        for other in each.workspaces(ws)
        if other.root != ws.root
    ]


def mock_workspace(ws: Workspace) -> Workspace:
    """The bank mock's own workspace (`finlake.samples.bank.mock_workspace`)."""
    from finlake.samples.bank import mock_workspace as bank_mock

    return bank_mock(ws)
