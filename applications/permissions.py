"""Who may do what with a dossier: one predicate per question, ``can_<action>(user, obj)``.

Each docstring names who qualifies. The services and the workflow enforce them (a view that
forgets cannot do harm); the views and templates ask the same predicates to show or hide an
action. Organisations, ESSMS and grappes have theirs in ``grappes.permissions``."""

from __future__ import annotations

from essms_portal.accounts.models import Role, User
from grappes.models import Grappe, OrganisationMember
from grappes.permissions import is_porteur_member

from .models import Application, Attachment
from .statuses import EDITABLE


def can_instruct(user: User, application: Application) -> bool:
    """Who instructs the dossier: the ARS instructeurs of the call's region on a regional call,
    the CNSA agents on the national call. They take it, score it, assign it, ask for
    complements, enter the proposed amounts and propose. The single truth for the instruction
    scope: the workflow (``actor_in_scope``), the services and the views all ask it."""
    if application.call.scope == "national":
        return user.role == Role.CNSA_AGENT
    return (
        user.role == Role.ARS_INSTRUCTEUR
        and application.call.region_id is not None
        and user.region_id == application.call.region_id
    )


def can_decide(user: User, application: Application) -> bool:
    """Who decides on the dossier: the ARS valideurs of the call's region on a regional call,
    the CNSA agents on the national call. They accept, reject and send back a proposal, provided
    they took no part in its instruction (four eyes, a guard of the workflow read from the
    log). A CNSA agent does not decide on a regional dossier: see :func:`can_accept`."""
    if application.call.scope == "national":
        return user.role == Role.CNSA_AGENT
    return (
        user.role == Role.ARS_VALIDEUR
        and application.call.region_id is not None
        and user.region_id == application.call.region_id
    )


def can_override_envelope(user: User, application: Application) -> bool:
    """CNSA agents may accept a dossier beyond its call's envelope, with a written reason."""
    return user.role == Role.CNSA_AGENT


def can_accept(user: User, application: Application) -> bool:
    """Who may be offered "Accepter": the deciders (:func:`can_decide`), and on a regional call
    the CNSA agents, only to override the envelope — the workflow's guards then require that the
    acceptance exceeds the envelope and that a written reason is given."""
    return can_decide(user, application) or (
        application.call.scope != "national" and can_override_envelope(user, application)
    )


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


# --------------------------------------------------------------------------------------------
# Applicants (gestionnaires): every predicate counts **confirmed** members only, so a pending
# member (who asked to be attached with a public FINESS EJ) can neither read nor write.
# --------------------------------------------------------------------------------------------


def is_participant(user: User, application: Application) -> bool:
    """A confirmed member of an organisation taking part in the dossier's grappe."""
    return (
        user.is_authenticated
        and user.role == Role.GESTIONNAIRE
        and (
            application.grappe.organisations.filter(
                organisation__members__user=user,
                organisation__members__status=OrganisationMember.Status.CONFIRMED,
            ).exists()
        )
    )


def is_porteur(user: User, application: Application) -> bool:
    """A gestionnaire confirmed member of the grappe's porteur organisation."""
    return user.role == Role.GESTIONNAIRE and is_porteur_member(user, application.grappe)


def can_create_dossier(user: User, grappe: Grappe) -> bool:
    """The porteur's confirmed members open the grappe's dossiers."""
    return (
        user.is_authenticated and user.role == Role.GESTIONNAIRE and is_porteur_member(user, grappe)
    )


def can_edit_dossier(user: User, application: Application) -> bool:
    """The porteur's confirmed members edit the support requests and the justification, while
    the dossier is a draft or awaits complements. Partners add their ESSMS on the grappe page
    and their documents here (``can_upload_attachment``)."""
    return application.status in EDITABLE and is_porteur(user, application)


def can_upload_attachment(user: User, application: Application) -> bool:
    """Confirmed members of any organisation of the grappe add documents (a partner brings the
    share proof of its own ESSMS), while the dossier is a draft or awaits complements."""
    return application.status in EDITABLE and is_participant(user, application)


def can_delete_attachment(user: User, attachment: Attachment) -> bool:
    """While the dossier may take documents (``can_upload_attachment``), who brought a document
    removes it, and so do the porteur's confirmed members (who answer for the whole dossier)."""
    application = attachment.application
    return can_upload_attachment(user, application) and (
        attachment.uploaded_by_id == user.pk or is_porteur(user, application)
    )


def can_post_message(user: User, application: Application) -> bool:
    """Confirmed members of any organisation of the grappe write to the instruction."""
    return is_participant(user, application)
