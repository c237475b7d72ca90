"""Deterministic, realistic B3 sample data: COTAHIST files and the IBOV theoretical portfolio.

The numbers are invented (plausible magnitudes, not B3's published quotes). Same arguments and
seed, same bytes.

Universe (:data:`STOCKS`, :data:`BDRS`, :data:`LOT_QUOTED`)
    * 88 spot stocks with real B3 tickers (PETR4, VALE3, ITUB4 ...), a 12-character short name,
      the ESPECI specification (``PN      N2``), an ISIN-like code (``BRPETRACNPR6``, with a real
      ISIN check digit) and one of ten B3 sectors (:data:`SECTORS`). Spot market: TPMERC ``010``,
      CODBDI ``02``. Each also trades on the fractional market (TPMERC ``020``, CODBDI ``96``,
      ticker + ``F``).
    * 50 BDRs (``AAPL34`` ..., TPMERC ``010``, CODBDI ``02``, ESPECI ``DRN``).
    * 3 lot-quoted funds (``FNAM11`` ..., CODBDI ``14``, FATCOT ``1000``: prices per lot of 1,000,
      quantities in multiples of 1,000).
    * Options on the first 31 stocks of the list with distinct roots (PETR4, VALE3 ..., one
      series set per root, as the list is roughly by size): calls (TPMERC ``070``, CODBDI ``78``) and puts (``080``,
      ``82``), the next 3 monthly expirations (third Friday, or the trading day before it), 16
      strikes from 80% to 117.5% of the underlying's close on the series' listing day (91 days
      before expiration). Tickers are root + month letter (A-L calls, M-X puts) + ``200 + 5k``
      (``PETRG215``); NOMRES is the root + ``E`` and the ISIN is the underlying's, as in B3 files.

    That is about 3,200 records per trading day: a year is ~800k records and ~197 MB.

Prices
    Close prices are geometric random walks with a common market factor: the daily log return of
    instrument i is ``beta_i * m_t + sigma_i * e_it`` (m_t ~ N(0.0003, 0.012), betas 0.5-1.5),
    precomputed from the fixed origin 2019-01-02 over every trading day up to 2026-12-31 and seeded
    by ``seed`` only. Open/high/low/average, bid/ask, trades and quantities come from a generator
    seeded by ``(seed, date)``. So a ticker's record on a day is the same whether it is produced by
    :func:`cotahist_daily` or :func:`cotahist_yearly`. All prices are integer cents (per lot for
    FATCOT 1000); VOLTOT = quantity x average price / FATCOT exactly.

Trading calendar (:func:`trading_days`, :func:`is_trading_day`), 2019-2026 only
    Weekdays minus: 1 Jan, Carnival Monday and Tuesday (Easter - 48/-47 days), Good Friday
    (Easter - 2), 21 Apr (Tiradentes), 1 May, Corpus Christi (Easter + 60), 7 Sep, 12 Oct,
    2 Nov, 15 Nov, 24 Dec and 31 Dec (no trading at B3), 20 Nov from 2024 (national Black
    Consciousness Day), and the São Paulo holidays B3 observed until 2021: 25 Jan, 9 Jul and
    20 Nov. Easter dates are hard-coded in :data:`EASTER`. One-off closures are not modelled.

Files
    :func:`cotahist_daily` builds ``COTAHIST_DDDMMYYYY.TXT`` content for one trading day (it raises
    ``ValueError`` on a non-trading day: B3 publishes no file then); :func:`cotahist_yearly` the
    ``COTAHIST_AYYYY.TXT`` content of all trading days of a year; both CRLF, latin-1, header 00
    (generation date = the day, or the year's last trading day) and trailer 99. TOTREG counts header
    and trailer in the daily file (as the real 25/06/2021 one does) and the records only in the
    yearly file (as B3's yearly files do now). ``records_target`` keeps the first
    ``ceil(target / days)`` records of each day (spot stocks first), over at most ``target`` days,
    for small test files.
    :func:`cotahist_zip` wraps content in a ZIP with a given member name.

IBOV portfolio (:func:`ibov_portfolio`, ``_csv``, ``_json``)
    The 88 stocks, recomposed every four months (periods starting in January, May and September):
    theoretical quantities are fixed within a period, set on its first trading day from a
    per-period market-value share and that day's closes. ``weight_pct`` is each stock's share of
    ``sum(qty x close)`` on the day (3 decimals, largest remainder so they sum to 100.000).
    ``reducer`` (8 decimals, on every row) makes the index ``sum(qty x close) / reducer`` equal
    130,000 points on the period's first day. The CSV follows B3's "Carteira do Dia" download
    byte for byte in style (latin-1, LF, ``;`` and a trailing ``;`` on stock rows, pt-BR numbers);
    the JSON is B3's ``GetPortfolioDay`` answer with segment 2 (sector breakdown): rows sorted by
    sector then ticker, ``partAcum`` = the sector's total share.
"""

from __future__ import annotations

