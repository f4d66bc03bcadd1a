"""Write a synthetic etalab FINESS establishment extract (domain.md §8), importable as is.

    .venv/bin/python scripts/generate_finess_extract.py --lines 100000 --out var/finess.csv

``--lines`` is the number of establishments (``structureet`` lines); about 97 % of them also get
a ``geolocalisation`` line at the end of the file, as in the real extract. The output follows the
real format: marker line, 31 positional columns plus ``numuai`` and the trailing ``;``, names
quoted with doubled quotes when they contain one, overseas départements written with the etalab
codes (9A…9J), UTF-8 or Latin-1. A few lines carry an invalid SIRET or a category the portal's
referential does not list, as real files do. The same ``--seed`` always gives the same file.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from essms_portal.identifiers import siren_with_key, siret_with_key
from grappes.demo import synthetic
from grappes.referential_data import (
    CATEGORY_BY_CODE,
    DEPARTMENT_BY_CODE,
)

ESSMS_SHARE = 0.42
UNLISTED_CATEGORY_SHARE = 0.004
INVALID_SIRET_SHARE = 0.003
MISSING_SIRET_SHARE = 0.12
QUOTED_NAME_SHARE = 0.01
GEOLOCATED_SHARE = 0.97


@dataclass(frozen=True)
class Summary:
    """What was written."""

    establishments: int
    geolocations: int
    size: int
    seconds: float


class _Numbers:
    """Per-département FINESS sequences (shared by EJ and ET, like the real numbering)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next: dict[str, int] = {}

    def take(self, department: str) -> str:
        sequence = self.next.get(department, 1_000) + self.rng.randint(1, 3)
        self.next[department] = sequence
        return synthetic.finess_number(department, sequence, self.rng)


def _weighted(weights: dict[str, int]) -> tuple[list[str], list[int]]:
    return list(weights), list(weights.values())


def generate(*, lines: int, out: Path, encoding: str, seed: int) -> Summary:
    """Write ``lines`` establishments (and their geolocations) to ``out``."""
    started = time.perf_counter()
    rng = random.Random(seed)
    numbers = _Numbers(rng)
    dept_codes, dept_weights = zip(*synthetic.department_weights(with_unregioned=True), strict=True)
    departments = rng.choices(dept_codes, weights=dept_weights, k=lines)
    essms_codes, essms_weights = _weighted(synthetic.ESSMS_CATEGORY_WEIGHTS)
    other_codes, other_weights = _weighted(synthetic.OTHER_CATEGORY_WEIGHTS)
    # EJ of each département, one entry per ET: picking from it favours the big gestionnaires.
    ej_pool: dict[str, list[tuple[str, str]]] = {}
    nic: dict[str, int] = {}
    sirens = 0
    located: list[str] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding=encoding, errors="replace", newline="") as handle:
        handle.write(f"finess;etalab;100;{datetime.date(2024, 1, 15).isoformat()}\n")
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        for department in departments:
            essms = rng.random() < ESSMS_SHARE
            if rng.random() < UNLISTED_CATEGORY_SHARE:
                category = rng.choice(synthetic.UNLISTED_CATEGORY_CODES)
            elif essms:
                category = rng.choices(essms_codes, weights=essms_weights)[0]
            else:
                category = rng.choices(other_codes, weights=other_weights)[0]
            pool = ej_pool.setdefault(department, [])
            if pool and rng.random() < (0.75 if essms else 0.1):
                ej, siren = rng.choice(pool)
            else:
                sirens += 1
                ej, siren = numbers.take(department), siren_with_key(f"{30_000_000 + sirens:08d}")
            pool.append((ej, siren))
            et = numbers.take(department)
            writer.writerow(_structure_row(rng, et, ej, siren, nic, department, category))
            if rng.random() < GEOLOCATED_SHARE:
                located.append(et)
        for et in located:
            x = rng.uniform(100_000, 1_250_000)
            y = rng.uniform(6_040_000, 7_120_000)
            handle.write(
                f"geolocalisation;{et};{x:.1f};{y:.1f};1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,"
                "LAMBERT_93;2024-01-15\n"
            )
    return Summary(lines, len(located), out.stat().st_size, time.perf_counter() - started)


def _structure_row(
    rng: random.Random,
    et: str,
    ej: str,
    siren: str,
    nic: dict[str, int],
    department: str,
    category: str,
) -> list[str]:
    """The 31 etalab columns, ``numuai`` and the empty field that makes the trailing ``;``."""
    name = synthetic.establishment_name(category, rng)
    if rng.random() < QUOTED_NAME_SHARE:
        name = f'LIEU DE VIE "{rng.choice(synthetic.PLACE_NAMES)}"'
    siret = ""
    if rng.random() >= MISSING_SIRET_SHARE:
        nic[siren] = nic.get(siren, 0) + 1
        siret = siret_with_key(f"{siren}{nic[siren]:04d}")
        if rng.random() < INVALID_SIRET_SHARE:
            siret = siret[:-1] + str((int(siret[-1]) + 1) % 10)
    etalab_department = synthetic.ETALAB_CODE_OF_DEPARTMENT.get(department, department)
    postcode = f"{department}{rng.randrange(0, 1000 if len(department) == 2 else 100):03d}"[:5]
    category_row = CATEGORY_BY_CODE.get(category)
    opened = datetime.date(1960, 1, 1) + datetime.timedelta(days=rng.randrange(23_000))
    updated = datetime.date(2015, 1, 1) + datetime.timedelta(days=rng.randrange(3_300))
    return [
        "structureet",
        et,
        ej,
        name[:38],
        name,
        "",
        rng.choice(("", "", "", "BP 12", "CS 40001")),
        str(rng.randint(1, 250)),
        rng.choice(synthetic.STREET_TYPES),
        rng.choice(synthetic.STREET_NAMES),
        rng.choice(("", "", "", "", "B", "T")),
        "",
        f"{rng.randrange(1, 900):03d}",
        etalab_department,
        DEPARTMENT_BY_CODE[department].name.upper(),
        f"{postcode.replace('A', '0').replace('B', '0')} {rng.choice(synthetic.COMMUNES)}",
        f"0{rng.randint(100_000_000, 999_999_999)}",
        "",
        category,
        category_row.label if category_row else "Catégorie non référencée",
        "4401" if category_row and category_row.casf_item else "1101",
        "Etablissements et Services" if category_row and category_row.casf_item else "Autres",
        siret,
        rng.choice(("8710A", "8720A", "8790B", "8810A", "8891A", "4773Z")),
        rng.choice(("03", "08", "09", "34", "45")),
        "",
        rng.choice(("", "1", "6")),
        "",
        opened.isoformat(),
        opened.isoformat(),
        updated.isoformat(),
        "",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=100_000, help="établissements à écrire")
    parser.add_argument("--out", type=Path, required=True, help="fichier à écrire")
    parser.add_argument("--encoding", choices=("utf-8", "latin-1"), default="utf-8")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    summary = generate(lines=args.lines, out=args.out, encoding=args.encoding, seed=args.seed)
    print(
        f"{args.out} : {summary.establishments} établissements, {summary.geolocations} "
        f"géolocalisations, {summary.size / 1e6:.1f} Mo en {summary.seconds:.1f} s "
        f"({args.encoding})."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
