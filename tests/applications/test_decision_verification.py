"""Public verification of a decision needs its number AND the random code printed on the letter
(issue #9, hole 7): sequential numbers alone no longer list beneficiaries and amounts."""

from __future__ import annotations

import math
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from applications.decisions.letters import fingerprint_display
from applications.decisions.services import (
    VERIFICATION_ALPHABET,
    VERIFICATION_CODE_BITS,
    VERIFICATION_CODE_LENGTH,
    decision_public,
    verification_code_display,
    verification_code_new,
    verification_code_normalise,
)
from applications.models import Decision
from tests.applications.helpers import cnsa_agent, decided_dossier, issue_and_render, pdf_text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]

URL = reverse("decisions:verify")


def _issue_two() -> tuple[Decision, Decision]:
    """An attribution and a refusal (shown as 0 € before the fix) in region 11."""
    agent = cnsa_agent()
    accepted = issue_and_render(application=decided_dossier(), by=agent)
    rejected = issue_and_render(application=decided_dossier("reject"), by=agent)
    return accepted, rejected


def _wrong_code(code: str) -> str:
    """A well-formed code that is not ``code`` (its first character changed)."""
    first = "A" if code[0] != "A" else "B"
    return first + code[1:]


def _leaks(body: str, decisions: tuple[Decision, ...]) -> list[str]:
    """What of the decisions a page shows that it must not: beneficiary, amount, fingerprint."""
    found = []
    for decision in decisions:
        fingerprint = fingerprint_display(decision.snapshot_sha256)
        for secret in (decision.beneficiary, fingerprint, decision.verification_code):
            if secret in body:
                found.append(secret)
        if re.search(r"Montant total|Bénéficiaire|existe", body):
            found.append("decision details")
    return found


def _without_csrf(body: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)


# --------------------------------------------------------------------------------------------
# The attack: enumerating sequential numbers
# --------------------------------------------------------------------------------------------


def test_enumerating_sequential_numbers_without_the_code_shows_nothing(client):
    accepted, rejected = _issue_two()
    assert {accepted.number, rejected.number} == {"2023-11-0001", "2023-11-0002"}
    issued = (accepted, rejected)

    for sequence in range(1, 6):
        number = f"2023-11-{sequence:04d}"
        attempts = [
            ("get", {"numero": number}),
            ("get", {"numero": number, "code": ""}),
            ("get", {"numero": number, "code": "0000000000"}),
            ("get", {"numero": number, "code": "not a code at all"}),
            ("post", {"numero": number}),
            ("post", {"numero": number, "code": "ZZZZ-ZZZZ-ZZ"}),
        ]
        for decision in issued:
            # Every decision's real code, tried on every number: the pair must match.
            if decision.number != number:
                attempts.append(("get", {"numero": number, "code": decision.verification_code}))
        for method, data in attempts:
            response = getattr(client, method)(URL, data)
            body = response.content.decode()
            assert response.status_code == 404, (method, data)
            assert _leaks(body, issued) == [], (method, data)

    # The number in the path, as the letters printed it before: not a page any more.
    assert client.get(f"/verifier/{accepted.number}/").status_code == 404
    # Nothing was written by the attempts.
    assert Decision.objects.count() == 2


def test_a_wrong_code_and_an_unknown_number_answer_the_same_page(client):
    accepted, _rejected = _issue_two()
    wrong = _wrong_code(accepted.verification_code)

    known = client.get(URL, {"numero": accepted.number, "code": wrong})
    unknown = client.get(URL, {"numero": "2023-11-0999", "code": wrong})
    malformed = client.get(URL, {"numero": "2023-11-0999", "code": "x"})

    assert known.status_code == unknown.status_code == malformed.status_code == 404
    # Only the typed number is echoed back: otherwise the three pages are byte for byte equal.
    same = _without_csrf(known.content.decode()).replace(accepted.number, "N")
    assert same == _without_csrf(unknown.content.decode()).replace("2023-11-0999", "N")
    assert same == _without_csrf(malformed.content.decode()).replace("2023-11-0999", "N")
    # The typed code is never echoed back.
    assert wrong not in known.content.decode()


def test_the_pdf_check_with_a_wrong_code_says_nothing(client):
    accepted, _rejected = _issue_two()
    with default_storage.open(accepted.pdf.name, "rb") as handle:
        data = handle.read()

    response = client.post(
        URL,
        {
            "numero": accepted.number,
            "code": _wrong_code(accepted.verification_code),
            "document": SimpleUploadedFile("d.pdf", data),
        },
    )

    assert response.status_code == 404
    body = response.content.decode()
    assert "Document authentique" not in body and "non conforme" not in body
    assert _leaks(body, (accepted,)) == []


# --------------------------------------------------------------------------------------------
# The legitimate use
# --------------------------------------------------------------------------------------------


def test_the_empty_form_asks_for_the_number_and_the_code(client):
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="numero"' in body and 'name="code"' in body
    assert "Aucune décision" not in body


