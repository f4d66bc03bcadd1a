"""The convention as PDF (issue #15): rendered on demand from the frozen snapshot with the
decision letters' machinery, read back with poppler's pdftotext; its applicants and its
follow-up scope download it, nobody else."""

from __future__ import annotations

import io
import subprocess
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from applications.decisions.letters import euros_in_words, fingerprint_display
from grants.documents import convention_pdf
from grants.services import convention_draft
from tests.dbstate import assert_unchanged, db_state
from tests.grants.test_conventions import IBAN, Grant

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace collapsed (a line break in a table cell reads as a space)."""
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    return " ".join(text.split())


@pytest.fixture
def grant(private_storage: Any) -> Grant:
    return Grant()


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_convention_pdf_restates_its_snapshot(grant: Grant) -> None:
    grant.bank()
    convention = convention_draft(decision=grant.decision, by=grant.instructeur)
    snapshot = convention.snapshot
    assert snapshot["targets"], "the campaign's default usage targets are in the snapshot"

    data = convention_pdf(snapshot)

    assert data.startswith(b"%PDF-")
    assert convention_pdf(snapshot) == data  # deterministic: nothing stored, same bytes
    text = pdf_text(data)
    assert f"Convention de financement n° {convention.number}" in text
    assert euros_in_words(int(snapshot["total"])) in text
    for target in snapshot["targets"]:
        assert target["label"] in text
    for line in snapshot["lines"]:
        assert line["finess"] in text
    assert fingerprint_display(convention.snapshot_sha256) in text
    assert snapshot["porteur"]["name"] in text
    assert snapshot["authority"]["name"] in text
    assert IBAN.replace(" ", "") in text.replace(" ", "")
    # Tagged like the decision letters (structure tree and language, for screen readers).
    root = PdfReader(io.BytesIO(data)).trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert root["/Lang"] == "fr"


def test_the_convention_pdf_over_http(grant: Grant) -> None:
    pk = grant.application.pk
    url = reverse("grants:convention_pdf", args=[pk])
    # Not drafted yet: nothing to download.
    assert client_for(grant.instructeur).get(url).status_code == 404
    convention = convention_draft(decision=grant.decision, by=grant.instructeur)
    expected = convention_pdf(convention.snapshot)

    for reader in (grant.porteur, grant.instructeur, grant.valideur):
        response = client_for(reader).get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert f"convention-{convention.number}.pdf" in response["Content-Disposition"]
        assert response.content == expected
    # Both pages link it.
    assert (
        url
        in client_for(grant.porteur).get(reverse("grants:espace_grant", args=[pk])).content.decode()
    )
    assert (
        url
        in client_for(grant.instructeur).get(reverse("grants:grant", args=[pk])).content.decode()
    )

    other_region, stranger = client_for(grant.other_region), client_for(grant.stranger)
    before = db_state()
    assert other_region.get(url).status_code == 404
    assert stranger.get(url).status_code == 404
    assert_unchanged(before)
