"""The small demo dataset loaded by ``make demo`` (and reused by tests).

A campaign 2023 with a regional call per region and a national call, organisations, one
account per role, and a dossier at every step a visitor wants to walk (README, "Parcours"):

- the porteur's draft (grappe of 16 ESSMS in Île-de-France, two gestionnaires);
- a dossier whose decision is issued and notified (numbered PDF letter, verification code:
  ``/verifier/``);
- a refused dossier whose decision waits for the CNSA to issue it;
- a dossier proposed for acceptance beyond its call's envelope (the valideur cannot accept it;
  a CNSA agent overrides with a written reason);
- a dossier of Auvergne-Rhône-Alpes, proposed, for that region's ARS agents (region scoping);
- a dossier submitted on the national call, for the CNSA (one agent instructs, the other
  decides: four eyes);
- a pending request to act for the porteur's organisation, and a pending invitation to the
  draft's grappe for a gestionnaire with a verified address.

Everything after the referential (organisations, ESSMS, calls) is built through the services a
user's clicks call (``grappes.services``, ``applications.services``, ``workflow.transition``,
``decisions.decision_issue``), so the data obeys every rule and every act is in the dossiers'
hash-chained logs. Each journey is created once, keyed by its grappe's name (or its account),
so a second run creates nothing and an older demo database gains the journeys it lacks. The
password is for local demonstration only (see README).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from allauth.mfa.utils import is_mfa_enabled
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse

from essms_portal.accounts.models import Role, User
from essms_portal.accounts.security import is_agent
from essms_portal.identifiers import finess_with_key, siren_with_key, siret_with_key
from grappes.models import (
    CasfCategory,
    Departement,
    DuiSolution,
    FinessCategory,
    Grappe,
    GrappeInvitation,
    GrappeMembership,
    GrappeOrganisation,
    LegalForm,
    Organisation,
    OrganisationMember,
    ProjectType,
    Region,
    Structure,
)
from grappes.permissions import grappe_is_locked
from grappes.services import (
    ServiceError,
    grappe_create,
    grappe_invite,
    grappe_membership_add,
    organisation_join,
    organisation_member_confirm,
)

from ..decisions.services import (
    decision_issue,
    portal_url,
    verification_code_display,
    verification_url,
)
from ..dossiers.services import (
    application_create,
    application_submit,
    application_update,
    attachment_add,
)
from ..errors import DossierError
from ..instruction.selectors import call_envelope_use
from ..instruction.services import (
    application_assign,
    call_default_grid,
    proposal_lines,
    proposal_save,
    review_save,
)
from ..models import Application, Call, Campaign, Decision
from ..workflow import (
    Action,
    TransitionError,
    application_proposed_total,
    envelope_exceeded,
    transition,
)

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-esms-2023!"  # noqa: S105 - local demo only, printed in the README
# MFA is mandatory for agents: the demo agent accounts share this pre-enrolled TOTP secret
# (base32; add it to an authenticator app, or `oathtool --totp -b <secret>`). Demo only.
DEMO_TOTP_SECRET = "ESMSDEMOESMSDEMOESMSDEMOESMSDEMO"  # noqa: S105
DEMO_YEAR = 2023
OTHER_REGION = "84"  # Auvergne-Rhône-Alpes: the region of the second pair of ARS agents

DEMO_ACCOUNTS: tuple[tuple[str, str, str | None, str], ...] = (
    ("admin@demo.esms.fr", Role.ADMINISTRATOR, None, "Administratrice"),
    ("porteur@demo.esms.fr", Role.GESTIONNAIRE, None, "Directeur, Association Horizon"),
    ("membre@demo.esms.fr", Role.GESTIONNAIRE, None, "Directrice, Fondation Les Tilleuls"),
    ("instructeur@demo.esms.fr", Role.ARS_INSTRUCTEUR, "11", "Chargée de mission ARS"),
    ("valideur@demo.esms.fr", Role.ARS_VALIDEUR, "11", "Directeur de l'autonomie, ARS"),
    ("cnsa@demo.esms.fr", Role.CNSA_AGENT, None, "Chef de projet ESMS numérique, CNSA"),
    ("cnsa2@demo.esms.fr", Role.CNSA_AGENT, None, "Responsable du financement, CNSA"),
    (
        "instructeur-ara@demo.esms.fr",
        Role.ARS_INSTRUCTEUR,
        OTHER_REGION,
        "Chargé de mission ARS Auvergne-Rhône-Alpes",
    ),
    (
        "valideur-ara@demo.esms.fr",
        Role.ARS_VALIDEUR,
        OTHER_REGION,
        "Directrice de l'autonomie, ARS Auvergne-Rhône-Alpes",
    ),
    (
        "porteur-ara@demo.esms.fr",
        Role.GESTIONNAIRE,
        None,
        "Directrice, Association Rhône-Alpes Autonomie",
    ),
    ("invite@demo.esms.fr", Role.GESTIONNAIRE, None, "Directeur, CCAS de Montreuil"),
    (
        "nouveau@demo.esms.fr",
        Role.GESTIONNAIRE,
        None,
        "Cadre de direction (rattachement en attente)",
    ),
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
DEMO_GRAPPE = "Grappe DUI Île-de-France Est"
# The journeys' grappes (their names key the idempotence).
NOTIFIED_GRAPPE = "Grappe DUI Paris Rive gauche"
REFUSED_GRAPPE = "Grappe DUI Boucle de la Seine"
EXCEEDING_GRAPPE = "Grappe DUI Grand Paris Solidaire"
OTHER_REGION_GRAPPE = "Grappe DUI Lyon Métropole"
NATIONAL_GRAPPE = "Grappe nationale DUI Les Tilleuls"
# ESSMS categories of the journeys' grappes: ESSMS, none of them home care (whose eligible share
# may be partial and would need a proof), cycled through.
JOURNEY_CATEGORIES = ("500", "202", "255", "246", "437", "182", "214", "252", "377", "441", "207")
IDF_DEPARTEMENTS = ("75", "92", "93", "94", "77", "78", "91", "95")
ARA_DEPARTEMENTS = ("69", "69", "38", "42", "01", "74")
# Headroom left in the Île-de-France envelope above what is accepted there (then rounded up to
# 100 000 €): enough for the porteur's draft, not for the dossier proposed beyond the envelope.
EXCEEDING_HEADROOM = Decimal(600_000)


@dataclass(frozen=True)
class DemoSummary:
    """What the seeding created (``created``: anything at all) and how to walk the journeys."""

    created: bool
    accounts: int
    structures: int
    calls: int
    decision_number: str = ""
    decision_code: str = ""
    decision_url: str = ""
    invitation_url: str = ""
    notes: tuple[str, ...] = ()


def _account(email: str, role: str, region: str | None, title: str) -> tuple[User, bool]:
    """A demo account whose address is verified (idempotent); whether it was created."""
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
    if is_agent(user) and not is_mfa_enabled(user, [Authenticator.Type.TOTP]):
        TOTP.activate(user, DEMO_TOTP_SECRET)
    return user, created


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
    """A regional call per ARS region and one national call, open until the end of next year at
    least (the demo must stay usable whenever it is loaded)."""
    closes_year = max(DEMO_YEAR + 3, datetime.date.today().year + 1)
    opens, closes = datetime.date(DEMO_YEAR, 1, 16), datetime.date(closes_year, 12, 31)
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


def _confirmed(user: User, org: Organisation) -> None:
    OrganisationMember.objects.get_or_create(
        organisation=org,
        user=user,
        defaults={
            "status": OrganisationMember.Status.CONFIRMED,
            "confirmed_at": datetime.datetime.now(tz=datetime.UTC),
        },
    )


def _horizon() -> Organisation:
    return _organisation(1, "Association Horizon", "75")


def _tilleuls() -> Organisation:
    return _organisation(2, "Fondation Les Tilleuls", "92")


def _montreuil() -> Organisation:
    return _organisation(3, "Centre communal d'action sociale de Montreuil", "93")


def _base(accounts: dict[str, User]) -> None:
    """The referential of the demo, its accounts' organisations and the porteur's draft."""
    horizon = _horizon()
    tilleuls = _tilleuls()
    _montreuil()
    _confirmed(accounts["porteur@demo.esms.fr"], horizon)
    _confirmed(accounts["membre@demo.esms.fr"], tilleuls)
    campaign = _campaign()
    _calls(campaign)
    solutions = _solutions()
    grappe = Grappe.objects.create(
        name=DEMO_GRAPPE,
        porteur=horizon,
        # A GCSMS: its dossier asks for the « convention constitutive du GCSMS ».
        legal_form=LegalForm.GCSMS,
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


# --- Journeys: built through the services ---------------------------------------------------


def _demo_pdf(title: str) -> bytes:
    """A one-page PDF saying ``title`` (a demo attachment: convention, quote)."""
    text = (
        title.encode("cp1252", "replace")
        .replace(b"\\", b"\\\\")
        .replace(b"(", b"\\(")
        .replace(b")", b"\\)")
    )
    stream = b"BT /F1 14 Tf 72 770 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    pdf = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    pdf += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    pdf += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return pdf


def _journey_structures(
    org: Organisation, count: int, first: int, departements: Sequence[str]
) -> list[Structure]:
    """``count`` ESSMS of ``org`` as the FINESS import loads them (referential data), numbered
    from ``first`` (above the draft's, below the national dataset's 20 000); those already in
    the referential are kept."""
    categories = {c.code: c for c in FinessCategory.objects.filter(code__in=JOURNEY_CATEGORIES)}
    rows: list[Structure] = []
    for offset in range(count):
        number = first + offset
        department = departements[offset % len(departements)]
        category = categories[JOURNEY_CATEGORIES[offset % len(JOURNEY_CATEGORIES)]]
        rows.append(
            Structure(
                finess=finess_with_key(f"{department}{number:06d}"),
                organisation=org,
                name=f"{category.label[:60]} n° {number}",
                siret=siret_with_key(f"{org.siren}{number:04d}"),
                category=category,
                category_code=category.code,
                departement_id=department,
                capacity=20 + number % 60,
                eligible=True,
            )
        )
    existing = {
        s.finess: s for s in Structure.objects.filter(finess__in=[row.finess for row in rows])
    }
    Structure.objects.bulk_create([row for row in rows if row.finess not in existing])
    return [existing.get(row.finess, row) for row in rows]


# The founding document each legal form attaches (workflow.missing_attachments asks for it).
FOUNDING_FILES: dict[str, tuple[str, str]] = {
    LegalForm.GCSMS: ("convention-constitutive-gcsms.pdf", "Convention constitutive du GCSMS"),
    LegalForm.COOPERATION_GROUP: ("statuts-groupement.pdf", "Statuts du groupement"),
    LegalForm.CONVENTION: ("convention-de-grappe.pdf", "Convention de grappe"),
}


def _journey_grappe(
    *,
    name: str,
    porteur: Organisation,
    by: User,
    structures: list[Structure],
    description: str,
    legal_form: str = LegalForm.CONVENTION,
) -> Grappe:
    """A grappe led by ``porteur`` with its ESSMS, through ``grappes.services``."""
    solutions = list(DuiSolution.objects.filter(segur_referenced=True).order_by("pk"))
    grappe = grappe_create(
        porteur=porteur, by=by, name=name, description=description, legal_form=legal_form
    )
    for index, structure in enumerate(structures):
        grappe_membership_add(
            grappe=grappe,
            structure=structure,
            by=by,
            project_type=ProjectType.UPGRADE if index % 5 == 4 else ProjectType.ACQUISITION,
            solution=solutions[index % len(solutions)],
            eligible_share=Decimal(1),
        )
    return grappe


def _journey_submitted(
    *, grappe: Grappe, call: Call, by: User, procurement: int, steering: int
) -> Application:
    """The grappe's dossier on ``call``: requests, convention and quote, submitted by ``by``."""
    application = application_create(grappe=grappe, call=call, by=by)
    application_update(
        application=application,
        by=by,
        procurement=procurement,
        steering=steering,
        justification="Assistance à maîtrise d'ouvrage mutualisée, marché commun et pilotage "
        "du déploiement sur dix-huit mois.",
        hardware={},
        expected_version=application.version,
    )
    founding_file, founding_title = FOUNDING_FILES[grappe.legal_form]
    for kind, filename, title in (
        ("convention", founding_file, f"{founding_title} — {grappe.name}"),
        ("quote", "devis-editeur.pdf", f"Devis de l'éditeur — {grappe.name}"),
    ):
        attachment_add(
            application=application,
            by=by,
            kind=kind,
            upload=SimpleUploadedFile(filename, _demo_pdf(title), "application/pdf"),
        )
    application_submit(application=application, by=by, expected_version=application.version)
    application.refresh_from_db()
    return application


