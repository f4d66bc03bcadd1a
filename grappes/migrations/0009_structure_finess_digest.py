"""The FINESS import's digest of each structure's source line (issue #13): a re-import skips the
lines unchanged since the import that wrote them. Nullable, no data migration: the next import
fills it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grappes", "0008_eligibility_ght_legal_form"),
    ]

    operations = [
        migrations.AddField(
            model_name="structure",
            name="finess_digest",
            field=models.CharField(
                blank=True,
                editable=False,
                max_length=80,
                null=True,
                verbose_name="empreinte de la ligne FINESS",
            ),
        ),
    ]
