"""Builders of FINESS extract files, shared by the import, job, admin and fault tests."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from essms_portal.identifiers import finess_with_key

MARKER = "finess;etalab;100;2024-01-15"
ET1, ET2, ET3 = (finess_with_key(f"01000{n:03d}") for n in (1, 2, 3))
EJ1, EJ2 = (finess_with_key(f"01900{n:03d}") for n in (1, 2))


def structure_line(
    et: str,
    ej: str = EJ1,
    *,
    name: str = "EHPAD LES TILLEULS",
    long_name: str | None = None,
    department: str = "01",
    category: str = "500",
    siret: str = "",
    opened: str = "2001-02-03",
    updated: str = "2020-05-06",
) -> str:
    """One ``structureet`` line: 31 etalab columns, ``numuai`` and the trailing ``;``."""
    columns = [
        "structureet", et, ej, name, long_name if long_name is not None else name, "", "BP 12",
        "12", "R", "DE LA PAIX", "B", "LIEU-DIT LES PRES", "450", department, "AIN",
        "01440 VIRIAT", "0474000000", "", category, "Libellé", "4401", "Libellé agrégat", siret,
        "8710A", "03", "", "", "", opened, opened, updated, "",
    ]  # fmt: skip
    return ";".join(columns) + ";"


def geo_line(et: str, x: str = "869907.7", y: str = "6563546.1") -> str:
    return f"geolocalisation;{et};{x};{y};1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2024-01-15"


def write_extract(
    tmp_path: Path, lines: list[str], *, encoding: str = "utf-8", marker: str = MARKER
) -> Path:
    path = tmp_path / f"extract-{encoding}.csv"
    path.write_bytes(("\n".join([marker, *lines]) + "\n").encode(encoding))
    return path


def extract_upload(name: str = "etalab-cs1100507-stock-20240115-0336.csv") -> SimpleUploadedFile:
    numbers = [finess_with_key(f"01000{n:03d}") for n in (1, 2, 3)]
    lines = [MARKER, *(structure_line(n) for n in numbers), geo_line(numbers[0]), "structureet;1"]
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode(), content_type="text/csv")
