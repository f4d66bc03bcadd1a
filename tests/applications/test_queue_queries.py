"""The back-office queue at national scale (issue #13): a fixed number of queries whatever the
number of dossiers and ESSMS, an indexed text search returning the same dossiers as the former
join-based one, and the trigram indexes present on PostgreSQL."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.instruction.filters import (
    OPTION_LABELS,
    ApplicationQueueFilter,
    QueueSelect,
    queue_filtered,
)
from applications.instruction.selectors import (
    queue_ordered,
    queue_page_rows,
    queue_status_counts,
    review_queue,
)
from applications.models import Application, Call
from applications.workflow import Status
from essms_portal.accounts.models import Role, User
from grappes.models import CasfCategory, Departement, Region
from tests.applications.helpers import ars
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    GrappeMembershipFactory,
    OrganisationFactory,
    StructureFactory,
    UserFactory,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db

# Session, user, MFA check, the counts per status (the paginator's total is their sum), the
# filter form's four choice lists (calls, départements, sectors, instructeurs) and
# the page: the same for 3 or 30 dossiers. No request transaction: the page only reads.
QUEUE_QUERIES = 9
SEARCHES = ("", "grappe", "finess", "number")


def _search(kind: str, dossier: Application) -> dict[str, str]:
    """Query string of a search of ``kind`` that finds ``dossier`` (at least)."""
    value = {
        "": "",
        "grappe": "grappe",
        "finess": dossier.grappe.memberships.first().structure.finess,
        "number": str(dossier.pk),
    }[kind]
    return {"q": value} if value else {}


def _dossiers(count: int, *, call: Call) -> list[Application]:
    """``count`` submitted dossiers on ``call``, grappes of 1 to 3 ESSMS, plus a draft that no
    queue shows."""
    created = [
        ApplicationFactory(grappe=grappe_with_structures(1 + i % 3), call=call)
        for i in range(count)
    ]
    Application.objects.filter(pk__in=[a.pk for a in created]).update(
        status=Status.SUBMITTED, submitted_at=timezone.now()
    )
    ApplicationFactory(grappe=grappe_with_structures(2), call=call)  # stays a draft
    return created


def _queue_queries(client, user: User, **params: str) -> tuple[int, bytes]:
    """Queries of one queue page, after a first request (which records the agent's session
    start: a write that later requests no longer make)."""
    client.force_login(user)
    assert client.get(reverse("applications:queue"), params).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("applications:queue"), params)
    assert response.status_code == 200
    return len(queries), response.content


def _national_call() -> Call:
    return CallFactory(scope=Call.Scope.NATIONAL, region=None)


def _rows_shown(content: bytes) -> int:
    return content.count(b'href="/instruction/dossiers/')


@pytest.mark.parametrize("kind", SEARCHES)
def test_cnsa_queue_queries_are_flat_in_the_number_of_dossiers(client, kind):
    agent = UserFactory(role=Role.CNSA_AGENT)
    first = _dossiers(3, call=_national_call())[0]
    with_3, content_3 = _queue_queries(client, agent, **_search(kind, first))
    _dossiers(27, call=CallFactory(region=Region.objects.get(code="84")))
    with_30, content_30 = _queue_queries(client, agent, **_search(kind, first))
    assert (with_3, with_30) == (QUEUE_QUERIES, QUEUE_QUERIES)
    if kind in ("", "grappe"):
        assert (_rows_shown(content_3), _rows_shown(content_30)) == (3, 25)  # page cut at 25
    else:
        assert f'href="/instruction/dossiers/{first.pk}/"'.encode() in content_30


@pytest.mark.parametrize("kind", SEARCHES)
def test_ars_queue_queries_are_flat_in_the_number_of_dossiers(client, kind):
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    call = CallFactory()
    first = _dossiers(3, call=call)[0]
    with_3, _ = _queue_queries(client, instructeur, **_search(kind, first))
    _dossiers(27, call=call)
    # Another region's dossiers are out of scope: they change neither rows nor queries.
    _dossiers(5, call=CallFactory(region=Region.objects.get(code="84")))
    with_30, content = _queue_queries(client, instructeur, **_search(kind, first))
    assert (with_3, with_30) == (QUEUE_QUERIES, QUEUE_QUERIES)
    if kind in ("", "grappe"):
        assert _rows_shown(content) == 25
    else:  # the number also matches grappe names holding its digits ("Grappe 12" for 2)
        assert f'href="/instruction/dossiers/{first.pk}/"'.encode() in content


def test_rows_show_the_essms_count_and_status_counts_count_each_dossier_once():
    agent = UserFactory(role=Role.CNSA_AGENT)
    created = _dossiers(6, call=CallFactory())
    Application.objects.filter(pk=created[0].pk).update(status=Status.IN_REVIEW)
    rows = {a.pk: a for a in review_queue(user=agent)}
    assert set(rows) == {a.pk for a in created}
    assert {pk: row.essms_count for pk, row in rows.items()} == {
        a.pk: a.grappe.memberships.count() for a in created
    }
    counts = queue_status_counts(queryset=review_queue(user=agent))
    assert counts == {Status.SUBMITTED: 5, Status.IN_REVIEW: 1}


def _former_search(queryset, value: str):
    """The join-based search this change replaced: the oracle for « same dossiers »."""
    condition = (
        Q(grappe__name__icontains=value)
        | Q(grappe__porteur__name__icontains=value)
        | Q(grappe__porteur__finess=value)
        | Q(grappe__memberships__structure__finess=value)
    )
    if value.isdigit():
        condition |= Q(pk=int(value))
    return queryset.filter(condition).distinct()


def test_text_search_returns_the_same_dossiers_as_the_former_join_based_search():
    agent = UserFactory(role=Role.CNSA_AGENT)
    call = CallFactory()
    north = grappe_with_structures(3, name="Grappe ALPHA Nord")
    south = grappe_with_structures(
        2, name="Grappe Sud", porteur=OrganisationFactory(name="Association Les Tilleuls")
    )
    corsica = grappe_with_structures(1, name="Grappe corse")
    shared = StructureFactory(finess="2A0000017", organisation=corsica.porteur)
    GrappeMembershipFactory(grappe=corsica, structure=shared)
    GrappeMembershipFactory(grappe=north, structure=shared)  # one ESSMS, two grappes
    dossiers = [ApplicationFactory(grappe=g, call=call) for g in (north, south, corsica)]
    Application.objects.filter(pk__in=[a.pk for a in dossiers]).update(
        status=Status.SUBMITTED, submitted_at=timezone.now()
    )
    numbered = grappe_with_structures(1, name=f"Grappe {dossiers[1].pk} bis")
    dossiers.append(ApplicationFactory(grappe=numbered, call=call))
    Application.objects.filter(pk=dossiers[-1].pk).update(
        status=Status.SUBMITTED, submitted_at=timezone.now()
    )
    values = [
        "alpha",
        "ALPHA nord",
        "tilleuls",
        "grappe",
        "sud",
        "absent",
        "%",
        "_",
        north.porteur.finess,
        south.memberships.first().structure.finess,
        shared.finess,
        shared.finess.lower(),
        str(dossiers[1].pk),
        str(dossiers[2].pk),
        "99999999999999999999999",
        "²",
    ]
    base = review_queue(user=agent)
    for value in values:
        _filterset, rows = queue_filtered(user=agent, data={"q": value})
        found = list(rows.values_list("pk", flat=True))
        assert len(found) == len(set(found)), value  # never the same dossier twice
        expected = (
            set(_former_search(base, value).values_list("pk", flat=True))
            if (value not in ("99999999999999999999999", "²"))
            else set()
        )
        assert set(found) == expected, value
    _filterset, rows = queue_filtered(user=agent, data={"q": shared.finess})
    assert set(rows.values_list("pk", flat=True)) == {dossiers[0].pk, dossiers[2].pk}
    # A number finds its dossier and the names holding its digits (factory names are numbered).
    _filterset, rows = queue_filtered(user=agent, data={"q": str(dossiers[1].pk)})
    assert {dossiers[1].pk, dossiers[3].pk} <= set(rows.values_list("pk", flat=True))


def test_search_keeps_the_users_scope():
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    elsewhere = ApplicationFactory(
        grappe=grappe_with_structures(1, name="Grappe lyonnaise"),
        call=CallFactory(region=Region.objects.get(code="84")),
    )
    Application.objects.filter(pk=elsewhere.pk).update(
        status=Status.SUBMITTED, submitted_at=timezone.now()
    )
    for value in ("lyonnaise", str(elsewhere.pk), elsewhere.grappe.porteur.finess):
        _filterset, rows = queue_filtered(user=instructeur, data={"q": value})
        assert not rows.exists(), value


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes: PostgreSQL only")
def test_name_search_is_served_by_the_trigram_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE %s ORDER BY 1",
            ["%name_upper_trgm"],
        )
        indexes = dict(cursor.fetchall())
    assert set(indexes) == {
        "grappes_grappe_name_upper_trgm",
        "grappes_organisation_name_upper_trgm",
    }
    assert all("gin_trgm_ops" in d and "upper((name)::text)" in d for d in indexes.values())
    # The index matches the expression icontains compiles to: the planner may use it. (Plain
    # index scans off too: on these few rows, reading a whole primary key and filtering costs
    # less than the trigram index, a choice the national data never makes.)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        agent = UserFactory(role=Role.CNSA_AGENT)
        _filterset, rows = queue_filtered(user=agent, data={"q": "tilleuls"})
        plan = rows.explain()
    assert "grappes_grappe_name_upper_trgm" in plan
    assert "grappes_organisation_name_upper_trgm" in plan, plan


def _markup(html: str) -> str:
    """HTML without the whitespace Django's templates put between tags."""
    return re.sub(r">\s+<", "><", html.strip())


