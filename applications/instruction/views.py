"""Instruction back office: thin views (scoped selector, form, one service, message, redirect)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from essms_portal.http import request_user as _user
from funding.rules import QuoteResult

from ..dossiers.services import message_post
from ..errors import DossierError
from ..forms import MessageForm
from ..http import back_office
from ..models import Application, ProposedAmount
from ..permissions import (
    can_accept,
    can_decide,
    can_instruct,
    can_override_envelope,
    can_read_private_notes,
)
from ..selectors import application_for_reviewer, calls_visible_to
from ..statuses import action_event
from ..workflow import (
    PAST_DRAFT,
    Action,
    Status,
    TransitionError,
    available_actions,
    can_act,
    envelope_exceeded,
    instructed_since_submission,
    transition,
)
from . import selectors, services
from .filters import queue_filtered
from .forms import (
    ActionForm,
    AssignForm,
    ComplementForm,
    NoteForm,
    ProposalForm,
    ReviewForm,
)
from .pagination import QueuePaginator

# Who may ever take each action of the review page on a dossier (403 otherwise); whether they
# may take it now (status, four eyes, envelope…) is the workflow's answer, shown as a message.
# NOTIFY is not here: a decision is notified only by issuing it (decisions.decision_issue),
# which numbers it and renders its letter in the same transaction.
REVIEW_ACTIONS = {
    Action.TAKE: can_instruct,
    Action.PROPOSE: can_instruct,
    Action.ACCEPT: can_accept,
    Action.REJECT: can_decide,
    Action.SEND_BACK: can_decide,
}


def _instructing(request: HttpRequest, pk: int) -> Application:
    """The dossier, in the user's scope (404 otherwise), that the user may instruct (403)."""
    application = application_for_reviewer(user=_user(request), pk=pk)
    if not can_instruct(_user(request), application):
        raise PermissionDenied("Vous ne pouvez pas instruire ce dossier.")
    return application


def _back_to(application: Application, anchor: str = "") -> HttpResponse:
    response = redirect("applications:review", pk=application.pk)
    response["Location"] += f"#{anchor}" if anchor else ""
    return response


# A page that only reads: no request transaction (ATOMIC_REQUESTS), two round trips less
# (BEGIN, COMMIT). Each of its queries reads its own snapshot either way (READ COMMITTED).
@transaction.non_atomic_requests
@require_GET
@back_office
def queue(request: HttpRequest) -> HttpResponse:
    """The reviewer's dossiers: filters, counts per status, sorting, pagination."""
    filterset, rows = queue_filtered(user=_user(request), data=request.GET)
    rows = selectors.queue_ordered(rows=rows)
    counts = selectors.queue_status_counts(queryset=rows)
    # The counts per status add up to the total (the queue holds past-draft statuses only):
    # the paginator takes it from them instead of a COUNT query of its own.
    paginator = QueuePaginator(rows, 25, user=_user(request), count=sum(counts.values()))
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "applications/instruction/queue.html",
        {
            "title": "Dossiers à instruire",
            "filter": filterset,
            "page": page,
            "counts": [
                (label, counts.get(value, 0))
                for value, label in Status.choices
                if value in PAST_DRAFT
            ],
            "querystring": query.urlencode(),
        },
    )


