"""The demo dataset: what `make demo` loads, and that every journey of the README can be walked."""

import datetime
import html
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.decisions.services import (
    applications_awaiting_decision,
    verification_code_display,
)
from applications.demo.simple import (
    DEMO_ACCOUNTS,
    DEMO_GRAPPE,
    DEMO_PASSWORD,
    EXCEEDING_GRAPPE,
    NATIONAL_GRAPPE,
    NOTIFIED_GRAPPE,
    OTHER_REGION,
    OTHER_REGION_GRAPPE,
    REFUSED_GRAPPE,
    notified_decision,
    pending_invitation,
)
from applications.instruction.services import (
    call_default_grid,
    proposal_lines,
    proposal_save,
    review_save,
)
from applications.models import Application, Call, Decision, WorkflowLog
from applications.selectors import applications_reviewable_by
from applications.workflow import (
    Action,
    GuardFailed,
    Status,
    can_act,
    envelope_exceeded,
    instructed_since_submission,
    transition,
)
from essms_portal.accounts.models import Role, User
from funding.services import quote_for
from grappes.models import Grappe, GrappeOrganisation, Organisation, OrganisationMember
from grappes.services import grappe_invitation_accept, organisation_member_confirm

pytestmark = pytest.mark.django_db

JOURNEY_GRAPPES = (
    DEMO_GRAPPE,
    NOTIFIED_GRAPPE,
    REFUSED_GRAPPE,
    EXCEEDING_GRAPPE,
    OTHER_REGION_GRAPPE,
    NATIONAL_GRAPPE,
)
IDF_GRAPPES = (NOTIFIED_GRAPPE, REFUSED_GRAPPE, EXCEEDING_GRAPPE)


@pytest.fixture
def demo():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def user(email: str) -> User:
    return User.objects.get(email=email)


def dossier(grappe: str) -> Application:
    return Application.objects.select_related("call").get(grappe__name=grappe)


def page_text(client, url: str) -> tuple[int, str]:
    response = client.get(url)
    return response.status_code, html.unescape(response.content.decode())


def test_seed_demo_loads_the_promised_dataset_once(capsys):
    call_command("seed_demo")
    assert "demo-esms-2023!" in capsys.readouterr().out
    assert Call.objects.filter(scope="regional").count() == 18
    assert Call.objects.filter(scope="national").count() == 1
    assert Organisation.objects.count() == 4
    assert Grappe.objects.get(name=DEMO_GRAPPE).memberships.count() == 16
    assert set(Grappe.objects.values_list("name", flat=True)) == set(JOURNEY_GRAPPES)
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    counts = [
        model.objects.count()
        for model in (User, Grappe, Application, WorkflowLog, Decision, OrganisationMember)
    ]

    call_command("seed_demo")
    assert "déjà chargé" in capsys.readouterr().out
    assert counts == [
        model.objects.count()
        for model in (User, Grappe, Application, WorkflowLog, Decision, OrganisationMember)
    ]


def test_an_older_demo_gains_the_journeys_it_lacks(demo):
    """A demo database loaded before a journey existed gets it at the next `make demo`."""
    application = dossier(NATIONAL_GRAPPE)
    grappe = application.grappe
    WorkflowLog.objects.filter(application=application).delete()
    application.attachments.all().delete()
    application.delete()
    grappe.delete()

    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert "Démonstration chargée" in out.getvalue()
    assert dossier(NATIONAL_GRAPPE).status == Status.SUBMITTED
    assert Grappe.objects.count() == len(JOURNEY_GRAPPES)


def test_a_journey_that_cannot_be_built_any_more_is_reported_not_half_made(demo):
    """An older demo database whose calls have closed since: the service refuses the dossier,
    the command says so and leaves no half-built grappe."""
    application = dossier(NATIONAL_GRAPPE)
    grappe = application.grappe
    WorkflowLog.objects.filter(application=application).delete()
    application.attachments.all().delete()
    application.delete()
    grappe.delete()
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    Call.objects.filter(scope=Call.Scope.NATIONAL).update(closes_on=yesterday)

    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert "Parcours « appel national » non créé" in out.getvalue()
    assert not Grappe.objects.filter(name=NATIONAL_GRAPPE).exists()


def test_every_demo_account_logs_in_with_a_verified_address(demo):
    for email, role, region, _title in DEMO_ACCOUNTS:
        account = user(email)
        assert account.role == role and account.region_id == region
        assert account.check_password(DEMO_PASSWORD), email
        assert EmailAddress.objects.filter(user=account, email=email, verified=True).exists()


