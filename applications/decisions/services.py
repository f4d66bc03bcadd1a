"""CNSA decisions: issuing (number, frozen snapshot), the PDF letter rendered after commit by a
worker, reading, public verification, and batch exports of their PDFs (ZIP + CSV manifest, built
by a resumable Celery task).

Services write, selectors read. Issuing runs in one short transaction: the workflow's NOTIFY
transition (row lock on the dossier), the counter row lock and increment, the Decision insert
with its letter ``pending`` and the rendering task recorded to run after commit. A failure
anywhere rolls everything back, so numbers have no gaps and no duplicates. The letter is
rendered from the frozen snapshot alone (``decision_letter_render``), outside any lock; the
periodic sweep queues again a letter still pending after a minute (broker down, worker lost).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import hmac
import io
import logging
import os
import secrets
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from celery import shared_task
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from essms_portal.accounts.models import Role, User
from essms_portal.emails import email_queue_template
from essms_portal.links import portal_reverse, portal_url
from essms_portal.outbox import enqueue, enqueue_after_commit
from funding.services import campaign_tranches
from grappes.models import GrappeMembership, Organisation, ProjectType

from ..errors import DossierError
from ..models import (
    NATIONAL_REGION_KEY,
    Application,
    Call,
    Campaign,
    Decision,
    DecisionCounter,
    DecisionExport,
    ProposedAmount,
    Signatory,
    WorkflowLog,
)
from ..selectors import applications_reviewable_by, applications_visible_to
from ..workflow import AWAITING_NOTIFICATION, Action, Status, transition
from .letters import letter_pdf, snapshot_fingerprint

logger = logging.getLogger(__name__)

# Format 2 (issue #14): lines and supports carry their computed amount and the instructeur's
# reason for a reduction, the authority its delegation, the campaign its funding source.
# Letters of format-1 snapshots still render (those keys are simply absent).
SNAPSHOT_FORMAT = 2
CNSA_AUTHORITY = "Caisse nationale de solidarité pour l'autonomie"
CASF_REFERENCE = "le code de l'action sociale et des familles, notamment son article L312-1, I"
# Frozen into each snapshot: a later change of wording never alters an issued letter.
SECOND_TRANCHE_CONDITIONS = (
    "le solde est versé lorsque les cibles d'usage fixées par l'instruction sont atteintes : "
    "utilisation effective du dossier usager informatisé par les professionnels de chaque "
    "établissement ou service financé, échanges par messagerie sécurisée de santé (MSSanté) "
    "et alimentation du DMP / Mon espace santé ;",
    "depuis septembre 2025, les cibles MSSanté et DMP ne s'appliquent plus aux structures de "
    "l'accueil, de l'hébergement et de l'insertion (AHI) hors SONS ;",
    "l'atteinte des cibles est justifiée auprès de l'autorité signataire, pièces à l'appui ;",
    "le versement est subordonné à la signature d'un avenant au CPOM ou d'une convention "
    "spécifique.",
)
PDF_CHUNK = 64 * 1024


class DecisionError(DossierError):
    """A decision could not be issued or exported; ``message`` is shown as is (French)."""


# --------------------------------------------------------------------------------------------
# Numbering
# --------------------------------------------------------------------------------------------


def decision_region_key(*, call: Call) -> str:
    """The region part of a decision number: the call's region code, ``00`` when national."""
    if call.scope == Call.Scope.NATIONAL or call.region_id is None:
        return NATIONAL_REGION_KEY
    return str(call.region_id)


def decision_number_format(*, year: int, region_key: str, sequence: int) -> str:
    """``2023-11-0042``: campaign year, region key, sequence on four digits (or more)."""
    return f"{year}-{region_key}-{sequence:04d}"


