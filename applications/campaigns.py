"""Creating a campaign: its Ségur exemptions start from the previous campaign's.

The quotes read one thing, the campaign's own ``segur_exempt_items`` (``funding.services``).
A new campaign is created with the exempt items of the previous campaign (the nearest earlier
year), or, when there is none, with the CASF items flagged « exempté par défaut pour une
nouvelle campagne » (``CasfCategory.segur_exempt``: 8°, 14° and 15°, from the instruction of
16 January 2023). The flag is therefore only a default for a first campaign: changing it never
changes a quote; the admin edits each campaign's items.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet

from grappes.models import CasfCategory

from .models import Campaign


def campaign_previous(*, year: int | None) -> Campaign | None:
    """The campaign just before ``year`` (the nearest earlier year; the latest campaign when
    ``year`` is None, i.e. not typed yet), or None."""
    campaigns = Campaign.objects.order_by("-year")
    if year is not None:
        campaigns = campaigns.filter(year__lt=year)
    return campaigns.first()


def campaign_segur_exempt_defaults(*, year: int | None) -> QuerySet[CasfCategory]:
    """The exempt items a new campaign of ``year`` starts with: the previous campaign's, or
    the items flagged as default when there is no previous campaign."""
    previous = campaign_previous(year=year)
    if previous is not None:
        return previous.segur_exempt_items.all()
    return CasfCategory.objects.filter(segur_exempt=True)


@transaction.atomic
def campaign_create(
    *, campaign: Campaign, segur_exempt_items: Iterable[CasfCategory] | None = None
) -> Campaign:
    """Save a new (unsaved) campaign with its Ségur exempt items: those given, or, when none
    is given (None or empty), the defaults of :func:`campaign_segur_exempt_defaults`.

    An empty choice takes the defaults because a campaign without any exemption contradicts the
    instruction (AHI and juridical protection are exempt); to remove every exemption on
    purpose, edit the campaign once created.
    """
    if campaign.pk is not None:
        raise ValueError("campaign_create saves a new campaign only.")
    chosen = list(segur_exempt_items or [])
    defaults = list(campaign_segur_exempt_defaults(year=campaign.year))
    campaign.save()
    campaign.segur_exempt_items.set(chosen or defaults)
    return campaign