def _journey_proposed(
    application: Application,
    *,
    instructeur: User,
    marks: Sequence[int],
    recommendation: str,
    motivation: str,
) -> Application:
    """Taken, assigned, scored, proposed amounts entered (as computed) and proposed, by one
    instructeur: each act logged by the services."""
    transition(application=application, action=Action.TAKE, by=instructeur)
    application.refresh_from_db()
    application_assign(application=application, assignee=instructeur, by=instructeur)
    criteria = list(application.call.criteria.order_by("position", "pk"))
    review_save(
        application=application,
        by=instructeur,
        marks={c: marks[i % len(marks)] for i, c in enumerate(criteria)},
        comment="Gouvernance claire, convention signée, calendrier réaliste.",
    )
    application.refresh_from_db()
    proposal_save(
        application=application,
        by=instructeur,
        amounts={
            key: (computed, "") for key, _label, computed in proposal_lines(application=application)
        },
        recommendation=recommendation,
        motivation=motivation,
        expected_version=application.version,
    )
    application.refresh_from_db()
    transition(application=application, action=Action.PROPOSE, by=instructeur)
    application.refresh_from_db()
    return application


def _regional_call(region: str) -> Call:
    return Call.objects.get(campaign__year=DEMO_YEAR, scope=Call.Scope.REGIONAL, region_id=region)


