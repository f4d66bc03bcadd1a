"""The funding engine: pure rules, data in, a quote out.

No ORM, no settings, no clock, no I/O: frozen dataclasses in, a frozen :class:`QuoteResult` out.
Every figure is a :class:`CampaignParameters` field whose default comes from domain.md §4
(sources in docs/funding-rules.md); a later instruction changes data, not code.

Amounts are whole euros (``int``), computed from ``Decimal`` and rounded down; never floats.
Messages are French sentences for the gestionnaire; amounts in them are written the French way
(``25 000 €`` with a narrow no-break space, by the one formatter ``funding.money.format_euros``).

It imports nothing from Django or the portal's apps: identifier checks come from the pure
``funding.identifiers`` (a contract of import-linter, see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from typing import TypeVar

from funding.identifiers import finess_error
from funding.money import decimal_fr, format_euros

ACQUISITION = "acquisition"
UPGRADE = "upgrade"
PROJECTS = (ACQUISITION, UPGRADE)
REGIONAL = "regional"
NATIONAL = "national"
SCOPES = (REGIONAL, NATIONAL)

FIRST_TRANCHE_LABEL = "Première tranche — signature de la convention"
SECOND_TRANCHE_LABEL = "Seconde tranche — atteinte des cibles d'usage"

# Enough digits for any product of a forfait by a share; with floor rounding the product is never
# rounded up, so flooring it afterwards gives the exact floor (see structure_amount).
_AMOUNT_CONTEXT = Context(prec=40, rounding=ROUND_FLOOR)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignParameters:
    """Every figure and threshold of the rules, with the defaults of domain.md §4.

    In the portal each field is a column of the ``Campaign`` row edited in the admin.
    """

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

    def __post_init__(self) -> None:
        """Refuse parameters that would break the invariants (amounts ≥ 0, tranches ≥ 0)."""
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, int) and value < 0:
                raise ValueError(f"CampaignParameters.{item.name} must be >= 0, got {value}")
        if self.first_tranche_percent > 100:
            raise ValueError("CampaignParameters.first_tranche_percent must be <= 100")


@dataclass(frozen=True)
class Referential:
    """What the rules need to know of the referential, as plain mappings."""

    departments: Mapping[str, str | None]  # INSEE département -> region code (None: no ARS)
    categories: Mapping[str, str | None]  # FINESS category -> CASF item (None: not an ESSMS)
    reduced_minimum_regions: frozenset[str]  # Corse and overseas regions
    # Optional, for messages only: region code -> name ("Île-de-France"); codes are shown when
    # a name is missing.
    region_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallInput:
    """The call a grappe answers: its scope, region (regional calls) and campaign year."""

    scope: str  # "regional" | "national"
    region: str | None
    year: int


@dataclass(frozen=True)
class GestionnaireInput:
    """A gestionnaire (FINESS EJ) of the grappe and the number of ESSMS it runs in total."""

    finess: str
    essms_count: int


@dataclass(frozen=True)
class StructureInput:
    """One ESSMS (FINESS ET) of the grappe and its project."""

    finess: str
    category: str
    department: str
    gestionnaire: str
    project: str  # "acquisition" | "upgrade"
    segur_referenced: bool = False  # Ségur corridor of social and medico-social solutions
    eligible_share: Decimal = Decimal(1)
    # The GHT exception (domain.md §5b): a solution referenced in the Ségur hospital corridor
    # counts for an ESSMS attached to a GHT (``ght``: the GHT's name, "" when none).
    segur_hospital_referenced: bool = False
    ght: str = ""


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


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """An error (blocking) or a warning: a code, a French message and the FINESS concerned."""

    code: str
    message: str
    finess: str | None = None


@dataclass(frozen=True)
class StructureLine:
    """The amount computed for one ESSMS line."""

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


@dataclass(frozen=True)
class Grant:
    """One support after its rule: the amount granted and what the gestionnaire is told."""

    amount: int
    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class StructureContext:
    """What the per-ESSMS rules read besides the structure itself."""

    call: CallInput
    parameters: CampaignParameters
    referential: Referential
    gestionnaires: frozenset[str]
    already_funded: frozenset[str]


StructureRule = Callable[[StructureInput, StructureContext], Issue | None]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def region_label(code: str, referential: Referential) -> str:
    """A region's name when the referential knows it, else its INSEE code."""
    return referential.region_names.get(code, code)


