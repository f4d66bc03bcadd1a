"""Amendments (*avenants*) to a countersigned convention: an ESSMS left or joined the grappe
after the decision (domain.md §5, issue #15 item 7).

The amendment is the vehicle of the change: a grappe is frozen once its dossier is submitted
(``grappes.permissions.grappe_is_locked``), so the agent names in the amendment the ESSMS that
leave the project (lines in force) and those that join it (FINESS numbers). The lines are
recomputed with the decision's funding engine (``funding.services.quote_for_amended_grappe``)
on the grappe's memberships as the amendment would leave them (current ones, minus leaving,
plus joining; a membership already changed out of band counts as well) and compared with the
lines in force (``selectors.grant_effective_snapshot``). The grappe itself changes only at the
validation (``grappes.services.grappe_memberships_amend``), in the same transaction.

What an amendment changes, and what it keeps (docs/funding-rules.md, « Avenants ») — product
rules, the texts being silent:

- an ESSMS that left loses its line; an ESSMS that joined gets the engine's amount (0 with the
  engine's reason when it is not eligible) for an acquisition of the grappe's common solution
  (the one most of its ESSMS use); an ESSMS still in the grappe keeps the amount in force (the
  instructeur's reductions stand);
- the supports (hardware, procurement, steering) are kept as in force;
- the grappe-level findings of the engine (size, region) are recorded for information: the
  grappe's eligibility was judged by the decision and is not reopened.

Validation takes four eyes, as the decision did: a decider of the dossier (the region's
valideurs; the CNSA for the national call) who did not prepare it. The grappe's memberships
must be as they were at the drafting (the letter states the amounts computed on them); the
leavers' memberships are then removed and the joiners' added, the amendment's lines become the
grant's; the payment schedule follows in the same transaction: when the first tranche
already ordered (net of earlier recoveries) exceeds the new total's first tranche and the
campaign recovers leavers' shares, a *titre de recette* of the difference is issued; when ESSMS
join, the extra is paid with the second tranche (its rest grows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from applications.decisions.letters import snapshot_fingerprint
from applications.models import Application
from essms_portal.accounts.models import User
from essms_portal.identifiers import finess_error
from funding.rules import StructureLine, tranches
from funding.services import campaign_parameters, quote_for, quote_for_amended_grappe
from grappes.models import GrappeMembership, ProjectType, Structure
from grappes.services import MembershipJoin, grappe_memberships_amend

from .models import Amendment, Convention, FollowUpParameters, PaymentOrder
from .permissions import (
    can_cancel_amendment,
    can_draft_amendment,
    can_validate_amendment,
    settlement_computed,
)
from .selectors import grant_effective_snapshot
from .services import (
    GrantError,
    _number,
    bank_details_active,
    grant_log_append,
    payment_order_issue,
    require_allowed,
)

AMENDMENT_FORMAT = 1
REASON_MAX_LENGTH = 2000


# --------------------------------------------------------------------------------------------
# Recomputing the lines
# --------------------------------------------------------------------------------------------


def _joined_line(membership: GrappeMembership, *, amount: int, issues: list[str]) -> dict[str, Any]:
    """A new ESSMS's line, in the decision snapshot's format, with the engine's amount."""
    structure = membership.structure
    category = structure.category
    projects = dict(ProjectType.choices)
    return {
        "finess": structure.finess,
        "name": structure.name,
        "category": f"{category.code} — {category.label}" if category else structure.category_code,
        "casf_item": category.casf_item_id if category and category.casf_item_id else "",
        "project": str(projects.get(membership.project_type, membership.project_type)),
        "amount": amount,
        "computed": amount,
        "reason": " ".join(issues),
    }


def _grappe_memberships(application: Application) -> list[GrappeMembership]:
    """The grappe's memberships now, FINESS order."""
    return list(
        GrappeMembership.objects.filter(grappe_id=application.grappe_id)
        .select_related("structure__category")
        .order_by("structure__finess")
    )


