"""The funding engine: pure rules, data in, a quote out.

No Django, no ORM, no settings, no clock: frozen dataclasses in, a frozen :class:`QuoteResult`
out. Every figure is a :class:`CampaignParameters` field whose default comes from domain.md §4
(sources in docs/funding-rules.md); a later instruction changes data, not code.

Amounts are whole euros (``int``), computed from ``Decimal`` and rounded down; never floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from essms_portal.identifiers import finess_error

ACQUISITION = "acquisition"
UPGRADE = "upgrade"
REGIONAL = "regional"
NATIONAL = "national"


@dataclass(frozen=True)
class CampaignParameters:
    """Every figure and threshold of the rules, with the 2023 campaign's defaults."""

    acquisition_amount: int = 25_000
    upgrade_amount: int = 10_000
    hardware_cap: int = 20_000
    small_gestionnaire_max_essms: int = 14
    procurement_cap: int = 15_000
    steering_cap: int = 100_000
    regional_min_essms: int = 15
    regional_max_essms: int = 49
    reduced_min_essms: int = 8
    national_min_essms: int = 50
    segur_required_from_year: int = 2023
    segur_exempt_items: frozenset[str] = frozenset({"8°", "14°", "15°"})
    first_tranche_percent: int = 50


@dataclass(frozen=True)
class Referential:
    """What the rules need to know of the referential, as plain mappings."""

    departments: Mapping[str, str | None]  # INSEE département -> region code (None: no ARS)
    categories: Mapping[str, str | None]  # FINESS category -> CASF item (None: not an ESSMS)
    reduced_minimum_regions: frozenset[str]  # Corse and overseas regions


@dataclass(frozen=True)
class CallInput:
    """The call a grappe answers: its scope, region (regional calls) and campaign year."""

    scope: str
    region: str | None
    year: int


@dataclass(frozen=True)
class GestionnaireInput:
    """A gestionnaire of the grappe and the number of ESSMS it runs in total."""

    finess: str
    essms_count: int


@dataclass(frozen=True)
class StructureInput:
    """One ESSMS of the grappe and its project."""

    finess: str
    category: str
    department: str
    gestionnaire: str
    project: str
    segur_referenced: bool = False
    eligible_share: Decimal = Decimal(1)


@dataclass(frozen=True)
class SupportRequests:
    """Supports requested: hardware per gestionnaire (FINESS -> euros), procurement, steering."""

    hardware: Mapping[str, int] = field(default_factory=dict)
    procurement: int = 0
    steering: int = 0


@dataclass(frozen=True)
class QuoteRequest:
    """Everything a quote is computed from."""

    call: CallInput
    gestionnaires: tuple[GestionnaireInput, ...]
    structures: tuple[StructureInput, ...]
    requests: SupportRequests = field(default_factory=SupportRequests)
    already_funded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Issue:
    """An error (blocking) or a warning, with a French message and the FINESS concerned."""

    code: str
    message: str
    finess: str | None = None


@dataclass(frozen=True)
class StructureLine:
    """The amount computed for one ESSMS."""

    finess: str
    gestionnaire: str
    project: str
    category: str
    casf_item: str | None
    region: str | None
    eligible_share: Decimal
    base_amount: int
    amount: int
    eligible: bool


@dataclass(frozen=True)
class Supports:
    """Supports granted, after caps."""

    hardware: int
    procurement: int
    steering: int
    hardware_by_gestionnaire: Mapping[str, int]


@dataclass(frozen=True)
class Tranche:
    """One payment of the grant."""

    label: str
    amount: int


@dataclass(frozen=True)
class QuoteResult:
    """The quote: lines, supports, errors and warnings, total and tranches."""

    eligible: bool
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]
    structures: tuple[StructureLine, ...]
    supports: Supports
    total: int
    tranches: tuple[Tranche, Tranche]
    grappe_region: str | None
    essms_count: int


def euros(amount: int) -> str:
    """French display of whole euros, e.g. ``25 000 €``."""
    return f"{amount:,}".replace(",", " ") + " €"


