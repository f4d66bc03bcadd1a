"""Write-side services for organisations, structures and grappes (keyword-only, typed).

Each raises ``ServiceError`` with a French message (and the form field it concerns) when the
request cannot be honoured; nothing is written in that case. Who may act is asked of
``grappes.permissions`` here, in the service, so a view that forgets cannot do harm.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from essms_portal.accounts.models import Role, User
from essms_portal.emails import email_queue_template
from essms_portal.errors import UserError
from essms_portal.identifiers import finess_error
from essms_portal.links import portal_reverse
from essms_portal.quotes_version import quotes_changed

from . import permissions
from .models import (
    Departement,
    DuiSolution,
    FinessCategory,
    Grappe,
    GrappeInvitation,
    GrappeJoinRequest,
    GrappeMembership,
    GrappeOrganisation,
    LegalForm,
    Organisation,
    OrganisationMember,
    ProjectType,
    Structure,
)
from .permissions import grappe_is_locked
from .selectors import invitations_pending, organisation_lookup, structure_lookup

INVITATION_DAYS = 14
NOT_ALLOWED = "Vous n'êtes pas habilité à effectuer cette action pour cet organisme."


class ServiceError(UserError):
    """A refused request on organisations, ESSMS or grappes (``message``, ``field``)."""


class NotAllowed(ServiceError):
    """The policy (``grappes.permissions``) refuses this action to this user."""


def _require(allowed: bool, message: str = NOT_ALLOWED) -> None:
    """Raise ``NotAllowed`` unless the policy's predicate said yes."""
    if not allowed:
        raise NotAllowed(message)


def _mail_after_commit(*, template: str, context: dict[str, Any], recipients: list[str]) -> None:
    """Record the e-mail ``templates/emails/<template>`` in the outbox, in the current
    transaction: sent after it commits, never for a rolled-back write, retried while the mail
    server or the broker is down."""
    email_queue_template(template, context=context, recipients=recipients)


def organisation_join(*, user: User, finess: str) -> OrganisationMember:
    """Ask to act for the gestionnaire with this FINESS EJ; pending until confirmed."""
    finess = finess.strip().upper()
    message = finess_error(finess)
    if message:
        raise ServiceError(message, "finess")
    organisation = organisation_lookup(finess=finess)
    if organisation is None:
        raise ServiceError(
            "Aucun organisme gestionnaire ne porte ce numéro FINESS juridique dans le "
            "référentiel. Vérifiez le numéro (il figure sur vos arrêtés d'autorisation).",
            "finess",
        )
    member, created = OrganisationMember.objects.get_or_create(organisation=organisation, user=user)
    if not created:
        raise ServiceError("Vous êtes déjà rattaché à cet organisme.", "finess")
    confirmed = organisation.members.filter(status=OrganisationMember.Status.CONFIRMED)
    _mail_after_commit(
        template="organisation_join_request",
        context={"user": user, "organisation": organisation},
        recipients=sorted(confirmed.values_list("user__email", flat=True)),
    )
    return member


def organisation_member_confirm(*, member: OrganisationMember, by: User) -> None:
    """Confirm a pending member: by a confirmed member of the same organisation or by staff."""
    _require(
        permissions.can_confirm_member(by, member),
        "Seul un membre confirmé de l'organisme peut confirmer ce rattachement.",
    )
    if member.status == OrganisationMember.Status.CONFIRMED:
        return
    member.status = OrganisationMember.Status.CONFIRMED
    member.confirmed_by = by
    member.confirmed_at = timezone.now()
    member.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    _mail_after_commit(
        template="organisation_member_confirmed",
        context={"organisation": member.organisation},
        recipients=[member.user.email],
    )