# --------------------------------------------------------------------------------------------
# Per-ESSMS rules: one function per error code, each returning the Issue or None
# --------------------------------------------------------------------------------------------


def check_finess(structure: StructureInput, context: StructureContext) -> Issue | None:
    """FINESS_INVALID: 9 characters and a correct Luhn key (2A/2B numbers on their shape)."""
    message = finess_error(structure.finess)
    if message is None:
        return None
    return Issue("FINESS_INVALID", message, structure.finess)


def duplicate_issue(structure: StructureInput) -> Issue:
    """DUPLICATE_STRUCTURE: a later occurrence of a FINESS already listed in the grappe."""
    return Issue(
        "DUPLICATE_STRUCTURE",
        f"L'établissement {structure.finess} figure plusieurs fois dans la grappe : il n'est"
        " compté et financé qu'une fois.",
        structure.finess,
    )


def check_category(structure: StructureInput, context: StructureContext) -> Issue | None:
    """CATEGORY_NOT_ELIGIBLE: the FINESS category is unknown or not under CASF L312-1, I."""
    categories = context.referential.categories
    if categories.get(structure.category) is not None:
        return None
    if structure.category in categories:
        message = (
            f"La catégorie FINESS {structure.category} ne fait pas partie des établissements et"
            " services sociaux et médico-sociaux (article L312-1 du CASF) : cet établissement"
            " n'est pas éligible."
        )
    else:
        message = (
            f"La catégorie FINESS « {structure.category} » est inconnue : seuls les"
            " établissements et services de l'article L312-1 du CASF sont éligibles."
        )
    return Issue("CATEGORY_NOT_ELIGIBLE", message, structure.finess)


def check_department(structure: StructureInput, context: StructureContext) -> Issue | None:
    """UNKNOWN_DEPARTMENT: the département is not an INSEE code of the referential."""
    if structure.department in context.referential.departments:
        return None
    return Issue(
        "UNKNOWN_DEPARTMENT",
        f"Le département « {structure.department} » est inconnu : indiquez son code INSEE"
        " (par exemple 75, 2A ou 971).",
        structure.finess,
    )


def check_gestionnaire(structure: StructureInput, context: StructureContext) -> Issue | None:
    """UNKNOWN_GESTIONNAIRE: the ESSMS names a gestionnaire that is not one of the grappe's."""
    if structure.gestionnaire in context.gestionnaires:
        return None
    return Issue(
        "UNKNOWN_GESTIONNAIRE",
        f"Le gestionnaire {structure.gestionnaire} de cet établissement ne fait pas partie des"
        " gestionnaires de la grappe.",
        structure.finess,
    )


def check_already_funded(structure: StructureInput, context: StructureContext) -> Issue | None:
    """ALREADY_FUNDED: no double funding of an ESSMS for a DUI."""
    if structure.finess not in context.already_funded:
        return None
    return Issue(
        "ALREADY_FUNDED",
        "Cet établissement a déjà reçu un financement pour un dossier usager informatisé : il ne"
        " peut pas être financé une seconde fois.",
        structure.finess,
    )


def segur_applies(structure: StructureInput, context: StructureContext) -> bool:
    """Whether the Ségur requirement asks this ESSMS for a solution of the medico-social
    corridor it does not have: from the campaign's Ségur year, unless its CASF item is exempt.

    An ESSMS whose category maps to no CASF item already fails CATEGORY_NOT_ELIGIBLE; its
    exemption cannot be known, so the requirement is not reported for it.
    """
    parameters = context.parameters
    item = context.referential.categories.get(structure.category)
    return not (
        context.call.year < parameters.segur_required_from_year
        or structure.segur_referenced
        or item is None
        or item in parameters.segur_exempt_items
    )


def ght_exception_applies(structure: StructureInput) -> bool:
    """The GHT exception (seed 000, domain.md §5b): an ESSMS attached to a GHT may use a DUI
    referenced in the Ségur hospital corridor instead of the medico-social one."""
    return bool(structure.ght) and structure.segur_hospital_referenced


def check_segur(structure: StructureInput, context: StructureContext) -> Issue | None:
    """SEGUR_REQUIRED: from the Ségur year, a referenced solution unless the item is exempt,
    or unless the GHT exception applies (then :func:`ght_exception_note` explains it)."""
    if not segur_applies(structure, context) or ght_exception_applies(structure):
        return None
    parameters = context.parameters
    return Issue(
        "SEGUR_REQUIRED",
        f"Depuis {parameters.segur_required_from_year}, la solution de dossier usager"
        " informatisé doit être référencée Ségur : choisissez une solution référencée pour cet"
        " établissement.",
        structure.finess,
    )


