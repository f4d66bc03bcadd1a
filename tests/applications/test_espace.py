"""Applicant dossier pages: live quote, uploads checked by content, submission, scoping."""

from __future__ import annotations

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from applications.models import Application, Attachment, WorkflowLog
from essms_portal.uploads import MAX_UPLOAD_BYTES, sanitised_name
from tests.conftest import drain
from tests.factories import (
    ApplicationFactory,
    OrganisationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def _page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def dossier(client):
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    user = UserFactory()
    confirmed_member(user, application.grappe.porteur)
    client.force_login(user)
    return application


def _upload(client, application, kind, name, content):
    return client.post(
        reverse("dossiers:upload", args=[application.pk]),
        {"kind": kind, "file": SimpleUploadedFile(name, content)},
    )


def test_live_quote_reflects_a_request_above_its_cap_without_saving(client, dossier):
    response = client.post(
        reverse("dossiers:quote", args=[dossier.pk]),
        {"steering": "150000", "procurement": "0", "version": "1"},
    )
    page = _page(response)
    assert "dépasse le plafond de 100" in page
    assert "100\u202f000\u00a0€" in page
    dossier.refresh_from_db()
    assert dossier.requested_steering == 0


def test_saving_with_a_blocking_quote_keeps_what_was_typed(client, dossier):
    response = client.post(
        reverse("dossiers:detail", args=[dossier.pk]),
        {
            "version": dossier.version,
            "procurement": "15000",
            "steering": "-5",
            "justification": "AMOA mutualisée",
        },
    )
    assert response.status_code == 400
    page = _page(response)
    assert "AMOA mutualisée" in page  # the text typed is still there
    assert "Saisissez un montant positif ou nul." in page


def test_disguised_and_oversize_uploads_are_refused(client, dossier):
    response = _upload(client, dossier, "convention", "convention.pdf", b"MZ\x90\x00 not a pdf")
    assert response.status_code == 400
    assert "n'est pas un format accepté" in _page(response)
    big = b"%PDF-1.4\n" + b"0" * (MAX_UPLOAD_BYTES + 1)
    response = _upload(client, dossier, "convention", "convention.pdf", big)
    assert "dépasse 10 Mo" in _page(response)
    assert not Attachment.objects.exists()


def test_upload_name_is_sanitised_and_the_file_served_only_in_scope(client, dossier):
    assert (
        _upload(client, dossier, "convention", "../../etc/con vention?.pdf", PDF).status_code == 302
    )
    attachment = Attachment.objects.get()
    assert attachment.original_name == sanitised_name("con vention?.pdf") == "con_vention.pdf"
    assert "/" not in attachment.original_name
    assert ".." not in attachment.file.name
    url = reverse("dossiers:download", args=[dossier.pk, attachment.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert drain(response) == PDF
    outsider = UserFactory()
    confirmed_member(outsider, OrganisationFactory())
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.get(reverse("dossiers:detail", args=[dossier.pk])).status_code == 404


def test_submit_needs_the_attachments_then_double_submit_changes_nothing(client, dossier):
    response = client.post(
        reverse("dossiers:submit", args=[dossier.pk]), {"version": dossier.version}, follow=True
    )
    assert "Pièces manquantes" in _page(response)
    _upload(client, dossier, "convention", "convention.pdf", PDF)
    _upload(client, dossier, "quote", "devis.pdf", PDF)
    version = Application.objects.get().version
    response = client.post(
        reverse("dossiers:submit", args=[dossier.pk]), {"version": version}, follow=True
    )
    assert "Récépissé de dépôt" in _page(response)
    response = client.post(
        reverse("dossiers:submit", args=[dossier.pk]), {"version": version}, follow=True
    )
    # The version posted is now stale: refused before the status is even looked at.
    assert "vient d'être modifié" in _page(response)
    assert WorkflowLog.objects.filter(action="submit").count() == 1
    assert Application.objects.get().status == "submitted"


def test_only_the_matching_calls_are_offered(client, dossier):
    from applications.models import Call
    from grappes.models import Region
    from tests.factories import CallFactory

    CallFactory(region=Region.objects.get(code="84"))
    CallFactory(scope="national", region=None)
    response = client.get(reverse("dossiers:create", args=[dossier.grappe_id]))
    offered = set(response.context["form"].fields["call"].queryset.values_list("pk", flat=True))
    expected = {
        *Call.objects.filter(scope="national").values_list("pk", flat=True),
        dossier.call_id,
    }  # the grappe's ESSMS are in Paris: Île-de-France only
    assert offered == expected
    lyon = Call.objects.get(region_id="84")
    response = client.post(reverse("dossiers:create", args=[dossier.grappe_id]), {"call": lyon.pk})
    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in _page(response)


def test_saving_from_a_stale_page_changes_nothing(client, dossier):
    stale = dossier.version
    Application.objects.filter(pk=dossier.pk).update(version=stale + 1)
    response = client.post(
        reverse("dossiers:detail", args=[dossier.pk]),
        {"version": stale, "procurement": "15000", "steering": "50000", "justification": ""},
        follow=True,
    )
    assert "modifié entre-temps" in _page(response)
    assert Application.objects.get().requested_steering == 0
