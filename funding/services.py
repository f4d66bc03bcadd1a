"""Maps the portal's models to the plain inputs of ``funding.rules`` and back.

``funding`` never imports ``applications``: the application and campaign arrive as objects and
are read through their attributes only.

Two entry points give the same :class:`~funding.rules.QuoteResult`:

- ``quote_for(application=…)``: one dossier, built row by row (``quote_request_for``); the live
  quote of a form and every single-dossier page use it.
- ``quotes_for(applications=…)``: many dossiers at once (a campaign's dashboard, benchmarks). The
  campaign parameters and the referential are read once, and the memberships, organisations with
  their ESSMS counts, hardware requests and already-funded sets set-wise: a fixed number of
  queries whatever the number of dossiers. tests/funding/test_quotes_batch.py checks that both
  agree dossier by dossier.

A single dossier's quote takes the referential from ``quote_referential``: held in memory by
each process under a version that any change of the referential tables renews
(``funding.referential_memo``); the batch reads the tables once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, prefetch_related_objects

from funding.referential_memo import cached_referential
from funding.rules import (
    CallInput,
    CampaignParameters,
    GestionnaireInput,
    QuoteRequest,
    QuoteResult,
    Referential,
    StructureInput,
    SupportRequests,
    Tranche,
    compute_quote,
    tranches,
)
from grappes.models import (
    Departement,
    FinessCategory,
    Grappe,
    GrappeMembership,
    GrappeOrganisation,
    Organisation,
    Region,
)

# Statuses whose grants count as "already funded" for later campaigns. The single source is
# ``applications.workflow.FUNDED``; ``funding`` never imports ``applications``, so it keeps this
# mirror, which tests/applications/test_status_groups.py asserts equal to the source.
FUNDED_STATUSES = frozenset({"accepted", "notified"})


def campaign_parameters(*, campaign: Any) -> CampaignParameters:
    """The rules' parameters from a Campaign row (edited in the admin)."""
    exempt = frozenset(campaign.segur_exempt_items.values_list("code", flat=True))
    return _parameters(campaign=campaign, exempt=exempt)


def campaign_tranches(*, campaign: Any, total: int) -> tuple[Tranche, Tranche]:
    """The payment schedule of ``total`` under the campaign's rules (``rules.tranches``). The
    split reads the campaign row alone (its first-tranche percentage): the Ségur-exempt items,
    one query that only quotes need, are left unread, which keeps issuing a decision to the
    queries it needs (issue #13)."""
    return tranches(total, _parameters(campaign=campaign, exempt=frozenset()))


def _parameters(*, campaign: Any, exempt: frozenset[str]) -> CampaignParameters:
    """The rules' parameters from a Campaign row and the codes of its Ségur-exempt items."""
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


def quote_referential() -> Referential:
    """``referential_from_db()`` as the quotes use it: held in memory by the process while the
    shared version stands (``funding.referential_memo``), one cache read instead of three
    queries per quote."""
    return cached_referential(referential_from_db)


def _already_funded(*, application: Any, finess_numbers: list[str]) -> frozenset[str]:
    """FINESS numbers of the grappe funded by an accepted dossier of another campaign."""
    funded = GrappeMembership.objects.filter(
        structure__finess__in=finess_numbers,
        grappe__applications__status__in=FUNDED_STATUSES,
    ).exclude(grappe__applications__call__campaign_id=application.call.campaign_id)
    return frozenset(funded.values_list("structure__finess", flat=True))


def _structure_input(m: GrappeMembership) -> StructureInput:
    """One membership (saved or not) as the rules see it."""
    return StructureInput(
        finess=m.structure.finess,
        category=m.structure.category_code,
        department=m.structure.departement_id or "",
        gestionnaire=m.structure.organisation.finess,
        project=m.project_type,
        segur_referenced=bool(m.solution and m.solution.segur_referenced),
        eligible_share=Decimal(m.eligible_share),
        segur_hospital_referenced=bool(m.solution and m.solution.segur_hospital_referenced),
        ght=m.structure.ght,
    )


