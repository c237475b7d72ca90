r"""A deterministic, recorded CKAN cassette of BNDES balance sheets, for the local mode and tests.

The numbers are invented (plausible magnitudes, not BNDES's published figures). Same arguments,
same bytes.

Cassette layout (read by ``functions.bndes.ckan.ReplayHttp``)::

    <out_dir>/index.json
        {"<url>": {"status": 200, "headers": {"Content-Type": "..."}, "file": "<relative path>"}, ...}
    <out_dir>/api/package_show-balanco-patrimonial.json
        the CKAN action envelope {"help": ..., "success": true, "result": {... "resources": [...]}}
        answered for https://dadosabertos.bndes.gov.br/api/3/action/package_show?id=balanco-patrimonial
    <out_dir>/resources/<slug>.csv
        one CSV per (year, standard), served at the resource's ``url``:
        https://dadosabertos.bndes.gov.br/dataset/<package id>/resource/<resource id>/download/<slug>.csv

Each resource's ``hash`` is the MD5 of its CSV bytes. Resource and package ids are uuid5 values.

CSV: UTF-8 without BOM, ``;`` delimiter, ``\n`` line ends, header of human labels with accents
(``Data;Categoria;Caixa e equivalentes de caixa;...;Ativo total;...;Patrimônio líquido;Passivo
total``, which normalise to ``data;categoria;caixa_e_equivalentes_de_caixa;...``), one row per
quarter end (31/03, 30/06, 30/09, 31/12) and category, values in R$ millions with two decimals in
pt-BR format (``612.345,67``). ``Ativo total`` is the sum of the asset lines and ``Passivo total``
the sum of liabilities and equity, and both are equal. IFRS and the Conglomerado Prudencial use
slightly different account sets than BRGAAP.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from finlake.local.workspace import Workspace
from finlake.samples.registry import SampleAdapter
from functions.bndes.ckan import DEFAULT_BASE_URL, DEFAULT_PACKAGE_ID
from functions.common.http import Http, ReplayHttp, write_cassette_entry
from functions.common.ptbr import format_ptbr, normalize_column

STANDARDS = ("BRGAAP", "IFRS", "PRUDENCIAL")
STANDARD_LABELS = {"BRGAAP": "BRGAAP", "IFRS": "IFRS", "PRUDENCIAL": "Conglomerado Prudencial"}
CATEGORIES = {
    "BRGAAP": ("Individual", "Consolidado"),
    "IFRS": ("Consolidado",),
    "PRUDENCIAL": ("Conglomerado Prudencial",),
}
QUARTER_ENDS = ("31/03", "30/06", "30/09", "31/12")
CP1252_FROM = 2024  # files of this year on are windows-1252 (BNDES switched in February 2025)
DECLARED_FROM = 2025  # ... and their CKAN resource declares it from this year on
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, DEFAULT_BASE_URL)
PACKAGE_UUID = str(uuid.uuid5(_NAMESPACE, f"package/{DEFAULT_PACKAGE_ID}"))


@dataclass(frozen=True)
class Account:
    """One balance-sheet account of the sample: its label as BNDES writes it, and its share of its side.

    ``share`` is of total assets (``side == "asset"``) or of total liabilities and equity (``"liability"``).
    """

    label: str
    share: float  # of total assets (assets) or of total liabilities + equity (liabilities)
    side: str  # "asset" or "liability"

    @property
    def column(self) -> str:
        """The account's column name: the label normalized as the parser does (``ptbr.normalize_column``)."""
        return normalize_column(self.label)


