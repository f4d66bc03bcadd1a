"""Read-side queries for organisations, structures and grappes (keyword-only, typed)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from essms_portal.accounts.models import User

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


def organisations_of(user: User, *, confirmed_only: bool = False) -> QuerySet[Organisation]:
    """Organisations the user belongs to (pending memberships included unless asked)."""
    members = OrganisationMember.objects.filter(user=user)
    if confirmed_only:
        members = members.filter(status=OrganisationMember.Status.CONFIRMED)
    return Organisation.objects.filter(pk__in=members.values("organisation_id"))


def organisation_for_member(*, user: User, pk: int) -> Organisation:
    """One of the user's organisations, or 404."""
    try:
        return organisations_of(user).get(pk=pk)
    except Organisation.DoesNotExist:
        raise Http404("Organisme introuvable.") from None


def is_confirmed_member(*, user: User, organisation: Organisation) -> bool:
    """Whether ``user`` is a confirmed member of ``organisation``."""
    return OrganisationMember.objects.filter(
        user=user, organisation=organisation, status=OrganisationMember.Status.CONFIRMED
    ).exists()


def grappes_of(user: User) -> QuerySet[Grappe]:
    """Grappes in which one of the user's organisations takes part."""
    return Grappe.objects.filter(organisations__organisation__in=organisations_of(user)).distinct()


def grappe_for_member(*, user: User, pk: int) -> Grappe:
    """A grappe of the user's organisations, or 404."""
    try:
        return grappes_of(user).select_related("porteur").get(pk=pk)
    except Grappe.DoesNotExist:
        raise Http404("Grappe introuvable.") from None


def invitation_by_token(*, token: str) -> GrappeInvitation:
    """An invitation by its secret token, or 404."""
    try:
        return GrappeInvitation.objects.select_related("grappe__porteur").get(token=token)
    except GrappeInvitation.DoesNotExist:
        raise Http404("Invitation introuvable.") from None


def grappes_open_to_join(*, user: User) -> QuerySet[Grappe]:
    """Grappes an isolated gestionnaire may ask to join: none of its dossiers has been
    submitted, and the user's organisations are not already in them."""
    return (
        Grappe.objects.exclude(
            applications__status__in=[
                "submitted",
                "in_review",
                "complement_requested",
                "proposed",
                "accepted",
                "rejected",
                "notified",
            ]
        )
        .exclude(organisations__organisation__in=organisations_of(user))
        .select_related("porteur__departement__region")
        .distinct()
        .order_by("porteur__departement__region__position", "name")
    )


def structures_addable_to(*, grappe: Grappe, user: User) -> QuerySet[Structure]:
    """The user's eligible ESSMS whose gestionnaire takes part in the grappe and that are not
    in it yet: what the user may add."""
    return (
        Structure.objects.filter(
            organisation__in=organisations_of(user),
            eligible=True,
            organisation__grappe_participations__grappe=grappe,
        )
        .exclude(memberships__grappe=grappe)
        .order_by("finess")
    )


def membership_for_member(*, user: User, grappe: Grappe, pk: int) -> GrappeMembership:
    """One ESSMS of the grappe run by one of the user's organisations, or 404."""
    try:
        return GrappeMembership.objects.get(
            grappe=grappe, pk=pk, structure__organisation__in=organisations_of(user)
        )
    except GrappeMembership.DoesNotExist:
        raise Http404("Établissement introuvable dans cette grappe.") from None
