"""Comments of the catalog's columns, with their units, for the tables whose Catalog step gives
none itself (`functions.common.catalog.register` uses them). What `DESCRIBE` shows in Athena and in
`finlake query`. Money is in reais (BRL) unless the row says another currency; fractions are
plain ratios (0.01 = 1%); "_pct" columns are percentages (1.5 = 1.5%)."""

from __future__ import annotations

_PRICE = "price per share in the record's currency (BRL since 1994-07), exact, divided by quote_factor"
_SHARE_PRICE = "per share, in the row's currency (BRL since 1994-07)"

TABLE_COMMENTS: dict[str, dict[str, str]] = {
    "b3_quotes": {
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
    },
    "b3_ibov_portfolio": {
        "theoretical_quantity": "theoretical quantity of shares in the index",
        "weight_pct": "participation in the index, percent (1.5 = 1.5%)",
        "reducer": "the index reducer (redutor): level = sum(quantity x close) / reducer",
    },
    "bcb_series": {
        "code": "SGS series code (432, 11, 12, 433, 1)",
        "date": "the SGS point's date (first day of the month for monthly series)",
        "value": "in the series' unit: selic_target % a year, selic_daily and cdi_daily % a day, "
        "ipca_monthly % a month, usd_brl BRL per USD (PTAX sell)",
    },
    "stock_indicators": {
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
    },
    "sector_performance": {
        "return_1d": "weighted 1-session return of the sector, a fraction; NULL when a member changed currency",
        "return_1m": "compounded over 21 sessions, a fraction",
        "return_3m": "compounded over 63 sessions, a fraction",
        "return_ytd": "compounded since the first session of the year, a fraction",
        "vol_21": "annualised volatility of return_1d over 21 sessions, a fraction",
        "constituents": "IBOV constituents of the sector that day",
    },
    "cards_invoices": {
        "valor_fatura": "invoice amount, BRL, exact (decimal(18,2))",
        "valor_pagamento_minimo": "minimum payment, BRL, exact; estimated as 15% when the file has none",
        "minimo_estimado": "true when valor_pagamento_minimo was estimated",
        "source_file": "the raw file, as its S3 URI",
        "source_line": "line of the raw file (header = 1)",
    },
    "cards_payments": {
        "valor_pagamento": "payment amount, BRL, exact (decimal(18,2))",
        "source_file": "the raw file, as its S3 URI",
        "source_line": "line of the raw file (header = 1)",
    },
    "bank_monthly_summary": {
        "spend": "money out in the month, BRL (positive)",
        "income": "money in, BRL",
        "net": "income - spend, BRL",
        "spend_prev_month": "the previous month's spend, BRL",
        "spend_avg_3m": "mean spend of the 3 previous months, BRL",
        "spend_vs_prev_pct": "percent change against the previous month",
        "spend_vs_avg_3m_pct": "percent change against the 3-month mean",
        "card_spend": "credit-card spend, BRL",
        "credit_limit": "the card's credit limit, BRL",
        "card_limit_used_pct": "card_spend / credit_limit, percent",
    },
    "bank_installments": {"amount": "the installment's amount, BRL (negative: money out)"},
}
