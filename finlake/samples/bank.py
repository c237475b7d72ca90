"""Deterministic Nubank app exports (card CSV, NuConta CSV, OFX) for the local mode and the tests.

The person, the merchants, the CPFs and the account numbers are invented. Same arguments, same
bytes. Every month's transactions depend only on (seed, account, month), so two exports whose
periods overlap repeat the overlapping rows verbatim, as the app does.

A month on the card: bakery, açaí, supermarket, iFood, Uber, 99, pharmacy, fuel, Amazon Marketplace,
a restaurant whose name has a comma, Netflix, Spotify and Smart Fit; an installment "Loja Eletro -
Parcela k/10" of 1,249.90; an international purchase with its "IOF de compra internacional"; an
"Estorno" (refund); the bill payment ("Pagamento recebido") of the previous month's charges; and
two genuinely identical bakery purchases on one day (same title, same amount: two real coffees,
not a duplicate). A month on the NuConta: "Salário ACME LTDA" (8,750.00), rent by Pix (2,300.00), a
condominium boleto (1,180.00), "Pagamento da fatura" (the card's bill, same amount as the card's
"Pagamento recebido"), a Pix to MARIA DA SILVA whose description carries her full formatted CPF
(valid check digits, made here) and her bank's agency and account numbers, a Pix from JOÃO PEREIRA
with the app's masked CPF ("•••.123.456-••"), debit purchases, every other month an "Estorno", and
the month's "Rendimento".

Formats as the app writes them: the card CSV is ``date,title,amount`` (or the older
``date,category,title,amount``), ISO dates, charges positive, dot decimals; ``decimal=","``
writes the pt-BR form ``"1.234,56"`` instead (quoted, for the tests). The NuConta CSV is
``Data,Valor,Identificador,Descrição``, dd/mm/yyyy, signed dot decimals. The OFX is SGML 1.02 with
Nubank's header, which has no ``CHARSET`` line; OFX amounts are signed from the holder's view for
the card too. NuConta OFX FITIDs are the CSV's Identificador; the card CSV has no ids, so the card
OFX ids are made here.

Anomalies: ``malformed=`` adds rows of the `MALFORMED` kinds (an extra field, an impossible date,
the ambiguous amount "1.234", an empty description) spread through a CSV. `demo_files` puts ONE
("ambiguous_amount") into the second NuConta export, so the demo shows a quarantined row.

Run ``python -m finlake.samples.bank --end-month 2024-09 --months 3 --out DIR``.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import csv
import hashlib
import io
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from finlake.arguments import parse_month
from finlake.local.plan import RunPlan
from finlake.local.workspace import Workspace
from finlake.samples.registry import SampleAdapter
from stacks.specs import DomainSpec

MALFORMED = ("extra_field", "bad_date", "ambiguous_amount", "empty_description")
PT_MONTHS = ("JAN", "FEV", "MAR", "ABR", "MAI", "JUN", "JUL", "AGO", "SET", "OUT", "NOV", "DEZ")
OPENING_BALANCE = Decimal("5000.00")  # the NuConta OFX ledger balance is this plus the file's net
INSTALLMENT_START = "2024-01"  # "Loja Eletro" parcel 1 falls in this month, then every 10 months again

# (title, category, times a month (min, max), reais (min, max))
_CARD_SPENDING = (
    ("Padaria São João", "restaurante", (3, 6), (6, 38)),
    ("Açaí da Praça", "restaurante", (1, 3), (14, 32)),
    ("Supermercado Pão de Açúcar", "supermercado", (2, 4), (85, 640)),
    ("iFood", "restaurante", (2, 5), (28, 140)),
    ("Uber", "transporte", (3, 7), (11, 58)),
    ("99", "transporte", (1, 3), (9, 42)),
    ("Drogasil", "saúde", (0, 2), (18, 160)),
    ("Posto Ipiranga", "transporte", (1, 3), (120, 310)),
    ("Amazon Marketplace", "eletrônicos", (1, 2), (39, 420)),
    ("Restaurante Sabor, Arte e Cia", "restaurante", (0, 1), (60, 180)),
)
_SUBSCRIPTIONS = (("Netflix", 5, "55.90"), ("Spotify", 12, "21.90"), ("Smart Fit", 8, "129.90"))


@dataclass(frozen=True)
class Entry:
    """One transaction as the bank knows it (amount signed from the holder's view: money out < 0)."""

    day: date
    description: str
    amount: Decimal
    fitid: str
    category: str = ""  # the card's category ("" for payments)


# --- calendar helpers ----------------------------------------------------------------------------


def _month_index(month: str) -> int:
    year, mon = month.split("-")[:2]
    return int(year) * 12 + int(mon) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def add_months(month: str, count: int) -> str:
    """The month ``count`` months after ``month`` (YYYY-MM; negative counts go back)."""
    return _month_name(_month_index(month) + count)


def _last_day(month: str) -> date:
    year, mon = (int(part) for part in month.split("-")[:2])
    return date(year, mon, calendar.monthrange(year, mon)[1])


def _span(month_from: str, month_to: str) -> tuple[date, date]:
    """An export's period: "YYYY-MM" means the whole month, "YYYY-MM-DD" that day."""
    start = date.fromisoformat(month_from if len(month_from) == 10 else f"{month_from}-01")
    end = date.fromisoformat(month_to) if len(month_to) == 10 else _last_day(month_to)
    if end < start:
        raise ValueError(f"empty period {month_from} .. {month_to}")
    return start, end


def _months(start: date, end: date) -> list[str]:
    first, last = _month_index(start.isoformat()), _month_index(end.isoformat())
    return [_month_name(i) for i in range(first, last + 1)]


# --- people and ids ------------------------------------------------------------------------------


def make_cpf(rng: random.Random) -> str:
    """A formatted CPF with valid check digits (and not eleven equal digits)."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        if len(set(digits)) > 1:
            break
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(size + 1, 1, -1), strict=True))
        digits.append(total * 10 % 11 % 10)
    s = "".join(map(str, digits))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random("|".join(("finlake-bank", str(seed), *parts)))  # str seeds are stable across runs


def _hex_id(seed: int, *parts: object) -> str:
    """A 24-hex id like the app's (Identificador, FITID)."""
    return hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).hexdigest()[:24]


