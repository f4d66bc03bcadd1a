"""Applicant pages for organisations, ESSMS and grappes (thin views over services)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from essms_portal.http import request_user as _user

from . import selectors, services
from .forms import (
    AcceptInvitationForm,
    GrappeForm,
    InviteForm,
    JoinOrganisationForm,
    MembershipForm,
    StructureAddForm,
)
from .models import Grappe, OrganisationMember


def applicant_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Reserve a page to gestionnaires (403 for back-office users, who have their own pages)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _user(request).role != "gestionnaire":
            raise PermissionDenied("Espace réservé aux gestionnaires.")
        return view(request, *args, **kwargs)

    return wrapper


def _form_error(form: object, error: services.ServiceError) -> None:
    """Attach a service refusal to its field (or to the form) so it shows where it belongs."""
    form.add_error(error.field if error.field in form.fields else None, error.message)  # type: ignore[attr-defined]


def home(request: HttpRequest) -> HttpResponse:
    """The applicant's space: organisations, grappes and dossiers."""
    from applications.selectors import applications_visible_to

    user = _user(request)
    if user.role != "gestionnaire":
        return redirect("applications:queue")
    memberships = OrganisationMember.objects.filter(user=user).select_related("organisation")
    return render(
        request,
        "espace/home.html",
        {
            "title": "Mon espace",
            "memberships": memberships,
            "grappes": selectors.grappes_of(user).select_related("porteur"),
            "applications": applications_visible_to(user).select_related("grappe", "call"),
        },
    )


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
    """The organisation's members and ESSMS; add an ESSMS by FINESS ET."""
    user = _user(request)
    organisation = selectors.organisation_for_member(user=user, pk=pk)
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
            "confirmed": selectors.is_confirmed_member(user=user, organisation=organisation),
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
    member = get_object_or_404(organisation.members, pk=member_pk)
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
        grappe = services.grappe_create(porteur=organisation, by=user, **form.cleaned_data)
        messages.success(request, f"Grappe « {grappe.name} » créée.")
        return redirect("organisations:grappe", pk=grappe.pk)
    return render(
        request,
        "espace/grappe_form.html",
        {"title": "Créer une grappe", "form": form, "organisation": organisation},
    )


@applicant_required
def grappe_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The grappe: organisations and their confirmation, ESSMS, invitations, dossiers."""
    user = _user(request)
    grappe = selectors.grappe_for_member(user=user, pk=pk)
    mine = selectors.organisations_of(user, confirmed_only=False)
    participations = grappe.organisations.select_related("organisation")
    available = selectors.structures_addable_to(grappe=grappe, user=user)
    membership_form = MembershipForm(
        request.POST if request.POST.get("form") == "membership" else None, structures=available
    )
    invite_form = InviteForm(request.POST if request.POST.get("form") == "invite" else None)
    is_porteur = mine.filter(pk=grappe.porteur_id).exists()
    if request.method == "POST":
        response = _grappe_post(request, grappe, membership_form, invite_form, is_porteur)
        if response is not None:
            return response
    from applications.selectors import calls_open

    return render(
        request,
        "espace/grappe.html",
        {
            "title": grappe.name,
            "grappe": grappe,
            "participations": participations,
            "memberships": grappe.memberships.select_related(
                "structure__category", "solution", "structure__organisation"
            ),
            "membership_form": membership_form,
            "invite_form": invite_form,
            "is_porteur": is_porteur,
            "locked": services.grappe_is_locked(grappe),
            "my_unconfirmed": participations.filter(
                organisation__in=mine, confirmed_at__isnull=True
            ),
            "applications": grappe.applications.select_related("call"),
            "calls": calls_open(),
            "join_requests": grappe.join_requests.filter(decided_at__isnull=True).select_related(
                "organisation"
            ),
            "invitations": grappe.invitations.filter(
                accepted_at__isnull=True, expires_at__gt=timezone.now()
            ),
        },
    )


def _grappe_post(
    request: HttpRequest,
    grappe: Grappe,
    membership_form: MembershipForm,
    invite_form: InviteForm,
    is_porteur: bool,
) -> HttpResponse | None:
    """Handle one of the grappe page's forms; None re-renders the page with its errors."""
    user = _user(request)
    kind = request.POST.get("form")
    try:
        if kind == "membership" and membership_form.is_valid():
            data = membership_form.cleaned_data
            services.grappe_membership_add(
                grappe=grappe,
                structure=data["structure"],
                by=user,  # type: ignore[arg-type]
                project_type=data["project_type"],
                solution=data["solution"],
                eligible_share=membership_form.share(),
            )
            messages.success(request, f"{data['structure'].name} ajouté à la grappe.")
        elif kind == "invite" and invite_form.is_valid():
            if not is_porteur:
                invite_form.add_error(None, "Seul le porteur invite d'autres gestionnaires.")
                return None
            services.grappe_invite(grappe=grappe, email=invite_form.cleaned_data["email"], by=user)
            messages.success(request, f"Invitation envoyée à {invite_form.cleaned_data['email']}.")
        elif kind == "confirm":
            for participation in grappe.organisations.filter(
                organisation__in=selectors.organisations_of(user, confirmed_only=True),
                confirmed_at__isnull=True,
            ):
                services.grappe_participation_confirm(
                    grappe=grappe,
                    by=user,  # type: ignore[arg-type]
                    organisation=participation.organisation,
                )
            messages.success(request, "Participation confirmée.")
        else:
            return None
    except services.ServiceError as error:
        _form_error(membership_form if kind == "membership" else invite_form, error)
        return None
    return redirect("organisations:grappe", pk=grappe.pk)


@applicant_required
@require_POST
def membership_remove(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    user = _user(request)
    grappe = selectors.grappe_for_member(user=user, pk=pk)
    membership = selectors.membership_for_member(user=user, grappe=grappe, pk=membership_pk)
    try:
        services.grappe_membership_remove(membership=membership, by=user)
    except services.ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Établissement retiré de la grappe.")
    return redirect("organisations:grappe", pk=grappe.pk)


@applicant_required
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Accept an invitation to a grappe with one of the user's organisations."""
    user = _user(request)
    invite = selectors.invitation_by_token(token=token)
    organisations = selectors.organisations_of(user)
    only = organisations.first() if organisations.count() == 1 else None
    form = AcceptInvitationForm(
        request.POST or None, organisations=organisations, initial={"organisation": only}
    )
    expired = invite.expires_at < timezone.now()
    if request.method == "POST" and form.is_valid():
        try:
            services.grappe_invitation_accept(
                invitation=invite, by=user, organisation=form.cleaned_data["organisation"]
            )
        except services.ServiceError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Vous avez rejoint la grappe « {invite.grappe.name} ».")
            return redirect("organisations:grappe", pk=invite.grappe_id)
    return render(
        request,
        "espace/invitation.html",
        {
            "title": "Invitation à une grappe",
            "invitation": invite,
            "form": form,
            "expired": expired,
            "used": invite.accepted_at is not None,
        },
    )


@applicant_required
def grappe_join(request: HttpRequest) -> HttpResponse:
    """Grappes still open to new members, and a request to join one."""
    user = _user(request)
    organisations = selectors.organisations_of(user, confirmed_only=True)
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