def decision_sequence_allocate(*, campaign: Campaign, region_key: str) -> int:
    """The next sequence number of (campaign, region key). Must run inside the transaction that
    inserts the decision: the counter row stays locked until it commits, and a rollback gives
    the number back."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("decision_sequence_allocate must run inside a transaction.")
    if connection.vendor == "postgresql":
        # One statement instead of three (insert-if-missing, lock, update): the upsert takes the
        # row lock too, held until the transaction ends, so numbering stays gapless.
        table = DecisionCounter._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (campaign_id, region_key, last_sequence) "  # noqa: S608
                "VALUES (%s, %s, 1) ON CONFLICT (campaign_id, region_key) "
                f"DO UPDATE SET last_sequence = {table}.last_sequence + 1 "
                "RETURNING last_sequence",
                [campaign.pk, region_key],
            )
            return int(cursor.fetchone()[0])
    # Create the row if needed without racing: a concurrent insert is simply ignored.
    DecisionCounter.objects.bulk_create(
        [DecisionCounter(campaign=campaign, region_key=region_key)], ignore_conflicts=True
    )
    counter = DecisionCounter.objects.select_for_update().get(
        campaign=campaign, region_key=region_key
    )
    counter.last_sequence += 1
    counter.save(update_fields=["last_sequence"])
    return counter.last_sequence


# --------------------------------------------------------------------------------------------
# Signatories and snapshot
# --------------------------------------------------------------------------------------------


def signatory_for(*, call: Call) -> Signatory:
    """The signatory of the call's decisions (ARS of its region, or the CNSA). The data
    migration creates one per region; a missing row is recreated with the default wording."""
    if decision_region_key(call=call) == NATIONAL_REGION_KEY:
        signatory, _ = Signatory.objects.get_or_create(
            scope=Signatory.Scope.NATIONAL,
            defaults={
                "authority": CNSA_AUTHORITY,
                "name": "Le directeur de la CNSA",
                "title": f"Directeur de la {CNSA_AUTHORITY}",
                "city": "Paris",
            },
        )
        return signatory
    region = call.region
    assert region is not None
    signatory, _ = Signatory.objects.get_or_create(
        region=region,
        defaults={
            "scope": Signatory.Scope.REGIONAL,
            "authority": f"Agence régionale de santé {region.name}",
            "name": f"Le directeur général de l'ARS {region.name}",
            "title": f"Directeur général de l'agence régionale de santé {region.name}",
        },
    )
    return signatory


# --------------------------------------------------------------------------------------------
# Verification code: numbers are sequential, so the public page also needs this random code,
# printed on the letter (issue #9). Crockford base32 (no I, L, O, U), 10 characters = 50 bits.
# --------------------------------------------------------------------------------------------

VERIFICATION_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
VERIFICATION_CODE_LENGTH = 10
VERIFICATION_CODE_BITS = VERIFICATION_CODE_LENGTH * 5  # log2(32) = 5 bits per character
# Crockford's decoding rules: O reads as 0, I and L as 1; separators are ignored.
_VERIFICATION_READS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def verification_code_new() -> str:
    """A fresh random code (``secrets``), stored without separators: ``K7QXM2P9DA``."""
    return "".join(secrets.choice(VERIFICATION_ALPHABET) for _ in range(VERIFICATION_CODE_LENGTH))


def verification_code_normalise(raw: str) -> str | None:
    """A typed code as stored (upper case, no dashes or spaces, O→0, I/L→1), or None when it
    cannot be a code (wrong length or character)."""
    code = raw.strip().upper().translate(_VERIFICATION_READS)
    if len(code) != VERIFICATION_CODE_LENGTH or any(c not in VERIFICATION_ALPHABET for c in code):
        return None
    return code


def verification_code_display(code: str) -> str:
    """A stored code in groups, as printed on the letter: ``K7QX-M2P9-DA``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def verification_page_url() -> str:
    """Absolute URL of the public verification form (number and code are asked there)."""
    return portal_url(reverse("decisions:verify"))


def verification_url(*, number: str, code: str) -> str:
    """Absolute direct link to a decision's verification result: number and code in the query
    string (printed on the letter next to the form's address)."""
    query = urlencode({"numero": number, "code": verification_code_display(code)})
    return f"{verification_page_url()}?{query}"


def _motivation(application: Application, outcome: str) -> str:
    """A rejection's motivation: the deciding agent's comment, else the instructeur's."""
    if outcome != Status.REJECTED:
        return ""
    comment = (
        WorkflowLog.objects.filter(application=application, action=Action.REJECT)
        .order_by("-id")
        .values_list("comment", flat=True)
        .first()
    )
    return (comment or "").strip() or application.motivation.strip()