def test_queue_select_writes_the_same_markup_as_djangos_template():
    departement = Departement.objects.get(code="2A")
    choices = [("", "Tous"), ("a", "L'<été> & co"), ("Groupe", [("b", "B"), ("c", "C")])]
    for value in ("", "a", "c"):
        attrs = {"class": "fr-select", "id": "id_x", "disabled": False, "required": True}
        ours = QueueSelect(choices=choices).render("x", value, attrs)
        django = forms.Select(choices=choices).render("x", value, attrs)
        assert _markup(ours) == _markup(django), value
    field = ApplicationQueueFilter(
        {"departement": departement.pk}, user=UserFactory(role=Role.CNSA_AGENT)
    ).form["departement"]
    ours = field.as_widget(attrs={"class": "fr-select"})
    django = forms.Select(choices=field.field.choices).render(
        field.html_name, field.value(), {"class": "fr-select", "id": field.auto_id}
    )
    assert _markup(ours) == _markup(django)
    assert f'<option value="{departement.pk}" selected>' in ours


def _page_numbers(content: bytes) -> list[int]:
    """Dossier numbers of the rows of one queue page, in their order."""
    return [int(n) for n in re.findall(rb'href="/instruction/dossiers/(\d+)/"', content)]


@pytest.mark.parametrize("ordering", ["", "status", "-score", "essms", "-grappe"])
def test_pages_cut_the_sorted_queue_once_each_dossier_on_one_page(client, ordering):
    """The page's rows are read after cutting the sorted dossiers' keys: the pages together
    are the queue in the order asked, each dossier once, even among equal sort keys (every
    dossier here has the same status, score and submission time)."""
    agent = UserFactory(role=Role.CNSA_AGENT)
    created = _dossiers(30, call=_national_call())
    client.force_login(agent)
    params = {"ordering": ordering} if ordering else {}
    shown = [
        _page_numbers(client.get(reverse("applications:queue"), {**params, "page": n}).content)
        for n in (1, 2)
    ]
    assert [len(rows) for rows in shown] == [25, 5]
    _filterset, rows = queue_filtered(user=agent, data=params)
    expected = list(queue_ordered(rows=rows).values_list("pk", flat=True))
    assert shown[0] + shown[1] == expected
    assert sorted(expected) == sorted(a.pk for a in created)


