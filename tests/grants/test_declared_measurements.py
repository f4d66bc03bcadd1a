"""Measurements declared by the porteur with their evidence (issue #15 §5): the grant's funded
ESSMS and the indicators that apply to them only, the import's rules on values, dates and
replacement, the evidence checked and stored privately, the ARS's check; every refusal is an
attack or a bad input that changes nothing and stores no file."""

from __future__ import annotations

import datetime
import html
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from essms_portal.accounts.models import User
from grants.measurements import (
    measurement_declarable,
    measurement_declare,
    measurement_review,
    measurements_import,
)
from grants.models import Convention, GrantLog, Measurement, UsageIndicator
from grants.permissions import SETTLEMENT_EVENT
from grants.services import (
    GrantError,
    GrantNotAllowed,
    convention_countersign,
    grant_log_append,
    grant_log_broken_entry,
)
from grappes.models import CasfCategory
from tests.dbstate import assert_unchanged, db_state
from tests.essms_portal.test_antivirus import INFECTED_PDF, SIGNATURE, clamd_socket  # noqa: F401
from tests.factories import StructureFactory
from tests.grants.test_conventions import PDF, Grant
from tests.grants.test_usage_import import HEADER

pytestmark = pytest.mark.django_db

#: Inside the default window of the 2023 campaign (2023-01-01 to 2024-12-31).
MEASURED_ON = datetime.date(2024, 3, 31)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def evidence(content: bytes = PDF, name: str = "extraction.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def grant(private_storage: Any) -> Grant:
    """A grant whose convention is countersigned: it takes measurements."""
    grant = Grant()
    convention_countersign(convention=grant.signed(), by=grant.valideur)
    return grant


def first_finess(grant: Grant) -> str:
    return next(iter(measurement_declarable(application=grant.application)))


def declare(grant: Grant, by: User | None = None, **overrides: Any) -> Measurement:
    values: dict[str, Any] = {
        "structure_finess": first_finess(grant),
        "indicator_code": "DUI_ACTIF",
        "value": "82,5",
        "measured_on": MEASURED_ON,
        "evidence": evidence(),
    }
    values.update(overrides)
    return measurement_declare(application=grant.application, by=by or grant.porteur, **values)


def test_declared_value_waits_for_the_ars_and_is_logged(
    grant: Grant, django_capture_on_commit_callbacks: Any
) -> None:
    measurement = declare(grant)
    assert (measurement.value, measurement.measured_on) == (Decimal("82.5"), MEASURED_ON)
    assert measurement.source == Measurement.Source.DECLARED
    assert (measurement.status, measurement.declared_by) == ("pending", grant.porteur)
    with default_storage.open(measurement.evidence.name) as stored:
        assert stored.read() == PDF
    entry = GrantLog.objects.filter(application=grant.application).last()
    assert entry is not None and entry.event == "measurement_declared"
    assert "DUI_ACTIF" in entry.detail and "à vérifier par l'ARS" in entry.detail
    assert grant_log_broken_entry(application=grant.application) is None

    # A pending value is replaced (the import's rule), its former evidence removed once the
    # replacement is committed.
    former = measurement.evidence.name
    with django_capture_on_commit_callbacks(execute=True):
        replaced = declare(grant, value="90", evidence=evidence(name="v2.pdf"))
    assert replaced.pk == measurement.pk and Measurement.objects.get().value == Decimal(90)
    assert not default_storage.exists(former) and default_storage.exists(replaced.evidence.name)

    # The ARS's check works on a declared value as on an imported one.
    checked = measurement_review(measurement=replaced, by=grant.instructeur, validated=True)
    assert checked.status == "validated"


def test_a_validated_value_cannot_be_replaced(grant: Grant, private_storage: Path) -> None:
    measurement_review(measurement=declare(grant), by=grant.instructeur, validated=True)
    files = stored_files(private_storage)
    before = db_state()
    with pytest.raises(GrantError) as error:
        declare(grant, value="95")
    assert error.value.field == "value"
    assert "Mesure déjà validée par l'ARS (82.50)" in error.value.message
    assert_unchanged(before)
    assert stored_files(private_storage) == files


def test_an_editor_file_replaces_a_pending_declaration_and_its_evidence(
    grant: Grant, django_capture_on_commit_callbacks: Any
) -> None:
    declared = declare(grant)
    line = f"{first_finess(grant)};DUI_ACTIF;70;{MEASURED_ON.isoformat()}\n"
    with django_capture_on_commit_callbacks(execute=True):
        measurements_import(
            data=(HEADER + line).encode(), filename="editeur.csv", by=grant.instructeur
        )
    measurement = Measurement.objects.get()
    assert (measurement.value, measurement.source) == (Decimal(70), "imported")
    assert (measurement.evidence.name, measurement.declared_by) == ("", None)
    assert not default_storage.exists(declared.evidence.name)


def _not_funded(grant: Grant) -> dict[str, Any]:
    return {"structure_finess": StructureFactory().finess}


def _unknown_essms(grant: Grant) -> dict[str, Any]:
    return {"structure_finess": "999999999"}


def _indicator_of_another_item(grant: Grant) -> dict[str, Any]:
    """DMP restricted to a CASF item none of the grant's ESSMS has: it concerns none."""
    indicator = UsageIndicator.objects.get(campaign=grant.application.call.campaign, code="DMP")
    lines = Convention.objects.get().snapshot["lines"]
    items = {line.get("casf_item") for line in lines}
    indicator.casf_items.set(CasfCategory.objects.exclude(code__in=items)[:1])
    return {"indicator_code": "DMP"}


def _exempted_indicator(grant: Grant) -> dict[str, Any]:
    """The AHI exemption: an 8° ESSMS outside SONS is exempt from the MSSanté target."""
    convention = Convention.objects.get()
    snapshot = convention.snapshot
    finess = first_finess(grant)
    for line in snapshot["lines"]:
        if line["finess"] == finess:
            line["casf_item"] = "8°"
    Convention.objects.filter(pk=convention.pk).update(snapshot=snapshot)
    grant.application.grappe.memberships.filter(structure__finess=finess).update(solution=None)
    return {"structure_finess": finess, "indicator_code": "MSSANTE"}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (_not_funded, "structure_finess", "n'est pas une ligne financée"),
        (_unknown_essms, "structure_finess", "n'est pas une ligne financée"),
        (lambda g: {"indicator_code": "INCONNU"}, "indicator_code", "ne concerne pas"),
        (_indicator_of_another_item, "indicator_code", "ne concerne pas"),
        (_exempted_indicator, "indicator_code", "ne concerne pas"),
        (lambda g: {"value": "-1"}, "value", "« -1 » hors limites (0 à 999999999999.99)."),
        (lambda g: {"value": "1000000000000"}, "value", "hors limites"),
        (lambda g: {"value": "douze"}, "value", "« douze » n'est pas un nombre."),
        (lambda g: {"value": "NaN"}, "value", "n'est pas un nombre"),
        (lambda g: {"value": "1,234"}, "value", "deux décimales au plus"),
        (
            lambda g: {"measured_on": datetime.date(2022, 12, 31)},
            "measured_on",
            "Date 31/12/2022 hors de la période de mesure (du 01/01/2023 au 31/12/2024).",
        ),
        (lambda g: {"measured_on": datetime.date(2025, 1, 1)}, "measured_on", "hors de la"),
        (lambda g: {"measured_on": None}, "measured_on", "Indiquez la date"),
        (lambda g: {"evidence": None}, "evidence", "Joignez le justificatif"),
        (
            lambda g: {"evidence": evidence(b"plain text, no document", "note.pdf")},
            "evidence",
            "n'est pas un format accepté",
        ),
        (lambda g: {"evidence": evidence(b"", "vide.pdf")}, "evidence", "vide"),
    ],
)
def test_bad_input_is_refused_next_to_its_field(
    grant: Grant, private_storage: Path, overrides: Any, field: str, message: str
) -> None:
    values = overrides(grant)
    before = db_state()
    with pytest.raises(GrantError) as error:
        declare(grant, **values)
    assert (error.value.field, message in error.value.message) == (field, True), error.value
    assert_unchanged(before)
    assert not any("mesures" in str(path) for path in stored_files(private_storage))