class _Proposal(Protocol):
    """The five columns of a ``ProposedAmount`` the letter reads (a named row, not a model
    instance: the proposals of a large grappe are read at each issue)."""

    line: str
    label: str
    computed: int
    proposed: int
    reason: str


def _proposals(application: Application) -> list[_Proposal]:
    """The dossier's proposed amounts, in their order, as named rows."""
    return list(
        ProposedAmount.objects.filter(application=application)
        .order_by("id")
        .values_list("line", "label", "computed", "proposed", "reason", named=True)
    )


def _essms_lines(application: Application, rows: dict[str, _Proposal]) -> list[dict[str, Any]]:
    """One line per ESSMS of the grappe, by FINESS, with its proposed amount (0 if none), the
    computed amount and the instructeur's reason when the proposal reduced it."""
    # The seven columns the letter shows, not three model instances per ESSMS: on the national
    # dataset building the instances took longer than the query itself (#13).
    memberships = (
        GrappeMembership.objects.filter(grappe_id=application.grappe_id)
        .order_by("structure__finess")
        .values_list(
            "structure__finess",
            "structure__name",
            "structure__category_code",
            "structure__category__code",
            "structure__category__label",
            "structure__category__casf_item_id",
            "project_type",
        )
    )
    projects = dict(ProjectType.choices)
    lines = []
    for finess, name, raw_code, code, label, casf_item, project_type in memberships:
        row = rows.get(f"structure:{finess}")
        lines.append(
            {
                "finess": finess,
                "name": name,
                "category": f"{code} — {label}" if code is not None else raw_code,
                "casf_item": casf_item or "",
                "project": str(projects.get(project_type, project_type)),
                "amount": int(row.proposed) if row else 0,
                "computed": int(row.computed) if row else 0,
                "reason": _reduction_reason(row),
            }
        )
    return lines


def _reduction_reason(row: _Proposal | None) -> str:
    """The instructeur's reason for proposing less than computed ("" when not reduced)."""
    if row is None or int(row.proposed) >= int(row.computed):
        return ""
    return row.reason.strip()


def _supports(rows: list[_Proposal]) -> list[dict[str, Any]]:
    """Support lines (hardware per gestionnaire, procurement, steering) with readable labels."""
    names = dict(
        Organisation.objects.filter(
            finess__in=[r.line.split(":", 1)[1] for r in rows if r.line.startswith("hardware:")]
        ).values_list("finess", "name")
    )
    supports = []
    for row in rows:
        if row.line.startswith("structure:"):
            continue
        label = row.label
        if row.line.startswith("hardware:"):
            finess = row.line.split(":", 1)[1]
            label = f"Matériel et infrastructure — {names.get(finess, finess)} ({finess})"
        supports.append(
            {
                "label": label,
                "amount": int(row.proposed),
                "computed": int(row.computed),
                "reason": _reduction_reason(row),
            }
        )
    return supports


def signatory_delegation(*, signatory: Signatory, call: Call) -> str:
    """« Pour le directeur général de l'ARS … et par délégation » when the signatory is not the
    head of the authority (the usual case: a director signs by delegation); "" when the head
    signs in person (their title says so)."""
    title = signatory.title.strip().lower()
    if decision_region_key(call=call) == NATIONAL_REGION_KEY:
        if title.startswith(("directeur de la caisse", "directrice de la caisse")):
            return ""
        return f"Pour le directeur de la {CNSA_AUTHORITY} et par délégation"
    if title.startswith(("directeur général", "directrice générale")):
        return ""
    region = call.region.name if call.region else ""
    return f"Pour le directeur général de l'agence régionale de santé {region} et par délégation"


def decision_funding_source(*, call: Call) -> str:
    """The budget the subsidy is charged to, as the campaign states it (regional or national)."""
    campaign = call.campaign
    if decision_region_key(call=call) == NATIONAL_REGION_KEY:
        return campaign.national_funding_source.strip()
    return campaign.funding_source.strip()


