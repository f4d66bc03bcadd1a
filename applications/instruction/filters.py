"""The reviewer's queue filters (django-filter: no hand-made query-string parsing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django_filters.fields import ModelChoiceField, ModelChoiceIterator

from essms_portal.accounts.models import ARS_ROLES, Role, User
from grappes.models import CasfCategory, Departement, Grappe, GrappeMembership, Organisation

from ..models import Application, Call
from ..workflow import Status
from .selectors import has_sector, review_queue


def _attributes(attrs: dict[str, Any]) -> SafeString:
    """HTML attributes as Django's ``attrs.html`` writes them (True: bare name, False: left out)."""
    return format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value),)
            for name, value in attrs.items()
            if value is not False
        ),
    )


class QueueSelect(forms.Select):
    """A select writing the markup of Django's ``select.html`` in Python: the queue's filter form
    lists every département, instructeur and call, and one template render per option was most
    of the page's time (issue #13). Django's ``optgroups``/``create_option`` dictionaries and one
    ``format_html`` per option were still half of the queue page: the options are written here
    straight from ``choices``, with Django's rules (only the first matching option is selected,
    labels escaped unless already safe). Same HTML (tests/applications/test_queue_queries.py)."""

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> SafeString:
        selected_values = set(self.format_value(value))
        has_selected = False
        parts: list[str] = []
        for option_value, option_label in self.choices:
            if isinstance(option_label, (list, tuple)):
                group: Any = option_value
                options = option_label
            else:
                group, options = None, [(option_value, option_label)]
            if group:
                parts.append(f'<optgroup label="{conditional_escape(group)}">')
            for subvalue, sublabel in options:
                subvalue = "" if subvalue is None else str(subvalue)
                selected = not has_selected and subvalue in selected_values
                has_selected |= selected
                parts.append(
                    f'<option value="{escape(subvalue)}"{" selected" if selected else ""}>'
                    f"{conditional_escape(sublabel)}</option>"
                )
            if group:
                parts.append("</optgroup>")
        final_attrs = self.build_attrs(self.attrs, attrs)
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            _attributes(final_attrs),
            mark_safe("".join(parts)),  # noqa: S308 - each value and label escaped above
        )


def _user_label(first_name: str, last_name: str, email: str) -> str:
    """``str(user)``: « Prénom Nom <adresse> », the address alone without a name."""
    full = f"{first_name} {last_name}".strip()  # ``get_full_name()``
    return f"{full} <{email}>" if full else email


# The option labels of the filter form's lists, read as columns: each is its model's
# ``__str__`` (tests/applications/test_queue_queries.py compares them on every row), without a
# model instance per option: the national lists built ~160 instances per view for their labels
# alone (issue #13, load test).
OPTION_LABELS: dict[type[Any], tuple[tuple[str, ...], Callable[..., str]]] = {
    Call: (("name",), str),
    Departement: (("code", "name"), lambda code, name: f"{code} — {name}"),
    CasfCategory: (("code", "label"), lambda code, label: f"{code} {label}"),
    User: (("first_name", "last_name", "email"), _user_label),
}


