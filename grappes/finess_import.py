"""Import of the etalab FINESS establishment extract (domain.md §8) into the referential.

Two halves:

- :class:`ExtractParser` turns the raw bytes into typed records (:class:`Establishment`,
  :class:`Geolocation`) or :class:`Reject` / :class:`LineWarning` entries, line by line. It never
  raises on a bad line: only a file that does not start with the etalab marker is refused
  (:class:`NotAFinessExtract`), before anything is written.
- :func:`finess_import` streams those records in batches of :data:`BATCH_SIZE` lines into the
  database: for each batch it loads the existing rows by FINESS, creates the new ones and updates
  only the rows whose values differ, so a second run of the same file changes nothing. Memory
  stays flat whatever the size of the file (only the FINESS numbers already seen are kept, to
  reject an establishment listed twice).

Works on PostgreSQL and SQLite with the ORM only (``bulk_create`` / ``bulk_update``).
"""

from __future__ import annotations

import csv
import datetime
import os
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from essms_portal.identifiers import finess_error, is_valid_siren, is_valid_siret

from .models import Departement, FinessCategory, Organisation, Structure
from .referential_data import normalise_department

BATCH_SIZE = 2_000
# structureet lines carry at least 31 columns (0 "structureet" … 30 datemaj), domain.md §8.
MIN_STRUCTURE_COLUMNS = 31
MIN_GEOLOCATION_COLUMNS = 4
# Past these, rejects and warnings are only counted, so that a garbage file cannot fill memory.
MAX_DETAILED_ENTRIES = 10_000
PLACEHOLDER_EJ_NAME = "Entité juridique {finess}"
TWO_PLACES = Decimal("0.01")
# Lambert-93 coordinates are metres, well under 10 million; the column holds 10 integer digits.
MAX_COORDINATE = Decimal(10) ** 10

ProgressCallback = Callable[[int, int], None]


class NotAFinessExtract(Exception):
    """The file does not start with the etalab marker line; ``message`` is French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Establishment:
    """One accepted ``structureet`` line, cleaned and validated."""

    line: int
    finess: str
    finess_ej: str
    name: str
    long_name: str
    address: str
    postal_line: str
    department: str
    category_code: str
    siret: str
    siren: str
    opened_on: datetime.date | None
    updated_on: datetime.date | None


@dataclass(frozen=True, slots=True)
class Geolocation:
    """One accepted ``geolocalisation`` line (Lambert 93, metres)."""

    line: int
    finess: str
    x: Decimal
    y: Decimal


@dataclass(frozen=True, slots=True)
class Reject:
    """A line that was not imported, and why (French)."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class LineWarning:
    """A line imported with a caveat; ``kind`` is ``siret``, ``date`` or ``geolocation``."""

    line: int
    message: str
    kind: str = ""


Record = Establishment | Geolocation | Reject | LineWarning


