"""The import contracts (pyproject.toml, ``[tool.importlinter]``; run by ``lint-imports`` in CI)
cover every view module: a new ``views.py`` must join the independence contract."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_view_module_is_in_the_views_independence_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [contract] = [
        c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "views-independent"
    ]
    view_modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for package in ("applications", "grappes", "essms_portal", "funding")
        for path in (ROOT / package).rglob("*views.py")
    }
    assert view_modules <= set(contract["modules"])
