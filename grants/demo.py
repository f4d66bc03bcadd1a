"""Demo of the follow-up (``manage.py seed_follow_up``, run by ``make demo`` after
``seed_demo``): grants at every stage, walkable by the demo accounts (README).

- « Grappe DUI Paris Rive gauche » (the demo's issued decision): convention signed and
  countersigned, first tranche ordered, transmitted and paid, the editor's measurements imported
  and waiting for the ARS's check, the deadline passed: the instructeur validates them and
  computes the second tranche.
- « Grappe DUI Val-de-Marne » : decision issued, convention drafted: the porteur enters the bank
  details and deposits the signed convention; the valideur countersigns.
- « Grappe DUI Isère » (Auvergne-Rhône-Alpes, ``porteur-ara@…`` and that region's agents):
  settled — targets partly met, a reduced second tranche ordered, transmitted and paid: the whole
  life of a grant, ready to be closed (« Solder le dossier »).
- « Grappe DUI Drôme » (Auvergne-Rhône-Alpes too): first tranche paid, then an amendment
  (avenant) by which one ESSMS leaves the project — prepared by ``instructeur-ara@…``, validated
  by ``valideur-ara@…``, a *titre de recette* issued —, measurements validated with targets
  missed for four ESSMS and a reduced second tranche computed: both orders are issued, not
  transmitted, for « Transmettre les ordres émis ».

Idempotent: a grant already past a stage is left as it is.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from applications.decisions.services import decision_issue
from applications.demo.simple import (
    NOTIFIED_GRAPPE,
    OTHER_REGION,
    _demo_pdf,
    _horizon,
    _journey_grappe,
    _journey_proposed,
    _journey_structures,
    _journey_submitted,
    _organisation,
    _regional_call,
)
from applications.models import Application, Decision
from applications.workflow import Action, transition
from essms_portal.accounts.models import User
from grappes.models import Organisation

from .amendments import amendment_draft, amendment_validate
from .indicators import indicators_ensure_defaults
from .measurements import measurement_review, measurements_import
from .models import Convention, Measurement, PaymentOrder, UsageIndicator
from .services import (
    bank_details_submit,
    convention_countersign,
    convention_draft,
    convention_sign,
    payment_batch_create,
    payment_order_mark_paid,
)
from .settlement import second_tranche_settle

TO_SIGN_GRAPPE = "Grappe DUI Val-de-Marne"
SETTLED_GRAPPE = "Grappe DUI Isère"
AMENDED_GRAPPE = "Grappe DUI Drôme"
DEMO_IBAN = "FR76 3000 6000 0112 3456 7890 189"
DEMO_BIC = "AGRIFRPP"
MEASURED_ON = datetime.date(2024, 11, 30)


def _user(email: str) -> User:
    return User.objects.get(email=email)


def _pdf(name: str, title: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, _demo_pdf(title), "application/pdf")


@dataclass(frozen=True)
class Actors:
    """Who acts on a demo grant: the porteur's user and organisation, the region's agents."""

    region: str
    porteur_email: str
    instructeur_email: str
    valideur_email: str

    def organisation(self) -> Organisation:
        if self.region == OTHER_REGION:
            return _organisation(4, "Association Rhône-Alpes Autonomie", "69")
        return _horizon()


ILE_DE_FRANCE = Actors(
    "11", "porteur@demo.esms.fr", "instructeur@demo.esms.fr", "valideur@demo.esms.fr"
)
AUVERGNE_RHONE_ALPES = Actors(
    OTHER_REGION,
    "porteur-ara@demo.esms.fr",
    "instructeur-ara@demo.esms.fr",
    "valideur-ara@demo.esms.fr",
)


def _granted(name: str, first: int, departement: str, actors: Actors) -> Decision:
    """A new grappe of 15 ESSMS, accepted by the region's valideur, decision issued by the
    CNSA."""
    porteur = _user(actors.porteur_email)
    organisation = actors.organisation()
    grappe = _journey_grappe(
        name=name,
        porteur=organisation,
        by=porteur,
        structures=_journey_structures(organisation, 15, first, (departement,)),
        description="DUI commun aux établissements de l'association dans le département.",
    )
    application = _journey_submitted(
        grappe=grappe,
        call=_regional_call(actors.region),
        by=porteur,
        procurement=10_000,
        steering=40_000,
    )
    application = _journey_proposed(
        application,
        instructeur=_user(actors.instructeur_email),
        marks=(4, 4, 5, 4, 4),
        recommendation="accept",
        motivation="Projet conforme au cahier des charges.",
    )
    transition(application=application, action=Action.ACCEPT, by=_user(actors.valideur_email))
    return decision_issue(application=application, by=_user("cnsa@demo.esms.fr"))


def _signed(decision: Decision, actors: Actors) -> Convention:
    porteur = _user(actors.porteur_email)
    convention = convention_draft(decision=decision, by=_user(actors.instructeur_email))
    bank_details_submit(
        application=decision.application,
        by=porteur,
        holder=decision.application.grappe.porteur.name,
        siret=decision.application.grappe.memberships.first().structure.siret,  # type: ignore[union-attr]
        iban=DEMO_IBAN,
        bic=DEMO_BIC,
        rib=_pdf("rib.pdf", f"Relevé d'identité bancaire — {decision.beneficiary}"),
    )
    return convention_sign(
        convention=convention,
        by=porteur,
        signed_copy=_pdf("convention-signee.pdf", f"Convention {convention.number} signée"),
    )


def _first_tranche_paid(convention: Convention, actors: Actors) -> None:
    valideur = _user(actors.valideur_email)
    order = convention_countersign(convention=convention, by=valideur)
    payment_batch_create(user=valideur)
    payment_order_mark_paid(order=order, by=valideur, paid_on=timezone.localdate())


def _measurements_file(application: Application, *, meeting: int) -> bytes:
    """The editor's file: the first ``meeting`` ESSMS reach every target, the others half."""
    indicators = list(UsageIndicator.objects.filter(campaign_id=application.call.campaign_id))
    lines = ["finess;indicator;value;measured_on"]
    memberships = application.grappe.memberships.select_related("structure").order_by("id")
    for index, membership in enumerate(memberships):
        for indicator in indicators:
            value = indicator.threshold if index < meeting else indicator.threshold / 2
            lines.append(
                f"{membership.structure.finess};{indicator.code};{value:.2f};"
                f"{MEASURED_ON.isoformat()}"
            )
    return ("\n".join(lines) + "\n").encode()