import functools
import io
import json
import math
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from functions.stocks.cotahist import FIELDS, RECORD_LENGTH, format_header, format_trailer

ORIGIN = date(2019, 1, 2)
LAST_DAY = date(2026, 12, 31)
IBOV_LEVEL = 130_000
OPTION_UNDERLYINGS = 31
OPTION_EXPIRATIONS = 3
OPTION_STRIKES = 16

SECTORS = (
    "Financeiro",
    "Petróleo, Gás e Biocombustíveis",
    "Materiais Básicos",
    "Utilidade Pública",
    "Consumo não Cíclico",
    "Consumo Cíclico",
    "Bens Industriais",
    "Saúde",
    "Comunicações",
    "Tecnologia da Informação",
)


@dataclass(frozen=True)
class Instrument:
    """One listed instrument the sample COTAHIST quotes.

    ``name`` and ``spec`` are COTAHIST's NOMRES and ESPECI; ``price`` is BRL at the origin (per lot of
    ``quote_factor``); ``weight`` its relative market value (its IBOV share before noise, and its liquidity);
    ``bdi`` COTAHIST's CODBDI.
    """

    ticker: str
    name: str  # NOMRES, at most 12 characters
    spec: str  # ESPECI, at most 10 characters
    sector: str
    price: float  # BRL at the origin (per lot for quote_factor 1000)
    weight: float  # relative market value (IBOV share before noise; liquidity)
    quote_factor: int = 1
    bdi: str = "02"
    isin_kind: str = ""

    @property
    def root(self) -> str:
        """The ticker's four-letter issuer root (``PETR`` of ``PETR4``)."""
        return self.ticker[:4]

    @property
    def isin(self) -> str:
        """A valid ISIN (check digit included) for the ticker: ``BR`` + root + the kind of share its suffix names."""
        kind = self.isin_kind or {"3": "ACNOR", "4": "ACNPR", "5": "ACNPA", "6": "ACNPB", "11": "CDAM0"}.get(
            self.ticker[4:], "ACNOR"
        )
        return _isin(f"BR{self.root}{kind}"[:11])


@functools.cache
def _isin(body: str) -> str:
    """``body`` (11 characters) + the ISIN check digit (Luhn on the letters-as-numbers string)."""
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n // 10 + n % 10
    return body + str((10 - total % 10) % 10)


