"""Read-side queries for organisations, structures and grappes (keyword-only, typed)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from essms_portal.accounts.models import User

from . import permissions
from .models import (
    Grappe,
    GrappeInvitation,
    GrappeMembership,
    Organisation,
    OrganisationMember,
    Structure,
)


def structure_lookup(*, finess: str) -> Structure | None:
    """The referential's establishment with this FINESS ET, or None."""
    return (
        Structure.objects.select_related(
            "category__casf_item", "departement__region", "organisation"
        )
        .filter(finess=finess)
        .first()
    )


def organisation_lookup(*, finess: str) -> Organisation | None:
    """The gestionnaire (EJ) with this FINESS, or None."""
    return Organisation.objects.filter(finess=finess).first()


def organisations_of(*, user: User) -> QuerySet[Organisation]:
    """Organisations the user acts for: **confirmed** memberships only. A pending request
    gives nothing but the request itself (``organisation_requests_of``)."""
    return permissions.confirmed_organisations(user)


def organisation_requests_of(*, user: User) -> QuerySet[OrganisationMember]:
    """The user's attachment requests, confirmed or pending, with their organisation."""
    return OrganisationMember.objects.filter(user=user).select_related("organisation")


def organisation_for_member(*, user: User, pk: int) -> Organisation:
    """One organisation the user is a confirmed member of, or 404."""
    try:
        return organisations_of(user=user).get(pk=pk)
    except Organisation.DoesNotExist:
        raise Http404("Organisme introuvable.") from None


def organisation_request_for(*, user: User, pk: int) -> OrganisationMember:
    """The user's own attachment request to organisation ``pk`` (pending or not), or 404."""
    try:
        return OrganisationMember.objects.select_related("organisation__departement").get(
            user=user, organisation_id=pk
        )
    except OrganisationMember.DoesNotExist:
        raise Http404("Organisme introuvable.") from None


def grappes_of(*, user: User) -> QuerySet[Grappe]:
    """Grappes in which one of the user's (confirmed) organisations takes part."""
    return Grappe.objects.filter(
        organisations__organisation__in=organisations_of(user=user)
    ).distinct()


def grappe_for_member(*, user: User, pk: int) -> Grappe:
    """A grappe of the user's confirmed organisations, or 404."""
    try:
        return grappes_of(user=user).select_related("porteur").get(pk=pk)
    except Grappe.DoesNotExist:
        raise Http404("Grappe introuvable.") from None


def invitation_by_token(*, token: str) -> GrappeInvitation:
    """An invitation by its secret token, or 404."""
    try:
        return GrappeInvitation.objects.select_related("grappe__porteur").get(token=token)
    except GrappeInvitation.DoesNotExist:
        raise Http404("Invitation introuvable.") from None


def grappes_open_to_join(*, user: User) -> QuerySet[Grappe]:
    """Grappes an isolated gestionnaire may ask to join: not frozen (none of its dossiers has
    left the draft stage, withdrawn included: ``permissions.grappe_is_locked``), and the user's
    organisations are not already in them."""
    return (
        Grappe.objects.exclude(applications__status__in=permissions.DOSSIER_PAST_DRAFT)
        .exclude(organisations__organisation__in=organisations_of(user=user))
        .select_related("porteur__departement__region")
        .distinct()
        .order_by("porteur__departement__region__position", "name")
    )


def structures_addable_to(*, grappe: Grappe, user: User) -> QuerySet[Structure]:
    """The user's eligible ESSMS whose gestionnaire takes part in the grappe and that are not
    in it yet: what the user may add."""
    return (
        Structure.objects.filter(
            organisation__in=organisations_of(user=user),
            eligible=True,
            organisation__grappe_participations__grappe=grappe,
        )
        .exclude(memberships__grappe=grappe)
        .order_by("finess")
    )


def membership_in_grappe(*, grappe: Grappe, pk: int) -> GrappeMembership:
    """One ESSMS of the grappe (the caller has loaded the grappe through the user's scope), or
    404. Whether the user may remove it is ``permissions.can_remove_membership``."""
    try:
        return GrappeMembership.objects.select_related("structure", "grappe").get(
            grappe=grappe, pk=pk
        )
    except GrappeMembership.DoesNotExist:
        raise Http404("Établissement introuvable dans cette grappe.") from None


def invitations_pending(*, grappe: Grappe) -> QuerySet[GrappeInvitation]:
    """Invitations of the grappe neither used nor expired."""
    return grappe.invitations.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())