@dataclass
class ImportReport:
    """What an import did; ``rejects`` and ``warnings`` keep the first entries in detail."""

    dry_run: bool = False
    encoding: str = "utf-8"
    extract_date: str = ""
    lines_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    geolocated: int = 0
    not_essms: int = 0
    invalid_sirets: int = 0
    organisations_created: int = 0
    organisations_updated: int = 0
    warnings_count: int = 0
    unknown_categories: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[LineWarning] = field(default_factory=list)

    @property
    def establishments(self) -> int:
        """Establishment lines accepted (created, updated or unchanged)."""
        return self.created + self.updated + self.unchanged

    @property
    def changed(self) -> bool:
        """Whether the import created or updated anything."""
        return bool(self.created or self.updated)

    def add_reject(self, reject: Reject) -> None:
        self.rejected += 1
        if len(self.rejects) < MAX_DETAILED_ENTRIES:
            self.rejects.append(reject)

    def add_warning(self, warning: LineWarning) -> None:
        self.warnings_count += 1
        if len(self.warnings) < MAX_DETAILED_ENTRIES:
            self.warnings.append(warning)

    def summary(self) -> str:
        """One French sentence with the counts, e.g. « 0 créé, 0 mis à jour, 12 inchangés »."""
        return (
            f"{_count(self.created, 'créé', 'créés')}, {self.updated} mis à jour, "
            f"{_count(self.unchanged, 'inchangé', 'inchangés')}, "
            f"{_count(self.rejected, 'rejeté', 'rejetés')}"
        )

    def as_text(self) -> str:
        """The full report, as shown by the command and stored on an import job."""
        lines = []
        if self.dry_run:
            lines.append("Simulation (--dry-run) : aucune donnée n'a été enregistrée.")
        lines.append(
            f"Extrait FINESS du {self.extract_date or 'date inconnue'}, encodage {self.encoding} :"
            f" {_count(self.lines_read, 'ligne lue', 'lignes lues')}."
        )
        lines.append(f"Établissements : {self.summary()}.")
        if not self.changed:
            lines.append("Aucun changement : le référentiel était déjà à jour.")
        lines.append(
            f"Géolocalisations appliquées : {self.geolocated}. Organismes gestionnaires : "
            f"{_count(self.organisations_created, 'créé', 'créés')}, "
            f"{self.organisations_updated} mis à jour."
        )
        if self.not_essms:
            lines.append(
                f"{_count(self.not_essms, 'établissement', 'établissements')} hors ESSMS "
                "(catégorie non éligible) conservé(s), non éligible(s)."
            )
        if self.unknown_categories:
            codes = ", ".join(
                f"{code or '(vide)'} ({n})" for code, n in sorted(self.unknown_categories.items())
            )
            lines.append(
                "Catégories absentes du référentiel (établissements enregistrés, non éligibles) : "
                f"{codes}."
            )
        if self.invalid_sirets:
            lines.append(f"SIRET invalides ignorés (enregistrés vides) : {self.invalid_sirets}.")
        if self.rejects:
            lines.append("Lignes rejetées :")
            lines.extend(f"  ligne {r.line} : {r.reason}" for r in self.rejects)
            if self.rejected > len(self.rejects):
                lines.append(f"  … et {self.rejected - len(self.rejects)} autres.")
        if self.warnings:
            lines.append("Avertissements :")
            lines.extend(f"  ligne {w.line} : {w.message}" for w in self.warnings)
            if self.warnings_count > len(self.warnings):
                lines.append(f"  … et {self.warnings_count - len(self.warnings)} autres.")
        return "\n".join(lines)


def _count(n: int, singular: str, plural: str) -> str:
    """« 0 créé », « 1 créé », « 2 créés »: French keeps the singular below two."""
    return f"{n} {singular if n < 2 else plural}"


# --- Parsing --------------------------------------------------------------------------------


def _decode(raw: bytes) -> tuple[str, bool]:
    """The text of one raw line and whether Latin-1 was needed.

    Each line is tried as UTF-8 first: a Latin-1 accent is never a valid UTF-8 sequence in
    practice, so this recognises both generations of the extract, and a UTF-8 file with one stray
    Latin-1 line, without ever failing (every byte is a Latin-1 character).
    """
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("latin-1"), True


def _split(text: str) -> list[str]:
    """The fields of one line; quoted fields with doubled quotes go through the csv module."""
    if '"' not in text:
        return text.split(";")
    # One reader per physical line: an unbalanced quote can then only spoil its own line,
    # never swallow the following ones.
    return next(csv.reader((text,), delimiter=";"), [])


def _parse_date(value: str) -> datetime.date | None:
    """ISO date (``2019-05-27``) or French date (``27/05/2019``); ValueError otherwise."""
    value = value.strip()
    if not value:
        return None
    if "/" in value:
        return datetime.datetime.strptime(value, "%d/%m/%Y").date()
    return datetime.date.fromisoformat(value[:10])


def _clip(value: str, length: int) -> str:
    """Stripped and cut to the column's length (PostgreSQL refuses longer strings)."""
    return value.strip()[:length]


