"""Data exports of the back office: dossiers and their ESSMS lines, as CSV or XLSX.

The rows come from the user's scope (``selectors.review_queue`` → ``applications_reviewable_by``)
narrowed by the queue filters (``ApplicationQueueFilter``), so an export never shows a dossier
the queue would not. Rows are streamed: CSV through a StreamingHttpResponse, XLSX through
openpyxl's write-only mode into a temporary file; memory stays flat with the row count.
"""

from __future__ import annotations

import csv
import datetime
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from typing import IO, Any

from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from grappes.models import GrappeMembership, ProjectType

from ..models import Application, ProposedAmount
from ..workflow import Status

Row = Sequence[Any]
CHUNK = 500
DATASETS = ("dossiers", "essms")
FORMATS = ("csv", "xlsx")

DOSSIER_HEADER = (
    "N° dossier",
    "Appel à projets",
    "Région",
    "Grappe",
    "Porteur",
    "FINESS porteur",
    "Statut",
    "Déposé le",
    "Nombre d'ESSMS",
    "Note /100",
    "Montant calculé (€)",
    "Montant proposé (€)",
    "Instructeur",
    "N° de décision",
)
ESSMS_HEADER = (
    "N° dossier",
    "Appel à projets",
    "Région",
    "Grappe",
    "Statut",
    "FINESS ET",
    "ESSMS",
    "Gestionnaire",
    "Catégorie FINESS",
    "Item CASF L312-1",
    "Type de projet",
    "Part éligible",
    "Montant calculé (€)",
    "Montant proposé (€)",
)
# A cell starting with one of these is read as a formula by spreadsheets (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    """Neutralise a text cell a spreadsheet would evaluate (user-typed names are untrusted)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value


def _sum_of(field: str) -> Subquery:
    return Subquery(
        ProposedAmount.objects.filter(application=OuterRef("pk"))
        .values("application")
        .annotate(total=Sum(field))
        .values("total")[:1]
    )


def dossier_rows(queryset: QuerySet[Application]) -> Iterator[Row]:
    """One row per dossier of the (scoped, filtered) queue, header first."""
    statuses = dict(Status.choices)
    rows = (
        queryset.annotate(computed_total=_sum_of("computed"), proposed_total=_sum_of("proposed"))
        .order_by("pk")
        .values_list(
            "pk",
            "call__name",
            "call__region__name",
            "grappe__name",
            "grappe__porteur__name",
            "grappe__porteur__finess",
            "status",
            "submitted_at",
            "essms_count",
            "average_score",
            "computed_total",
            "proposed_total",
            "assignee__email",
            "decision__number",
        )
    )
    yield DOSSIER_HEADER
    for row in rows.iterator(chunk_size=CHUNK):
        (pk, call, region, grappe, porteur, finess, status, submitted, count, score, computed,
         proposed, assignee, number) = row  # fmt: skip
        yield (
            pk,
            call,
            region or "National",
            grappe,
            porteur,
            finess,
            statuses.get(status, status),
            timezone.localdate(submitted) if submitted else None,
            count,
            Decimal(score).quantize(Decimal("0.01")) if score is not None else None,
            int(computed) if computed is not None else None,
            int(proposed) if proposed is not None else None,
            assignee or "",
            number or "",
        )


def _chunks(iterator: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(islice(iterator, size)):
        yield chunk


def essms_rows(queryset: QuerySet[Application]) -> Iterator[Row]:
    """One row per ESSMS of each dossier of the (scoped, filtered) queue, with the amounts the
    instructeur computed and proposed for it (empty before the proposal), header first."""
    statuses = dict(Status.choices)
    projects = dict(ProjectType.choices)
    dossiers = (
        queryset.order_by("pk")
        .values_list(
            "pk", "grappe_id", "call__name", "call__region__name", "grappe__name", "status"
        )
        .iterator(chunk_size=CHUNK)
    )
    yield ESSMS_HEADER
    for chunk in _chunks(dossiers, CHUNK):
        grappes = {grappe_id for _pk, grappe_id, *_ in chunk}
        by_grappe: dict[int, list[tuple[Any, ...]]] = {}
        for membership in (
            GrappeMembership.objects.filter(grappe_id__in=grappes)
            .order_by("grappe_id", "structure__finess")
            .values_list(
                "grappe_id",
                "structure__finess",
                "structure__name",
                "structure__organisation__name",
                "structure__category__code",
                "structure__category__label",
                "structure__category__casf_item_id",
                "project_type",
                "eligible_share",
            )
        ):
            by_grappe.setdefault(membership[0], []).append(membership[1:])
        amounts = {
            (application_id, line): (computed, proposed)
            for application_id, line, computed, proposed in ProposedAmount.objects.filter(
                application_id__in=[pk for pk, *_ in chunk], line__startswith="structure:"
            ).values_list("application_id", "line", "computed", "proposed")
        }
        for pk, grappe_id, call, region, grappe, status in chunk:
            for finess, name, organisation, code, label, item, project, share in by_grappe.get(
                grappe_id, []
            ):
                computed, proposed = amounts.get((pk, f"structure:{finess}"), (None, None))
                yield (
                    pk,
                    call,
                    region or "National",
                    grappe,
                    statuses.get(status, status),
                    finess,
                    name,
                    organisation,
                    f"{code} — {label}" if code else "",
                    item or "",
                    projects.get(project, project),
                    Decimal(share).normalize(),
                    int(computed) if computed is not None else None,
                    int(proposed) if proposed is not None else None,
                )


def rows_for(dataset: str, queryset: QuerySet[Application]) -> Iterator[Row]:
    """The rows of one dataset (``dossiers`` or ``essms``)."""
    return dossier_rows(queryset) if dataset == "dossiers" else essms_rows(queryset)


class _Echo:
    """A write-only pseudo-file: csv.writer hands back each formatted line."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")  # French spreadsheets read a decimal comma
    return _safe(value)


def csv_stream(rows: Iterable[Row]) -> Iterator[str]:
    """CSV lines (``;``-separated, UTF-8 with BOM for spreadsheets), one at a time."""
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([_csv_cell(value) for value in row])


def xlsx_file(rows: Iterable[Row], *, title: str) -> IO[bytes]:
    """An XLSX workbook (write-only mode: rows go straight to disk) in a temporary file,
    rewound; the file disappears when closed."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for row in rows:
        sheet.append([_safe(value) for value in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - returned open, closed by the response
    workbook.save(handle)
    handle.seek(0)
    return handle