def _review_context(request: HttpRequest, application: Application, **forms: Any) -> dict[str, Any]:
    user = _user(request)
    instruct = can_instruct(user, application)
    version = {"version": application.version}
    actions = [Action(a) for a in available_actions(application, user) if a in REVIEW_ACTIONS]
    action_form = forms.get("action_form") or ActionForm(initial=version)
    if not (
        Action.ACCEPT in actions
        and can_override_envelope(user, application)
        and envelope_exceeded(application)
    ):
        # The override reason is asked only of whoever may override, when it would apply.
        action_form.fields.pop("override_reason", None)
    criteria = selectors.call_criteria(call=application.call)
    report = selectors.eligibility_report(application=application)
    envelope = selectors.call_envelope_use(call=application.call)
    proposed = list(application.proposed_amounts.all())
    context: dict[str, Any] = {
        "title": f"Dossier n° {application.pk}",
        "application": application,
        "report": report,
        # One row per ESSMS with the rules it fails: five columns instead of one per rule.
        "eligibility_rows": [
            (row, [label for label, ok in row.checks if not ok]) for row in report.rows
        ],
        # Every file of the dossier (convention, quotes, share proofs, complements), served by
        # the dossier's protected download view, which scopes it again.
        "attachments": application.attachments.select_related("membership__structure").order_by(
            "kind", "uploaded_at", "pk"
        ),
        "cross_funding": selectors.structures_funded_elsewhere(application=application),
        "score": selectors.application_score(application=application),
        "reviews": application.reviews.select_related("reviewer").prefetch_related(
            "scores__criterion"
        ),
        "notes": application.private_notes.select_related("author")
        if can_read_private_notes(user, application)
        else [],
        # What happened, in the past tense ("Dossier déposé"), not the buttons' verbs.
        "history": [
            (entry, action_event(entry.action)) for entry in application.log_entries.order_by("id")
        ],
        "messages_list": application.messages.select_related("author"),
        "message_form": MessageForm(),
        "complements": application.complement_requests.all(),
        "proposed": proposed,
        # The sum of the amounts just read: what ``application_proposed_total`` asks the
        # database for, one query less.
        "proposed_total": int(sum(p.proposed for p in proposed)),
        "proposed_computed_total": sum(p.computed for p in proposed),
        "envelope": envelope,
        "can_instruct": instruct,
        # Only what the person may really do now (workflow table, scope, four eyes).
        "actions": actions,
        "action_form": action_form,
        "can_score": can_act(user, application, Action.SCORE),
        "can_edit_proposal": can_act(user, application, Action.EDIT_PROPOSAL),
        "can_ask_complement": can_act(user, application, Action.ASK_COMPLEMENT),
        "can_assign": can_act(user, application, Action.ASSIGN),
        # A decider kept off by four eyes is told why no decision button is shown.
        "four_eyes_barred": application.status == Status.PROPOSED
        and can_decide(user, application)
        and instructed_since_submission(application, user),
    }
    if instruct:
        context.update(
            {
                "assign_form": AssignForm(
                    initial={"assignee": application.assignee},
                    reviewers=selectors.reviewers_of(application=application),
                ),
                "note_form": forms.get("note_form") or NoteForm(),
                "review_form": forms.get("review_form") or ReviewForm(criteria=criteria),
                "complement_form": forms.get("complement_form") or ComplementForm(initial=version),
                "proposal_form": forms.get("proposal_form")
                or _proposal_form(application, version, proposed, report.quote),
            }
        )
    return context


def _proposal_form(
    application: Application,
    version: dict[str, int],
    proposed: list[ProposedAmount],
    quote: QuoteResult,
) -> ProposalForm:
    """The proposal form, opened on what was proposed last (computed amounts otherwise)."""
    lines = services.proposal_lines(application=application, quote=quote)
    saved = {p.line: p for p in proposed}
    initial: dict[str, Any] = {
        **version,
        "recommendation": application.recommendation,
        "motivation": application.motivation,
    }
    for index, (key, _label, computed) in enumerate(lines):
        line = saved.get(key)
        # A line whose computed amount changed since is proposed again at its new amount.
        if line is not None and line.computed == computed:
            initial[f"amount_{index}"] = line.proposed
            initial[f"reason_{index}"] = line.reason
    return ProposalForm(initial=initial, lines=lines)


# Only reads, like the queue: no request transaction (BEGIN and COMMIT spared).
@transaction.non_atomic_requests
@require_GET
@back_office
def review(request: HttpRequest, pk: int) -> HttpResponse:
    """The dossier review page: grappe, quote, eligibility report, reviews, notes, actions."""
    application = application_for_reviewer(user=_user(request), pk=pk)
    return render(
        request, "applications/instruction/review.html", _review_context(request, application)
    )


def _rerender(request: HttpRequest, application: Application, **forms: Any) -> HttpResponse:
    messages.error(request, "Le formulaire comporte des erreurs : corrigez les champs signalés.")
    return render(
        request,
        "applications/instruction/review.html",
        _review_context(request, application, **forms),
        status=400,
    )


@require_POST
@back_office
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    application = _instructing(request, pk)
    form = AssignForm(request.POST, reviewers=selectors.reviewers_of(application=application))
    if form.is_valid():
        try:
            services.application_assign(
                application=application, assignee=form.cleaned_data["assignee"], by=_user(request)
            )
        except DossierError as error:
            messages.error(request, error.message)
            return _back_to(application, "instruction")
        messages.success(request, "Affectation enregistrée.")
    return _back_to(application, "instruction")


