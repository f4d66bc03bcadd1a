"""Default usage targets of a campaign (domain.md §5), given to every campaign.

The targets and the AHI exemption themselves are data of the pure rules
(``funding.settlement.DEFAULT_TARGETS`` / ``DEFAULT_EXEMPTIONS``: one home); this module copies
them into a campaign's editable rows. Thresholds are **product rules** until checked against
the instruction's annex: they are created with ``threshold_confirmed=False`` and the admin shows
"seuil à confirmer" until an agent ticks it.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction

from applications.models import Campaign
from funding.settlement import DEFAULT_EXEMPTIONS, DEFAULT_TARGETS
from grappes.models import CasfCategory

from .models import FollowUpParameters, IndicatorExemption, UsageIndicator

#: What an ESSMS (or its editor) sends to prove each default target.
EVIDENCE = {
    "DUI_ACTIF": "Extraction de l'éditeur du DUI : dossiers ouverts et mis à jour dans le mois.",
    "MSSANTE": "Statistiques de l'opérateur MSSanté de l'ESSMS.",
    "DMP": "Statistiques d'alimentation du DMP fournies par l'éditeur.",
}


def follow_up_defaults(*, year: int) -> dict[str, Any]:
    """Default follow-up window of a campaign (product rule, editable): measurements from the
    1st of January of the campaign's year to the 31st of December of the next year."""
    return {
        "measurement_starts_on": datetime.date(year, 1, 1),
        "measurement_deadline": datetime.date(year + 1, 12, 31),
    }


@transaction.atomic
def indicators_ensure_defaults(*, campaign: Campaign) -> int:
    """Give ``campaign`` its follow-up parameters and default indicators if it has none;
    returns how many indicators were created (0 when it already had some)."""
    FollowUpParameters.objects.get_or_create(
        campaign=campaign, defaults=follow_up_defaults(year=campaign.year)
    )
    if UsageIndicator.objects.filter(campaign=campaign).exists():
        return 0
    items = {item.code: item for item in CasfCategory.objects.all()}
    for position, target in enumerate(DEFAULT_TARGETS):
        indicator = UsageIndicator.objects.create(
            campaign=campaign,
            code=target.code,
            label=target.label,
            unit=target.unit,
            threshold=target.threshold,
            threshold_confirmed=False,
            evidence_expected=EVIDENCE.get(target.code, ""),
            position=position,
        )
        indicator.casf_items.set([items[c] for c in target.casf_items if c in items])
        for exemption in DEFAULT_EXEMPTIONS:
            if target.code not in exemption.indicators:
                continue
            for code in sorted(exemption.casf_items):
                if code in items:  # the referential may not be loaded yet (empty database)
                    IndicatorExemption.objects.create(
                        indicator=indicator,
                        casf_item=items[code],
                        outside_sons_only=exemption.outside_sons_only,
                        source=exemption.label,
                    )
    return len(DEFAULT_TARGETS)
