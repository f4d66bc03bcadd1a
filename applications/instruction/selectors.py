"""Read-side queries of the instruction back office (keyword-only, typed): the queue, scores,
envelopes and ranking, eligibility report, cross-funding, reviewers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Avg,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from essms_portal.accounts.models import Role, User
from funding.rules import QuoteResult
from funding.services import quote_for
from grappes.models import GrappeMembership

from ..models import Application, Call, ProposedAmount, Review, ScoringCriterion
from ..selectors import applications_reviewable_by
from ..statuses import FUNDED, Status


def review_queue(*, user: User) -> QuerySet[Application]:
    """The reviewer's queue with what each row shows, in a fixed number of queries.

    The ESSMS count and the average score are correlated subqueries, not joins: a join over
    the memberships would group every membership in scope before the page is cut (issue #13),
    whereas a subquery runs for the 25 rows shown only, through the membership's grappe index.
    Nothing here multiplies rows, so neither the count nor the status counts need DISTINCT.
    """
    return (
        applications_reviewable_by(user=user)
        .select_related("grappe__porteur", "call__region", "assignee")
        .annotate(essms_count=_essms_count_subquery(), average_score=_average_score_subquery())
    )


def queue_ordered(*, rows: QuerySet[Application]) -> QuerySet[Application]:
    """The queue in the order its filters ask (latest submitted first by default), ties broken
    by dossier number, latest first: a total order, so that among equal scores, statuses or
    ESSMS counts each dossier is on one page only, and the page's subquery of keys
    (``queue_page_rows``) and its rows agree."""
    ordering = [*(rows.query.order_by or ["-submitted_at"])]
    if not {"pk", "-pk"} & set(ordering):
        ordering.append("-pk")
    return rows.order_by(*ordering)


# What a row of the queue page shows (templates/applications/instruction/queue.html): the
# dossiers' long texts, the grappe's description, the instructeur's password hash… stay unread.
QUEUE_ROW_FIELDS = (
    "status",
    "submitted_at",
    "grappe__name",
    "grappe__porteur__name",
    "call__region__name",
    "assignee__email",
)


def queue_page_rows(
    *, user: User, rows: QuerySet[Application], start: int, stop: int
) -> QuerySet[Application]:
    """The dossiers ``start`` to ``stop`` of the (filtered, ordered) queue ``rows``, with what
    the page shows of each: one query.

    The page is cut on the dossiers alone, in a subquery of their keys (sorted, limited), and
    only its rows are joined to grappe, porteur, call, region and instructeur: joining the
    whole queue before sorting it to keep 25 rows was most of the page's SQL (issue #13).
    The outer query asks the user's scope again (``review_queue``) and sorts the same way.
    """
    ordering = rows.query.order_by
    keys = rows.values("pk")[start:stop]
    return review_queue(user=user).filter(pk__in=keys).order_by(*ordering).only(*QUEUE_ROW_FIELDS)


def _essms_count_subquery() -> Coalesce:
    memberships = (
        GrappeMembership.objects.filter(grappe_id=OuterRef("grappe_id"))
        .order_by()
        .values("grappe_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(memberships, output_field=IntegerField()), 0)


def _average_score_subquery():  # type: ignore[no-untyped-def]

    return Subquery(
        Review.objects.filter(application=OuterRef("pk"))
        .values("application")
        .annotate(avg=Avg("score"))
        .values("avg")[:1]
    )


def queue_status_counts(*, queryset: QuerySet[Application]) -> dict[str, int]:
    """Number of dossiers per status in (a filtered) queue: one query. Django leaves the row
    annotations out of the GROUP BY, and no filter multiplies rows, so no DISTINCT."""
    rows = queryset.order_by().values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def call_criteria(*, call: Call) -> list[ScoringCriterion]:
    """The call's scoring grid, in order."""
    return list(call.criteria.order_by("position", "id"))


def application_score(*, application: Application) -> Decimal | None:
    """Average score out of 100 of the dossier's complete reviews, or None when none is."""
    criteria = application.call.criteria.count()
    if not criteria:
        return None
    complete = (
        application.reviews.annotate(n=Count("scores"))
        .filter(n=criteria)
        .values_list("score", flat=True)
    )
    scores = list(complete)
    if not scores:
        return None
    average = sum(scores, Decimal(0)) / len(scores)
    return average.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class EnvelopeUse:
    """How much of a call's envelope accepted and proposed dossiers use."""

    envelope: int
    accepted: int
    proposed: int

    @property
    def remaining(self) -> int:
        return self.envelope - self.accepted


def call_envelope_use(*, call: Call) -> EnvelopeUse:
    """Accepted (accepted or notified) and proposed totals of a call, from proposed amounts."""
    rows = (
        ProposedAmount.objects.filter(application__call=call)
        .values("application__status")
        .annotate(total=Sum("proposed"))
    )
    totals = {row["application__status"]: int(row["total"] or 0) for row in rows}
    return EnvelopeUse(
        envelope=int(call.envelope),
        accepted=sum(totals.get(s, 0) for s in FUNDED),
        proposed=totals.get(Status.PROPOSED, 0),
    )


@dataclass(frozen=True)
class RankedDossier:
    """One row of a call's ranking against its envelope."""

    application: Application
    score: Decimal | None
    proposed_total: int
    cumulative: int
    within_envelope: bool


def call_ranking(*, call: Call) -> list[RankedDossier]:
    """Proposed and accepted dossiers of a call by score, with the cumulative amount."""
    applications = (
        Application.objects.filter(call=call, status__in=[Status.PROPOSED, *FUNDED])
        .select_related("grappe")
        .annotate(total=Sum("proposed_amounts__proposed"), avg=_average_score_subquery())
    )
    ranked = sorted(applications, key=lambda a: (-(a.avg or 0), a.pk))
    rows: list[RankedDossier] = []
    cumulative = 0
    for application in ranked:
        total = int(application.total or 0)
        cumulative += total
        score = Decimal(application.avg).quantize(Decimal("0.01")) if application.avg else None
        rows.append(
            RankedDossier(application, score, total, cumulative, cumulative <= call.envelope)
        )
    return rows


def structures_funded_elsewhere(*, application: Application) -> QuerySet[Application]:
    """Funded dossiers of other campaigns sharing an ESSMS or a gestionnaire with this one."""
    finess = application.grappe.memberships.values("structure_id")
    organisations = application.grappe.memberships.values("structure__organisation_id")
    return (
        Application.objects.filter(status__in=FUNDED)
        .exclude(call__campaign_id=application.call.campaign_id)
        .filter(
            Q(grappe__memberships__structure_id__in=finess)
            | Q(grappe__memberships__structure__organisation_id__in=organisations)
        )
        .distinct()
    )


def reviewers_of(*, application: Application) -> QuerySet[User]:
    """Instructeurs who may be assigned the dossier (region's, or CNSA for the national call)."""
    if application.call.scope == "national":
        return User.objects.filter(role=Role.CNSA_AGENT, is_active=True)
    return User.objects.filter(
        role=Role.ARS_INSTRUCTEUR, region_id=application.call.region_id, is_active=True
    )


def has_sector(casf_item: str) -> Exists:
    """Subquery: the dossier's grappe holds an ESSMS under this CASF item."""
    return Exists(
        GrappeMembership.objects.filter(
            grappe_id=OuterRef("grappe_id"), structure__category__casf_item_id=casf_item
        )
    )


STRUCTURE_CHECKS: tuple[tuple[str, str], ...] = (
    ("Numéro FINESS valide", "FINESS_INVALID"),
    ("Catégorie éligible (CASF L312-1)", "CATEGORY_NOT_ELIGIBLE"),
    ("Solution référencée Ségur", "SEGUR_REQUIRED"),
    ("Jamais financé auparavant", "ALREADY_FUNDED"),
    ("Gestionnaire membre de la grappe", "UNKNOWN_GESTIONNAIRE"),
    ("Part éligible valide", "INVALID_SHARE"),
    ("Présent une seule fois", "DUPLICATE_STRUCTURE"),
)
GRAPPE_CHECKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Taille de la grappe", ("GRAPPE_TOO_SMALL", "GRAPPE_TOO_LARGE")),
    ("Région de l'appel", ("WRONG_REGION",)),
)


