"""One local-mode adapter per domain: what the embedded AWS needs to run it offline.

Each domain's module ``finlake/samples/<domain>.py`` (``stocks`` for the B3/BCB/FRED/Alpha Vantage
codecs, which stay whole in their own modules) defines ``ADAPTER``, an instance of a `SampleAdapter`
subclass that overrides only what the domain has: its offline source, the values of its secrets,
the plan of a `finlake run`, its demo and bench plans, and optionally a `finlake generate` command.
`adapter(domain)` loads it on first use (the generators import pyarrow and numpy: a `finlake runs`
should not pay for them); a domain of `stacks.specs.DOMAINS` without an entry here raises
`MissingAdapter`, never runs on defaults.

Offline HTTP sources have one seam, the fetchers' transport (`functions.common.http.use_transport`):
`SampleAdapter.transport` returns the `Http` a run's Fetch reads (a replayed CKAN cassette for bndes,
B3/BCB/FRED/Alpha Vantage answers generated for the run's date for stocks), and the runner installs
it for that run only. A transport, not an environment variable, because the generated sources answer
per request (a date's session, a series up to the run's day) and cannot be a file written in advance,
and because nothing of it reaches the function's configuration, which stays what the stack deploys.
(``FINLAKE_HTTP_CASSETTE`` remains the handlers' own hook for replaying a recorded cassette in tests.)
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from finlake.local.plan import RunPlan
from finlake.local.workspace import Workspace
from stacks.specs import DOMAINS, DomainSpec

if TYPE_CHECKING:
    import click

    from functions.common.http import Http

# domain -> the module whose ``ADAPTER`` it is (imported on first use)
MODULES = {
    "bndes": "finlake.samples.bndes",
    "stocks": "finlake.samples.stocks",
    "cards": "finlake.samples.cards",
    "bank": "finlake.samples.bank",
}


class MissingAdapter(LookupError):
    """A domain has no local-mode adapter: it cannot run on the embedded AWS until it gets one."""


class LocalAdapter(Protocol):
    """What local mode asks of a domain. Every method takes the command's `Workspace`."""

    domain: str
    optional_secrets: frozenset[str]  # optional sources (``Secret.optional_setting``) the samples answer
    base_env: Mapping[str, Mapping[str, str]]  # step -> environment every embedded AWS gives it
    bench_input: str  # what `bench_plans` runs, in words (BENCHMARKS.md)
    offline_years: tuple[int, int] | None  # years the generated answers cover (None: any)
    offline_source: str  # whose answers are generated, for the refusal of a year outside them

    def sources_env(self, ws: Workspace) -> dict[str, dict[str, str]]:
        """Extra environment per step name (e.g. ``{"Fetch": {...}}``) when a run reads the samples."""

    def transport(self, ws: Workspace, request: Mapping[str, Any]) -> Http | None:
        """The `Http` the domain's fetchers read for ``request`` (an execution input); None: no HTTP source."""

    def secret(self, ws: Workspace, key: str) -> str | None:
        """The value secret ``key`` holds on the embedded AWS; None: a random one kept in the workspace."""

    def plan(self, ws: Workspace, spec: DomainSpec, **options: Any) -> RunPlan:
        """What a local `finlake run DOMAIN` (or one partition of a backfill) runs, from the CLI's options."""

    def demo_plans(self, ws: Workspace) -> list[RunPlan]:
        """What `finlake run --all` runs for the domain, with the project's own sample data."""

    def bench_plans(self, ws: Workspace) -> list[RunPlan]:
        """A small but complete run for `make bench`'s end-to-end table."""

    def workspaces(self, ws: Workspace) -> list[Workspace]:
        """Other workspaces whose runs belong to ``ws``."""

    def generate_command(self) -> click.Command | None:
        """The `finlake generate <domain>` command writing sample files; None: the domain has none."""


class SampleAdapter:
    """The defaults: a domain with no offline source of its own, no fixed secret values, plans as asked.

    Subclasses set ``domain`` and override what differs.
    """

    domain = ""
    optional_secrets: frozenset[str] = frozenset()
    base_env: Mapping[str, Mapping[str, str]] = {}
    bench_input = ""
    offline_years: tuple[int, int] | None = None
    offline_source = ""

    @property
    def spec(self) -> DomainSpec:
        """The domain's spec (`stacks.specs.DOMAINS`)."""
        return DOMAINS[self.domain]

    def sources_env(self, ws: Workspace) -> dict[str, dict[str, str]]:
        """Extra environment per step name (e.g. ``{"Fetch": {...}}``) when a run reads the samples."""
        return {}

    def transport(self, ws: Workspace, request: Mapping[str, Any]) -> Http | None:
        """The `Http` the domain's fetchers read for ``request`` (an execution input); None: no HTTP source."""
        return None

    def secret(self, ws: Workspace, key: str) -> str | None:
        """The value secret ``key`` holds on the embedded AWS; None: a random one kept in the workspace."""
        return None

    def plan(
        self,
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
        """What a local `finlake run DOMAIN` (or one partition of a backfill) runs: by default what was asked."""
        return RunPlan(spec, date=date, month=month, year=year, inputs=list(inputs or []), force=force, source=source)

    def demo_plans(self, ws: Workspace) -> list[RunPlan]:
        """What `finlake run --all` runs for the domain, with the project's own sample data."""
        return [RunPlan(self.spec)]

    def bench_plans(self, ws: Workspace) -> list[RunPlan]:
        """A small but complete run for `make bench`'s end-to-end table (``bench_input`` says what it reads)."""
        return [RunPlan(self.spec)]

    def workspaces(self, ws: Workspace) -> list[Workspace]:
        """Other workspaces whose runs belong to ``ws`` (bank's mock keeps its invented data apart)."""
        return []

    def generate_command(self) -> click.Command | None:
        """The `finlake generate <domain>` command writing sample files; None: the domain has none."""
        return None


def adapter(domain: str) -> LocalAdapter:
    """The local-mode adapter of ``domain``.

    Raises
    ------
    MissingAdapter
        ``domain`` is not in `MODULES`, or its module defines no ``ADAPTER`` for it.
    """
    module = MODULES.get(domain)
    if module is None:
        raise MissingAdapter(
            f"no local-mode adapter for domain {domain!r}: add finlake/samples/{domain}.py with an ADAPTER "
            f"(a finlake.samples.registry.SampleAdapter) and list it in finlake.samples.registry.MODULES"
        )
    found: LocalAdapter | None = getattr(importlib.import_module(module), "ADAPTER", None)
    if found is None or found.domain != domain:
        raise MissingAdapter(f"{module} defines no ADAPTER for domain {domain!r}")
    return found


def adapters() -> list[LocalAdapter]:
    """Every deployed domain's adapter, in `stacks.specs.DOMAINS` order (the demo's order).

    Raises
    ------
    MissingAdapter
        A domain of ``DOMAINS`` has none.
    """
    return [adapter(domain) for domain in DOMAINS]
