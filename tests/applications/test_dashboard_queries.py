"""The dashboard page (atlas, exact requested amounts, charts) runs a fixed number of queries,
whatever the number of dossiers, for CNSA and ARS agents alike."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.models import HardwareRequest
from essms_portal.accounts.models import Role
from tests.applications.helpers import ars, cnsa_agent, decided_dossier, submitted_dossier
from tests.factories import CallFactory, GrappeMembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]

# Session, user, MFA check (3), the request's savepoint (2); campaigns:
# selected and list (2), calls (1); "requested": the quotes' version and the campaign's cache
# entry (2: the test cache is the database's), the dossiers (1); sector counts (their cache
# entry, 1) and sectors (1);
# atlas: the quotes' version again and its cache entry (2: eligible, funded and amounts per
# département, cached under that version), sector list (1), départements (1);
# for ARS agents, their region's départements (1).
CNSA_QUERIES = 17
ARS_QUERIES = CNSA_QUERIES + 1
# A cold view also reads the dossiers to compute with their call and campaign (1), runs
# quotes_for (11), counts the ESSMS per sector (1) and stores both entries (savepoint, count,
# key lookup, insert or update, release: 5 each), and the atlas's three aggregates and their
# entry (3 + 5).
COLD_EXTRA = 1 + 11 + 1 + 2 * 5 + 3 + 5


_LAST: list[str] = []


def _page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("decisions:dashboard"))
    assert response.status_code == 200
    _LAST[:] = [q["sql"][:110] for q in queries.captured_queries]
    return len(queries)


def _more_dossiers() -> None:
    """Two more submitted dossiers in Île-de-France and one in Auvergne-Rhône-Alpes, one with
    hardware and an ESSMS funded elsewhere: more rows everywhere, not more queries."""
    first, _ = submitted_dossier()
    HardwareRequest.objects.create(
        application=first, organisation=first.grappe.porteur, amount=5_000
    )
    second, _ = submitted_dossier()
    GrappeMembershipFactory(grappe=second.grappe)
    submitted_dossier(call=CallFactory(region_id="84"))


@pytest.mark.parametrize(
    ("actor", "expected"),
    [("cnsa", CNSA_QUERIES), ("ars", ARS_QUERIES)],
)
def test_dashboard_queries_are_flat_in_the_number_of_dossiers(
    client, actor, expected, django_capture_on_commit_callbacks
):
    decided_dossier()
    user = cnsa_agent() if actor == "cnsa" else ars(Role.ARS_INSTRUCTEUR)
    client.force_login(user)
    _page_queries(client)  # computes and caches the quotes
    few = _page_queries(client)
    # The transitions of the new dossiers bump the quotes' version once they commit.
    with django_capture_on_commit_callbacks(execute=True):
        _more_dossiers()
    cold = _page_queries(client)
    many = _page_queries(client)
    assert (few, many) == (expected, expected), "\n".join(_LAST)
    assert cold == expected + COLD_EXTRA
