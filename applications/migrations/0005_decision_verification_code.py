"""A random verification code per decision (issue #9, hole 7): the public verification page
needs the decision number AND this code, printed on the letter, so sequential numbers can no
longer be enumerated.

Existing decisions get a unique random code here (their frozen snapshot and PDF are left
untouched: the code is given to their beneficiaries out of band, e.g. by the CNSA on request).
"""

import secrets

from django.db import migrations, models

# Crockford base32 without I, L, O, U; 10 characters = 50 bits. Copied (not imported) so the
# migration keeps working whatever becomes of the application code.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 10


def backfill_codes(apps, schema_editor):
    Decision = apps.get_model("applications", "Decision")
    used = set(
        Decision.objects.exclude(verification_code__isnull=True).values_list(
            "verification_code", flat=True
        )
    )
    # QuerySet.update() bypasses Decision.save(), which refuses any rewrite of an issued
    # decision: adding the code is a schema change, not an alteration of the decision.
    for pk in Decision.objects.filter(verification_code__isnull=True).values_list("pk", flat=True):
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        while code in used:
            code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        used.add(code)
        Decision.objects.filter(pk=pk).update(verification_code=code)


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0004_decisions"),
    ]

    operations = [
        migrations.AddField(
            model_name="decision",
            name="verification_code",
            field=models.CharField(
                "code de vérification", max_length=10, null=True, editable=False
            ),
        ),
        migrations.RunPython(backfill_codes, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="decision",
            name="verification_code",
            field=models.CharField(
                "code de vérification",
                max_length=10,
                unique=True,
                editable=False,
                help_text="Aléatoire (50 bits), imprimé sur la lettre ; requis avec le numéro "
                "pour vérifier la décision en ligne.",
            ),
        ),
    ]
