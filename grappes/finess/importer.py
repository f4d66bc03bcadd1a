"""Import of the etalab FINESS establishment extract (domain.md §8) into the referential.

Two halves:

- :class:`ExtractParser` turns the raw bytes into typed records (:class:`Establishment`,
  :class:`Geolocation`) or :class:`Reject` / :class:`LineWarning` entries, line by line. It never
  raises on a bad line (a NUL byte, an unreadable quoted field… is a :class:`Reject` with its line
  number): only an unreadable *file* is refused (:class:`NotAFinessExtract`) — no etalab marker,
  a marker date that is not a date, no ``structureet``/``geolocalisation`` line at all. Lines may
  end with LF, CRLF or a lone CR (old Mac files are read with universal newlines).
- :func:`finess_import` streams those records in batches of :data:`BATCH_SIZE` lines into the
  database, **all in one transaction**: for each batch the writer creates the new rows and
  updates only those whose values differ, so a second run of the same file changes nothing, and
  any failure (a refused file, a database error) leaves the database as it was.

Two paths give the same rows and the same report (the tests run both): :class:`OrmWriter`
(any database: the parser's records, batch by batch, compared in Python) and, by default on
PostgreSQL, ``grappes.finess.postgres.import_postgres`` (the parser's accepted records streamed
with one COPY into a temporary table, the upserts done set-wise in SQL; on a re-import the lines
unchanged since they were written are handed back as :class:`Skipped` without being checked
again). Memory does not depend on the size of the file but for one dictionary entry per
establishment (the FINESS numbers already read, to reject duplicates; on PostgreSQL also the
stored line digests): measured 94 Mo peak for 100 000 establishments, 120 Mo for 300 000 on the
ORM path.
"""

from __future__ import annotations

import csv
import datetime
import functools
import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Protocol

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.utils import timezone

from essms_portal.identifiers import finess_error, is_valid_siren, is_valid_siret
from essms_portal.quotes_version import quotes_changed

from ..models import Departement, FinessCategory, Organisation, Structure
from ..referential_data import normalise_department

BATCH_SIZE = 2_000
# The marker line is short: a first line longer than this (no line end) is not an extract.
MAX_MARKER_BYTES = 64 * 1024
# Read size of the universal-newline reader (files with lone CR line ends).
CHUNK_BYTES = 1024 * 1024
# etalab names of the structureet columns (domain.md §8), to name a column in a message.
STRUCTURE_COLUMNS = (
    "structureet", "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib",
    "numvoie", "typvoie", "voie", "compvoie", "lieuditbp", "commune", "departement",
    "libdepartement", "ligneacheminement", "telephone", "telecopie", "categetab",
    "libcategetab", "categagretab", "libcategagretab", "siret", "codeape", "codemft", "libmft",
    "codesph", "libsph", "dateouv", "dateautor", "datemaj", "numuai",
)  # fmt: skip
GEOLOCATION_COLUMNS = ("geolocalisation", "nofinesset", "coordxet", "coordyet", "sourcecoordet")
KNOWN_LINE_TYPES = frozenset({"structureet", "geolocalisation"})
# structureet lines carry at least 31 columns (0 "structureet" … 30 datemaj), domain.md §8.
MIN_STRUCTURE_COLUMNS = 31
MIN_GEOLOCATION_COLUMNS = 4
# Past these, rejects and warnings are only counted, so that a garbage file cannot fill memory.
MAX_DETAILED_ENTRIES = 10_000
PLACEHOLDER_EJ_NAME = "Entité juridique {finess}"
TWO_PLACES = Decimal("0.01")
# Lambert-93 coordinates are metres, well under 10 million; the column holds 10 integer digits.
MAX_COORDINATE = Decimal(10) ** 10

# Called after each batch with (bytes read, total bytes or 0 when unknown, the report so far).
ProgressCallback = Callable[[int, int, "ImportReport"], None]


