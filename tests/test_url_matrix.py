"""Role by URL matrix generated from the URLconf: no view escapes it because it was forgotten.

Every named URL of the project must appear in EXPECTED (or be an admin URL, checked by rule, or
an allauth page listed in ACCOUNT_PAGES); a new URL without an expectation fails this test.

The world (a dossier, its actors, an invitation, an attachment) is built once for the module,
inside an atomic block that is rolled back when the module ends; every case runs in its own
savepoint nested in it (``db``: Django's TestCase atomics), so what a case writes (a confirmed
member, a withdrawn dossier...) is gone before the next one. Cases read the world's rows afresh
(primary keys, never model instances cached across cases).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from applications.decisions.services import decision_issue
from applications.models import Attachment
from applications.workflow import Action, transition
from essms_portal.accounts.models import Role, User
from grants.amendments import amendment_draft, amendment_validate
from grants.indicators import indicators_ensure_defaults
from grants.measurements import measurement_declarable, measurement_declare, measurement_window
from grants.models import Measurement, UsageIndicator
from grants.services import (
    bank_details_submit,
    convention_countersign,
    convention_draft,
    convention_sign,
    payment_batch_create,
)
from grappes.models import GrappeInvitation, Organisation, OrganisationMember
from tests.applications.helpers import ars, decided_dossier, submitted_dossier
from tests.conftest import drain, ensure_referential
from tests.dbstate import assert_unchanged, db_state
from tests.factories import OrganisationFactory, UserFactory, confirmed_member, verified_email

pytestmark = pytest.mark.django_db

ACTORS = (
    "anonymous",
    "own_gestionnaire",  # confirmed member of the porteur of the world's dossier
    "other_gestionnaire",  # confirmed member of an unrelated organisation
    "pending_member",  # asked to join the porteur organisation, not confirmed yet
    "invited_user",  # holds a verified address invited to the grappe, has not accepted
    "taking_instructeur",  # the Île-de-France instructeur who took the dossier
    "instructeur",  # another instructeur of the same region
    "other_instructeur",  # an instructeur of another region
    "valideur",
    "cnsa",
    "cnsa_2",  # a second CNSA agent
    "administrator",
)
LOGIN = 302  # anonymous users are sent to the login page
# Gestionnaires outside the dossier: a stranger, a pending member and an invitee who has not
# accepted are all outside it.
OUTSIDERS = ("other_gestionnaire", "pending_member", "invited_user")
BACK_OFFICE = (
    "taking_instructeur",
    "instructeur",
    "other_instructeur",
    "valideur",
    "cnsa",
    "cnsa_2",
    "administrator",
)
APPLICANTS = ("own_gestionnaire", *OUTSIDERS)


def _matrix(cells: dict[str, int]) -> dict[str, int]:
    """An expectation for every actor; fails at import when one is missing."""
    assert set(cells) == set(ACTORS), set(ACTORS) ^ set(cells)
    return cells


def _back_office_scope(method: str, **overrides: int) -> tuple[str, dict[str, int]]:
    """Back-office pages of the world's (Île-de-France) dossier: 200 in scope, 404 for the
    other region's instructeur, 403 for every applicant."""
    return method, _matrix(
        {
            "anonymous": LOGIN,
            **dict.fromkeys(APPLICANTS, 403),
            **dict.fromkeys(BACK_OFFICE, 200),
            "other_instructeur": 404,
            **overrides,
        }
    )


# name: (method, {actor: expected status})
EXPECTED: dict[str, tuple[str, dict[str, int]]] = {
    "home": ("get", _matrix(dict.fromkeys(ACTORS, 200))),
    "healthz": ("get", _matrix(dict.fromkeys(ACTORS, 200))),
    # The footer's mandatory pages are public (issue #14).
    "accessibility": ("get", _matrix(dict.fromkeys(ACTORS, 200))),
    "legal_notice": ("get", _matrix(dict.fromkeys(ACTORS, 200))),
    "personal_data": ("get", _matrix(dict.fromkeys(ACTORS, 200))),
    "sitemap": ("get", _matrix(dict.fromkeys(ACTORS, 200))),
    "applications:queue": _back_office_scope("get", other_instructeur=200),
    "applications:review": _back_office_scope("get"),
    "applications:ranking": _back_office_scope("get"),
}
# POST-only instruction views, posted empty: the instructeurs of the region get the form back
# (400) or a redirect after a no-op save (302), whether or not they took the dossier; everyone
# else is refused.
INSTRUCT_POSTS = {
    "applications:assign": 302,
    "applications:add_note": 400,
    "applications:post_message": 400,
    "applications:save_review": 400,
    "applications:ask_complement": 400,
    "applications:save_proposal": 400,
}
for _name, _own in INSTRUCT_POSTS.items():
    EXPECTED[_name] = _back_office_scope(
        "post",
        taking_instructeur=_own,
        instructeur=_own,
        valideur=403,
        cnsa=403,
        cnsa_2=403,
        administrator=403,
    )
