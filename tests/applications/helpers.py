"""Builders that walk a dossier through the workflow, for the applications tests."""

from __future__ import annotations

from applications.models import Application
from applications.services import call_default_grid, proposal_lines, proposal_save, review_save
from applications.workflow import Action, transition
from essms_portal.accounts.models import Role, User
from grappes.models import Region
from tests.factories import (
    ApplicationFactory,
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
