"""Payment orders transmitted as numbered batches (issue #15 §3): one batch per campaign and
region, its orders linked, marked transmitted and logged in one transaction; the same rows as
CSV, XLSX and a PDF summary at every download; marked paid (recovered) with a date. Each refusal
is an attack that changes nothing."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from applications.decisions.services import decision_issue
from applications.models import Call
from essms_portal.accounts.models import Role, User
from grants.exports import BATCH_HEADER, batch_csv, batch_pdf, batch_xlsx, payment_order_rows
from grants.indicators import indicators_ensure_defaults
from grants.models import FollowUpParameters, GrantLog, PaymentBatch, PaymentOrder
from grants.services import (
    GrantError,
    GrantNotAllowed,
    convention_countersign,
    convention_draft,
    convention_sign,
    grant_log_broken_entry,
    payment_batch_create,
    payment_order_mark_paid,
)
from grants.settlement import second_tranche_settle
from tests.applications.helpers import BIG_ENVELOPE, ars, cnsa_agent, decided_dossier, pdf_text
from tests.dbstate import assert_unchanged, db_state
from tests.factories import CallFactory, CampaignFactory, UserFactory, confirmed_member
from tests.grants.test_conventions import SIRET, Grant, pdf

pytestmark = pytest.mark.django_db

#: A valid SIRET (Luhn) with leading zeros: they must survive every format.
ZERO_SIRET = "00123456700004"


@pytest.fixture
def grant(private_storage: Any) -> Grant:
    return Grant()


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def first_order(grant: Grant, *, siret: str = SIRET) -> PaymentOrder:
    """The grant's convention signed (bank details with ``siret``) and countersigned: its
    first tranche's order, issued."""
    convention = convention_draft(decision=grant.decision, by=grant.instructeur)
    grant.bank(siret=siret)
    convention = convention_sign(convention=convention, by=grant.porteur, signed_copy=pdf())
    return convention_countersign(convention=convention, by=grant.valideur)


def grant_on_campaign(year: int) -> Grant:
    """Another Île-de-France grant, on another campaign's call (its own porteur and agents)."""
    call = CallFactory(campaign=CampaignFactory(year=year))
    Call.objects.filter(pk=call.pk).update(envelope=BIG_ENVELOPE)
    other = Grant.__new__(Grant)
    other.application = decided_dossier(call=call)
    other.decision = decision_issue(application=other.application, by=cnsa_agent())
    indicators_ensure_defaults(campaign=call.campaign)
    other.porteur = UserFactory()
    confirmed_member(other.porteur, other.application.grappe.porteur)
    other.instructeur = ars(Role.ARS_INSTRUCTEUR)
    other.valideur = ars(Role.ARS_VALIDEUR)
    return other


def flat(text: str) -> str:
    """Whitespace collapsed: a table cell or a long title may wrap in the PDF."""
    return " ".join(text.split())


def sheet_cells(data: bytes) -> list[list[Any]]:
    """Every cell of the workbook's sheet, read back with openpyxl."""
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_a_batch_numbers_links_marks_and_logs_in_one_go(grant: Grant) -> None:
    order = first_order(grant)
    (batch,) = payment_batch_create(user=grant.instructeur)

    assert batch.number == "BOR-2023-11-0001"
    assert (batch.region_key, batch.campaign_id) == ("11", grant.application.call.campaign_id)
    assert (batch.order_count, int(batch.total), batch.created_by) == (
        1,
        int(order.amount),
        grant.instructeur,
    )
    order.refresh_from_db()
    assert (order.status, order.batch, order.exported_at) == ("exported", batch, batch.created_at)
    entry = GrantLog.objects.filter(application=grant.application).latest("id")
    assert entry.event == "order_exported" and batch.number in entry.detail
    assert grant_log_broken_entry(application=grant.application) is None


def test_nothing_to_transmit_creates_no_batch(grant: Grant) -> None:
    first_order(grant)
    payment_batch_create(user=grant.valideur)
    before = db_state()
    with pytest.raises(GrantError, match="Aucun ordre de paiement émis à transmettre"):
        payment_batch_create(user=grant.valideur)
    assert_unchanged(before)
    assert PaymentBatch.objects.count() == 1


