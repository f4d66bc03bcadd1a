"""Campaigns, calls, applications (dossiers) and their append-only workflow log.

Every funding parameter is a campaign row (defaults from domain.md §4) so that a later
instruction changes data, not code. Amounts are whole euros.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from essms_portal.money import euros_field

from .statuses import DECIDED, NOT_SUBMITTED, Action, Status, ordered

# Where the money comes from (domain.md §5: the regional intervention fund carries the
# programme to the ARS; the national call is paid from the CNSA's budget). Defaults only: each
# campaign states its own in the admin.
REGIONAL_FUNDING_SOURCE = "Fonds d'intervention régional (FIR) — programme ESMS numérique"
NATIONAL_FUNDING_SOURCE = (
    "Budget de la Caisse nationale de solidarité pour l'autonomie (CNSA) — programme ESMS numérique"
)


class Campaign(models.Model):
    """A yearly campaign and every parameter of the funding rules."""

    year = models.PositiveSmallIntegerField("année", unique=True)
    name = models.CharField("nom", max_length=200)
    instruction_reference = models.CharField(
        "instruction de référence",
        max_length=255,
        blank=True,
        default="Instruction DGCS/DNS/CNSA/2023/13 du 16 janvier 2023",
    )
    acquisition_amount = euros_field("forfait acquisition par ESSMS (€)", default=25_000)
    upgrade_amount = euros_field("forfait mise en conformité par ESSMS (€)", default=10_000)
    hardware_cap = euros_field("plafond matériel par petit gestionnaire (€)", default=20_000)
    small_gestionnaire_max_essms = models.PositiveSmallIntegerField(
        "nombre maximal d'ESSMS d'un petit gestionnaire",
        default=14,
        help_text="Un gestionnaire est « petit » quand il gère au plus ce nombre d'ESSMS.",
    )
    procurement_cap = euros_field("plafond passation du marché par grappe (€)", default=15_000)
    steering_cap = euros_field("plafond pilotage par grappe (€)", default=100_000)
    regional_min_essms = models.PositiveSmallIntegerField(
        "minimum d'ESSMS (appel régional)", default=15
    )
    regional_max_essms = models.PositiveSmallIntegerField(
        "maximum d'ESSMS (appel régional)", default=49
    )
    reduced_min_essms = models.PositiveSmallIntegerField(
        "minimum d'ESSMS (Corse et outre-mer)", default=8
    )
    national_min_essms = models.PositiveSmallIntegerField(
        "minimum d'ESSMS (appel national)", default=50
    )
    segur_required_from_year = models.PositiveSmallIntegerField(
        "solution référencée Ségur exigée à partir de", default=2023
    )
    segur_exempt_items = models.ManyToManyField(
        "grappes.CasfCategory",
        verbose_name="items exemptés de l'exigence Ségur",
        blank=True,
        related_name="+",
    )
    first_tranche_percent = models.PositiveSmallIntegerField(
        "première tranche (% du total)",
        default=50,
        help_text="Versée à la signature de la convention ; le solde à l'atteinte des cibles "
        "d'usage.",
    )
    # Printed in the decision letter (imputation of the subsidy); frozen in each snapshot.
    funding_source = models.CharField(
        "source de financement (appels régionaux)",
        max_length=255,
        default=REGIONAL_FUNDING_SOURCE,
        help_text="Imputation budgétaire imprimée sur les décisions des ARS.",
    )
    national_funding_source = models.CharField(
        "source de financement (appel national)",
        max_length=255,
        default=NATIONAL_FUNDING_SOURCE,
        help_text="Imputation budgétaire imprimée sur les décisions de la CNSA.",
    )

    class Meta:
        verbose_name = "campagne"
        ordering = ("-year",)
        constraints = [
            models.CheckConstraint(
                condition=Q(acquisition_amount__gte=0)
                & Q(upgrade_amount__gte=0)
                & Q(hardware_cap__gte=0)
                & Q(procurement_cap__gte=0)
                & Q(steering_cap__gte=0),
                name="campaign_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(first_tranche_percent__lte=100), name="campaign_tranche_percent_le_100"
            ),
            models.CheckConstraint(
                condition=Q(regional_min_essms__lte=F("regional_max_essms")),
                name="campaign_regional_bounds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Call(models.Model):
    """An appel à projets: regional (one ARS) or national (CNSA), with its envelope."""

    class Scope(models.TextChoices):
        REGIONAL = "regional", "Régional"
        NATIONAL = "national", "National"

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="calls", verbose_name="campagne"
    )
    scope = models.CharField("portée", max_length=10, choices=Scope.choices)
    region = models.ForeignKey(
        "grappes.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="calls",
        verbose_name="région",
    )
    name = models.CharField("intitulé", max_length=255)
    opens_on = models.DateField("ouverture")
    closes_on = models.DateField("clôture")
    envelope = euros_field("enveloppe (€)", default=0)

    class Meta:
        verbose_name = "appel à projets"
        verbose_name_plural = "appels à projets"
        ordering = ("campaign", "scope", "region")
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="regional") & Q(region__isnull=False))
                | (Q(scope="national") & Q(region__isnull=True)),
                name="call_region_iff_regional",
            ),
            models.CheckConstraint(condition=Q(envelope__gte=0), name="call_envelope_non_negative"),
            models.CheckConstraint(
                condition=Q(closes_on__gte=F("opens_on")), name="call_dates_ordered"
            ),
            models.UniqueConstraint(
                fields=("campaign", "region"),
                condition=Q(scope="regional"),
                name="call_one_regional_per_region",
            ),
            models.UniqueConstraint(
                fields=("campaign",),
                condition=Q(scope="national"),
                name="call_one_national_per_campaign",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Application(models.Model):
    """A grappe's dossier for one call. Its status changes only through workflow.transition."""

    grappe = models.ForeignKey(
        "grappes.Grappe",
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name="grappe",
    )
    call = models.ForeignKey(
        Call, on_delete=models.PROTECT, related_name="applications", verbose_name="appel à projets"
    )
    status = models.CharField(
        "statut", max_length=24, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    # Optimistic concurrency: every write bumps it; a stale form is refused.
    version = models.PositiveIntegerField("version", default=1, editable=False)
    requested_procurement = euros_field("passation du marché demandée (€)", default=0)
    requested_steering = euros_field("pilotage demandé (€)", default=0)
    justification = models.TextField("justification des accompagnements", blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_applications",
        verbose_name="instructeur en charge",
    )
    recommendation = models.CharField(
        "recommandation",
        max_length=10,
        choices=[("accept", "Accepter"), ("reject", "Refuser")],
        blank=True,
    )
    motivation = models.TextField("motivation de la proposition", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="créé par",
    )
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)
    submitted_at = models.DateTimeField("déposé le", null=True, blank=True, editable=False)
    decided_at = models.DateTimeField("décidé le", null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "dossier"
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(fields=("grappe", "call"), name="application_one_per_call"),
            models.CheckConstraint(
                condition=Q(requested_procurement__gte=0) & Q(requested_steering__gte=0),
                name="application_requests_non_negative",
            ),
            # A dossier past the draft stage has been submitted at some point.
            models.CheckConstraint(
                condition=Q(status__in=ordered(NOT_SUBMITTED)) | Q(submitted_at__isnull=False),
                name="application_submitted_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=ordered(DECIDED)) | Q(decided_at__isnull=False),
                name="application_decided_has_date",
            ),
        ]
        indexes = [models.Index(fields=("call", "status"))]

    def __str__(self) -> str:
        return f"Dossier n° {self.pk} — {self.grappe}"


