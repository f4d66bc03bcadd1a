"""Applicant pages for organisations, ESSMS and grappes (thin views over services)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from essms_portal.http import applicant_required
from essms_portal.http import request_user as _user

from . import permissions, selectors, services
from .forms import (
    AcceptInvitationForm,
    GrappeForm,
    InviteForm,
    JoinOrganisationForm,
    LegalFormForm,
    MembershipForm,
    StructureAddForm,
)
from .models import Grappe, OrganisationMember
from .segur import segur_warning


def _form_error(form: object, error: services.ServiceError) -> None:
    """Attach a service refusal to its field (or to the form) so it shows where it belongs."""
    form.add_error(error.field if error.field in form.fields else None, error.message)  # type: ignore[attr-defined]


@applicant_required
def organisation_join(request: HttpRequest) -> HttpResponse:
    """Attach the user to a gestionnaire by its FINESS EJ (pending until confirmed)."""
    form = JoinOrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = services.organisation_join(
                user=_user(request), finess=form.cleaned_data["finess"]
            )
        except services.ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(
                request,
                f"Demande de rattachement à {member.organisation.name} "
                "envoyée : un membre de l'organisme ou l'équipe du programme doit "
                "la confirmer avant tout dépôt.",
            )
            return redirect("organisations:detail", pk=member.organisation_id)
    return render(
        request, "espace/organisation_join.html", {"title": "Rattacher mon organisme", "form": form}
    )


@applicant_required
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The organisation's members and ESSMS; add an ESSMS by FINESS ET. A pending member sees
    their request and the organisation's public identity only."""
    user = _user(request)
    request_row = selectors.organisation_request_for(user=user, pk=pk)
    if request_row.status != OrganisationMember.Status.CONFIRMED:
        return render(
            request,
            "espace/organisation_pending.html",
            {"title": request_row.organisation.name, "request_row": request_row},
        )
    organisation = request_row.organisation
    form = StructureAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            structure = services.structure_add(
                organisation=organisation, by=user, **form.cleaned_data
            )
        except services.ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, f"{structure.name} ({structure.finess}) est enregistré.")
            return redirect("organisations:detail", pk=organisation.pk)
    return render(
        request,
        "espace/organisation.html",
        {
            "title": organisation.name,
            "organisation": organisation,
            "form": form,
            "can_add_structure": permissions.can_add_structure(user, organisation),
            "can_create_grappe": permissions.can_create_grappe(user, organisation),
            "members": organisation.members.select_related("user"),
            "structures": organisation.structures.select_related(
                "category", "departement"
            ).order_by("finess"),
        },
    )


@applicant_required
@require_POST
def member_confirm(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    organisation = selectors.organisation_for_member(user=_user(request), pk=pk)
    member = get_object_or_404(organisation.members.select_related("user"), pk=member_pk)
    try:
        services.organisation_member_confirm(member=member, by=_user(request))
        messages.success(request, f"Rattachement de {member.user.email} confirmé.")
    except services.ServiceError as error:
        messages.error(request, error.message)
    return redirect("organisations:detail", pk=organisation.pk)


@applicant_required
def grappe_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Create a grappe led by one of the user's organisations."""
    user = _user(request)
    organisation = selectors.organisation_for_member(user=user, pk=pk)
    form = GrappeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grappe = services.grappe_create(porteur=organisation, by=user, **form.cleaned_data)
        except services.ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, f"Grappe « {grappe.name} » créée.")
            return redirect("organisations:grappe", pk=grappe.pk)
    return render(
        request,
        "espace/grappe_form.html",
        {"title": "Créer une grappe", "form": form, "organisation": organisation},
    )