def _structure_inputs(
    *, grappe_ids: set[int], names: dict[str, str] | None = None
) -> dict[int, list[StructureInput]]:
    """The ESSMS of these grappes as the rules see them, by grappe, in the order they joined
    (one query). The nine columns the rules read, not three model instances per ESSMS: a page
    showing a dossier's quote spent a quarter of its time building them (#13). ``names``, when
    given, receives each ESSMS's name by FINESS, read in the same query (the pages name the
    quote's lines)."""
    structures: dict[int, list[StructureInput]] = defaultdict(list)
    rows = (
        GrappeMembership.objects.filter(grappe_id__in=grappe_ids)
        .values_list(
            "grappe_id",
            "structure__finess",
            "structure__category_code",
            "structure__departement_id",
            "structure__organisation__finess",
            "project_type",
            "solution__segur_referenced",
            "eligible_share",
            "solution__segur_hospital_referenced",
            "structure__ght",
            *(("structure__name",) if names is not None else ()),
        )
        .order_by("grappe_id", "id")
    )
    for (
        grappe_id,
        finess,
        category,
        department,
        gestionnaire,
        project,
        segur,
        share,
        segur_hospital,
        ght,
        *name,
    ) in rows:
        if names is not None:
            names[finess] = name[0]
        structures[grappe_id].append(
            StructureInput(
                finess=finess,
                category=category,
                department=department or "",
                gestionnaire=gestionnaire,
                project=project,
                segur_referenced=bool(segur),
                eligible_share=Decimal(share),
                segur_hospital_referenced=bool(segur_hospital),
                ght=ght,
            )
        )
    return structures


def _open_eligible_essms(path: str = "structures") -> Count:
    """The number of an organisation's open, eligible ESSMS, through the relation ``path``
    (what the rules count as a gestionnaire's ESSMS)."""
    return Count(path, filter=Q(**{f"{path}__eligible": True, f"{path}__closed": False}))


def _gestionnaire_inputs(*, grappe: Grappe) -> dict[int, GestionnaireInput]:
    """The grappe's organisations and the porteur, by pk, with their open eligible ESSMS.

    One query from the grappe's participations, the count joined to it: the porteur always
    takes part (``grappes.services.grappe_create``), and is read on its own only when a grappe
    lacks it (before, the participants and their counts were two queries, #13)."""
    rows = (
        GrappeOrganisation.objects.filter(grappe_id=grappe.pk)
        .values_list("organisation_id", "organisation__finess")
        .annotate(essms=_open_eligible_essms("organisation__structures"))
        .order_by()
    )
    inputs = {pk: GestionnaireInput(finess=finess, essms_count=count) for pk, finess, count in rows}
    if grappe.porteur_id not in inputs:
        porteur = (
            Organisation.objects.filter(pk=grappe.porteur_id)
            .annotate(essms=_open_eligible_essms())
            .values_list("pk", "finess", "essms")
        )
        inputs.update(
            (pk, GestionnaireInput(finess=finess, essms_count=count))
            for pk, finess, count in porteur
        )
    return inputs