def decision_snapshot_numbered(
    body: dict[str, Any], *, number: str, verification_code: str
) -> dict[str, Any]:
    """The snapshot ``body`` with its number and verification data (known once the counter is
    locked): the letter's identity."""
    return {
        **body,
        "number": number,
        "verification_page": verification_page_url(),
        "verification_code": verification_code_display(verification_code),
        "verification_url": verification_url(number=number, code=verification_code),
    }


def decision_snapshot_build(
    *,
    application: Application,
    outcome: str,
    number: str,
    issued_on: datetime.date,
    signatory: Signatory,
    verification_code: str,
) -> dict[str, Any]:
    """Everything the letter shows, as plain JSON data (frozen in the Decision)."""
    body = _snapshot_body(
        application=application, outcome=outcome, issued_on=issued_on, signatory=signatory
    )
    return decision_snapshot_numbered(body, number=number, verification_code=verification_code)


def _snapshot_body(
    *,
    application: Application,
    outcome: str,
    issued_on: datetime.date,
    signatory: Signatory,
) -> dict[str, Any]:
    """The snapshot without its number: built before the counter is locked, so the lock that
    serialises numbering is held for the increment and the insert only."""
    call = application.call
    campaign = call.campaign
    porteur = application.grappe.porteur
    accepted = outcome == Status.ACCEPTED
    # A rejection's letter shows no amount: its proposals are not read.
    rows = _proposals(application) if accepted else []
    by_line = {row.line: row for row in rows}
    supports = _supports(rows) if accepted else []
    lines = _essms_lines(application, by_line)
    total = sum(line["amount"] for line in lines) + sum(s["amount"] for s in supports)
    schedule = campaign_tranches(campaign=campaign, total=total) if accepted else ()
    references = [CASF_REFERENCE]
    if campaign.instruction_reference.strip():
        references.append(f"l'{campaign.instruction_reference.strip()}")
    references.append(f"le cahier des charges de l'appel à projets « {call.name} »")
    submitted = application.submitted_at
    return {
        "format": SNAPSHOT_FORMAT,
        "number": "",
        "issued_on": issued_on.isoformat(),
        "outcome": str(outcome),
        "authority": {
            "scope": signatory.scope,
            "name": signatory.authority,
            "signatory": {
                "name": signatory.name,
                "title": signatory.title,
                "city": signatory.city,
                "delegation": signatory_delegation(signatory=signatory, call=call),
            },
        },
        "funding_source": decision_funding_source(call=call) if accepted else "",
        "campaign": {
            "year": campaign.year,
            "name": campaign.name,
            "instruction_reference": campaign.instruction_reference,
        },
        "call": {
            "name": call.name,
            "scope": call.scope,
            "region": call.region.name if call.region else "",
        },
        "application": {
            "id": application.pk,
            "submitted_on": timezone.localdate(submitted).strftime("%d/%m/%Y") if submitted else "",
        },
        "porteur": {"name": porteur.name, "finess": porteur.finess, "siren": porteur.siren},
        "grappe": {"name": application.grappe.name, "essms_count": len(lines)},
        "lines": lines,
        "supports": supports,
        "total": total,
        "tranches": [{"label": t.label, "amount": t.amount} for t in schedule],
        "second_tranche_conditions": list(SECOND_TRANCHE_CONDITIONS) if accepted else [],
        "motivation": _motivation(application, outcome),
        "legal_references": references,
    }


# --------------------------------------------------------------------------------------------
# Issuing
# --------------------------------------------------------------------------------------------


