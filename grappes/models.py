"""Referential (regions, départements, CASF items, FINESS categories) and the grappes.

Identifiers are validated in ``essms_portal.identifiers``; database constraints keep what must
never be false (unique FINESS, shares in (0, 1]).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from essms_portal.identifiers import validate_finess, validate_siren, validate_siret


class Region(models.Model):
    """One of the 18 ARS regions, keyed by its INSEE code."""

    code = models.CharField("code INSEE", max_length=2, primary_key=True)
    name = models.CharField("nom", max_length=100)
    reduced_grappe_minimum = models.BooleanField(
        "minimum de grappe réduit",
        default=False,
        help_text="Corse et outre-mer : seuil de taille de grappe réduit (8 ESSMS par défaut).",
    )
    position = models.PositiveSmallIntegerField("ordre d'affichage", default=0)

    class Meta:
        verbose_name = "région"
        ordering = ("position", "code")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Departement(models.Model):
    """A département (INSEE code); overseas collectivities without an ARS have no region."""

    code = models.CharField("code INSEE", max_length=3, primary_key=True)
    name = models.CharField("nom", max_length=100)
    region = models.ForeignKey(
        Region,
        verbose_name="région",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="departements",
    )

    class Meta:
        verbose_name = "département"
        ordering = ("code",)

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class CasfCategory(models.Model):
    """One item of CASF article L312-1, I (1° to 17°)."""

    code = models.CharField("item", max_length=4, primary_key=True)
    number = models.PositiveSmallIntegerField("numéro", unique=True)
    label = models.CharField("libellé", max_length=255)
    # A default, not the rule: quotes read the exemptions of the dossier's campaign
    # (``Campaign.segur_exempt_items``); this flag only seeds the first campaign created
    # (``applications.campaigns.campaign_segur_exempt_defaults``).
    segur_exempt = models.BooleanField(
        "exempté par défaut pour une nouvelle campagne",
        default=False,
        help_text="Exemption de l'exigence Ségur proposée à la première campagne créée (les "
        "suivantes reprennent celles de la campagne précédente) : AHI (8°) et protection "
        "juridique (14°, 15°) par défaut. Les devis appliquent les exemptions de la campagne.",
    )

    class Meta:
        verbose_name = "catégorie CASF L312-1"
        verbose_name_plural = "catégories CASF L312-1"
        ordering = ("number",)

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class FinessCategory(models.Model):
    """A FINESS establishment category (TRE_R66) and the CASF item it falls under, if any."""

    code = models.CharField("code", max_length=4, primary_key=True)
    label = models.CharField("libellé", max_length=255)
    casf_item = models.ForeignKey(
        CasfCategory,
        verbose_name="item L312-1",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="finess_categories",
        help_text="Vide : la catégorie n'est pas un ESSMS et n'est pas éligible.",
    )
    home_care = models.BooleanField(
        "service à domicile",
        default=False,
        help_text="Peut être financé au prorata des heures éligibles.",
    )

    class Meta:
        verbose_name = "catégorie FINESS"
        verbose_name_plural = "catégories FINESS"
        ordering = ("code",)

    def __str__(self) -> str:
        return f"{self.code} — {self.label}"

    @property
    def is_essms(self) -> bool:
        """True when the category falls under an item of CASF L312-1, I."""
        return self.casf_item_id is not None


class Organisation(models.Model):
    """An organisme gestionnaire: a legal entity (FINESS EJ) running ESSMS."""

    finess = models.CharField(
        "FINESS juridique (EJ)", max_length=9, unique=True, validators=[validate_finess]
    )
    siren = models.CharField("SIREN", max_length=9, blank=True, validators=[validate_siren])
    name = models.CharField("raison sociale", max_length=255)
    departement = models.ForeignKey(
        Departement,
        verbose_name="département",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="organisations",
    )
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)

    class Meta:
        verbose_name = "organisme gestionnaire"
        verbose_name_plural = "organismes gestionnaires"
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.finess})"


class OrganisationMember(models.Model):
    """A user acting for an organisation; pending until confirmed by a member or staff."""

    class Status(models.TextChoices):
        PENDING = "pending", "En attente de confirmation"
        CONFIRMED = "confirmed", "Confirmé"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="members", verbose_name="organisme"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="organisation_memberships",
        verbose_name="utilisateur",
    )
    status = models.CharField(
        "statut", max_length=10, choices=Status.choices, default=Status.PENDING
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="confirmé par",
    )
    created_at = models.DateTimeField("demandé le", auto_now_add=True)
    confirmed_at = models.DateTimeField("confirmé le", null=True, blank=True)

    class Meta:
        verbose_name = "membre d'un organisme"
        verbose_name_plural = "membres des organismes"
        constraints = [
            models.UniqueConstraint(
                fields=("organisation", "user"), name="organisation_member_unique"
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(confirmed_at__isnull=False),
                name="organisation_member_confirmed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.organisation}"


class Structure(models.Model):
    """An establishment (FINESS géographique, ET); an ESSMS when its category is under L312-1."""

    class Source(models.TextChoices):
        FINESS = "finess", "Extrait FINESS"
        MANUAL = "manual", "Saisie manuelle"

    finess = models.CharField(
        "FINESS géographique (ET)", max_length=9, unique=True, validators=[validate_finess]
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name="organisme gestionnaire",
        on_delete=models.PROTECT,
        related_name="structures",
    )
    siret = models.CharField("SIRET", max_length=14, blank=True, validators=[validate_siret])
    name = models.CharField("nom", max_length=255)
    long_name = models.CharField("raison sociale longue", max_length=255, blank=True)
    category = models.ForeignKey(
        FinessCategory,
        verbose_name="catégorie FINESS",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="structures",
    )
    # The raw code is kept even when it is absent from the referential (unknown category).
    category_code = models.CharField("code catégorie", max_length=4, blank=True)
    departement = models.ForeignKey(
        Departement,
        verbose_name="département",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="structures",
    )
    address = models.CharField("adresse", max_length=255, blank=True)
    postal_line = models.CharField("code postal et commune", max_length=100, blank=True)
    capacity = models.PositiveIntegerField("capacité", null=True, blank=True)
    eligible = models.BooleanField(
        "ESSMS éligible",
        default=False,
        help_text="Calculé depuis la catégorie FINESS (CASF L312-1, I).",
    )
    closed = models.BooleanField("fermé", default=False)
    source = models.CharField(
        "origine", max_length=10, choices=Source.choices, default=Source.FINESS
    )
    lambert_x = models.DecimalField(
        "X Lambert 93", max_digits=12, decimal_places=2, null=True, blank=True
    )
    lambert_y = models.DecimalField(
        "Y Lambert 93", max_digits=12, decimal_places=2, null=True, blank=True
    )
    opened_on = models.DateField("ouvert le", null=True, blank=True)
    # Not in the FINESS extract: set in the admin by the programme team, on evidence, because
    # it lifts a blocking funding check (the GHT exception, domain.md §5b). Empty: no GHT.
    ght = models.CharField(
        "groupement hospitalier de territoire (GHT)",
        max_length=200,
        blank=True,
        help_text="Nom du GHT auquel l'établissement est rattaché, vide sinon. Un établissement "
        "rattaché à un GHT peut utiliser une solution DUI référencée Ségur dans le couloir "
        "hospitalier. Absent de l'extrait FINESS : renseigné par l'équipe du programme.",
    )
    finess_updated_on = models.DateField("mise à jour FINESS", null=True, blank=True)
    # Written by the FINESS import (PostgreSQL path): hash of the accepted line, epoch of
    # updated_at, FINESS EJ, hash of the geolocation line. A re-import skips a line whose hash
    # matches while the row is as that import left it (grappes.finess.postgres).
    # NULL, not "": no digest (never imported on PostgreSQL, or the line had a warning).
    finess_digest = models.CharField(  # noqa: DJ001
        "empreinte de la ligne FINESS", max_length=80, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    class Meta:
        verbose_name = "établissement (ESSMS)"
        verbose_name_plural = "établissements (ESSMS)"
        ordering = ("finess",)
        indexes = [models.Index(fields=("organisation", "eligible"))]

    def __str__(self) -> str:
        return f"{self.name} ({self.finess})"


class DuiSolution(models.Model):
    """A DUI software solution, with its Ségur (SONS) referencing in each corridor.

    ``segur_referenced`` is the social and medico-social corridor, the one the Ségur
    requirement asks of an ESSMS (and the "SONS" of the usage exemptions).
    ``segur_hospital_referenced`` is the hospital corridor, which only an ESSMS attached to a
    GHT may use instead (the GHT exception, domain.md §5b). One fact per field: nothing is
    derived from the other.
    """

    editor = models.CharField("éditeur", max_length=200)
    product = models.CharField("solution", max_length=200)
    segur_referenced = models.BooleanField(
        "référencée Ségur (couloir médico-social)",
        default=False,
        help_text="Référencement Ségur (SONS) du couloir social et médico-social : celui "
        "qu'exige le financement d'un ESSMS.",
    )
    segur_hospital_referenced = models.BooleanField(
        "référencée Ségur (couloir hospitalier)",
        default=False,
        help_text="Acceptée pour un établissement rattaché à un GHT (exception GHT), s'il "
        "répond aux exigences médico-sociales.",
    )
    segur_reference = models.CharField("référence Ségur", max_length=100, blank=True)
    active = models.BooleanField("proposée aux porteurs", default=True)

    class Meta:
        verbose_name = "solution DUI"
        verbose_name_plural = "solutions DUI"
        ordering = ("editor", "product")
        constraints = [
            models.UniqueConstraint(fields=("editor", "product"), name="dui_solution_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.editor} — {self.product} ({self.segur_label})"

    @property
    def segur_label(self) -> str:
        """The solution's Ségur referencing in words, by corridor."""
        if self.segur_referenced:
            return "référencée Ségur"
        if self.segur_hospital_referenced:
            return "référencée Ségur, couloir hospitalier seulement"
        return "non référencée Ségur"