class NotAFinessExtract(Exception):
    """The file cannot be read as an extract (nothing is written); ``message`` is French.

    No etalab marker line, a marker date that is not a date, or no line of a known type.
    """

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
    # _line_digest of the raw line when the parser computes digests and the line had no
    # warning, else "".
    digest: str = ""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A ``structureet`` line byte for byte the one that last wrote its structure (re-import).

    Only produced when the parser is given the digests of the stored lines (PostgreSQL path,
    ``ExtractParser.unchanged``): such a line is accepted without warnings by construction, so
    its checks are not run again and its structure is left as it is.
    """

    line: int
    finess: str


@dataclass(frozen=True, slots=True)
class SkippedGeolocation:
    """The ``geolocalisation`` line that last gave its coordinates to a structure whose
    ``structureet`` line was skipped: the same coordinates, not read again (re-import)."""

    line: int
    finess: str


@dataclass(frozen=True, slots=True)
class Geolocation:
    """One accepted ``geolocalisation`` line (Lambert 93, metres)."""

    line: int
    finess: str
    x: Decimal
    y: Decimal
    # _line_digest of the raw line when the parser computes digests, else "".
    digest: str = ""


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


Record = Establishment | Skipped | Geolocation | SkippedGeolocation | Reject | LineWarning


@dataclass
class ImportReport:
    """What an import did; ``rejects`` and ``warnings`` keep the first entries in detail."""

    dry_run: bool = False
    encoding: str = "utf-8"
    line_ends: str = "LF"
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

    def as_text(self, *, max_warnings: int | None = None) -> str:
        """The report, as shown by the command and stored on an import job.

        Every rejected line is listed (up to :data:`MAX_DETAILED_ENTRIES`); warnings (invalid
        SIRET, unreadable dates…) can be many on a real extract: ``max_warnings`` lists only
        the first ones.
        """
        lines = []
        if self.dry_run:
            lines.append("Simulation (--dry-run) : aucune donnée n'a été enregistrée.")
        lines.append(
            f"Extrait FINESS du {self.extract_date or 'date inconnue'}, encodage {self.encoding} :"
            f" {_count(self.lines_read, 'ligne lue', 'lignes lues')}."
        )
        if self.line_ends == "CR":
            lines.append("Fins de ligne CR (ancien format Mac) : lues comme des fins de ligne LF.")
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
            shown = self.warnings[:max_warnings]
            lines.append(f"Avertissements ({self.warnings_count}) :")
            lines.extend(f"  ligne {w.line} : {w.message}" for w in shown)
            if self.warnings_count > len(shown):
                lines.append(f"  … et {self.warnings_count - len(shown)} autres.")
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
    """The fields of one line; quoted fields with doubled quotes go through the csv module.

    Raises ``csv.Error`` on a quoted field the csv module refuses (longer than its field limit).
    """
    if '"' not in text:
        return text.split(";")
    # One reader per physical line: an unbalanced quote can then only spoil its own line,
    # never swallow the following ones.
    return next(csv.reader((text,), delimiter=";"), [])


def _column_name(kind: str, index: int) -> str:
    """« 4 (rs) »: the 1-based column number and its etalab name when known."""
    names = {"structureet": STRUCTURE_COLUMNS, "geolocalisation": GEOLOCATION_COLUMNS}.get(kind, ())
    return f"{index + 1} ({names[index]})" if index < len(names) else str(index + 1)


def _nul_reject(number: int, text: str) -> tuple[str, Reject]:
    """The line's type and its reject: a NUL byte, which no text column can store, spoils it."""
    try:
        fields = _split(text)
    except csv.Error:
        fields = [text]
    kind = fields[0].strip().lower()
    index = next((i for i, value in enumerate(fields) if "\x00" in value), None)
    where = "" if index is None else f" dans la colonne {_column_name(kind, index)}"
    return kind, Reject(
        number, f"octet nul (0x00){where} : fichier abîmé à cet endroit, ligne ignorée"
    )


def _extract_date(value: str) -> str:
    """The marker's date as ISO ``AAAA-MM-JJ`` (ISO or French written); ValueError otherwise."""
    if "/" in value:
        return datetime.datetime.strptime(value, "%d/%m/%Y").date().isoformat()
    try:
        return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        return datetime.datetime.fromisoformat(value).date().isoformat()  # with a time


_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")