def amendment_lines_recompute(
    *,
    application: Application,
    effective: dict[str, Any],
    leaving: Collection[str] = (),
    joining: Sequence[GrappeMembership] = (),
) -> dict[str, Any]:
    """The lines after the grappe's changes, from the engine on the memberships as the amendment
    would leave them (current ones, without ``leaving`` (FINESS), with the unsaved ``joining``):
    ``lines`` (FINESS order), ``left`` and ``joined`` (lines), ``quote`` (what the engine said).
    Read only."""
    if leaving or joining:
        quote = quote_for_amended_grappe(application=application, leaving=leaving, joining=joining)
    else:
        quote = quote_for(application=application)
    engine: dict[str, StructureLine] = {}
    for structure in quote.structures:  # a repeated ESSMS counts once, where first listed
        engine.setdefault(structure.finess, structure)
    issues: dict[str, list[str]] = {}
    for issue in quote.errors:
        if issue.finess:
            issues.setdefault(issue.finess, []).append(issue.message)
    in_force = {line["finess"]: line for line in effective["lines"]}
    memberships = sorted(
        [m for m in _grappe_memberships(application) if m.structure.finess not in leaving]
        + list(joining),
        key=lambda m: m.structure.finess,
    )
    lines: list[dict[str, Any]] = []
    joined: list[dict[str, Any]] = []
    for membership in memberships:
        finess = membership.structure.finess
        if finess in in_force:
            lines.append(in_force[finess])
            continue
        computed = engine.get(finess)
        new_line = _joined_line(
            membership,
            amount=int(computed.amount) if computed is not None else 0,
            issues=issues.get(finess, []),
        )
        lines.append(new_line)
        joined.append(new_line)
    current = {line["finess"] for line in lines}
    left = [line for finess, line in sorted(in_force.items()) if finess not in current]
    return {
        "lines": lines,
        "left": left,
        "joined": joined,
        "quote": {
            "eligible": quote.eligible,
            "total": quote.total,
            "lines": [
                {"finess": s.finess, "amount": s.amount, "eligible": s.eligible}
                for s in engine.values()
            ],
            "grappe_issues": [issue.message for issue in quote.errors if not issue.finess],
        },
    }


def _finess_numbers(values: Iterable[str]) -> list[str]:
    """FINESS numbers as typed (spaces, lower case, repeats), cleaned, in FINESS order."""
    return sorted({value.strip().upper() for value in values if value and value.strip()})


def _common_solution_id(memberships: Iterable[GrappeMembership]) -> int | None:
    """The DUI solution most of the grappe's ESSMS use (the lowest id on a tie), or None: the
    solution a joiner acquires, which the engine's Ségur rule judges."""
    counts = Counter(m.solution_id for m in memberships if m.solution_id is not None)
    if not counts:
        return None
    return min(counts, key=lambda pk: (-counts[pk], pk))


def amendment_changes_resolve(
    *,
    application: Application,
    effective: dict[str, Any],
    leaving: Collection[str],
    joining: Collection[str],
) -> tuple[list[str], list[GrappeMembership]]:
    """Check the FINESS numbers an agent typed: the ``leaving`` ones are lines in force of the
    grant, the ``joining`` ones open ESSMS of the grappe's gestionnaires, not in the grappe.
    Returns the leavers still in the grappe (those already out of it count as left without
    being removed) and the joiners as unsaved memberships (an acquisition of the grappe's common
    solution). Raises ``GrantError`` (field ``leaving`` or ``joining``). Read only."""
    in_force = {line["finess"] for line in effective["lines"]}
    members = {m.structure.finess: m for m in _grappe_memberships(application)}
    leaving_numbers = _finess_numbers(leaving)
    for finess in leaving_numbers:
        if finess not in in_force:
            raise GrantError(
                f"L'ESSMS {finess} n'est pas une ligne en vigueur de ce financement : il ne peut "
                "pas quitter le projet.",
                field="leaving",
            )
    joining_numbers = _finess_numbers(joining)
    structures = Structure.objects.select_related("category", "organisation").in_bulk(
        joining_numbers, field_name="finess"
    )
    organisations = set(application.grappe.organisations.values_list("organisation_id", flat=True))
    for finess in joining_numbers:
        message = finess_error(finess)
        structure = structures.get(finess)
        if message or structure is None:
            raise GrantError(
                f"« {finess} » : " + (message or "aucun ESSMS ne porte ce numéro FINESS."),
                field="joining",
            )
        if finess in leaving_numbers:
            raise GrantError(
                f"L'ESSMS {finess} ne peut pas à la fois quitter et rejoindre le projet.",
                field="joining",
            )
        if finess in members:
            raise GrantError(
                f"L'ESSMS {finess} ({structure.name}) fait déjà partie de la grappe.",
                field="joining",
            )
        if structure.closed:
            raise GrantError(
                f"L'ESSMS {finess} ({structure.name}) est fermé : il ne peut pas rejoindre le "
                "projet.",
                field="joining",
            )
        if structure.organisation_id not in organisations:
            raise GrantError(
                f"Le gestionnaire de l'ESSMS {finess} ({structure.organisation.name}) ne fait "
                "pas partie de la grappe : seuls les ESSMS de ses gestionnaires la rejoignent.",
                field="joining",
            )
    staying = [m for finess, m in members.items() if finess not in leaving_numbers]
    solution_id = _common_solution_id(staying)
    solution = next((m.solution for m in staying if m.solution_id == solution_id), None)
    joiners = [
        GrappeMembership(
            grappe_id=application.grappe_id,
            structure=structures[finess],
            project_type=ProjectType.ACQUISITION,
            solution=solution,
        )
        for finess in joining_numbers
    ]
    return [finess for finess in leaving_numbers if finess in members], joiners