# "take" posted without its form (no version): the region's instructeurs get the form back
# (400); deciders and administrators may never take a dossier (403, the same predicate as the
# workflow's); the workflow decides on a valid post (tests/applications).
EXPECTED["applications:act"] = _back_office_scope(
    "post",
    taking_instructeur=400,
    instructeur=400,
    valideur=403,
    cnsa=403,
    cnsa_2=403,
    administrator=403,
)


def _applicant(
    method: str, own: int, outsiders: int = 404, **overrides: int
) -> tuple[str, dict[str, int]]:
    """Applicant pages: the dossier's gestionnaire gets ``own``; a stranger, a pending member
    and an invitee who has not accepted get ``outsiders``; the back office 403."""
    return method, _matrix(
        {
            "anonymous": LOGIN,
            "own_gestionnaire": own,
            **dict.fromkeys(OUTSIDERS, outsiders),
            **dict.fromkeys(BACK_OFFICE, 403),
            **overrides,
        }
    )


EXPECTED.update(
    {
        "organisations:home": _applicant("get", 200, 200, **dict.fromkeys(BACK_OFFICE, 302)),
        "organisations:join": _applicant("get", 200, 200),
        # A pending member sees their own request (the organisation's public identity).
        "organisations:detail": _applicant("get", 200, pending_member=200),
        "organisations:member_confirm": _applicant("post", 302),
        "organisations:grappe_create": _applicant("get", 200),
        "organisations:grappe": _applicant("get", 200),
        "organisations:membership_remove": _applicant("post", 302),
        "organisations:invitation": _applicant("get", 200, 200),  # the page says who may join
        "organisations:grappe_join": _applicant("get", 200, 200),
        # The FINESS lookup API answers every signed-in user (404 here: number not in referential).
        "grappes:finess_lookup": (
            "get",
            _matrix({**dict.fromkeys(ACTORS, 404), "anonymous": LOGIN}),
        ),
        "organisations:join_decide": _applicant("post", 404),
        "dossiers:create": _applicant("get", 200),
        "dossiers:detail": _applicant("get", 200),
        "dossiers:quote": _applicant("post", 200),
        "dossiers:upload": _applicant("post", 302),
        "dossiers:submit": _applicant("post", 302),
        "dossiers:receipt": _applicant("get", 200),
        "dossiers:message": _applicant("post", 302),
        "dossiers:answer": _applicant("post", 302),
        "dossiers:withdraw": _applicant("post", 302),
        # GET is the confirmation page; the world's dossier is in review, so its attachments
        # are no longer deletable: its gestionnaire is sent back to the dossier with a message.
        "dossiers:attachment_delete": _applicant("get", 302),
        # Files are served to the dossier's applicants and to its back-office scope only.
        "dossiers:download": _back_office_scope(
            "get", own_gestionnaire=200, **dict.fromkeys(OUTSIDERS, 404)
        ),
    }
)

# allauth's own pages: public entry points or the user's own account, never another's data.
ACCOUNT_PAGES = {
    "account_signup",
    "account_login",
    "account_logout",
    "account_reauthenticate",
    "account_change_password",
    "account_set_password",
    "account_inactive",
    "account_email",
    "account_email_verification_sent",
    "account_confirm_email",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_login_code_confirm",
    "account_request_login_code",
    "account_confirm_login_code",
    "account_reset_password_code",
    "account_password_reset_code",
    "account_confirm_password_reset_code",
    # allauth.mfa: the user's own authenticators (mandatory for agents, issue #12).
    "mfa_index",
    "mfa_authenticate",
    "mfa_reauthenticate",
    "mfa_activate_totp",
    "mfa_deactivate_totp",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
}