def _universal_lines(pending: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of ``pending`` then of ``stream``, each with its end: CRLF, lone CR or LF."""
    done = False
    while not done:
        data = stream.read(CHUNK_BYTES)
        done = not data
        pending += data
        end = 0
        for match in _LINE.finditer(pending):
            if not done and match.end() == len(pending) and pending.endswith(b"\r"):
                break  # maybe the first half of a CRLF cut by the read
            yield match.group()
            end = match.end()
        pending = pending[end:]
    if pending:
        yield pending


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


# Luhn by table: a string of digits is cut from the right into chunks of three; each chunk's
# Luhn contribution is looked up, the doubled digits being the middle one of the chunks whose
# rightmost digit is in an even position from the right, the outer two otherwise. Measured
# (issue #13): a third of the per-digit loop of ``funding.identifiers.luhn_is_valid``, which
# stays the definition (the tests compare both on random numbers).
def _luhn_chunks() -> tuple[dict[str, int], dict[str, int]]:
    doubled = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]  # digit sum of 2 x d
    middle: dict[str, int] = {}
    outer: dict[str, int] = {}
    for number in range(1000):
        a, b, c = (int(d) for d in f"{number:03d}")
        middle[f"{number:03d}"] = a + doubled[b] + c
        outer[f"{number:03d}"] = doubled[a] + b + doubled[c]
    for number in range(100):  # the two leading digits of a 14-digit SIRET
        a, b = (int(d) for d in f"{number:02d}")
        outer[f"{number:02d}"] = doubled[a] + b
    return middle, outer


_LUHN_MIDDLE, _LUHN_OUTER = _luhn_chunks()


def _luhn(digits: str) -> bool:
    """Luhn check of 9 or 14 ASCII digits (FINESS, SIREN, SIRET; the caller checks the shape)."""
    m, o = _LUHN_MIDDLE, _LUHN_OUTER
    if len(digits) == 9:
        total = m[digits[6:]] + o[digits[3:6]] + m[digits[:3]]
    else:
        total = m[digits[11:]] + o[digits[8:11]] + m[digits[5:8]] + o[digits[2:5]] + o[digits[:2]]
    return total % 10 == 0


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _finess_error(finess: str) -> str | None:
    """:func:`finess_error`, answered without it for the common valid all-digit number.

    ``funding.identifiers`` stays the one definition (its messages, Corsican numbers…): the
    shortcut only ever says "valid", for a number that function also finds valid.
    """
    if len(finess) == 9 and _is_digits(finess) and _luhn(finess):
        return None
    return finess_error(finess)


@functools.lru_cache(maxsize=65_536)
def _ej_error(finess: str) -> str | None:
    """:func:`finess_error` for EJ numbers, which repeat across a gestionnaire's establishments."""
    return _finess_error(finess)


def _siret_is_valid(siret: str) -> bool:
    """:func:`is_valid_siret`, with the same shortcut as :func:`_finess_error`."""
    if len(siret) == 14 and _is_digits(siret) and _luhn(siret):
        return True
    return is_valid_siret(siret)


def _siren_of(siret: str) -> str:
    """The SIREN of a valid SIRET when it is itself valid, else "" (domain.md §7)."""
    siren = siret[:9]
    if _luhn(siren) or is_valid_siren(siren):  # a valid SIRET is 14 ASCII digits
        return siren
    return ""


def _line_digest(raw: bytes) -> str:
    """Hash of a raw line without its end: what a re-import compares (not a security use).

    BLAKE2b cut to 96 bits, 24 hex digits: as fast as MD5 here, and short enough for the
    whole stored digest (line, epoch, EJ, geolocation line) to fit ``finess_digest``.
    """
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


class ExtractParser:
    """Iterate over the typed records of an extract given as a binary stream.

    ``departments`` are the known INSEE codes (etalab overseas codes are mapped first). The
    attributes ``encoding``, ``extract_date``, ``bytes_read`` and ``accepted`` (the FINESS ET
    accepted so far) are filled as the stream is read.
    """

    def __init__(self, stream: IO[bytes], *, departments: Collection[str]) -> None:
        self.stream = stream
        self.departments = departments
        # FINESS ET → line of its accepted structureet line, negated once the establishment has
        # been geolocated: one entry per establishment is all the memory that grows with the
        # file (about 13 Mo per 100 000 establishments), and it is what rejects duplicates.
        self.accepted: dict[str, int] = {}
        self.bytes_read = 0
        self.lines_read = 0
        self.extract_date = ""
        # Lines of a known type (structureet, geolocalisation), accepted or rejected.
        self.known_lines = 0
        # "LF" (LF or CRLF, the etalab files) or "CR" (lone CR: read with universal newlines).
        self.line_ends = "LF"
        self._lines: Iterator[bytes] = iter(())
        self._latin1_lines = 0
        self._utf8_lines = 0
        # Set by the PostgreSQL path: hash of a stored line → its FINESS ET. Digests are
        # then computed for every line, and a line found here is a Skipped record (checked once
        # already, structure unchanged since); None: no digests, every line is checked.
        self.unchanged: Mapping[str, str] | None = None
        # Likewise for the geolocation line each of those structures took its coordinates from.
        self.unchanged_geolocations: Mapping[str, str] = {}
        self._skipped: set[str] = set()  # FINESS ET of the Skipped lines
        self._digest = ""

    @property
    def encoding(self) -> str:
        """``utf-8``, ``latin-1`` or ``mixte`` depending on what the lines needed."""
        if self._latin1_lines and self._utf8_lines:
            return "mixte (UTF-8 et Latin-1)"
        return "latin-1" if self._latin1_lines else "utf-8"

    def read_marker(self) -> None:
        """Check the first line (``finess;etalab;<n>;<date>``) or raise NotAFinessExtract.

        It also tells the line ends: a lone CR before the first LF means a file with CR line
        ends, then read with universal newlines (a lone CR inside a field of an LF file stays
        part of its field, as in the etalab files).
        """
        head = self.stream.readline(MAX_MARKER_BYTES)
        cr = head.find(b"\r")
        if cr != -1 and head[cr + 1 : cr + 2] != b"\n":
            self.line_ends = "CR"
            self._lines = _universal_lines(head, self.stream)
            raw = next(self._lines, b"")
        else:
            if len(head) >= MAX_MARKER_BYTES and not head.endswith(b"\n"):
                raise NotAFinessExtract(
                    "Ce fichier n'est pas un extrait FINESS etalab : sa première ligne dépasse "
                    f"{MAX_MARKER_BYTES // 1024} Ko (fichier binaire ?). Aucune donnée n'a été "
                    "enregistrée."
                )
            raw = head
            self._lines = iter(self.stream.readline, b"")
        self.bytes_read += len(raw)
        text, _ = _decode(raw.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n"))
        try:
            fields = _split(text)
        except csv.Error:
            fields = []
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
        date = fields[3].strip() if len(fields) > 3 else ""
        try:
            self.extract_date = _extract_date(date) if date else ""
        except ValueError:
            shown = date[:40] if date.isprintable() else repr(date[:40])
            raise NotAFinessExtract(
                f"La date de l'extrait FINESS (4e champ de la première ligne) « {shown} » n'est "
                "pas une date (attendu : AAAA-MM-JJ) : fichier illisible. Aucune donnée n'a été "
                "enregistrée."
            ) from None

    def __iter__(self) -> Iterator[Record]:
        """Records of the data lines; call :meth:`read_marker` first."""
        number = 1
        # readline rather than iteration (LF files): Django's File splits lines on a lone "\r"
        # too.
        for raw in self._lines:
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
            if b"\x00" in stripped:  # PostgreSQL cannot store it: it would fail the whole COPY
                kind, reject = _nul_reject(number, text)
                self.known_lines += kind in KNOWN_LINE_TYPES
                yield reject
                continue
            if self.unchanged is not None:
                self._digest = _line_digest(stripped)
                finess = self.unchanged.get(self._digest)
                # A second identical line is a duplicate: the checks below say so.
                if finess is not None and finess not in self.accepted:
                    self.known_lines += 1
                    self.accepted[finess] = number
                    self._skipped.add(finess)
                    yield Skipped(number, finess)
                    continue
                # Only after its skipped establishment and before any other accepted
                # geolocation of it: else the checks below decide (warning, duplicate…).
                finess = self.unchanged_geolocations.get(self._digest)
                if finess in self._skipped and self.accepted[finess] > 0:
                    self.known_lines += 1
                    self.accepted[finess] = -self.accepted[finess]
                    yield SkippedGeolocation(number, finess)
                    continue
            try:
                fields = _split(text)
            except csv.Error as error:
                yield Reject(
                    number,
                    f"ligne illisible : champ entre guillemets refusé par le lecteur CSV ({error}),"
                    " ligne ignorée",
                )
                continue
            yield from self._records(number, fields)

    def _records(self, number: int, fields: list[str]) -> Iterator[Record]:
        kind = fields[0].strip().lower() if fields else ""
        self.known_lines += kind in KNOWN_LINE_TYPES
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
        if error := _finess_error(finess):
            yield Reject(number, f"FINESS ET « {finess} » invalide : {error}")
            return
        finess_ej = fields[2].strip().upper()
        if error := _ej_error(finess_ej):
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
                f"{abs(self.accepted[finess])}) : cette occurrence est ignorée",
            )
            return
        name = _clip(fields[3], 255) or _clip(fields[4], 255)
        if not name:
            yield Reject(number, f"raison sociale absente ({finess})")
            return
        # Only a line without any warning gets a digest: a re-import then always checks the
        # others again, so their warnings are reported every time.
        digest = self._digest
        siret = fields[22].strip()
        if siret and not _siret_is_valid(siret):
            yield LineWarning(number, f"SIRET « {siret} » invalide ignoré ({finess})", "siret")
            siret, digest = "", ""
        dates: list[datetime.date | None] = []
        for index, label in ((28, "date d'ouverture"), (30, "date de mise à jour")):
            try:
                dates.append(_parse_date(fields[index]))
            except ValueError:
                yield LineWarning(
                    number, f"{label} « {fields[index].strip()} » illisible ignorée", "date"
                )
                dates.append(None)
                digest = ""
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
            siren=_siren_of(siret) if siret else "",
            opened_on=dates[0],
            updated_on=dates[1],
            digest=digest,
        )

    def _geolocation(self, number: int, fields: list[str]) -> Record:
        if len(fields) < MIN_GEOLOCATION_COLUMNS:
            return Reject(
                number,
                f"ligne de géolocalisation tronquée : {len(fields)} colonnes au lieu d'au moins "
                f"{MIN_GEOLOCATION_COLUMNS}",
            )
        finess = fields[1].strip().upper()
        first = self.accepted.get(finess)
        if first is None:
            if error := _finess_error(finess):
                return Reject(number, f"FINESS ET « {finess} » invalide : {error}")
            # An establishment this file does not list (or whose line was rejected): there is
            # nothing to attach the coordinates to in this run.
            return LineWarning(
                number,
                f"géolocalisation de {finess} ignorée : établissement absent de l'extrait ou "
                "rejeté",
                "geolocation",
            )
        if first < 0:
            # Like establishments, the first occurrence wins: a later one would make a re-import
            # of the same file update the row back and forth.
            return Reject(number, f"géolocalisation de {finess} en double dans le fichier")
        try:
            x, y = (Decimal(fields[i].strip()).quantize(TWO_PLACES) for i in (2, 3))
        except InvalidOperation:
            return Reject(number, f"coordonnées illisibles « {fields[2]} ; {fields[3]} »")
        if not all(c.is_finite() and abs(c) < MAX_COORDINATE for c in (x, y)):
            return Reject(number, f"coordonnées hors limites « {fields[2]} ; {fields[3]} »")
        self.accepted[finess] = -first
        return Geolocation(number, finess, x, y, self._digest)


