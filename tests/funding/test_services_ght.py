"""funding.services maps the GHT exception's facts (the structure's GHT, the solution's hospital
corridor) one dossier at a time and set-wise, with no extra query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application
from funding.services import quote_for, quotes_for
from tests.factories import (
    ApplicationFactory,
    DuiSolutionFactory,
    GrappeMembershipFactory,
    StructureFactory,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db

GHT = "GHT Paris Centre"


def _dossier(*, ght: str, hospital: bool) -> Application:
    """A valid grappe of 15 Paris EHPAD plus one whose solution is outside the medico-social
    corridor: in the hospital corridor (``hospital``) or in none."""
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    solution = DuiSolutionFactory(
        editor="Éditeur hospitalier",
        product="DPI" if hospital else "DUI maison",
        segur_referenced=False,
        segur_hospital_referenced=hospital,
    )
    GrappeMembershipFactory(
        grappe=application.grappe,
        structure=StructureFactory(organisation=application.grappe.porteur, ght=ght),
        solution=solution,
    )
    return application


@pytest.mark.parametrize(
    ("ght", "hospital", "errors", "warnings"),
    [
        (GHT, True, set(), {"GHT_HOSPITAL_CORRIDOR"}),
        ("", True, {"SEGUR_REQUIRED"}, set()),
        (GHT, False, {"SEGUR_REQUIRED"}, set()),
    ],
)
def test_single_and_batch_quotes_apply_the_ght_exception(ght, hospital, errors, warnings):
    application = _dossier(ght=ght, hospital=hospital)
    single = quote_for(application=application)
    assert {e.code for e in single.errors} == errors
    assert {w.code for w in single.warnings} == warnings
    batch = quotes_for(applications=Application.objects.filter(pk=application.pk))
    assert batch[application.pk] == single


def test_the_new_facts_cost_no_extra_query():
    """Same count as tests/funding/test_quotes_batch.py: the facts come with the memberships."""
    pks = [_dossier(ght=GHT, hospital=True).pk for _ in range(3)]
    applications = list(Application.objects.filter(pk__in=pks))
    with CaptureQueriesContext(connection) as queries:
        quotes = quotes_for(applications=applications)
    assert all(
        [w.code for w in quote.warnings] == ["GHT_HOSPITAL_CORRIDOR"] for quote in quotes.values()
    )
    # calls, campaigns, porteurs, hardware, memberships, grappes' organisations, their ESSMS
    # counts, funded memberships (none: the funded grappes' query is skipped), referential x3,
    # exempt items.
    assert len(queries) == 12, [q["sql"] for q in queries.captured_queries]