def check_project(structure: StructureInput, context: StructureContext) -> Issue | None:
    """INVALID_PROJECT: the project is neither an acquisition nor an upgrade."""
    if structure.project in PROJECTS:
        return None
    return Issue(
        "INVALID_PROJECT",
        f"Le type de projet « {structure.project} » n'est pas reconnu : choisissez"
        " « acquisition » (nouvelle solution) ou « upgrade » (mise en conformité).",
        structure.finess,
    )


def share_is_valid(share: Decimal) -> bool:
    """A share is a finite decimal in ]0, 1] (NaN is refused before it is compared)."""
    return share.is_finite() and Decimal(0) < share <= Decimal(1)


def check_share(structure: StructureInput, context: StructureContext) -> Issue | None:
    """INVALID_SHARE: the eligible share is not in ]0, 1]."""
    if share_is_valid(structure.eligible_share):
        return None
    return Issue(
        "INVALID_SHARE",
        f"La part éligible ({decimal_fr(structure.eligible_share)}) doit être supérieure à 0 et"
        " au plus égale à 1 (100 % des heures).",
        structure.finess,
    )


def ght_exception_note(structure: StructureInput, context: StructureContext) -> Issue | None:
    """GHT_HOSPITAL_CORRIDOR (a warning): the Ségur requirement is met through the GHT
    exception. Said, not silent, because the exception holds only if the solution meets the
    medico-social requirements, which the ARS checks."""
    if not (segur_applies(structure, context) and ght_exception_applies(structure)):
        return None
    return Issue(
        "GHT_HOSPITAL_CORRIDOR",
        "Cet établissement est rattaché au groupement hospitalier de territoire"
        f" « {structure.ght} » : sa solution, référencée Ségur dans le couloir hospitalier, est"
        " acceptée à la place d'une solution du couloir médico-social (exception GHT), à"
        " condition qu'elle réponde aux exigences médico-sociales.",
        structure.finess,
    )


# Explanations of one ESSMS line that never block (warnings), in the order they are shown.
STRUCTURE_NOTES: tuple[StructureRule, ...] = (ght_exception_note,)


# Order of the checks = order of the messages shown for one ESSMS.
STRUCTURE_RULES: tuple[StructureRule, ...] = (
    check_finess,
    check_category,
    check_department,
    check_gestionnaire,
    check_already_funded,
    check_segur,
    check_project,
    check_share,
)


def later_occurrences(structures: Iterable[StructureInput]) -> frozenset[int]:
    """Positions of the second and later occurrences of each FINESS."""
    seen: set[str] = set()
    positions: set[int] = set()
    for position, structure in enumerate(structures):
        if structure.finess in seen:
            positions.add(position)
        seen.add(structure.finess)
    return frozenset(positions)


def structure_errors(
    structure: StructureInput, *, duplicate: bool, context: StructureContext
) -> list[Issue]:
    """Blocking errors of one ESSMS line.

    A repeated FINESS only reports DUPLICATE_STRUCTURE: its first occurrence carries the other
    errors, so the gestionnaire does not read the same message twice.
    """
    if duplicate:
        return [duplicate_issue(structure)]
    found = (rule(structure, context) for rule in STRUCTURE_RULES)
    return [issue for issue in found if issue is not None]


def structure_warnings(
    structure: StructureInput, *, duplicate: bool, context: StructureContext
) -> list[Issue]:
    """Non-blocking explanations of one ESSMS line (none for a repeated FINESS: its first
    occurrence carries them)."""
    if duplicate:
        return []
    found = (note(structure, context) for note in STRUCTURE_NOTES)
    return [issue for issue in found if issue is not None]


def base_amount(project: str, parameters: CampaignParameters) -> int:
    """The forfait of a project type (0 for an unknown project, which is an error anyway)."""
    forfaits = {ACQUISITION: parameters.acquisition_amount, UPGRADE: parameters.upgrade_amount}
    return forfaits.get(project, 0)


def structure_amount(base: int, share: Decimal) -> int:
    """``floor(base * share)`` to the whole euro, exactly.

    The product is computed with floor rounding, so it is never rounded above the true value,
    and with more digits than any amount's integer part, so flooring it gives the true floor.
    """
    with localcontext(_AMOUNT_CONTEXT):
        product = Decimal(base) * share
        return int(product.to_integral_value(rounding=ROUND_FLOOR))