def _names(patterns: list[URLPattern | URLResolver], namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= _names(pattern.url_patterns, inner)
        elif pattern.name:
            names.add(f"{namespace}{pattern.name}")
    return names


def test_every_named_url_has_an_expectation():
    names = _names(get_resolver().url_patterns)
    forgotten = {
        n
        for n in names
        if n not in EXPECTED and not n.startswith("admin:") and n not in ACCOUNT_PAGES
    }
    assert forgotten == set()


@contextmanager
def _rolled_back_atomic(django_db_blocker: Any) -> Iterator[None]:
    """An atomic block on the default connection, entered now and always rolled back on exit.

    Database access is unblocked only to enter and to leave it: tests in between get theirs
    from ``db``, whose atomics (Django's TestCase) nest in it as savepoints.
    """
    block = transaction.atomic()
    with django_db_blocker.unblock():
        block.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            block.__exit__(None, None, None)


@dataclass(frozen=True)
class World:
    users: dict[str, int | None]  # actor: primary key of their user (None: anonymous)
    kwargs: dict[str, dict[str, Any]]  # URL name: its reverse() kwargs
    porteur_pk: int  # the organisation that carries the dossier


def _build_world() -> World:
    application, porteur = submitted_dossier()
    taking = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=taking)
    application.refresh_from_db()
    other = UserFactory()
    confirmed_member(other, OrganisationFactory())
    pending = UserFactory()
    OrganisationMember.objects.create(user=pending, organisation=application.grappe.porteur)
    invited = UserFactory(email="invite@example.fr")
    verified_email(invited)
    confirmed_member(invited, OrganisationFactory())
    users = {
        "anonymous": None,
        "own_gestionnaire": porteur,
        "other_gestionnaire": other,
        "pending_member": pending,
        "invited_user": invited,
        "taking_instructeur": taking,
        "instructeur": ars(Role.ARS_INSTRUCTEUR),
        "other_instructeur": ars(Role.ARS_INSTRUCTEUR, region="84"),
        "valideur": ars(Role.ARS_VALIDEUR),
        "cnsa": UserFactory(role=Role.CNSA_AGENT),
        "cnsa_2": UserFactory(role=Role.CNSA_AGENT),
        "administrator": UserFactory(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True),
    }
    assert set(users) == set(ACTORS)
    organisation = application.grappe.porteur
    member = organisation.members.get(user=pending)  # a request to confirm
    invitation = GrappeInvitation.objects.create(
        grappe=application.grappe,
        email="invite@example.fr",
        token="jeton-secret",
        invited_by=porteur,
        expires_at=timezone.now() + datetime.timedelta(days=14),
    )
    attachment = Attachment.objects.create(
        application=application,
        kind="convention",
        file=default_storage.save("tests/convention.pdf", ContentFile(b"%PDF-1.4 test")),
        original_name="convention.pdf",
        content_type="application/pdf",
        size=13,
        uploaded_by=porteur,
    )
    membership = application.grappe.memberships.first()
    assert membership is not None
    kwargs = {
        "organisations:detail": {"pk": organisation.pk},
        "organisations:member_confirm": {"pk": organisation.pk, "member_pk": member.pk},
        "organisations:grappe_create": {"pk": organisation.pk},
        "organisations:grappe": {"pk": application.grappe_id},
        "organisations:membership_remove": {
            "pk": application.grappe_id,
            "membership_pk": membership.pk,
        },
        "organisations:invitation": {"token": invitation.token},
        "organisations:join_decide": {"pk": application.grappe_id, "join_pk": 999_999},
        "grappes:finess_lookup": {"finess": "010000016"},
        "dossiers:create": {"grappe_pk": application.grappe_id},
        "dossiers:download": {"pk": application.pk, "attachment_pk": attachment.pk},
        "dossiers:attachment_delete": {"pk": application.pk, "attachment_pk": attachment.pk},
        **{
            name: {"pk": application.pk}
            for name in (
                "dossiers:detail",
                "dossiers:quote",
                "dossiers:upload",
                "dossiers:submit",
                "dossiers:receipt",
                "dossiers:message",
                "dossiers:answer",
                "dossiers:withdraw",
            )
        },
        "applications:review": {"pk": application.pk},
        "applications:ranking": {"pk": application.call_id},
        "applications:act": {"pk": application.pk, "action": "take"},
        **{name: {"pk": application.pk} for name in INSTRUCT_POSTS},
        # The decision URLs that need no issued decision (see ``decision_url`` for the others).
        "decisions:verify": {},
        "decisions:issue": {"pk": application.pk},
        "decisions:issue_confirm": {"pk": application.pk},
        "decisions:data_export": {"dataset": "dossiers", "fmt": "csv"},
    }
    pks = {actor: None if user is None else user.pk for actor, user in users.items()}
    return World(users=pks, kwargs=kwargs, porteur_pk=organisation.pk)


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The world, built once for the module and rolled back when it ends. Files (the
    attachment, a decision's letter, an export's archive) go to the module's own directory."""
    location = tmp_path_factory.mktemp("url_matrix") / "private"
    storages = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(location)}},
    }
    with override_settings(STORAGES=storages), _rolled_back_atomic(django_db_blocker):
        with django_db_blocker.unblock():
            ensure_referential()  # a flush before this module (live-server tests) emptied it
            built = _build_world()
            before = db_state()
        yield built
        with django_db_blocker.unblock():
            assert_unchanged(before)  # every case's writes were rolled back with its savepoint


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("actor", ACTORS)
def test_role_url_matrix(client, world, name, actor):
    method, expected = EXPECTED[name]
    if world.users[actor] is not None:
        client.force_login(User.objects.get(pk=world.users[actor]))
    url = reverse(name, kwargs=world.kwargs.get(name))
    response = getattr(client, method)(url)
    if response.streaming:
        drain(response)
    assert response.status_code == expected[actor], (name, actor)
    # Every answer (page, file, JSON, redirect, error) carries the CSP (issue #12).
    assert "default-src 'self'" in response.get("Content-Security-Policy", ""), (name, actor)
    if response.status_code == LOGIN and actor == "anonymous":
        assert "/comptes/login/" in response["Location"]


