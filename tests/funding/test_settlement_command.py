"""The usage_settlement command and its JSON contract (funding/settlement_input.py).

The command is run for real, as a user would: a process, a file or stdin, stdout, exit code.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from funding.quote_input import QuoteInputError
from funding.settlement_input import parse_settlement_input

ROOT = Path(__file__).resolve().parent.parent.parent
OUTPUT_KEYS = [
    "targets_met",
    "total",
    "due",
    "paid",
    "second_tranche",
    "recovery",
    "departed_share",
    "funded_count",
    "met_count",
    "departed_count",
    "reasons",
    "essms",
]

PAYLOAD: dict[str, object] = {
    "policy": {"shortfall": "all_or_nothing"},
    "grant": {
        "total": 100_000,
        "lines": [
            {"finess": "750000001", "amount": 25_000, "casf_item": "6°", "segur_referenced": True},
            {"finess": "750000002", "amount": 25_000, "casf_item": "8°"},
            {"finess": "750000003", "amount": 10_000, "casf_item": "7°"},
        ],
    },
    "paid": {"first_tranche": 50_000},
    "measurements": {
        "750000001": {"DUI_ACTIF": "85", "MSSANTE": 12, "DMP": "10.5"},
        "750000002": {"DUI_ACTIF": 90},
    },
    "departed": ["750000003"],
}


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python manage.py usage_settlement ARGS`` with no database at hand."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.test",
        "DATABASE_URL": "postgres://nobody:nothing@127.0.0.1:1/none",  # must not be needed
        "PYTHONIOENCODING": "utf-8",
    }
    completed = subprocess.run(
        [sys.executable, "manage.py", "usage_settlement", *args],
        input=stdin.encode(),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        completed.args,
        completed.returncode,
        completed.stdout.decode("utf-8"),
        completed.stderr.decode("utf-8"),
    )


def test_a_file_is_settled_as_json(tmp_path):
    path = tmp_path / "settlement.json"
    path.write_text(json.dumps(PAYLOAD), encoding="utf-8")
    completed = run(str(path))
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    output = json.loads(completed.stdout)
    assert list(output) == OUTPUT_KEYS
    # 2 ESSMS left in the project, both meet (the AHI one is exempt from MSSanté and DMP).
    assert output["targets_met"] is True
    assert (output["due"], output["second_tranche"], output["recovery"]) == (90_000, 40_000, 0)
    assert output["departed_share"] == 5_000
    assert [e["status"] for e in output["essms"]] == ["met", "met", "departed"]
    ahi = output["essms"][1]["indicators"]
    assert [(i["code"], i["exempted_by"], i["value"]) for i in ahi] == [
        ("DUI_ACTIF", None, "90"),
        ("MSSANTE", "AHI_2025", None),
        ("DMP", "AHI_2025", None),
    ]
    assert output["essms"][0]["indicators"][2]["value"] == "10.5"  # a decimal, never a float
    assert "40\u202f000\u00a0€" in output["reasons"][1]["message"]


def test_standard_input_and_a_recovery():
    missed = copy.deepcopy(PAYLOAD)
    missed["measurements"] = {}
    completed = run("-", stdin=json.dumps(missed))
    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert output["targets_met"] is False
    # All or nothing: 45 000 € due, 50 000 € paid: the departed ESSMS' 5 000 € come back.
    assert (output["due"], output["second_tranche"], output["recovery"]) == (45_000, 0, 5_000)
    assert [r["code"] for r in output["reasons"]] == ["GRAPPE_TARGETS_MISSED", "RECOVERY"]


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "entrée : ce n'est pas du JSON valide (ligne 1, colonne 2)"),
        (json.dumps({"paid": {"first_tranche": 1}}), "entrée.grant : champ obligatoire manquant"),
        (
            json.dumps({**PAYLOAD, "paid": {"first_tranche": -1}}),
            "paid.first_tranche : doit être positif ou nul (montant en euros)",
        ),
        (
            json.dumps({**PAYLOAD, "policy": {"shortfall": "half"}}),
            'policy.shortfall : doit valoir "all_or_nothing" ou "pro_rata"',
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(stdin, message):
    completed = run("-", stdin=stdin)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == f"usage_settlement : {message}\n"
    assert "Traceback" not in completed.stderr


def test_a_missing_file_exits_2(tmp_path):
    completed = run(str(tmp_path / "absent.json"))
    assert completed.returncode == 2
    assert completed.stderr == (
        f"usage_settlement : le fichier « {tmp_path / 'absent.json'} » est introuvable\n"
    )


def with_(path: str, value: object) -> str:
    """PAYLOAD with the value at a dotted ``path`` replaced (``None`` in a dict removes it)."""
    data = copy.deepcopy(PAYLOAD)
    *parents, last = path.split(".")
    node: object = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]  # type: ignore[index]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is None:
        del node[last]  # type: ignore[attr-defined]
    else:
        node[last] = value  # type: ignore[index]
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "entrée : ce n'est pas du JSON valide (ligne 1, colonne 1)"),
        ("[]", "entrée : doit être un objet JSON"),
        (with_("paid", None), "entrée.paid : champ obligatoire manquant"),
        (with_("grant.total", None), "grant.total : champ obligatoire manquant"),
        (with_("paid.first_tranche", None), "paid.first_tranche : champ obligatoire manquant"),
        (
            with_("grant.lines.0", {"amount": 5}),
            "grant.lines[0].finess : champ obligatoire manquant",
        ),
        (with_("grant.total", "100000"), "grant.total : doit être un nombre entier"),
        (with_("grant.total", 1.5), "grant.total : doit être un nombre entier"),
        (with_("grant.total", -1), "grant.total : doit être positif ou nul (montant en euros)"),
        (
            with_("grant.lines.0", {"finess": "750000001", "amount": -25_000}),
            "grant.lines[0].amount : doit être positif ou nul (montant en euros)",
        ),
        (
            with_("paid.recovered", -3),
            "paid.recovered : doit être positif ou nul (montant en euros)",
        ),
        (with_("paid.recovered", 60_000), "paid.recovered : dépasse ce qui a été versé"),
        (
            with_("grant.total", 50_000),
            "grant.lines : la somme des lignes dépasse le montant total de la subvention",
        ),
        (
            with_("policy.shortfall", "pro-rata"),
            'policy.shortfall : doit valoir "all_or_nothing" ou "pro_rata"',
        ),
        (
            with_("policy.grappe_threshold_percent", 120),
            "policy.grappe_threshold_percent : doit être compris entre 0 et 100",
        ),
        (with_("policy.recover", True), "policy.recover : champ inconnu (faute de frappe ?)"),
        (with_("grant.paid", 1), "grant.paid : champ inconnu (faute de frappe ?)"),
        (
            with_("departed", ["999999999"]),
            "departed : l'ESSMS 999999999 ne figure pas dans la subvention",
        ),
        (
            with_("measurements.999999999", {"DMP": 1}),
            "measurements.999999999 : l'ESSMS ne figure pas dans la subvention",
        ),
        (
            with_("measurements.750000001", {"VISITS": 3}),
            "measurements.750000001.VISITS : indicateur inconnu",
        ),
        (
            with_("measurements.750000001", {"DMP": "beaucoup"}),
            "measurements.750000001.DMP : « beaucoup » n'est pas un nombre décimal",
        ),
        (
            with_("measurements.750000001", {"DMP": "NaN"}),
            "measurements.750000001.DMP : doit être un nombre fini",
        ),
        (
            with_("targets", [{"code": "DMP", "label": "DMP", "threshold": "-1"}]),
            "targets[0].threshold : doit être positif ou nul",
        ),
        (
            with_("targets", [{"code": "DMP", "label": "DMP"}]),
            "targets[0].threshold : champ obligatoire manquant",
        ),
        (
            with_(
                "exemptions", [{"code": "X", "label": "X", "indicators": "DMP", "casf_items": []}]
            ),
            "exemptions[0].indicators : doit être une liste",
        ),
        (
            '{"grant": {"total": 1, "total": 2, "lines": []}, "paid": {"first_tranche": 0}}',
            "grant.total : champ présent deux fois",
        ),
    ],
)
def test_the_contract_names_the_offending_field(text, message):
    with pytest.raises(QuoteInputError) as error:
        parse_settlement_input(text)
    assert str(error.value) == message


def test_targets_and_exemptions_given_replace_the_defaults():
    text = with_("targets", [{"code": "DMP", "label": "DMP", "threshold": 3, "unit": "docs"}])
    data = json.loads(text)
    data["exemptions"] = []
    data["measurements"] = {"750000002": {"DMP": 2}}
    request = parse_settlement_input(json.dumps(data))
    assert [t.code for t in request.targets] == ["DMP"]
    assert request.exemptions == ()
    assert request.policy.shortfall == "all_or_nothing"
    assert request.policy.grappe_threshold_percent == 100