def _measured(application: Application, actors: Actors, *, meeting: int, validate: bool) -> None:
    instructeur = _user(actors.instructeur_email)
    measurements_import(
        data=_measurements_file(application, meeting=meeting),
        filename="export-editeur-dui.csv",
        by=instructeur,
    )
    if validate:
        for measurement in Measurement.objects.filter(
            structure__memberships__grappe_id=application.grappe_id,
            status=Measurement.Status.PENDING,
        ):
            measurement_review(measurement=measurement, by=instructeur, validated=True)


def _amended(decision: Decision, actors: Actors) -> None:
    """The ESSMS of the grappe first in FINESS order leaves the project by an amendment:
    prepared by the instructeur, validated by the valideur (the grappe changes then)."""
    leaver = (
        decision.application.grappe.memberships.select_related("structure")
        .order_by("structure__finess")
        .first()
    )
    assert leaver is not None
    amendment = amendment_draft(
        convention=Convention.objects.get(decision=decision),
        by=_user(actors.instructeur_email),
        reason=f"L'établissement {leaver.structure.name} ferme au 1er septembre 2024 : il quitte "
        "le projet, sa part de la première tranche est reprise.",
        leaving=[leaver.structure.finess],
    )
    amendment_validate(amendment=amendment, by=_user(actors.valideur_email))


def seed_follow_up() -> list[str]:
    """Load the follow-up demo; returns one line per grant created."""
    done: list[str] = []
    notified = Decision.objects.filter(
        application__grappe__name=NOTIFIED_GRAPPE, outcome=Decision.Outcome.ACCEPTED
    ).first()
    if notified is None:
        return ["Aucune décision d'attribution dans la démonstration : suivi non chargé."]
    indicators_ensure_defaults(campaign=notified.campaign)
    if not Convention.objects.filter(decision=notified).exists():
        with transaction.atomic():
            _first_tranche_paid(_signed(notified, ILE_DE_FRANCE), ILE_DE_FRANCE)
            _measured(notified.application, ILE_DE_FRANCE, meeting=12, validate=False)
        done.append(
            f"« {NOTIFIED_GRAPPE} » : première tranche payée, mesures à vérifier "
            f"(suivi : /suivi/{notified.application_id}/)."
        )
    if not Application.objects.filter(grappe__name=TO_SIGN_GRAPPE).exists():
        with transaction.atomic():
            decision = _granted(TO_SIGN_GRAPPE, 800, "94", ILE_DE_FRANCE)
            convention_draft(decision=decision, by=_user("instructeur@demo.esms.fr"))
        done.append(f"« {TO_SIGN_GRAPPE} » : convention à signer par le porteur.")
    if not Application.objects.filter(grappe__name=SETTLED_GRAPPE).exists():
        with transaction.atomic():
            actors = AUVERGNE_RHONE_ALPES
            decision = _granted(SETTLED_GRAPPE, 820, "38", actors)
            convention = _signed(decision, actors)
            _first_tranche_paid(convention, actors)
            _measured(decision.application, actors, meeting=11, validate=True)
            valideur = _user(actors.valideur_email)
            order = second_tranche_settle(convention=convention, by=valideur)
            if isinstance(order, PaymentOrder):
                payment_batch_create(user=valideur)
                payment_order_mark_paid(order=order, by=valideur, paid_on=timezone.localdate())
        done.append(f"« {SETTLED_GRAPPE} » : seconde tranche réduite calculée et payée.")
    if not Application.objects.filter(grappe__name=AMENDED_GRAPPE).exists():
        with transaction.atomic():
            actors = AUVERGNE_RHONE_ALPES
            decision = _granted(AMENDED_GRAPPE, 840, "26", actors)
            convention = _signed(decision, actors)
            _first_tranche_paid(convention, actors)
            _amended(decision, actors)
            _measured(decision.application, actors, meeting=10, validate=True)
            second_tranche_settle(convention=convention, by=_user(actors.valideur_email))
        done.append(
            f"« {AMENDED_GRAPPE} » : avenant validé (un ESSMS sorti), seconde tranche réduite "
            "calculée : ordres émis à transmettre."
        )
    return done or ["Suivi des financements déjà chargé."]


__all__ = ["seed_follow_up"]
