"""French wording of the decision letters: amounts in words (num2words) and dates (Django's
French localisation), and the one euro formatter."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from applications.decisions.letters import euros_in_words, french_date, number_in_words
from essms_portal import money
from funding import money as pure_money

NNBSP = "\u202f"
NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "zéro euro"),
        (1, "un euro"),
        (21, "vingt et un euros"),
        (80, "quatre-vingts euros"),
        (200, "deux cents euros"),
        (80_000, "quatre-vingt mille euros"),
        (100_000, "cent mille euros"),
        (225_000, "deux cent vingt-cinq mille euros"),
        (1_000_000, "un million d'euros"),
        (2_000_000, "deux millions d'euros"),
        (1_234_567, "un million deux cent trente-quatre mille cinq cent soixante-sept euros"),
    ],
)
def test_euros_in_words_follow_french_administrative_usage(amount, words):
    assert euros_in_words(amount) == words


def test_amount_in_words_is_bounded():
    with pytest.raises(ValueError):
        number_in_words(10**12)
    with pytest.raises(ValueError):
        number_in_words(-1)


@pytest.mark.parametrize(
    ("iso", "text"),
    [
        ("2027-01-01", "1er janvier 2027"),
        ("2023-06-01", "1er juin 2023"),
        ("2026-08-15", "15 août 2026"),
        ("2026-12-31", "31 décembre 2026"),
    ],
)
def test_dates_are_written_in_french_whatever_the_active_language(iso, text):
    assert french_date(iso) == text
    with translation.override("en"):
        assert french_date(iso) == text


def test_one_euro_formatter():
    assert money.format_euros is pure_money.format_euros
    assert pure_money.format_euros(Decimal("25000")) == f"25{NNBSP}000{NBSP}€"
    assert pure_money.format_euros(Decimal("1234.9")) == f"1{NNBSP}234{NBSP}€"
    assert pure_money.decimal_fr(Decimal("0.6")) == "0,6"


def test_a_previously_issued_snapshot_renders_the_same_wording():
    """The fingerprint covers the snapshot's data, not the words: an old snapshot keeps its
    fingerprint and reads as before with the library's wording."""
    from applications.decisions.letters import (
        fingerprint_display,
        letter_context,
        snapshot_fingerprint,
    )

    snapshot = {
        "issued_on": "2027-01-01",
        "outcome": "accepted",
        "total": 225_000,
        "lines": [{"label": "ESSMS", "amount": 200_000}],
        "supports": [{"label": "Pilotage", "amount": 25_000}],
        "tranches": [{"label": "Première tranche", "amount": 112_500}],
    }
    fingerprint = snapshot_fingerprint(snapshot)
    context = letter_context(snapshot)
    assert fingerprint == snapshot_fingerprint(snapshot)
    assert context["fingerprint"] == fingerprint_display(fingerprint)
    assert context["issued_on"] == "1er janvier 2027"
    assert context["total_words"] == "deux cent vingt-cinq mille euros"
    assert context["total_fr"] == f"225{NNBSP}000{NBSP}€"
