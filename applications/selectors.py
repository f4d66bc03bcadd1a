"""Read-side queries for campaigns, calls and dossiers (selectors: keyword-only, typed).

Every dossier shown to someone is loaded through a role-scoped queryset, so another tenant's
dossier is a 404, never a 200.
"""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from essms_portal.accounts.models import ARS_ROLES, Role, User
from funding.rules import majority_region
from grappes.models import Grappe, GrappeMembership
from grappes.selectors import grappes_of

from .models import Application, Call, Campaign
from .statuses import PAST_DRAFT


def calls_open(*, on: datetime.date | None = None) -> QuerySet[Call]:
    """Calls accepting dossiers on ``on`` (today by default), national first then by region."""
    day = on or timezone.localdate()
    return (
        Call.objects.filter(opens_on__lte=day, closes_on__gte=day)
        .select_related("campaign", "region")
        .order_by("-campaign__year", "scope", "region__position")
    )


def campaign_current(*, on: datetime.date | None = None) -> Campaign | None:
    """The campaign whose figures the public pages show: the open calls' campaign (the latest
    one if several), else the latest campaign; None before any campaign exists."""
    open_call = calls_open(on=on).first()
    if open_call is not None:
        return open_call.campaign
    return Campaign.objects.order_by("-year").first()


def calls_open_for_grappe(*, grappe: Grappe) -> QuerySet[Call]:
    """Open calls a grappe may answer: the national call, and the regional call of the grappe's
    region (``funding.rules.majority_region``, the rule the quote applies too: the region
    holding most of its ESSMS, a tie going to the region of the ESSMS added first)."""
    regions = GrappeMembership.objects.filter(grappe=grappe).order_by("id")
    majority = majority_region(regions.values_list("structure__departement__region_id", flat=True))
    calls = calls_open()
    if majority is None:
        return calls.filter(scope="national")
    return calls.filter(Q(scope="national") | Q(region_id=majority))


def calls_visible_to(*, user: User) -> QuerySet[Call]:
    """Calls a back-office user may look at: their region's for ARS agents, all otherwise."""
    calls = Call.objects.select_related("region", "campaign")
    if user.role in ARS_ROLES:
        return calls.filter(region_id=user.region_id)
    return calls


def applications_reviewable_by(*, user: User) -> QuerySet[Application]:
    """Dossiers a back-office user may see: their region's (ARS), every region's (CNSA,
    administrators). Drafts stay private to applicants."""
    submitted = Application.objects.filter(status__in=PAST_DRAFT)
    if user.role in ARS_ROLES and user.region_id:
        return submitted.filter(call__scope="regional", call__region_id=user.region_id)
    if user.role in (Role.CNSA_AGENT, Role.ADMINISTRATOR):
        return submitted
    return Application.objects.none()


def applications_visible_to(*, user: User) -> QuerySet[Application]:
    """Every dossier ``user`` may read: for applicants, the dossiers of grappes in which an
    organisation they are a **confirmed** member of takes part (a pending request gives
    nothing); the back-office scope otherwise."""
    if user.role == Role.GESTIONNAIRE:
        return Application.objects.filter(grappe__in=grappes_of(user=user).values("pk"))
    return applications_reviewable_by(user=user)


def application_for_reviewer(*, user: User, pk: int) -> Application:
    """One dossier of the user's back-office scope, or 404."""
    try:
        return (
            applications_reviewable_by(user=user)
            .select_related("grappe__porteur", "call__campaign", "call__region", "assignee")
            .get(pk=pk)
        )
    except Application.DoesNotExist:
        raise Http404("Dossier introuvable.") from None
