"""stocks in local mode: generated B3, BCB, FRED and Alpha Vantage answers, and the demo's backfill.

The codecs stay in their own modules (`finlake.samples.b3`, ``bcb``, ``fred``, ``alpha_vantage``,
served together by `finlake.samples.market_http.SampleMarketHttp`); this module only says how a
local run reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from finlake.local.plan import RunPlan
from finlake.local.workspace import Workspace
from finlake.samples import alpha_vantage, b3, fred
from finlake.samples.market_http import SampleMarketHttp
from finlake.samples.registry import SampleAdapter
from functions.common.manifest import today_in_sao_paulo

DEMO_YEARLY_RECORDS = 60_000  # spot stocks only: enough for a year of indicators, quick on local Spark
YEARLY_RECORDS = 20_000  # the generated yearly file of a `run stocks --year` (every IBOV ticker still in it)


def stocks_demo(ws: Workspace) -> list[RunPlan]:
    """A backfill from files, then the daily run of the last session, fetched from the sample B3 and BCB.

    The files are last year and this year's COTAHIST so far, and the IBOV portfolios of each 4-month period. Files are
    generated once into ``<workspace>/samples/stocks``; dates are São Paulo dates.
    """
    spec = ADAPTER.spec
    today = date.fromisoformat(today_in_sao_paulo())
    last = max(d for d in b3.trading_days(today - timedelta(days=10), today))
    folder = ws.samples_dir / "stocks"
    folder.mkdir(parents=True, exist_ok=True)
    inputs = []
    for year in (last.year - 1, last.year):
        until = min(date(year, 12, 31), last - timedelta(days=1))
        path = folder / f"COTAHIST_A{year}.ZIP"
        if not path.exists():
            content = b3.cotahist_yearly(year, records_target=DEMO_YEARLY_RECORDS, until=until)
            path.write_bytes(b3.cotahist_zip(path.name, content, f"COTAHIST_A{year}.TXT"))
        inputs.append(path)
        for day in b3.recomposition_days(year):
            if day < last:
                portfolio = folder / f"IBOV-portfolio-{day}.json"
                if not portfolio.exists():
                    portfolio.write_bytes(b3.ibov_portfolio_json(day))
                inputs.append(portfolio)
    return [
        RunPlan(spec, date=(last - timedelta(days=1)).isoformat(), inputs=inputs),
        RunPlan(spec, date=last.isoformat()),
    ]


class StocksAdapter(SampleAdapter):
    """stocks offline: every source answered by `SampleMarketHttp`, FRED and Alpha Vantage on with invented keys."""

    domain = "stocks"
    optional_secrets = frozenset({"fred", "alpha_vantage"})
    # whoever starts the embedded AWS (the runner, redrive, a test): the sample transport has no rate to
    # respect, so no free-tier pause between Alpha Vantage requests (12 s x 12 symbols)
    base_env: Mapping[str, Mapping[str, str]] = {"Fetch": {"ALPHA_VANTAGE_PAUSE_S": "0"}}
    bench_input = "one daily run: COTAHIST of a session, portfolio, BCB series"
    offline_years = (b3.ORIGIN.year, b3.LAST_DAY.year)
    offline_source = "B3"

    def sources_env(self, ws: Workspace) -> dict[str, dict[str, str]]:
        """The optional global sources on, as cdk.json's defaults would set them.

        Without the free tier's pause between Alpha Vantage requests.
        """
        from stacks.settings import AlphaVantageSetting, FredSetting

        env = FredSetting(enabled=True).environment() | AlphaVantageSetting(enabled=True, pause_s=0).environment()
        return {"Fetch": env}

    def transport(self, ws: Workspace, request: Mapping[str, Any]) -> SampleMarketHttp:
        """B3, BCB, FRED and Alpha Vantage answers as of the run's date, never after today.

        The run's date is its year's 31 December for ``--year``, today in São Paulo by default.
        """
        as_of = request.get("date") or (f"{request['year']}-12-31" if request.get("year") else today_in_sao_paulo())
        return SampleMarketHttp(
            min(date.fromisoformat(as_of), date.fromisoformat(today_in_sao_paulo())), yearly_records=YEARLY_RECORDS
        )

    def secret(self, ws: Workspace, key: str) -> str | None:
        """The invented API keys the sample FRED and Alpha Vantage accept."""
        keys = {"fred": fred.LOCAL_KEY, "alpha_vantage": alpha_vantage.LOCAL_KEY}
        return json.dumps({"api_key": keys[key]}) if key in keys else None

    def demo_plans(self, ws: Workspace) -> list[RunPlan]:
        """`stocks_demo`: the backfill from files, then the last session's daily run."""
        return stocks_demo(ws)

    def bench_plans(self, ws: Workspace) -> list[RunPlan]:
        """The daily run only: fetch, parse, Glue indicators for one session."""
        return stocks_demo(ws)[-1:]


ADAPTER = StocksAdapter()
