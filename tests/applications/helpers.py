"""Builders that walk a dossier through the workflow, for the applications tests."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from decimal import Decimal
from typing import Any

from django.core.files.storage import default_storage
from pypdf import PdfReader

from applications.decisions import services as decisions
from applications.decisions.services import decision_issue
from applications.instruction.services import (
    call_default_grid,
    proposal_lines,
    proposal_save,
    review_save,
)
from applications.models import (
    Application,
    Call,
    Decision,
    DecisionExport,
    ProposedAmount,
    Review,
    ReviewScore,
    WorkflowLog,
)
from applications.workflow import Action, transition
from essms_portal.accounts.models import Role, User
from grappes.models import Region
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
    required_attachments,
)


def ars(role: str, region: str = "11") -> User:
    return UserFactory(role=role, region=Region.objects.get(code=region))


def submitted_dossier(count: int = 15, **kwargs: object) -> tuple[Application, User]:
    """A submitted dossier on the Île-de-France call and its porteur's user."""
    application = ApplicationFactory(grappe=grappe_with_structures(count), **kwargs)
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    required_attachments(application, porteur)
    transition(application=application, action=Action.SUBMIT, by=porteur)
    application.refresh_from_db()
    return application, porteur


def score_and_propose_amounts(
    application: Application, instructeur: User, recommendation: str = "accept"
) -> None:
    """Complete review (all 5/5) and proposed amounts equal to the computed ones."""
    criteria = call_default_grid(call=application.call)
    review_save(
        application=application,
        by=instructeur,
        marks=dict.fromkeys(criteria, 5),
        comment="Dossier solide",
    )
    application.refresh_from_db()
    proposal_save(
        application=application,
        by=instructeur,
        amounts={
            key: (computed, "") for key, _label, computed in proposal_lines(application=application)
        },
        recommendation=recommendation,
        motivation="Conforme au cahier des charges",
        expected_version=application.version,
    )
    application.refresh_from_db()


def proposed_dossier(**kwargs: object) -> tuple[Application, User, User]:
    """A dossier proposed by an Île-de-France instructeur: (dossier, porteur, instructeur)."""
    application, porteur = submitted_dossier(**kwargs)
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    application.refresh_from_db()
    score_and_propose_amounts(application, instructeur)
    transition(application=application, action=Action.PROPOSE, by=instructeur)
    application.refresh_from_db()
    return application, porteur, instructeur


def cnsa(**kwargs: object) -> User:
    return UserFactory(role=Role.CNSA_AGENT, **kwargs)


def national_submitted_dossier() -> tuple[Application, User]:
    """A submitted dossier of 50 ESSMS on the national call (CNSA instructs and decides)."""
    return submitted_dossier(count=50, call=CallFactory(scope="national", region=None))


def review_post(application: Application, mark: int, comment: str = "") -> dict[str, object]:
    """The review form of the page, every criterion marked ``mark``."""
    criteria = call_default_grid(call=application.call)
    return {**{f"criterion_{c.pk}": mark for c in criteria}, "comment": comment}


def proposal_post(
    application: Application, recommendation: str = "accept", motivation: str = "Conforme"
) -> dict[str, object]:
    """The proposal form of the page at the dossier's current version, amounts as computed."""
    application.refresh_from_db()
    lines = proposal_lines(application=application)
    return {
        "version": application.version,
        "recommendation": recommendation,
        "motivation": motivation,
        **{f"amount_{i}": computed for i, (_key, _label, computed) in enumerate(lines)},
    }


def dossier_state(application: Application) -> dict[str, Any]:
    """Everything a refused write must leave untouched, re-read from the database."""
    row = Application.objects.get(pk=application.pk)
    return {
        "status": row.status,
        "version": row.version,
        "decided_at": row.decided_at,
        "assignee": row.assignee_id,
        "recommendation": row.recommendation,
        "motivation": row.motivation,
        "log": list(
            WorkflowLog.objects.filter(application=row)
            .order_by("id")
            .values_list("id", "action", "actor_id", "entry_hash")
        ),
        "reviews": list(
            Review.objects.filter(application=row)
            .order_by("id")
            .values_list("reviewer_id", "score", "comment")
        ),
        "marks": sorted(
            ReviewScore.objects.filter(review__application=row).values_list(
                "review__reviewer_id", "criterion_id", "value"
            )
        ),
        "proposed": list(
            ProposedAmount.objects.filter(application=row)
            .order_by("line")
            .values_list("line", "computed", "proposed", "reason")
        ),
    }


