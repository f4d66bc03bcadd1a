"""The applicant's dossier page and « Mon espace » (issue #13, load test).

The dossier page computes only what the dossier's state shows (no quote once a decision replaces
it, the requests form while editable, the missing attachments in a draft): its HTML must stay
byte for byte the page the full context renders, in every state. And both pages make an exact
number of queries, the same for a grappe of 15 ESSMS and of 40.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.decisions.services import decision_issue
from applications.dossiers import views
from applications.dossiers.forms import AttachmentForm
from applications.dossiers.selectors import QuoteRow, decision_summary, quote_rows
from applications.instruction.services import application_take, complement_request
from applications.models import Application, Decision
from applications.workflow import Action, missing_attachments, transition
from essms_portal.accounts.models import Role, User
from funding.rules import StructureLine
from funding.services import quote_for
from tests.applications.helpers import ars, cnsa_agent, decided_dossier, submitted_dossier
from tests.factories import (
    ApplicationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
    required_attachments,
)

pytestmark = pytest.mark.django_db

# Session, user, the savepoint pair of ATOMIC_REQUESTS, the dossier (its decision joined), the
# quote's inputs (the grappe's organisations with their ESSMS counts, the ESSMS with their
# names, hardware requests, already-funded ESSMS, the campaign's Ségur exemptions, the version
# of the referential held in memory — a query here, the test cache being the database's),
# attachments, is-participant, is-porteur (withdraw), history, complement, messages. A draft
# adds the requests form (hardware requests, organisations), is-porteur checks, the missing
# attachments (three), the attachment form's ESSMS and the unconfirmed organisations, and two
# per attachment (may it be deleted). Counted once and fixed here: a change that adds a query
# per ESSMS fails the flatness tests, one that adds a constant query fails these numbers and
# must say why.
SUBMITTED_QUERIES = 17
DRAFT_QUERIES = 29
DECIDED_QUERIES = 10
ESPACE_QUERIES = 7

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def _draft(count: int) -> tuple[Application, User]:
    """A draft of ``count`` ESSMS (shares of 1: no share proof) with its required attachments."""
    application = ApplicationFactory(grappe=grappe_with_structures(count))
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    required_attachments(application, porteur)
    return application, porteur


def _decided(count: int) -> tuple[Application, User]:
    """An accepted dossier whose decision is issued (the page shows it instead of the quote)."""
    application = decided_dossier(count=count)
    decision_issue(application=application, by=cnsa_agent())
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    application.refresh_from_db()
    return application, porteur


def _rejected() -> tuple[Application, User]:
    application = decided_dossier("reject")
    decision_issue(application=application, by=cnsa_agent())
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    application.refresh_from_db()
    return application, porteur


def _complement_requested() -> tuple[Application, User]:
    application, porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    application_take(application=application, by=instructeur)
    application.refresh_from_db()
    complement_request(
        application=application,
        by=instructeur,
        message="Merci de préciser la gouvernance.",
        expected_items="Convention signée",
        deadline=datetime.date.today() + datetime.timedelta(days=15),
    )
    application.refresh_from_db()
    return application, porteur


def _withdrawn() -> tuple[Application, User]:
    application, porteur = submitted_dossier()
    transition(application=application, action=Action.WITHDRAW, by=porteur)
    application.refresh_from_db()
    return application, porteur


def _full_context(request: Any, application: Application) -> dict[str, Any]:
    """The page's context with every entry computed whatever the state, as before the cut:
    the quote and its named lines, the requests form, the missing attachments, the attachment
    form and the decision read on their own."""
    context = views._context(request, application)
    quote = quote_for(application=application)
    names = dict(application.grappe.memberships.values_list("structure__finess", "structure__name"))
    decision = Decision.objects.filter(application=application).first()
    return {
        **context,
        "quote": quote,
        "quote_rows": quote_rows(quote=quote, names=names),
        "form": views._application_form(application),
        "missing": missing_attachments(application=application),
        "attachment_form": AttachmentForm(
            memberships=application.grappe.memberships.select_related("structure")
        ),
        "decision": decision,
        "decided": decision_summary(decision=decision) if decision else None,
    }


@pytest.mark.parametrize(
    "build",
    [
        lambda: _draft(15),
        lambda: submitted_dossier(),
        _complement_requested,
        _withdrawn,
        lambda: _decided(15),
        _rejected,
    ],
    ids=["draft", "submitted", "complement", "withdrawn", "accepted", "rejected"],
)
def test_the_page_is_the_one_the_full_context_renders(client, build):
    application, porteur = build()
    client.force_login(porteur)
    response = client.get(reverse("dossiers:detail", args=[application.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    application = Application.objects.select_related(
        "grappe__porteur", "call__campaign", "call__region"
    ).get(pk=application.pk)
    request = response.wsgi_request
    full = render_to_string(
        "espace/application.html", _full_context(request, application), request=request
    )
    # Only the CSRF tokens differ: each rendering masks the secret anew.
    assert CSRF.sub("CSRF", page) == CSRF.sub("CSRF", full)
    # Something state-specific is on the page, so the comparison is not of two empty shells.
    assert f"Dossier n° {application.pk}" in page


def _queries(client, user: User, url: str) -> int:
    client.force_login(user)
    client.get(url)  # a first visit fills the process-wide caches; the second is the cost
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _dossier_queries(client, application: Application, user: User) -> int:
    return _queries(client, user, reverse("dossiers:detail", args=[application.pk]))


@pytest.mark.parametrize(
    ("build", "expected"),
    [(submitted_dossier, SUBMITTED_QUERIES), (_draft, DRAFT_QUERIES), (_decided, DECIDED_QUERIES)],
    ids=["submitted", "draft", "decided"],
)
def test_dossier_page_queries_are_exact_and_flat_in_the_number_of_essms(client, build, expected):
    small = _dossier_queries(client, *build(15))
    large = _dossier_queries(client, *build(40))
    assert (small, large) == (expected, expected)


def test_mon_espace_queries_are_exact_and_flat(client):
    _small, porteur = submitted_dossier(count=15)
    assert _queries(client, porteur, reverse("organisations:home")) == ESPACE_QUERIES
    _large, other = submitted_dossier(count=40)
    assert _queries(client, other, reverse("organisations:home")) == ESPACE_QUERIES


def test_a_decided_dossier_page_builds_no_quote(client, monkeypatch):
    application, porteur = _decided(15)

    def no_quote(**_kwargs: Any) -> None:
        raise AssertionError("the decided dossier's page computed a quote")

    monkeypatch.setattr(views, "quote_with_names_for", no_quote)
    client.force_login(porteur)
    response = client.get(reverse("dossiers:detail", args=[application.pk]))
    assert response.status_code == 200
    assert "Montants accordés" in response.content.decode()


@pytest.mark.parametrize(
    "share", ["1", "0.5", "0.125", "0.135", "0.005", "0.015", "0.333", "0.6667", "0.01", "0.999"]
)
def test_the_share_column_is_what_widthratio_wrote(share):
    line = StructureLine(
        finess="750000001",
        gestionnaire="750000002",
        project="acquisition",
        category="500",
        casf_item="2°",
        region="11",
        eligible_share=Decimal(share),
        base_amount=0,
        amount=0,
        eligible=True,
    )
    row = QuoteRow(line=line, name="")
    widthratio = Template("{% widthratio share 1 100 %}").render(Context({"share": Decimal(share)}))
    assert row.share_percent == widthratio