_F, _P, _M, _U, _N, _C, _B, _S, _T, _I = SECTORS
STOCKS: tuple[Instrument, ...] = tuple(
    Instrument(t, n, s, sec, p, w)
    for t, n, s, sec, p, w in (
        ("PETR4", "PETROBRAS", "PN      N2", _P, 22.0, 7.5),
        ("VALE3", "VALE", "ON      NM", _M, 50.0, 11.0),
        ("ITUB4", "ITAUUNIBANCO", "PN      N1", _F, 33.0, 8.0),
        ("BBDC4", "BRADESCO", "PN      N1", _F, 30.0, 4.0),
        ("ABEV3", "AMBEV S/A", "ON", _N, 17.0, 2.4),
        ("WEGE3", "WEG", "ON      NM", _B, 18.0, 2.5),
        ("PETR3", "PETROBRAS", "ON      N2", _P, 24.0, 4.0),
        ("B3SA3", "B3", "ON      NM", _F, 12.0, 3.0),
        ("BBAS3", "BRASIL", "ON      NM", _F, 24.0, 3.5),
        ("ITSA4", "ITAUSA", "PN      N1", _F, 11.0, 2.6),
        ("ELET3", "ELETROBRAS", "ON      N1", _U, 30.0, 3.0),
        ("RENT3", "LOCALIZA", "ON      NM", _C, 40.0, 2.0),
        ("SUZB3", "SUZANO S.A.", "ON      NM", _M, 40.0, 2.0),
        ("EQTL3", "EQUATORIAL", "ON      NM", _U, 20.0, 2.2),
        ("JBSS3", "JBS", "ON      NM", _N, 16.0, 1.5),
        ("PRIO3", "PETRORIO", "ON      NM", _P, 8.0, 2.0),
        ("SBSP3", "SABESP", "ON      NM", _U, 45.0, 2.5),
        ("RDOR3", "REDE D OR", "ON      NM", _S, 30.0, 1.6),
        ("GGBR4", "GERDAU", "PN      N1", _M, 15.0, 1.2),
        ("BPAC11", "BTGP BANCO", "UNT     N2", _F, 20.0, 2.0),
        ("RADL3", "RAIADROGASIL", "ON      NM", _S, 20.0, 1.4),
        ("CSAN3", "COSAN", "ON      NM", _P, 15.0, 0.8),
        ("VIVT3", "TELEF BRASIL", "ON", _T, 45.0, 1.2),
        ("LREN3", "LOJAS RENNER", "ON      NM", _C, 35.0, 1.0),
        ("HAPV3", "HAPVIDA", "ON      NM", _S, 10.0, 1.0),
        ("UGPA3", "ULTRAPAR", "ON      NM", _P, 20.0, 1.0),
        ("BBSE3", "BBSEGURIDADE", "ON      NM", _F, 30.0, 1.0),
        ("RAIL3", "RUMO S.A.", "ON      NM", _B, 20.0, 1.4),
        ("CMIG4", "CEMIG", "PN      N1", _U, 10.0, 1.0),
        ("SANB11", "SANTANDER BR", "UNT", _F, 35.0, 0.7),
        ("VBBR3", "VIBRA", "ON      NM", _P, 20.0, 1.2),
        ("TIMS3", "TIM", "ON      NM", _T, 14.0, 0.8),
        ("EMBR3", "EMBRAER", "ON      NM", _B, 18.0, 1.5),
        ("KLBN11", "KLABIN S/A", "UNT     N2", _M, 18.0, 0.7),
        ("CPLE6", "COPEL", "PNB     N2", _U, 6.0, 0.8),
        ("BBDC3", "BRADESCO", "ON      N1", _F, 27.0, 0.9),
        ("ELET6", "ELETROBRAS", "PNB     N1", _U, 32.0, 0.6),
        ("TOTS3", "TOTVS", "ON      NM", _I, 25.0, 0.8),
        ("CCRO3", "CCR SA", "ON      NM", _B, 11.0, 0.6),
        ("ENEV3", "ENEVA", "ON      NM", _U, 12.0, 0.7),
        ("EGIE3", "ENGIE BRASIL", "ON      NM", _U, 38.0, 0.5),
        ("CMIN3", "CSNMINERACAO", "ON      N2", _M, 6.0, 0.3),
        ("CRFB3", "CARREFOUR BR", "ON      NM", _N, 15.0, 0.3),
        ("TAEE11", "TAESA", "UNT     N2", _U, 30.0, 0.4),
        ("CPFE3", "CPFL ENERGIA", "ON      NM", _U, 30.0, 0.4),
        ("ASAI3", "ASSAI", "ON      NM", _N, 14.0, 0.6),
        ("MGLU3", "MAGAZ LUIZA", "ON      NM", _C, 12.0, 0.5),
        ("BRFS3", "BRF SA", "ON      NM", _N, 20.0, 0.7),
        ("CSNA3", "SID NACIONAL", "ON", _M, 14.0, 0.4),
        ("ENGI11", "ENERGISA", "UNT     N2", _U, 40.0, 0.5),
        ("MULT3", "MULTIPLAN", "ON      N2", _C, 25.0, 0.4),
        ("ALOS3", "ALLOS", "ON      NM", _C, 22.0, 0.5),
        ("GOAU4", "GERDAU MET", "PN      N1", _M, 9.0, 0.3),
        ("USIM5", "USIMINAS", "PNA     N1", _M, 8.0, 0.2),
        ("BRKM5", "BRASKEM", "PNA     N1", _M, 30.0, 0.3),
        ("BRAP4", "BRADESPAR", "PN      N1", _M, 25.0, 0.3),
        ("CYRE3", "CYRELA REALT", "ON      NM", _C, 18.0, 0.4),
        ("MRVE3", "MRV", "ON      NM", _C, 12.0, 0.2),
        ("AZZA3", "AZZAS 2154", "ON      NM", _C, 60.0, 0.3),
        ("COGN3", "COGNA ON", "ON      NM", _C, 5.0, 0.2),
        ("YDUQ3", "YDUQS PART", "ON      NM", _C, 25.0, 0.2),
        ("CVCB3", "CVC BRASIL", "ON      NM", _C, 15.0, 0.1),
        ("PETZ3", "PETZ", "ON      NM", _C, 10.0, 0.1),
        ("VIVA3", "VIVARA S.A.", "ON      NM", _C, 25.0, 0.2),
        ("MRFG3", "MARFRIG", "ON      NM", _N, 9.0, 0.3),
        ("BEEF3", "MINERVA", "ON      NM", _N, 8.0, 0.2),
        ("SMTO3", "SAO MARTINHO", "ON      NM", _N, 25.0, 0.3),
        ("SLCE3", "SLC AGRICOLA", "ON      NM", _N, 20.0, 0.3),
        ("NTCO3", "GRUPO NATURA", "ON      NM", _N, 20.0, 0.5),
        ("PSSA3", "PORTO SEGURO", "ON      NM", _F, 30.0, 0.5),
        ("CXSE3", "CAIXA SEGURI", "ON      NM", _F, 12.0, 0.4),
        ("IRBR3", "IRBBRASIL RE", "ON      NM", _F, 40.0, 0.2),
        ("RECV3", "PETRORECSA", "ON      NM", _P, 20.0, 0.3),
        ("RAIZ4", "RAIZEN", "PN      N2", _P, 5.0, 0.2),
        ("BRAV3", "BRAVA", "ON      NM", _P, 20.0, 0.3),
        ("AURE3", "AUREN", "ON      NM", _U, 12.0, 0.2),
        ("STBP3", "SANTOS BRP", "ON      NM", _B, 8.0, 0.2),
        ("ECOR3", "ECORODOVIAS", "ON      NM", _B, 8.0, 0.1),
        ("POMO4", "MARCOPOLO", "PN      N2", _B, 5.0, 0.2),
        ("AZUL4", "AZUL", "PN      N2", _B, 20.0, 0.1),
        ("RAPT4", "RANDONPART", "PN      N1", _B, 10.0, 0.1),
        ("FLRY3", "FLEURY", "ON      NM", _S, 16.0, 0.2),
        ("HYPE3", "HYPERA", "ON      NM", _S, 30.0, 0.3),
        ("QUAL3", "QUALICORP", "ON      NM", _S, 20.0, 0.1),
        ("LWSA3", "LOCAWEB", "ON      NM", _I, 10.0, 0.1),
        ("INTB3", "INTELBRAS", "ON      NM", _I, 25.0, 0.1),
        ("POSI3", "POSITIVO TEC", "ON      NM", _I, 8.0, 0.05),
        ("CASH3", "MELIUZ", "ON      NM", _I, 6.0, 0.05),
    )
)
BDRS: tuple[Instrument, ...] = tuple(
    Instrument(t, n, "DRN", "", p, 0.02, isin_kind="BDR00")
    for t, n, p in (
        ("AAPL34", "APPLE", 40.0),
        ("MSFT34", "MICROSOFT", 50.0),
        ("AMZO34", "AMAZON", 30.0),
        ("GOGL34", "ALPHABET", 35.0),
        ("M1TA34", "META PLATFOR", 40.0),
        ("TSLA34", "TESLA INC", 60.0),
        ("NVDC34", "NVIDIA CORP", 20.0),
        ("NFLX34", "NETFLIX", 45.0),
        ("DISB34", "WALT DISNEY", 40.0),
        ("JPMC34", "JPMORGAN", 60.0),
        ("BOAC34", "BANK AMERICA", 45.0),
        ("CTGP34", "CITIGROUP", 50.0),
        ("GSGI34", "GOLDMANSACHS", 60.0),
        ("MSBR34", "MORGAN STAN", 70.0),
        ("VISA34", "VISA INC", 55.0),
        ("MSCD34", "MASTERCARD", 60.0),
        ("PYPL34", "PAYPAL HOLD", 30.0),
        ("COCA34", "COCA COLA", 50.0),
        ("PEPB34", "PEPSICO INC", 45.0),
        ("MCDC34", "MCDONALDS", 55.0),
        ("NIKE34", "NIKE", 40.0),
        ("SBUB34", "STARBUCKS", 40.0),
        ("WALM34", "WAL MART", 50.0),
        ("COWC34", "COSTCO WHOLE", 60.0),
        ("HOME34", "HOME DEPOT", 65.0),
        ("PGCO34", "PROCTER GAMB", 55.0),
        ("JNJB34", "JOHNSON", 60.0),
        ("PFIZ34", "PFIZER", 30.0),
        ("MRCK34", "MERCK", 45.0),
        ("ABTT34", "ABBOTT", 50.0),
        ("UNHH34", "UNITEDHEALTH", 70.0),
        ("EXXO34", "EXXON MOBIL", 50.0),
        ("CHVX34", "CHEVRON", 55.0),
        ("BOEI34", "BOEING", 45.0),
        ("CATP34", "CATERPILLAR", 60.0),
        ("GEOO34", "GE AEROSPACE", 35.0),
        ("ORCL34", "ORACLE", 45.0),
        ("CSCO34", "CISCO", 40.0),
        ("ITLC34", "INTEL", 30.0),
        ("A1MD34", "ADVANCED MIC", 50.0),
        ("IBMB34", "IBM", 60.0),
        ("ADBE34", "ADOBE INC", 55.0),
        ("SSFO34", "SALESFORCE", 50.0),
        ("BABA34", "ALIBABA GR", 35.0),
        ("MELI34", "MERCADOLIBRE", 60.0),
        ("BERK34", "BERKSHIRE", 70.0),
        ("ATTB34", "AT&T INC", 30.0),
        ("VERZ34", "VERIZON", 35.0),
        ("A1AP34", "ADVANCE AUTO", 60.0),
        ("A1CR34", "AMCOR PLC", 55.0),
    )
)
LOT_QUOTED: tuple[Instrument, ...] = tuple(
    Instrument(t, n, "CI *", "", p, 0.00002, quote_factor=1000, bdi="14", isin_kind="CTF01")
    for t, n, p in (("FNAM11", "FINAM", 0.20), ("FNOR11", "FINOR", 0.35), ("FSRF11", "FISET REFLOR", 0.50))
)
UNDERLYINGS: tuple[Instrument, ...] = STOCKS + LOT_QUOTED + BDRS

