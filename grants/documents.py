"""The funding convention as PDF, rendered on demand from its frozen snapshot.

Same machinery as the decision letters (``applications.decisions.letters``): WeasyPrint with the
local-only fetcher, the Marianne fonts, a tagged PDF. Rendering reads the snapshot only (no
clock, no database), so the same convention always gives the same bytes and need not be stored:
the porteur signs a printout of these bytes and deposits the signed copy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string

from applications.decisions.letters import (
    euros_in_words,
    fingerprint_display,
    font_uris,
    french_date,
    pdf_from_html,
    snapshot_fingerprint,
)
from essms_portal.money import format_euros

CONVENTION_TEMPLATE = "grants/convention.html"


def _decimal_fr(value: str) -> str:
    """A threshold as French writes it: ``80`` for 80.00, ``2,5`` for 2.50 (never a float)."""
    number = Decimal(value)
    text = format(number.quantize(Decimal(1)) if number == number.to_integral() else number, "f")
    if "." in text:
        text = text.rstrip("0")
    return text.replace(".", ",")


def _signatory(signatory: dict[str, Any]) -> dict[str, str]:
    name = str(signatory.get("name", "")).strip()
    title = str(signatory.get("title", "")).strip()
    return {
        "delegation": str(signatory.get("delegation", "")).strip(),
        "title": "" if title.casefold() == name.casefold() else title,
        "name": name,
    }


def convention_context(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What the convention template shows, derived from the snapshot alone."""
    total = int(snapshot["total"])
    deadline = snapshot.get("measurement_deadline") or ""
    return {
        "s": snapshot,
        "fingerprint": fingerprint_display(snapshot_fingerprint(snapshot)),
        "fonts": font_uris(),
        "decision_issued_on": french_date(snapshot["decision"]["issued_on"]),
        "measurement_deadline": french_date(deadline) if deadline else "",
        "signatory": _signatory(snapshot.get("authority", {}).get("signatory", {})),
        "lines": [
            {**line, "amount_fr": format_euros(int(line["amount"]))} for line in snapshot["lines"]
        ],
        "lines_total_fr": format_euros(sum(int(line["amount"]) for line in snapshot["lines"])),
        "supports": [
            {**support, "amount_fr": format_euros(int(support["amount"]))}
            for support in snapshot["supports"]
        ],
        "tranches": [
            {**tranche, "amount_fr": format_euros(int(tranche["amount"]))}
            for tranche in snapshot["tranches"]
        ],
        "targets": [
            {**target, "threshold_fr": _decimal_fr(target["threshold"])}
            for target in snapshot.get("targets", [])
        ],
        "total_fr": format_euros(total),
        "total_words": euros_in_words(total),
    }


def convention_html(snapshot: dict[str, Any]) -> str:
    """The convention as HTML (also handy to debug the layout in a browser)."""
    return render_to_string(CONVENTION_TEMPLATE, convention_context(snapshot))


def convention_pdf(snapshot: dict[str, Any]) -> bytes:
    """The convention as PDF bytes; the same snapshot always gives the same bytes."""
    return pdf_from_html(convention_html(snapshot))


# --------------------------------------------------------------------------------------------
# Amendment (avenant)
# --------------------------------------------------------------------------------------------

AMENDMENT_TEMPLATE = "grants/amendment.html"


def _with_amount_fr(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**line, "amount_fr": format_euros(int(line["amount"]))} for line in lines]


def _schedule_context(schedule: dict[str, Any]) -> dict[str, Any]:
    """The effect on the orders, in euros as French writes them: what is recovered now, what the
    porteur keeps (no recovery under the campaign's policy) or what the second tranche adds."""
    net = int(schedule["first_ordered"]) - int(schedule["recovered_before"])
    gap = net - int(schedule["first_due"])
    amounts = {
        **schedule,
        "excess": max(0, gap) if not schedule["recovery"] else 0,
        "shortfall": max(0, -gap),
    }
    for key in (
        "first_ordered",
        "recovered_before",
        "recovery",
        "excess",
        "shortfall",
        "second_tranche_max",
    ):
        amounts[f"{key}_fr"] = format_euros(int(amounts[key]))
    return amounts


def amendment_context(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What the amendment template shows, derived from its snapshot alone."""
    total = int(snapshot["total"])
    supports_total = sum(int(support["amount"]) for support in snapshot["supports"])
    return {
        "s": snapshot,
        "fingerprint": fingerprint_display(snapshot_fingerprint(snapshot)),
        "convention_fingerprint": fingerprint_display(snapshot["convention"]["sha256"]),
        "fonts": font_uris(),
        "decision_issued_on": french_date(snapshot["decision"]["issued_on"]),
        "signatory": _signatory(snapshot.get("authority", {}).get("signatory", {})),
        "lines": _with_amount_fr(snapshot["lines"]),
        "left": _with_amount_fr(snapshot["left"]),
        "joined": _with_amount_fr(snapshot["joined"]),
        "lines_total_fr": format_euros(sum(int(line["amount"]) for line in snapshot["lines"])),
        "supports_total_fr": format_euros(supports_total) if supports_total else "",
        "tranches": [
            {**tranche, "amount_fr": format_euros(int(tranche["amount"]))}
            for tranche in snapshot["tranches"]
        ],
        "schedule": _schedule_context(snapshot["schedule"]),
        "before_total_fr": format_euros(int(snapshot["before"]["total"])),
        "total_fr": format_euros(total),
        "total_words": euros_in_words(total),
    }


def amendment_html(snapshot: dict[str, Any]) -> str:
    """The amendment as HTML, on the convention's page layout."""
    return render_to_string(AMENDMENT_TEMPLATE, amendment_context(snapshot))


def amendment_pdf(snapshot: dict[str, Any]) -> bytes:
    """The amendment as PDF bytes (tagged, like the convention); the same snapshot always gives
    the same bytes, so it is rendered on demand and never stored."""
    return pdf_from_html(amendment_html(snapshot))
