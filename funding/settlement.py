"""Settlement of a grant's second tranche (*financement à l'usage*): pure rules.

No ORM, no settings, no clock, no I/O: frozen dataclasses in (the grant, what was paid, the usage
targets and their exemptions, the validated measurements, the ESSMS that left, the campaign's
policy), a frozen :class:`SettlementResult` out, with a French reason for every ESSMS and for the
grappe. Amounts are whole euros (``int``); measured values and thresholds are ``Decimal``.

The rules (domain.md §5, sources and product rules in docs/funding-rules.md, « Règlement de la
seconde tranche »):

1. An ESSMS meets its targets when every target that applies to it is reached by a validated
   measurement (value ≥ threshold). A target applies to the CASF items it names (all items when it
   names none), unless an exemption lifts it (the AHI exemption of 2 September 2025: item 8°
   outside SONS is exempt from the MSSanté and DMP targets). No validated measurement: missed.
2. The grappe meets its targets when, among the funded ESSMS still in the project, the share of
   those that meet theirs reaches ``grappe_threshold_percent`` (100: every one).
3. What is due (``due``) is independent of what was paid: the first-tranche part of the grant
   still in the project (``(total - lines that left) * first_tranche_percent // 100``), plus its
   rest when the grappe meets its targets — else the rest pro rata of the ESSMS meeting theirs,
   rounded down (``pro_rata``), or nothing (``all_or_nothing``). An ESSMS that left loses its
   line; under ``recover_departed`` its share of the first tranche (its line *
   ``first_tranche_percent // 100``) comes back too, otherwise it keeps it.
4. Against what was paid (``paid``: tranches paid minus what was recovered), the difference is
   either a second tranche to pay or a recovery (*titre de recette*), never both: a recovery is
   offset against a second tranche due (product rule), so a second run after paying gives 0.

Invariants (property-tested): ``paid + second_tranche - recovery == due``; ``due ≤ total`` so the
second tranche never exceeds the rest of the grant (``total - paid``); one more ESSMS meeting its
targets never lowers ``due``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from funding.money import decimal_fr, format_euros

ALL_OR_NOTHING = "all_or_nothing"
PRO_RATA = "pro_rata"
SHORTFALL_POLICIES = (ALL_OR_NOTHING, PRO_RATA)

MET = "met"
MISSED = "missed"
DEPARTED = "departed"


class SettlementError(ValueError):
    """Inputs that break the settlement's invariants; the message is French and names the field."""


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageTarget:
    """One usage indicator and its threshold; ``casf_items`` empty: it applies to every item."""

    code: str
    label: str
    threshold: Decimal
    unit: str = ""
    casf_items: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        """A threshold is a finite, non-negative decimal."""
        if not self.threshold.is_finite() or self.threshold < 0:
            raise SettlementError(
                f"cible {self.code} : le seuil doit être un nombre positif ou nul"
            )

    def applies_to(self, casf_item: str | None) -> bool:
        """True when the target concerns an ESSMS of ``casf_item``."""
        return not self.casf_items or casf_item in self.casf_items


@dataclass(frozen=True)
class Exemption:
    """Targets lifted for some CASF items, possibly only for ESSMS whose DUI is outside SONS."""

    code: str
    label: str
    indicators: frozenset[str]
    casf_items: frozenset[str]
    outside_sons_only: bool = False

    def exempts(self, indicator: str, line: GrantLine) -> bool:
        """True when this exemption lifts ``indicator`` for ``line``'s ESSMS."""
        return (
            indicator in self.indicators
            and line.casf_item in self.casf_items
            and not (self.outside_sons_only and line.segur_referenced)
        )


@dataclass(frozen=True)
class GrantLine:
    """One funded ESSMS of the grant: its amount, its CASF item, whether its DUI is SONS."""

    finess: str
    amount: int
    casf_item: str | None = None
    segur_referenced: bool = False


