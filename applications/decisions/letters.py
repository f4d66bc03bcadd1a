"""Decision letters: the frozen snapshot rendered to PDF with WeasyPrint.

Rendering reads the snapshot only (no clock, no database), so the same snapshot always gives the
same letter, whichever process renders it. A PDF cannot print its own hash, so the one
fingerprint the letter prints — and the public verification page shows, identically — is the
SHA-256 of the canonical JSON snapshot (« empreinte des données de la décision »); the SHA-256 of
the PDF bytes is kept on the Decision to check an uploaded file, never printed.

The PDF is tagged (structure tree, language, title) for screen readers. The annex
table has fixed column widths (``table-layout: fixed``): WeasyPrint then skips measuring every
cell's content to size the columns; the fonts are loaded once per process (``_font_config``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import threading
from functools import cache
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.formats import date_format
from num2words import num2words

from essms_portal.money import format_euros

# WeasyPrint logs every rendering step and fontTools every font decompression at INFO: a batch
# of letters would flood the worker's log. Their warnings and errors still come through.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
logging.getLogger("fontTools").setLevel(logging.WARNING)

LETTER_TEMPLATE = "decisions/letter.html"
# Tagged PDF for accessibility (issue #14): the structure tree (headings, paragraphs, lists,
# tables) and /MarkInfo, with the document's language and title. ``pdf_variant="pdf/ua-1"``
# tags the same way but also writes XMP metadata and runs its checks, which made a letter
# markedly slower on WeasyPrint 70 (scripts/bench_letters.py): ``pdf_tags`` is the tagging alone.
PDF_OPTIONS: dict[str, Any] = {"pdf_tags": True}
MARIANNE_FONTS = {
    "regular": "dsfr/dist/fonts/Marianne-Regular.woff2",
    "bold": "dsfr/dist/fonts/Marianne-Bold.woff2",
}


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
    """``2023-06-01`` as ``1er juin 2023``: Django's French localisation (``j F Y``), with the
    ordinal ``1er`` for the first of the month as French administrative letters write it
    (Django's format has no ordinal for it)."""
    day = datetime.date.fromisoformat(iso)
    with translation.override("fr"):
        text = date_format(day, "j F Y")
    return f"1er{text[1:]}" if day.day == 1 else text


def number_in_words(n: int) -> str:
    """A whole number (0 ≤ n < 10¹²) in French words, traditional spelling (``deux cents``,
    ``quatre-vingt mille``, ``deux cent vingt-cinq mille``), by num2words."""
    if n < 0 or n >= 10**12:
        raise ValueError("Montant hors limites (0 à 999 999 999 999).")
    return str(num2words(n, lang="fr"))


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


def fingerprint_display(fingerprint: str) -> str:
    """The fingerprint as printed on the letter and shown on the verification page: the 64
    hexadecimal digits in groups of 8, so that a reader can compare them by eye."""
    return " ".join(fingerprint[i : i + 8] for i in range(0, len(fingerprint), 8))


def _call_label(call: dict[str, Any]) -> str:
    """The call's name, with its region in brackets unless the name already says it."""
    name, region = str(call.get("name", "")), str(call.get("region", ""))
    if region and region.casefold() not in name.casefold():
        return f"{name} ({region})"
    return name


def _reductions(snapshot: dict[str, Any]) -> list[dict[str, str]]:
    """Every line the proposal reduced, with the instructeur's reason (format ≥ 2 snapshots;
    older ones carry no reason: an empty list)."""
    reduced = []
    for line in snapshot.get("lines", []):
        if line.get("reason"):
            reduced.append(
                {
                    "label": f"{line['name']} (FINESS {line['finess']})",
                    "computed_fr": format_euros(int(line["computed"])),
                    "amount_fr": format_euros(int(line["amount"])),
                    "reason": line["reason"],
                }
            )
    for support in snapshot.get("supports", []):
        if support.get("reason"):
            reduced.append(
                {
                    "label": support["label"],
                    "computed_fr": format_euros(int(support["computed"])),
                    "amount_fr": format_euros(int(support["amount"])),
                    "reason": support["reason"],
                }
            )
    return reduced


def _signature(signatory: dict[str, Any]) -> dict[str, str]:
    """The signature block's lines, each once: the delegation (format ≥ 2), the signatory's
    title unless it merely repeats the name, the name."""
    name = str(signatory.get("name", "")).strip()
    title = str(signatory.get("title", "")).strip()
    if title.casefold() == name.casefold():
        title = ""
    return {
        "delegation": str(signatory.get("delegation", "")).strip(),
        "title": title,
        "name": name,
    }


def letter_context(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What the letter template shows, derived from the snapshot alone."""
    total = int(snapshot["total"])
    return {
        "s": snapshot,
        "fingerprint": fingerprint_display(snapshot_fingerprint(snapshot)),
        "call_label": _call_label(snapshot.get("call", {})),
        "signature": _signature(snapshot.get("authority", {}).get("signatory", {})),
        "reductions": _reductions(snapshot),
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


@cache
def _font_config() -> Any:
    """One WeasyPrint font configuration per process: the Marianne faces are decoded (WOFF2)
    and registered with Fontconfig once, not for every letter — that was about a third of a
    letter's time. The faces are keyed by their descriptors, so the bytes are unchanged."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


# The shared font configuration is not meant for concurrent use: letters render one at a time
# per process (a worker renders one letter at a time anyway; rendering holds the GIL).
_RENDER_LOCK = threading.Lock()


def pdf_from_html(html: str) -> bytes:
    """An official document's HTML as tagged PDF bytes, with the letters' machinery: Marianne
    fonts, the local-only fetcher, the shared font configuration. Deterministic: the same HTML
    always gives the same bytes (also used for the grant conventions, ``grants/documents.py``)."""
    from weasyprint import HTML

    with _RENDER_LOCK:
        document = HTML(string=html, url_fetcher=_url_fetcher())
        return document.write_pdf(font_config=_font_config(), **PDF_OPTIONS)  # type: ignore[no-any-return]


def font_uris() -> dict[str, str]:
    """file:// URIs of the Marianne faces, for a template's ``@font-face`` rules."""
    return _font_uris()


def letter_pdf(snapshot: dict[str, Any]) -> bytes:
    """The letter as PDF bytes; the same snapshot always gives the same bytes."""
    return pdf_from_html(letter_html(snapshot))
