"""Generated market sources for local mode: B3 and BCB answers made on demand, never the network.

`SampleMarketHttp` implements the fetchers' `Http` protocol. It answers the URLs the stocks Fetch
step requests with files from the project's generators, in the formats the live sources use:

- ``.../InstDados/SerHist/COTAHIST_DddMMyyyy.ZIP``: a daily ZIP (404 on weekends and B3 holidays,
  as B3 answers for a day without a session);
- ``.../InstDados/SerHist/COTAHIST_Ayyyy.ZIP``: a yearly ZIP, up to ``as_of`` for the current year;
- ``.../indexProxy/indexCall/GetPortfolioDay/<base64>``: the IBOV portfolio JSON in force on ``as_of``;
- ``https://api.bcb.gov.br/dados/serie/bcdata.sgs.<code>/dados?...``: the SGS series for the window,
  for any date the real series covers (404 "Value(s) not found" before it starts);
- ``https://api.stlouisfed.org/fred/series/observations?...``: FRED's JSON (``finlake.samples.fred``),
  ``"."`` on US holidays, HTTP 400 with FRED's error object for a key other than the local one;
- ``https://www.alphavantage.co/query?function=TIME_SERIES_DAILY[_ADJUSTED]&...``: Alpha Vantage's JSON
  (``finlake.samples.alpha_vantage``) or its refusals (invalid key, premium endpoint for the free key).

The quirks the real sources have, met every time: the first SGS request of CDI (series 12) is answered
with SGS's XHTML error page at HTTP 200, as the real API sometimes does, and the retry gets the data;
the first Alpha Vantage request is answered with its burst rate-limit note (HTTP 200, ``Information``)
and the retry after the backoff gets the data;
the yearly COTAHIST's trailer counts the records only (``finlake.samples.b3``).

Anything else answers ``SourceUnavailable``, like an unrecorded URL in a cassette.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import parse_qs, urlsplit

from finlake.samples import alpha_vantage, b3, fred
from finlake.samples.bcb import sgs_answer, sgs_error_page
from functions.common.http import HttpResponse, SourceUnavailable
from functions.stocks.bcb import SERIES

_CODES = {code: name for name, code in SERIES.items()}
_DAILY = re.compile(r"/COTAHIST_D(\d{2})(\d{2})(\d{4})\.ZIP$", re.IGNORECASE)
_YEARLY = re.compile(r"/COTAHIST_A(\d{4})\.ZIP$", re.IGNORECASE)
_SGS = re.compile(r"bcdata\.sgs\.(\d+)/dados\?.*dataInicial=([0-9/]+)&dataFinal=([0-9/]+)")
ZIP = {"Content-Type": "application/zip"}
JSON = {"Content-Type": "application/json; charset=utf-8"}
FLAKY_SERIES = 12  # CDI: its first request gets the error page


class SampleMarketHttp:
    """The stocks domain's offline HTTP: generated B3, BCB SGS, FRED and Alpha Vantage answers as of ``as_of``.

    It answers as the real sources do, quirks included: a 404 page for a day without trading, one SGS error page (to
    the first request of the flaky series) and one Alpha Vantage rate-limit note (to its first request). ``requested``
    lists the URLs asked.
    """

    def __init__(self, as_of: date, *, seed: int = 7, yearly_records: int | None = None) -> None:
        self.as_of = as_of
        self.seed = seed
        self.yearly_records = yearly_records  # smaller yearly files for the demo and tests
        self.requested: list[str] = []
        self.error_pages = 0  # error pages answered so far (one, to the first CDI request)
        self.rate_limited = 0  # Alpha Vantage rate-limit notes answered so far (one, to its first request)

    def get(self, url: str, *, timeout: float) -> HttpResponse:
        """The answer to GET ``url`` (``timeout`` is ignored).

        Raises
        ------
        SourceUnavailable
            For a URL of none of the sources it answers (local mode never reaches the network).
        """
        self.requested.append(url)
        if match := _DAILY.search(url):
            day = date(int(match[3]), int(match[2]), int(match[1]))
            if not b3.is_trading_day(day):
                return HttpResponse(404, {"Content-Type": "text/html"}, b"<html><body>404 Not Found</body></html>")
            name = f"COTAHIST_D{day:%d%m%Y}"
            content = b3.cotahist_daily(day, seed=self.seed)
            return HttpResponse(200, ZIP, b3.cotahist_zip(f"{name}.ZIP", content, f"{name}.TXT"))
        if match := _YEARLY.search(url):
            year = int(match[1])
            content = b3.cotahist_yearly(
                year, seed=self.seed, records_target=self.yearly_records, until=min(self.as_of, date(year, 12, 31))
            )
            return HttpResponse(200, ZIP, b3.cotahist_zip(f"COTAHIST_A{year}.ZIP", content, f"COTAHIST_A{year}.TXT"))
        if "GetPortfolioDay/" in url:
            return HttpResponse(200, JSON, b3.ibov_portfolio_json(self.as_of, seed=self.seed))
        if (match := _SGS.search(url)) and int(match[1]) in _CODES:
            if int(match[1]) == FLAKY_SERIES and not self.error_pages:
                self.error_pages += 1
                return HttpResponse(200, {"Content-Type": "application/json;charset=UTF-8"}, sgs_error_page())
            start, end = (datetime.strptime(match[i], "%d/%m/%Y").date() for i in (2, 3))
            status, body = sgs_answer(_CODES[int(match[1])], start, end, seed=self.seed)
            return HttpResponse(status, JSON, body)
        if url.startswith("https://api.stlouisfed.org/fred/series/observations?"):
            query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
            start, end = (date.fromisoformat(query[k]) for k in ("observation_start", "observation_end"))
            status, body = fred.fred_answer(
                query.get("series_id", ""), start, end, query.get("api_key", ""), today=self.as_of, seed=self.seed
            )
            return HttpResponse(status, JSON, body)
        if url.startswith("https://www.alphavantage.co/query?"):
            query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
            if not self.rate_limited:
                self.rate_limited += 1
                status, body = alpha_vantage.refusal(alpha_vantage.BURST_LIMIT)
            else:
                status, body = alpha_vantage.av_answer(
                    query.get("function", ""),
                    query.get("symbol", ""),
                    query.get("outputsize", "compact"),
                    query.get("apikey", ""),
                    as_of=self.as_of,
                    seed=self.seed,
                )
            return HttpResponse(status, JSON, body)
        raise SourceUnavailable(f"no sample source for {url} (local mode never reaches the network)")
