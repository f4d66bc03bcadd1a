"""Usage targets and their measurements: the condition of a grant's second tranche.

Targets are data per campaign (domain.md §5: "model them as data per campaign — never as
code"): an indicator has a code, a unit, a threshold, the CASF items it applies to and the
exemptions that lift it (the AHI exemption of September 2025). A measurement is one value of one
indicator for one funded ESSMS at a date, with its source, checked by the ARS.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from applications.models import Campaign
from essms_portal.money import euros_field
from grappes.models import CasfCategory, Structure

#: Largest measured value a column holds (a count of documents, messages or users).
MAX_MEASURE = Decimal("999999999999.99")


def reminder_days(value: str) -> list[int]:
    """The reminder offsets of a comma-separated list ("30,7" → [30, 7]), largest first.

    Raises ValueError on anything but whole numbers of days from 1 to 365."""
    days = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 365:
            raise ValueError(part)
        days.append(int(part))
    return sorted(set(days), reverse=True)


def validate_reminder_days(value: str) -> None:
    try:
        reminder_days(value)
    except ValueError as error:
        raise ValidationError(
            "« %(part)s » n'est pas un nombre de jours entre 1 et 365.", params={"part": str(error)}
        ) from None


class FollowUpParameters(models.Model):
    """A campaign's follow-up deadlines and settlement policy (edited in the admin)."""

    class Policy(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", "Tout ou rien"
        PRO_RATA = "pro_rata", "Au prorata des ESSMS qui atteignent leurs cibles"

    campaign = models.OneToOneField(
        Campaign, on_delete=models.CASCADE, related_name="follow_up", verbose_name="campagne"
    )
    measurement_starts_on = models.DateField(
        "début de la période de mesure",
        help_text="Une mesure datée d'avant est refusée à l'import.",
    )
    measurement_deadline = models.DateField(
        "date limite de mesure",
        help_text="Échéance des cibles d'usage : une mesure datée d'après est refusée.",
    )
    policy = models.CharField(
        "règle de calcul de la seconde tranche",
        max_length=20,
        choices=Policy.choices,
        default=Policy.PRO_RATA,
    )
    grappe_threshold_percent = models.PositiveSmallIntegerField(
        "part des ESSMS devant atteindre leurs cibles (%)",
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Règle produit : la grappe atteint ses cibles quand cette part de ses ESSMS "
        "financés les atteint (100 % : tous).",
    )
    recover_leavers = models.BooleanField(
        "recouvrer la part d'un ESSMS sorti du projet",
        default=True,
        help_text="Règle produit : titre de recette de la part de première tranche d'un ESSMS "
        "sorti du projet après la décision.",
    )

    convention_deadline = models.DateField(
        "date limite de signature de la convention",
        null=True,
        blank=True,
        help_text="Vide : pas d'échéance ni de relance pour la signature du porteur.",
    )
    national_active_dui_target = models.PositiveIntegerField(
        "cible nationale de DUI actifs",
        null=True,
        blank=True,
        validators=[MaxValueValidator(10_000_000)],
        help_text="Nombre de DUI actifs visé par la campagne (tableau de bord) ; vide : aucune.",
    )
    reminder_days_before = models.CharField(
        "relances (jours avant l'échéance)",
        max_length=40,
        default="30,7",
        validators=[validate_reminder_days],
        help_text="Jours avant chaque échéance où le porteur est relancé par courriel, séparés "
        "par des virgules (ex. « 30,7 ») ; vide : aucune relance.",
    )

    class Meta:
        verbose_name = "paramètres de suivi"
        verbose_name_plural = "paramètres de suivi"
        constraints = [
            models.CheckConstraint(
                condition=Q(measurement_deadline__gte=models.F("measurement_starts_on")),
                name="follow_up_deadline_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"Suivi {self.campaign}"


class UsageIndicator(models.Model):
    """One usage target of a campaign: what is measured, in which unit, and the threshold."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="usage_indicators", verbose_name="campagne"
    )
    code = models.SlugField("code", max_length=30, help_text="Utilisé dans les fichiers d'import.")
    label = models.CharField("libellé", max_length=200)
    unit = models.CharField("unité", max_length=50)
    threshold = models.DecimalField(
        "seuil",
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_MEASURE)],
        help_text="Valeur à atteindre (au moins) par ESSMS.",
    )
    threshold_confirmed = models.BooleanField(
        "seuil confirmé",
        default=False,
        help_text="Décoché : valeur par défaut « à confirmer » avec l'annexe de l'instruction.",
    )
    casf_items = models.ManyToManyField(
        CasfCategory,
        blank=True,
        related_name="+",
        verbose_name="items L312-1 concernés",
        help_text="Vide : tous les ESSMS financés.",
    )
    evidence_expected = models.TextField("justificatif attendu", blank=True)
    position = models.PositiveSmallIntegerField("ordre", default=0)

    class Meta:
        verbose_name = "indicateur d'usage"
        verbose_name_plural = "indicateurs d'usage"
        ordering = ("campaign", "position", "code")
        constraints = [
            models.UniqueConstraint(
                fields=("campaign", "code"), name="usage_indicator_code_unique_per_campaign"
            )
        ]

    def __str__(self) -> str:
        flag = "" if self.threshold_confirmed else " (seuil à confirmer)"
        return f"{self.label}{flag}"


class IndicatorExemption(models.Model):
    """A CASF item exempt from an indicator — e.g. AHI (item 8°) outside SONS exempt from the
    MSSanté and DMP targets since the instruction of 2 September 2025. "Outside SONS": the
    ESSMS's DUI is not a Ségur-referenced solution (the SONS financing route of the Ségur
    numérique); with ``outside_sons_only`` unticked the whole item is exempt."""

    indicator = models.ForeignKey(
        UsageIndicator,
        on_delete=models.CASCADE,
        related_name="exemptions",
        verbose_name="indicateur",
    )
    casf_item = models.ForeignKey(
        CasfCategory, on_delete=models.PROTECT, related_name="+", verbose_name="item L312-1"
    )
    outside_sons_only = models.BooleanField(
        "hors SONS seulement",
        default=True,
        help_text="Coché : l'exemption ne vaut que pour un ESSMS dont le DUI n'est pas référencé "
        "Ségur (hors SONS).",
    )
    source = models.CharField("source", max_length=255, blank=True)

    class Meta:
        verbose_name = "exemption d'indicateur"
        verbose_name_plural = "exemptions d'indicateur"
        constraints = [
            models.UniqueConstraint(
                fields=("indicator", "casf_item"), name="indicator_exemption_unique_item"
            )
        ]

    def __str__(self) -> str:
        return f"{self.casf_item} exempté de « {self.indicator.label} »"


class MeasurementImport(models.Model):
    """One bulk file of measurements, kept so a re-import is recognised and audited."""

    filename = models.CharField("fichier", max_length=255)
    sha256 = models.CharField("empreinte SHA-256", max_length=64, db_index=True)
    encoding = models.CharField("encodage", max_length=20)
    rows = models.PositiveIntegerField("lignes")
    created = models.PositiveIntegerField("mesures créées", default=0)
    unchanged = models.PositiveIntegerField("mesures inchangées", default=0)
    updated = models.PositiveIntegerField("mesures mises à jour", default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="importé par",
    )
    imported_at = models.DateTimeField("importé le", auto_now_add=True)

    class Meta:
        verbose_name = "import de mesures"
        verbose_name_plural = "imports de mesures"
        ordering = ("-imported_at",)

    def __str__(self) -> str:
        return f"{self.filename} ({self.rows} lignes)"


class Measurement(models.Model):
    """One value of one indicator for one funded ESSMS at a date."""

    class Source(models.TextChoices):
        DECLARED = "declared", "Déclarée par le gestionnaire"
        IMPORTED = "imported", "Importée (fichier de l'éditeur)"

    class Status(models.TextChoices):
        PENDING = "pending", "À vérifier"
        VALIDATED = "validated", "Validée"
        REJECTED = "rejected", "Rejetée"

    structure = models.ForeignKey(
        Structure, on_delete=models.PROTECT, related_name="measurements", verbose_name="ESSMS"
    )
    indicator = models.ForeignKey(
        UsageIndicator,
        on_delete=models.PROTECT,
        related_name="measurements",
        verbose_name="indicateur",
    )
    value = models.DecimalField(
        "valeur",
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_MEASURE)],
    )
    measured_on = models.DateField("date de mesure")
    source = models.CharField("source", max_length=10, choices=Source.choices)
    import_batch = models.ForeignKey(
        MeasurementImport,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="measurements",
        verbose_name="import",
    )
    evidence = models.FileField("justificatif", max_length=255, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="déclarée par",
    )
    status = models.CharField("état", max_length=10, choices=Status.choices, default=Status.PENDING)
    review_comment = models.TextField("commentaire de l'ARS", blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="vérifiée par",
    )
    reviewed_at = models.DateTimeField("vérifiée le", null=True, blank=True)
    created_at = models.DateTimeField("enregistrée le", auto_now_add=True)

    class Meta:
        verbose_name = "mesure d'usage"
        verbose_name_plural = "mesures d'usage"
        ordering = ("structure", "indicator", "-measured_on")
        constraints = [
            # One value per ESSMS, indicator and date: what makes an import idempotent.
            models.UniqueConstraint(
                fields=("structure", "indicator", "measured_on"),
                name="measurement_unique_per_day",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="measurement_value_positive"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.structure.finess} · {self.indicator.code} = {self.value} ({self.measured_on})"
        )


# ----------------------------------------------------------------------------------------------
# Convention, bank details, payment orders
# ----------------------------------------------------------------------------------------------


class GrantCounter(models.Model):
    """Last number given per campaign, region key ("00": national) and kind of document, locked
    in the transaction that creates the document: neither gaps nor duplicates."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    region_key = models.CharField("code région", max_length=2)
    kind = models.CharField("document", max_length=12)
    last_sequence = models.PositiveIntegerField("dernier numéro attribué", default=0)

    class Meta:
        verbose_name = "compteur du suivi"
        verbose_name_plural = "compteurs du suivi"
        constraints = [
            models.UniqueConstraint(
                fields=("campaign", "region_key", "kind"), name="grant_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.campaign_id}-{self.region_key} : {self.last_sequence}"


class Convention(models.Model):
    """The funding convention of a granted dossier: drafted from the decision, signed by the
    porteur (uploaded copy), countersigned by the ARS (the CNSA for the national call)."""

    class Status(models.TextChoices):
        DRAFTED = "drafted", "À signer par le porteur"
        SIGNED = "signed", "Signée par le porteur, à contresigner"
        COUNTERSIGNED = "countersigned", "Signée par les deux parties"
        CLOSED = "closed", "Soldée"

    decision = models.OneToOneField(
        "applications.Decision",
        on_delete=models.PROTECT,
        related_name="convention",
        verbose_name="décision",
    )
    number = models.CharField("numéro", max_length=24, unique=True)
    status = models.CharField("état", max_length=16, choices=Status.choices, default=Status.DRAFTED)
    snapshot = models.JSONField("données de la convention (figées)")
    snapshot_sha256 = models.CharField("empreinte des données (SHA-256)", max_length=64)
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    drafted_at = models.DateTimeField("rédigée le")
    signed_copy = models.FileField("exemplaire signé par le porteur", max_length=255, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="déposée signée par",
    )
    signed_at = models.DateTimeField("déposée signée le", null=True, blank=True)
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="contresignée par",
    )
    countersigned_at = models.DateTimeField("contresignée le", null=True, blank=True)

    class Meta:
        verbose_name = "convention de financement"
        verbose_name_plural = "conventions de financement"

    def __str__(self) -> str:
        return f"Convention {self.number}"


class BankDetails(models.Model):
    """The porteur's bank details (IBAN, BIC, RIB). Before the convention is countersigned a
    new entry is active at once; afterwards it waits for the ARS's validation."""

    class Status(models.TextChoices):
        ACTIVE = "active", "En vigueur"
        PENDING = "pending", "Modification à valider par l'ARS"
        SUPERSEDED = "superseded", "Remplacées"
        REFUSED = "refused", "Modification refusée"

    application = models.ForeignKey(
        "applications.Application",
        on_delete=models.PROTECT,
        related_name="bank_details",
        verbose_name="dossier",
    )
    holder = models.CharField("titulaire du compte", max_length=140)
    siret = models.CharField("SIRET du bénéficiaire", max_length=14)
    iban = models.CharField("IBAN", max_length=34)
    bic = models.CharField("BIC", max_length=11)
    rib = models.FileField("relevé d'identité bancaire", max_length=255)
    status = models.CharField("état", max_length=12, choices=Status.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField("saisies le")
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="validées par",
    )
    validated_at = models.DateTimeField("validées le", null=True, blank=True)

    class Meta:
        verbose_name = "coordonnées bancaires"
        verbose_name_plural = "coordonnées bancaires"
        ordering = ("-entered_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("application",),
                condition=Q(status="active"),
                name="bank_details_one_active",
            ),
            models.UniqueConstraint(
                fields=("application",),
                condition=Q(status="pending"),
                name="bank_details_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder} — {self.iban[:4]}…{self.iban[-4:]}"


class PaymentBatch(models.Model):
    """Payment orders transmitted together to the finance department: numbered, downloadable
    again in each format (CSV, XLSX, PDF summary) with the same content."""

    number = models.CharField("numéro", max_length=24, unique=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    region_key = models.CharField("code région", max_length=2)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("transmis le")
    total = euros_field("total (€)")
    order_count = models.PositiveIntegerField("nombre d'ordres")

    class Meta:
        verbose_name = "bordereau d'ordres"
        verbose_name_plural = "bordereaux d'ordres"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"Bordereau {self.number}"


class PaymentOrder(models.Model):
    """A numbered, immutable order to pay (first or second tranche) or to recover (titre de
    recette). Only its export and payment marks change afterwards."""

    class Kind(models.TextChoices):
        FIRST = "first", "Première tranche"
        SECOND = "second", "Seconde tranche"
        RECOVERY = "recovery", "Titre de recette"

    class Status(models.TextChoices):
        ISSUED = "issued", "Émis"
        EXPORTED = "exported", "Transmis au service financier"
        PAID = "paid", "Payé"

    application = models.ForeignKey(
        "applications.Application",
        on_delete=models.PROTECT,
        related_name="payment_orders",
        verbose_name="dossier",
    )
    convention = models.ForeignKey(
        Convention, on_delete=models.PROTECT, related_name="payment_orders"
    )
    kind = models.CharField("nature", max_length=10, choices=Kind.choices)
    number = models.CharField("numéro", max_length=24, unique=True)
    amount = euros_field("montant (€)")
    beneficiary = models.CharField("bénéficiaire", max_length=255)
    siret = models.CharField("SIRET", max_length=14, blank=True)
    iban = models.CharField("IBAN", max_length=34)
    bic = models.CharField("BIC", max_length=11)
    legal_basis = models.TextField("fondement")
    reasons = models.JSONField("motifs du calcul", default=list, blank=True)
    status = models.CharField("état", max_length=10, choices=Status.choices, default=Status.ISSUED)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField("émis le")
    exported_at = models.DateTimeField("transmis le", null=True, blank=True)
    batch = models.ForeignKey(
        PaymentBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name="bordereau",
    )
    paid_on = models.DateField("payé le", null=True, blank=True)

    class Meta:
        verbose_name = "ordre de paiement"
        verbose_name_plural = "ordres de paiement"
        ordering = ("number",)
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_order_positive"),
            # One first tranche and one second tranche per convention.
            models.UniqueConstraint(
                fields=("convention", "kind"),
                condition=Q(kind__in=["first", "second"]),
                name="payment_order_one_tranche_of_each",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class GrantLog(models.Model):
    """Every state change of a grant's follow-up, hash-chained per dossier like the workflow
    log (a broken link shows an edited or deleted entry)."""

    application = models.ForeignKey(
        "applications.Application", on_delete=models.PROTECT, related_name="grant_log"
    )
    event = models.CharField("événement", max_length=32)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor_email = models.EmailField("courriel de l'acteur")
    detail = models.TextField("détail", blank=True)
    created_at = models.DateTimeField("date")
    previous_hash = models.CharField("empreinte précédente", max_length=64)
    entry_hash = models.CharField("empreinte", max_length=64, unique=True)

    class Meta:
        verbose_name = "entrée du journal de suivi"
        verbose_name_plural = "journal du suivi"
        ordering = ("application", "id")

    def __str__(self) -> str:
        return f"{self.application_id} {self.event} ({self.created_at:%d/%m/%Y %H:%M})"


class FollowUpReminder(models.Model):
    """One reminder e-mail sent for one deadline of one grant, so that the daily task never
    sends the same reminder twice (unique on grant, deadline kind, date and offset)."""

    class Kind(models.TextChoices):
        CONVENTION = "convention", "Signature de la convention"
        MEASUREMENT = "measurement", "Mesures des cibles d'usage"

    application = models.ForeignKey(
        "applications.Application", on_delete=models.CASCADE, related_name="follow_up_reminders"
    )
    kind = models.CharField("échéance", max_length=12, choices=Kind.choices)
    deadline = models.DateField("date de l'échéance")
    days_before = models.PositiveSmallIntegerField("jours avant l'échéance")
    sent_at = models.DateTimeField("envoyée le")

    class Meta:
        verbose_name = "relance du suivi"
        verbose_name_plural = "relances du suivi"
        constraints = [
            models.UniqueConstraint(
                fields=("application", "kind", "deadline", "days_before"),
                name="follow_up_reminder_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} J-{self.days_before} ({self.application_id})"


class Amendment(models.Model):
    """An amendment (avenant) to a countersigned convention: an ESSMS left or joined the grappe
    after the decision, the lines are recomputed with the decision's funding engine and, once
    validated by a second person (four eyes), become the grant's effective lines."""

    class Status(models.TextChoices):
        DRAFTED = "drafted", "À valider"
        VALIDATED = "validated", "Validé"
        CANCELLED = "cancelled", "Annulé"

    convention = models.ForeignKey(
        Convention, on_delete=models.PROTECT, related_name="amendments", verbose_name="convention"
    )
    number = models.CharField("numéro", max_length=24, unique=True)
    status = models.CharField("état", max_length=10, choices=Status.choices, default=Status.DRAFTED)
    reason = models.TextField("motif", max_length=2000)
    snapshot = models.JSONField("données de l'avenant (figées)")
    snapshot_sha256 = models.CharField("empreinte des données (SHA-256)", max_length=64)
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="préparé par",
    )
    drafted_at = models.DateTimeField("préparé le")
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="validé par",
    )
    validated_at = models.DateTimeField("validé le", null=True, blank=True)
    cancelled_at = models.DateTimeField("annulé le", null=True, blank=True)

    class Meta:
        verbose_name = "avenant"
        verbose_name_plural = "avenants"
        ordering = ("convention", "drafted_at", "id")
        constraints = [
            # One amendment under preparation at a time: the next one recomputes from it.
            models.UniqueConstraint(
                fields=("convention",),
                condition=Q(status="drafted"),
                name="amendment_one_drafted_per_convention",
            ),
            models.CheckConstraint(
                condition=Q(status="validated", validated_at__isnull=False)
                | ~Q(status="validated"),
                name="amendment_validated_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"Avenant {self.number}"
