"""Read-side queries of the applicant's dossier pages (keyword-only, typed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from funding.rules import QuoteResult, StructureLine

from ..models import Decision


@dataclass(frozen=True)
class GrantedLine:
    """One line of a decision as the porteur reads it: what was computed, what was granted,
    and the instructeur's reason when less was granted."""

    label: str
    computed: int
    granted: int
    reason: str

    @property
    def reduced(self) -> bool:
        return self.granted < self.computed


@dataclass(frozen=True)
class DecisionSummary:
    """What the issued decision says, read from its frozen snapshot (the letter's source): the
    amounts granted per ESSMS and per support, the total, the tranches, or the refusal's
    motivation. Never the dossier's live quote, which may differ from what was decided."""

    accepted: bool
    lines: tuple[GrantedLine, ...]
    supports: tuple[GrantedLine, ...]
    total: int
    tranches: tuple[tuple[str, int], ...]
    motivation: str

    @property
    def computed_total(self) -> int:
        return sum(line.computed for line in (*self.lines, *self.supports))


def _granted(row: dict[str, Any], label: str) -> GrantedLine:
    amount = int(row.get("amount", 0))
    # Snapshots of the first format have no computed amount: the granted one stands for it.
    return GrantedLine(
        label=label,
        computed=int(row.get("computed", amount)),
        granted=amount,
        reason=str(row.get("reason", "")),
    )


def decision_summary(*, decision: Decision) -> DecisionSummary:
    """The decision's amounts and reasons from its snapshot (no query)."""
    snapshot = decision.snapshot
    return DecisionSummary(
        accepted=decision.outcome == Decision.Outcome.ACCEPTED,
        lines=tuple(
            _granted(line, f"{line.get('name', '')} ({line.get('finess', '')})")
            for line in snapshot.get("lines", [])
        ),
        supports=tuple(_granted(s, str(s.get("label", ""))) for s in snapshot.get("supports", [])),
        total=int(snapshot.get("total", 0)),
        tranches=tuple((str(t["label"]), int(t["amount"])) for t in snapshot.get("tranches", [])),
        motivation=str(snapshot.get("motivation", "")),
    )


@dataclass(frozen=True)
class QuoteRow:
    """A line of the quote table with the ESSMS's name (the quote only knows FINESS numbers)."""

    line: StructureLine
    name: str

    @property
    def share_percent(self) -> str:
        """The eligible share in percent, as ``{% widthratio share 1 100 %}`` wrote it (same
        float arithmetic and rounding) without the tag's three lookups per row (#13)."""
        return str(round((float(self.line.eligible_share) / 1.0) * 100))


def quote_rows(*, quote: QuoteResult, names: Mapping[str, str]) -> list[QuoteRow]:
    """The quote's ESSMS lines with their names (``names``: FINESS → name)."""
    return [QuoteRow(line=line, name=names.get(line.finess, "")) for line in quote.structures]