def test_an_infected_evidence_is_refused_and_never_stored(
    grant: Grant,
    private_storage: Path,
    settings: Any,
    clamd_socket: str,  # noqa: F811
) -> None:
    settings.ANTIVIRUS_SOCKET = clamd_socket
    settings.ANTIVIRUS_REQUIRED = True
    files = stored_files(private_storage)
    before = db_state()
    with pytest.raises(GrantError) as error:
        declare(grant, evidence=evidence(INFECTED_PDF))
    assert error.value.field == "evidence" and SIGNATURE in error.value.message
    assert_unchanged(before)
    assert stored_files(private_storage) == files
    assert declare(grant).evidence  # a clean file passes the same scan


def _settled(grant: Grant) -> None:
    grant_log_append(
        application=grant.application, event=SETTLEMENT_EVENT, by=grant.valideur, detail="Dû 0 €"
    )


def _closed(grant: Grant) -> None:
    Convention.objects.update(status=Convention.Status.CLOSED)


def _not_countersigned(grant: Grant) -> None:
    Convention.objects.update(status=Convention.Status.SIGNED)


@pytest.mark.parametrize("state", [_settled, _closed, _not_countersigned])
def test_no_declaration_outside_the_follow_up(
    grant: Grant, private_storage: Path, state: Any
) -> None:
    state(grant)
    porteur = client_for(grant.porteur)  # logging in is a write of its own
    files = stored_files(private_storage)
    before = db_state()
    with pytest.raises(GrantNotAllowed):
        declare(grant)
    url = reverse("grants:espace_measurements", args=[grant.application.pk])
    post = porteur.post(url, _form(grant))
    assert post.status_code == 403
    assert_unchanged(before)
    assert stored_files(private_storage) == files
    page = porteur.get(url)
    assert page.status_code == 200 and "Déclarer la mesure" not in page.content.decode()