class HardwareRequest(models.Model):
    """Hardware support requested for one (small) gestionnaire of the grappe."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="hardware_requests"
    )
    organisation = models.ForeignKey(
        "grappes.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="gestionnaire",
    )
    amount = euros_field("montant demandé (€)")

    class Meta:
        verbose_name = "demande d'accompagnement matériel"
        verbose_name_plural = "demandes d'accompagnement matériel"
        constraints = [
            models.UniqueConstraint(
                fields=("application", "organisation"), name="hardware_request_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="hardware_request_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} : {self.amount} €"


class WorkflowLog(models.Model):
    """Append-only, hash-chained record of every status change (see workflow.py)."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="log_entries"
    )
    action = models.CharField("action", max_length=24, choices=Action.choices)
    from_status = models.CharField("statut de départ", max_length=24, choices=Status.choices)
    to_status = models.CharField("statut d'arrivée", max_length=24, choices=Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="acteur"
    )
    actor_email = models.EmailField("courriel de l'acteur")
    comment = models.TextField("commentaire", blank=True)
    created_at = models.DateTimeField("date")
    previous_hash = models.CharField("empreinte précédente", max_length=64)
    entry_hash = models.CharField("empreinte", max_length=64, unique=True)

    class Meta:
        verbose_name = "entrée du journal"
        verbose_name_plural = "journal des transitions"
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.created_at:%d/%m/%Y %H:%M} {self.action} ({self.actor_email})"


