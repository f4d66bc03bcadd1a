"""Builders that walk a dossier through the workflow, for the applications tests."""

from __future__ import annotations

from typing import Any

from applications.instruction.services import (
    call_default_grid,
    proposal_lines,
    proposal_save,
    review_save,
)
from applications.models import Application, ProposedAmount, Review, ReviewScore, WorkflowLog
from applications.workflow import Action, transition
from essms_portal.accounts.models import Role, User
from grappes.models import Region
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)


def ars(role: str, region: str = "11") -> User:
    return UserFactory(role=role, region=Region.objects.get(code=region))


def submitted_dossier(count: int = 15, **kwargs: object) -> tuple[Application, User]:
    """A submitted dossier on the Île-de-France call and its porteur's user."""
    application = ApplicationFactory(grappe=grappe_with_structures(count), **kwargs)
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    transition(application, action=Action.SUBMIT, by=porteur)
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
    transition(application, action=Action.TAKE, by=instructeur)
    application.refresh_from_db()
    score_and_propose_amounts(application, instructeur)
    transition(application, action=Action.PROPOSE, by=instructeur)
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
