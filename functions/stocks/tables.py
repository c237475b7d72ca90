"""The stocks domain's Glue tables: where each lives, its partition, columns, description and column comments.

Types follow the Parquet the Glue job writes (glue/stocks_transform.py); prices are exact decimals in the
record's currency, indicators doubles. Fractions are plain ratios (0.01 = 1%); ``_pct`` columns percentages.
Standard library only: the stack (``stacks/specs.py``) reads it too.
"""

from __future__ import annotations

from functions.common.tables import Table

PRICE = "decimal(22,8)"
_PRICE = "price per share in the record's currency (BRL since 1994-07), exact, divided by quote_factor"
_SHARE_PRICE = "per share, in the row's currency (BRL since 1994-07)"

B3_QUOTES_COMMENTS = {
    "ticker": "B3 trading code (CODNEG); options carry series, strike and expiry in it",
    "bdi_code": "CODBDI: B3's bulletin group (02 round lot, 96 fractional, 78 options...)",
    "market_type": "TPMERC: 010 spot, 020 fractional, 030 forward, 070/080 options...",
    "term_days": "PRAZOT: days of a forward contract; empty otherwise",
    "currency": "MODREF: the currency of the record's prices (R$ since the 1994 Real plan)",
    "open": _PRICE,
    "high": _PRICE,
    "low": _PRICE,
    "avg_price": _PRICE,
    "close": _PRICE,
    "best_bid": _PRICE,
    "best_ask": _PRICE,
    "strike": "strike price per share (options), in the record's currency, exact",
    "trades": "number of trades in the session",
    "quantity": "securities traded (shares or contracts)",
    "volume": "traded value in the record's currency (VOLTOT / 100), exact",
    "quote_factor": "FATCOT: the file's prices were per this many shares",
    "strike_points": "PTOEXE: strike in points (index options), exact",
    "expiration": "DATVEN: expiry date (options and forwards)",
    "distribution": "DISMES: the share's distribution number; it changes when the share goes ex a dividend, "
    "interest on equity, bonus, subscription or split",
    "source_line": "line of the COTAHIST file (header = 1)",
}

IBOV_PORTFOLIO_COMMENTS = {
    "theoretical_quantity": "theoretical quantity of shares in the index",
    "weight_pct": "participation in the index, percent (1.5 = 1.5%)",
    "reducer": "the index reducer (redutor): level = sum(quantity x close) / reducer",
}

BCB_SERIES_COMMENTS = {
    "code": "SGS series code (432, 11, 12, 433, 1)",
    "date": "the SGS point's date (first day of the month for monthly series)",
    "value": "in the series' unit: selic_target % a year, selic_daily and cdi_daily % a day, "
    "ipca_monthly % a month, usd_brl BRL per USD (PTAX sell)",
}

INDICATOR_COMMENTS = {
    "close": _SHARE_PRICE,
    "daily_return": "close / previous close - 1, a fraction (0.01 = 1%)",
    "log_return": "ln(close / previous close)",
    **{f"ma_{n}": f"mean close over the last {n} sessions, {_SHARE_PRICE}" for n in (5, 21, 63, 252)},
    **{f"high_{n}": f"max high over the last {n} sessions, {_SHARE_PRICE}" for n in (21, 252)},
    **{f"low_{n}": f"min low over the last {n} sessions, {_SHARE_PRICE}" for n in (21, 252)},
    "vol_21": "stddev of log returns over 21 sessions x sqrt(252): annualised, a fraction",
    "drawdown_252": "close / max close of the last 252 sessions - 1, a fraction (<= 0)",
    "ibov_level": "IBOV level reproduced from the portfolio, index points",
    "ibov_return": "IBOV level / previous session's - 1, a fraction",
    "beta_63": "beta of daily returns against IBOV over 63 sessions, a ratio",
    "sharpe_63": "annualised Sharpe ratio over CDI, 63 sessions",
    "sharpe_252": "annualised Sharpe ratio over CDI, 252 sessions",
    "weight_pct": "weight in IBOV that day, percent",
    "currency": "MODREF of the close: the currency of every price of the row (R$ since the 1994 Real plan)",
    "currency_changed": "true when the previous session was quoted in another currency: returns are NULL "
    "and every window restarts here (never two currencies in one figure)",
    "distribution_changed": "true when DISMES differs from the previous session's: the share went ex a "
    "distribution or split, which the prices are not adjusted for",
}