class QueueChoiceIterator(ModelChoiceIterator):
    """django-filter's choices of a queryset (empty and null choices first), read by a plain
    query: Django's ``ModelChoiceIterator`` reads them through ``QuerySet.iterator()``, a
    server-side cursor on PostgreSQL (DECLARE, FETCH, CLOSE: three round trips instead of
    one for each of the filter form's lists, issue #13). The rows of ``OPTION_LABELS``'
    models are read as (key, label columns) tuples; ``QueueSelect`` writes the key as
    ``str(value)``, the same text as the instance's key."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        labels = OPTION_LABELS.get(self.queryset.model)
        if labels is None or self.field.to_field_name:
            for obj in self.queryset:
                yield self.choice(obj)
            return
        columns, label = labels
        for pk, *values in self.queryset.values_list("pk", *columns):
            yield (pk, label(*values))


class QueueChoiceField(ModelChoiceField):
    iterator = QueueChoiceIterator


class QueueChoiceFilter(django_filters.ModelChoiceFilter):
    """A ``ModelChoiceFilter`` whose list is read in one query (``QueueChoiceIterator``)."""

    field_class = QueueChoiceField


class ApplicationQueueFilter(django_filters.FilterSet):
    """Filter and sort a reviewer's dossiers."""

    q = django_filters.CharFilter(
        label="Recherche",
        method="filter_text",
        help_text="Grappe, porteur, FINESS ou n° de dossier",
    )
    call = QueueChoiceFilter(
        label="Appel à projets", queryset=Call.objects.none(), widget=QueueSelect
    )
    status = django_filters.ChoiceFilter(
        label="Statut", choices=Status.choices, empty_label="Tous", widget=QueueSelect
    )
    departement = QueueChoiceFilter(
        label="Département du porteur",
        field_name="grappe__porteur__departement",
        queryset=Departement.objects.none(),
        widget=QueueSelect,
    )
    sector = QueueChoiceFilter(
        label="Secteur (item L312-1)",
        queryset=CasfCategory.objects.only("code", "label"),
        method="filter_sector",
        widget=QueueSelect,
    )
    assignee = QueueChoiceFilter(
        label="Instructeur", queryset=User.objects.none(), widget=QueueSelect
    )
    # A plain choice, not django-filter's BooleanWidget: its "Inconnu / Oui / Non" is not
    # French a reviewer would say; "true"/"false" stay the values so existing links keep working.
    mine = django_filters.ChoiceFilter(
        label="Affectés à moi",
        method="filter_mine",
        choices=[("true", "Oui"), ("false", "Non")],
        empty_label="Tous",
        widget=QueueSelect,
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
        # The lists read what their labels show (the models' ``__str__``), nothing more.
        calls = Call.objects.only("name")
        departements = Departement.objects.only("code", "name")
        reviewers = User.objects.filter(role__in=[Role.ARS_INSTRUCTEUR, Role.CNSA_AGENT]).only(
            "first_name", "last_name", "email"
        )
        if user.role in ARS_ROLES:
            calls = calls.filter(region_id=user.region_id)
            departements = departements.filter(region_id=user.region_id)
            reviewers = reviewers.filter(region_id=user.region_id)
        self.filters["call"].queryset = calls
        self.filters["departement"].queryset = departements
        self.filters["assignee"].queryset = reviewers

    def filter_text(self, queryset: QuerySet[Application], name: str, value: str):  # type: ignore[no-untyped-def]
        value = value.strip()
        return queryset.filter(queue_text_condition(value)) if value else queryset

    def filter_sector(self, queryset: QuerySet[Application], name: str, value: CasfCategory):  # type: ignore[no-untyped-def]
        return queryset.filter(has_sector(value.code)) if value else queryset

    def filter_mine(self, queryset: QuerySet[Application], name: str, value: str):  # type: ignore[no-untyped-def]
        if value == "true":
            return queryset.filter(assignee=self.user)
        if value == "false":  # somebody else's or nobody's
            return queryset.exclude(assignee=self.user)
        return queryset


FINESS_LENGTH = 9
# A dossier number longer than this is no dossier number (and would overflow the key).
DOSSIER_NUMBER_MAX_DIGITS = 18


def queue_text_condition(value: str) -> Q:
    """Dossiers whose grappe or porteur name contains ``value`` (any case), whose porteur or
    one ESSMS has ``value`` as FINESS, or whose number is ``value``.

    The grappe branches are one subquery of grappe keys, a ``UNION ALL`` of one query per
    table that an index serves (issue #13): the names through the trigram indexes of
    migration 0008 (``UPPER(name) gin_trgm_ops``, what ``icontains`` compiles to on
    PostgreSQL), the FINESS through the unique indexes. One ``IN`` per branch, OR-ed, was
    planned as hashed subplans read to their end, where PostgreSQL preferred a sequential
    scan of the 8 000 porteurs to the trigram index; in a union each branch is planned on
    its own, the porteurs' one as a semi-join. The number goes through the primary key. The
    exact-value branches are only added when ``value`` has the shape that can match: a stored
    FINESS always has 9 characters. No branch multiplies rows: no DISTINCT.
    """
    porteurs = Q(name__icontains=value)
    if len(value) == FINESS_LENGTH:
        porteurs |= Q(finess=value)
    grappes: list[QuerySet[Any, Any]] = [
        Grappe.objects.filter(name__icontains=value).order_by().values("pk"),
        Grappe.objects.filter(porteur_id__in=Organisation.objects.filter(porteurs).values("pk"))
        .order_by()
        .values("pk"),
    ]
    if len(value) == FINESS_LENGTH:
        grappes.append(
            GrappeMembership.objects.filter(structure__finess=value)
            .order_by()  # the membership's default order would join the grappes
            .values("grappe_id")
        )
    first, *others = grappes
    condition = Q(grappe_id__in=first.union(*others, all=True))
    if value.isascii() and value.isdigit() and len(value) <= DOSSIER_NUMBER_MAX_DIGITS:
        condition |= Q(pk=int(value))
    return condition


def queue_filtered(
    *, user: User, data: object
) -> tuple[ApplicationQueueFilter, QuerySet[Application]]:
    """The user's queue narrowed by the query-string filters (all of it when they are invalid),
    shared by the queue page and the data exports so both show the same dossiers."""
    base = review_queue(user=user)
    filterset = ApplicationQueueFilter(data or None, queryset=base, user=user)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    return filterset, rows