@dataclass(frozen=True)
class GrantInput:
    """The grant as decided (or last amended): its total and one line per funded ESSMS.

    ``total - sum(lines)`` is the grappe's supports (hardware, procurement, steering).
    """

    total: int
    lines: tuple[GrantLine, ...]

    def __post_init__(self) -> None:
        """Amounts ≥ 0, one line per ESSMS, lines within the total."""
        if self.total < 0:
            raise SettlementError("grant.total : doit être positif ou nul")
        seen: set[str] = set()
        for index, line in enumerate(self.lines):
            if line.amount < 0:
                raise SettlementError(f"grant.lines[{index}].amount : doit être positif ou nul")
            if line.finess in seen:
                raise SettlementError(
                    f"grant.lines[{index}].finess : l'ESSMS {line.finess} figure deux fois"
                )
            seen.add(line.finess)
        if sum(line.amount for line in self.lines) > self.total:
            raise SettlementError(
                "grant.lines : la somme des lignes dépasse le montant total de la subvention"
            )


@dataclass(frozen=True)
class Payments:
    """What has been paid so far (tranches) and recovered (*titres de recette*)."""

    first_tranche: int
    second_tranche: int = 0
    recovered: int = 0

    def __post_init__(self) -> None:
        """Amounts ≥ 0; nothing recovered beyond what was paid."""
        for name in ("first_tranche", "second_tranche", "recovered"):
            if getattr(self, name) < 0:
                raise SettlementError(f"paid.{name} : doit être positif ou nul")
        if self.recovered > self.first_tranche + self.second_tranche:
            raise SettlementError("paid.recovered : dépasse ce qui a été versé")

    @property
    def net(self) -> int:
        """Tranches paid minus what was recovered."""
        return self.first_tranche + self.second_tranche - self.recovered


@dataclass(frozen=True)
class SettlementPolicy:
    """The campaign's settlement parameters (domain.md §5: product rules, configurable)."""

    shortfall: str = PRO_RATA
    grappe_threshold_percent: int = 100
    recover_departed: bool = True
    first_tranche_percent: int = 50

    def __post_init__(self) -> None:
        """A known shortfall policy and percentages in [0, 100]."""
        if self.shortfall not in SHORTFALL_POLICIES:
            raise SettlementError('policy.shortfall : doit valoir "all_or_nothing" ou "pro_rata"')
        for name in ("grappe_threshold_percent", "first_tranche_percent"):
            if not 0 <= getattr(self, name) <= 100:
                raise SettlementError(f"policy.{name} : doit être compris entre 0 et 100")


@dataclass(frozen=True)
class SettlementRequest:
    """Everything a settlement is computed from.

    ``measurements`` holds the validated values only: FINESS → indicator code → value.
    """

    grant: GrantInput
    paid: Payments
    targets: tuple[UsageTarget, ...]
    exemptions: tuple[Exemption, ...] = ()
    measurements: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    departed: frozenset[str] = frozenset()
    policy: SettlementPolicy = field(default_factory=SettlementPolicy)

    def __post_init__(self) -> None:
        """Targets named once; departed and measured ESSMS are lines of the grant."""
        codes = [target.code for target in self.targets]
        for code in codes:
            if codes.count(code) > 1:
                raise SettlementError(f"targets : l'indicateur {code} est défini deux fois")
        funded = {line.finess for line in self.grant.lines}
        for finess in sorted(self.departed - funded):
            raise SettlementError(f"departed : l'ESSMS {finess} ne figure pas dans la subvention")
        for finess, values in self.measurements.items():
            if finess not in funded:
                raise SettlementError(
                    f"measurements.{finess} : l'ESSMS ne figure pas dans la subvention"
                )
            for code, value in values.items():
                if code not in codes:
                    raise SettlementError(f"measurements.{finess}.{code} : indicateur inconnu")
                if not value.is_finite():
                    raise SettlementError(
                        f"measurements.{finess}.{code} : doit être un nombre fini"
                    )


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """Why: a code and a French sentence, for one ESSMS (``finess``) or the grappe (None)."""

    code: str
    message: str
    finess: str | None = None


@dataclass(frozen=True)
class IndicatorOutcome:
    """One target for one ESSMS: whether it applies, its validated value, whether it is met."""

    code: str
    applies: bool
    exempted_by: str | None
    value: Decimal | None
    threshold: Decimal
    met: bool


