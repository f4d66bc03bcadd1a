"""Who may do what with organisations, ESSMS and grappes: one predicate per action.

Each ``can_<action>(user, obj) -> bool`` names who qualifies in its docstring. Services call
them before writing (``grappes.services`` raises ``ServiceError`` when one says no), and views
and templates call the same predicates to show or hide an action, so the page never offers what
the service refuses.

The base rule: only a **confirmed** member acts for an organisation. A pending member (who only
asked to be attached, with a FINESS EJ that is public data) sees their own request and the
organisation's public identity, nothing else.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db.models import QuerySet

from essms_portal.accounts.models import Role, User

from .models import (
    Grappe,
    GrappeInvitation,
    GrappeMembership,
    Organisation,
    OrganisationMember,
)


def confirmed_organisations(user: User) -> QuerySet[Organisation]:
    """Organisations ``user`` acts for: confirmed memberships only (the policy's base set)."""
    if not user.is_authenticated:
        return Organisation.objects.none()
    return Organisation.objects.filter(
        members__user=user, members__status=OrganisationMember.Status.CONFIRMED
    )


def is_confirmed_member(user: User, organisation: Organisation | int) -> bool:
    """A confirmed member of ``organisation`` (never a pending one)."""
    if not user.is_authenticated:
        return False
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    return OrganisationMember.objects.filter(
        user=user,
        organisation_id=organisation_id,
        status=OrganisationMember.Status.CONFIRMED,
    ).exists()


# The dossier statuses past the draft stage, withdrawn included. The single source is
# ``applications.workflow.PAST_DRAFT``; the grappes layer may not import ``applications``, so it
# keeps this mirror, which tests/applications/test_status_groups.py asserts equal to the source.
# Both questions about a grappe's dossiers ask it: "is the grappe frozen?" (grappe_is_locked) and
# "may one still ask to join it?" (selectors.grappes_open_to_join).
DOSSIER_PAST_DRAFT = frozenset(
    {
        "submitted",
        "in_review",
        "complement_requested",
        "proposed",
        "accepted",
        "rejected",
        "notified",
        "withdrawn",
    }
)


def grappe_is_locked(grappe: Grappe) -> bool:
    """A grappe is frozen once one of its dossiers has left the draft stage (a withdrawn
    dossier included: its grappe stays as it was submitted). After the decision, only a
    validated amendment (avenant) changes its ESSMS, through
    ``services.grappe_memberships_amend``."""
    return grappe.applications.filter(status__in=DOSSIER_PAST_DRAFT).exists()


# --------------------------------------------------------------------------------------------
# Organisations
# --------------------------------------------------------------------------------------------


def can_confirm_member(user: User, member: OrganisationMember) -> bool:
    """A confirmed member of the same organisation, or staff, confirms a pending member."""
    if not user.is_authenticated:
        return False
    return user.is_staff or is_confirmed_member(user, member.organisation_id)


def can_add_structure(user: User, organisation: Organisation) -> bool:
    """Confirmed members add ESSMS to their organisation."""
    return user.role == Role.GESTIONNAIRE and is_confirmed_member(user, organisation)


def can_create_grappe(user: User, organisation: Organisation) -> bool:
    """Confirmed members create a grappe led by their organisation."""
    return user.role == Role.GESTIONNAIRE and is_confirmed_member(user, organisation)


# --------------------------------------------------------------------------------------------
# Grappes
# --------------------------------------------------------------------------------------------


def can_view_grappe(user: User, grappe: Grappe) -> bool:
    """Confirmed members of an organisation taking part in the grappe."""
    return (
        user.is_authenticated
        and grappe.organisations.filter(
            organisation__members__user=user,
            organisation__members__status=OrganisationMember.Status.CONFIRMED,
        ).exists()
    )


def is_porteur_member(user: User, grappe: Grappe) -> bool:
    """A confirmed member of the grappe's porteur organisation."""
    return is_confirmed_member(user, grappe.porteur_id)


def can_invite(user: User, grappe: Grappe) -> bool:
    """Confirmed members of the porteur invite, while no dossier of the grappe is submitted."""
    return is_porteur_member(user, grappe) and not grappe_is_locked(grappe)


def can_edit_grappe(user: User, grappe: Grappe) -> bool:
    """Confirmed members of the porteur change what the grappe declares (its legal form), while
    no dossier of the grappe is submitted."""
    return is_porteur_member(user, grappe) and not grappe_is_locked(grappe)


def can_decide_join_request(user: User, grappe: Grappe) -> bool:
    """Confirmed members of the porteur accept or decline join requests and forwarded
    invitations."""
    return is_porteur_member(user, grappe)


def can_add_membership(user: User, grappe: Grappe) -> bool:
    """Confirmed members of an organisation of the grappe add their own ESSMS to it, while no
    dossier of the grappe is submitted."""
    return can_view_grappe(user, grappe) and not grappe_is_locked(grappe)


def can_remove_membership(user: User, membership: GrappeMembership) -> bool:
    """Confirmed members of the ESSMS's own organisation take it out of the grappe, while no
    dossier of the grappe is submitted. The porteur does not remove another gestionnaire's
    ESSMS: that gestionnaire committed it."""
    return is_confirmed_member(user, membership.structure.organisation_id) and not grappe_is_locked(
        membership.grappe
    )


def memberships_removable_by(user: User, grappe: Grappe) -> set[int]:
    """The ids of the grappe's ESSMS that :func:`can_remove_membership` lets ``user`` remove,
    for the whole grappe in two queries (the grappe page asks it for every row)."""
    if grappe_is_locked(grappe):
        return set()
    return set(
        grappe.memberships.filter(
            structure__organisation__in=confirmed_organisations(user)
        ).values_list("pk", flat=True)
    )


def can_confirm_participation(user: User, grappe: Grappe, organisation: Organisation) -> bool:
    """Confirmed members of ``organisation`` confirm its participation in the grappe."""
    return (
        is_confirmed_member(user, organisation)
        and grappe.organisations.filter(organisation=organisation).exists()
    )


def can_request_to_join(user: User, organisation: Organisation) -> bool:
    """Confirmed members ask, for their organisation, to join a grappe."""
    return user.role == Role.GESTIONNAIRE and is_confirmed_member(user, organisation)


# --------------------------------------------------------------------------------------------
# Invitations
# --------------------------------------------------------------------------------------------


def has_verified_email(user: User, email: str) -> bool:
    """``email`` is one of the user's addresses, verified by allauth's confirmation link."""
    return (
        user.is_authenticated
        and EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()
    )


def is_invitee(user: User, invitation: GrappeInvitation) -> bool:
    """The user owns the invited address (verified): they may join directly. Anyone else who
    holds the link (a forwarded e-mail) may only ask, and the porteur approves."""
    return has_verified_email(user, invitation.email)


def can_use_invitation(
    user: User, invitation: GrappeInvitation, organisation: Organisation
) -> bool:
    """A gestionnaire joins (invitee) or asks to join (forwarded link) with an organisation
    they are a confirmed member of, which does not take part in the grappe yet."""
    return (
        user.role == Role.GESTIONNAIRE
        and is_confirmed_member(user, organisation)
        and not invitation.grappe.organisations.filter(organisation=organisation).exists()
    )