# Decisions: shared by the decision, export, dashboard, verification and browser tests.

BIG_ENVELOPE = Decimal(10**10)
REGION_DEPARTMENT = {"11": "75", "84": "69", "93": "13"}


def roomy_call(region: str = "11") -> Call:
    """The region's call with an envelope large enough for any number of test dossiers."""
    call = CallFactory(region=Region.objects.get(code=region))
    Call.objects.filter(pk=call.pk).update(envelope=BIG_ENVELOPE)
    call.refresh_from_db()
    return call


def decided_dossier(
    recommendation: str = "accept", *, count: int = 15, region: str = "11", **kwargs: object
) -> Application:
    """A regional dossier accepted (or rejected) by the region's valideur, decision pending."""
    call = kwargs.pop("call", None) or roomy_call(region)
    department = REGION_DEPARTMENT[region]
    application = ApplicationFactory(
        grappe=grappe_with_structures(count, department=department, **kwargs), call=call
    )
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    required_attachments(application, porteur)
    transition(application=application, action=Action.SUBMIT, by=porteur)
    application.refresh_from_db()
    instructeur = ars(Role.ARS_INSTRUCTEUR, region)
    transition(application=application, action=Action.TAKE, by=instructeur)
    application.refresh_from_db()
    score_and_propose_amounts(application, instructeur, recommendation)
    transition(application=application, action=Action.PROPOSE, by=instructeur)
    valideur = ars(Role.ARS_VALIDEUR, region)
    action = Action.ACCEPT if recommendation == "accept" else Action.REJECT
    comment = "" if recommendation == "accept" else "Gouvernance de la grappe insuffisante."
    transition(application=application, action=action, by=valideur, comment=comment)
    application.refresh_from_db()
    return application


def cnsa_agent() -> User:
    return UserFactory(role=Role.CNSA_AGENT, first_name="Camille", last_name="Agent")


def pdf_text(data: bytes) -> str:
    """Every page's text, whitespace normalised (narrow and no-break spaces included)."""
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"[ \u00a0\u202f]+", " ", text)


# Decision exports: shared by the export tests and the Celery worker tests.


def issue_and_render(*, application: Application, by: User) -> Decision:
    """Issue the decision, then render its letter as the worker does after commit (a test in
    a transaction never commits, so its on-commit task never runs by itself)."""
    decision = decision_issue(application=application, by=by)
    rendered = decisions.decision_letter_render(decision_id=decision.pk)
    assert rendered is not None
    return rendered


def issued(count: int, *, region: str = "11") -> list[Decision]:
    agent = cnsa_agent()
    return [
        issue_and_render(application=decided_dossier(region=region), by=agent) for _ in range(count)
    ]


def zip_of(job: DecisionExport) -> zipfile.ZipFile:
    with default_storage.open(job.archive.name, "rb") as handle:
        return zipfile.ZipFile(io.BytesIO(handle.read()))


def manifest(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    text = archive.read(decisions.MANIFEST_NAME).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def assert_complete(job: DecisionExport, expected: list[Decision]) -> None:
    """The ZIP holds each decision's PDF exactly once, byte for byte, and the manifest."""
    archive = zip_of(job)
    names = archive.namelist()
    pdfs = sorted(n for n in names if n.endswith(".pdf"))
    assert pdfs == sorted(f"{d.number}.pdf" for d in expected)
    assert len(names) == len(set(names)) == len(expected) + 1
    for decision in expected:
        data = archive.read(f"{decision.number}.pdf")
        assert hashlib.sha256(data).hexdigest() == decision.pdf_sha256
    rows = manifest(archive)
    assert [r["numero"] for r in rows] == sorted(d.number for d in expected)
    by_number = {d.number: d for d in expected}
    for row in rows:
        decision = by_number[row["numero"]]
        assert row["beneficiaire"] == decision.beneficiary
        assert int(row["total_euros"]) == int(decision.total)
        assert row["sha256_pdf"] == decision.pdf_sha256
