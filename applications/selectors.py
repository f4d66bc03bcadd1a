"""Read-side queries for campaigns, calls and dossiers (selectors: keyword-only, typed).

Every dossier shown to someone is loaded through a role-scoped queryset, so another tenant's
dossier is a 404, never a 200.
"""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from essms_portal.accounts.models import Role, User
from grappes.models import Grappe
from grappes.selectors import grappes_of

from .models import Application, Call
from .workflow import Status

FUNDED = (Status.ACCEPTED, Status.NOTIFIED)
DECIDED = (Status.ACCEPTED, Status.REJECTED, Status.NOTIFIED)


def calls_open(*, on: datetime.date | None = None) -> QuerySet[Call]:
    """Calls accepting dossiers on ``on`` (today by default), national first then by region."""
    day = on or timezone.localdate()
    return (
        Call.objects.filter(opens_on__lte=day, closes_on__gte=day)
        .select_related("campaign", "region")
        .order_by("-campaign__year", "scope", "region__position")
    )


def calls_open_for_grappe(*, grappe: Grappe) -> QuerySet[Call]:
    """Open calls a grappe may answer: the national call, and the regional call of the region
    holding most of its ESSMS (a tie goes to the region of the ESSMS added first)."""
    from grappes.models import GrappeMembership

    regions = list(
        GrappeMembership.objects.filter(grappe=grappe, structure__departement__region__isnull=False)
        .order_by("id")
        .values_list("structure__departement__region_id", flat=True)
    )
    calls = calls_open()
    if not regions:
        return calls.filter(scope="national")
    majority = max(dict.fromkeys(regions), key=regions.count)
    return calls.filter(Q(scope="national") | Q(region_id=majority))


def calls_visible_to(user: User) -> QuerySet[Call]:
    """Calls a back-office user may look at: their region's for ARS agents, all otherwise."""
    calls = Call.objects.select_related("region", "campaign")
    if user.role in (Role.ARS_INSTRUCTEUR, Role.ARS_VALIDEUR):
        return calls.filter(region_id=user.region_id)
    return calls


def applications_reviewable_by(user: User) -> QuerySet[Application]:
    """Dossiers a back-office user may see: their region's (ARS), every region's (CNSA,
    administrators). Drafts stay private to applicants."""
    submitted = Application.objects.exclude(status__in=[Status.DRAFT])
    if user.role in (Role.ARS_INSTRUCTEUR, Role.ARS_VALIDEUR) and user.region_id:
        return submitted.filter(call__scope="regional", call__region_id=user.region_id)
    if user.role in (Role.CNSA_AGENT, Role.ADMINISTRATOR):
        return submitted
    return Application.objects.none()


def applications_visible_to(user: User) -> QuerySet[Application]:
    """Every dossier ``user`` may read: for applicants, the dossiers of grappes in which an
    organisation they are a **confirmed** member of takes part (a pending request gives
    nothing); the back-office scope otherwise."""
    if user.role == Role.GESTIONNAIRE:
        return Application.objects.filter(grappe__in=grappes_of(user).values("pk"))
    return applications_reviewable_by(user)


def application_for_reviewer(*, user: User, pk: int) -> Application:
    """One dossier of the user's back-office scope, or 404."""
    try:
        return (
            applications_reviewable_by(user)
            .select_related("grappe__porteur", "call__campaign", "call__region", "assignee")
            .get(pk=pk)
        )
    except Application.DoesNotExist:
        raise Http404("Dossier introuvable.") from None
