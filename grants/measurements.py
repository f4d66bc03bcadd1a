"""Usage measurements: bulk import of a DUI editor's file, the porteur's declaration with its
evidence, and the ARS's check.

The import is **all or nothing** and **idempotent**: every line is checked first, and one bad
line refuses the whole file with the list of rejected lines (number, column, reason), nothing
written; a file imported twice changes nothing the second time (one value per ESSMS, indicator
and date — the same value is "unchanged"; a different value replaces a measurement not yet
checked, and is refused for one the ARS has already validated or rejected).

A **declaration** is one value the porteur enters with its evidence (``measurement_declare``),
checked by the same rules (value, date window, replacement) and then by the ARS like any other.
"""

from __future__ import annotations

import csv
import datetime
import functools
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from applications.models import Application, Decision
from applications.statuses import FUNDED
from essms_portal.accounts.models import ARS_ROLES, Role, User
from essms_portal.errors import UserError
from funding.identifiers import is_valid_finess
from funding.settlement import exemption_for
from grappes.models import GrappeMembership, Structure

from .models import (
    MAX_MEASURE,
    Convention,
    FollowUpParameters,
    Measurement,
    MeasurementImport,
    UsageIndicator,
)
from .permissions import can_declare_measurement, measurement_declare_blocker
from .selectors import grant_convention, grant_effective_snapshot
from .services import (
    GrantError,
    GrantNotAllowed,
    _removed_on_rollback,
    _store_upload,
    grant_log_append,
    require_allowed,
)
from .settlement import settlement_lines, settlement_targets

#: The file's columns, in order (a header line is required, compared without case or spaces).
COLUMNS = ("finess", "indicator", "value", "measured_on")
#: The largest file taken (a region's editor file is a few thousand lines).
MAX_IMPORT_BYTES = 20 * 1024 * 1024
#: Past this many rejected lines the report stops listing them (a wrong file would list all).
MAX_LISTED_REJECTIONS = 200


class UnreadableFile(UserError):
    """The file cannot be read as a measurements file at all (encoding, header, size)."""


@dataclass(frozen=True)
class Rejection:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"ligne {self.line}, colonne {self.column} : {self.message}"


class ImportRejected(UserError):
    """At least one line is wrong: nothing was written; ``rejections`` lists them."""

    def __init__(self, rejections: list[Rejection], total: int) -> None:
        self.rejections = rejections
        self.total = total
        super().__init__(
            f"{total} ligne(s) refusée(s) : aucun enregistrement, corrigez le fichier et "
            "importez-le de nouveau."
        )


@dataclass
class ImportSummary:
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    batch: MeasurementImport | None = None


@dataclass(frozen=True)
class _Row:
    line: int
    finess: str
    indicator: str
    value: Decimal
    measured_on: datetime.date


@dataclass
class _Checked:
    rows: list[_Row] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    rejected_total: int = 0

    def reject(self, line: int, column: str, message: str) -> None:
        self.rejected_total += 1
        if len(self.rejections) < MAX_LISTED_REJECTIONS:
            self.rejections.append(Rejection(line, column, message))


