"""Decision letters: the frozen snapshot rendered to PDF with WeasyPrint.

Rendering reads the snapshot only (no clock, no database), so the same snapshot always gives the
same letter. A PDF cannot print its own hash, so the letter prints the SHA-256 of the canonical
JSON snapshot (its *fingerprint*); the SHA-256 of the PDF bytes is stored on the Decision.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string

from essms_portal.money import format_euros

# WeasyPrint logs every rendering step and fontTools every font decompression at INFO: a batch
# of letters would flood the worker's log. Their warnings and errors still come through.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
logging.getLogger("fontTools").setLevel(logging.WARNING)

LETTER_TEMPLATE = "decisions/letter.html"
MARIANNE_FONTS = {
    "regular": "dsfr/dist/fonts/Marianne-Regular.woff2",
    "bold": "dsfr/dist/fonts/Marianne-Bold.woff2",
}
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


# --------------------------------------------------------------------------------------------
# Canonical snapshot and its fingerprint
# --------------------------------------------------------------------------------------------


def snapshot_canonical(snapshot: dict[str, Any]) -> bytes:
    """The snapshot as canonical JSON bytes (sorted keys, no spaces, UTF-8)."""
    return json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def snapshot_fingerprint(snapshot: dict[str, Any]) -> str:
    """SHA-256 of the canonical snapshot: the fingerprint printed on the letter."""
    return hashlib.sha256(snapshot_canonical(snapshot)).hexdigest()


# --------------------------------------------------------------------------------------------
# French wording: dates and amounts in words
# --------------------------------------------------------------------------------------------


def french_date(iso: str) -> str:
    """``2023-06-01`` as ``1er juin 2023``."""
    day = datetime.date.fromisoformat(iso)
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {MONTHS[day.month - 1]} {day.year}"


_UNITS = (
    "zéro",
    "un",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
    "dix-sept",
    "dix-huit",
    "dix-neuf",
)
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def _below_100(n: int, *, final: bool) -> str:
    """0 < n < 100. ``final``: nothing follows (``quatre-vingts`` then takes its s)."""
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix…, quatre-vingt-dix…: base 60 or 80 plus 10 to 19
        base = "soixante" if tens == 7 else "quatre-vingt"
        rest = 10 + unit
        joiner = " et " if (tens == 7 and unit == 1) else "-"
        return f"{base}{joiner}{_UNITS[rest]}"
    if tens == 8:
        return (
            ("quatre-vingts" if final else "quatre-vingt")
            if unit == 0
            else (f"quatre-vingt-{_UNITS[unit]}")
        )
    word = _TENS[tens]
    if unit == 0:
        return word
    if unit == 1:
        return f"{word} et un"
    return f"{word}-{_UNITS[unit]}"


def _below_1000(n: int, *, final: bool) -> str:
    """0 < n < 1000, traditional spelling (``deux cents``, ``deux cent mille``)."""
    hundreds, rest = divmod(n, 100)
    parts: list[str] = []
    if hundreds:
        if hundreds == 1:
            parts.append("cent")
        else:
            plural = rest == 0 and final
            parts.append(f"{_UNITS[hundreds]} cent{'s' if plural else ''}")
    if rest:
        parts.append(_below_100(rest, final=final))
    return " ".join(parts)


def number_in_words(n: int) -> str:
    """A whole number (0 ≤ n < 10¹²) in French words, traditional spelling.

    ``vingt`` and ``cent`` take an s when multiplied and ending the number, or before
    ``millions``/``milliards`` (nouns), never before ``mille`` (invariable)."""
    if n < 0 or n >= 10**12:
        raise ValueError("Montant hors limites (0 à 999 999 999 999).")
    if n == 0:
        return "zéro"
    billions, rest = divmod(n, 10**9)
    millions, rest = divmod(rest, 10**6)
    thousands, units = divmod(rest, 1000)
    parts: list[str] = []
    if billions:
        word = _below_1000(billions, final=True)
        parts.append(f"{word} milliard{'s' if billions > 1 else ''}")
    if millions:
        word = _below_1000(millions, final=True)
        parts.append(f"{word} million{'s' if millions > 1 else ''}")
    if thousands:
        parts.append("mille" if thousands == 1 else f"{_below_1000(thousands, final=False)} mille")
    if units:
        parts.append(_below_1000(units, final=True))
    return " ".join(parts)


def euros_in_words(amount: int) -> str:
    """Whole euros in words: ``un euro``, ``deux cents euros``, ``un million d'euros``."""
    words = number_in_words(amount)
    if amount in (0, 1):
        return f"{words} euro"
    # "d'euros" after a bare million or milliard (un million d'euros), "euros" otherwise.
    if amount % 10**6 == 0:
        return f"{words} d'euros"
    return f"{words} euros"


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


@cache
def _font_uris() -> dict[str, str]:
    """file:// URIs of the Marianne fonts shipped with django-dsfr (empty if not found)."""
    from django.contrib.staticfiles import finders

    uris: dict[str, str] = {}
    for weight, path in MARIANNE_FONTS.items():
        found = finders.find(path)
        if isinstance(found, str):
            uris[weight] = Path(found).resolve().as_uri()
    return uris


@cache
def _url_fetcher() -> Any:
    """A WeasyPrint URL fetcher serving only the Marianne font files: never the network nor any
    other file (the letter's text comes from user data, nothing in it may make the renderer
    fetch)."""
    from weasyprint.urls import URLFetcher

    allowed = frozenset(_font_uris().values())

    class LocalFontFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url not in allowed:
                raise ValueError(f"Ressource refusée dans une lettre de décision : {url}")
            return super().fetch(url, headers)

    return LocalFontFetcher(allowed_protocols=("file",), fail_on_errors=False)


def letter_context(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What the letter template shows, derived from the snapshot alone."""
    total = int(snapshot["total"])
    return {
        "s": snapshot,
        "fingerprint": snapshot_fingerprint(snapshot),
        "fonts": _font_uris(),
        "issued_on": french_date(snapshot["issued_on"]),
        "accepted": snapshot["outcome"] == "accepted",
        "lines": [
            {**line, "amount_fr": format_euros(line["amount"])} for line in snapshot["lines"]
        ],
        "supports": [
            {**support, "amount_fr": format_euros(support["amount"])}
            for support in snapshot["supports"]
        ],
        "tranches": [
            {**tranche, "amount_fr": format_euros(tranche["amount"])}
            for tranche in snapshot["tranches"]
        ],
        "lines_total_fr": format_euros(sum(int(line["amount"]) for line in snapshot["lines"])),
        "total_fr": format_euros(total),
        "total_words": euros_in_words(total),
    }


def letter_html(snapshot: dict[str, Any]) -> str:
    """The letter as HTML (also handy to debug the layout in a browser)."""
    return render_to_string(LETTER_TEMPLATE, letter_context(snapshot))


def letter_pdf(snapshot: dict[str, Any]) -> bytes:
    """The letter as PDF bytes; the same snapshot always gives the same bytes."""
    from weasyprint import HTML

    document = HTML(string=letter_html(snapshot), url_fetcher=_url_fetcher())
    return document.write_pdf()  # type: ignore[no-any-return]
