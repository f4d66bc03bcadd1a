"""Issue #15: the ``convention`` attachment is the grappe's founding document, whatever its legal
form (the required phrase follows ``Grappe.legal_form``); and the Ségur exemptions become one
thing, the campaign's items.

A campaign without any exempt item was created before new campaigns got defaults (the admin
left the list empty, and the CASF flag had no effect on quotes): it gets the defaults a new
campaign gets now (``applications.campaigns.campaign_create``): the previous campaign's items,
or, for the first, the CASF items flagged as default (8°, 14°, 15°). Campaigns are visited by
year, so a campaign filled here passes its items on. Not reversed: which campaigns were empty
is not kept."""

from django.db import migrations, models


def give_defaults(apps, schema_editor):
    Campaign = apps.get_model("applications", "Campaign")
    CasfCategory = apps.get_model("grappes", "CasfCategory")
    flagged = list(CasfCategory.objects.filter(segur_exempt=True))
    previous = None
    for campaign in Campaign.objects.order_by("year"):
        if not campaign.segur_exempt_items.exists():
            items = list(previous.segur_exempt_items.all()) if previous is not None else []
            campaign.segur_exempt_items.set(items or flagged)
        previous = campaign


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0009_decision_letter_async"),
        ("grappes", "0008_eligibility_ght_legal_form"),
    ]

    operations = [
        migrations.AlterField(
            model_name="attachment",
            name="kind",
            field=models.CharField(
                choices=[
                    ("convention", "Acte fondateur de la grappe (convention, statuts)"),
                    ("quote", "Devis"),
                    ("share_proof", "Justificatif de part éligible"),
                    ("complement", "Complément"),
                    ("other", "Autre pièce"),
                ],
                max_length=20,
                verbose_name="type de pièce",
            ),
        ),
        migrations.RunPython(give_defaults, migrations.RunPython.noop),
    ]