EASTER = {
    2019: date(2019, 4, 21),
    2020: date(2020, 4, 12),
    2021: date(2021, 4, 4),
    2022: date(2022, 4, 17),
    2023: date(2023, 4, 9),
    2024: date(2024, 3, 31),
    2025: date(2025, 4, 20),
    2026: date(2026, 4, 5),
}
_FIXED_HOLIDAYS = ((1, 1), (4, 21), (5, 1), (9, 7), (10, 12), (11, 2), (11, 15), (12, 24), (12, 25), (12, 31))


@functools.cache
def holidays(year: int) -> frozenset[date]:
    """B3 non-trading weekdays and holidays of ``year`` (2019-2026; see the module doc)."""
    if year not in EASTER:
        raise ValueError(f"no B3 calendar for {year}: the sample calendar covers 2019-2026")
    easter = EASTER[year]
    days = {date(year, m, d) for m, d in _FIXED_HOLIDAYS}
    days |= {easter + timedelta(days=offset) for offset in (-48, -47, -2, 60)}
    if year <= 2021:
        days |= {date(year, 1, 25), date(year, 7, 9), date(year, 11, 20)}
    if year >= 2024:
        days.add(date(year, 11, 20))
    return frozenset(days)


def is_trading_day(d: date) -> bool:
    """Whether B3 trades on ``d``: a weekday that is not a B3 holiday.

    Raises
    ------
    ValueError
        When ``d``'s year is outside the sample calendar (2019-2026).
    """
    return d.weekday() < 5 and d not in holidays(d.year)