def _journey_notified(accounts: dict[str, User], notes: list[str]) -> None:
    """Accepted by the valideur, decision issued by the CNSA: a letter to check on /verifier/."""
    porteur = accounts["porteur@demo.esms.fr"]
    horizon = _horizon()
    grappe = _journey_grappe(
        name=NOTIFIED_GRAPPE,
        porteur=horizon,
        by=porteur,
        structures=_journey_structures(horizon, 15, 200, ("75", "75", "92")),
        description="DUI commun aux établissements parisiens de l'association.",
        legal_form=LegalForm.GCSMS,
    )
    application = _journey_submitted(
        grappe=grappe, call=_regional_call("11"), by=porteur, procurement=12_000, steering=60_000
    )
    application = _journey_proposed(
        application,
        instructeur=accounts["instructeur@demo.esms.fr"],
        marks=(5, 4, 4, 5, 4),
        recommendation="accept",
        motivation="Projet complet : gouvernance établie, solution référencée Ségur, budget "
        "conforme aux forfaits.",
    )
    transition(application=application, action=Action.ACCEPT, by=accounts["valideur@demo.esms.fr"])
    try:
        decision_issue(application=application, by=accounts["cnsa@demo.esms.fr"])
    except (ImportError, OSError) as error:  # WeasyPrint's system libraries are missing
        logger.warning("Lettre de décision non produite : %s", error)
        notes.append(
            "La lettre PDF n'a pas pu être produite (bibliothèques de WeasyPrint absentes) : "
            f"le dossier « {NOTIFIED_GRAPPE} » reste accepté, décision à émettre."
        )