@pytest.mark.parametrize("actor", [a for a in ACTORS if a != "administrator"])
def test_admin_is_for_staff_only(client, world, actor):
    if world.users[actor] is not None:
        client.force_login(User.objects.get(pk=world.users[actor]))
    for path in ("/admin/", "/admin/applications/application/", "/admin/grappes/structure/"):
        response = client.get(path)
        assert response.status_code == 302, (path, actor)
        assert "login" in response["Location"]


# --------------------------------------------------------------------------------------------
# Decisions, exports and dashboard (applications/decision_urls.py)
# --------------------------------------------------------------------------------------------


def _back_office_only(method: str, status: int) -> tuple[str, dict[str, int]]:
    """Back-office pages: every back-office actor gets ``status``, applicants 403."""
    return method, _matrix(
        {"anonymous": LOGIN, **dict.fromkeys(APPLICANTS, 403), **dict.fromkeys(BACK_OFFICE, status)}
    )


def _export_owner_only() -> tuple[str, dict[str, int]]:
    """An export job belongs to the CNSA agent who asked for it: 404 for everyone else, the
    second CNSA agent included."""
    method, expected = _back_office_only("get", 404)
    return method, {**expected, "cnsa": 200}


EXPECTED.update(
    {
        # Public, no login: the empty number + code form (a number alone shows nothing).
        "decisions:verify": ("get", _matrix(dict.fromkeys(ACTORS, 200))),
        # The letter: the dossier's applicants and its back-office scope.
        "decisions:pdf": _back_office_scope(
            "get", own_gestionnaire=200, **dict.fromkeys(OUTSIDERS, 404)
        ),
        "decisions:list": _back_office_only("get", 200),
        "decisions:pending": _back_office_only("get", 200),
        "decisions:dashboard": _back_office_only("get", 200),
        "decisions:atlas_csv": _back_office_only("get", 200),
        "decisions:atlas_png": _back_office_only("get", 200),
        "decisions:data_export": _back_office_only("get", 200),
        # Empty filters and nothing to export in the world: a message and a redirect.
        "decisions:export_create": _back_office_only("post", 302),
        # Only CNSA agents issue; the world's dossier is in review, so a CNSA agent is
        # redirected with the workflow's refusal.
        "decisions:issue": (
            "post",
            _matrix(
                {
                    "anonymous": LOGIN,
                    **dict.fromkeys(APPLICANTS, 403),
                    **dict.fromkeys(BACK_OFFICE, 403),
                    "cnsa": 302,
                    "cnsa_2": 302,
                }
            ),
        ),
        # The confirmation page before issuing: CNSA agents only; the world's dossier is in
        # review, so a CNSA agent is sent back to the pending list with a message.
        "decisions:issue_confirm": (
            "get",
            _matrix(
                {
                    "anonymous": LOGIN,
                    **dict.fromkeys(APPLICANTS, 403),
                    **dict.fromkeys(BACK_OFFICE, 403),
                    "cnsa": 302,
                    "cnsa_2": 302,
                }
            ),
        ),
        # Bulk issue (CNSA agents only); an empty selection: a message and a redirect.
        "decisions:issue_bulk": (
            "post",
            _matrix(
                {
                    "anonymous": LOGIN,
                    **dict.fromkeys(APPLICANTS, 403),
                    **dict.fromkeys(BACK_OFFICE, 403),
                    "cnsa": 302,
                    "cnsa_2": 302,
                }
            ),
        ),
        "decisions:export_detail": _export_owner_only(),
        "decisions:export_status": _export_owner_only(),
        "decisions:export_download": _export_owner_only(),
    }
)
_DECISION_URLS = sorted(n for n in EXPECTED if n.startswith("decisions:"))
_NEEDS_DECISION = {
    "decisions:pdf",
    "decisions:export_detail",
    "decisions:export_status",
    "decisions:export_download",
}