def trading_days(start: date, end: date) -> list[date]:
    """Trading days from ``start`` to ``end``, both inclusive."""
    out = []
    day = start
    while day <= end:
        if is_trading_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


@functools.cache
def _calendar() -> tuple[tuple[date, ...], dict[date, int]]:
    days = tuple(trading_days(ORIGIN, LAST_DAY))
    return days, {d: i for i, d in enumerate(days)}


def _day_index(d: date) -> int:
    _days, index = _calendar()
    if d in index:
        return index[d]
    if not ORIGIN <= d <= LAST_DAY:
        raise ValueError(f"{d} is outside the sample calendar ({ORIGIN} to {LAST_DAY})")
    raise ValueError(f"{d} is not a B3 trading day")


def _previous_trading_day(d: date) -> date:
    while not is_trading_day(d):
        d -= timedelta(days=1)
    return d


@functools.cache
def _closes(seed: int) -> np.ndarray:
    """Close prices in cents, shape (trading days, len(UNDERLYINGS)), from the fixed origin."""
    days, _ = _calendar()
    rng = np.random.default_rng([seed, 2019])
    n = len(UNDERLYINGS)
    beta = rng.uniform(0.5, 1.5, n)
    sigma = rng.uniform(0.008, 0.022, n)
    market = rng.normal(0.0003, 0.012, len(days))
    noise = rng.normal(0.0, 1.0, (len(days), n))
    returns = market[:, None] * beta + noise * sigma
    returns[0] = 0.0
    start = np.array([i.price * 100 for i in UNDERLYINGS])
    return np.maximum(np.rint(start * np.exp(np.cumsum(returns, axis=0))), 1).astype(np.int64)


def close_cents(ticker: str, d: date, *, seed: int = 7) -> int:
    """The close of an underlying (stock, BDR or fund) on a trading day, in cents (per lot if FATCOT 1000)."""
    column = next(i for i, inst in enumerate(UNDERLYINGS) if inst.ticker == ticker)
    return int(_closes(seed)[_day_index(d), column])


# --------------------------------------------------------------------------- options


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
    return _previous_trading_day(friday)


def _expirations(d: date) -> list[date]:
    out: list[date] = []
    year, month = d.year, d.month
    while len(out) < OPTION_EXPIRATIONS:
        if date(year, month, 1) <= LAST_DAY:
            expiry = _third_friday(year, month)
        else:  # beyond the calendar: the plain third Friday
            first = date(year, month, 1)
            expiry = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
        if expiry >= d:
            out.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


@dataclass(frozen=True)
class _Series:
    underlying: int  # column in UNDERLYINGS
    ticker: str
    call: bool
    strike_cents: int
    expiration: date


def _option_columns() -> list[int]:
    """The first OPTION_UNDERLYINGS stocks with distinct roots (PETR4 carries the PETR options)."""
    roots: dict[str, int] = {}
    for column, stock in enumerate(STOCKS):
        roots.setdefault(stock.root, column)
    return list(roots.values())[:OPTION_UNDERLYINGS]


@functools.cache
def _option_series(seed: int, expirations: tuple[date, ...]) -> tuple[_Series, ...]:
    closes = _closes(seed)
    out = []
    for column in _option_columns():
        root = UNDERLYINGS[column].root
        for expiry in expirations:
            listing = max(_previous_trading_day(expiry - timedelta(days=91)), ORIGIN)
            center = int(closes[_day_index(listing), column])
            for call in (True, False):
                letter = chr(ord("A" if call else "M") + expiry.month - 1)
                for k in range(OPTION_STRIKES):
                    strike = max(round(center * (0.80 + 0.025 * k)), 1)
                    out.append(_Series(column, f"{root}{letter}{200 + 5 * k}", call, strike, expiry))
    return tuple(out)


