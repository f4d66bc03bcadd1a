"""Who may act on a grant's follow-up (one home; services enforce, views ask).

The grant is followed by whoever decided on it: the ARS of the region for a regional call (its
instructeurs and valideurs), the CNSA for the national call. The porteur's confirmed members sign
the convention and keep the bank details.
"""

from __future__ import annotations

import datetime

from applications.models import Application, Call
from applications.permissions import can_decide, is_porteur
from essms_portal.accounts.models import ARS_ROLES, Role, User

from .models import Convention, FollowUpParameters, Measurement, PaymentOrder
from .selectors import SETTLEMENT_EVENT, grant_effective_snapshot, settlement_computed

__all__ = ["SETTLEMENT_EVENT", "settlement_computed"]  # asked here by the services too


def can_follow_up(user: User, application: Application) -> bool:
    """ARS agents of the regional call's region; CNSA agents for the national call."""
    call: Call = application.call
    if call.scope == Call.Scope.NATIONAL:
        return user.role == Role.CNSA_AGENT
    return (
        user.role in ARS_ROLES and user.region_id is not None and user.region_id == call.region_id
    )


def can_sign_convention(user: User, application: Application) -> bool:
    """The porteur's confirmed members upload the signed convention."""
    return user.role == Role.GESTIONNAIRE and is_porteur(user, application)


def convention_open_to_signature(convention: Convention) -> bool:
    """The porteur deposits (or replaces) the signed copy until the ARS countersigns."""
    return convention.status in (Convention.Status.DRAFTED, Convention.Status.SIGNED)


def can_enter_bank_details(user: User, application: Application) -> bool:
    """The porteur's confirmed members enter the bank details, until the grant is closed
    (nothing is paid any more)."""
    return (
        can_sign_convention(user, application)
        and not Convention.objects.filter(
            decision__application=application, status=Convention.Status.CLOSED
        ).exists()
    )


def settlement_blocker(*, convention: Convention, today: datetime.date) -> str | None:
    """Why the second tranche of ``convention`` cannot be computed now (French), or None: the
    convention countersigned, not computed yet (it is computed once), the measurement deadline
    reached, and no measurement of the grant's ESSMS still waiting for the ARS's check (a value
    checked afterwards could no longer count: computed with it pending, the tranche would be
    lower than due)."""
    if convention.status != Convention.Status.COUNTERSIGNED:
        return "La convention n'est pas encore signée par les deux parties."
    if settlement_computed(convention):
        return "La seconde tranche de cette convention est déjà calculée."
    follow_up = FollowUpParameters.objects.get(campaign_id=convention.decision.campaign_id)
    if today < follow_up.measurement_deadline:
        return (
            "La seconde tranche se calcule à l'échéance des cibles d'usage, le "
            f"{follow_up.measurement_deadline:%d/%m/%Y}."
        )
    finess = [line["finess"] for line in grant_effective_snapshot(convention=convention)["lines"]]
    pending = Measurement.objects.filter(
        status=Measurement.Status.PENDING,
        indicator__campaign_id=convention.decision.campaign_id,
        structure__finess__in=finess,
    ).count()
    if pending:
        return (
            f"{pending} mesure{'s' if pending > 1 else ''} de ces ESSMS "
            f"{'sont' if pending > 1 else 'est'} encore à vérifier : validez-les ou rejetez-les "
            "avant de calculer la seconde tranche."
        )
    return None


def can_settle(user: User, convention: Convention, *, today: datetime.date) -> bool:
    """The grant's follow-up agents compute the second tranche once nothing stands in the way
    (``settlement_blocker``)."""
    return can_follow_up(user, convention.decision.application) and (
        settlement_blocker(convention=convention, today=today) is None
    )


def measurement_declare_blocker(*, application: Application) -> str | None:
    """Why no measurement may be declared on the grant now (French), or None: the targets run
    from the countersignature of the convention until the second tranche is settled (a value
    declared afterwards could no longer count); a closed grant takes none."""
    convention = Convention.objects.filter(decision__application=application).first()
    if convention is None or convention.status in (
        Convention.Status.DRAFTED,
        Convention.Status.SIGNED,
    ):
        return "Les mesures se déclarent une fois la convention signée par les deux parties."
    if convention.status == Convention.Status.CLOSED:
        return "Le dossier est soldé : il ne reçoit plus de mesure."
    if settlement_computed(convention):
        return "La seconde tranche est calculée : le dossier ne reçoit plus de mesure."
    return None


def can_declare_measurement(user: User, application: Application) -> bool:
    """Who signs the convention (the porteur's confirmed members) declares the usage
    measurements of the funded ESSMS, while the grant takes them
    (``measurement_declare_blocker``)."""
    return (
        can_sign_convention(user, application)
        and measurement_declare_blocker(application=application) is None
    )


def can_draft_amendment(user: User, application: Application) -> bool:
    """An amendment (avenant) is prepared by whoever follows the grant: the region's
    instructeurs and valideurs (the CNSA for the national call)."""
    return can_follow_up(user, application)


def can_validate_amendment(user: User, application: Application, *, drafted_by_id: int) -> bool:
    """Four eyes, as for the decision it amends: a decider of the dossier (the region's
    valideurs; the CNSA for the national call) who did not prepare the amendment."""
    return can_decide(user, application) and user.pk != drafted_by_id


def can_transmit_orders(user: User) -> bool:
    """Who transmits payment orders to the finance department: ARS agents with a region (their
    region's orders), CNSA agents (the national call's). Administrators read, never act."""
    if user.role in ARS_ROLES:
        return user.region_id is not None
    return user.role == Role.CNSA_AGENT


def grant_close_blocker(*, convention: Convention) -> str | None:
    """Why the grant of ``convention`` cannot be closed yet (French), or None when it can: the
    convention countersigned, the second tranche settled (its order issued, or the settlement
    computed with nothing due) and every order of the convention paid (recovered for a titre de
    recette)."""
    if convention.status == Convention.Status.CLOSED:
        return "Le dossier est déjà soldé."
    if convention.status != Convention.Status.COUNTERSIGNED:
        return "La convention n'est pas encore signée par les deux parties."
    orders = PaymentOrder.objects.filter(convention=convention)
    if not settlement_computed(convention):
        return "La seconde tranche n'est pas encore calculée."
    unpaid = list(
        orders.exclude(status=PaymentOrder.Status.PAID)
        .order_by("number")
        .values_list("number", flat=True)
    )
    if unpaid:
        return (
            "Tous les ordres doivent être payés (ou recouvrés) avant de solder le dossier ; "
            f"reste : {', '.join(unpaid)}."
        )
    return None


def can_close_grant(user: User, convention: Convention) -> bool:
    """The grant's follow-up agents close it once nothing is left to settle or to pay."""
    return (
        can_follow_up(user, convention.decision.application)
        and grant_close_blocker(convention=convention) is None
    )


def can_cancel_amendment(user: User, application: Application, *, drafted_by_id: int) -> bool:
    """Whoever prepared an amendment (still in the follow-up scope) withdraws it."""
    return can_follow_up(user, application) and user.pk == drafted_by_id