# --------------------------------------------------------------------------------------------
# Payment schedule
# --------------------------------------------------------------------------------------------


def _recover_leavers(convention: Convention) -> bool:
    """The campaign's policy (its default when the follow-up parameters are not entered)."""
    follow_up = FollowUpParameters.objects.filter(
        campaign_id=convention.decision.campaign_id
    ).first()
    return follow_up.recover_leavers if follow_up else True


def amendment_schedule_effect(*, convention: Convention, total: int) -> dict[str, Any]:
    """What a new ``total`` does to the orders: the first tranche already ordered (net of
    earlier recoveries) against the new total's first tranche; the excess is recovered now when
    the campaign recovers leavers' shares (otherwise it stays acquired and the settlement
    accounts for it); a shortfall is paid with the second tranche. Read only."""
    sums = dict(
        PaymentOrder.objects.filter(convention=convention)
        .values_list("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )
    first_ordered = int(sums.get(PaymentOrder.Kind.FIRST) or 0)
    recovered = int(sums.get(PaymentOrder.Kind.RECOVERY) or 0)
    campaign = convention.decision.campaign
    first_due = tranches(total, campaign_parameters(campaign=campaign))[0].amount
    recover = _recover_leavers(convention)
    excess = first_ordered - recovered - first_due
    recovery = excess if excess > 0 and recover else 0
    return {
        "first_ordered": first_ordered,
        "recovered_before": recovered,
        "first_due": first_due,
        "recover_leavers": recover,
        "recovery": recovery,
        "second_tranche_max": max(0, total - (first_ordered - recovered - recovery)),
    }


# --------------------------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------------------------


def amendment_blocker(*, convention: Convention) -> str | None:
    """Why ``convention`` cannot be amended now (French), or None: only a countersigned
    convention whose second tranche is not computed is amended. Read only; the services and
    the grant page ask it."""
    if convention.status == Convention.Status.CLOSED:
        return "La convention est soldée : elle ne peut plus être modifiée par avenant."
    if convention.status != Convention.Status.COUNTERSIGNED:
        return (
            "Un avenant modifie une convention signée par les deux parties : la convention "
            "n'est pas encore contresignée."
        )
    if settlement_computed(convention):
        return (
            "La seconde tranche est déjà calculée : la convention ne peut plus être modifiée "
            "par avenant."
        )
    return None


def amendment_draft_blocker(*, convention: Convention) -> str | None:
    """Why no amendment can be prepared now (French), or None: the convention is amendable and
    no other amendment waits for its validation."""
    blocker = amendment_blocker(convention=convention)
    if blocker is None and convention.amendments.filter(status=Amendment.Status.DRAFTED).exists():
        return (
            "Un avenant est déjà en préparation pour cette convention : faites-le valider ou "
            "annulez-le d'abord."
        )
    return blocker


def _snapshot_build(
    *,
    convention: Convention,
    effective: dict[str, Any],
    recomputed: dict[str, Any],
    number: str,
    reason: str,
    grappe_before: list[str],
    leaving: list[str],
    joining: list[GrappeMembership],
) -> dict[str, Any]:
    """What the amendment restates: the lines before and after, who left and joined, the new
    total and tranches, the effect on the orders, the engine's findings; and the change of the
    grappe the validation applies: its memberships at the drafting (``grappe_before``, FINESS),
    the ESSMS to take out (``leaving``) and to put in (``joining``, with their project)."""
    base = convention.snapshot
    supports = effective["supports"]
    lines = recomputed["lines"]
    total = sum(int(line["amount"]) for line in lines) + sum(int(s["amount"]) for s in supports)
    campaign = convention.decision.campaign
    schedule = tranches(total, campaign_parameters(campaign=campaign))
    return {
        "format": AMENDMENT_FORMAT,
        "number": number,
        "drafted_on": timezone.localdate().isoformat(),
        "reason": reason,
        "convention": {"number": convention.number, "sha256": convention.snapshot_sha256},
        "decision": base["decision"],
        "authority": base["authority"],
        "porteur": base["porteur"],
        "grappe": {**base["grappe"], "essms_count": len(lines)},
        "call": base["call"],
        "before": {
            "number": effective["number"],
            "sha256": snapshot_fingerprint(effective),
            "lines": effective["lines"],
            "total": int(effective["total"]),
            "tranches": effective["tranches"],
        },
        "lines": lines,
        "supports": supports,
        "total": total,
        "tranches": [{"label": t.label, "amount": t.amount} for t in schedule],
        "left": recomputed["left"],
        "joined": recomputed["joined"],
        "quote": recomputed["quote"],
        "schedule": amendment_schedule_effect(convention=convention, total=total),
        "grappe_before": grappe_before,
        "leaving": leaving,
        "joining": [
            {
                "finess": m.structure.finess,
                "project_type": m.project_type,
                "solution_id": m.solution_id,
            }
            for m in joining
        ],
    }


def _unchanged(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> bool:
    return sorted((line["finess"], int(line["amount"])) for line in before) == sorted(
        (line["finess"], int(line["amount"])) for line in after
    )


def amendment_draft(
    *,
    convention: Convention,
    by: User,
    reason: str,
    leaving: Collection[str] = (),
    joining: Collection[str] = (),
) -> Amendment:
    """Prepare an amendment: ``leaving`` (FINESS of lines in force) leave the project,
    ``joining`` (FINESS of open ESSMS of the grappe's gestionnaires) join it; the lines are
    recomputed on the grappe's memberships so changed, numbered ``AVN-<year>-<region>-<n>``,
    snapshot frozen; it waits for a second person. The grappe does not change before the
    validation."""
    application = convention.decision.application
    require_allowed(can_draft_amendment(by, application))
    reason = (reason or "").strip()
    if not reason:
        raise GrantError("Indiquez le motif de l'avenant.", field="reason")
    if len(reason) > REASON_MAX_LENGTH:
        raise GrantError(f"Le motif compte au plus {REASON_MAX_LENGTH} caractères.", field="reason")
    with transaction.atomic():
        locked = Convention.objects.select_for_update().get(pk=convention.pk)
        blocker = amendment_draft_blocker(convention=locked)
        if blocker:
            raise GrantError(blocker)
        effective = grant_effective_snapshot(convention=locked)
        leavers, joiners = amendment_changes_resolve(
            application=application, effective=effective, leaving=leaving, joining=joining
        )
        recomputed = amendment_lines_recompute(
            application=application, effective=effective, leaving=leavers, joining=joiners
        )
        if _unchanged(effective["lines"], recomputed["lines"]):
            raise GrantError(
                "Aucun ESSMS ne quitte ni ne rejoint le projet depuis la convention ou son "
                "dernier avenant : un avenant ne changerait rien. Cochez les ESSMS qui le "
                "quittent ou indiquez ceux qui le rejoignent.",
                field="leaving",
            )
        number = _number(decision=locked.decision, kind="amendment")
        snapshot = _snapshot_build(
            convention=locked,
            effective=effective,
            recomputed=recomputed,
            number=number,
            reason=reason,
            grappe_before=[m.structure.finess for m in _grappe_memberships(application)],
            leaving=leavers,
            joining=joiners,
        )
        amendment = Amendment.objects.create(
            convention=locked,
            number=number,
            reason=reason,
            snapshot=snapshot,
            snapshot_sha256=snapshot_fingerprint(snapshot),
            drafted_by=by,
            drafted_at=timezone.now(),
        )
        grant_log_append(
            application=application,
            event="amendment_drafted",
            by=by,
            detail=f"Avenant {number} préparé : {len(recomputed['left'])} ESSMS sorti(s), "
            f"{len(recomputed['joined'])} entré(s), total {snapshot['before']['total']} € → "
            f"{snapshot['total']} € ({amendment.snapshot_sha256}).",
        )
    return amendment


def amendment_validate(*, amendment: Amendment, by: User) -> Amendment:
    """Validate (four eyes): the amendment's lines become the grant's; a *titre de recette* is
    issued in the same transaction when the first tranche ordered now exceeds what is due."""
    convention = amendment.convention
    application = convention.decision.application
    require_allowed(can_validate_amendment(by, application, drafted_by_id=amendment.drafted_by_id))
    with transaction.atomic():
        locked_convention = Convention.objects.select_for_update().get(pk=convention.pk)
        locked = Amendment.objects.select_for_update().get(pk=amendment.pk)
        if locked.status != Amendment.Status.DRAFTED:
            raise GrantError("Cet avenant n'est plus en attente de validation.")
        blocker = amendment_blocker(convention=locked_convention)
        if blocker:
            raise GrantError(blocker)
        snapshot = locked.snapshot
        effective = grant_effective_snapshot(convention=locked_convention)
        schedule = amendment_schedule_effect(
            convention=locked_convention, total=int(snapshot["total"])
        )
        # The letter states the effect on the orders: it must still be true.
        if (
            snapshot_fingerprint(effective) != snapshot["before"]["sha256"]
            or schedule != snapshot["schedule"]
        ):
            raise GrantError(
                "Les montants ou les ordres ont changé depuis la préparation de l'avenant : "
                "annulez-le et préparez-en un nouveau."
            )
        # The amounts were computed on the grappe as it was at the drafting.
        grappe_before = snapshot.get("grappe_before")  # absent from the first amendments
        if grappe_before is not None and grappe_before != [
            m.structure.finess for m in _grappe_memberships(application)
        ]:
            raise GrantError(
                "Les ESSMS de la grappe ont changé depuis la préparation de l'avenant : "
                "annulez-le et préparez-en un nouveau."
            )
        if snapshot.get("leaving") or snapshot.get("joining"):
            grappe_memberships_amend(
                grappe=application.grappe,
                leaving=snapshot["leaving"],
                joining=[MembershipJoin(**join) for join in snapshot["joining"]],
                by=by,
            )
        locked.status = Amendment.Status.VALIDATED
        locked.validated_by = by
        locked.validated_at = timezone.now()
        locked.save(update_fields=["status", "validated_by", "validated_at"])
        grant_log_append(
            application=application,
            event="amendment_validated",
            by=by,
            detail=f"Avenant {locked.number} validé : montant de la subvention "
            f"{snapshot['before']['total']} € → {snapshot['total']} €.",
        )
        if schedule["recovery"]:
            payment_order_issue(
                convention=locked_convention,
                kind=PaymentOrder.Kind.RECOVERY,
                amount=schedule["recovery"],
                bank=bank_details_active(application),
                by=by,
                reasons=[
                    f"Avenant {locked.number} : la première tranche due passe à "
                    f"{schedule['first_due']} € ; {schedule['first_ordered']} € ordonnancés"
                    + (
                        f", {schedule['recovered_before']} € déjà repris"
                        if schedule["recovered_before"]
                        else ""
                    )
                    + f" : {schedule['recovery']} € à reverser."
                ],
            )
    return locked


def amendment_cancel(*, amendment: Amendment, by: User) -> Amendment:
    """Whoever prepared the amendment withdraws it before its validation."""
    application = amendment.convention.decision.application
    require_allowed(can_cancel_amendment(by, application, drafted_by_id=amendment.drafted_by_id))
    with transaction.atomic():
        locked = Amendment.objects.select_for_update().get(pk=amendment.pk)
        if locked.status != Amendment.Status.DRAFTED:
            raise GrantError("Seul un avenant en préparation peut être annulé.")
        locked.status = Amendment.Status.CANCELLED
        locked.cancelled_at = timezone.now()
        locked.save(update_fields=["status", "cancelled_at"])
        grant_log_append(
            application=application,
            event="amendment_cancelled",
            by=by,
            detail=f"Avenant {locked.number} annulé.",
        )
    return locked