class ScoringCriterion(models.Model):
    """One criterion of a call's scoring grid, scored 0 to 5 and weighted."""

    call = models.ForeignKey(
        Call, on_delete=models.CASCADE, related_name="criteria", verbose_name="appel à projets"
    )
    label = models.CharField("critère", max_length=200)
    help_text = models.TextField("aide à la notation", blank=True)
    weight = models.PositiveSmallIntegerField("pondération", default=1)
    position = models.PositiveSmallIntegerField("ordre", default=0)

    class Meta:
        verbose_name = "critère de notation"
        verbose_name_plural = "grille de notation"
        ordering = ("call", "position", "id")
        constraints = [
            models.CheckConstraint(condition=Q(weight__gte=1), name="criterion_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.label} (coefficient {self.weight})"


class Review(models.Model):
    """One reviewer's scoring of a dossier; several reviews may exist, the average is shown."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reviews",
        verbose_name="évaluateur",
    )
    comment = models.TextField("appréciation", blank=True)
    score = models.DecimalField("note sur 100", max_digits=5, decimal_places=2)
    created_at = models.DateTimeField("date", auto_now_add=True)

    class Meta:
        verbose_name = "évaluation"
        ordering = ("created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("application", "reviewer"), name="review_one_per_reviewer"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=100), name="review_score_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} : {self.score}/100"


class ReviewScore(models.Model):
    """The 0-5 mark given to one criterion in a review."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(ScoringCriterion, on_delete=models.PROTECT, related_name="+")
    value = models.PositiveSmallIntegerField("note (0 à 5)")

    class Meta:
        verbose_name = "note"
        constraints = [
            models.UniqueConstraint(fields=("review", "criterion"), name="review_score_unique"),
            models.CheckConstraint(condition=Q(value__lte=5), name="review_score_value_0_5"),
        ]

    def __str__(self) -> str:
        return f"{self.criterion.label} : {self.value}/5"


class PrivateNote(models.Model):
    """An instruction note, never shown to applicants."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="private_notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="auteur"
    )
    text = models.TextField("note")
    created_at = models.DateTimeField("date", auto_now_add=True)

    class Meta:
        verbose_name = "note interne"
        verbose_name_plural = "notes internes"
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"Note de {self.author} du {self.created_at:%d/%m/%Y}"


class ComplementRequest(models.Model):
    """A request for complements sent to the applicant, with a deadline."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="complement_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="demandé par",
    )
    message = models.TextField("message")
    expected_items = models.TextField(
        "pièces ou informations attendues", help_text="Une par ligne."
    )
    deadline = models.DateField("date limite")
    created_at = models.DateTimeField("demandé le", auto_now_add=True)
    reminder_sent_at = models.DateTimeField("relance envoyée le", null=True, blank=True)
    answer = models.TextField("réponse", blank=True)
    answered_at = models.DateTimeField("répondu le", null=True, blank=True)

    class Meta:
        verbose_name = "demande de compléments"
        verbose_name_plural = "demandes de compléments"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"Compléments demandés le {self.created_at:%d/%m/%Y}"

    @property
    def expected_list(self) -> list[str]:
        """The expected items, one per non-empty line."""
        return [line.strip() for line in self.expected_items.splitlines() if line.strip()]


class ProposedAmount(models.Model):
    """The amount the instructeur proposes for one line of the quote (never above it)."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="proposed_amounts"
    )
    line = models.CharField(
        "ligne",
        max_length=40,
        help_text="structure:<FINESS>, hardware:<FINESS EJ>, procurement, steering",
    )
    label = models.CharField("libellé", max_length=255)
    computed = euros_field("montant calculé (€)")
    proposed = euros_field("montant proposé (€)")
    reason = models.TextField("motif de la réduction", blank=True)

    class Meta:
        verbose_name = "montant proposé"
        verbose_name_plural = "montants proposés"
        ordering = ("application", "id")
        constraints = [
            models.UniqueConstraint(fields=("application", "line"), name="proposed_line_unique"),
            models.CheckConstraint(condition=Q(proposed__gte=0), name="proposed_non_negative"),
            models.CheckConstraint(
                condition=Q(proposed__lte=F("computed")), name="proposed_not_above_computed"
            ),
            models.CheckConstraint(
                condition=Q(proposed=F("computed")) | ~Q(reason=""),
                name="proposed_reduction_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} : {self.proposed} €"


class Attachment(models.Model):
    """A file of a dossier, stored privately and served by a permission-checked view."""

    class Kind(models.TextChoices):
        # The grappe's founding document, whatever its legal form (workflow.missing_attachments
        # names the one of the declared form); the value predates the legal form.
        CONVENTION = "convention", "Acte fondateur de la grappe (convention, statuts)"
        QUOTE = "quote", "Devis"
        SHARE_PROOF = "share_proof", "Justificatif de part éligible"
        COMPLEMENT = "complement", "Complément"
        OTHER = "other", "Autre pièce"

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField("type de pièce", max_length=20, choices=Kind.choices)
    membership = models.ForeignKey(
        "grappes.GrappeMembership",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="proofs",
        verbose_name="ESSMS concerné",
    )
    file = models.FileField("fichier", max_length=255)
    original_name = models.CharField("nom du fichier", max_length=100)
    content_type = models.CharField("type MIME", max_length=100)
    size = models.PositiveIntegerField("taille (octets)")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="déposé par",
    )
    uploaded_at = models.DateTimeField("déposé le", auto_now_add=True)

    class Meta:
        verbose_name = "pièce jointe"
        verbose_name_plural = "pièces jointes"
        ordering = ("uploaded_at",)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} : {self.original_name}"


class Message(models.Model):
    """A message between the applicant and the instruction, visible to both."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="auteur"
    )
    text = models.TextField("message")
    created_at = models.DateTimeField("date", auto_now_add=True)

    class Meta:
        verbose_name = "message"
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"Message de {self.author} du {self.created_at:%d/%m/%Y}"


