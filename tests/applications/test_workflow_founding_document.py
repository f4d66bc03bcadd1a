"""The grappe's founding document is a required attachment, named for its declared legal form
(seed 003, domain.md §5b): the submit guard refuses a dossier without it."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from applications import workflow
from applications.models import Attachment
from applications.workflow import Action, GuardFailed, transition
from grappes.models import Grappe, LegalForm
from tests.dbstate import assert_unchanged, db_state
from tests.factories import (
    ApplicationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
    required_attachments,
)

pytestmark = pytest.mark.django_db

DOCUMENTS = [
    (LegalForm.GCSMS, "la convention constitutive du GCSMS"),
    (LegalForm.COOPERATION_GROUP, "les statuts du groupement"),
    (LegalForm.CONVENTION, "la convention de grappe signée"),
]


def _dossier(legal_form: str):
    """A submittable draft (15 ESSMS, a quote attached) lacking only its founding document."""
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    Grappe.objects.filter(pk=application.grappe_id).update(legal_form=legal_form)
    application.grappe.refresh_from_db()
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    required_attachments(application, porteur)
    application.attachments.filter(kind=workflow.FOUNDING_DOCUMENT_KIND).delete()
    return application, porteur


@pytest.mark.parametrize(("legal_form", "document"), DOCUMENTS)
def test_the_missing_founding_document_is_named_for_the_legal_form(legal_form, document):
    application, _porteur = _dossier(legal_form)
    assert workflow.missing_attachments(application=application) == [document]


@pytest.mark.parametrize(("legal_form", "document"), DOCUMENTS)
def test_submit_is_refused_without_the_founding_document(legal_form, document):
    application, porteur = _dossier(legal_form)
    before = db_state()
    with pytest.raises(GuardFailed, match=f"Pièces manquantes : {document}\\."):
        transition(application=application, action=Action.SUBMIT, by=porteur)
    assert_unchanged(before)


def test_the_submit_page_says_which_document_is_missing_and_submits_once_it_is_given(client):
    application, porteur = _dossier(LegalForm.GCSMS)
    client.force_login(porteur)
    response = client.post(
        reverse("dossiers:submit", args=[application.pk]),
        {"version": application.version},
        follow=True,
    )
    assert "Pièces manquantes : la convention constitutive du GCSMS." in html.unescape(
        response.content.decode()
    )
    application.refresh_from_db()
    assert application.status == "draft"

    Attachment.objects.create(
        application=application,
        kind=workflow.FOUNDING_DOCUMENT_KIND,
        file="tests/gcsms.pdf",
        original_name="convention-constitutive.pdf",
        content_type="application/pdf",
        size=13,
        uploaded_by=porteur,
    )
    transition(application=application, action=Action.SUBMIT, by=porteur)
    application.refresh_from_db()
    assert application.status == "submitted"


def test_the_attachment_kind_is_labelled_as_the_founding_document():
    assert Attachment.Kind.CONVENTION.label == "Acte fondateur de la grappe (convention, statuts)"