# --- Writing --------------------------------------------------------------------------------

# Structure columns the extract owns, in this order everywhere: compared on every run, written
# only for the rows where one of them differs.
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
Row = tuple[Any, ...]
# Values every backend binds as they are: skipping Field.get_db_prep_save for them saves most of
# the preparation time on 100 000 rows.
_PLAIN_TYPES = (str, int, bool, type(None))


def prep_value(field: Field[Any, Any], value: Any, connection: BaseDatabaseWrapper) -> Any:
    """``value`` as the database driver expects it for ``field``."""
    if type(value) in _PLAIN_TYPES:
        return value
    return field.get_db_prep_save(value, connection)


def new_row_defaults(
    model: type[Model], *, provided: Collection[str], now: datetime.datetime
) -> list[tuple[Field[Any, Any], Any]]:
    """The concrete columns a new row gets without ``provided`` values, with their default.

    Raw inserts list every column: a column added to the model later gets its default instead
    of breaking the import on a NOT NULL constraint. ``auto_now(_add)`` columns get ``now``.
    """
    defaults: list[tuple[Field[Any, Any], Any]] = []
    for column in model._meta.concrete_fields:
        if column.primary_key or column.attname in provided:
            continue
        stamped = getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False)
        defaults.append((column, now if stamped else column.get_default()))
    return defaults