def test_page_rows_show_what_the_queue_shows_and_read_nothing_else():
    agent = UserFactory(role=Role.CNSA_AGENT)
    created = _dossiers(3, call=CallFactory())
    Application.objects.filter(pk=created[0].pk).update(assignee=agent)
    _filterset, rows = queue_filtered(user=agent, data={})
    page = list(queue_page_rows(user=agent, rows=queue_ordered(rows=rows), start=0, stop=2))
    assert [a.pk for a in page] == [a.pk for a in created[::-1][:2]]
    with CaptureQueriesContext(connection) as queries:
        cells = [
            (
                a.grappe.name,
                a.grappe.porteur.name,
                a.call.region.name,
                a.get_status_display(),
                a.essms_count,
                a.average_score,
                a.assignee and a.assignee.email,
                a.submitted_at,
            )
            for a in page
        ]
    assert len(queries) == 0, cells  # everything the row shows came with the page
    assert {"justification", "motivation"} <= page[0].get_deferred_fields()


def test_filter_lists_are_read_in_one_plain_query_each():
    """Django reads a ModelChoiceField's list through a server-side cursor on PostgreSQL
    (DECLARE, FETCH, CLOSE); the queue's lists are plain SELECTs, one per list."""
    agent = UserFactory(role=Role.CNSA_AGENT)
    filterset = ApplicationQueueFilter({}, user=agent)
    with CaptureQueriesContext(connection) as queries:
        html = "".join(
            str(filterset.form[name]) for name in ("call", "departement", "sector", "assignee")
        )
    assert len(queries) == 4
    assert not [q for q in queries if "DECLARE" in q["sql"]]
    assert '<option value="2A">' in html


def test_filter_list_labels_read_as_columns_are_each_models_str():
    """The lists' labels are written from columns (``OPTION_LABELS``), not from instances: each
    is what the model's ``__str__`` writes, for every row of every list — names or none."""
    CallFactory(name="Appel <régional> & co")
    UserFactory(role=Role.ARS_INSTRUCTEUR, region_id="11", first_name="Anne", last_name="")
    UserFactory(role=Role.CNSA_AGENT, first_name="", last_name="")
    UserFactory(role=Role.CNSA_AGENT, first_name="Jean", last_name="Dupont")
    filterset = ApplicationQueueFilter({}, user=UserFactory(role=Role.CNSA_AGENT))
    for name in ("call", "departement", "sector", "assignee"):
        field = filterset.form.fields[name]
        listed = [(str(value), label) for value, label in field.choices][1:]
        expected = [(str(obj.pk), str(obj)) for obj in field.queryset]
        assert listed == expected, name
        assert len(expected) >= 1, name
    assert OPTION_LABELS.keys() == {Call, Departement, CasfCategory, User}
