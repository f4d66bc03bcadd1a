"""Role by URL matrix generated from the URLconf: no view escapes it because it was forgotten.

Every named URL of the project must appear in EXPECTED (or be an admin URL, checked by rule, or
an allauth page listed in ACCOUNT_PAGES); a new URL without an expectation fails this test.
"""

from __future__ import annotations

import datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from applications.models import Attachment
from applications.workflow import Action, transition
from essms_portal.accounts.models import Role
from grappes.models import GrappeInvitation
from tests.applications.helpers import ars, submitted_dossier
from tests.conftest import drain
from tests.factories import OrganisationFactory, UserFactory, confirmed_member

pytestmark = pytest.mark.django_db

ACTORS = (
    "anonymous",
    "own_gestionnaire",
    "other_gestionnaire",
    "instructeur",
    "other_instructeur",
    "valideur",
    "cnsa",
    "administrator",
)
LOGIN = 302  # anonymous users are sent to the login page

# name: (method, {actor: expected status})
EXPECTED: dict[str, tuple[str, dict[str, int]]] = {
    "home": ("get", dict.fromkeys(ACTORS, 200)),
    "healthz": ("get", dict.fromkeys(ACTORS, 200)),
    "applications:queue": (
        "get",
        {
            "anonymous": LOGIN,
            "own_gestionnaire": 403,
            "other_gestionnaire": 403,
            "instructeur": 200,
            "other_instructeur": 200,
            "valideur": 200,
            "cnsa": 200,
            "administrator": 200,
        },
    ),
    "applications:review": (
        "get",
        {
            "anonymous": LOGIN,
            "own_gestionnaire": 403,
            "other_gestionnaire": 403,
            "instructeur": 200,
            "other_instructeur": 404,
            "valideur": 200,
            "cnsa": 200,
            "administrator": 200,
        },
    ),
    "applications:ranking": (
        "get",
        {
            "anonymous": LOGIN,
            "own_gestionnaire": 403,
            "other_gestionnaire": 403,
            "instructeur": 200,
            "other_instructeur": 404,
            "valideur": 200,
            "cnsa": 200,
            "administrator": 200,
        },
    ),
}
# POST-only instruction views, posted empty: the instructeur of the region gets the form back
# (400) or a redirect after a no-op save (302); everyone else is refused.
INSTRUCT_POSTS = {
    "applications:assign": 302,
    "applications:add_note": 400,
    "applications:post_message": 400,
    "applications:save_review": 400,
    "applications:ask_complement": 400,
    "applications:save_proposal": 400,
}
for _name, _own in INSTRUCT_POSTS.items():
    EXPECTED[_name] = (
        "post",
        {
            "anonymous": LOGIN,
            "own_gestionnaire": 403,
            "other_gestionnaire": 403,
            "instructeur": _own,
            "other_instructeur": 404,
            "valideur": 403,
            "cnsa": 403,
            "administrator": 403,
        },
    )
EXPECTED["applications:act"] = (
    "post",
    {
        "anonymous": LOGIN,
        "own_gestionnaire": 403,
        "other_gestionnaire": 403,
        "instructeur": 400,
        "other_instructeur": 404,
        "valideur": 400,
        "cnsa": 400,
        "administrator": 400,
    },
)

BACK_OFFICE = ("instructeur", "other_instructeur", "valideur", "cnsa", "administrator")


def _applicant(method: str, own: int, other: int = 404) -> tuple[str, dict[str, int]]:
    """Applicant pages: the dossier's gestionnaire, 404 for another one, 403 for back office."""
    return method, {
        "anonymous": LOGIN,
        "own_gestionnaire": own,
        "other_gestionnaire": other,
        **dict.fromkeys(BACK_OFFICE, 403),
    }