def test_outsiders_cannot_declare(grant: Grant, private_storage: Path) -> None:
    finess = first_finess(grant)
    url = reverse("grants:espace_measurements", args=[grant.application.pk])
    clients = {
        user: client_for(user) for user in (grant.stranger, grant.instructeur, grant.other_region)
    }
    files = stored_files(private_storage)
    before = db_state()
    for outsider in (grant.stranger, grant.instructeur, grant.valideur, grant.cnsa):
        with pytest.raises(GrantNotAllowed):
            declare(grant, by=outsider, structure_finess=finess)
    assert clients[grant.stranger].post(url, _form(grant)).status_code == 404
    assert clients[grant.instructeur].post(url, _form(grant)).status_code == 403
    assert clients[grant.other_region].post(url, _form(grant)).status_code == 403
    assert_unchanged(before)
    assert stored_files(private_storage) == files


def _form(grant: Grant, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "structure_finess": first_finess(grant),
        "indicator_code": "DUI_ACTIF",
        "value": "82,5",
        "measured_on": MEASURED_ON.isoformat(),
        "evidence": evidence(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_declaration_over_http_then_checked_by_the_ars(grant: Grant) -> None:
    pk = grant.application.pk
    porteur = client_for(grant.porteur)
    page = porteur.get(reverse("grants:espace_grant", args=[pk]))
    url = reverse("grants:espace_measurements", args=[pk])
    assert url in page.content.decode()
    page = porteur.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and "Déclarer la mesure" in body
    assert first_finess(grant) in body

    done = porteur.post(url, _form(grant), follow=True)
    body = html.unescape(done.content.decode())
    assert done.redirect_chain == [(url, 302)]
    assert "enregistrée : elle est à vérifier par l'ARS" in body  # the message
    assert "<td>À vérifier par l'ARS</td>" in body  # the measurement listed
    measurement = Measurement.objects.get()
    evidence_url = reverse("grants:measurement_evidence", args=[pk, measurement.pk])
    assert evidence_url in body

    ars = client_for(grant.instructeur)
    page = ars.get(reverse("grants:grant", args=[pk])).content.decode()
    assert evidence_url in page
    for reader in (ars, porteur):
        download = reader.get(evidence_url)
        assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
        assert download["Content-Type"] == "application/pdf"
    for outsider in (grant.stranger, grant.other_region, grant.cnsa):
        assert client_for(outsider).get(evidence_url).status_code == 404

    rejected = ars.post(
        reverse("grants:measurement_check", args=[pk, measurement.pk]),
        {"decision": "reject", "comment": "Extraction illisible"},
    )
    assert rejected.status_code == 302
    measurement.refresh_from_db()
    assert (measurement.status, measurement.review_comment) == ("rejected", "Extraction illisible")
    assert "Extraction illisible" in porteur.get(url).content.decode()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"structure_finess": "999999999"}, "structure_finess"),
        ({"indicator_code": "INCONNU"}, "indicator_code"),
        ({"value": "-3"}, "value"),
        ({"value": "beaucoup"}, "value"),
        ({"value": "1000000000000"}, "value"),
        ({"measured_on": "2026-01-01"}, "measured_on"),
        ({"measured_on": "pas une date"}, "measured_on"),
        ({"evidence": None}, "evidence"),
    ],
)
def test_form_errors_come_back_next_to_their_field(
    grant: Grant, private_storage: Path, overrides: dict[str, Any], field: str
) -> None:
    url = reverse("grants:espace_measurements", args=[grant.application.pk])
    data = _form(grant, **overrides)
    porteur = client_for(grant.porteur)
    files = stored_files(private_storage)
    before = db_state()
    response = porteur.post(url, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert_unchanged(before)
    assert stored_files(private_storage) == files