# --------------------------------------------------------------------------------------------
# Decisions (numbering, signatories, immutable letters) and their batch exports: decisions.py
# --------------------------------------------------------------------------------------------

NATIONAL_REGION_KEY = "00"  # region part of a national call's decision numbers


class Signatory(models.Model):
    """Who signs the decision letters: one row per ARS region, one for the CNSA (no region).

    Created for every region and for the CNSA by a data migration; edited in the admin. An issued
    decision keeps the name and title it was signed with (frozen in its snapshot)."""

    class Scope(models.TextChoices):
        REGIONAL = "regional", "ARS (appel régional)"
        NATIONAL = "national", "CNSA (appel national)"

    scope = models.CharField("portée", max_length=10, choices=Scope.choices)
    region = models.OneToOneField(
        "grappes.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signatory",
        verbose_name="région",
    )
    authority = models.CharField("autorité émettrice", max_length=255)
    name = models.CharField("nom du signataire", max_length=200)
    title = models.CharField("qualité du signataire", max_length=255)
    city = models.CharField("lieu de signature", max_length=100, blank=True)

    class Meta:
        verbose_name = "signataire des décisions"
        verbose_name_plural = "signataires des décisions"
        ordering = ("scope", "region__position")
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="regional") & Q(region__isnull=False))
                | (Q(scope="national") & Q(region__isnull=True)),
                name="signatory_region_iff_regional",
            ),
            models.UniqueConstraint(
                fields=("scope",), condition=Q(scope="national"), name="signatory_one_national"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.authority} — {self.name}"