@pytest.fixture(scope="module")
def decision_url(
    request: pytest.FixtureRequest, world: World, django_db_blocker: Any
) -> Iterator[str]:
    """A decision URL's name; for the URLs that need one, with an issued decision and its
    export in the world while its cases run.

    The decision is issued on another dossier of the world's porteur, and the export of it is
    owned by the CNSA agent (only for these URLs: issuing renders a PDF, and an issued decision
    would give the other decision URLs something to list and export). Module-scoped, it is set
    up before the cases' ``db`` savepoints, in its own savepoint over the world, rolled back
    when pytest moves to the next name (it groups the cases of a module-scoped parameter).
    """
    name: str = request.param
    if name not in _NEEDS_DECISION:
        yield name
        return
    from applications.decisions.services import decision_export_build, decision_issue
    from applications.models import DecisionExport
    from tests.applications.helpers import decided_dossier

    with _rolled_back_atomic(django_db_blocker):
        with django_db_blocker.unblock():
            cnsa = User.objects.get(pk=world.users["cnsa"])
            porteur = Organisation.objects.get(pk=world.porteur_pk)
            decision = decision_issue(application=decided_dossier(porteur=porteur), by=cnsa)
            job = DecisionExport.objects.create(requested_by=cnsa, total=1)
            job.decisions.add(decision)
            decision_export_build(job_id=job.pk)
        world.kwargs["decisions:pdf"] = {"number": decision.number}
        for job_name in ("export_detail", "export_status", "export_download"):
            world.kwargs[f"decisions:{job_name}"] = {"pk": job.pk}
        try:
            yield name
        finally:
            for needing in _NEEDS_DECISION:
                world.kwargs.pop(needing, None)


@pytest.mark.parametrize("decision_url", _DECISION_URLS, indirect=True)
@pytest.mark.parametrize("actor", ACTORS)
def test_decision_url_matrix(client, world, decision_url, actor):
    """The decision URLs, appended after the main matrix was parametrised: the same check."""
    test_role_url_matrix(client, world, decision_url, actor)


# --------------------------------------------------------------------------------------------
# Grant follow-up (grants/urls.py): a second, granted Île-de-France dossier of which the
# world's gestionnaire is a confirmed member; its convention is countersigned (a first tranche
# order issued), a bank change and a measurement wait for the ARS. Built for these cases only
# (an issued decision would change what the decision URLs list), after every other case.
# --------------------------------------------------------------------------------------------


