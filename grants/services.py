"""The life of a grant after its decision: convention, bank details, payment orders.

Every state change appends to the grant's hash-chained log (``GrantLog``) in the transaction
that makes it, so the change and its trace commit or roll back together.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from applications.decisions.letters import snapshot_fingerprint
from applications.models import Application, Campaign, Decision
from essms_portal.accounts.models import User
from essms_portal.antivirus import scan_upload
from essms_portal.errors import UserError
from essms_portal.hashchain import GENESIS_HASH, chain_first_broken
from essms_portal.uploads import private_path, sanitised_name, stored_name, validate_upload
from funding.identifiers import bic_error, iban_error, normalize_bic, normalize_iban, siret_error

from .models import (
    BankDetails,
    Convention,
    FollowUpParameters,
    GrantCounter,
    GrantLog,
    PaymentBatch,
    PaymentOrder,
    UsageIndicator,
)
from .permissions import (
    can_close_grant,
    can_enter_bank_details,
    can_follow_up,
    can_sign_convention,
    can_transmit_orders,
    convention_open_to_signature,
    grant_close_blocker,
)
from .selectors import grants_followed_by

CONVENTION_FORMAT = 1
#: Number prefixes: convention, payment order, recovery order (titre de recette), amendment,
#: batch of orders transmitted to the finance department (bordereau).
PREFIXES = {
    "convention": "CONV",
    "order": "OP",
    "recovery": "TR",
    "amendment": "AVN",
    "batch": "BOR",
}
LEGAL_BASIS = {
    PaymentOrder.Kind.FIRST: "Convention de financement n° {convention}, article « versement » : "
    "première tranche à la signature ; décision n° {decision}.",
    PaymentOrder.Kind.SECOND: "Convention de financement n° {convention} : seconde tranche "
    "après atteinte des cibles d'usage ; décision n° {decision}.",
    PaymentOrder.Kind.RECOVERY: "Convention de financement n° {convention} : reversement des "
    "sommes indûment perçues ; décision n° {decision}.",
}


class GrantError(UserError):
    """A follow-up action refused; ``message`` is French."""


class GrantNotAllowed(GrantError):
    pass


def _store_upload(upload: UploadedFile, *, prefix: str, field: str) -> str:
    """Check (type by content, size, antivirus) and store a document in the private storage,
    or raise a GrantError on ``field``; nothing is stored when refused."""
    try:
        checked = validate_upload(upload)
        scan_upload(upload, name=sanitised_name(upload.name or "document"))
    except ValidationError as error:
        raise GrantError(" ".join(error.messages), field=field) from None
    name = stored_name(upload.name or "document", checked.extension)
    return default_storage.save(private_path(prefix, name), upload)


@contextlib.contextmanager
def _removed_on_rollback() -> Iterator[list[str]]:
    """Files stored inside the block are deleted if the block raises (its transaction rolls
    back): no orphan document is left behind a refused action."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise


def require_allowed(allowed: bool) -> None:
    """Raise GrantNotAllowed unless ``allowed`` (the answer of a predicate of permissions)."""
    if not allowed:
        raise GrantNotAllowed("Vous n'êtes pas habilité à effectuer cette action.")


# --------------------------------------------------------------------------------------------
# Log and numbering
# --------------------------------------------------------------------------------------------


