"""Build the atlas's département outlines, ``applications/reporting/data/departements.geojson``.

Source: gregoiredavid/france-geojson (IGN Admin Express, Licence Ouverte / Etalab):
``departements-version-simplifiee.geojson`` for metropolitan France and the five overseas
départements (971-974, 976) from ``departements-avec-outre-mer.geojson``.

    python scripts/atlas_geometry.py METRO.geojson WITH_OVERSEAS.geojson

Each ring is simplified (Douglas-Peucker, ``TOLERANCE`` degrees), coordinates rounded to
``DIGITS`` decimals (about 100 m), islands smaller than ``MIN_AREA`` dropped (the largest
polygon of a département is always kept). Deterministic: same input, same file. Pure Python.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TOLERANCE = 0.012
DIGITS = 3
MIN_AREA = 0.004  # square degrees, about 40 km²
OVERSEAS = ("971", "972", "973", "974", "976")
TARGET = (
    Path(__file__).resolve().parent.parent
    / "applications"
    / "reporting"
    / "data"
    / "departements.geojson"
)

Point = tuple[float, float]


def _distance(point: Point, start: Point, end: Point) -> float:
    """Distance from ``point`` to the segment start-end (degrees, planar)."""
    (x, y), (x1, y1), (x2, y2) = point, start, end
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return float(((x - x1) ** 2 + (y - y1) ** 2) ** 0.5)
    t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
    return float(((x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2) ** 0.5)


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker, iterative (no recursion limit on long coasts)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        index, largest = 0, 0.0
        for i in range(first + 1, last):
            d = _distance(points[i], points[first], points[last])
            if d > largest:
                index, largest = i, d
        if largest > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, kept in zip(points, keep, strict=True) if kept]


def area(ring: list[Point]) -> float:
    """Absolute area of a ring (shoelace), square degrees."""
    return abs(
        sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True))
        / 2
    )


def polygons(geometry: dict) -> list[list[list[list[float]]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"])


def _points(ring: list[list[float]]) -> list[Point]:
    return [(float(x), float(y)) for x, y in ring]


def outline(geometry: dict) -> list[list[list[list[float]]]]:
    """The simplified, rounded MultiPolygon coordinates of one département."""
    shapes = sorted(polygons(geometry), key=lambda rings: -area(_points(rings[0])))
    result = []
    for position, rings in enumerate(shapes):
        if position and area(_points(rings[0])) < MIN_AREA:
            continue
        kept = []
        for ring in rings[:1]:  # outer ring only: enclaves are invisible at this scale
            simple = simplify(_points(ring), TOLERANCE)
            rounded = [[round(x, DIGITS), round(y, DIGITS)] for x, y in simple]
            deduplicated = [p for i, p in enumerate(rounded) if i == 0 or p != rounded[i - 1]]
            if len(deduplicated) >= 4:
                kept.append(deduplicated)
        if kept:
            result.append(kept)
    return result


def main(metro_path: str, overseas_path: str) -> None:
    metro = json.loads(Path(metro_path).read_text())["features"]
    overseas = [
        f
        for f in json.loads(Path(overseas_path).read_text())["features"]
        if f["properties"]["code"] in OVERSEAS
    ]
    features = [
        {
            "type": "Feature",
            "properties": {"code": f["properties"]["code"], "nom": f["properties"]["nom"]},
            "geometry": {"type": "MultiPolygon", "coordinates": outline(f["geometry"])},
        }
        for f in sorted(metro + overseas, key=lambda f: f["properties"]["code"])
    ]
    TARGET.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))
        + "\n"
    )
    print(f"{TARGET}: {len(features)} départements, {TARGET.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(*sys.argv[1:3])