@applicant_required
def grappe_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The grappe: organisations and their confirmation, ESSMS, invitations, dossiers. Each
    action is shown when ``grappes.permissions`` allows it, as the service will check."""
    user = _user(request)
    grappe = selectors.grappe_for_member(user=user, pk=pk)
    mine = selectors.organisations_of(user=user)
    participations = grappe.organisations.select_related("organisation")
    available = selectors.structures_addable_to(grappe=grappe, user=user)
    membership_form = MembershipForm(
        request.POST if request.POST.get("form") == "membership" else None, structures=available
    )
    invite_form = InviteForm(request.POST if request.POST.get("form") == "invite" else None)
    legal_form_form = LegalFormForm(
        request.POST if request.POST.get("form") == "legal_form" else None,
        initial={"legal_form": grappe.legal_form},
    )
    if request.method == "POST":
        response = _grappe_post(request, grappe, membership_form, invite_form, legal_form_form)
        if response is not None:
            return response
    memberships = grappe.memberships.select_related(
        "structure__category__casf_item", "solution", "structure__organisation", "grappe"
    )
    is_porteur = permissions.is_porteur_member(user, grappe)
    return render(
        request,
        "espace/grappe.html",
        {
            "title": grappe.name,
            "grappe": grappe,
            "participations": participations,
            "memberships": memberships,
            "removable": permissions.memberships_removable_by(user, grappe),
            # What the Ségur rule will make of each ESSMS's solution, said on the page where
            # it is chosen rather than only in the dossier's quote.
            "segur_warnings": [
                warning
                for m in memberships
                if (warning := segur_warning(structure=m.structure, solution=m.solution))
            ],
            "membership_form": membership_form,
            "invite_form": invite_form,
            "legal_form_form": legal_form_form,
            "can_edit_grappe": permissions.can_edit_grappe(user, grappe),
            "can_add_membership": permissions.can_add_membership(user, grappe),
            "can_invite": permissions.can_invite(user, grappe),
            "can_decide_joins": permissions.can_decide_join_request(user, grappe),
            # applications.permissions.can_create_dossier asks the same predicate.
            "can_create_dossier": is_porteur,
            "is_porteur": is_porteur,
            "locked": permissions.grappe_is_locked(grappe),
            "my_unconfirmed": participations.filter(
                organisation__in=mine, confirmed_at__isnull=True
            ),
            "applications": grappe.applications.select_related("call"),
            "join_requests": grappe.join_requests.filter(decided_at__isnull=True).select_related(
                "organisation", "requested_by"
            ),
            "invitations": selectors.invitations_pending(grappe=grappe) if is_porteur else [],
        },
    )


def _grappe_post(
    request: HttpRequest,
    grappe: Grappe,
    membership_form: MembershipForm,
    invite_form: InviteForm,
    legal_form_form: LegalFormForm,
) -> HttpResponse | None:
    """Handle one of the grappe page's forms; None re-renders the page with its errors. The
    services check who may act (grappes.permissions)."""
    user = _user(request)
    kind = request.POST.get("form")
    try:
        if kind == "membership" and membership_form.is_valid():
            data = membership_form.cleaned_data
            services.grappe_membership_add(
                grappe=grappe,
                structure=data["structure"],
                by=user,
                project_type=data["project_type"],
                solution=data["solution"],
                eligible_share=membership_form.share(),
            )
            messages.success(request, f"{data['structure'].name} ajouté à la grappe.")
            warning = segur_warning(structure=data["structure"], solution=data["solution"])
            if warning:
                messages.warning(request, warning)
        elif kind == "legal_form" and legal_form_form.is_valid():
            updated = services.grappe_legal_form_set(
                grappe=grappe, legal_form=legal_form_form.cleaned_data["legal_form"], by=user
            )
            messages.success(
                request,
                f"Forme juridique enregistrée : {updated.get_legal_form_display()}. Pièce "
                f"obligatoire du dossier : {updated.founding_document}.",
            )
        elif kind == "invite" and invite_form.is_valid():
            services.grappe_invite(grappe=grappe, email=invite_form.cleaned_data["email"], by=user)
            messages.success(request, f"Invitation envoyée à {invite_form.cleaned_data['email']}.")
        elif kind == "confirm":
            for participation in grappe.organisations.filter(
                organisation__in=selectors.organisations_of(user=user), confirmed_at__isnull=True
            ):
                services.grappe_participation_confirm(
                    grappe=grappe, by=user, organisation=participation.organisation
                )
            messages.success(request, "Participation confirmée.")
        else:
            return None
    except services.ServiceError as error:
        if kind == "legal_form":
            # Said as a message: the form is not on the page of who may not change the form.
            messages.error(request, error.message)
        else:
            _form_error(membership_form if kind == "membership" else invite_form, error)
        return None
    return redirect("organisations:grappe", pk=grappe.pk)


@applicant_required
@require_http_methods(["GET", "POST"])
def membership_remove(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    """Removing an ESSMS is irreversible for its data: GET asks for confirmation, POST removes."""
    user = _user(request)
    grappe = selectors.grappe_for_member(user=user, pk=pk)
    membership = selectors.membership_in_grappe(grappe=grappe, pk=membership_pk)
    if request.method == "GET":
        if not permissions.can_remove_membership(user, membership):
            messages.error(request, "Vous ne pouvez pas retirer cet établissement de la grappe.")
            return redirect("organisations:grappe", pk=grappe.pk)
        structure = membership.structure
        return render(
            request,
            "espace/confirm.html",
            {
                "title": "Retirer un établissement de la grappe",
                "question": f"Retirer {structure.name} (FINESS {structure.finess}) de la grappe "
                f"« {grappe.name} » ?",
                "consequences": [
                    "Son type de projet, sa solution DUI et sa part éligible sont effacés : "
                    "pour le remettre, il faudra les saisir à nouveau.",
                    "Son justificatif de part éligible, s'il a été déposé au dossier, est "
                    "supprimé avec lui.",
                    "Le chiffrage du dossier de la grappe ne le comptera plus.",
                ],
                "action_url": request.path,
                "confirm_label": "Retirer l'établissement",
                "cancel_url": reverse("organisations:grappe", kwargs={"pk": grappe.pk}),
            },
        )
    try:
        services.grappe_membership_remove(membership=membership, by=user)
    except services.ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Établissement retiré de la grappe.")
    return redirect("organisations:grappe", pk=grappe.pk)


@applicant_required
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Use an invitation to a grappe with one of the user's confirmed organisations: the invitee
    (verified address) joins at once; anyone else holding the link asks the porteur."""
    user = _user(request)
    invite = selectors.invitation_by_token(token=token)
    organisations = selectors.organisations_of(user=user)
    only = organisations.first() if organisations.count() == 1 else None
    form = AcceptInvitationForm(
        request.POST or None, organisations=organisations, initial={"organisation": only}
    )
    invitee = permissions.is_invitee(user, invite)
    if request.method == "POST" and form.is_valid():
        organisation = form.cleaned_data["organisation"]
        try:
            if invitee:
                services.grappe_invitation_accept(
                    invitation=invite, by=user, organisation=organisation
                )
            else:
                services.grappe_invitation_forward(
                    invitation=invite, by=user, organisation=organisation
                )
        except services.ServiceError as error:
            form.add_error(None, error.message)
        else:
            if invitee:
                messages.success(request, f"Vous avez rejoint la grappe « {invite.grappe.name} ».")
                return redirect("organisations:grappe", pk=invite.grappe_id)
            messages.success(
                request,
                f"Demande envoyée au porteur de « {invite.grappe.name} » : il doit la valider, "
                "car l'invitation était adressée à une autre adresse.",
            )
            return redirect("organisations:home")
    return render(
        request,
        "espace/invitation.html",
        {
            "title": "Invitation à une grappe",
            "invitation": invite,
            "form": form,
            "invitee": invitee,
            "has_organisation": organisations.exists(),
            "expired": invite.expires_at < timezone.now(),
            "used": invite.accepted_at is not None,
        },
    )