def decision_issue(*, application: Application, by: User, comment: str = "") -> Decision:
    """Issue the decision of an accepted or rejected dossier: NOTIFY transition, number,
    snapshot, verification code and immutable Decision row — all or nothing, in one short
    transaction. The PDF letter is rendered after commit by ``render_decision_letter``, queued
    in the same transaction (a broker that is down is logged; the sweep queues it again)."""
    with transaction.atomic():
        # No savepoint of its own: any refusal leaves this block, which rolls back as a whole.
        result = transition(
            application=application, action=Action.NOTIFY, by=by, comment=comment, savepoint=False
        )
        locked = result.application
        outcome = result.entry.from_status
        call = locked.call  # locked with its campaign and region (workflow._locked)
        signatory = signatory_for(call=call)
        region_key = decision_region_key(call=call)
        now = timezone.now()
        issued_on = timezone.localdate(now)
        # Everything that reads the dossier is built before the counter is locked: the counter
        # serialises every issue of (campaign, region), so it is held for the increment and
        # the insert only.
        body = _snapshot_body(
            application=locked, outcome=outcome, issued_on=issued_on, signatory=signatory
        )
        sequence = decision_sequence_allocate(campaign=call.campaign, region_key=region_key)
        number = decision_number_format(
            year=call.campaign.year, region_key=region_key, sequence=sequence
        )
        # Set once, at creation, like every field of the immutable decision. A collision
        # (2⁻⁵⁰ per pair) breaks the unique constraint and rolls the issue back: retry.
        code = verification_code_new()
        snapshot = decision_snapshot_numbered(body, number=number, verification_code=code)
        decision = Decision.objects.create(
            application=locked,
            campaign=call.campaign,
            region_key=region_key,
            sequence=sequence,
            number=number,
            outcome=outcome,
            issued_on=issued_on,
            issued_at=now,
            issued_by=by,
            signatory_name=signatory.name,
            signatory_title=signatory.title,
            beneficiary=snapshot["porteur"]["name"],
            total=snapshot["total"],
            snapshot=snapshot,
            snapshot_sha256=snapshot_fingerprint(snapshot),
            letter_status=Decision.LetterStatus.PENDING,
            verification_code=code,
        )
        enqueue_after_commit(render_decision_letter, decision.pk)
        return decision


@dataclass
class BulkIssueResult:
    """What a bulk issue did: the decisions issued, and each dossier refused with its reason."""

    issued: list[Decision] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def decisions_issue_many(*, application_ids: Iterable[int], by: User) -> BulkIssueResult:
    """Issue the decisions of several accepted dossiers (CNSA agents), each through
    ``decision_issue`` in its own transaction: one refusal (already issued, status changed,
    out of scope) is reported and does not undo the others."""
    if not can_issue_decisions(by):
        raise DecisionError("Seuls les agents CNSA émettent les décisions.")
    ids = sorted({int(pk) for pk in application_ids})
    found = {
        application.pk: application
        for application in applications_awaiting_decision(user=by).filter(
            pk__in=ids, status=Status.ACCEPTED
        )
    }
    result = BulkIssueResult()
    for pk in ids:
        application = found.get(pk)
        if application is None:
            result.failed.append(
                (pk, "dossier introuvable, non accepté ou dont la décision est déjà émise")
            )
            continue
        try:
            result.issued.append(decision_issue(application=application, by=by))
        except DossierError as error:
            result.failed.append((pk, error.message))
    return result


# --------------------------------------------------------------------------------------------
# The letter: rendered after commit, from the snapshot alone
# --------------------------------------------------------------------------------------------


def decision_letter_name(*, decision: Decision) -> str:
    """Where the letter is stored: ``decisions/<campaign year>/<number>.pdf``."""
    return f"decisions/{decision.snapshot['campaign']['year']}/{decision.number}.pdf"