def structure_add(
    *,
    organisation: Organisation,
    by: User,
    finess: str,
    name: str = "",
    category: FinessCategory | None = None,
    departement: Departement | None = None,
) -> Structure:
    """Add an ESSMS to the organisation: from the referential when it is there, else by hand
    (flagged for the reviewer)."""
    _require(
        permissions.can_add_structure(by, organisation),
        "Seul un membre confirmé de l'organisme ajoute ses établissements.",
    )
    finess = finess.strip().upper()
    message = finess_error(finess)
    if message:
        raise ServiceError(message, "finess")
    existing = structure_lookup(finess=finess)
    if existing is not None:
        if existing.organisation_id != organisation.pk:
            raise ServiceError(
                "Cet établissement est rattaché à un autre gestionnaire dans le référentiel "
                f"FINESS ({existing.organisation.name}).",
                "finess",
            )
        if not existing.eligible:
            raise ServiceError(
                "La catégorie de cet établissement "
                f"({existing.category or existing.category_code}) ne relève pas de l'article "
                "L312-1 du CASF : il n'est pas éligible.",
                "finess",
            )
        return existing
    if not (name and category and departement):
        raise ServiceError(
            "Cet établissement est absent du référentiel FINESS : saisissez son nom, sa "
            "catégorie et son département (il sera signalé à l'instructeur).",
            "name",
        )
    if category.casf_item_id is None:
        raise ServiceError(
            "Cette catégorie ne relève pas de l'article L312-1 du CASF : "
            "l'établissement n'est pas éligible.",
            "category",
        )
    return Structure.objects.create(
        finess=finess,
        organisation=organisation,
        name=name,
        category=category,
        category_code=category.code,
        departement=departement,
        eligible=True,
        source=Structure.Source.MANUAL,
    )


def _require_legal_form(legal_form: str) -> None:
    """A legal form of the list (domain.md §5b): GCSMS, other cooperation group, convention."""
    if legal_form not in LegalForm.values:
        raise ServiceError("Choisissez la forme juridique de la grappe.", "legal_form")


@transaction.atomic
def grappe_create(
    *,
    porteur: Organisation,
    by: User,
    name: str,
    description: str = "",
    legal_form: str = LegalForm.CONVENTION,
) -> Grappe:
    """Create a grappe led by ``porteur``, with its declared legal form; the porteur takes part
    and is confirmed."""
    _require(
        permissions.can_create_grappe(by, porteur),
        "Seul un membre confirmé de l'organisme crée une grappe qu'il porte.",
    )
    _require_legal_form(legal_form)
    grappe = Grappe.objects.create(
        name=name, porteur=porteur, description=description, created_by=by, legal_form=legal_form
    )
    GrappeOrganisation.objects.create(
        grappe=grappe, organisation=porteur, confirmed_at=timezone.now(), confirmed_by=by
    )
    return grappe


@transaction.atomic
def grappe_legal_form_set(*, grappe: Grappe, legal_form: str, by: User) -> Grappe:
    """Declare the grappe's legal form: its porteur, while no dossier of the grappe is
    submitted (the founding document the dossier requires follows the form)."""
    _require(
        permissions.can_edit_grappe(by, grappe),
        "Seul le porteur modifie la forme juridique de la grappe, tant que son dossier n'est "
        "pas déposé.",
    )
    _require_legal_form(legal_form)
    locked = Grappe.objects.select_for_update().get(pk=grappe.pk)
    locked.legal_form = legal_form
    locked.save(update_fields=["legal_form", "updated_at"])
    return locked


def grappe_invite(*, grappe: Grappe, email: str, by: User) -> GrappeInvitation:
    """Invite a gestionnaire by e-mail; the link is valid 14 days and only the owner of that
    address joins with it directly (``grappe_invitation_accept``)."""
    if grappe_is_locked(grappe):
        raise ServiceError(
            "Le dossier de cette grappe est déposé : elle n'accepte plus de nouveaux membres.",
            "email",
        )
    _require(permissions.can_invite(by, grappe), "Seul le porteur invite d'autres gestionnaires.")
    email = email.strip().lower()
    if permissions.has_verified_email(by, email) or email == by.email.lower():
        raise ServiceError("C'est votre propre adresse : invitez un autre gestionnaire.", "email")
    if grappe.porteur.members.filter(user__email__iexact=email).exists():
        raise ServiceError(
            "Cette personne est déjà membre de l'organisme porteur de la grappe.", "email"
        )
    if invitations_pending(grappe=grappe).filter(email=email).exists():
        raise ServiceError("Une invitation est déjà en cours pour cette adresse.", "email")
    invitation = GrappeInvitation.objects.create(
        grappe=grappe,
        email=email,
        token=secrets.token_urlsafe(32),
        invited_by=by,
        expires_at=timezone.now() + datetime.timedelta(days=INVITATION_DAYS),
    )
    _mail_after_commit(
        template="grappe_invitation",
        context={
            "grappe": grappe,
            "days": INVITATION_DAYS,
            "link": portal_reverse("organisations:invitation", args=[invitation.token]),
        },
        recipients=[invitation.email],
    )
    return invitation