def floor_euros(value: Decimal) -> int:
    """Round a Decimal amount down to the whole euro."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def base_amount(project: str, parameters: CampaignParameters) -> int:
    """The forfait of a project type (0 for an unknown project)."""
    return {
        ACQUISITION: parameters.acquisition_amount,
        UPGRADE: parameters.upgrade_amount,
    }.get(project, 0)


def structure_issues(
    structure: StructureInput,
    *,
    request: QuoteRequest,
    parameters: CampaignParameters,
    referential: Referential,
    seen: set[str],
) -> list[Issue]:
    """Blocking errors of one ESSMS line (one per failed rule)."""
    finess = structure.finess
    errors: list[Issue] = []
    message = finess_error(finess)
    if message:
        errors.append(Issue("FINESS_INVALID", message, finess))
    if finess in seen:
        errors.append(
            Issue(
                "DUPLICATE_STRUCTURE",
                "Cet établissement figure plusieurs fois dans la grappe : il n'est compté"
                " qu'une fois.",
                finess,
            )
        )
    item = referential.categories.get(structure.category)
    if item is None:
        errors.append(
            Issue(
                "CATEGORY_NOT_ELIGIBLE",
                f"La catégorie FINESS {structure.category} ne relève pas de l'article L312-1"
                " du CASF : cet établissement n'est pas éligible.",
                finess,
            )
        )
    if structure.department not in referential.departments:
        errors.append(
            Issue(
                "UNKNOWN_DEPARTMENT",
                f"Le département « {structure.department} » est inconnu.",
                finess,
            )
        )
    known = {g.finess for g in request.gestionnaires}
    if structure.gestionnaire not in known:
        errors.append(
            Issue(
                "UNKNOWN_GESTIONNAIRE",
                f"Le gestionnaire {structure.gestionnaire} de cet établissement ne fait pas"
                " partie des gestionnaires de la grappe.",
                finess,
            )
        )
    if finess in request.already_funded:
        errors.append(
            Issue(
                "ALREADY_FUNDED",
                "Cet établissement a déjà été financé pour un DUI : il ne peut pas l'être deux"
                " fois.",
                finess,
            )
        )
    if (
        request.call.year >= parameters.segur_required_from_year
        and not structure.segur_referenced
        and item not in parameters.segur_exempt_items
    ):
        errors.append(
            Issue(
                "SEGUR_REQUIRED",
                f"Depuis {parameters.segur_required_from_year}, la solution DUI doit être"
                " référencée Ségur pour cet établissement.",
                finess,
            )
        )
    if structure.project not in (ACQUISITION, UPGRADE):
        errors.append(
            Issue(
                "INVALID_PROJECT",
                "Le type de projet doit être « acquisition » ou « mise en conformité » (upgrade).",
                finess,
            )
        )
    if not Decimal(0) < structure.eligible_share <= Decimal(1):
        errors.append(
            Issue(
                "INVALID_SHARE",
                "La part éligible doit être comprise entre 0 (exclu) et 1 (100 %).",
                finess,
            )
        )
    return errors


def structure_lines(
    request: QuoteRequest, *, parameters: CampaignParameters, referential: Referential
) -> tuple[list[StructureLine], list[Issue]]:
    """Per-ESSMS amounts: forfait times eligible share, rounded down; 0 for a line in error."""
    lines: list[StructureLine] = []
    errors: list[Issue] = []
    seen: set[str] = set()
    for structure in request.structures:
        issues = structure_issues(
            structure, request=request, parameters=parameters, referential=referential, seen=seen
        )
        seen.add(structure.finess)
        base = base_amount(structure.project, parameters)
        share = structure.eligible_share
        amount = 0 if issues else floor_euros(Decimal(base) * share)
        lines.append(
            StructureLine(
                finess=structure.finess,
                gestionnaire=structure.gestionnaire,
                project=structure.project,
                category=structure.category,
                casf_item=referential.categories.get(structure.category),
                region=referential.departments.get(structure.department),
                eligible_share=share,
                base_amount=base,
                amount=amount,
                eligible=not issues,
            )
        )
        errors.extend(issues)
    return lines, errors


def capped(
    requested: int, cap: int, *, label: str, finess: str | None
) -> tuple[int, list[Issue], list[Issue]]:
    """Grant a request up to its cap: (granted, errors, warnings)."""
    if requested < 0:
        message = f"Le montant demandé pour {label} ne peut pas être négatif."
        return 0, [Issue("NEGATIVE_REQUEST", message, finess)], []
    if requested > cap:
        message = (
            f"Le montant demandé pour {label} ({euros(requested)}) dépasse le plafond de"
            f" {euros(cap)} : {euros(cap)} retenus."
        )
        return cap, [], [Issue("CAPPED", message, finess)]
    return requested, [], []


def hardware_support(
    request: QuoteRequest, *, parameters: CampaignParameters
) -> tuple[dict[str, int], list[Issue], list[Issue]]:
    """Hardware: up to the cap per small gestionnaire of the grappe; 0 for a large one."""
    counts = {g.finess: g.essms_count for g in request.gestionnaires}
    granted: dict[str, int] = {}
    errors: list[Issue] = []
    warnings: list[Issue] = []
    for finess, requested in request.requests.hardware.items():
        if finess not in counts:
            errors.append(
                Issue(
                    "UNKNOWN_GESTIONNAIRE",
                    f"Le gestionnaire {finess} ne fait pas partie des gestionnaires de la"
                    " grappe : l'accompagnement matériel ne peut pas lui être attribué.",
                    finess,
                )
            )
            granted[finess] = 0
            continue
        if requested >= 0 and counts[finess] > parameters.small_gestionnaire_max_essms:
            warnings.append(
                Issue(
                    "HARDWARE_NOT_ELIGIBLE",
                    f"L'accompagnement matériel est réservé aux gestionnaires de moins de"
                    f" {parameters.small_gestionnaire_max_essms + 1} ESSMS ; ce gestionnaire en"
                    f" gère {counts[finess]} : 0 € retenu.",
                    finess,
                )
            )
            granted[finess] = 0
            continue
        amount, errs, warns = capped(
            requested, parameters.hardware_cap, label="l'accompagnement matériel", finess=finess
        )
        granted[finess] = amount
        errors.extend(errs)
        warnings.extend(warns)
    return granted, errors, warnings


def grappe_region(lines: list[StructureLine]) -> str | None:
    """The region holding most distinct ESSMS; a tie goes to the region seen first in the list."""
    counts: dict[str, int] = {}
    seen: set[str] = set()
    for line in lines:
        if line.finess in seen or line.region is None:
            continue
        seen.add(line.finess)
        counts[line.region] = counts.get(line.region, 0) + 1
    if not counts:
        return None
    # dicts keep insertion order and max() returns the first maximum: first listed wins a tie.
    return max(counts, key=lambda region: counts[region])


def size_issues(
    request: QuoteRequest,
    *,
    essms_count: int,
    region: str | None,
    parameters: CampaignParameters,
    referential: Referential,
) -> list[Issue]:
    """Grappe size for the call's scope and, for a regional call, the grappe's region."""
    if request.call.scope == NATIONAL:
        if essms_count < parameters.national_min_essms:
            return [
                Issue(
                    "GRAPPE_TOO_SMALL",
                    f"L'appel national est réservé aux grappes d'au moins"
                    f" {parameters.national_min_essms} ESSMS ; la grappe en compte"
                    f" {essms_count}.",
                )
            ]
        return []
    errors: list[Issue] = []
    minimum = (
        parameters.reduced_min_essms
        if region in referential.reduced_minimum_regions
        else parameters.regional_min_essms
    )
    if essms_count < minimum:
        errors.append(
            Issue(
                "GRAPPE_TOO_SMALL",
                f"Une grappe doit compter au moins {minimum} ESSMS ; celle-ci en compte"
                f" {essms_count}.",
            )
        )
    if essms_count > parameters.regional_max_essms:
        errors.append(
            Issue(
                "GRAPPE_TOO_LARGE",
                f"Une grappe de {essms_count} ESSMS dépasse {parameters.regional_max_essms}"
                " ESSMS : elle doit répondre à l'appel national.",
            )
        )
    if region != request.call.region:
        errors.append(
            Issue(
                "WRONG_REGION",
                "La majorité des ESSMS de la grappe n'est pas dans la région de cet appel :"
                " répondez à l'appel de la région où se trouvent la plupart d'entre eux.",
            )
        )
    return errors


def tranches(total: int, parameters: CampaignParameters) -> tuple[Tranche, Tranche]:
    """First tranche at the convention's signature, the rest when usage targets are met."""
    first = total * parameters.first_tranche_percent // 100
    return (
        Tranche("Première tranche — signature de la convention", first),
        Tranche("Seconde tranche — atteinte des cibles d'usage", total - first),
    )


