"""Permission predicates for the back office. Each answers one question about one dossier."""

from __future__ import annotations

from essms_portal.accounts.models import Role, User

from .models import Application


def can_instruct(user: User, application: Application) -> bool:
    """ARS instructeurs of the call's region for regional calls; CNSA agents for the national
    call. They score, annotate, assign, ask for complements and propose."""
    if application.call.scope == "national":
        return user.role == Role.CNSA_AGENT
    return user.role == Role.ARS_INSTRUCTEUR and user.region_id == application.call.region_id


def can_decide(user: User, application: Application) -> bool:
    """ARS valideurs of the call's region, and CNSA agents (national call, or an envelope
    override on a regional one). Four eyes are checked by the workflow's guard."""
    if user.role == Role.CNSA_AGENT:
        return True
    return user.role == Role.ARS_VALIDEUR and user.region_id == application.call.region_id


def can_read_private_notes(user: User, application: Application) -> bool:
    """Every back-office user who can see the dossier; never an applicant."""
    return user.role in (
        Role.ARS_INSTRUCTEUR,
        Role.ARS_VALIDEUR,
        Role.CNSA_AGENT,
        Role.ADMINISTRATOR,
    )


def is_back_office(user: User) -> bool:
    """ARS agents, CNSA agents and administrators use the instruction back office."""
    return user.is_authenticated and user.role in (
        Role.ARS_INSTRUCTEUR,
        Role.ARS_VALIDEUR,
        Role.CNSA_AGENT,
        Role.ADMINISTRATOR,
    )