def _invitation_usable(invitation: GrappeInvitation) -> None:
    """Refuse a used or expired invitation, or one whose grappe is already submitted."""
    if invitation.accepted_at is not None:
        raise ServiceError("Cette invitation a déjà été utilisée.")
    if invitation.expires_at < timezone.now():
        raise ServiceError(
            f"Cette invitation a expiré le {timezone.localtime(invitation.expires_at):%d/%m/%Y}. "
            "Demandez au porteur de la grappe de vous en envoyer une nouvelle."
        )
    if grappe_is_locked(invitation.grappe):
        raise ServiceError("Le dossier de cette grappe est déjà déposé.")


@transaction.atomic
def grappe_invitation_accept(
    *, invitation: GrappeInvitation, by: User, organisation: Organisation
) -> GrappeOrganisation:
    """The invitee joins the grappe with one of their organisations; the token is consumed.

    Only the owner of the invited address (verified) joins this way: whoever else holds a
    forwarded link goes through ``grappe_invitation_forward`` and the porteur's approval. The
    token is consumed by a conditional UPDATE, so two requests racing on one token (two tabs,
    two organisations) let exactly one in."""
    _invitation_usable(invitation)
    _require(
        permissions.is_invitee(by, invitation),
        "Cette invitation a été adressée à une autre adresse électronique : demandez au porteur "
        "de valider votre adhésion.",
    )
    _require(
        permissions.can_use_invitation(by, invitation, organisation),
        "Choisissez un organisme dont votre rattachement est confirmé et qui ne fait pas déjà "
        "partie de la grappe.",
    )
    consumed = GrappeInvitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        accepted_at=timezone.now(), accepted_by=by, accepted_organisation=organisation
    )
    if consumed != 1:
        raise ServiceError("Cette invitation a déjà été utilisée.")
    try:
        with transaction.atomic():
            participation = GrappeOrganisation.objects.create(
                grappe=invitation.grappe, organisation=organisation
            )
    except IntegrityError:
        # The organisation joined meanwhile by another path (a join request): same outcome.
        participation = GrappeOrganisation.objects.get(
            grappe=invitation.grappe, organisation=organisation
        )
    invitation.refresh_from_db()
    return participation


@transaction.atomic
def grappe_invitation_forward(
    *, invitation: GrappeInvitation, by: User, organisation: Organisation, message: str = ""
) -> GrappeJoinRequest:
    """Someone other than the invitee used the link (a forwarded e-mail): their organisation
    asks to join and the porteur approves or declines, as for a join request. The invitation
    stays usable by its invitee."""
    _invitation_usable(invitation)
    _require(
        permissions.can_use_invitation(by, invitation, organisation),
        "Choisissez un organisme dont votre rattachement est confirmé et qui ne fait pas déjà "
        "partie de la grappe.",
    )
    forwarded = f"Invitation adressée à {invitation.email}, utilisée par {by.email}." + (
        f"\n{message}" if message else ""
    )
    return grappe_join_request(
        grappe=invitation.grappe,
        organisation=organisation,
        by=by,
        message=forwarded,
        invitation=invitation,
    )