TABLES = (
    Table(
        name="b3_quotes",
        comments=B3_QUOTES_COMMENTS,
        zone="curated",
        partition=("dt_ref", "date"),
        columns={
            "ticker": "string",
            "bdi_code": "string",
            "market_type": "string",
            "short_name": "string",
            "specification": "string",
            "term_days": "string",
            "currency": "string",
            "open": PRICE,
            "high": PRICE,
            "low": PRICE,
            "avg_price": PRICE,
            "close": PRICE,
            "best_bid": PRICE,
            "best_ask": PRICE,
            "trades": "int",
            "quantity": "bigint",
            "volume": "decimal(20,2)",
            "strike": PRICE,
            "option_correction": "tinyint",
            "expiration": "date",
            "quote_factor": "int",
            "strike_points": "decimal(22,6)",
            "isin": "string",
            "distribution": "smallint",
            "source_line": "int",
        },
        description="B3 daily quotes (COTAHIST), one row per instrument and trading day, all markets; "
        "an instrument is (ticker, market_type, term_days): forward contracts (030) trade at several terms; "
        "prices per share (divided by the quote factor), in the currency of column currency (MODREF)",
    ),
    Table(
        name="b3_ibov_portfolio",
        comments=IBOV_PORTFOLIO_COMMENTS,
        zone="curated",
        partition=("dt_ref", "date"),
        columns={
            "ticker": "string",
            "name": "string",
            "type": "string",
            "theoretical_quantity": "bigint",
            "weight_pct": "decimal(9,3)",
            "sector": "string",
            "reducer": "decimal(24,8)",
        },
        description="IBOV theoretical portfolio of each day: quantities, weights, sectors and the reducer",
    ),
    Table(
        name="bcb_series",
        comments=BCB_SERIES_COMMENTS,
        zone="curated",
        partition=("series", "string"),
        columns={"code": "int", "date": "date", "value": "decimal(20,8)"},
        description="BCB SGS series: selic_target (% a.a.), selic_daily, cdi_daily (% a.d.), "
        "ipca_monthly (% a.m.), usd_brl (PTAX sell)",
    ),
    Table(
        name="macro_series",
        zone="curated",
        partition=("series", "string"),
        columns={"source": "string", "date": "date", "value": "decimal(20,8)"},
        comments={
            "source": "'fred' (St. Louis Fed FRED API)",
            "date": "the observation date as the source publishes it (monthly series: the month's first day)",
            "value": "as published, in the series' unit: DFF and DGS10 percent per year, CPIAUCSL index "
            "1982-84=100, VIXCLS index points; NULL where FRED publishes '.' (no value that day)",
        },
        description="Global macro series next to the BCB ones (source, series, date, value): FRED DFF, "
        "CPIAUCSL, VIXCLS, DGS10 by default; a revised value replaces the earlier one",
    ),
    Table(
        name="global_quotes",
        zone="curated",
        partition=("symbol", "string"),
        columns={
            "date": "date",
            "open": PRICE,
            "high": PRICE,
            "low": PRICE,
            "close": PRICE,
            "adjusted_close": PRICE,
            "volume": "bigint",
            "dividend_amount": PRICE,
            "split_coefficient": PRICE,
            "function": "string",
        },
        comments={
            "date": "the US session (US/Eastern)",
            "close": "USD per share, as traded (not adjusted)",
            "adjusted_close": "USD, back-adjusted for dividends and splits as of the day it was fetched (a later "
            "dividend rewrites it: do not chain adjusted closes fetched on different days); "
            "NULL from TIME_SERIES_DAILY",
            "dividend_amount": "USD per share going ex that session; NULL from TIME_SERIES_DAILY",
            "split_coefficient": "shares after / before a split that session, 1.0 otherwise; "
            "NULL from TIME_SERIES_DAILY",
            "function": "the Alpha Vantage endpoint of the row: TIME_SERIES_DAILY_ADJUSTED or TIME_SERIES_DAILY",
        },
        description="Alpha Vantage daily prices of the US watchlist (SPDR sector ETFs and SPY by default), one row "
        "per symbol and session; a refetched session replaces the earlier row",
    ),
    Table(
        name="stock_indicators",
        comments=INDICATOR_COMMENTS,
        zone="refined",
        partition=("dt_ref", "date"),
        columns={
            "ticker": "string",
            "close": "double",
            "daily_return": "double",
            "log_return": "double",
            "ma_5": "double",
            "ma_21": "double",
            "ma_63": "double",
            "ma_252": "double",
            "high_21": "double",
            "low_21": "double",
            "high_252": "double",
            "low_252": "double",
            "vol_21": "double",
            "drawdown_252": "double",
            "ibov_level": "double",
            "ibov_return": "double",
            "beta_63": "double",
            "sharpe_63": "double",
            "sharpe_252": "double",
            "in_ibov": "boolean",
            "weight_pct": "double",
            "currency": "string",
            "currency_changed": "boolean",
            "distribution_changed": "boolean",
        },
        description="Indicators per spot-market ticker (TPMERC 010) and session: returns, moving averages, "
        "extremes, volatility, drawdown, beta and Sharpe against IBOV and CDI; never across two currencies "
        "(currency_changed); distribution_changed flags corporate events (prices are not adjusted)",
    ),
    Table(
        name="sector_performance",
        zone="refined",
        partition=("dt_ref", "date"),
        columns={
            "sector": "string",
            "constituents": "int",
            "return_1d": "double",
            "return_1m": "double",
            "return_3m": "double",
            "return_ytd": "double",
            "vol_21": "double",
            "return_1y": "double",
            "return_cumulative": "double",
            "sharpe_252": "double",
            "relative_strength": "double",
        },
        comments={
            "constituents": "members with a close on the session and on the previous market session",
            "return_1d": "fraction; sum(q x close) / sum(q x previous close) - 1 over the members",
            "return_1m": "fraction; return_1d compounded over the sector's last 21 sessions",
            "return_3m": "fraction; return_1d compounded over the sector's last 63 sessions",
            "return_ytd": "fraction; return_1d compounded over the sessions of the calendar year so far",
            "vol_21": "fraction, annualised: stddev_samp(return_1d) over 21 sessions x sqrt(252)",
            "return_1y": "fraction; return_1d compounded over the sector's last 252 sessions",
            "return_cumulative": "fraction; return_1d compounded since the sector's first session (restarts "
            "after a currency change)",
            "sharpe_252": "annualised ratio; (mean return_1d - mean CDI) / stddev_samp(return_1d) x sqrt(252), "
            "252 sessions; NULL for a zero deviation",
            "relative_strength": "ratio; (1 + return_3m) / (1 + IBOV return over the last 63 sessions); 1 = in line",
        },
        description="IBOV sectors per session: weighted daily, 1-month, 3-month, year-to-date, 1-year and "
        "cumulative returns, 21-session volatility, 252-session Sharpe, strength against IBOV, constituents",
    ),
    Table(
        name="risk_metrics",
        zone="refined",
        partition=("dt_ref", "date"),
        columns={
            "level": "string",
            "name": "string",
            "var_95": "double",
            "var_99": "double",
            "es_95": "double",
            "volatility_21": "double",
            "volatility_63": "double",
            "volatility_252": "double",
            "max_drawdown_252": "double",
            "beta_252": "double",
            "alpha_252": "double",
            "sharpe_252": "double",
            "sortino_252": "double",
            "correlation_ibov_63": "double",
            "correlation_ibov_252": "double",
            "benchmark": "string",
        },
        comments={
            "level": "'ticker' (a spot-market ticker), 'sector' (an IBOV sector, its weighted daily return) or "
            "'etf' (a symbol of the US watchlist, Alpha Vantage; against benchmark SPY, risk-free FRED DFF)",
            "name": "the ticker or the sector",
            "var_95": "fraction of value, 1 day: historical VaR 95%, minus the 5% quantile (linear interpolation) "
            "of the last 252 daily returns; a loss is positive",
            "var_99": "fraction of value, 1 day: historical VaR 99% over the last 252 daily returns",
            "es_95": "fraction of value, 1 day: expected shortfall (CVaR) 95%, minus the mean of the returns at or "
            "below the 5% quantile, last 252",
            "volatility_21": "fraction, annualised: stddev_samp of the last 21 daily simple returns x sqrt(252)",
            "volatility_63": "fraction, annualised: stddev_samp of the last 63 daily simple returns x sqrt(252)",
            "volatility_252": "fraction, annualised: stddev_samp of the last 252 daily simple returns x sqrt(252)",
            "max_drawdown_252": "fraction, <= 0: the worst fall from a running peak of the value over the last "
            "252 returns",
            "beta_252": "ratio: covar_samp(return, benchmark return) / var_samp(benchmark return), last 252 sessions",
            "alpha_252": "fraction per year: Jensen's alpha, (mean(r - rf) - beta x mean(benchmark - rf)) x 252; "
            "rf: CDI (etf: FRED DFF as (1 + DFF/100)^(1/252) - 1 per session, NULL without it)",
            "sharpe_252": "annualised ratio: (mean r - mean cdi) / stddev_samp(r) x sqrt(252); NULL for zero deviation",
            "sortino_252": "annualised ratio: mean(r - cdi) / sqrt(mean(min(r - cdi, 0)^2)) x sqrt(252)",
            "correlation_ibov_63": "Pearson correlation of daily returns with the benchmark's (IBOV; level etf: "
            "SPY), last 63 sessions",
            "correlation_ibov_252": "Pearson correlation of daily returns with the benchmark's, last 252 sessions",
            "benchmark": "the market the beta, alpha and correlations are against: 'IBOV', or the US market "
            "symbol (SPY) for level 'etf'",
        },
        description="Risk per spot ticker, IBOV sector and US watchlist ETF (level) and session: 1-day "
        "historical VaR and expected shortfall, volatility, drawdown, beta and alpha against the benchmark (IBOV; "
        "SPY for ETFs), Sharpe and Sortino over CDI (FRED DFF for ETFs), correlation with the benchmark; a value "
        "needs a full window of sessions in one currency, else NULL",
    ),
    Table(
        name="trading_signals",
        zone="refined",
        partition=("dt_ref", "date"),
        columns={
            "level": "string",
            "name": "string",
            "ma_50": "double",
            "ma_200": "double",
            "ma_trend": "string",
            "ma_cross": "string",
            "ma_cross_date": "date",
            "momentum_12_1": "double",
            "rsi_14": "double",
            "breakout_252": "string",
            "rotation_rank": "int",
            "rotation_rank_change": "int",
        },
        comments={
            "level": "'ticker' (moving averages, momentum, RSI, breakout) or 'sector' (momentum and rotation)",
            "name": "the ticker or the sector",
            "ma_50": "price (the ticker's currency): mean close over the last 50 sessions",
            "ma_200": "price (the ticker's currency): mean close over the last 200 sessions",
            "ma_trend": "'up' when ma_50 > ma_200, 'down' when below",
            "ma_cross": "'golden' (ma_50 crossed above ma_200) or 'death' (below): the latest cross of the last "
            "63 sessions",
            "ma_cross_date": "the session of that cross",
            "momentum_12_1": "fraction: close 21 sessions ago / close 252 sessions ago - 1 (sectors: return_1d "
            "compounded over the same span)",
            "rsi_14": "0-100: Wilder's RSI(14) seeded and smoothed over the last 100 price changes",
            "breakout_252": "'up' (close above every close of the previous 252 sessions), 'down' (below), 'none'",
            "rotation_rank": "sectors: rank of momentum_12_1 among the sectors that day, 1 = strongest",
            "rotation_rank_change": "sectors: previous session's rank - this rank (positive: moved up)",
        },
        description="Descriptive price signals per spot ticker and session (50/200 moving-average trend and "
        "cross, 12-1 momentum, RSI(14), 252-session breakout) and sector rotation ranks; facts, not advice",
    ),
    Table(
        name="correlations",
        zone="refined",
        partition=("dt_ref", "date"),
        columns={
            "window": "int",
            "left": "string",
            "right": "string",
            "kind": "string",
            "correlation": "double",
            "observations": "int",
        },
        comments={
            "window": "sessions for kinds sector_sector and sector_factor (63, 252); months for "
            "sector_factor_monthly (12)",
            "left": "a sector",
            "right": "a sector (sector_sector) or a macro series (usd_brl, cdi_daily, ipca_monthly, FRED series)",
            "kind": "sector_sector: daily returns; sector_factor: daily return vs the factor's daily change; "
            "sector_factor_monthly: monthly return vs the factor's monthly change",
            "correlation": "Pearson correlation; NULL unless both have a value on every session (month) of the window",
            "observations": "sessions (months) of the window where both have a value",
        },
        description="Correlations at each month end (dt_ref: the month's last session): cross-sector daily "
        "returns over 63 and 252 sessions, each sector against macro factor changes",
    ),
)
