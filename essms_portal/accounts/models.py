"""The portal's user: e-mail login, one role and, for ARS roles, one region."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    """Who a user is for the programme (domain.md §2)."""

    GESTIONNAIRE = "gestionnaire", "Gestionnaire"
    ARS_INSTRUCTEUR = "ars_instructeur", "Instructeur ARS"
    ARS_VALIDEUR = "ars_valideur", "Valideur ARS"
    CNSA_AGENT = "cnsa_agent", "Agent CNSA"
    ADMINISTRATOR = "administrator", "Administrateur"


ARS_ROLES = frozenset({Role.ARS_INSTRUCTEUR, Role.ARS_VALIDEUR})


class UserManager(DjangoUserManager["User"]):
    """Creates users keyed by e-mail (there is no username)."""

    use_in_migrations = True

    def _create_user_by_email(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("Une adresse électronique est obligatoire.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user_by_email(email, password, **extra)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("role", Role.ADMINISTRATOR)
        return self._create_user_by_email(email, password, **extra)


class User(AbstractUser):
    """A person using the portal, identified by e-mail."""

    username = None  # type: ignore[assignment]
    first_name = models.CharField("prénom", max_length=150, blank=True)
    last_name = models.CharField("nom", max_length=150, blank=True)
    email = models.EmailField("adresse électronique", unique=True)
    role = models.CharField("rôle", max_length=20, choices=Role.choices, default=Role.GESTIONNAIRE)
    region = models.ForeignKey(
        "grappes.Region",
        verbose_name="région (ARS)",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text="Obligatoire pour les rôles ARS : la région dont l'agent instruit les dossiers.",
    )
    title = models.CharField(
        "fonction",
        max_length=200,
        blank=True,
        help_text="Affichée sous la signature des décisions.",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()  # type: ignore[misc]

    class Meta:
        verbose_name = "utilisateur"
        verbose_name_plural = "utilisateurs"
        constraints = [
            # An ARS agent without a region would see nothing or, worse, everything.
            models.CheckConstraint(
                condition=~Q(role__in=[Role.ARS_INSTRUCTEUR, Role.ARS_VALIDEUR])
                | Q(region__isnull=False),
                name="user_ars_role_has_region",
            ),
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} <{self.email}>" if full else self.email


class LoginEvent(models.Model):
    """One authentication event, for the administrators' audit (essms_portal.accounts.audit).

    Kept ``LOGIN_AUDIT_RETENTION_DAYS`` days (purged daily by Celery beat)."""

    class Kind(models.TextChoices):
        LOGIN = "login", "Connexion"
        LOGIN_FAILED = "login_failed", "Échec de connexion"
        LOGOUT = "logout", "Déconnexion"
        PASSWORD_CHANGED = "password_changed", "Mot de passe modifié"
        PASSWORD_RESET = "password_reset", "Mot de passe réinitialisé"
        MFA_ENROLLED = "mfa_enrolled", "Double authentification activée"
        MFA_REMOVED = "mfa_removed", "Double authentification retirée"

    kind = models.CharField("événement", max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        User,
        verbose_name="utilisateur",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="login_events",
    )
    identifier = models.CharField(
        "identifiant saisi",
        max_length=254,
        blank=True,
        help_text="L'adresse saisie au formulaire, même si aucun compte ne lui correspond.",
    )
    ip_address = models.GenericIPAddressField("adresse IP", null=True, blank=True)
    user_agent = models.CharField("navigateur", max_length=500, blank=True)
    created_at = models.DateTimeField("date", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "événement de connexion"
        verbose_name_plural = "journal des connexions"
        ordering = ("-created_at", "-pk")
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M}" if self.created_at else ""
        return f"{self.get_kind_display()} — {self.identifier or '?'} ({when})"
