"""A grant after its decision (issue #15 §1 to §3): convention drafted, signed, countersigned; bank
details; payment orders numbered, exported and marked paid; every change in the chained log.
Each refusal is an attack that changes nothing."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from applications.decisions.services import decision_issue
from applications.models import Application, Decision
from essms_portal.accounts.models import Role, User
from grants.exports import batch_csv
from grants.indicators import indicators_ensure_defaults
from grants.models import BankDetails, Convention, GrantLog, PaymentOrder
from grants.services import (
    GrantError,
    GrantNotAllowed,
    bank_details_submit,
    bank_details_validate,
    convention_countersign,
    convention_draft,
    convention_sign,
    grant_log_broken_entry,
    payment_batch_create,
    payment_order_mark_paid,
)
from tests.applications.helpers import ars, cnsa_agent, decided_dossier
from tests.dbstate import assert_unchanged, db_state
from tests.factories import UserFactory, confirmed_member

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
BIC = "AGRIFRPP"
SIRET = "73282932000074"


def pdf(name: str = "document.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


class Grant:
    """A regional Île-de-France grant and its actors."""

    def __init__(self) -> None:
        self.application: Application = decided_dossier()
        self.decision: Decision = decision_issue(application=self.application, by=cnsa_agent())
        indicators_ensure_defaults(campaign=self.application.call.campaign)
        self.porteur = UserFactory()
        confirmed_member(self.porteur, self.application.grappe.porteur)
        self.instructeur = ars(Role.ARS_INSTRUCTEUR)
        self.valideur = ars(Role.ARS_VALIDEUR)
        self.other_region = ars(Role.ARS_VALIDEUR, "84")
        self.stranger = UserFactory()
        self.cnsa = cnsa_agent()

    def bank(self, **overrides: Any) -> BankDetails:
        values = {"holder": "Association Horizon", "siret": SIRET, "iban": IBAN, "bic": BIC}
        values.update(overrides)
        return bank_details_submit(
            application=self.application, by=self.porteur, rib=pdf("rib.pdf"), **values
        )

    def signed(self) -> Convention:
        convention = convention_draft(decision=self.decision, by=self.instructeur)
        self.bank()
        return convention_sign(convention=convention, by=self.porteur, signed_copy=pdf())


@pytest.fixture
def grant(private_storage: Any) -> Grant:
    return Grant()


def test_whole_path_to_first_payment(grant: Grant) -> None:
    convention = convention_draft(decision=grant.decision, by=grant.instructeur)
    assert convention.number == "CONV-2023-11-0001"
    snapshot = convention.snapshot
    assert snapshot["total"] == grant.decision.total
    assert [t["code"] for t in snapshot["targets"]] == ["DUI_ACTIF", "MSSANTE", "DMP"]
    assert len(snapshot["lines"]) == 15 and snapshot["measurement_deadline"] == "2024-12-31"

    grant.bank()
    convention = convention_sign(convention=convention, by=grant.porteur, signed_copy=pdf())
    assert convention.status == Convention.Status.SIGNED
    with default_storage.open(convention.signed_copy.name) as stored:
        assert stored.read() == PDF

    order = convention_countersign(convention=convention, by=grant.valideur)
    convention.refresh_from_db()
    assert (convention.status, convention.countersigned_by) == ("countersigned", grant.valideur)
    assert order.number == "OP-2023-11-0001"
    assert order.kind == "first" and int(order.amount) == int(grant.decision.total) // 2
    assert (order.iban, order.bic, order.siret) == ("FR7630006000011234567890189", BIC, SIRET)
    assert "CONV-2023-11-0001" in order.legal_basis

    (batch,) = payment_batch_create(user=grant.instructeur)
    rows = list(csv.reader(io.StringIO(batch_csv(batch=batch).decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "numero" and rows[1][0] == "OP-2023-11-0001"
    assert rows[1][6] == str(int(order.amount))
    order.refresh_from_db()
    assert (order.status, order.batch) == ("exported", batch)

    today = timezone.localdate()
    paid = payment_order_mark_paid(order=order, by=grant.valideur, paid_on=today)
    assert (paid.status, paid.paid_on) == ("paid", today)

    events = list(
        GrantLog.objects.filter(application=grant.application).values_list("event", flat=True)
    )
    assert events == [
        "convention_drafted",
        "bank_details_submitted",
        "convention_signed",
        "convention_countersigned",
        "order_issued:first",
        "order_exported",
        "order_paid",
    ]
    assert grant_log_broken_entry(application=grant.application) is None
    GrantLog.objects.filter(event="order_paid").update(detail="payé deux fois")
    assert grant_log_broken_entry(application=grant.application).event == "order_paid"


def test_outsiders_cannot_act_and_nothing_changes(grant: Grant) -> None:
    convention = convention_draft(decision=grant.decision, by=grant.instructeur)
    before = db_state()
    for outsider in (grant.other_region, grant.cnsa, grant.porteur, grant.stranger):
        with pytest.raises(GrantNotAllowed):
            convention_draft(decision=grant.decision, by=outsider)
        with pytest.raises(GrantNotAllowed):
            convention_countersign(convention=convention, by=outsider)
    for outsider in (grant.instructeur, grant.stranger, grant.other_region):
        with pytest.raises(GrantNotAllowed):
            convention_sign(convention=convention, by=outsider, signed_copy=pdf())
        with pytest.raises(GrantNotAllowed):
            bank_details_submit(
                application=grant.application,
                by=outsider,
                holder="Pirate",
                siret=SIRET,
                iban=IBAN,
                bic=BIC,
                rib=pdf(),
            )
    assert_unchanged(before)


def test_order_of_steps_is_enforced(grant: Grant) -> None:
    convention = convention_draft(decision=grant.decision, by=grant.instructeur)
    before = db_state()
    with pytest.raises(GrantError, match="déjà rédigée"):
        convention_draft(decision=grant.decision, by=grant.valideur)
    with pytest.raises(GrantError, match="d'abord être déposée signée"):
        convention_countersign(convention=convention, by=grant.valideur)
    assert_unchanged(before)
    # Signed without bank details: the countersignature is refused, nothing moves.
    convention = convention_sign(convention=convention, by=grant.porteur, signed_copy=pdf())
    before = db_state()
    with pytest.raises(GrantError, match="coordonnées bancaires"):
        convention_countersign(convention=convention, by=grant.valideur)
    assert_unchanged(before)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("iban", "FR76 3000 6000 0112 3456 7890 188", "IBAN"),
        ("iban", "FR76 3000 6000 0112", "IBAN"),
        ("bic", "AGRI FR", "BIC"),
        ("siret", "12345678901234", "SIRET"),
        ("holder", "  ", "titulaire"),
    ],
)
def test_bad_bank_details_name_their_field_and_store_nothing(
    grant: Grant, private_storage: Any, field: str, value: str, message: str
) -> None:
    before = db_state()
    with pytest.raises(GrantError) as error:
        grant.bank(**{field: value})
    assert error.value.field == field and message in error.value.message
    assert_unchanged(before)
    assert not private_storage.exists() or not any(private_storage.rglob("*.pdf"))


def test_bank_change_after_signature_waits_for_the_ars(grant: Grant) -> None:
    convention = grant.signed()
    convention_countersign(convention=convention, by=grant.valideur)
    first = BankDetails.objects.get(status="active")
    change = grant.bank(iban="DE89 3704 0044 0532 0130 00", bic="COBADEFFXXX")
    assert change.status == "pending"
    assert BankDetails.objects.get(status="active") == first
    before = db_state()
    for outsider in (grant.other_region, grant.porteur):
        with pytest.raises(GrantNotAllowed):
            bank_details_validate(details=change, by=outsider, accept=True)
    assert_unchanged(before)
    bank_details_validate(details=change, by=grant.valideur, accept=True)
    first.refresh_from_db()
    change.refresh_from_db()
    assert (first.status, change.status, change.validated_by) == (
        "superseded",
        "active",
        grant.valideur,
    )


def test_paid_only_after_export_and_not_in_the_future(grant: Grant) -> None:
    order = convention_countersign(convention=grant.signed(), by=grant.valideur)
    before = db_state()
    with pytest.raises(GrantError, match="transmis"):
        payment_order_mark_paid(order=order, by=grant.valideur, paid_on=timezone.localdate())
    payment_batch_create(user=grant.valideur)
    exported = db_state()
    assert exported != before
    with pytest.raises(GrantError) as error:
        payment_order_mark_paid(
            order=order,
            by=grant.valideur,
            paid_on=timezone.localdate() + datetime.timedelta(days=1),
        )
    assert error.value.field == "paid_on"
    with pytest.raises(GrantNotAllowed):
        payment_order_mark_paid(order=order, by=grant.other_region, paid_on=timezone.localdate())
    assert_unchanged(exported)
    assert PaymentOrder.objects.get().status == "exported"


def test_refused_decision_opens_no_convention(private_storage: Any) -> None:
    application = decided_dossier("reject")
    decision = decision_issue(application=application, by=cnsa_agent())
    instructeur: User = ars(Role.ARS_INSTRUCTEUR)
    before = db_state()
    with pytest.raises(GrantError, match="refus"):
        convention_draft(decision=decision, by=instructeur)
    assert_unchanged(before)
