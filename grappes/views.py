"""Referential JSON endpoints (login required, like every view of the portal)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from essms_portal.identifiers import finess_error

from .models import Structure
from .selectors import structure_lookup


def structure_payload(structure: Structure) -> dict[str, object]:
    """What the lookup API tells about an establishment."""
    category = structure.category
    departement = structure.departement
    return {
        "finess": structure.finess,
        "name": structure.name,
        "category": structure.category_code,
        "category_label": category.label if category else None,
        "casf_item": category.casf_item_id if category else None,
        "department": departement.code if departement else None,
        "region": departement.region_id if departement else None,
        "ej": structure.organisation.finess,
        "siret": structure.siret or None,
        "eligible": structure.eligible,
        "closed": structure.closed,
    }


@require_GET
def finess_lookup(request: HttpRequest, finess: str) -> JsonResponse:
    """``GET /api/finess/<finess>/``: the establishment (200), 400 malformed, 404 unknown."""
    number = finess.strip().upper()
    if error := finess_error(number):
        return JsonResponse({"error": error}, status=400)
    structure = structure_lookup(finess=number)
    if structure is None:
        return JsonResponse(
            {"error": f"Aucun établissement ne porte le numéro FINESS {number}."}, status=404
        )
    return JsonResponse(structure_payload(structure))
