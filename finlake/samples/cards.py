r"""Deterministic monthly card files (invoices and payments) for the local mode, tests and benchmarks.

The people and amounts are invented; the shape follows the real sample in ``shared/fixtures/cards``
(comma-separated, ``\n`` line ends, ISO dates, amounts with two decimals and a ``.``). Same arguments,
same bytes. Everything is vectorised with NumPy: a million clients over twelve months is a few
seconds of NumPy plus the CSV writing (Arrow's CSV writer).

For each month ``YYYY-MM`` of the ``months`` months ending at ``end_month``:

``tb_faturas_YYYYMM.csv``
    ``id_cliente,id_fatura,dt_emissao_fatura,dt_vencimento_fatura,valor_fatura[,valor_pagamento_minimo]``.
    One invoice per active client: most clients are there from the first month, some start later
    and some churn. Each client has a fixed issue day (1..28) and a fixed due delay (5..15 days).
    Amounts are lognormal (median about 1,500 BRL): a client level times a month-to-month factor.
    The minimum payment is 15% of the amount, rounded half up to the cent.
``tb_pagamentos_YYYYMM.csv``
    ``id_pagamento,id_fatura,id_cliente,dt_pagamento,valor_pagamento``: the payments *dated* in that
    month, so a late payment of an August invoice is in the September file. Payments dated after the
    last day of ``end_month`` have not happened yet and are in no file.

Each client has a profile (`PROFILES`); four invoices in five follow it and the fifth follows a
profile drawn from the population mix, so a client's history is mostly, not perfectly, regular.

Ids: ``id_fatura`` is a running counter in month then client order; ``id_pagamento`` a running
counter in payment date order. Both are unique across all files.

Anomalies (``anomalies=True``), about 0.05% of the lines and at least one of each applicable kind
per file (see `KINDS`); every injected line is recorded in `Truth`:

``duplicate``
    an exact copy of a valid data line of the same file.
``correction``
    (invoice files from the second month on) an invoice row of the previous month repeated with a
    corrected amount (and minimum): the row from the newest file is the one that counts.
``bad_date``, ``negative_amount``, ``missing_field``
    malformed lines: an impossible or non-ISO date, a negative amount, one field missing. They carry
    fresh ids (above every valid id), so quarantining them leaves the valid data untouched.
``unknown_invoice``
    (payment files) a well-formed payment, with a fresh id, of an invoice that exists in no file.

The valid data (`CardsData`) is the same with or without anomalies; the benchmark writes it
straight to curated Parquet (``finlake.bench.cards``).

Run ``python -m finlake.samples.cards --clients 1000 --months 12 --out DIR``.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from finlake.arguments import parse_month
from finlake.local.lake import BUCKETS
from finlake.local.plan import RunPlan
from finlake.local.workspace import Workspace
from finlake.samples.registry import SampleAdapter
from stacks.specs import DomainSpec

INVOICE_COLUMNS = ("id_cliente", "id_fatura", "dt_emissao_fatura", "dt_vencimento_fatura", "valor_fatura")
MINIMUM_COLUMN = "valor_pagamento_minimo"
PAYMENT_COLUMNS = ("id_pagamento", "id_fatura", "id_cliente", "dt_pagamento", "valor_pagamento")

# Client profiles and their share of the population (also the mix an off-profile invoice is drawn from).
PROFILES = (
    "on_time",  # pays in full between issue + 2 days and the due date
    "late",  # pays in full 1 to 40 days after the due date
    "partial",  # pays 30% to 95% of the amount, in one to three payments, some after the due date
    "below_minimum",  # pays 20% to 90% of the minimum by the due date, then nothing
    "early",  # pays in full on the issue date or the day after
    "several",  # pays in full in two to four payments, the last ones possibly late
    "unpaid",  # pays nothing
    "overpay",  # pays 105% to 150% of the amount by the due date (rare)
)
PROFILE_SHARES = (0.42, 0.15, 0.10, 0.06, 0.08, 0.08, 0.10, 0.01)
OWN_PROFILE_SHARE = 0.8

KINDS = ("duplicate", "correction", "bad_date", "negative_amount", "missing_field", "unknown_invoice")
INVOICE_KINDS = KINDS[:5]
PAYMENT_KINDS = (*KINDS[:1], *KINDS[2:])
ANOMALY_RATE = 0.0005  # share of data lines, split evenly across the kinds of a file
MALFORMED_KINDS = frozenset({"bad_date", "negative_amount", "missing_field"})

_DAY = np.timedelta64(1, "D")


def month_range(end_month: str, months: int) -> list[str]:
    """The ``months`` months ``YYYY-MM`` ending at ``end_month``, oldest first."""
    if months < 1:
        raise ValueError("months must be at least 1")
    end = np.datetime64(end_month, "M")
    return [str(end - np.timedelta64(k, "M")) for k in range(months - 1, -1, -1)]


def invoice_file_name(month: str) -> str:
    """The invoice file of ``month`` (YYYY-MM): ``tb_faturas_YYYYMM.csv``."""
    return f"tb_faturas_{month.replace('-', '')}.csv"


def payment_file_name(month: str) -> str:
    """The payment file of ``month`` (YYYY-MM): ``tb_pagamentos_YYYYMM.csv``."""
    return f"tb_pagamentos_{month.replace('-', '')}.csv"


def date_stamped_names(month: str) -> tuple[str, str]:
    """The names of the publisher's date-stamped deliveries (reference date, then generation time).

    As the public sample is named: ``tb_fatura_20240901_20240902000000.csv``, ``tb_pagamentos_20240901_...``.
    """
    compact = month.replace("-", "")
    stamp = f"{compact}01_{compact}02000000"
    return f"tb_fatura_{stamp}.csv", f"tb_pagamentos_{stamp}.csv"


@dataclass(frozen=True)
class CardsData:
    """The valid rows, as NumPy arrays (dates ``datetime64[D]``, amounts int64 cents).

    Invoices are in ``id_fatura`` order (month, then client); payments in ``id_pagamento`` order
    (payment date). ``*_month`` is the index in ``months`` of the file the row belongs to.
    """

    months: tuple[str, ...]
    client_profile: np.ndarray  # index into PROFILES, per client id - 1
    inv_client: np.ndarray
    inv_id: np.ndarray
    inv_issue: np.ndarray
    inv_due: np.ndarray
    inv_cents: np.ndarray
    inv_min_cents: np.ndarray
    inv_behaviour: np.ndarray  # index into PROFILES
    inv_month: np.ndarray
    pay_id: np.ndarray
    pay_invoice: np.ndarray
    pay_client: np.ndarray
    pay_date: np.ndarray
    pay_cents: np.ndarray
    pay_month: np.ndarray

    def invoice_slice(self, month_index: int) -> slice:
        """The invoices of month ``month_index`` (an index into ``months``), as a slice of the invoice arrays."""
        return _contiguous(self.inv_month, month_index)

    def payment_slice(self, month_index: int) -> slice:
        """The payments of month ``month_index`` (an index into ``months``), as a slice of the payment arrays."""
        return _contiguous(self.pay_month, month_index)


def _contiguous(sorted_months: np.ndarray, month_index: int) -> slice:
    lo, hi = np.searchsorted(sorted_months, [month_index, month_index + 1])
    return slice(int(lo), int(hi))


def minimum_cents(cents: np.ndarray) -> np.ndarray:
    """15% of a non-negative amount in cents, rounded half up to the cent."""
    return (cents * 15 + 50) // 100


def _group_positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given sizes: the group of each element and its position inside the group."""
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def _group_cumsum(values: np.ndarray, owner: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` inside each group (elements of a group are contiguous)."""
    total = np.cumsum(values)
    before = np.concatenate(([0], total))[(np.cumsum(counts) - counts)]
    return total - before[owner]


def build(clients: int, months: int, *, end_month: str = "2024-09", seed: int = 7) -> CardsData:
    """The valid invoices and payments (no anomalies); see the module doc."""
    if clients < 1:
        raise ValueError("clients must be at least 1")
    month_list = month_range(end_month, months)
    rng = np.random.default_rng([seed, clients, months])
    n = clients

    # clients
    start = np.where(rng.random(n) < 0.75, 0, rng.integers(0, months, n))
    churn = rng.random(n) < 0.12
    last = np.where(churn, rng.integers(start, months), months - 1)
    issue_day = rng.integers(1, 29, n)
    due_days = rng.integers(5, 16, n)
    level = rng.normal(np.log(1500.0), 0.7, n)
    profile = rng.choice(len(PROFILES), size=n, p=PROFILE_SHARES)

    # invoices: month-major, so the running id follows (month, client)
    month_idx = np.arange(months)
    active = (start[None, :] <= month_idx[:, None]) & (last[None, :] >= month_idx[:, None])
    inv_month, inv_c = np.nonzero(active)
    count = inv_c.size
    first_days = np.array(month_list, dtype="datetime64[M]").astype("datetime64[D]")
    issue = first_days[inv_month] + (issue_day[inv_c] - 1) * _DAY
    due = issue + due_days[inv_c] * _DAY
    cents = np.maximum(np.rint(np.exp(level[inv_c] + rng.normal(0.0, 0.35, count)) * 100), 500).astype(np.int64)
    min_cents = minimum_cents(cents)
    behaviour = np.where(
        rng.random(count) < OWN_PROFILE_SHARE,
        profile[inv_c],
        rng.choice(len(PROFILES), size=count, p=PROFILE_SHARES),
    )

    pay_inv, pay_date, pay_cents = _payments(rng, behaviour, issue, due, cents, min_cents)
    as_of = (np.datetime64(end_month, "M") + 1).astype("datetime64[D]") - _DAY
    keep = (pay_date <= as_of) & (pay_cents > 0)
    pay_inv, pay_date, pay_cents = pay_inv[keep], pay_date[keep], pay_cents[keep]
    order = np.lexsort((np.arange(pay_inv.size), pay_inv, pay_date))
    pay_inv, pay_date, pay_cents = pay_inv[order], pay_date[order], pay_cents[order]
    pay_month = pay_date.astype("datetime64[M]") - np.datetime64(month_list[0], "M")

    return CardsData(
        months=tuple(month_list),
        client_profile=profile,
        inv_client=inv_c.astype(np.int64) + 1,
        inv_id=np.arange(1, count + 1, dtype=np.int64),
        inv_issue=issue,
        inv_due=due,
        inv_cents=cents,
        inv_min_cents=min_cents,
        inv_behaviour=behaviour,
        inv_month=inv_month.astype(np.int64),
        pay_id=np.arange(1, pay_inv.size + 1, dtype=np.int64),
        pay_invoice=pay_inv.astype(np.int64) + 1,
        pay_client=inv_c[pay_inv].astype(np.int64) + 1,
        pay_date=pay_date,
        pay_cents=pay_cents,
        pay_month=pay_month.astype(np.int64),
    )


def _payments(
    rng: np.random.Generator,
    behaviour: np.ndarray,
    issue: np.ndarray,
    due: np.ndarray,
    cents: np.ndarray,
    min_cents: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(invoice index, date, cents) of every payment, whatever its date."""
    count = behaviour.size
    p = {name: behaviour == i for i, name in enumerate(PROFILES)}
    span = ((due - issue) // _DAY).astype(np.int64)  # 5..15
    u = rng.random(count)

    # how many payments, how much in all, when the first one
    k = np.ones(count, dtype=np.int64)
    k[p["unpaid"]] = 0
    k[p["partial"]] = rng.integers(1, 4, count)[p["partial"]]
    k[p["several"]] = rng.integers(2, 5, count)[p["several"]]
    total = cents.copy()
    total[p["partial"]] = np.rint(cents * (0.30 + 0.65 * u))[p["partial"]]
    total[p["below_minimum"]] = np.maximum(np.floor(min_cents * (0.2 + 0.7 * u)), 1)[p["below_minimum"]]
    total[p["overpay"]] = np.rint(cents * (1.05 + 0.45 * u))[p["overpay"]]
    first = 2 + np.floor(rng.random(count) * (span - 1)).astype(np.int64)  # issue + 2 .. due
    first[p["late"]] = span[p["late"]] + rng.integers(1, 41, count)[p["late"]]
    first[p["early"]] = rng.integers(0, 2, count)[p["early"]]
    first[p["several"]] = (1 + np.floor(rng.random(count) * span)).astype(np.int64)[p["several"]]

    owner, position = _group_positions(k)
    size = owner.size
    # split the total by random weights, exactly, in cents
    weight = rng.uniform(0.2, 1.0, size)
    cum_weight = _group_cumsum(weight, owner, k)
    share = cum_weight / cum_weight[np.cumsum(k)[owner] - 1]
    cum_cents = np.rint(total[owner] * share).astype(np.int64)
    amount = cum_cents - np.where(position > 0, np.concatenate(([0], cum_cents[:-1])), 0)
    # dates: the first payment, then gaps (short for "several", longer for "partial")
    gap = np.where(behaviour[owner] == PROFILES.index("several"), rng.integers(2, 13, size), rng.integers(5, 31, size))
    gap[position == 0] = 0
    offset = first[owner] + _group_cumsum(gap, owner, k)
    return owner, issue[owner] + offset * _DAY, amount


# --- CSV -----------------------------------------------------------------------------------------


def decimal_array(cents: np.ndarray) -> pa.Array:
    """Exact decimal(18,2) from int64 cents (the unscaled 128-bit value, little endian)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    return pa.Array.from_buffers(pa.decimal128(18, 2), cents.size, [None, pa.py_buffer(words)])


def _csv(columns: Sequence[str], arrays: Sequence[pa.Array]) -> bytes:
    sink = io.BytesIO()
    sink.write((",".join(columns) + "\n").encode())
    table = pa.table(dict(zip(columns, arrays, strict=True)))
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue()


def invoice_arrays(data: CardsData, rows: slice | np.ndarray, *, minimum_column: bool = True) -> list[pa.Array]:
    """The invoice columns of ``rows`` as Arrow arrays, in file order.

    Client, invoice id, issue date, due date, amount (decimal, from cents) and, with ``minimum_column``, the
    minimum payment.
    """
    arrays = [
        pa.array(data.inv_client[rows]),
        pa.array(data.inv_id[rows]),
        pa.array(data.inv_issue[rows]),
        pa.array(data.inv_due[rows]),
        decimal_array(data.inv_cents[rows]),
    ]
    if minimum_column:
        arrays.append(decimal_array(data.inv_min_cents[rows]))
    return arrays


def payment_arrays(data: CardsData, rows: slice | np.ndarray) -> list[pa.Array]:
    """The payment columns of ``rows`` as Arrow arrays, in file order: id, invoice, client, date, amount."""
    return [
        pa.array(data.pay_id[rows]),
        pa.array(data.pay_invoice[rows]),
        pa.array(data.pay_client[rows]),
        pa.array(data.pay_date[rows]),
        decimal_array(data.pay_cents[rows]),
    ]


# --- anomalies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Injected:
    """One injected line: ``line`` is its 1-based line number in ``file`` (the header is line 1)."""

    file: str
    kind: str
    line: int
    id: int  # id_fatura (invoice files) or id_pagamento (payment files) written on the line
    detail: str = ""


@dataclass(frozen=True)
class Truth:
    """What `generate_with_truth` injected, and the size of every file."""

    injected: tuple[Injected, ...]
    data_lines: dict[str, int]  # data lines (header excluded) per file, anomalies included
    valid_lines: dict[str, int] = field(default_factory=dict)  # clean rows written per file

    def counts(self, file: str) -> dict[str, int]:
        """How many lines of each kind were injected into ``file`` (every kind, zeros included)."""
        found = Counter(i.kind for i in self.injected if i.file == file)
        return {kind: found.get(kind, 0) for kind in KINDS}

    def by_file(self) -> dict[str, dict[str, int]]:
        """`counts` for every file."""
        return {name: self.counts(name) for name in self.data_lines}

    def malformed(self, file: str) -> int:
        """How many malformed lines were injected into ``file``."""
        return sum(1 for i in self.injected if i.file == file and i.kind in MALFORMED_KINDS)

    def to_dict(self) -> dict[str, object]:
        """The truth as JSON data: per file its data, valid and injected line counts, then every injected line."""
        return {
            "files": {
                name: {"data_lines": lines, "valid_lines": self.valid_lines.get(name, 0), **self.counts(name)}
                for name, lines in self.data_lines.items()
            },
            "injected": [asdict(i) for i in self.injected],
        }


def _fmt(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{part:02d}"


_BAD_DATES = ("{y}-02-30", "{y}-13-05", "05/{m}/{y}", "{y}{m}15", "{y}-{m}-32")


class _Injector:
    """Builds the extra lines of one file and splices them into the clean CSV bytes."""

    def __init__(self, rng: np.random.Generator, file: str, clean: bytes) -> None:
        self.rng = rng
        self.file = file
        self.clean = clean
        self.rows = clean.count(b"\n") - 1
        self.extra: list[tuple[int, str, str, int, str]] = []  # (after data row, kind, text, id, detail)

    def how_many(self, kinds: int) -> int:
        return max(1, round(self.rows * ANOMALY_RATE / kinds))

    def add(self, kind: str, text: str, row_id: int, detail: str = "") -> None:
        after = int(self.rng.integers(0, self.rows + 1))
        self.extra.append((after, kind, text, row_id, detail))

    def line(self, row: int) -> str:
        """The text of data row ``row`` (0-based) of the clean file."""
        ends = self._ends()
        return self.clean[ends[row] + 1 : ends[row + 1]].decode()

    def _ends(self) -> np.ndarray:
        if not hasattr(self, "_line_ends"):
            self._line_ends = np.flatnonzero(np.frombuffer(self.clean, dtype=np.uint8) == 10)
        return self._line_ends

    def result(self) -> tuple[bytes, list[Injected]]:
        if not self.extra:
            return self.clean, []
        ends = self._ends()
        order = sorted(range(len(self.extra)), key=lambda i: (self.extra[i][0], i))
        pieces: list[bytes] = []
        injected: list[Injected] = []
        cursor = 0
        for q, i in enumerate(order):
            after, kind, text, row_id, detail = self.extra[i]
            cut = int(ends[after]) + 1  # after the header (after=0) or after data row ``after``
            pieces += [self.clean[cursor:cut], text.encode() + b"\n"]
            cursor = cut
            injected.append(Injected(self.file, kind, after + q + 2, row_id, detail))
        pieces.append(self.clean[cursor:])
        return b"".join(pieces), injected


def _bad_date(rng: np.random.Generator, good: str) -> str:
    y, m, _ = good.split("-")
    return _BAD_DATES[int(rng.integers(0, len(_BAD_DATES)))].format(y=y, m=m)


def _malformed(rng: np.random.Generator, kind: str, fields: list[str], date_field: int, amount_field: int) -> str:
    fields = list(fields)
    if kind == "bad_date":
        fields[date_field] = _bad_date(rng, fields[date_field])
    elif kind == "negative_amount":
        fields[amount_field] = "-" + fields[amount_field]
    else:  # missing_field
        del fields[int(rng.integers(1, len(fields)))]
    return ",".join(fields)


def _invoice_fields(data: CardsData, i: int, cents: int, *, minimum_column: bool) -> list[str]:
    fields = [str(data.inv_client[i]), str(data.inv_id[i]), str(data.inv_issue[i]), str(data.inv_due[i]), _fmt(cents)]
    if minimum_column:
        fields.append(_fmt(int(minimum_cents(np.array([cents]))[0])))
    return fields


def _inject_invoices(
    inj: _Injector, data: CardsData, m: int, next_id: list[int], *, minimum_column: bool
) -> tuple[bytes, list[Injected]]:
    rng = inj.rng
    rows, earlier = data.invoice_slice(m), data.invoice_slice(m - 1) if m > 0 else slice(0, 0)
    kinds = [
        k
        for k in INVOICE_KINDS
        if (k != "duplicate" or inj.rows) and (k != "correction" or earlier.stop > earlier.start)
    ]
    per_kind = inj.how_many(len(kinds))
    for kind in kinds:
        for _ in range(per_kind):
            if kind == "duplicate":
                row = int(rng.integers(0, inj.rows))
                inj.add(kind, inj.line(row), int(data.inv_id[rows.start + row]))
                continue
            if kind == "correction":
                i = int(rng.integers(earlier.start, earlier.stop))
                old = int(data.inv_cents[i])
                new = max(500, old + int(rng.choice([-1, 1])) * int(rng.integers(1, max(2, old // 10))))
                fields = _invoice_fields(data, i, new, minimum_column=minimum_column)
                inj.add(kind, ",".join(fields), int(data.inv_id[i]), f"valor_fatura {_fmt(old)} -> {_fmt(new)}")
                continue
            # a malformed line, modelled on a row of this file (or any row when the file is empty)
            i = rows.start + int(rng.integers(0, inj.rows)) if inj.rows else int(rng.integers(0, data.inv_id.size))
            fields = _invoice_fields(data, i, int(data.inv_cents[i]), minimum_column=minimum_column)
            fields[1] = str(next_id[0])
            next_id[0] += 1
            inj.add(kind, _malformed(rng, kind, fields, 2 + int(rng.integers(0, 2)), 4), int(fields[1]))
    return inj.result()


def _inject_payments(
    inj: _Injector, data: CardsData, m: int, next_id: list[int], unknown_invoice: list[int]
) -> tuple[bytes, list[Injected]]:
    rng = inj.rng
    rows = data.payment_slice(m)
    kinds = [k for k in PAYMENT_KINDS if k != "duplicate" or inj.rows]
    per_kind = inj.how_many(len(kinds))
    for kind in kinds:
        for _ in range(per_kind):
            if inj.rows:
                row = int(rng.integers(0, inj.rows))
                fields = inj.line(row).split(",")
            else:  # no payment this month (a handful of clients): model the line on any invoice
                i = int(rng.integers(0, data.inv_id.size))
                fields = ["", str(data.inv_id[i]), str(data.inv_client[i]), f"{data.months[m]}-15", _fmt(1000)]
            if kind == "duplicate":
                inj.add(kind, ",".join(fields), int(data.pay_id[rows.start + row]))
                continue
            fields[0] = str(next_id[0])
            next_id[0] += 1
            if kind == "unknown_invoice":
                fields[1] = str(unknown_invoice[0])
                unknown_invoice[0] += 1
                inj.add(kind, ",".join(fields), int(fields[0]), f"id_fatura {fields[1]}")
            else:
                inj.add(kind, _malformed(rng, kind, fields, 3, 4), int(fields[0]))
    return inj.result()


# --- public API ----------------------------------------------------------------------------------


def generate_with_truth(
    clients: int,
    months: int,
    *,
    end_month: str = "2024-09",
    seed: int = 7,
    minimum_column: bool = True,
    anomalies: bool = True,
) -> tuple[dict[str, tuple[bytes, bytes]], Truth]:
    """``{'YYYY-MM': (invoices CSV, payments CSV)}`` and what was injected (see the module doc)."""
    data = build(clients, months, end_month=end_month, seed=seed)
    inv_header = INVOICE_COLUMNS + ((MINIMUM_COLUMN,) if minimum_column else ())
    rng = np.random.default_rng([seed, clients, months, 1])
    next_invoice = [int(data.inv_id.size) + 1]
    next_payment = [int(data.pay_id.size) + 1]
    unknown = [int(data.inv_id.size) + 1_000_000_001]
    files: dict[str, tuple[bytes, bytes]] = {}
    injected: list[Injected] = []
    data_lines: dict[str, int] = {}
    valid_lines: dict[str, int] = {}
    for m, month in enumerate(data.months):
        inv_rows, pay_rows = data.invoice_slice(m), data.payment_slice(m)
        invoices = _csv(inv_header, invoice_arrays(data, inv_rows, minimum_column=minimum_column))
        payments = _csv(PAYMENT_COLUMNS, payment_arrays(data, pay_rows))
        inv_name, pay_name = invoice_file_name(month), payment_file_name(month)
        valid_lines[inv_name] = inv_rows.stop - inv_rows.start
        valid_lines[pay_name] = pay_rows.stop - pay_rows.start
        if anomalies:
            invoices, extra_inv = _inject_invoices(
                _Injector(rng, inv_name, invoices), data, m, next_invoice, minimum_column=minimum_column
            )
            payments, extra_pay = _inject_payments(_Injector(rng, pay_name, payments), data, m, next_payment, unknown)
            injected += extra_inv + extra_pay
        data_lines[inv_name] = invoices.count(b"\n") - 1
        data_lines[pay_name] = payments.count(b"\n") - 1
        files[month] = (invoices, payments)
    return files, Truth(tuple(injected), data_lines, valid_lines)


def generate(
    clients: int,
    months: int,
    *,
    end_month: str = "2024-09",
    seed: int = 7,
    minimum_column: bool = True,
    anomalies: bool = True,
) -> dict[str, tuple[bytes, bytes]]:
    """``{'YYYY-MM': (tb_faturas_YYYYMM.csv bytes, tb_pagamentos_YYYYMM.csv bytes)}``."""
    files, _ = generate_with_truth(
        clients, months, end_month=end_month, seed=seed, minimum_column=minimum_column, anomalies=anomalies
    )
    return files


def write(out_dir: Path, files: dict[str, tuple[bytes, bytes]], *, date_stamped_from: str | None = None) -> list[Path]:
    """Write every month's two files into ``out_dir`` (created if needed); returns the paths.

    Months from ``date_stamped_from`` (YYYY-MM) on are named as the date-stamped deliveries
    (:func:`date_stamped_names`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for month, (invoices, payments) in sorted(files.items()):
        names = (invoice_file_name(month), payment_file_name(month))
        if date_stamped_from is not None and month >= date_stamped_from:
            names = date_stamped_names(month)
        for name, body in zip(names, (invoices, payments), strict=True):
            path = out_dir / name
            path.write_bytes(body)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """The ``finlake generate cards`` script entry point: write the invoice and payment files into ``--out``.

    Returns
    -------
    int
        The exit code, 0.
    """
    parser = argparse.ArgumentParser(prog="finlake generate cards", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--end-month", default="2024-09", help="last month, YYYY-MM")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-minimum", action="store_true", help="omit the valor_pagamento_minimo column")
    parser.add_argument("--no-anomalies", action="store_true", help="no duplicated or malformed lines")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    files, truth = generate_with_truth(
        args.clients,
        args.months,
        end_month=args.end_month,
        seed=args.seed,
        minimum_column=not args.no_minimum,
        anomalies=not args.no_anomalies,
    )
    paths = write(args.out, files)
    lines = sum(truth.data_lines.values())
    print(f"wrote {len(paths)} files, {lines:,} data lines, {len(truth.injected)} injected anomalies, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# -- Local mode ---------------------------------------------------------------------------------------

CARDS_SAMPLE_CLIENTS = 1_000  # a `finlake run cards --month M` with an empty inbox
CARDS_DEMO_CLIENTS, CARDS_DEMO_MONTHS, CARDS_DEMO_END = 2_000, 12, "2024-09"


def seed_cards_inbox(ws: Workspace, month: str) -> str:
    """Put generated invoice and payment files for ``month`` (YYYY-MM) in the local inbox when it has neither.

    That is what dropping the month's files would do; returns the line that says so, or "".
    """
    from functions.cards.pipeline import INBOX, monthly_names

    names = monthly_names(month)
    paths = [ws.object_path(BUCKETS["RAW_BUCKET"], INBOX + name) for name in names]
    if any(p.exists() for p in paths):  # the month's files, or one of them: never overwrite a file dropped there
        return ""
    written = write(paths[0].parent, generate(CARDS_SAMPLE_CLIENTS, 1, end_month=month))
    return (
        f"no card files for {month} in the local inbox: generated samples ({CARDS_SAMPLE_CLIENTS} clients; "
        f"`finlake generate cards`) put there as {', '.join(p.name for p in written)}; your own files: --input FILE"
    )


def cards_demo(ws: Workspace) -> RunPlan:
    """A year of monthly invoice and payment files loaded in one backfill run.

    The files have the anomalies real files have: duplicated rows, malformed lines, payments for unknown invoices; the
    last quarter is named as the publisher's date-stamped deliveries, tb_fatura_YYYYMMDD_YYYYMMDDHHMMSS.csv.
    """
    folder = ws.samples_dir / "cards"
    if not folder.exists():
        files = generate(CARDS_DEMO_CLIENTS, CARDS_DEMO_MONTHS, end_month=CARDS_DEMO_END)
        write(folder, files, date_stamped_from=sorted(files)[-3])
    return RunPlan(ADAPTER.spec, month=CARDS_DEMO_END, inputs=sorted(folder.glob("tb_*.csv")))


class CardsAdapter(SampleAdapter):
    """cards offline: the files in the local inbox, generated for the month when it has none."""

    domain = "cards"
    bench_input = "500 clients x 3 months of invoice and payment files"

    def plan(self, ws: Workspace, spec: DomainSpec, **options: Any) -> RunPlan:
        """What was asked; without ``--input``, the month's generated files put in the inbox (`seed_cards_inbox`)."""
        plan = super().plan(ws, spec, **options)
        if not plan.inputs and plan.month:
            plan.note = seed_cards_inbox(ws, plan.month)
        return plan

    def demo_plans(self, ws: Workspace) -> list[RunPlan]:
        """`cards_demo`: a year of files in one run."""
        return [cards_demo(ws)]

    def bench_plans(self, ws: Workspace) -> list[RunPlan]:
        """500 clients x 3 months (July-September 2024)."""
        files = write(ws.samples_dir / "cards", generate(500, 3, end_month="2024-09"))
        return [RunPlan(self.spec, month="2024-09", inputs=files)]

    def generate_command(self) -> click.Command:
        """`finlake generate cards`: monthly invoice and payment files into ``--out``."""
        return _generate_command


@click.command("cards")
@click.option("--clients", type=click.IntRange(1, 10_000_000), default=1000, show_default=True)
@click.option("--months", type=click.IntRange(1, 240), default=12, show_default=True, help="Months of files.")
@click.option("--end-month", default="2024-09", show_default=True, help="Last month, YYYY-MM.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--no-minimum", is_flag=True, help="Omit the valor_pagamento_minimo column.")
@click.option("--no-anomalies", is_flag=True, help="No duplicated or malformed lines.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder to write.")
def _generate_command(
    clients: int, months: int, end_month: str, seed: int, no_minimum: bool, no_anomalies: bool, out: Path
) -> None:
    """Monthly invoice and payment files (tb_faturas_YYYYMM.csv, tb_pagamentos_YYYYMM.csv)."""
    end_month = parse_month(end_month, "--end-month")
    files, truth = generate_with_truth(
        clients, months, end_month=end_month, seed=seed, minimum_column=not no_minimum, anomalies=not no_anomalies
    )
    paths = write(out, files)
    lines = sum(truth.data_lines.values())
    click.echo(f"wrote {len(paths)} files, {lines:,} data lines, {len(truth.injected)} injected anomalies, to {out}")


ADAPTER = CardsAdapter()
