"""``{% load money %}``: ``{{ amount|euros }}`` shows whole euros with the portal's one
formatter (``funding.money.format_euros``: ``25 000 €``). Registered in ``TEMPLATES``'
``libraries`` (``essms_portal`` is not an installed app)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from funding.money import format_euros

register = template.Library()


@register.filter(name="euros")
def euros(amount: int | Decimal | None) -> str:
    """``25000`` → ``25 000 €``; empty for a missing amount."""
    if amount is None or amount == "":
        return ""
    return format_euros(amount)
