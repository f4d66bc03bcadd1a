"""The review workspace (one screen per dossier): the dossier's files listed and served to its
region's reviewers only, taking a dossier assigns it, history and amounts in plain French."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from applications.instruction.filters import ApplicationQueueFilter
from applications.instruction.services import application_take, proposal_lines, proposal_save
from applications.models import Application, Attachment, WorkflowLog
from applications.statuses import ACTION_EVENTS, Action, action_event
from applications.workflow import Status, TransitionError, transition
from essms_portal.accounts.models import Role
from grappes.models import GrappeMembership
from tests.applications.helpers import ars, submitted_dossier
from tests.conftest import drain
from tests.dbstate import assert_unchanged, db_state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def _with_files(application: Application) -> list[Attachment]:
    """Store a real file behind each attachment row of the dossier, plus a share proof and a
    complement answer, so that the download view serves bytes from the private storage."""
    by = application.attachments.first().uploaded_by
    membership = GrappeMembership.objects.filter(grappe=application.grappe).first()
    Attachment.objects.create(
        application=application,
        kind=Attachment.Kind.SHARE_PROOF,
        membership=membership,
        file="tests/share.pdf",
        original_name="justificatif-part.pdf",
        content_type="application/pdf",
        size=len(PDF),
        uploaded_by=by,
    )
    Attachment.objects.create(
        application=application,
        kind=Attachment.Kind.COMPLEMENT,
        file="tests/complement.pdf",
        original_name="reponse-complements.pdf",
        content_type="application/pdf",
        size=2048,
        uploaded_by=by,
    )
    attachments = list(application.attachments.order_by("pk"))
    for attachment in attachments:
        name = default_storage.save(f"dossiers/{attachment.pk}.pdf", ContentFile(PDF))
        Attachment.objects.filter(pk=attachment.pk).update(file=name)
    return list(application.attachments.order_by("pk"))


def test_every_attachment_is_listed_with_type_size_date_and_a_working_link(client):
    application, _porteur = submitted_dossier()
    attachments = _with_files(application)
    assert {a.kind for a in attachments} == {
        "convention",
        "quote",
        "share_proof",
        "complement",
    }
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    client.force_login(instructeur)
    page = html.unescape(
        client.get(reverse("applications:review", args=[application.pk])).content.decode()
    )
    pieces = page[page.index('id="pieces"') : page.index('id="notation"')]
    for attachment in attachments:
        url = reverse("dossiers:download", args=[application.pk, attachment.pk])
        assert f'href="{url}"' in pieces
        assert attachment.original_name in pieces
        assert attachment.get_kind_display() in pieces
        assert attachment.uploaded_at.strftime("%d/%m/%Y") in pieces
        response = client.get(url)
        assert response.status_code == 200
        assert drain(response) == PDF
        assert response["Content-Disposition"].startswith("attachment")
    proof = next(a for a in attachments if a.kind == "share_proof")
    assert proof.membership.structure.name in pieces
    assert "2,0\u00a0Kio" in pieces  # filesizeformat, French units
    assert "Pièces (4)" in page  # the side menu says how many


def test_another_regions_instructeur_gets_404_for_the_page_and_every_file(client):
    application, _porteur = submitted_dossier()
    attachments = _with_files(application)
    lyon = ars(Role.ARS_INSTRUCTEUR, region="84")
    client.force_login(lyon)
    assert client.get(reverse("applications:review", args=[application.pk])).status_code == 404
    for attachment in attachments:
        url = reverse("dossiers:download", args=[application.pk, attachment.pk])
        assert client.get(url).status_code == 404


def test_a_file_of_another_dossier_is_404_even_through_an_allowed_dossier(client):
    """The attachment is looked up inside the dossier of the URL: swapping ids leaks nothing."""
    mine, _porteur = submitted_dossier()
    theirs, _other = submitted_dossier()
    foreign = _with_files(theirs)[0]
    _with_files(mine)
    client.force_login(ars(Role.ARS_INSTRUCTEUR))
    url = reverse("dossiers:download", args=[mine.pk, foreign.pk])
    assert client.get(url).status_code == 404


def test_another_regions_instructeur_cannot_take_assign_or_propose(client):
    application, _porteur = submitted_dossier()
    lyon = ars(Role.ARS_INSTRUCTEUR, region="84")
    client.force_login(lyon)
    before = db_state()
    posts = [
        (reverse("applications:act", args=[application.pk, "take"]), {"version": 1}),
        (reverse("applications:assign", args=[application.pk]), {"assignee": lyon.pk}),
        (reverse("applications:add_note", args=[application.pk]), {"text": "Intrusion"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 404
    assert_unchanged(before)


def test_taking_a_dossier_assigns_it_to_the_taker(client):
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    client.force_login(instructeur)
    response = client.post(
        reverse("applications:act", args=[application.pk, "take"]),
        {"version": application.version},
        follow=True,
    )
    assert response.status_code == 200
    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW
    assert application.assignee == instructeur
    actions = list(
        WorkflowLog.objects.filter(application=application)
        .order_by("id")
        .values_list("action", "comment")
    )
    assert actions[-2:] == [
        (Action.TAKE, ""),
        (Action.ASSIGN, f"Dossier affecté à {instructeur.email}"),
    ]
    page = html.unescape(response.content.decode())
    assert "non affecté" not in page
    summary = page[page.index("review-summary") : page.index('id="eligibilite"')]
    assert instructeur.email in summary


def test_taking_keeps_an_assignment_somebody_chose(client):
    application, _porteur = submitted_dossier()
    chosen = ars(Role.ARS_INSTRUCTEUR)
    Application.objects.filter(pk=application.pk).update(assignee=chosen)
    application.refresh_from_db()
    taker = ars(Role.ARS_INSTRUCTEUR)
    application_take(application=application, by=taker, expected_version=application.version)
    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW
    assert application.assignee == chosen
    assert not WorkflowLog.objects.filter(application=application, action=Action.ASSIGN).exists()


def test_a_refused_take_assigns_nobody():
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=ars(Role.ARS_INSTRUCTEUR))
    application.refresh_from_db()
    before = db_state()
    with pytest.raises(TransitionError):
        application_take(application=application, by=instructeur)
    assert_unchanged(before)


def test_history_says_what_happened_not_the_buttons_verbs(client):
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    application_take(application=application, by=instructeur)
    client.force_login(instructeur)
    page = html.unescape(
        client.get(reverse("applications:review", args=[application.pk])).content.decode()
    )
    history = page[page.index('id="historique"') : page.index('id="decision"')]
    assert "Dossier déposé" in history
    assert "Pris en instruction" in history
    assert "Affectation modifiée" in history
    assert not re.search(r"<strong>(Déposer|Prendre en instruction|Accepter)</strong>", history)


def test_every_action_has_a_past_tense_event():
    assert set(ACTION_EVENTS) == set(Action)
    assert action_event(Action.ACCEPT) == "Dossier accepté"
    assert action_event("unknown") == "unknown"


def test_proposal_is_a_table_reopened_at_the_saved_amounts_with_french_amounts(client):
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    application_take(application=application, by=instructeur)
    application.refresh_from_db()
    lines = proposal_lines(application=application)
    first_key, _label, first_computed = lines[0]
    amounts = {key: (computed, "") for key, _l, computed in lines}
    amounts[first_key] = (first_computed - 5_000, "Devis surévalué")
    proposal_save(
        application=application,
        by=instructeur,
        amounts=amounts,
        recommendation="accept",
        motivation="Solide",
        expected_version=application.version,
    )
    client.force_login(instructeur)
    page = client.get(reverse("applications:review", args=[application.pk])).content.decode()
    proposal = page[page.index('id="proposition"') : page.index('id="echanges"')]
    # One row per line, each with its computed amount, an amount and a reason field.
    assert proposal.count("<tr>") == len(lines) + 2  # header and total rows
    assert f'name="amount_0" value="{first_computed - 5_000}"' in proposal
    assert "Devis surévalué" in proposal
    total = sum(c for _k, _l, c in lines)
    assert f"{total - 5_000:,}".replace(",", "\u202f") + "\u00a0€" in proposal
    assert 'id="proposal-total"' in proposal
    # The history's proposal entry writes amounts the French way.
    entry = WorkflowLog.objects.filter(action=Action.EDIT_PROPOSAL).get()
    french = f"{total - 5_000:,}".replace(",", "\u202f") + "\u00a0€"
    assert f"Montant proposé : {french}" in entry.comment
    assert re.search(r"\d{4,} €", entry.comment) is None


def test_scrollable_tables_are_focusable_named_regions(client):
    application, _porteur = submitted_dossier()
    _with_files(application)
    client.force_login(ars(Role.ARS_INSTRUCTEUR))
    page = client.get(reverse("applications:review", args=[application.pk])).content.decode()
    containers = re.findall(r'<div class="fr-table__container"([^>]*)>', page)
    assert len(containers) == 2  # ESSMS, pièces (no proposal yet)
    for attributes in containers:
        assert 'tabindex="0"' in attributes
        assert 'role="region"' in attributes
        assert "aria-label=" in attributes
    # The actions come last, after the report they depend on.
    assert page.index('id="eligibilite"') < page.index('id="decision"')
    assert page.index('id="historique"') < page.index('id="action-form"')


def test_mine_filter_is_a_plain_choice():
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    mine, _p = submitted_dossier()
    other, _q = submitted_dossier()
    Application.objects.filter(pk=mine.pk).update(assignee=instructeur)
    field = ApplicationQueueFilter(user=instructeur).form.fields["mine"]
    assert [label for _value, label in field.choices] == ["Tous", "Oui", "Non"]
    base = Application.objects.all()

    def pks(value: str) -> set[int]:
        filterset = ApplicationQueueFilter({"mine": value}, queryset=base, user=instructeur)
        assert filterset.is_valid()
        return set(filterset.qs.values_list("pk", flat=True))

    assert pks("true") == {mine.pk}
    assert pks("false") == {other.pk}
    assert pks("") == {mine.pk, other.pk}