def concrete_field(model: type[Model], name: str) -> Field[Any, Any]:
    """The column field called ``name`` (attname or name) on ``model``."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field), name  # a concrete column, not a reverse relation
    return field


def structure_values(
    record: Establishment, *, organisation_id: int | None, eligibility: Mapping[str, bool]
) -> Row:
    """The values the extract gives a structure, in the order of :data:`STRUCTURE_FIELDS`."""
    eligible = eligibility.get(record.category_code)
    return (
        organisation_id,
        record.siret,
        record.name,
        record.long_name,
        record.category_code if eligible is not None else None,
        record.category_code,
        bool(eligible),
        record.department,
        record.address,
        record.postal_line,
        record.opened_on,
        record.updated_on,
        Structure.Source.FINESS.value,
    )


def tally_category(record: Establishment, values: Row, report: ImportReport) -> None:
    """Count unknown categories and establishments that are not ESSMS."""
    if values[4] is None:
        report.unknown_categories[record.category_code] += 1
    elif not values[6]:
        report.not_essms += 1


class Writer(Protocol):
    """Writes one batch of accepted records and counts what it did in the report."""

    def write_establishments(
        self, batch: list[Establishment], *, report: ImportReport, now: datetime.datetime
    ) -> None: ...

    def write_geolocations(
        self,
        batch: list[Geolocation],
        *,
        report: ImportReport,
        started: datetime.datetime,
        now: datetime.datetime,
    ) -> None: ...


class OrmWriter:
    """Any database: read the batch's rows by FINESS, compare in Python, write the differences.

    Uses plain SQL built from the model's metadata rather than ``bulk_create``/``bulk_update``:
    measured on 100 000 lines those spent most of their time compiling expressions (``CASE WHEN``
    per row and field) and SQLite then scanned every CASE for every row (over a minute).
    """

    def __init__(self, *, eligibility: Mapping[str, bool]) -> None:
        self.eligibility = eligibility
        self.connection = connections[router.db_for_write(Structure)]

    def _insert(
        self, model: type[Model], rows: list[dict[str, Any]], now: datetime.datetime
    ) -> None:
        """Insert ``rows`` (attname → value) with one ``executemany``."""
        if not rows:
            return
        quote = self.connection.ops.quote_name
        given = [concrete_field(model, name) for name in rows[0]]
        defaults = new_row_defaults(model, provided=rows[0].keys(), now=now)
        columns = given + [field for field, _ in defaults]
        fixed = [prep_value(field, value, self.connection) for field, value in defaults]
        sql = (
            f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(f.column) for f in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        params = [
            [
                prep_value(f, value, self.connection)
                for f, value in zip(given, row.values(), strict=True)
            ]
            + fixed
            for row in rows
        ]
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def _update(
        self, model: type[Model], fields: Sequence[str], rows: Sequence[Row], chunk: int = 500
    ) -> None:
        """Write ``rows`` — (id, *values of ``fields``) — with ``UPDATE … FROM (VALUES …)``."""
        if not rows:
            return
        connection = self.connection
        quote = connection.ops.quote_name
        opts = model._meta
        columns = [opts.pk, *(concrete_field(model, name) for name in fields)]
        # PostgreSQL types a VALUES column from its first row: cast every placeholder.
        if connection.vendor == "postgresql":
            placeholders = [f"%s::{field.db_type(connection)}" for field in columns]
        else:
            placeholders = ["%s"] * len(columns)
        row_sql = f"({', '.join(placeholders)})"
        names = ", ".join(quote(field.column) for field in columns)
        table, pk = quote(opts.db_table), quote(opts.pk.column)
        assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns[1:])
        with connection.cursor() as cursor:
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                params = [
                    prep_value(field, value, connection)
                    for row in part
                    for field, value in zip(columns, row, strict=True)
                ]
                cursor.execute(
                    f"WITH v ({names}) AS (VALUES {', '.join([row_sql] * len(part))}) "  # noqa: S608
                    f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{pk} = v.{pk}",
                    params,
                )

    def _organisations(
        self, batch: list[Establishment], *, report: ImportReport, now: datetime.datetime
    ) -> dict[str, int]:
        """FINESS EJ → Organisation id, creating missing EJ with a placeholder name.

        An existing EJ only gets its blanks filled (SIREN, département) from its first
        establishment that has them: its name may have been corrected by hand, and this extract
        does not carry it.
        """
        numbers = {record.finess_ej for record in batch}
        known: dict[str, list[Any]] = {
            finess: [pk, siren, department]
            for finess, pk, siren, department in Organisation.objects.filter(
                finess__in=numbers
            ).values_list("finess", "id", "siren", "departement_id")
        }
        new: dict[str, dict[str, Any]] = {}
        changed: set[str] = set()
        for record in batch:
            if (org := new.get(record.finess_ej)) is not None:
                org["siren"] = org["siren"] or record.siren
            elif (row := known.get(record.finess_ej)) is None:
                new[record.finess_ej] = {
                    "finess": record.finess_ej,
                    "name": PLACEHOLDER_EJ_NAME.format(finess=record.finess_ej),
                    "siren": record.siren,
                    "departement_id": record.department,
                }
            elif (not row[1] and record.siren) or row[2] is None:
                row[1] = row[1] or record.siren
                row[2] = row[2] or record.department
                changed.add(record.finess_ej)
        self._insert(Organisation, list(new.values()), now)
        self._update(
            Organisation,
            ["siren", "departement_id", "updated_at"],
            [(known[n][0], known[n][1], known[n][2], now) for n in sorted(changed)],
        )
        report.organisations_created += len(new)
        report.organisations_updated += len(changed)
        ids = {number: row[0] for number, row in known.items()}
        if new:
            ids.update(
                Organisation.objects.filter(finess__in=list(new)).values_list("finess", "id")
            )
        return ids

    def write_establishments(
        self, batch: list[Establishment], *, report: ImportReport, now: datetime.datetime
    ) -> None:
        """Create the batch's new structures and update the changed ones (only those)."""
        organisation_ids = self._organisations(batch, report=report, now=now)
        existing: dict[str, Row] = {
            row[0]: row[1:]
            for row in Structure.objects.filter(finess__in=[r.finess for r in batch]).values_list(
                "finess", "id", *STRUCTURE_FIELDS
            )
        }
        to_create: list[dict[str, Any]] = []
        to_update: list[Row] = []
        for record in batch:
            values = structure_values(
                record,
                organisation_id=organisation_ids[record.finess_ej],
                eligibility=self.eligibility,
            )
            tally_category(record, values, report)
            row = existing.get(record.finess)
            if row is None:
                to_create.append(
                    {"finess": record.finess, **dict(zip(STRUCTURE_FIELDS, values, strict=True))}
                )
            elif row[1:] == values:
                report.unchanged += 1
            else:
                to_update.append((row[0], *values, now))
        self._insert(Structure, to_create, now)
        self._update(Structure, [*STRUCTURE_FIELDS, "updated_at"], to_update)
        report.created += len(to_create)
        report.updated += len(to_update)

    def write_geolocations(
        self,
        batch: list[Geolocation],
        *,
        report: ImportReport,
        started: datetime.datetime,
        now: datetime.datetime,
    ) -> None:
        """Store changed coordinates; a structure unchanged so far in this run becomes updated."""
        current: dict[str, Row] = {
            row[0]: row[1:]
            for row in Structure.objects.filter(finess__in=[g.finess for g in batch]).values_list(
                "finess", "id", "lambert_x", "lambert_y", "updated_at"
            )
        }
        to_update: list[Row] = []
        for geo in batch:
            pk, x, y, updated_at = current[geo.finess]
            if (x, y) == (geo.x, geo.y):
                continue
            if updated_at < started:
                # Counted as unchanged by its structureet line: it is an update after all.
                report.unchanged -= 1
                report.updated += 1
            to_update.append((pk, geo.x, geo.y, now))
        self._update(Structure, ["lambert_x", "lambert_y", "updated_at"], to_update)


