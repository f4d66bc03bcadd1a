"""Eligibility rules of issue #15 (domain.md §5b): the Ségur corridors of a DUI solution
(hospital corridor added; ``segur_referenced`` is the medico-social one), the GHT of a
structure (the GHT exception), the legal form of a grappe (existing grappes: a convention, the
founding document every dossier already attached), and the CASF flag relabelled as the default
exemptions of a new campaign (quotes read the campaign's own items)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grappes", "0007_casf_item_17_label"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="duisolution",
            name="segur_hospital_referenced",
            field=models.BooleanField(
                default=False,
                help_text="Acceptée pour un établissement rattaché à un GHT (exception GHT), s'il répond aux exigences médico-sociales.",
                verbose_name="référencée Ségur (couloir hospitalier)",
            ),
        ),
        migrations.AddField(
            model_name="grappe",
            name="legal_form",
            field=models.CharField(
                choices=[
                    ("gcsms", "Groupement de coopération sociale ou médico-sociale (GCSMS)"),
                    ("cooperation_group", "Autre groupement de coopération"),
                    ("convention", "Convention entre gestionnaires"),
                ],
                default="convention",
                help_text="Son acte fondateur est une pièce obligatoire du dossier : convention constitutive du GCSMS, statuts du groupement ou convention de grappe.",
                max_length=20,
                verbose_name="forme juridique de la grappe",
            ),
        ),
        migrations.AddField(
            model_name="structure",
            name="ght",
            field=models.CharField(
                blank=True,
                help_text="Nom du GHT auquel l'établissement est rattaché, vide sinon. Un établissement rattaché à un GHT peut utiliser une solution DUI référencée Ségur dans le couloir hospitalier. Absent de l'extrait FINESS : renseigné par l'équipe du programme.",
                max_length=200,
                verbose_name="groupement hospitalier de territoire (GHT)",
            ),
        ),
        migrations.AlterField(
            model_name="casfcategory",
            name="segur_exempt",
            field=models.BooleanField(
                default=False,
                help_text="Exemption de l'exigence Ségur proposée à la première campagne créée (les suivantes reprennent celles de la campagne précédente) : AHI (8°) et protection juridique (14°, 15°) par défaut. Les devis appliquent les exemptions de la campagne.",
                verbose_name="exempté par défaut pour une nouvelle campagne",
            ),
        ),
        migrations.AlterField(
            model_name="duisolution",
            name="segur_referenced",
            field=models.BooleanField(
                default=False,
                help_text="Référencement Ségur (SONS) du couloir social et médico-social : celui qu'exige le financement d'un ESSMS.",
                verbose_name="référencée Ségur (couloir médico-social)",
            ),
        ),
        migrations.AddConstraint(
            model_name="grappe",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("legal_form__in", ["gcsms", "cooperation_group", "convention"])
                ),
                name="grappe_legal_form_valid",
            ),
        ),
    ]