class LegalForm(models.TextChoices):
    """The legal form of a grappe (seed 003, domain.md §5b); each has its founding document."""

    GCSMS = "gcsms", "Groupement de coopération sociale ou médico-sociale (GCSMS)"
    COOPERATION_GROUP = "cooperation_group", "Autre groupement de coopération"
    CONVENTION = "convention", "Convention entre gestionnaires"


# The founding document each legal form attaches to the dossier (its required attachment).
FOUNDING_DOCUMENTS: dict[str, str] = {
    LegalForm.GCSMS: "la convention constitutive du GCSMS",
    LegalForm.COOPERATION_GROUP: "les statuts du groupement",
    LegalForm.CONVENTION: "la convention de grappe signée",
}


class Grappe(models.Model):
    """A cluster of ESSMS led by a porteur organisation."""

    name = models.CharField("nom", max_length=255)
    # Defaults to a convention: the founding document every dossier required before the form
    # was declared (so existing grappes keep the attachment they already gave).
    legal_form = models.CharField(
        "forme juridique de la grappe",
        max_length=20,
        choices=LegalForm.choices,
        default=LegalForm.CONVENTION,
        help_text="Son acte fondateur est une pièce obligatoire du dossier : convention "
        "constitutive du GCSMS, statuts du groupement ou convention de grappe.",
    )
    porteur = models.ForeignKey(
        Organisation,
        verbose_name="porteur",
        on_delete=models.PROTECT,
        related_name="grappes_portees",
    )
    description = models.TextField("description du projet", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="créée par",
    )
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)

    class Meta:
        verbose_name = "grappe"
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=Q(legal_form__in=["gcsms", "cooperation_group", "convention"]),
                name="grappe_legal_form_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def founding_document(self) -> str:
        """The founding document of the grappe's legal form, as a French phrase."""
        # TextChoices members are str: the stored value finds its member's entry.
        return FOUNDING_DOCUMENTS.get(self.legal_form, FOUNDING_DOCUMENTS[LegalForm.CONVENTION])