def _eligibility_by_category() -> dict[str, bool]:
    """FINESS category code → whether it is an ESSMS (mapped to a CASF item)."""
    return {
        code: item is not None
        for code, item in FinessCategory.objects.values_list("code", "casf_item_id")
    }


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
    use_copy: bool | None = None,
) -> ImportReport:
    """Import an etalab FINESS establishment extract; return what was done.

    All or nothing: the whole import is one transaction, so an exception — the
    :class:`NotAFinessExtract` of an unreadable file, a database error — leaves the database
    as it was. ``progress`` is called after each batch with (bytes read, total bytes or 0 when
    unknown, the report so far); what it writes through the import's connection is part of that
    transaction (see ``finess_jobs`` for a progress others can see). With ``dry_run`` the
    transaction is rolled back, so the report shows exactly what a real run would do.
    ``use_copy`` picks the PostgreSQL SQL path (default: on PostgreSQL); both paths give the
    same result and the same report.
    """
    if isinstance(path_or_stream, str | Path):
        with open(path_or_stream, "rb") as stream:
            return _import_stream(stream, dry_run=dry_run, progress=progress, use_copy=use_copy)
    return _import_stream(path_or_stream, dry_run=dry_run, progress=progress, use_copy=use_copy)


def _import_stream(
    stream: IO[bytes], *, dry_run: bool, progress: ProgressCallback | None, use_copy: bool | None
) -> ImportReport:
    """:func:`finess_import` on an open binary stream."""
    total = _stream_size(stream)
    departments = set(Departement.objects.values_list("code", flat=True))
    parser = ExtractParser(stream, departments=departments)
    parser.read_marker()
    report = ImportReport(dry_run=dry_run, extract_date=parser.extract_date)
    try:
        with transaction.atomic(using=router.db_for_write(Structure)):
            _run(parser, report=report, progress=progress, total=total, use_copy=use_copy)
            if not parser.known_lines:
                # Nothing was written: the message is the point (and the rollback a formality).
                raise NotAFinessExtract(
                    f"Ce fichier ne contient aucune ligne structureet ni geolocalisation "
                    f"({_count(parser.lines_read, 'ligne lue', 'lignes lues')} après la "
                    "première) : fichier illisible ou vide. Aucune donnée n'a été enregistrée."
                )
            if dry_run:
                transaction.set_rollback(True)
            else:
                # Eligible and closed ESSMS, their départements: the dashboard's cached figures
                # (quotes and atlas) are stale once this commits.
                quotes_changed()
    finally:
        _ej_error.cache_clear()  # a long-lived worker should not keep it
    report.encoding = parser.encoding
    report.line_ends = parser.line_ends
    report.lines_read = parser.lines_read
    return report


