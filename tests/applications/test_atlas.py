"""The atlas: figures per département equal to a direct count, the CSV equal to the table, one
SVG path per département with its <title>, filters, scope, PNG export, vendored geometry."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import defaultdict
from decimal import Decimal

import pytest
from django.urls import reverse

from applications.models import Application, Campaign, ProposedAmount
from applications.reporting import atlas
from applications.workflow import FUNDED
from essms_portal.accounts.models import Role
from grappes.models import CasfCategory, Departement, FinessCategory, Organisation, Structure
from tests.applications.helpers import ars, cnsa_agent, decided_dossier, submitted_dossier
from tests.factories import OrganisationFactory, StructureFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]


@pytest.fixture
def world() -> dict[str, Application]:
    """Accepted dossiers in Île-de-France and Auvergne-Rhône-Alpes, a submitted one (not
    counted), a forfait refused (0 €: not a funded ESSMS), a funded ESSMS that moved
    to the Hauts-de-Seine, a partner's hardware line in the Bouches-du-Rhône, ESSMS of another
    sector and closed ones (denominators)."""
    paris = decided_dossier()
    lyon = decided_dossier(region="84", count=16)
    submitted_dossier()
    lines = ProposedAmount.objects.filter(application=paris, line__startswith="structure:")
    refused, moved = lines.order_by("id")[:2]
    ProposedAmount.objects.filter(pk=refused.pk).update(proposed=0, reason="Déjà équipé.")
    Structure.objects.filter(finess=moved.line.split(":")[1]).update(departement_id="92")
    partner = OrganisationFactory(departement=Departement.objects.get(code="13"))
    ProposedAmount.objects.create(
        application=lyon,
        line=f"hardware:{partner.finess}",
        label="Matériel",
        computed=Decimal(8_000),
        proposed=Decimal(8_000),
    )
    other_sector = FinessCategory.objects.exclude(casf_item__in=["6°"]).filter(
        casf_item__isnull=False
    )[0]
    StructureFactory.create_batch(3, category=other_sector)
    StructureFactory.create_batch(2, closed=True)
    return {"paris": paris, "lyon": lyon}


def direct_count(*, sector: str | None = None) -> dict[str, tuple[int, int]]:
    """(funded ESSMS, amount) per département, line by line, the slow obvious way."""
    funded: dict[str, set[str]] = defaultdict(set)
    amounts: dict[str, int] = defaultdict(int)
    for application in Application.objects.filter(status__in=FUNDED):
        for line in application.proposed_amounts.all():
            kind, _, ref = line.line.partition(":")
            if kind == "structure":
                structure = Structure.objects.get(finess=ref)
                if sector and structure.category.casf_item_id != sector:
                    continue
                if line.proposed > 0:
                    funded[structure.departement_id].add(ref)
                amounts[structure.departement_id] += int(line.proposed)
            elif sector:
                continue
            elif kind == "hardware":
                amounts[Organisation.objects.get(finess=ref).departement_id] += int(line.proposed)
            else:
                amounts[application.grappe.porteur.departement_id] += int(line.proposed)
    return {code: (len(funded[code]), amounts[code]) for code in set(funded) | set(amounts)}


def eligible_count(code: str, sector: str | None = None) -> int:
    structures = Structure.objects.filter(departement_id=code, eligible=True, closed=False)
    if sector:
        structures = structures.filter(category__casf_item_id=sector)
    return structures.count()


def check_figures_per_departement_equal_a_direct_count(world):
    board = atlas.atlas_figures(user=cnsa_agent(), campaign=Campaign.objects.get())
    expected = direct_count()
    assert {"75", "92", "69", "13"} <= set(expected)
    assert [r.code for r in board.rows] == list(
        Departement.objects.order_by("code").values_list("code", flat=True)
    )
    for row in board.rows:
        assert (row.funded_essms, row.amount) == expected.get(row.code, (0, 0)), row.code
        assert row.eligible_essms == eligible_count(row.code), row.code
    paris = next(r for r in board.rows if r.code == "75")
    assert paris.share == (Decimal(paris.funded_essms * 100) / paris.eligible_essms).quantize(
        Decimal("0.1")
    )
    # Every granted euro lands in a row: the total is the campaign's accepted amount.
    accepted = sum(
        int(p.proposed) for p in ProposedAmount.objects.filter(application__status__in=FUNDED)
    )
    assert board.totals.amount == accepted
    assert board.elsewhere is None


def check_sector_filter_counts_that_sectors_essms_and_forfaits_only(world):
    sector = CasfCategory.objects.get(code="6°")
    board = atlas.atlas_figures(user=cnsa_agent(), campaign=Campaign.objects.get(), sector=sector)
    expected = direct_count(sector="6°")
    for row in board.rows:
        assert (row.funded_essms, row.amount) == expected.get(row.code, (0, 0)), row.code
        assert row.eligible_essms == eligible_count(row.code, "6°"), row.code
    assert next(r for r in board.rows if r.code == "13").amount == 0  # hardware: no sector


def check_call_filter_and_ars_scope(world):
    campaign = Campaign.objects.get()
    lyon_call = world["lyon"].call
    board = atlas.atlas_figures(user=cnsa_agent(), campaign=campaign, call=lyon_call)
    assert {r.code for r in board.rows if r.funded_essms} == {"69"}
    assert next(r for r in board.rows if r.code == "13").amount == 8_000
    regional = atlas.atlas_figures(user=ars(Role.ARS_VALIDEUR), campaign=campaign)
    assert {r.code for r in regional.rows} == set(
        Departement.objects.filter(region_id="11").values_list("code", flat=True)
    )
    assert sum(r.funded_essms for r in regional.rows) == direct_count()["75"][0] + 1


def _table_rows(page: str) -> list[list[str]]:
    table = page[page.index("<caption>Chiffres par département") :]
    table = table[: table.index("</table>")]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]:  # after the header
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
        rows.append([html.unescape(c).strip() for c in cells])
    return rows


def check_the_csv_matches_the_table(client, world):
    client.force_login(cnsa_agent())
    query = {"secteur": "6", "appel": str(world["paris"].call_id)}
    page = client.get(reverse("decisions:dashboard"), query).content.decode()
    response = client.get(reverse("decisions:atlas_csv"), query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert lines[0] == list(atlas.CSV_HEADER)
    table = _table_rows(page)
    assert len(lines) - 1 == len(table)

    def number(cell: str) -> str:
        return re.sub(r"[\s\u202f\u00a0€%]", "", cell).replace(".", ",")

    for (code, name, funded, amount, eligible, share), cells in zip(lines[1:], table, strict=True):
        assert cells[0] == (f"{code} {name}" if code else name)
        assert [number(c) for c in cells[1:4]] == [funded, amount, eligible]
        assert number(cells[4]) == (share or "—")
    assert any(int(line[2]) for line in lines[1:-1])  # not an empty table


def check_the_svg_has_one_path_per_departement_with_its_title(client, world):
    client.force_login(cnsa_agent())
    page = client.get(reverse("decisions:dashboard")).content.decode()
    paths = re.findall(
        r'<path class="portal-atlas__dep portal-atlas__dep--(\w+)" data-code="(\w+)" d="[^"]+">'
        r"<title>([^<]+)</title></path>",
        page,
    )
    features = json.loads(atlas.GEOMETRY.read_text())["features"]
    assert len(paths) == len(features) == page.count('class="portal-atlas__dep ') == 101
    assert {code for _c, code, _t in paths} == {f["properties"]["code"] for f in features}
    titles = {code: html.unescape(title) for _c, code, title in paths}
    board = atlas.atlas_figures(user=cnsa_agent(), campaign=Campaign.objects.get())
    paris = next(r for r in board.rows if r.code == "75")
    assert titles["75"].startswith(f"Paris (75) : {paris.funded_essms} ESSMS financés")
    assert '<title id="atlas-map-title">' in page
    assert 'role="region"' in page and 'tabindex="0"' in page  # the table's scroll region


def check_ars_map_greys_departements_outside_the_region(client, world):
    client.force_login(ars(Role.ARS_INSTRUCTEUR))
    page = client.get(reverse("decisions:dashboard")).content.decode()
    outside = re.findall(r'portal-atlas__dep--out" data-code="(\w+)"', page)
    inside = set(Departement.objects.filter(region_id="11").values_list("code", flat=True))
    assert outside and not inside & set(outside)
    assert len(outside) == 101 - len(inside)


def check_unknown_filters_are_404(client, world):
    client.force_login(ars(Role.ARS_INSTRUCTEUR))
    # The Lyon call is outside an Île-de-France agent's scope.
    for query in ({"appel": str(world["lyon"].call_id)}, {"secteur": "99"}, {"secteur": "x"}):
        assert client.get(reverse("decisions:dashboard"), query).status_code == 404
        assert client.get(reverse("decisions:atlas_csv"), query).status_code == 404


def check_png_export_is_the_map_rasterised(client, world):
    client.force_login(cnsa_agent())
    response = client.get(reverse("decisions:atlas_png"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    data = response.content
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    geometry = atlas.map_geometry()
    assert width == geometry.width * 2 and height > geometry.height * 2


def test_vendored_geometry_is_small_and_inside_the_drawing():
    assert atlas.GEOMETRY.stat().st_size < 300 * 1024
    assert (atlas.GEOMETRY.parent / "LICENCE.md").exists()
    geometry = atlas.map_geometry()
    points = [p for s in geometry.shapes for polygon in s.polygons for p in polygon]
    assert all(0 <= x <= geometry.width and 0 <= y <= geometry.height for x, y in points)
    codes = {s.code for s in geometry.shapes}
    assert {"2A", "2B", "971", "972", "973", "974", "976"} <= codes
    assert [i.code for i in geometry.insets] == list(atlas.OVERSEAS)


def test_share_classes_cover_the_legend():
    assert atlas.share_class(None) == 0
    assert atlas.share_class(Decimal("9.9")) == 1
    assert atlas.share_class(Decimal(10)) == 2
    assert atlas.share_class(Decimal(100)) == 5
    assert [c for c, _label in atlas.legend()] == [0, 1, 2, 3, 4, 5]


# One world for several checks: building accepted dossiers through the workflow is slow.


def test_figures_filters_and_scope(world):
    check_figures_per_departement_equal_a_direct_count(world)
    check_sector_filter_counts_that_sectors_essms_and_forfaits_only(world)
    check_call_filter_and_ars_scope(world)


def test_page_csv_png_and_404(client, world):
    check_the_csv_matches_the_table(client, world)
    check_the_svg_has_one_path_per_departement_with_its_title(client, world)
    check_png_export_is_the_map_rasterised(client, world)
    check_ars_map_greys_departements_outside_the_region(client, world)
    check_unknown_filters_are_404(client, world)
