"""The Ségur requirement said where a DUI solution is chosen (issue #14.11).

The funding rule (``funding.rules.check_segur``) refuses, from the campaign's Ségur year, an ESSMS
without a Ségur-referenced solution unless its CASF item is exempt; the quote only reports it
once the dossier is being prepared. The grappe page says it when the solution is chosen.

The year and the exempt items are the campaign's (``applications.Campaign``), which this layer
may not import: ``applications`` registers where to read them (``segur_policy_source``, in its
``AppConfig.ready``), as it registers its reactions to transitions. Without a source (or a
campaign), the referential's exemptions apply and the message names no year.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # applications' AppConfig imports this module before models are ready
    from .models import DuiSolution, Structure


@dataclass(frozen=True)
class SegurPolicy:
    """From which campaign year a referenced solution is required, and the exempt CASF items."""

    required_from_year: int
    exempt_items: frozenset[str]


_sources: list[Callable[[], SegurPolicy | None]] = []


def segur_policy_source(source: Callable[[], SegurPolicy | None]) -> None:
    """Register where the current campaign's Ségur policy is read (one source: the last)."""
    _sources[:] = [source]


def segur_policy() -> SegurPolicy | None:
    """The current campaign's Ségur policy, or None when none is known."""
    return _sources[0]() if _sources else None


def segur_warning(*, structure: Structure, solution: DuiSolution | None) -> str:
    """What choosing ``solution`` for ``structure`` means for its funding ("" when nothing)."""
    if solution is not None and solution.segur_referenced:
        return ""
    # The GHT exception (funding.rules.ght_exception_applies): the quote explains it.
    if solution is not None and structure.ght and solution.segur_hospital_referenced:
        return ""
    category = structure.category
    item = category.casf_item if category is not None else None
    if item is None:  # not eligible at all: the category check says so, not this one
        return ""
    policy = segur_policy()
    exempt = item.code in policy.exempt_items if policy is not None else item.segur_exempt
    if exempt:
        return ""
    chosen = (
        "Aucune solution DUI n'est choisie"
        if solution is None
        else f"La solution « {solution.editor} — {solution.product} » n'est pas référencée Ségur"
    )
    since = (
        f"depuis la campagne {policy.required_from_year}"
        if policy is not None
        else "quand la campagne l'exige"
    )
    return (
        f"{chosen} pour {structure.name} : {since}, un établissement n'est financé qu'avec une "
        "solution référencée Ségur (sauf AHI et protection juridique ; un établissement rattaché "
        "à un GHT peut utiliser une solution du couloir hospitalier). En l'état, il bloquera "
        "le dépôt du dossier de la grappe : choisissez une solution référencée ou retirez-le."
    )