@dataclass(frozen=True)
class EssmsOutcome:
    """One ESSMS of the grant: ``met``, ``missed`` or ``departed``, with its reasons."""

    finess: str
    amount: int
    status: str
    indicators: tuple[IndicatorOutcome, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class SettlementResult:
    """What is due in total, what is paid or recovered now, and why."""

    total: int
    due: int
    paid: int
    second_tranche: int
    recovery: int
    targets_met: bool
    funded_count: int  # ESSMS still in the project
    met_count: int
    departed_count: int
    departed_share: int  # first-tranche shares of the ESSMS that left, taken back
    essms: tuple[EssmsOutcome, ...]
    reasons: tuple[Reason, ...]


# --------------------------------------------------------------------------------------------
# Per-ESSMS rules
# --------------------------------------------------------------------------------------------


def exemption_for(
    target: UsageTarget, line: GrantLine, exemptions: tuple[Exemption, ...]
) -> Exemption | None:
    """The first exemption that lifts ``target`` for ``line``'s ESSMS, if any."""
    return next((e for e in exemptions if e.exempts(target.code, line)), None)


def indicator_outcome(
    target: UsageTarget,
    line: GrantLine,
    *,
    values: Mapping[str, Decimal],
    exemptions: tuple[Exemption, ...],
) -> IndicatorOutcome:
    """One target for one ESSMS; a target that does not apply, or is exempted, counts as met."""
    concerned = target.applies_to(line.casf_item)
    # An exemption is reported only where the target would otherwise apply.
    exemption = exemption_for(target, line, exemptions) if concerned else None
    applies = concerned and exemption is None
    value = values.get(target.code)
    met = not applies or (value is not None and value >= target.threshold)
    return IndicatorOutcome(
        code=target.code,
        applies=applies,
        exempted_by=None if exemption is None else exemption.code,
        value=value,
        threshold=target.threshold,
        met=met,
    )


def indicator_reason(
    outcome: IndicatorOutcome, target: UsageTarget, line: GrantLine, exemption_label: str | None
) -> Reason:
    """The sentence telling the gestionnaire how one target went for one ESSMS."""
    unit = f" {target.unit}" if target.unit else ""
    threshold = f"{decimal_fr(target.threshold)}{unit}"
    if outcome.exempted_by is not None:
        return Reason(
            "TARGET_EXEMPTED",
            f"Cible « {target.label} » : l'établissement en est exempté ({exemption_label}).",
            line.finess,
        )
    if not outcome.applies:
        return Reason(
            "TARGET_NOT_APPLICABLE",
            f"Cible « {target.label} » : elle ne concerne pas les établissements relevant"
            f" du {line.casf_item} de l'article L312-1 du CASF."
            if line.casf_item
            else f"Cible « {target.label} » : elle ne concerne que certains établissements de"
            " l'article L312-1 du CASF, et celui-ci n'est rattaché à aucun d'eux.",
            line.finess,
        )
    if outcome.value is None:
        return Reason(
            "NO_MEASUREMENT",
            f"Cible « {target.label} » non atteinte : aucune mesure validée (seuil : {threshold}).",
            line.finess,
        )
    value = f"{decimal_fr(outcome.value)}{unit}"
    if outcome.met:
        return Reason(
            "TARGET_MET",
            f"Cible « {target.label} » atteinte (mesure validée : {value} ; seuil : {threshold}).",
            line.finess,
        )
    return Reason(
        "TARGET_MISSED",
        f"Cible « {target.label} » non atteinte (mesure validée : {value} ; seuil : {threshold}).",
        line.finess,
    )


def essms_outcome(line: GrantLine, request: SettlementRequest) -> EssmsOutcome:
    """Whether one ESSMS of the grant left, met its targets or missed them, and why."""
    policy = request.policy
    if line.finess in request.departed:
        share = line.amount * policy.first_tranche_percent // 100
        if policy.recover_departed:
            message = (
                f"L'établissement a quitté le projet : sa ligne ({format_euros(line.amount)})"
                " n'est plus due et sa part de la première tranche"
                f" ({format_euros(share)}) est reprise : déduite de la seconde tranche, ou"
                " reversée par titre de recette."
            )
        else:
            message = (
                f"L'établissement a quitté le projet : sa ligne ({format_euros(line.amount)})"
                f" n'ouvre pas droit à la seconde tranche ; sa part de la première tranche"
                f" ({format_euros(share)}) reste acquise."
            )
        reason = Reason("ESSMS_DEPARTED", message, line.finess)
        return EssmsOutcome(line.finess, line.amount, DEPARTED, (), (reason,))
    values = request.measurements.get(line.finess, {})
    labels = {exemption.code: exemption.label for exemption in request.exemptions}
    outcomes = tuple(
        indicator_outcome(target, line, values=values, exemptions=request.exemptions)
        for target in request.targets
    )
    reasons = [
        indicator_reason(outcome, target, line, labels.get(outcome.exempted_by or ""))
        for outcome, target in zip(outcomes, request.targets, strict=True)
    ]
    met = all(outcome.met for outcome in outcomes)
    if met:
        reasons.append(
            Reason(
                "ESSMS_TARGETS_MET",
                "L'établissement atteint toutes les cibles d'usage qui le concernent.",
                line.finess,
            )
        )
    else:
        reasons.append(
            Reason(
                "ESSMS_TARGETS_MISSED",
                "L'établissement n'atteint pas toutes les cibles d'usage qui le concernent.",
                line.finess,
            )
        )
    return EssmsOutcome(line.finess, line.amount, MET if met else MISSED, outcomes, tuple(reasons))


# --------------------------------------------------------------------------------------------
# The grappe
# --------------------------------------------------------------------------------------------


def grappe_meets_targets(met: int, funded: int, policy: SettlementPolicy) -> bool:
    """At least one funded ESSMS left, and the share meeting its targets reaches the threshold.

    Compared in integers (``100 * met >= threshold * funded``): no rounding, no float.
    """
    return funded > 0 and 100 * met >= policy.grappe_threshold_percent * funded


def second_part_due(rest: int, *, met: int, funded: int, policy: SettlementPolicy) -> int:
    """The part of the rest due: all of it, pro rata of the ESSMS meeting targets, or nothing."""
    if grappe_meets_targets(met, funded, policy):
        return rest
    if policy.shortfall == PRO_RATA and funded > 0:
        return rest * met // funded  # rounded down to the euro
    return 0


def grappe_reason(
    *, met: int, funded: int, rest: int, second: int, policy: SettlementPolicy
) -> Reason:
    """The sentence explaining the second tranche's part due for the grappe."""
    if funded == 0:
        return Reason(
            "NO_ESSMS_LEFT",
            "Aucun établissement financé ne reste dans le projet : la seconde tranche n'est"
            " pas due.",
        )
    counted = f"{met} établissement{'s' if met > 1 else ''} sur {funded}"
    if grappe_meets_targets(met, funded, policy):
        return Reason(
            "GRAPPE_TARGETS_MET",
            f"Les cibles d'usage sont atteintes ({counted} ; seuil de la campagne :"
            f" {policy.grappe_threshold_percent} %) : la seconde tranche est due en totalité"
            f" ({format_euros(rest)}).",
        )
    if policy.shortfall == PRO_RATA:
        return Reason(
            "GRAPPE_TARGETS_PRO_RATA",
            f"Les cibles d'usage ne sont pas atteintes ({counted} ; seuil de la campagne :"
            f" {policy.grappe_threshold_percent} %) : la seconde tranche est réduite au prorata"
            f" des établissements qui les atteignent, soit {format_euros(second)} sur"
            f" {format_euros(rest)}.",
        )
    return Reason(
        "GRAPPE_TARGETS_MISSED",
        f"Les cibles d'usage ne sont pas atteintes ({counted} ; seuil de la campagne :"
        f" {policy.grappe_threshold_percent} %) : la campagne ne verse pas de seconde tranche"
        f" partielle, aucun montant n'est dû sur les {format_euros(rest)} restants.",
    )


def balance_reason(*, due: int, paid: int, second: int, recovery: int, taken_back: int) -> Reason:
    """The sentence setting what is due against what was paid.

    ``taken_back`` (the first-tranche shares of the ESSMS that left) is already out of ``due``;
    the sentence says so, since it is what turns a second tranche into a smaller one or into a
    recovery.
    """
    balance = f"Il a été versé {format_euros(paid)} pour {format_euros(due)} dus"
    if recovery:
        note = (
            f" Il tient compte de la reprise de {format_euros(taken_back)} de première tranche"
            " versés pour les établissements sortis du projet."
            if taken_back
            else ""
        )
        return Reason(
            "RECOVERY",
            f"{balance} : un titre de recette de {format_euros(recovery)} est à émettre.{note}",
        )
    if second:
        note = (
            f" La part de première tranche des établissements sortis du projet"
            f" ({format_euros(taken_back)}) en est déduite."
            if taken_back
            else ""
        )
        return Reason(
            "SECOND_TRANCHE",
            f"{balance} : la seconde tranche s'élève à {format_euros(second)}.{note}",
        )
    return Reason("SETTLED", f"{balance} : rien n'est à verser ni à reverser.")


def compute_settlement(request: SettlementRequest) -> SettlementResult:
    """Settle a grant after its usage deadline: what is due, and the payment or the recovery."""
    policy = request.policy
    grant = request.grant
    outcomes = tuple(essms_outcome(line, request) for line in grant.lines)
    departed_lines = [line for line in grant.lines if line.finess in request.departed]
    departed_amount = sum(line.amount for line in departed_lines)
    departed_first = sum(
        line.amount * policy.first_tranche_percent // 100 for line in departed_lines
    )
    funded = sum(1 for outcome in outcomes if outcome.status != DEPARTED)
    met = sum(1 for outcome in outcomes if outcome.status == MET)

    remaining = grant.total - departed_amount  # lines still in the project, and the supports
    first = remaining * policy.first_tranche_percent // 100
    rest = remaining - first
    second_part = second_part_due(rest, met=met, funded=funded, policy=policy)
    kept_by_departed = 0 if policy.recover_departed else departed_first
    due = first + second_part + kept_by_departed

    paid = request.paid.net
    second = max(0, due - paid)
    recovery = max(0, paid - due)
    reasons = (
        grappe_reason(met=met, funded=funded, rest=rest, second=second_part, policy=policy),
        balance_reason(
            due=due,
            paid=paid,
            second=second,
            recovery=recovery,
            taken_back=departed_first if policy.recover_departed else 0,
        ),
    )
    return SettlementResult(
        total=grant.total,
        due=due,
        paid=paid,
        second_tranche=second,
        recovery=recovery,
        targets_met=grappe_meets_targets(met, funded, policy),
        funded_count=funded,
        met_count=met,
        departed_count=len(departed_lines),
        departed_share=departed_first if policy.recover_departed else 0,
        essms=outcomes,
        reasons=reasons,
    )


# --------------------------------------------------------------------------------------------
# Defaults (domain.md §5): thresholds are product-rule values "à confirmer" until checked
# against the instruction's annex; the portal keeps them editable per campaign.
# --------------------------------------------------------------------------------------------

DUI_ACTIVE = "DUI_ACTIF"
MSSANTE = "MSSANTE"
DMP = "DMP"

DEFAULT_TARGETS: tuple[UsageTarget, ...] = (
    UsageTarget(DUI_ACTIVE, "DUI actifs", Decimal(80), "% des personnes accompagnées"),
    UsageTarget(MSSANTE, "Messages MSSanté envoyés", Decimal(10), "messages par mois"),
    UsageTarget(DMP, "Documents versés au DMP", Decimal(10), "documents par mois"),
)

AHI_2025_EXEMPTION = Exemption(
    code="AHI_2025",
    label="instruction du 2 septembre 2025 : structures AHI (8°) hors SONS",
    indicators=frozenset({MSSANTE, DMP}),
    casf_items=frozenset({"8°"}),
    outside_sons_only=True,
)

DEFAULT_EXEMPTIONS: tuple[Exemption, ...] = (AHI_2025_EXEMPTION,)
