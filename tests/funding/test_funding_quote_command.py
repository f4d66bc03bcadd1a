"""The funding_quote command run for real, as a user would: a process, stdin/stdout, exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.funding.rules_builders import finess

ROOT = Path(__file__).resolve().parent.parent.parent
GESTIONNAIRE = "010000016"


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "essms_portal.settings.test"}
    return subprocess.run(
        [sys.executable, "manage.py", "funding_quote", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


def _payload(count: int = 15, **requests: object) -> dict[str, object]:
    structures = [
        {
            "finess": finess(i),
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


def test_eligible_quote_on_stdin():
    result = _run("-", stdin=json.dumps(_payload()))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert set(output) == {
        "eligible",
        "errors",
        "warnings",
        "structures",
        "supports",
        "total",
        "tranches",
    }
    assert output["eligible"] is True
    assert output["structures"][0]["amount"] == 15_000
    assert output["supports"] == {"hardware": 0, "procurement": 15_000, "steering": 50_000}
    assert output["total"] == 15_000 + 14 * 25_000 + 65_000
    assert [t["amount"] for t in output["tranches"]] == [215_000, 215_000]


def test_ineligible_quote_still_exits_0_from_a_file(tmp_path):
    path = tmp_path / "grappe.json"
    path.write_text(json.dumps(_payload(count=14)), encoding="utf-8")
    result = _run(str(path))
    assert result.returncode == 0
    output = json.loads(result.stdout)
    assert output["eligible"] is False
    assert output["errors"][0]["code"] == "GRAPPE_TOO_SMALL"
    assert output["errors"][0]["finess"] is None


def test_capped_request_is_a_warning():
    output = json.loads(_run("-", stdin=json.dumps(_payload(steering=150_000))).stdout)
    assert output["supports"]["steering"] == 100_000
    assert output["warnings"][0]["code"] == "CAPPED"


def test_not_json_exits_2_with_one_line_and_no_traceback():
    result = _run("-", stdin="{ceci n'est pas du JSON")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_wrong_shape_exits_2():
    payload = _payload()
    payload["call"] = {"scope": "departmental", "year": 2023}
    result = _run("-", stdin=json.dumps(payload))
    assert result.returncode == 2
    assert "call.scope" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_exits_2(tmp_path):
    result = _run(str(tmp_path / "absent.json"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