def structure_line(
    structure: StructureInput, *, errors: list[Issue], context: StructureContext
) -> StructureLine:
    """The line of one ESSMS: its forfait shown, its amount 0 when it has a blocking error."""
    base = base_amount(structure.project, context.parameters)
    eligible = not errors
    return StructureLine(
        finess=structure.finess,
        gestionnaire=structure.gestionnaire,
        project=structure.project,
        category=structure.category,
        casf_item=context.referential.categories.get(structure.category),
        region=context.referential.departments.get(structure.department),
        eligible_share=structure.eligible_share,
        base_amount=base,
        amount=structure_amount(base, structure.eligible_share) if eligible else 0,
        eligible=eligible,
    )


def structure_lines(
    request: QuoteRequest, *, parameters: CampaignParameters, referential: Referential
) -> tuple[list[StructureLine], list[Issue], list[Issue]]:
    """Per-ESSMS lines, their errors and their warnings, in the order of the grappe's list."""
    context = StructureContext(
        call=request.call,
        parameters=parameters,
        referential=referential,
        gestionnaires=frozenset(g.finess for g in request.gestionnaires),
        already_funded=request.already_funded,
    )
    repeated = later_occurrences(request.structures)
    lines: list[StructureLine] = []
    errors: list[Issue] = []
    warnings: list[Issue] = []
    for position, structure in enumerate(request.structures):
        duplicate = position in repeated
        issues = structure_errors(structure, duplicate=duplicate, context=context)
        lines.append(structure_line(structure, errors=issues, context=context))
        errors.extend(issues)
        warnings.extend(structure_warnings(structure, duplicate=duplicate, context=context))
    return lines, errors, warnings


# --------------------------------------------------------------------------------------------
# Supports: hardware per small gestionnaire, procurement and steering per grappe
# --------------------------------------------------------------------------------------------


def cap_request(requested: int, cap: int, *, label: str, finess: str | None) -> Grant:
    """A request granted up to its cap: negative is an error, above the cap is a warning."""
    if requested < 0:
        return Grant(
            0,
            errors=(
                Issue(
                    "NEGATIVE_REQUEST",
                    f"Le montant demandé pour {label} ({format_euros(requested)}) ne peut pas être"
                    " négatif.",
                    finess,
                ),
            ),
        )
    if requested > cap:
        return Grant(
            cap,
            warnings=(
                Issue(
                    "CAPPED",
                    f"Le montant demandé pour {label} ({format_euros(requested)}) dépasse le"
                    f" plafond de {format_euros(cap)} : {format_euros(cap)} sont retenus.",
                    finess,
                ),
            ),
        )
    return Grant(requested)


def unknown_gestionnaire_grant(finess: str) -> Grant:
    """UNKNOWN_GESTIONNAIRE: hardware requested for a gestionnaire outside the grappe."""
    return Grant(
        0,
        errors=(
            Issue(
                "UNKNOWN_GESTIONNAIRE",
                f"Le gestionnaire {finess} ne fait pas partie des gestionnaires de la grappe :"
                " l'aide à l'équipement matériel ne peut pas lui être attribuée.",
                finess,
            ),
        ),
    )


def large_gestionnaire_grant(
    finess: str, essms_count: int, parameters: CampaignParameters
) -> Grant:
    """HARDWARE_NOT_ELIGIBLE: hardware is for small gestionnaires only (a warning, 0 granted)."""
    return Grant(
        0,
        warnings=(
            Issue(
                "HARDWARE_NOT_ELIGIBLE",
                "L'aide à l'équipement matériel est réservée aux gestionnaires qui gèrent moins"
                f" de {parameters.small_gestionnaire_max_essms + 1} ESSMS au total ; ce"
                f" gestionnaire en gère {essms_count} : aucun montant n'est retenu.",
                finess,
            ),
        ),
    )