def decode_measurements_file(data: bytes) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 (with or without BOM), else Latin-1 — the two
    encodings editors' spreadsheets export. Raises UnreadableFile when it is neither text nor
    within the size limit."""
    if len(data) > MAX_IMPORT_BYTES:
        raise UnreadableFile("Fichier trop volumineux : 20 Mo au plus.")
    if b"\x00" in data:
        raise UnreadableFile("Ce fichier n'est pas un fichier texte CSV (octet nul).")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _parse_value(raw: str) -> Decimal | None:
    """A French or English decimal (``12,5`` or ``12.5``, spaces as thousands separators)."""
    text = raw.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return value


class InvalidMeasure(ValueError):
    """A value, a date or a replacement refused by the rules shared by the import and the
    declaration; ``message`` is French, without its line or field (the caller places it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def measure_value_parse(raw: str) -> Decimal:
    """A measured value from its text: a decimal number from 0 to MAX_MEASURE, two decimals at
    most. Raises InvalidMeasure."""
    value = _parse_value(raw)
    if value is None:
        raise InvalidMeasure(f"« {raw} » n'est pas un nombre")
    if value < 0 or value > MAX_MEASURE:
        raise InvalidMeasure(f"« {raw} » hors limites (0 à {MAX_MEASURE})")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidMeasure(f"« {raw} » : deux décimales au plus")
    return value


def measure_date_check(
    measured_on: datetime.date, window: tuple[datetime.date, datetime.date] | None
) -> None:
    """Raise InvalidMeasure unless ``measured_on`` falls within the campaign's measurement
    window (``FollowUpParameters``: start, deadline); no window: no date is taken."""
    if window is None or not window[0] <= measured_on <= window[1]:
        period = f"du {window[0]:%d/%m/%Y} au {window[1]:%d/%m/%Y}" if window else "non définie"
        raise InvalidMeasure(f"date {measured_on:%d/%m/%Y} hors de la période de mesure ({period})")


def measure_replacement_check(current: Measurement) -> None:
    """A new value replaces a measurement not yet checked; one the ARS validated or rejected
    stays as it is (raise InvalidMeasure)."""
    if current.status != Measurement.Status.PENDING:
        raise InvalidMeasure(
            f"mesure déjà {current.get_status_display().lower()} par l'ARS "
            f"({current.value}) : elle ne peut plus être remplacée"
        )


def _parse_date(raw: str) -> datetime.date | None:
    """``AAAA-MM-JJ`` or ``JJ/MM/AAAA``."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    return None


def _read_lines(text: str, checked: _Checked) -> Iterable[tuple[int, list[str]]]:
    """The data lines with their number (the header is line 1); checks the header."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableFile(
            "Fichier vide : la première ligne doit être l'en-tête " + ";".join(COLUMNS) + "."
        ) from None
    except csv.Error as error:
        raise UnreadableFile(f"Ligne 1 illisible : {error}.") from None
    if tuple(cell.strip().lower() for cell in header) != COLUMNS:
        raise UnreadableFile(
            "En-tête attendu en ligne 1 : " + ";".join(COLUMNS) + " (séparateur point-virgule)."
        )
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            line = reader.line_num
            checked.reject(line, "—", f"ligne illisible ({error})")
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (a trailing one from spreadsheets) are not data
        yield line, cells


def _parse(text: str) -> _Checked:
    """Every line's syntax: FINESS, value, date. Reference checks come after."""
    checked = _Checked()
    for line, cells in _read_lines(text, checked):
        if len(cells) != len(COLUMNS):
            checked.reject(line, "—", f"{len(cells)} colonne(s) au lieu de {len(COLUMNS)}")
            continue
        finess, indicator, raw_value, raw_date = (cell.strip() for cell in cells)
        errors_before = checked.rejected_total
        if not is_valid_finess(finess):
            checked.reject(line, "finess", f"« {finess} » n'est pas un numéro FINESS valide")
        if not indicator:
            checked.reject(line, "indicator", "code d'indicateur manquant")
        value: Decimal | None = None
        try:
            value = measure_value_parse(raw_value)
        except InvalidMeasure as error:
            checked.reject(line, "value", error.message)
        measured_on = _parse_date(raw_date)
        if measured_on is None:
            checked.reject(line, "measured_on", f"« {raw_date} » n'est pas une date (AAAA-MM-JJ)")
        if checked.rejected_total == errors_before:
            assert value is not None and measured_on is not None
            checked.rows.append(_Row(line, finess, indicator, value, measured_on))
    return checked


def funded_memberships(*, finess_numbers: Iterable[str]) -> QuerySet[GrappeMembership]:
    """Memberships of these ESSMS in a grappe whose dossier was granted (accepted decision)."""
    granted = Application.objects.filter(
        status__in=FUNDED, decision__outcome=Decision.Outcome.ACCEPTED
    )
    return GrappeMembership.objects.filter(
        structure__finess__in=list(finess_numbers), grappe__applications__in=granted
    )