@applicant_required
def grappe_join(request: HttpRequest) -> HttpResponse:
    """Grappes still open to new members, and a request to join one."""
    user = _user(request)
    organisations = selectors.organisations_of(user=user)
    if request.method == "POST":
        grappe = get_object_or_404(
            selectors.grappes_open_to_join(user=user), pk=request.POST.get("grappe")
        )
        organisation = get_object_or_404(organisations, pk=request.POST.get("organisation"))
        try:
            services.grappe_join_request(
                grappe=grappe,
                organisation=organisation,
                by=user,
                message=request.POST.get("message", "")[:2000],
            )
        except services.ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Demande envoyée au porteur de « {grappe.name} ».")
        return redirect("organisations:grappe_join")
    return render(
        request,
        "espace/grappe_join.html",
        {
            "title": "Rejoindre une grappe",
            "organisations": organisations,
            "grappes": selectors.grappes_open_to_join(user=user)[:200],
        },
    )


@applicant_required
@require_POST
def join_decide(request: HttpRequest, pk: int, join_pk: int) -> HttpResponse:
    grappe = selectors.grappe_for_member(user=_user(request), pk=pk)
    join = get_object_or_404(grappe.join_requests, pk=join_pk)
    try:
        services.grappe_join_decide(
            join=join, by=_user(request), accept=request.POST.get("decision") == "accept"
        )
    except services.ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Demande traitée.")
    return redirect("organisations:grappe", pk=grappe.pk)