class GrappeOrganisation(models.Model):
    """An organisation taking part in a grappe, and its confirmation of participation."""

    grappe = models.ForeignKey(Grappe, on_delete=models.CASCADE, related_name="organisations")
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="grappe_participations",
        verbose_name="organisme",
    )
    confirmed_at = models.DateTimeField("participation confirmée le", null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="confirmée par",
    )

    class Meta:
        verbose_name = "organisme membre de la grappe"
        verbose_name_plural = "organismes membres de la grappe"
        constraints = [
            models.UniqueConstraint(
                fields=("grappe", "organisation"), name="grappe_organisation_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} dans {self.grappe}"


class ProjectType(models.TextChoices):
    """What an ESSMS does with its DUI in the project."""

    ACQUISITION = "acquisition", "Acquisition d'une solution DUI"
    UPGRADE = "upgrade", "Mise en conformité d'un DUI existant"


class GrappeMembership(models.Model):
    """One ESSMS in a grappe, with its project type, solution and eligible share."""

    grappe = models.ForeignKey(Grappe, on_delete=models.CASCADE, related_name="memberships")
    structure = models.ForeignKey(
        Structure, on_delete=models.PROTECT, related_name="memberships", verbose_name="ESSMS"
    )
    project_type = models.CharField(
        "type de projet",
        max_length=12,
        choices=ProjectType.choices,
        default=ProjectType.ACQUISITION,
    )
    solution = models.ForeignKey(
        DuiSolution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name="solution DUI",
    )
    eligible_share = models.DecimalField(
        "part éligible",
        max_digits=5,
        decimal_places=4,
        default=Decimal(1),
        help_text="Services à domicile : part des heures éligibles, entre 0 (exclu) et 1.",
    )
    created_at = models.DateTimeField("ajouté le", auto_now_add=True)

    class Meta:
        verbose_name = "ESSMS de la grappe"
        verbose_name_plural = "ESSMS de la grappe"
        ordering = ("grappe", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("grappe", "structure"), name="grappe_membership_unique"
            ),
            models.CheckConstraint(
                condition=Q(eligible_share__gt=0) & Q(eligible_share__lte=1),
                name="grappe_membership_share_in_0_1",
            ),
            models.CheckConstraint(
                condition=Q(project_type__in=["acquisition", "upgrade"]),
                name="grappe_membership_project_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.structure} — {self.get_project_type_display()}"


class GrappeJoinRequest(models.Model):
    """An isolated gestionnaire asks to join a grappe whose dossier is still a draft."""

    grappe = models.ForeignKey(Grappe, on_delete=models.CASCADE, related_name="join_requests")
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="join_requests",
        verbose_name="organisme",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="demandé par",
    )
    message = models.TextField("message au porteur", blank=True)
    invitation = models.ForeignKey(
        "GrappeInvitation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="forwarded_requests",
        verbose_name="invitation transférée",
        help_text="Demande faite depuis le lien d'une invitation adressée à une autre personne.",
    )
    created_at = models.DateTimeField("demandé le", auto_now_add=True)
    decided_at = models.DateTimeField("traité le", null=True, blank=True)
    accepted = models.BooleanField("acceptée", null=True, blank=True)

    class Meta:
        verbose_name = "demande d'adhésion à une grappe"
        verbose_name_plural = "demandes d'adhésion aux grappes"
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("grappe", "organisation"),
                condition=Q(decided_at__isnull=True),
                name="grappe_join_request_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} demande à rejoindre {self.grappe}"


class GrappeInvitation(models.Model):
    """An invitation, by e-mail, for another gestionnaire to join a grappe (valid 14 days)."""

    grappe = models.ForeignKey(Grappe, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField("adresse invitée")
    token = models.CharField("jeton", max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="invité par",
    )
    created_at = models.DateTimeField("envoyée le", auto_now_add=True)
    expires_at = models.DateTimeField("expire le")
    accepted_at = models.DateTimeField("acceptée le", null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="acceptée par",
    )
    accepted_organisation = models.ForeignKey(
        Organisation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="organisme entré dans la grappe",
    )

    class Meta:
        verbose_name = "invitation à une grappe"
        verbose_name_plural = "invitations aux grappes"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"Invitation de {self.email} dans {self.grappe}"


class FinessImportJob(models.Model):
    """An import of the FINESS extract uploaded in the admin and run by a Celery worker.

    The worker updates ``progress`` (0 to 100) as it goes; the page that started the import
    polls it. The uploaded file stays in the private storage for audit.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "En attente"
        RUNNING = "running", "En cours"
        DONE = "done", "Terminé"
        FAILED = "failed", "Échec"

    file = models.FileField("fichier", upload_to="finess/%Y/%m/", max_length=255)
    original_name = models.CharField("nom du fichier déposé", max_length=255)
    size = models.PositiveBigIntegerField("taille (octets)", default=0)
    status = models.CharField(
        "statut", max_length=10, choices=Status.choices, default=Status.PENDING
    )
    progress = models.PositiveSmallIntegerField("progression (%)", default=0)
    lines_read = models.PositiveIntegerField("lignes lues", default=0)
    created = models.PositiveIntegerField("établissements créés", default=0)
    updated = models.PositiveIntegerField("établissements mis à jour", default=0)
    unchanged = models.PositiveIntegerField("établissements inchangés", default=0)
    rejected = models.PositiveIntegerField("lignes rejetées", default=0)
    report = models.TextField("compte rendu", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="lancé par",
    )
    created_at = models.DateTimeField("déposé le", auto_now_add=True)
    started_at = models.DateTimeField("commencé le", null=True, blank=True)
    finished_at = models.DateTimeField("terminé le", null=True, blank=True)

    class Meta:
        verbose_name = "import FINESS"
        verbose_name_plural = "imports FINESS"
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="finess_import_job_progress_le_100"
            ),
        ]

    def __str__(self) -> str:
        return f"Import FINESS « {self.original_name} » ({self.get_status_display()})"
