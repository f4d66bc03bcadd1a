"""What the letter's faster layout (issue #13) must keep: every word of the annex, tagging,
determinism, no database; and what it changed on purpose — column widths that give a FINESS
category two lines, so a 20-ESSMS letter is three pages, not four. No timing here: the bench
(scripts/bench.py, measure ``letter``) times it."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from applications.decisions.letters import letter_html, letter_pdf
from scripts.bench_letters import synthetic_snapshot
from tests.applications.helpers import pdf_text

# The database is never queried: the letter renders from its snapshot alone.
pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot():
    return synthetic_snapshot(20)


@pytest.fixture
def pdf(snapshot):
    return letter_pdf(snapshot)


def test_a_20_essms_letter_is_three_pages_and_tagged(pdf):
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"] == "fr"


def test_every_line_of_the_annex_is_printed(pdf, snapshot):
    text = " ".join(pdf_text(pdf).split())
    for line in snapshot["lines"]:
        assert line["finess"] in text
        assert " ".join(line["name"].split()) in text
    # Each category label still wraps inside its cell; its words are all there, in order.
    words = snapshot["lines"][0]["category"].split()
    assert " ".join(words[:3]) in text
    assert " ".join(words[-3:]) in text
    assert text.count("Acquisition d'une") == len(snapshot["lines"])
    assert "Sous-total des forfaits par ESSMS" in text
    assert "Page 3 sur 3" in text


def test_the_same_snapshot_gives_the_same_bytes_without_any_query(
    snapshot, pdf, django_assert_num_queries
):
    with django_assert_num_queries(0):
        again = letter_pdf(snapshot)
    assert again == pdf


def test_the_annex_columns_share_the_width_and_a_refusal_keeps_them(snapshot):
    """Fixed widths for FINESS, category, project and amount; the name takes the rest (a refused
    letter, without the amount column, gives it to the name)."""
    html = letter_html(snapshot)
    for column, width in (("finess", 19), ("category", 62), ("project", 31), ("amount", 22)):
        assert f"col.{column} {{ width: {width}mm; }}" in html
    refused = letter_pdf({**snapshot, "outcome": "rejected", "motivation": "Hors périmètre."})
    text = " ".join(pdf_text(refused).split())
    assert all(line["finess"] in text for line in snapshot["lines"])
    assert "Montant" not in text.split("Établissements et services concernés")[1][:200]