def _resolve(checked: _Checked) -> list[tuple[_Row, int, UsageIndicator]]:
    """Reference checks, set-wise: the ESSMS exists and is funded, the indicator belongs to
    the funded campaign, the date falls within its measurement window."""
    finess_numbers = {row.finess for row in checked.rows}
    campaign_of: dict[str, tuple[int, int]] = {}  # finess -> (structure id, campaign id)
    for structure_id, finess, campaign_id in funded_memberships(
        finess_numbers=finess_numbers
    ).values_list("structure_id", "structure__finess", "grappe__applications__call__campaign_id"):
        campaign_of[finess] = (structure_id, campaign_id)
    known = set(
        Structure.objects.filter(finess__in=finess_numbers).values_list("finess", flat=True)
    )
    campaigns = {campaign for _, campaign in campaign_of.values()}
    indicators = {
        (indicator.campaign_id, indicator.code): indicator
        for indicator in UsageIndicator.objects.filter(campaign_id__in=campaigns)
    }
    windows = {
        p.campaign_id: (p.measurement_starts_on, p.measurement_deadline)
        for p in FollowUpParameters.objects.filter(campaign_id__in=campaigns)
    }
    resolved = []
    for row in checked.rows:
        if row.finess not in known:
            checked.reject(row.line, "finess", f"ESSMS {row.finess} inconnu du référentiel")
            continue
        if row.finess not in campaign_of:
            checked.reject(
                row.line,
                "finess",
                f"ESSMS {row.finess} non financé (aucune décision d'attribution)",
            )
            continue
        structure_id, campaign_id = campaign_of[row.finess]
        indicator = indicators.get((campaign_id, row.indicator))
        if indicator is None:
            checked.reject(
                row.line, "indicator", f"indicateur « {row.indicator} » inconnu pour cette campagne"
            )
            continue
        try:
            measure_date_check(row.measured_on, windows.get(campaign_id))
        except InvalidMeasure as error:
            checked.reject(row.line, "measured_on", error.message)
            continue
        resolved.append((row, structure_id, indicator))
    return resolved


def measurements_import(
    *, data: bytes, filename: str, by: User | None, dry_run: bool = False
) -> ImportSummary:
    """Import a measurements file (``finess;indicator;value;measured_on``), all or nothing.

    Raises UnreadableFile (nothing read) or ImportRejected (line-numbered rejections, nothing
    written). ``dry_run`` checks everything and writes nothing."""
    text, encoding = decode_measurements_file(data)
    checked = _parse(text)
    resolved = _resolve(checked)
    seen: dict[tuple[int, int, datetime.date], int] = {}
    for row, structure_id, indicator in resolved:
        key = (structure_id, indicator.pk, row.measured_on)
        if key in seen:
            checked.reject(
                row.line,
                "measured_on",
                f"doublon de la ligne {seen[key]} (même ESSMS, indicateur et date)",
            )
        seen.setdefault(key, row.line)
    summary = ImportSummary(rows=len(resolved))
    with transaction.atomic():
        existing = {
            (m.structure_id, m.indicator_id, m.measured_on): m
            for m in Measurement.objects.select_for_update().filter(
                structure_id__in={s for _, s, _ in resolved},
                indicator_id__in={i.pk for _, _, i in resolved},
            )
        }
        to_create: list[Measurement] = []
        to_update: list[Measurement] = []
        replaced_evidence: list[str] = []
        for row, structure_id, indicator in resolved:
            current = existing.get((structure_id, indicator.pk, row.measured_on))
            if current is None:
                to_create.append(
                    Measurement(
                        structure_id=structure_id,
                        indicator=indicator,
                        value=row.value,
                        measured_on=row.measured_on,
                        source=Measurement.Source.IMPORTED,
                    )
                )
            elif current.value == row.value:
                summary.unchanged += 1
            else:
                try:
                    measure_replacement_check(current)
                except InvalidMeasure as error:
                    checked.reject(row.line, "value", error.message)
                    continue
                current.value = row.value
                current.source = Measurement.Source.IMPORTED
                if current.evidence:  # a declared value's evidence does not prove the file's
                    replaced_evidence.append(current.evidence.name)
                current.evidence = ""
                current.declared_by = None
                to_update.append(current)
        if checked.rejected_total:
            checked.rejections.sort(key=lambda r: r.line)
            raise ImportRejected(checked.rejections, checked.rejected_total)
        summary.created = len(to_create)
        summary.updated = len(to_update)
        if dry_run or not (to_create or to_update):
            return summary
        batch = MeasurementImport.objects.create(
            filename=filename[:255],
            sha256=hashlib.sha256(data).hexdigest(),
            encoding=encoding,
            rows=summary.rows,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
            imported_by=by,
        )
        for measurement in to_create + to_update:
            measurement.import_batch = batch
        Measurement.objects.bulk_create(to_create)
        Measurement.objects.bulk_update(
            to_update, ["value", "source", "import_batch", "evidence", "declared_by"]
        )
        for name in replaced_evidence:
            transaction.on_commit(functools.partial(default_storage.delete, name))
        summary.batch = batch
    return summary


# --------------------------------------------------------------------------------------------
# The porteur's declaration
# --------------------------------------------------------------------------------------------