# --------------------------------------------------------------------------- records of one day


@functools.cache
def _template(ticker: str, bdi: str, market: str, name: str, spec: str, term: str, isin: str) -> bytes:
    """The text part of a record (numeric fields left as zeros, filled in vectorised later)."""
    record = bytearray(b"0" * RECORD_LENGTH)
    for field, value in (
        ("TIPREG", "01"),
        ("CODBDI", bdi),
        ("CODNEG", ticker),
        ("TPMERC", market),
        ("NOMRES", name),
        ("ESPECI", spec),
        ("PRAZOT", term),
        ("MODREF", "R$"),
        ("CODISI", isin),
    ):
        first, last = FIELDS[field]
        record[first - 1 : last] = value.ljust(last - first + 1).encode("latin-1")
    return bytes(record)


def _put(matrix: np.ndarray, field: str, values: np.ndarray) -> None:
    first, last = FIELDS[field]
    width = last - first + 1
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    matrix[:, first - 1 : last] = (values[:, None] // powers % 10 + 48).astype(np.uint8)


@dataclass(frozen=True)
class _Book:
    """What does not change between days with the same option expirations."""

    templates: np.ndarray  # (n, 245) uint8, text fields filled, digits zero
    under: np.ndarray  # column in UNDERLYINGS of each row
    series: tuple[_Series, ...]


@functools.cache
def _book(seed: int, expirations: tuple[date, ...]) -> _Book:
    series = _option_series(seed, expirations)
    templates = [_template(inst.ticker, inst.bdi, "010", inst.name, inst.spec, "", inst.isin) for inst in UNDERLYINGS]
    templates += [_template(st.ticker + "F", "96", "020", st.name, st.spec, "", st.isin) for st in STOCKS]
    for s in series:
        inst = UNDERLYINGS[s.underlying]
        market, bdi = ("070", "78") if s.call else ("080", "82")
        templates.append(_template(s.ticker, bdi, market, inst.root + "E", inst.spec, "000", inst.isin))
    matrix = np.frombuffer(b"".join(templates), dtype=np.uint8).reshape(len(templates), RECORD_LENGTH)
    under = [*range(len(UNDERLYINGS)), *range(len(STOCKS)), *(s.underlying for s in series)]
    return _Book(matrix, np.array(under, dtype=np.int64), series)


def _day_records(d: date, seed: int, limit: int | None = None) -> np.ndarray:
    """The records of one trading day as a (n, 245) uint8 matrix, in a fixed order (first ``limit``)."""
    row = _day_index(d)
    closes = _closes(seed)
    close = closes[row]
    prev = closes[max(row - 1, 0)]
    rng = np.random.default_rng([seed, d.toordinal()])
    book = _book(seed, tuple(_expirations(d)))
    series = book.series
    under = book.under
    n = len(under)
    spot = range(len(UNDERLYINGS))
    frac = range(len(STOCKS))

    # closes and references per row
    n_spot, n_frac = len(spot), len(frac)
    ref_close = close[under].astype(np.float64)
    ref_prev = prev[under].astype(np.float64)
    sigma = np.full(n, 0.012)
    last = ref_close.copy()
    openp = ref_prev * np.exp(rng.normal(0, 0.004, n))
    if series:
        strikes = np.array([s.strike_cents for s in series], dtype=np.float64)
        calls = np.array([s.call for s in series])
        days_left = np.array([(s.expiration - d).days + 1 for s in series], dtype=np.float64)
        spot_now, spot_prev = ref_close[n_spot + n_frac :], ref_prev[n_spot + n_frac :]
        last[n_spot + n_frac :] = _option_value(spot_now, strikes, calls, days_left)
        openp[n_spot + n_frac :] = _option_value(spot_prev, strikes, calls, days_left + 1)
        sigma[n_spot + n_frac :] = 0.06
    last[n_spot : n_spot + n_frac] *= np.exp(rng.normal(0, 0.002, n_frac))
    high = np.maximum(openp, last) * np.exp(np.abs(rng.normal(0, sigma / 2)))
    low = np.minimum(openp, last) * np.exp(-np.abs(rng.normal(0, sigma / 2)))
    cents = [np.maximum(np.rint(x), 1).astype(np.int64) for x in (openp, high, low, last)]
    o, c = cents[0], cents[3]
    h = np.maximum.reduce(cents)
    lo = np.minimum.reduce(cents)
    avg = lo + np.rint((h - lo) * rng.uniform(0.3, 0.7, n)).astype(np.int64)
    bid = np.maximum(c - 1, 1)
    ask = c + 1

    factor = np.array([*(UNDERLYINGS[i].quote_factor for i in spot), *[1] * (n - n_spot)], dtype=np.int64)
    liquidity = np.array(
        [*(UNDERLYINGS[i].weight for i in spot), *(STOCKS[i].weight * 0.002 for i in frac), *[0.004] * len(series)]
    )
    money = 2e8 * liquidity * np.exp(rng.normal(0, 0.35, n))  # BRL traded
    per_unit = avg / 100 / factor
    lot = np.where(factor > 1, 1000, np.r_[np.full(n_spot, 100), np.ones(n_frac), np.full(len(series), 100)])
    quantity = (np.maximum(np.rint(money / per_unit / lot), 1) * lot).astype(np.int64)
    trades = np.clip(np.rint(quantity / lot / rng.uniform(8, 20, n)), 1, 99_999).astype(np.int64)
    volume = quantity * avg // factor

    expiration = np.array([99991231] * (n_spot + n_frac) + [_ymd(s.expiration) for s in series], dtype=np.int64)
    strike = np.array([0] * (n_spot + n_frac) + [s.strike_cents for s in series], dtype=np.int64)
    distribution = np.array([100 + i % 90 for i in under], dtype=np.int64)
    columns = {
        "DATA": np.full(n, _ymd(d), dtype=np.int64),
        "PREABE": o,
        "PREMAX": h,
        "PREMIN": lo,
        "PREMED": avg,
        "PREULT": c,
        "PREOFC": bid,
        "PREOFV": ask,
        "TOTNEG": trades,
        "QUATOT": quantity,
        "VOLTOT": volume,
        "PREEXE": strike,
        "INDOPC": np.zeros(n, dtype=np.int64),
        "DATVEN": expiration,
        "FATCOT": factor,
        "PTOEXE": np.zeros(n, dtype=np.int64),
        "DISMES": distribution,
    }
    matrix = book.templates[:limit].copy()
    for field, values in columns.items():
        _put(matrix, field, values[:limit])
    return matrix


def _option_value(spot: np.ndarray, strike: np.ndarray, call: np.ndarray, days_left: np.ndarray) -> np.ndarray:
    """A plausible premium in cents: intrinsic value plus a time value decaying away from the money."""
    intrinsic = np.where(call, spot - strike, strike - spot).clip(min=0)
    moneyness = np.abs(np.log(spot / strike))
    time_value = spot * 0.3 * np.sqrt(days_left / 252) * 0.4 * np.exp(-moneyness * 8)
    return np.maximum(intrinsic + time_value, 1.0)


def _ymd(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def _lines(matrix: np.ndarray) -> bytes:
    out = np.empty((len(matrix), RECORD_LENGTH + 2), dtype=np.uint8)
    out[:, :RECORD_LENGTH] = matrix
    out[:, RECORD_LENGTH] = 13
    out[:, RECORD_LENGTH + 1] = 10
    return out.tobytes()


def cotahist_daily(d: date, *, seed: int = 7) -> bytes:
    """``COTAHIST_DDDMMYYYY.TXT`` content for one trading day; ValueError on a non-trading day."""
    matrix = _day_records(d, seed)
    crlf = b"\r\n"
    header = format_header(d)
    trailer = format_trailer(len(matrix) + 2, generated=d)
    return header + crlf + _lines(matrix) + trailer + crlf


def cotahist_yearly(year: int, *, seed: int = 7, records_target: int | None = None, until: date | None = None) -> bytes:
    """``COTAHIST_AYYYY.TXT`` content: every trading day of ``year`` (see the module doc).

    Or up to ``until`` for the current year's file, which B3 updates as the year goes.
    """
    last = min(date(year, 12, 31), until) if until else date(year, 12, 31)
    days = trading_days(max(date(year, 1, 1), ORIGIN), last)
    per_day: int | None = None
    if records_target is not None:
        if records_target < 1:
            raise ValueError("records_target must be positive")
        days = days[:records_target]
        per_day = math.ceil(records_target / len(days))
    parts = [format_header(days[-1], year=year), b"\r\n"]
    total = 2
    for d in days:
        matrix = _day_records(d, seed, per_day)
        total += len(matrix)
        parts.append(_lines(matrix))
    parts += [format_trailer(total - 2, generated=days[-1], year=year), b"\r\n"]  # records only, as B3's now
    return b"".join(parts)


def cotahist_zip(name: str, content: bytes, member: str) -> bytes:
    """A ZIP (deflated) holding ``content`` as ``member``; ``name`` is only used in error messages."""
    if not member:
        raise ValueError(f"{name}: the ZIP member needs a name")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, content)
    return buffer.getvalue()


# --------------------------------------------------------------------------- IBOV portfolio


def _period_start(d: date) -> date:
    month = 1 + (d.month - 1) // 4 * 4
    first = date(d.year, month, 1)
    while not is_trading_day(first):
        first += timedelta(days=1)
    return max(first, ORIGIN)


def recomposition_days(year: int) -> list[date]:
    """The first session of each 4-month IBOV period of ``year`` (January, May, September)."""
    return [_period_start(date(year, month, 1)) for month in (1, 5, 9)]


def _spread_to_total(values: list[Decimal], total: Decimal, quantum: Decimal) -> list[Decimal]:
    """Round ``values`` to ``quantum`` so they add up to ``total`` (largest remainder)."""
    floors = [v.quantize(quantum, rounding="ROUND_FLOOR") for v in values]
    missing = int((total - sum(floors)) / quantum)
    order = sorted(range(len(values)), key=lambda i: (floors[i] - values[i], i))
    for i in order[:missing]:
        floors[i] += quantum
    return floors


def ibov_portfolio(d: date, *, seed: int = 7) -> list[dict[str, object]]:
    """The theoretical IBOV portfolio valid on trading day ``d`` (see the module doc)."""
    day = _day_index(d)
    start = _period_start(d)
    closes = _closes(seed)
    rng = np.random.default_rng([seed, start.toordinal(), 4])
    share = np.array([s.weight for s in STOCKS]) * rng.uniform(0.85, 1.15, len(STOCKS))
    share /= share.sum()
    market_value = 1.4e12  # BRL, free-float value of the portfolio on the period's first day
    start_close = closes[_day_index(start), : len(STOCKS)]
    quantities = [int(q) for q in np.rint(share * market_value / (start_close / 100))]
    start_value = sum(
        (Decimal(q) * Decimal(int(c)) / 100 for q, c in zip(quantities, start_close, strict=True)), Decimal(0)
    )
    reducer = (start_value / IBOV_LEVEL).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP)
    values = [Decimal(q) * Decimal(int(c)) for q, c in zip(quantities, closes[day, : len(STOCKS)], strict=True)]
    total = sum(values, Decimal(0))
    weights = _spread_to_total([v * 100 / total for v in values], Decimal("100.000"), Decimal("0.001"))
    return [
        {
            "ticker": s.ticker,
            "name": s.name,
            "type": s.spec,
            "theoretical_quantity": q,
            "weight_pct": w,
            "sector": s.sector,
            "reducer": reducer,
        }
        for s, q, w in zip(STOCKS, quantities, weights, strict=True)
    ]


