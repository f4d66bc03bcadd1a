"""Issue #9, hole 1: a *pending* member (anyone who typed the organisation's public FINESS EJ)
sees their own request and the organisation's public identity, nothing else.

Each test performs the attack over HTTP, as it was found, and asserts that every row of the
portal is as it was before.
"""

from __future__ import annotations

import html

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from applications.decisions.services import decision_issue
from applications.models import Attachment
from applications.workflow import Action, transition
from grappes.models import OrganisationMember
from tests.applications.helpers import cnsa_agent, decided_dossier
from tests.dbstate import assert_unchanged, db_state
from tests.factories import (
    ApplicationFactory,
    OrganisationFactory,
    StructureFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
    required_attachments,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.fixture
def attack(client):
    """A draft dossier of an organisation with a confirmed member and an attachment, and an
    attacker whose attachment request to that organisation is still pending."""
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    organisation = application.grappe.porteur
    owner = UserFactory(email="owner@org.fr")
    confirmed_member(owner, organisation)
    attachment = Attachment.objects.create(
        application=application,
        kind="convention",
        file=default_storage.save("tests/convention.pdf", ContentFile(PDF)),
        original_name="convention.pdf",
        content_type="application/pdf",
        size=len(PDF),
        uploaded_by=owner,
    )
    attacker = UserFactory(email="attacker@evil.fr")
    client.force_login(attacker)
    response = client.post(reverse("organisations:join"), {"finess": organisation.finess})
    assert response.status_code == 302
    assert OrganisationMember.objects.get(user=attacker).status == "pending"
    return application, attachment, attacker


def test_a_pending_member_sees_their_request_and_the_public_identity_only(client, attack):
    application, _attachment, _attacker = attack
    organisation = application.grappe.porteur
    page = client.get(reverse("organisations:detail", args=[organisation.pk]))
    text = html.unescape(page.content.decode())
    assert page.status_code == 200
    assert organisation.name in text and organisation.finess in text
    assert "Votre rattachement est en attente" in text
    # Neither the members, nor the ESSMS, nor the grappes and dossiers.
    assert "owner@org.fr" not in text
    assert application.grappe.memberships.first().structure.finess not in text
    home = html.unescape(client.get(reverse("organisations:home")).content.decode())
    assert application.grappe.name not in home
    assert f"Dossier n° {application.pk}" not in home


@pytest.mark.parametrize(
    "name", ["dossiers:detail", "dossiers:receipt", "organisations:grappe", "dossiers:create"]
)
def test_a_pending_member_reads_nothing_of_the_organisation(client, attack, name):
    application, _attachment, attacker = attack
    owner = OrganisationMember.objects.get(user__email="owner@org.fr").user
    required_attachments(application, owner)
    transition(application=application, action=Action.SUBMIT, by=owner)  # the receipt exists
    on_grappe = name in ("organisations:grappe", "dossiers:create")
    url = reverse(name, args=[application.grappe_id if on_grappe else application.pk])
    client.force_login(owner)
    expected_for_owner = 200
    assert client.get(url).status_code == expected_for_owner  # the URL is a real page
    client.force_login(attacker)
    assert client.get(url).status_code == 404


def test_a_pending_member_cannot_download_the_attachment(client, attack):
    application, attachment, _attacker = attack
    response = client.get(reverse("dossiers:download", args=[application.pk, attachment.pk]))
    assert response.status_code == 404
    assert PDF not in response.content


def test_a_pending_member_cannot_download_the_decision_letter(client, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }
    application = decided_dossier()
    decision = decision_issue(application=application, by=cnsa_agent())
    attacker = UserFactory()
    OrganisationMember.objects.create(user=attacker, organisation=application.grappe.porteur)
    client.force_login(attacker)
    response = client.get(reverse("decisions:pdf", args=[decision.number]))
    assert response.status_code == 404
    assert not response.content.startswith(b"%PDF")


def _writes(application, attachment):
    """Every write the attacker tried, as (URL name, args, POST data)."""
    grappe = application.grappe
    organisation = grappe.porteur
    membership = grappe.memberships.first()
    pending = OrganisationMember.objects.get(organisation=organisation, status="pending")
    return [
        (
            "dossiers:detail",
            [application.pk],
            {
                "version": application.version,
                "procurement": "15000",
                "steering": "100000",
                "justification": "Pris en main",
            },
        ),
        ("dossiers:message", [application.pk], {"text": "Bonjour"}),
        (
            "dossiers:upload",
            [application.pk],
            {"kind": "quote", "file": SimpleUploadedFile("devis.pdf", PDF)},
        ),
        ("dossiers:submit", [application.pk], {"version": application.version}),
        ("dossiers:withdraw", [application.pk], {}),
        ("organisations:grappe_create", [organisation.pk], {"name": "Grappe pirate"}),
        ("organisations:grappe", [grappe.pk], {"form": "invite", "email": "attacker@evil.fr"}),
        ("organisations:grappe", [grappe.pk], {"form": "confirm"}),
        ("organisations:membership_remove", [grappe.pk, membership.pk], {}),
        ("organisations:member_confirm", [organisation.pk, pending.pk], {}),
        ("organisations:detail", [organisation.pk], {"finess": StructureFactory.build().finess}),
    ]


def test_every_write_of_a_pending_member_is_refused_and_changes_nothing(client, attack):
    application, attachment, _attacker = attack
    before = db_state()
    for name, args, data in _writes(application, attachment):
        response = client.post(reverse(name, args=args), data)
        # The organisation page answers the pending member with their request (200, no form).
        expected = 200 if name == "organisations:detail" else 404
        assert response.status_code == expected, name
    assert_unchanged(before)


def test_the_services_refuse_a_pending_member_even_when_a_view_forgets(attack):
    """The policy is enforced in the services: called directly, they refuse."""
    from applications.dossiers import services as dossiers
    from applications.errors import DossierError
    from grappes import services as grappes

    application, _attachment, attacker = attack
    organisation = application.grappe.porteur
    before = db_state()
    calls = [
        lambda: grappes.grappe_create(porteur=organisation, by=attacker, name="Grappe pirate"),
        lambda: grappes.grappe_invite(
            grappe=application.grappe, email="friend@evil.fr", by=attacker
        ),
        lambda: grappes.grappe_membership_remove(
            membership=application.grappe.memberships.first(), by=attacker
        ),
        lambda: grappes.grappe_participation_confirm(
            grappe=application.grappe, organisation=organisation, by=attacker
        ),
        lambda: grappes.structure_add(
            organisation=organisation, by=attacker, finess=StructureFactory.build().finess
        ),
        lambda: grappes.organisation_member_confirm(
            member=OrganisationMember.objects.get(user=attacker), by=attacker
        ),
        lambda: dossiers.application_update(
            application=application,
            by=attacker,
            procurement=15000,
            steering=100000,
            justification="Pris en main",
            hardware={},
            expected_version=application.version,
        ),
        lambda: dossiers.attachment_add(
            application=application,
            by=attacker,
            kind="quote",
            upload=SimpleUploadedFile("devis.pdf", PDF),
        ),
        lambda: dossiers.message_post(application=application, by=attacker, text="Bonjour"),
        lambda: dossiers.application_create(
            grappe=application.grappe, call=application.call, by=attacker
        ),
    ]
    for call in calls:
        with pytest.raises((grappes.ServiceError, DossierError)):
            call()
    assert_unchanged(before)


def test_once_confirmed_the_member_reads_the_dossier(client, attack):
    """The same user, once a confirmed member confirms them, gets the dossier: the refusals
    above come from the pending status, not from anything else."""
    application, _attachment, attacker = attack
    owner = OrganisationMember.objects.get(user__email="owner@org.fr").user
    client.force_login(owner)
    member = OrganisationMember.objects.get(user=attacker)
    client.post(
        reverse("organisations:member_confirm", args=[application.grappe.porteur_id, member.pk])
    )
    client.force_login(attacker)
    assert client.get(reverse("dossiers:detail", args=[application.pk])).status_code == 200


def test_another_organisation_pending_request_gives_nothing_on_a_partner_grappe(client):
    """Pending in a *partner* organisation of the grappe (not the porteur): same refusal."""
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    partner = OrganisationFactory()
    application.grappe.organisations.create(organisation=partner)
    attacker = UserFactory()
    OrganisationMember.objects.create(user=attacker, organisation=partner)
    client.force_login(attacker)
    assert client.get(reverse("dossiers:detail", args=[application.pk])).status_code == 404
