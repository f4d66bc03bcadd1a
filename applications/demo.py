"""The small demo dataset loaded by ``make demo`` (and reused by tests).

A campaign 2023 with a regional call per region and a national call, three organisations,
a grappe of 16 ESSMS in Île-de-France, a draft application on the regional call, and one
account per role. The password is for local demonstration only (see README).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.db import transaction

from essms_portal.accounts.models import Role, User
from essms_portal.identifiers import finess_with_key, siren_with_key, siret_with_key
from grappes.models import (
    CasfCategory,
    Departement,
    DuiSolution,
    FinessCategory,
    Grappe,
    GrappeMembership,
    GrappeOrganisation,
    Organisation,
    OrganisationMember,
    ProjectType,
    Region,
    Structure,
)

from .models import Application, Call, Campaign

DEMO_PASSWORD = "demo-esms-2023!"  # noqa: S105 - local demo only, printed in the README
DEMO_YEAR = 2023

DEMO_ACCOUNTS: tuple[tuple[str, str, str | None, str], ...] = (
    ("admin@demo.esms.fr", Role.ADMINISTRATOR, None, "Administratrice"),
    ("porteur@demo.esms.fr", Role.GESTIONNAIRE, None, "Directeur, Association Horizon"),
    ("membre@demo.esms.fr", Role.GESTIONNAIRE, None, "Directrice, Fondation Les Tilleuls"),
    ("instructeur@demo.esms.fr", Role.ARS_INSTRUCTEUR, "11", "Chargée de mission ARS"),
    ("valideur@demo.esms.fr", Role.ARS_VALIDEUR, "11", "Directeur de l'autonomie, ARS"),
    ("cnsa@demo.esms.fr", Role.CNSA_AGENT, None, "Chef de projet ESMS numérique, CNSA"),
)

# (département, category) for the 16 ESSMS of the demo grappe.
DEMO_STRUCTURES: tuple[tuple[str, str], ...] = (
    ("75", "500"),
    ("75", "500"),
    ("75", "354"),
    ("75", "255"),
    ("92", "500"),
    ("92", "246"),
    ("92", "209"),
    ("93", "214"),
    ("93", "500"),
    ("93", "182"),
    ("94", "500"),
    ("94", "255"),
    ("77", "252"),
    ("78", "500"),
    ("91", "460"),
    ("95", "340"),
)


@dataclass(frozen=True)
class DemoSummary:
    """What the seeding created."""

    created: bool
    accounts: int
    structures: int
    calls: int


def _account(email: str, role: str, region: str | None, title: str) -> User:
    """Create a verified demo account (idempotent)."""
    user, created = User.objects.get_or_create(
        email=email,
        defaults={
            "role": role,
            "region_id": region,
            "title": title,
            "is_staff": role == Role.ADMINISTRATOR,
            "is_superuser": role == Role.ADMINISTRATOR,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _organisation(number: int, name: str, department: str) -> Organisation:
    """An organisation with a valid FINESS EJ and SIREN derived from ``number``."""
    finess = finess_with_key(f"{department}{number:06d}"[:8])
    org, _ = Organisation.objects.get_or_create(
        finess=finess,
        defaults={
            "name": name,
            "siren": siren_with_key(f"77{number:06d}"),
            "departement_id": department,
        },
    )
    return org


def _campaign() -> Campaign:
    campaign, _ = Campaign.objects.get_or_create(
        year=DEMO_YEAR, defaults={"name": "Campagne ESMS numérique 2023"}
    )
    campaign.segur_exempt_items.set(CasfCategory.objects.filter(segur_exempt=True))
    return campaign


def _calls(campaign: Campaign) -> int:
    """A regional call per ARS region and one national call, open for the whole year."""
    opens, closes = datetime.date(DEMO_YEAR, 1, 16), datetime.date(DEMO_YEAR + 3, 12, 31)
    for region in Region.objects.all():
        Call.objects.get_or_create(
            campaign=campaign,
            scope=Call.Scope.REGIONAL,
            region=region,
            defaults={
                "name": f"Appel à projets régional {DEMO_YEAR} — {region.name}",
                "opens_on": opens,
                "closes_on": closes,
                "envelope": Decimal(4_000_000),
            },
        )
    Call.objects.get_or_create(
        campaign=campaign,
        scope=Call.Scope.NATIONAL,
        defaults={
            "name": f"Appel à projets national {DEMO_YEAR} (grappes de 50 ESSMS et plus)",
            "opens_on": opens,
            "closes_on": closes,
            "envelope": Decimal(16_700_000),
        },
    )
    from .services import call_default_grid

    for call in Call.objects.filter(campaign=campaign):
        call_default_grid(call=call)
    return Call.objects.filter(campaign=campaign).count()


def _solutions() -> list[DuiSolution]:
    rows = (
        ("Editeur Alpha", "Alpha DUI", True),
        ("Editeur Beta", "Beta Social", True),
        ("Editeur Gamma", "Gamma Legacy", False),
    )
    return [
        DuiSolution.objects.get_or_create(
            editor=editor,
            product=product,
            defaults={
                "segur_referenced": segur,
                "segur_reference": f"SONS-{product[:4].upper()}" if segur else "",
            },
        )[0]
        for editor, product, segur in rows
    ]


@transaction.atomic
def seed_small() -> DemoSummary:
    """Load the small demo dataset; a second run creates nothing."""
    if Campaign.objects.filter(year=DEMO_YEAR).exists():
        return DemoSummary(
            created=False,
            accounts=User.objects.count(),
            structures=Structure.objects.count(),
            calls=Call.objects.count(),
        )
    accounts = {
        email: _account(email, role, region, title) for email, role, region, title in DEMO_ACCOUNTS
    }
    horizon = _organisation(1, "Association Horizon", "75")
    tilleuls = _organisation(2, "Fondation Les Tilleuls", "92")
    _organisation(3, "Centre communal d'action sociale de Montreuil", "93")
    for user, org in (
        (accounts["porteur@demo.esms.fr"], horizon),
        (accounts["membre@demo.esms.fr"], tilleuls),
    ):
        OrganisationMember.objects.get_or_create(
            organisation=org,
            user=user,
            defaults={
                "status": OrganisationMember.Status.CONFIRMED,
                "confirmed_at": datetime.datetime.now(tz=datetime.UTC),
            },
        )
    campaign = _campaign()
    calls = _calls(campaign)
    solutions = _solutions()
    grappe = Grappe.objects.create(
        name="Grappe DUI Île-de-France Est",
        porteur=horizon,
        description="Déploiement d'un DUI commun à 16 ESSMS de deux gestionnaires.",
        created_by=accounts["porteur@demo.esms.fr"],
    )
    for org in (horizon, tilleuls):
        GrappeOrganisation.objects.create(grappe=grappe, organisation=org)
    categories = {c.code: c for c in FinessCategory.objects.all()}
    departements = {d.code: d for d in Departement.objects.all()}
    for index, (department, category) in enumerate(DEMO_STRUCTURES, start=1):
        org = horizon if index <= 10 else tilleuls
        finess = finess_with_key(f"{department}{index + 100:06d}"[:8])
        structure = Structure.objects.create(
            finess=finess,
            organisation=org,
            name=f"{categories[category].label[:60]} n° {index}",
            siret=siret_with_key(f"{org.siren}{index:04d}"),
            category=categories[category],
            category_code=category,
            departement=departements[department],
            capacity=20 + index * 3,
            eligible=categories[category].is_essms,
        )
        GrappeMembership.objects.create(
            grappe=grappe,
            structure=structure,
            project_type=ProjectType.UPGRADE if index % 4 == 0 else ProjectType.ACQUISITION,
            solution=solutions[index % 2],
            eligible_share=Decimal("0.6") if category in ("209", "460") else Decimal(1),
        )
    Application.objects.create(
        grappe=grappe,
        call=Call.objects.get(campaign=campaign, region_id="11"),
        requested_procurement=Decimal(15_000),
        requested_steering=Decimal(80_000),
        justification="Assistance à maîtrise d'ouvrage mutualisée et marché commun.",
        created_by=accounts["porteur@demo.esms.fr"],
    )
    return DemoSummary(
        created=True, accounts=len(accounts), structures=Structure.objects.count(), calls=calls
    )
