"""A batch of payment orders as the finance department receives it: CSV and XLSX to load, a PDF
summary (*bordereau*) to sign and file.

One row builder (``payment_order_rows``) feeds the three renderers, so the files never disagree.
The rows hold only what an order froze when it was issued (number, beneficiary, bank details,
amount, legal basis) and the batch's own data, never its later payment mark: every download of a
batch gives the same content, and the PDF the same bytes.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from applications.decisions.letters import font_uris, french_date, pdf_from_html
from applications.reporting.exports import FORMULA_PREFIXES, xlsx_file
from essms_portal.money import format_euros

from .models import PaymentBatch, PaymentOrder
from .selectors import payment_batch_orders

BATCH_PDF_TEMPLATE = "grants/batch_pdf.html"

#: The columns the finance department loads, CSV and XLSX alike (the CSV's historical header:
#: ASCII keys a loader maps once), with the label the PDF summary prints.
BATCH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("numero", "Numéro"),
    ("nature", "Nature"),
    ("beneficiaire", "Bénéficiaire"),
    ("siret", "SIRET"),
    ("iban", "IBAN"),
    ("bic", "BIC"),
    ("montant_euros", "Montant (€)"),
    ("fondement", "Fondement"),
    ("date_emission", "Émis le"),
    ("dossier", "Dossier"),
    ("convention", "Convention"),
    ("bordereau", "Bordereau"),
)
BATCH_HEADER = tuple(key for key, _label in BATCH_COLUMNS)

Row = Sequence[Any]


@dataclass(frozen=True)
class BatchFile:
    """One downloadable format of a batch."""

    content_type: str
    extension: str


BATCH_FORMATS = {
    "csv": BatchFile("text/csv; charset=utf-8", "csv"),
    "xlsx": BatchFile("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pdf": BatchFile("application/pdf", "pdf"),
}


def signed_amount(order: PaymentOrder) -> int:
    """The order's amount as the finance department books it: negative for a titre de recette
    (money coming back), positive for a payment."""
    return int(order.amount) * (-1 if order.kind == PaymentOrder.Kind.RECOVERY else 1)


def payment_order_rows(*, batch: PaymentBatch) -> list[Row]:
    """The batch's orders in number order, one row each in ``BATCH_COLUMNS`` order, typed: text
    for identifiers (SIRET, IBAN keep their leading zeros), whole euros as int, the issue date
    as a date."""
    return [
        (
            order.number,
            order.get_kind_display(),
            order.beneficiary,
            order.siret,
            order.iban,
            order.bic,
            signed_amount(order),
            order.legal_basis,
            timezone.localdate(order.issued_at),
            order.application_id,
            order.convention.number,
            batch.number,
        )
        for order in payment_batch_orders(batch=batch)
    ]


def _csv_text(value: Any) -> str:
    """One CSV cell: dates ISO (``2024-01-31``), text neutralised against formulas (names are
    typed by users), numbers as they are."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
        return f"'{text}"
    return text


def batch_csv(*, batch: PaymentBatch) -> bytes:
    """The batch as CSV: ``;``-separated, CRLF, UTF-8 with BOM (spreadsheets read the accents)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(BATCH_HEADER)
    for row in payment_order_rows(batch=batch):
        writer.writerow([_csv_text(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def batch_xlsx(*, batch: PaymentBatch) -> bytes:
    """The batch as a one-sheet workbook (the project's writer): the CSV's header and rows,
    amounts as numbers, SIRET and IBAN as text cells, the issue date as a date cell."""
    rows: list[Row] = [BATCH_HEADER, *payment_order_rows(batch=batch)]
    with xlsx_file(rows, title=batch.number) as handle:
        return handle.read()


def batch_context(*, batch: PaymentBatch) -> dict[str, Any]:
    """What the PDF summary shows: the batch, who transmitted it and when, its orders and
    totals (payments and recoveries apart: they move money in opposite directions)."""
    keys = BATCH_HEADER
    rows = [dict(zip(keys, row, strict=True)) for row in payment_order_rows(batch=batch)]
    paid_out = sum(row["montant_euros"] for row in rows if row["montant_euros"] > 0)
    recovered = -sum(row["montant_euros"] for row in rows if row["montant_euros"] < 0)
    first = payment_batch_orders(batch=batch).first()
    authority = first.convention.snapshot.get("authority", {}).get("name", "") if first else ""
    created = timezone.localtime(batch.created_at)
    agent = batch.created_by
    return {
        "batch": batch,
        "authority": authority,
        "campaign": str(batch.campaign),
        "created_on": french_date(created.date().isoformat()),
        "created_time": f"{created:%H:%M}",
        "agent_name": agent.get_full_name(),
        "agent_email": agent.email,
        "rows": [
            {
                **row,
                "amount_fr": format_euros(abs(row["montant_euros"])),
                "issued_on": f"{row['date_emission']:%d/%m/%Y}",
            }
            for row in rows
        ],
        "count": len(rows),
        "paid_out_fr": format_euros(paid_out),
        "recovered_fr": format_euros(recovered),
        "total_fr": format_euros(int(batch.total)),
        "fonts": font_uris(),
    }


def batch_html(*, batch: PaymentBatch) -> str:
    """The summary as HTML (also handy to debug the layout in a browser)."""
    return render_to_string(BATCH_PDF_TEMPLATE, batch_context(batch=batch))


def batch_pdf(*, batch: PaymentBatch) -> bytes:
    """The summary (*bordereau*) as tagged PDF bytes, with the decision letters' machinery; the
    same batch always gives the same bytes."""
    return pdf_from_html(batch_html(batch=batch))


RENDERERS = {"csv": batch_csv, "xlsx": batch_xlsx, "pdf": batch_pdf}


def batch_file(*, batch: PaymentBatch, fmt: str) -> bytes:
    """The batch in ``fmt`` (a key of ``BATCH_FORMATS``); KeyError for another."""
    return RENDERERS[fmt](batch=batch)