def _sha256_of_stored(name: str) -> str:
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        while chunk := handle.read(PDF_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def decision_letter_render(*, decision_id: int) -> Decision | None:
    """Render and store the letter of a decision whose letter is pending, then mark it ready
    (``pdf``, ``pdf_sha256``). Idempotent: a ready letter is left alone; the letter is a pure
    function of the snapshot, so two workers rendering the same decision produce the same
    bytes, and a conditional update lets only one of them record its file (the other removes
    its own copy). No lock is held while rendering. None when the decision does not exist."""
    decision = Decision.objects.filter(pk=decision_id).first()
    if decision is None:
        logger.warning("Décision %s introuvable : lettre non produite.", decision_id)
        return None
    if decision.letter_ready:
        return decision
    pdf = letter_pdf(decision.snapshot)
    digest = hashlib.sha256(pdf).hexdigest()
    name = decision_letter_name(decision=decision)
    # A previous run may have stored the file and died before recording it: reuse it when it
    # holds these very bytes; otherwise the storage picks a free name (nothing is overwritten).
    if default_storage.exists(name) and _sha256_of_stored(name) == digest:
        stored = name
    else:
        stored = default_storage.save(name, ContentFile(pdf))
    recorded = Decision.objects.filter(
        pk=decision.pk, letter_status=Decision.LetterStatus.PENDING
    ).update(
        letter_status=Decision.LetterStatus.READY,
        pdf=stored,
        pdf_sha256=digest,
        letter_rendered_at=timezone.now(),
    )
    decision.refresh_from_db()
    if not recorded and decision.pdf.name != stored:
        default_storage.delete(stored)  # another worker recorded its identical copy first
    return decision


def decision_letters_resume_pending(*, older_than: datetime.timedelta) -> int:
    """Queue again the rendering of every letter still pending ``older_than`` after its issue
    (its task was never published — broker down — or its worker died); run by the periodic
    sweep. Rendering twice is harmless. Returns how many were queued."""
    ids = list(
        Decision.objects.filter(
            letter_status=Decision.LetterStatus.PENDING,
            issued_at__lt=timezone.now() - older_than,
        )
        .order_by("issued_at")
        .values_list("pk", flat=True)
    )
    return sum(enqueue(render_decision_letter, pk) for pk in ids)


# Declared next to the service that queues it; ``applications.decisions.tasks`` re-exports it.
@shared_task(name="applications.decisions.tasks.render_decision_letter", acks_late=True)
def render_decision_letter(decision_id: int) -> str | None:
    """Render a decision's letter (idempotent); returns the PDF's SHA-256, None if gone."""
    decision = decision_letter_render(decision_id=decision_id)
    return decision.pdf_sha256 if decision else None


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def decisions_visible_to(*, user: User) -> QuerySet[Decision]:
    """Decisions of the dossiers ``user`` may read (applicants: their grappes'; ARS: their
    region's; CNSA and administrators: all)."""
    return Decision.objects.filter(
        application__in=applications_visible_to(user=user).values("pk")
    ).select_related("campaign", "application__call__region")


def decisions_exportable_by(*, user: User) -> QuerySet[Decision]:
    """Decisions a back-office user may export: CNSA and administrators all, ARS their region."""
    return Decision.objects.filter(
        application__in=applications_reviewable_by(user=user).values("pk")
    ).select_related("campaign", "application__call__region", "application__grappe")


def decision_for_user(*, user: User, number: str) -> Decision:
    """One decision ``user`` may read, or 404."""
    try:
        return decisions_visible_to(user=user).get(number=number)
    except Decision.DoesNotExist:
        raise Http404("Décision introuvable.") from None


def decision_public(*, number: str, code: str) -> Decision | None:
    """The decision with this number, for the public verification page, only when ``code`` is
    its verification code (typed in any case, with or without separators); None otherwise.

    The caller cannot tell an unknown number from a wrong code: both give None, and the code
    is compared in constant time (against a dummy when the number is unknown)."""
    normalised = verification_code_normalise(code)
    decision = Decision.objects.filter(number=number.strip()).first() if normalised else None
    expected = decision.verification_code if decision else "-" * VERIFICATION_CODE_LENGTH
    if not hmac.compare_digest(expected.encode(), (normalised or "").encode()) or not decision:
        return None
    return decision


def decision_pdf_matches(*, decision: Decision, chunks: Iterable[bytes]) -> bool:
    """Whether the uploaded file is byte for byte the decision's PDF (SHA-256 comparison)."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest() == decision.pdf_sha256


def applications_awaiting_decision(*, user: User) -> QuerySet[Application]:
    """Accepted or rejected dossiers of the user's scope whose decision is not issued yet."""
    return (
        applications_reviewable_by(user=user)
        .filter(status__in=AWAITING_NOTIFICATION, decision__isnull=True)
        .select_related("grappe__porteur", "call__region", "call__campaign")
        .order_by("call__campaign__year", "call__scope", "call__region__position", "pk")
    )


def can_issue_decisions(user: User) -> bool:
    """Only CNSA agents issue decisions (the NOTIFY transition is theirs, every region)."""
    return user.is_authenticated and user.role == Role.CNSA_AGENT


# --------------------------------------------------------------------------------------------
# Batch export (ZIP of PDFs + CSV manifest)
# --------------------------------------------------------------------------------------------

MANIFEST_NAME = "manifeste.csv"
MANIFEST_HEADER = ("numero", "date", "decision", "beneficiaire", "total_euros", "sha256_pdf")


def decision_export_create(
    *, by: User, decisions: QuerySet[Decision], filters: dict[str, Any]
) -> DecisionExport:
    """Record an export job for a fixed set of decisions and queue its task after commit (a
    broker that is down is logged, not raised: the periodic sweep queues the job again)."""
    ids = list(decisions.order_by().values_list("pk", flat=True).distinct())
    if not ids:
        raise DecisionError("Aucune décision ne correspond à ces critères : rien à exporter.")
    with transaction.atomic():
        job = DecisionExport.objects.create(requested_by=by, filters=filters, total=len(ids))
        job.decisions.add(*ids)
        enqueue_after_commit(build_decision_export, job.pk)
    return job


def decision_exports_of(*, user: User) -> QuerySet[DecisionExport]:
    """The user's own export jobs, latest first."""
    return DecisionExport.objects.filter(requested_by=user).order_by("-created_at", "-pk")


def decision_export_for_owner(*, user: User, pk: int) -> DecisionExport:
    """One of the user's export jobs, or 404 (another user's job is not disclosed)."""
    try:
        return decision_exports_of(user=user).get(pk=pk)
    except DecisionExport.DoesNotExist:
        raise Http404("Export introuvable.") from None


def export_workdir(job_id: int) -> Path:
    """Where a job writes its ZIP entries, one file per decision number (local disk).

    ``DECISION_EXPORT_WORKDIR`` when set, otherwise ``exports-work/`` in private storage."""
    configured = getattr(settings, "DECISION_EXPORT_WORKDIR", None)
    if configured:
        root = Path(configured)
    else:
        try:
            root = Path(default_storage.path("exports-work"))
        except NotImplementedError:  # remote storage: work on local temporary disk
            import tempfile

            root = Path(tempfile.gettempdir()) / "esms-exports-work"
    return root / str(job_id)


def _export_rows(job: DecisionExport) -> Iterator[tuple[Any, ...]]:
    """The job's decisions in number order, streamed from the database."""
    return (
        job.decisions.order_by("number")
        .values_list("number", "issued_on", "outcome", "beneficiary", "total", "pdf_sha256", "pdf")
        .iterator(chunk_size=200)
    )


def _write_entry(target: Path, stored_name: str, expected_sha256: str) -> None:
    """Copy one PDF from storage to ``target``, streaming, checking its hash; the entry appears
    atomically (temporary file then rename), so an existing entry is always complete."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    with default_storage.open(stored_name, "rb") as source, temporary.open("wb") as sink:
        while chunk := source.read(PDF_CHUNK):
            digest.update(chunk)
            sink.write(chunk)
    if digest.hexdigest() != expected_sha256:
        temporary.unlink(missing_ok=True)
        raise DecisionError(f"Le PDF stocké de {target.stem} ne correspond plus à son empreinte.")
    os.replace(temporary, target)


def _entry_intact(target: Path, expected_sha256: str) -> bool:
    """Whether ``target`` exists and holds the decision's PDF: an entry left by a previous run
    is reused only if its hash matches (a stale work directory of another job with the same
    id, e.g. restored from a backup, is never copied into the ZIP)."""
    if not target.exists():
        return False
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        while chunk := handle.read(PDF_CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == expected_sha256


def _progress(job_id: int, done: int) -> None:
    """Record progress and a heartbeat (the first call also marks the job as running)."""
    now = timezone.now()
    DecisionExport.objects.filter(pk=job_id).update(
        status=DecisionExport.Status.RUNNING,
        done=done,
        heartbeat_at=now,
        started_at=Coalesce("started_at", now),
    )


def _assemble(job: DecisionExport, workdir: Path) -> tuple[str, int]:
    """Write the ZIP (entries streamed from disk, then the manifest) and store it privately."""
    local = workdir / "archive.zip.tmp"
    with zipfile.ZipFile(local, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, *_rest in _export_rows(job):
            archive.write(workdir / f"{number}.pdf", arcname=f"{number}.pdf")
        with archive.open(MANIFEST_NAME, "w") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            writer = csv.writer(text, delimiter=";")
            writer.writerow(MANIFEST_HEADER)
            for number, issued_on, outcome, beneficiary, total, sha256, _pdf in _export_rows(job):
                label = Decision.Outcome(outcome).label
                writer.writerow((number, issued_on, label, beneficiary, int(total), sha256))
            text.flush()
            text.detach()
    name = f"exports/{job.pk}/decisions-{job.pk}.zip"
    if default_storage.exists(name):
        default_storage.delete(name)
    with local.open("rb") as handle:
        stored = default_storage.save(name, File(handle, name=name))
    size = local.stat().st_size
    local.unlink()
    return stored, size


def decision_export_build(*, job_id: int) -> DecisionExport | None:
    """Build (or resume) an export job. Idempotent: intact entries on disk are skipped, a
    finished job is left alone, so a worker killed mid-batch and restarted finishes the job
    without duplicates. Memory stays flat: rows are streamed and files copied in chunks."""
    job = DecisionExport.objects.filter(pk=job_id).first()
    if job is None:  # the job was deleted (or belongs to another database): nothing to do
        logger.warning("Export de décisions %s introuvable : tâche ignorée.", job_id)
        return None
    if job.status == DecisionExport.Status.DONE:
        return job
    workdir = export_workdir(job.pk)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        # A letter still being generated (its worker has not run yet) is rendered here: the
        # rendering is idempotent, so the export never waits for nor fails on it.
        pending = job.decisions.filter(letter_status=Decision.LetterStatus.PENDING)
        for decision_id in pending.values_list("pk", flat=True):
            decision_letter_render(decision_id=decision_id)
        rows = _export_rows(job)
        for done, (number, _date, _outcome, _name, _total, sha256, stored) in enumerate(rows, 1):
            target = workdir / f"{number}.pdf"
            if not _entry_intact(target, sha256):
                _write_entry(target, stored, sha256)
            _progress(job.pk, done)
        archive, size = _assemble(job, workdir)
    except Exception as error:
        DecisionExport.objects.filter(pk=job.pk).update(
            status=DecisionExport.Status.FAILED, error=str(error)[:2000]
        )
        raise
    # The job is done and its e-mail recorded in the outbox together, or neither.
    with transaction.atomic():
        DecisionExport.objects.filter(pk=job.pk).update(
            status=DecisionExport.Status.DONE,
            done=job.total,
            archive=archive,
            archive_size=size,
            finished_at=timezone.now(),
            error="",
        )
        job.refresh_from_db()
        _notify_export_ready(job)
    shutil.rmtree(workdir, ignore_errors=True)
    return job


def _notify_export_ready(job: DecisionExport) -> None:
    """E-mail the requester that the ZIP can be downloaded (through the outbox)."""
    email_queue_template(
        "decision_export_ready",
        context={
            "job": job,
            "requested_at": timezone.localtime(job.created_at),
            "url": portal_reverse("decisions:export_detail", kwargs={"pk": job.pk}),
        },
        recipients=[job.requested_by.email],
    )


def decision_export_resume_if_stale(
    *, job: DecisionExport, stale_after: datetime.timedelta = datetime.timedelta(minutes=2)
) -> bool:
    """Queue the job's task again when it shows no sign of life (worker killed or restarted,
    message lost): the task resumes where the files on disk stop. Returns True if queued."""
    if job.status not in (DecisionExport.Status.PENDING, DecisionExport.Status.RUNNING):
        return False
    last = job.heartbeat_at or job.created_at
    if timezone.now() - last < stale_after:
        return False
    updated = DecisionExport.objects.filter(
        pk=job.pk, heartbeat_at=job.heartbeat_at, status=job.status
    ).update(heartbeat_at=timezone.now())
    if not updated:  # someone else (the task, or another poll) moved first
        return False
    enqueue_after_commit(build_decision_export, job.pk)
    return True


# Declared next to the services that queue it; ``applications.decisions.tasks`` re-exports it
# for Celery's discovery, under the name published messages carry.
@shared_task(name="applications.decisions.tasks.build_decision_export", acks_late=True)
def build_decision_export(job_id: int) -> int | None:
    """Build the ZIP of an export job; returns the number of decisions, None if the job is gone."""
    job = decision_export_build(job_id=job_id)
    return job.total if job else None