EXPECTED.update(
    {
        "organisations:home": (
            "get",
            {
                "anonymous": LOGIN,
                "own_gestionnaire": 200,
                "other_gestionnaire": 200,
                **dict.fromkeys(BACK_OFFICE, 302),
            },
        ),
        "organisations:join": _applicant("get", 200, 200),
        "organisations:detail": _applicant("get", 200),
        "organisations:member_confirm": _applicant("post", 302),
        "organisations:grappe_create": _applicant("get", 200),
        "organisations:grappe": _applicant("get", 200),
        "organisations:membership_remove": _applicant("post", 302),
        "organisations:invitation": _applicant("get", 200, 200),  # the token is the secret
        "organisations:grappe_join": _applicant("get", 200, 200),
        # The FINESS lookup API answers every signed-in user (404 here: number not in referential).
        "grappes:finess_lookup": ("get", {**dict.fromkeys(ACTORS, 404), "anonymous": LOGIN}),
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
        # Files are served to the dossier's applicants and to its back-office scope only.
        "dossiers:download": (
            "get",
            {
                "anonymous": LOGIN,
                "own_gestionnaire": 200,
                "other_gestionnaire": 404,
                "instructeur": 200,
                "other_instructeur": 404,
                "valideur": 200,
                "cnsa": 200,
                "administrator": 200,
            },
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


@pytest.fixture
def world():
    application, porteur = submitted_dossier()
    transition(application, action=Action.TAKE, by=ars(Role.ARS_INSTRUCTEUR))
    application.refresh_from_db()
    other = UserFactory()
    confirmed_member(other, OrganisationFactory())
    users = {
        "anonymous": None,
        "own_gestionnaire": porteur,
        "other_gestionnaire": other,
        "instructeur": ars(Role.ARS_INSTRUCTEUR),
        "other_instructeur": ars(Role.ARS_INSTRUCTEUR, region="84"),
        "valideur": ars(Role.ARS_VALIDEUR),
        "cnsa": UserFactory(role=Role.CNSA_AGENT),
        "administrator": UserFactory(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True),
    }
    organisation = application.grappe.porteur
    member = organisation.members.get(user=porteur)
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
    }
    return users, kwargs


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("actor", ACTORS)
def test_role_url_matrix(client, world, name, actor):
    users, kwargs = world
    method, expected = EXPECTED[name]
    if users[actor] is not None:
        client.force_login(users[actor])
    url = reverse(name, kwargs=kwargs.get(name))
    response = getattr(client, method)(url)
    if response.streaming:
        drain(response)
    assert response.status_code == expected[actor], (name, actor)
    if response.status_code == LOGIN and actor == "anonymous":
        assert "/comptes/login/" in response["Location"]


@pytest.mark.parametrize("actor", ["anonymous", "own_gestionnaire", "instructeur", "cnsa"])
def test_admin_is_for_staff_only(client, world, actor):
    users, _kwargs = world
    if users[actor] is not None:
        client.force_login(users[actor])
    for path in ("/admin/", "/admin/applications/application/", "/admin/grappes/structure/"):
        response = client.get(path)
        assert response.status_code == 302, (path, actor)
        assert "login" in response["Location"]


# --------------------------------------------------------------------------------------------
# Decisions, exports and dashboard (applications/decision_urls.py)
# --------------------------------------------------------------------------------------------


def _back_office_only(method: str, status: int) -> tuple[str, dict[str, int]]:
    """Back-office pages: every back-office actor gets ``status``, applicants 403."""
    return method, {
        "anonymous": LOGIN,
        "own_gestionnaire": 403,
        "other_gestionnaire": 403,
        **dict.fromkeys(BACK_OFFICE, status),
    }


def _export_owner_only() -> tuple[str, dict[str, int]]:
    """An export job belongs to the CNSA agent who asked for it: 404 for everyone else."""
    method, expected = _back_office_only("get", 404)
    return method, {**expected, "cnsa": 200}


EXPECTED.update(
    {
        # Public: says whether the number exists, to anyone.
        "decisions:verify": ("get", dict.fromkeys(ACTORS, 200)),
        # The letter: the dossier's applicants and its back-office scope.
        "decisions:pdf": (
            "get",
            {
                "anonymous": LOGIN,
                "own_gestionnaire": 200,
                "other_gestionnaire": 404,
                "instructeur": 200,
                "other_instructeur": 404,
                "valideur": 200,
                "cnsa": 200,
                "administrator": 200,
            },
        ),
        "decisions:list": _back_office_only("get", 200),
        "decisions:pending": _back_office_only("get", 200),
        "decisions:dashboard": _back_office_only("get", 200),
        "decisions:data_export": _back_office_only("get", 200),
        # Empty filters and nothing to export in the world: a message and a redirect.
        "decisions:export_create": _back_office_only("post", 302),
        # Only CNSA agents issue; the world's dossier is in review, so the CNSA agent is
        # redirected with the workflow's refusal.
        "decisions:issue": (
            "post",
            {
                "anonymous": LOGIN,
                "own_gestionnaire": 403,
                "other_gestionnaire": 403,
                "instructeur": 403,
                "other_instructeur": 403,
                "valideur": 403,
                "cnsa": 302,
                "administrator": 403,
            },
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


@pytest.fixture(autouse=True)
def _decision_kwargs(request):
    """Give the decision URLs their arguments in the ``world`` fixture's kwargs. For the URLs
    that need one, issue a decision on another dossier of the world's porteur, and build an
    export of it owned by the CNSA agent (only then: issuing renders a PDF)."""
    name = getattr(getattr(request.node, "callspec", None), "params", {}).get("name", "")
    if not name.startswith("decisions:"):
        return
    from applications.decisions import decision_export_build, decision_issue
    from applications.models import DecisionExport
    from tests.applications.test_decisions import decided_dossier

    request.getfixturevalue("db")
    users, kwargs = request.getfixturevalue("world")
    application_pk = kwargs["applications:review"]["pk"]
    kwargs["decisions:verify"] = {"number": "2023-11-9999"}
    kwargs["decisions:issue"] = {"pk": application_pk}
    kwargs["decisions:data_export"] = {"dataset": "dossiers", "fmt": "csv"}
    if name in _NEEDS_DECISION:
        # The letter and the archive go to the test's own directory, not the shared storage.
        location = str(request.getfixturevalue("tmp_path") / "private")
        settings = request.getfixturevalue("settings")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {**settings.STORAGES["default"], "OPTIONS": {"location": location}},
        }
        porteur = users["own_gestionnaire"].organisation_memberships.get().organisation
        decision = decision_issue(application=decided_dossier(porteur=porteur), by=users["cnsa"])
        job = DecisionExport.objects.create(requested_by=users["cnsa"], total=1)
        job.decisions.add(decision)
        decision_export_build(job_id=job.pk)
        kwargs["decisions:pdf"] = {"number": decision.number}
        for job_name in ("export_detail", "export_status", "export_download"):
            kwargs[f"decisions:{job_name}"] = {"pk": job.pk}


@pytest.mark.parametrize("name", _DECISION_URLS)
@pytest.mark.parametrize("actor", ACTORS)
def test_decision_url_matrix(client, world, name, actor):
    """The decision URLs, appended after the main matrix was parametrised: the same check."""
    test_role_url_matrix(client, world, name, actor)
