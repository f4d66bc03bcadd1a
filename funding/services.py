"""Maps the portal's models to the plain inputs of ``funding.rules`` and back.

``funding`` never imports ``applications``: the application and campaign arrive as objects and
are read through their attributes only.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q

from funding.rules import (
    CallInput,
    CampaignParameters,
    GestionnaireInput,
    QuoteRequest,
    QuoteResult,
    Referential,
    StructureInput,
    SupportRequests,
    compute_quote,
)
from grappes.models import Departement, FinessCategory, GrappeMembership, Organisation, Region

# Statuses whose grants count as "already funded" for later campaigns. The single source is
# ``applications.workflow.FUNDED``; ``funding`` never imports ``applications``, so it keeps this
# mirror, which tests/applications/test_status_groups.py asserts equal to the source.
FUNDED_STATUSES = frozenset({"accepted", "notified"})


def campaign_parameters(*, campaign: Any) -> CampaignParameters:
    """The rules' parameters from a Campaign row (edited in the admin)."""
    exempt = frozenset(campaign.segur_exempt_items.values_list("code", flat=True))
    return CampaignParameters(
        acquisition_amount=int(campaign.acquisition_amount),
        upgrade_amount=int(campaign.upgrade_amount),
        hardware_cap=int(campaign.hardware_cap),
        small_gestionnaire_max_essms=campaign.small_gestionnaire_max_essms,
        procurement_cap=int(campaign.procurement_cap),
        steering_cap=int(campaign.steering_cap),
        regional_min_essms=campaign.regional_min_essms,
        regional_max_essms=campaign.regional_max_essms,
        reduced_min_essms=campaign.reduced_min_essms,
        national_min_essms=campaign.national_min_essms,
        segur_required_from_year=campaign.segur_required_from_year,
        segur_exempt_items=exempt,
        first_tranche_percent=campaign.first_tranche_percent,
    )


def referential_from_db() -> Referential:
    """The referential tables as the rules see them (one query per table)."""
    return Referential(
        departments=dict(Departement.objects.values_list("code", "region_id")),
        categories=dict(FinessCategory.objects.values_list("code", "casf_item_id")),
        reduced_minimum_regions=frozenset(
            Region.objects.filter(reduced_grappe_minimum=True).values_list("code", flat=True)
        ),
    )


def _already_funded(*, application: Any, finess_numbers: list[str]) -> frozenset[str]:
    """FINESS numbers of the grappe funded by an accepted dossier of another campaign."""
    funded = GrappeMembership.objects.filter(
        structure__finess__in=finess_numbers,
        grappe__applications__status__in=FUNDED_STATUSES,
    ).exclude(grappe__applications__call__campaign_id=application.call.campaign_id)
    return frozenset(funded.values_list("structure__finess", flat=True))


def quote_request_for(*, application: Any) -> QuoteRequest:
    """Build the rules' input from an application, its grappe and its requests."""
    memberships = list(
        GrappeMembership.objects.filter(grappe_id=application.grappe_id)
        .select_related("structure__organisation", "structure", "solution")
        .order_by("id")
    )
    organisation_ids = set(
        application.grappe.organisations.values_list("organisation_id", flat=True)
    ) | {application.grappe.porteur_id}
    organisations = Organisation.objects.filter(pk__in=organisation_ids).annotate(
        essms=Count("structures", filter=Q(structures__eligible=True, structures__closed=False))
    )
    gestionnaires = tuple(
        GestionnaireInput(finess=o.finess, essms_count=o.essms) for o in organisations
    )
    structures = tuple(
        StructureInput(
            finess=m.structure.finess,
            category=m.structure.category_code,
            department=m.structure.departement_id or "",
            gestionnaire=m.structure.organisation.finess,
            project=m.project_type,
            segur_referenced=bool(m.solution and m.solution.segur_referenced),
            eligible_share=Decimal(m.eligible_share),
        )
        for m in memberships
    )
    hardware = {
        h.organisation.finess: int(h.amount)
        for h in application.hardware_requests.select_related("organisation")
    }
    call = application.call
    return QuoteRequest(
        call=CallInput(scope=call.scope, region=call.region_id, year=call.campaign.year),
        gestionnaires=gestionnaires,
        structures=structures,
        requests=SupportRequests(
            hardware=hardware,
            procurement=int(application.requested_procurement),
            steering=int(application.requested_steering),
        ),
        already_funded=_already_funded(
            application=application, finess_numbers=[s.finess for s in structures]
        ),
    )


def quote_for(*, application: Any, requests: SupportRequests | None = None) -> QuoteResult:
    """The funding quote of an application under its campaign's parameters.

    ``requests`` replaces the saved support requests: the live quote of a form being typed."""
    request = quote_request_for(application=application)
    if requests is not None:
        request = replace(request, requests=requests)
    return compute_quote(
        request,
        parameters=campaign_parameters(campaign=application.call.campaign),
        referential=referential_from_db(),
    )