def _reais(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(rng.randint(int(low * 100), int(high * 100))) / 100


# --- the bank's transactions, month by month -----------------------------------------------------


def _card_spending(month: str, seed: int) -> list[tuple[int, str, str, Decimal]]:
    """(day, title, category, charge) of one month's charges and credits, bill payment excluded."""
    rng = _rng(seed, "card", month)
    days = _last_day(month).day
    out: list[tuple[int, str, str, Decimal]] = []
    for title, category, (lo, hi), (low, high) in _CARD_SPENDING:
        for _ in range(rng.randint(lo, hi)):
            out.append((rng.randint(1, days), title, category, _reais(rng, low, high)))
    for title, day, amount in _SUBSCRIPTIONS:
        out.append((day, title, "serviços", Decimal(amount)))
    parcel = (_month_index(month) - _month_index(INSTALLMENT_START)) % 10 + 1
    out.append((15, f"Loja Eletro - Parcela {parcel}/10", "eletrônicos", Decimal("1249.90")))
    twin_day, twin = rng.randint(1, days), _reais(rng, 7, 15)
    out += [(twin_day, "Padaria São João", "restaurante", twin)] * 2  # two real coffees, not a duplicate
    abroad_day, abroad = rng.randint(1, days), _reais(rng, 40, 260)
    out.append((abroad_day, "Steam Games", "lazer", abroad))
    iof = (abroad * Decimal("0.0438")).quantize(Decimal("0.01"))
    out.append((abroad_day, "IOF de compra internacional", "outros", iof))
    out.append((rng.randint(1, days), "Estorno Amazon Marketplace", "eletrônicos", -_reais(rng, 25, 120)))
    return out


def bill(month: str, seed: int = 7) -> Decimal:
    """What the card charged in ``month`` (paid in the next month, from the NuConta)."""
    return sum((charge for _, _, _, charge in _card_spending(month, seed)), Decimal("0.00"))


def card_entries(month: str, seed: int = 7) -> list[Entry]:
    """One month on the card, in date order."""
    rows = [*_card_spending(month, seed), (8, "Pagamento recebido", "", -bill(add_months(month, -1), seed))]
    year, mon = (int(p) for p in month.split("-"))
    entries = [
        Entry(date(year, mon, day), title, -charge, _hex_id(seed, "card", month, i), category)
        for i, (day, title, category, charge) in enumerate(rows)
    ]
    return sorted(entries, key=lambda e: e.day)  # stable: generation order within a day


def _nuconta_rows(month: str, seed: int) -> list[tuple[int, str, Decimal]]:
    rng = _rng(seed, "nuconta", month)
    days = _last_day(month).day
    maria = make_cpf(_rng(seed, "cpf", "MARIA DA SILVA"))
    joao = make_cpf(_rng(seed, "cpf", "JOÃO PEREIRA"))
    masked = f"•••.{joao[4:11]}-••"
    rows = [
        (3, "Transferência enviada pelo Pix - IMOBILIÁRIA LAR FELIZ LTDA", Decimal("-2300.00")),
        (5, "Salário ACME LTDA", Decimal("8750.00")),
        (8, "Pagamento da fatura", -bill(add_months(month, -1), seed)),
        (10, "Pagamento de boleto efetuado - CONDOMÍNIO EDIFÍCIO AURORA", Decimal("-1180.00")),
        (
            rng.randint(11, 14),
            f"Transferência enviada pelo Pix - MARIA DA SILVA - {maria} - ITAÚ UNIBANCO S.A. (0341) "
            "Agência: 4321 Conta: 98765-4",
            -_reais(rng, 150, 400),
        ),
        (rng.randint(15, 20), f"Transferência recebida pelo Pix - JOÃO PEREIRA - {masked}", _reais(rng, 50, 300)),
        (rng.randint(1, days), "Compra no débito - Padaria São João", -_reais(rng, 6, 30)),
        (rng.randint(1, days), "Compra no débito - Padaria São João", -_reais(rng, 6, 30)),
        (rng.randint(1, days), "Compra no débito - Açaí da Praça", -_reais(rng, 14, 32)),
        (rng.randint(1, days), "Compra no débito - RESTAURANTE SABOR, ARTE E CIA", -_reais(rng, 60, 180)),
        (days, "Rendimento da conta", _reais(rng, 25, 60)),
    ]
    if _month_index(month) % 2:
        rows.append((rng.randint(1, days), "Estorno - Compra no débito - Drogasil", _reais(rng, 18, 90)))
    return rows


def nuconta_entries(month: str, seed: int = 7) -> list[Entry]:
    """One month on the NuConta, in date order."""
    year, mon = (int(p) for p in month.split("-"))
    entries = [
        Entry(date(year, mon, day), text, amount, _hex_id(seed, "nuconta", month, i))
        for i, (day, text, amount) in enumerate(_nuconta_rows(month, seed))
    ]
    return sorted(entries, key=lambda e: e.day)


def entries(account: str, month_from: str, month_to: str, seed: int = 7) -> list[Entry]:
    """Everything on ``account`` ("card" or "nuconta") in the period, in date order."""
    by_month = {"card": card_entries, "nuconta": nuconta_entries}[account]
    start, end = _span(month_from, month_to)
    return [e for month in _months(start, end) for e in by_month(month, seed) if start <= e.day <= end]


# --- writers -------------------------------------------------------------------------------------


def _money(value: Decimal, decimal: str = ".") -> str:
    if decimal == ".":
        return f"{value:.2f}"
    return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def _csv(header: Sequence[str], rows: list[list[str]]) -> bytes:
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return sink.getvalue().encode()


def _malformed(rows: list[list[str]], kinds: Sequence[str], template: list[str], fields: dict[str, int]) -> None:
    """Insert one bad row per kind, spread through ``rows`` (modelled on ``template``)."""
    unknown = set(kinds) - set(MALFORMED)
    if unknown:
        raise ValueError(f"unknown malformed kinds {sorted(unknown)}; known: {MALFORMED}")
    size = len(rows)
    for k, kind in enumerate(kinds):
        row = list(template)
        if kind == "extra_field":
            row.append("extra")
        elif kind == "bad_date":
            row[fields["date"]] = "2024-02-30" if "-" in row[fields["date"]] else "30/02/2024"
        elif kind == "ambiguous_amount":
            row[fields["amount"]] = "1.234"
        else:
            row[fields["description"]] = ""
        rows.insert((k + 1) * size // (len(kinds) + 1) + k, row)


def card_csv(
    month_from: str,
    month_to: str,
    *,
    old_format: bool = False,
    decimal: str = ".",
    malformed: Sequence[str] = (),
    seed: int = 7,
) -> bytes:
    """The app's card CSV export for the period (``YYYY-MM`` or ``YYYY-MM-DD`` bounds)."""
    found = entries("card", month_from, month_to, seed)
    rows = [
        [e.day.isoformat(), *([e.category] if old_format else []), e.description, _money(-e.amount, decimal)]
        for e in found
    ]
    header = ["date", "category", "title", "amount"] if old_format else ["date", "title", "amount"]
    day = _span(month_from, month_to)[1].isoformat()
    template = [day, *(["outros"] if old_format else []), "Banca do Zé", _money(Decimal("7.50"), decimal)]
    _malformed(rows, malformed, template, {"date": 0, "amount": len(header) - 1, "description": len(header) - 2})
    return _csv(header, rows)


def nuconta_csv(month_from: str, month_to: str, *, malformed: Sequence[str] = (), seed: int = 7) -> bytes:
    """The app's NuConta statement CSV export for the period."""
    rows = [
        [e.day.strftime("%d/%m/%Y"), f"{e.amount:.2f}", e.fitid, e.description]
        for e in entries("nuconta", month_from, month_to, seed)
    ]
    end = _span(month_from, month_to)[1]
    template = [
        end.strftime("%d/%m/%Y"),
        "-7.50",
        _hex_id(seed, "malformed", month_to),
        "Compra no débito - Banca do Zé",
    ]
    _malformed(rows, malformed, template, {"date": 0, "amount": 1, "description": 3})
    return _csv(["Data", "Valor", "Identificador", "Descrição"], rows)


_OFX_HEADER = (  # Nubank's: no CHARSET line
    "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:UTF-8\n"
    "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
)


def _ofx_time(day: date) -> str:
    return f"{day:%Y%m%d}000000[-3:BRT]"


def _tag(name: str, value: str) -> str:
    return f"<{name}>{value}</{name}>"


def ofx(account: str, month_from: str, month_to: str, *, seed: int = 7) -> bytes:
    """The app's OFX export of ``account`` ("nuconta" or "card") for the period, as SGML 1.02."""
    if account not in ("nuconta", "card"):
        raise ValueError(f"account must be 'nuconta' or 'card', not {account!r}")
    start, end = _span(month_from, month_to)
    found = entries(account, month_from, month_to, seed)
    status = "<STATUS>\n<CODE>0</CODE>\n<SEVERITY>INFO</SEVERITY>\n</STATUS>"
    fake_acct = f"{int(_hex_id(seed, 'account'), 16) % 10**8:08d}-{int(_hex_id(seed, 'dv'), 16) % 10}"
    if account == "nuconta":
        wrap, trnrs, stmtrs = "BANKMSGSRSV1", "STMTTRNRS", "STMTRS"
        acct = (
            "<BANKACCTFROM>\n<BANKID>0260</BANKID>\n<BRANCHID>1</BRANCHID>\n"
            f"{_tag('ACCTID', fake_acct)}\n<ACCTTYPE>CHECKING</ACCTTYPE>\n</BANKACCTFROM>"
        )
        balance = OPENING_BALANCE + sum((e.amount for e in found), Decimal("0.00"))
    else:
        wrap, trnrs, stmtrs = "CREDITCARDMSGSRSV1", "CCSTMTTRNRS", "CCSTMTRS"
        acct = f"<CCACCTFROM>\n{_tag('ACCTID', _hex_id(seed, 'card-account')[:16])}\n</CCACCTFROM>"
        # what is owed on the period's purchases (the bill payments settle earlier bills)
        balance = sum((e.amount for e in found if e.description != "Pagamento recebido"), Decimal("0.00"))
    transactions = [
        "<STMTTRN>\n"
        f"{_tag('TRNTYPE', 'DEBIT' if e.amount < 0 else 'CREDIT')}\n{_tag('DTPOSTED', _ofx_time(e.day))}\n"
        f"{_tag('TRNAMT', f'{e.amount:.2f}')}\n{_tag('FITID', e.fitid)}\n{_tag('MEMO', e.description)}\n"
        "</STMTTRN>"
        for e in found
    ]
    body = [
        "<OFX>",
        "<SIGNONMSGSRSV1>\n<SONRS>",
        status,
        _tag("DTSERVER", f"{end:%Y%m%d}120000[-3:BRT]"),
        "<LANGUAGE>POR</LANGUAGE>\n<FI>\n<ORG>NU PAGAMENTOS S.A.</ORG>\n<FID>260</FID>\n</FI>",
        "</SONRS>\n</SIGNONMSGSRSV1>",
        f"<{wrap}>\n<{trnrs}>\n<TRNUID>1</TRNUID>",
        status,
        f"<{stmtrs}>\n<CURDEF>BRL</CURDEF>",
        acct,
        f"<BANKTRANLIST>\n{_tag('DTSTART', _ofx_time(start))}\n{_tag('DTEND', _ofx_time(end))}",
        *transactions,
        "</BANKTRANLIST>",
        f"<LEDGERBAL>\n{_tag('BALAMT', f'{balance:.2f}')}\n{_tag('DTASOF', _ofx_time(end))}\n</LEDGERBAL>",
        f"</{stmtrs}>\n</{trnrs}>\n</{wrap}>",
        "</OFX>",
    ]
    return (_OFX_HEADER + "\n".join(body) + "\n").encode()


# --- the demo set --------------------------------------------------------------------------------


def _pt_day(day: date) -> str:
    return f"{day.day:02d}{PT_MONTHS[day.month - 1]}{day.year}"


def card_file_name(month_to: str) -> str:
    """Named after the close date of the bill, the first day of the month after the period."""
    return f"Nubank_{add_months(month_to, 1)}-01.csv"


def nuconta_file_name(start: date, end: date) -> str:
    """The app's name without the account number (the name is kept in the data as source_file)."""
    return f"NU_extrato_{_pt_day(start)}_{_pt_day(end)}.csv"


def demo_files(end_month: str, months: int = 3, *, seed: int = 7) -> dict[str, bytes]:
    """File name -> content: the overlapping exports a person downloads over ``months`` months."""
    if months < 2:
        raise ValueError("demo_files needs at least two months (the older card export must differ)")
    first, last = add_months(end_month, 1 - months), end_month
    mid, end = date.fromisoformat(f"{last}-15"), _last_day(last)
    start, last_start = date.fromisoformat(f"{first}-01"), date.fromisoformat(f"{last}-01")
    return {
        card_file_name(last): card_csv(first, last, seed=seed),
        card_file_name(first): card_csv(add_months(first, -1), first, old_format=True, seed=seed),
        nuconta_file_name(start, mid): nuconta_csv(first, mid.isoformat(), seed=seed),
        nuconta_file_name(last_start, end): nuconta_csv(last, last, malformed=("ambiguous_amount",), seed=seed),
        f"Nubank_conta_{last}.ofx": ofx("nuconta", last, last, seed=seed),
        f"Nubank_cartao_{last}.ofx": ofx("card", last, last, seed=seed),
    }


def write(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Write ``files`` into ``folder`` (created if needed); returns the paths in name order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in sorted(files.items()):
        path = folder / name
        path.write_bytes(body)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """The ``finlake generate bank`` script entry point: write the app's exports of the demo months into ``--out``.

    Returns
    -------
    int
        The exit code, 0.
    """
    parser = argparse.ArgumentParser(prog="finlake generate bank", description=__doc__.splitlines()[0])
    parser.add_argument("--end-month", default="2024-09", help="last month, YYYY-MM")
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    for path in write(args.out, demo_files(args.end_month, args.months, seed=args.seed)):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


# -- Local mode ---------------------------------------------------------------------------------------

# An invented CPF with valid check digits: the tests scan every written object and log line for it.
LOCAL_NUBANK_CPF = "529.982.247-25"
MOCK_BANK_HOME = "mock-bank"  # under the workspace: the bank mock's own workspace
BANK_DEMO_END, BANK_DEMO_MONTHS = "2024-09", 3
API_NOTE = (
    "source: the Nubank API through pynubank (--source api), over the network; this workspace holds an "
    "invented login, so Nubank will refuse it (it refuses pynubank logins since 2024-10)"
)


def mock_workspace(ws: Workspace) -> Workspace:
    """Where the bank mock's runs go: invented transactions (2015 on) never share tables with a person's exports.

    (Not created here: `Workspace.open` it to run there.)
    """
    return Workspace((ws.root / MOCK_BANK_HOME).resolve())


class BankAdapter(SampleAdapter):
    """bank offline: pynubank's MockHttpClient in its own workspace, or the app's exports given with --input."""

    domain = "bank"
    bench_input = "6 app exports (July-September 2024), 260 rows"

    def secret(self, ws: Workspace, key: str) -> str | None:
        """An invented Nubank login (pynubank's MockHttpClient accepts any).

        JSON ``{cpf, password, certificate_p12_base64}``.
        """
        if key != "nubank":
            return None
        certificate = base64.b64encode(b"finlake local mode: not a real certificate").decode()
        return json.dumps({"cpf": LOCAL_NUBANK_CPF, "password": "local-only", "certificate_p12_base64": certificate})

    def plan(self, ws: Workspace, spec: DomainSpec, **options: Any) -> RunPlan:
        """The runs of a local bank run.

        Without ``--input``: the mock in `mock_workspace`, or with ``source="api"`` the Nubank API (which refuses the
        invented login); with files, what was asked.
        """
        if options.get("inputs"):
            return super().plan(ws, spec, **options)
        month, force = options.get("month"), bool(options.get("force"))
        if options.get("source") == "api":
            return RunPlan(spec, month=month, force=force, source="api", note=API_NOTE)
        mock = Workspace.open(mock_workspace(ws).root)
        note = (
            f"source: pynubank's offline MockHttpClient (invented data), kept apart from your exports in its own "
            f"workspace {mock.root} (see it with `finlake --home {mock.root} tables`); your exports: --input FILE"
        )
        return RunPlan(spec, month=month, force=force, source="mock", workspace=mock, note=note)

    def demo_plans(self, ws: Workspace) -> list[RunPlan]:
        """The demo's bank runs: the app's exports in one run, then the Nubank API through pynubank's offline mock.

        The app's exports (card CSV in both formats, two overlapping NuConta CSVs, OFX of both accounts), then the
        mock (a snapshot taken this month, so its credit limit applies from this month on) in its own workspace.
        The exports run first so that the demo's workspace, which holds the whole lake, is loaded into the embedded
        AWS once (`run_plans` opens one per run of consecutive plans of a workspace: about 4 s each time).
        """
        folder = ws.samples_dir / "bank"
        if not folder.exists():
            write(folder, demo_files(BANK_DEMO_END, BANK_DEMO_MONTHS))
        exports = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".ofx"))
        return [RunPlan(self.spec, month=BANK_DEMO_END, inputs=exports), self.plan(ws, self.spec, source="mock")]

    def bench_plans(self, ws: Workspace) -> list[RunPlan]:
        """The demo's six exports (July-September 2024) in one run."""
        files = write(ws.samples_dir / "bank", demo_files("2024-09", 3))
        return [RunPlan(self.spec, month="2024-09", inputs=files)]

    def workspaces(self, ws: Workspace) -> list[Workspace]:
        """The mock's own workspace (`mock_workspace`)."""
        return [mock_workspace(ws)]

    def generate_command(self) -> click.Command:
        """`finlake generate bank`: the app's exports into ``--out``."""
        return _generate_command


@click.command("bank")
@click.option("--end-month", default="2024-09", show_default=True, help="Last month, YYYY-MM.")
@click.option(
    "--months", type=click.IntRange(2, 120), default=3, show_default=True, help="Months (2 at least: two card exports)."
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder to write.")
def _generate_command(end_month: str, months: int, seed: int, out: Path) -> None:
    """Nubank app exports: card CSVs in both headers, NuConta CSVs and OFX of both accounts."""
    end_month = parse_month(end_month, "--end-month")
    for path in write(out, demo_files(end_month, months, seed=seed)):
        click.echo(f"wrote {path} ({path.stat().st_size:,} bytes)")


ADAPTER = BankAdapter()


if __name__ == "__main__":
    sys.exit(main())
