"""The review page's queries: an exact count, the same for a grappe of 15 ESSMS and of 40
(quote, eligibility report, proposal lines, share proofs and history load in bulk)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.dossiers.services import message_post
from applications.instruction.services import application_take, note_add
from applications.models import Application, Attachment
from essms_portal.accounts.models import Role, User
from tests.applications.helpers import ars, score_and_propose_amounts, submitted_dossier

pytestmark = pytest.mark.django_db

# Session, user, MFA check, the dossier, the quote's inputs (memberships, organisations, hardware
# requests, referential), the report, reviews, proposal, envelope, score, attachments, cross
# funding, messages, complements, notes, history and the assignment form's choices; the
# proposed total is summed from the proposal's rows already read, and the page only reads and
# runs outside the request transaction (no savepoint pair). Counted once and fixed here:
# a change that adds a query per ESSMS or per row fails the flatness test, one that adds a
# constant query fails this number and must say why.
# applicantpages (#13): the quote's referential is held in memory per process (one version
# read instead of three tables) and the grappe's organisations come with their ESSMS counts
# (one query instead of two): 30 -> 27 (agentpages: 33 -> 30, see above).
EXPECTED_QUERIES = 27


def _dossier_in_review(count: int) -> tuple[Application, User]:
    """A dossier of ``count`` ESSMS in instruction with a share proof per ESSMS, a complete
    review, a proposal on every line, a message and a note: every list the page shows."""
    application, porteur = submitted_dossier(count=count)
    for membership in application.grappe.memberships.all():
        Attachment.objects.create(
            application=application,
            kind=Attachment.Kind.SHARE_PROOF,
            membership=membership,
            file=f"tests/proof-{membership.pk}.pdf",
            original_name=f"justificatif-{membership.pk}.pdf",
            content_type="application/pdf",
            size=13,
            uploaded_by=porteur,
        )
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    application_take(application=application, by=instructeur)
    application.refresh_from_db()
    score_and_propose_amounts(application, instructeur)
    message_post(application=application, by=instructeur, text="Bonjour")
    note_add(application=application, by=instructeur, text="À vérifier")
    return application, instructeur


def _review_queries(client, application: Application, user: User) -> int:
    client.force_login(user)
    url = reverse("applications:review", args=[application.pk])
    client.get(url)  # a first visit fills the process-wide caches; the second is the cost
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("justificatif-") == application.grappe.memberships.count()
    return len(queries)


def test_review_page_queries_do_not_grow_with_the_number_of_essms(client):
    small, instructeur = _dossier_in_review(15)
    large, _other = _dossier_in_review(40)
    assert _review_queries(client, small, instructeur) == _review_queries(
        client, large, instructeur
    )


def test_review_page_query_count_is_exact(client):
    application, instructeur = _dossier_in_review(15)
    assert _review_queries(client, application, instructeur) == EXPECTED_QUERIES