def _journey_refused(accounts: dict[str, User], notes: list[str]) -> None:
    """Refused by the valideur; its decision waits for the CNSA to issue it."""
    membre = accounts["membre@demo.esms.fr"]
    tilleuls = _tilleuls()
    grappe = _journey_grappe(
        name=REFUSED_GRAPPE,
        porteur=tilleuls,
        by=membre,
        structures=_journey_structures(tilleuls, 15, 300, ("92", "92", "78", "95")),
        description="Projet de DUI des établissements de la fondation en boucle de Seine.",
    )
    application = _journey_submitted(
        grappe=grappe, call=_regional_call("11"), by=membre, procurement=15_000, steering=100_000
    )
    application = _journey_proposed(
        application,
        instructeur=accounts["instructeur@demo.esms.fr"],
        marks=(1, 2, 2, 1, 2),
        recommendation="reject",
        motivation="La convention de grappe n'engage pas les établissements sur les cibles "
        "d'usage et le calendrier de déploiement n'est pas établi.",
    )
    transition(
        application=application,
        action=Action.REJECT,
        by=accounts["valideur@demo.esms.fr"],
        comment="Les engagements d'usage du DUI (MSSanté, DMP) ne sont ni chiffrés ni suivis : "
        "le projet ne répond pas au cahier des charges de l'appel.",
    )


