"""Money helpers: amounts are whole euros, stored as DecimalField(12, 0), never floats."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.db import models


def euros_field(verbose_name: str, **kwargs: Any) -> models.DecimalField:  # type: ignore[type-arg]
    """A whole-euro amount column (12 digits, no decimals)."""
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=0, **kwargs)


def format_euros(amount: int | Decimal) -> str:
    """French display of a whole-euro amount: ``25 000 €`` (narrow no-break space)."""
    whole = int(Decimal(amount).to_integral_value(rounding=ROUND_FLOOR))
    return f"{whole:,}".replace(",", "\u202f") + "\u00a0€"
