"""Decision letters rendered after commit by a worker (issue #13), and the funding source printed
on the letters (issue #14).

Decisions issued before this migration already have their PDF: they are added as ``ready``; the
default becomes ``pending`` afterwards, for the decisions issued from now on."""

from django.db import migrations, models

REGIONAL_FUNDING_SOURCE = "Fonds d'intervention régional (FIR) — programme ESMS numérique"
NATIONAL_FUNDING_SOURCE = (
    "Budget de la Caisse nationale de solidarité pour l'autonomie (CNSA) — programme ESMS numérique"
)
LETTER_CHOICES = [("pending", "En cours de production"), ("ready", "Prête")]


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0008_queue_search_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="funding_source",
            field=models.CharField(
                default=REGIONAL_FUNDING_SOURCE,
                help_text="Imputation budgétaire imprimée sur les décisions des ARS.",
                max_length=255,
                verbose_name="source de financement (appels régionaux)",
            ),
        ),
        migrations.AddField(
            model_name="campaign",
            name="national_funding_source",
            field=models.CharField(
                default=NATIONAL_FUNDING_SOURCE,
                help_text="Imputation budgétaire imprimée sur les décisions de la CNSA.",
                max_length=255,
                verbose_name="source de financement (appel national)",
            ),
        ),
        migrations.AddField(
            model_name="decision",
            name="letter_rendered_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="lettre produite le"),
        ),
        # Existing decisions have their letter: "ready"; then the default for new ones.
        migrations.AddField(
            model_name="decision",
            name="letter_status",
            field=models.CharField(
                choices=LETTER_CHOICES, default="ready", max_length=10, verbose_name="lettre"
            ),
        ),
        migrations.AlterField(
            model_name="decision",
            name="letter_status",
            field=models.CharField(
                choices=LETTER_CHOICES, default="pending", max_length=10, verbose_name="lettre"
            ),
        ),
        migrations.AlterField(
            model_name="decision",
            name="pdf",
            field=models.FileField(
                blank=True, max_length=255, upload_to="", verbose_name="lettre PDF"
            ),
        ),
        migrations.AlterField(
            model_name="decision",
            name="pdf_sha256",
            field=models.CharField(
                blank=True, max_length=64, verbose_name="empreinte du PDF (SHA-256)"
            ),
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(
                condition=models.Q(("letter_status", "pending")),
                fields=["issued_at"],
                name="decision_letter_pending",
            ),
        ),
        migrations.AddConstraint(
            model_name="decision",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("letter_status", "pending"), ("pdf", ""), ("pdf_sha256", "")),
                    models.Q(
                        ("letter_status", "ready"),
                        models.Q(("pdf", ""), _negated=True),
                        models.Q(("pdf_sha256", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="decision_letter_ready_iff_pdf",
            ),
        ),
    ]