def measurement_window(*, campaign_id: int) -> tuple[datetime.date, datetime.date] | None:
    """The campaign's measurement window (start, deadline), or None when it has none yet."""
    window = (
        FollowUpParameters.objects.filter(campaign_id=campaign_id)
        .values_list("measurement_starts_on", "measurement_deadline")
        .first()
    )
    return (window[0], window[1]) if window else None


@dataclass(frozen=True)
class DeclarableEssms:
    """A funded ESSMS of the grant and the indicators a value may be declared for."""

    structure: Structure
    indicators: tuple[UsageIndicator, ...]


def measurement_declarable(*, application: Application) -> dict[str, DeclarableEssms]:
    """FINESS → the ESSMS and its indicators, for the lines of the grant in force (the latest
    validated amendment's, else the convention's: ``grant_effective_snapshot``) still in the
    grappe: the indicators of the campaign that apply to the line's CASF item and no exemption
    lifts — the settlement's own rules (``UsageTarget.applies_to``, ``exemption_for``), so a
    value is declared exactly where the second tranche will look for one. Empty before the
    convention exists."""
    convention = grant_convention(application=application)
    if convention is None:
        return {}
    members = {
        finess: (structure_id, segur)
        for structure_id, finess, segur in GrappeMembership.objects.filter(
            grappe_id=application.grappe_id
        ).values_list("structure_id", "structure__finess", "solution__segur_referenced")
    }
    lines = settlement_lines(
        snapshot=grant_effective_snapshot(convention=convention),
        segur_referenced={finess: segur for finess, (_, segur) in members.items()},
    )
    campaign_id = application.call.campaign_id
    targets, exemptions = settlement_targets(campaign_id=campaign_id)
    indicators = {i.code: i for i in UsageIndicator.objects.filter(campaign_id=campaign_id)}
    structures = Structure.objects.in_bulk(
        [members[line.finess][0] for line in lines if line.finess in members]
    )
    declarable = {}
    for line in lines:
        if line.finess not in members:  # left the grappe: the settlement counts it departed
            continue
        applicable = tuple(
            indicators[target.code]
            for target in targets
            if target.applies_to(line.casf_item) and exemption_for(target, line, exemptions) is None
        )
        if applicable:
            declarable[line.finess] = DeclarableEssms(
                structures[members[line.finess][0]], applicable
            )
    return declarable


def _sentence(message: str) -> str:
    """A shared rule's message as a sentence next to a form field."""
    return message[:1].upper() + message[1:] + "."


def measurement_declare(
    *,
    application: Application,
    by: User,
    structure_finess: str,
    indicator_code: str,
    value: Decimal | str,
    measured_on: datetime.date | None,
    evidence: UploadedFile | None,
) -> Measurement:
    """The porteur declares one value of one indicator for one funded ESSMS at a date, with its
    evidence (type by content, size and antivirus checked, stored privately). The measurement
    waits for the ARS (PENDING) and is logged in the grant's follow-up log.

    Allowed by ``permissions.can_declare_measurement`` (from the countersignature until the
    second tranche is settled). The value, the date window and the replacement of an existing
    value follow the import's rules: a value of the same ESSMS, indicator and date is replaced
    while not yet checked, refused once validated or rejected. Raises GrantError on a field
    (``structure_finess``, ``indicator_code``, ``value``, ``measured_on``, ``evidence``);
    nothing is written nor stored then."""
    require_allowed(can_declare_measurement(by, application))
    declarable = measurement_declarable(application=application)
    essms = declarable.get((structure_finess or "").strip())
    if essms is None:
        raise GrantError(
            "Cet ESSMS n'est pas une ligne financée de la convention en vigueur.",
            field="structure_finess",
        )
    indicator = next((i for i in essms.indicators if i.code == indicator_code), None)
    if indicator is None:
        raise GrantError(
            "Cet indicateur ne concerne pas cet ESSMS (hors de la campagne, de sa catégorie ou "
            "exempté).",
            field="indicator_code",
        )
    try:
        parsed = measure_value_parse(str(value).strip())
    except InvalidMeasure as error:
        raise GrantError(_sentence(error.message), field="value") from None
    if measured_on is None:
        raise GrantError("Indiquez la date de la mesure.", field="measured_on")
    try:
        measure_date_check(
            measured_on, measurement_window(campaign_id=application.call.campaign_id)
        )
    except InvalidMeasure as error:
        raise GrantError(_sentence(error.message), field="measured_on") from None
    if evidence is None:
        raise GrantError("Joignez le justificatif de la mesure.", field="evidence")
    with transaction.atomic(), _removed_on_rollback() as stored_files:
        # The convention's row locked: a countersignature, closure or settlement committing
        # meanwhile is seen by the check below, not after the declaration.
        Convention.objects.select_for_update().filter(decision__application=application).exists()
        blocker = measurement_declare_blocker(application=application)
        if blocker is not None:
            raise GrantNotAllowed(blocker)
        current = (
            Measurement.objects.select_for_update()
            .filter(structure=essms.structure, indicator=indicator, measured_on=measured_on)
            .first()
        )
        if current is not None:
            try:
                measure_replacement_check(current)
            except InvalidMeasure as error:
                raise GrantError(_sentence(error.message), field="value") from None
        stored = _store_upload(evidence, prefix=f"mesures/{application.pk}", field="evidence")
        stored_files.append(stored)
        replaced_evidence = current.evidence.name if current is not None else ""
        if replaced_evidence:
            # The replaced value's evidence goes with it, once the replacement is committed.
            transaction.on_commit(lambda: default_storage.delete(replaced_evidence))
        measurement = current or Measurement(
            structure=essms.structure, indicator=indicator, measured_on=measured_on
        )
        measurement.value = parsed
        measurement.source = Measurement.Source.DECLARED
        measurement.import_batch = None
        measurement.evidence = stored
        measurement.declared_by = by
        measurement.save()
        grant_log_append(
            application=application,
            event="measurement_declared",
            by=by,
            detail=f"Mesure {indicator.code} de l'ESSMS {essms.structure.finess} au "
            f"{measured_on:%d/%m/%Y} : {parsed} (justificatif {evidence.name}), à vérifier "
            "par l'ARS.",
        )
    return measurement