def grappe_membership_add(
    *,
    grappe: Grappe,
    structure: Structure,
    by: User,
    project_type: str,
    solution: DuiSolution | None,
    eligible_share: Decimal,
) -> GrappeMembership:
    """Put one of the user's ESSMS in the grappe with its project."""
    if grappe_is_locked(grappe):
        raise ServiceError("Le dossier de cette grappe est déposé : ses ESSMS ne changent plus.")
    _require(
        permissions.can_add_membership(by, grappe)
        and permissions.is_confirmed_member(by, structure.organisation_id),
        "Vous ne pouvez ajouter que les établissements de vos organismes confirmés.",
    )
    if not grappe.organisations.filter(organisation_id=structure.organisation_id).exists():
        raise ServiceError(
            "Le gestionnaire de cet établissement ne fait pas partie de la grappe.", "finess"
        )
    if GrappeMembership.objects.filter(grappe=grappe, structure=structure).exists():
        raise ServiceError("Cet établissement fait déjà partie de la grappe.", "finess")
    if not Decimal(0) < eligible_share <= Decimal(1):
        raise ServiceError(
            "La part éligible doit être comprise entre 0 % (exclu) et 100 %.", "eligible_share"
        )
    membership = GrappeMembership.objects.create(
        grappe=grappe,
        structure=structure,
        project_type=project_type,
        solution=solution,
        eligible_share=eligible_share,
    )
    quotes_changed()  # the grappe's dossiers' cached quotes (applications' dashboard)
    return membership


def grappe_membership_remove(*, membership: GrappeMembership, by: User) -> None:
    """Take an ESSMS out of the grappe while its dossier is still a draft."""
    if grappe_is_locked(membership.grappe):
        raise ServiceError("Le dossier est déposé : la grappe ne change plus.")
    _require(
        permissions.can_remove_membership(by, membership),
        "Seul le gestionnaire de cet établissement peut le retirer de la grappe.",
    )
    membership.delete()
    quotes_changed()


@dataclass(frozen=True)
class MembershipJoin:
    """An ESSMS an amendment puts in a locked grappe, with its project (the grappe's common
    solution, an acquisition: what the amendment's engine computed its amount on)."""

    finess: str
    project_type: str = ProjectType.ACQUISITION
    solution_id: int | None = None


# Who validates amendments (the deciders of a dossier, ``grants.permissions``); a guard in depth,
# the caller having checked the four eyes on the dossier itself.
AMENDMENT_DECIDERS = frozenset({Role.ARS_VALIDEUR, Role.CNSA_AGENT})


def grappe_memberships_amend(
    *,
    grappe: Grappe,
    leaving: Collection[str],
    joining: Sequence[MembershipJoin],
    by: User,
) -> None:
    """Change the ESSMS of a **locked** grappe: the leavers' (FINESS) memberships removed, the
    joiners' added. The only way to change a grappe once its dossier is submitted: it is called
    by the validation of an amendment (``grants.amendments.amendment_validate``), the
    four-eyes-validated record of the change whose letter states the amounts, inside its
    transaction (a refusal here undoes the validation). ``grappe_is_locked`` still freezes the
    grappe for every other service. All or nothing: the first refusal raises ``ServiceError``
    (field ``leaving`` or ``joining``) before anything is written."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("grappe_memberships_amend runs inside the amendment's transaction.")
    _require(by.role in AMENDMENT_DECIDERS, "Seul un valideur de l'avenant modifie la grappe.")
    if not grappe_is_locked(grappe):
        raise ServiceError(
            "Le dossier de cette grappe n'est pas déposé : ses ESSMS changent depuis la grappe."
        )
    locked = Grappe.objects.select_for_update().get(pk=grappe.pk)
    members = {
        m.structure.finess: m
        for m in GrappeMembership.objects.filter(grappe=locked).select_related("structure")
    }
    for finess in leaving:
        if finess not in members:
            raise ServiceError(f"L'ESSMS {finess} ne fait pas partie de la grappe.", "leaving")
    structures = Structure.objects.in_bulk([j.finess for j in joining], field_name="finess")
    organisations = set(locked.organisations.values_list("organisation_id", flat=True))
    for join in joining:
        structure = structures.get(join.finess)
        if structure is None:
            raise ServiceError(f"Aucun ESSMS ne porte le numéro FINESS {join.finess}.", "joining")
        if structure.closed:
            raise ServiceError(f"L'ESSMS {join.finess} est fermé.", "joining")
        if join.finess in members:
            raise ServiceError(f"L'ESSMS {join.finess} fait déjà partie de la grappe.", "joining")
        if structure.organisation_id not in organisations:
            raise ServiceError(
                f"Le gestionnaire de l'ESSMS {join.finess} ne fait pas partie de la grappe.",
                "joining",
            )
    GrappeMembership.objects.filter(pk__in=[members[f].pk for f in leaving]).delete()
    for join in joining:
        GrappeMembership.objects.create(
            grappe=locked,
            structure=structures[join.finess],
            project_type=join.project_type,
            solution_id=join.solution_id,
        )
    quotes_changed()


def grappe_participation_confirm(*, grappe: Grappe, organisation: Organisation, by: User) -> None:
    """A confirmed member confirms the organisation's participation in the grappe."""
    _require(
        permissions.can_confirm_participation(by, grappe, organisation),
        "Seul un membre confirmé de l'organisme peut confirmer sa participation.",
    )
    GrappeOrganisation.objects.filter(grappe=grappe, organisation=organisation).update(
        confirmed_at=timezone.now(), confirmed_by=by
    )