def _run(
    parser: ExtractParser,
    *,
    report: ImportReport,
    progress: ProgressCallback | None,
    total: int,
    use_copy: bool | None,
) -> None:
    """Feed the parser's records to a writer, one batch at a time, in the caller's transaction."""
    connection = connections[router.db_for_write(Structure)]
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    if use_copy:
        from .postgres import import_postgres  # PostgreSQL-only SQL, loaded on demand

        import_postgres(
            parser, report=report, progress=progress, total=total, connection=connection
        )
        return
    writer: Writer = OrmWriter(eligibility=_eligibility_by_category())
    started = timezone.now()
    establishments: list[Establishment] = []
    geolocations: list[Geolocation] = []

    def flush() -> None:
        now = timezone.now()
        if establishments:
            writer.write_establishments(establishments, report=report, now=now)
        if geolocations:
            writer.write_geolocations(geolocations, report=report, started=started, now=now)
        establishments.clear()
        geolocations.clear()
        report.lines_read = parser.lines_read
        if progress is not None:
            progress(parser.bytes_read, total, report)

    for record in parser:
        if isinstance(record, Establishment):
            establishments.append(record)
        elif isinstance(record, Geolocation):
            report.geolocated += 1
            geolocations.append(record)
        elif isinstance(record, Reject):
            report.add_reject(record)
        elif isinstance(record, LineWarning):
            if record.kind == "siret":
                report.invalid_sirets += 1
            report.add_warning(record)
        else:  # Skipped…: only when the parser is given digests, which this writer never does
            raise AssertionError(record)
        if len(establishments) + len(geolocations) >= BATCH_SIZE:
            flush()
    flush()
