"""A snapshot of every row an attacker could change, to assert that an attack changed nothing."""

from __future__ import annotations

from typing import Any

from django.apps import apps

# Every model of the portal's own apps; the session and allauth tables are not ours to compare.
APPS = ("applications", "grappes", "accounts", "grants")


def db_state() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the portal's models, as sorted tuples of their column values."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            if model._meta.proxy:
                continue
            columns = [f.attname for f in model._meta.concrete_fields]
            rows = model.objects.order_by("pk").values_list(*columns)
            state[model._meta.label] = [tuple(str(v) for v in row) for row in rows]
    return state


def assert_unchanged(before: dict[str, list[tuple[Any, ...]]]) -> None:
    """Fail naming the first model whose rows differ from ``before``."""
    after = db_state()
    for label, rows in before.items():
        assert after[label] == rows, f"{label} a changé"