@dataclass(frozen=True)
class EligibilityRow:
    """Pass/fail of every rule for one ESSMS of the grappe."""

    finess: str
    name: str
    category: str
    manual_entry: bool
    amount: int
    checks: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class EligibilityReport:
    """The eligibility report of a dossier: per ESSMS, per grappe, and the quote behind it."""

    rows: tuple[EligibilityRow, ...]
    grappe_checks: tuple[tuple[str, bool, str], ...]
    quote: QuoteResult


def eligibility_report(*, application: Application) -> EligibilityReport:
    """Every rule, pass or fail, per ESSMS and for the grappe, from the funding quote."""
    quote = quote_for(application=application)
    codes_by_finess: dict[str | None, set[str]] = {}
    messages: dict[str, str] = {}
    for issue in quote.errors:
        codes_by_finess.setdefault(issue.finess, set()).add(issue.code)
        messages.setdefault(issue.code, issue.message)
    memberships = {
        m.structure.finess: m.structure
        for m in application.grappe.memberships.select_related("structure__category")
    }
    rows = []
    for line in quote.structures:
        structure = memberships.get(line.finess)
        codes = codes_by_finess.get(line.finess, set())
        rows.append(
            EligibilityRow(
                finess=line.finess,
                name=structure.name if structure else line.finess,
                category=str(structure.category)
                if structure and structure.category
                else line.category,
                manual_entry=bool(structure and structure.source == "manual"),
                amount=line.amount,
                checks=tuple((label, code not in codes) for label, code in STRUCTURE_CHECKS),
            )
        )
    grappe_codes = codes_by_finess.get(None, set())
    grappe_checks = tuple(
        (
            label,
            not (set(codes) & grappe_codes),
            next((messages[c] for c in codes if c in grappe_codes), ""),
        )
        for label, codes in GRAPPE_CHECKS
    )
    return EligibilityReport(rows=tuple(rows), grappe_checks=grappe_checks, quote=quote)