def compute_quote(
    request: QuoteRequest, *, parameters: CampaignParameters, referential: Referential
) -> QuoteResult:
    """Compute the funding quote of a grappe's application."""
    lines, errors = structure_lines(request, parameters=parameters, referential=referential)
    hardware, hw_errors, warnings = hardware_support(request, parameters=parameters)
    errors.extend(hw_errors)
    procurement, errs, warns = capped(
        request.requests.procurement,
        parameters.procurement_cap,
        label="la passation du marché",
        finess=None,
    )
    errors.extend(errs)
    warnings.extend(warns)
    steering, errs, warns = capped(
        request.requests.steering, parameters.steering_cap, label="le pilotage", finess=None
    )
    errors.extend(errs)
    warnings.extend(warns)
    essms_count = len({s.finess for s in request.structures})
    region = grappe_region(lines)
    errors.extend(
        size_issues(
            request,
            essms_count=essms_count,
            region=region,
            parameters=parameters,
            referential=referential,
        )
    )
    supports = Supports(
        hardware=sum(hardware.values()),
        procurement=procurement,
        steering=steering,
        hardware_by_gestionnaire=hardware,
    )
    total = sum(line.amount for line in lines) + supports.hardware + procurement + steering
    return QuoteResult(
        eligible=not errors,
        errors=tuple(errors),
        warnings=tuple(warnings),
        structures=tuple(lines),
        supports=supports,
        total=total,
        tranches=tranches(total, parameters),
        grappe_region=region,
        essms_count=essms_count,
    )