def _grant_world(porteur: User) -> dict[str, dict[str, Any]]:
    granted = decided_dossier()
    decision = decision_issue(application=granted, by=UserFactory(role=Role.CNSA_AGENT))
    confirmed_member(porteur, granted.grappe.porteur)
    indicators_ensure_defaults(campaign=granted.call.campaign)
    region_agent = ars(Role.ARS_VALIDEUR)
    convention = convention_draft(decision=decision, by=region_agent)
    rib = {"holder": "Porteur", "siret": "73282932000074", "bic": "AGRIFRPP"}
    bank_details_submit(
        application=granted,
        by=porteur,
        iban="FR7630006000011234567890189",
        rib=SimpleUploadedFile("rib.pdf", b"%PDF-1.4 rib"),
        **rib,
    )
    convention = convention_sign(
        convention=convention,
        by=porteur,
        signed_copy=SimpleUploadedFile("convention.pdf", b"%PDF-1.4 signee"),
    )
    order = convention_countersign(convention=convention, by=region_agent)
    # Two ESSMS leave: one amendment validated (its letter, a titre de recette), one drafted.
    leaving = list(granted.grappe.memberships.order_by("-id")[:2])
    leaving[0].delete()
    validated = amendment_draft(convention=convention, by=region_agent, reason="Sortie")
    amendment_validate(amendment=validated, by=ars(Role.ARS_VALIDEUR))
    leaving[1].delete()
    drafted = amendment_draft(convention=convention, by=region_agent, reason="Autre sortie")
    (batch,) = payment_batch_create(user=region_agent)  # the first tranche transmitted
    change = bank_details_submit(
        application=granted,
        by=porteur,
        iban="DE89370400440532013000",
        rib=SimpleUploadedFile("rib2.pdf", b"%PDF-1.4 rib"),
        **rib,
    )
    indicator = UsageIndicator.objects.filter(campaign=granted.call.campaign).first()
    assert indicator is not None
    measurement = Measurement.objects.create(
        structure=granted.grappe.memberships.first().structure,  # type: ignore[union-attr]
        indicator=indicator,
        value=1,
        measured_on=datetime.date(2024, 6, 30),
        source=Measurement.Source.IMPORTED,
    )
    # A value the porteur declared, with its evidence, waiting for the ARS.
    finess, essms = next(iter(measurement_declarable(application=granted).items()))
    window = measurement_window(campaign_id=granted.call.campaign_id)
    assert window is not None
    declared = measurement_declare(
        application=granted,
        by=porteur,
        structure_finess=finess,
        indicator_code=essms.indicators[0].code,
        value="12",
        measured_on=window[0],
        evidence=SimpleUploadedFile("mesure.pdf", b"%PDF-1.4 mesure"),
    )
    pk = {"pk": granted.pk}
    return {
        "grants:grant": pk,
        "grants:convention_draft": pk,
        "grants:convention_countersign": pk,
        "grants:settle": pk,
        "grants:settle_confirm": pk,
        "grants:signed_copy": pk,
        "grants:convention_pdf": pk,
        "grants:espace_grant": pk,
        "grants:espace_sign": pk,
        "grants:espace_bank": pk,
        "grants:espace_measurements": pk,
        "grants:measurement_evidence": {**pk, "measurement_pk": declared.pk},
        "grants:bank_validate": {**pk, "details_pk": change.pk},
        "grants:measurement_check": {**pk, "measurement_pk": measurement.pk},
        "grants:order_paid": {**pk, "order_pk": order.pk},
        "grants:amendment_draft": pk,
        "grants:amendment_validate": {**pk, "amendment_pk": drafted.pk},
        "grants:amendment_cancel": {**pk, "amendment_pk": drafted.pk},
        "grants:amendment_pdf": {**pk, "amendment_pk": validated.pk},
        "grants:grant_close": pk,
        "grants:batch": {"pk": batch.pk},
        "grants:batch_download": {"pk": batch.pk, "fmt": "xlsx"},
    }


def _follow_up(method: str, region: int, **overrides: int) -> tuple[str, dict[str, int]]:
    """Follow-up pages of the granted Île-de-France dossier: the region's agents get
    ``region``; another region's agents and the CNSA (it follows the national call) 404;
    administrators read (200) but never act (403 on posts); applicants 403."""
    return method, _matrix(
        {
            "anonymous": LOGIN,
            **dict.fromkeys(APPLICANTS, 403),
            "taking_instructeur": region,
            "instructeur": region,
            "valideur": region,
            "other_instructeur": 404,
            "cnsa": 404,
            "cnsa_2": 404,
            "administrator": 200 if method == "get" else 403,
            **overrides,
        }
    )


