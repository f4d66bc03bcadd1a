"""CASF item 17°: a plain label instead of the placeholder « Item 17° (libellé à confirmer sur
Légifrance) » that reviewers saw in the queue's sector filter (issue 14, item 7). Only a row
still holding the placeholder is renamed: a label an administrator set is kept."""

from django.db import migrations

PLACEHOLDER = "Item 17° (libellé à confirmer sur Légifrance)"
LABEL = "Item sans catégorie FINESS rattachée"


def rename(apps, schema_editor):
    CasfCategory = apps.get_model("grappes", "CasfCategory")
    CasfCategory.objects.filter(code="17°", label=PLACEHOLDER).update(label=LABEL)


def restore(apps, schema_editor):
    CasfCategory = apps.get_model("grappes", "CasfCategory")
    CasfCategory.objects.filter(code="17°", label=LABEL).update(label=PLACEHOLDER)


class Migration(migrations.Migration):
    dependencies = [("grappes", "0006_invitation_bound_to_address")]

    operations = [migrations.RunPython(rename, restore)]