def test_the_number_and_its_code_show_the_decision_however_the_code_is_typed(client):
    accepted, rejected = _issue_two()
    code = accepted.verification_code
    # Crockford reading: O for 0, I or L for 1, any case, dashes or spaces or none.
    misread = code.replace("0", "O").replace("1", "l")
    typings = [
        code,
        verification_code_display(code),
        code.lower(),
        " ".join(verification_code_display(code).split("-")),
        f"  {misread.lower()} ",
    ]
    for typed in typings:
        response = client.get(URL, {"numero": accepted.number, "code": typed})
        assert response.status_code == 200, typed
        body = response.content.decode()
        assert accepted.beneficiary in body
        assert fingerprint_display(accepted.snapshot_sha256) in body

    response = client.post(URL, {"numero": rejected.number, "code": rejected.verification_code})
    # The pair found, the PDF missing: the form asks for it, the decision is shown.
    assert response.status_code == 400
    assert fingerprint_display(rejected.snapshot_sha256) in response.content.decode()


def test_the_letters_direct_link_opens_the_decision(client):
    accepted, _rejected = _issue_two()
    link = accepted.snapshot["verification_url"]
    path = link[link.index("/verifier/") :]
    response = client.get(path)
    assert response.status_code == 200
    assert accepted.beneficiary in response.content.decode()


def test_the_pdf_check_still_works_with_number_and_code(client):
    accepted, _rejected = _issue_two()
    with default_storage.open(accepted.pdf.name, "rb") as handle:
        data = handle.read()
    pair = {
        "numero": accepted.number,
        "code": verification_code_display(accepted.verification_code),
    }

    genuine = client.post(URL, {**pair, "document": SimpleUploadedFile("d.pdf", data)})
    assert genuine.status_code == 200
    assert "Document authentique" in genuine.content.decode()

    forged = client.post(URL, {**pair, "document": SimpleUploadedFile("d.pdf", data + b"\n")})
    assert forged.status_code == 200
    assert "Document non conforme" in forged.content.decode()


# --------------------------------------------------------------------------------------------
# The code itself
# --------------------------------------------------------------------------------------------


def test_the_code_is_printed_on_the_letter_with_the_verification_address():
    accepted, rejected = _issue_two()
    for decision in (accepted, rejected):
        with default_storage.open(decision.pdf.name, "rb") as handle:
            text = pdf_text(handle.read())
        # Text extraction places spaces and line breaks by glyph position: it may drop the space
        # where a line wraps or insert one inside a word ("MFQ J"). Compare without whitespace.
        compact = re.sub(r"\s+", "", text)
        displayed = verification_code_display(decision.verification_code)
        assert decision.snapshot["verification_code"] == displayed
        assert f"codedevérification{displayed}" in compact
        assert decision.snapshot["verification_page"] in compact
        assert decision.snapshot["verification_url"] in compact


def test_codes_carry_at_least_40_random_bits_and_differ():
    assert len(VERIFICATION_ALPHABET) == len(set(VERIFICATION_ALPHABET)) == 32
    assert VERIFICATION_CODE_BITS == VERIFICATION_CODE_LENGTH * math.log2(32) >= 40
    accepted, rejected = _issue_two()
    for decision in (accepted, rejected):
        assert len(decision.verification_code) == VERIFICATION_CODE_LENGTH
        assert set(decision.verification_code) <= set(VERIFICATION_ALPHABET)
    assert accepted.verification_code != rejected.verification_code
    assert len({verification_code_new() for _ in range(2000)}) == 2000


def test_the_code_cannot_be_changed_on_an_issued_decision():
    accepted, _rejected = _issue_two()
    accepted.verification_code = "0000000000"
    with pytest.raises(ValueError):
        accepted.save()
    assert Decision.objects.get(pk=accepted.pk).verification_code != "0000000000"


def test_normalising_typed_codes():
    assert verification_code_normalise("k7qx-m2p9-da") == "K7QXM2P9DA"
    assert verification_code_normalise(" K7QX M2P9 DA ") == "K7QXM2P9DA"
    assert verification_code_normalise("oIl0-0000-00") == "0110000000"
    assert verification_code_display("K7QXM2P9DA") == "K7QX-M2P9-DA"
    for bad in ("", "K7QX-M2P9-D", "K7QX-M2P9-DAA", "K7QX-M2P9-DU", "K7QX-M2P9-D!", "é" * 10):
        assert verification_code_normalise(bad) is None, bad


def test_decision_public_needs_both_parts():
    accepted, rejected = _issue_two()
    assert decision_public(number=accepted.number, code=accepted.verification_code) == accepted
    assert decision_public(number=accepted.number, code=rejected.verification_code) is None
    assert decision_public(number="2023-11-0999", code=accepted.verification_code) is None
    assert decision_public(number=accepted.number, code="") is None


# --------------------------------------------------------------------------------------------
# Migration: decisions issued before the code get a unique one, nothing else changes
# --------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_gives_existing_decisions_a_unique_code():
    accepted, rejected = _issue_two()
    before = {
        d.pk: (d.number, d.snapshot_sha256, d.pdf_sha256, d.beneficiary, d.total)
        for d in (accepted, rejected)
    }
    executor = MigrationExecutor(connection)
    # Every app's leaf, not only applications': going back to 0004 also unapplies the apps that
    # depend on later migrations (grants), which must come back for the tests that follow.
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("applications", "0004_decisions")])
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    finally:
        connection.close()  # drop cached state; the next query reconnects on the new schema

    rows = list(Decision.objects.all())
    assert {
        d.pk: (d.number, d.snapshot_sha256, d.pdf_sha256, d.beneficiary, d.total) for d in rows
    } == before
    codes = [d.verification_code for d in rows]
    assert all(verification_code_normalise(code) == code for code in codes)
    assert len(set(codes)) == len(codes) == 2