_BRGAAP_ASSETS = (
    Account("Caixa e equivalentes de caixa", 0.02, "asset"),
    Account("Aplicações interfinanceiras de liquidez", 0.08, "asset"),
    Account("Títulos e valores mobiliários", 0.17, "asset"),
    Account("Operações de crédito e repasses", 0.60, "asset"),
    Account("Provisão para risco de crédito", -0.02, "asset"),
    Account("Participações societárias", 0.09, "asset"),
    Account("Outros ativos", 0.06, "asset"),
)
_BRGAAP_LIABILITIES = (
    Account("Recursos do FAT", 0.44, "liability"),
    Account("Obrigações com o Tesouro Nacional", 0.14, "liability"),
    Account("Captações no exterior", 0.07, "liability"),
    Account("Outros passivos", 0.13, "liability"),
)
ACCOUNTS: dict[str, tuple[tuple[Account, ...], tuple[Account, ...]]] = {
    "BRGAAP": (_BRGAAP_ASSETS, _BRGAAP_LIABILITIES),
    "IFRS": (
        (
            *_BRGAAP_ASSETS[:2],
            Account("Ativos financeiros ao valor justo", 0.17, "asset"),
            *_BRGAAP_ASSETS[3:6],
            Account("Ativos fiscais diferidos", 0.03, "asset"),
            Account("Outros ativos", 0.03, "asset"),
        ),
        _BRGAAP_LIABILITIES,
    ),
    "PRUDENCIAL": (
        (
            *_BRGAAP_ASSETS[:5],
            Account("Instrumentos financeiros derivativos", 0.01, "asset"),
            _BRGAAP_ASSETS[6],
        ),
        (*_BRGAAP_LIABILITIES[:3], Account("Outros passivos", 0.12, "liability")),
    ),
}
EQUITY_LABEL = "Patrimônio líquido"


def header_labels(standard: str) -> list[str]:
    """The CSV header (human labels) of one standard."""
    assets, liabilities = ACCOUNTS[standard]
    return [
        "Data",
        "Categoria",
        *(a.label for a in assets),
        "Ativo total",
        *(a.label for a in liabilities),
        EQUITY_LABEL,
        "Passivo total",
    ]


def _cents(amount: float) -> int:
    return round(amount * 100)


def _balance_row(rng: random.Random, standard: str, total_millions: float) -> list[int]:
    """Amounts in cents of a million, in header order after Data/Categoria."""
    assets, liabilities = ACCOUNTS[standard]
    asset_values = [_cents(total_millions * a.share * rng.uniform(0.95, 1.05)) for a in assets]
    total = sum(asset_values)
    liability_values = [_cents(total / 100 * a.share * rng.uniform(0.95, 1.05)) for a in liabilities]
    equity = total - sum(liability_values)
    return [*asset_values, total, *liability_values, equity, total]


def sample_csv(standard: str = "BRGAAP", year: int = 2023, *, seed: int = 7, encoding: str | None = None) -> bytes:
    """One resource CSV: a row per quarter end and category (see module doc).

    ``encoding`` defaults to the year's (UTF-8, or windows-1252 from :data:`CP1252_FROM`).
    """
    if standard not in ACCOUNTS:
        raise ValueError(f"unknown standard {standard!r}; expected one of {STANDARDS}")
    rng = random.Random(f"{seed}/{standard}/{year}")
    lines = [";".join(header_labels(standard))]
    base = 760_000.0 + 25_000.0 * (year - 2021)  # R$ millions of total assets
    for quarter, day_month in enumerate(QUARTER_ENDS):
        for index, category in enumerate(CATEGORIES[standard]):
            scale = 1.0 - 0.03 * index  # the individual bank is a bit smaller than the group
            total = base * scale * (1 + 0.006 * quarter) * rng.uniform(0.98, 1.02)
            amounts = [format_ptbr(Decimal(cents).scaleb(-2)) for cents in _balance_row(rng, standard, total)]
            lines.append(";".join([f"{day_month}/{year}", category, *amounts]))
    return ("\n".join(lines) + "\n").encode(encoding or ("cp1252" if year >= CP1252_FROM else "utf-8"))


def resource_id(standard: str, year: int) -> str:
    """The stable CKAN resource id (a UUID5) of ``standard``'s CSV of ``year``."""
    return str(uuid.uuid5(_NAMESPACE, f"resource/{DEFAULT_PACKAGE_ID}/{standard}/{year}"))