class DecisionCounter(models.Model):
    """The last sequence number issued per campaign and region key ("00" for national).

    Locked with SELECT … FOR UPDATE and incremented in the transaction that inserts the
    decision, so numbers have neither gaps nor duplicates."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", verbose_name="campagne"
    )
    region_key = models.CharField("code région", max_length=2)
    last_sequence = models.PositiveIntegerField("dernier numéro attribué", default=0)

    class Meta:
        verbose_name = "compteur de décisions"
        verbose_name_plural = "compteurs de décisions"
        constraints = [
            models.UniqueConstraint(
                fields=("campaign", "region_key"), name="decision_counter_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign.year}-{self.region_key} : {self.last_sequence}"


class Decision(models.Model):
    """An issued decision: number, date, signatory, frozen snapshot and its PDF. Immutable."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Attribution"
        REJECTED = "rejected", "Refus"

    class LetterStatus(models.TextChoices):
        PENDING = "pending", "En cours de production"
        READY = "ready", "Prête"

    application = models.OneToOneField(
        Application, on_delete=models.PROTECT, related_name="decision", verbose_name="dossier"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="decisions", verbose_name="campagne"
    )
    region_key = models.CharField("code région", max_length=2)
    sequence = models.PositiveIntegerField("numéro d'ordre")
    number = models.CharField("numéro", max_length=20, unique=True)
    outcome = models.CharField("décision", max_length=10, choices=Outcome.choices)
    issued_on = models.DateField("date de la décision")
    issued_at = models.DateTimeField("émise le")
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="émise par",
    )
    signatory_name = models.CharField("signataire", max_length=200)
    signatory_title = models.CharField("qualité du signataire", max_length=255)
    beneficiary = models.CharField("bénéficiaire (porteur)", max_length=255)
    total = euros_field("montant total (€)")
    snapshot = models.JSONField("données de la décision (figées)")
    snapshot_sha256 = models.CharField("empreinte des données (SHA-256)", max_length=64)
    # The letter is rendered from the snapshot after commit, by a worker (issue #13): until
    # then ``pdf`` and ``pdf_sha256`` are empty. They are written once, by a conditional
    # update (``decision_letter_render``), the only write an issued decision accepts.
    letter_status = models.CharField(
        "lettre", max_length=10, choices=LetterStatus.choices, default=LetterStatus.PENDING
    )
    letter_rendered_at = models.DateTimeField("lettre produite le", null=True, blank=True)
    pdf = models.FileField("lettre PDF", max_length=255, blank=True)
    pdf_sha256 = models.CharField("empreinte du PDF (SHA-256)", max_length=64, blank=True)
    verification_code = models.CharField(
        "code de vérification",
        max_length=10,
        unique=True,
        editable=False,
        help_text="Aléatoire (50 bits), imprimé sur la lettre ; requis avec le numéro "
        "pour vérifier la décision en ligne.",
    )

    class Meta:
        verbose_name = "décision"
        ordering = ("-issued_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("campaign", "region_key", "sequence"), name="decision_sequence_unique"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="decision_total_non_negative"),
            models.CheckConstraint(
                condition=(Q(letter_status="pending") & Q(pdf="") & Q(pdf_sha256=""))
                | (Q(letter_status="ready") & ~Q(pdf="") & ~Q(pdf_sha256="")),
                name="decision_letter_ready_iff_pdf",
            ),
        ]
        indexes = [
            models.Index(fields=("issued_on",)),
            # The sweep looks for letters still pending: a small partial index.
            models.Index(
                fields=("issued_at",),
                condition=Q(letter_status="pending"),
                name="decision_letter_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Décision n° {self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        # Immutability is a legal property of an issued decision, not a business rule: refuse
        # any rewrite, whatever code path tries it (admin, shell, a future service).
        if not self._state.adding:
            raise ValueError("Une décision émise ne peut pas être modifiée.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("Une décision émise ne peut pas être supprimée.")

    @property
    def letter_ready(self) -> bool:
        """Whether the PDF letter has been rendered and stored (else: being generated)."""
        return self.letter_status == self.LetterStatus.READY


class DecisionExport(models.Model):
    """A batch export of decision PDFs (ZIP + CSV manifest), built by a Celery task."""

    class Status(models.TextChoices):
        PENDING = "pending", "En attente"
        RUNNING = "running", "En cours"
        DONE = "done", "Terminé"
        FAILED = "failed", "Échec"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="decision_exports",
        verbose_name="demandé par",
    )
    decisions = models.ManyToManyField(Decision, related_name="+", verbose_name="décisions")
    filters = models.JSONField("filtres appliqués", default=dict, blank=True)
    status = models.CharField("état", max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField("nombre de décisions", default=0)
    done = models.PositiveIntegerField("décisions traitées", default=0)
    archive = models.FileField("archive ZIP", max_length=255, blank=True)
    archive_size = models.PositiveBigIntegerField("taille de l'archive (octets)", default=0)
    error = models.TextField("erreur", blank=True)
    created_at = models.DateTimeField("demandé le", auto_now_add=True)
    started_at = models.DateTimeField("commencé le", null=True, blank=True)
    heartbeat_at = models.DateTimeField("dernier signe de vie", null=True, blank=True)
    finished_at = models.DateTimeField("terminé le", null=True, blank=True)

    class Meta:
        verbose_name = "export de décisions"
        verbose_name_plural = "exports de décisions"
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(done__lte=F("total")), name="export_done_le_total"),
        ]

    def __str__(self) -> str:
        return f"Export n° {self.pk} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        """Progress in whole percent (100 only once the archive is assembled)."""
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, self.done * 100 // self.total)