def grappe_join_request(
    *,
    grappe: Grappe,
    organisation: Organisation,
    by: User,
    message: str = "",
    invitation: GrappeInvitation | None = None,
) -> GrappeJoinRequest:
    """An isolated gestionnaire asks to join a grappe whose dossier is not yet submitted (or
    used an invitation forwarded to them: ``invitation``)."""
    _require(
        permissions.can_request_to_join(by, organisation),
        "Seul un membre confirmé de l'organisme peut demander à rejoindre une grappe.",
    )
    if grappe_is_locked(grappe):
        raise ServiceError("Le dossier de cette grappe est déjà déposé : elle est complète.")
    if grappe.organisations.filter(organisation=organisation).exists():
        raise ServiceError("Votre organisme fait déjà partie de cette grappe.")
    if GrappeJoinRequest.objects.filter(
        grappe=grappe, organisation=organisation, decided_at__isnull=True
    ).exists():
        raise ServiceError("Une demande de votre organisme est déjà en attente pour cette grappe.")
    join = GrappeJoinRequest.objects.create(
        grappe=grappe,
        organisation=organisation,
        requested_by=by,
        message=message,
        invitation=invitation,
    )
    porteurs = grappe.porteur.members.filter(status=OrganisationMember.Status.CONFIRMED)
    _mail_after_commit(
        template="grappe_join_request",
        context={"grappe": grappe, "organisation": organisation, "message": message},
        recipients=sorted(porteurs.values_list("user__email", flat=True)),
    )
    return join


@transaction.atomic
def grappe_join_decide(*, join: GrappeJoinRequest, by: User, accept: bool) -> None:
    """The porteur accepts (the organisation joins the grappe) or declines a join request;
    a request is decided once (conditional UPDATE, safe against a double click)."""
    _require(
        permissions.can_decide_join_request(by, join.grappe),
        "Seul le porteur de la grappe traite les demandes d'adhésion.",
    )
    if join.decided_at is not None:
        raise ServiceError("Cette demande a déjà été traitée.")
    if accept and grappe_is_locked(join.grappe):
        raise ServiceError(
            "Le dossier de cette grappe est déposé : elle n'accepte plus de membres."
        )
    now = timezone.now()
    decided = GrappeJoinRequest.objects.filter(pk=join.pk, decided_at__isnull=True).update(
        decided_at=now, accepted=accept
    )
    if decided != 1:
        raise ServiceError("Cette demande a déjà été traitée.")
    join.decided_at, join.accepted = now, accept
    if accept:
        GrappeOrganisation.objects.get_or_create(grappe=join.grappe, organisation=join.organisation)
    _mail_after_commit(
        template="grappe_join_decision",
        context={"grappe": join.grappe, "accepted": accept},
        recipients=[join.requested_by.email],
    )
