"""The stocks workflow steps run by Lambda: fetch, validate, catalog (Transform is a Glue job).

Execution input: ``{"date": "YYYY-MM-DD"}`` for the daily run (default: today in
America/Sao_Paulo), ``{"year": "YYYY"}`` for a backfill from B3's yearly file, or
``{"inputs": [s3 URIs]}`` for files dropped by hand (COTAHIST .TXT/.ZIP, IBOV portfolio CSV/JSON).

Lake layout of the domain:

- raw:  ``stocks/cotahist/<file name>/<md5>.<ext>`` (the ZIP as B3 serves it),
  ``stocks/ibov/dt=<date>/<md5 of all pages>/page-<n>.json``,
  ``stocks/bcb/<series>/<start>_<end>/<md5>.json``; all as received, never rewritten.
- staging: ``<curated>/_staging/stocks/<run id>/{quotes,portfolio,series}/part-0.parquet``,
  read by the Glue job and removed by Catalog.
- quarantine: ``<curated>/quarantine/stocks/dt=<partition>/<file>.jsonl`` (bad records, with
  line and reason) and ``<file>.rejected.json`` (whole files: truncated, bad trailer, >1% bad).
- the Glue job writes curated ``b3_quotes``, ``b3_ibov_portfolio``, ``bcb_series`` and refined
  ``stock_indicators``, ``sector_performance``, ``risk_metrics``, ``trading_signals``, ``correlations``,
  and its result to ``<curated>/_runs/stocks/<run id>.json``.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from functions.common.catalog import register_written
from functions.common.http import (
    Http,
    IncompleteDownload,
    SourceError,
    SourceFormatError,
    SourceUnavailable,
    get_file,
    snippet,
    zip_problem,
)
from functions.common.lake import Lake, md5_hex, s3_uri
from functions.common.manifest import Manifest, Source, today_in_sao_paulo
from functions.common.naming import RunRequest
from functions.stocks import alpha_vantage, bcb, fred, ibov
from functions.stocks.cotahist import CotahistError, parse_cotahist, unzip_cotahist
from functions.stocks.global_sources import GlobalSources
from functions.stocks.tables import TABLES

DOMAIN = "stocks"
# What identifies an instrument in b3_quotes (B3 COTAHIST layout): the negotiation code (CODNEG, which for
# options also carries the series: underlying, call/put and expiry month letter, strike), the market (TPMERC)
# and, on the forward market (030), the term in days (PRAZOT): AERI3T trades at 31, 45, 60... days the same day.
QUOTE_KEY = "(dt_ref, ticker, market_type, term_days)"
B3_HISTORY_URL = "https://bvmf.bmfbovespa.com.br/InstDados/SerHist/"
SERIES_LOOKBACK = timedelta(days=400)  # the indicators' longest window (252 sessions) and then some

RESULT_PARTITIONS = {
    "b3_quotes": "quotes_partitions",
    "b3_ibov_portfolio": "portfolio_partitions",
    "bcb_series": "series",
    "macro_series": "macro_series",
    "global_quotes": "global_symbols",
    "stock_indicators": "indicator_partitions",
    "sector_performance": "sector_partitions",
    "risk_metrics": "risk_partitions",
    "trading_signals": "signal_partitions",
    "correlations": "correlation_partitions",
}


class InputError(ValueError):
    """A file fed by hand is not one of the formats the stocks domain reads."""


def _store_raw(lake: Lake, key: str, data: bytes, metadata: dict[str, str]) -> str:
    uri = s3_uri(lake.raw_bucket, key)
    if not lake.exists(uri):  # raw objects are written once, never replaced
        lake.put(uri, data, metadata=metadata)
    return uri


def _store_answer(lake: Lake, prefix: str, body: bytes, url: str, fetched_at: str) -> tuple[str, str]:
    """Store a series source's JSON answer in the raw zone; return (uri, md5).

    Store a JSON answer of a series source (BCB, FRED, Alpha Vantage) as raw ``<prefix>/<md5>.json`` with
    its URL (keys redacted), MD5 and fetch time; returns (uri, md5).
    """
    md5 = md5_hex(body)
    return _store_raw(
        lake, f"{prefix}/{md5}.json", body, {"source-url": url, "md5": md5, "fetched-at": fetched_at}
    ), md5


# -- Fetch -----------------------------------------------------------------------------------------


def fetch(
    request: RunRequest,
    *,
    lake: Lake,
    http: Http,
    now: datetime | None = None,
    global_sources: GlobalSources | None = None,
) -> Manifest:
    """The run's sources in the raw zone.

    Parameters
    ----------
    request
        The execution input: a ``date`` (default today in America/Sao_Paulo: B3's daily COTAHIST ZIP),
        a ``year`` (B3's yearly ZIP) or ``inputs`` (S3 URIs of files dropped by hand); ``force``
        reloads a COTAHIST file already ingested.
    lake
        The lake's buckets; raw answers are stored there as received, never rewritten.
    http
        The transport for B3, BCB SGS, FRED and Alpha Vantage.
    now
        The fetch time recorded in the raw objects' metadata (default: now, UTC).
    global_sources
        The optional global ones (FRED, Alpha Vantage) and their keys (None: both off); either
        failing is a warning in the email, never a failed run.

    Returns
    -------
    Manifest
        The sources to validate and ``new_data``; nothing new (a weekend, B3's 404 for a holiday, a
        COTAHIST file already ingested) leaves ``new_data`` False with a ``summary``. BCB being down is
        a warning: the run goes on with the series curated already holds.

    Raises
    ------
    SourceError
        When B3 answers the COTAHIST download with something other than a ZIP or a 404 (after retries).
    InputError
        For a file fed by hand that is neither COTAHIST nor an IBOV portfolio.
    IncompleteDownload
        For a truncated COTAHIST ZIP fed by hand.
    """
    fetched_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    if request.year:
        year = int(request.year)
        partition = {"year": str(year)}
        first, last = date(year, 1, 1), min(date(year, 12, 31), date.fromisoformat(today_in_sao_paulo()))
    else:
        day = date.fromisoformat(request.date or today_in_sao_paulo())
        partition = {"dt": day.isoformat()}
        first = last = day
    manifest = Manifest(run_id=request.run_id, domain=DOMAIN, partition=partition)
    ingested = lake.read_state(DOMAIN, "ingested.json")
    if request.inputs:
        sources = [_input_source(lake, uri) for uri in request.inputs]
        first, last = _span(sources, first, last)
    else:
        sources = _live_sources(lake, http, request, first, last, fetched_at, manifest)
    for source in sources:
        if source.kind == "cotahist" and not request.force and ingested.get(source.name) == source.md5:
            manifest.skipped.append(source.name)
        else:
            manifest.sources.append(source)
    if any(s.kind in {"cotahist", "portfolio_csv", "portfolio_json"} for s in manifest.sources):
        manifest.sources += _series_sources(lake, http, first, last, fetched_at, manifest)
        manifest.sources += _global_sources(
            lake, http, global_sources or GlobalSources(), first, last, fetched_at, manifest
        )
        manifest.new_data = True
    elif not manifest.summary:
        manifest.summary = "stocks: nothing new (COTAHIST already loaded: " + ", ".join(manifest.skipped) + ")"
    return manifest


def _input_source(lake: Lake, uri: str) -> Source:
    name = posixpath.basename(uri)
    data = lake.get(uri)
    kind = classify_input(name, data)
    if kind == "cotahist" and data.startswith(b"PK") and (problem := zip_problem(data)):
        raise IncompleteDownload(f"{name} ({uri}): {problem}; download it again (nothing was loaded)")
    return Source(uri=uri, name=name, resource_id=name, md5=md5_hex(data), source_url=uri, kind=kind)


def _span(sources: list[Source], first: date, last: date) -> tuple[date, date]:
    """The days the COTAHIST files fed by hand cover, from their B3 names (the series follow them)."""
    days = []
    for source in sources:
        if match := re.search(r"COTAHIST_A(\d{4})", source.name, re.IGNORECASE):
            days += [date(int(match[1]), 1, 1), date(int(match[1]), 12, 31)]
        elif match := re.search(r"COTAHIST_D(\d{2})(\d{2})(\d{4})", source.name, re.IGNORECASE):
            days.append(date(int(match[3]), int(match[2]), int(match[1])))
    today = date.fromisoformat(today_in_sao_paulo())
    return (min(days), min(max(days), today)) if days else (first, last)


def classify_input(name: str, data: bytes) -> str:
    """The kind of a file fed by hand: "cotahist", "portfolio_json" or "portfolio_csv" (by name, else by content).

    Raises
    ------
    InputError
        When it is none of them.
    """
    upper = name.upper()
    head = data[:64]
    if (
        upper.startswith("COTAHIST")
        or head.startswith(b"00COTAHIST")
        or (upper.endswith(".ZIP") and head.startswith(b"PK"))
    ):
        return "cotahist"
    if head.lstrip().startswith(b"{"):
        return "portfolio_json"
    if head.startswith(b"IBOV") or upper.startswith("IBOV"):
        return "portfolio_csv"
    raise InputError(
        f"{name}: not a COTAHIST file (.TXT/.ZIP), an IBOV portfolio CSV or a portfolio JSON "
        f"(starts with {snippet(head, 40)!r})"
    )


def cotahist_url(request: RunRequest, day: date) -> str:
    """The B3 COTAHIST download URL: the yearly ZIP for a ``year`` request, else the daily ZIP of ``day``."""
    name = f"COTAHIST_A{request.year}.ZIP" if request.year else f"COTAHIST_D{day:%d%m%Y}.ZIP"
    return B3_HISTORY_URL + name


def _live_sources(
    lake: Lake, http: Http, request: RunRequest, first: date, last: date, fetched_at: str, manifest: Manifest
) -> list[Source]:
    sources = []
    url = cotahist_url(request, first)
    name = url.rsplit("/", 1)[1]
    if not request.year and first.weekday() >= 5:
        manifest.summary = f"stocks: {first} is a weekend, B3 publishes no COTAHIST file"
        return []
    # An error page, a JSON error or a truncated ZIP at HTTP 200 is retried, then the run fails naming the URL.
    response = get_file(http, url, timeout=120, expect="zip", accept=frozenset({200, 404}), error=SourceFormatError)
    if response.status == 404:
        manifest.summary = f"stocks: no COTAHIST file for {first} ({name} not found: B3 holiday?)"
        return []
    if response.header("x-finlake-unwrapped"):
        manifest.warnings.append(f"{name}: B3 answered the ZIP wrapped in base64; unwrapped")
    md5 = md5_hex(response.body)
    meta = {"source-url": url, "md5": md5, "fetched-at": fetched_at}
    uri = _store_raw(lake, f"{DOMAIN}/cotahist/{name}/{md5}.zip", response.body, meta)
    sources.append(Source(uri=uri, name=name, resource_id=name, md5=md5, source_url=url, kind="cotahist"))
    if not request.year:  # B3 serves only the portfolio in force today
        try:
            pages, portfolio = ibov.B3PortfolioClient(http).fetch()
        except SourceUnavailable as exc:
            manifest.warnings.append(f"IBOV portfolio not fetched, using the one in force in curated: {exc}")
            return sources
        group = md5_hex(b"".join(pages))
        for number, body in enumerate(pages, start=1):
            key = f"{DOMAIN}/ibov/dt={portfolio.dt_ref}/{group}/page-{number}.json"
            page_url = ibov.portfolio_url(number)
            page_uri = _store_raw(
                lake, key, body, {"source-url": page_url, "md5": md5_hex(body), "fetched-at": fetched_at}
            )
            sources.append(
                Source(
                    uri=page_uri,
                    name=f"ibov-{portfolio.dt_ref}-p{number}",
                    resource_id=group,
                    md5=md5_hex(body),
                    source_url=page_url,
                    kind="portfolio_json",
                )
            )
    return sources


def _series_sources(
    lake: Lake, http: Http, first: date, last: date, fetched_at: str, manifest: Manifest
) -> list[Source]:
    """The BCB series over the indicators' lookback.

    BCB being down does not block the quotes: the run goes on with the series already in curated,
    and says so.
    """
    client = bcb.SgsClient(http)
    sources = []
    start = first - SERIES_LOOKBACK
    for name in bcb.SERIES:
        for url in client.urls(name, start, last):
            try:
                response = client.get(url)
            except SourceError as exc:  # down, an error page after retries, an answer SGS does not document
                manifest.warnings.append(f"BCB series {name} not fetched, using what curated holds: {exc}")
                break
            if retried := response.header("x-finlake-retried"):
                manifest.notes.append(f"BCB series {name}: the answer came after a retry ({snippet(retried, 160)})")
            window = "_".join(d.replace("/", "") for d in re.findall(r"data(?:Inicial|Final)=([0-9/]+)", url))
            uri, md5 = _store_answer(lake, f"{DOMAIN}/bcb/{name}/{window}", response.body, url, fetched_at)
            sources.append(Source(uri=uri, name=name, resource_id=name, md5=md5, source_url=url, kind="series"))
    return sources


def _global_sources(
    lake: Lake, http: Http, sources: GlobalSources, first: date, last: date, fetched_at: str, manifest: Manifest
) -> list[Source]:
    """FRED series (and Alpha Vantage quotes) over the lookback, when their keys are configured."""
    manifest.warnings += list(sources.problems)
    found = []
    if sources.fred_key:
        found += _fred_sources(
            lake, fred.FredClient(http, sources.fred_key), sources, first, last, fetched_at, manifest
        )
    if sources.alpha_vantage_key:
        manifest.job_args.setdefault("Transform", {})["--global_market"] = sources.market
        client = alpha_vantage.AlphaVantageClient(
            http, sources.alpha_vantage_key, function=sources.function, pause_s=sources.pause_s
        )
        found += _alpha_vantage_sources(lake, client, sources, first, last, fetched_at, manifest)
    return found


COMPACT_DAYS = 140  # Alpha Vantage's compact answer: the last 100 sessions, about 140 calendar days


def _alpha_vantage_sources(
    lake: Lake,
    client: alpha_vantage.AlphaVantageClient,
    sources: GlobalSources,
    first: date,
    last: date,
    fetched_at: str,
    manifest: Manifest,
) -> list[Source]:
    """One raw Alpha Vantage answer per watchlist symbol.

    One raw answer per symbol: the last 100 sessions (compact) for a daily run, the whole history (full)
    for a run over a longer span. A refused symbol is a warning; an invalid key, a premium endpoint or a rate
    limit that outlasts the backoff stops the others (each request would be refused, and costs quota).
    """
    size = "compact" if (last - first).days <= COMPACT_DAYS else "full"
    found = []
    for symbol in sources.symbols:
        url = client.url(symbol, size)
        try:
            response, _, limited = client.get(symbol, size)
        except SourceError as exc:
            manifest.warnings.append(f"Alpha Vantage {symbol} not fetched, using what curated holds: {exc}")
            if isinstance(exc, (alpha_vantage.InvalidKey, alpha_vantage.PremiumEndpoint, SourceUnavailable)):
                break
            continue
        if limited:
            manifest.notes.append(f"Alpha Vantage {symbol}: rate-limited {limited} time(s), answered after backoff")
        prefix = f"{DOMAIN}/alpha_vantage/{symbol}/{sources.function}-{size}/dt={last}"
        uri, md5 = _store_answer(lake, prefix, response.body, url, fetched_at)
        found.append(
            Source(uri=uri, name=symbol, resource_id=sources.function, md5=md5, source_url=url, kind="alpha_vantage")
        )
    return found


def _fred_sources(
    lake: Lake,
    client: fred.FredClient,
    sources: GlobalSources,
    first: date,
    last: date,
    fetched_at: str,
    manifest: Manifest,
) -> list[Source]:
    """One raw FRED answer per series.

    One raw answer per FRED series; a series FRED refuses or that cannot be fetched is a warning (an
    invalid key stops the others: they would be refused the same way).
    """
    start = first - SERIES_LOOKBACK
    found = []
    for series in sources.fred_series:
        url = client.url(series, start, last)  # redacted: what is stored and shown
        try:
            response = client.get(series, start, last)
        except SourceError as exc:
            manifest.warnings.append(f"FRED series {series} not fetched, using what curated holds: {exc}")
            if isinstance(exc, fred.InvalidKey):
                break
            continue
        if retried := response.header("x-finlake-retried"):
            manifest.notes.append(f"FRED series {series}: the answer came after a retry ({snippet(retried, 160)})")
        uri, md5 = _store_answer(
            lake, f"{DOMAIN}/fred/{series}/{start:%Y%m%d}_{last:%Y%m%d}", response.body, url, fetched_at
        )
        found.append(Source(uri=uri, name=series, resource_id=series, md5=md5, source_url=url, kind="fred"))
    return found


# -- Validate --------------------------------------------------------------------------------------


def validate(manifest: Manifest, *, lake: Lake) -> Manifest:
    """Parse every source exactly; stage Parquet for the Glue job; quarantine bad records.

    COTAHIST prices become decimal(22,8) per share, IBOV weights decimal(9,3), SGS values
    decimal(20,8); the staged Parquet files and the Transform job's arguments (``--staged_*``,
    ``--start_date``/``--end_date`` = the quote days, else the portfolio days) go into the returned
    manifest. Bad COTAHIST records go to ``quarantine/stocks/dt=<partition>/<file>.jsonl``.

    Raises
    ------
    CotahistError
        For a COTAHIST file unusable as a whole (truncated, bad trailer, too many bad records): it is
        recorded as ``<file>.rejected.json`` in the quarantine first.
    PortfolioError
        For an IBOV portfolio that does not validate (all or nothing).
    InputError
        When the sources hold neither a quote nor a portfolio.
    SourceFormatError
        For a stored BCB, FRED or Alpha Vantage answer that does not parse (``SgsError`` ...).
    """
    by_kind: dict[str, list[Source]] = defaultdict(list)
    for source in manifest.sources:
        by_kind[source.kind].append(source)
    staged: dict[str, str] = {}
    quotes = [_validate_cotahist(lake, manifest, source) for source in by_kind["cotahist"]]
    if quotes:
        staged["quotes"] = _stage(lake, manifest, "quotes", pa.concat_tables(quotes))
    portfolios = [ibov.parse_portfolio_csv(lake.get(s.uri)) for s in by_kind["portfolio_csv"]]
    pages: dict[str, list[Source]] = defaultdict(list)
    for source in by_kind["portfolio_json"]:
        pages[source.resource_id].append(source)
    portfolios += [ibov.parse_portfolio_json([lake.get(s.uri) for s in group]) for group in pages.values()]
    if portfolios:
        staged["portfolio"] = _stage(
            lake, manifest, "portfolio", pa.concat_tables([ibov.portfolio_table(p) for p in portfolios])
        )
    series: dict[str, list[list[bcb.SeriesPoint]]] = defaultdict(list)
    outside: dict[str, int] = defaultdict(int)
    for source in by_kind["series"]:
        body, window = lake.get(source.uri), bcb.url_window(source.source_url)
        points = bcb.parse_sgs(body, source.name, where=source.source_url)
        kept = [p for p in points if window is None or window[0] <= p.date <= window[1]]
        outside[source.name] += len(points) - len(kept)
        series[source.name].append(kept)
    for name, dropped in outside.items():
        if dropped:
            manifest.warnings.append(f"BCB series {name}: {dropped} points outside the window asked for dropped")
    points = [p for chunks in series.values() for p in bcb.merge_points(chunks)]
    if points:
        staged["series"] = _stage(lake, manifest, "series", bcb.series_table(points))
    observations = [
        o for s in by_kind["fred"] for o in fred.parse_observations(lake.get(s.uri), s.name, where=s.source_url)
    ]
    if observations:
        staged["macro"] = _stage(lake, manifest, "macro", fred.observations_table(observations))
    bars = [
        alpha_vantage.quotes_table(
            alpha_vantage.parse_daily(lake.get(s.uri), s.name, where=s.source_url), s.resource_id
        )
        for s in by_kind["alpha_vantage"]
    ]
    if bars:
        staged["global"] = _stage(lake, manifest, "global", pa.concat_tables(bars))
    days = _dates(quotes, portfolios)
    if not days:
        raise InputError("nothing to load: no quote and no portfolio in the sources")
    manifest.job_args["Transform"] = {
        **manifest.job_args.get("Transform", {}),
        "--run_id": manifest.run_id,
        "--staged_quotes": staged.get("quotes", ""),
        "--staged_portfolio": staged.get("portfolio", ""),
        "--staged_series": staged.get("series", ""),
        "--staged_macro": staged.get("macro", ""),
        "--staged_global": staged.get("global", ""),
        "--curated_root": s3_uri(lake.curated_bucket, ""),
        "--refined_root": s3_uri(lake.refined_bucket, ""),
        "--start_date": min(days).isoformat(),
        "--end_date": max(days).isoformat(),
        "--result_path": result_uri(lake, manifest.run_id),
    }
    manifest.job_args = {step: {k: v for k, v in args.items() if v} for step, args in manifest.job_args.items()}
    manifest.staged = list(staged.values())
    return manifest


def _dates(quotes: list[pa.Table], portfolios: list[ibov.Portfolio]) -> list[date]:
    days = [d for table in quotes for d in table.column("dt_ref").unique().to_pylist()]
    return days or [p.dt_ref for p in portfolios]


def result_uri(lake: Lake, run_id: str) -> str:
    """Where the Glue job writes its result JSON: ``s3://<curated>/_runs/stocks/<run_id>.json``."""
    return s3_uri(lake.curated_bucket, f"_runs/{DOMAIN}/{run_id}.json")


def _validate_cotahist(lake: Lake, manifest: Manifest, source: Source) -> pa.Table:
    data = lake.get(source.uri)
    try:
        name, content = unzip_cotahist(data) if data[:2] == b"PK" else (source.name, data)
        parsed = parse_cotahist(content, file_name=name)
    except CotahistError as exc:
        _reject(lake, manifest, source, str(exc))
        raise
    counts = manifest.counts
    counts.rows_in += parsed.records_in
    counts.rows_valid += parsed.table.num_rows
    counts.rows_quarantined += len(parsed.quarantined)
    if parsed.trailer_convention == "records":
        manifest.notes.append(f"{name}: trailer TOTREG {parsed.trailer_total:,} counts the records only")
    if parsed.quarantined:
        uri = _quarantine_uri(lake, manifest, f"{source.name}.jsonl")
        lines = [
            json.dumps(
                {"source": source.uri, "file": name, "line": b.line, "reason": b.reason, "raw": b.raw},
                ensure_ascii=False,
            )
            for b in parsed.quarantined
        ]
        lake.put(uri, ("\n".join(lines) + "\n").encode())
        manifest.quarantine.append(uri)
    return parsed.table


def _quarantine_uri(lake: Lake, manifest: Manifest, name: str) -> str:
    return s3_uri(lake.curated_bucket, f"quarantine/{DOMAIN}/{manifest.partition_label}/{name}")


def _reject(lake: Lake, manifest: Manifest, source: Source, reason: str) -> None:
    """A rejected file is copied to quarantine beside the reason; the raw object is left as it is."""
    copy = _quarantine_uri(lake, manifest, source.name)
    lake.copy(source.uri, copy)
    uri = _quarantine_uri(lake, manifest, f"{source.name}.rejected.json")
    lake.put(uri, json.dumps({"source": source.uri, "copy": copy, "file": source.name, "reason": reason}).encode())
    manifest.quarantine += [copy, uri]


def _stage(lake: Lake, manifest: Manifest, what: str, table: pa.Table) -> str:
    prefix = s3_uri(lake.curated_bucket, f"_staging/{DOMAIN}/{manifest.run_id}/{what}/")
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    lake.put(prefix + "part-0.parquet", buffer.getvalue())
    return prefix


# -- Catalog ---------------------------------------------------------------------------------------


def catalog(manifest: Manifest, *, lake: Lake, glue: Any) -> Manifest:
    """The stocks Catalog step: register tables and partitions, record what was ingested.

    Register the tables (eight; ten with the global sources) and the partitions the Glue job wrote; record
    what was ingested.

    Fails (RowAccountingError) when the quote records in != curated + quarantined + duplicates.
    """
    result = json.loads(lake.get(result_uri(lake, manifest.run_id)))
    manifest.counts.rows_curated = int(result.get("quotes_rows", 0))
    manifest.counts.rows_duplicates = int(result.get("quotes_duplicates_dropped", 0))
    manifest.counts.check("stocks quote records", QUOTE_KEY)
    written = {table.name: result.get(RESULT_PARTITIONS[table.name], []) for table in TABLES}
    for registered in register_written(glue, TABLES, lake=lake, written=written):
        manifest.tables.append(registered.qualified)
        manifest.partitions_written += registered.partitions
    ingested = lake.read_state(DOMAIN, "ingested.json")
    for source in manifest.sources:
        if source.kind == "cotahist":
            ingested[source.name] = source.md5
    lake.write_state(DOMAIN, "ingested.json", ingested)
    for prefix in manifest.staged:
        lake.delete(lake.list_uris(prefix))
    manifest.staged = []
    manifest.counts.rows_written = int(result.get("quotes_rows", 0))
    manifest.summary = summarize(manifest, result)
    return manifest


def headline_risk(headline: dict[str, Any]) -> list[str]:
    """The email's risk line from the Glue job's headline.

    The email's risk line: the sector with the highest 1-day VaR 95% and the ticker with the largest move
    on the last session computed (empty when the run computed neither).
    """
    worst, mover = headline.get("worst_sector_var") or {}, headline.get("biggest_mover") or {}
    parts = []
    if worst.get("sector"):
        parts.append(f"worst sector VaR 95% (1 day) {worst['sector']} {worst['var_95']:.2%}")
    if mover.get("ticker"):
        parts.append(f"biggest mover {mover['ticker']} {mover['daily_return']:+.2%}")
    if not parts:
        return []
    day = worst.get("dt_ref") or mover.get("dt_ref")
    return [f"Risk on {day}: " + "; ".join(parts)]


def summarize(manifest: Manifest, result: dict[str, Any]) -> str:
    """The run's email body: files, record counts, days, tables, quarantine, notes and warnings."""
    c = manifest.counts
    files = ", ".join(s.name for s in manifest.sources if s.kind == "cotahist") or "none"
    quote_days = sorted(result.get("quotes_partitions", []))
    span = f"{quote_days[0]} .. {quote_days[-1]}" if quote_days else "none"
    lines = [
        f"Stocks, run {manifest.run_id}",
        f"COTAHIST: {files}",
        f"Quote records: {c.line(QUOTE_KEY)}",
        f"Trading days loaded: {len(quote_days)} ({span})",
        f"IBOV portfolios: {len(result.get('portfolio_partitions', []))}; BCB series: "
        + (", ".join(result.get("series", [])) or "none"),
        *([f"Global macro series: {', '.join(result['macro_series'])}"] if result.get("macro_series") else []),
        *([f"Global quotes: {', '.join(result['global_symbols'])}"] if result.get("global_symbols") else []),
        f"Indicators: {result.get('indicator_rows', 0)} rows; sectors: {result.get('sector_rows', 0)} rows",
        *headline_risk(result.get("headline") or {}),
        f"Tables: {', '.join(manifest.tables)}",
    ]
    if manifest.quarantine:
        lines.append("Quarantine: " + ", ".join(manifest.quarantine))
    lines += [f"Note: {n}" for n in manifest.notes]
    lines += [f"Warning: {w}" for w in manifest.warnings]
    return "\n".join(lines)