def hardware_grant(
    finess: str,
    requested: int,
    *,
    essms_counts: Mapping[str, int],
    parameters: CampaignParameters,
) -> Grant:
    """Hardware for one gestionnaire: known, non-negative, small, then capped.

    A request of 0 € is no request (domain.md §5b): a large gestionnaire asking nothing gets no
    HARDWARE_NOT_ELIGIBLE warning (the dossier form sends 0 for every gestionnaire).
    """
    if finess not in essms_counts:
        return unknown_gestionnaire_grant(finess)
    label = "l'équipement matériel"
    if requested < 0:
        return cap_request(requested, parameters.hardware_cap, label=label, finess=finess)
    if requested == 0:
        return Grant(0)
    if essms_counts[finess] > parameters.small_gestionnaire_max_essms:
        return large_gestionnaire_grant(finess, essms_counts[finess], parameters)
    return cap_request(requested, parameters.hardware_cap, label=label, finess=finess)


def hardware_grants(request: QuoteRequest, *, parameters: CampaignParameters) -> dict[str, Grant]:
    """Hardware grant of every gestionnaire the request names, in the request's order."""
    essms_counts = {g.finess: g.essms_count for g in request.gestionnaires}
    return {
        finess: hardware_grant(finess, requested, essms_counts=essms_counts, parameters=parameters)
        for finess, requested in request.requests.hardware.items()
    }


def procurement_grant(request: QuoteRequest, *, parameters: CampaignParameters) -> Grant:
    """Procurement (*passation du marché*), once per grappe, up to its cap."""
    return cap_request(
        request.requests.procurement,
        parameters.procurement_cap,
        label="la passation du marché",
        finess=None,
    )


def steering_grant(request: QuoteRequest, *, parameters: CampaignParameters) -> Grant:
    """Steering (*pilotage*, AMOA), once per grappe, up to its cap."""
    return cap_request(
        request.requests.steering,
        parameters.steering_cap,
        label="le pilotage du projet",
        finess=None,
    )


# --------------------------------------------------------------------------------------------
# Grappe size and region
# --------------------------------------------------------------------------------------------


R = TypeVar("R", bound=Hashable)


def essms_count(structures: Iterable[StructureInput]) -> int:
    """The grappe's size: distinct FINESS numbers (a repeated ESSMS counts once)."""
    return len({structure.finess for structure in structures})


def grappe_region(structures: Iterable[StructureInput], referential: Referential) -> str | None:
    """The region holding most of the grappe's distinct ESSMS (domain.md §3).

    ESSMS in a département without an ARS (region None) or an unknown département do not count.
    A tie goes to the tied region whose first ESSMS appears first in the list: in the portal that
    is the order in which ESSMS joined the grappe, so the answer is stable and explainable.
    The counting rule itself is :func:`majority_region`.
    """
    seen: set[str] = set()
    regions: list[str | None] = []
    for structure in structures:
        if structure.finess in seen:  # a repeated ESSMS counts once, where first listed
            continue
        seen.add(structure.finess)
        regions.append(referential.departments.get(structure.department))
    return majority_region(regions)


def majority_region(regions: Iterable[R | None]) -> R | None:
    """Which region a grappe belongs to, from its ESSMS' regions in the order they joined: the
    region holding most of them; a tie goes to the tied region met first. None (an ESSMS without
    a region) does not count; no region at all gives None.

    The one home of the rule: :func:`grappe_region` (the quote) and
    ``applications.selectors.calls_open_for_grappe`` (which regional call a grappe may answer)
    both ask it."""
    counts: dict[R, int] = {}
    for region in regions:
        if region is not None:
            counts[region] = counts.get(region, 0) + 1
    if not counts:
        return None
    # dicts keep first-insertion order and max() returns the first maximum it meets.
    return max(counts, key=lambda region: counts[region])


def regional_minimum(
    region: str | None, *, parameters: CampaignParameters, referential: Referential
) -> int:
    """The minimum size of a grappe in a regional call: reduced in Corse and overseas."""
    if region in referential.reduced_minimum_regions:
        return parameters.reduced_min_essms
    return parameters.regional_min_essms


def too_small_issue(count: int, minimum: int, *, where: str, hint: str = "") -> Issue:
    """GRAPPE_TOO_SMALL, worded for the call or region concerned."""
    return Issue(
        "GRAPPE_TOO_SMALL",
        f"{where} doit compter au moins {minimum} ESSMS ; celle-ci en compte {count}.{hint}",
    )


def national_size_issues(count: int, *, parameters: CampaignParameters) -> list[Issue]:
    """National call: at least ``national_min_essms`` ESSMS; no region check."""
    if count >= parameters.national_min_essms:
        return []
    return [
        too_small_issue(
            count,
            parameters.national_min_essms,
            where="Une grappe de l'appel national",
            hint=" Une grappe plus petite répond à l'appel régional de son ARS.",
        )
    ]