def grant_log_digest(
    *, application_id: int, event: str, actor_id: int, detail: str, at: str, previous: str
) -> str:
    """SHA-256 of a follow-up log entry chained to the previous one."""
    payload = json.dumps(
        {
            "application": application_id,
            "event": event,
            "actor": actor_id,
            "detail": detail,
            "at": at,
            "previous": previous,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def grant_log_append(*, application: Application, event: str, by: User, detail: str) -> GrantLog:
    """Append to the dossier's follow-up chain; call inside the transaction of the change."""
    # Serialise appends per dossier: lock its row (the chain is read then extended).
    Application.objects.select_for_update(of=("self",)).filter(pk=application.pk).exists()
    previous = (
        GrantLog.objects.filter(application=application)
        .order_by("-id")
        .values_list("entry_hash", flat=True)
        .first()
        or GENESIS_HASH
    )
    now = timezone.now()
    return GrantLog.objects.create(
        application=application,
        event=event,
        actor=by,
        actor_email=by.email,
        detail=detail,
        created_at=now,
        previous_hash=previous,
        entry_hash=grant_log_digest(
            application_id=application.pk,
            event=event,
            actor_id=by.pk,
            detail=detail,
            at=now.isoformat(),
            previous=previous,
        ),
    )


def grant_log_broken_entry(*, application: Application) -> GrantLog | None:
    """The first entry of the dossier's follow-up log whose hash does not match, or None."""
    return chain_first_broken(
        GrantLog.objects.filter(application=application).order_by("id"), digest=_entry_digest
    )


def _entry_digest(entry: GrantLog, previous: str) -> str:
    return grant_log_digest(
        application_id=entry.application_id,
        event=entry.event,
        actor_id=entry.actor_id,
        detail=entry.detail,
        at=entry.created_at.isoformat(),
        previous=previous,
    )


def _next_number(*, campaign: Campaign, region_key: str, kind: str) -> str:
    """Next number of ``kind`` for a campaign and region key: ``OP-2023-11-0007``. The counter
    row stays locked until the caller's transaction ends: neither gaps nor duplicates."""
    GrantCounter.objects.bulk_create(
        [GrantCounter(campaign_id=campaign.pk, region_key=region_key, kind=kind)],
        ignore_conflicts=True,
    )
    counter = GrantCounter.objects.select_for_update().get(
        campaign_id=campaign.pk, region_key=region_key, kind=kind
    )
    counter.last_sequence += 1
    counter.save(update_fields=["last_sequence"])
    return f"{PREFIXES[kind]}-{campaign.year}-{region_key}-{counter.last_sequence:04d}"


def _number(*, decision: Decision, kind: str) -> str:
    """Next number of ``kind`` for the decision's campaign and region."""
    return _next_number(campaign=decision.campaign, region_key=decision.region_key, kind=kind)


# --------------------------------------------------------------------------------------------
# Convention
# --------------------------------------------------------------------------------------------


def _targets(decision: Decision) -> list[dict[str, Any]]:
    indicators = UsageIndicator.objects.filter(campaign_id=decision.campaign_id).prefetch_related(
        "casf_items", "exemptions__casf_item"
    )
    return [
        {
            "code": i.code,
            "label": i.label,
            "unit": i.unit,
            "threshold": str(i.threshold),
            "threshold_confirmed": i.threshold_confirmed,
            "casf_items": sorted(item.code for item in i.casf_items.all()),
            "exempt_items": sorted(e.casf_item_id for e in i.exemptions.all()),
            "evidence": i.evidence_expected,
        }
        for i in indicators
    ]


def convention_snapshot_build(*, decision: Decision, number: str) -> dict[str, Any]:
    """What the convention restates (domain.md §5): parties, ESSMS and amounts per line, usage
    targets with thresholds and deadline, payment schedule, bank details when entered."""
    snapshot = decision.snapshot
    follow_up = FollowUpParameters.objects.filter(campaign_id=decision.campaign_id).first()
    bank = BankDetails.objects.filter(
        application_id=decision.application_id, status=BankDetails.Status.ACTIVE
    ).first()
    return {
        "format": CONVENTION_FORMAT,
        "number": number,
        "decision": {"number": decision.number, "issued_on": decision.issued_on.isoformat()},
        "authority": snapshot["authority"],
        "porteur": snapshot["porteur"],
        "grappe": snapshot["grappe"],
        "call": snapshot["call"],
        "lines": snapshot["lines"],
        "supports": snapshot["supports"],
        "total": snapshot["total"],
        "tranches": snapshot["tranches"],
        "targets": _targets(decision),
        "measurement_deadline": (follow_up.measurement_deadline.isoformat() if follow_up else ""),
        "settlement_policy": follow_up.get_policy_display() if follow_up else "",
        "bank": (
            {"holder": bank.holder, "iban": bank.iban, "bic": bank.bic, "siret": bank.siret}
            if bank
            else None
        ),
    }


def convention_draft(*, decision: Decision, by: User) -> Convention:
    """Draft the convention of an accepted decision (once): numbered, snapshot frozen."""
    application = decision.application
    require_allowed(can_follow_up(by, application))
    if decision.outcome != Decision.Outcome.ACCEPTED:
        raise GrantError("Une décision de refus n'ouvre pas de convention.")
    with transaction.atomic():
        if Convention.objects.filter(decision=decision).exists():
            raise GrantError("La convention de cette décision est déjà rédigée.")
        number = _number(decision=decision, kind="convention")
        snapshot = convention_snapshot_build(decision=decision, number=number)
        convention = Convention.objects.create(
            decision=decision,
            number=number,
            snapshot=snapshot,
            snapshot_sha256=snapshot_fingerprint(snapshot),
            drafted_by=by,
            drafted_at=timezone.now(),
        )
        grant_log_append(
            application=application,
            event="convention_drafted",
            by=by,
            detail=f"Convention {number} rédigée ({convention.snapshot_sha256}).",
        )
    return convention


def convention_sign(*, convention: Convention, by: User, signed_copy: UploadedFile) -> Convention:
    """The porteur deposits the convention signed on its side."""
    application = convention.decision.application
    require_allowed(can_sign_convention(by, application))
    with transaction.atomic(), _removed_on_rollback() as stored_files:
        locked = Convention.objects.select_for_update().get(pk=convention.pk)
        if not convention_open_to_signature(locked):
            raise GrantError("La convention est déjà signée par les deux parties.")
        stored = _store_upload(
            signed_copy, prefix=f"conventions/{locked.number}", field="signed_copy"
        )
        stored_files.append(stored)
        locked.signed_copy = stored
        locked.signed_by = by
        locked.signed_at = timezone.now()
        locked.status = Convention.Status.SIGNED
        locked.save(update_fields=["signed_copy", "signed_by", "signed_at", "status"])
        grant_log_append(
            application=application,
            event="convention_signed",
            by=by,
            detail=f"Exemplaire signé déposé : {signed_copy.name}.",
        )
    return locked


def convention_countersign(*, convention: Convention, by: User) -> PaymentOrder:
    """The ARS (CNSA: national call) countersigns: the first tranche's order is issued."""
    application = convention.decision.application
    require_allowed(can_follow_up(by, application))
    with transaction.atomic():
        locked = Convention.objects.select_for_update().get(pk=convention.pk)
        if locked.status != Convention.Status.SIGNED:
            raise GrantError(
                "La convention doit d'abord être déposée signée par le porteur."
                if locked.status == Convention.Status.DRAFTED
                else "La convention est déjà contresignée."
            )
        bank = bank_details_active(application)
        locked.status = Convention.Status.COUNTERSIGNED
        locked.countersigned_by = by
        locked.countersigned_at = timezone.now()
        locked.save(update_fields=["status", "countersigned_by", "countersigned_at"])
        grant_log_append(
            application=application,
            event="convention_countersigned",
            by=by,
            detail=f"Convention {locked.number} contresignée.",
        )
        first = int(locked.snapshot["tranches"][0]["amount"])
        return payment_order_issue(
            convention=locked, kind=PaymentOrder.Kind.FIRST, amount=first, bank=bank, by=by
        )


# --------------------------------------------------------------------------------------------
# Bank details
# --------------------------------------------------------------------------------------------


def bank_details_active(application: Application) -> BankDetails:
    """The bank details in force, or a GrantError: no order is issued without them."""
    bank = BankDetails.objects.filter(
        application=application, status=BankDetails.Status.ACTIVE
    ).first()
    if bank is None:
        raise GrantError(
            "Le porteur n'a pas encore saisi ses coordonnées bancaires : aucun ordre de "
            "paiement ne peut être émis."
        )
    return bank


def _is_countersigned(application: Application) -> bool:
    """Countersigned, or closed since: a change of bank details then waits for the ARS."""
    return Convention.objects.filter(
        decision__application=application,
        status__in=(Convention.Status.COUNTERSIGNED, Convention.Status.CLOSED),
    ).exists()


def bank_details_submit(
    *,
    application: Application,
    by: User,
    holder: str,
    siret: str,
    iban: str,
    bic: str,
    rib: UploadedFile,
) -> BankDetails:
    """Enter (or change) the porteur's bank details. Before the countersignature they apply at
    once; afterwards they wait for the ARS's validation (the current ones stay in force)."""
    require_allowed(can_enter_bank_details(by, application))
    iban, bic, siret, holder = (
        normalize_iban(iban),
        normalize_bic(bic),
        siret.strip(),
        holder.strip(),
    )
    for field, error in (
        ("holder", None if holder else "Indiquez le titulaire du compte."),
        ("siret", siret_error(siret)),
        ("iban", iban_error(iban)),
        ("bic", bic_error(bic)),
    ):
        if error:
            raise GrantError(error, field=field)
    with transaction.atomic(), _removed_on_rollback() as stored_files:
        Application.objects.select_for_update(of=("self",)).filter(pk=application.pk).exists()
        stored_files.append(
            rib_path := _store_upload(rib, prefix=f"rib/{application.pk}", field="rib")
        )
        needs_validation = _is_countersigned(application)
        current = BankDetails.objects.filter(application=application)
        if needs_validation:
            current.filter(status=BankDetails.Status.PENDING).update(
                status=BankDetails.Status.REFUSED
            )
        else:
            current.filter(status=BankDetails.Status.ACTIVE).update(
                status=BankDetails.Status.SUPERSEDED
            )
        details = BankDetails.objects.create(
            application=application,
            holder=holder,
            siret=siret,
            iban=iban,
            bic=bic,
            rib=rib_path,
            status=BankDetails.Status.PENDING if needs_validation else BankDetails.Status.ACTIVE,
            entered_by=by,
            entered_at=timezone.now(),
        )
        grant_log_append(
            application=application,
            event="bank_details_submitted",
            by=by,
            detail=f"Coordonnées bancaires {details.iban[:4]}…{details.iban[-4:]} "
            + ("à valider par l'ARS." if needs_validation else "en vigueur."),
        )
    return details


def bank_details_validate(*, details: BankDetails, by: User, accept: bool) -> BankDetails:
    """The ARS validates (or refuses) a change of bank details made after the signature."""
    application = details.application
    require_allowed(can_follow_up(by, application))
    with transaction.atomic():
        locked = BankDetails.objects.select_for_update().get(pk=details.pk)
        if locked.status != BankDetails.Status.PENDING:
            raise GrantError("Ces coordonnées bancaires ne sont pas en attente de validation.")
        if accept:
            BankDetails.objects.filter(
                application=application, status=BankDetails.Status.ACTIVE
            ).update(status=BankDetails.Status.SUPERSEDED)
        locked.status = BankDetails.Status.ACTIVE if accept else BankDetails.Status.REFUSED
        locked.validated_by = by
        locked.validated_at = timezone.now()
        locked.save(update_fields=["status", "validated_by", "validated_at"])
        grant_log_append(
            application=application,
            event="bank_details_validated" if accept else "bank_details_refused",
            by=by,
            detail=f"{locked.iban[:4]}…{locked.iban[-4:]}",
        )
    return locked


# --------------------------------------------------------------------------------------------
# Payment orders
# --------------------------------------------------------------------------------------------


def payment_order_issue(
    *,
    convention: Convention,
    kind: str,
    amount: int,
    bank: BankDetails,
    by: User,
    reasons: list[str] | None = None,
) -> PaymentOrder:
    """Issue a numbered order (inside the caller's transaction)."""
    if amount <= 0:
        raise GrantError("Un ordre de paiement porte sur un montant positif.")
    decision = convention.decision
    number = _number(
        decision=decision, kind="recovery" if kind == PaymentOrder.Kind.RECOVERY else "order"
    )
    order = PaymentOrder.objects.create(
        application_id=decision.application_id,
        convention=convention,
        kind=kind,
        number=number,
        amount=amount,
        beneficiary=convention.snapshot["porteur"]["name"],
        siret=bank.siret,
        iban=bank.iban,
        bic=bank.bic,
        legal_basis=LEGAL_BASIS[PaymentOrder.Kind(kind)].format(
            convention=convention.number, decision=decision.number
        ),
        reasons=reasons or [],
        issued_by=by,
        issued_at=timezone.now(),
    )
    grant_log_append(
        application=decision.application,
        event=f"order_issued:{kind}",
        by=by,
        detail=f"{order.get_kind_display()} {number} : {amount} €.",
    )
    return order


def _batch_key(order: PaymentOrder) -> tuple[int, str]:
    """Orders are transmitted per campaign and region, as they are numbered."""
    decision = order.convention.decision
    return decision.campaign_id, decision.region_key


def payment_batch_create(*, user: User) -> list[PaymentBatch]:
    """Transmit every issued order of the user's scope to the finance department: one numbered
    batch (``BOR-<year>-<region>-<n>``) per campaign and region, created together in one
    transaction (an ARS agent's scope is one region but may hold several campaigns; the CNSA's
    is the national call's). The orders are linked to their batch and marked transmitted, each
    change logged in its grant's chain. Nothing to transmit: a GrantError, no empty batch."""
    require_allowed(can_transmit_orders(user))
    with transaction.atomic():
        # Locked in number order: a concurrent transmission waits, then finds them taken.
        orders = list(
            PaymentOrder.objects.select_for_update(of=("self",))
            .filter(
                application__in=grants_followed_by(user=user),
                status=PaymentOrder.Status.ISSUED,
                batch__isnull=True,
            )
            .select_related("application__call", "convention__decision__campaign")
            .order_by("number")
        )
        for order in orders:
            require_allowed(can_follow_up(user, order.application))
        if not orders:
            raise GrantError("Aucun ordre de paiement émis à transmettre : aucun bordereau créé.")
        groups: dict[tuple[int, str], list[PaymentOrder]] = {}
        for order in orders:
            groups.setdefault(_batch_key(order), []).append(order)
        now = timezone.now()
        batches = []
        for (_campaign_id, region_key), members in sorted(groups.items()):
            campaign = members[0].convention.decision.campaign
            batch = PaymentBatch.objects.create(
                number=_next_number(campaign=campaign, region_key=region_key, kind="batch"),
                campaign=campaign,
                region_key=region_key,
                created_by=user,
                created_at=now,
                # Every order's amount, paid out or recovered (each is positive).
                total=sum(int(order.amount) for order in members),
                order_count=len(members),
            )
            PaymentOrder.objects.filter(pk__in=[order.pk for order in members]).update(
                status=PaymentOrder.Status.EXPORTED, exported_at=now, batch=batch
            )
            for order in members:
                grant_log_append(
                    application=order.application,
                    event="order_exported",
                    by=user,
                    detail=f"{order.number} transmis au service financier "
                    f"(bordereau {batch.number}).",
                )
            batches.append(batch)
    return batches


def payment_order_mark_paid(
    *, order: PaymentOrder, by: User, paid_on: datetime.date
) -> PaymentOrder:
    """Record the payment (for a titre de recette: the recovery) of a transmitted order, with
    its date: neither in the future nor before the order's issue."""
    require_allowed(can_follow_up(by, order.application))
    if paid_on > timezone.localdate():
        raise GrantError("La date de paiement ne peut pas être dans le futur.", field="paid_on")
    with transaction.atomic():
        locked = PaymentOrder.objects.select_for_update().get(pk=order.pk)
        paid_word = "recouvré" if locked.kind == PaymentOrder.Kind.RECOVERY else "payé"
        if locked.status != PaymentOrder.Status.EXPORTED:
            raise GrantError(
                f"Seul un ordre transmis au service financier peut être marqué {paid_word}."
                if locked.status == PaymentOrder.Status.ISSUED
                else f"Cet ordre est déjà marqué {paid_word}."
            )
        if paid_on < timezone.localdate(locked.issued_at):
            raise GrantError("La date de paiement précède l'émission de l'ordre.", field="paid_on")
        locked.status = PaymentOrder.Status.PAID
        locked.paid_on = paid_on
        locked.save(update_fields=["status", "paid_on"])
        grant_log_append(
            application=locked.application,
            event="order_paid",
            by=by,
            detail=f"{locked.number} {paid_word} le {paid_on:%d/%m/%Y}.",
        )
    return locked


# --------------------------------------------------------------------------------------------
# Closure
# --------------------------------------------------------------------------------------------


def grant_close(*, convention: Convention, by: User) -> Convention:
    """Close (*solder*) the grant once its second tranche is settled and every order of the
    convention is paid or recovered (``permissions.can_close_grant``, which the page asks too):
    the convention becomes **soldée** and the grant leaves the follow-up queue's lists."""
    application = convention.decision.application
    require_allowed(can_follow_up(by, application))
    with transaction.atomic():
        # Locked as the settlement and the orders' issue lock it: no order appears meanwhile.
        locked = Convention.objects.select_for_update().get(pk=convention.pk)
        if not can_close_grant(by, locked):
            raise GrantError(
                grant_close_blocker(convention=locked) or "Le dossier ne peut pas être soldé."
            )
        locked.status = Convention.Status.CLOSED
        locked.save(update_fields=["status"])
        count = PaymentOrder.objects.filter(convention=locked).count()
        grant_log_append(
            application=application,
            event="grant_closed",
            by=by,
            detail=f"Dossier soldé : convention {locked.number}, {count} ordre(s) payé(s) ou "
            "recouvré(s).",
        )
    return locked
