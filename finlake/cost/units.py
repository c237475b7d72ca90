"""Units, constants and the exact number type the estimate uses (Decimal throughout)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent.parent  # finlake/: the JSON data files
PRICES_PATH = HERE / "prices.json"
ASSUMPTIONS_PATH = HERE / "cost_assumptions.json"
REGIONS = ("us-east-1", "sa-east-1")

# A 28-year Gregorian cycle without a skipped leap year: weekdays and leap days repeat exactly,
# so counting matching days over it gives the long-run average per month.
CYCLE_START, CYCLE_END = date(2001, 1, 1), date(2028, 12, 31)
CYCLE_MONTHS = 28 * 12
MONTH_MINUTES = Decimal("365.25") / 12 * 1440
HOURS_PER_MONTH = Decimal(730)
KB_PER_GB = Decimal(1024 * 1024)
GB_PER_TB = Decimal(1024)
ATHENA_MIN_GB_PER_QUERY = Decimal(10) / 1024
DPU_PER_WORKER = {
    "G.025X": Decimal("0.25"),
    "Standard": Decimal(1),
    "G.1X": Decimal(1),
    "G.2X": Decimal(2),
    "G.4X": Decimal(4),
    "G.8X": Decimal(8),
    "G.12X": Decimal(12),
    "G.16X": Decimal(16),
    "Z.2X": Decimal(2),
    "R.1X": Decimal(1),
    "R.2X": Decimal(2),
    "R.4X": Decimal(4),
    "R.8X": Decimal(8),
}
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


def D(value: Any) -> Decimal:
    """A Decimal from a number or string, exact for what JSON or the user wrote."""
    return value if isinstance(value, Decimal) else Decimal(str(value))