def quote_request_for(*, application: Any, names: dict[str, str] | None = None) -> QuoteRequest:
    """Build the rules' input from an application, its grappe and its requests; ``names``, when
    given, receives the names of the grappe's ESSMS by FINESS (``_structure_inputs``)."""
    gestionnaires = tuple(_gestionnaire_inputs(grappe=application.grappe).values())
    structures = tuple(
        _structure_inputs(grappe_ids={application.grappe_id}, names=names)[application.grappe_id]
    )
    hardware = {
        finess: int(amount)
        for finess, amount in application.hardware_requests.order_by("id").values_list(
            "organisation__finess", "amount"
        )
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
    return _quote(application=application, requests=requests, names=None)


@dataclass(frozen=True)
class NamedQuote:
    """A dossier's quote and the names of its ESSMS by FINESS (the rules know FINESS numbers
    only), the names read with the ESSMS rather than in a query of their own."""

    quote: QuoteResult
    names: Mapping[str, str]


def quote_with_names_for(
    *, application: Any, requests: SupportRequests | None = None
) -> NamedQuote:
    """``quote_for``'s quote and the names of the grappe's ESSMS, for the pages that show
    the quote line by line."""
    names: dict[str, str] = {}
    quote = _quote(application=application, requests=requests, names=names)
    return NamedQuote(quote=quote, names=names)


def _quote(
    *, application: Any, requests: SupportRequests | None, names: dict[str, str] | None
) -> QuoteResult:
    request = quote_request_for(application=application, names=names)
    if requests is not None:
        request = replace(request, requests=requests)
    return compute_quote(
        request,
        parameters=campaign_parameters(campaign=application.call.campaign),
        referential=quote_referential(),
    )


def quote_for_amended_grappe(
    *,
    application: Any,
    leaving: Collection[str],
    joining: Sequence[GrappeMembership],
) -> QuoteResult:
    """The quote of the grappe as an amendment (avenant) would leave it: the ESSMS whose FINESS
    is in ``leaving`` out, the unsaved memberships ``joining`` in (after the others), under the
    campaign's parameters. Nothing is written: the grappe changes only when the amendment is
    validated (``grappes.services.grappe_memberships_amend``)."""
    request = quote_request_for(application=application)
    gone = set(leaving)
    structures = tuple(s for s in request.structures if s.finess not in gone) + tuple(
        _structure_input(m) for m in joining
    )
    request = replace(
        request,
        structures=structures,
        already_funded=_already_funded(
            application=application, finess_numbers=[s.finess for s in structures]
        ),
    )
    return compute_quote(
        request,
        parameters=campaign_parameters(campaign=application.call.campaign),
        referential=quote_referential(),
    )


# --------------------------------------------------------------------------------------------
# Batch: many dossiers in a fixed number of queries
# --------------------------------------------------------------------------------------------


def _funded_elsewhere(*, grappe_ids: set[int]) -> tuple[list[tuple[str, int]], dict[int, set[int]]]:
    """What ``_already_funded`` asks, for every ESSMS of these grappes at once (two queries).

    Returns the (FINESS, grappe) pairs of memberships whose grappe has a funded dossier, and
    the campaigns each of those grappes has a dossier in (any status). As in
    ``_already_funded``, an ESSMS counts as already funded for a dossier of campaign C when it
    belongs to a grappe with a funded dossier and no dossier at all in C.
    """
    structures = GrappeMembership.objects.filter(grappe_id__in=grappe_ids).values("structure_id")
    pairs = list(
        GrappeMembership.objects.filter(
            structure_id__in=structures, grappe__applications__status__in=FUNDED_STATUSES
        )
        .values_list("structure__finess", "grappe_id")
        .order_by()
        .distinct()
    )
    campaigns: dict[int, set[int]] = defaultdict(set)
    funded_grappes = {grappe_id for _finess, grappe_id in pairs}
    rows = (
        Grappe.objects.filter(pk__in=funded_grappes)
        .values_list("pk", "applications__call__campaign_id")
        .order_by()
    )
    for grappe_id, campaign_id in rows:
        campaigns[grappe_id].add(campaign_id)
    return pairs, campaigns


def quote_requests_for(*, applications: Iterable[Any]) -> dict[int, QuoteRequest]:
    """The rules' input of many applications (keyed by pk), in a fixed number of queries.

    Reads the same rows as ``quote_request_for``, set-wise: calls and campaigns are
    prefetched on the objects (not fetched again when the caller loaded them, e.g.
    ``select_related("call__campaign")``), then one query each for the grappes' porteurs, the
    hardware requests, the memberships, the grappes' organisations, their ESSMS counts and the
    two of the already-funded check.
    """
    applications = list(applications)
    if not applications:
        return {}
    prefetch_related_objects(applications, "call__campaign")
    grappe_ids = {a.grappe_id for a in applications}
    porteurs = dict(Grappe.objects.filter(pk__in=grappe_ids).values_list("pk", "porteur_id"))
    # The model of the hardware requests, reached through the applications' own relation
    # (``funding`` never imports ``applications``); values only, in the order of their ids.
    hardware: dict[int, dict[str, int]] = defaultdict(dict)
    hardware_rows = (
        applications[0]
        .hardware_requests.model.objects.filter(application_id__in=[a.pk for a in applications])
        .values_list("application_id", "organisation__finess", "amount")
        .order_by("id")
    )
    for application_id, organisation_finess, amount in hardware_rows:
        hardware[application_id][organisation_finess] = int(amount)

    structures = _structure_inputs(grappe_ids=grappe_ids)

    members: dict[int, set[int]] = defaultdict(set)
    for grappe_id, organisation_id in GrappeOrganisation.objects.filter(
        grappe_id__in=grappe_ids
    ).values_list("grappe_id", "organisation_id"):
        members[grappe_id].add(organisation_id)
    for grappe_id, porteur_id in porteurs.items():
        members[grappe_id].add(porteur_id)
    counts = {
        pk: GestionnaireInput(finess=finess, essms_count=essms)
        for pk, finess, essms in Organisation.objects.filter(pk__in=set().union(*members.values()))
        .annotate(essms=_open_eligible_essms())
        .values_list("pk", "finess", "essms")
    }

    funded_pairs, funded_campaigns = _funded_elsewhere(grappe_ids=grappe_ids)
    funded_in: dict[str, list[int]] = defaultdict(list)
    for finess, grappe_id in funded_pairs:
        funded_in[finess].append(grappe_id)

    requests: dict[int, QuoteRequest] = {}
    for application in applications:
        call = application.call
        lines = tuple(structures[application.grappe_id])
        campaign_id = call.campaign_id
        already_funded = frozenset(
            line.finess
            for line in lines
            if any(campaign_id not in funded_campaigns[g] for g in funded_in.get(line.finess, ()))
        )
        requests[application.pk] = QuoteRequest(
            call=CallInput(scope=call.scope, region=call.region_id, year=call.campaign.year),
            gestionnaires=tuple(counts[pk] for pk in sorted(members[application.grappe_id])),
            structures=lines,
            requests=SupportRequests(
                hardware=hardware.get(application.pk, {}),
                procurement=int(application.requested_procurement),
                steering=int(application.requested_steering),
            ),
            already_funded=already_funded,
        )
    return requests


def quotes_for(*, applications: Iterable[Any]) -> dict[int, QuoteResult]:
    """The funding quote of each application (keyed by pk), equal to ``quote_for``'s.

    A fixed number of queries whatever the number of dossiers: the referential and each
    campaign's parameters are read once, the rest by ``quote_requests_for``.
    """
    applications = list(applications)
    requests = quote_requests_for(applications=applications)
    if not requests:
        return {}
    # Read from the tables once per batch: the memo (``quote_referential``) saves queries per
    # dossier page, not in a batch that reads them once.
    referential = referential_from_db()
    # One instance per campaign (select_related gives one per row): one query for the exempt
    # items of every campaign of the batch.
    campaigns = {a.call.campaign_id: a.call.campaign for a in applications}
    prefetch_related_objects(list(campaigns.values()), "segur_exempt_items")
    parameters = {
        pk: _parameters(
            campaign=campaign,
            exempt=frozenset(item.code for item in campaign.segur_exempt_items.all()),
        )
        for pk, campaign in campaigns.items()
    }
    return {
        application.pk: compute_quote(
            requests[application.pk],
            parameters=parameters[application.call.campaign_id],
            referential=referential,
        )
        for application in applications
    }