def test_demo_application_has_an_eligible_quote(demo):
    quote = quote_for(application=dossier(DEMO_GRAPPE))
    assert quote.eligible, quote.errors
    assert quote.essms_count == 16
    assert quote.total == sum(line.amount for line in quote.structures) + 15_000 + 80_000


def test_every_dossier_went_through_the_workflow_and_the_audit_holds(demo):
    for application in Application.objects.exclude(status=Status.DRAFT):
        actions = list(application.log_entries.order_by("id").values_list("action", flat=True))
        assert actions[0] == Action.SUBMIT
        assert quote_for(application=application).eligible, application.grappe.name
        assert set(application.attachments.values_list("kind", flat=True)) == {
            "convention",
            "quote",
        }
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "Journal intègre" in out.getvalue()


def test_the_issued_decision_is_verifiable_with_the_printed_number_and_code(demo, client):
    decision = notified_decision()
    assert decision is not None
    assert decision.application.grappe.name == NOTIFIED_GRAPPE
    assert decision.application.status == Status.NOTIFIED
    assert decision.outcome == Status.ACCEPTED
    assert default_storage.exists(decision.pdf.name)
    code = verification_code_display(decision.verification_code)
    assert decision.number in demo and code in demo
    assert f"/verifier/?numero={decision.number}&code={code}" in demo

    status, text = page_text(
        client, f"{reverse('decisions:verify')}?numero={decision.number}&code={code}"
    )
    assert status == 200
    assert decision.number in text and "Association Horizon" in text
    wrong = client.get(reverse("decisions:verify"), {"numero": decision.number, "code": "0" * 10})
    assert wrong.status_code == 404
    # The porteur reads it on the dossier's page.
    client.force_login(user("porteur@demo.esms.fr"))
    _status, text = page_text(client, reverse("dossiers:detail", args=[decision.application.pk]))
    assert f"Décision n° {decision.number}" in text
    # Four eyes in the log: the valideur who accepted did not instruct.
    accept = decision.application.log_entries.get(action=Action.ACCEPT)
    assert accept.actor.email == "valideur@demo.esms.fr"
    assert not instructed_since_submission(decision.application, accept.actor)


def test_the_refused_dossier_waits_for_its_decision(demo):
    application = dossier(REFUSED_GRAPPE)
    assert application.status == Status.REJECTED
    assert application.recommendation == "reject"
    assert not Decision.objects.filter(application=application).exists()
    cnsa = user("cnsa@demo.esms.fr")
    assert list(applications_awaiting_decision(user=cnsa)) == [application]
    reject = application.log_entries.get(action=Action.REJECT)
    assert reject.comment and not instructed_since_submission(application, reject.actor)


def test_the_other_region_agents_see_only_their_region(demo, client):
    application = dossier(OTHER_REGION_GRAPPE)
    assert application.call.region_id == OTHER_REGION
    assert application.status == Status.PROPOSED
    valideur = user("valideur-ara@demo.esms.fr")
    assert list(applications_reviewable_by(user=valideur)) == [application]
    assert can_act(valideur, application, Action.ACCEPT)
    client.force_login(valideur)
    status, text = page_text(client, reverse("applications:queue"))
    assert status == 200
    assert OTHER_REGION_GRAPPE in text
    assert not any(name in text for name in (*IDF_GRAPPES, NATIONAL_GRAPPE))
    other = client.get(reverse("applications:review", args=[dossier(REFUSED_GRAPPE).pk]))
    assert other.status_code == 404  # out of the valideur's region: not even its existence

    idf = user("valideur@demo.esms.fr")
    assert application not in applications_reviewable_by(user=idf)
    assert set(applications_reviewable_by(user=idf).values_list("grappe__name", flat=True)) == set(
        IDF_GRAPPES
    )
    assert not can_act(idf, application, Action.ACCEPT)


