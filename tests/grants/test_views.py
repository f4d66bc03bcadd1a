"""The follow-up screens over HTTP: the porteur enters bank details and deposits the signed
convention, the ARS drafts, countersigns, exports and marks paid; outsiders are refused and
nothing changes."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from grants.models import BankDetails, Convention, PaymentOrder
from tests.dbstate import assert_unchanged, db_state
from tests.grants.test_conventions import BIC, IBAN, PDF, SIRET, Grant

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def grant(private_storage: Any) -> Grant:
    return Grant()


def test_the_whole_follow_up_over_http(grant: Grant) -> None:
    pk = grant.application.pk
    ars = client_for(grant.instructeur)
    porteur = client_for(grant.porteur)

    page = ars.get(reverse("grants:queue"))
    assert page.status_code == 200 and f"n° {pk}" in page.content.decode()
    assert "À rédiger" in page.content.decode()
    assert ars.post(reverse("grants:convention_draft", args=[pk])).status_code == 302
    convention = Convention.objects.get()

    page = porteur.get(reverse("grants:espace_grant", args=[pk]))
    assert page.status_code == 200 and convention.number in page.content.decode()
    bad = porteur.post(
        reverse("grants:espace_bank", args=[pk]),
        {
            "holder": "Association Horizon",
            "siret": SIRET,
            "iban": "FR76 0000",
            "bic": BIC,
            "rib": SimpleUploadedFile("rib.pdf", PDF),
        },
    )
    assert bad.status_code == 400 and "IBAN" in bad.content.decode()
    assert not BankDetails.objects.exists()
    ok = porteur.post(
        reverse("grants:espace_bank", args=[pk]),
        {
            "holder": "Association Horizon",
            "siret": SIRET,
            "iban": IBAN,
            "bic": BIC,
            "rib": SimpleUploadedFile("rib.pdf", PDF),
        },
    )
    assert ok.status_code == 302
    signed = porteur.post(
        reverse("grants:espace_sign", args=[pk]),
        {"signed_copy": SimpleUploadedFile("convention.pdf", PDF)},
    )
    assert signed.status_code == 302
    assert Convention.objects.get().status == "signed"

    download = ars.get(reverse("grants:signed_copy", args=[pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF

    valideur = client_for(grant.valideur)
    assert valideur.post(reverse("grants:convention_countersign", args=[pk])).status_code == 302
    order = PaymentOrder.objects.get()
    assert order.kind == "first"

    created = valideur.post(reverse("grants:batch_create"))
    order.refresh_from_db()
    assert created.status_code == 302 and created["Location"] == reverse(
        "grants:batch", args=[order.batch_id]
    )
    export = valideur.get(reverse("grants:batch_download", args=[order.batch_id, "csv"]))
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    assert [row[0] for row in rows] == ["numero", order.number]

    paid = valideur.post(
        reverse("grants:order_paid", args=[pk, order.pk]),
        {"paid_on": timezone.localdate().isoformat()},
    )
    assert paid.status_code == 302
    assert PaymentOrder.objects.get().status == "paid"
    page = porteur.get(reverse("grants:espace_grant", args=[pk]))
    assert "Payé" in page.content.decode()


def test_outsiders_get_404_or_403_and_change_nothing(grant: Grant) -> None:
    pk = grant.application.pk
    other_region = client_for(grant.other_region)
    porteur = client_for(grant.porteur)
    stranger = client_for(grant.stranger)
    ars = client_for(grant.instructeur)
    before = db_state()
    assert other_region.get(reverse("grants:grant", args=[pk])).status_code == 404
    assert other_region.post(reverse("grants:convention_draft", args=[pk])).status_code == 404
    assert porteur.get(reverse("grants:grant", args=[pk])).status_code == 403
    assert porteur.post(reverse("grants:convention_draft", args=[pk])).status_code == 403
    assert stranger.get(reverse("grants:espace_grant", args=[pk])).status_code == 404
    assert (
        stranger.post(
            reverse("grants:espace_bank", args=[pk]),
            {"holder": "X", "siret": SIRET, "iban": IBAN, "bic": BIC},
        ).status_code
        == 404
    )
    assert ars.get(reverse("grants:espace_grant", args=[pk])).status_code == 403
    assert_unchanged(before)


def test_measurements_upload_lists_rejected_lines(grant: Grant) -> None:
    ars = client_for(grant.instructeur)
    assert ars.get(reverse("grants:measurements_upload")).status_code == 200
    data = b"finess;indicator;value;measured_on\n123;DMP;x;2024-01-01\n"
    before = db_state()
    response = ars.post(
        reverse("grants:measurements_upload"),
        {"file": SimpleUploadedFile("mesures.csv", data, content_type="text/csv")},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "ligne(s) refusée(s)" in body and "n&#x27;est pas un numéro FINESS valide" in body
    assert_unchanged(before)