@require_POST
@back_office
def add_note(request: HttpRequest, pk: int) -> HttpResponse:
    application = _instructing(request, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _rerender(request, application, note_form=form)
    services.note_add(application=application, by=_user(request), text=form.cleaned_data["text"])
    messages.success(request, "Note interne ajoutée.")
    return _back_to(application, "notes")


@require_POST
@back_office
def save_review(request: HttpRequest, pk: int) -> HttpResponse:
    application = _instructing(request, pk)
    criteria = selectors.call_criteria(call=application.call)
    if not criteria:
        messages.error(
            request,
            "La grille de notation de cet appel est vide : l'administrateur "
            "doit la compléter avant toute évaluation.",
        )
        return _back_to(application, "notation")
    form = ReviewForm(request.POST, criteria=criteria)
    if not form.is_valid():
        return _rerender(request, application, review_form=form)
    try:
        services.review_save(
            application=application,
            by=_user(request),
            marks=form.marks(),
            comment=form.cleaned_data["comment"],
        )
    except DossierError as error:
        messages.error(request, error.message)
        return _back_to(application, "notation")
    messages.success(request, "Évaluation enregistrée.")
    return _back_to(application, "notation")


@require_POST
@back_office
def ask_complement(request: HttpRequest, pk: int) -> HttpResponse:
    application = _instructing(request, pk)
    form = ComplementForm(request.POST)
    if not form.is_valid():
        return _rerender(request, application, complement_form=form)
    try:
        services.complement_request(
            application=application,
            by=_user(request),
            message=form.cleaned_data["message"],
            expected_items=form.cleaned_data["expected_items"],
            deadline=form.cleaned_data["deadline"],
            expected_version=form.cleaned_data["version"],
        )
    except TransitionError as error:
        messages.error(request, error.message)
        return _back_to(application)
    messages.success(request, "Demande de compléments envoyée au porteur.")
    return _back_to(application)


@require_POST
@back_office
def save_proposal(request: HttpRequest, pk: int) -> HttpResponse:
    application = _instructing(request, pk)
    if not can_act(_user(request), application, Action.EDIT_PROPOSAL):
        # The service refuses it too; answering early spares a form rendered for nothing.
        messages.error(request, "Les montants ne se modifient que pendant l'instruction.")
        return _back_to(application)
    form = ProposalForm(request.POST, lines=services.proposal_lines(application=application))
    if not form.is_valid():
        return _rerender(request, application, proposal_form=form)
    try:
        services.proposal_save(
            application=application,
            by=_user(request),
            amounts=form.amounts(),
            recommendation=form.cleaned_data["recommendation"],
            motivation=form.cleaned_data["motivation"],
            expected_version=form.cleaned_data["version"],
        )
    except DossierError as error:
        messages.error(request, error.message)
        return _back_to(application)
    messages.success(request, "Proposition enregistrée.")
    return _back_to(application, "proposition")


@require_POST
@back_office
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Apply one workflow action from the review page: 403 for whoever may never take it on this
    dossier; the workflow decides whether it may be taken now (message and redirect if not)."""
    application = application_for_reviewer(user=_user(request), pk=pk)
    predicate = REVIEW_ACTIONS.get(action)  # type: ignore[call-overload]
    if predicate is None:
        raise Http404("Action inconnue.")
    if not predicate(_user(request), application):
        raise PermissionDenied("Vous n'êtes pas habilité à effectuer cette action sur ce dossier.")
    form = ActionForm(request.POST)
    if not form.is_valid():
        return _rerender(request, application, action_form=form)
    try:
        if action == Action.TAKE:
            # Taking a dossier also gives it to the taker when nobody has it yet.
            services.application_take(
                application=application,
                by=_user(request),
                comment=form.cleaned_data["comment"],
                expected_version=form.cleaned_data["version"],
            )
        else:
            transition(
                application=application,
                action=action,
                by=_user(request),
                comment=form.cleaned_data["comment"],
                expected_version=form.cleaned_data["version"],
                override_reason=form.cleaned_data["override_reason"],
            )
    except DossierError as error:  # a TransitionError included
        messages.error(request, error.message)
        return _back_to(application)
    messages.success(request, f"Action effectuée : {Action(action).label}.")
    return _back_to(application)


@require_GET
@back_office
def ranking(request: HttpRequest, pk: int) -> HttpResponse:
    """A call's proposed and accepted dossiers by score, against its envelope."""
    call = get_object_or_404(calls_visible_to(user=_user(request)), pk=pk)
    return render(
        request,
        "applications/instruction/ranking.html",
        {
            "title": f"Classement — {call.name}",
            "call": call,
            "rows": selectors.call_ranking(call=call),
            "envelope": selectors.call_envelope_use(call=call),
        },
    )


@require_POST
@back_office
def post_message(request: HttpRequest, pk: int) -> HttpResponse:
    """A message to the applicant, visible on their dossier page."""
    application = _instructing(request, pk)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _rerender(request, application)
    message_post(application=application, by=_user(request), text=form.cleaned_data["text"])
    messages.success(request, "Message envoyé au porteur.")
    return _back_to(application, "messages")
