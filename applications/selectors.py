"""Read-side queries for campaigns, calls and dossiers (selectors: keyword-only, typed)."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.utils import timezone

from .models import Call


def calls_open(*, on: datetime.date | None = None) -> QuerySet[Call]:
    """Calls accepting dossiers on ``on`` (today by default), national first then by region."""
    day = on or timezone.localdate()
    return (
        Call.objects.filter(opens_on__lte=day, closes_on__gte=day)
        .select_related("campaign", "region")
        .order_by("-campaign__year", "scope", "region__position")
    )
