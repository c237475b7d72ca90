"""Which optional global sources (FRED, Alpha Vantage) a stocks run fetches, and with which keys.

A source is on when the stack gave the Fetch function the NAME of its key secret (``FRED_SECRET``,
``ALPHA_VANTAGE_SECRET``: set only when the CDK context turns the source on). The key itself is read
from Secrets Manager through Powertools Parameters by the handler (``read_secret``), never from the
environment, and is never logged. The secret holds JSON ``{"api_key": "<key>"}``.

Environment (besides the secret names; set by the stack from ``cdk.json``):

- ``FRED_SERIES``: comma-separated FRED series ids (default DFF,CPIAUCSL,VIXCLS,DGS10).
- ``ALPHA_VANTAGE_WATCHLIST``: comma-separated symbols (default the SPDR sector ETFs and SPY);
  ``ALPHA_VANTAGE_MARKET``: the market symbol of the risk metrics (SPY), fetched even when not listed;
  ``ALPHA_VANTAGE_FUNCTION``: TIME_SERIES_DAILY_ADJUSTED (default; premium at Alpha Vantage) or
  TIME_SERIES_DAILY (free); ``ALPHA_VANTAGE_PAUSE_S``: seconds between two requests (free tier: 12).

A key that cannot be read (the deploy placeholder, a missing secret) turns the source off for the
run with a warning in :attr:`GlobalSources.problems`; it never fails the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from functions.stocks.fred import DEFAULT_SERIES, check_series

DEFAULT_WATCHLIST = ("XLB", "XLC", "XLE", "XLF", "XLI", "XLK", "XLP", "XLRE", "XLU", "XLV", "XLY", "SPY")
DEFAULT_MARKET = "SPY"
ADJUSTED = "TIME_SERIES_DAILY_ADJUSTED"
UNADJUSTED = "TIME_SERIES_DAILY"
FUNCTIONS = (ADJUSTED, UNADJUSTED)
FREE_TIER_PAUSE_S = 12.0  # 5 requests a minute, the strictest free-tier pace Alpha Vantage has published


@dataclass(frozen=True)
class GlobalSources:
    """The optional global sources of a stocks run (FRED, Alpha Vantage) and their settings.

    A key of None turns its source off. ``problems`` holds why a configured source is off for this run
    (its key secret unreadable or empty): warnings for the email, never a failure.
    """

    fred_key: str | None = None  # None: FRED off
    fred_series: tuple[str, ...] = DEFAULT_SERIES
    alpha_vantage_key: str | None = None  # None: Alpha Vantage off
    watchlist: tuple[str, ...] = DEFAULT_WATCHLIST
    market: str = DEFAULT_MARKET
    function: str = ADJUSTED
    pause_s: float = FREE_TIER_PAUSE_S
    problems: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never print the keys
        """Show which sources are on, never their keys."""
        return (
            f"GlobalSources(fred={'on' if self.fred_key else 'off'}, alpha_vantage="
            f"{'on' if self.alpha_vantage_key else 'off'}, problems={list(self.problems)})"
        )

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols to fetch: the watchlist, and the market when it is not in it."""
        return self.watchlist if self.market in self.watchlist else (*self.watchlist, self.market)


def _names(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(part.strip().upper() for part in (text or "").split(",") if part.strip())
    return names or default


def _key(name: str, label: str, read_secret: Callable[[str], str], problems: list[str]) -> str | None:
    try:
        payload = json.loads(read_secret(name))
    except Exception as exc:
        problems.append(f"{label} off for this run: its key secret {name} cannot be read ({type(exc).__name__})")
        return None
    key = payload.get("api_key") if isinstance(payload, dict) else None
    if not isinstance(key, str) or not key.strip():
        problems.append(
            f"{label} off for this run: its key secret {name} holds no api_key (still the deploy placeholder? "
            f'aws secretsmanager put-secret-value --secret-id {name} --secret-string \'{{"api_key": "..."}}\')'
        )
        return None
    return key.strip()


def from_environment(env: Mapping[str, str], read_secret: Callable[[str], str]) -> GlobalSources:
    """The global sources of this run from the Fetch function's environment (see the module doc)."""
    problems: list[str] = []
    fred_key = _key(env["FRED_SECRET"], "FRED", read_secret, problems) if env.get("FRED_SECRET") else None
    av_key = (
        _key(env["ALPHA_VANTAGE_SECRET"], "Alpha Vantage", read_secret, problems)
        if env.get("ALPHA_VANTAGE_SECRET")
        else None
    )
    function = (env.get("ALPHA_VANTAGE_FUNCTION") or ADJUSTED).strip().upper()
    if function not in FUNCTIONS:
        raise ValueError(f"ALPHA_VANTAGE_FUNCTION must be one of {FUNCTIONS}, got {function!r}")
    return GlobalSources(
        fred_key=fred_key,
        fred_series=tuple(check_series(s) for s in _names(env.get("FRED_SERIES"), DEFAULT_SERIES)),
        alpha_vantage_key=av_key,
        watchlist=_names(env.get("ALPHA_VANTAGE_WATCHLIST"), DEFAULT_WATCHLIST),
        market=(env.get("ALPHA_VANTAGE_MARKET") or DEFAULT_MARKET).strip().upper(),
        function=function,
        pause_s=float(env.get("ALPHA_VANTAGE_PAUSE_S") or FREE_TIER_PAUSE_S),
        problems=tuple(problems),
    )