def test_outsiders_transmit_nothing_and_change_nothing(grant: Grant) -> None:
    first_order(grant)
    administrator = UserFactory(role=Role.ADMINISTRATOR)
    before = db_state()
    # Another region's agent and the CNSA (national call only): nothing in their scope.
    for outsider in (grant.other_region, grant.cnsa):
        with pytest.raises(GrantError, match="Aucun ordre"):
            payment_batch_create(user=outsider)
    # An applicant, a stranger, an administrator (reads, never acts): refused outright.
    for refused in (grant.porteur, grant.stranger, administrator):
        with pytest.raises(GrantNotAllowed):
            payment_batch_create(user=refused)
    assert_unchanged(before)
    assert PaymentOrder.objects.get().status == "issued"


def test_one_batch_per_campaign_created_together(grant: Grant) -> None:
    first = first_order(grant)
    other = grant_on_campaign(2024)
    second = first_order(other)
    batches = payment_batch_create(user=grant.valideur)
    assert [b.number for b in batches] == ["BOR-2023-11-0001", "BOR-2024-11-0001"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.batch, second.batch) == (batches[0], batches[1])
    assert [b.order_count for b in batches] == [1, 1]


def test_the_three_formats_share_the_rows(grant: Grant) -> None:
    order = first_order(grant, siret=ZERO_SIRET)
    assert order.siret == ZERO_SIRET
    (batch,) = payment_batch_create(user=grant.valideur)
    rows = payment_order_rows(batch=batch)
    assert len(rows) == 1 and rows[0][0] == order.number

    # CSV: the finance department's header, `;`, UTF-8 with BOM, SIRET as typed.
    data = batch_csv(batch=batch)
    assert data.startswith("\ufeff".encode()) and b"\r\n" in data
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == list(BATCH_HEADER)
    record = dict(zip(lines[0], lines[1], strict=True))
    assert record["numero"] == order.number and record["siret"] == ZERO_SIRET
    assert record["iban"] == order.iban and record["montant_euros"] == str(int(order.amount))
    assert record["dossier"] == str(grant.application.pk)
    assert record["convention"] == order.convention.number and record["bordereau"] == batch.number

    # XLSX, read back with openpyxl: amounts as numbers, SIRET and IBAN as text.
    cells = sheet_cells(batch_xlsx(batch=batch))
    assert cells[0] == list(BATCH_HEADER)
    values = dict(zip(cells[0], cells[1], strict=True))
    assert values["siret"] == ZERO_SIRET and values["iban"] == order.iban
    assert values["montant_euros"] == int(order.amount)
    assert isinstance(values["montant_euros"], int)
    assert values["date_emission"].date() == timezone.localdate(order.issued_at)

    # PDF summary: deterministic, tagged, the batch restated.
    pdf = batch_pdf(batch=batch)
    assert pdf.startswith(b"%PDF-") and batch_pdf(batch=batch) == pdf
    root = PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/Lang"] == "fr"
    text = flat(pdf_text(pdf))
    assert f"Bordereau d'ordres n° {batch.number}" in text
    assert order.number in text and ZERO_SIRET in text
    assert "Nombre d'ordres 1" in text
    assert grant.valideur.email in text


def test_a_recovery_is_negative_in_the_files_and_recovered(grant: Grant) -> None:
    order = first_order(grant)
    payment_batch_create(user=grant.valideur)
    payment_order_mark_paid(order=order, by=grant.valideur, paid_on=timezone.localdate())
    # Targets missed, all or nothing, an ESSMS gone: a titre de recette of its share.
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        policy="all_or_nothing"
    )
    grant.application.grappe.memberships.order_by("id").first().delete()
    recovery = second_tranche_settle(convention=order.convention, by=grant.valideur)
    assert recovery is not None and recovery.kind == "recovery"
    (batch,) = payment_batch_create(user=grant.valideur)
    (row,) = payment_order_rows(batch=batch)
    assert row[1] == "Titre de recette" and row[6] == -int(recovery.amount)
    assert int(batch.total) == int(recovery.amount)

    payment_order_mark_paid(order=recovery, by=grant.valideur, paid_on=timezone.localdate())
    entry = GrantLog.objects.filter(application=grant.application).latest("id")
    assert entry.event == "order_paid" and "recouvré le" in entry.detail
    page = client_for(grant.valideur).get(reverse("grants:grant", args=[grant.application.pk]))
    assert "Recouvré le" in page.content.decode()
    porteur = client_for(grant.porteur).get(
        reverse("grants:espace_grant", args=[grant.application.pk])
    )
    assert "Recouvré le" in porteur.content.decode()


