"""French display of amounts: the portal's one euro formatter.

Pure (standard library only), so the funding rules use it as well as the portal's forms,
templates, e-mails and decision letters (``essms_portal.money`` re-exports it).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

# Thousands separator (narrow no-break space) and the space before "€" (no-break space).
THOUSANDS_SEPARATOR = "\u202f"
SPACE_BEFORE_UNIT = "\u00a0"


def group_thousands(value: int) -> str:
    """A whole number with French digit grouping: ``25 000`` (narrow no-break space)."""
    return f"{value:,}".replace(",", THOUSANDS_SEPARATOR)


def format_euros(amount: int | Decimal) -> str:
    """French display of a whole-euro amount: ``25 000 €`` (narrow no-break space between
    thousands, no-break space before the unit); a fractional amount is rounded down."""
    whole = int(Decimal(amount).to_integral_value(rounding=ROUND_FLOOR))
    return group_thousands(whole) + SPACE_BEFORE_UNIT + "€"


def decimal_fr(value: Decimal) -> str:
    """A decimal the French way, for messages: ``0,6``."""
    return str(value).replace(".", ",")