def _address(fields: list[str]) -> str:
    """« 12 B RUE DE LA PAIX, LIEU-DIT » from numvoie, compvoie, typvoie, voie, lieuditbp."""
    street = " ".join(
        part
        for part in (fields[7].strip(), fields[10].strip(), fields[8].strip(), fields[9].strip())
        if part
    )
    place = fields[11].strip()
    return _clip(", ".join(part for part in (street, place) if part), 255)


class ExtractParser:
    """Iterate over the typed records of an extract given as a binary stream.

    ``departments`` are the known INSEE codes (etalab overseas codes are mapped first). The
    attributes ``encoding``, ``extract_date``, ``bytes_read`` and ``accepted`` (FINESS ET →
    line of the accepted establishment) are filled as the stream is read.
    """

    def __init__(self, stream: IO[bytes], *, departments: Collection[str]) -> None:
        self.stream = stream
        self.departments = departments
        self.accepted: dict[str, int] = {}
        self.bytes_read = 0
        self.lines_read = 0
        self.extract_date = ""
        self._latin1_lines = 0
        self._utf8_lines = 0

    @property
    def encoding(self) -> str:
        """``utf-8``, ``latin-1`` or ``mixte`` depending on what the lines needed."""
        if self._latin1_lines and self._utf8_lines:
            return "mixte (UTF-8 et Latin-1)"
        return "latin-1" if self._latin1_lines else "utf-8"

    def read_marker(self) -> None:
        """Check the first line (``finess;etalab;<n>;<date>``) or raise NotAFinessExtract."""
        raw = self.stream.readline()
        self.bytes_read += len(raw)
        text, _ = _decode(raw.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n"))
        fields = _split(text)
        if (
            len(fields) < 2
            or fields[0].strip().lower() != "finess"
            or (fields[1].strip().lower() != "etalab")
        ):
            shown = text[:60] if text.isprintable() else repr(text[:60])
            raise NotAFinessExtract(
                "Ce fichier n'est pas un extrait FINESS etalab : sa première ligne devrait "
                f"commencer par « finess;etalab; » (lu : « {shown} »). Aucune donnée n'a été "
                "enregistrée."
            )
        self.extract_date = fields[3].strip() if len(fields) > 3 else ""

    def __iter__(self) -> Iterator[Record]:
        """Records of the data lines; call :meth:`read_marker` first."""
        number = 1
        for raw in self.stream:
            number += 1
            self.bytes_read += len(raw)
            stripped = raw.rstrip(b"\r\n")
            if not stripped.strip():
                continue
            self.lines_read += 1
            text, latin1 = _decode(stripped)
            if latin1:
                self._latin1_lines += 1
            elif not stripped.isascii():
                self._utf8_lines += 1
            yield from self._records(number, _split(text))

    def _records(self, number: int, fields: list[str]) -> Iterator[Record]:
        kind = fields[0].strip().lower() if fields else ""
        if kind == "structureet":
            yield from self._establishment(number, fields)
        elif kind == "geolocalisation":
            yield self._geolocation(number, fields)
        else:
            yield Reject(
                number,
                f"type de ligne inconnu « {kind[:40]} » (attendu : structureet ou geolocalisation)",
            )

    def _establishment(self, number: int, fields: list[str]) -> Iterator[Record]:
        if len(fields) < MIN_STRUCTURE_COLUMNS:
            yield Reject(
                number,
                f"ligne tronquée : {len(fields)} colonnes au lieu d'au moins "
                f"{MIN_STRUCTURE_COLUMNS}",
            )
            return
        finess = fields[1].strip().upper()
        if error := finess_error(finess):
            yield Reject(number, f"FINESS ET « {finess} » invalide : {error}")
            return
        finess_ej = fields[2].strip().upper()
        if error := finess_error(finess_ej):
            yield Reject(number, f"FINESS EJ « {finess_ej} » invalide : {error}")
            return
        department = normalise_department(fields[13])
        if department not in self.departments:
            yield Reject(number, f"département inconnu « {fields[13].strip()} » ({finess})")
            return
        if finess in self.accepted:
            yield Reject(
                number,
                f"établissement {finess} en double dans le fichier (déjà lu ligne "
                f"{self.accepted[finess]}) : cette occurrence est ignorée",
            )
            return
        name = _clip(fields[3], 255) or _clip(fields[4], 255)
        if not name:
            yield Reject(number, f"raison sociale absente ({finess})")
            return
        siret = fields[22].strip()
        if siret and not is_valid_siret(siret):
            yield LineWarning(number, f"SIRET « {siret} » invalide ignoré ({finess})", "siret")
            siret = ""
        dates: list[datetime.date | None] = []
        for index, label in ((28, "date d'ouverture"), (30, "date de mise à jour")):
            try:
                dates.append(_parse_date(fields[index]))
            except ValueError:
                yield LineWarning(
                    number, f"{label} « {fields[index].strip()} » illisible ignorée", "date"
                )
                dates.append(None)
        self.accepted[finess] = number
        yield Establishment(
            line=number,
            finess=finess,
            finess_ej=finess_ej,
            name=name,
            long_name=_clip(fields[4], 255),
            address=_address(fields),
            postal_line=_clip(fields[15], 100),
            department=department,
            category_code=_clip(fields[18], 4),
            siret=siret,
            siren=siret[:9] if siret and is_valid_siren(siret[:9]) else "",
            opened_on=dates[0],
            updated_on=dates[1],
        )

    def _geolocation(self, number: int, fields: list[str]) -> Record:
        if len(fields) < MIN_GEOLOCATION_COLUMNS:
            return Reject(
                number,
                f"ligne de géolocalisation tronquée : {len(fields)} colonnes au lieu d'au moins "
                f"{MIN_GEOLOCATION_COLUMNS}",
            )
        finess = fields[1].strip().upper()
        if error := finess_error(finess):
            return Reject(number, f"FINESS ET « {finess} » invalide : {error}")
        try:
            x, y = (Decimal(fields[i].strip()).quantize(TWO_PLACES) for i in (2, 3))
        except InvalidOperation:
            return Reject(number, f"coordonnées illisibles « {fields[2]} ; {fields[3]} »")
        if not all(c.is_finite() and abs(c) < MAX_COORDINATE for c in (x, y)):
            return Reject(number, f"coordonnées hors limites « {fields[2]} ; {fields[3]} »")
        return Geolocation(number, finess, x, y)


# --- Writing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Referential:
    """What the writer needs to know about categories: code → eligible (ESSMS)."""

    eligible_by_category: Mapping[str, bool]

    @classmethod
    def load(cls) -> _Referential:
        return cls(
            eligible_by_category={
                code: item is not None
                for code, item in FinessCategory.objects.values_list("code", "casf_item_id")
            }
        )


# Structure columns the extract owns: compared on every run, written only when they differ.
STRUCTURE_FIELDS = (
    "organisation_id",
    "siret",
    "name",
    "long_name",
    "category_id",
    "category_code",
    "eligible",
    "departement_id",
    "address",
    "postal_line",
    "opened_on",
    "finess_updated_on",
    "source",
)


def _organisations_for(
    batch: list[Establishment], *, report: ImportReport, now: datetime.datetime
) -> dict[str, int]:
    """FINESS EJ → Organisation id for the batch, creating missing EJ with a placeholder name.

    An existing EJ only gets its blanks filled (SIREN, département): its name may have been
    corrected by hand, and the establishment extract does not carry it.
    """
    numbers = {record.finess_ej for record in batch}
    known = {
        org.finess: org
        for org in Organisation.objects.filter(finess__in=numbers).only(
            "id", "finess", "siren", "departement_id"
        )
    }
    new: dict[str, Organisation] = {}
    changed: dict[str, Organisation] = {}
    for record in batch:
        org = known.get(record.finess_ej) or new.get(record.finess_ej)
        if org is None:
            new[record.finess_ej] = Organisation(
                finess=record.finess_ej,
                name=PLACEHOLDER_EJ_NAME.format(finess=record.finess_ej),
                siren=record.siren,
                departement_id=record.department,
            )
            continue
        if not org.siren and record.siren:
            org.siren = record.siren
            changed.setdefault(org.finess, org)
        if org.departement_id is None:
            org.departement_id = record.department
            changed.setdefault(org.finess, org)
    if new:
        Organisation.objects.bulk_create(new.values(), batch_size=1_000)
        report.organisations_created += len(new)
    changed_known = [org for number, org in changed.items() if number in known]
    if changed_known:
        for org in changed_known:
            org.updated_at = now
        Organisation.objects.bulk_update(
            changed_known, ["siren", "departement_id", "updated_at"], batch_size=500
        )
        report.organisations_updated += len(changed_known)
    ids = {number: org.pk for number, org in (known | new).items()}
    if any(pk is None for pk in ids.values()):
        # A backend that cannot return ids from a bulk insert: read them back.
        ids = dict(Organisation.objects.filter(finess__in=numbers).values_list("finess", "id"))
    return ids


def _structure_values(
    record: Establishment, *, organisation_id: int, referential: _Referential
) -> dict[str, Any]:
    """The values the extract gives a structure, keyed like :data:`STRUCTURE_FIELDS`."""
    eligible = referential.eligible_by_category.get(record.category_code)
    return {
        "organisation_id": organisation_id,
        "siret": record.siret,
        "name": record.name,
        "long_name": record.long_name,
        "category_id": record.category_code if eligible is not None else None,
        "category_code": record.category_code,
        "eligible": bool(eligible),
        "departement_id": record.department,
        "address": record.address,
        "postal_line": record.postal_line,
        "opened_on": record.opened_on,
        "finess_updated_on": record.updated_on,
        "source": Structure.Source.FINESS,
    }


def _write_establishments(
    batch: list[Establishment],
    *,
    referential: _Referential,
    report: ImportReport,
    now: datetime.datetime,
) -> None:
    """Create the batch's new structures and update the changed ones (only those)."""
    organisation_ids = _organisations_for(batch, report=report, now=now)
    existing = {
        s.finess: s
        for s in Structure.objects.filter(finess__in=[r.finess for r in batch]).only(
            "id", "finess", *(name.removesuffix("_id") for name in STRUCTURE_FIELDS)
        )
    }
    to_create: list[Structure] = []
    to_update: list[Structure] = []
    changed_fields: set[str] = set()
    for record in batch:
        values = _structure_values(
            record, organisation_id=organisation_ids[record.finess_ej], referential=referential
        )
        if values["category_id"] is None:
            report.unknown_categories[record.category_code] += 1
        elif not values["eligible"]:
            report.not_essms += 1
        structure = existing.get(record.finess)
        if structure is None:
            to_create.append(Structure(finess=record.finess, **values))
            continue
        differing = [name for name, value in values.items() if getattr(structure, name) != value]
        if not differing:
            report.unchanged += 1
            continue
        for name in differing:
            setattr(structure, name, values[name])
        structure.updated_at = now
        changed_fields.update(differing)
        to_update.append(structure)
    if to_create:
        Structure.objects.bulk_create(to_create, batch_size=1_000)
        report.created += len(to_create)
    if to_update:
        Structure.objects.bulk_update(
            to_update, sorted(changed_fields | {"updated_at"}), batch_size=500
        )
        report.updated += len(to_update)


def _write_geolocations(
    batch: list[Geolocation],
    *,
    accepted: Mapping[str, int],
    report: ImportReport,
    started: datetime.datetime,
    now: datetime.datetime,
) -> None:
    """Store the coordinates of the batch; a newly geolocated unchanged row becomes updated."""
    structures = {
        s.finess: s
        for s in Structure.objects.filter(finess__in=[g.finess for g in batch]).only(
            "id", "finess", "lambert_x", "lambert_y", "updated_at"
        )
    }
    to_update: list[Structure] = []
    for geo in batch:
        structure = structures.get(geo.finess)
        if structure is None or geo.finess not in accepted:
            # Coordinates of an establishment this file does not list (or whose line was
            # rejected): nothing to attach them to in this run.
            report.add_warning(
                LineWarning(
                    geo.line,
                    f"géolocalisation de {geo.finess} ignorée : établissement "
                    "absent de l'extrait ou rejeté",
                )
            )
            continue
        report.geolocated += 1
        if (structure.lambert_x, structure.lambert_y) == (geo.x, geo.y):
            continue
        if structure.updated_at < started:
            # Counted as unchanged by its structureet line: it is an update after all.
            report.unchanged -= 1
            report.updated += 1
        structure.lambert_x, structure.lambert_y, structure.updated_at = geo.x, geo.y, now
        to_update.append(structure)
    if to_update:
        Structure.objects.bulk_update(
            to_update, ["lambert_x", "lambert_y", "updated_at"], batch_size=500
        )


def _stream_size(stream: IO[bytes]) -> int:
    """Total size in bytes when the stream can tell it, else 0 (unknown)."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        pass
    try:
        position = stream.tell()
        size = stream.seek(0, os.SEEK_END)
        stream.seek(position)
        return size
    except (AttributeError, OSError, ValueError):
        return 0


def finess_import(
    *,
    path_or_stream: str | Path | IO[bytes],
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import an etalab FINESS establishment extract; return what was done.

    Raises :class:`NotAFinessExtract` before writing anything when the first line is not the
    marker. ``progress`` is called after each batch with (bytes read, total bytes; 0 when
    unknown). With ``dry_run`` everything runs in a transaction that is rolled back, so the
    report shows exactly what a real run would do.
    """
    if isinstance(path_or_stream, str | Path):
        with open(path_or_stream, "rb") as stream:
            return _import_stream(stream, dry_run=dry_run, progress=progress)
    return _import_stream(path_or_stream, dry_run=dry_run, progress=progress)


def _import_stream(
    stream: IO[bytes], *, dry_run: bool, progress: ProgressCallback | None
) -> ImportReport:
    """:func:`finess_import` on an open binary stream."""
    total = _stream_size(stream)
    departments = set(Departement.objects.values_list("code", flat=True))
    parser = ExtractParser(stream, departments=departments)
    parser.read_marker()
    report = ImportReport(dry_run=dry_run, extract_date=parser.extract_date)
    if dry_run:
        with transaction.atomic():
            _run(parser, report=report, progress=progress, total=total)
            transaction.set_rollback(True)
    else:
        _run(parser, report=report, progress=progress, total=total)
    report.encoding = parser.encoding
    report.lines_read = parser.lines_read
    return report


def _run(
    parser: ExtractParser,
    *,
    report: ImportReport,
    progress: ProgressCallback | None,
    total: int,
) -> None:
    """Feed the parser's records to the writers, one committed batch at a time."""
    referential = _Referential.load()
    started = timezone.now()
    establishments: list[Establishment] = []
    geolocations: list[Geolocation] = []

    def flush() -> None:
        now = timezone.now()
        with transaction.atomic():
            if establishments:
                _write_establishments(
                    establishments, referential=referential, report=report, now=now
                )
            if geolocations:
                _write_geolocations(
                    geolocations, accepted=parser.accepted, report=report, started=started, now=now
                )
        establishments.clear()
        geolocations.clear()
        if progress is not None:
            progress(parser.bytes_read, total)

    for record in parser:
        if isinstance(record, Establishment):
            establishments.append(record)
        elif isinstance(record, Geolocation):
            geolocations.append(record)
        elif isinstance(record, Reject):
            report.add_reject(record)
        else:
            if record.kind == "siret":
                report.invalid_sirets += 1
            report.add_warning(record)
        if len(establishments) + len(geolocations) >= BATCH_SIZE:
            flush()
    flush()
