"""The JSON contract of ``manage.py usage_settlement``: parse and check the input, shape the output.

Same conventions as the quote's contract (``funding.quote_input``, whose leaf checks it reuses):
a wrong type, a missing required key, an unknown or repeated key, text that is not valid Unicode
is a :class:`~funding.quote_input.QuoteInputError` naming the path
(``grant.lines[2].amount : doit être un nombre entier``). Unlike the quote, a wrong *value* is an
input error too — a negative amount, an unknown policy, a measurement of an ESSMS that is not in
the grant: a settlement has no "errors" list to carry it, and computing one from such data
would give a wrong payment order.

Pure: no Django, no I/O; numbers are read as ``int`` or ``Decimal``, never ``float``.
"""

from __future__ import annotations

from decimal import Decimal

from .quote_input import (
    ROOT,
    QuoteInputError,
    _boolean,
    _integer,
    _list,
    _map,
    _object,
    _share,
    _string,
    decode_json,
)
from .settlement import (
    DEFAULT_EXEMPTIONS,
    DEFAULT_TARGETS,
    EssmsOutcome,
    Exemption,
    GrantInput,
    GrantLine,
    IndicatorOutcome,
    Payments,
    Reason,
    SettlementError,
    SettlementPolicy,
    SettlementRequest,
    SettlementResult,
    UsageTarget,
)

TOP_REQUIRED = frozenset({"grant", "paid"})
TOP_OPTIONAL = frozenset({"policy", "targets", "exemptions", "measurements", "departed"})
GRANT_REQUIRED = frozenset({"total", "lines"})
LINE_REQUIRED = frozenset({"finess", "amount"})
LINE_OPTIONAL = frozenset({"casf_item", "segur_referenced"})
PAID_REQUIRED = frozenset({"first_tranche"})
PAID_OPTIONAL = frozenset({"second_tranche", "recovered"})
POLICY_OPTIONAL = frozenset(
    {"shortfall", "grappe_threshold_percent", "recover_departed", "first_tranche_percent"}
)
TARGET_REQUIRED = frozenset({"code", "label", "threshold"})
TARGET_OPTIONAL = frozenset({"unit", "casf_items"})
EXEMPTION_REQUIRED = frozenset({"code", "label", "indicators", "casf_items"})
EXEMPTION_OPTIONAL = frozenset({"outside_sons_only"})


def _amount(value: object, path: str) -> int:
    """Whole euros, a JSON integer ≥ 0."""
    amount = _integer(value, path)
    if amount < 0:
        raise QuoteInputError(f"{path} : doit être positif ou nul (montant en euros)")
    return amount


def _decimal(value: object, path: str) -> Decimal:
    """A finite decimal ("80", "12.5" or a JSON number), never a float."""
    return _share(value, path)


def _strings(value: object, path: str) -> frozenset[str]:
    """A JSON array of strings, as a set."""
    items = _list(value, path)
    return frozenset(_string(item, f"{path}[{i}]") for i, item in enumerate(items))


def _optional_string(value: object, path: str) -> str | None:
    """A string or null."""
    return None if value is None else _string(value, path)


def _line(value: object, path: str) -> GrantLine:
    """One ESSMS of the grant."""
    data = _object(value, path, required=LINE_REQUIRED, optional=LINE_OPTIONAL)
    return GrantLine(
        finess=_string(data["finess"], f"{path}.finess"),
        amount=_amount(data["amount"], f"{path}.amount"),
        casf_item=_optional_string(data.get("casf_item"), f"{path}.casf_item"),
        segur_referenced=_boolean(data.get("segur_referenced", False), f"{path}.segur_referenced"),
    )


def _grant(value: object) -> GrantInput:
    """``grant``: the total and its lines."""
    data = _object(value, "grant", required=GRANT_REQUIRED)
    lines = _list(data["lines"], "grant.lines")
    return GrantInput(
        total=_amount(data["total"], "grant.total"),
        lines=tuple(_line(item, f"grant.lines[{i}]") for i, item in enumerate(lines)),
    )


def _payments(value: object) -> Payments:
    """``paid``: the first tranche paid, and optionally second-tranche payments and recoveries."""
    data = _object(value, "paid", required=PAID_REQUIRED, optional=PAID_OPTIONAL)
    return Payments(
        first_tranche=_amount(data["first_tranche"], "paid.first_tranche"),
        second_tranche=_amount(data.get("second_tranche", 0), "paid.second_tranche"),
        recovered=_amount(data.get("recovered", 0), "paid.recovered"),
    )


def _percent(value: object, path: str) -> int:
    """An integer percentage in [0, 100]."""
    percent = _integer(value, path)
    if not 0 <= percent <= 100:
        raise QuoteInputError(f"{path} : doit être compris entre 0 et 100")
    return percent


def _policy(value: object) -> SettlementPolicy:
    """``policy``: every key optional, defaults of :class:`SettlementPolicy`."""
    data = _object(value, "policy", required=frozenset(), optional=POLICY_OPTIONAL)
    default = SettlementPolicy()
    return SettlementPolicy(
        shortfall=_string(data.get("shortfall", default.shortfall), "policy.shortfall"),
        grappe_threshold_percent=_percent(
            data.get("grappe_threshold_percent", default.grappe_threshold_percent),
            "policy.grappe_threshold_percent",
        ),
        recover_departed=_boolean(
            data.get("recover_departed", default.recover_departed), "policy.recover_departed"
        ),
        first_tranche_percent=_percent(
            data.get("first_tranche_percent", default.first_tranche_percent),
            "policy.first_tranche_percent",
        ),
    )