def regional_size_issues(
    count: int,
    region: str | None,
    *,
    parameters: CampaignParameters,
    referential: Referential,
) -> list[Issue]:
    """Regional call: between the (possibly reduced) minimum and ``regional_max_essms``."""
    minimum = regional_minimum(region, parameters=parameters, referential=referential)
    if count < minimum:
        where = "Une grappe"
        if region in referential.reduced_minimum_regions:
            where = f"Une grappe de la région {region_label(region or '', referential)}"
        return [too_small_issue(count, minimum, where=where)]
    if count > parameters.regional_max_essms:
        return [
            Issue(
                "GRAPPE_TOO_LARGE",
                f"La grappe compte {count} ESSMS : au-delà de {parameters.regional_max_essms}"
                " ESSMS, elle doit répondre à l'appel national de la CNSA et non à l'appel"
                " régional.",
            )
        ]
    return []


def region_issues(call: CallInput, region: str | None, *, referential: Referential) -> list[Issue]:
    """WRONG_REGION: a regional call is answered in the region holding most of the ESSMS."""
    if region == call.region:
        return []
    call_region = region_label(call.region or "", referential)
    if region is None:
        message = (
            "Aucun ESSMS de la grappe n'est situé dans une région couverte par une ARS : la"
            f" grappe ne peut pas répondre à l'appel de la région {call_region}."
        )
    else:
        majority = region_label(region, referential)
        message = (
            f"La plupart des ESSMS de la grappe sont dans la région {majority}, alors que cet"
            f" appel est celui de la région {call_region} : répondez à l'appel de l'ARS de la"
            f" région {majority}."
        )
    return [Issue("WRONG_REGION", message)]


def grappe_issues(
    call: CallInput,
    *,
    count: int,
    region: str | None,
    parameters: CampaignParameters,
    referential: Referential,
) -> list[Issue]:
    """Size (and, for a regional call, region) of the grappe against the call's scope."""
    if call.scope == NATIONAL:
        return national_size_issues(count, parameters=parameters)
    return [
        *regional_size_issues(count, region, parameters=parameters, referential=referential),
        *region_issues(call, region, referential=referential),
    ]


# --------------------------------------------------------------------------------------------
# Total and tranches
# --------------------------------------------------------------------------------------------


def tranches(total: int, parameters: CampaignParameters) -> tuple[Tranche, Tranche]:
    """First tranche at the convention's signature (rounded down), the rest on usage targets."""
    first = total * parameters.first_tranche_percent // 100
    return (Tranche(FIRST_TRANCHE_LABEL, first), Tranche(SECOND_TRANCHE_LABEL, total - first))


def compute_quote(
    request: QuoteRequest, *, parameters: CampaignParameters, referential: Referential
) -> QuoteResult:
    """Compute the funding quote of a grappe's application.

    Errors block (``eligible`` is False); warnings never do. Errors come in this order: ESSMS
    lines, hardware, procurement, steering, then the grappe's size and region; warnings in the
    same order (ESSMS lines, then the supports).
    """
    lines, errors, warnings = structure_lines(
        request, parameters=parameters, referential=referential
    )
    hardware = hardware_grants(request, parameters=parameters)
    procurement = procurement_grant(request, parameters=parameters)
    steering = steering_grant(request, parameters=parameters)
    grants = [*hardware.values(), procurement, steering]
    errors += [issue for grant in grants for issue in grant.errors]
    warnings += [issue for grant in grants for issue in grant.warnings]

    count = essms_count(request.structures)
    region = grappe_region(request.structures, referential)
    errors += grappe_issues(
        request.call, count=count, region=region, parameters=parameters, referential=referential
    )

    supports = Supports(
        hardware=sum(grant.amount for grant in hardware.values()),
        procurement=procurement.amount,
        steering=steering.amount,
        hardware_by_gestionnaire={finess: grant.amount for finess, grant in hardware.items()},
    )
    total = (
        sum(line.amount for line in lines)
        + supports.hardware
        + supports.procurement
        + supports.steering
    )
    return QuoteResult(
        eligible=not errors,
        errors=tuple(errors),
        warnings=tuple(warnings),
        structures=tuple(lines),
        supports=supports,
        total=total,
        tranches=tranches(total, parameters),
        grappe_region=region,
        essms_count=count,
    )
