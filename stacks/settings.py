"""Typed deployment settings, read from the ``finlake`` key of the CDK context.

The context is ``cdk.json``, deep-merged with the ``-c`` options of the CDK CLI: see ``stacks/app.py``.

The AWS-published layers are not settings: their versions must match the pinned requirements, and
their ARNs differ per region (``stacks/lambda_layers.json``, ``stacks/layers.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from functions.common.contract import DEFAULT_PREFIX, Names
from functions.stocks.fred import DEFAULT_SERIES
from functions.stocks.global_sources import DEFAULT_WATCHLIST
from stacks.specs import DomainSpec

CONTEXT_KEY = "finlake"


@dataclass(frozen=True)
class ScheduleSetting:
    """Whether a domain runs on a schedule, and when (Scheduler expression in ``TIMEZONE``).

    Schedules are opt-in: a domain absent from the ``schedules`` setting gets its schedule created
    DISABLED (an operator turns it on with ``-c finlake.schedules.<domain>.enabled=true``), and an
    entry must say ``enabled`` itself.
    """

    enabled: bool = False
    expression: str | None = None  # None: the spec's default schedule


class OptionalSetting(Protocol):
    """A setting that switches optional resources (a secret, environment variables) on."""

    @property
    def enabled(self) -> bool:
        """Whether the optional resources are created."""

    def environment(self) -> dict[str, str]:
        """The environment variables the setting gives the functions that use it (name -> value)."""


@dataclass(frozen=True)
class GoogleSheetsSetting:
    """The optional Google Sheets sink of a monthly summary.

    Enabling it creates the ``google_sheets`` secret of the domains that declare one (``Secret.optional_setting``).
    """

    enabled: bool = False
    spreadsheet_id: str = ""
    worksheet: str = "bank_monthly_summary"

    def __post_init__(self) -> None:
        """Refuse an enabled sink without a spreadsheet id or worksheet (ValueError)."""
        if self.enabled and not self.spreadsheet_id:
            raise ValueError(f"context {CONTEXT_KEY}.google_sheets.enabled needs a spreadsheet_id")
        if self.enabled and not self.worksheet:
            raise ValueError(f"context {CONTEXT_KEY}.google_sheets.worksheet must not be empty")

    def environment(self) -> dict[str, str]:
        """What the functions that read the sink's secret get besides the secret's name."""
        return {"SHEETS_SPREADSHEET_ID": self.spreadsheet_id, "SHEETS_WORKSHEET": self.worksheet}


@dataclass(frozen=True)
class FredSetting:
    """The optional FRED source of the stocks domain (``functions/stocks/fred.py``).

    Enabling it creates the ``finlake/stocks/fred`` secret (JSON {"api_key": ...}, set by the operator).
    """

    enabled: bool = False
    series: tuple[str, ...] = DEFAULT_SERIES

    def __post_init__(self) -> None:
        """Refuse an enabled source without a series (ValueError)."""
        if self.enabled and not self.series:
            raise ValueError(f"context {CONTEXT_KEY}.fred.series must name at least one FRED series")

    def environment(self) -> dict[str, str]:
        """``FRED_SERIES``: the series ids, comma-separated."""
        return {"FRED_SERIES": ",".join(self.series)}


@dataclass(frozen=True)
class AlphaVantageSetting:
    """The optional Alpha Vantage source of the stocks domain (``functions/stocks/alpha_vantage.py``).

    Enabling it creates the ``finlake/stocks/alpha_vantage`` secret (JSON {"api_key": ...}).
    """

    enabled: bool = False
    watchlist: tuple[str, ...] = DEFAULT_WATCHLIST
    market: str = "SPY"
    function: str = "TIME_SERIES_DAILY_ADJUSTED"  # premium; TIME_SERIES_DAILY with a free key
    pause_s: float = 12.0  # between two requests: 5 a minute, the free tier's published pace

    def __post_init__(self) -> None:
        """Refuse an unknown ``function``, an empty watchlist when enabled, or a negative pause (ValueError)."""
        if self.function not in ("TIME_SERIES_DAILY_ADJUSTED", "TIME_SERIES_DAILY"):
            raise ValueError(f"context {CONTEXT_KEY}.alpha_vantage.function: TIME_SERIES_DAILY[_ADJUSTED]")
        if self.enabled and not self.watchlist:
            raise ValueError(f"context {CONTEXT_KEY}.alpha_vantage.watchlist must not be empty")
        if self.pause_s < 0:
            raise ValueError(f"context {CONTEXT_KEY}.alpha_vantage.pause_s must be >= 0")

    def environment(self) -> dict[str, str]:
        """``ALPHA_VANTAGE_WATCHLIST`` (comma-separated), ``_MARKET``, ``_FUNCTION`` and ``_PAUSE_S`` (seconds)."""
        return {
            "ALPHA_VANTAGE_WATCHLIST": ",".join(self.watchlist),
            "ALPHA_VANTAGE_MARKET": self.market,
            "ALPHA_VANTAGE_FUNCTION": self.function,
            "ALPHA_VANTAGE_PAUSE_S": str(self.pause_s),
        }


def _schedule(domain: str, value: Mapping[str, Any]) -> ScheduleSetting:
    """One ``schedules.<domain>`` entry; it must say ``enabled`` (a schedule is never on by omission)."""
    if not isinstance(value.get("enabled"), bool):
        raise ValueError(f'context {CONTEXT_KEY}.schedules.{domain} needs "enabled": true or false')
    return ScheduleSetting(enabled=value["enabled"], expression=value.get("expression"))


# Settings that switch optional resources on, by the name a spec uses (``Secret.optional_setting``).
OPTIONAL_SETTINGS = ("google_sheets", "fred", "alpha_vantage")


@dataclass(frozen=True)
class Settings:
    """The deployment's settings: the ``finlake`` key of the CDK context, typed and checked.

    Build it with `Settings.from_context`; every field has a default (``cdk.json`` holds the project's own).
    """

    notification_emails: tuple[str, ...] = ()
    schedules: Mapping[str, ScheduleSetting] = field(default_factory=dict)
    log_retention_days: int = 90
    athena_bytes_scanned_cutoff: int = 10 * 1024**3  # 10 GiB per query
    monthly_budget_usd: int = 50  # AWS Budgets alert thresholds: 80% and 100%
    google_sheets: GoogleSheetsSetting = GoogleSheetsSetting()
    fred: FredSetting = FredSetting()
    alpha_vantage: AlphaVantageSetting = AlphaVantageSetting()
    dashboard: bool = False  # the "<prefix>" CloudWatch dashboard (3 USD a month); failures email either way
    # Every fixed resource name starts with it (functions/common/contract.py); another prefix is another deployment.
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        """Refuse a prefix that cannot name every resource, a budget <= 0 USD or a cutoff under 10 MB (ValueError)."""
        Names(self.prefix)  # refuses a prefix that cannot name every resource
        if self.monthly_budget_usd <= 0:
            raise ValueError("monthly_budget_usd must be positive")
        if self.athena_bytes_scanned_cutoff < 10 * 1024**2:
            raise ValueError("athena_bytes_scanned_cutoff must be at least 10 MB (the Athena minimum)")

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None) -> Settings:
        """The settings of the ``finlake`` context value (a mapping; None: every default).

        Raises
        ------
        ValueError
            On an unknown key (naming the known ones), a schedule entry without ``enabled``, or a value a
            ``__post_init__`` refuses.
        TypeError
            When a nested setting has an unknown key.
        """
        raw = dict(context or {})
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(
                f"unknown context {', '.join(f'{CONTEXT_KEY}.{k}' for k in sorted(unknown))}; "
                f"known: {', '.join(f.name for f in fields(cls))}"
            )
        schedules = {name: _schedule(name, value) for name, value in raw.pop("schedules", {}).items()}
        emails = tuple(raw.pop("notification_emails", ()))
        sheets = GoogleSheetsSetting(**raw.pop("google_sheets", {}))
        fred = raw.pop("fred", {})
        fred_setting = FredSetting(**{**fred, **({"series": tuple(fred["series"])} if "series" in fred else {})})
        av = raw.pop("alpha_vantage", {})
        av_setting = AlphaVantageSetting(
            **{**av, **({"watchlist": tuple(av["watchlist"])} if "watchlist" in av else {})}
        )
        return cls(
            notification_emails=emails,
            schedules=schedules,
            google_sheets=sheets,
            fred=fred_setting,
            alpha_vantage=av_setting,
            **raw,
        )

    @property
    def names(self) -> Names:
        """The resource names of this deployment (``functions/common/contract.py``), from ``prefix``."""
        return Names(self.prefix)

    def schedule_for(self, spec: DomainSpec) -> ScheduleSetting:
        """The schedule of ``spec``: its setting, the spec's expression unless the setting names one.

        Not enabled when the domain is absent from ``schedules`` (opt-in).
        """
        setting = self.schedules.get(spec.name, ScheduleSetting())
        return ScheduleSetting(enabled=setting.enabled, expression=setting.expression or spec.schedule)

    def check_schedules(self, domains: Iterable[str]) -> None:
        """Refuse a schedule setting for a domain that is not deployed.

        A typo would leave the domain it meant unscheduled, silently. Raises ValueError naming it and the known domains.
        """
        unknown = sorted(set(self.schedules) - set(domains))
        if unknown:
            raise ValueError(
                f"context {CONTEXT_KEY}.schedules names no deployed domain: {', '.join(unknown)}; "
                f"known: {', '.join(sorted(domains))}"
            )

    def optional_enabled(self, name: str) -> bool:
        """Whether the optional setting ``name`` (e.g. "google_sheets") is switched on."""
        return self._optional(name).enabled

    def optional_environment(self, name: str) -> dict[str, str]:
        """Environment of the functions that use the optional setting ``name`` (empty when off)."""
        setting = self._optional(name)
        return setting.environment() if setting.enabled else {}

    def _optional(self, name: str) -> OptionalSetting:
        if name not in OPTIONAL_SETTINGS:
            raise ValueError(f"unknown optional setting {name!r}; known: {', '.join(OPTIONAL_SETTINGS)}")
        setting: OptionalSetting = getattr(self, name)
        return setting
