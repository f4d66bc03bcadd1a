"""The reviewer's queue filters (django-filter: no hand-made query-string parsing)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from essms_portal.accounts.models import ARS_ROLES, Role, User
from grappes.models import CasfCategory, Departement

from ..models import Application, Call
from ..workflow import Status
from .selectors import has_sector, review_queue


class ApplicationQueueFilter(django_filters.FilterSet):
    """Filter and sort a reviewer's dossiers."""

    q = django_filters.CharFilter(
        label="Recherche",
        method="filter_text",
        help_text="Grappe, porteur, FINESS ou n° de dossier",
    )
    call = django_filters.ModelChoiceFilter(label="Appel à projets", queryset=Call.objects.none())
    status = django_filters.ChoiceFilter(label="Statut", choices=Status.choices, empty_label="Tous")
    departement = django_filters.ModelChoiceFilter(
        label="Département du porteur",
        field_name="grappe__porteur__departement",
        queryset=Departement.objects.none(),
    )
    sector = django_filters.ModelChoiceFilter(
        label="Secteur (item L312-1)", queryset=CasfCategory.objects.all(), method="filter_sector"
    )
    assignee = django_filters.ModelChoiceFilter(label="Instructeur", queryset=User.objects.none())
    mine = django_filters.BooleanFilter(
        label="Assignés à moi", method="filter_mine", widget=django_filters.widgets.BooleanWidget()
    )
    ordering = django_filters.OrderingFilter(
        label="Trier par",
        fields=(
            ("submitted_at", "submitted_at"),
            ("grappe__name", "grappe"),
            ("status", "status"),
            ("average_score", "score"),
            ("essms_count", "essms"),
        ),
        field_labels={
            "submitted_at": "Date de dépôt",
            "grappe__name": "Grappe",
            "status": "Statut",
            "average_score": "Note",
            "essms_count": "Nombre d'ESSMS",
        },
    )

    class Meta:
        model = Application
        fields = ("q", "call", "status", "departement", "sector", "assignee", "mine")

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.user = user
        calls = Call.objects.select_related("region", "campaign")
        departements = Departement.objects.all()
        reviewers = User.objects.filter(role__in=[Role.ARS_INSTRUCTEUR, Role.CNSA_AGENT])
        if user.role in ARS_ROLES:
            calls = calls.filter(region_id=user.region_id)
            departements = departements.filter(region_id=user.region_id)
            reviewers = reviewers.filter(region_id=user.region_id)
        self.filters["call"].queryset = calls
        self.filters["departement"].queryset = departements
        self.filters["assignee"].queryset = reviewers

    def filter_text(self, queryset: QuerySet[Application], name: str, value: str):  # type: ignore[no-untyped-def]
        value = value.strip()
        condition = (
            Q(grappe__name__icontains=value)
            | Q(grappe__porteur__name__icontains=value)
            | Q(grappe__porteur__finess=value)
            | Q(grappe__memberships__structure__finess=value)
        )
        if value.isdigit():
            condition |= Q(pk=int(value))
        return queryset.filter(condition).distinct()

    def filter_sector(self, queryset: QuerySet[Application], name: str, value: CasfCategory):  # type: ignore[no-untyped-def]
        return queryset.filter(has_sector(value.code)) if value else queryset

    def filter_mine(self, queryset: QuerySet[Application], name: str, value: bool | None):  # type: ignore[no-untyped-def]
        return queryset.filter(assignee=self.user) if value else queryset


def queue_filtered(
    *, user: User, data: object
) -> tuple[ApplicationQueueFilter, QuerySet[Application]]:
    """The user's queue narrowed by the query-string filters (all of it when they are invalid),
    shared by the queue page and the data exports so both show the same dossiers."""
    base = review_queue(user=user)
    filterset = ApplicationQueueFilter(data or None, queryset=base, user=user)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    return filterset, rows
