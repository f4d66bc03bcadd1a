"""The funding_quote command run for real, as a user would: a process, stdin/stdout, exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from essms_portal.identifiers import finess_with_key

ROOT = Path(__file__).resolve().parent.parent.parent
GESTIONNAIRE = finess_with_key("75000000")
OUTPUT_KEYS = ["eligible", "errors", "warnings", "structures", "supports", "total", "tranches"]
LINE_KEYS = [
    "finess",
    "amount",
    "base_amount",
    "project",
    "category",
    "casf_item",
    "region",
    "eligible_share",
    "eligible",
]


def run(
    *args: str | bytes, stdin: str | bytes = "", io_encoding: str = "utf-8"
) -> subprocess.CompletedProcess[str]:
    """``python manage.py funding_quote ARGS`` with the test settings and no database at hand.

    ``io_encoding`` is the encoding Python gives the process's standard streams (the locale's).
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.test",
        # A database that cannot exist: the command must not need one.
        "DATABASE_URL": "postgres://nobody:nothing@127.0.0.1:1/none",
        "PYTHONIOENCODING": io_encoding,
    }
    data = stdin.encode() if isinstance(stdin, str) else stdin
    completed = subprocess.run(
        [sys.executable, "manage.py", "funding_quote", *args],
        input=data,
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


def payload(count: int = 15, **requests: object) -> dict[str, object]:
    """A regional grappe of ``count`` Paris EHPAD, the first one at 60 % eligible."""
    structures: list[dict[str, object]] = [
        {
            "finess": finess_with_key(f"75{i:06d}"),
            "category": "500",
            "department": "75",
            "gestionnaire": GESTIONNAIRE,
            "project": "acquisition",
            "segur_referenced": True,
        }
        for i in range(1, count + 1)
    ]
    structures[0]["eligible_share"] = "0.6"
    return {
        "call": {"scope": "regional", "region": "11", "year": 2023},
        "gestionnaires": [{"finess": GESTIONNAIRE, "essms_count": count}],
        "structures": structures,
        "requests": {"procurement": 15000, "steering": 50000, **requests},
    }


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr


def test_eligible_quote_on_stdin():
    result = run("-", stdin=json.dumps(payload()))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert list(output) == OUTPUT_KEYS
    assert output["eligible"] is True
    assert output["errors"] == [] and output["warnings"] == []
    assert [list(line) for line in output["structures"]] == [LINE_KEYS] * 15
    first = output["structures"][0]
    assert (first["amount"], first["base_amount"], first["eligible_share"]) == (
        15_000,
        25_000,
        "0.6",
    )
    assert (first["casf_item"], first["region"]) == ("6°", "11")
    assert output["supports"] == {"hardware": 0, "procurement": 15_000, "steering": 50_000}
    assert output["total"] == 15_000 + 14 * 25_000 + 65_000
    assert [t["amount"] for t in output["tranches"]] == [215_000, 215_000]
    assert all(isinstance(t["amount"], int) for t in output["tranches"])


def test_output_is_indented_utf8_json():
    result = run("-", stdin=json.dumps(payload()))
    assert result.stdout.startswith('{\n  "eligible": true,')
    assert "Première tranche" in result.stdout  # ensure_ascii=False: no \u00e8 escapes


def test_ineligible_quote_still_exits_0_from_a_file(tmp_path):
    path = tmp_path / "grappe.json"
    path.write_text(json.dumps(payload(count=14)), encoding="utf-8")
    result = run(str(path))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["eligible"] is False
    assert output["errors"] == [
        {
            "code": "GRAPPE_TOO_SMALL",
            "message": "Une grappe doit compter au moins 15 ESSMS ; celle-ci en compte 14.",
            "finess": None,
        }
    ]


def test_a_file_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "grappe.json"
    path.write_text(json.dumps(payload()), encoding="utf-8-sig")
    assert run(str(path)).returncode == 0


def test_capped_request_is_a_warning():
    result = run("-", stdin=json.dumps(payload(steering=150_000)))
    output = json.loads(result.stdout)
    assert output["eligible"] is True
    assert output["supports"]["steering"] == 100_000
    assert [w["code"] for w in output["warnings"]] == ["CAPPED"]
    assert "150\u202f000\u00a0€" in output["warnings"][0]["message"]


def test_not_json_exits_2():
    assert_one_line_error(run("-", stdin="{ceci n'est pas du JSON"), "JSON")


def test_not_utf8_exits_2():
    assert_one_line_error(run("-", stdin=b"\xff\xfe{}"), "UTF-8")


def test_wrong_shape_exits_2_naming_the_path():
    data = payload()
    data["call"] = {"scope": "departmental", "year": 2023}
    assert_one_line_error(run("-", stdin=json.dumps(data)), "call.scope")


def test_wrong_type_deep_in_the_input_exits_2():
    data = payload()
    data["structures"][3]["finess"] = 750000036  # type: ignore[index]
    assert_one_line_error(run("-", stdin=json.dumps(data)), "structures[3].finess")


def test_missing_file_exits_2(tmp_path):
    assert_one_line_error(run(str(tmp_path / "absent.json")), "introuvable")


def test_a_directory_exits_2(tmp_path):
    assert_one_line_error(run(str(tmp_path)), "dossier")


# --- Text that cannot be encoded (issue #10, finding 6) ----------------------------------------
# json.loads accepts the escape "\ud800", a lone UTF-16 surrogate that no UTF-8 stream can write:
# it went through the checks and crashed the output with a UnicodeEncodeError traceback (exit 1).
SURROGATE = "\ud800"


def with_value(path: list[str | int], value: str) -> str:
    """The valid payload as JSON text (ASCII, so "\\ud800" stays an escape) with one value set."""
    data: dict[str, object] = payload()
    target: object = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    text = json.dumps(data)
    assert text.isascii()  # the JSON carries escapes ("\\ud800"), not raw characters
    return text


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (["structures", 0, "finess"], "structures[0].finess :"),
        (["structures", 2, "category"], "structures[2].category :"),
        (["structures", 1, "project"], "structures[1].project :"),
        (["structures", 0, "department"], "structures[0].department :"),
        (["gestionnaires", 0, "finess"], "gestionnaires[0].finess :"),
        (["call", "region"], "call.region :"),
        (["structures", 0, "eligible_share"], "structures[0].eligible_share :"),
    ],
)
def test_a_lone_surrogate_in_a_value_exits_2_naming_the_field(path, field):
    result = run("-", stdin=with_value(path, f"75{SURROGATE}01"))
    assert_one_line_error(result, field)
    assert "U+D800" in result.stderr