def test_marked_paid_only_transmitted_and_on_a_sensible_date(grant: Grant) -> None:
    order = first_order(grant)
    before = db_state()
    with pytest.raises(GrantError, match="transmis"):
        payment_order_mark_paid(order=order, by=grant.valideur, paid_on=timezone.localdate())
    assert_unchanged(before)
    payment_batch_create(user=grant.valideur)
    transmitted = db_state()
    today = timezone.localdate()
    for wrong in (today + datetime.timedelta(days=1), today - datetime.timedelta(days=1)):
        with pytest.raises(GrantError) as error:
            payment_order_mark_paid(order=order, by=grant.valideur, paid_on=wrong)
        assert error.value.field == "paid_on"
    with pytest.raises(GrantNotAllowed):
        payment_order_mark_paid(order=order, by=grant.other_region, paid_on=today)
    assert_unchanged(transmitted)
    payment_order_mark_paid(order=order, by=grant.valideur, paid_on=today)
    with pytest.raises(GrantError, match="déjà marqué payé"):
        payment_order_mark_paid(order=order, by=grant.valideur, paid_on=today)


def test_batches_over_http(grant: Grant) -> None:
    order = first_order(grant)
    valideur = client_for(grant.valideur)
    queue = valideur.get(reverse("grants:queue")).content.decode()
    assert "Transmettre les ordres émis" in queue
    created = valideur.post(reverse("grants:batch_create"))
    batch = PaymentBatch.objects.get()
    assert created["Location"] == reverse("grants:batch", args=[batch.pk])
    page = valideur.get(created["Location"]).content.decode()
    assert batch.number in page and order.number in page
    assert "Télécharger (CSV)" in page and "Télécharger (XLSX)" in page
    listing = valideur.get(reverse("grants:batches")).content.decode()
    assert batch.number in listing

    # The same content at every download (PDF: the same bytes).
    for fmt, content_type in (
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats"),
        ("pdf", "application/pdf"),
    ):
        url = reverse("grants:batch_download", args=[batch.pk, fmt])
        first, again = valideur.get(url), client_for(grant.instructeur).get(url)
        assert first.status_code == again.status_code == 200
        assert first["Content-Type"].startswith(content_type)
        assert f"bordereau-{batch.number}.{fmt}" in first["Content-Disposition"]
        if fmt == "xlsx":  # the zip's timestamps may differ, never a cell
            assert sheet_cells(first.content) == sheet_cells(again.content)
        else:
            assert first.content == again.content
    assert valideur.get(reverse("grants:batch_download", args=[batch.pk, "ods"])).status_code == 404

    # Nothing left: back to the queue with a message, no empty batch.
    again = valideur.post(reverse("grants:batch_create"), follow=True)
    assert "Aucun ordre de paiement émis à transmettre" in again.content.decode()
    assert PaymentBatch.objects.count() == 1


def test_outsiders_over_http_read_nothing_and_change_nothing(grant: Grant) -> None:
    first_order(grant)
    payment_batch_create(user=grant.valideur)
    batch = PaymentBatch.objects.get()
    first_order(grant_on_campaign(2024))  # an issued order left for the attempts below
    administrator: User = UserFactory(role=Role.ADMINISTRATOR)
    detail = reverse("grants:batch", args=[batch.pk])
    download = reverse("grants:batch_download", args=[batch.pk, "csv"])
    outsiders = [client_for(user) for user in (grant.other_region, grant.cnsa)]
    porteur, admin = client_for(grant.porteur), client_for(administrator)
    before = db_state()  # after the logins (they stamp last_login)
    for client in outsiders:
        assert client.get(detail).status_code == 404
        assert client.get(download).status_code == 404
        assert batch.number not in client.get(reverse("grants:batches")).content.decode()
        assert client.post(reverse("grants:batch_create")).status_code == 302
    assert porteur.get(detail).status_code == 403
    assert porteur.get(download).status_code == 403
    assert porteur.post(reverse("grants:batch_create")).status_code == 403
    assert admin.post(reverse("grants:batch_create")).status_code == 403
    assert admin.get(detail).status_code == 200  # administrators read
    assert_unchanged(before)