def _resource(standard: str, year: int, body: bytes, position: int) -> dict[str, object]:
    rid = resource_id(standard, year)
    slug = f"balanco-patrimonial-{STANDARD_LABELS[standard].lower().replace(' ', '-')}-{year}"
    stamp = f"{year + 1}-02-{10 + position % 15:02d}T09:30:00.000000"
    return {
        "id": rid,
        "package_id": PACKAGE_UUID,
        "name": f"Balanço Patrimonial {STANDARD_LABELS[standard]} {year}",
        "description": f"Balanço patrimonial trimestral ({STANDARD_LABELS[standard]}), em R$ milhões.",
        "format": "CSV",
        "mimetype": "text/csv",
        "url": f"{DEFAULT_BASE_URL}/dataset/{PACKAGE_UUID}/resource/{rid}/download/{slug}.csv",
        "url_type": "upload",
        "hash": hashlib.md5(body, usedforsecurity=False).hexdigest(),
        "size": len(body),
        "created": stamp,
        "last_modified": stamp,
        "metadata_modified": stamp,
        "position": position,
        "state": "active",
        "datastore_active": False,
        "resource_type": None,
        **({"encoding": "Windows-1252"} if year >= DECLARED_FROM else {}),
    }


def package_envelope(resources: list[dict[str, object]], modified: str) -> dict[str, object]:
    """The CKAN ``package_show`` answer of the balance-sheet dataset with ``resources``, modified at ``modified``."""
    return {
        "help": f"{DEFAULT_BASE_URL}/api/3/action/help_show?name=package_show",
        "success": True,
        "result": {
            "id": PACKAGE_UUID,
            "name": DEFAULT_PACKAGE_ID,
            "title": "Balanço Patrimonial",
            "notes": ("Balanço patrimonial do BNDES por padrão contábil (BRGAAP, IFRS e Conglomerado Prudencial)."),
            "author": "BNDES",
            "license_id": "odc-odbl",
            "license_title": "Open Data Commons Open Database License (ODbL)",
            "organization": {
                "name": "bndes",
                "title": "BNDES",
                "type": "organization",
                "is_organization": True,
            },
            "metadata_created": "2019-05-20T14:00:00.000000",
            "metadata_modified": modified,
            "num_resources": len(resources),
            "num_tags": 2,
            "tags": [{"name": "balanço"}, {"name": "contabilidade"}],
            "private": False,
            "state": "active",
            "type": "dataset",
            "resources": resources,
        },
    }


def write_bndes_cassette(out_dir: Path, *, years: range = range(2021, 2026), seed: int = 7) -> Path:
    """Write the package_show response and every resource CSV into ``out_dir``; returns ``out_dir``."""
    out_dir = Path(out_dir)
    resources: list[dict[str, object]] = []
    for year in years:
        for standard in STANDARDS:
            body = sample_csv(standard, year, seed=seed)
            resource = _resource(standard, year, body, len(resources))
            slug_file = str(resource["url"]).rsplit("/", 1)[-1]
            write_cassette_entry(
                out_dir,
                str(resource["url"]),
                body,
                headers={"Content-Type": "text/csv" if year >= CP1252_FROM else "text/csv; charset=utf-8"},
                file=f"resources/{slug_file}",
            )
            resources.append(resource)
    modified = max((str(r["last_modified"]) for r in resources), default="2019-05-20T14:00:00.000000")
    envelope = json.dumps(package_envelope(resources, modified), ensure_ascii=False, indent=2).encode("utf-8")
    write_cassette_entry(
        out_dir,
        f"{DEFAULT_BASE_URL}/api/3/action/package_show?id={DEFAULT_PACKAGE_ID}",
        envelope,
        headers={"Content-Type": "application/json;charset=utf-8"},
        file=f"api/package_show-{DEFAULT_PACKAGE_ID}.json",
    )
    return out_dir


# -- Local mode ---------------------------------------------------------------------------------------

CASSETTE = "bndes-ckan"  # under the workspace's samples/


def workspace_cassette(ws: Workspace) -> Path:
    """The workspace's cassette folder (``<workspace>/samples/bndes-ckan``), written once if it has no index."""
    cassette = ws.samples_dir / CASSETTE
    if not (cassette / "index.json").exists():
        write_bndes_cassette(cassette)
    return cassette


class BndesAdapter(SampleAdapter):
    """bndes offline: Fetch reads the workspace's recorded-format CKAN cassette (15 resources, 80 rows)."""

    domain = "bndes"
    bench_input = "bundled CKAN cassette: 15 resources, 80 rows"

    def transport(self, ws: Workspace, request: Mapping[str, Any]) -> Http:
        """A `ReplayHttp` over the workspace's cassette (a broken entry written there is what Fetch gets)."""
        return ReplayHttp(workspace_cassette(ws))


ADAPTER = BndesAdapter()
