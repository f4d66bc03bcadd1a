"""Instruction acts recorded in the hash-chained log without a status change (issue #9, holes 2
and 5): a score, a proposal edit, an assignment (``workflow.record``). Choices only: no data
changes, existing chains stay valid."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0005_decision_verification_code"),
    ]

    operations = [
        migrations.AlterField(
            model_name="workflowlog",
            name="action",
            field=models.CharField(
                choices=[
                    ("submit", "Déposer"),
                    ("withdraw", "Retirer"),
                    ("take", "Prendre en instruction"),
                    ("ask", "Demander des compléments"),
                    ("resubmit", "Renvoyer après compléments"),
                    ("propose", "Proposer une décision"),
                    ("accept", "Accepter"),
                    ("reject", "Refuser"),
                    ("send_back", "Renvoyer en instruction"),
                    ("notify", "Notifier la décision"),
                    ("score", "Évaluation enregistrée"),
                    ("edit_proposal", "Proposition modifiée"),
                    ("assign", "Affectation"),
                ],
                max_length=24,
                verbose_name="action",
            ),
        ),
    ]