def _target(value: object, path: str) -> UsageTarget:
    """One usage target; ``casf_items`` absent or empty: every item."""
    data = _object(value, path, required=TARGET_REQUIRED, optional=TARGET_OPTIONAL)
    threshold = _decimal(data["threshold"], f"{path}.threshold")
    if threshold < 0:
        raise QuoteInputError(f"{path}.threshold : doit être positif ou nul")
    return UsageTarget(
        code=_string(data["code"], f"{path}.code"),
        label=_string(data["label"], f"{path}.label"),
        threshold=threshold,
        unit=_string(data.get("unit", ""), f"{path}.unit"),
        casf_items=_strings(data.get("casf_items", []), f"{path}.casf_items"),
    )


def _exemption(value: object, path: str) -> Exemption:
    """One exemption: indicators lifted for CASF items (optionally only outside SONS)."""
    data = _object(value, path, required=EXEMPTION_REQUIRED, optional=EXEMPTION_OPTIONAL)
    return Exemption(
        code=_string(data["code"], f"{path}.code"),
        label=_string(data["label"], f"{path}.label"),
        indicators=_strings(data["indicators"], f"{path}.indicators"),
        casf_items=_strings(data["casf_items"], f"{path}.casf_items"),
        outside_sons_only=_boolean(
            data.get("outside_sons_only", False), f"{path}.outside_sons_only"
        ),
    )


def _keyed(value: object, path: str) -> dict[str, object]:
    """An object whose keys are stripped of spaces; two keys naming the same thing are refused."""
    result: dict[str, object] = {}
    for key, item in _map(value, path).items():
        name = key.strip()
        if name in result:
            raise QuoteInputError(f"{path}.{name} : présent deux fois")
        result[name] = item
    return result


def _measurements(value: object) -> dict[str, dict[str, Decimal]]:
    """``measurements``: FINESS → indicator code → validated value."""
    return {
        finess: {
            code: _decimal(item, f"measurements.{finess}.{code}")
            for code, item in _keyed(values, f"measurements.{finess}").items()
        }
        for finess, values in _keyed(value, "measurements").items()
    }


def settlement_request_from_data(data: object) -> SettlementRequest:
    """Check already-decoded JSON data against the contract and build the SettlementRequest."""
    top = _object(data, ROOT, required=TOP_REQUIRED, optional=TOP_OPTIONAL)
    targets = (
        tuple(
            _target(item, f"targets[{i}]")
            for i, item in enumerate(_list(top["targets"], "targets"))
        )
        if "targets" in top
        else DEFAULT_TARGETS
    )
    exemptions = (
        tuple(
            _exemption(item, f"exemptions[{i}]")
            for i, item in enumerate(_list(top["exemptions"], "exemptions"))
        )
        if "exemptions" in top
        else DEFAULT_EXEMPTIONS
    )
    try:
        return SettlementRequest(
            grant=_grant(top["grant"]),
            paid=_payments(top["paid"]),
            targets=targets,
            exemptions=exemptions,
            measurements=_measurements(top.get("measurements", {})),
            departed=_strings(top.get("departed", []), "departed"),
            policy=_policy(top.get("policy", {})),
        )
    except SettlementError as error:  # cross-field checks of the dataclasses, path included
        raise QuoteInputError(str(error)) from None


def parse_settlement_input(text: str) -> SettlementRequest:
    """Parse the JSON text of the contract into a SettlementRequest, or raise QuoteInputError."""
    return settlement_request_from_data(decode_json(text))


def _reason(reason: Reason) -> dict[str, object]:
    """A reason as ``{"code", "message"}``."""
    return {"code": reason.code, "message": reason.message}


def _decimal_text(value: Decimal | None) -> str | None:
    """A decimal as a string (exact, never a float), or None."""
    return None if value is None else str(value)


def _indicator(outcome: IndicatorOutcome) -> dict[str, object]:
    """One target's outcome for one ESSMS."""
    return {
        "code": outcome.code,
        "applies": outcome.applies,
        "exempted_by": outcome.exempted_by,
        "value": _decimal_text(outcome.value),
        "threshold": str(outcome.threshold),
        "met": outcome.met,
    }


def _essms(outcome: EssmsOutcome) -> dict[str, object]:
    """One ESSMS's outcome."""
    return {
        "finess": outcome.finess,
        "amount": outcome.amount,
        "status": outcome.status,
        "indicators": [_indicator(indicator) for indicator in outcome.indicators],
        "reasons": [_reason(reason) for reason in outcome.reasons],
    }


def settlement_to_json(result: SettlementResult) -> dict[str, object]:
    """The contract's output: amounts as JSON integers in euros, values as decimal strings."""
    return {
        "targets_met": result.targets_met,
        "total": result.total,
        "due": result.due,
        "paid": result.paid,
        "second_tranche": result.second_tranche,
        "recovery": result.recovery,
        "departed_share": result.departed_share,
        "funded_count": result.funded_count,
        "met_count": result.met_count,
        "departed_count": result.departed_count,
        "reasons": [_reason(reason) for reason in result.reasons],
        "essms": [_essms(outcome) for outcome in result.essms],
    }
