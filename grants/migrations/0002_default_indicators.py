"""Existing campaigns get the default follow-up window and usage indicators (thresholds "à
confirmer"), as a campaign created in the admin does (grants.indicators)."""

import datetime

from django.db import migrations

# Frozen copy of funding.settlement.DEFAULT_TARGETS / DEFAULT_EXEMPTIONS and
# grants.indicators.EVIDENCE at the time of this migration.
DEFAULTS = (
    ("DUI_ACTIF", "DUI actifs", "% des personnes accompagnées", 80,
     "Extraction de l'éditeur du DUI : dossiers ouverts et mis à jour dans le mois.", ()),
    ("MSSANTE", "Messages MSSanté envoyés", "messages par mois", 10,
     "Statistiques de l'opérateur MSSanté de l'ESSMS.", ("8°",)),
    ("DMP", "Documents versés au DMP", "documents par mois", 10,
     "Statistiques d'alimentation du DMP fournies par l'éditeur.", ("8°",)),
)  # fmt: skip
SOURCE = "instruction du 2 septembre 2025 : structures AHI (8°) hors SONS"


def forwards(apps, schema_editor):
    Campaign = apps.get_model("applications", "Campaign")
    FollowUpParameters = apps.get_model("grants", "FollowUpParameters")
    UsageIndicator = apps.get_model("grants", "UsageIndicator")
    IndicatorExemption = apps.get_model("grants", "IndicatorExemption")
    CasfCategory = apps.get_model("grappes", "CasfCategory")
    items = {item.code: item for item in CasfCategory.objects.all()}
    for campaign in Campaign.objects.all():
        FollowUpParameters.objects.get_or_create(
            campaign=campaign,
            defaults={
                "measurement_starts_on": datetime.date(campaign.year, 1, 1),
                "measurement_deadline": datetime.date(campaign.year + 1, 12, 31),
            },
        )
        if UsageIndicator.objects.filter(campaign=campaign).exists():
            continue
        for position, (code, label, unit, threshold, evidence, exempt) in enumerate(DEFAULTS):
            indicator = UsageIndicator.objects.create(
                campaign=campaign, code=code, label=label, unit=unit, threshold=threshold,
                threshold_confirmed=False, evidence_expected=evidence, position=position,
            )  # fmt: skip
            for item in exempt:
                if item in items:
                    IndicatorExemption.objects.create(
                        indicator=indicator, casf_item=items[item], outside_sons_only=True,
                        source=SOURCE,
                    )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("grants", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