# --------------------------------------------------------------------------------------------
# The ARS's check
# --------------------------------------------------------------------------------------------


def can_review_measurement(user: User, measurement: Measurement) -> bool:
    """ARS agents of the region of the regional call that funded the ESSMS, CNSA agents for
    the national call; administrators always."""
    if user.role == Role.ADMINISTRATOR:
        return True
    calls = funded_memberships(finess_numbers=[measurement.structure.finess]).values_list(
        "grappe__applications__call__scope", "grappe__applications__call__region_id"
    )
    for scope, region in calls:
        if scope == "national" and user.role == Role.CNSA_AGENT:
            return True
        if scope == "regional" and user.role in ARS_ROLES and user.region_id == region:
            return True
    return False


class MeasurementNotAllowed(UserError):
    pass


def measurement_review(
    *, measurement: Measurement, by: User, validated: bool, comment: str = ""
) -> Measurement:
    """Validate or reject a pending measurement; a rejection needs a comment."""
    if not can_review_measurement(by, measurement):
        raise MeasurementNotAllowed("Vous ne pouvez pas vérifier les mesures de cet ESSMS.")
    comment = comment.strip()
    if not validated and not comment:
        raise UserError("Indiquez le motif du rejet.", field="comment")
    with transaction.atomic():
        locked = Measurement.objects.select_for_update().get(pk=measurement.pk)
        if locked.status != Measurement.Status.PENDING:
            raise UserError("Cette mesure a déjà été vérifiée.")
        locked.status = Measurement.Status.VALIDATED if validated else Measurement.Status.REJECTED
        locked.review_comment = comment
        locked.reviewed_by = by
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["status", "review_comment", "reviewed_by", "reviewed_at"])
        for application in _grants_measured(locked):
            grant_log_append(
                application=application,
                event="measurement_validated" if validated else "measurement_rejected",
                by=by,
                detail=f"{locked.structure.finess} · {locked.indicator.code} = {locked.value} "
                f"au {locked.measured_on:%d/%m/%Y}" + (f" — {comment}" if comment else ""),
            )
    return locked


def _grants_measured(measurement: Measurement) -> list[Application]:
    """The granted dossiers (of the indicator's campaign) whose grappe holds the measured ESSMS:
    the logs the check is written to (one in practice)."""
    return list(
        Application.objects.filter(
            pk__in=funded_memberships(finess_numbers=[measurement.structure.finess])
            .filter(grappe__applications__call__campaign_id=measurement.indicator.campaign_id)
            .values("grappe__applications")
        )
        .filter(call__campaign_id=measurement.indicator.campaign_id, status__in=FUNDED)
        .order_by("pk")
    )