def _ptbr_int(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _ptbr_decimal(value: Decimal, places: int) -> str:
    text = f"{value.quantize(Decimal(1).scaleb(-places)):,.{places}f}"
    return text.translate(str.maketrans(",.", ".,"))


def ibov_portfolio_csv(d: date, *, seed: int = 7) -> bytes:
    """B3's "IBOV - Carteira do Dia" CSV download for ``d`` (latin-1, LF, ``;``)."""
    rows = ibov_portfolio(d, seed=seed)
    lines = [f"IBOV - Carteira do Dia {d:%d/%m/%y}", "Código;Ação;Tipo;Qtde. Teórica;Part. (%)"]
    for r in rows:
        qty = _ptbr_int(int(str(r["theoretical_quantity"])))
        lines.append(f"{r['ticker']};{r['name']};{r['type']};{qty};{_ptbr_decimal(Decimal(str(r['weight_pct'])), 3)};")
    total = sum(int(str(r["theoretical_quantity"])) for r in rows)
    lines.append(f"Quantidade Teórica Total;;;{_ptbr_int(total)};100,000")
    lines.append(f"Redutor;;;{_ptbr_decimal(Decimal(str(rows[0]['reducer'])), 8)}")
    return ("\n".join(lines) + "\n").encode("latin-1")


def ibov_portfolio_json(d: date, *, seed: int = 7) -> bytes:
    """B3's ``GetPortfolioDay`` JSON (segment 2, by sector) for ``d``; values are pt-BR strings."""
    rows = sorted(ibov_portfolio(d, seed=seed), key=lambda r: (str(r["sector"]), str(r["ticker"])))
    by_sector: dict[str, Decimal] = {}
    for r in rows:
        by_sector[str(r["sector"])] = by_sector.get(str(r["sector"]), Decimal(0)) + Decimal(str(r["weight_pct"]))
    total = sum(int(str(r["theoretical_quantity"])) for r in rows)
    body = {
        "page": {"pageNumber": 1, "pageSize": 120, "totalRecords": len(rows), "totalPages": 1},
        "header": {
            "date": f"{d:%d/%m/%y}",
            "text": "Quantidade Teórica Total",
            "part": "100,000",
            "partAcum": None,
            "textReductor": "Redutor",
            "reductor": _ptbr_decimal(Decimal(str(rows[0]["reducer"])), 8),
            "theoricalQty": _ptbr_int(total),
        },
        "results": [
            {
                "segment": r["sector"],
                "cod": r["ticker"],
                "asset": r["name"],
                "type": r["type"],
                "part": _ptbr_decimal(Decimal(str(r["weight_pct"])), 3),
                "partAcum": _ptbr_decimal(by_sector[str(r["sector"])], 3),
                "theoricalQty": _ptbr_int(int(str(r["theoretical_quantity"]))),
            }
            for r in rows
        ],
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