EXPECTED.update(
    {
        "grants:queue": _back_office_only("get", 200),
        # Usage targets per region and sector: each agent sees the scope of the dashboard.
        "grants:targets": _back_office_only("get", 200),
        "grants:measurements_upload": _back_office_only("get", 200),
        # The world's order is already in a batch: every agent is sent back with a message;
        # administrators never transmit (403).
        "grants:batch_create": (
            "post",
            _matrix({**_back_office_only("post", 302)[1], "administrator": 403}),
        ),
        "grants:batches": _back_office_only("get", 200),
        # A batch and its files: the follow-up scope of its orders (administrators read).
        "grants:batch": _follow_up("get", 200),
        "grants:batch_download": _follow_up("get", 200),
        # Second tranche not settled: closing is refused with a message.
        "grants:grant_close": _follow_up("post", 302),
        "grants:grant": _follow_up("get", 200),
        # Already drafted / countersigned, nothing posted: refused with a message (302).
        "grants:convention_draft": _follow_up("post", 302),
        "grants:convention_countersign": _follow_up("post", 302),
        "grants:bank_validate": _follow_up("post", 302),
        "grants:measurement_check": _follow_up("post", 302),
        "grants:order_paid": _follow_up("post", 302),
        "grants:settle": _follow_up("post", 302),
        # A measurement waits for the ARS: the page refuses with the reason (302 to the grant);
        # administrators read, never act (403).
        "grants:settle_confirm": _follow_up("get", 302, administrator=403),
        # Amendments: posted empty, the form comes back with its error (400); validating or
        # cancelling the drafted one ends with a message (done, or refused: four eyes, drafter).
        "grants:amendment_draft": _follow_up("post", 400),
        "grants:amendment_validate": _follow_up("post", 302),
        "grants:amendment_cancel": _follow_up("post", 302),
        # A validated amendment's letter: the grant's applicants and its follow-up scope.
        "grants:amendment_pdf": _follow_up(
            "get", 200, own_gestionnaire=200, **dict.fromkeys(OUTSIDERS, 404)
        ),
        # The signed convention: the grant's applicants and its follow-up scope.
        "grants:signed_copy": _follow_up(
            "get", 200, own_gestionnaire=200, **dict.fromkeys(OUTSIDERS, 404)
        ),
        # The convention to sign, rendered on demand: the same readers.
        "grants:convention_pdf": _follow_up(
            "get", 200, own_gestionnaire=200, **dict.fromkeys(OUTSIDERS, 404)
        ),
        "grants:espace_grant": _applicant("get", 200),
        # Countersigned already: the deposit is refused with a message.
        "grants:espace_sign": _applicant("post", 302),
        # Posted empty: the form comes back with its errors.
        "grants:espace_bank": _applicant("post", 400),
        # Declaring a measurement, posted empty: the form comes back with its errors.
        "grants:espace_measurements": _applicant("post", 400),
        # A declared measurement's evidence: the same readers as the signed convention.
        "grants:measurement_evidence": _follow_up(
            "get", 200, own_gestionnaire=200, **dict.fromkeys(OUTSIDERS, 404)
        ),
    }
)
_GRANT_URLS = sorted(n for n in EXPECTED if n.startswith("grants:"))


@pytest.fixture(scope="module")
def grant_world(world: World, django_db_blocker: Any) -> Iterator[None]:
    """The granted dossier, in its own savepoint over the world, rolled back at the end."""
    with _rolled_back_atomic(django_db_blocker):
        with django_db_blocker.unblock():
            porteur = User.objects.get(pk=world.users["own_gestionnaire"])
            kwargs = _grant_world(porteur)
        world.kwargs.update(kwargs)
        try:
            yield
        finally:
            for name in kwargs:
                world.kwargs.pop(name, None)


@pytest.mark.parametrize("name", _GRANT_URLS)
@pytest.mark.parametrize("actor", ACTORS)
def test_grant_url_matrix(client, world, grant_world, name, actor):
    """The follow-up URLs, appended after the main matrix was parametrised: the same check."""
    test_role_url_matrix(client, world, name, actor)