def test_a_lone_surrogate_as_a_hardware_key_exits_2():
    data = payload()
    data["requests"]["hardware"] = {SURROGATE: 1000}  # type: ignore[index]
    result = run("-", stdin=json.dumps(data))
    assert_one_line_error(result, "requests.hardware : clé « \\ud800 » refusée")
    assert "U+D800" in result.stderr


def test_a_lone_surrogate_as_an_unknown_key_exits_2():
    data = payload()
    data["structures"][0][f"colour{SURROGATE}"] = "blue"  # type: ignore[index]
    assert_one_line_error(run("-", stdin=json.dumps(data)), "structures[0] : clé « colour\\ud800 »")


def test_a_lone_surrogate_in_a_file_exits_2(tmp_path):
    path = tmp_path / "grappe.json"
    path.write_text(with_value(["structures", 0, "finess"], SURROGATE), encoding="utf-8")
    assert_one_line_error(run(str(path)), "structures[0].finess :")


def test_a_control_character_exits_2_naming_the_field():
    result = run("-", stdin=with_value(["structures", 4, "project"], "acqui\x00sition"))
    assert_one_line_error(result, "structures[4].project : caractère de contrôle U+0000")


def test_a_surrogate_pair_is_a_character_like_another():
    # "\ud83d\ude00" is one character (U+1F600): valid Unicode, a wrong value, exit 0.
    result = run("-", stdin=with_value(["structures", 0, "category"], "\U0001f600"))
    assert result.returncode == 0, result.stderr
    codes = [error["code"] for error in json.loads(result.stdout)["errors"]]
    assert codes == ["CATEGORY_NOT_ELIGIBLE"]


@pytest.mark.parametrize("io_encoding", ["ascii", "latin-1"])
def test_output_is_utf8_whatever_the_locale(io_encoding):
    # The output holds "€", "—" and "°": a Latin-1 or ASCII terminal made them a traceback.
    result = run("-", stdin=json.dumps(payload(steering=150_000)), io_encoding=io_encoding)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["tranches"][0]["label"] == "Première tranche — signature de la convention"
    assert "\u202f000\u00a0€" in output["warnings"][0]["message"]


def test_errors_are_utf8_whatever_the_locale():
    data = payload()
    data["call"] = {"scope": "regional", "region": "Île-de-France", "year": 2023}
    result = run("-", stdin=json.dumps(data), io_encoding="ascii")
    assert_one_line_error(result, "call.region : « Île-de-France » n'est pas un code")


def test_a_file_name_that_is_not_utf8_exits_2(tmp_path):
    # The shell passes bytes: Python turns \xff into the lone surrogate "\udcff".
    result = run(os.fsencode(tmp_path) + b"/grappe\xff.json")
    assert_one_line_error(result, "grappe\\xff.json » est introuvable")