def test_the_national_dossier_is_instructed_by_one_cnsa_agent_and_decided_by_the_other(demo):
    application = dossier(NATIONAL_GRAPPE)
    assert application.call.scope == Call.Scope.NATIONAL
    assert application.status == Status.SUBMITTED
    cnsa, cnsa2 = user("cnsa@demo.esms.fr"), user("cnsa2@demo.esms.fr")
    assert application in applications_reviewable_by(user=cnsa)
    assert application not in applications_reviewable_by(user=user("valideur@demo.esms.fr"))

    transition(application=application, action=Action.TAKE, by=cnsa)
    application.refresh_from_db()
    review_save(
        application=application,
        by=cnsa,
        marks=dict.fromkeys(call_default_grid(call=application.call), 4),
        comment="",
    )
    application.refresh_from_db()
    proposal_save(
        application=application,
        by=cnsa,
        amounts={
            key: (amount, "") for key, _label, amount in proposal_lines(application=application)
        },
        recommendation="accept",
        motivation="Conforme",
        expected_version=application.version,
    )
    transition(application=application, action=Action.PROPOSE, by=cnsa)
    application.refresh_from_db()
    assert not can_act(cnsa, application, Action.ACCEPT)
    with pytest.raises(GuardFailed):
        transition(application=application, action=Action.ACCEPT, by=cnsa)
    transition(application=application, action=Action.ACCEPT, by=cnsa2)
    application.refresh_from_db()
    assert application.status == Status.ACCEPTED


def test_the_dossier_beyond_the_envelope_needs_a_cnsa_override(demo):
    application = dossier(EXCEEDING_GRAPPE)
    assert application.status == Status.PROPOSED
    assert envelope_exceeded(application)
    # The porteur's draft still fits in what is left.
    draft = quote_for(application=dossier(DEMO_GRAPPE)).total
    accepted = quote_for(application=dossier(NOTIFIED_GRAPPE)).total
    assert accepted + draft <= application.call.envelope

    with pytest.raises(GuardFailed, match="dépasserait l'enveloppe"):
        transition(application=application, action=Action.ACCEPT, by=user("valideur@demo.esms.fr"))
    with pytest.raises(GuardFailed):
        transition(application=application, action=Action.ACCEPT, by=user("cnsa2@demo.esms.fr"))
    result = transition(
        application=application,
        action=Action.ACCEPT,
        by=user("cnsa2@demo.esms.fr"),
        override_reason="Crédits redéployés depuis l'appel national.",
    )
    assert result.application.status == Status.ACCEPTED
    assert "Dépassement d'enveloppe autorisé" in result.entry.comment


def test_the_pending_member_sees_only_their_request(demo, client):
    horizon = Organisation.objects.get(name="Association Horizon")
    member = OrganisationMember.objects.get(user__email="nouveau@demo.esms.fr")
    assert member.organisation == horizon
    assert member.status == OrganisationMember.Status.PENDING
    client.force_login(member.user)

    status, text = page_text(client, reverse("organisations:detail", args=[horizon.pk]))
    assert status == 200
    assert "Votre rattachement est en attente" in text
    _status, home = page_text(client, reverse("organisations:home"))
    grappes = Grappe.objects.filter(porteur=horizon)
    for grappe in grappes:
        assert grappe.name not in text and grappe.name not in home
        assert client.get(reverse("organisations:grappe", args=[grappe.pk])).status_code == 404

    organisation_member_confirm(member=member, by=user("porteur@demo.esms.fr"))
    _status, home = page_text(client, reverse("organisations:home"))
    assert DEMO_GRAPPE in home


def test_the_invitee_joins_the_draft_grappe_with_their_organisation(demo):
    invitation = pending_invitation()
    assert invitation is not None and invitation.grappe.name == DEMO_GRAPPE
    assert f"/espace/invitations/{invitation.token}/" in demo
    invite = user("invite@demo.esms.fr")
    montreuil = Organisation.objects.get(members__user=invite, members__status="confirmed")

    grappe_invitation_accept(invitation=invitation, by=invite, organisation=montreuil)

    invitation.refresh_from_db()
    assert invitation.accepted_by == invite
    participation = GrappeOrganisation.objects.get(grappe=invitation.grappe, organisation=montreuil)
    assert participation.confirmed_at is None  # Montreuil confirms its participation next


def test_seed_demo_analyzes_the_postgresql_tables():
    with CaptureQueriesContext(connection) as queries:
        call_command("seed_demo", stdout=StringIO())
    analyzed = any(q["sql"].strip().upper() == "ANALYZE" for q in queries.captured_queries)
    if connection.vendor != "postgresql":
        assert not analyzed  # only PostgreSQL's planner needs it (and the suite runs there in CI)
        return
    assert analyzed
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'applications_application'::regclass"
        )
        (reltuples,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'applications_application' "
            "AND attname = 'status'"
        )
        (stats,) = cursor.fetchone()
    # The planner's statistics count the dossiers just seeded (uncommitted, in this test's
    # transaction: ANALYZE sees its own transaction's rows).
    assert reltuples >= Application.objects.count()
    assert stats == 1