def _journey_exceeding(accounts: dict[str, User], notes: list[str]) -> None:
    """Proposed for acceptance beyond the envelope of the Île-de-France call: the valideur may
    refuse or send it back; only a CNSA agent accepts it, with a written reason."""
    porteur = accounts["porteur@demo.esms.fr"]
    horizon = _horizon()
    grappe = _journey_grappe(
        name=EXCEEDING_GRAPPE,
        porteur=horizon,
        by=porteur,
        structures=_journey_structures(horizon, 40, 400, IDF_DEPARTEMENTS),
        description="DUI commun à quarante ESSMS de l'association dans toute l'Île-de-France.",
        legal_form=LegalForm.COOPERATION_GROUP,
    )
    call = _regional_call("11")
    application = _journey_submitted(
        grappe=grappe, call=call, by=porteur, procurement=15_000, steering=100_000
    )
    application = _journey_proposed(
        application,
        instructeur=accounts["instructeur@demo.esms.fr"],
        marks=(4, 5, 4, 4, 3),
        recommendation="accept",
        motivation="Projet de grande ampleur, solide ; son montant dépasse ce qui reste de "
        "l'enveloppe régionale.",
    )
    # The call's envelope: what is accepted there plus a headroom smaller than this dossier.
    use = call_envelope_use(call=call)
    assert application_proposed_total(application) > EXCEEDING_HEADROOM
    envelope = ((use.accepted + EXCEEDING_HEADROOM) / 100_000).to_integral_value(ROUND_CEILING)
    Call.objects.filter(pk=call.pk).update(envelope=envelope * 100_000)
    application.call.refresh_from_db()
    assert envelope_exceeded(application)


def _journey_other_region(accounts: dict[str, User], notes: list[str]) -> None:
    """A dossier of Auvergne-Rhône-Alpes, proposed by that region's instructeur: only its ARS
    agents (and the CNSA) see it; its valideur decides."""
    porteur = accounts["porteur-ara@demo.esms.fr"]
    org = _organisation(4, "Association Rhône-Alpes Autonomie", "69")
    _confirmed(porteur, org)
    grappe = _journey_grappe(
        name=OTHER_REGION_GRAPPE,
        porteur=org,
        by=porteur,
        structures=_journey_structures(org, 15, 500, ARA_DEPARTEMENTS),
        description="DUI commun aux établissements de l'association dans la métropole lyonnaise.",
    )
    application = _journey_submitted(
        grappe=grappe,
        call=_regional_call(OTHER_REGION),
        by=porteur,
        procurement=10_000,
        steering=50_000,
    )
    _journey_proposed(
        application,
        instructeur=accounts["instructeur-ara@demo.esms.fr"],
        marks=(4, 4, 3, 4, 4),
        recommendation="accept",
        motivation="Projet conforme, couverture territoriale équilibrée.",
    )


def _journey_national(accounts: dict[str, User], notes: list[str]) -> None:
    """A grappe of 50 ESSMS submitted on the national call: a CNSA agent instructs it, another
    decides (four eyes)."""
    membre = accounts["membre@demo.esms.fr"]
    tilleuls = _tilleuls()
    grappe = _journey_grappe(
        name=NATIONAL_GRAPPE,
        porteur=tilleuls,
        by=membre,
        structures=_journey_structures(tilleuls, 50, 600, (*IDF_DEPARTEMENTS, *ARA_DEPARTEMENTS)),
        description="DUI commun aux cinquante établissements de la fondation, en Île-de-France "
        "et en Auvergne-Rhône-Alpes.",
    )
    _journey_submitted(
        grappe=grappe,
        call=Call.objects.get(campaign__year=DEMO_YEAR, scope=Call.Scope.NATIONAL),
        by=membre,
        procurement=15_000,
        steering=100_000,
    )


def _journey_member_request(accounts: dict[str, User], notes: list[str]) -> None:
    """nouveau@ asks to act for Association Horizon: pending until porteur@ confirms."""
    organisation_join(user=accounts["nouveau@demo.esms.fr"], finess=_horizon().finess)


