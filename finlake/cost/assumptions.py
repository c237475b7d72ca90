"""Prices (``finlake/prices.json``, dated, per region) and usage assumptions (``finlake/cost_assumptions.json``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from finlake.cost.units import ASSUMPTIONS_PATH, PRICES_PATH


def load_json(path: Path) -> dict[str, Any]:
    """The JSON object at ``path``, numbers with a fraction read as `Decimal` (prices are exact)."""
    data: dict[str, Any] = json.loads(path.read_text(), parse_float=Decimal)
    return data


def load_prices(path: Path = PRICES_PATH) -> dict[str, Any]:
    """The dated price list (``finlake/prices.json`` by default): USD unit prices per region, with their pages."""
    return load_json(path)


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(merged.get(key), dict) else value
        )
    return merged


def load_assumptions(path: Path = ASSUMPTIONS_PATH, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The usage assumptions, with ``overrides`` merged in key by key (nested dicts too)."""
    return _merge(load_json(path), overrides or {})
