"""Load the referential (regions, départements, CASF items, FINESS categories) from
``grappes.referential_data`` (domain.md §6 and §9), and the DSFR site configuration."""

from django.db import migrations


def load_referential(apps, schema_editor):
    from grappes import referential_data as data

    Region = apps.get_model("grappes", "Region")
    Departement = apps.get_model("grappes", "Departement")
    CasfCategory = apps.get_model("grappes", "CasfCategory")
    FinessCategory = apps.get_model("grappes", "FinessCategory")
    for position, row in enumerate(data.REGIONS):
        Region.objects.update_or_create(
            code=row.code,
            defaults={
                "name": row.name,
                "reduced_grappe_minimum": row.reduced_grappe_minimum,
                "position": position,
            },
        )
    for row in data.DEPARTMENTS:
        Departement.objects.update_or_create(
            code=row.code, defaults={"name": row.name, "region_id": row.region}
        )
    for row in data.CASF_ITEMS:
        CasfCategory.objects.update_or_create(
            code=row.code,
            defaults={"number": row.number, "label": row.label, "segur_exempt": row.segur_exempt},
        )
    for row in data.FINESS_CATEGORIES:
        FinessCategory.objects.update_or_create(
            code=row.code,
            defaults={
                "label": row.label,
                "casf_item_id": row.casf_item,
                "home_care": row.home_care,
            },
        )


def load_site_config(apps, schema_editor):
    DsfrConfig = apps.get_model("dsfr", "DsfrConfig")
    if not DsfrConfig.objects.exists():
        DsfrConfig.objects.create(
            language="fr",
            site_title="ESMS numérique",
            site_tagline="Financement du dossier usager informatisé des ESSMS",
            footer_description="Programme ESMS numérique (CNSA, ARS).",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("grappes", "0001_initial"),
        ("dsfr", "0012_dsfrconfig_notice_description_and_more"),
    ]

    operations = [
        migrations.RunPython(load_referential, migrations.RunPython.noop),
        migrations.RunPython(load_site_config, migrations.RunPython.noop),
    ]