def _journey_invitation(accounts: dict[str, User], notes: list[str]) -> None:
    """invite@, confirmed member of the CCAS of Montreuil (confirmed by the administrator), is
    invited by porteur@ to the draft's grappe."""
    invite = accounts["invite@demo.esms.fr"]
    montreuil = _montreuil()
    if not montreuil.structures.exists():
        _journey_structures(montreuil, 2, 700, ("93",))
    member = organisation_join(user=invite, finess=montreuil.finess)
    organisation_member_confirm(member=member, by=accounts["admin@demo.esms.fr"])
    grappe = Grappe.objects.get(name=DEMO_GRAPPE)
    if grappe_is_locked(grappe):  # an older demo whose draft was submitted meanwhile
        notes.append(f"« {DEMO_GRAPPE} » est déposée : pas d'invitation de démonstration.")
        return
    grappe_invite(grappe=grappe, email=invite.email, by=accounts["porteur@demo.esms.fr"])


Journey = Callable[[dict[str, User], list[str]], None]
# (what it shows, is it there already?, build it), in order: the envelope journey comes after
# the accepted dossier it counts.
JOURNEYS: tuple[tuple[str, Callable[[], bool], Journey], ...] = (
    (
        "décision émise",
        lambda: Grappe.objects.filter(name=NOTIFIED_GRAPPE).exists(),
        _journey_notified,
    ),
    (
        "dossier refusé",
        lambda: Grappe.objects.filter(name=REFUSED_GRAPPE).exists(),
        _journey_refused,
    ),
    (
        "dépassement d'enveloppe",
        lambda: Grappe.objects.filter(name=EXCEEDING_GRAPPE).exists(),
        _journey_exceeding,
    ),
    (
        "autre région",
        lambda: Grappe.objects.filter(name=OTHER_REGION_GRAPPE).exists(),
        _journey_other_region,
    ),
    (
        "appel national",
        lambda: Grappe.objects.filter(name=NATIONAL_GRAPPE).exists(),
        _journey_national,
    ),
    (
        "rattachement en attente",
        lambda: OrganisationMember.objects.filter(user__email="nouveau@demo.esms.fr").exists(),
        _journey_member_request,
    ),
    (
        "invitation",
        lambda: OrganisationMember.objects.filter(user__email="invite@demo.esms.fr").exists(),
        _journey_invitation,
    ),
)


def notified_decision() -> Decision | None:
    """The demo's issued decision (the one to check on ``/verifier/``), if any."""
    return Decision.objects.filter(application__grappe__name=NOTIFIED_GRAPPE).first()


def pending_invitation() -> GrappeInvitation | None:
    """The invitation waiting for invite@demo.esms.fr, if any."""
    return GrappeInvitation.objects.filter(
        email="invite@demo.esms.fr", grappe__name=DEMO_GRAPPE, accepted_at__isnull=True
    ).first()


@transaction.atomic
def seed_small() -> DemoSummary:
    """Load the small demo dataset; a second run creates nothing."""
    created = False
    accounts: dict[str, User] = {}
    for email, role, region, title in DEMO_ACCOUNTS:
        accounts[email], new = _account(email, role, region, title)
        created |= new
    if not Campaign.objects.filter(year=DEMO_YEAR).exists():
        _base(accounts)
        created = True
    notes: list[str] = []
    for label, exists, journey in JOURNEYS:
        if exists():
            continue
        try:
            with transaction.atomic():  # a journey is created whole or not at all
                journey(accounts, notes)
        except (DossierError, ServiceError, TransitionError) as error:
            # E.g. an older demo database whose calls have closed since: say so, go on.
            notes.append(f"Parcours « {label} » non créé : {error}")
            continue
        created = True
    decision = notified_decision()
    invitation = pending_invitation()
    return DemoSummary(
        created=created,
        accounts=len(accounts),
        structures=Structure.objects.count(),
        calls=Call.objects.filter(campaign__year=DEMO_YEAR).count(),
        decision_number=decision.number if decision else "",
        decision_code=verification_code_display(decision.verification_code) if decision else "",
        decision_url=verification_url(number=decision.number, code=decision.verification_code)
        if decision
        else "",
        invitation_url=portal_url(reverse("organisations:invitation", args=[invitation.token]))
        if invitation
        else "",
        notes=tuple(notes),
    )
